"""Export authorisations (issue #13): recorded by the data protection officer for one user of one
organisation and one region, until a day to come; revocable; an export needs one in force."""

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from application.care_record import CareRecord
from application.commands import GrantExportAuthorisation, RevokeExportAuthorisation
from domain.common import Actor
from domain.export_authorisation import (
    AuthorisationAlreadyRevoked,
    AuthorisationStatus,
    ExportAuthorisation,
    ExportNotAuthorised,
    LegalBasis,
    UntilNotInFuture,
    authorisation_for,
)
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.unit.builders import NOW, ctx

OFFICER = Actor(user_id="user-dpo", organisation="org-dpo", role="data_protection_officer")
TODAY = NOW.date()


def granted(
    *, user_id: str = "user-ana", region: str = "west-flanders", until: date | None = None
) -> ExportAuthorisation:
    return ExportAuthorisation.grant(
        ctx(1, actor=OFFICER),
        user_id=user_id,
        organisation="org-research",
        purpose="Where trajectories block, for the regional learning network",
        legal_basis=LegalBasis.SCIENTIFIC_RESEARCH,
        region=region,
        until=until or TODAY + timedelta(days=90),
    )


def allowed(authorisation: ExportAuthorisation, **overrides: object) -> ExportAuthorisation:
    asked: dict[str, object] = {
        "user_id": "user-ana",
        "organisation": "org-research",
        "region": "west-flanders",
        "day": TODAY,
    } | overrides
    return authorisation_for([authorisation], **asked)  # type: ignore[arg-type]


def test_an_authorisation_is_in_force_until_its_day_and_expired_after() -> None:
    authorisation = granted(until=TODAY + timedelta(days=3))

    assert authorisation.status_on(TODAY + timedelta(days=3)) == AuthorisationStatus.IN_FORCE
    assert authorisation.status_on(TODAY + timedelta(days=4)) == AuthorisationStatus.EXPIRED
    assert authorisation.granted_by == "user-dpo"


def test_an_authorisation_runs_until_a_day_still_to_come() -> None:
    with pytest.raises(UntilNotInFuture) as refused:
        granted(until=TODAY)

    assert refused.value.field == "until"


def test_a_revoked_authorisation_is_revoked_once() -> None:
    authorisation = granted()
    authorisation.revoke(ctx(2, actor=OFFICER), reason="project ended")

    assert authorisation.status_on(TODAY) == AuthorisationStatus.REVOKED
    with pytest.raises(AuthorisationAlreadyRevoked):
        authorisation.revoke(ctx(3, actor=OFFICER), reason="again")


def test_the_user_of_the_organisation_exports_the_region_under_an_authorisation_in_force() -> None:
    authorisation = granted()

    assert allowed(authorisation) is authorisation


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ({"user_id": "user-bert"}, "no export authorisation"),
        ({"organisation": "org-other"}, "no export authorisation"),
        ({"region": "limburg"}, "other regions"),
        ({"day": TODAY + timedelta(days=91)}, "expired"),
    ],
    ids=["another user", "another organisation", "another region", "expired"],
)
def test_an_export_is_refused_without_an_authorisation_in_force(
    asked: dict[str, object], says: str
) -> None:
    with pytest.raises(ExportNotAuthorised, match=says) as refused:
        allowed(granted(), **asked)

    assert "POST /v1/exports/authorisations" in refused.value.message


def test_an_export_is_refused_under_a_revoked_authorisation() -> None:
    authorisation = granted()
    authorisation.revoke(ctx(2, actor=OFFICER), reason="")

    with pytest.raises(ExportNotAuthorised, match="revoked"):
        allowed(authorisation)


# --- kept in the record -------------------------------------------------------------------------


@pytest.fixture
def care_record(any_settings: Settings) -> Iterator[CareRecord]:
    care_record = build_care_record(any_settings)
    yield care_record
    care_record.close()


def test_the_record_lists_every_authorisation_with_its_revocation(
    care_record: CareRecord,
) -> None:
    now = ctx(0, actor=OFFICER)
    first = care_record.grant_export_authorisation(
        now,
        GrantExportAuthorisation(
            occurred_at=now.occurred_at,
            user_id="user-ana",
            organisation="org-research",
            purpose="process map",
            legal_basis=LegalBasis.PUBLIC_TASK,
            region="west-flanders",
            until=TODAY + timedelta(days=365),
        ),
    )
    care_record.revoke_export_authorisation(
        now, first.id, 1, RevokeExportAuthorisation(occurred_at=now.occurred_at)
    )

    listed = {a.id: a for a in care_record.export_authorisations()}

    assert listed[first.id].status_on(TODAY) == AuthorisationStatus.REVOKED
    assert listed[first.id].version == 2


def test_the_list_reads_the_log_once_and_then_only_what_came_after(
    care_record: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export asks for the list each time: it must not read the whole log each time."""
    now = ctx(0, actor=OFFICER)

    def grant(user_id: str) -> ExportAuthorisation:
        return care_record.grant_export_authorisation(
            now,
            GrantExportAuthorisation(
                occurred_at=now.occurred_at,
                user_id=user_id,
                organisation="org-research",
                purpose="process map",
                legal_basis=LegalBasis.PUBLIC_TASK,
                region="west-flanders",
                until=TODAY + timedelta(days=365),
            ),
        )

    first = grant("user-ana")
    before = [a.id for a in care_record.export_authorisations()]  # others' tests' too
    assert before[-1] == first.id
    starts: list[int | None] = []
    select = care_record.recorder.select_notifications

    def spied(start: int | None, *args: object, **kwargs: object) -> object:
        starts.append(start)
        return select(start, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(care_record.recorder, "select_notifications", spied)
    head = care_record.recorder.max_notification_id()
    assert [a.id for a in care_record.export_authorisations()] == before
    assert starts == []  # nothing recorded since: nothing read
    second = grant("user-bo")
    assert [a.id for a in care_record.export_authorisations()] == [*before, second.id]
    assert starts == [head]  # read on from where it was
