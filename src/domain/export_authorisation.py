"""The ExportAuthorisation aggregate: who may take event-level data out, why, and until when
(issue #13, point 4).

An export for process mining (XES) is **pseudonymised microdata**, not anonymous data: it is
personal data under the GDPR (art. 4(5)) and needs a purpose and a legal basis. The
``data_protection_officer`` records an authorisation for one user of one organisation, for one
region, until a day; it can be revoked. An export is made only under an authorisation in force
for the caller's user and organisation and the region asked for (``check_allows``): a role in a
token is never enough. The authorisation's id, purpose and legal basis are named in the export
and in the log of personal-data reads.

No client is named here: nothing is sealed, nothing is erased with a client.
"""

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.common import CommandContext, require_identifier, require_text
from domain.errors import InvalidCommand, NotAParty, NotFound, RuleConflict
from domain.record import Record
from domain.shared_findings import IdentifyingText, identifying_parts


class LegalBasis(StrEnum):
    """The GDPR ground an export rests on (stored values: never renamed)."""

    #: Art. 6(1)(e): a task in the public interest (a region's care policy).
    PUBLIC_TASK = "public_task"
    #: Art. 9(2)(j) with art. 89: scientific research or statistics, with safeguards.
    SCIENTIFIC_RESEARCH = "scientific_research"
    #: Art. 9(2)(h): the management of health or social care systems and services.
    CARE_MANAGEMENT = "care_management"
    #: Art. 6(1)(c): a legal obligation (an inspection's demand).
    LEGAL_OBLIGATION = "legal_obligation"


class AuthorisationStatus(StrEnum):
    IN_FORCE = "in_force"
    REVOKED = "revoked"
    EXPIRED = "expired"


# --- refusals ----------------------------------------------------------------------------------


class ExportAuthorisationNotFound(NotFound):
    rule = "export-authorisation-not-found"


class UntilNotInFuture(InvalidCommand):
    """An authorisation runs until a day still to come (recording one already over gives
    nothing)."""

    rule = "export-authorisation-until-in-future"


#: The longest an authorisation runs: a data protection officer reviews each at least this
#: often, and grants a new one to go on (an outside probe recorded one until 2099).
LONGEST = timedelta(days=2 * 366)


class UntilTooFar(InvalidCommand):
    """An authorisation runs at most two years (``LONGEST``)."""

    rule = "export-authorisation-at-most-two-years"


class IdentifyingPurpose(IdentifyingText):
    """The purpose is written into every export made under the authorisation and kept apart
    from the record (no erasure reaches it): it names no contact, account or identification
    number and no record's identifier."""

    rule = "export-purpose-names-no-one"
    advice = (
        "the purpose is written into every export made under this authorisation, a copy no "
        "erasure reaches: say what the export is for, without contact details, account or "
        "identification numbers or a record's identifier"
    )


class AuthorisationAlreadyRevoked(RuleConflict):
    rule = "export-authorisation-revoked-once"


class ExportNotAuthorised(NotAParty):
    """An export is personal data: only under an authorisation in force for this user, this
    organisation and this region (403)."""

    rule = "export-needs-authorisation"


# --- the aggregate -----------------------------------------------------------------------------


class ExportAuthorisation(Record):
    """One user's authorisation to export one region's pseudonymised event data."""

    not_found: ClassVar[type[NotFound]] = ExportAuthorisationNotFound

    class Event(Record.Event):
        """Events of an export authorisation (no client, no personal data of a client)."""

        def apply_to(self, authorisation: "ExportAuthorisation") -> None:
            """Change the authorisation's state; never refuse."""

    class Granted(Event, Aggregate.Created):
        """The data protection officer authorised ``user_id`` of ``organisation``."""

        user_id: str
        organisation: str
        purpose: str
        legal_basis: LegalBasis
        region: str
        until: date

        def apply(self, aggregate: Any) -> None:
            """Called after ``ExportAuthorisation.__init__``: when and by whom."""
            aggregate.granted_at = self.occurred_at
            aggregate.granted_by = self.actor.user_id

    class Revoked(Event):
        reason: str

        def apply_to(self, authorisation: "ExportAuthorisation") -> None:
            authorisation.revoked_on = self.occurred_at.astimezone(UTC).date()

    @classmethod
    def grant(
        cls,
        ctx: CommandContext,
        *,
        user_id: str,
        organisation: str,
        purpose: str,
        legal_basis: LegalBasis,
        region: str,
        until: date,
    ) -> "ExportAuthorisation":
        """Recorded by the data protection officer; ``until`` lies after today."""
        ctx.check_occurred_at()
        today = ctx.now.date()
        if until <= today:
            raise UntilNotInFuture(
                f"until {until.isoformat()} is not in the future: an authorisation runs until a "
                "day still to come",
                field="until",
            )
        if until > today + LONGEST:
            raise UntilTooFar(
                f"until may lie at most two years ahead (by {(today + LONGEST).isoformat()}): a "
                "data protection officer reviews an authorisation at least that often, and "
                "grants a new one to go on",
                field="until",
            )
        purpose = require_text(purpose, "purpose")
        if found := identifying_parts(purpose, (), dates=False):
            raise IdentifyingPurpose(found, "purpose")
        return cls._create(
            cls.Granted,
            **ctx.event_fields(),
            user_id=require_identifier(user_id, "user_id"),
            organisation=require_identifier(organisation, "organisation"),
            purpose=purpose,
            legal_basis=legal_basis,
            region=require_identifier(region, "region"),
            until=until,
        )

    def __init__(
        self,
        user_id: str,
        organisation: str,
        purpose: str,
        legal_basis: LegalBasis,
        region: str,
        until: date,
    ) -> None:
        self.user_id = user_id
        self.organisation = organisation
        self.purpose = purpose
        self.legal_basis = legal_basis
        self.region = region
        self.until = until
        self.revoked_on: date | None = None
        #: Set by ``Granted.apply``.
        self.granted_at: datetime = datetime.min.replace(tzinfo=UTC)
        self.granted_by = ""

    def status_on(self, day: date) -> AuthorisationStatus:
        """Revoked from its revocation on; expired after ``until``; else in force."""
        if self.revoked_on is not None:
            return AuthorisationStatus.REVOKED
        if day > self.until:
            return AuthorisationStatus.EXPIRED
        return AuthorisationStatus.IN_FORCE

    def revoke(self, ctx: CommandContext, *, reason: str) -> None:
        ctx.check_occurred_at()
        if self.revoked_on is not None:
            raise AuthorisationAlreadyRevoked(
                f"export authorisation {self.id} was already revoked; record a new one to "
                "authorise again"
            )
        self.trigger_event(self.Revoked, **ctx.event_fields(), reason=reason.strip())

    def allows(self, *, user_id: str, organisation: str, region: str, day: date) -> bool:
        return (
            self.user_id == user_id
            and self.organisation == organisation
            and self.region == region
            and self.status_on(day) == AuthorisationStatus.IN_FORCE
        )


def authorisation_for(
    authorisations: list[ExportAuthorisation],
    *,
    user_id: str,
    organisation: str,
    region: str,
    day: date,
) -> ExportAuthorisation:
    """The authorisation in force for this user of this organisation and this region (the one
    running longest, if several), or the refusal that says what is missing."""
    mine = [a for a in authorisations if a.user_id == user_id and a.organisation == organisation]
    allowing = [
        a
        for a in mine
        if a.allows(user_id=user_id, organisation=organisation, region=region, day=day)
    ]
    if allowing:
        return max(allowing, key=lambda a: (a.until, str(a.id)))
    if not mine:
        why = "you hold no export authorisation"
    else:
        here = [a for a in mine if a.region == region]
        states = sorted({a.status_on(day).value for a in here})
        why = (
            f"your export authorisations for {region!r} are {' and '.join(states)}"
            if here
            else f"your export authorisations are for other regions than {region!r}"
        )
    raise ExportNotAuthorised(
        f"{why}. An export is pseudonymised personal data: ask your organisation's data "
        "protection officer to record an export authorisation (POST /v1/exports/authorisations) "
        f"for your user and organisation, region {region!r}, with its purpose and legal basis",
        field="region",
    )
