"""One PostgreSQL advisory lock for creating tables at start-up.

Processes that start together (the API, the projection worker, the scheduler) each create what
they need if it is missing; PostgreSQL's ``CREATE … IF NOT EXISTS`` and ``CREATE OR REPLACE`` are
not safe against a concurrent twin (a duplicate key on the catalogue, "tuple concurrently
updated"). Each creation runs in a transaction that first takes this lock.
"""

SCHEMA_LOCK_KEY = 5928283465238906189
SCHEMA_LOCK_SQL = f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})"
