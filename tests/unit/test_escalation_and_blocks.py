"""Escalations (raised, taken to another level, resolved) and blocks (vastgelopen trajecten)."""

from collections.abc import Callable

import pytest

from domain.common import ConsultationKind, EscalationLevel, ReasonCategory
from domain.errors import (
    EscalationNotOpen,
    InvalidValue,
    ItemNotFound,
    ReasonRequired,
)
from domain.trajectory import Block, Status, Trajectory
from tests.unit.builders import (
    active,
    at,
    blocked,
    ctx,
    last_event,
    new_events,
    with_escalation,
)


def _escalated() -> Trajectory:
    """Active, with escalation esc-1 (team, capacity) raised on day 15."""
    trajectory = active()
    with_escalation(trajectory, day=15)
    return trajectory


# --- escalations --------------------------------------------------------------------------------


def test_a_raised_escalation_is_open_at_its_level_for_its_reason() -> None:
    trajectory = _escalated()

    escalation = trajectory.escalations["esc-1"]
    assert escalation.level == EscalationLevel.TEAM
    assert escalation.reason == ReasonCategory.CAPACITY
    assert escalation.raised_at == at(15)
    assert escalation.resolved_at is None
    assert list(trajectory.open_escalations) == ["esc-1"]
    assert last_event(trajectory, Trajectory.EscalationRaised).description == "geen begeleider vrij"


def test_an_escalation_needs_an_id_of_its_own() -> None:
    trajectory = _escalated()

    with pytest.raises(InvalidValue) as refused:
        with_escalation(trajectory, day=16, escalation_id="esc-1")

    assert refused.value.field == "escalation_id"


def test_an_escalation_taken_to_another_level_records_both_levels() -> None:
    trajectory = _escalated()

    trajectory.change_escalation_level(
        ctx(20), escalation_id="esc-1", to_level=EscalationLevel.NETWORK, reason="regio nodig"
    )

    assert trajectory.escalations["esc-1"].level == EscalationLevel.NETWORK
    event = last_event(trajectory, Trajectory.EscalationLevelChanged)
    assert (event.from_level, event.to_level) == (EscalationLevel.TEAM, EscalationLevel.NETWORK)
    assert event.reason == "regio nodig"


def test_an_escalation_may_also_be_taken_down_a_level() -> None:
    trajectory = _escalated()
    trajectory.change_escalation_level(
        ctx(20), escalation_id="esc-1", to_level=EscalationLevel.POLICY, reason="regelgeving"
    )

    trajectory.change_escalation_level(
        ctx(21), escalation_id="esc-1", to_level=EscalationLevel.ORGANISATION, reason="intern"
    )

    assert trajectory.escalations["esc-1"].level == EscalationLevel.ORGANISATION


def test_an_escalation_is_not_changed_to_the_level_it_is_at() -> None:
    """The refusal names the body's field, ``to_level`` (an outside probe read ``level``)."""
    trajectory = _escalated()

    with pytest.raises(InvalidValue) as refused:
        trajectory.change_escalation_level(
            ctx(20), escalation_id="esc-1", to_level=EscalationLevel.TEAM, reason="idem"
        )

    assert refused.value.field == "to_level"


def test_changing_the_level_of_an_escalation_needs_a_reason() -> None:
    trajectory = _escalated()

    with pytest.raises(InvalidValue) as refused:
        trajectory.change_escalation_level(
            ctx(20), escalation_id="esc-1", to_level=EscalationLevel.NETWORK, reason=" "
        )

    assert refused.value.field == "reason"


def test_a_resolved_escalation_is_no_longer_open() -> None:
    trajectory = _escalated()

    trajectory.resolve_escalation(ctx(30), escalation_id="esc-1", resolution="plaats gevonden")

    assert trajectory.escalations["esc-1"].resolved_at == at(30)
    assert trajectory.open_escalations == {}
    assert last_event(trajectory, Trajectory.EscalationResolved).resolution == "plaats gevonden"


def test_resolving_an_escalation_needs_a_resolution() -> None:
    trajectory = _escalated()

    with pytest.raises(InvalidValue) as refused:
        trajectory.resolve_escalation(ctx(30), escalation_id="esc-1", resolution="")

    assert refused.value.field == "resolution"


def test_an_escalation_is_resolved_once() -> None:
    trajectory = _escalated()
    trajectory.resolve_escalation(ctx(30), escalation_id="esc-1", resolution="plaats gevonden")
    before = len(new_events(trajectory))

    with pytest.raises(EscalationNotOpen):
        trajectory.resolve_escalation(ctx(31), escalation_id="esc-1", resolution="nogmaals")

    assert len(new_events(trajectory)) == before


def test_a_resolved_escalation_is_not_taken_to_another_level() -> None:
    trajectory = _escalated()
    trajectory.resolve_escalation(ctx(30), escalation_id="esc-1", resolution="plaats gevonden")

    with pytest.raises(EscalationNotOpen):
        trajectory.change_escalation_level(
            ctx(31), escalation_id="esc-1", to_level=EscalationLevel.NETWORK, reason="toch"
        )


@pytest.mark.parametrize(
    "command",
    [
        lambda t: t.change_escalation_level(
            ctx(30), escalation_id="esc-9", to_level=EscalationLevel.NETWORK, reason="x"
        ),
        lambda t: t.resolve_escalation(ctx(30), escalation_id="esc-9", resolution="x"),
    ],
    ids=["change level", "resolve"],
)
def test_an_escalation_the_trajectory_does_not_hold_is_not_found(
    command: Callable[[Trajectory], None],
) -> None:
    trajectory = _escalated()

    with pytest.raises(ItemNotFound) as refused:
        command(trajectory)

    assert refused.value.field == "escalation_id"


def test_escalation_levels_rank_from_team_to_policy() -> None:
    ranks = [level.rank for level in EscalationLevel]

    assert [level.value for level in EscalationLevel] == [
        "team",
        "organisation",
        "network",
        "policy",
    ]
    assert ranks == [0, 1, 2, 3]


# --- blocks ----------------------------------------------------------------------------------


def test_a_blocked_trajectory_records_since_when_and_why() -> None:
    trajectory = blocked()

    assert trajectory.status == Status.BLOCKED
    assert trajectory.current_block == Block(reasons=(ReasonCategory.WAITING_LIST,), since=at(20))
    assert last_event(trajectory, Trajectory.Blocked).description == "wachtlijst dagcentrum"


def test_a_block_names_at_least_one_reason_category() -> None:
    trajectory = active()

    with pytest.raises(ReasonRequired) as refused:
        trajectory.block(ctx(20), reasons=(), description="vast")

    assert refused.value.field == "reasons"
    assert trajectory.status == Status.ACTIVE


def test_a_block_names_each_reason_once_in_the_order_given() -> None:
    trajectory = active()

    trajectory.block(
        ctx(20),
        reasons=(ReasonCategory.FUNDING, ReasonCategory.REGULATION, ReasonCategory.FUNDING),
        description="",
    )

    assert trajectory.current_block is not None
    assert trajectory.current_block.reasons == (ReasonCategory.FUNDING, ReasonCategory.REGULATION)


def test_an_unblocked_trajectory_is_active_again() -> None:
    trajectory = blocked()

    trajectory.unblock(ctx(40), resolution=" plaats in dagcentrum ")

    assert trajectory.status == Status.ACTIVE
    assert trajectory.current_block is None
    assert last_event(trajectory, Trajectory.Unblocked).resolution == "plaats in dagcentrum"


def test_unblocking_needs_a_resolution() -> None:
    trajectory = blocked()

    with pytest.raises(InvalidValue) as refused:
        trajectory.unblock(ctx(40), resolution="  ")

    assert refused.value.field == "resolution"
    assert trajectory.status == Status.BLOCKED


def test_a_trajectory_may_block_again_after_it_was_unblocked() -> None:
    trajectory = blocked()
    trajectory.unblock(ctx(40), resolution="plaats")

    trajectory.block(ctx(50), reasons=(ReasonCategory.SAFETY,), description="")

    assert trajectory.current_block == Block(reasons=(ReasonCategory.SAFETY,), since=at(50))


def test_a_blocked_trajectory_may_still_escalate() -> None:
    trajectory = blocked()

    with_escalation(trajectory, day=21)

    assert list(trajectory.open_escalations) == ["esc-1"]


def test_a_block_for_hidden_reasons_alone_shows_as_active_only_while_it_holds() -> None:
    """A parent is not told of a block for safety (``status_shown_without``); a trajectory closed
    while blocked keeps its last block, yet shows to them as closed, as it is (found in review:
    it showed as active)."""
    trajectory = blocked()
    trajectory.unblock(ctx(40), resolution="plaats")
    trajectory.block(ctx(50), reasons=(ReasonCategory.SAFETY,), description="")
    hidden = {ReasonCategory.SAFETY}

    assert trajectory.status_shown_without(hidden) == Status.ACTIVE
    assert trajectory.status_shown_without(set()) == Status.BLOCKED

    trajectory.waive_consultation(ctx(59), kind=ConsultationKind.END, reason="verhuisd")
    trajectory.close(ctx(60), reason="verhuisd", follow_up_by=None, no_follow_up_reason="weg")

    assert trajectory.current_block is not None
    assert trajectory.status_shown_without(hidden) == Status.CLOSED
