"""Databases of its own for a read-side test, on SQLite and on PostgreSQL.

The session's PostgreSQL database is shared by every test of the session, and its read models
follow one log that other tests also write to. Tests that need an empty log, or must not depend
on what other tests recorded, get a database of their own here: a fresh SQLite directory or a
fresh PostgreSQL database, dropped afterwards.
"""

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from application.keys import KEY_SCHEMA
from projections.plan_state.sealed import open_column
from rodedraad.settings import Settings
from tests.conftest import PG_ADMIN_URL, settings_for

#: The two backends, PostgreSQL marked ``postgres`` (skipped locally without a server).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (with its connections) afterwards."""
    name = f"rodedraad_rs_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # A test database need not survive a power cut: commits need not wait for the disk.
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_settings(backend: str, data_dir: Path) -> Iterator[Settings]:
    """Settings on an empty log: a new SQLite file in ``data_dir``, or a new PostgreSQL database.

    ``data_dir`` also holds what is never in the database (the local JWT secret, and on SQLite
    the read models' own file), so pass a fresh directory.
    """
    if backend == "sqlite":
        yield settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
        return
    with fresh_postgres_database() as url:
        yield settings_for(url, data_dir)


@contextmanager
def emptied_afterwards(backend: str, url: str | None, data_dir: Path) -> Iterator[Settings]:
    """Settings on ``url`` (PostgreSQL), emptied of every table afterwards; or a new SQLite file.

    Cheaper than a new database for each of many short examples: close every connection to
    the database before leaving.
    """
    if backend == "sqlite" or url is None:
        yield settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
        return
    try:
        yield settings_for(url, data_dir)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute(f"DROP SCHEMA IF EXISTS {KEY_SCHEMA} CASCADE")  # the key store's own
            conn.execute("CREATE SCHEMA public")


def require_backend(request: pytest.FixtureRequest, backend: str) -> None:
    """Skip a PostgreSQL case without a server (fail in CI), as the session fixture does."""
    if backend == "postgres":
        request.getfixturevalue("postgres_url")


def rows(database: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of one query on a projection database, in one transaction."""
    with database.transaction() as tx:
        return [tuple(row) for row in tx.fetchall(sql, params)]


def read_models(database: Any, projections: Iterable[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``projections``, in a stable order: what "identical" means.

    That is ``rm_trajectories``, ``rm_trajectory_parties`` and ``rm_timeline``, and the tables
    of any other projection the worker runs. The plan state's sealed columns are compared
    opened: each write seals them with a fresh nonce, so the same content is other bytes.
    """
    found = {}
    for projection in projections:
        for table in projection.tables:
            table_rows = rows(database, f"SELECT * FROM {table}")
            if table == "rm_trajectories":
                table_rows = [opened(projection.keys, row) for row in table_rows]
            found[table] = sorted(table_rows, key=repr)
    return found


def opened(keys: Any, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An ``rm_trajectories`` row (``SELECT *``: ``id`` first; ``erased``, ``ended_at``,
    ``state`` and ``doc`` last) with ``state`` and ``doc`` opened (as stored if erased)."""
    *rest, erased, ended_at, state, doc = row
    if erased:
        return row
    key = keys.key_for(UUID(row[0]))
    return (
        *rest,
        erased,
        ended_at,
        open_column(key, row[0], "state", state),
        open_column(key, row[0], "doc", doc),
    )
