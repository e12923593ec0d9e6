"""The board and the list read on a standby and kept as the primary allows (issue #20 point 4),
on both backends: the primary's batched scope check (``PlanStateQueries.in_scope``), and the
page refilled and its cursor carried on when the primary withholds rows.

The standby here is the app's own read model; the "primary" withholds the trajectories a
test names, as a primary does whose agreement ended while the standby still shows the party.
The real streaming replica is ``test_read_replica``.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import anyio
from litestar.testing import TestClient

from projections.plan_state.board import BoardFilter
from projections.plan_state.listing import ListFilter
from projections.plan_state.queries import PlanStateQueries
from projections.plan_state.scope import Scope
from projections.plan_state.standby import StandbyLists
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import token_factory
from tests.e2e.steps import at, bearer

App = tuple[Settings, Container, TestClient]  # type: ignore[type-arg]


class Withholding(PlanStateQueries):
    """A primary that no longer puts ``withheld`` in anyone's scope."""

    def __init__(self, queries: PlanStateQueries, withheld: set[UUID]) -> None:
        super().__init__(queries.runner)
        self.withheld = withheld

    async def in_scope(self, scope: Scope, trajectory_ids: Sequence[UUID]) -> set[UUID]:
        return await super().in_scope(scope, trajectory_ids) - self.withheld


def referred(app: App, count: int) -> list[UUID]:
    """``count`` trajectories referred by org-a in West Flanders, newest last."""
    settings, _, http = app
    auth = bearer(token_factory(settings)(user="user@org-a", org="org-a"))
    ids = []
    for n in range(count):
        client = http.post("/v1/clients", json={"occurred_at": at(n)}, headers=auth).json()
        referral = {
            "occurred_at": at(n + 0.5),
            "client_id": client["id"],
            "question": "Support at home",
            "sector": "youth_care",
            "region": "west-flanders",
        }
        answer = http.post("/v1/trajectories", json=referral, headers=auth)
        assert answer.status_code == 201, answer.text
        ids.append(UUID(answer.json()["id"]))
    return ids


def on_read_models(app: App, ask: Any) -> Any:
    """``ask(plan_state queries)`` on a pool of its own, in an event loop of its own."""

    async def run() -> Any:
        queries, runner = app[1].read_queries()
        try:
            return await ask(queries.plan_state)
        finally:
            await runner.close()

    return anyio.run(run)


def test_the_primary_answers_which_of_a_page_s_trajectories_are_in_the_caller_s_scope(
    private_app: App,
) -> None:
    ids = referred(private_app, 3)
    stranger = uuid4()

    async def ask(plan_state: PlanStateQueries) -> list[set[UUID]]:
        return [
            await plan_state.in_scope(Scope(organisation="org-a"), [*ids, stranger]),
            await plan_state.in_scope(Scope(organisation="org-b"), ids),
            await plan_state.in_scope(Scope(region="antwerp"), ids),
            await plan_state.in_scope(Scope(organisation="org-a", region="west-flanders"), ids[:2]),
            await plan_state.in_scope(Scope(organisation="org-a"), []),
        ]

    own, other_organisation, other_region, first_two, none = on_read_models(private_app, ask)

    assert own == set(ids)
    assert other_organisation == set()
    assert other_region == set()
    assert first_two == set(ids[:2])
    assert none == set()


def test_a_list_page_withheld_by_the_primary_is_refilled_and_its_cursor_walks_on(
    private_app: App,
) -> None:
    ids = referred(private_app, 6)
    newest_first = list(reversed(ids))
    withheld = {newest_first[1], newest_first[2], newest_first[4]}

    async def walk(plan_state: PlanStateQueries) -> list[list[UUID]]:
        lists = StandbyLists(Withholding(plan_state, withheld), plan_state)
        pages, cursor = [], None
        while True:
            page = await lists.trajectories(
                ListFilter(organisation="org-a", limit=2, cursor=cursor)
            )
            pages.append([item.id for item in page.items])
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor

    pages = on_read_models(private_app, walk)

    assert pages[0] == [newest_first[0], newest_first[3]]  # refilled past the two withheld
    assert [i for page in pages for i in page] == [i for i in newest_first if i not in withheld]


def test_the_board_withheld_by_the_primary_is_refilled_to_its_limit(private_app: App) -> None:
    ids = referred(private_app, 5)
    now = datetime.now(UTC)
    everything = BoardFilter(organisation="org-a", idle_days=1, limit=100)

    async def boards(plan_state: PlanStateQueries) -> tuple[list[UUID], list[UUID]]:
        whole = await plan_state.board(everything, now)
        order = [r.id for r in whole.trajectories]
        lists = StandbyLists(Withholding(plan_state, set(order[:2])), plan_state)
        shown = await lists.board(BoardFilter(organisation="org-a", idle_days=1, limit=2), now)
        return order, [r.id for r in shown.trajectories]

    order, shown = on_read_models(private_app, boards)

    assert sorted(order) == sorted(ids)  # nothing recorded for 60 days: all on the board
    assert shown == order[2:4]
