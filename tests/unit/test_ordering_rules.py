"""Issue #15: a fact may not predate the facts it depends on, so the state at any moment of the
world (the facts that occurred by then) is well defined, and histories that break the rules are
reported, never changed."""

from typing import Any

import pytest

from domain.as_of import fold, occurred_by, ordering_violations
from domain.common import ConsultationKind, ReasonCategory, Signatory
from domain.errors import (
    FactBeforeWhatItConcerns,
    FactOutsideItsStatus,
    StatusChangeBeforeCurrentStatus,
)
from domain.trajectory import Status, Trajectory
from projections.views import trajectory_view
from tests.support import COORDINATOR
from tests.unit.builders import (
    PROVIDER,
    accepted,
    active,
    at,
    blocked,
    ctx,
    hold,
    propose,
    ready_to_close,
    set_goal,
    with_escalation,
)


def _events(trajectory: Trajectory) -> list[Any]:
    return list(trajectory.collect_events())


def test_an_acceptance_may_not_predate_the_proposal_of_its_role_agreement() -> None:
    trajectory = active()
    propose(trajectory, day=10)
    with pytest.raises(FactBeforeWhatItConcerns) as refused:
        trajectory.accept_role_agreement(ctx(9, actor=PROVIDER), agreement_id="ra-1")
    assert refused.value.rule == "fact-not-before-what-it-concerns"
    assert refused.value.field == "occurred_at"


def test_parties_accept_a_role_agreement_in_either_order_after_its_proposal() -> None:
    trajectory = active()
    propose(trajectory, day=10)
    trajectory.accept_role_agreement(ctx(14, actor=PROVIDER), agreement_id="ra-1")
    trajectory.accept_role_agreement(ctx(12, actor=COORDINATOR), agreement_id="ra-1")
    assert trajectory.role_agreements["ra-1"].in_force


def test_ending_a_role_agreement_may_not_predate_its_latest_acceptance() -> None:
    trajectory = active()
    propose(trajectory, day=10)
    trajectory.accept_role_agreement(ctx(14, actor=PROVIDER), agreement_id="ra-1")
    with pytest.raises(FactBeforeWhatItConcerns):
        trajectory.end_role_agreement(ctx(13), agreement_id="ra-1", reason="herschikt")


def test_an_unblocking_may_not_predate_its_block() -> None:
    trajectory = blocked()  # blocked on day 20
    with pytest.raises(StatusChangeBeforeCurrentStatus) as refused:
        trajectory.unblock(ctx(19), resolution="plaats vrij")
    assert refused.value.rule == "status-change-not-before-current-status"


def test_a_fact_is_refused_where_its_status_did_not_allow_it() -> None:
    trajectory = active()  # accepted on day 1, started on day 5
    with pytest.raises(FactOutsideItsStatus) as refused:
        with_escalation(trajectory, day=3)  # escalations are raised while running only
    assert refused.value.rule == "fact-within-its-status"


def test_a_late_fact_within_its_status_is_recorded() -> None:
    trajectory = blocked()  # running since day 5, blocked on day 20
    set_goal(trajectory, day=8)  # recorded late, but it happened while the trajectory ran
    assert "goal-school" in trajectory.goals


def test_resolving_an_escalation_may_not_predate_its_raising() -> None:
    trajectory = active()
    with_escalation(trajectory, day=12)
    with pytest.raises(FactBeforeWhatItConcerns):
        trajectory.resolve_escalation(ctx(11), escalation_id="esc-1", resolution="opgelost")


def test_closing_may_not_predate_the_end_consultation() -> None:
    trajectory = ready_to_close()  # end consultation on day 60
    hold(trajectory, ConsultationKind.AD_HOC, day=62)
    with pytest.raises(FactBeforeWhatItConcerns):
        trajectory.close(
            ctx(59), reason="klaar", follow_up_by="org-provider", no_follow_up_reason=None
        )


def test_a_plan_is_not_signed_at_a_moment_without_an_open_goal() -> None:
    trajectory = active()
    set_goal(trajectory, day=10)
    with pytest.raises(FactBeforeWhatItConcerns):
        trajectory.sign_plan(ctx(8), signatory=Signatory.CLIENT, representative_ref=None)


def test_the_state_at_a_moment_folds_the_facts_that_happened_by_then() -> None:
    trajectory = active()
    trajectory.block(ctx(20), reasons=(ReasonCategory.WAITING_LIST,), description="wachtlijst")
    set_goal(trajectory, day=8)  # recorded after the block, happened before it
    events = _events(trajectory)
    on_day_10 = fold(occurred_by(events, at(10)))
    assert on_day_10 is not None
    assert on_day_10.status == Status.ACTIVE
    assert list(on_day_10.goals) == ["goal-school"]
    on_day_7 = fold(occurred_by(events, at(7)))
    assert on_day_7 is not None
    assert on_day_7.goals == {}
    today = fold(occurred_by(events, at(30)))
    assert today is not None
    assert trajectory_view(today) == trajectory_view(trajectory)


def test_before_its_referral_a_trajectory_has_no_state() -> None:
    assert fold(occurred_by(_events(accepted()), at(-1))) is None


def test_a_history_that_follows_the_rules_has_no_violations() -> None:
    trajectory = blocked()
    set_goal(trajectory, day=8)
    assert ordering_violations(_events(trajectory)) == []


def test_a_history_recorded_before_the_rules_is_reported_not_changed() -> None:
    trajectory = active()
    propose(trajectory, day=10)
    trajectory.accept_role_agreement(ctx(12, actor=PROVIDER), agreement_id="ra-1")
    events = _events(trajectory)
    # As an older version of the record could store it: the acceptance dated before the proposal.
    acceptance = events[-1]
    acceptance.__dict__["occurred_at"] = at(9)
    found = ordering_violations(events)
    assert [(v.version, v.event, v.occurred_at, v.rule) for v in found] == [
        (
            acceptance.originator_version,
            "RoleAgreementAccepted",
            at(9),
            "fact-not-before-what-it-concerns",
        )
    ]
    assert events[-1].occurred_at == at(9)
