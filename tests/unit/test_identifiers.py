"""Identifiers in the record hold no control character, whoever calls the domain (issue #10).

The API takes only ``Ref``s; the domain refuses the rest too, so that no fact names an
organisation, a region or a party with a character a read model cannot store (PostgreSQL text
cannot hold a NUL) or a person cannot read.
"""

from uuid import uuid4

import pytest

from domain.common import Actor, ClientInvolvement, ConsentScope, ConsultationKind, Role, Sector
from domain.errors import InvalidValue
from domain.trajectory import Participant, RoleAssignment, Trajectory
from tests.support import COORDINATOR
from tests.unit.builders import REFERRER, accepted, active, ctx, referred

CONTROL_CHARACTERS = ["\x00", "\t", "\n", "\x1f", "\x7f"]


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
@pytest.mark.parametrize("name", ["user_id", "organisation", "role"])
def test_an_actor_named_with_a_control_character_cannot_record_anything(
    name: str, character: str
) -> None:
    fields = {"user_id": "user-an", "organisation": "org-coordinating", "role": "coordinator"}
    actor = Actor(**{**fields, name: f"a{character}b"})

    with pytest.raises(InvalidValue) as refused:
        ctx(1, actor=actor)

    assert refused.value.field == "actor"


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
@pytest.mark.parametrize("field", ["region", "referrer_organisation"])
def test_a_referral_naming_a_region_or_referrer_with_a_control_character_is_refused(
    field: str, character: str
) -> None:
    names = {"region": "elz-gent", "referrer_organisation": "school-de-linde"}

    with pytest.raises(InvalidValue) as refused:
        Trajectory.refer(
            ctx(0, actor=REFERRER),
            client_id=uuid4(),
            question="Wie helpt Sam?",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.YOUTH_CARE,
            **{**names, field: f"elz{character}gent"},
        )

    assert refused.value.field == field


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_an_acceptance_naming_a_coordinator_with_a_control_character_is_refused(
    character: str,
) -> None:
    trajectory = referred()

    with pytest.raises(InvalidValue) as refused:
        trajectory.accept(ctx(1), coordinating_organisation=f"org{character}x")

    assert refused.value.field == "coordinating_organisation"


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_a_consultation_with_a_participant_named_with_a_control_character_is_refused(
    character: str,
) -> None:
    trajectory = accepted()

    with pytest.raises(InvalidValue) as refused:
        trajectory.hold_consultation(
            ctx(5),
            kind=ConsultationKind.START,
            participants=(Participant(organisation=f"org{character}x", role=Role.PROVIDER),),
            client_involvement=ClientInvolvement.PRESENT,
            decisions=(),
            next_consultation_on=None,
            no_next_reason="the plan runs",
        )

    assert refused.value.field == "participants.organisation"


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_a_role_agreement_naming_a_party_with_a_control_character_is_refused(
    character: str,
) -> None:
    trajectory = active()
    assignments = (
        RoleAssignment(party=COORDINATOR.organisation, role=Role.PLANMAKER),
        RoleAssignment(party=f"org{character}x", role=Role.PROVIDER),
    )

    with pytest.raises(InvalidValue) as refused:
        trajectory.propose_role_agreement(ctx(10), agreement_id="ra-1", assignments=assignments)

    assert refused.value.field == "assignments.party"


@pytest.mark.parametrize("character", CONTROL_CHARACTERS, ids=repr)
def test_a_handover_to_a_party_named_with_a_control_character_is_refused(
    character: str,
) -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        trajectory.hand_over(
            ctx(10),
            to_party=f"org{character}x",
            scopes=(ConsentScope.PLAN,),
            consent_id="consent-1",
            transfers_coordination=False,
        )

    assert refused.value.field == "to_party"
