"""``Idempotency-Key``: a retried command returns the first answer and records nothing twice.

The key is reserved before the command runs (a row inserted under a unique key), so two
concurrent requests with the same key cannot both run. The answer is stored when the command
succeeds; when it fails, the reservation is dropped (nothing was recorded) and a retry runs
again. A reservation whose request died mid-way stays: its outcome is unknown, so a retry with
that key gets 409 and the client checks the record's version before retrying with a new key.

A key holds for ``KEPT`` (24 hours): a retry after that is a new request, and the scheduler's
run deletes older rows. A row does not keep the request's hash in the clear (a register
request's body is a name, a contact and a moment: guessable), but an HMAC under a key derived
from the KEK, which is never in the database (``RequestFingerprints``; issue #10 review).
"""

import hashlib
import hmac
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import Connection

from application.files import private_database_file
from application.kek import KekError, KekVersion, KeyringFile
from application.sql import autocommit_pool
from application.unavailable import with_connection

KEY_MAX_LENGTH = 200
#: How long a key holds: a retry within it replays (or is told it is busy); after it, a retry
#: is a new request.
KEPT = timedelta(hours=24)


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


def request_of(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests the same request: method, path and body."""
    return method.encode() + b" " + path.encode() + b"\n" + body


@dataclass
class RequestFingerprints:
    """Keyed fingerprints of requests, so the idempotency table says nothing of a body to
    someone who can guess it but holds no key.

    The key is derived (HKDF-SHA256, a fixed label) from the current KEK version: every
    process of a deployment already shares the KEK file, and the database never holds it.
    Chosen over a secret file of its own, which each API host would have to share as well
    (one host's retry would be "another request" on the next). A fingerprint names its KEK
    version (``3:…``), so a retry after a rotation is compared under the version it was made
    with; a retired version lives far longer than a key holds (``KEPT``).
    """

    keyring: KeyringFile
    _derived: dict[tuple[int, bytes], bytes] = field(default_factory=dict, repr=False)

    LABEL = b"rodedraad idempotency request fingerprint"

    def _key(self, kek: KekVersion) -> bytes:
        if kek.key is None:
            raise KekError(f"KEK version {kek.version} was destroyed; it keys no fingerprint")
        cached = self._derived.get((kek.version, kek.key))
        if cached is None:
            hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=self.LABEL)
            cached = self._derived[(kek.version, kek.key)] = hkdf.derive(kek.key)
        return cached

    def _under(self, kek: KekVersion, request: bytes) -> str:
        return f"{kek.version}:{hmac.new(self._key(kek), request, hashlib.sha256).hexdigest()}"

    def of(self, request: bytes) -> str:
        """The request's fingerprint under the current KEK version."""
        return self._under(self.keyring.keyring().current, request)

    def matches(self, stored: str, request: bytes) -> bool:
        """Whether ``stored`` is ``request``'s fingerprint (under the version it names; a row
        from before keyed fingerprints holds a plain SHA-256, kept for at most ``KEPT``)."""
        version, colon, _ = stored.partition(":")
        if not colon:
            return hmac.compare_digest(stored, hashlib.sha256(request).hexdigest())
        kek = self.keyring.keyring().get(int(version)) if version.isdigit() else None
        if kek is None or kek.destroyed:
            return False
        return hmac.compare_digest(stored, self._under(kek, request))


class IdempotencyStore(Protocol):
    def reserve(self, key: str, request: bytes) -> StoredAnswer | None:
        """Reserve ``key`` for ``request`` (``request_of``); return the stored answer if it
        already has one. A reservation older than ``KEPT`` counts as none."""

    def complete(self, key: str, answer: StoredAnswer) -> None: ...

    def release(self, key: str) -> None: ...

    def prune(self, now: datetime) -> int:
        """Delete the keys older than ``KEPT`` (the scheduler's run); how many went."""

    def close(self) -> None: ...


_COLUMNS = "key, fingerprint, status, body, etag, location"
#: A reservation past ``KEPT`` made anew for the request that reuses its key.
_AFRESH = (
    "fingerprint = excluded.fingerprint, status = NULL, body = NULL, etag = NULL, "
    "location = NULL, created_at = excluded.created_at"
)


def _interpret(row: tuple[object, ...] | None, same_request: Callable[[str], bool]) -> StoredAnswer:
    if row is None:  # released between our insert attempt and select: treat as busy
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is in progress", reused=False
        )
    _, stored_fp, status, body, etag, location = row
    if not same_request(str(stored_fp)):
        raise IdempotencyConflict(
            "this Idempotency-Key was used for a different request; use a new key", reused=True
        )
    # A stored answer without a body is not one to replay: the commands' answers always have
    # one, and since they are sent as stored (issue #22), an empty one would go out as a 200.
    if status is None or not isinstance(body, (bytes, bytearray, memoryview)) or not body:
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is in progress or was interrupted; check the "
            "record's current version and retry with a new key",
            reused=False,
        )
    return StoredAnswer(
        status=int(str(status)),
        body=bytes(body),
        etag=str(etag) if etag is not None else None,
        location=str(location) if location is not None else None,
    )


class SqliteIdempotencyStore:
    """Embedded mode: a table in its own SQLite file beside the event store (made by its
    migrations, ``application.migrations``)."""

    def __init__(self, path: Path, fingerprints: RequestFingerprints) -> None:
        self.fingerprints = fingerprints
        self._conn = sqlite3.connect(
            private_database_file(path), check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")

    def reserve(self, key: str, request: bytes) -> StoredAnswer | None:
        now = datetime.now(UTC)
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, created_at) "  # noqa: S608
                f"VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET {_AFRESH} WHERE created_at < ?",
                (key, self.fingerprints.of(request), now.isoformat(), (now - KEPT).isoformat()),
            )
            if cursor.rowcount == 1:
                return None
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM idempotency_keys WHERE key = ?",  # noqa: S608
                (key,),
            ).fetchone()
        return _interpret(row, lambda stored: self.fingerprints.matches(stored, request))

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

    def prune(self, now: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ?", ((now - KEPT).isoformat(),)
            )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresIdempotencyStore:
    """Production: a table in the event store's database."""

    def __init__(self, conninfo: str, fingerprints: RequestFingerprints) -> None:
        self.fingerprints = fingerprints
        # Each statement its own transaction (a reservation took three round trips, its answer
        # three more). Nothing here needs two in one: the INSERT alone decides who holds a key,
        # so nothing is recorded twice. A key released, completed or taken afresh between the
        # insert and the read is answered as in progress, replayed, or (taken by another
        # request) as a different request: each an answer the client can act on.
        self._pool = autocommit_pool(conninfo, max_size=8)

    def reserve(self, key: str, request: bytes) -> StoredAnswer | None:
        """Retried once on a lost connection. Had the lost attempt's insert committed, the
        retry finds the key reserved and answers "in progress or interrupted": safe."""
        fingerprint = self.fingerprints.of(request)

        def insert_or_read(conn: Connection[Any]) -> tuple[bool, Any]:
            cursor = conn.execute(
                "INSERT INTO rodedraad_idempotency_keys AS k (key, fingerprint) "  # noqa: S608
                f"VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET {_AFRESH} "
                "WHERE k.created_at < %s",
                (key, fingerprint, datetime.now(UTC) - KEPT),
            )
            if cursor.rowcount == 1:
                return True, None
            return False, conn.execute(
                f"SELECT {_COLUMNS} FROM rodedraad_idempotency_keys WHERE key = %s",  # noqa: S608
                (key,),
            ).fetchone()

        reserved, row = with_connection(self._pool, insert_or_read)
        if reserved:
            return None
        return _interpret(row, lambda stored: self.fingerprints.matches(stored, request))

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

    def prune(self, now: datetime) -> int:
        cursor = with_connection(  # deletes what is past a moment: safe to run twice
            self._pool,
            lambda conn: conn.execute(
                "DELETE FROM rodedraad_idempotency_keys WHERE created_at < %s", (now - KEPT,)
            ),
        )
        return cursor.rowcount

    def close(self) -> None:
        self._pool.close()
