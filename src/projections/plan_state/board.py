"""The coordinators' board: blocked and at-risk trajectories, longest stuck first (DESIGN §5,
issue #3), as one query on the plan state's rows.

At risk: an open escalation, a consultation overdue (the planned date has passed), a missed
deadline not yet met, or nothing recorded for ``idle_days``.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec

from domain.common import ReasonCategory, Sector
from domain.trajectory import Status
from projections.plan_state.scope import Scope, scoped
from projections.store import iso


class BoardRow(msgspec.Struct):
    id: UUID
    status: Status
    sector: Sector
    region: str
    coordinating_organisation: str | None
    stuck_since: datetime
    days_stuck: Annotated[
        int,
        msgspec.Meta(
            description="Whole days since stuck_since: the earliest cause (a block, an open "
            "escalation, a missed deadline, an overdue consultation, a long silence)"
        ),
    ]
    reasons: list[ReasonCategory]
    open_escalations: int
    blocked_since: datetime | None
    days_blocked: Annotated[
        int | None,
        msgspec.Meta(
            description="Whole days since blocked_since (issue #17); null when not blocked. "
            "May be fewer than days_stuck when an earlier cause made it stuck first"
        ),
    ]
    overdue: list[str]
    missed_deadlines: int


class Board(msgspec.Struct):
    as_of: datetime
    idle_days: int
    trajectories: list[BoardRow]


@dataclass(frozen=True, slots=True)
class BoardFilter(Scope):
    reason: ReasonCategory | None = None
    min_days: int = 0
    idle_days: int = 90
    limit: int = 100


#: Sorts after every timestamp the read models hold: "not a reason to be stuck".
_NEVER = "9999-12-31T23:59:59.999999+00:00"

#: Trajectories that can be stuck: a referral never accepted is stuck too.
_ACTIVE = ("referred", "accepted", "active", "blocked")


def board_query(f: BoardFilter, now: datetime, dialect: str) -> tuple[str, list[Any]]:
    """The board's SQL and its parameters; its rows are read by ``board_row``."""
    today = now.astimezone(UTC).date()
    idle_cutoff = now - timedelta(days=f.idle_days)
    # Since when each is stuck, computed by the database so that it sorts and cuts off the
    # page: the projection's time-independent ``stuck_anchor`` (blocked, open escalation,
    # missed deadline), an overdue consultation, a silence longer than ``idle_days``. The
    # smallest of three (NULL: not a reason) is LEAST on PostgreSQL, MIN on SQLite, with a
    # sentinel for NULL so both ignore it alike.
    least = "LEAST" if dialect == "postgres" else "MIN"
    stuck = (
        f"NULLIF({least}(COALESCE(t.stuck_anchor, '{_NEVER}'), "
        "CASE WHEN t.next_consultation_on < ? "
        f"THEN t.next_consultation_on || 'T00:00:00.000000+00:00' ELSE '{_NEVER}' END, "
        f"CASE WHEN t.last_recorded_at < ? THEN t.last_recorded_at ELSE '{_NEVER}' END), "
        f"'{_NEVER}')"
    )
    source, in_scope = scoped(f)
    sql = [
        "SELECT * FROM (SELECT t.id, t.status, t.sector, t.region, "
        "t.coordinating_organisation, t.blocked_since, t.open_escalations, "
        "t.oldest_open_escalation_at, t.next_consultation_on, t.last_recorded_at, t.reasons, "
        f"t.missed_deadlines, t.open_deadlines, {stuck} AS stuck",
        *source,
        "AND t.status IN (?, ?, ?, ?) AND (t.status = 'blocked' OR t.open_escalations > 0 "
        "OR t.next_consultation_on < ? OR t.last_recorded_at < ? OR t.open_deadlines <> '')",
    ]
    params: list[Any] = [
        today.isoformat(),
        iso(idle_cutoff),
        *in_scope,
        *_ACTIVE,
        today.isoformat(),
        iso(idle_cutoff),
    ]
    if f.reason is not None:
        sql.append("AND t.reasons LIKE ?")
        params.append(f"%,{f.reason.value},%")
    sql.append(") AS b WHERE stuck <= ? ORDER BY stuck, id LIMIT ?")
    params += [iso(now - timedelta(days=f.min_days)), f.limit]
    return " ".join(sql), params


def board_row(r: tuple[Any, ...], f: BoardFilter, now: datetime) -> BoardRow:
    """One row of ``board_query``: since when it is stuck (the query computed it to sort on
    it), and here only the reasons in words."""
    (
        tid,
        status,
        sector,
        region,
        coordinator,
        blocked_since,
        open_escalations,
        oldest_escalation,
        next_consultation_on,
        last_recorded_at,
        reasons,
        missed,
        open_deadlines,
        stuck,
    ) = r
    today = now.astimezone(UTC).date()
    overdue: list[str] = []
    if oldest_escalation:
        overdue.append(f"{open_escalations} open escalation(s) since {oldest_escalation[:10]}")
    if next_consultation_on and date.fromisoformat(next_consultation_on) < today:
        overdue.append(f"consultation planned for {next_consultation_on}")
    if datetime.fromisoformat(last_recorded_at) < now - timedelta(days=f.idle_days):
        overdue.append(f"nothing recorded since {last_recorded_at[:10]}")
    for deadline in filter(None, open_deadlines.split(",")):
        rule, _, due_text = deadline.partition("@")
        overdue.append(f"missed deadline {rule}, due {due_text}")
    stuck_since = datetime.fromisoformat(stuck) if stuck else now
    blocked_at = datetime.fromisoformat(blocked_since) if blocked_since else None
    return BoardRow(
        id=UUID(tid),
        status=Status(status),
        sector=Sector(sector),
        region=region,
        coordinating_organisation=coordinator,
        stuck_since=stuck_since,
        days_stuck=max(0, (now - stuck_since).days),
        reasons=[ReasonCategory(x) for x in reasons.strip(",").split(",") if x],
        open_escalations=int(open_escalations),
        blocked_since=blocked_at,
        days_blocked=None if blocked_at is None else max(0, (now - blocked_at).days),
        overdue=overdue,
        missed_deadlines=int(missed),
    )
