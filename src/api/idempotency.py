"""``Idempotency-Key``: a retried command returns the first answer and records nothing twice.

The key is reserved before the command runs (a row inserted under a unique key), so two
concurrent requests with the same key cannot both run. The answer is stored when the command
succeeds; when it fails, the reservation is dropped (nothing was recorded) and a retry runs
again. A reservation whose request died mid-way stays: its outcome is unknown, so a retry with
that key gets 409 and the client checks the record's version before retrying with a new key.
"""

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from psycopg import Connection
from psycopg_pool import ConnectionPool

from application.files import private_database_file
from application.unavailable import with_connection

KEY_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes
    etag: str | None
    location: str | None


class IdempotencyConflict(Exception):
    """The key is in use by a request that has not finished, or for a different request."""

    def __init__(self, message: str, *, reused: bool) -> None:
        super().__init__(message)
        self.message = message
        self.reused = reused


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore(Protocol):
    def reserve(self, key: str, fingerprint: str) -> StoredAnswer | None:
        """Reserve ``key``; return the stored answer if it already has one."""

    def complete(self, key: str, answer: StoredAnswer) -> None: ...

    def release(self, key: str) -> None: ...

    def close(self) -> None: ...


_COLUMNS = "key, fingerprint, status, body, etag, location"


def _interpret(row: tuple[object, ...] | None, fp: str) -> StoredAnswer:
    if row is None:  # released between our insert attempt and select: treat as busy
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is in progress", reused=False
        )
    _, stored_fp, status, body, etag, location = row
    if stored_fp != fp:
        raise IdempotencyConflict(
            "this Idempotency-Key was used for a different request; use a new key", reused=True
        )
    if status is None:
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is in progress or was interrupted; check the "
            "record's current version and retry with a new key",
            reused=False,
        )
    return StoredAnswer(
        status=int(str(status)),
        body=bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else b"",
        etag=str(etag) if etag is not None else None,
        location=str(location) if location is not None else None,
    )


class SqliteIdempotencyStore:
    """Embedded mode: a table in its own SQLite file beside the event store (made by its
    migrations, ``application.migrations``)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            private_database_file(path), check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")

    def reserve(self, key: str, fingerprint: str) -> StoredAnswer | None:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO idempotency_keys (key, fingerprint, created_at) "
                "VALUES (?, ?, ?)",
                (key, fingerprint, datetime.now(UTC).isoformat()),
            )
            if cursor.rowcount == 1:
                return None
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM idempotency_keys WHERE key = ?",  # noqa: S608
                (key,),
            ).fetchone()
        return _interpret(row, fingerprint)

    def complete(self, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE idempotency_keys SET status = ?, body = ?, etag = ?, location = ? "
                "WHERE key = ?",
                (answer.status, answer.body, answer.etag, answer.location, key),
            )

    def release(self, key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM idempotency_keys WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresIdempotencyStore:
    """Production: a table in the event store's database."""

    def __init__(self, conninfo: str) -> None:
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=8, max_idle=60, open=True)

    def reserve(self, key: str, fingerprint: str) -> StoredAnswer | None:
        """Retried once on a lost connection. Had the lost attempt's insert committed, the
        retry finds the key reserved and answers "in progress or interrupted": safe."""

        def insert_or_read(conn: Connection[Any]) -> tuple[bool, Any]:
            cursor = conn.execute(
                "INSERT INTO rodedraad_idempotency_keys (key, fingerprint) VALUES (%s, %s) "
                "ON CONFLICT (key) DO NOTHING",
                (key, fingerprint),
            )
            if cursor.rowcount == 1:
                return True, None
            return False, conn.execute(
                f"SELECT {_COLUMNS} FROM rodedraad_idempotency_keys WHERE key = %s",  # noqa: S608
                (key,),
            ).fetchone()

        reserved, row = with_connection(self._pool, insert_or_read)
        return None if reserved else _interpret(row, fingerprint)

    def complete(self, key: str, answer: StoredAnswer) -> None:
        with_connection(  # sets a final state: safe to run twice
            self._pool,
            lambda conn: conn.execute(
                "UPDATE rodedraad_idempotency_keys SET status = %s, body = %s, etag = %s, "
                "location = %s WHERE key = %s",
                (answer.status, answer.body, answer.etag, answer.location, key),
            ),
        )

    def release(self, key: str) -> None:
        with_connection(
            self._pool,
            lambda conn: conn.execute(
                "DELETE FROM rodedraad_idempotency_keys WHERE key = %s", (key,)
            ),
        )

    def close(self) -> None:
        self._pool.close()
