"""Seals over the event chain (issue #16, second step): a truncation into sealed history shows.

The chain (``application.event_chain``) shows a change *inside* the log, but not the log cut
short: remove the last events with their commits' rows and what is left is a valid chain.
A seal closes that door for everything before it. Seal ``n`` covers the log positions
``(after_position, last_position]``, where ``after_position`` is seal ``n - 1``'s
``last_position`` (0 for the first): a Merkle root (``application.merkle``) over the chain's
hashes at those positions (recomputed from the events, each commit's checked against the hash
its row keeps; a seal is never taken over a chain that does not hold), signed with the
deployment's Ed25519 key (``RODEDRAAD_SIGNING_KEY_FILE``, ``application.signing``; never in
the database). Whoever holds the key's public half can check every seal; an insider who
rewrites the database cannot make a new signature, and an operator who anchored a seal outside
the system (``rodedraad audit seal`` prints what to anchor) can show that even the key holder
did not re-seal.

What is signed, one line of text (``Seal.payload``)::

    rodedraad-seal/2 <number> <after_position> <last_position> <entries> <root hex> <sealed_at>
        <read-log position> <read-log hash hex> <read-log moment or ->

Version 2 (migration ``events/0009_seal_read_log_head``) also signs the head of the
personal-data read log (``application.read_log_chain``, a store of its own, read through
``AccessLog.head``) as it was when the seal was taken: its last position, that position's chain
hash and the entry's moment (``-`` when every entry was pruned). That anchors the read log's
chain too: an insider who deletes their own reads and recomputes every later hash, or cuts
entries off the end, no longer leaves a log that verifies against the seals. A seal is taken
when either log moved; one taken because only the read log moved covers no event positions
(``entries`` 0, ``last_position`` = ``after_position``, the root of the empty tree, RFC 9162
§2.1.1). Seals of version 1, taken before, keep their line and verify as they are: they cover
no read log.

Seals are taken on demand (``rodedraad audit seal``) and by the scheduler every
``RODEDRAAD_SEAL_INTERVAL_MINUTES``; with nothing new to seal, none is taken. They live in a
table of their own in the event store (``rodedraad_event_seals``, migration
``events/0008_seals``), written in a transaction that keeps two seal-takers from both taking
seal ``n``. Positions after the last seal are the *unsealed tail*: ``verify`` reports how many,
from which position and since when, because cutting them off cannot be detected, only limited.
"""

import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from eventsourcing.sqlite import SQLiteApplicationRecorder

from application import merkle
from application.access_log import AccessLog
from application.commit_times import commit_stamp, event_store_rows
from application.errors import OperatorError
from application.event_chain import COMMIT_TIMES, ChainBroken, ChainWalk
from application.merkle import InclusionProof
from application.read_log_chain import Head
from application.signing import PublicKey, SigningKey

log = structlog.get_logger("rodedraad.seals")

SEALS = "rodedraad_event_seals"

DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {SEALS} (number INTEGER PRIMARY KEY, "
    "after_position INTEGER NOT NULL, last_position INTEGER NOT NULL, "
    "entries INTEGER NOT NULL, root BLOB NOT NULL, sealed_at TEXT NOT NULL, "
    "key_id TEXT NOT NULL, signature BLOB NOT NULL)",
    "postgres": f"CREATE TABLE IF NOT EXISTS {SEALS} (number BIGINT PRIMARY KEY, "
    "after_position BIGINT NOT NULL, last_position BIGINT NOT NULL, "
    "entries BIGINT NOT NULL, root BYTEA NOT NULL, sealed_at TIMESTAMPTZ NOT NULL, "
    "key_id TEXT NOT NULL, signature BYTEA NOT NULL)",
}

#: At most this many chain entries per seal: a larger range is sealed in several seals.
MAX_ENTRIES = 100_000


class SealRefused(OperatorError):
    """The chain does not hold where a seal would cover it: nothing is sealed."""

    def __init__(self, broken: ChainBroken) -> None:
        super().__init__(
            f"nothing sealed: the event chain does not hold {broken}; run `rodedraad audit "
            "verify`, and treat the record as tampered with until that is explained"
        )
        self.mismatch = broken.mismatch


_COLUMNS = (
    "number, after_position, last_position, entries, root, sealed_at, key_id, signature, "
    "read_log_position, read_log_hash, read_log_at"
)
#: Migration ``events/0009_seal_read_log_head``: the read log's head, in version 2 seals
#: (column, then its type on SQLite and on PostgreSQL).
READ_LOG_HEAD_COLUMNS = {
    "read_log_position": {"sqlite": "INTEGER", "postgres": "BIGINT"},
    "read_log_hash": {"sqlite": "BLOB", "postgres": "BYTEA"},
    "read_log_at": {"sqlite": "TEXT", "postgres": "TIMESTAMPTZ"},
}
#: The root of a seal over no event position (only the read log moved): RFC 9162's MTH({}).
EMPTY_ROOT = hashlib.sha256(b"").digest()
_POSITION = struct.Struct(">q")


class Seal(msgspec.Struct, frozen=True, kw_only=True):
    """One signed seal over the chain entries of positions ``(after_position,
    last_position]``."""

    number: int
    after_position: int
    last_position: int
    entries: int
    root: bytes
    sealed_at: datetime
    key_id: str
    signature: bytes
    #: Version 2: the read log's head when the seal was taken (None: a version 1 seal).
    read_log: Head | None = None

    def payload(self) -> bytes:
        """What is signed, and what an operator anchors outside the system."""
        events = (
            f"{self.number} {self.after_position} {self.last_position} "
            f"{self.entries} {self.root.hex()} {commit_stamp(self.sealed_at)}"
        )
        if self.read_log is None:
            return f"rodedraad-seal/1 {events}".encode()
        head = self.read_log
        at = commit_stamp(head.at) if head.at is not None else "-"
        return f"rodedraad-seal/2 {events} {head.position} {head.chain_hash.hex()} {at}".encode()


def sign_seal(
    key: SigningKey,
    number: int,
    after_position: int,
    positions: Sequence[int],
    chain_hashes: Sequence[bytes],
    now: datetime,
    read_log: Head | None = None,
) -> Seal:
    """A seal over the chain entries given (in position order, after ``after_position``; none
    when only the read log moved) and the read log's ``read_log`` head."""
    unsigned = Seal(
        number=number,
        after_position=after_position,
        last_position=positions[-1] if positions else after_position,
        entries=len(positions),
        root=range_root(positions, chain_hashes),
        sealed_at=now.astimezone(UTC),
        key_id=key.key_id,
        signature=b"",
        read_log=read_log,
    )
    return msgspec.structs.replace(unsigned, signature=key.sign(unsigned.payload()))


def range_root(positions: Sequence[int], chain_hashes: Sequence[bytes]) -> bytes:
    if not positions:
        return EMPTY_ROOT
    return merkle.root(
        [merkle.leaf_hash(p, h) for p, h in zip(positions, chain_hashes, strict=True)]
    )


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealMismatch:
    """The first seal that does not hold, and why."""

    seal: int
    position: int
    reason: str


@dataclass(frozen=True, slots=True)
class UnsealedTail:
    """Positions after the last seal: a truncation there cannot be detected, only reported."""

    entries: int
    first_position: int | None
    #: When the first unsealed position was committed (None: not known, or nothing unsealed).
    since: datetime | None
    #: The last seal's moment (None: never sealed).
    last_sealed_at: datetime | None


@dataclass(frozen=True, slots=True)
class SealReport:
    seals: int
    sealed_positions: int
    mismatch: SealMismatch | None
    tail: UnsealedTail
    #: False when no public key was at hand: the roots and ranges were checked, not who signed.
    signatures_checked: bool


@dataclass(frozen=True, slots=True)
class ReadLogSeals:
    """The read log against the heads the seals signed: the first seal whose head the log no
    longer holds, and the read log's unsealed tail (entries after the last sealed head)."""

    #: Seals that carry a read-log head (version 2), all checked unless ``mismatch``.
    heads: int
    mismatch: SealMismatch | None
    #: The last sealed head's position (0: none sealed).
    sealed_up_to: int
    tail_entries: int
    tail_first_position: int | None
    #: The first unsealed entry's moment.
    tail_since: datetime | None


@dataclass(frozen=True, slots=True)
class TrajectorySeals:
    """One aggregate's events against the seals that cover them."""

    proofs: list[InclusionProof]
    unsealed: int
    mismatch: SealMismatch | None


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)


def _seal(row: Sequence[Any]) -> Seal:
    number, after, last, entries, root, sealed_at, key_id, signature, *head = row
    log_position, log_hash, log_at = head
    return Seal(
        number=int(number),
        after_position=int(after),
        last_position=int(last),
        entries=int(entries),
        root=bytes(root),
        sealed_at=_moment(sealed_at),
        key_id=str(key_id),
        signature=bytes(signature),
        read_log=None
        if log_position is None
        else Head(int(log_position), bytes(log_hash), None if log_at is None else _moment(log_at)),
    )


class Seals:
    """Takes and checks seals on the event store's own connections (SQLite or PostgreSQL);
    with ``read_log``, the seals it takes sign the read log's head too (version 2), and
    ``verify_read_log`` holds the read log against them."""

    def __init__(self, recorder: Any, read_log: AccessLog | None = None) -> None:
        self._recorder = recorder
        self._read_log = read_log
        self._postgres = not isinstance(recorder, SQLiteApplicationRecorder)
        self._events = recorder.events_table_name

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return event_store_rows(self._recorder.datastore, self._postgres, sql, params)

    def _walker(self, fetch: Callable[..., list[tuple[Any, ...]]] | None = None) -> ChainWalk:
        return ChainWalk(fetch or self._fetch, self._events, self._postgres)

    def all(self) -> list[Seal]:
        return [
            _seal(r)
            for r in self._fetch(
                f"SELECT {_COLUMNS} FROM {SEALS} WHERE 1 = ? ORDER BY number",  # noqa: S608
                (1,),
            )
        ]

    def last(self) -> Seal | None:
        rows = self._fetch(
            f"SELECT {_COLUMNS} FROM {SEALS} WHERE 1 = ? ORDER BY number DESC LIMIT 1",  # noqa: S608
            (1,),
        )
        return _seal(rows[0]) if rows else None

    # --- taking ---------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
        """A write transaction that only one seal-taker holds at a time; yields ``run(sql,
        params)`` (``?`` placeholders) returning the rows."""
        with self._recorder.datastore.transaction(commit=True) as cursor:
            if self._postgres:
                cursor.execute(f"LOCK TABLE {SEALS} IN SHARE ROW EXCLUSIVE MODE")

                def run(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                    cursor.execute(sql.replace("?", "%s"), params)
                    return (
                        [tuple(r.values()) for r in cursor.fetchall()] if cursor.description else []
                    )
            else:
                # A write first, so this transaction holds SQLite's writer lock from here on.
                cursor.execute(f"DELETE FROM {SEALS} WHERE number < 0")  # noqa: S608

                def run(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                    cursor.execute(sql, params)
                    return [tuple(r) for r in cursor.fetchall()]

            yield run

    def take(self, key: SigningKey, now: datetime, most: int = MAX_ENTRIES) -> list[Seal]:
        """Seal every chain entry after the last seal, at most ``most`` entries per seal (so a
        first seal over a large existing log, and the proofs in it, stay bounded), each with
        the read log's head; one over no event when only the read log moved; none when there
        is nothing new in either."""
        taken: list[Seal] = []
        with self._writing() as run:
            # Under the seal-takers' lock, so two of them never sign heads out of order.
            head = self._read_log.head() if self._read_log is not None else None
            last = run(
                f"SELECT number, last_position, read_log_position FROM {SEALS} "  # noqa: S608
                "ORDER BY number DESC LIMIT 1"
            )
            number, after = (int(last[0][0]), int(last[0][1])) if last else (0, 0)
            sealed_head = int(last[0][2]) if last and last[0][2] is not None else 0
            read_log_moved = head is not None and head.position != sealed_head
            walk = self._walker(run).walk(after)
            while True:
                positions: list[int] = []
                hashes: list[bytes] = []
                try:
                    for linked in walk:
                        positions.append(linked.position)
                        hashes.append(linked.chain_hash)
                        if len(positions) == most:
                            break
                except ChainBroken as broken:
                    raise SealRefused(broken) from None
                if not positions and (taken or not read_log_moved):
                    break
                number += 1
                seal = sign_seal(key, number, after, positions, hashes, now, head)
                at = None if head is None or head.at is None else head.at
                run(
                    f"INSERT INTO {SEALS} ({_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seal.number,
                        seal.after_position,
                        seal.last_position,
                        seal.entries,
                        seal.root,
                        seal.sealed_at if self._postgres else commit_stamp(seal.sealed_at),
                        seal.key_id,
                        seal.signature,
                        None if head is None else head.position,
                        None if head is None else head.chain_hash,
                        at if self._postgres or at is None else commit_stamp(at),
                    ),
                )
                taken.append(seal)
                after = seal.last_position
        for seal in taken:
            log.info(
                "seal taken",
                seal=seal.number,
                after_position=seal.after_position,
                last_position=seal.last_position,
                entries=seal.entries,
                read_log_position=None if head is None else head.position,
                key_id=seal.key_id,
            )
        return taken

    def take_if_due(
        self, key: Callable[[], SigningKey], now: datetime, every: timedelta
    ) -> list[Seal]:
        """The scheduler's job: a seal when the last one is ``every`` old (or there is none)
        and there is something to seal in either log. The key is loaded only then."""
        last = self.last()
        if last is not None and now < last.sealed_at + every:
            return []
        sealed_head = last.read_log.position if last and last.read_log else 0
        if self._walker().chained_up_to() <= (last.last_position if last else 0) and (
            self._read_log is None or self._read_log.head().position == sealed_head
        ):
            return []
        return self.take(key(), now)

    # --- checking -------------------------------------------------------------------------------

    def _range(self, after: int, last: int) -> tuple[list[int], list[bytes]]:
        """The positions and chain hashes of ``(after, last]``, recomputed from the events
        (``ChainBroken`` where a commit's stored hash does not hold)."""
        positions: list[int] = []
        hashes: list[bytes] = []
        for linked in self._walker().walk(after, last):
            positions.append(linked.position)
            hashes.append(linked.chain_hash)
        return positions, hashes

    def _check(
        self, seal: Seal, expected_number: int, after: int, public: PublicKey | None
    ) -> tuple[str, list[int], list[bytes]] | tuple[None, list[int], list[bytes]]:
        """Why ``seal`` does not hold (None: it holds), and its range's positions and entries."""
        if seal.number != expected_number:
            return f"seal {expected_number} is missing (the next is seal {seal.number})", [], []
        if seal.after_position != after:
            return (
                f"its range starts after position {seal.after_position}, but the seal before "
                f"it ends at {after}: the seals are not contiguous",
                [],
                [],
            )
        if public is not None and not public.verify(seal.payload(), seal.signature):
            return (
                f"its signature does not match key {public.key_id}: the seal was rewritten, or "
                "signed with another key",
                [],
                [],
            )
        try:
            positions, hashes = self._range(seal.after_position, seal.last_position)
        except ChainBroken as broken:
            return f"the event chain does not hold in its range, {broken}", [], []
        if not seal.entries and seal.read_log is not None:  # only the read log moved
            if positions or seal.last_position != seal.after_position or seal.root != EMPTY_ROOT:
                return (
                    "it sealed no event position, but its range or root says otherwise",
                    positions,
                    hashes,
                )
            return None, positions, hashes
        if len(positions) != seal.entries or not positions:
            return (
                f"it sealed {seal.entries} chain entr(ies) up to position {seal.last_position}, "
                f"the chain now holds {len(positions)} there: entries were removed (or added)",
                positions,
                hashes,
            )
        if positions[-1] != seal.last_position or range_root(positions, hashes) != seal.root:
            return (
                "its Merkle root does not match the chain entries of its range: an entry was "
                "changed, or the seal's root was rewritten",
                positions,
                hashes,
            )
        return None, positions, hashes

    def verify(self, public: PublicKey | None) -> SealReport:
        """Every seal in order: number, contiguity, signature (when ``public`` is given), root
        over the chain entries of its range; the first that does not hold, and the tail."""
        seals = self.all()
        after, sealed = 0, 0
        for expected, seal in enumerate(seals, 1):
            why, _, _ = self._check(seal, expected, after, public)
            if why is not None:
                return SealReport(
                    seals=len(seals),
                    sealed_positions=sealed,
                    mismatch=SealMismatch(seal.number, seal.after_position + 1, why),
                    tail=self.tail(seals[-1] if seals else None),
                    signatures_checked=public is not None,
                )
            after, sealed = seal.last_position, sealed + seal.entries
        return SealReport(
            seals=len(seals),
            sealed_positions=sealed,
            mismatch=None,
            tail=self.tail(seals[-1] if seals else None),
            signatures_checked=public is not None,
        )

    def verify_read_log(self, retention: timedelta | None, now: datetime) -> ReadLogSeals:
        """Every version 2 seal's head against the read log (``AccessLog.check_sealed_head``;
        ``retention``: the read log's retention period, to judge a prune that removed a sealed
        head), and the entries after the last sealed head. The seals' signatures are
        ``verify``'s to check."""
        if self._read_log is None:
            raise ValueError("no read log to verify: give Seals one")
        heads = [(s.number, s.read_log) for s in self.all() if s.read_log is not None]
        mismatch = None
        for number, head in heads:
            why = self._read_log.check_sealed_head(head, retention, now)
            if why is not None:
                mismatch = SealMismatch(number, head.position, why)
                break
        sealed_up_to = heads[-1][1].position if heads else 0
        count, first, since = self._read_log.after_head(sealed_up_to)
        return ReadLogSeals(len(heads), mismatch, sealed_up_to, count, first, since)

    def tail(self, last: Seal | None) -> UnsealedTail:
        after = last.last_position if last else 0
        p = "notification_id" if self._postgres else "rowid"
        (count, first), *_ = self._fetch(
            f"SELECT COUNT(*), MIN({p}) FROM {self._events} WHERE {p} > ?",  # noqa: S608
            (after,),
        )
        since = None
        if first is not None:
            stamp = self._fetch(
                f"SELECT committed_at FROM {COMMIT_TIMES} WHERE last_position >= ? "  # noqa: S608
                "ORDER BY last_position LIMIT 1",
                (int(first),),
            )
            since = _moment(stamp[0][0]) if stamp else None
        return UnsealedTail(
            entries=int(count),
            first_position=int(first) if first is not None else None,
            since=since,
            last_sealed_at=last.sealed_at if last else None,
        )

    def prove_aggregate(
        self, positions: Sequence[int], public: PublicKey | None
    ) -> TrajectorySeals:
        """For each of one aggregate's positions (in order) the inclusion proof in the seal
        that covers it, checked against that seal (whose signature is checked too); the ones
        after the last seal are counted as unsealed."""
        seals = self.all()
        proofs: list[InclusionProof] = []
        unsealed = 0
        trees: dict[int, merkle.Tree] = {}
        for position in positions:
            seal = next((s for s in seals if s.after_position < position <= s.last_position), None)
            if seal is None:
                unsealed += 1
                continue
            if seal.number not in trees:
                why, in_range, hashes = self._check(seal, seal.number, seal.after_position, public)
                if why is not None:
                    return TrajectorySeals(
                        proofs, unsealed, SealMismatch(seal.number, position, why)
                    )
                trees[seal.number] = merkle.Tree(in_range, hashes)
            tree = trees[seal.number]
            if position not in tree:
                return TrajectorySeals(
                    proofs,
                    unsealed,
                    SealMismatch(seal.number, position, "the seal covers no chain entry here"),
                )
            proof = tree.prove(seal.number, position)
            if not proof.check(seal.root, seal.entries):
                return TrajectorySeals(
                    proofs,
                    unsealed,
                    SealMismatch(seal.number, position, "its inclusion proof does not hold"),
                )
            proofs.append(proof)
        return TrajectorySeals(proofs, unsealed, None)
