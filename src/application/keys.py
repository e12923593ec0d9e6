"""Per-client encryption keys, kept apart from the events: the heart of crypto-shredding.

Every aggregate (a client, each of its trajectories) is a *subject* with a key of its own that
belongs to the client. Personal data in events and snapshots is sealed with the subject's key.
Erasing a client deletes the keys of all its subjects: the events keep their structure (who
agreed what and when) but their personal content can no longer be read, anywhere, including in
backups made afterwards.

Embedded mode keeps keys in their own SQLite file (``secure_delete`` on, the WAL truncated after
an erasure, so no deleted key lingers in the file); production in a PostgreSQL table.
"""

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

from application.schema import SCHEMA_LOCK_SQL
from application.unavailable import with_connection

KEY_BYTES = 32
#: How long a process trusts a cached key (or its absence). Erasure evicts its own cache at once;
#: other processes notice within this time at the latest.
CACHE_SECONDS = 30.0
#: At most this many cached keys (≈ 28 MiB at 100,000); past it the cache starts afresh.
CACHE_ENTRIES = 100_000
#: Subjects per prefetch query.
_PREFETCH_CHUNK = 1000


class KeyStore(Protocol):
    def key_for(self, subject: UUID) -> bytes | None:
        """The subject's key, or None if it has none (never had one, or erased)."""

    def create(self, subject: UUID, client: UUID) -> bytes:
        """A new key for ``subject``, belonging to ``client`` (idempotent)."""

    def erase_client(self, client: UUID) -> list[UUID]:
        """Destroy every key of the client; return the subjects whose keys were destroyed."""

    def subjects_of(self, client: UUID) -> list[UUID]:
        """The subjects whose keys belong to the client: the client and its trajectories."""

    def forget(self, subjects: list[UUID]) -> None:
        """Drop cached keys of these subjects (another process erased them)."""

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        """Read the keys of many subjects in one query (before decoding a batch of events)."""

    def close(self) -> None: ...


class _Cached:
    def __init__(self) -> None:
        self._cache: dict[UUID, tuple[bytes | None, float]] = {}
        self._lock = threading.Lock()

    def _cached(self, subject: UUID) -> tuple[bool, bytes | None]:
        with self._lock:
            hit = self._cache.get(subject)
        if hit is not None and time.monotonic() - hit[1] < CACHE_SECONDS:
            return True, hit[0]
        return False, None

    def _remember(self, subject: UUID, key: bytes | None) -> None:
        self._remember_all({subject: key})

    def _remember_all(self, keys: dict[UUID, bytes | None]) -> None:
        with self._lock:
            if len(self._cache) + len(keys) > CACHE_ENTRIES:
                self._cache.clear()
            now = time.monotonic()
            self._cache.update((subject, (key, now)) for subject, key in keys.items())

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        """Read the keys of many subjects in one query (before decoding a batch of events)."""
        unique = {s if isinstance(s, UUID) else UUID(s) for s in subjects}
        missing = [s for s in unique if not self._cached(s)[0]]
        for start in range(0, len(missing), _PREFETCH_CHUNK):
            chunk = missing[start : start + _PREFETCH_CHUNK]
            found: dict[UUID, bytes | None] = dict.fromkeys(chunk)
            rows = self._select_keys(chunk)
            found.update((UUID(str(subject)), bytes(key)) for subject, key in rows)
            self._remember_all(found)

    def _select_keys(self, subjects: list[UUID]) -> list[tuple[Any, Any]]:
        """(subject, key) rows of those of ``subjects`` that have a key."""
        raise NotImplementedError

    def forget(self, subjects: list[UUID]) -> None:
        with self._lock:
            for subject in subjects:
                self._cache.pop(subject, None)


class SqliteKeyStore(_Cached):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db_lock = threading.Lock()
        with self._db_lock:
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, "
                "client TEXT NOT NULL, key BLOB NOT NULL)"
            )
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS ix_subject_keys_client ON subject_keys (client)"
            )
        path.chmod(0o600)

    def key_for(self, subject: UUID) -> bytes | None:
        hit, key = self._cached(subject)
        if hit:
            return key
        with self._db_lock:
            row = self._conn.execute(
                "SELECT key FROM subject_keys WHERE subject = ?", (str(subject),)
            ).fetchone()
        key = bytes(row[0]) if row else None
        self._remember(subject, key)
        return key

    def _select_keys(self, subjects: list[UUID]) -> list[tuple[Any, Any]]:
        with self._db_lock:
            return self._conn.execute(
                "SELECT subject, key FROM subject_keys "  # noqa: S608 - placeholders only
                f"WHERE subject IN ({', '.join('?' * len(subjects))})",
                [str(s) for s in subjects],
            ).fetchall()

    def create(self, subject: UUID, client: UUID) -> bytes:
        with self._db_lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO subject_keys (subject, client, key) VALUES (?, ?, ?)",
                (str(subject), str(client), os.urandom(KEY_BYTES)),
            )
            row = self._conn.execute(
                "SELECT key FROM subject_keys WHERE subject = ?", (str(subject),)
            ).fetchone()
        key = bytes(row[0])
        self._remember(subject, key)
        return key

    def subjects_of(self, client: UUID) -> list[UUID]:
        with self._db_lock:
            rows = self._conn.execute(
                "SELECT subject FROM subject_keys WHERE client = ?", (str(client),)
            ).fetchall()
        return [UUID(r[0]) for r in rows]

    def erase_client(self, client: UUID) -> list[UUID]:
        with self._db_lock:
            rows = self._conn.execute(
                "SELECT subject FROM subject_keys WHERE client = ?", (str(client),)
            ).fetchall()
            self._conn.execute("DELETE FROM subject_keys WHERE client = ?", (str(client),))
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        subjects = [UUID(r[0]) for r in rows]
        self.forget(subjects)
        return subjects

    def close(self) -> None:
        with self._db_lock:
            self._conn.close()


class PostgresKeyStore(_Cached):
    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=4, max_idle=60, open=True)
        with self._pool.connection() as conn:
            conn.execute(SCHEMA_LOCK_SQL)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS rodedraad_subject_keys (subject UUID PRIMARY KEY, "
                "client UUID NOT NULL, key BYTEA NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS ix_rodedraad_subject_keys_client "
                "ON rodedraad_subject_keys (client)"
            )

    def key_for(self, subject: UUID) -> bytes | None:
        hit, key = self._cached(subject)
        if hit:
            return key
        row = with_connection(  # reads and creations retry once on a lost connection
            self._pool,
            lambda conn: conn.execute(
                "SELECT key FROM rodedraad_subject_keys WHERE subject = %s", (subject,)
            ).fetchone(),
        )
        key = bytes(row[0]) if row else None
        self._remember(subject, key)
        return key

    def _select_keys(self, subjects: list[UUID]) -> list[tuple[Any, Any]]:
        return with_connection(
            self._pool,
            lambda conn: conn.execute(
                "SELECT subject, key FROM rodedraad_subject_keys WHERE subject = ANY(%s)",
                (subjects,),
            ).fetchall(),
        )

    def create(self, subject: UUID, client: UUID) -> bytes:
        def insert_or_keep(conn: Connection[Any]) -> Any:
            conn.execute(
                "INSERT INTO rodedraad_subject_keys (subject, client, key) VALUES (%s, %s, %s) "
                "ON CONFLICT (subject) DO NOTHING",
                (subject, client, os.urandom(KEY_BYTES)),
            )
            return conn.execute(
                "SELECT key FROM rodedraad_subject_keys WHERE subject = %s", (subject,)
            ).fetchone()

        row = with_connection(self._pool, insert_or_keep)
        assert row is not None  # inserted or already there, in this transaction
        key = bytes(row[0])
        self._remember(subject, key)
        return key

    def subjects_of(self, client: UUID) -> list[UUID]:
        rows = with_connection(
            self._pool,
            lambda conn: conn.execute(
                "SELECT subject FROM rodedraad_subject_keys WHERE client = %s", (client,)
            ).fetchall(),
        )
        return [r[0] if isinstance(r[0], UUID) else UUID(str(r[0])) for r in rows]

    def erase_client(self, client: UUID) -> list[UUID]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "DELETE FROM rodedraad_subject_keys WHERE client = %s RETURNING subject", (client,)
            ).fetchall()
        subjects = [r[0] if isinstance(r[0], UUID) else UUID(str(r[0])) for r in rows]
        self.forget(subjects)
        return subjects

    def close(self) -> None:
        self._pool.close()


class MemoryKeyStore(_Cached):
    """For tests of the domain and codec that need no database."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[UUID, tuple[UUID, bytes]] = {}

    def key_for(self, subject: UUID) -> bytes | None:
        found = self.keys.get(subject)
        return found[1] if found else None

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        """Everything is in memory already."""

    def create(self, subject: UUID, client: UUID) -> bytes:
        self.keys.setdefault(subject, (client, os.urandom(KEY_BYTES)))
        return self.keys[subject][1]

    def subjects_of(self, client: UUID) -> list[UUID]:
        return [s for s, (c, _) in self.keys.items() if c == client]

    def erase_client(self, client: UUID) -> list[UUID]:
        gone = [s for s, (c, _) in self.keys.items() if c == client]
        for subject in gone:
            del self.keys[subject]
        return gone

    def close(self) -> None:
        self.keys.clear()
