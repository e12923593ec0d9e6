"""Migrations: every change to a stored shape has a name, one home, and a record of when it ran.

Issue #11, point 8. The stores of record — the events (and snapshots), the subject keys, the
log of personal-data reads and the idempotency keys — change shape as the product grows (new
event versions, an organisation register, a hash chain over the events, wrapped keys). Each
change is a *migration*: a function in the ordered list ``MIGRATIONS`` below, named, with a
docstring saying why, idempotent, that runs once per store under the schema lock and is
recorded in that store (its name, when it ran, which version of Rode Draad ran it) in the same
transaction as its work, so a crash leaves it done and recorded, or neither.

- Migration ``0001_baseline`` of each store is what the versions before it created at start: a
  store they made needs nothing but the record.
- ``rodedraad migrate`` runs what is pending, printing each migration and the progress of long
  ones. Every process that opens the stores (``serve``, ``projections run``, ``scheduler run``,
  the one-off commands) runs them at start too, or, with ``RODEDRAAD_MIGRATE_ON_START=false``,
  refuses to start while one is pending.
- A store that records a migration this code does not know was migrated by a newer version:
  every process refuses to start on it (``StoreNewerThanCode``), because code older than its
  store could misread or damage what the newer version wrote.

Where the records live: on PostgreSQL every store is in one database, with one
``rodedraad_migrations`` table; in embedded mode each SQLite file records the migrations of
its own store in itself, so a file restored from a backup says what it holds. The schema lock
is PostgreSQL's advisory lock (``application.schema``), held for the whole run; in embedded
mode, a file lock beside the data.

Read models are not migrated: they are derived from the events, and a projection whose code
version changed is rebuilt from the log beside the live copy (``projections.worker``). A
migration changes what cannot be rebuilt.
"""

import fcntl
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import psycopg
from eventsourcing.utils import get_topic

from application.care_record import CareRecord
from application.commit_times import COMMIT_TIMES, commit_stamp
from application.errors import OperatorError
from application.event_chain import DDL as CHAIN_DDL
from application.event_chain import GENESIS_TABLE as CHAIN_GENESIS
from application.event_chain import (
    HASH_COLUMN,
    PER_POSITION_TABLE,
    chain_existing,
    ensure_hash_column,
)
from application.files import private_database_file, private_file
from application.kek import KeyringFile
from application.keys import (
    ERASURE_LEDGER,
    KEY_SCHEMA,
    KEY_TABLES,
    REWRAP_BATCH,
    KeyTables,
    insert_wrapped,
)
from application.read_log_chain import BOUNDARIES as READ_LOG_BOUNDARIES
from application.read_log_chain import DDL as READ_LOG_DDL
from application.read_log_chain import append_function_ddl
from application.read_log_chain import chain_existing as chain_read_log
from application.schema import SCHEMA_LOCK_KEY
from application.seals import DDL as SEALS_DDL
from application.seals import READ_LOG_HEAD_COLUMNS, SEALS
from application.sql import PostgresTx, Tx, column_names, sqlite_transaction, table_exists
from application.unavailable import connect_timeout
from domain.client import Client

#: The stores of record, each migrated on its own (one SQLite file each in embedded mode).
STORES = ("events", "keys", "access_log", "idempotency", "statistics", "findings")

#: Where each store records the migrations it has had.
RECORDS_TABLE = "rodedraad_migrations"
_RECORDS_DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (store TEXT NOT NULL, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL, applied_by TEXT NOT NULL, "
    "PRIMARY KEY (store, name))",
    "postgres": f"CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (store TEXT NOT NULL, "
    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL, applied_by TEXT NOT NULL, "
    "PRIMARY KEY (store, name))",
}

#: A store made for simulation says so in this table (issue #11, point 9); a live store's is
#: empty. ``application.simulation`` writes and reads it.
SIMULATION_TABLE = "rodedraad_simulation"


class MigrationError(OperatorError):
    """The stores and this code do not fit; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Applied:
    """A migration as a store records it."""

    store: str
    name: str
    applied_at: datetime
    applied_by: str

    @property
    def label(self) -> str:
        return f"{self.store}/{self.name}"

    def describe(self) -> str:
        return (
            f"{self.label}, applied {self.applied_at:%Y-%m-%d %H:%M} UTC "
            f"by rodedraad {self.applied_by}"
        )


class StoreNewerThanCode(MigrationError):
    """The store has migrations this code does not know: it is older than the store."""

    def __init__(self, unknown: Sequence[Applied]) -> None:
        super().__init__(
            "this store was migrated by a newer version of Rode Draad: it holds "
            f"{len(unknown)} migration(s) this code does not know "
            f"({'; '.join(a.describe() for a in unknown)}). Code older than its store could "
            "misread or damage what the newer version wrote, so nothing was started: install "
            "that version of Rode Draad (or a newer one) and start again."
        )
        self.unknown = list(unknown)


class MigrationsPending(MigrationError):
    """Migrations have not run and this process may not run them (``MIGRATE_ON_START``)."""

    def __init__(self, pending: Sequence["Migration"]) -> None:
        super().__init__(
            f"the stores need {len(pending)} migration(s) that have not run: "
            f"{', '.join(m.label for m in pending)}. Processes here do not migrate at start "
            "(RODEDRAAD_MIGRATE_ON_START=false): run `rodedraad migrate` (it says what it "
            "does), then start again."
        )
        self.pending = list(pending)


class MigrationContext:
    """What a migration works with: its store's transaction (``tx``), the KEK file, the event
    store's eventsourcing settings, the moment, and a way to tell the operator how far it is."""

    def __init__(
        self,
        dialect: str,
        stores: "Stores",
        now: datetime,
        say: Callable[[str], None],
        tx: Tx | None = None,
    ) -> None:
        self.dialect = dialect
        self.keyring = stores.keyring
        self.event_store_env = stores.event_store_env
        self.now = now
        self.say = say
        self._tx = tx
        #: Set by a migration that removed secrets: the store is scrubbed after its commit.
        self.scrub_afterwards = False

    @property
    def tx(self) -> Tx:
        if self._tx is None:
            raise RuntimeError("this migration runs outside a transaction of ours")
        return self._tx


@dataclass(frozen=True)
class Migration:
    store: str
    name: str
    apply: Callable[[MigrationContext], None]
    #: False for a migration whose work commits on connections of its own (eventsourcing
    #: creating its tables): it is recorded right after, and must be safe to run again.
    in_transaction: bool = True
    #: What it does, where its function's docstring does not say it (a function several
    #: migrations share: each installs a newer version of what it makes).
    description: str | None = None

    @property
    def label(self) -> str:
        return f"{self.store}/{self.name}"

    @property
    def why(self) -> str:
        """What it does, in short: its docstring's first sentence, up to a colon."""
        if self.description is not None:
            return self.description
        doc = " ".join((self.apply.__doc__ or self.name).split())
        return doc.split(". ")[0].split(": ")[0].rstrip(".")


# --- the migrations, in the order they run ---------------------------------------------------


def _event_store(ctx: MigrationContext) -> None:
    """The event store of issues #2 and #6: eventsourcing's events and snapshots tables, made by
    eventsourcing itself, and on PostgreSQL the function that takes the table lock and inserts
    in one round trip (``application.pg_recorder``). eventsourcing's own statements are all
    ``IF NOT EXISTS`` or ``OR REPLACE``: a store made before migrations is left as it is."""
    CareRecord(env={**ctx.event_store_env, "CREATE_TABLE": "y"}).close()


def _simulation_mark(ctx: MigrationContext) -> None:
    """A store made for simulation says so in itself (issue #11, point 9): the scheduler records
    facts dated in the future only in a store marked so, never in a live record. A live
    store's table stays empty."""
    moment = "TEXT" if ctx.dialect == "sqlite" else "TIMESTAMPTZ"
    ctx.tx.execute(
        f"CREATE TABLE IF NOT EXISTS {SIMULATION_TABLE} (marked_at {moment} NOT NULL, "
        "copied_up_to BIGINT NOT NULL)"
    )


_KEY_DDL = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, "
        "client TEXT NOT NULL, kek_version INTEGER NOT NULL, wrapped_key BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_subject_keys_client ON subject_keys (client)",
        "CREATE INDEX IF NOT EXISTS ix_subject_keys_kek ON subject_keys (kek_version)",
        "CREATE TABLE IF NOT EXISTS kek_fingerprints (version INTEGER PRIMARY KEY, "
        "fingerprint TEXT NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rodedraad_subject_keys (subject UUID PRIMARY KEY, "
        "client UUID NOT NULL, kek_version INTEGER NOT NULL, wrapped_key BYTEA NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_rodedraad_subject_keys_client "
        "ON rodedraad_subject_keys (client)",
        "CREATE INDEX IF NOT EXISTS ix_rodedraad_subject_keys_kek "
        "ON rodedraad_subject_keys (kek_version)",
        "CREATE TABLE IF NOT EXISTS rodedraad_kek_fingerprints (version INTEGER PRIMARY KEY, "
        "fingerprint TEXT NOT NULL)",
    ],
}
#: Where the key store's tables were made, before ``keys/0004_own_schema`` moved them on
#: PostgreSQL: the migrations before it work on these names, whatever the code calls them now.
_KEY_TABLES_BEFORE_0004 = {
    "sqlite": KEY_TABLES["sqlite"],
    "postgres": ("rodedraad_subject_keys", "rodedraad_kek_fingerprints"),
}
_ERASURE_LEDGER_BEFORE_0004 = {
    "sqlite": ERASURE_LEDGER["sqlite"],
    "postgres": "rodedraad_erased_subjects",
}


def _moved_to_key_schema(ctx: MigrationContext, table: str) -> bool:
    """Whether ``keys/0004_own_schema`` moved ``table`` already: a store whose migration records
    were lost (made before they had names) must not get the table a second time."""
    return ctx.dialect == "postgres" and bool(
        ctx.tx.fetchall(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            (KEY_SCHEMA, table),
        )
    )


#: Before issue #10 the keys table held keys in clear, in a column ``key``: the baseline sets
#: it aside under this suffix (with what is named after it) for the next migration to wrap.
_PLAINTEXT = "_plaintext"
_SET_ASIDE = {
    "sqlite": [
        "ALTER TABLE subject_keys RENAME TO subject_keys_plaintext",
        "DROP INDEX IF EXISTS ix_subject_keys_client",
    ],
    "postgres": [
        "ALTER TABLE rodedraad_subject_keys RENAME TO rodedraad_subject_keys_plaintext",
        "ALTER INDEX rodedraad_subject_keys_pkey RENAME TO rodedraad_subject_keys_plaintext_pkey",
        "DROP INDEX IF EXISTS ix_rodedraad_subject_keys_client",
    ],
}


def _key_tables(ctx: MigrationContext) -> None:
    """The key store of issue #10: each subject key wrapped under a version of the KEK, and the
    fingerprint of every KEK version, so a KEK file of another deployment is refused. A keys
    table from before issue #10 (keys in clear) is set aside, for the next migration to wrap."""
    keys_table = _KEY_TABLES_BEFORE_0004[ctx.dialect][0]
    if _moved_to_key_schema(ctx, keys_table):
        return
    if "key" in column_names(ctx.tx, keys_table):
        for statement in _SET_ASIDE[ctx.dialect]:
            ctx.tx.execute(statement)
    for statement in _KEY_DDL[ctx.dialect]:
        ctx.tx.execute(statement)


def _wrap_plaintext_keys(ctx: MigrationContext) -> None:
    """Keys stored in clear by a version before issue #10 are wrapped under the KEK (created on
    this first start if there is none) and the old table is dropped, in one transaction: all or
    nothing, and a KEK file that cannot be used leaves the keys where they were. The dropped
    table's files are gone at commit (PostgreSQL) or its pages zeroed and the store vacuumed
    (SQLite); what earlier write-ahead logs, replicas and backups hold is beyond reach (see
    the README)."""
    tables = KeyTables(*_KEY_TABLES_BEFORE_0004[ctx.dialect], ctx.keyring)
    old = tables.keys + _PLAINTEXT
    if not table_exists(ctx.tx, old):
        return
    kek = tables.usable(ctx.tx, ctx.now).current
    total = int(ctx.tx.fetchall(f"SELECT COUNT(*) FROM {old}")[0][0])
    done = 0
    while rows := ctx.tx.fetchall(
        f"SELECT subject, client, key FROM {old} ORDER BY subject LIMIT ? OFFSET ?",
        (REWRAP_BATCH, done),
    ):
        done += insert_wrapped(ctx.tx, tables.keys, kek, rows)
        ctx.say(f"{done:,} of {total:,} subject keys wrapped under KEK version {kek.version}")
    ctx.tx.execute(f"DROP TABLE {old}")
    ctx.scrub_afterwards = True


def _erasure_ledger(ctx: MigrationContext) -> None:
    """The erasure ledger (issue #10 review): which subjects of which client an erasure
    destroyed the keys of, and when; ids only. Written in the transaction that deletes the
    keys, so an erasure retried after a failure still names every trajectory of the client."""
    table = _ERASURE_LEDGER_BEFORE_0004[ctx.dialect]
    if _moved_to_key_schema(ctx, table):
        return
    subject, client, moment = (
        ("TEXT", "TEXT", "TEXT") if ctx.dialect == "sqlite" else ("UUID", "UUID", "TIMESTAMPTZ")
    )
    ctx.tx.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (subject {subject} PRIMARY KEY, "
        f"client {client} NOT NULL, erased_at {moment} NOT NULL)"
    )
    ctx.tx.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_client ON {table} (client)")


def _keys_own_schema(ctx: MigrationContext) -> None:
    """PostgreSQL: the subject keys, the KEK fingerprints and the key store's erasure table move
    into a schema of their own (issue #21), so that an operator backs them up, dumps them and
    grants them apart from the events. A move of three tables under the schema lock, no copy;
    SQLite keeps its keys in a file of their own already."""
    if ctx.dialect != "postgres":
        return
    ctx.tx.execute(f"CREATE SCHEMA IF NOT EXISTS {KEY_SCHEMA}")
    before = [*_KEY_TABLES_BEFORE_0004["postgres"], _ERASURE_LEDGER_BEFORE_0004["postgres"]]
    for table in before:
        if table_exists(ctx.tx, table) and not _moved_to_key_schema(ctx, table):
            ctx.tx.execute(f"ALTER TABLE {table} SET SCHEMA {KEY_SCHEMA}")
    ctx.say(f"  {', '.join(before)} now in schema {KEY_SCHEMA}")


def _personal_data_reads(ctx: MigrationContext) -> None:
    """The log of personal-data reads: who read which client's data, when, through which
    endpoint; append-only, queried by auditors per client."""
    if ctx.dialect == "sqlite":
        ctx.tx.execute(
            "CREATE TABLE IF NOT EXISTS personal_data_reads (at TEXT NOT NULL, "
            "user_id TEXT NOT NULL, organisation TEXT NOT NULL, role TEXT NOT NULL, "
            "client_id TEXT NOT NULL, trajectory_id TEXT, endpoint TEXT NOT NULL, "
            "request_id TEXT NOT NULL)"
        )
        ctx.tx.execute(
            "CREATE INDEX IF NOT EXISTS ix_reads_client ON personal_data_reads (client_id, at)"
        )
        return
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_personal_data_reads ("
        "at TIMESTAMPTZ NOT NULL, user_id TEXT NOT NULL, organisation TEXT NOT NULL, "
        "role TEXT NOT NULL, client_id UUID NOT NULL, trajectory_id UUID, "
        "endpoint TEXT NOT NULL, request_id TEXT NOT NULL)"
    )
    ctx.tx.execute(
        "CREATE INDEX IF NOT EXISTS ix_rodedraad_reads_client "
        "ON rodedraad_personal_data_reads (client_id, at)"
    )


def _export_reads(ctx: MigrationContext) -> None:
    """Issue #13: an XES export is logged as a read of every exported client's data, naming the
    export authorisation it was made under and its purpose (empty for every other read)."""
    if ctx.dialect != "sqlite":
        for column in ("authorisation", "purpose"):
            ctx.tx.execute(
                f"ALTER TABLE rodedraad_personal_data_reads ADD COLUMN IF NOT EXISTS {column} TEXT"
            )
        return
    # SQLite has no ``IF NOT EXISTS`` here; a store that already has them is left as it is.
    present = {row[1] for row in ctx.tx.fetchall("PRAGMA table_info(personal_data_reads)")}
    for column in ("authorisation", "purpose"):
        if column not in present:
            ctx.tx.execute(f"ALTER TABLE personal_data_reads ADD COLUMN {column} TEXT")


def _read_log_chain(ctx: MigrationContext) -> None:
    """Issue #16: the read log chained, so an insider cannot quietly delete their own reads:
    each entry gets a position and a hash (``application.read_log_chain``); the entries already
    there are chained in the order they were written, and a genesis boundary records up to
    which position the chain was computed after the fact."""
    sqlite = ctx.dialect == "sqlite"
    table = "personal_data_reads" if sqlite else "rodedraad_personal_data_reads"
    present = column_names(ctx.tx, table)
    for column, kind in (
        ("position", "INTEGER" if sqlite else "BIGINT"),
        ("chain_hash", "BLOB" if sqlite else "BYTEA"),
    ):
        if column not in present:
            ctx.tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    ctx.tx.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{table}_position ON {table} (position)")
    ctx.tx.execute(READ_LOG_DDL[ctx.dialect])
    if not sqlite:
        ctx.tx.execute(append_function_ddl(table))
    chained = chain_read_log(ctx.tx, table)
    up_to = int(ctx.tx.fetchall(f"SELECT COALESCE(MAX(position), 0) FROM {table}")[0][0])
    ctx.tx.execute(
        f"INSERT INTO {READ_LOG_BOUNDARIES[ctx.dialect]} (kind, up_to_position, hash, entries, "
        "recorded_at) VALUES ('genesis', ?, ?, ?, ?)",
        (up_to, b"", chained, commit_stamp(ctx.now) if sqlite else ctx.now),
    )
    ctx.say(
        f"  genesis: {chained:,} read(s) already in the log chained after the fact, up to "
        f"position {up_to:,}; every later read is chained as it is written"
    )


def _idempotency_keys(ctx: MigrationContext) -> None:
    """The idempotency keys: a retried command returns its first answer and records nothing
    twice, because each key is reserved under a unique constraint before its command runs."""
    if ctx.dialect == "sqlite":
        ctx.tx.execute(
            "CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, "
            "fingerprint TEXT NOT NULL, status INTEGER, body BLOB, etag TEXT, "
            "location TEXT, created_at TEXT NOT NULL)"
        )
        return
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_idempotency_keys (key TEXT PRIMARY KEY, "
        "fingerprint TEXT NOT NULL, status INTEGER, body BYTEA, etag TEXT, "
        "location TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )


def _statistics_releases(ctx: MigrationContext) -> None:
    """The statistics releases (issue #12): immutable, numbered, never changed once written. Per
    release its description, its tables' cells per region (what learning networks read) and,
    private, the units' contributions a later release of the same year is audited
    against (no statistics query reads them; they hold trajectory ids and numbers only)."""
    blob, moment = ("BLOB", "TEXT") if ctx.dialect == "sqlite" else ("BYTEA", "TIMESTAMPTZ")
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_statistics_releases ("
        "number INTEGER PRIMARY KEY, period TEXT NOT NULL, revises INTEGER, "
        f"computed_at {moment} NOT NULL, log_position BIGINT NOT NULL, "
        f"description {blob} NOT NULL)"
    )
    ctx.tx.execute(
        "CREATE INDEX IF NOT EXISTS ix_rodedraad_statistics_releases_period "
        "ON rodedraad_statistics_releases (period, number)"
    )
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_statistics_release_tables ("
        "number INTEGER NOT NULL, table_name TEXT NOT NULL, region TEXT NOT NULL, "
        f"cells {blob} NOT NULL, PRIMARY KEY (number, table_name, region))"
    )
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_statistics_release_units ("
        f"number INTEGER NOT NULL, region TEXT NOT NULL, contributions {blob} NOT NULL, "
        "PRIMARY KEY (number, region))"
    )


def _statistics_release_inputs(ctx: MigrationContext) -> None:
    """What each release is known to be computed from (issue #12): per release, digests of
    inputs (the population's units and cells, the earlier releases audited with it, its
    rules): those a revision was made from, and those a later ``statistics release`` computed
    in full only to find nothing new in, with what it said then. The same inputs are then not
    computed again: with regions held back, every fact recorded anywhere cost a whole
    computation. Digests, release numbers and the operator's message (aggregates only, as the
    log has it): no trajectory id."""
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_statistics_release_inputs ("
        "number INTEGER NOT NULL, inputs TEXT NOT NULL, said TEXT, "
        "PRIMARY KEY (number, inputs))"
    )


def _finding_batches(ctx: MigrationContext) -> None:
    """Shared findings waiting for their region's batch (issue #14 point 2): per region the
    batch's secret (thrown away on release), per proposal its region, title, text, day received
    and the HMAC of its trajectory under that secret. Never a trajectory or client id."""
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_finding_batches ("
        "region TEXT PRIMARY KEY, secret TEXT NOT NULL)"
    )
    ctx.tx.execute(
        "CREATE TABLE IF NOT EXISTS rodedraad_finding_proposals ("
        "proposal_id TEXT PRIMARY KEY, region TEXT NOT NULL, title TEXT NOT NULL, "
        "text TEXT NOT NULL, received_on TEXT NOT NULL, count_key TEXT NOT NULL)"
    )


def _commit_times(ctx: MigrationContext) -> None:
    """The commit time of every stretch of the log (issue #15): a table the event store's
    writer stamps in the same transaction as the events (on PostgreSQL, by a new version of
    the locked-insert function), made by eventsourcing's create statements as at baseline."""
    CareRecord(env={**ctx.event_store_env, "CREATE_TABLE": "y"}).close()


def _commit_times_before(ctx: MigrationContext) -> None:
    """Events recorded before commit times existed: one range stamped with this moment and
    marked not exact ("committed before the migration; when exactly is unknown"), so an
    answer about an earlier moment falls back on the events' own timestamps and says so
    (``application.commit_times``). Nothing of the events is changed."""
    sqlite = ctx.dialect == "sqlite"
    position = "rowid" if sqlite else "notification_id"
    events = "stored_events" if sqlite else f"{CareRecord.name}_events"  # eventsourcing's names
    (first, last), *_ = ctx.tx.fetchall(f"SELECT MIN({position}), MAX({position}) FROM {events}")
    if last is None or ctx.tx.fetchall(f"SELECT 1 FROM {COMMIT_TIMES} LIMIT 1"):
        return
    ctx.tx.execute(
        f"INSERT INTO {COMMIT_TIMES} (last_position, first_position, committed_at, exact) "
        "VALUES (?, ?, ?, ?)",
        (last, first, commit_stamp(ctx.now) if ctx.dialect == "sqlite" else ctx.now, False),
    )
    ctx.say(f"  positions {first} to {last}: committed before {ctx.now:%Y-%m-%d %H:%M} UTC")


def _event_chain(ctx: MigrationContext) -> None:
    """The hash chain over the stored events (issue #16): every event already in the log is
    chained, in log order, under the writer's lock, and a genesis row records up to which
    position the chain was computed after the fact (a change made before it cannot be told).
    From then on the writer chains each event in its own transaction
    (``application.event_chain``)."""
    sqlite = ctx.dialect == "sqlite"
    events = "stored_events" if sqlite else f"{CareRecord.name}_events"  # eventsourcing's names
    for statement in CHAIN_DDL[ctx.dialect]:
        ctx.tx.execute(statement)
    if not sqlite:  # SQLite: this transaction (BEGIN IMMEDIATE) is already the one writer
        ctx.tx.execute(f"LOCK TABLE {events} IN EXCLUSIVE MODE")
    ensure_hash_column(ctx.tx)
    genesis = chain_existing(ctx.tx, ctx.dialect, events, ctx.say)
    ctx.tx.execute(
        f"INSERT INTO {CHAIN_GENESIS} (up_to_position, events, recorded_at) VALUES (?, ?, ?)",
        (genesis.up_to_position, genesis.events, commit_stamp(ctx.now) if sqlite else ctx.now),
    )
    ctx.say(
        f"  genesis: {genesis.events:,} event(s) already in the log chained after the fact, up "
        f"to position {genesis.up_to_position:,} ({ctx.now:%Y-%m-%d %H:%M} UTC); every later "
        "event is chained as it is written"
    )


def _chain_per_commit(ctx: MigrationContext) -> None:
    """The chain's hash kept once per commit, in its commit-times row, instead of in a table
    with a row per position (issue #16: that row and its index were most of what the chain
    cost a command). Each commit's row takes the hash its last position has in the old table
    (the hash recorded when it was written, not one computed now), a commit of more than
    ``CHECKPOINT_EVERY`` events is split into rows of at most that many; every other
    position's hash is recomputed from the events when needed. A store that never had the old
    table (made since) has nothing to copy."""
    if not table_exists(ctx.tx, PER_POSITION_TABLE):
        return
    events = "stored_events" if ctx.dialect == "sqlite" else f"{CareRecord.name}_events"
    if ctx.dialect != "sqlite":
        ctx.tx.execute(f"LOCK TABLE {events} IN EXCLUSIVE MODE")
    ensure_hash_column(ctx.tx)

    def recorded(position: int) -> bytes | None:
        rows = ctx.tx.fetchall(
            f"SELECT hash FROM {PER_POSITION_TABLE} WHERE position = ?", (position,)
        )
        return bytes(rows[0][0]) if rows else None

    chain_existing(ctx.tx, ctx.dialect, events, ctx.say, recorded)
    (kept,), *_ = ctx.tx.fetchall(
        f"SELECT COUNT(*) FROM {COMMIT_TIMES} WHERE {HASH_COLUMN} IS NOT NULL"
    )
    ctx.say(f"  {int(kept):,} commit row(s) carry the chain's hash at their last position")


def _drop_per_position_chain(ctx: MigrationContext) -> None:
    """The chain's table of a row per position, no longer written since the writer keeps the
    hash per commit (``0011``): every hash it held is recomputed from the events."""
    ctx.tx.execute(f"DROP TABLE IF EXISTS {PER_POSITION_TABLE}")


def _seals(ctx: MigrationContext) -> None:
    """Seals over the event chain (issue #16): a table of signed Merkle roots over ranges of
    log positions (``application.seals``), taken by the scheduler and ``rodedraad audit seal``.
    Nothing is sealed by the migration: the first seal covers everything chained so far."""
    ctx.tx.execute(SEALS_DDL[ctx.dialect])


def _seal_read_log_head(ctx: MigrationContext) -> None:
    """Seals sign the read log's head too (issue #16, version 2 seals): three columns for it.
    The seals already taken keep theirs empty and verify as version 1: they cover no read log.
    Columns already there (a store migrated before migrations were recorded) are kept."""
    present = column_names(ctx.tx, SEALS)
    for column, types in READ_LOG_HEAD_COLUMNS.items():
        if column not in present:
            ctx.tx.execute(f"ALTER TABLE {SEALS} ADD COLUMN {column} {types[ctx.dialect]}")


#: The topic of a client's first event: its originator is a client (``0013``).
CLIENT_CREATED_TOPIC = get_topic(Client.Registered)


def _drop_client_snapshots(ctx: MigrationContext) -> None:
    """A consent keeps the moment it was given (``Consent.granted_at``), against which a
    handover is held. A client snapshot taken before holds the day only, and a client read from
    it would take a handover an hour before a consent given later that day, where the same
    client read from its events refuses it (and ``rodedraad audit verify`` would report every
    such snapshot as differing from its events). Snapshots are a cache: every client snapshot
    is dropped, each client is read from its events and snapshotted again at its next
    fiftieth event. Trajectories' snapshots are kept (they hold no consent)."""
    sqlite = ctx.dialect == "sqlite"
    events = "stored_events" if sqlite else f"{CareRecord.name}_events"  # eventsourcing's names
    snapshots = "stored_snapshots" if sqlite else f"{CareRecord.name}_snapshots"
    if not table_exists(ctx.tx, snapshots):
        return
    # Per snapshot, its aggregate's first event by the events' primary key (originator id,
    # version): no scan of the events table, which holds no index on its topic.
    a_client = (
        f"EXISTS (SELECT 1 FROM {events} AS e WHERE e.originator_id = s.originator_id "
        "AND e.originator_version = 1 AND e.topic = ?)"
    )
    (count,), *_ = ctx.tx.fetchall(
        f"SELECT COUNT(*) FROM {snapshots} AS s WHERE {a_client}", (CLIENT_CREATED_TOPIC,)
    )
    ctx.tx.execute(
        f"DELETE FROM {snapshots} WHERE originator_id IN "
        f"(SELECT s.originator_id FROM {snapshots} AS s WHERE {a_client})",
        (CLIENT_CREATED_TOPIC,),
    )
    ctx.say(f"  {int(count):,} client snapshot(s) dropped; clients are read from their events")


#: Every migration, in the order they run. Append only: never rename, reorder or remove one
#: that has been released (stores record them by name).
MIGRATIONS: tuple[Migration, ...] = (
    Migration("events", "0001_baseline", _event_store, in_transaction=False),
    Migration("events", "0002_simulation_mark", _simulation_mark),
    # Inserted beside their store's others: a store's migrations run and list in this order.
    Migration("events", "0003_commit_times", _commit_times, in_transaction=False),
    Migration("events", "0004_commit_times_before", _commit_times_before),
    # Issue #15: snapshots' commit times; snapshots taken before it are never used for answers.
    Migration(
        "events",
        "0005_snapshot_times",
        _commit_times,
        in_transaction=False,
        description="The commit time of every stretch of the log, snapshots' too (issue #15)",
    ),
    # Issue #16: chain what is there, then the writer that chains (PostgreSQL: a new version of
    # the locked-insert function; events written between the two are chained by its first call).
    Migration("events", "0006_event_chain", _event_chain),
    Migration(
        "events",
        "0007_event_chain_writer",
        _commit_times,
        in_transaction=False,
        description="The writer that chains every event as it is written (issue #16)",
    ),
    Migration("events", "0008_seals", _seals),
    Migration("events", "0009_seal_read_log_head", _seal_read_log_head),
    # Issue #16: the chain's hash kept per commit; the writer that keeps it (events the older
    # writer chains between the two are chained again from the last commit with a hash, the
    # same hashes); then the old table, which nothing writes any more.
    Migration(
        "events",
        "0010_chain_per_commit",
        _chain_per_commit,
        description="The chain's hash kept once per commit, in its commit-times row (issue #16)",
    ),
    Migration(
        "events",
        "0011_chain_per_commit_writer",
        _commit_times,
        in_transaction=False,
        description="The writer that keeps the chain's hash once per commit (issue #16)",
    ),
    Migration("events", "0012_drop_per_position_chain", _drop_per_position_chain),
    Migration(
        "events",
        "0013_client_snapshots_without_consent_moments",
        _drop_client_snapshots,
        description="Client snapshots taken before a consent kept its moment, dropped (a cache)",
    ),
    Migration("keys", "0001_baseline", _key_tables),
    Migration(
        "keys",
        "0002_wrap_plaintext_keys",
        _wrap_plaintext_keys,
        description="Keys stored in clear by a version before issue #10 wrapped under the KEK, "
        "and their old table dropped, in one transaction",
    ),
    Migration("keys", "0003_erasure_ledger", _erasure_ledger),
    # Issue #21: on PostgreSQL the key store's tables in a schema of their own.
    Migration(
        "keys",
        "0004_own_schema",
        _keys_own_schema,
        description="On PostgreSQL, the key store's tables in a schema of their own (issue #21)",
    ),
    Migration("access_log", "0001_baseline", _personal_data_reads),
    # Inserted beside its store's baseline: a store's migrations run and list in this order.
    Migration(
        "access_log",
        "0002_export_reads",
        _export_reads,
        description="Exports' reads of personal data in the read log (issue #13)",
    ),
    # Issue #16: the read log chained; the entries already there get a genesis.
    Migration(
        "access_log",
        "0003_read_log_chain",
        _read_log_chain,
        description="The read log chained, with a genesis for the entries already there "
        "(issue #16)",
    ),
    Migration("idempotency", "0001_baseline", _idempotency_keys),
    Migration("statistics", "0001_baseline", _statistics_releases),
    Migration("statistics", "0002_release_inputs", _statistics_release_inputs),
    Migration("findings", "0001_baseline", _finding_batches),
)


# --- where the stores are --------------------------------------------------------------------


@dataclass(frozen=True)
class Stores:
    """A deployment's stores of record, and what their migrations need beside them."""

    #: Production: every store in this one database.
    postgres_url: str | None
    #: Embedded mode: each store's SQLite file.
    files: Mapping[str, Path]
    #: Embedded mode: the file lock that lets one process migrate at a time.
    lock_file: Path
    keyring: KeyringFile
    #: eventsourcing's settings for the event store (``DatabaseSettings.eventsourcing_env``).
    event_store_env: Mapping[str, str]

    def where(self, store: str) -> str:
        """Where a store lives, for an operator (never a URL: it may hold a password)."""
        return "PostgreSQL" if self.postgres_url is not None else str(self.files[store])


class _Database(Protocol):
    dialect: str

    def transaction(self) -> Any:
        """A context manager yielding a ``Tx``; commits on success, rolls back on error."""

    def scrub(self) -> None: ...

    def close(self) -> None: ...


class _SqliteFile:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(private_database_file(path), isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA secure_delete = ON")
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with sqlite_transaction(self._conn, self._lock) as tx:
            yield tx

    def scrub(self) -> None:
        """``secure_delete`` zeroed freed pages; VACUUM rewrites the file, the checkpoint
        empties the write-ahead log."""
        self._conn.execute("VACUUM")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()


class _PostgresDatabase:
    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True, **connect_timeout(url))

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._conn.transaction(), self._conn.cursor() as cursor:
            yield PostgresTx(cursor)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The schema lock, for this session: processes that start together wait here."""
        self._conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            if not self._conn.closed:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))

    def scrub(self) -> None:
        """A dropped table's files are emptied at commit and removed at the next checkpoint."""

    def close(self) -> None:
        self._conn.close()


@contextmanager
def open_store_databases(
    stores: Stores, *, create: bool, only: str | None = None
) -> Iterator[dict[str, Any]]:
    """Store → its database (one PostgreSQL connection shared by all; a SQLite file each), for
    every store or ``only`` one; without ``create``, a SQLite file that does not exist yet is
    None (and is not made)."""
    wanted = STORES if only is None else (only,)
    opened: list[_Database] = []
    try:
        if stores.postgres_url is not None:
            shared = _PostgresDatabase(stores.postgres_url)
            opened.append(shared)
            yield dict.fromkeys(wanted, shared)
            return
        found: dict[str, Any] = {}
        for store in wanted:
            path = stores.files[store]
            if not create and not path.exists():
                found[store] = None
                continue
            found[store] = _SqliteFile(path)
            opened.append(found[store])
        yield found
    finally:
        for each in opened:
            each.close()


@contextmanager
def _schema_lock(stores: Stores, databases: Mapping[str, Any]) -> Iterator[None]:
    if stores.postgres_url is not None:
        with databases[STORES[0]].locked():
            yield
        return
    with private_file(stores.lock_file).open("r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- status and running ----------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[Applied]
    pending: list[Migration]
    #: Recorded by a store, unknown to this code: the code is older than the store.
    unknown: list[Applied]

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.unknown


def _applied(database: Any, store: str, *, create: bool) -> list[Applied]:
    if database is None:
        return []
    with database.transaction() as tx:
        if create:
            tx.execute(_RECORDS_DDL[database.dialect])
        elif not table_exists(tx, RECORDS_TABLE):
            return []
        rows = tx.fetchall(
            f"SELECT store, name, applied_at, applied_by FROM {RECORDS_TABLE} "
            "WHERE store = ? ORDER BY applied_at, name",
            (store,),
        )
    return [
        Applied(s, n, at if isinstance(at, datetime) else datetime.fromisoformat(at), by)
        for s, n, at, by in rows
    ]


def _status(
    databases: Mapping[str, Any], migrations: Sequence[Migration], *, create: bool
) -> MigrationStatus:
    applied = [a for store in STORES for a in _applied(databases[store], store, create=create)]
    done = {(a.store, a.name) for a in applied}
    known = {(m.store, m.name) for m in migrations}
    return MigrationStatus(
        applied=[a for a in applied if (a.store, a.name) in known],
        pending=[m for m in migrations if (m.store, m.name) not in done],
        unknown=[a for a in applied if (a.store, a.name) not in known],
    )


def migration_status(
    stores: Stores, migrations: Sequence[Migration] = MIGRATIONS
) -> MigrationStatus:
    """What each store has had and what it lacks; reads only (creates no file or table)."""
    with open_store_databases(stores, create=False) as databases:
        return _status(databases, migrations, create=False)


def migrate(
    stores: Stores,
    *,
    run_pending: bool = True,
    say: Callable[[str], None] = lambda line: None,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[Applied]:
    """Under the schema lock: refuse a store newer than this code (``StoreNewerThanCode``);
    run every pending migration, in order, each recorded in its store as it commits — or, if
    not ``run_pending``, refuse to go on while one is pending (``MigrationsPending``). Returns
    what ran; ``say`` hears what each does and how far a long one is."""
    with open_store_databases(stores, create=True) as databases, _schema_lock(stores, databases):
        status = _status(databases, migrations, create=True)
        if status.unknown:
            raise StoreNewerThanCode(status.unknown)
        if status.pending and not run_pending:
            raise MigrationsPending(status.pending)
        return [_run(m, databases[m.store], stores, say) for m in status.pending]


def _run(
    migration: Migration, database: Any, stores: Stores, say: Callable[[str], None]
) -> Applied:
    say(f"{migration.label}: {migration.why}")
    started = time.monotonic()
    now = datetime.now(UTC)
    applied = Applied(migration.store, migration.name, now, code_version())

    def progress(line: str) -> None:
        say(f"{migration.label}: {line}")

    if migration.in_transaction:
        with database.transaction() as tx:
            ctx = MigrationContext(database.dialect, stores, now, progress, tx)
            migration.apply(ctx)
            _record(tx, applied)
    else:
        ctx = MigrationContext(database.dialect, stores, now, progress)
        migration.apply(ctx)
        with database.transaction() as tx:
            _record(tx, applied)
    if ctx.scrub_afterwards:
        database.scrub()
    say(f"{migration.label}: done in {time.monotonic() - started:.1f} s")
    return applied


def _record(tx: Tx, applied: Applied) -> None:
    at: object = applied.applied_at.isoformat() if tx.dialect == "sqlite" else applied.applied_at
    tx.execute(
        f"INSERT INTO {RECORDS_TABLE} (store, name, applied_at, applied_by) VALUES (?, ?, ?, ?)",
        (applied.store, applied.name, at, applied.applied_by),
    )


@cache
def code_version() -> str:
    """This code's version, recorded beside each migration it runs."""
    try:
        return version("rodedraad")
    except PackageNotFoundError:
        return "unknown"
