"""When each stretch of the log was committed: the record's own clock for "as the record stood".

Issue #15: *recorded by T* means the versions whose commit had happened by T. An event's own
``timestamp`` is no measure of that: it is taken when the command builds the event, before a
group commit (``application.group_commit``) writes it, on the clock of whichever process ran
the command. So every transaction that writes events also writes one row here, in the same
transaction, under the same writer lock: the range of log positions it wrote and the moment
it finished writing them (PostgreSQL: ``clock_timestamp()`` of the database server, inside the
locked-insert function; SQLite: the one writer's clock). The stamp never goes back (each is at
least the previous one) and is taken while the lock is held, at most the commit's own duration
before the commit; the log's order is its commit order, so "committed by T" is a prefix of the
log, and of each aggregate's versions.

Stores made before issue #15 have no stamps for the rows already written: the migration
``events/0003_commit_times`` records them as one range stamped with the moment it ran and
marked *not exact* ("committed before the migration, when exactly is unknown"). An answer
about a moment before that uses the events' own timestamps for those rows and says that it is
approximate (``PositionedEvent.decided_exactly``).
"""

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteFactory,
)

# The table, beside the events (``stored_events``) in the event store, is named with the chain
# whose hash it carries (issue #16: ``chain_hash``, the chain at the commit's last position).
from application.event_chain import COMMIT_TIMES as COMMIT_TIMES
from application.event_chain import HASH_COLUMN, chain_sqlite, stored_bytes

DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {COMMIT_TIMES} (last_position INTEGER PRIMARY KEY, "
    "first_position INTEGER NOT NULL, committed_at TEXT NOT NULL, exact INTEGER NOT NULL, "
    f"{HASH_COLUMN} BLOB)",
    "postgres": f"CREATE TABLE IF NOT EXISTS {COMMIT_TIMES} (last_position BIGINT PRIMARY KEY, "
    "first_position BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL, exact BOOLEAN NOT NULL, "
    f"{HASH_COLUMN} BYTEA)",
}


#: When each snapshot was committed: an answer about T may start from a snapshot committed by T
#: (and never from one taken after T). A snapshot without a stamp (taken before this table
#: existed) is never used for an answer; nothing personal is in it (ids, versions, times).
SNAPSHOT_TIMES = "rodedraad_snapshot_times"

SNAPSHOT_DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {SNAPSHOT_TIMES} (originator_id TEXT NOT NULL, "
    "originator_version INTEGER NOT NULL, committed_at TEXT NOT NULL, "
    "PRIMARY KEY (originator_id, originator_version))",
    "postgres": f"CREATE TABLE IF NOT EXISTS {SNAPSHOT_TIMES} (originator_id UUID NOT NULL, "
    "originator_version BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL, "
    "PRIMARY KEY (originator_id, originator_version))",
}


def commit_stamp(moment: datetime) -> str:
    """A fixed-width UTC text form, so that SQLite compares stamps as text correctly."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class CommitTimesSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, stamping each insert's range of positions and chaining
    its events (issue #16), in the insert's transaction."""

    #: Always on; off only for the benchmark that measures what the chain costs.
    chained: bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The last (position, hash) this recorder chained in a transaction that committed;
        #: the next insert that follows it directly need not read the chain's end.
        self._chain_tip: tuple[int, bytes] | None = None
        #: Per writing thread: what its transaction chained, until it has committed.
        self._chaining = threading.local()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), DDL["sqlite"]]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._chaining.tip = None
        positions = super().insert_events(stored_events, **kwargs)  # committed when it returns
        if self._chaining.tip is not None:
            self._chain_tip = self._chaining.tip
        return positions

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if positions:
            # Issue #16: the chain's hash at this commit's last position, in its row
            # (``application.event_chain``); a bulk load's commit in rows of at most
            # ``CHECKPOINT_EVERY`` events, each with the hash at its last.
            rows: Sequence[tuple[int, int, bytes | None]] = [(min(positions), max(positions), None)]
            if self.chained:
                rows = chain_sqlite(
                    c,
                    self.events_table_name,
                    list(zip(positions, stored_events, strict=True)),
                    self._chain_tip,
                )
                self._chaining.tip = (rows[-1][1], rows[-1][2])
            now = commit_stamp(datetime.now(UTC))
            c.executemany(
                f"INSERT INTO {COMMIT_TIMES} (last_position, first_position, committed_at, "  # noqa: S608
                f"exact, {HASH_COLUMN}) SELECT ?, ?, MAX(?, COALESCE((SELECT committed_at FROM "
                f"{COMMIT_TIMES} ORDER BY last_position DESC LIMIT 1), '')), 1, ?",
                [(last, first, now, chain_hash) for first, last, chain_hash in rows],
            )
        return positions


class SnapshotTimesSQLiteRecorder(SQLiteAggregateRecorder):
    """eventsourcing's SQLite recorder of snapshots, stamping each snapshot's commit."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), SNAPSHOT_DDL["sqlite"]]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        now = commit_stamp(datetime.now(UTC))
        c.executemany(
            f"INSERT OR REPLACE INTO {SNAPSHOT_TIMES} "  # noqa: S608
            "(originator_id, originator_version, committed_at) VALUES (?, ?, ?)",
            [(UUID(str(s.originator_id)).hex, s.originator_version, now) for s in stored_events],
        )
        return positions


class RodeDraadSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with the stamping recorders (``PERSISTENCE_MODULE``)."""

    application_recorder_class = CommitTimesSQLiteRecorder
    aggregate_recorder_class = SnapshotTimesSQLiteRecorder


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    """A stored event with its log position and the commit time of that position: ``None``
    when the store holds no stamp for it; ``exact`` False for a range stamped by the migration
    (committed by then, when exactly unknown)."""

    position: int
    stored: StoredEvent
    committed_at: datetime | None
    exact: bool

    def committed_by(self, moment: datetime, event_timestamp: datetime) -> bool:
        """Whether this event's commit had happened by ``moment``: from its stamp, or, where the
        record has none that decides it, from the event's own timestamp (approximate)."""
        if self.committed_at is not None and (self.exact or self.committed_at <= moment):
            return self.committed_at <= moment
        return event_timestamp <= moment

    def decided_exactly(self, moment: datetime) -> bool:
        """Whether ``committed_by(moment)`` is certain, not approximated by the event's clock."""
        return self.committed_at is not None and (self.exact or self.committed_at <= moment)


def event_store_rows(
    datastore: Any, postgres: bool, sql: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Rows of one query (``?`` placeholders) on an eventsourcing datastore's own connections."""
    if postgres:
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return [tuple(r.values()) for r in cursor.fetchall()]
    with datastore.transaction(commit=False) as cursor:
        # A column changed to TEXT past the application may hold bytes that are no UTF-8:
        # read as they are (``event_chain.stored_bytes``), not refused with an error. Only for
        # this query: the connection is eventsourcing's, pooled, and is handed back as it was.
        connection = cursor.sqlite_cursor.connection
        before = connection.text_factory
        connection.text_factory = _lenient_text
        try:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            connection.text_factory = before


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class CommitTimes:
    """Reads an aggregate's stored events with their positions and commit times, on the event
    store's own connections (SQLite or PostgreSQL)."""

    def __init__(self, recorder: Any, snapshots: Any = None) -> None:
        self._recorder = recorder
        self._snapshots = snapshots
        self._postgres = not isinstance(recorder, SQLiteApplicationRecorder)
        position = "notification_id" if self._postgres else "rowid"
        stamp = (
            f"(SELECT c.{{column}} FROM {COMMIT_TIMES} AS c WHERE c.last_position >= e.{position} "  # noqa: S608
            "ORDER BY c.last_position LIMIT 1)"
        )
        self._sql = (
            f"SELECT e.{position}, e.originator_version, e.topic, e.state, "  # noqa: S608
            f"{stamp.format(column='committed_at')}, {stamp.format(column='exact')} "
            f"FROM {recorder.events_table_name} AS e WHERE e.originator_id = ? "
            "ORDER BY e.originator_version"
        )
        self._plain_sql = (
            f"SELECT e.{position}, e.originator_version, e.topic, e.state, NULL, NULL "  # noqa: S608
            f"FROM {recorder.events_table_name} AS e WHERE e.originator_id = ? "
            "ORDER BY e.originator_version"
        )

    def _fetch(self, sql: str, params: Sequence[Any], datastore: Any = None) -> list[Any]:
        return event_store_rows(datastore or self._recorder.datastore, self._postgres, sql, params)

    def stored_events(self, originator_id: UUID) -> list[PositionedEvent]:
        """The aggregate's stored events with positions and commit times, in version order."""
        key: Any = originator_id if self._postgres else originator_id.hex
        try:
            rows = self._fetch(self._sql, (key,))
        except sqlite3.OperationalError:  # a store not yet migrated: no stamps at all
            rows = self._fetch(self._plain_sql, (key,))
        return [
            PositionedEvent(
                position=int(position),
                stored=StoredEvent(
                    originator_id=originator_id,
                    originator_version=int(version),
                    topic=topic,
                    state=stored_bytes(state),
                ),
                committed_at=_moment(committed_at),
                exact=bool(exact),
            )
            for position, version, topic, state, committed_at, exact in rows
        ]

    def snapshot(self, originator_id: UUID, within: int, moment: datetime) -> StoredEvent | None:
        """The aggregate's latest snapshot of a version at most ``within`` whose commit was by
        ``moment``; ``None`` if there is none (or no snapshots are kept, or none are stamped)."""
        if self._snapshots is None or within < 1:
            return None
        mark = "%s" if self._postgres else "?"
        sql = (
            f"SELECT s.originator_version, s.topic, s.state FROM "  # noqa: S608
            f"{self._snapshots.events_table_name} AS s JOIN {SNAPSHOT_TIMES} AS t "
            "ON t.originator_id = s.originator_id AND t.originator_version = s.originator_version "
            f"WHERE s.originator_id = {mark} AND s.originator_version <= {mark} "
            f"AND t.committed_at <= {mark} ORDER BY s.originator_version DESC LIMIT 1"
        )
        key: Any = originator_id if self._postgres else originator_id.hex
        stamp: Any = moment if self._postgres else commit_stamp(moment)
        try:
            rows = self._fetch(sql, (key, within, stamp), self._snapshots.datastore)
        except sqlite3.OperationalError:  # a store without snapshot stamps: none is used
            return None
        if not rows:
            return None
        version, topic, state = rows[0]
        return StoredEvent(
            originator_id=originator_id,
            originator_version=int(version),
            topic=topic,
            state=stored_bytes(state),
        )
