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


#: The columns of a board row (``board_row``), before its "stuck since".
ROW_COLUMNS = (
    "t.id, t.status, t.sector, t.region, t.coordinating_organisation, t.blocked_since, "
    "t.open_escalations, t.oldest_open_escalation_at, t.next_consultation_on, "
    "t.last_recorded_at, t.reasons, t.missed_deadlines, t.open_deadlines"
)


def stuck_since(f: BoardFilter, now: datetime, dialect: str) -> tuple[str, list[Any]]:
    """The SQL of since when the trajectory ``t`` is stuck at ``now`` (NULL: it is not), and
    its parameters: the earliest of its ``stuck_anchor``, its consultation if planned before
    today, its last recording if more than ``idle_days`` ago."""
    # The smallest of three (NULL: not a reason) is LEAST on PostgreSQL, MIN on SQLite, with a
    # sentinel for NULL so both ignore it alike.
    least = "LEAST" if dialect == "postgres" else "MIN"
    sql = (
        f"NULLIF({least}(COALESCE(t.stuck_anchor, '{_NEVER}'), "
        "CASE WHEN t.next_consultation_on < ? "
        f"THEN t.next_consultation_on || 'T00:00:00.000000+00:00' ELSE '{_NEVER}' END, "
        f"CASE WHEN t.last_recorded_at < ? THEN t.last_recorded_at ELSE '{_NEVER}' END), "
        f"'{_NEVER}')"
    )
    today = now.astimezone(UTC).date()
    return sql, [today.isoformat(), iso(now - timedelta(days=f.idle_days))]


def board_query(f: BoardFilter, now: datetime, dialect: str) -> tuple[str, list[Any]]:
    """The board's SQL and its parameters; its rows are read by ``board_row``.

    A trajectory is stuck since the earliest of three moments: the projection's
    time-independent ``stuck_anchor`` (blocked, open escalation, missed deadline), a
    consultation planned before today, a last recording before ``idle_days`` ago. Each is kept
    in a column of its own beside the scope (``projection.BOARD_COLUMNS``: on the parties
    table per organisation, on the trajectory's row per region), indexed in order and NULL when
    the trajectory cannot be stuck. The page is the first ``limit`` of the three lists merged:
    a row's "stuck since" is one of its own three moments, and every row ahead of it in that
    moment's list is stuck as early or earlier (with the id to break a tie), so a row of the
    page is among the first ``limit`` of at least one list. Three short index scans, then
    "stuck since" of at most three pages of candidates, instead of a scan of the scope.
    """
    today = now.astimezone(UTC).date()
    idle_cutoff = str(iso(now - timedelta(days=f.idle_days)))
    latest = str(iso(now - timedelta(days=f.min_days)))  # stuck at the latest then
    # Each list's own condition: the moment is a reason, and no later than ``latest`` (a
    # consultation counts from midnight UTC of its day, so up to ``latest``'s day).
    components: list[tuple[str, str, list[Any]]] = [
        ("board_anchor", "{c} <= ?", [latest]),
        ("board_consultation_on", "{c} < ? AND {c} <= ?", [today.isoformat(), latest[:10]]),
        ("board_recorded_at", "{c} < ? AND {c} <= ?", [idle_cutoff, latest]),
    ]
    lists: list[str] = []
    stuck, params = stuck_since(f, now, dialect)
    source, scope_params, prefix, key = _scope_source(f)
    for column, condition, values in components:
        c = f"{prefix}.{column}"
        lists.append(
            f"SELECT {prefix}.{key} AS id {source} AND {condition.format(c=c)} "
            f"ORDER BY {c}, {prefix}.{key} LIMIT ?"
        )
        params += [*scope_params, *values, f.limit]
    candidates = " UNION ".join(f"SELECT id FROM ({q}) AS c{n}" for n, q in enumerate(lists))
    sql = (
        f"SELECT * FROM (SELECT {ROW_COLUMNS}, {stuck} AS stuck "
        f"FROM rm_trajectories t WHERE t.id IN ({candidates})) AS b "
        "WHERE stuck <= ? ORDER BY stuck, id LIMIT ?"
    )
    params += [latest, f.limit]
    return sql, params


def _scope_source(f: BoardFilter) -> tuple[str, list[Any], str, str]:
    """``FROM … WHERE …`` the board's candidates in ``f``'s scope with its reason, its
    parameters, and the alias and key column of the table whose board columns are read: an
    organisation's own rows of the parties table (joined to the trajectory only when a region,
    sector or reason narrows it further), or the trajectories."""
    if f.organisation is not None and f.region is None and f.sector is None and f.reason is None:
        own = "FROM rm_trajectory_parties p WHERE p.organisation = ?"
        return own, [f.organisation], "p", "trajectory_id"
    source, params = scoped(f)
    if f.reason is not None:
        source.append("AND t.reasons LIKE ?")
        params.append(f"%,{f.reason.value},%")
    if f.organisation is not None:
        return " ".join(source), params, "p", "trajectory_id"
    return " ".join(source), params, "t", "id"


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
