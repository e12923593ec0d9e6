"""Benchmarks of Rode Draad (issue #6): a realistic workload, measurements, a demo data set.

Run from the repository root with the project's interpreter::

    .venv/bin/python -m benchmarks --quick          # small size, under a minute, one JSON object
    .venv/bin/python -m benchmarks --full           # medium size (``--size large`` for 100,000)
    .venv/bin/python -m benchmarks table benchmarks/results/<file>.json
    .venv/bin/python -m benchmarks demo             # a populated board for ``make run``
"""
