"""The Organisation aggregate: the register of the organisations the record names (issue #12).

Everywhere else an organisation is an identifier string (a token's ``org``, a referrer, the
coordinating organisation, a participant, a role agreement's party, a consent's party). The
register says what each one *is*: its name, kind, region and, where they exist, its public
identifiers. Statistics and learning networks count by kind (001: "wie zit er aan tafel en wie
niet?"), so a kind is never guessed: an organisation nobody registered is ``unclassified``.

A coordinator registers an organisation **provisionally** on the spot — a handover to a school
is never blocked waiting for an admin (000: the thread is not broken by paperwork) — and an admin
confirms, corrects or classifies it. The aggregate's id is derived from the identifier
(``organisation_id``), so one identifier is registered once, whoever asks.

Organisations are not persons: nothing here is personal data, nothing is sealed.
"""

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate

from domain.common import CommandContext, require_identifier, require_text
from domain.errors import InvalidValue, NotFound, RuleConflict
from domain.record import Record

#: The namespace of organisation ids: ``uuid5(ORGANISATIONS, identifier)``. Never changed: the
#: ids of every registered organisation are derived from it.
ORGANISATIONS = UUID("6f1d2c0e-8a4b-5e57-9c1a-4b0e6d1f7a21")


def organisation_id(identifier: str) -> UUID:
    """The aggregate id of the organisation with this identifier (the same string everywhere)."""
    return uuid5(ORGANISATIONS, identifier)


class OrganisationKind(StrEnum):
    """What an organisation is, as learning networks count it (stored values: never renamed)."""

    PROVIDER = "provider"  # zorgaanbieder
    REFERRER = "referrer"  # aanmelder
    SCHOOL = "school"
    PUPIL_GUIDANCE_CENTRE = "pupil_guidance_centre"  # CLB
    PUBLIC_SOCIAL_WELFARE_CENTRE = "public_social_welfare_centre"  # OCMW / CPAS
    GP = "gp"  # huisarts
    HOSPITAL = "hospital"
    NETWORK = "network"
    OTHER = "other"
    #: Not yet classified: found in the record before the register existed, or registered on
    #: the spot without a kind. Releases count it as a category of its own (issue #12).
    UNCLASSIFIED = "unclassified"


class OrganisationStatus(StrEnum):
    PROVISIONAL = "provisional"  # registered by a coordinator, awaiting an admin
    CONFIRMED = "confirmed"  # registered or confirmed by an admin


# --- public identifiers -------------------------------------------------------------------------

_DIGITS = {n: re.compile(rf"^[0-9]{{{n}}}$") for n in (8, 10)}


def check_enterprise_number(number: str) -> str:
    """A Belgian enterprise number (KBO/BCE): ten digits, the last two ``97 - (first eight mod
    97)``. Written as ``0123.456.749`` or ``BE0123456749`` too; kept as the ten digits."""
    digits = re.sub(r"[.\s]", "", number.strip()).removeprefix("BE")
    if not _DIGITS[10].match(digits):
        raise InvalidValue(
            "the enterprise number (KBO/BCE) has ten digits, such as 0123.456.749",
            field="public_identifiers.enterprise_number",
        )
    if 97 - int(digits[:8]) % 97 != int(digits[8:]):
        raise InvalidValue(
            "the enterprise number (KBO/BCE) fails its check digits (the last two are 97 minus "
            "the first eight modulo 97): check it for a typing error",
            field="public_identifiers.enterprise_number",
        )
    return digits


def _eight_digits(value: str, name: str, field: str) -> str:
    digits = value.strip()
    if not _DIGITS[8].match(digits):
        raise InvalidValue(f"the {name} has eight digits", field=f"public_identifiers.{field}")
    return digits


class PublicIdentifiers(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Where they exist: the Belgian enterprise number (KBO/BCE), the Dutch AGB code (Vektis),
    URA (UZI register) and KvK (Chamber of Commerce) numbers."""

    enterprise_number: str | None = None
    agb: str | None = None
    ura: str | None = None
    kvk: str | None = None

    def checked(self) -> "PublicIdentifiers":
        """These identifiers in their canonical form, or the refusal of the first that is not
        one (422: the enterprise number's check digits catch most typing errors)."""
        return PublicIdentifiers(
            enterprise_number=(
                check_enterprise_number(self.enterprise_number) if self.enterprise_number else None
            ),
            agb=_eight_digits(self.agb, "AGB code", "agb") if self.agb else None,
            ura=_eight_digits(self.ura, "URA number", "ura") if self.ura else None,
            kvk=_eight_digits(self.kvk, "KvK number", "kvk") if self.kvk else None,
        )


# --- refusals ----------------------------------------------------------------------------------


class OrganisationNotFound(NotFound):
    rule = "organisation-not-found"


class OrganisationAlreadyRegistered(RuleConflict):
    """One identifier names one organisation: it is registered once, then corrected."""

    rule = "organisation-registered-once"


class OrganisationAlreadyConfirmed(RuleConflict):
    rule = "organisation-confirmed-once"


class CorrectionChangesNothing(RuleConflict):
    rule = "correction-changes-something"


# --- the aggregate -----------------------------------------------------------------------------


class Organisation(Record):
    """One organisation of the register, under the identifier the rest of the record uses."""

    not_found: ClassVar[type[NotFound]] = OrganisationNotFound

    class Event(Record.Event):
        """Events of the register (no personal data: organisations are not persons)."""

        def apply_to(self, organisation: "Organisation") -> None:
            """Change the organisation's state; never refuse."""

    class Registered(Event, Aggregate.Created):
        """An admin registered the organisation: confirmed from the start."""

        identifier: str
        name: str
        kind: OrganisationKind
        region: str | None
        public_identifiers: PublicIdentifiers

        def apply(self, aggregate: Any) -> None:
            """Creation goes through ``Organisation.__init__``."""

    class RegisteredProvisionally(Registered):
        """A coordinator registered it on the spot; an admin confirms or corrects it later."""

        def apply(self, aggregate: Any) -> None:
            """Called after ``Organisation.__init__``: the registration awaits an admin."""
            aggregate.status = OrganisationStatus.PROVISIONAL

    class Confirmed(Event):
        def apply_to(self, organisation: "Organisation") -> None:
            organisation.status = OrganisationStatus.CONFIRMED
            organisation.confirmed_at = self.occurred_at

    class Corrected(Event):
        """Name, region or public identifiers corrected; ``None``: unchanged. Public
        identifiers are replaced as a whole (so one can be taken away)."""

        name: str | None
        region: str | None
        public_identifiers: PublicIdentifiers | None

        def apply_to(self, organisation: "Organisation") -> None:
            if self.name is not None:
                organisation.name = self.name
            if self.region is not None:
                organisation.region = self.region
            if self.public_identifiers is not None:
                organisation.public_identifiers = self.public_identifiers

    class Classified(Event):
        """The organisation's kind decided (or changed) by an admin."""

        kind: OrganisationKind

        def apply_to(self, organisation: "Organisation") -> None:
            organisation.kind = self.kind

    @classmethod
    def register(
        cls,
        ctx: CommandContext,
        *,
        identifier: str,
        name: str,
        kind: OrganisationKind,
        region: str | None,
        public_identifiers: PublicIdentifiers,
        provisional: bool,
    ) -> "Organisation":
        """Registered under ``identifier`` (its id derived from it), provisionally or not."""
        ctx.check_occurred_at()
        identifier = require_identifier(identifier, "identifier")
        return cls._create(
            cls.RegisteredProvisionally if provisional else cls.Registered,
            id=organisation_id(identifier),
            **ctx.event_fields(),
            identifier=identifier,
            name=require_text(name, "name"),
            kind=kind,
            region=require_identifier(region, "region") if region else None,
            public_identifiers=public_identifiers.checked(),
        )

    def __init__(
        self,
        identifier: str,
        name: str,
        kind: OrganisationKind,
        region: str | None,
        public_identifiers: PublicIdentifiers,
    ) -> None:
        self.identifier = identifier
        self.name = name
        self.kind = kind
        self.region = region
        self.public_identifiers = public_identifiers
        #: Confirmed when an admin registered it; ``RegisteredProvisionally`` says otherwise.
        self.status = OrganisationStatus.CONFIRMED
        self.confirmed_at: datetime | None = None

    def confirm(self, ctx: CommandContext) -> None:
        """An admin vouches for a provisional registration as it stands."""
        ctx.check_occurred_at()
        if self.status == OrganisationStatus.CONFIRMED:
            raise OrganisationAlreadyConfirmed(
                f"organisation {self.identifier!r} is already confirmed; correct it instead"
            )
        self.trigger_event(self.Confirmed, **ctx.event_fields())

    def correct(
        self,
        ctx: CommandContext,
        *,
        name: str | None,
        kind: OrganisationKind | None,
        region: str | None,
        public_identifiers: PublicIdentifiers | None,
    ) -> None:
        """Correct any field but the identifier (the record names the organisation by it);
        a new kind is recorded as its classification. A correction must change something."""
        ctx.check_occurred_at()
        name = require_text(name, "name") if name is not None else None
        region = require_identifier(region, "region") if region is not None else None
        identifiers = public_identifiers.checked() if public_identifiers is not None else None
        name = name if name != self.name else None
        region = region if region != self.region else None
        identifiers = identifiers if identifiers != self.public_identifiers else None
        kind = kind if kind != self.kind else None
        if name is None and region is None and identifiers is None and kind is None:
            raise CorrectionChangesNothing(
                f"the correction of organisation {self.identifier!r} changes nothing: name at "
                "least one field (name, kind, region, public_identifiers) with a new value"
            )
        if name is not None or region is not None or identifiers is not None:
            self.trigger_event(
                self.Corrected,
                **ctx.event_fields(),
                name=name,
                region=region,
                public_identifiers=identifiers,
            )
        if kind is not None:
            self.trigger_event(self.Classified, **ctx.event_fields(), kind=kind)
