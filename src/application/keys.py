"""Per-client encryption keys, apart from the events and wrapped: the heart of crypto-shredding.

Every aggregate (a client, each of its trajectories) is a *subject* with a key of its own that
belongs to the client. Personal data in events and snapshots is sealed with the subject's key.
Erasing a client deletes the keys of all its subjects: the events keep their structure (who
agreed what and when) but their personal content can no longer be read.

A deleted row does not vanish from disk at once (dead tuples, free pages, the write-ahead log,
replicas, backups), so no subject key is ever stored in clear: each row holds the key wrapped
under a version of the key-encryption key (``application.kek``), which is never in the
database, and names that version. Rotation re-wraps the live keys under a new version and, once
the backup window has passed, destroys the old one: from then on every copy of an erased key,
wherever it lingers, is a wrapped key nobody can unwrap. Unwrapped keys live only in this
process's memory (a short cache).

Embedded mode keeps keys in their own SQLite file (``secure_delete`` on, the WAL truncated after
an erasure); production in a PostgreSQL table. The SQL is written once with ``?`` placeholders.
"""

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from uuid import UUID

import structlog

from application.files import private_database_file
from application.kek import KekError, KekVersion, Keyring, KeyringFile, unwrap, wrap
from application.schema import SCHEMA_LOCK_SQL
from application.sealing import KEY_BYTES, CachedKey, SealBroken
from application.sql import PostgresTx, Tx, autocommit_pool, sqlite_transaction
from application.unavailable import retry_once

log = structlog.get_logger("rodedraad.keys")

T = TypeVar("T")

#: How long a process trusts a cached key (or its absence). Erasure evicts its own cache at once;
#: other processes notice within this time at the latest.
CACHE_SECONDS = 30.0
#: At most this many cached keys; past it the cache starts afresh. A key that was used holds
#: its AES-GCM cipher too (``sealing.CachedKey``, ≈ 3 KB), so entries older than
#: ``CACHE_SECONDS`` are also swept out every ``CACHE_SECONDS``: the cache holds the keys of
#: about the last minute, not every key the process ever read.
CACHE_ENTRIES = 100_000
#: Subjects per prefetch query.
_PREFETCH_CHUNK = 1000
#: Rows re-wrapped per transaction during a rotation or a migration.
REWRAP_BATCH = 500


class KeyStore(Protocol):
    def key_for(self, subject: UUID) -> bytes | None:
        """The subject's key, or None if it has none (never had one, or erased)."""

    def cached_key(self, subject: UUID) -> tuple[bool, bytes | None]:
        """(known, key) without touching the database: ``known`` is False on a cache miss."""

    def create(self, subject: UUID, client: UUID) -> bytes:
        """A new key for ``subject``, belonging to ``client`` (idempotent)."""

    def erase_client(self, client: UUID) -> list[UUID]:
        """Destroy every key of the client and note its subjects in the erasure ledger; return
        every subject of the client the ledger holds (this erasure's, and an earlier attempt's
        that failed after destroying the keys)."""

    def subjects_of(self, client: UUID) -> list[UUID]:
        """The subjects of the client, the client and its trajectories: those with a key, and
        those whose key an erasure destroyed (the ledger)."""

    def forget(self, subjects: list[UUID]) -> None:
        """Drop cached keys of these subjects (another process erased them)."""

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        """Read the keys of many subjects in one query (before decoding a batch of events)."""

    def close(self) -> None: ...


def _cached(key: bytes) -> CachedKey:
    return key if isinstance(key, CachedKey) else CachedKey(key)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class _Cached:
    def __init__(self) -> None:
        self._cache: dict[UUID, tuple[bytes | None, float]] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def cached_key(self, subject: UUID) -> tuple[bool, bytes | None]:
        # No lock to read: one ``dict.get`` is atomic, and the writers below replace or clear
        # the cache under the lock; reading was ≈ 3 % of a rebuild's CPU with it (issue #22).
        hit = self._cache.get(subject)
        if hit is not None and time.monotonic() - hit[1] < CACHE_SECONDS:
            return True, hit[0]
        return False, None

    def _remember_all(self, keys: dict[UUID, bytes | None]) -> None:
        with self._lock:
            now = time.monotonic()
            if len(self._cache) + len(keys) > CACHE_ENTRIES:
                self._cache.clear()
            elif now - self._swept > CACHE_SECONDS:
                # Expired entries are never answered from: drop them, and their ciphers.
                self._cache = {s: e for s, e in self._cache.items() if now - e[1] < CACHE_SECONDS}
                self._swept = now
            self._cache.update(
                (subject, (None if key is None else _cached(key), now))
                for subject, key in keys.items()
            )

    def forget(self, subjects: list[UUID]) -> None:
        with self._lock:
            for subject in subjects:
                self._cache.pop(subject, None)


@dataclass(frozen=True)
class KeyStoreStatus:
    """The keyring against the keys in use, as the start-up check finds them."""

    keyring: Keyring | None
    #: KEK version → how many subject keys are wrapped under it.
    in_use: dict[int, int]
    #: Sentences an operator can act on; the store refuses to start while there is one.
    problems: list[str] = field(default_factory=list)


#: PostgreSQL: the key store's tables live in a schema of their own (issue #21), so that an
#: operator dumps, backs up and grants them on a policy apart from the events'
#: (``pg_dump --schema=rodedraad_keys`` / ``--exclude-schema=rodedraad_keys``).
KEY_SCHEMA = "rodedraad_keys"
#: The two tables of the key store in each database: (subject keys, KEK fingerprints).
KEY_TABLES = {
    "sqlite": ("subject_keys", "kek_fingerprints"),
    "postgres": (
        f"{KEY_SCHEMA}.rodedraad_subject_keys",
        f"{KEY_SCHEMA}.rodedraad_kek_fingerprints",
    ),
}
#: The erasure ledger in each database: which subjects of which client were erased, and when.
#: Ids only, no key material. Written in the transaction that deletes the keys, so a retried
#: erasure still finds every subject. Beside it, the ledger file kept apart from the backups
#: (``application.erasure_ledger``), which every restore re-applies.
ERASURE_LEDGER = {
    "sqlite": "erased_subjects",
    "postgres": f"{KEY_SCHEMA}.rodedraad_erased_subjects",
}


@dataclass(frozen=True)
class KeyTables:
    """The key store's tables in one database and the KEK file that wraps their keys: what the
    store checks at every start and its migrations check before wrapping (issue #10)."""

    keys: str
    fingerprints: str
    keyring: KeyringFile

    @classmethod
    def of(cls, dialect: str, keyring: KeyringFile) -> "KeyTables":
        keys, fingerprints = KEY_TABLES[dialect]
        return cls(keys, fingerprints, keyring)

    def status(self, tx: Tx, *, create: bool, now: datetime) -> KeyStoreStatus:
        """The keyring against the keys in use; ``create``: make a keyring if the store has
        never had one, and record the fingerprints of new versions."""
        in_use = self.counts(tx)
        recorded = dict(tx.fetchall(f"SELECT version, fingerprint FROM {self.fingerprints}"))
        if not self.keyring.exists():
            if in_use or recorded:
                return KeyStoreStatus(None, in_use, [self._missing_file(in_use, recorded)])
            if not create:
                return KeyStoreStatus(None, in_use)
            with self.keyring.locked():
                self.keyring.create(now)
            log.info("KEK created; back it up apart from the data", file=str(self.keyring.path))
        try:
            keyring = self.keyring.reload()
        except KekError as e:
            return KeyStoreStatus(None, in_use, [e.message])
        problems = self._fingerprint_problems(tx, keyring, recorded, register=create)
        problems += describe_unusable(self.keyring.path, keyring, in_use)
        return KeyStoreStatus(keyring, in_use, problems)

    def usable(self, tx: Tx, now: datetime) -> Keyring:
        """The keyring, made on a first start; ``KekError`` (every problem, each saying what to
        do) if it cannot unwrap the keys of this database."""
        status = self.status(tx, create=True, now=now)
        if status.problems or status.keyring is None:
            raise KekError("; ".join(status.problems))
        return status.keyring

    def counts(self, tx: Tx) -> dict[int, int]:
        """KEK version → subject keys wrapped under it."""
        return {
            int(version): int(count)
            for version, count in tx.fetchall(
                f"SELECT kek_version, COUNT(*) FROM {self.keys} GROUP BY kek_version"
            )
        }

    def _missing_file(self, in_use: dict[int, int], recorded: dict[Any, Any]) -> str:
        versions = sorted(set(in_use) | {int(v) for v in recorded})
        held = f"holds {sum(in_use.values()):,} subject keys wrapped under" if in_use else "uses"
        return (
            f"the key store {held} KEK version(s) {_listed(versions)}, but the KEK file "
            f"{self.keyring.path} does not exist: restore it from your escrow (README, "
            "'Key-encryption key') or point RODEDRAAD_KEK_FILE at it. Without it no client's "
            "personal data can be read; a new KEK would not help."
        )

    def _fingerprint_problems(
        self, tx: Tx, keyring: Keyring, recorded: dict[Any, Any], *, register: bool
    ) -> list[str]:
        """A KEK file that is not the one this database was set up with is refused: two hosts
        that each made their own would otherwise wrap keys the other cannot open."""
        problems = []
        for kek in keyring.live:
            known = recorded.get(kek.version)
            if known is None:
                if register:
                    self.register(tx, kek)
            elif known != kek.fingerprint:
                problems.append(
                    f"the KEK file {self.keyring.path} is not this database's: its version "
                    f"{kek.version} differs from the one the database's keys were wrapped with. "
                    "Every process of a deployment must use the same KEK file (copy it from "
                    "the host that created it, or restore it from your escrow)."
                )
        return problems

    def register(self, tx: Tx, kek: KekVersion) -> None:
        tx.execute(
            f"INSERT INTO {self.fingerprints} (version, fingerprint) VALUES (?, ?) "
            "ON CONFLICT (version) DO NOTHING",
            (kek.version, kek.fingerprint),
        )


def insert_wrapped(
    tx: Tx, table: str, kek: KekVersion, keys: Iterable[tuple[Any, Any, bytes]]
) -> int:
    """Store (subject, client, key in clear) rows wrapped under ``kek``; a subject that already
    has a key keeps it. Returns how many rows were given."""
    rows = [(str(s), str(c), kek.version, wrap(kek, _uuid(s), bytes(k))) for s, c, k in keys]
    tx.executemany(
        f"INSERT INTO {table} (subject, client, kek_version, wrapped_key) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
        rows,
    )
    return len(rows)


class WrappedKeyStore(_Cached):
    """Subject keys wrapped under the KEK, in a database table (the backends below).

    Its tables are made, and keys from before envelope encryption wrapped, by the migrations
    (``application.migrations``), which every process runs (or checks) before it opens a
    store. Opening the store (under an exclusive lock on its database) creates the keyring on
    a first start and refuses to go on if the keyring cannot unwrap every key (``KekError``,
    saying which file, which versions, and what to do).
    """

    dialect: str
    #: Locks the rows a rotation re-wraps (PostgreSQL); SQLite's writer lock already does.
    _for_update = ""

    def __init__(self, keyring: KeyringFile) -> None:
        super().__init__()
        self.keyring = keyring
        self.tables = KeyTables.of(self.dialect, keyring)
        self.keys_table = self.tables.keys
        self.erased_table = ERASURE_LEDGER[self.dialect]

    # --- what a backend provides ---------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """One transaction; ``write=False``: a read, which must not wait for writers."""
        raise NotImplementedError
        yield

    def _in(self, subjects: list[UUID]) -> tuple[str, list[Any]]:
        """``= ANY(?)`` or ``IN (?, …)`` for a list of subjects, and its parameters."""
        raise NotImplementedError

    def _scrub(self) -> None:
        """After keys were destroyed: leave no freed content behind."""

    def _safely(self, operation: Callable[[], T]) -> T:
        """Run an operation that is safe to run twice (a read, an insert that keeps what is
        there); a backend whose connections can be lost retries it once (issue #10)."""
        return operation()

    def close(self) -> None:
        raise NotImplementedError

    def register(self, kek: KekVersion) -> None:
        """Record a new KEK version's fingerprint (a rotation, before wrapping under it)."""
        with self._transaction() as tx:
            self.tables.register(tx, kek)

    # --- keys ----------------------------------------------------------------------------------

    def key_for(self, subject: UUID) -> bytes | None:
        hit, key = self.cached_key(subject)
        if hit:
            return key
        # The key as read, not as cached after: another thread may clear the cache in between
        # (it is full), and a miss then would read as "erased".
        return self._fetch([_uuid(subject)])[_uuid(subject)]

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        unique = {_uuid(s) for s in subjects}
        missing = [s for s in unique if not self.cached_key(s)[0]]
        for start in range(0, len(missing), _PREFETCH_CHUNK):
            self._fetch(missing[start : start + _PREFETCH_CHUNK])

    def _fetch(self, chunk: list[UUID]) -> dict[UUID, bytes | None]:
        """The keys of ``chunk`` (None: none, or erased) read in one query, and cached."""
        clause, params = self._in(chunk)
        rows = self._read(
            f"SELECT subject, kek_version, wrapped_key FROM {self.keys_table} "
            f"WHERE subject {clause}",
            params,
        )
        found: dict[UUID, bytes | None] = dict.fromkeys(chunk)
        for subject, version, wrapped in rows:
            found[_uuid(subject)] = CachedKey(
                self._unwrapped(_uuid(subject), int(version), wrapped)
            )
        self._remember_all(found)
        return found

    def create(self, subject: UUID, client: UUID) -> bytes:
        kek = self.keyring.keyring().current
        key = os.urandom(KEY_BYTES)
        wrapped = wrap(kek, subject, key)

        def insert_or_keep() -> list[tuple[Any, ...]]:
            # One statement when the subject is new (the rule), a second when it had a key.
            return self._statement(
                f"INSERT INTO {self.keys_table} (subject, client, kek_version, wrapped_key) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING "
                "RETURNING kek_version, wrapped_key",
                (str(subject), str(client), kek.version, wrapped),
                write=True,
            ) or self._statement(
                f"SELECT kek_version, wrapped_key FROM {self.keys_table} WHERE subject = ?",
                (str(subject),),
                write=False,
            )

        rows = self._safely(insert_or_keep)
        if not rows:
            # The key was there at the INSERT and gone at the SELECT: an erasure committed in
            # between (two statements, no longer one transaction). Taken as if the erasure
            # came first: the subject gets a new key, as any subject created after it would.
            rows = self._safely(insert_or_keep)
        [(version, stored)] = rows
        if bytes(stored) != wrapped:  # another process created it first: theirs counts
            key = self._unwrapped(subject, int(version), stored)
        self._remember_all({subject: key})
        return key

    def subjects_of(self, client: UUID) -> list[UUID]:
        rows = self._read(
            f"SELECT subject FROM {self.keys_table} WHERE client = ? "
            f"UNION SELECT subject FROM {self.erased_table} WHERE client = ?",
            [str(client), str(client)],
        )
        return [_uuid(r[0]) for r in rows]

    def erasure_done(self, client: UUID) -> bool:
        """Whether this store's own ledger holds the client's erasure and no key of the client
        is left: the cheap test a start-up makes before re-applying the ledger file's erasures
        (``application.erasure_ledger``)."""
        return bool(
            self._read(
                f"SELECT 1 FROM {self.erased_table} WHERE client = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {self.keys_table} WHERE client = ?) LIMIT 1",
                [str(client), str(client)],
            )
        )

    def has_erasures(self) -> bool:
        """Whether this store's own ledger holds any erasure: then the deployment has erased
        someone, and its erasure ledger file must exist (``application.erasure_ledger``)."""
        return bool(self._read(f"SELECT 1 FROM {self.erased_table} LIMIT 1", []))

    def holds_keys_of(self, client: UUID) -> bool:
        """Whether any key of the client is left (a re-applied erasure has work to do)."""
        return bool(
            self._read(f"SELECT 1 FROM {self.keys_table} WHERE client = ? LIMIT 1", [str(client)])
        )

    def _read(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self._safely(lambda: self._statement(sql, params, write=False))

    def _statement(self, sql: str, params: Sequence[Any], *, write: bool) -> list[tuple[Any, ...]]:
        """One statement in a transaction of its own; its rows."""
        with self._transaction(write=write) as tx:
            return tx.fetchall(sql, params)

    def erase_client(self, client: UUID) -> list[UUID]:
        """Keys deleted and their subjects noted in the ledger, in one transaction (issue #10
        review, S3: an erasure retried after a failure must not forget the trajectories)."""
        with self._transaction() as tx:
            rows = tx.fetchall(
                f"DELETE FROM {self.keys_table} WHERE client = ? RETURNING subject", (str(client),)
            )
            tx.executemany(
                f"INSERT INTO {self.erased_table} (subject, client, erased_at) "
                "VALUES (?, ?, ?) ON CONFLICT (subject) DO NOTHING",
                [(str(r[0]), str(client), self._now()) for r in rows],
            )
            ledger = tx.fetchall(
                f"SELECT subject FROM {self.erased_table} WHERE client = ?", (str(client),)
            )
        subjects = [_uuid(r[0]) for r in ledger]
        self._scrub()
        self.forget(subjects)
        return subjects

    def _now(self) -> Any:
        """When an erasure happened, as the ledger's column takes it."""
        return datetime.now(UTC).isoformat() if self.dialect == "sqlite" else datetime.now(UTC)

    def _unwrapped(self, subject: UUID, version: int, wrapped: Any) -> bytes:
        kek = self.keyring.keyring().get(version)
        if kek is None or kek.destroyed:  # another process may have rotated: look again
            kek = self.keyring.reload().get(version)
        if kek is None or kek.destroyed:
            problems = describe_unusable(self.keyring.path, self.keyring.keyring(), {version: 1})
            raise KekError(problems[0])
        try:
            return unwrap(kek, subject, bytes(wrapped))
        except SealBroken:
            raise KekError(
                f"the key of subject {subject} does not open with version {version} of the KEK "
                f"file {self.keyring.path}: the file is not the one this database's keys were "
                "wrapped with, or the row was altered"
            ) from None

    # --- rotation ------------------------------------------------------------------------------

    def versions_in_use(self) -> dict[int, int]:
        """KEK version → subject keys wrapped under it."""
        with self._transaction(write=False) as tx:
            return self.tables.counts(tx)

    def rewrap_batch(self, old: KekVersion, new: KekVersion, limit: int = REWRAP_BATCH) -> int:
        """Re-wrap up to ``limit`` keys from ``old`` to ``new``, in one transaction. A key erased
        meanwhile is not brought back; a crash leaves each key under one version or the other."""
        with self._transaction() as tx:
            rows = tx.fetchall(
                f"SELECT subject, wrapped_key FROM {self.keys_table} "
                f"WHERE kek_version = ? LIMIT ?{self._for_update}",
                (old.version, limit),
            )
            tx.executemany(
                f"UPDATE {self.keys_table} SET kek_version = ?, wrapped_key = ? "
                "WHERE subject = ? AND kek_version = ?",
                [
                    (
                        new.version,
                        wrap(new, _uuid(s), self._unwrapped(_uuid(s), old.version, w)),
                        str(s),
                        old.version,
                    )
                    for s, w in rows
                ],
            )
        return len(rows)

    # --- copies ----------------------------------------------------------------------------------

    def export_keys(self, batch: int = REWRAP_BATCH) -> Iterator[list[tuple[UUID, UUID, bytes]]]:
        """Every subject key as (subject, client, key), unwrapped, a batch at a time: a
        simulation copy wraps them under a KEK of its own, so that it never holds this
        deployment's KEK (issue #11)."""
        after: Any = None
        while True:
            where = "" if after is None else "WHERE subject > ? "
            rows = self._read(
                f"SELECT subject, client, kek_version, wrapped_key FROM {self.keys_table} "
                f"{where}ORDER BY subject LIMIT ?",
                [batch] if after is None else [after, batch],
            )
            if not rows:
                return
            yield [
                (_uuid(s), _uuid(c), self._unwrapped(_uuid(s), int(v), w)) for s, c, v, w in rows
            ]
            after = rows[-1][0]

    def import_keys(self, keys: Iterable[tuple[UUID, UUID, bytes]]) -> int:
        """Store keys given in clear, wrapped under the current KEK version; a subject that
        has a key keeps it. Returns how many were given."""
        kek = self.keyring.keyring().current
        with self._transaction() as tx:
            return insert_wrapped(tx, self.keys_table, kek, keys)


def describe_unusable(path: Path, keyring: Keyring, in_use: dict[int, int]) -> list[str]:
    """Why the keyring cannot unwrap the keys in use, one sentence per version, or nothing."""
    problems = []
    for version, count in sorted(in_use.items()):
        kek = keyring.get(version)
        if kek is None:
            problems.append(
                f"{count:,} subject key(s) are wrapped under KEK version {version}, which the "
                f"KEK file {path} does not hold: restore the file from your escrow (a copy "
                "made after that version was created)"
            )
        elif kek.destroyed:
            when = f"{kek.destroyed_at:%Y-%m-%d}" if kek.destroyed_at else "at an unknown date"
            problems.append(
                f"{count:,} subject key(s) are wrapped under KEK version {version}, destroyed "
                f"{when} once the backup window had passed: their personal data can no longer "
                "be read, by design. This database is older than the backup window (a restored "
                "old copy?); restore a backup made within the window"
            )
    return problems


def _listed(versions: Iterable[int]) -> str:
    return ", ".join(str(v) for v in versions)


# --- the backends ------------------------------------------------------------------------------


class SqliteKeyStore(WrappedKeyStore):
    dialect = "sqlite"

    def __init__(self, path: Path, keyring: KeyringFile, *, now: datetime | None = None) -> None:
        super().__init__(keyring)
        self._conn = sqlite3.connect(
            private_database_file(path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db_lock = threading.Lock()
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute("PRAGMA journal_mode = WAL")
        try:
            with self._transaction() as tx:
                self.tables.usable(tx, now or datetime.now(UTC))
            self._scrub()
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Tx]:
        with sqlite_transaction(self._conn, self._db_lock, write=write) as tx:
            yield tx

    def _in(self, subjects: list[UUID]) -> tuple[str, list[Any]]:
        return f"IN ({', '.join('?' * len(subjects))})", [str(s) for s in subjects]

    def _scrub(self) -> None:
        """``secure_delete`` zeroed the freed pages; a truncating checkpoint empties the WAL."""
        with self._db_lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._db_lock:
            self._conn.close()


class PostgresKeyStore(WrappedKeyStore):
    dialect = "postgres"
    _for_update = " FOR UPDATE"

    def __init__(self, conninfo: str, keyring: KeyringFile, *, now: datetime | None = None) -> None:
        super().__init__(keyring)
        # A key read or made is one statement (it was three or four round trips with the
        # transaction's BEGIN and COMMIT); ``_transaction`` opens a block where more share one.
        self._pool = autocommit_pool(conninfo, max_size=4)
        try:
            with self._transaction() as tx:
                tx.execute(SCHEMA_LOCK_SQL)
                self.tables.usable(tx, now or datetime.now(UTC))
        except BaseException:
            self._pool.close()
            raise

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Tx]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield PostgresTx(cursor)

    def _statement(self, sql: str, params: Sequence[Any], *, write: bool) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn, conn.cursor() as cursor:
            return PostgresTx(cursor).fetchall(sql, params)

    def _in(self, subjects: list[UUID]) -> tuple[str, list[Any]]:
        return "= ANY(?)", [subjects]

    def _safely(self, operation: Callable[[], T]) -> T:
        return retry_once(self._pool, operation)

    def close(self) -> None:
        self._pool.close()


class MemoryKeyStore(_Cached):
    """For tests of the domain and codec that need no database (nothing reaches a disk)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[UUID, tuple[UUID, bytes]] = {}
        self.erased: dict[UUID, UUID] = {}  # the erasure ledger: subject → client

    def key_for(self, subject: UUID) -> bytes | None:
        found = self.keys.get(subject)
        return found[1] if found else None

    def cached_key(self, subject: UUID) -> tuple[bool, bytes | None]:
        return True, self.key_for(subject)

    def prefetch(self, subjects: Iterable[UUID | str]) -> None:
        """Everything is in memory already."""

    def create(self, subject: UUID, client: UUID) -> bytes:
        self.keys.setdefault(subject, (client, os.urandom(KEY_BYTES)))
        return self.keys[subject][1]

    def subjects_of(self, client: UUID) -> list[UUID]:
        held = [s for s, (c, _) in self.keys.items() if c == client]
        return held + [s for s, c in self.erased.items() if c == client and s not in held]

    def erase_client(self, client: UUID) -> list[UUID]:
        for subject in [s for s, (c, _) in self.keys.items() if c == client]:
            del self.keys[subject]
            self.erased[subject] = client
        return [s for s, c in self.erased.items() if c == client]

    def close(self) -> None:
        self.keys.clear()
