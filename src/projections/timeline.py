"""Escalation timeline: per trajectory, the ordered story of what happened and who recorded it.

Entries are ordered by when they happened in the world (``occurred_at``), then by log position.
Each names its actor and when it was recorded. Entries carry structured facts only (kinds,
levels, reason categories, parties, dates), never free text. This module owns ``rm_timeline``:
its DDL, its writer (``TimelineProjection``) and its query (``TimelineQueries``).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.trajectory import Trajectory
from projections.runner import Runner
from projections.store import Tx, iso

_ENCODER = msgspec.json.Encoder()


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


def _detail(event: Any) -> dict[str, Any] | None:
    """The structured facts of an event that belongs on the timeline, or None."""
    match event:
        case T.Referred():
            return {
                "sector": event.sector,
                "region": event.region,
                "referrer_organisation": event.referrer_organisation,
            }
        case T.Accepted():
            return {"coordinating_organisation": event.coordinating_organisation}
        case T.Declined():
            return {}
        case T.ContinuedFrom():
            return {"previous_trajectory_id": event.previous_trajectory_id}
        case T.FollowUpContacted():
            return {"contacted_party": event.contacted_party}
        case T.ConsultationHeld():
            return {
                "kind": event.kind,
                "participants": sorted({p.organisation for p in event.participants}),
                "client_involvement": event.client_involvement,
                "next_consultation_on": event.next_consultation_on,
            }
        case T.ConsultationWaived():
            return {"kind": event.kind}
        case T.RoleAgreementProposed():
            return {
                "agreement_id": event.agreement_id,
                "parties": sorted({a.party for a in event.assignments}),
            }
        case T.RoleAgreementAccepted() | T.RoleAgreementDeclined():
            return {"agreement_id": event.agreement_id, "party": event.party}
        case T.RoleAgreementEnded():
            return {"agreement_id": event.agreement_id}
        case T.PlanSigned():
            return {
                "plan_version": event.plan_version,
                "signatory": event.signatory,
                "representative_ref": event.representative_ref,
                "valid_until": event.valid_until,
            }
        case T.Evaluated():
            return {
                "pdca_phase": event.pdca_phase,
                "blocking": event.blocking,
                "next_evaluation_on": event.next_evaluation_on,
            }
        case T.EscalationRaised():
            return {
                "escalation_id": event.escalation_id,
                "level": event.level,
                "reason": event.reason,
            }
        case T.EscalationLevelChanged():
            return {
                "escalation_id": event.escalation_id,
                "from_level": event.from_level,
                "to_level": event.to_level,
            }
        case T.EscalationResolved():
            return {"escalation_id": event.escalation_id}
        case T.Blocked():
            return {"reasons": event.reasons}
        case T.Unblocked():
            return {}  # the blocked duration is added by the projection
        case T.HandedOver():
            return {
                "from_party": event.from_party,
                "to_party": event.to_party,
                "scopes": event.scopes,
                "transfers_coordination": event.transfers_coordination,
            }
        case T.DeadlineMissed() | T.DeadlineReminderIssued():
            return {"rule": event.rule, "due_on": event.due_on}
        case T.DeadlineMetLate():
            return {"rule": event.rule, "due_on": event.due_on, "met_on": event.met_on}
        case T.Closed():
            return {
                "follow_up_by": event.follow_up_by,
                "follow_up_named": event.follow_up_by is not None,
            }
    return None


def _kind(event: Any) -> str:
    """``ConsultationHeld`` → ``consultation_held``: the event's name is the entry's kind."""
    name = type(event).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class TimelineProjection:
    """``rm_timeline``: one row per event that tells the trajectory's story."""

    name = "timeline"
    version = 2
    tables: tuple[str, ...] = ("rm_timeline",)
    #: Structured facts only: an erasure rewrites nothing here.
    personal_tables: tuple[str, ...] = ()

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
                    str(event.originator_id),
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
            tx.executemany(
                f"INSERT INTO rm_timeline{suffix} (trajectory_id, position, version, occurred_at, "
                "recorded_at, kind, actor_user, actor_organisation, actor_role, on_behalf_of, "
                "blocked_days, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

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
