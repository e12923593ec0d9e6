"""Consultations (001, 003): start first, milestones once, waivers with a reason, plan the next."""

import pytest

from domain.common import ClientInvolvement, ConsultationKind, Role
from domain.errors import (
    ConsultationAlreadyHeld,
    InvalidValue,
    NextConsultationNotPlanned,
    ReasonRequired,
    StartConsultationRequired,
    TransitionNotAllowed,
)
from domain.trajectory import Participant, Status, Trajectory
from tests.unit.builders import (
    PARTICIPANTS,
    accepted,
    active,
    at,
    blocked,
    ctx,
    hold,
    last_event,
    new_events,
    on,
)

NOT_START = [kind for kind in ConsultationKind if kind != ConsultationKind.START]
REPEATABLE = [
    ConsultationKind.AD_HOC,
    ConsultationKind.MDO,
    ConsultationKind.PLAN_MEETING,
    ConsultationKind.INTERVISION,
]


def test_a_trajectory_starts_with_a_start_consultation() -> None:
    trajectory = accepted()

    hold(trajectory, ConsultationKind.START, day=5)

    assert trajectory.status == Status.ACTIVE
    assert trajectory.milestones == {ConsultationKind.START: at(5)}
    assert trajectory.last_consultation_at == at(5)
    assert trajectory.consultation_count == 1


@pytest.mark.parametrize("kind", NOT_START, ids=str)
def test_a_consultation_before_the_start_consultation_is_refused(kind: ConsultationKind) -> None:
    """001: the first consultation of a trajectory is the start consultation."""
    trajectory = accepted()

    with pytest.raises(StartConsultationRequired):
        hold(trajectory, kind, day=5)

    assert trajectory.status == Status.ACCEPTED
    assert trajectory.consultation_count == 0


def test_a_consultation_records_who_took_part_and_what_was_decided() -> None:
    trajectory = accepted()

    trajectory.hold_consultation(
        ctx(5),
        kind=ConsultationKind.START,
        participants=PARTICIPANTS,
        client_involvement=ClientInvolvement.CONSULTED_BEFOREHAND,
        decisions=(" Sam gaat halftijds naar school ", "", "  "),
        next_consultation_on=on(35),
        no_next_reason=None,
    )

    event = last_event(trajectory, Trajectory.ConsultationHeld)
    assert event.kind == ConsultationKind.START
    assert event.participants == PARTICIPANTS
    assert event.client_involvement == ClientInvolvement.CONSULTED_BEFOREHAND
    assert event.decisions == ("Sam gaat halftijds naar school",)
    assert event.next_consultation_on == on(35)


def test_a_consultation_has_at_least_one_participant() -> None:
    trajectory = accepted()

    with pytest.raises(InvalidValue) as refused:
        trajectory.hold_consultation(
            ctx(5),
            kind=ConsultationKind.START,
            participants=(),
            client_involvement=ClientInvolvement.PRESENT,
            decisions=(),
            next_consultation_on=on(35),
            no_next_reason=None,
        )

    assert refused.value.field == "participants"


def test_a_participant_of_the_network_is_named_by_a_pseudonymous_reference() -> None:
    trajectory = accepted()
    grandmother = Participant(
        organisation="network", role=Role("informal_carer"), person_ref="p-91"
    )

    trajectory.hold_consultation(
        ctx(5),
        kind=ConsultationKind.START,
        participants=(grandmother,),
        client_involvement=ClientInvolvement.NOT_INVOLVED,
        decisions=(),
        next_consultation_on=on(35),
        no_next_reason=None,
    )

    assert last_event(trajectory, Trajectory.ConsultationHeld).participants[0].person_ref == "p-91"


# --- milestones once --------------------------------------------------------------------------


def test_the_start_consultation_cannot_be_held_again_once_the_trajectory_is_active() -> None:
    trajectory = active()

    with pytest.raises(TransitionNotAllowed):
        hold(trajectory, ConsultationKind.START, day=6)


@pytest.mark.parametrize("kind", [ConsultationKind.THREE_MONTH, ConsultationKind.END], ids=str)
def test_a_milestone_consultation_is_held_once(kind: ConsultationKind) -> None:
    trajectory = active()
    hold(trajectory, kind, day=90, next_in_days=30)
    before = len(new_events(trajectory))

    with pytest.raises(ConsultationAlreadyHeld):
        hold(trajectory, kind, day=100)

    assert len(new_events(trajectory)) == before
    assert trajectory.milestones[kind] == at(90)


@pytest.mark.parametrize("kind", REPEATABLE, ids=str)
def test_other_consultations_may_be_held_any_number_of_times(kind: ConsultationKind) -> None:
    trajectory = active()

    hold(trajectory, kind, day=30)
    hold(trajectory, kind, day=60)

    assert trajectory.consultation_count == 3
    assert trajectory.last_consultation_at == at(60)


def test_the_three_month_consultation_is_a_milestone_of_the_trajectory() -> None:
    trajectory = active()

    hold(trajectory, ConsultationKind.THREE_MONTH, day=92)

    assert trajectory.milestones[ConsultationKind.THREE_MONTH] == at(92)


# --- waivers ----------------------------------------------------------------------------------


def test_a_waived_milestone_counts_as_the_milestone_and_keeps_its_reason() -> None:
    trajectory = active()

    trajectory.waive_consultation(
        ctx(92), kind=ConsultationKind.THREE_MONTH, reason="  traject duurt maar zes weken "
    )

    assert trajectory.milestones[ConsultationKind.THREE_MONTH] == at(92)
    assert trajectory.waivers == {ConsultationKind.THREE_MONTH: "traject duurt maar zes weken"}
    assert trajectory.consultation_count == 1
    event = last_event(trajectory, Trajectory.ConsultationWaived)
    assert event.kind == ConsultationKind.THREE_MONTH
    assert event.reason == "traject duurt maar zes weken"


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_a_waiver_needs_a_reason(reason: str) -> None:
    trajectory = accepted()

    with pytest.raises(ReasonRequired) as refused:
        trajectory.waive_consultation(ctx(5), kind=ConsultationKind.START, reason=reason)

    assert refused.value.field == "reason"
    assert trajectory.status == Status.ACCEPTED


@pytest.mark.parametrize("kind", REPEATABLE, ids=str)
def test_only_milestone_consultations_can_be_waived(kind: ConsultationKind) -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        trajectory.waive_consultation(ctx(30), kind=kind, reason="geen tijd")

    assert refused.value.field == "kind"


def test_a_waived_milestone_cannot_be_held_afterwards() -> None:
    trajectory = active()
    trajectory.waive_consultation(ctx(92), kind=ConsultationKind.THREE_MONTH, reason="kort")

    with pytest.raises(ConsultationAlreadyHeld, match="waived"):
        hold(trajectory, ConsultationKind.THREE_MONTH, day=93)


def test_a_held_milestone_cannot_be_waived_afterwards() -> None:
    trajectory = active()
    hold(trajectory, ConsultationKind.THREE_MONTH, day=92)

    with pytest.raises(ConsultationAlreadyHeld, match="held"):
        trajectory.waive_consultation(ctx(93), kind=ConsultationKind.THREE_MONTH, reason="kort")


def test_a_milestone_is_waived_once() -> None:
    trajectory = active()
    trajectory.waive_consultation(ctx(60), kind=ConsultationKind.END, reason="client verhuisd")

    with pytest.raises(ConsultationAlreadyHeld):
        trajectory.waive_consultation(ctx(61), kind=ConsultationKind.END, reason="opnieuw")


# --- a consultation plans the next one (003) ----------------------------------------------------


def test_a_consultation_plans_the_next_one() -> None:
    trajectory = active()

    hold(trajectory, ConsultationKind.MDO, day=30, next_in_days=42)

    assert trajectory.next_consultation_on == on(72)


def test_a_consultation_that_plans_no_next_one_and_says_not_why_is_refused() -> None:
    trajectory = active()
    before = len(new_events(trajectory))

    with pytest.raises(NextConsultationNotPlanned) as refused:
        hold(trajectory, ConsultationKind.MDO, day=30, next_in_days=None, no_next_reason="  ")

    assert refused.value.field == "next_consultation_on"
    assert len(new_events(trajectory)) == before


def test_a_consultation_may_record_why_no_next_one_is_planned() -> None:
    trajectory = active()

    hold(
        trajectory,
        ConsultationKind.AD_HOC,
        day=30,
        next_in_days=None,
        no_next_reason=" volgende stap is het eindoverleg ",
    )

    assert trajectory.next_consultation_on is None
    event = last_event(trajectory, Trajectory.ConsultationHeld)
    assert event.no_next_reason == "volgende stap is het eindoverleg"


def test_the_start_consultation_also_plans_the_next_one() -> None:
    trajectory = accepted()

    with pytest.raises(NextConsultationNotPlanned):
        hold(trajectory, ConsultationKind.START, day=5, next_in_days=None)


def test_the_end_consultation_need_not_plan_a_next_one() -> None:
    trajectory = active()

    hold(trajectory, ConsultationKind.END, day=60, next_in_days=None)

    assert trajectory.milestones[ConsultationKind.END] == at(60)
    assert trajectory.next_consultation_on is None


@pytest.mark.parametrize("next_in_days", [0, -1], ids=["same day", "day before"])
def test_the_next_consultation_lies_after_the_consultation(next_in_days: int) -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        hold(trajectory, ConsultationKind.MDO, day=30, next_in_days=next_in_days)

    assert refused.value.field == "next_consultation_on"


def test_a_consultation_may_be_held_while_the_trajectory_is_blocked() -> None:
    trajectory = blocked()

    hold(trajectory, ConsultationKind.AD_HOC, day=25)

    assert trajectory.status == Status.BLOCKED
    assert trajectory.last_consultation_at == at(25)
