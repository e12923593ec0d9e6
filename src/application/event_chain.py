"""The hash chain over the stored events (issue #16, first step): a change to the log shows.

Per log position p the chain holds

    h(p) = SHA-256( h(previous position) ‖ p ‖ originator id ‖ originator version ‖ topic ‖ state )

over the event's *stored* bytes: the state as written, with personal fields sealed under their
subject's key. An erasure destroys keys, never events, so an erased client's events still
verify. ``link`` below is the one definition; the PostgreSQL locked-insert function computes
the same bytes with ``sha256()`` (``application.pg_recorder``), and a test holds the two equal.
The first position's predecessor is ``GENESIS`` (32 zero bytes). Positions are PostgreSQL's
``notification_id`` and SQLite's ``rowid``; on PostgreSQL they may have gaps (an insert that
lost a race consumed ids), so the chain links each position to the *previous chained* one.

Where it is kept: a table of its own, keyed by position (``rodedraad_event_chain``), not a
column of eventsourcing's events table. eventsourcing owns that table's shape and its insert
and select statements; a column would mean overriding them and altering a table it creates,
while a table beside it, like the commit times' (``application.commit_times``), is written by
the same transaction and read by nothing of eventsourcing's.

When it is written: in the transaction that inserts the events, under the lock that orders the
positions (PostgreSQL: inside the locked-insert function; SQLite: the one writer's
transaction). The writer chains every event after the last chained position, so an event an
older version wrote during an upgrade is chained by the next insert, in log order.

Existing stores: the migration ``events/0006_event_chain`` chains the events already there and
records a genesis row: up to which position the chain was computed after the fact (a change
made before the migration cannot be told from the record), and when.

``verify`` recomputes the chain and names the first position that does not match. What it
cannot see on its own: events removed from the end of the log together with their chain
entries (a truncated tail); the seals (``application.seals``) close that for every position
they cover, and ``verify`` reports the positions after the last seal.
"""

import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder

#: The chain, one row per log position; and the genesis row(s) the migration records.
CHAIN = "rodedraad_event_chain"
GENESIS_TABLE = "rodedraad_event_chain_genesis"

#: The predecessor of the first position.
GENESIS = bytes(32)

DDL = {
    "sqlite": [
        f"CREATE TABLE IF NOT EXISTS {CHAIN} (position INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {GENESIS_TABLE} (up_to_position INTEGER NOT NULL, "
        "events INTEGER NOT NULL, recorded_at TEXT NOT NULL)",
    ],
    "postgres": [
        f"CREATE TABLE IF NOT EXISTS {CHAIN} (position BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {GENESIS_TABLE} (up_to_position BIGINT NOT NULL, "
        "events BIGINT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)",
    ],
}


def pg_link_tail(row: str) -> str:
    """What ``PG_LINK`` hashes after ``previous``, for the row named ``row``: it depends on the
    row alone, so a set-based statement can compute it for many rows at once."""
    return (
        f"int8send({row}.notification_id) || uuid_send({row}.originator_id) "
        f"|| int8send({row}.originator_version::bigint) || int4send(octet_length(convert_to("
        f"{row}.topic, 'UTF8'))) || convert_to({row}.topic, 'UTF8') || {row}.state"
    )


#: The same link as ``link``, in PostgreSQL (``r`` a row of the events table, ``previous`` the
#: predecessor's hash): used by the locked-insert function.
PG_LINK = f"sha256(previous || {pg_link_tail('r')})"

#: Rows read per query when chaining or verifying a large log.
BATCH = 5_000
#: A progress line every this many positions.
PROGRESS_EVERY = 100_000

_LINK_HEAD = struct.Struct(">q16sqi")


def link(
    previous: bytes, position: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    """The chain's hash at ``position``, following ``previous``. The topic's length is
    included, so no two different (topic, state) pairs give the same bytes."""
    encoded = topic.encode()
    h = hashlib.sha256(previous)
    h.update(_LINK_HEAD.pack(position, originator_id.bytes, version, len(encoded)))
    h.update(encoded)
    h.update(state)
    return h.digest()


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


# --- writing --------------------------------------------------------------------------------


def chain_sqlite(
    cursor: Any,
    events_table: str,
    written: Sequence[tuple[int, Any]],
    tip: tuple[int, bytes] | None = None,
) -> tuple[int, bytes]:
    """In the SQLite writer's transaction, after it inserted ``written`` (position, stored
    event): chain every event after the last chained position. Usually those are exactly the
    events just written, hashed from memory; otherwise (events written without a chain) they
    are read back in log order. Returns the last position chained and its hash.

    ``tip``: the last (position, hash) this writer chained in a transaction that committed. When
    the first position just written follows it directly, no event came between (SQLite gives
    the next rowid after the largest), so the chain's last entry is that tip and need not be
    read: one statement less per commit."""
    if tip is not None and written and written[0][0] == tip[0] + 1:
        after, previous = tip
    else:
        cursor.execute(f"SELECT position, hash FROM {CHAIN} ORDER BY position DESC LIMIT 1")  # noqa: S608
        last = cursor.fetchone()
        after, previous = (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
    positions = [p for p, _ in written]
    if (
        positions
        and positions == sorted(positions)
        and positions[0] > after
        and not _between(cursor, events_table, after, positions[0])
    ):
        rows: Sequence[tuple[Any, ...]] = [
            (p, s.originator_id, s.originator_version, s.topic, s.state) for p, s in written
        ]
    else:
        cursor.execute(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {events_table} "  # noqa: S608
            "WHERE rowid > ? ORDER BY rowid",
            (after,),
        )
        rows = cursor.fetchall()
    links = []
    position = after
    for position, originator_id, version, topic, state in rows:
        previous = link(previous, position, _uuid(originator_id), version, topic, state)
        links.append((position, previous))
    cursor.executemany(f"INSERT INTO {CHAIN} (position, hash) VALUES (?, ?)", links)  # noqa: S608
    return int(position), previous


def _between(cursor: Any, events_table: str, after: int, before: int) -> bool:
    """Whether the log holds an unchained event between the last chained position and the
    first one just written (only when positions skipped, which SQLite's rowids never do)."""
    if before == after + 1:
        return False
    cursor.execute(
        f"SELECT 1 FROM {events_table} WHERE rowid > ? AND rowid < ? LIMIT 1",  # noqa: S608
        (after, before),
    )
    return cursor.fetchone() is not None


@dataclass(frozen=True, slots=True)
class Genesis:
    """What the migration chained after the fact: positions up to ``up_to_position``."""

    up_to_position: int
    events: int


def chain_existing(tx: Any, dialect: str, events_table: str, say: Callable[[str], None]) -> Genesis:
    """The migration's work, in its transaction (which holds the writer's lock): chain every
    event not chained yet, in log order, in batches, saying how far it is."""
    position = "rowid" if dialect == "sqlite" else "notification_id"
    last = tx.fetchall(f"SELECT position, hash FROM {CHAIN} ORDER BY position DESC LIMIT 1")  # noqa: S608
    after, previous = (int(last[0][0]), bytes(last[0][1])) if last else (0, GENESIS)
    total = int(
        tx.fetchall(f"SELECT COUNT(*) FROM {events_table} WHERE {position} > ?", (after,))[0][0]  # noqa: S608
    )
    done = 0
    while rows := tx.fetchall(
        f"SELECT {position}, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {events_table} WHERE {position} > ? ORDER BY {position} LIMIT ?",
        (after, BATCH),
    ):
        links = []
        for pos, originator_id, version, topic, state in rows:
            previous = link(previous, int(pos), _uuid(originator_id), int(version), topic, state)
            links.append((int(pos), previous))
        tx.executemany(f"INSERT INTO {CHAIN} (position, hash) VALUES (?, ?)", links)  # noqa: S608
        after, done = links[-1][0], done + len(links)
        if done % PROGRESS_EVERY < BATCH or done == total:
            say(f"{done:,} of {total:,} events chained")
    return Genesis(up_to_position=after, events=done)


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The first position where the log and the chain part."""

    position: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainedEvent:
    """One stored event with its chain entry (None: not chained) and its predecessor's."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes
    chain_hash: bytes | None
    previous: bytes

    def links(self) -> bool:
        """Whether the chain entry is the link of the predecessor and this event's bytes."""
        return self.chain_hash == link(
            self.previous, self.position, self.originator_id, self.version, self.topic, self.state
        )


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int
    mismatch: Mismatch | None
    #: Positions up to here were chained by the migration, after the fact (0: none).
    genesis_up_to: int


class EventChain:
    """Reads the log and its chain on the event store's own connections and checks them."""

    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder
        self._postgres = not isinstance(recorder, SQLiteApplicationRecorder)
        self._position = "notification_id" if self._postgres else "rowid"
        self._events = recorder.events_table_name

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        from application.commit_times import event_store_rows  # it imports this module

        return event_store_rows(self._recorder.datastore, self._postgres, sql, params)

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        after = 0
        while rows := self._fetch(sql, (after, BATCH)):
            yield from rows
            after = int(rows[-1][0])

    def _events_stream(self) -> Iterator[tuple[Any, ...]]:
        p = self._position
        return self._stream(
            f"SELECT {p}, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self._events} WHERE {p} > ? ORDER BY {p} LIMIT ?"
        )

    def _chain_stream(self) -> Iterator[tuple[Any, ...]]:
        return self._stream(
            f"SELECT position, hash FROM {CHAIN} WHERE position > ? ORDER BY position LIMIT ?"  # noqa: S608
        )

    def genesis_up_to(self) -> int:
        rows = self._fetch(f"SELECT MAX(up_to_position) FROM {GENESIS_TABLE} WHERE 1 = ?", (1,))  # noqa: S608
        return int(rows[0][0] or 0)

    def size(self) -> int:
        return int(self._fetch(f"SELECT COUNT(*) FROM {CHAIN} WHERE 1 = ?", (1,))[0][0])  # noqa: S608

    def verify(self, say: Callable[[str], None] = lambda line: None) -> Verification:
        """The whole log against the whole chain, in position order; the first mismatch."""
        total = self.size()
        events, chain = self._events_stream(), self._chain_stream()
        event, entry = next(events, None), next(chain, None)
        previous, checked = GENESIS, 0
        while event is not None or entry is not None:
            if entry is None or (event is not None and int(event[0]) < int(entry[0])):
                assert event is not None
                return self._result(
                    checked,
                    Mismatch(int(event[0]), "an event the chain does not cover"),
                )
            position = int(entry[0])
            if event is None or int(event[0]) > position:
                return self._result(
                    checked,
                    Mismatch(position, "the chain has an entry here, the log has no event"),
                )
            _, originator_id, version, topic, state = event
            originator = _uuid(originator_id)
            previous = link(previous, position, originator, int(version), topic, bytes(state))
            if previous != bytes(entry[1]):
                return self._result(
                    checked,
                    Mismatch(
                        position,
                        f"event {originator} v{version} does not match the chain: its stored "
                        "bytes were changed, or an event before it was changed, swapped or "
                        "removed",
                    ),
                )
            checked += 1
            if checked % PROGRESS_EVERY == 0:
                say(f"{checked:,} of {total:,} positions verified")
            event, entry = next(events, None), next(chain, None)
        return self._result(checked, None)

    def aggregate_links(self, originator_id: UUID) -> list[ChainedEvent]:
        """One aggregate's stored events in version order, each with its chain entry and the
        entry before it in the log (what ``link`` needs to recompute it)."""
        p = self._position
        key: Any = originator_id if self._postgres else originator_id.hex
        rows = self._fetch(
            f"SELECT e.{p}, e.originator_version, e.topic, e.state, c.hash AS chained, "  # noqa: S608
            f"(SELECT b.hash FROM {CHAIN} AS b WHERE b.position < e.{p} "
            f"ORDER BY b.position DESC LIMIT 1) AS before FROM {self._events} AS e "
            f"LEFT JOIN {CHAIN} AS c ON c.position = e.{p} WHERE e.originator_id = ? "
            "ORDER BY e.originator_version",
            (key,),
        )
        return [
            ChainedEvent(
                position=int(position),
                originator_id=originator_id,
                version=int(version),
                topic=topic,
                state=bytes(state),
                chain_hash=None if stored is None else bytes(stored),
                previous=GENESIS if before is None else bytes(before),
            )
            for position, version, topic, state, stored, before in rows
        ]

    def verify_aggregate(self, originator_id: UUID) -> Verification:
        """One aggregate's events (a trajectory's): each against its chain entry and the entry
        before it, and its versions without a gap. Cheaper than the whole log; the links
        between other aggregates' events are not checked."""
        checked = 0
        for expected, e in enumerate(self.aggregate_links(originator_id), 1):
            if e.version != expected:
                return self._result(
                    checked,
                    Mismatch(e.position, f"version {expected} is missing before v{e.version}"),
                )
            if e.chain_hash is None:
                return self._result(
                    checked, Mismatch(e.position, "an event the chain does not cover")
                )
            if not e.links():
                return self._result(
                    checked,
                    Mismatch(
                        e.position,
                        f"event {originator_id} v{e.version} does not match the chain: its "
                        "stored bytes were changed, or its chain entries were",
                    ),
                )
            checked += 1
        return self._result(checked, None)

    def aggregate_positions(self, originator_id: UUID) -> list[int]:
        """One aggregate's log positions, in version order (for its seals' inclusion proofs)."""
        key: Any = originator_id if self._postgres else originator_id.hex
        rows = self._fetch(
            f"SELECT {self._position} FROM {self._events} WHERE originator_id = ? "  # noqa: S608
            "ORDER BY originator_version",
            (key,),
        )
        return [int(r[0]) for r in rows]

    def _result(self, checked: int, mismatch: Mismatch | None) -> Verification:
        return Verification(checked=checked, mismatch=mismatch, genesis_up_to=self.genesis_up_to())
