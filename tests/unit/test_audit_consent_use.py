"""The auditor's agreements say whether a consent covered a handover at its moment (004)."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from api.audit_views import _consent_use
from domain.common import ConsentScope

GIVEN_AT = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


def _handover(occurred_at: datetime) -> SimpleNamespace:
    actor = SimpleNamespace(user_id="u-1", organisation="org-a", role="coordinator")
    actor.on_behalf_of = None
    event = SimpleNamespace(
        occurred_at=occurred_at,
        to_party="org-next",
        scopes=(ConsentScope.PLAN,),
        consent_id="consent-1",
        actor=actor,
        originator_version=7,
    )
    return SimpleNamespace(event=event, recorded_at=occurred_at)


def _granted(until: date | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        occurred_at=GIVEN_AT, to_party="org-next", scopes=(ConsentScope.PLAN,), until=until
    )


@pytest.mark.parametrize(
    ("handed_over_at", "covered"),
    [
        (GIVEN_AT - timedelta(hours=1), False),  # the same day, an hour before the consent
        (GIVEN_AT, True),
        (GIVEN_AT + timedelta(hours=1), True),
    ],
)
def test_a_handover_before_the_consent_the_same_day_was_not_covered(
    handed_over_at: datetime, covered: bool
) -> None:
    use = _consent_use(_handover(handed_over_at), _granted(), None)  # type: ignore[arg-type]

    assert use.covered is covered
    assert use.consent_granted_on == GIVEN_AT.date()
    assert use.consent_granted_at == GIVEN_AT  # the moment covered is decided against


def test_a_handover_after_the_consents_last_day_or_its_revocation_was_not_covered() -> None:
    later = GIVEN_AT + timedelta(days=2)
    ran_out = _granted(until=GIVEN_AT.date() + timedelta(days=1))
    revoked = SimpleNamespace(occurred_at=later - timedelta(minutes=1))

    assert not _consent_use(_handover(later), ran_out, None).covered  # type: ignore[arg-type]
    assert not _consent_use(_handover(later), _granted(), revoked).covered  # type: ignore[arg-type]
    assert _consent_use(_handover(later), _granted(), None).covered  # type: ignore[arg-type]
