"""The Client: representatives who may sign (004) and consents that decide where data may go."""

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain.client import Client, Consent, PersonalData, PersonRole
from domain.common import ConsentScope, Signatory
from domain.errors import (
    ConsentMissing,
    ContinuationNeedsConsent,
    InvalidValue,
    ItemNotFound,
    OccurredInFuture,
    RepresentativeExcluded,
    RepresentativeNotAppointed,
    RuleConflict,
    SignatoryNotAllowed,
)
from tests.support import COORDINATOR, context
from tests.unit.builders import (
    NEXT_ORGANISATION,
    NOW,
    at,
    ctx,
    last_event,
    new_events,
    on,
    registered,
    with_consent,
    with_representative,
)

PLAN = (ConsentScope.PLAN,)


# --- registration -------------------------------------------------------------------------------


def test_a_client_is_registered_by_an_organisation_under_a_pseudonymous_id() -> None:
    client = registered()

    assert client.registering_organisation == COORDINATOR.organisation
    assert client.personal == PersonalData(name="Sam Peeters", contact="sam@example.org")
    assert client.representatives == {}
    assert client.consents == {}
    assert last_event(client, Client.Registered).occurred_at == at(0)


def test_a_registration_that_lies_in_the_future_is_refused() -> None:
    with pytest.raises(OccurredInFuture):
        Client.register(
            context(occurred_at=NOW + timedelta(hours=1), now=NOW), personal=PersonalData()
        )


@pytest.mark.parametrize(
    ("occurred_at", "says"),
    [
        (datetime(1899, 12, 31, tzinfo=UTC), "lies before 1900"),
        # (No date in UTC: past the year 9999 there, which is not "before 1900".)
        (
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
            "outside the years 1 to 9999",
        ),
    ],
)
def test_a_registration_at_no_date_of_this_record_says_which_way_it_is_out(
    occurred_at: datetime, says: str
) -> None:
    with pytest.raises(InvalidValue, match=says):
        Client.register(context(occurred_at=occurred_at, now=NOW), personal=PersonalData())


# --- representatives ------------------------------------------------------------------------


def test_an_appointed_representative_may_sign_for_the_client() -> None:
    client = registered()

    with_representative(client, day=1, ref="rep-mother")

    assert client.representatives["rep-mother"].appointed_at == at(1)
    assert client.representatives["rep-mother"].personal == PersonalData(name="An Peeters")
    client.check_may_sign(Signatory.REPRESENTATIVE, "rep-mother", at(1))
    client.check_may_sign(Signatory.REPRESENTATIVE, "rep-mother", at(5))


def test_a_representative_does_not_sign_before_their_appointment() -> None:
    """Found by an outside probe: a signature dated twelve days before the appointment put the
    plan in force through someone who was no representative then."""
    client = registered()
    with_representative(client, day=3, ref="rep-father")

    with pytest.raises(SignatoryNotAllowed, match="appointed on"):
        client.check_may_sign(Signatory.REPRESENTATIVE, "rep-father", at(2))


def test_a_representative_is_appointed_once() -> None:
    client = registered()
    with_representative(client, day=1)

    with pytest.raises(RuleConflict):
        with_representative(client, day=2)


def test_a_representative_needs_a_reference() -> None:
    client = registered()

    with pytest.raises(InvalidValue) as refused:
        with_representative(client, day=1, ref=" ")

    assert refused.value.field == "representative_ref"


def test_an_excluded_representative_may_not_sign() -> None:
    client = registered()
    with_representative(client, day=1)

    client.exclude_representative(
        ctx(2), representative_ref="rep-mother", reason=" cliënt wil dit "
    )

    assert client.representatives["rep-mother"].excluded_at == at(2)
    assert last_event(client, Client.RepresentativeExcluded).reason == "cliënt wil dit"
    with pytest.raises(SignatoryNotAllowed, match="excluded"):
        client.check_may_sign(Signatory.REPRESENTATIVE, "rep-mother", at(3))
    # An exclusion holds however the signature is dated: the client's choice stands.
    with pytest.raises(SignatoryNotAllowed, match="excluded"):
        client.check_may_sign(Signatory.REPRESENTATIVE, "rep-mother", at(1))


def test_a_representative_is_excluded_once() -> None:
    client = registered()
    with_representative(client, day=1)
    client.exclude_representative(ctx(2), representative_ref="rep-mother", reason="")

    with pytest.raises(RuleConflict):
        client.exclude_representative(ctx(3), representative_ref="rep-mother", reason="")


def test_a_representative_who_was_never_appointed_cannot_be_excluded() -> None:
    client = registered()

    with pytest.raises(ItemNotFound) as refused:
        client.exclude_representative(ctx(2), representative_ref="rep-x", reason="")

    assert refused.value.field == "representative_ref"


def test_someone_who_is_not_an_appointed_representative_may_not_sign() -> None:
    client = registered()
    with_representative(client, day=1)

    with pytest.raises(SignatoryNotAllowed):
        client.check_may_sign(Signatory.REPRESENTATIVE, "rep-unknown", at(2))


def test_a_signature_by_a_representative_names_them() -> None:
    """Found by an outside probe: the refusal read "None is not an appointed representative"."""
    client = registered()
    with_representative(client, day=1)

    with pytest.raises(InvalidValue, match="give representative_ref") as refused:
        client.check_may_sign(Signatory.REPRESENTATIVE, None, at(2))

    assert refused.value.field == "representative_ref"


def test_the_clients_signature_names_no_representative() -> None:
    """Found by an outside probe: the representative_ref was dropped without a word."""
    client = registered()
    with_representative(client, day=1)

    with pytest.raises(InvalidValue, match="signatory 'representative'") as refused:
        client.check_may_sign(Signatory.CLIENT, "rep-mother", at(2))

    assert refused.value.field == "representative_ref"


def test_the_client_may_always_sign_their_own_plan() -> None:
    client = registered()
    with_representative(client, day=1)
    client.exclude_representative(ctx(2), representative_ref="rep-mother", reason="")

    client.check_may_sign(Signatory.CLIENT, None, at(3))


# --- acting in the client's name ---------------------------------------------------------------


def test_an_appointed_representative_may_act_in_the_clients_name() -> None:
    client = registered()
    with_representative(client, day=1, ref="rep-mother")

    client.check_may_act_for("rep-mother")


@pytest.mark.parametrize(
    "named", ["rep-x", "REP-MOTHER", "rep-mother\t", " rep-mother", "rep-mother" * 500, ""]
)
def test_only_a_representative_named_exactly_as_appointed_acts_in_the_clients_name(
    named: str,
) -> None:
    client = registered()
    with_representative(client, day=1, ref="rep-mother")

    with pytest.raises(RepresentativeNotAppointed) as refused:
        client.check_may_act_for(named)

    assert refused.value.field == "X-On-Behalf-Of"


def test_an_excluded_representative_may_not_act_in_the_clients_name() -> None:
    client = registered()
    with_representative(client, day=1, ref="rep-mother")
    client.exclude_representative(ctx(2), representative_ref="rep-mother", reason="")

    with pytest.raises(RepresentativeExcluded):
        client.check_may_act_for("rep-mother")


# --- consents ---------------------------------------------------------------------------------


def test_a_consent_records_to_whom_what_why_and_until_when() -> None:
    client = registered()

    with_consent(client, day=10, until=on(400))

    assert client.consents["consent-1"] == Consent(
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN, ConsentScope.DOSSIER),
        purpose="overdracht naar de volgende begeleiding",
        granted_on=on(10),
        until=on(400),
        granted_at=at(10),
    )


def test_a_consent_names_each_scope_once() -> None:
    client = registered()

    with_consent(client, day=10, scopes=(ConsentScope.PLAN, ConsentScope.PLAN))

    assert client.consents["consent-1"].scopes == PLAN


@pytest.mark.parametrize("consent_id", ["consent-1", " "], ids=["already used", "blank"])
def test_a_consent_needs_an_id_of_its_own(consent_id: str) -> None:
    client = registered()
    with_consent(client, day=10)

    with pytest.raises(InvalidValue) as refused:
        with_consent(client, day=11, consent_id=consent_id)

    assert refused.value.field == "consent_id"


def test_a_consent_covers_at_least_one_scope() -> None:
    client = registered()

    with pytest.raises(InvalidValue) as refused:
        with_consent(client, day=10, scopes=())

    assert refused.value.field == "scopes"


def test_a_consent_does_not_end_before_it_is_given() -> None:
    client = registered()

    with pytest.raises(InvalidValue) as refused:
        with_consent(client, day=10, until=on(9))

    assert refused.value.field == "until"


@pytest.mark.parametrize("field", ["to_party", "purpose"])
def test_a_consent_names_who_receives_it_and_why(field: str) -> None:
    client = registered()
    details = {"to_party": NEXT_ORGANISATION, "purpose": "overdracht"} | {field: ""}

    with pytest.raises(InvalidValue) as refused:
        client.grant_consent(ctx(10), consent_id="c-1", scopes=PLAN, until=None, **details)

    assert refused.value.field == field


def test_a_consent_covers_passing_its_scopes_to_its_party() -> None:
    client = registered()
    with_consent(client, day=10)

    assert client.consent_covering(NEXT_ORGANISATION, PLAN, at(10)) == "consent-1"
    assert (
        client.consent_covering(
            NEXT_ORGANISATION, (ConsentScope.DOSSIER, ConsentScope.PLAN), at(500)
        )
        == "consent-1"
    )


def test_a_consent_shares_any_of_its_scopes_with_its_party_while_in_force() -> None:
    client = registered()
    with_consent(client, day=10, scopes=(ConsentScope.DOSSIER,), until=on(100))
    case = frozenset({ConsentScope.PLAN, ConsentScope.DOSSIER})

    assert client.shares_with(NEXT_ORGANISATION, case, on(10))
    assert client.shares_with(NEXT_ORGANISATION, case, on(100))
    assert not client.shares_with(NEXT_ORGANISATION, case, on(9))
    assert not client.shares_with(NEXT_ORGANISATION, case, on(101))
    assert not client.shares_with("org-other", case, on(50))
    assert not client.shares_with(
        NEXT_ORGANISATION, frozenset({ConsentScope.CONTACT_DETAILS}), on(50)
    )


def test_a_revoked_consent_shares_nothing() -> None:
    client = registered()
    with_consent(client, day=10)
    client.revoke_consent(ctx(30), consent_id="consent-1", reason="")

    assert not client.shares_with(NEXT_ORGANISATION, frozenset(ConsentScope), on(40))


def test_a_consent_does_not_cover_another_party() -> None:
    client = registered()
    with_consent(client, day=10)

    with pytest.raises(ConsentMissing):
        client.consent_covering("org-other", PLAN, at(20))


def test_a_consent_does_not_cover_a_scope_it_does_not_name() -> None:
    client = registered()
    with_consent(client, day=10, scopes=PLAN)

    with pytest.raises(ConsentMissing):
        client.consent_covering(
            NEXT_ORGANISATION, (ConsentScope.PLAN, ConsentScope.CONTACT_DETAILS), at(20)
        )


def test_a_consent_does_not_cover_a_day_before_it_was_given() -> None:
    client = registered()
    with_consent(client, day=10)

    with pytest.raises(ConsentMissing):
        client.consent_covering(NEXT_ORGANISATION, PLAN, at(9))


def test_a_consent_covers_up_to_and_including_its_last_day() -> None:
    client = registered()
    with_consent(client, day=10, until=on(100))

    assert client.consent_covering(NEXT_ORGANISATION, PLAN, at(100)) == "consent-1"
    with pytest.raises(ConsentMissing):
        client.consent_covering(NEXT_ORGANISATION, PLAN, at(101))


def test_a_revoked_consent_no_longer_covers_anything() -> None:
    client = registered()
    with_consent(client, day=10)

    client.revoke_consent(ctx(30), consent_id="consent-1", reason=" cliënt trekt in ")

    assert client.consents["consent-1"].revoked_at == at(30)
    assert last_event(client, Client.ConsentRevoked).reason == "cliënt trekt in"
    with pytest.raises(ConsentMissing):
        client.consent_covering(NEXT_ORGANISATION, PLAN, at(20))


def test_the_covering_consent_is_found_among_several() -> None:
    client = registered()
    with_consent(client, day=10, consent_id="consent-a", to_party="org-a")
    with_consent(client, day=10, consent_id="consent-b", to_party=NEXT_ORGANISATION)

    assert client.consent_covering(NEXT_ORGANISATION, PLAN, at(20)) == "consent-b"


def test_a_consent_is_revoked_once() -> None:
    client = registered()
    with_consent(client, day=10)
    client.revoke_consent(ctx(30), consent_id="consent-1", reason="")
    before = len(new_events(client))

    with pytest.raises(RuleConflict):
        client.revoke_consent(ctx(31), consent_id="consent-1", reason="")

    assert len(new_events(client)) == before


def test_a_consent_that_was_never_given_cannot_be_revoked() -> None:
    client = registered()

    with pytest.raises(ItemNotFound) as refused:
        client.revoke_consent(ctx(30), consent_id="consent-x", reason="")

    assert refused.value.field == "consent_id"


def test_a_consent_covers_a_handover_at_the_same_moment_whatever_the_time_zone() -> None:
    """A consent given just after midnight in Brussels (still the day before in UTC) covers a
    handover recorded ten minutes later.

    ``ConsentGranted.apply_to`` takes ``granted_on`` as the *local* date of ``occurred_at``,
    while every other rule (``CommandContext.occurred_on``, which the application passes to
    ``consent_covering``) uses the UTC date, so the consent seems to start a day too late.
    """
    client = registered()
    brussels = timezone(timedelta(hours=1))
    given_at = datetime(2023, 3, 10, 0, 30, tzinfo=brussels)
    client.grant_consent(
        context(occurred_at=given_at, now=NOW),
        consent_id="consent-1",
        to_party=NEXT_ORGANISATION,
        scopes=PLAN,
        purpose="overdracht",
        until=None,
    )
    handover = context(occurred_at=given_at + timedelta(minutes=10), now=NOW)

    assert client.consent_covering(NEXT_ORGANISATION, PLAN, handover.occurred_at) == "consent-1"
    assert client.consents["consent-1"].granted_on == given_at.astimezone(UTC).date()


def test_a_consent_does_not_cover_a_moment_before_it_was_given_the_same_day() -> None:
    """004: the consent comes before the information passes. A handover an hour before the
    client gave their consent that same day is not covered by it (it was, by calendar day)."""
    client = registered()
    client.grant_consent(
        ctx(10, hours=5),
        consent_id="consent-1",
        to_party=NEXT_ORGANISATION,
        scopes=PLAN,
        purpose="overdracht",
        until=None,
    )

    with pytest.raises(ConsentMissing, match="given after that moment"):
        client.consent_covering(NEXT_ORGANISATION, PLAN, at(10, hours=4))
    assert client.consent_covering(NEXT_ORGANISATION, PLAN, at(10, hours=5)) == "consent-1"
    assert client.consents["consent-1"].granted_at == at(10, hours=5)
    # A read by day still finds it in force that day (the day it was given).
    assert client.shares_with(NEXT_ORGANISATION, frozenset(PLAN), on(10))


def test_a_consent_from_a_snapshot_without_its_moment_is_in_force_from_the_start_of_its_day() -> (
    None
):
    """A snapshot taken before the moment was kept holds the day only: the day rule of old."""
    consent = Consent(
        to_party=NEXT_ORGANISATION, scopes=PLAN, purpose="p", granted_on=on(10), until=None
    )

    assert consent.granted_at is None
    assert consent.covers(NEXT_ORGANISATION, PLAN, at(10, hours=-at(10).hour))
    assert not consent.covers(NEXT_ORGANISATION, PLAN, at(10, hours=-at(10).hour - 1))


def test_a_continuation_consent_lets_its_holder_continue_from_the_moment_it_was_given() -> None:
    """Issue #17, 004: a continuation by the consent's holder is held against the consent's
    moment, as a handover is; today's date (the access policy's) finds it in force all day."""
    client = registered()
    earlier, other = uuid4(), uuid4()
    client.grant_consent(
        ctx(10, hours=5),
        consent_id="to-next",
        to_party=NEXT_ORGANISATION,
        scopes=PLAN,
        purpose="continuation",
        until=None,
        trajectory_id=earlier,
    )

    assert client.lets_continue(NEXT_ORGANISATION, on(10), earlier)
    assert not client.lets_continue(NEXT_ORGANISATION, at(10, hours=4), earlier)
    with pytest.raises(ContinuationNeedsConsent, match="lies before the client's consent") as e:
        client.check_lets_continue(NEXT_ORGANISATION, at(10, hours=4), earlier)
    assert e.value.field == "occurred_at"
    client.check_lets_continue(NEXT_ORGANISATION, at(10, hours=5), earlier)
    with pytest.raises(ContinuationNeedsConsent, match="no consent of the client") as e:
        client.check_lets_continue(NEXT_ORGANISATION, at(10, hours=6), other)
    assert e.value.field == "continues_from"


# --- identity links (issue #19) -----------------------------------------------------------------


@pytest.mark.parametrize("subject", ["idp|a\x00b", "idp|a\nb", "idp|a\x7f"])
def test_an_identity_links_subject_holds_no_control_character(subject: str) -> None:
    client = registered()
    with pytest.raises(InvalidValue, match="control characters"):
        client.link_identity(
            ctx(1),
            link_id="link-1",
            subject=subject,
            subject_hash="a1" * 32,
            as_role=PersonRole.CLIENT,
            representative_ref=None,
        )
    assert client.identity_links == {}


# --- the erasure ends the consents (outside probe) ----------------------------------------------


def _three_consents() -> Client:
    """One in force, one revoked, one that ran out on day 15."""
    client = registered()
    with_consent(client, day=10, consent_id="in-force")
    with_consent(client, day=10, consent_id="revoked", to_party="org-a")
    client.revoke_consent(ctx(12), consent_id="revoked", reason="cliënt trekt in")
    with_consent(client, day=10, consent_id="ran-out", to_party="org-b", until=on(15))
    return client


def test_the_erasure_ends_the_consents_in_force_as_facts_without_personal_data() -> None:
    """Outside probe: after the erasure a consent stayed in force for good (the erased record
    takes no revocation), so its holder kept reading. The erasure ends it in its own commit."""
    client = _three_consents()
    client.erase(ctx(20), legal_basis="gdpr_request", erased_subjects=(client.id,))

    ended = [e for e in new_events(client) if isinstance(e, Client.ConsentEndedByErasure)]
    assert [e.consent_id for e in ended] == ["in-force"]
    assert not Client.ConsentEndedByErasure.personal_fields
    assert isinstance(new_events(client)[-1], Client.Erased)  # in the erasure's own commit
    consents = client.consents
    assert consents["in-force"].revoked_at == at(20)
    assert consents["revoked"].revoked_at == at(12)  # its own revocation stands
    assert consents["ran-out"].revoked_at is None  # it ended on its own day, not the erasure's
    assert not client.shares_with(NEXT_ORGANISATION, frozenset(PLAN), on(20))
    with pytest.raises(ConsentMissing):
        client.consent_covering(NEXT_ORGANISATION, PLAN, at(20))


def test_an_erasure_recorded_before_the_rule_ends_the_consents_as_it_is_replayed() -> None:
    """Stores hold erasures recorded without the ending facts: replayed, they end the same
    consents at the same moment, so the access checks (which read the record) follow."""
    client = _three_consents()
    client.trigger_event(
        Client.Erased,
        **ctx(20).event_fields(),
        legal_basis="gdpr_request",
        erased_subjects=(client.id,),
    )

    assert [(i, c.revoked_at) for i, c in client.consents.items()] == [
        ("in-force", at(20)),
        ("revoked", at(12)),
        ("ran-out", None),
    ]
    assert not client.shares_with(NEXT_ORGANISATION, frozenset(PLAN), on(20))
