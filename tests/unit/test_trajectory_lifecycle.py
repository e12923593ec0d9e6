"""Referral, acceptance and declining; what every event carries.

Which command each state allows is tabled in test_state_machine.py; this module tests what the
transitions record.
"""

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.common import CommandContext, ConsultationKind, Sector
from domain.errors import InvalidValue, NotAParty, OccurredInFuture
from domain.trajectory import Status, Trajectory
from tests.support import COORDINATOR, context
from tests.unit.builders import (
    NOW,
    PROVIDER,
    REFERRED_AT,
    REFERRER,
    accepted,
    at,
    ctx,
    declined,
    hold,
    last_event,
    new_events,
    referred,
)


def _refer(**overrides: object) -> Trajectory:
    details: dict[str, object] = {
        "client_id": uuid4(),
        "question": "Wie helpt Sam?",
        "client_criteria": ("12-18 jaar",),
        "referrer_engagement": "blijft betrokken",
        "sector": Sector.MENTAL_HEALTH,
        "region": "elz-gent",
    }
    details.update(overrides)
    return Trajectory.refer(ctx(0, actor=REFERRER), **details)  # type: ignore[arg-type]


# --- referral -----------------------------------------------------------------------------------


def test_a_referral_opens_a_trajectory_that_is_referred() -> None:
    client_id = uuid4()

    trajectory = referred(client_id)

    assert trajectory.status == Status.REFERRED
    assert trajectory.client_id == client_id
    assert trajectory.referred_at == REFERRED_AT
    assert trajectory.coordinating_organisation is None


def test_a_referral_records_the_question_criteria_and_engagement_of_the_referrer() -> None:
    trajectory = referred()

    event = last_event(trajectory, Trajectory.Referred)
    assert event.referrer_organisation == REFERRER.organisation
    assert event.question == "Wie helpt Sam terug naar school na de opname?"
    assert event.client_criteria == ("12-18 jaar", "woont in de regio")
    assert event.referrer_engagement == "blijft betrokken tot de startconsultatie"
    assert event.sector == Sector.YOUTH_CARE
    assert event.region == "elz-gent"
    assert trajectory.referrer_organisation == REFERRER.organisation


def test_the_referrer_is_the_organisation_of_the_actor_who_refers() -> None:
    trajectory = _refer()

    assert trajectory.referrer_organisation == REFERRER.organisation
    assert trajectory.parties == [REFERRER.organisation]


def test_a_referral_recorded_for_another_organisation_names_that_organisation_as_referrer() -> None:
    trajectory = _refer(referrer_organisation=" school-sint-jan ")

    assert trajectory.referrer_organisation == "school-sint-jan"
    assert last_event(trajectory, Trajectory.Referred).actor == REFERRER


def test_a_referral_naming_a_blank_referrer_is_the_actors_own() -> None:
    trajectory = _refer(referrer_organisation="  ")

    assert trajectory.referrer_organisation == REFERRER.organisation


def test_a_referral_leaves_out_blank_client_criteria() -> None:
    trajectory = _refer(client_criteria=("  12-18 jaar ", " ", ""))

    assert last_event(trajectory, Trajectory.Referred).client_criteria == ("12-18 jaar",)


def test_a_referral_needs_a_question() -> None:
    with pytest.raises(InvalidValue) as refused:
        _refer(question="   ")

    assert refused.value.field == "question"


def test_a_referral_needs_a_region() -> None:
    with pytest.raises(InvalidValue) as refused:
        _refer(region="")

    assert refused.value.field == "region"


def test_a_referral_that_lies_in_the_future_is_refused() -> None:
    with pytest.raises(OccurredInFuture):
        Trajectory.refer(
            context(occurred_at=NOW + timedelta(days=1), now=NOW),
            client_id=uuid4(),
            question="Wie helpt Sam?",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.OTHER,
            region="elz-gent",
        )


def test_a_referral_without_a_time_zone_is_refused() -> None:
    with pytest.raises(InvalidValue) as refused:
        Trajectory.refer(
            context(occurred_at=at(0).replace(tzinfo=None), now=NOW),
            client_id=uuid4(),
            question="Wie helpt Sam?",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.OTHER,
            region="elz-gent",
        )

    assert refused.value.field == "occurred_at"


def test_a_referral_can_be_recorded_under_a_given_id() -> None:
    trajectory_id = uuid4()

    trajectory = _refer(trajectory_id=trajectory_id)

    assert trajectory.id == trajectory_id


# --- acceptance and declining -----------------------------------------------------------------


def test_an_accepted_trajectory_is_coordinated_by_the_organisation_that_accepted_it() -> None:
    trajectory = referred()

    trajectory.accept(ctx(1), coordinating_organisation=None)

    assert trajectory.status == Status.ACCEPTED
    assert trajectory.coordinating_organisation == COORDINATOR.organisation
    assert trajectory.accepted_at == at(1)
    assert last_event(trajectory, Trajectory.Accepted).coordinating_organisation == (
        COORDINATOR.organisation
    )


def test_accepting_may_name_another_organisation_to_coordinate() -> None:
    trajectory = referred()

    trajectory.accept(ctx(1), coordinating_organisation=PROVIDER.organisation)

    assert trajectory.coordinating_organisation == PROVIDER.organisation
    assert trajectory.parties == [
        COORDINATOR.organisation,
        PROVIDER.organisation,
        REFERRER.organisation,
    ]


def test_a_referrer_the_referral_names_does_not_accept_it() -> None:
    """Issue #10 review (B1): a school that referred does not decide who helps, nor name who
    coordinates; the organisation that recorded the referral does."""
    trajectory = referred()
    before = len(new_events(trajectory))

    with pytest.raises(NotAParty) as refused:
        trajectory.accept(ctx(1, actor=REFERRER), coordinating_organisation=None)

    assert COORDINATOR.organisation in refused.value.message
    assert trajectory.status == Status.REFERRED
    assert len(new_events(trajectory)) == before


def test_a_referrer_the_referral_names_does_not_decline_it() -> None:
    trajectory = referred()
    before = len(new_events(trajectory))

    with pytest.raises(NotAParty):
        trajectory.decline(ctx(1, actor=REFERRER), reason="not for us")

    assert trajectory.status == Status.REFERRED
    assert len(new_events(trajectory)) == before


def test_a_declined_trajectory_records_why() -> None:
    trajectory = declined()

    assert trajectory.status == Status.DECLINED
    assert last_event(trajectory, Trajectory.Declined).reason == "buiten de toelatingscriteria"


def test_declining_needs_a_reason() -> None:
    trajectory = referred()

    with pytest.raises(InvalidValue) as refused:
        trajectory.decline(ctx(1), reason="  ")

    assert refused.value.field == "reason"
    assert trajectory.status == Status.REFERRED


def test_an_accepted_trajectory_becomes_active_with_its_start_consultation() -> None:
    trajectory = accepted()

    hold(trajectory, ConsultationKind.START, day=5)

    assert trajectory.status == Status.ACTIVE


def test_an_accepted_trajectory_becomes_active_when_its_start_consultation_is_waived() -> None:
    trajectory = accepted()

    trajectory.waive_consultation(ctx(5), kind=ConsultationKind.START, reason="crisisopname")

    assert trajectory.status == Status.ACTIVE


# --- what every event carries -------------------------------------------------------------------


def test_every_event_carries_the_actor_the_world_time_and_the_correlation_ids() -> None:
    trajectory = accepted()
    command = CommandContext(
        actor=PROVIDER,
        occurred_at=at(2),
        correlation_id="request-42",
        causation_id="scheduler-run-7",
        now=NOW,
    )

    trajectory.set_goal(command, goal_id="goal-1", description="Sam slaapt thuis")

    event = last_event(trajectory, Trajectory.GoalSet)
    assert event.actor == PROVIDER
    assert event.occurred_at == at(2)
    assert event.correlation_id == "request-42"
    assert event.causation_id == "scheduler-run-7"
    assert event.timestamp != event.occurred_at


def test_the_trajectory_remembers_when_its_last_fact_happened_in_the_world() -> None:
    trajectory = accepted()

    trajectory.set_goal(ctx(3), goal_id="goal-1", description="Sam slaapt thuis")

    assert trajectory.last_recorded_at == at(3)


def test_a_refused_command_records_nothing() -> None:
    trajectory = referred()
    before = new_events(trajectory)

    with pytest.raises(InvalidValue):
        trajectory.decline(ctx(1), reason="")

    assert new_events(trajectory) == before
