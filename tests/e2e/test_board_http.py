"""The coordinators' board lists exactly the trajectories that are stuck, longest stuck first.

Stuck: blocked, an open escalation, a consultation overdue (its planned date has passed), a
missed deadline not yet met, or nothing recorded for ``idle_days`` (default 90) — and only while
the trajectory runs (accepted, active or blocked). Each test builds its trajectories in a
region of its own, and reads the board of that region.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.readside import COORDINATOR, PROVIDER, App, Trajectories, app_of_its_own
from tests.e2e.steps import Record
from tests.integration.databases import BACKENDS, require_backend


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    require_backend(request, request.param)
    with app_of_its_own(request.param, tmp_path_factory.mktemp("board"), inline=True) as built:
        yield built


@pytest.fixture
def build(app: App) -> Trajectories:
    """Trajectories of this test only, in a region of their own."""
    return Trajectories(app)


@pytest.fixture(scope="module")
def shared(app: App) -> Trajectories:
    """The region of the trajectories that the tests only read (built once per backend)."""
    return Trajectories(app)


@dataclass
class Stuck:
    """One trajectory for each way of being stuck, and some that are not stuck at all."""

    idle: Record
    blocked: Record
    overdue: Record
    missed_deadline: Record
    escalated: Record
    running_on_time: Record
    closed_with_open_escalation: Record
    declined_long_ago: Record
    just_referred: Record
    deadline_met_late: Record


def stuck_and_not(build: Trajectories) -> Stuck:
    """Stuck since: idle 200 days, blocked 40, overdue 25, deadline 15, escalated 10."""
    idle = build.active(started_days_ago=200, next_consultation_in=30, sector="mental_health")
    blocked = build.active(started_days_ago=60, next_consultation_in=20)
    build.block(blocked, 40, "waiting_list", "funding")
    overdue = build.active(started_days_ago=60, next_consultation_in=-25)
    missed_deadline = build.active(started_days_ago=50, next_consultation_in=10)
    build.missed_deadline(missed_deadline, "yearly_evaluation", due_in=-15)
    escalated = build.active(started_days_ago=30, next_consultation_in=20)
    build.escalate(escalated, 10, reason="capacity")

    running_on_time = build.active(started_days_ago=5, next_consultation_in=20)
    closed = build.active(started_days_ago=100, next_consultation_in=10)
    build.escalate(closed, 30, reason="cooperation")
    build.consult(closed, "end", 20, None)
    closed.post(
        "/closure",
        {"occurred_at": build.when.ago(19), "reason": "done", "follow_up_by": PROVIDER},
    )
    declined = build.referred(days_ago=200)
    declined.post("/declination", {"occurred_at": build.when.ago(199), "reason": "elsewhere"})
    just_referred = build.referred(days_ago=3)
    met_late = build.active(started_days_ago=50, next_consultation_in=10)
    build.missed_deadline(met_late, "yearly_evaluation", due_in=-15)
    build.met_late(met_late, "yearly_evaluation", due_in=-15, met_in=-10)
    return Stuck(
        idle=idle,
        blocked=blocked,
        overdue=overdue,
        missed_deadline=missed_deadline,
        escalated=escalated,
        running_on_time=running_on_time,
        closed_with_open_escalation=closed,
        declined_long_ago=declined,
        just_referred=just_referred,
        deadline_met_late=met_late,
    )


@pytest.fixture(scope="module")
def stuck(shared: Trajectories) -> Stuck:
    return stuck_and_not(shared)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


def test_the_board_lists_exactly_the_stuck_trajectories_longest_stuck_first(
    shared: Trajectories, stuck: Stuck
) -> None:
    assert ids(shared.board()) == [
        stuck.idle.id,
        stuck.blocked.id,
        stuck.overdue.id,
        stuck.missed_deadline.id,
        stuck.escalated.id,
    ]


def test_the_board_says_since_when_and_why_each_trajectory_is_stuck(
    shared: Trajectories, stuck: Stuck
) -> None:
    when = shared.when
    rows = {row["id"]: row for row in shared.board()}

    idle = rows[stuck.idle.id]
    assert idle["days_stuck"] == 200
    assert idle["reasons"] == []
    assert idle["overdue"] == [f"nothing recorded since {when.day(-200)}"]
    assert idle["status"] == "active"
    assert idle["sector"] == "mental_health"

    blocked = rows[stuck.blocked.id]
    assert blocked["status"] == "blocked"
    assert blocked["days_stuck"] == 40
    assert blocked["reasons"] == ["funding", "waiting_list"]
    assert blocked["blocked_since"] == blocked["stuck_since"]
    assert blocked["blocked_since"].startswith(when.day(-40))
    assert blocked["overdue"] == []

    overdue = rows[stuck.overdue.id]
    assert overdue["days_stuck"] == 25
    assert overdue["stuck_since"].startswith(f"{when.day(-25)}T00:00:00")
    assert overdue["overdue"] == [f"consultation planned for {when.day(-25)}"]

    missed = rows[stuck.missed_deadline.id]
    assert missed["days_stuck"] == 15
    assert missed["missed_deadlines"] == 1
    assert missed["overdue"] == [f"missed deadline yearly_evaluation, due {when.day(-15)}"]

    escalated = rows[stuck.escalated.id]
    assert escalated["days_stuck"] == 10
    assert escalated["open_escalations"] == 1
    assert escalated["reasons"] == ["capacity"]
    assert escalated["overdue"] == [f"1 open escalation(s) since {when.day(-10)}"]
    assert escalated["coordinating_organisation"] == COORDINATOR


def test_an_organisations_board_shows_the_trajectories_it_is_party_to_by_an_agreement_in_force(
    build: Trajectories,
) -> None:
    buddy = f"org-buddy-{build.region}"
    hesitant = f"org-hesitant-{build.region}"
    escalated = build.active(started_days_ago=30, next_consultation_in=20)
    build.escalate(escalated, 10)
    build.agreement(
        escalated, 9, "agreement-buddy", (COORDINATOR, "trajectory_guide"), (buddy, "buddy")
    )
    build.accept_agreement(escalated, 9, "agreement-buddy", COORDINATOR)
    build.accept_agreement(escalated, 8, "agreement-buddy", buddy)
    blocked = build.active(started_days_ago=60, next_consultation_in=20)
    build.block(blocked, 40)
    build.agreement(
        blocked, 9, "agreement-pending", (COORDINATOR, "key_worker"), (hesitant, "buddy")
    )
    build.accept_agreement(blocked, 9, "agreement-pending", COORDINATOR)

    assert ids(build.board(by=buddy)) == [escalated.id]
    assert ids(build.board(by=buddy, organisation=buddy, region=None)) == [escalated.id]
    assert build.board(by=hesitant, region=None) == []
    assert ids(build.board(organisation=COORDINATOR)) == [blocked.id, escalated.id]


def test_the_board_of_another_region_does_not_show_these_trajectories(
    shared: Trajectories, stuck: Stuck
) -> None:
    other = f"{shared.region}-other"
    elsewhere = shared.active(started_days_ago=60, next_consultation_in=-5, region=other)

    assert ids(shared.board(region=other)) == [elsewhere.id]
    assert elsewhere.id not in ids(shared.board())


def test_the_board_filters_by_sector_and_reason(shared: Trajectories, stuck: Stuck) -> None:
    assert ids(shared.board(sector="mental_health")) == [stuck.idle.id]
    assert ids(shared.board(reason="waiting_list")) == [stuck.blocked.id]
    assert ids(shared.board(reason="funding")) == [stuck.blocked.id]
    assert ids(shared.board(reason="capacity")) == [stuck.escalated.id]
    assert shared.board(reason="safety") == []


def test_the_board_shows_only_trajectories_stuck_at_least_min_days(
    shared: Trajectories, stuck: Stuck
) -> None:
    assert ids(shared.board(min_days=25)) == [stuck.idle.id, stuck.blocked.id, stuck.overdue.id]
    assert ids(shared.board(min_days=26)) == [stuck.idle.id, stuck.blocked.id]
    assert shared.board(min_days=201) == []


def test_the_board_shows_at_most_limit_trajectories_the_longest_stuck(
    shared: Trajectories, stuck: Stuck
) -> None:
    assert ids(shared.board(limit=2)) == [stuck.idle.id, stuck.blocked.id]


def test_a_shorter_idle_period_puts_quieter_trajectories_on_the_board(
    shared: Trajectories, stuck: Stuck
) -> None:
    on_board = ids(shared.board(idle_days=4))

    assert stuck.running_on_time.id in on_board
    assert stuck.just_referred.id not in on_board
    assert stuck.closed_with_open_escalation.id not in on_board
    assert stuck.declined_long_ago.id not in on_board


def test_resolving_the_escalation_takes_a_trajectory_off_the_board(build: Trajectories) -> None:
    escalated = build.active(started_days_ago=30, next_consultation_in=20)
    build.escalate(escalated, 10)
    assert ids(build.board()) == [escalated.id]

    build.resolve(escalated, 2)

    assert build.board() == []
    assert build.board(reason="capacity") == []


def test_unblocking_takes_a_trajectory_off_the_board(build: Trajectories) -> None:
    blocked = build.active(started_days_ago=60, next_consultation_in=20)
    build.block(blocked, 40)
    assert ids(build.board()) == [blocked.id]

    build.unblock(blocked, 2)

    assert build.board() == []


def test_a_trajectory_blocked_and_escalated_is_stuck_since_the_earlier_and_for_both_reasons(
    build: Trajectories,
) -> None:
    both = build.active(started_days_ago=60, next_consultation_in=20)
    build.escalate(both, 30, reason="safety")
    build.block(both, 12, "regulation")

    [row] = build.board()

    assert row["id"] == both.id
    assert row["days_stuck"] == 30
    assert row["reasons"] == ["regulation", "safety"]
    assert row["overdue"] == [f"1 open escalation(s) since {build.when.day(-30)}"]


def test_the_board_shows_days_blocked_beside_days_stuck(build: Trajectories) -> None:
    """Issue #17 point 5: stuck counts from the earliest cause (here the escalation, 30 days);
    blocked counts from the block (12 days); a coordinator reads both, not computes one."""
    both = build.active(started_days_ago=60, next_consultation_in=20)
    build.escalate(both, 30, reason="safety")
    build.block(both, 12, "regulation")
    escalated = build.active(started_days_ago=60, next_consultation_in=20)
    build.escalate(escalated, 5, reason="capacity")

    rows = {row["id"]: row for row in build.board()}

    assert (rows[both.id]["days_stuck"], rows[both.id]["days_blocked"]) == (30, 12)
    assert (rows[escalated.id]["days_stuck"], rows[escalated.id]["days_blocked"]) == (5, None)


def test_an_unblocked_trajectory_with_its_escalation_still_open_stays_on_the_board(
    build: Trajectories,
) -> None:
    both = build.active(started_days_ago=60, next_consultation_in=20)
    build.escalate(both, 30, reason="safety")
    build.block(both, 12, "regulation")
    build.unblock(both, 1)

    [row] = build.board()

    assert row["id"] == both.id
    assert row["status"] == "active"
    assert row["reasons"] == ["safety"]
    assert row["blocked_since"] is None
