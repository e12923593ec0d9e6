"""The hash chain over the log of personal-data reads (issue #16): an insider's deleted read shows.

Each entry of the read log (``application.access_log``) has a position — 1, 2, 3, … without
gaps, given under the log's lock — and a hash

    h(n) = SHA-256( h(n - 1) ‖ n ‖ SHA-256(the entry's fields) )

kept in the entry's own row (columns ``position`` and ``chain_hash``), written in the entry's
transaction. ``link`` is the one definition of the bytes. The fields are hashed as values, not
as the database's text: the moment as microseconds since the epoch, ids as their 16 bytes, text
as UTF-8, each with its length (or a mark for none), so SQLite's text and PostgreSQL's types
give the same hash.

Concurrent writers: on PostgreSQL an append is one call of a PL/pgSQL function
(``APPEND_FUNCTION``, one round trip, as the read path had one INSERT before the chain): it
takes a transaction-level advisory lock (``LOCK_KEY``), reads the head of the chain and inserts
the entry with ``sha256(previous ‖ n ‖ digest)``, the fields' digest computed here. On SQLite the
writer's ``BEGIN IMMEDIATE`` already orders appends.

Retention (``prune``) removes a whole range from the start of the chain — every entry up to
the last one older than the cut-off that has no newer entry before it — and records its
boundary (the last removed position and its hash) in the boundaries table, so ``verify``
starts from it. What ``verify`` detects: a changed field or hash (the entry's hash does not
match), a removed entry in the middle or at the start (a gap in the positions, or a start that
does not follow the boundary), entries written without the chain, and a boundary whose hash or
position does not fit the entry after it. What it cannot detect on its own: someone with write
access who removes entries *and* recomputes every later hash (or forges a boundary with the
right hash), and entries removed from the end — nothing in the chain is secret. Anchoring the
chain's head outside the database covers that: every seal (``application.seals``, version 2)
signs the head as it was when the seal was taken (``head``), and ``check_sealed_head`` holds
the log against it (see there for what a prune leaves checkable). Entries after the last
sealed head (``after_head``) are the read log's unsealed tail.

Existing stores: the migration ``access_log/0003_read_log_chain`` chains the entries already
there (in the order they were written) and records a genesis boundary saying up to which
position the chain was computed after the fact.
"""

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from application.event_chain import Mismatch
from application.sql import Tx

#: The predecessor of position 1.
GENESIS = bytes(32)
#: PostgreSQL's transaction-level advisory lock that serialises appends and prunes.
LOCK_KEY = 5928283465238906190
#: Rows read per query when chaining or verifying.
BATCH = 5_000

#: The boundaries: ``genesis`` (chained after the fact by the migration, up to a position) and
#: ``prune`` (removed by retention, up to a position whose hash the next entry follows).
BOUNDARIES = {"sqlite": "read_log_boundaries", "postgres": "rodedraad_read_log_boundaries"}

DDL = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {BOUNDARIES['sqlite']} (kind TEXT NOT NULL, "
    "up_to_position INTEGER NOT NULL, hash BLOB NOT NULL, entries INTEGER NOT NULL, "
    "recorded_at TEXT NOT NULL)",
    "postgres": f"CREATE TABLE IF NOT EXISTS {BOUNDARIES['postgres']} (kind TEXT NOT NULL, "
    "up_to_position BIGINT NOT NULL, hash BYTEA NOT NULL, entries BIGINT NOT NULL, "
    "recorded_at TIMESTAMPTZ NOT NULL)",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POSITION = struct.Struct(">q")
_LENGTH = struct.Struct(">I")

#: The stored columns, in the order they are hashed (``access_log._COLUMNS``' order).
FIELDS = (
    "at",
    "user_id",
    "organisation",
    "role",
    "client_id",
    "trajectory_id",
    "endpoint",
    "request_id",
    "authorisation",
    "purpose",
)
_AT, _IDS = 0, (4, 5)


def _field(index: int, value: Any) -> bytes:
    if value is None:
        return b"\x00"
    if index == _AT:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        delta = moment.astimezone(UTC) - _EPOCH
        raw = _POSITION.pack((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    elif index in _IDS:
        raw = (value if isinstance(value, UUID) else UUID(str(value))).bytes
    else:
        raw = str(value).encode()
    return b"\x01" + _LENGTH.pack(len(raw)) + raw


def digest(fields: Sequence[Any]) -> bytes:
    """SHA-256 of an entry's stored ``fields`` (in ``FIELDS`` order)."""
    return hashlib.sha256(b"".join(_field(i, v) for i, v in enumerate(fields))).digest()


def link(previous: bytes, position: int, fields: Sequence[Any]) -> bytes:
    """The chain's hash at ``position``, following ``previous``, over an entry's stored
    ``fields``; ``APPEND_FUNCTION`` computes the same in PostgreSQL."""
    return hashlib.sha256(previous + _POSITION.pack(position) + digest(fields)).digest()


#: PostgreSQL's append: lock, head, insert, in one call (made by the migration).
APPEND_FUNCTION = "rodedraad_append_read"

_TYPES = ("timestamptz", *["text"] * 3, "uuid", "uuid", *["text"] * 4)


def append_function_ddl(table: str) -> str:
    params = ", ".join(f"p_{name} {kind}" for name, kind in zip(FIELDS, _TYPES, strict=True))
    return f"""CREATE OR REPLACE FUNCTION {APPEND_FUNCTION}({params}, p_digest bytea)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    head_position bigint;
    head_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT position, chain_hash INTO head_position, head_hash FROM {table}
        WHERE position IS NOT NULL ORDER BY position DESC LIMIT 1;
    IF head_position IS NULL THEN
        SELECT up_to_position, hash INTO head_position, head_hash FROM {BOUNDARIES["postgres"]}
            WHERE kind = 'prune' ORDER BY up_to_position DESC LIMIT 1;
    END IF;
    IF head_position IS NULL THEN
        head_position := 0;
        head_hash := '\\x{GENESIS.hex()}'::bytea;
    END IF;
    INSERT INTO {table} ({", ".join(FIELDS)}, position, chain_hash) VALUES (
        {", ".join(f"p_{name}" for name in FIELDS)}, head_position + 1,
        sha256(head_hash || int8send(head_position + 1) || p_digest));
END
$$"""  # noqa: S608


def _lock(tx: Tx) -> None:
    if tx.dialect != "sqlite":  # SQLite: BEGIN IMMEDIATE made this transaction the one writer
        tx.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")


def _head(tx: Tx, table: str) -> tuple[int, bytes]:
    """The last chained position and its hash: the log's last entry, or, when a prune removed
    every entry, the last boundary; (0, GENESIS) on an empty log."""
    rows = tx.fetchall(
        f"SELECT position, chain_hash FROM {table} WHERE position IS NOT NULL "  # noqa: S608
        "ORDER BY position DESC LIMIT 1"
    )
    if rows:
        return int(rows[0][0]), bytes(rows[0][1])
    boundary = _last_prune(tx)
    return boundary if boundary is not None else (0, GENESIS)


def _last_prune(tx: Tx) -> tuple[int, bytes] | None:
    rows = tx.fetchall(
        f"SELECT up_to_position, hash FROM {BOUNDARIES[tx.dialect]} "  # noqa: S608
        "WHERE kind = 'prune' ORDER BY up_to_position DESC LIMIT 1"
    )
    return (int(rows[0][0]), bytes(rows[0][1])) if rows else None


def append_call(row: Sequence[Any]) -> tuple[str, list[Any]]:
    """PostgreSQL: the one statement that appends ``row``, and its parameters."""
    marks = ", ".join("?" * (len(FIELDS) + 1))
    return f"SELECT {APPEND_FUNCTION}({marks})", [*row, digest(row)]


def append(tx: Tx, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (stored values in ``FIELDS`` order) at the chain's head, chained."""
    if tx.dialect != "sqlite":
        for row in rows:
            tx.execute(*append_call(row))
        return
    position, previous = _head(tx, table)
    chained = []
    for row in rows:
        position += 1
        previous = link(previous, position, row)
        chained.append([*row, position, previous])
    marks = ", ".join("?" * (len(FIELDS) + 2))
    tx.executemany(
        f"INSERT INTO {table} ({', '.join(FIELDS)}, position, chain_hash) VALUES ({marks})",  # noqa: S608
        chained,
    )


def prune(tx: Tx, table: str, before: Any, now: Any) -> int:
    """Remove the entries older than ``before`` from the start of the chain, as one range, and
    record its boundary; the number removed."""
    _lock(tx)
    newer = tx.fetchall(
        f"SELECT MIN(position) FROM {table} WHERE at >= ? AND position IS NOT NULL",  # noqa: S608
        (before,),
    )[0][0]
    last = tx.fetchall(
        f"SELECT position, chain_hash FROM {table} WHERE position IS NOT NULL "  # noqa: S608
        + ("AND position < ? " if newer is not None else "")
        + "ORDER BY position DESC LIMIT 1",
        (newer,) if newer is not None else (),
    )
    if not last:
        return 0
    up_to, hash_ = int(last[0][0]), bytes(last[0][1])
    removed = tx.execute(f"DELETE FROM {table} WHERE position <= ?", (up_to,))  # noqa: S608
    tx.execute(
        f"INSERT INTO {BOUNDARIES[tx.dialect]} (kind, up_to_position, hash, entries, "  # noqa: S608
        "recorded_at) VALUES ('prune', ?, ?, ?, ?)",
        (up_to, hash_, removed, now),
    )
    return removed


def chain_existing(tx: Tx, table: str) -> int:
    """The migration's work: chain the entries written without a chain, in the order they were
    written (SQLite's rowid; PostgreSQL: by moment, then place in the table), after the head."""
    _lock(tx)
    order = "rowid" if tx.dialect == "sqlite" else "at, ctid"
    key = "rowid" if tx.dialect == "sqlite" else "ctid"
    position, previous = _head(tx, table)
    done = 0
    while rows := tx.fetchall(
        f"SELECT {key}, {', '.join(FIELDS)} FROM {table} WHERE position IS NULL "  # noqa: S608
        f"ORDER BY {order} LIMIT ?",
        (BATCH,),
    ):
        updates = []
        for row in rows:
            position += 1
            previous = link(previous, position, row[1:])
            updates.append((position, previous, row[0]))
        tx.executemany(
            f"UPDATE {table} SET position = ?, chain_hash = ? WHERE {key} = ?",  # noqa: S608
            updates,
        )
        done += len(updates)
    return done


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int
    mismatch: Mismatch | None
    #: Positions up to here were chained by the migration, after the fact (0: none).
    genesis_up_to: int
    #: Positions up to here were removed by retention (0: none).
    pruned_up_to: int


def verify(tx: Tx, table: str) -> Verification:
    """The whole read log against its chain, from the last prune boundary on."""
    boundaries = BOUNDARIES[tx.dialect]
    genesis = int(
        tx.fetchall(
            f"SELECT MAX(up_to_position) FROM {boundaries} WHERE kind = 'genesis'"  # noqa: S608
        )[0][0]
        or 0
    )
    pruned = _last_prune(tx)
    after, previous = pruned if pruned is not None else (0, GENESIS)

    def result(checked: int, mismatch: Mismatch | None) -> Verification:
        return Verification(checked, mismatch, genesis, after)

    unchained = tx.fetchall(
        f"SELECT COUNT(*) FROM {table} WHERE position IS NULL OR chain_hash IS NULL"  # noqa: S608
    )[0][0]
    if unchained:
        return result(
            0,
            Mismatch(
                0,
                f"{unchained} entr(y/ies) without a chain position or hash: written past the "
                "chain (by a version before it, or straight into the database) or stripped",
            ),
        )
    before = tx.fetchall(
        f"SELECT MAX(position) FROM {table} WHERE position <= ?",  # noqa: S608
        (after,),
    )[0][0]
    if before is not None:
        return result(
            0,
            Mismatch(
                int(before),
                f"an entry at or before the prune boundary (position {after}): the boundary "
                "does not fit the log",
            ),
        )
    checked, expected = 0, after + 1
    cursor = after
    while rows := tx.fetchall(
        f"SELECT position, chain_hash, {', '.join(FIELDS)} FROM {table} "  # noqa: S608
        "WHERE position > ? ORDER BY position LIMIT ?",
        (cursor, BATCH),
    ):
        for position, stored, *fields in rows:
            if int(position) != expected:
                reason = (
                    f"the log should go on at position {expected} (after the prune boundary "
                    f"at {after}, or from the start), it goes on at {position}: entries were "
                    "removed without a boundary"
                    if expected == after + 1
                    else f"the entry at position {expected} is missing: it was removed"
                )
                return result(checked, Mismatch(expected, reason))
            previous = link(previous, expected, fields)
            if previous != bytes(stored):
                return result(
                    checked,
                    Mismatch(
                        expected,
                        "the entry does not match the chain: its fields or hash were "
                        "changed, or the entry or boundary before it was",
                    ),
                )
            checked, expected = checked + 1, expected + 1
        cursor = int(rows[-1][0])
    return result(checked, None)


# --- the head, as the seals sign it -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Head:
    """The chain's last position and its hash, and the moment of that entry (None when the
    head is a prune boundary: every entry was removed)."""

    position: int
    chain_hash: bytes
    at: datetime | None


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)


def head(tx: Tx, table: str) -> Head:
    """The head now: the last entry, else the last prune boundary, else (0, GENESIS)."""
    rows = tx.fetchall(
        f"SELECT position, chain_hash, at FROM {table} WHERE position IS NOT NULL "  # noqa: S608
        "ORDER BY position DESC LIMIT 1"
    )
    if rows:
        return Head(int(rows[0][0]), bytes(rows[0][1]), _moment(rows[0][2]))
    position, hash_ = _last_prune(tx) or (0, GENESIS)
    return Head(position, hash_, None)


def check_sealed_head(
    tx: Tx, table: str, sealed: Head, retention: timedelta | None, now: datetime
) -> str | None:
    """Why the log does not hold against a head a seal signed (None: it holds).

    The entry at the sealed position must still be there with the sealed hash — unless a prune
    removed it. After a prune what is left to check: a boundary exactly at the sealed position
    must carry the sealed hash; a boundary after it hides the entries the seal vouched for, so
    only its plausibility is checked: the sealed entry must have been old enough to prune
    (``retention``, the read log's retention period) when the boundary says it was recorded,
    and that moment not in the future. An insider who forges a prune to hide recent reads is
    caught by that; one who forges it for entries older than the retention period is not (they
    could have been pruned anyway)."""
    if sealed.position == 0:
        return None
    rows = tx.fetchall(
        f"SELECT chain_hash FROM {table} WHERE position = ?",  # noqa: S608
        (sealed.position,),
    )
    if rows:
        if bytes(rows[0][0]) != sealed.chain_hash:
            return (
                f"the entry at position {sealed.position} does not carry the sealed hash: the "
                "entries up to it were changed or removed and the later hashes recomputed"
            )
        return None
    boundary = tx.fetchall(
        f"SELECT up_to_position, hash, recorded_at FROM {BOUNDARIES[tx.dialect]} "  # noqa: S608
        "WHERE kind = 'prune' AND up_to_position >= ? ORDER BY up_to_position LIMIT 1",
        (sealed.position,),
    )
    if not boundary:
        return (
            f"the sealed entry at position {sealed.position} is gone and no prune removed it: "
            "entries were removed from the end (or the middle)"
        )
    up_to, hash_, recorded = int(boundary[0][0]), bytes(boundary[0][1]), _moment(boundary[0][2])
    if up_to == sealed.position and hash_ != sealed.chain_hash:
        return (
            f"the prune boundary at position {up_to} does not carry the sealed hash: the "
            "entries before it were changed and the boundary forged"
        )
    if recorded > now:
        return f"the prune boundary at position {up_to} says it was recorded in the future"
    if retention is not None and sealed.at is not None and recorded < sealed.at + retention:
        return (
            f"a prune (recorded {recorded:%Y-%m-%d}) removed the sealed entry at position "
            f"{sealed.position} of {sealed.at:%Y-%m-%d}, before its retention period ended: "
            "reads were removed under cover of a prune"
        )
    return None


def after_head(tx: Tx, table: str, position: int) -> tuple[int, int | None, datetime | None]:
    """The entries after ``position``: how many, the first's position and moment."""
    (count, first), *_ = tx.fetchall(
        f"SELECT COUNT(*), MIN(position) FROM {table} WHERE position > ?",  # noqa: S608
        (position,),
    )
    if first is None:
        return 0, None, None
    at = tx.fetchall(f"SELECT at FROM {table} WHERE position = ?", (first,))  # noqa: S608
    return int(count), int(first), _moment(at[0][0])
