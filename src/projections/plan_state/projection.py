"""The plan state's writer: the DDL of its tables, and the projection that folds events into
them (see the package's docstring for what the rows hold and why they are sealed)."""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import UUID

import msgspec

from application.keys import KeyStore
from application.uuid_text import uuid_text
from domain.client import Client
from domain.trajectory import Status, Trajectory, TrajectorySnapshotState
from projections.plan_state.sealed import as_bytes, open_column, seal_column
from projections.store import Tx, iso, share_of
from projections.views import trajectory_view

_ENCODER = msgspec.json.Encoder()
_STATE_DECODER = msgspec.json.Decoder(TrajectorySnapshotState)
_NOT_STATE = frozenset({"_id", "_version", "_pending_events"})
#: The columns of ``rm_trajectories``, in the order ``_write`` fills them.
_COLUMNS = (
    "id", "version", "client_id", "status", "sector", "region", "referrer_organisation",
    "coordinating_organisation", "referred_at", "last_recorded_at", "next_consultation_on",
    "next_evaluation_on", "blocked_since", "open_escalations", "oldest_open_escalation_at",
    "reasons", "missed_deadlines", "open_deadlines", "stuck_anchor",
    "board_anchor", "board_consultation_on", "board_recorded_at",  # BOARD_COLUMNS, below
    "erased", "ended_at", "state", "doc",
)  # fmt: skip
#: Their PostgreSQL types, for a binary ``COPY`` (``Tx.insert_rows``).
_TYPES = (
    "text", "int4", *("text",) * 11, "int4", "text", "text", "int4", *("text",) * 5, "int4",
    "text", "bytea", "bytea",
)  # fmt: skip


def stuck_anchor(t: Trajectory) -> datetime | None:
    """Since when the trajectory is stuck for reasons that do not depend on today: blocked, an
    open escalation, a missed deadline not yet met (the board adds, at query time, an overdue
    consultation and a silence longer than the idle limit)."""
    candidates = [e.raised_at for e in t.escalations.values() if e.resolved_at is None]
    if t.current_block is not None:
        candidates.append(t.current_block.since)
    for deadline in t.open_missed_deadlines:
        due = date.fromisoformat(deadline.partition("@")[2])
        candidates.append(datetime(due.year, due.month, due.day, tzinfo=UTC))
    return min(candidates, default=None)


def encode_state(trajectory: Trajectory) -> bytes:
    return _ENCODER.encode({k: v for k, v in vars(trajectory).items() if k not in _NOT_STATE})


def decode_state(trajectory_id: UUID, version: int, data: bytes) -> Trajectory:
    typed = _STATE_DECODER.decode(data)
    trajectory: Trajectory = object.__new__(Trajectory)
    trajectory.__dict__.update(msgspec.structs.asdict(typed))
    trajectory.__dict__.update(_id=trajectory_id, _version=version, _pending_events=[])
    return trajectory


#: The components of "stuck" the board takes in order by index, copied beside each scope (a
#: trajectory's row for its region, each party's row for its organisation): the time-independent
#: ``stuck_anchor``, the planned consultation, the last recording. Each is NULL when the
#: trajectory cannot be stuck (its status is not one of ``BOARD_STATUSES``), so the board's
#: indexes hold only open trajectories.
BOARD_COLUMNS = ("board_anchor", "board_consultation_on", "board_recorded_at")
_BOARD_COLUMNS_DDL = ", ".join(f"{c} TEXT" for c in BOARD_COLUMNS)
_PARTY_COLUMNS = ("organisation", "trajectory_id", "referred_at", *BOARD_COLUMNS)
_PARTY_TYPES = ("text",) * len(_PARTY_COLUMNS)
#: The statuses of a trajectory that can be stuck: a referral never accepted is stuck too.
BOARD_STATUSES = frozenset({Status.REFERRED, Status.ACCEPTED, Status.ACTIVE, Status.BLOCKED})


def board_columns(t: Trajectory) -> tuple[str | None, str | None, str | None]:
    """``BOARD_COLUMNS`` of ``t``, as stored."""
    if t.status not in BOARD_STATUSES:
        return None, None, None
    consultation = t.next_consultation_on.isoformat() if t.next_consultation_on else None
    return iso(stuck_anchor(t)), consultation, iso(t.last_recorded_at)


class PlanStateProjection:
    """``rm_trajectories`` (+ ``rm_trajectory_parties`` for the organisation filter).

    When a client is erased, their trajectories are reloaded through ``reload`` (their events
    now read with placeholders for personal data) and stored as erased. So is a trajectory whose
    key is found gone before the erasure's event is reached (it was erased meanwhile): a
    reloaded trajectory is at the head of its own events, so the batch's older events of it are
    skipped.
    """

    name = "plan_state"
    #: Bump when the tables or what is derived into them change: a new version rebuilds.
    version = 10

    #: Every row is one trajectory's (its parties' rows too), from its events and, for an
    #: erasure, its client's: a rebuild may split the work by record, each share seeing every
    #: client's erasure (``shared_events``) and rewriting its own trajectories of that client.
    by_record = True
    shared_events: tuple[type[Any], ...] = (Client.Erased,)
    #: The events it takes in (a share of a split rebuild reads no others).
    consumes: tuple[type[Any], ...] = (Trajectory.Event, Client.Erased)

    def __init__(self, keys: KeyStore, reload: Callable[[UUID], Trajectory] | None = None) -> None:
        self.keys = keys
        self.reload = reload
        #: In a share (k, n) of a split rebuild: only the trajectories of share k are this
        #: projection's to write.
        self.share: tuple[int, int] | None = None

    tables: tuple[str, ...] = ("rm_trajectories", "rm_trajectory_parties")
    #: The table whose rows an erasure rewrites without the client's personal data: scrubbed
    #: after a batch with an erasure, so no old version lingers in the files.
    personal_tables: tuple[str, ...] = ("rm_trajectories",)

    def ddl(self, suffix: str, generation: str) -> list[str]:
        t, p = f"rm_trajectories{suffix}", f"rm_trajectory_parties{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "id TEXT PRIMARY KEY, version INTEGER NOT NULL, client_id TEXT NOT NULL, "
            "status TEXT NOT NULL, sector TEXT NOT NULL, region TEXT NOT NULL, "
            "referrer_organisation TEXT NOT NULL, coordinating_organisation TEXT, "
            "referred_at TEXT NOT NULL, last_recorded_at TEXT NOT NULL, "
            "next_consultation_on TEXT, next_evaluation_on TEXT, blocked_since TEXT, "
            "open_escalations INTEGER NOT NULL, oldest_open_escalation_at TEXT, "
            "reasons TEXT NOT NULL, missed_deadlines INTEGER NOT NULL, "
            "open_deadlines TEXT NOT NULL, stuck_anchor TEXT, "
            f"{_BOARD_COLUMNS_DDL}, erased INTEGER NOT NULL, "
            # Binary (sealed; BYTEA keeps SQLite's blobs as they are): no base64 to decode.
            "ended_at TEXT, state BYTEA NOT NULL, doc BYTEA NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_traj_client ON {t} (client_id)",
            # The clients of a region: what an auditor of the region sees of the read log.
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_traj_region ON {t} (region, client_id)",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_traj_list ON {t} (referred_at, id)",
            # A region's list of one status comes out of this index in order (and the board
            # finds a region's open trajectories in it).
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_traj_status "
            f"ON {t} (status, region, referred_at, id)",
            f"CREATE TABLE IF NOT EXISTS {p} ("
            "organisation TEXT NOT NULL, trajectory_id TEXT NOT NULL, referred_at TEXT NOT NULL, "
            f"{_BOARD_COLUMNS_DDL}, PRIMARY KEY (organisation, trajectory_id))",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_parties_list "
            f"ON {p} (organisation, referred_at, trajectory_id)",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_parties_trajectory ON {p} (trajectory_id)",
            # The board (``board.board_query``): each component of "stuck" in order within an
            # organisation and within a region, only for trajectories that can be stuck.
            *(
                f"CREATE INDEX IF NOT EXISTS ix_{generation}_{short}_{column} "
                f"ON {table} ({scope}, {column}, {key}) WHERE {column} IS NOT NULL"
                for short, table, scope, key in (
                    ("parties", p, "organisation", "trajectory_id"),
                    ("traj", t, "region", "id"),
                )
                for column in BOARD_COLUMNS
            ),
        ]

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        events = [event for _, event in batch]
        touched: dict[UUID, Trajectory] = {}
        erased: set[UUID] = set()
        #: Referred in this batch: no row of theirs exists yet, so theirs are inserted afresh.
        fresh = {e.originator_id for e in events if isinstance(e, Trajectory.Referred)}
        ids = sorted(
            {e.originator_id for e in events if isinstance(e, Trajectory.Event)} - fresh,
            key=str,
        )
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = tx.fetchall(
                f"SELECT id, version, state, erased FROM rm_trajectories{suffix} "
                f"WHERE id IN ({marks})",
                [str(i) for i in chunk],
            )
            for row_id, version, state, was_erased in rows:
                trajectory_id = UUID(row_id)
                if was_erased:
                    erased.add(trajectory_id)
                    data = as_bytes(state)
                elif (key := self.keys.key_for(trajectory_id)) is not None:
                    data = open_column(key, trajectory_id, "state", state)
                else:  # erased since the row was written; the erasure's event is further on
                    touched[trajectory_id] = self._reloaded(trajectory_id, erased)
                    continue
                touched[trajectory_id] = decode_state(trajectory_id, int(version), data)
        erased_clients = [e.originator_id for e in events if isinstance(e, Client.Erased)]
        for event in events:
            if not isinstance(event, Trajectory.Event):
                continue
            trajectory_id = event.originator_id
            if isinstance(event, Trajectory.Referred):
                touched[trajectory_id] = cast(Trajectory, event.mutate(None))
            elif (
                trajectory_id in erased
                and event.originator_version <= touched[trajectory_id].version
            ):
                continue  # reloaded: the trajectory has this event already
            else:
                touched[trajectory_id] = cast(Trajectory, event.mutate(touched[trajectory_id]))
        for client_id in erased_clients:
            rows = tx.fetchall(
                f"SELECT id FROM rm_trajectories{suffix} WHERE client_id = ?", (str(client_id),)
            )
            ids_of_client = {UUID(r[0]) for r in rows} | {
                t.id for t in touched.values() if t.client_id == client_id
            }
            if self.share is not None:  # the other shares' rows are theirs to rewrite
                k, shares = self.share
                ids_of_client = {i for i in ids_of_client if share_of(i, shares) == k}
            for trajectory_id in ids_of_client:
                touched[trajectory_id] = self._reloaded(trajectory_id, erased)
        keys: dict[UUID, bytes] = {}
        for trajectory_id in [t for t in touched if t not in erased]:
            key = self.keys.key_for(trajectory_id)
            if key is None:  # erased while this batch was folded: nothing of it is stored
                touched[trajectory_id] = self._reloaded(trajectory_id, erased)
            else:
                keys[trajectory_id] = key
        if touched:
            self._write(tx, list(touched.values()), suffix, keys, fresh)

    def _reloaded(self, trajectory_id: UUID, erased: set[UUID]) -> Trajectory:
        """The trajectory read afresh from the store: without its keys, placeholders only."""
        if self.reload is None:
            raise RuntimeError("plan_state needs reload to process an erasure")
        erased.add(trajectory_id)
        return self.reload(trajectory_id)

    @staticmethod
    def _write(
        tx: Tx,
        trajectories: list[Trajectory],
        suffix: str,
        keys: dict[UUID, bytes],
        fresh: set[UUID],
    ) -> None:
        """Upsert the rows (insert those of ``fresh`` trajectories: ``COPY`` on PostgreSQL);
        ``keys`` seal those not erased (an erased one has no key here)."""
        rows: list[tuple[Any, ...]] = []
        new_rows: list[tuple[Any, ...]] = []
        parties: list[tuple[Any, ...]] = []
        for t in trajectories:
            board = board_columns(t)
            key = keys.get(t.id)
            open_escalations = [e for e in t.escalations.values() if e.resolved_at is None]
            block = t.current_block
            reasons = sorted(
                {r.value for r in (block.reasons if block else ())}
                | {e.reason.value for e in open_escalations}
            )
            row: tuple[Any, ...] = (
                uuid_text(t.id),
                t.version,
                uuid_text(t.client_id),
                t.status.value,
                t.sector.value,
                t.region,
                t.referrer_organisation,
                t.coordinating_organisation,
                iso(t.referred_at),
                iso(t.last_recorded_at),
                t.next_consultation_on.isoformat() if t.next_consultation_on else None,
                t.next_evaluation_on.isoformat() if t.next_evaluation_on else None,
                iso(block.since) if block else None,
                len(open_escalations),
                iso(min((e.raised_at for e in open_escalations), default=None)),
                "," + ",".join(reasons) + "," if reasons else "",
                len(t.missed_deadlines),
                ",".join(t.open_missed_deadlines),
                iso(stuck_anchor(t)),
                *board,
                int(key is None),
                iso(t.closed_at)
                if t.closed_at
                else (iso(t.last_recorded_at) if t.status == Status.DECLINED else None),
                *_sealed_or_plain(
                    key,
                    uuid_text(t.id),
                    state=encode_state(t),
                    doc=_ENCODER.encode(trajectory_view(t, erased=key is None)),
                ),
            )
            (new_rows if t.id in fresh else rows).append(row)
            parties.extend((org, row[0], row[8], *board) for org in t.parties)
        for start in range(0, len(rows), 500):  # a fresh trajectory has no parties yet
            chunk = [row[0] for row in rows[start : start + 500]]
            tx.execute(
                f"DELETE FROM rm_trajectory_parties{suffix} "
                f"WHERE trajectory_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        tx.insert_rows(f"rm_trajectories{suffix}", _COLUMNS, new_rows, _TYPES)
        tx.executemany(
            f"INSERT INTO rm_trajectories{suffix} ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_COLUMNS))}) "
            "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
            "status = excluded.status, coordinating_organisation = "
            "excluded.coordinating_organisation, last_recorded_at = excluded.last_recorded_at, "
            "next_consultation_on = excluded.next_consultation_on, "
            "next_evaluation_on = excluded.next_evaluation_on, "
            "blocked_since = excluded.blocked_since, open_escalations = excluded.open_escalations, "
            "oldest_open_escalation_at = excluded.oldest_open_escalation_at, "
            "reasons = excluded.reasons, missed_deadlines = excluded.missed_deadlines, "
            "open_deadlines = excluded.open_deadlines, stuck_anchor = excluded.stuck_anchor, "
            + "".join(f"{c} = excluded.{c}, " for c in BOARD_COLUMNS)
            + "erased = excluded.erased, "
            "ended_at = excluded.ended_at, "
            "state = excluded.state, doc = excluded.doc",
            rows,
        )
        tx.insert_rows(f"rm_trajectory_parties{suffix}", _PARTY_COLUMNS, parties, _PARTY_TYPES)


def _sealed_or_plain(key: bytes | None, trajectory_id: str, **columns: bytes) -> list[bytes]:
    """The columns sealed under ``key``, or as they are for an erased trajectory (no key)."""
    if key is None:
        return list(columns.values())
    return [seal_column(key, trajectory_id, name, value) for name, value in columns.items()]
