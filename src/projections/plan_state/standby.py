"""The board and the trajectory list read on a hot standby, shown as the primary allows (issue
#20 point 4).

The heavy part of both (scanning an organisation's or a region's trajectories, computing since
when each is stuck, sorting, cutting a page) runs on the standby. Which rows the caller may see
is then decided on the primary: one query by primary key for the page's trajectory ids
(``PlanStateQueries.in_scope``), so the primary's cost is a page, not the scope. A row the
standby still shows an organisation that the primary no longer names as a party (an agreement
ended), or in a region or sector the primary does not hold, is left out: a lagging standby never
shows what the primary withholds. A row the primary has and the standby not yet replayed is
missing, as any read behind the log (``min_position`` waits for the standby's own position).

Chosen over passing the primary's access set to the standby's query: that set is the whole
scope (every trajectory an organisation was ever party to, or a region's), fetched and sent
again on every request, while a page is at most a few hundred ids.

When the primary leaves rows out, the page is asked again of the standby, twice as long, until
it is full or the standby has no more (at most ``_MAX_FETCH`` rows), so a page is short only
when more than that were withheld in a row.
"""

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from projections.plan_state.board import Board, BoardFilter
from projections.plan_state.listing import ListFilter, TrajectoryPage, encode_cursor
from projections.plan_state.queries import PlanStateQueries
from projections.store import iso

#: The longest page asked of the standby while refilling one the primary cut short.
_MAX_FETCH = 2000


class PlanStateLists(Protocol):
    """The board and the list, on one database or on a standby checked against the primary."""

    async def board(self, f: BoardFilter, now: datetime) -> Board: ...

    async def trajectories(self, f: ListFilter) -> TrajectoryPage: ...


class StandbyLists:
    """``board`` and ``trajectories`` of ``standby``, each row kept only if ``primary`` puts
    it in the filter's scope (organisation as a party, region, sector) now."""

    def __init__(self, primary: PlanStateQueries, standby: PlanStateQueries) -> None:
        self.primary = primary
        self.standby = standby

    async def board(self, f: BoardFilter, now: datetime) -> Board:
        fetch = f.limit
        while True:
            board = await self.standby.board(replace(f, limit=fetch), now)
            rows = board.trajectories
            allowed = await self.primary.in_scope(f, [r.id for r in rows])
            kept = [r for r in rows if r.id in allowed]
            if len(kept) >= f.limit or len(rows) < fetch or fetch >= _MAX_FETCH:
                return Board(as_of=board.as_of, idle_days=f.idle_days, trajectories=kept[: f.limit])
            fetch = min(fetch * 2, _MAX_FETCH)

    async def trajectories(self, f: ListFilter) -> TrajectoryPage:
        """Raises ``listing.InvalidCursor``, as the list does."""
        fetch = f.limit
        while True:
            page = await self.standby.trajectories(replace(f, limit=fetch))
            allowed = await self.primary.in_scope(f, [i.id for i in page.items])
            kept = [i for i in page.items if i.id in allowed]
            if len(kept) >= f.limit or page.next_cursor is None or fetch >= _MAX_FETCH:
                break
            fetch = min(fetch * 2, _MAX_FETCH)
        more = len(kept) > f.limit or page.next_cursor is not None
        items = kept[: f.limit]
        if not more:
            return TrajectoryPage(items=items, next_cursor=None)
        if not items:  # all withheld: go on after the last row the standby gave
            return TrajectoryPage(items=[], next_cursor=page.next_cursor)
        last = items[-1]
        return TrajectoryPage(
            items=items, next_cursor=encode_cursor(str(iso(last.referred_at)), str(last.id))
        )


def plan_state_lists(primary: PlanStateQueries, standby: PlanStateQueries | None) -> PlanStateLists:
    """The board and list of the primary alone, or of the standby checked against it."""
    return primary if standby is None else StandbyLists(primary, standby)
