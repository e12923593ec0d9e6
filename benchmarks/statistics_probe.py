"""Statistics from the units: read every unit, build a period's population, timed (issue #12).

``measure(settings, periods)`` reads ``st_units`` (``read_units``, streamed a page at a time)
and builds each period's ``Population`` (``tables.population``), and reports the seconds of
each step, the units read, the cells and contributions built, and how many flow cells of the
region x period grid reach k before any suppression (an upper bound of what a release can
publish). Run by the suite after the rebuild built the read models, or on its own over a loaded
benchmark database: ``python -m benchmarks.statistics_probe 2025 2025Q4`` with the
``RODEDRAAD_*`` variables of that database.
"""

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from projections.statistics.model import ALL_SECTORS, Period
from projections.statistics.tables import population, populations
from projections.statistics.units import read_units
from rodedraad.settings import Settings
from rodedraad.wiring import build_policy, build_projection_database

#: The release's default k (issue #12): a count below it is withheld.
K = 10


def measure(settings: Settings, periods: Sequence[Period]) -> dict[str, Any]:
    """Seconds to read every unit, and per period to build its population (from units held in
    memory: a release reads once), and for a year, to build it with its quarters in one pass
    (what a release audits together)."""
    database = build_projection_database(settings)
    policy = build_policy(settings)
    try:
        started = time.perf_counter()
        with database.transaction() as tx:
            units = list(read_units(tx))
        found: dict[str, Any] = {
            "units": len(units),
            "read_seconds": round(time.perf_counter() - started, 3),
            "periods": {},
        }
    finally:
        database.close()
    for period in periods:
        started = time.perf_counter()
        built = population(units, period, policy=policy, kinds={})
        seconds = time.perf_counter() - started
        values = built.values()
        flow = [v for key, v in values.items() if key.table == "flow" and key.sector == ALL_SECTORS]
        found["periods"][str(period)] = {
            "seconds": round(seconds, 3),
            "count_cells": len(built.counts),
            "units_contributing": len(built.contributions),
            "contributions": sum(len(cells) for cells in built.contributions.values()),
            "flow_region_cells_at_least_k": round(
                sum(1 for v in flow if v >= K) / len(flow) if flow else 0.0, 3
            ),
        }
    for period in periods:
        if period.kind != "year":
            continue
        together = period.audited_with()
        started = time.perf_counter()
        populations(units, together, policy=policy, kinds={})
        found["periods"][f"{period} with its quarters"] = {
            "seconds": round(time.perf_counter() - started, 3),
            "count_cells": len(together) * len(built.counts),
        }
    return found


def main(argv: Sequence[str]) -> int:
    periods = [Period.parse(text) for text in argv] or [Period(2025), Period(2025, 4)]
    print(json.dumps(measure(Settings.from_env(), periods)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
