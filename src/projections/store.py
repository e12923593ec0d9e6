"""Where projections write: read-model tables and their tracking rows, on SQLite or PostgreSQL.

A projection's position (the last event-log notification it processed) is stored in
``rm_tracking`` in the same transaction as its read-model changes, so each event counts exactly
once whatever crashes. SQL is written once with ``?`` placeholders; the PostgreSQL adapter turns
them into ``%s``. Embedded mode keeps read models in their own SQLite file, so projection writes
never contend with the event store's write lock.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg

from application.files import private_database_file
from application.schema import SCHEMA_LOCK_SQL
from application.sql import PostgresTx, sqlite_transaction
from application.sql import Tx as Tx  # what every projection writes through

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_tracking ("
    "name TEXT PRIMARY KEY, position BIGINT NOT NULL, version BIGINT NOT NULL)"
)


class ProjectionDatabase(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager yielding a ``Tx``; commits on success, rolls back on error."""

    def scrub(self) -> None:
        """Leave no deleted or overwritten content behind (after an erasure)."""

    def close(self) -> None: ...


class SqliteProjectionDatabase:
    """Read models in their own SQLite file (WAL: readers never wait for the writer)."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = private_database_file(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute(TRACKING_DDL)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with sqlite_transaction(self._conn, self._lock) as tx:
            yield tx

    def scrub(self) -> None:
        """``secure_delete`` zeroes freed pages; a truncating checkpoint empties the WAL."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()


def lock_schema(tx: Tx) -> None:
    """Serialise creating read models between processes (SQLite's writer lock already does)."""
    if tx.dialect == "postgres":
        tx.execute(SCHEMA_LOCK_SQL)


class PostgresProjectionDatabase:
    """Read models beside the event store, in ``rm_*`` tables."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=False)
        self._lock = threading.RLock()
        with self._conn.transaction():
            self._conn.execute(SCHEMA_LOCK_SQL)
            self._conn.execute(TRACKING_DDL)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cursor:
            yield PostgresTx(cursor)

    def scrub(self) -> None:
        """Dumps never hold dead rows; VACUUM also reclaims them in the files."""
        with self._lock:
            self._conn.autocommit = True
            try:
                self._conn.execute("VACUUM rm_trajectories")
            finally:
                self._conn.autocommit = False

    def close(self) -> None:
        self._conn.close()


def read_tracking(tx: Tx, name: str, *, lock: bool = False) -> tuple[int, int] | None:
    """(position, version) of a projection; ``lock`` serialises writers on PostgreSQL."""
    suffix = " FOR UPDATE" if lock and tx.dialect == "postgres" else ""
    rows = tx.fetchall(f"SELECT position, version FROM rm_tracking WHERE name = ?{suffix}", (name,))
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def write_tracking(tx: Tx, name: str, position: int, version: int) -> None:
    tx.execute(
        "INSERT INTO rm_tracking (name, position, version) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version",
        (name, position, version),
    )
