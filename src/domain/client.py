"""The Client aggregate: the person a trajectory is for, under a pseudonymous id.

The client owns the plan (000): their consent decides where information may go (004) and they
may exclude a representative from signing or seeing it.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.common import (
    ERASED,
    Actor,
    CommandContext,
    ConsentScope,
    Signatory,
    held,
    require_identifier,
    require_text,
)
from domain.errors import (
    ClientErased,
    ClientNotFound,
    ConsentMissing,
    ContinuationNeedsConsent,
    InvalidValue,
    RepresentativeExcluded,
    RepresentativeNotAppointed,
    RuleConflict,
    SignatoryNotAllowed,
)
from domain.minors import CapacityAssessment, check_birth_year
from domain.person_requests import (
    PersonRequest,
    RequestDeadline,
    RequestKind,
    RequestOutcome,
    answer_due_on,
    settle_by_erasure,
    settled_by_erasure,
)
from domain.record import Record
from domain.shared_findings import check_identifier
from domain.snapshots import CopiedThroughState, TypedSnapshot


class PersonalData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Name and contact details: the only personal data the record holds about a person."""

    name: str | None = None
    contact: str | None = None


#: Issue #17: the purpose of a consent that lets its holder continue the client's trajectory.
CONTINUATION_PURPOSE = "continuation"


class Consent(msgspec.Struct):
    to_party: str
    scopes: tuple[ConsentScope, ...]
    purpose: str
    granted_on: date
    until: date | None
    revoked_at: datetime | None = None
    #: Issue #17: the trajectory a consent for the purpose ``continuation`` lets its holder
    #: continue (and read); such a consent opens nothing else. ``None``: any other consent.
    trajectory_id: UUID | None = None
    #: The moment it was given (its event's ``occurred_at``). ``None`` only in a snapshot
    #: taken before the moment was kept: then the start of ``granted_on`` (the day rule of old).
    granted_at: datetime | None = None

    @property
    def given_at(self) -> datetime:
        """When the consent was given: information may pass from this moment on (004)."""
        return self.granted_at or datetime.combine(self.granted_on, time(), UTC)

    def reaches(self, trajectory_id: UUID | None) -> bool:
        """Whether the consent bears on ``trajectory_id`` (``None``: on the client as such): a
        consent that names a trajectory bears on that one only."""
        return self.trajectory_id is None or self.trajectory_id == trajectory_id

    def in_force_for(self, party: str, on: date) -> bool:
        """Given to ``party``, not revoked, and ``on`` lies between its start and its end.

        ``on`` is a day (reads: in force that day) or a moment (a ``datetime``: a fact that lets
        information pass, such as a handover): a moment must not lie before the consent was
        given, so a handover an hour before the client's consent that same day is not covered
        by it (004: the consent comes before the information passes). ``until`` is a day,
        in force to its end."""
        if isinstance(on, datetime):
            started = self.given_at <= on
            day = on.astimezone(UTC).date()
        else:
            started = self.granted_on <= on
            day = on
        return (
            self.revoked_at is None
            and self.to_party == party
            and started
            and (self.until is None or day <= self.until)
        )

    def covers(self, party: str, scopes: tuple[ConsentScope, ...], on: date) -> bool:
        """In force for ``party`` on that day or at that moment (``in_force_for``) and covering
        every one of ``scopes`` (004)."""
        return self.in_force_for(party, on) and set(scopes) <= set(self.scopes)

    def ended_by_erasure_on(self, on: date) -> bool:
        """Whether the client's erasure on ``on`` ends this consent: one not revoked whose end
        has not passed (one that ran out before it keeps its own end)."""
        return self.revoked_at is None and (self.until is None or on <= self.until)


class Representative(msgspec.Struct):
    personal: PersonalData
    appointed_at: datetime
    excluded_at: datetime | None = None


class PersonRole(StrEnum):
    """As whom a person signs in (issue #19): the client, or one of their representatives."""

    CLIENT = "client"
    REPRESENTATIVE = "representative"


class IdentityLink(msgspec.Struct):
    """This identity-provider subject is this client, or this appointed representative of
    them (issue #19). ``subject`` and its keyed hash are sealed with the client's key: after
    erasure neither reads, so the link finds no one."""

    subject_hash: str
    as_role: PersonRole
    representative_ref: str | None
    linked_at: datetime
    revoked_at: datetime | None = None

    @property
    def in_force(self) -> bool:
        return self.revoked_at is None


class ClientSnapshotState(msgspec.Struct, forbid_unknown_fields=True):
    """The types of ``Client``'s attributes, for decoding snapshots (kept equal by a test)."""

    _created_on: datetime
    _modified_on: datetime
    registering_organisation: str
    personal: PersonalData
    representatives: dict[str, Representative]
    consents: dict[str, Consent]
    erased_at: datetime | None = None
    #: Issue #19; absent from snapshots taken before it.
    identity_links: dict[str, IdentityLink] = msgspec.field(default_factory=dict)
    birth_year: str | None = None
    capacity_assessment: CapacityAssessment | None = None
    #: Issue #19 point 5; absent from snapshots taken before it.
    requests: dict[str, PersonRequest] = msgspec.field(default_factory=dict)


class Client(CopiedThroughState, Record):
    """A client under a pseudonymous id; consents and representatives hang here."""

    not_found = ClientNotFound
    holds_personal_data = True

    class Event(Record.Event):
        """Events of a client's record (their ``personal_fields`` sealed with its key)."""

        def apply_to(self, client: "Client") -> None:
            """Change the client's state; never refuse."""

    class Registered(Event, Aggregate.Created):
        personal_fields = ("personal",)
        contact_fields = ("personal",)
        registering_organisation: str
        personal: PersonalData

        def apply(self, aggregate: Any) -> None:
            """Creation goes through ``Client.__init__``."""

        def key_owner(self) -> UUID:
            """A client's own key seals its personal data."""
            return self.originator_id

    class RepresentativeAppointed(Event):
        personal_fields = ("personal",)
        contact_fields = ("personal",)
        representative_ref: str
        personal: PersonalData

        def apply_to(self, client: "Client") -> None:
            client.representatives[self.representative_ref] = Representative(
                personal=self.personal, appointed_at=self.occurred_at
            )

    class RepresentativeExcluded(Event):
        """The client opts out: this representative may neither sign nor see the plan (004)."""

        personal_fields = ("reason",)

        representative_ref: str
        reason: str

        def apply_to(self, client: "Client") -> None:
            client.representatives[self.representative_ref].excluded_at = self.occurred_at

    class ConsentGranted(Event):
        """Version 2 (issue #17) names the trajectory of a consent for the purpose
        ``continuation``; a version 1 event named none (upcast: ``None``)."""

        class_version = 2
        personal_fields = ("purpose",)
        consent_id: str
        to_party: str
        scopes: tuple[ConsentScope, ...]
        purpose: str
        until: date | None
        trajectory_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["trajectory_id"] = None

        def apply_to(self, client: "Client") -> None:
            client.consents[self.consent_id] = Consent(
                to_party=self.to_party,
                scopes=self.scopes,
                purpose=self.purpose,
                granted_on=self.occurred_at.astimezone(UTC).date(),
                until=self.until,
                trajectory_id=self.trajectory_id,
                granted_at=self.occurred_at,
            )

    class ConsentRevoked(Event):
        personal_fields = ("reason",)
        consent_id: str
        reason: str

        def apply_to(self, client: "Client") -> None:
            client.consents[self.consent_id].revoked_at = self.occurred_at

    class Erased(Event):
        """The client's personal data is destroyed (GDPR request or end of retention).

        Their keys are gone: every sealed field of their events reads as a placeholder from now
        on. ``erased_subjects`` names the aggregates whose keys were destroyed, so that every
        process that reads this event forgets any cached key.
        """

        legal_basis: str
        erased_subjects: tuple[UUID, ...]

        def apply_to(self, client: "Client") -> None:
            client.erased_at = self.occurred_at
            client.personal = PersonalData(
                name=ERASED if client.personal.name else None,
                contact=ERASED if client.personal.contact else None,
            )
            for representative in client.representatives.values():
                representative.personal = PersonalData(
                    name=ERASED if representative.personal.name else None
                )
            erased_on = self.occurred_at.astimezone(UTC).date()
            for consent in client.consents.values():
                consent.purpose = ERASED
                if consent.ended_by_erasure_on(erased_on):  # an erasure recorded before it
                    consent.revoked_at = self.occurred_at  # ended them: as it would
            for request in client.requests.values():
                request.details = ERASED
                if request.field_name is not None:
                    request.field_name = ERASED
                if request.legal_ground is not None:
                    request.legal_ground = ERASED
                if request.open:  # an erasure recorded before it settled them: as it would
                    settle_by_erasure(
                        request, settled_by_erasure(request), self.occurred_at, self.actor.role
                    )

    class IdentityLinked(Event):
        """A coordinator checked the person's identity in person and links their identity
        provider's subject to this client, as the client or as an appointed representative
        (issue #19). The subject and its keyed hash are personal data."""

        personal_fields = ("subject", "subject_hash")
        contact_fields = ("subject", "subject_hash")
        link_id: str
        subject: str
        subject_hash: str
        as_role: PersonRole
        representative_ref: str | None

        def apply_to(self, client: "Client") -> None:
            client.identity_links[self.link_id] = IdentityLink(
                subject_hash=self.subject_hash,
                as_role=self.as_role,
                representative_ref=self.representative_ref,
                linked_at=self.occurred_at,
            )

    class IdentityLinkRevoked(Event):
        personal_fields = ("reason",)
        link_id: str
        reason: str

        def apply_to(self, client: "Client") -> None:
            client.identity_links[self.link_id].revoked_at = self.occurred_at

    class BirthYearRecorded(Event):
        """The client's year of birth, where known: the minors' rules need it (issue #19). A
        text so that it is sealed, and reads as a placeholder after erasure."""

        personal_fields = ("birth_year",)
        birth_year: str

        def apply_to(self, client: "Client") -> None:
            client.birth_year = self.birth_year

    class CapacityAssessed(Event):
        """A professional's judgement that the minor can (or cannot) exercise their rights
        alone, on a date; its author is the event's actor (issue #19)."""

        capable: bool
        assessed_on: date

        def apply_to(self, client: "Client") -> None:
            client.capacity_assessment = CapacityAssessment(
                capable=self.capable, assessed_on=self.assessed_on, author=self.actor.user_id
            )

    class RequestFiled(Event):
        """The person asks for a copy of their data, a rectification of a named field, or an
        erasure (GDPR art. 15-17; issue #19): answered by ``answer_due_on``."""

        #: ``field_name`` is the person's words too (a rectification of "my phone, 0470 …"):
        #: sealed since a probe found one outlive an erasure; events stored before keep it
        #: in the clear (the codec opens only what a stored event sealed).
        personal_fields = ("details", "field_name")
        request_id: str
        kind: RequestKind
        field_name: str | None
        details: str
        answer_due_on: date

        def apply_to(self, client: "Client") -> None:
            client.requests[self.request_id] = PersonRequest(
                kind=self.kind,
                field_name=self.field_name,
                details=self.details,
                filed_at=self.occurred_at,
                answer_due_on=self.answer_due_on,
            )

    class RequestDecided(Event):
        """The coordinating organisation or the data protection officer decided the request,
        on a legal ground the person reads."""

        personal_fields = ("legal_ground",)
        request_id: str
        outcome: RequestOutcome
        legal_ground: str

        def apply_to(self, client: "Client") -> None:
            request = client.requests[self.request_id]
            request.outcome = self.outcome
            request.legal_ground = self.legal_ground
            request.decided_at = self.occurred_at
            request.decided_by_role = self.actor.role

    class RequestDeadlineRecorded(Event):
        """Recorded by the scheduler: the reminder a week before the answer is due, or that
        the month passed without a decision."""

        request_id: str
        deadline: RequestDeadline
        answer_due_on: date

        def apply_to(self, client: "Client") -> None:
            request = client.requests[self.request_id]
            if self.deadline == RequestDeadline.PASSED:
                request.deadline_passed = True
            else:
                request.reminded = True

    class ConsentEndedByErasure(Event):
        """The client's erasure ended this consent, in the erasure's own commit: a consent is
        the person's permission to share, and once their data are erased they can no longer be
        asked, nor could anyone revoke it after (an erased record takes no new facts, and a
        revocation's reason could not be sealed without their key). From its moment on the
        consent is no longer in force: its holder reads nothing by it. No personal data."""

        consent_id: str

        def apply_to(self, client: "Client") -> None:
            client.consents[self.consent_id].revoked_at = self.occurred_at

    class RequestSettledByErasure(Event):
        """The client's erasure settled this open request, in the erasure's own commit: an
        erasure request granted by it (``outcome`` granted), another closed without a decision
        (``outcome`` None: the data it was about are erased). No personal data: the ground is
        the erasure's, which follows it (``Erased``)."""

        request_id: str
        outcome: RequestOutcome | None

        def apply_to(self, client: "Client") -> None:
            settle_by_erasure(
                client.requests[self.request_id], self.outcome, self.occurred_at, self.actor.role
            )

    @classmethod
    def register(
        cls, ctx: CommandContext, *, personal: PersonalData, client_id: UUID | None = None
    ) -> "Client":
        ctx.check_occurred_at()
        return cls._create(
            cls.Registered,
            id=client_id,
            **ctx.event_fields(),
            registering_organisation=ctx.actor.organisation,
            personal=personal,
        )

    def __init__(self, registering_organisation: str, personal: PersonalData) -> None:
        self.registering_organisation = registering_organisation
        self.personal = personal
        self.representatives: dict[str, Representative] = {}
        self.consents: dict[str, Consent] = {}
        self.erased_at: datetime | None = None
        self.identity_links: dict[str, IdentityLink] = {}
        self.birth_year: str | None = None
        self.capacity_assessment: CapacityAssessment | None = None
        self.requests: dict[str, PersonRequest] = {}

    def appoint_representative(
        self, ctx: CommandContext, *, representative_ref: str, personal: PersonalData
    ) -> None:
        ctx.check_occurred_at()
        require_text(representative_ref, "representative_ref")
        if representative_ref in self.representatives:
            raise RuleConflict(f"representative {representative_ref!r} is already appointed")
        self.trigger_event(
            self.RepresentativeAppointed,
            **ctx.event_fields(),
            representative_ref=representative_ref,
            personal=personal,
        )

    def exclude_representative(
        self, ctx: CommandContext, *, representative_ref: str, reason: str
    ) -> None:
        ctx.check_occurred_at()
        representative = self._representative(representative_ref)
        if representative.excluded_at is not None:
            raise RuleConflict(f"representative {representative_ref!r} is already excluded")
        self.trigger_event(
            self.RepresentativeExcluded,
            **ctx.event_fields(),
            representative_ref=representative_ref,
            reason=reason.strip(),
        )

    def grant_consent(
        self,
        ctx: CommandContext,
        *,
        consent_id: str,
        to_party: str,
        scopes: tuple[ConsentScope, ...],
        purpose: str,
        until: date | None,
        trajectory_id: UUID | None = None,
    ) -> None:
        """004: who (organisation), what (plan, dossier, contact details), why and until when.

        Issue #17: a consent for the purpose ``continuation`` names the trajectory it lets its
        holder continue (and only such a consent names one)."""
        ctx.check_occurred_at()
        continuation = purpose.strip().casefold() == CONTINUATION_PURPOSE
        if continuation and trajectory_id is None:
            raise InvalidValue(
                "a consent for the purpose continuation names the trajectory it lets its holder "
                "continue (trajectory_id)",
                field="trajectory_id",
            )
        if trajectory_id is not None and not continuation:
            raise InvalidValue(
                "only a consent for the purpose continuation names a trajectory",
                field="trajectory_id",
            )
        if not consent_id.strip():
            raise InvalidValue("consent id must not be empty", field="consent_id")
        if consent_id in self.consents:
            raise InvalidValue(f"consent id {consent_id!r} is already used", field="consent_id")
        if not scopes:
            raise InvalidValue("a consent covers at least one scope", field="scopes")
        if until is not None and until < ctx.occurred_on:
            raise InvalidValue("until must not lie before the consent is given", field="until")
        self.trigger_event(
            self.ConsentGranted,
            **ctx.event_fields(),
            consent_id=consent_id,
            to_party=require_text(to_party, "to_party"),
            scopes=tuple(dict.fromkeys(scopes)),
            purpose=require_text(purpose, "purpose"),
            until=until,
            trajectory_id=trajectory_id,
        )

    def revoke_consent(self, ctx: CommandContext, *, consent_id: str, reason: str) -> None:
        """Revoking takes effect at once: no later handover may rely on it."""
        ctx.check_occurred_at()
        consent = self._consent(consent_id)
        if consent.revoked_at is not None:
            raise RuleConflict(f"consent {consent_id!r} is already revoked")
        self.trigger_event(
            self.ConsentRevoked, **ctx.event_fields(), consent_id=consent_id, reason=reason.strip()
        )

    def erase(
        self, ctx: CommandContext, *, legal_basis: str, erased_subjects: tuple[UUID, ...]
    ) -> None:
        """Record that the client's keys were destroyed (the application destroys them first).
        The erasure settles the client's open requests first (``person_requests``): nothing
        could decide them after it, and the person's erasure request is what it carries out. It
        ends the consents still in force the same way (``ConsentEndedByErasure``): nothing could
        revoke them after it, and the person can no longer be asked."""
        ctx.check_occurred_at()
        self.check_not_erased()
        for consent_id, consent in self.consents.items():
            if consent.ended_by_erasure_on(ctx.occurred_on):
                self.trigger_event(
                    self.ConsentEndedByErasure, **ctx.event_fields(), consent_id=consent_id
                )
        for request_id, request in self.requests.items():
            if request.open:
                self.trigger_event(
                    self.RequestSettledByErasure,
                    **ctx.event_fields(),
                    request_id=request_id,
                    outcome=settled_by_erasure(request),
                )
        self.trigger_event(
            self.Erased,
            **ctx.event_fields(),
            legal_basis=require_text(legal_basis, "legal_basis"),
            erased_subjects=erased_subjects,
        )

    # --- the person as a user (issue #19) -------------------------------------------------------

    def link_identity(
        self,
        ctx: CommandContext,
        *,
        link_id: str,
        subject: str,
        subject_hash: str,
        as_role: PersonRole,
        representative_ref: str | None,
    ) -> None:
        """Link an identity-provider subject to the client or to one of their appointed
        representatives (not an excluded one); one subject is linked once as one role."""
        ctx.check_occurred_at()
        require_identifier(subject, "subject")
        if link_id in self.identity_links:
            raise InvalidValue(f"link id {link_id!r} is already used", field="link_id")
        if as_role == PersonRole.REPRESENTATIVE:
            if representative_ref is None:
                raise InvalidValue(
                    "a representative's link names the appointed representative's reference",
                    field="representative_ref",
                )
            self.check_may_act_for(representative_ref)
        elif representative_ref is not None:
            raise InvalidValue(
                "the client's own link names no representative", field="representative_ref"
            )
        if any(
            link.in_force and link.subject_hash == subject_hash and link.as_role == as_role
            for link in self.identity_links.values()
        ):
            raise RuleConflict("this subject is already linked to this client in this role")
        self.trigger_event(
            self.IdentityLinked,
            **ctx.event_fields(),
            link_id=link_id,
            subject=subject.strip(),
            subject_hash=subject_hash,
            as_role=as_role,
            representative_ref=representative_ref,
        )

    def revoke_identity_link(self, ctx: CommandContext, *, link_id: str, reason: str) -> None:
        ctx.check_occurred_at()
        link = held(
            self.identity_links,
            link_id,
            kind="identity link",
            where="not recorded for this client",
            field="link_id",
        )
        if link.revoked_at is not None:
            raise RuleConflict(f"identity link {link_id!r} is already revoked")
        self.trigger_event(
            self.IdentityLinkRevoked, **ctx.event_fields(), link_id=link_id, reason=reason.strip()
        )

    def record_birth_year(self, ctx: CommandContext, *, birth_year: int) -> None:
        ctx.check_occurred_at()
        check_birth_year(birth_year, ctx.occurred_on)
        self.trigger_event(self.BirthYearRecorded, **ctx.event_fields(), birth_year=str(birth_year))

    def assess_capacity(self, ctx: CommandContext, *, capable: bool, assessed_on: date) -> None:
        ctx.check_occurred_at()
        if assessed_on > ctx.occurred_on:
            raise InvalidValue(
                "a capacity assessment is recorded once it was made", field="assessed_on"
            )
        self.trigger_event(
            self.CapacityAssessed, **ctx.event_fields(), capable=capable, assessed_on=assessed_on
        )

    # --- the person's requests (issue #19 point 5; rules in domain.person_requests) ----------

    def file_request(
        self,
        ctx: CommandContext,
        *,
        request_id: str,
        kind: RequestKind,
        field_name: str | None,
        details: str,
    ) -> None:
        """GDPR art. 15-17: a rectification names the field to correct; the answer is due
        within a month of its receipt (art. 12(3)). A request the person files themselves is
        received when it is recorded, whatever ``occurred_at`` says: a date given earlier does
        not bring the month forward (an outside probe's request dated 2001 was "overdue" at
        once, a breach the organisation never made). One an organisation records for them was
        received when it says (a letter)."""
        ctx.check_occurred_at()
        by_the_person = ctx.actor.role in (PersonRole.CLIENT, PersonRole.REPRESENTATIVE)
        received_on = (
            max(ctx.occurred_on, ctx.now.astimezone(UTC).date())
            if by_the_person
            else ctx.occurred_on
        )
        if request_id in self.requests:
            raise InvalidValue(f"request id {request_id!r} is already used", field="request_id")
        if kind == RequestKind.RECTIFICATION and not (field_name or "").strip():
            raise InvalidValue(
                "a rectification names the field to correct (field_name)", field="field_name"
            )
        if kind != RequestKind.RECTIFICATION and field_name is not None:
            raise InvalidValue(
                "only a rectification names a field; leave field_name out", field="field_name"
            )
        self.trigger_event(
            self.RequestFiled,
            **ctx.event_fields(),
            request_id=request_id,
            kind=kind,
            field_name=field_name.strip() if field_name else None,
            details=details.strip(),
            answer_due_on=answer_due_on(received_on),
        )

    def decide_request(
        self, ctx: CommandContext, *, request_id: str, outcome: RequestOutcome, legal_ground: str
    ) -> None:
        """A request is decided once, with the legal ground the person reads (an erasure may
        be refused on the ten-year retention of seed 004: art. 17(3)(b))."""
        ctx.check_occurred_at()
        request = self._request(request_id)
        if not request.open:
            raise RuleConflict(f"request {request_id!r} was already decided")
        if ctx.occurred_at < request.filed_at:
            raise InvalidValue("a request is decided after it was filed", field="occurred_at")
        self.trigger_event(
            self.RequestDecided,
            **ctx.event_fields(),
            request_id=request_id,
            outcome=outcome,
            legal_ground=require_text(legal_ground, "legal_ground"),
        )

    def record_request_deadline(
        self, ctx: CommandContext, *, request_id: str, deadline: RequestDeadline
    ) -> None:
        """The scheduler's fact about a request's due date (``person_requests.deadline_due``
        decides which one is due; this records it once)."""
        request = self._request(request_id)
        self.trigger_event(
            self.RequestDeadlineRecorded,
            **ctx.event_fields(),
            request_id=request_id,
            deadline=deadline,
            answer_due_on=request.answer_due_on,
        )

    def _request(self, request_id: str) -> PersonRequest:
        return held(
            self.requests,
            request_id,
            kind="request",
            where="not filed for this client",
            field="request_id",
        )

    @property
    def known_birth_year(self) -> int | None:
        """The year of birth, when recorded and readable (a placeholder after erasure)."""
        if self.birth_year is None or not self.birth_year.isdigit():
            return None
        return int(self.birth_year)

    def identity_link_for(
        self, subject_hash: str, as_role: PersonRole
    ) -> tuple[str, IdentityLink] | None:
        """The link in force for this keyed subject in this role; none once erased, and none
        for a representative the client excluded (it stops working on the next request)."""
        if self.erased_at is not None:
            return None
        for link_id, link in self.identity_links.items():
            if not (link.in_force and link.as_role == as_role):
                continue
            if link.subject_hash != subject_hash:
                continue
            if as_role == PersonRole.REPRESENTATIVE:
                representative = self.representatives.get(link.representative_ref or "")
                if representative is None or representative.excluded_at is not None:
                    continue
            return link_id, link
        return None

    def check_writable(self, *, has_key: bool) -> None:
        """An erased client's record takes no new facts, whatever key is left."""
        self.check_not_erased()

    def check_not_erased(self) -> None:
        if self.erased_at is not None:
            raise ClientErased(
                f"the client's personal data was erased on {self.erased_at.date().isoformat()}; "
                "their record is closed to new facts"
            )

    # --- rules other aggregates' commands rely on ----------------------------------------------

    def check_identifier(
        self, field: str, value: str, *, recorded: bool, also: Iterable[str | None] = ()
    ) -> None:
        """An identifier chosen for an item of this record names no one: no contact, account
        or identification number, nor ``also`` (a representative's name given with it), nor,
        when ``recorded``, a name recorded here (``shared_findings.check_identifier``). The
        caller passes ``recorded`` only for one who reads those names: a refusal would tell
        anyone else whether a word is part of one."""
        representatives = [r.personal.name for r in self.representatives.values()]
        check_identifier(
            field,
            value,
            [self.personal.name or ""] if recorded else [],
            [n or "" for n in (*(representatives if recorded else ()), *also)],
        )

    def names_known_to(self, actor: Actor) -> list[str]:
        """The names recorded here that a person acting on their own record knows without
        reading it: the client's own, and a representative's own, never another
        representative's (a birth parent may not read a foster parent's name)."""
        if actor.role == PersonRole.CLIENT:
            return [self.personal.name or ""]
        if actor.role == PersonRole.REPRESENTATIVE:
            own = self.representatives.get(actor.on_behalf_of or "")
            return [self.personal.name or "", *([own.personal.name or ""] if own else [])]
        return []

    def check_may_sign(
        self, signatory: Signatory, representative_ref: str | None, at: datetime
    ) -> None:
        """004: the client signs, or their representative unless the client excluded them; a
        representative signs only once appointed (``at``: when the signature happened; an
        outside probe signed for a day twelve days before the appointment). An exclusion
        holds whenever the signature is dated: the client's choice is not undone by a late
        record of an earlier signature. The client signs for themself: a signature naming a
        representative is the representative's (an outside probe's ``representative_ref`` on
        the client's signature was dropped without a word)."""
        if signatory == Signatory.CLIENT:
            if representative_ref is not None:
                raise InvalidValue(
                    "the client signs for themself and names no representative: leave "
                    "representative_ref out, or sign with signatory 'representative'",
                    field="representative_ref",
                )
            return
        if representative_ref is None:
            raise InvalidValue(
                "a signature by a representative names them: give representative_ref",
                field="representative_ref",
            )
        representative = self.representatives.get(representative_ref)
        if representative is None:
            raise SignatoryNotAllowed(
                f"{representative_ref!r} is not an appointed representative of this client"
            )
        if at < representative.appointed_at:
            raise SignatoryNotAllowed(
                f"representative {representative_ref!r} was appointed on "
                f"{representative.appointed_at.date().isoformat()}, after this signature's "
                "occurred_at: only an appointed representative signs for the client"
            )
        if self.representatives[representative_ref].excluded_at is not None:
            raise SignatoryNotAllowed(
                f"the client excluded representative {representative_ref!r}: "
                "they can neither sign nor see the plan"
            )

    def check_may_act_for(self, representative_ref: str) -> None:
        """004: someone acts in the client's name only as a representative the client appointed
        (the reference compared exactly) and did not exclude."""
        representative = self.representatives.get(representative_ref)
        if representative is None:
            raise RepresentativeNotAppointed(
                "X-On-Behalf-Of names no representative appointed for this client; name an "
                "appointed representative's reference exactly, or leave the header out",
                field="X-On-Behalf-Of",
            )
        if representative.excluded_at is not None:
            raise RepresentativeExcluded(
                "the client excluded this representative: they may neither see the plan nor "
                "act in the client's name"
            )

    def shares_with(
        self,
        party: str,
        scopes: frozenset[ConsentScope],
        on: date,
        trajectory_id: UUID | None = None,
    ) -> bool:
        """Whether a consent in force on ``on`` gives ``party`` any of ``scopes`` (004: what
        passes is named: the plan, the dossier, the contact details), for ``trajectory_id``
        (``None``: the client as such; a consent that names a trajectory reaches that one only)."""
        return any(
            consent.in_force_for(party, on)
            and not scopes.isdisjoint(consent.scopes)
            and consent.reaches(trajectory_id)
            for consent in self.consents.values()
        )

    def lets_continue(self, party: str, on: date, trajectory_id: UUID | None = None) -> bool:
        """Issue #17 (000: the plan outlives the trajectory): a consent in force on ``on`` that
        gives ``party`` the plan of ``trajectory_id`` for the purpose ``continuation`` lets
        ``party`` open, at its own organisation, a trajectory that continues that one (``None``:
        whether it holds such a consent for any trajectory of the client). No other consent
        does: a consent lets information pass, it gives no say over the client.

        ``on`` is a day (the access policy: today) or a moment (the continuation's: see
        ``check_lets_continue``)."""
        return any(
            consent.in_force_for(party, on)
            for consent in self._continuation_consents(party, trajectory_id)
        )

    def check_lets_continue(self, party: str, at: datetime, trajectory_id: UUID) -> None:
        """000, 004, issue #17: an organisation that does not manage the client continues
        ``trajectory_id`` only under the client's continuation consent in force at the
        continuation's moment ``at``, as a handover is held against the consent's moment: the
        plan passes to it only once the consent is given, so a continuation dated before it (even
        an hour, the same day) is refused, however the access policy let the caller in today."""
        if self.lets_continue(party, at, trajectory_id):
            return
        given_later = [
            consent.given_at
            for consent in self._continuation_consents(party, trajectory_id)
            if consent.revoked_at is None and consent.given_at > at
        ]
        moment = at.astimezone(UTC).isoformat()
        if given_later:
            given_at = min(given_later).astimezone(UTC).isoformat()
            raise ContinuationNeedsConsent(
                f"the continuation at {moment} lies before the client's consent to it, given at "
                f"{given_at}: the plan passes to {party!r} only once the consent is given. "
                "Record the continuation at or after that moment",
                field="occurred_at",
            )
        raise ContinuationNeedsConsent(
            f"no consent of the client in force at {moment} lets {party!r} continue this "
            "trajectory (scope plan, purpose continuation); record the client's consent first, "
            "or let the organisation that manages the client refer",
            field="continues_from",
        )

    def _continuation_consents(self, party: str, trajectory_id: UUID | None) -> Iterable[Consent]:
        """The consents, in force or not, that give ``party`` the plan of ``trajectory_id``
        (``None``: of any trajectory) for the purpose ``continuation``."""
        return (
            consent
            for consent in self.consents.values()
            if consent.to_party == party
            and ConsentScope.PLAN in consent.scopes
            and consent.trajectory_id is not None
            and (trajectory_id is None or consent.trajectory_id == trajectory_id)
            and consent.purpose.strip().casefold() == CONTINUATION_PURPOSE
        )

    def consent_covering(self, party: str, scopes: tuple[ConsentScope, ...], at: datetime) -> str:
        """004: the id of a consent in force at the moment ``at`` that covers passing ``scopes``
        to ``party``: given by then, not revoked, not run out."""
        for consent_id, consent in self.consents.items():
            if consent.covers(party, scopes, at) and consent.trajectory_id is None:
                return consent_id
        given_later = any(
            consent.to_party == party
            and consent.revoked_at is None
            and consent.trajectory_id is None
            and set(scopes) <= set(consent.scopes)
            and consent.given_at > at
            for consent in self.consents.values()
        )
        later = (
            " (the client's consent was given after that moment: information passes only once "
            "it is given)"
            if given_later
            else ""
        )
        raise ConsentMissing(
            f"no consent of the client in force at {at.astimezone(UTC).isoformat()} covers "
            f"passing {', '.join(s.value for s in scopes)} to {party!r}{later}; record the "
            "client's consent first"
        )

    def _representative(self, representative_ref: str) -> Representative:
        return held(
            self.representatives,
            representative_ref,
            kind="representative",
            where="not appointed for this client",
            field="representative_ref",
        )

    def _consent(self, consent_id: str) -> Consent:
        return held(
            self.consents,
            consent_id,
            kind="consent",
            where="not recorded for this client",
            field="consent_id",
        )

    Snapshot = TypedSnapshot
    snapshot_state = ClientSnapshotState
