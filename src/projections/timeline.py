"""Escalation timeline: per trajectory, the ordered story of what happened and who recorded it.

Entries are ordered by when they happened in the world (``occurred_at``), then by log position.
Each names its actor and when it was recorded. Entries carry structured facts only (kinds,
levels, reason categories, parties, dates), never free text. This module owns ``rm_timeline``:
its DDL, its writer (``TimelineProjection``) and its query (``TimelineQueries``).
"""

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from application.codec import in_the_clear
from application.uuid_text import uuid_text
from domain.trajectory import Trajectory
from projections.runner import Runner
from projections.store import Tx, iso

_ENCODER = msgspec.json.Encoder()
_COLUMNS = (
    "trajectory_id", "position", "version", "occurred_at", "recorded_at", "kind", "actor_user",
    "actor_organisation", "actor_role", "on_behalf_of", "blocked_days", "detail",
)  # fmt: skip
#: Their PostgreSQL types, for a binary ``COPY`` (``Tx.insert_rows``).
_TYPES = ("text", "int8", "int4", *("text",) * 7, "int4", "text")


class Actor(msgspec.Struct):
    user_id: str
    organisation: str
    role: str
    on_behalf_of: str | None


class TimelineEntry(msgspec.Struct):
    position: int
    version: int
    occurred_at: datetime
    recorded_at: datetime
    kind: str
    actor: Actor
    detail: msgspec.Raw
    blocked_days: int | None = None


class Timeline(msgspec.Struct):
    trajectory_id: UUID
    entries: list[TimelineEntry]


T = Trajectory


#: The facts each event on the timeline carries, in order: its fields, or one of ``_WORKED_OUT``.
#: An event not named here is not on the timeline.
_FACTS: dict[type[Any], tuple[str, ...]] = {
    T.Referred: ("sector", "region", "referrer_organisation"),
    T.Accepted: ("coordinating_organisation",),
    T.Declined: (),
    T.ContinuedFrom: ("previous_trajectory_id",),
    T.ContinuedBy: ("next_trajectory_id", "organisation"),
    T.FollowUpContacted: ("contacted_party",),
    T.ConsultationHeld: ("kind", "participants", "client_involvement", "next_consultation_on"),
    T.ConsultationWaived: ("kind",),
    T.RoleAgreementProposed: ("agreement_id", "parties"),
    T.RoleAgreementAccepted: ("agreement_id", "party"),
    T.RoleAgreementDeclined: ("agreement_id", "party"),
    T.RoleAgreementEnded: ("agreement_id",),
    T.PlanSigned: ("plan_version", "signatory", "representative_ref", "valid_until"),
    T.PlanSignedInPart: ("signatory", "representative_ref"),
    T.ConsultationInputGiven: ("for_kind", "given_by"),  # the statement is in the plan state
    T.Evaluated: ("pdca_phase", "blocking", "next_evaluation_on"),
    T.EscalationRaised: ("escalation_id", "level", "reason"),
    T.EscalationLevelChanged: ("escalation_id", "from_level", "to_level"),
    T.EscalationResolved: ("escalation_id",),
    T.Blocked: ("reasons",),
    T.Unblocked: (),  # the blocked duration is added by the projection
    T.HandedOver: ("from_party", "to_party", "scopes", "transfers_coordination"),
    T.DeadlineMissed: ("rule", "due_on"),
    T.DeadlineReminderIssued: ("rule", "due_on"),
    T.DeadlineMetLate: ("rule", "due_on", "met_on"),
    T.FindingShared: ("region",),
    T.Closed: ("follow_up_by", "follow_up_named"),
}

#: Facts worked out from an event: organisations and parties only, never a person's details.
_WORKED_OUT: dict[str, Callable[[Any], Any]] = {
    # The organisations only: the items as stored in the clear do (their ``person_ref`` is
    # sealed, and left shut: issue #22).
    "participants": lambda event: sorted(
        {p.organisation for p in in_the_clear(event, "participants")}
    ),
    "parties": lambda event: sorted({a.party for a in event.assignments}),
    "follow_up_named": lambda event: event.follow_up_by is not None,
}


def _detail(event: Any) -> dict[str, Any] | None:
    """The structured facts of an event that belongs on the timeline, or None."""
    facts = _FACTS.get(type(event))
    if facts is None:
        return None
    return {
        name: _WORKED_OUT[name](event) if name in _WORKED_OUT else getattr(event, name)
        for name in facts
    }


def _kind(event: Any) -> str:
    """``ConsultationHeld`` → ``consultation_held``: the event's name is the entry's kind."""
    return _kind_of(event.__class__.__name__)


@functools.cache
def _kind_of(name: str) -> str:
    """Worked out once per event class (a rebuild asks for millions of events)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class TimelineProjection:
    """``rm_timeline``: one row per event that tells the trajectory's story."""

    name = "timeline"
    version = 2
    tables: tuple[str, ...] = ("rm_timeline",)
    #: Structured facts only: an erasure rewrites nothing here.
    personal_tables: tuple[str, ...] = ()
    #: Every row is one trajectory's, built from its events alone: a rebuild may split the
    #: work by record.
    by_record = True
    #: The events it takes in (a share of a split rebuild reads no others).
    consumes: tuple[type[Any], ...] = (Trajectory.Event,)

    def ddl(self, suffix: str, generation: str) -> list[str]:
        t = f"rm_timeline{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "trajectory_id TEXT NOT NULL, position BIGINT NOT NULL, version INTEGER NOT NULL, "
            "occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, kind TEXT NOT NULL, "
            "actor_user TEXT NOT NULL, actor_organisation TEXT NOT NULL, actor_role TEXT NOT NULL, "
            "on_behalf_of TEXT, blocked_days INTEGER, detail TEXT NOT NULL, "
            "PRIMARY KEY (trajectory_id, position))",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_timeline_kind "
            f"ON {t} (trajectory_id, kind, position)",
        ]

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]], suffix: str) -> None:
        rows = []
        blocked_since: dict[UUID, datetime] = {}
        for position, event in events:
            if not isinstance(event, Trajectory.Event):
                continue
            detail = _detail(event)
            if detail is None:
                continue
            blocked_days = None
            if isinstance(event, T.Blocked):
                blocked_since[event.originator_id] = event.occurred_at
            elif isinstance(event, T.Unblocked):
                since = blocked_since.pop(event.originator_id, None) or self._last_block(
                    tx, event.originator_id, suffix
                )
                if since is not None:
                    blocked_days = max(0, (event.occurred_at - since).days)
            actor = event.actor
            rows.append(
                (
                    uuid_text(event.originator_id),
                    position,
                    event.originator_version,
                    iso(event.occurred_at),
                    iso(event.timestamp),
                    _kind(event),
                    actor.user_id,
                    actor.organisation,
                    actor.role,
                    actor.on_behalf_of,
                    blocked_days,
                    _ENCODER.encode(detail).decode(),
                )
            )
        if rows:
            # Each row is a new position in the log: nothing to conflict with.
            tx.insert_rows(f"rm_timeline{suffix}", _COLUMNS, rows, _TYPES)

    @staticmethod
    def _last_block(tx: Tx, trajectory_id: UUID, suffix: str) -> datetime | None:
        rows = tx.fetchall(
            f"SELECT occurred_at FROM rm_timeline{suffix} "
            "WHERE trajectory_id = ? AND kind = 'blocked' ORDER BY position DESC LIMIT 1",
            (str(trajectory_id),),
        )
        return datetime.fromisoformat(rows[0][0]) if rows else None


class TimelineQueries:
    """The timeline's query, independent of the driver that runs it."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def of_trajectory(self, trajectory_id: UUID) -> Timeline | None:
        """The trajectory's entries in the order they happened; None if it has none."""
        rows = await self.runner.fetch(
            "SELECT position, version, occurred_at, recorded_at, kind, actor_user, "
            "actor_organisation, actor_role, on_behalf_of, blocked_days, detail "
            "FROM rm_timeline WHERE trajectory_id = ? ORDER BY occurred_at, position",
            [str(trajectory_id)],
        )
        if not rows:
            return None
        return Timeline(
            trajectory_id=trajectory_id,
            entries=[
                TimelineEntry(
                    position=int(r[0]),
                    version=int(r[1]),
                    occurred_at=datetime.fromisoformat(r[2]),
                    recorded_at=datetime.fromisoformat(r[3]),
                    kind=r[4],
                    actor=Actor(user_id=r[5], organisation=r[6], role=r[7], on_behalf_of=r[8]),
                    blocked_days=r[9],
                    detail=msgspec.Raw(r[10].encode() if isinstance(r[10], str) else r[10]),
                )
                for r in rows
            ],
        )
