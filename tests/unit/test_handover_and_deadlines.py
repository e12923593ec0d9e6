"""Handovers (overdracht, 000/004) and missed deadlines recorded by the scheduler (§4)."""

from datetime import timedelta

import pytest

from domain.common import ConsentScope
from domain.errors import InvalidValue, OccurredInFuture, TransitionNotAllowed
from domain.trajectory import Status, Trajectory
from tests.support import COORDINATOR, context
from tests.unit.builders import (
    NEXT_ORGANISATION,
    NOW,
    PROVIDER,
    active,
    closed,
    ctx,
    furnished,
    last_event,
    new_events,
    on,
    referred,
)


def _hand_over(
    trajectory: Trajectory,
    day: int,
    *,
    to_party: str = NEXT_ORGANISATION,
    scopes: tuple[ConsentScope, ...] = (ConsentScope.PLAN,),
    transfers_coordination: bool = False,
) -> None:
    trajectory.hand_over(
        ctx(day),
        to_party=to_party,
        scopes=scopes,
        consent_id="consent-1",
        transfers_coordination=transfers_coordination,
    )


# --- handover -------------------------------------------------------------------------------------


def test_a_handover_passes_from_the_coordinating_organisation_under_a_consent() -> None:
    trajectory = active()

    _hand_over(trajectory, day=30, scopes=(ConsentScope.PLAN, ConsentScope.DOSSIER))

    event = last_event(trajectory, Trajectory.HandedOver)
    assert event.from_party == COORDINATOR.organisation
    assert event.to_party == NEXT_ORGANISATION
    assert event.scopes == (ConsentScope.PLAN, ConsentScope.DOSSIER)
    assert event.consent_id == "consent-1"
    assert trajectory.handover_count == 1


def test_a_handover_without_coordination_leaves_the_coordinator_in_place() -> None:
    trajectory = active()

    _hand_over(trajectory, day=30, transfers_coordination=False)

    assert trajectory.coordinating_organisation == COORDINATOR.organisation


def test_a_handover_that_transfers_coordination_changes_the_coordinating_organisation() -> None:
    trajectory = active()

    _hand_over(trajectory, day=30, transfers_coordination=True)

    assert trajectory.coordinating_organisation == NEXT_ORGANISATION
    assert NEXT_ORGANISATION in trajectory.parties


def test_the_next_handover_passes_from_the_new_coordinator() -> None:
    trajectory = active()
    _hand_over(trajectory, day=30, transfers_coordination=True)

    _hand_over(trajectory, day=40, to_party=PROVIDER.organisation)

    assert last_event(trajectory, Trajectory.HandedOver).from_party == NEXT_ORGANISATION
    assert trajectory.handover_count == 2


def test_a_trajectory_is_not_handed_over_to_its_own_coordinator() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        _hand_over(trajectory, day=30, to_party=COORDINATOR.organisation)

    assert refused.value.field == "to_party"
    assert trajectory.handover_count == 0


def test_a_handover_names_what_is_handed_over() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        _hand_over(trajectory, day=30, scopes=())

    assert refused.value.field == "scopes"


def test_a_handover_names_who_receives_it() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        _hand_over(trajectory, day=30, to_party=" ")

    assert refused.value.field == "to_party"


def test_a_handover_names_each_scope_once() -> None:
    trajectory = active()

    _hand_over(trajectory, day=30, scopes=(ConsentScope.PLAN, ConsentScope.PLAN))

    assert last_event(trajectory, Trajectory.HandedOver).scopes == (ConsentScope.PLAN,)


def test_the_plan_may_be_handed_over_after_the_trajectory_closed() -> None:
    trajectory = closed()

    _hand_over(trajectory, day=70, to_party="org-process-keeper")

    assert trajectory.handover_count == 1
    assert trajectory.status == Status.CLOSED


def test_coordination_is_not_transferred_once_the_trajectory_closed() -> None:
    trajectory = closed()

    with pytest.raises(TransitionNotAllowed, match="no coordination to transfer"):
        _hand_over(trajectory, day=70, to_party="org-next", transfers_coordination=True)

    assert trajectory.handover_count == 0
    assert trajectory.coordinating_organisation == COORDINATOR.organisation


# --- missed deadlines -----------------------------------------------------------------------------


def _miss(trajectory: Trajectory, rule: str = "three-month-consultation", due: int = 95) -> bool:
    return trajectory.record_missed_deadline(
        ctx(100), rule=rule, due_on=on(due), expected="driemaandelijks overleg"
    )


def test_a_missed_deadline_is_recorded() -> None:
    trajectory = active()

    assert _miss(trajectory) is True

    event = last_event(trajectory, Trajectory.DeadlineMissed)
    assert (event.rule, event.due_on) == ("three-month-consultation", on(95))
    assert event.expected == "driemaandelijks overleg"
    assert trajectory.missed_deadlines == [f"three-month-consultation@{on(95).isoformat()}"]


def test_a_missed_deadline_is_recorded_once_per_rule_and_due_date() -> None:
    trajectory = active()
    _miss(trajectory)
    before = len(new_events(trajectory))

    assert _miss(trajectory) is False

    assert len(new_events(trajectory)) == before
    assert len(trajectory.missed_deadlines) == 1


def test_the_same_rule_missed_on_another_due_date_is_another_deadline() -> None:
    trajectory = active()
    _miss(trajectory, due=95)

    assert _miss(trajectory, due=185) is True

    assert len(trajectory.missed_deadlines) == 2


def test_another_rule_missed_on_the_same_due_date_is_another_deadline() -> None:
    trajectory = active()
    _miss(trajectory, rule="three-month-consultation")

    assert _miss(trajectory, rule="next-consultation") is True

    assert len(trajectory.missed_deadlines) == 2


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_a_missed_deadline_is_recorded_whatever_the_state_of_the_trajectory(
    status: Status,
) -> None:
    trajectory = furnished(status)

    assert _miss(trajectory) is True


def test_a_missed_deadline_names_its_rule() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue):
        _miss(trajectory, rule="  ")


def test_a_missed_deadline_is_not_recorded_ahead_of_time() -> None:
    trajectory = referred()

    with pytest.raises(OccurredInFuture):
        trajectory.record_missed_deadline(
            context(occurred_at=NOW + timedelta(days=1), now=NOW),
            rule="follow-up-call",
            due_on=on(90),
            expected="",
        )


# --- deadlines met late and reminders -------------------------------------------------------------


def test_a_missed_deadline_met_later_is_recorded_as_met_late_and_no_longer_open() -> None:
    trajectory = active()
    _miss(trajectory)
    assert trajectory.open_missed_deadlines == [f"three-month-consultation@{on(95).isoformat()}"]

    recorded = trajectory.record_deadline_met_late(
        ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )

    assert recorded is True
    event = last_event(trajectory, Trajectory.DeadlineMetLate)
    assert (event.due_on, event.met_on) == (on(95), on(108))
    assert trajectory.open_missed_deadlines == []


def test_a_deadline_is_recorded_as_met_late_once() -> None:
    trajectory = active()
    trajectory.record_deadline_met_late(
        ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )

    again = trajectory.record_deadline_met_late(
        ctx(111), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )

    assert again is False
    assert len(trajectory.met_late_deadlines) == 1


def test_a_deadline_met_in_time_is_not_met_late() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue):
        trajectory.record_deadline_met_late(
            ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(95)
        )


def test_a_reminder_is_issued_once_per_deadline() -> None:
    trajectory = active()

    first = trajectory.record_deadline_reminder(
        ctx(88), rule="three-month-consultation", due_on=on(95), expected="driemaandelijks overleg"
    )
    again = trajectory.record_deadline_reminder(
        ctx(89), rule="three-month-consultation", due_on=on(95), expected="driemaandelijks overleg"
    )

    assert (first, again) == (True, False)
    assert last_event(trajectory, Trajectory.DeadlineReminderIssued).due_on == on(95)


# --- one standing per deadline (a catch-up run at a past moment) ---------------------------------


def test_a_deadline_recorded_as_met_late_is_not_recorded_as_missed_afterwards() -> None:
    """A catch-up ``run-once --now`` before the late meeting finds the deadline unmet then: the
    record already holds it as met late, so the miss is not recorded, and that is no error."""
    trajectory = active()
    trajectory.record_deadline_met_late(
        ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )
    before = len(new_events(trajectory))

    assert _miss(trajectory) is False

    assert len(new_events(trajectory)) == before
    assert trajectory.missed_deadlines == []
    assert trajectory.open_missed_deadlines == []


def test_a_miss_stored_after_the_late_meeting_gives_way_to_it() -> None:
    """Stores written before the record refused it may hold a miss recorded after the late
    meeting of the same deadline: replayed, the late meeting wins (the audit's standing)."""
    trajectory = active()
    trajectory.record_deadline_met_late(
        ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )
    trajectory.trigger_event(
        Trajectory.DeadlineMissed,
        **ctx(111).event_fields(),
        rule="three-month-consultation",
        due_on=on(95),
        expected="driemaandelijks overleg",
    )

    assert trajectory.missed_deadlines == []
    assert trajectory.open_missed_deadlines == []
    assert _miss(trajectory, due=185) is True  # another deadline is missed as ever


def test_a_miss_recorded_before_the_late_meeting_stays_in_its_history() -> None:
    trajectory = active()
    _miss(trajectory)
    trajectory.record_deadline_met_late(
        ctx(110), rule="three-month-consultation", due_on=on(95), met_on=on(108)
    )

    assert trajectory.missed_deadlines == [f"three-month-consultation@{on(95).isoformat()}"]
    assert trajectory.open_missed_deadlines == []
