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
from psycopg.abc import Buffer
from psycopg.types.string import StrDumperUnknown

from application.files import private_database_file
from application.schema import SCHEMA_LOCK_SQL
from application.sql import PostgresTx, sqlite_transaction
from application.sql import Tx as Tx  # what every projection writes through

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_tracking ("
    "name TEXT PRIMARY KEY, position BIGINT NOT NULL, version BIGINT NOT NULL)"
)
#: One row per projection worker process: when it last got through a loop, and how that went
#: (``ok`` or ``failing: <error class>``, never personal data). ``/health`` reads it (issue #10).
#: ``beat_at`` is in seconds since the epoch (UTC), by the worker's clock.
HEARTBEAT_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_worker_heartbeat ("
    "worker TEXT PRIMARY KEY, beat_at DOUBLE PRECISION NOT NULL, state TEXT NOT NULL)"
)
#: Every worker's last beat, for ``/health``.
HEARTBEAT_SELECT = "SELECT worker, beat_at, state FROM rm_worker_heartbeat"
#: A worker not heard of for this long is forgotten (a process killed and never restarted).
HEARTBEAT_KEPT_SECONDS = 24 * 3600.0


class ProjectionDatabase(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager yielding a ``Tx``; commits on success, rolls back on error."""

    def scrub(self) -> None:
        """Leave no deleted or overwritten content behind (after an erasure, after a rebuild
        dropped the old tables)."""

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
        self._conn.execute(HEARTBEAT_DDL)

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


class _TextWithoutNul(StrDumperUnknown):
    """PostgreSQL text cannot hold a NUL, and a projection that cannot write an event retries it
    forever. A read model stores U+FFFD in its place, so a fact recorded with a NUL (before the
    domain refused them, issue #10) cannot stop the read models; the log keeps it as recorded."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


def lock_schema(tx: Tx) -> None:
    """Serialise creating read models between processes (SQLite's writer lock already does)."""
    if tx.dialect == "postgres":
        tx.execute(SCHEMA_LOCK_SQL)


class PostgresProjectionDatabase:
    """Read models beside the event store, in ``rm_*`` tables.

    One connection, made again when it was lost (a PostgreSQL restart, a terminated backend):
    the transaction that hit the loss rolled back as a whole, tracking row included, so the
    caller simply runs the batch again (issue #10).
    """

    dialect = "postgres"

    #: Seconds to wait for a connection: a host gone from the network must not hang a start
    #: (issue #10 review) or the worker's reconnection.
    CONNECT_TIMEOUT = 10

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = psycopg.connect(url, autocommit=False, connect_timeout=self.CONNECT_TIMEOUT)
        self._lock = threading.RLock()
        with self._conn.transaction():
            self._conn.execute(SCHEMA_LOCK_SQL)
            self._conn.execute(TRACKING_DDL)
            self._conn.execute(HEARTBEAT_DDL)

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, made anew if the last one was lost (not if it was closed on purpose:
        ``close`` means this database is done)."""
        if self._conn.broken:
            self._conn = psycopg.connect(
                self.url, autocommit=False, connect_timeout=self.CONNECT_TIMEOUT
            )
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cursor:
                cursor.adapters.register_dumper(str, _TextWithoutNul)
                yield PostgresTx(cursor)

    def scrub(self) -> None:
        """Dumps never hold dead rows; VACUUM also reclaims them in the files."""
        with self._lock:
            conn = self._connection()
            conn.autocommit = True
            try:
                conn.execute("VACUUM rm_trajectories")
            finally:
                if not conn.broken:
                    conn.autocommit = False

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


def write_heartbeat(tx: Tx, worker: str, state: str, at: float) -> None:
    """Record that ``worker`` got through a loop at ``at`` (epoch seconds) in ``state``; forget
    workers not heard of for a day."""
    tx.execute(
        "INSERT INTO rm_worker_heartbeat (worker, beat_at, state) VALUES (?, ?, ?) "
        "ON CONFLICT (worker) DO UPDATE SET beat_at = excluded.beat_at, state = excluded.state",
        (worker, at, state),
    )
    tx.execute("DELETE FROM rm_worker_heartbeat WHERE beat_at < ?", (at - HEARTBEAT_KEPT_SECONDS,))
