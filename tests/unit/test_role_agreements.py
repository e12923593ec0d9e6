"""Role agreements, "wie neemt wat op": in force only when every named party has accepted."""

from collections.abc import Callable

import pytest

from domain.common import Actor, Role
from domain.errors import InvalidValue, ItemNotFound, NotAParty, RoleAgreementNotPending
from domain.trajectory import RoleAssignment, Trajectory
from tests.support import COORDINATOR
from tests.unit.builders import (
    OUTSIDER,
    PROVIDER,
    REFERRER,
    accepted,
    active,
    at,
    ctx,
    last_event,
    new_events,
    propose,
)


def _proposed() -> Trajectory:
    """Active, with role agreement ra-1 of org-coordinating and org-provider proposed on day 10."""
    trajectory = active()
    propose(trajectory, day=10)
    return trajectory


def _in_force() -> Trajectory:
    trajectory = _proposed()
    trajectory.accept_role_agreement(ctx(11), agreement_id="ra-1")
    trajectory.accept_role_agreement(ctx(12, actor=PROVIDER), agreement_id="ra-1")
    return trajectory


def test_a_proposed_role_agreement_is_pending_and_not_in_force() -> None:
    trajectory = _proposed()

    agreement = trajectory.role_agreements["ra-1"]
    assert agreement.pending
    assert not agreement.in_force
    assert agreement.parties == [COORDINATOR.organisation, PROVIDER.organisation]
    assert agreement.proposed_at == at(10)


def test_a_proposal_records_who_takes_which_role() -> None:
    trajectory = active()
    assignments = (
        RoleAssignment(party=COORDINATOR.organisation, role=Role.CARE_COORDINATOR),
        RoleAssignment(
            party=PROVIDER.organisation, role=Role.KEY_WORKER, responsibilities="wekelijks"
        ),
    )

    trajectory.propose_role_agreement(ctx(10), agreement_id="ra-1", assignments=assignments)

    event = last_event(trajectory, Trajectory.RoleAgreementProposed)
    assert event.agreement_id == "ra-1"
    assert event.assignments == assignments


def test_a_role_agreement_may_be_proposed_before_the_start_consultation() -> None:
    trajectory = accepted()

    propose(trajectory, day=2)

    assert trajectory.role_agreements["ra-1"].pending


def test_a_role_agreement_is_not_in_force_while_a_party_has_not_accepted() -> None:
    trajectory = _proposed()

    trajectory.accept_role_agreement(ctx(11), agreement_id="ra-1")

    agreement = trajectory.role_agreements["ra-1"]
    assert agreement.accepted_by == [COORDINATOR.organisation]
    assert not agreement.in_force
    assert agreement.pending


def test_a_role_agreement_is_in_force_only_when_every_party_accepted() -> None:
    trajectory = _in_force()

    agreement = trajectory.role_agreements["ra-1"]
    assert agreement.in_force
    assert not agreement.pending


def test_a_party_accepts_as_the_organisation_of_the_actor() -> None:
    trajectory = _proposed()

    trajectory.accept_role_agreement(ctx(11, actor=PROVIDER), agreement_id="ra-1")

    event = last_event(trajectory, Trajectory.RoleAgreementAccepted)
    assert event.party == PROVIDER.organisation
    assert event.actor == PROVIDER


def test_a_party_named_in_several_roles_accepts_once_for_all_of_them() -> None:
    trajectory = active()
    trajectory.propose_role_agreement(
        ctx(10),
        agreement_id="ra-1",
        assignments=(
            RoleAssignment(party=PROVIDER.organisation, role=Role.KEY_WORKER),
            RoleAssignment(party=PROVIDER.organisation, role=Role.BUDDY),
        ),
    )

    trajectory.accept_role_agreement(ctx(11, actor=PROVIDER), agreement_id="ra-1")

    assert trajectory.role_agreements["ra-1"].in_force


def test_only_a_named_party_may_accept_a_role_agreement() -> None:
    trajectory = _proposed()
    before = len(new_events(trajectory))

    with pytest.raises(NotAParty):
        trajectory.accept_role_agreement(ctx(11, actor=OUTSIDER), agreement_id="ra-1")

    assert len(new_events(trajectory)) == before


def test_only_a_named_party_may_decline_a_role_agreement() -> None:
    trajectory = _proposed()

    with pytest.raises(NotAParty):
        trajectory.decline_role_agreement(
            ctx(11, actor=REFERRER), agreement_id="ra-1", reason="niet onze taak"
        )


def test_a_party_accepts_a_role_agreement_once() -> None:
    trajectory = _proposed()
    trajectory.accept_role_agreement(ctx(11), agreement_id="ra-1")

    with pytest.raises(RoleAgreementNotPending):
        trajectory.accept_role_agreement(ctx(12), agreement_id="ra-1")


def test_a_role_agreement_in_force_is_no_longer_open_for_acceptance() -> None:
    trajectory = _in_force()

    with pytest.raises(RoleAgreementNotPending):
        trajectory.accept_role_agreement(ctx(13), agreement_id="ra-1")


def test_a_declined_role_agreement_never_comes_into_force() -> None:
    trajectory = _proposed()
    trajectory.accept_role_agreement(ctx(11), agreement_id="ra-1")

    trajectory.decline_role_agreement(
        ctx(12, actor=PROVIDER), agreement_id="ra-1", reason=" geen capaciteit "
    )

    agreement = trajectory.role_agreements["ra-1"]
    assert agreement.declined_by == PROVIDER.organisation
    assert not agreement.in_force
    assert not agreement.pending
    event = last_event(trajectory, Trajectory.RoleAgreementDeclined)
    assert (event.party, event.reason) == (PROVIDER.organisation, "geen capaciteit")


def test_a_declined_role_agreement_can_no_longer_be_accepted() -> None:
    trajectory = _proposed()
    trajectory.decline_role_agreement(ctx(11), agreement_id="ra-1", reason="geen capaciteit")

    with pytest.raises(RoleAgreementNotPending):
        trajectory.accept_role_agreement(ctx(12, actor=PROVIDER), agreement_id="ra-1")


def test_declining_a_role_agreement_needs_a_reason() -> None:
    trajectory = _proposed()

    with pytest.raises(InvalidValue) as refused:
        trajectory.decline_role_agreement(ctx(11), agreement_id="ra-1", reason=" ")

    assert refused.value.field == "reason"


def test_an_ended_role_agreement_is_no_longer_in_force() -> None:
    trajectory = _in_force()

    trajectory.end_role_agreement(ctx(40), agreement_id="ra-1", reason="buddy stopt")

    agreement = trajectory.role_agreements["ra-1"]
    assert agreement.ended_at == at(40)
    assert not agreement.in_force
    assert not agreement.pending
    assert last_event(trajectory, Trajectory.RoleAgreementEnded).reason == "buddy stopt"


def test_a_pending_role_agreement_may_be_ended() -> None:
    trajectory = _proposed()

    trajectory.end_role_agreement(ctx(11), agreement_id="ra-1", reason="ingetrokken")

    with pytest.raises(RoleAgreementNotPending):
        trajectory.accept_role_agreement(ctx(12), agreement_id="ra-1")


def test_an_ended_role_agreement_cannot_be_ended_again() -> None:
    trajectory = _in_force()
    trajectory.end_role_agreement(ctx(40), agreement_id="ra-1", reason="buddy stopt")

    with pytest.raises(RoleAgreementNotPending):
        trajectory.end_role_agreement(ctx(41), agreement_id="ra-1", reason="opnieuw")


def test_a_declined_role_agreement_cannot_be_ended() -> None:
    trajectory = _proposed()
    trajectory.decline_role_agreement(ctx(11), agreement_id="ra-1", reason="geen capaciteit")

    with pytest.raises(RoleAgreementNotPending):
        trajectory.end_role_agreement(ctx(12), agreement_id="ra-1", reason="opruimen")


def test_ending_a_role_agreement_needs_a_reason() -> None:
    trajectory = _in_force()

    with pytest.raises(InvalidValue) as refused:
        trajectory.end_role_agreement(ctx(40), agreement_id="ra-1", reason="")

    assert refused.value.field == "reason"


@pytest.mark.parametrize(
    "command",
    [
        lambda t: t.accept_role_agreement(ctx(11), agreement_id="ra-9"),
        lambda t: t.decline_role_agreement(ctx(11), agreement_id="ra-9", reason="nee"),
        lambda t: t.end_role_agreement(ctx(11), agreement_id="ra-9", reason="weg"),
    ],
    ids=["accept", "decline", "end"],
)
def test_a_role_agreement_the_trajectory_does_not_hold_is_not_found(
    command: Callable[[Trajectory], None],
) -> None:
    trajectory = _proposed()

    with pytest.raises(ItemNotFound) as refused:
        command(trajectory)

    assert refused.value.field == "agreement_id"


def test_a_role_agreement_names_at_least_one_role() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        trajectory.propose_role_agreement(ctx(10), agreement_id="ra-1", assignments=())

    assert refused.value.field == "assignments"


def test_every_role_in_an_agreement_names_its_party() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue):
        trajectory.propose_role_agreement(
            ctx(10),
            agreement_id="ra-1",
            assignments=(RoleAssignment(party=" ", role=Role.BUDDY),),
        )


@pytest.mark.parametrize("agreement_id", ["ra-1", "  "], ids=["already used", "blank"])
def test_a_role_agreement_needs_an_id_of_its_own(agreement_id: str) -> None:
    trajectory = _proposed()

    with pytest.raises(InvalidValue) as refused:
        propose(trajectory, day=11, agreement_id=agreement_id)

    assert refused.value.field == "agreement_id"


def test_the_parties_of_a_role_agreement_in_force_are_parties_of_the_trajectory() -> None:
    trajectory = active()
    propose(trajectory, day=10, agreement_id="ra-1", parties=("org-school",))
    propose(trajectory, day=10, agreement_id="ra-2", parties=("org-buddy",))
    school = Actor(user_id="user-sien", organisation="org-school", role="teacher")

    trajectory.accept_role_agreement(ctx(11, actor=school), agreement_id="ra-1")

    assert trajectory.parties == sorted({COORDINATOR.organisation, "org-referrer", "org-school"})
