"""The register's read model on both databases: every organisation the record names, registered
or not, the same whether followed live event by event or rebuilt from zero (issue #12)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.care_record import CareRecord
from application.commands import (
    Accept,
    ConfirmOrganisation,
    CorrectOrganisation,
    GrantConsent,
    HandOver,
    HoldConsultation,
    Participant,
    Refer,
    RegisterClient,
    RegisterOrganisation,
)
from domain.common import (
    Actor,
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    Role,
    Sector,
)
from domain.organisation import OrganisationKind
from projections.organisations import (
    OrganisationFilter,
    RegisterStatus,
    organisation,
    organisation_kinds,
    organisations,
)
from projections.worker import ProjectionWorker
from tests.integration.databases import read_models
from tests.support import on_trajectory, said

COORDINATOR = Actor(user_id="user-an", organisation="org-coordinating", role="coordinator")
ADMIN = Actor(user_id="user-ad", organisation="rodedraad-operations", role="admin")
SCHEDULER = Actor(user_id="rodedraad-scheduler", organisation="rodedraad", role="scheduler")


def context(days_ago: int, actor: Actor = COORDINATOR) -> CommandContext:
    now = datetime.now(UTC)
    return CommandContext(
        actor=actor,
        occurred_at=now - timedelta(days=days_ago),
        correlation_id="register",
        causation_id=None,
        now=now,
    )


def tell_a_story(record: CareRecord) -> UUID:
    """A school referred through a coordinator, a consultation with a CLB and an informal carer,
    a handover to a welfare centre; the school registered on the spot and confirmed, the CLB
    registered by an admin and corrected."""
    register = said(
        RegisterOrganisation, context(40), identifier="school-de-linde", name="De Linde"
    )
    record.register_organisation(context(40), register, provisional=True)
    client = record.register_client(context(30), said(RegisterClient, context(30), name="Sam"))
    trajectory = record.refer(
        context(30),
        said(
            Refer,
            context(30),
            client_id=client.id,
            question="Support at school",
            sector=Sector.EDUCATION,
            region="west-flanders",
            referrer_organisation="school-de-linde",
        ),
    ).id
    on_trajectory(record, context(29), trajectory, None, Accept, coordinating_organisation=None)
    on_trajectory(
        record,
        context(28),
        trajectory,
        None,
        HoldConsultation,
        kind=ConsultationKind.START,
        participants=(
            Participant(organisation="clb-brugge", role=Role.PROVIDER),
            Participant(organisation="family", role=Role.INFORMAL_CARER, person_ref="mother"),
        ),
        client_involvement=ClientInvolvement.PRESENT,
        next_consultation_on=(datetime.now(UTC) + timedelta(days=60)).date(),
    )
    admin = context(27, ADMIN)
    record.register_organisation(
        admin,
        said(
            RegisterOrganisation,
            admin,
            identifier="clb-brugge",
            name="CLB Brugge",
            kind=OrganisationKind.PUPIL_GUIDANCE_CENTRE,
        ),
        provisional=False,
    )
    record.change_organisation(admin, "school-de-linde", None, said(ConfirmOrganisation, admin))
    record.change_organisation(
        admin,
        "clb-brugge",
        None,
        said(CorrectOrganisation, admin, region="west-flanders", kind=OrganisationKind.OTHER),
    )
    grant = context(26)
    record.change_client(
        grant,
        client.id,
        None,
        said(
            GrantConsent,
            grant,
            to_party="ocmw-brugge",
            scopes=(ConsentScope.PLAN,),
            purpose="continuity",
        ),
    )
    on_trajectory(
        record,
        context(25),
        trajectory,
        None,
        HandOver,
        to_party="ocmw-brugge",
        scopes=(ConsentScope.PLAN,),
        transfers_coordination=False,
    )
    record.record_deadline(
        context(1, SCHEDULER),
        trajectory,
        kind="reminder",
        rule="three-month-consultation",
        due_on=datetime.now(UTC).date(),
    )
    return trajectory


def test_every_organisation_the_record_names_is_in_the_register_with_its_kind(
    followed: ProjectionWorker,
) -> None:
    tell_a_story(followed.care_record)

    followed.catch_up()

    with followed.database.transaction() as tx:
        kinds = organisation_kinds(tx)
        school = organisation(tx, "school-de-linde")
        unregistered = organisations(tx, OrganisationFilter(status=RegisterStatus.UNREGISTERED))
    assert kinds == {
        "school-de-linde": "unclassified",  # registered on the spot without a kind
        "clb-brugge": "other",
        "org-coordinating": "unclassified",
        "ocmw-brugge": "unclassified",
    }
    assert school is not None
    assert (school.status, school.version) == (RegisterStatus.CONFIRMED, 2)
    assert [o.identifier for o in unregistered.items] == ["ocmw-brugge", "org-coordinating"]


def test_the_register_rebuilt_from_zero_equals_the_one_followed_live(
    followed: ProjectionWorker,
) -> None:
    tell_a_story(followed.care_record)
    followed.catch_up()
    projection = followed.projection("organisations")
    live = read_models(followed.database, [projection])

    followed.batch_size = 1000
    followed.rebuild("organisations")

    assert read_models(followed.database, [projection]) == live
