"""The domain: aggregates, their events, the rules of the care procedures. No I/O here.

Vocabulary (Dutch source term → code name) is in ``README.md`` beside this file.
"""
