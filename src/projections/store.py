"""Where projections write: the read-model database, on SQLite or PostgreSQL.

Each read model's module owns its tables; this one owns none (``projections.tracking`` keeps
the positions). It opens the database, creates the tracking tables, hands out transactions and
scrubs after an erasure. SQL is written once with ``?`` placeholders; the PostgreSQL adapter
turns them into ``%s``. Embedded mode keeps read models in their own SQLite file, so projection
writes never contend with the event store's write lock.
"""

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import msgspec
import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.types.string import StrDumperUnknown

from application.files import private_database_file
from application.schema import SCHEMA_LOCK_SQL
from application.sql import PostgresTx, sqlite_transaction
from application.sql import Tx as Tx  # what every projection writes through
from application.unavailable import stuck_in_pipeline
from projections import tracking

#: RFC 3339 text of a moment in UTC: ``"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"``, quoted.
_RFC3339 = msgspec.json.Encoder()


def iso(moment: datetime | None) -> str | None:
    """Sortable UTC text for datetime columns (both databases store and compare it as text):
    ``moment.astimezone(UTC).isoformat(timespec="microseconds")``. A moment already in UTC
    (every decoded event's) is not converted again, and the text is msgspec's, its ``Z`` put
    as ``+00:00`` (and ``.000000`` where it leaves whole seconds bare): five times as fast as
    ``isoformat``, and a rebuild writes millions of them (issue #22)."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    text = _RFC3339.encode(moment)
    if len(text) == 29:  # with its microseconds
        return text[1:27].decode() + "+00:00"
    return text[1:20].decode() + ".000000+00:00"


def share_of(record: UUID, shares: int) -> int:
    """Which of ``shares`` a record belongs to when a rebuild splits its work by record: its
    id's last byte modulo ``shares``, which PostgreSQL reads from the raw row too
    (``LockedInsertRecorder.select_notifications``), so a share reads no other's events."""
    return (record.int & 0xFF) % shares


class ProjectionDatabase(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager yielding a ``Tx``; commits on success, rolls back on error."""

    def scrub(self, tables: Sequence[str]) -> None:
        """Leave no deleted or overwritten content of ``tables`` behind (after an erasure, after
        a rebuild dropped the old tables)."""

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
        for statement in tracking.DDL:
            self._conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with sqlite_transaction(self._conn, self._lock) as tx:
            yield tx

    def scrub(self, tables: Sequence[str]) -> None:
        """``secure_delete`` zeroes freed pages; a truncating checkpoint empties the WAL (of
        every table at once)."""
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
            for statement in tracking.DDL:
                self._conn.execute(statement)

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, made anew if the last one was lost, or left stuck in pipeline mode
        by a lost ``executemany`` (:func:`stuck_in_pipeline`: not broken, yet unusable; it
        kept the worker failing until restarted) — not if it was closed on purpose: ``close``
        means this database is done."""
        if self._conn.broken or stuck_in_pipeline(self._conn):
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # (a stuck one is open still)
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

    def scrub(self, tables: Sequence[str]) -> None:
        """Dumps never hold dead rows; VACUUM also reclaims them in the files. (No tables, no
        VACUUM: a bare one would vacuum the whole database, event store included.)"""
        if not tables:
            return
        with self._lock:
            conn = self._connection()
            conn.autocommit = True
            try:
                conn.execute(
                    sql.SQL("VACUUM {}").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
                )
            finally:
                if not conn.broken:
                    conn.autocommit = False

    def close(self) -> None:
        self._conn.close()
