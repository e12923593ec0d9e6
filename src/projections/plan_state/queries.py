"""What the API asks of the plan state: one plain SQL query per question, no replay of events."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from projections.plan_state.board import Board, BoardFilter, board_query, board_row
from projections.plan_state.listing import ListFilter, TrajectoryPage, list_page, list_query
from projections.plan_state.scope import Scope, among
from projections.runner import Runner
from projections.store import iso

#: (client, region, parties) of a trajectory: what the access policy decides on.
AccessFacts = tuple[UUID, str, list[str]]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A plan-state document as stored: sealed, unless the trajectory's client was erased
    (``projections.plan_state.sealed.open_document`` opens it)."""

    trajectory_id: UUID
    version: int
    erased: bool
    stored: bytes


class PlanStateQueries:
    """The plan state's queries, independent of the driver that runs them."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def document_with_access(
        self, trajectory_id: UUID
    ) -> tuple[AccessFacts, StoredDocument] | None:
        """``access_info`` and the plan-state document in one round trip. The document is
        opened and sent only after the caller decided on access."""
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

    async def access_info(self, trajectory_id: UUID) -> AccessFacts | None:
        """(client, region, parties) of a trajectory: what the access policy decides on."""
        rows = await self.runner.fetch(
            "SELECT t.client_id, t.region, p.organisation FROM rm_trajectories t "
            "LEFT JOIN rm_trajectory_parties p ON p.trajectory_id = t.id WHERE t.id = ?",
            [str(trajectory_id)],
        )
        if not rows:
            return None
        return UUID(rows[0][0]), rows[0][1], [r[2] for r in rows if r[2] is not None]

    async def in_scope(self, scope: Scope, trajectory_ids: Sequence[UUID]) -> set[UUID]:
        """Of ``trajectory_ids``, those in ``scope`` here: asked of the primary for the rows a
        hot standby's board or list page holds (``plan_state.standby``). One query by the
        primary keys, whatever the size of the scope."""
        if not trajectory_ids:
            return set()
        sql, params = among(scope, [str(i) for i in trajectory_ids], self.runner.dialect)
        rows = await self.runner.fetch(sql, params)
        return {UUID(str(r[0])) for r in rows}

    async def board(self, f: BoardFilter, now: datetime) -> Board:
        """Blocked or at-risk trajectories, longest stuck first (``board``)."""
        sql, params = board_query(f, now, self.runner.dialect)
        rows = await self.runner.fetch(sql, params)
        return Board(
            as_of=now, idle_days=f.idle_days, trajectories=[board_row(r, f, now) for r in rows]
        )

    async def trajectories(self, f: ListFilter) -> TrajectoryPage:
        """A page of the list (``listing``). Raises ``listing.InvalidCursor``."""
        sql, params = list_query(f)
        return list_page(await self.runner.fetch(sql, params), f)

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
