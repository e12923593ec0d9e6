"""Closing (001: end consultation; 000: who follows up the plan), follow-up, the thread (000)."""

from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from domain.common import ConsultationKind
from domain.errors import (
    ContinuationNotAllowed,
    EndConsultationRequired,
    FollowUpNotNamed,
    InvalidValue,
    TrajectoryAlreadyContinued,
    TransitionNotAllowed,
)
from domain.trajectory import Status, Trajectory
from tests.unit.builders import (
    PROVIDER,
    active,
    at,
    blocked,
    closed,
    ctx,
    hold,
    last_event,
    new_events,
    ready_to_close,
    referred,
    set_goal,
    sign,
)


def _close(
    trajectory: Trajectory,
    day: int = 61,
    *,
    follow_up_by: str | None = PROVIDER.organisation,
    no_follow_up_reason: str | None = None,
    reason: str = "doelen bereikt",
) -> None:
    trajectory.close(
        ctx(day),
        reason=reason,
        follow_up_by=follow_up_by,
        no_follow_up_reason=no_follow_up_reason,
    )


# --- closing ----------------------------------------------------------------------------------


def test_a_closed_trajectory_names_who_follows_up_the_plan() -> None:
    trajectory = ready_to_close()

    _close(trajectory, follow_up_by=f" {PROVIDER.organisation} ")

    assert trajectory.status == Status.CLOSED
    assert trajectory.closed_at == at(61)
    assert trajectory.follow_up_by == PROVIDER.organisation
    event = last_event(trajectory, Trajectory.Closed)
    assert (event.reason, event.follow_up_by, event.no_follow_up_reason) == (
        "doelen bereikt",
        PROVIDER.organisation,
        None,
    )


def test_a_trajectory_is_closed_only_after_its_end_consultation() -> None:
    trajectory = active()
    before = len(new_events(trajectory))

    with pytest.raises(EndConsultationRequired):
        _close(trajectory)

    assert trajectory.status == Status.ACTIVE
    assert len(new_events(trajectory)) == before


def test_a_trajectory_whose_end_consultation_was_waived_may_close() -> None:
    trajectory = active()
    trajectory.waive_consultation(ctx(60), kind=ConsultationKind.END, reason="client verhuisd")

    _close(trajectory)

    assert trajectory.status == Status.CLOSED


def test_a_closed_trajectory_may_record_why_no_one_follows_up_the_plan() -> None:
    trajectory = ready_to_close()

    _close(trajectory, follow_up_by=None, no_follow_up_reason=" client wil geen opvolging ")

    assert trajectory.follow_up_by is None
    assert last_event(trajectory, Trajectory.Closed).no_follow_up_reason == (
        "client wil geen opvolging"
    )


@pytest.mark.parametrize(
    ("follow_up_by", "no_follow_up_reason"),
    [(None, None), ("", ""), ("  ", " ")],
    ids=["none", "empty", "blank"],
)
def test_closing_without_naming_who_follows_up_or_why_no_one_does_is_refused(
    follow_up_by: str | None, no_follow_up_reason: str | None
) -> None:
    trajectory = ready_to_close()

    with pytest.raises(FollowUpNotNamed) as refused:
        _close(trajectory, follow_up_by=follow_up_by, no_follow_up_reason=no_follow_up_reason)

    assert refused.value.field == "follow_up_by"
    assert trajectory.status == Status.ACTIVE


def test_closing_names_who_follows_up_or_why_no_one_does_not_both() -> None:
    """Found by an outside probe: both were taken, and the reason was silently dropped."""
    trajectory = ready_to_close()
    before = len(new_events(trajectory))

    with pytest.raises(FollowUpNotNamed, match="give one of the two") as refused:
        _close(trajectory, follow_up_by=PROVIDER.organisation, no_follow_up_reason="niemand")

    assert refused.value.field == "no_follow_up_reason"
    assert trajectory.status == Status.ACTIVE
    assert len(new_events(trajectory)) == before


def test_a_blank_reason_beside_a_named_follow_up_is_no_reason() -> None:
    trajectory = ready_to_close()

    _close(trajectory, follow_up_by=PROVIDER.organisation, no_follow_up_reason=" ")

    assert last_event(trajectory, Trajectory.Closed).no_follow_up_reason is None


def test_closing_needs_a_reason() -> None:
    trajectory = ready_to_close()

    with pytest.raises(InvalidValue) as refused:
        _close(trajectory, reason=" ")

    assert refused.value.field == "reason"


def test_a_blocked_trajectory_may_close() -> None:
    trajectory = blocked()
    hold(trajectory, ConsultationKind.END, day=60, next_in_days=None)

    _close(trajectory)

    assert trajectory.status == Status.CLOSED


def test_a_closed_trajectory_is_closed_once() -> None:
    trajectory = closed()

    with pytest.raises(TransitionNotAllowed):
        _close(trajectory, day=62)


# --- follow-up contact --------------------------------------------------------------------------


def test_a_follow_up_contact_is_recorded_after_closing() -> None:
    trajectory = closed()

    trajectory.record_follow_up_contact(
        ctx(240), contacted_party=PROVIDER.organisation, outcome="plan wordt opgevolgd"
    )

    assert trajectory.follow_up_contacted_at == at(240)
    event = last_event(trajectory, Trajectory.FollowUpContacted)
    assert (event.contacted_party, event.outcome) == (
        PROVIDER.organisation,
        "plan wordt opgevolgd",
    )


def test_a_follow_up_contact_is_recorded_only_after_closing() -> None:
    trajectory = ready_to_close()

    with pytest.raises(TransitionNotAllowed):
        trajectory.record_follow_up_contact(
            ctx(61), contacted_party=PROVIDER.organisation, outcome="loopt"
        )


@pytest.mark.parametrize("field", ["contacted_party", "outcome"])
def test_a_follow_up_contact_says_who_was_contacted_and_how_it_went(field: str) -> None:
    trajectory = closed()
    details = {"contacted_party": PROVIDER.organisation, "outcome": "loopt"} | {field: ""}

    with pytest.raises(InvalidValue) as refused:
        trajectory.record_follow_up_contact(ctx(240), **details)

    assert refused.value.field == field


# --- continuation: the thread -----------------------------------------------------------------


def _earlier_with_plan() -> Trajectory:
    """A closed trajectory with an open goal, a closed goal and plan version 1."""
    earlier = active()
    set_goal(earlier, day=6, goal_id="goal-school")
    set_goal(earlier, day=6, goal_id="goal-sleep")
    sign(earlier, day=10)
    earlier.close_goal(ctx(50), goal_id="goal-sleep", outcome="bereikt")
    hold(earlier, ConsultationKind.END, day=60, next_in_days=None)
    earlier.close(ctx(61), reason="verhuis", follow_up_by=None, no_follow_up_reason="verhuisd")
    return earlier


def test_a_new_trajectory_continues_a_closed_one_of_the_same_client() -> None:
    earlier = _earlier_with_plan()
    later = referred(client_id=earlier.client_id, day=100)

    later.continue_from(ctx(100), previous=earlier)

    assert later.continued_from == earlier.id
    assert later.status == Status.REFERRED
    event = last_event(later, Trajectory.ContinuedFrom)
    assert event.previous_trajectory_id == earlier.id
    assert event.plan_version == 1


def test_a_continuation_carries_the_open_goals_of_the_earlier_trajectory() -> None:
    earlier = _earlier_with_plan()
    later = referred(client_id=earlier.client_id, day=100)

    later.continue_from(ctx(100), previous=earlier)

    assert last_event(later, Trajectory.ContinuedFrom).carried_goals == (
        "Sam gaat weer naar school",
    )


def test_a_continuation_of_a_trajectory_without_a_signed_plan_carries_no_plan_version() -> None:
    earlier = closed()
    later = referred(client_id=earlier.client_id, day=100)

    later.continue_from(ctx(100), previous=earlier)

    assert last_event(later, Trajectory.ContinuedFrom).plan_version is None


@pytest.mark.parametrize("builder", [active, ready_to_close], ids=["active", "not yet closed"])
def test_only_a_closed_trajectory_is_continued(builder: Callable[..., Trajectory]) -> None:
    earlier = builder(client_id=uuid4())
    later = referred(client_id=earlier.client_id, day=100)

    with pytest.raises(ContinuationNotAllowed):
        later.continue_from(ctx(100), previous=earlier)

    assert later.continued_from is None


def test_only_a_trajectory_of_the_same_client_is_continued() -> None:
    earlier = closed()
    later = referred(client_id=uuid4(), day=100)

    with pytest.raises(ContinuationNotAllowed):
        later.continue_from(ctx(100), previous=earlier)


def test_a_trajectory_does_not_continue_itself() -> None:
    trajectory = referred()

    with pytest.raises(ContinuationNotAllowed):
        trajectory.continue_from(ctx(1), previous=trajectory)


def test_a_trajectory_continues_one_earlier_trajectory_only() -> None:
    first = closed()
    second = closed(client_id=first.client_id)
    later = referred(client_id=first.client_id, day=100)
    later.continue_from(ctx(100), previous=first)

    with pytest.raises(ContinuationNotAllowed):
        later.continue_from(ctx(100), previous=second)

    assert later.continued_from == first.id


def _continued(statuses: list[Status]) -> tuple[Trajectory, dict[UUID, Status]]:
    """A closed trajectory continued once per status (as a store written before issue #17's
    rule may hold several), and each continuation's status as the application reads it."""
    earlier = _earlier_with_plan()
    found: dict[UUID, Status] = {}
    for status in statuses:
        later = referred(client_id=earlier.client_id, day=100)
        later.continue_from(ctx(100), previous=earlier)
        earlier.record_continued_by(ctx(100), continuing=later)
        found[later.id] = status
    return earlier, found


def test_a_trajectory_whose_continuations_were_all_declined_may_be_continued() -> None:
    earlier, statuses = _continued([Status.DECLINED, Status.DECLINED])

    earlier.check_continuable(statuses)


@pytest.mark.parametrize(
    "status", [Status.REFERRED, Status.ACCEPTED, Status.ACTIVE, Status.BLOCKED]
)
def test_a_trajectory_with_an_open_continuation_is_not_continued_again(status: Status) -> None:
    earlier, statuses = _continued([Status.DECLINED, status])
    live = earlier.continued_by[-1]

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        earlier.check_continuable(statuses)

    assert f"continued already by trajectory {live}" in refused.value.message
    assert refused.value.field == "continues_from"
    # What the caller can do (have the referral declined, or continue from it once closed),
    # and never the continuation's own status: the caller may read only the earlier one.
    assert "if that referral is declined" in refused.value.message
    assert f"once that one is closed, continue from trajectory {live}" in refused.value.message
    assert status.value not in refused.value.message


def test_an_open_continuation_is_named_before_a_closed_one() -> None:
    earlier, statuses = _continued([Status.ACTIVE, Status.CLOSED])
    live = earlier.continued_by[0]

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        earlier.check_continuable(statuses)

    assert f"continued already by trajectory {live}" in refused.value.message


def test_a_trajectory_whose_continuation_closed_is_continued_from_that_one() -> None:
    earlier, statuses = _continued([Status.CLOSED])
    later = earlier.continued_by[0]

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        earlier.check_continuable(statuses)

    assert f"continue from trajectory {later} instead" in refused.value.message
