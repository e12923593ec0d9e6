"""The API's queries on the read models: one plain SQL query per view.

The SQL is shared by both databases; the driver modules ``read_sqlite`` and ``read_postgres``
run it (SQLite in a worker thread, asyncpg on PostgreSQL). Nothing here replays events.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import msgspec

from domain.common import ReasonCategory, Sector
from domain.trajectory import Status
from projections.plan_state import iso


class InvalidCursor(ValueError):
    """A pagination cursor this API did not give out."""


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


class BoardRow(msgspec.Struct):
    id: UUID
    status: Status
    sector: Sector
    region: str
    coordinating_organisation: str | None
    stuck_since: datetime
    days_stuck: int
    reasons: list[ReasonCategory]
    open_escalations: int
    blocked_since: datetime | None
    overdue: list[str]
    missed_deadlines: int


class Board(msgspec.Struct):
    as_of: datetime
    idle_days: int
    trajectories: list[BoardRow]


class TrajectorySummary(msgspec.Struct):
    id: UUID
    version: int
    status: Status
    sector: Sector
    region: str
    referrer_organisation: str
    coordinating_organisation: str | None
    referred_at: datetime


class TrajectoryPage(msgspec.Struct):
    items: list[TrajectorySummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A plan-state document as stored: sealed, unless the trajectory's client was erased
    (``projections.plan_state.open_document`` opens it)."""

    trajectory_id: UUID
    version: int
    erased: bool
    stored: bytes


@dataclass(frozen=True, slots=True)
class BoardFilter:
    organisation: str | None = None
    region: str | None = None
    sector: Sector | None = None
    reason: ReasonCategory | None = None
    min_days: int = 0
    idle_days: int = 90
    limit: int = 100


@dataclass(frozen=True, slots=True)
class ListFilter:
    status: Status | None = None
    region: str | None = None
    sector: Sector | None = None
    organisation: str | None = None
    limit: int = 50
    cursor: str | None = None


class Runner(Protocol):
    #: ``sqlite`` or ``postgres``: the few places the SQL differs.
    dialect: str

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]: ...


#: Sorts after every timestamp the read models hold: "not a reason to be stuck".
_NEVER = "9999-12-31T23:59:59.999999+00:00"

#: Trajectories that can be stuck: a referral never accepted is stuck too.
_ACTIVE = ("referred", "accepted", "active", "blocked")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def encode_cursor(referred_at: str, trajectory_id: str) -> str:
    return base64.urlsafe_b64encode(f"{referred_at}|{trajectory_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The position a cursor names; only a cursor exactly as ``encode_cursor`` wrote it.

    Parsing alone is lenient (base64 skips stray characters, ``fromisoformat`` took a NUL after
    the offset), and what it let through reached the SQL: a NUL made PostgreSQL fail (issue
    #10). Re-encoding what was parsed and comparing refuses every cursor this API did not give
    out, on both databases alike.
    """
    refused = InvalidCursor("cursor is not one this API gave out; start without it")
    try:
        referred_at, trajectory_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        canonical = encode_cursor(
            str(iso(datetime.fromisoformat(referred_at))), str(UUID(trajectory_id))
        )
    except (ValueError, binascii.Error, UnicodeError, OverflowError):
        raise refused from None
    if canonical != cursor:
        raise refused
    return referred_at, trajectory_id


class ReadModelQueries:
    """The queries, independent of the driver that runs them."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def timeline(self, trajectory_id: UUID) -> Timeline | None:
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

    async def board(self, f: BoardFilter, now: datetime) -> Board:
        """Blocked or at-risk trajectories, longest stuck first (DESIGN §5, issue #3).

        At risk: an open escalation, a consultation overdue (the planned date has passed), a
        missed deadline not yet met, or nothing recorded for ``idle_days``.
        """
        today = now.astimezone(UTC).date()
        idle_cutoff = now - timedelta(days=f.idle_days)
        # Since when each is stuck, computed by the database so that it sorts and cuts off the
        # page: the projection's time-independent ``stuck_anchor`` (blocked, open escalation,
        # missed deadline), an overdue consultation, a silence longer than ``idle_days``. The
        # smallest of three (NULL: not a reason) is LEAST on PostgreSQL, MIN on SQLite, with a
        # sentinel for NULL so both ignore it alike.
        least = "LEAST" if self.runner.dialect == "postgres" else "MIN"
        stuck = (
            f"NULLIF({least}(COALESCE(t.stuck_anchor, '{_NEVER}'), "
            "CASE WHEN t.next_consultation_on < ? "
            f"THEN t.next_consultation_on || 'T00:00:00.000000+00:00' ELSE '{_NEVER}' END, "
            f"CASE WHEN t.last_recorded_at < ? THEN t.last_recorded_at ELSE '{_NEVER}' END), "
            f"'{_NEVER}')"
        )
        # An organisation's board starts from its own rows in the parties table (its index),
        # not from every active trajectory of the register.
        source = (
            "rm_trajectory_parties p JOIN rm_trajectories t ON t.id = p.trajectory_id "
            "WHERE p.organisation = ? AND"
            if f.organisation is not None
            else "rm_trajectories t WHERE"
        )
        sql = [
            "SELECT * FROM (SELECT t.id, t.status, t.sector, t.region, "
            "t.coordinating_organisation, t.blocked_since, t.open_escalations, "
            "t.oldest_open_escalation_at, t.next_consultation_on, t.last_recorded_at, t.reasons, "
            f"t.missed_deadlines, t.open_deadlines, {stuck} AS stuck FROM {source} "
            "t.status IN (?, ?, ?, ?) AND (t.status = 'blocked' OR t.open_escalations > 0 "
            "OR t.next_consultation_on < ? OR t.last_recorded_at < ? OR t.open_deadlines <> '')"
        ]
        params: list[Any] = [
            today.isoformat(),
            iso(idle_cutoff),
            *([f.organisation] if f.organisation is not None else []),
            *_ACTIVE,
            today.isoformat(),
            iso(idle_cutoff),
        ]
        self._common_filters(sql, params, f.region, f.sector, None)
        if f.reason is not None:
            sql.append("AND t.reasons LIKE ?")
            params.append(f"%,{f.reason.value},%")
        sql.append(") AS b WHERE stuck <= ? ORDER BY stuck, id LIMIT ?")
        params += [iso(now - timedelta(days=f.min_days)), f.limit]
        rows = await self.runner.fetch(" ".join(sql), params)
        board = [self._board_row(r, now, today, idle_cutoff) for r in rows]
        return Board(as_of=now, idle_days=f.idle_days, trajectories=board)

    @staticmethod
    def _board_row(
        r: tuple[Any, ...], now: datetime, today: date, idle_cutoff: datetime
    ) -> BoardRow:
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
        # Since when: computed by the query (it sorted on it); here only the reasons in words.
        overdue: list[str] = []
        if oldest_escalation:
            overdue.append(f"{open_escalations} open escalation(s) since {oldest_escalation[:10]}")
        if next_consultation_on and date.fromisoformat(next_consultation_on) < today:
            overdue.append(f"consultation planned for {next_consultation_on}")
        if datetime.fromisoformat(last_recorded_at) < idle_cutoff:
            overdue.append(f"nothing recorded since {last_recorded_at[:10]}")
        for deadline in filter(None, open_deadlines.split(",")):
            rule, _, due_text = deadline.partition("@")
            overdue.append(f"missed deadline {rule}, due {due_text}")
        stuck_since = datetime.fromisoformat(stuck) if stuck else now
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
            blocked_since=_dt(blocked_since),
            overdue=overdue,
            missed_deadlines=int(missed),
        )

    async def trajectories(self, f: ListFilter) -> TrajectoryPage:
        # An organisation's list walks its own index (organisation, referred_at, id) on the
        # parties table, newest first, instead of sorting all of its trajectories.
        by_party = f.organisation is not None
        order = (
            "p.referred_at DESC, p.trajectory_id DESC" if by_party else "referred_at DESC, id DESC"
        )
        sql = [
            "SELECT t.id, t.version, t.status, t.sector, t.region, t.referrer_organisation, "
            "t.coordinating_organisation, t.referred_at FROM "
            + (
                "rm_trajectory_parties p JOIN rm_trajectories t ON t.id = p.trajectory_id "
                "WHERE p.organisation = ?"
                if by_party
                else "rm_trajectories t WHERE 1 = 1"
            )
        ]
        params: list[Any] = [f.organisation] if by_party else []
        if f.status is not None:
            sql.append("AND t.status = ?")
            params.append(f.status.value)
        if f.region is not None:
            sql.append("AND t.region = ?")
            params.append(f.region)
        if f.sector is not None:
            sql.append("AND t.sector = ?")
            params.append(f.sector.value)
        if f.cursor:
            referred_at, last_id = decode_cursor(f.cursor)
            column, key = (
                ("p.referred_at", "p.trajectory_id") if by_party else ("t.referred_at", "t.id")
            )
            sql.append(f"AND ({column} < ? OR ({column} = ? AND {key} < ?))")
            params += [referred_at, referred_at, last_id]
        sql.append(f"ORDER BY {order} LIMIT ?")
        params.append(f.limit + 1)
        rows = await self.runner.fetch(" ".join(sql), params)
        items = [
            TrajectorySummary(
                id=UUID(r[0]),
                version=int(r[1]),
                status=Status(r[2]),
                sector=Sector(r[3]),
                region=r[4],
                referrer_organisation=r[5],
                coordinating_organisation=r[6],
                referred_at=datetime.fromisoformat(r[7]),
            )
            for r in rows[: f.limit]
        ]
        next_cursor = (
            encode_cursor(rows[f.limit - 1][7], rows[f.limit - 1][0])
            if len(rows) > f.limit
            else None
        )
        return TrajectoryPage(items=items, next_cursor=next_cursor)

    @staticmethod
    def _common_filters(
        sql: list[str],
        params: list[Any],
        region: str | None,
        sector: Sector | None,
        organisation: str | None,
    ) -> None:
        if region is not None:
            sql.append("AND region = ?")
            params.append(region)
        if sector is not None:
            sql.append("AND sector = ?")
            params.append(sector.value)
        if organisation is not None:
            sql.append(
                "AND id IN (SELECT trajectory_id FROM rm_trajectory_parties WHERE organisation = ?)"
            )
            params.append(organisation)

    async def access_info(self, trajectory_id: UUID) -> tuple[UUID, str, list[str]] | None:
        """(client, region, parties) of a trajectory: what the access policy decides on."""
        rows = await self.runner.fetch(
            "SELECT t.client_id, t.region, p.organisation FROM rm_trajectories t "
            "LEFT JOIN rm_trajectory_parties p ON p.trajectory_id = t.id WHERE t.id = ?",
            [str(trajectory_id)],
        )
        if not rows:
            return None
        return UUID(rows[0][0]), rows[0][1], [r[2] for r in rows if r[2] is not None]

    async def plan_state_with_access(
        self, trajectory_id: UUID
    ) -> tuple[tuple[UUID, str, list[str]], StoredDocument] | None:
        """``access_info`` and the plan-state document in one round trip: ((client, region,
        parties), document as stored). The document is opened and sent only after the caller
        decided on access."""
        rows = await self.runner.fetch(
            "SELECT client_id, region, version, doc, erased, NULL FROM rm_trajectories "
            "WHERE id = ? UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, organisation "
            "FROM rm_trajectory_parties WHERE trajectory_id = ?",
            [str(trajectory_id), str(trajectory_id)],
        )
        head = next((r for r in rows if r[0] is not None), None)
        if head is None:
            return None
        client_id, region, version, doc, erased, _ = head
        parties = [r[5] for r in rows if r[0] is None]
        document = StoredDocument(trajectory_id, int(version), bool(erased), bytes(doc))
        return (UUID(str(client_id)), region, parties), document

    async def client_regions(self, client_id: UUID) -> set[str]:
        rows = await self.runner.fetch(
            "SELECT DISTINCT region FROM rm_trajectories WHERE client_id = ?", [str(client_id)]
        )
        return {r[0] for r in rows}

    async def clients_in_region(self, region: str) -> set[UUID]:
        """The clients with a trajectory in ``region``: those an auditor of the region sees."""
        rows = await self.runner.fetch(
            "SELECT DISTINCT client_id FROM rm_trajectories WHERE region = ?", [region]
        )
        return {UUID(str(r[0])) for r in rows}

    async def trajectories_in_region(self, region: str) -> set[UUID]:
        """The trajectories of ``region``: the only ones whose reads its auditor sees in the
        personal-data read log (a client may have trajectories in other regions too)."""
        rows = await self.runner.fetch("SELECT id FROM rm_trajectories WHERE region = ?", [region])
        return {UUID(str(r[0])) for r in rows}

    async def retention_due(self, ended_before: datetime) -> list[tuple[UUID, datetime]]:
        """Clients whose trajectories all ended before the cut-off, not yet erased (004)."""
        rows = await self.runner.fetch(
            "SELECT client_id, MAX(ended_at) FROM rm_trajectories GROUP BY client_id "
            "HAVING SUM(CASE WHEN ended_at IS NULL THEN 1 ELSE 0 END) = 0 "
            "AND MAX(ended_at) < ? AND MAX(erased) = 0 ORDER BY MAX(ended_at)",
            [iso(ended_before)],
        )
        return [(UUID(r[0]), datetime.fromisoformat(r[1])) for r in rows]

    async def positions(self) -> dict[str, int]:
        rows = await self.runner.fetch("SELECT name, position FROM rm_tracking", [])
        return {str(name): int(position) for name, position in rows if ":" not in str(name)}
