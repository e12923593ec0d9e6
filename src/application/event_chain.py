"""The hash chain over the stored events (issue #16, first step): a change to the log shows.

Per log position p the chain is

    h(p) = SHA-256( h(previous position) ‖ p ‖ originator id ‖ originator version ‖ topic ‖ state )

over the event's *stored* bytes: the state as written, with personal fields sealed under their
subject's key. An erasure destroys keys, never events, so an erased client's events still
verify. ``link`` below is the one definition; the PostgreSQL locked-insert function computes
the same bytes with ``sha256()`` (``application.pg_recorder``), and a test holds the two equal.
The first position's predecessor is ``GENESIS`` (32 zero bytes). Positions are PostgreSQL's
``notification_id`` and SQLite's ``rowid``; on PostgreSQL they may have gaps (an insert that
lost a race consumed ids), so the chain links each position to the *previous event's*.

Where it is kept: once per commit, not once per event. Every transaction that writes events
already writes one row of commit times (``application.commit_times``: the range of positions
it wrote and when); that row also holds ``chain_hash``, h at its last position. The writer
reads its predecessor from the row before (the read it already made for the commit time), so
the chain costs one SHA-256 per event and 32 bytes per commit, no row or index of its own.
Every per-position hash is still defined, and recomputed from the events wherever it is
needed: by ``verify``, by the seals' Merkle leaves (``application.seals``) and by the audit
export's proofs, each time checked against the stored hash at the end of every commit it
passes. What that gives up: a change inside a commit of several events (a group commit) is
named by the commit's range of positions, not by the one event. (Until migration
``events/0010_chain_per_commit`` the chain was a table with a row per position,
``rodedraad_event_chain``; the migration keeps the hash of each commit's last position and
drops the table: every hash it held can be recomputed.)

When it is written: in the transaction that inserts the events, under the lock that orders the
positions (PostgreSQL: inside the locked-insert function; SQLite: the one writer's
transaction). The writer chains every event after the last chained commit, so an event an
older version wrote during an upgrade is chained by the next insert, in log order.

Existing stores: the migration ``events/0006_event_chain`` chains the events already there and
records a genesis row: up to which position the chain was computed after the fact (a change
made before the migration cannot be told from the record), and when.

``verify`` recomputes the chain and names the first commit that does not match. What it
cannot see on its own: events removed from the end of the log together with their commit
rows (a truncated tail); the seals close that for every position they cover, and ``verify``
reports the positions after the last seal.
"""

import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteApplicationRecorder

#: The commit-times table (``application.commit_times``, which imports this module) and the
#: column of it that holds the chain's hash at each commit's last position.
COMMIT_TIMES = "rodedraad_commit_times"
HASH_COLUMN = "chain_hash"
#: The genesis row(s) the migration records.
GENESIS_TABLE = "rodedraad_event_chain_genesis"
#: The chain's table before migration ``events/0010_chain_per_commit``: a row per position.
PER_POSITION_TABLE = "rodedraad_event_chain"

#: The predecessor of the first position.
GENESIS = bytes(32)

DDL = {
    "sqlite": [
        f"CREATE TABLE IF NOT EXISTS {GENESIS_TABLE} (up_to_position INTEGER NOT NULL, "
        "events INTEGER NOT NULL, recorded_at TEXT NOT NULL)",
    ],
    "postgres": [
        f"CREATE TABLE IF NOT EXISTS {GENESIS_TABLE} (up_to_position BIGINT NOT NULL, "
        "events BIGINT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)",
    ],
}
#: The hash column's type, per dialect (made with the table, or added by the migration).
HASH_TYPE = {"sqlite": "BLOB", "postgres": "BYTEA"}


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
#: A commit of more events than this (a bulk load's) keeps the chain's hash every this many
#: events: its positions are stamped in several commit-times rows of at most this many events,
#: all with the commit's one stamp, so recomputing the hash of any one position never hashes
#: more than this many events.
CHECKPOINT_EVERY = 1_000
#: A progress line every this many positions.
PROGRESS_EVERY = 100_000

_LINK_HEAD = struct.Struct(">q16sqi")


def link(
    previous: bytes,
    position: int,
    originator_id: UUID,
    version: int,
    topic: str,
    state: bytes | str,
) -> bytes:
    """The chain's hash at ``position``, following ``previous``. The topic's length is
    included, so no two different (topic, state) pairs give the same bytes."""
    encoded = topic.encode("utf-8", "surrogateescape")  # (the same bytes for every valid topic)
    h = hashlib.sha256(previous)
    h.update(_LINK_HEAD.pack(position, originator_id.bytes, version, len(encoded)))
    h.update(encoded)
    h.update(stored_bytes(state))
    return h.digest()


def stored_bytes(state: bytes | memoryview | str) -> bytes:
    """A stored state as the chain hashes it. A state whose SQLite storage class was changed to
    TEXT past the application (``UPDATE … SET state = CAST(state AS TEXT)``, or an edit by
    string functions) comes back as a string: its bytes are that string's, as read
    (``commit_times.event_store_rows`` reads text that is no UTF-8 with ``surrogateescape``),
    so a change of content still shows as a changed event and never stops the check."""
    return state.encode("utf-8", "surrogateescape") if isinstance(state, str) else bytes(state)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


#: The last commit that carries the chain's hash: its last position and that hash.
_LAST_CHAINED = (
    f"SELECT last_position, {HASH_COLUMN} FROM {COMMIT_TIMES} "  # noqa: S608
    f"WHERE {HASH_COLUMN} IS NOT NULL ORDER BY last_position DESC LIMIT 1"
)


# --- writing --------------------------------------------------------------------------------


def chain_sqlite(
    cursor: Any,
    events_table: str,
    written: Sequence[tuple[int, Any]],
    tip: tuple[int, bytes] | None = None,
) -> list[tuple[int, int, bytes]]:
    """In the SQLite writer's transaction, after it inserted ``written`` (position, stored
    event): the chain over every event after the last chained commit. Usually those are exactly
    the events just written, hashed from memory; otherwise (events written without a chain)
    they are read back in log order. Returns the commit's rows: (first position, last
    position, hash at the last) per stretch of at most ``CHECKPOINT_EVERY`` of the events
    written (one row, but for a bulk load's commit).

    ``tip``: the last (position, hash) this writer chained in a transaction that committed. When
    the first position just written follows it directly, no event came between (SQLite gives
    the next rowid after the largest), so the last chained commit is that tip and need not be
    read."""
    if tip is not None and written and written[0][0] == tip[0] + 1:
        after, previous = tip
    else:
        cursor.execute(_LAST_CHAINED)
        last = cursor.fetchone()
        after, previous = (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
    positions = [p for p, _ in written]
    rows: Iterator[tuple[Any, ...]] | Sequence[tuple[Any, ...]]
    if (
        positions
        and positions == sorted(positions)
        and positions[0] > after
        and not _between(cursor, events_table, after, positions[0])
    ):
        rows = ((p, s.originator_id, s.originator_version, s.topic, s.state) for p, s in written)
    else:
        cursor.execute(
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {events_table} "  # noqa: S608
            "WHERE rowid > ? ORDER BY rowid",
            (after,),
        )
        rows = cursor.fetchall()
    stretches: list[tuple[int, int, bytes]] = []
    first, count, position = positions[0], 0, after
    for position, originator_id, version, topic, state in rows:
        previous = link(previous, position, _uuid(originator_id), version, topic, state)
        if position < positions[0]:
            continue  # an older writer's event: in the first stretch, never a boundary
        count += 1
        if count == CHECKPOINT_EVERY and position != positions[-1]:
            stretches.append((first, position, previous))
            first, count = position + 1, 0
    stretches.append((first, int(position), previous))
    return stretches


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


def ensure_hash_column(tx: Any) -> None:
    """The commit-times table's ``chain_hash`` column, added where a store made before the
    chain lacks it (a table made since has it)."""
    from application.sql import column_names

    if HASH_COLUMN not in column_names(tx, COMMIT_TIMES):
        tx.execute(f"ALTER TABLE {COMMIT_TIMES} ADD COLUMN {HASH_COLUMN} {HASH_TYPE[tx.dialect]}")


def chain_existing(
    tx: Any,
    dialect: str,
    events_table: str,
    say: Callable[[str], None],
    recorded: Callable[[int], bytes | None] | None = None,
) -> Genesis:
    """A migration's work, in its transaction (which holds the writer's lock): every event
    after the last chained commit, in log order, in batches, saying how far it is. Each
    commit's row gets the chain's hash at its last position, and a row of more than
    ``CHECKPOINT_EVERY`` events is split into rows of at most that many (the same stamp).

    The hashes are computed from the events (migration 0006: a store that never had the
    chain), or, with ``recorded``, taken from what the chain recorded when the events were
    written (migration 0010: the per-position table's hash of a position, None where it has
    none; only positions are read then). Events after the last commit row (none: every event
    has one since issue #15's migration) are left to the writer's next insert."""
    position = "rowid" if dialect == "sqlite" else "notification_id"
    last = tx.fetchall(_LAST_CHAINED)
    after, previous = (int(last[0][0]), bytes(last[0][1])) if last else (0, GENESIS)
    chained_before = after
    commits = tx.fetchall(
        f"SELECT last_position, first_position, committed_at, exact FROM {COMMIT_TIMES} "  # noqa: S608
        "WHERE last_position > ? ORDER BY last_position",
        (after,),
    )
    if not commits:
        return Genesis(up_to_position=after, events=0)
    end = int(commits[-1][0])
    total = int(
        tx.fetchall(
            f"SELECT COUNT(*) FROM {events_table} WHERE {position} > ? AND {position} <= ?",  # noqa: S608
            (after, end),
        )[0][0]
    )
    columns = (
        position if recorded else f"{position}, originator_id, originator_version, topic, state"
    )
    done, index, first, count = 0, 0, None, 0
    hashes: list[tuple[bytes | None, int | None, int]] = []  # (hash, new first, last position)
    splits: list[tuple[int, int, Any, Any, bytes | None]] = []
    while rows := tx.fetchall(
        f"SELECT {columns} FROM {events_table} WHERE {position} > ? AND {position} <= ? "  # noqa: S608
        f"ORDER BY {position} LIMIT ?",
        (after, end, BATCH),
    ):
        for row in rows:
            pos = int(row[0])
            if recorded is None:
                previous = link(previous, pos, _uuid(row[1]), int(row[2]), row[3], row[4])
            while int(commits[index][0]) < pos:  # a row whose last event is not there
                index, first, count = index + 1, None, 0
            commit_last, _, stamp, exact = commits[index]
            first = pos if first is None else first
            count += 1
            if pos == int(commit_last):
                at = recorded(pos) if recorded else previous
                hashes.append((at, first, pos))
                index, first, count = index + 1, None, 0
            elif count == CHECKPOINT_EVERY:
                splits.append((pos, first, stamp, exact, recorded(pos) if recorded else previous))
                first, count = None, 0
        after, done = int(rows[-1][0]), done + len(rows)
        if done % PROGRESS_EVERY < BATCH or done == total:
            say(f"{done:,} of {total:,} events chained")
    tx.executemany(
        f"INSERT INTO {COMMIT_TIMES} (last_position, first_position, committed_at, exact, "  # noqa: S608
        f"{HASH_COLUMN}) VALUES (?, ?, ?, ?, ?)",
        splits,
    )
    tx.executemany(
        f"UPDATE {COMMIT_TIMES} SET {HASH_COLUMN} = ?, first_position = ? "  # noqa: S608
        "WHERE last_position = ?",
        hashes,
    )
    chained = [h for h in hashes if h[0] is not None]
    return Genesis(up_to_position=chained[-1][2] if chained else chained_before, events=done)


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The first place where the log and the chain part: the last position of the commit
    whose chain entry does not hold (``first_position``: that commit's first; the same
    position for a commit of one event)."""

    position: int
    reason: str
    first_position: int | None = None

    def where(self) -> str:
        if self.first_position is None or self.first_position == self.position:
            return f"at position {self.position}"
        return f"in the commit of positions {self.first_position} to {self.position}"


class ChainBroken(Exception):
    """The recomputed chain does not match a commit's stored hash."""

    def __init__(self, mismatch: Mismatch) -> None:
        super().__init__(f"{mismatch.where()}: {mismatch.reason}")
        self.mismatch = mismatch


@dataclass(frozen=True, slots=True)
class Linked:
    """One event of the log with the chain's hash at its position and at the one before."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes
    previous: bytes
    chain_hash: bytes


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


#: A query on the event store: SQL with ``?`` placeholders, its parameters, the rows.
Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

_REMOVED = (
    "a commit ends at this position, but the log has no event there: it was removed (or its "
    "position changed)"
)
_CHANGED = (
    "the stored events of this commit do not hash to its chain entry: an event's stored bytes "
    "were changed, or an event was removed, swapped or added"
)


class ChainWalk:
    """The chain recomputed from the events over a stretch of the log, each commit's events
    handed on only once their hash at the commit's end matched the stored one."""

    def __init__(self, fetch: Fetch, events_table: str, postgres: bool) -> None:
        self._fetch = fetch
        self._events = events_table
        self.position = "notification_id" if postgres else "rowid"

    def base(self, after: int) -> tuple[int, bytes]:
        """The last chained commit ending at or before ``after``: (its last position, hash)."""
        rows = self._fetch(
            f"SELECT last_position, {HASH_COLUMN} FROM {COMMIT_TIMES} "  # noqa: S608
            f"WHERE {HASH_COLUMN} IS NOT NULL AND last_position <= ? "
            "ORDER BY last_position DESC LIMIT 1",
            (after,),
        )
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, GENESIS)

    def chained_up_to(self) -> int:
        """The last position the chain covers (0: none)."""
        rows = self._fetch(_LAST_CHAINED, ())
        return int(rows[0][0]) if rows else 0

    def commit_end(self, position: int) -> int:
        """The last position of the chained commit that holds ``position`` (the chain's last
        position when none does)."""
        rows = self._fetch(
            f"SELECT last_position FROM {COMMIT_TIMES} WHERE {HASH_COLUMN} IS NOT NULL "  # noqa: S608
            "AND last_position >= ? ORDER BY last_position LIMIT 1",
            (position,),
        )
        return int(rows[0][0]) if rows else self.chained_up_to()

    def _stream(self, sql: str, start: int, end: int) -> Iterator[tuple[Any, ...]]:
        after = start
        while rows := self._fetch(sql, (after, end, BATCH)):
            yield from rows
            if len(rows) < BATCH:
                return
            after = int(rows[-1][0])

    def walk(self, after: int, upto: int | None = None) -> Iterator[Linked]:
        """Every event after ``after`` up to ``upto`` (None: the end of the chain) with its
        hashes, recomputed from the chained commit before ``after`` through the end of the one
        that holds ``upto``. Raises ``ChainBroken`` at the first commit that does not match."""
        start, previous = self.base(after)
        end = self.chained_up_to() if upto is None else self.commit_end(upto)
        if end <= start:
            return
        p = self.position
        events = self._stream(
            f"SELECT {p}, originator_id, originator_version, topic, state FROM {self._events} "  # noqa: S608
            f"WHERE {p} > ? AND {p} <= ? ORDER BY {p} LIMIT ?",
            start,
            end,
        )
        commits = self._stream(
            f"SELECT last_position, {HASH_COLUMN}, first_position FROM {COMMIT_TIMES} "  # noqa: S608
            f"WHERE {HASH_COLUMN} IS NOT NULL AND last_position > ? AND last_position <= ? "
            "ORDER BY last_position LIMIT ?",
            start,
            end,
        )
        commit = next(commits, None)
        pending: list[Linked] = []
        for position, originator_id, version, topic, state in events:
            position = int(position)
            if commit is not None and int(commit[0]) < position:
                raise ChainBroken(Mismatch(int(commit[0]), _REMOVED, _first(commit, pending)))
            originator, stored = _uuid(originator_id), stored_bytes(state)
            h = link(previous, position, originator, int(version), topic, stored)
            pending.append(Linked(position, originator, int(version), topic, stored, previous, h))
            previous = h
            if commit is not None and position == int(commit[0]):
                if h != bytes(commit[1]):
                    raise ChainBroken(Mismatch(position, _CHANGED, _first(commit, pending)))
                for linked in pending:
                    if linked.position > after and (upto is None or linked.position <= upto):
                        yield linked
                pending.clear()
                commit = next(commits, None)
        if commit is not None:
            raise ChainBroken(Mismatch(int(commit[0]), _REMOVED, _first(commit, pending)))


def _first(commit: Sequence[Any], pending: Sequence[Linked]) -> int:
    """The first position a mismatch at ``commit``'s end can lie at: its row's first, or an
    event before it that no earlier commit row covers (an older writer's, chained by it)."""
    first = int(commit[2])
    return min(first, pending[0].position) if pending else first


class EventChain:
    """Reads the log and its chain on the event store's own connections and checks them."""

    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder
        self._postgres = not isinstance(recorder, SQLiteApplicationRecorder)
        self._position = "notification_id" if self._postgres else "rowid"
        self._events = recorder.events_table_name
        self.walker = ChainWalk(self._fetch, self._events, self._postgres)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        from application.commit_times import event_store_rows  # it imports this module

        return event_store_rows(self._recorder.datastore, self._postgres, sql, params)

    def genesis_up_to(self) -> int:
        rows = self._fetch(f"SELECT MAX(up_to_position) FROM {GENESIS_TABLE} WHERE 1 = ?", (1,))  # noqa: S608
        return int(rows[0][0] or 0)

    def verify(self, say: Callable[[str], None] = lambda line: None) -> Verification:
        """The whole log against the chain, in position order; the first mismatch."""
        end = self.walker.chained_up_to()
        p = self._position
        total = int(
            self._fetch(f"SELECT COUNT(*) FROM {self._events} WHERE {p} <= ?", (end,))[0][0]  # noqa: S608
        )
        checked = 0
        try:
            for _ in self.walker.walk(0, end):
                checked += 1
                if checked % PROGRESS_EVERY == 0:
                    say(f"{checked:,} of {total:,} positions verified")
        except ChainBroken as broken:
            return self._result(checked, broken.mismatch)
        # Events after the chain's end as it is now: a commit made during the walk is chained
        # (its row and its events commit together), so only an event no row covers is left.
        beyond = self._fetch(
            f"SELECT {p} FROM {self._events} WHERE {p} > ? ORDER BY {p} LIMIT ?",  # noqa: S608
            (self.walker.chained_up_to(), 1),
        )
        if beyond:
            return self._result(
                checked,
                Mismatch(
                    int(beyond[0][0]),
                    "an event the chain does not cover: no commit after it carries a chain entry",
                ),
            )
        return self._result(checked, None)

    def aggregate_links(self, originator_id: UUID) -> list[ChainedEvent]:
        """One aggregate's stored events in version order, each with the chain's hash at its
        position and at the one before, recomputed over the commit that holds it (checked
        against that commit's stored hash: ``ChainBroken`` if it does not match); an event
        after the last chained commit has no hash (None)."""
        p = self._position
        key: Any = originator_id if self._postgres else originator_id.hex
        rows = self._fetch(
            f"SELECT {p}, originator_version, topic, state FROM {self._events} "  # noqa: S608
            "WHERE originator_id = ? ORDER BY originator_version",
            (key,),
        )
        end = self.walker.chained_up_to()
        positions = sorted(int(r[0]) for r in rows if int(r[0]) <= end)
        hashes: dict[int, Linked] = {}
        # One walk per stretch of the aggregate's positions: each commit holding them is hashed
        # once, however many of its events are the aggregate's (a bulk load's commits are large).
        for start, last in self._stretches(positions):
            wanted = set(positions[start : last + 1])
            for linked in self.walker.walk(positions[start] - 1, positions[last]):
                if linked.position in wanted:
                    hashes[linked.position] = linked
        result: list[ChainedEvent] = []
        for position, version, topic, state in rows:
            own = hashes.get(int(position))
            result.append(
                ChainedEvent(
                    position=int(position),
                    originator_id=originator_id,
                    version=int(version),
                    topic=topic,
                    state=stored_bytes(state),
                    chain_hash=None if own is None else own.chain_hash,
                    previous=GENESIS if own is None else own.previous,
                )
            )
        return result

    def _stretches(self, positions: Sequence[int]) -> Iterator[tuple[int, int]]:
        """Index ranges of ``positions`` (ascending) whose events lie in the same chained
        commit: (first index, last index)."""
        start = 0
        while start < len(positions):
            commit_end = self.walker.commit_end(positions[start])
            last = start
            while last + 1 < len(positions) and positions[last + 1] <= commit_end:
                last += 1
            yield start, last
            start = last + 1

    def verify_aggregate(self, originator_id: UUID) -> Verification:
        """One aggregate's events (a trajectory's): each within the commit that holds it, and
        its versions without a gap. Cheaper than the whole log; the commits between other
        aggregates' events are not checked."""
        checked = 0
        try:
            links = self.aggregate_links(originator_id)
        except ChainBroken as broken:
            return self._result(checked, broken.mismatch)
        for expected, e in enumerate(links, 1):
            if e.version != expected:
                return self._result(
                    checked,
                    Mismatch(e.position, f"version {expected} is missing before v{e.version}"),
                )
            if e.chain_hash is None or not e.links():
                return self._result(
                    checked, Mismatch(e.position, "an event the chain does not cover")
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
