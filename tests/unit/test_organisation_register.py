"""The organisation register's rules (issue #12): one identifier, one organisation; a coordinator's
registration is provisional until an admin confirms it; public identifiers are checked."""

from collections.abc import Iterator
from uuid import uuid4

import pytest

from application.care_record import CareRecord
from application.commands import RegisterOrganisation
from domain.errors import InvalidValue
from domain.organisation import (
    CorrectionChangesNothing,
    Organisation,
    OrganisationAlreadyConfirmed,
    OrganisationAlreadyRegistered,
    OrganisationKind,
    OrganisationNotFound,
    OrganisationStatus,
    PublicIdentifiers,
    check_enterprise_number,
    organisation_id,
)
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.unit.builders import ctx


def school(
    *, provisional: bool = True, identifiers: PublicIdentifiers | None = None
) -> Organisation:
    return Organisation.register(
        ctx(1),
        identifier="school-de-linde",
        name="Basisschool De Linde",
        kind=OrganisationKind.SCHOOL,
        region="west-flanders",
        public_identifiers=identifiers or PublicIdentifiers(),
        provisional=provisional,
    )


# --- public identifiers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["0403170701", "0403.170.701", "BE0403170701", "BE 0403 170 701"]
)
def test_an_enterprise_number_is_kept_as_its_ten_digits(written: str) -> None:
    assert check_enterprise_number(written) == "0403170701"


def test_an_enterprise_number_whose_check_digits_do_not_match_is_refused() -> None:
    with pytest.raises(InvalidValue, match="check digits") as refused:
        check_enterprise_number("0403170702")

    assert refused.value.field == "public_identifiers.enterprise_number"


def test_an_enterprise_number_of_nine_digits_is_refused() -> None:
    with pytest.raises(InvalidValue, match="ten digits"):
        check_enterprise_number("403170701")


@pytest.mark.parametrize("field", ["agb", "ura", "kvk"])
def test_a_dutch_identifier_has_eight_digits(field: str) -> None:
    with pytest.raises(InvalidValue, match="eight digits"):
        PublicIdentifiers(**{field: "1234567"}).checked()


def test_registering_keeps_the_public_identifiers_in_their_canonical_form() -> None:
    organisation = school(
        identifiers=PublicIdentifiers(enterprise_number="BE0403.170.701", agb="01234567")
    )

    assert organisation.public_identifiers == PublicIdentifiers(
        enterprise_number="0403170701", agb="01234567"
    )


# --- registering, confirming, correcting ---------------------------------------------------------


def test_the_organisations_id_is_derived_from_its_identifier() -> None:
    assert school().id == organisation_id("school-de-linde")
    assert organisation_id("school-de-linde") != organisation_id("School-De-Linde")


def test_a_provisional_registration_awaits_confirmation() -> None:
    organisation = school(provisional=True)

    assert organisation.status == OrganisationStatus.PROVISIONAL
    assert type(organisation.collect_events()[0]) is Organisation.RegisteredProvisionally


def test_an_admins_registration_is_confirmed_from_the_start() -> None:
    organisation = school(provisional=False)

    assert organisation.status == OrganisationStatus.CONFIRMED
    assert type(organisation.collect_events()[0]) is Organisation.Registered


def test_confirming_twice_is_refused() -> None:
    organisation = school()
    organisation.confirm(ctx(2))

    with pytest.raises(OrganisationAlreadyConfirmed):
        organisation.confirm(ctx(3))


def test_a_correction_records_only_what_changed_and_a_new_kind_as_a_classification() -> None:
    organisation = school()
    organisation.collect_events()

    organisation.correct(
        ctx(2),
        name="Basisschool De Linde",  # unchanged
        kind=OrganisationKind.OTHER,
        region="limburg",
        public_identifiers=None,
    )

    corrected, classified = organisation.collect_events()
    assert isinstance(corrected, Organisation.Corrected)
    assert (corrected.name, corrected.region, corrected.public_identifiers) == (
        None,
        "limburg",
        None,
    )
    assert isinstance(classified, Organisation.Classified)
    assert (organisation.kind, organisation.region) == (OrganisationKind.OTHER, "limburg")


def test_a_correction_may_take_a_public_identifier_away() -> None:
    organisation = school(identifiers=PublicIdentifiers(kvk="12345678"))

    organisation.correct(
        ctx(2), name=None, kind=None, region=None, public_identifiers=PublicIdentifiers()
    )

    assert organisation.public_identifiers == PublicIdentifiers()


def test_a_correction_that_changes_nothing_is_refused() -> None:
    organisation = school()

    with pytest.raises(CorrectionChangesNothing):
        organisation.correct(
            ctx(2), name=None, kind=OrganisationKind.SCHOOL, region=None, public_identifiers=None
        )


def test_a_registration_needs_a_name() -> None:
    with pytest.raises(InvalidValue, match="name"):
        Organisation.register(
            ctx(1),
            identifier="org-x",
            name="  ",
            kind=OrganisationKind.UNCLASSIFIED,
            region=None,
            public_identifiers=PublicIdentifiers(),
            provisional=True,
        )


# --- in the record ------------------------------------------------------------------------------


@pytest.fixture
def app(any_settings: Settings) -> Iterator[CareRecord]:
    care_record = build_care_record(any_settings)
    yield care_record
    care_record.close()


def registration(identifier: str) -> RegisterOrganisation:
    return RegisterOrganisation(
        occurred_at=ctx(1).occurred_at, identifier=identifier, name="Basisschool De Linde"
    )


def new_identifier() -> str:
    """The databases of this module outlive a test: each test registers its own identifier."""
    return f"school-{uuid4().hex[:10]}"


def test_the_record_registers_an_identifier_once(app: CareRecord) -> None:
    identifier = new_identifier()
    app.register_organisation(ctx(1), registration(identifier), provisional=True)

    with pytest.raises(OrganisationAlreadyRegistered, match="already registered"):
        app.register_organisation(ctx(2), registration(identifier), provisional=False)


def test_an_organisation_is_recorded_without_a_key(app: CareRecord) -> None:
    identifier = new_identifier()
    result = app.register_organisation(ctx(1), registration(identifier), provisional=True)

    assert app.keys.key_for(result.id) is None
    assert app.organisation(identifier).status == OrganisationStatus.PROVISIONAL


def test_an_unregistered_organisation_is_not_found_by_its_identifier(app: CareRecord) -> None:
    with pytest.raises(OrganisationNotFound):
        app.organisation("school-nowhere")
