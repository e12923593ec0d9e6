"""The commands of the care record: what each use case takes, typed, and the domain method it
calls (one explicit table from command to rule).

Each command is a msgspec Struct: it is the request body the API decodes (unknown fields
refused, every identifier a ``Ref``, every text bounded), and the application's typed input. A
command on a trajectory or a client names its ``action`` — the one name the access policy, the
logs and the use case share — and ``apply`` runs the domain's rule with exactly its fields, so
mypy follows a request from its route to the event it records. Commands that address an item
named in the path (a goal, an agreement, an escalation, a consent, a representative) are the
body plus that item (``…At``), built by the API with ``at``.

No ``from __future__ import annotations`` here: Litestar introspects these types.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol, Self
from uuid import UUID, uuid4

import msgspec
from msgspec import Meta

from domain import trajectory as t
from domain.client import Client, PersonalData
from domain.common import (
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)
from domain.errors import ConsentMissing, CoordinationNeedsConsent
from domain.export_authorisation import ExportAuthorisation, LegalBasis
from domain.organisation import Organisation, OrganisationKind, PublicIdentifiers
from domain.trajectory import Trajectory


class Action(StrEnum):
    """What a command does, as the access policy, the logs and the use cases name it."""

    REGISTER_CLIENT = "register_client"
    APPOINT_REPRESENTATIVE = "appoint_representative"
    EXCLUDE_REPRESENTATIVE = "exclude_representative"
    GRANT_CONSENT = "grant_consent"
    REVOKE_CONSENT = "revoke_consent"
    ERASE_CLIENT = "erase_client"
    REFER = "refer"
    ACCEPT = "accept"
    DECLINE = "decline"
    HOLD_CONSULTATION = "hold_consultation"
    WAIVE_CONSULTATION = "waive_consultation"
    PROPOSE_ROLE_AGREEMENT = "propose_role_agreement"
    ACCEPT_ROLE_AGREEMENT = "accept_role_agreement"
    DECLINE_ROLE_AGREEMENT = "decline_role_agreement"
    END_ROLE_AGREEMENT = "end_role_agreement"
    SET_GOAL = "set_goal"
    REVISE_GOAL = "revise_goal"
    CLOSE_GOAL = "close_goal"
    AGREE_ACTION = "agree_action"
    SIGN_PLAN = "sign_plan"
    EVALUATE = "evaluate"
    RAISE_ESCALATION = "raise_escalation"
    CHANGE_ESCALATION_LEVEL = "change_escalation_level"
    RESOLVE_ESCALATION = "resolve_escalation"
    BLOCK = "block"
    UNBLOCK = "unblock"
    HAND_OVER = "hand_over"
    RECORD_FOLLOW_UP_CONTACT = "record_follow_up_contact"
    CLOSE_TRAJECTORY = "close_trajectory"
    REGISTER_ORGANISATION = "register_organisation"
    CONFIRM_ORGANISATION = "confirm_organisation"
    CORRECT_ORGANISATION = "correct_organisation"
    GRANT_EXPORT_AUTHORISATION = "grant_export_authorisation"
    REVOKE_EXPORT_AUTHORISATION = "revoke_export_authorisation"


# --- field types --------------------------------------------------------------------------------

#: When it happened in the world; an offset is required (``2026-11-20T10:00:00+01:00``).
OccurredAt = Annotated[
    datetime,
    Meta(tz=True, description="When it happened in the world, with a time zone offset"),
]
Text = Annotated[str, Meta(min_length=1, max_length=4000)]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
OptionalText = Annotated[str, Meta(max_length=4000)]
OptionalShortText = Annotated[str, Meta(max_length=200)]
#: Identifiers chosen by callers: organisations, regions, goals, agreements, consents. Letters,
#: digits and ``._:@-``, so no control character ever names anything (a NUL cannot be stored in
#: PostgreSQL text, issue #10). ``(?!.*\n)`` because Python's ``$`` also matches before a final
#: newline; the lookahead means the same in the ECMA regexes of JSON Schema.
REF_PATTERN = r"^(?!.*\n)[A-Za-z0-9][A-Za-z0-9._:@-]*$"
REF_MAX_LENGTH = 100
Ref = Annotated[str, Meta(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH)]
Lines = Annotated[tuple[Text, ...], Meta(max_length=50)]
#: A user as a bearer token names it (``sub``): any printable text.
UserId = Annotated[str, Meta(pattern=r"^(?!.*\n)[^\x00-\x1f\x7f]+$", min_length=1, max_length=200)]


def new_id(prefix: str) -> str:
    """An id for an item the caller did not name (``goal-3f2a…``)."""
    return f"{prefix}-{uuid4().hex[:12]}"


class ClientReader(Protocol):
    """What a trajectory command may consult besides its trajectory: the client's record."""

    def client(self, client_id: UUID) -> Client: ...


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Every command says when it happened in the world (the context carries it on)."""

    occurred_at: OccurredAt

    #: The action, for the access policy and the logs; ``None`` on a body that still needs the
    #: item its path names (its ``…At`` command has one).
    action: ClassVar[Action | None] = None

    @property
    def item_id(self) -> str | None:
        """The id of the item this command creates (answered to the caller), if any."""
        return None

    def identified(self) -> Self:
        """This command with an id for the item it creates, where the caller named none."""
        return self

    @classmethod
    def at(cls, body: msgspec.Struct, **item: Any) -> Self:
        """The command for ``body`` on the item its path names (``ReviseGoalAt.at(body,
        goal_id=…)``)."""
        return cls(**msgspec.structs.asdict(body), **item)


class TrajectoryCommand(Command, kw_only=True, frozen=True):
    """A command that changes one trajectory."""

    action: ClassVar[Action]

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        raise NotImplementedError


class ClientCommand(Command, kw_only=True, frozen=True):
    """A command that changes one client's record."""

    action: ClassVar[Action]

    def apply(self, client: Client, ctx: CommandContext) -> None:
        raise NotImplementedError


class OrganisationCommand(Command, kw_only=True, frozen=True):
    """A command that changes one organisation of the register."""

    action: ClassVar[Action]

    def apply(self, organisation: Organisation, ctx: CommandContext) -> None:
        raise NotImplementedError


def _identified(command: Any, field: str, prefix: str) -> Any:
    """``command`` with ``field`` set to a new id, unless the caller named one."""
    if getattr(command, field) is not None:
        return command
    return msgspec.structs.replace(command, **{field: new_id(prefix)})


# --- clients ------------------------------------------------------------------------------------


class RegisterClient(Command, kw_only=True, frozen=True):
    action = Action.REGISTER_CLIENT
    name: ShortText | None = None
    contact: ShortText | None = None

    @property
    def personal(self) -> PersonalData:
        return PersonalData(name=self.name, contact=self.contact)


class AppointRepresentative(ClientCommand, kw_only=True, frozen=True):
    action = Action.APPOINT_REPRESENTATIVE
    representative_ref: Ref
    name: ShortText | None = None
    contact: ShortText | None = None

    @property
    def item_id(self) -> str | None:
        return self.representative_ref

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.appoint_representative(
            ctx,
            representative_ref=self.representative_ref,
            personal=PersonalData(name=self.name, contact=self.contact),
        )


class ExcludeRepresentative(Command, kw_only=True, frozen=True):
    reason: OptionalText = ""


class ExcludeRepresentativeAt(ExcludeRepresentative, ClientCommand, kw_only=True, frozen=True):
    action = Action.EXCLUDE_REPRESENTATIVE
    representative_ref: str

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.exclude_representative(
            ctx, representative_ref=self.representative_ref, reason=self.reason
        )


class GrantConsent(ClientCommand, kw_only=True, frozen=True):
    action = Action.GRANT_CONSENT
    consent_id: Ref | None = None
    to_party: Ref
    scopes: Annotated[tuple[ConsentScope, ...], Meta(min_length=1, max_length=3)]
    purpose: Text
    until: date | None = None

    @property
    def item_id(self) -> str | None:
        return self.consent_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "consent_id", "consent")
        return identified

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.grant_consent(
            ctx,
            consent_id=self.consent_id or "",
            to_party=self.to_party,
            scopes=self.scopes,
            purpose=self.purpose,
            until=self.until,
        )


class RevokeConsent(Command, kw_only=True, frozen=True):
    reason: OptionalText = ""


class RevokeConsentAt(RevokeConsent, ClientCommand, kw_only=True, frozen=True):
    action = Action.REVOKE_CONSENT
    consent_id: str

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.revoke_consent(ctx, consent_id=self.consent_id, reason=self.reason)


class EraseClient(Command, kw_only=True, frozen=True):
    """Crypto-shredding: why the personal data goes (a GDPR request, the end of retention)."""

    action = Action.ERASE_CLIENT
    legal_basis: Annotated[str, Meta(pattern=r"^(gdpr_request|retention_ended)$")]


# --- trajectories: intake -----------------------------------------------------------------------


class Refer(Command, kw_only=True, frozen=True):
    """*Aanmelding* (001); ``continues_from`` carries an earlier trajectory's thread (000)."""

    action = Action.REFER
    client_id: UUID
    question: Text
    sector: Sector
    region: Ref
    client_criteria: Lines = ()
    referrer_engagement: OptionalText = ""
    referrer_organisation: Ref | None = None
    continues_from: UUID | None = None

    def open(self, ctx: CommandContext) -> Trajectory:
        """The new trajectory (its referral), not yet continuing anything."""
        return Trajectory.refer(
            ctx,
            client_id=self.client_id,
            question=self.question,
            client_criteria=self.client_criteria,
            referrer_engagement=self.referrer_engagement,
            sector=self.sector,
            region=self.region,
            referrer_organisation=self.referrer_organisation,
        )


class Accept(TrajectoryCommand, kw_only=True, frozen=True):
    """Accept the referral; the actor's organisation coordinates unless another is named, and
    naming another organisation to coordinate needs the client's consent (004)."""

    action = Action.ACCEPT
    coordinating_organisation: Ref | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        named = self.coordinating_organisation
        if named and named != ctx.actor.organisation:
            self._check_consent_to_coordinate(trajectory, ctx, record, named)
        trajectory.accept(ctx, coordinating_organisation=named)

    @staticmethod
    def _check_consent_to_coordinate(
        trajectory: Trajectory, ctx: CommandContext, record: ClientReader, organisation: str
    ) -> None:
        """The organisation named to coordinate will hold the plan: a consent of the client in
        force on the day of acceptance must cover passing it the plan (issue #10 review, B1).
        Time and who answers the referral are checked first: a bad date or the wrong
        organisation is refused as such, before it is a consent matter."""
        trajectory.check_time(ctx)
        trajectory.check_answers_referral(ctx)
        try:
            record.client(trajectory.client_id).consent_covering(
                organisation, (ConsentScope.PLAN,), ctx.occurred_on
            )
        except ConsentMissing:
            raise CoordinationNeedsConsent(
                f"naming {organisation!r} to coordinate passes the plan to it: no consent of "
                f"the client in force on {ctx.occurred_on.isoformat()} covers the plan for "
                f"{organisation!r}. Record the client's consent first, or accept without "
                "naming another organisation",
                field="coordinating_organisation",
            ) from None


class Decline(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.DECLINE
    reason: Text

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.decline(ctx, reason=self.reason)


# --- trajectories: consultations and role agreements --------------------------------------------


class Participant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``domain.trajectory.Participant`` on the wire: the organisation is an identifier (``Ref``).

    The domain's event field stays a plain ``str``: events recorded before are read as stored.
    """

    organisation: Ref
    role: Role
    person_ref: OptionalShortText | None = None


class ProposedRoleAssignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``domain.trajectory.RoleAssignment`` on the wire: the party is an identifier (``Ref``).
    (Named apart from the domain's, which the plan state's answer shows.)"""

    party: Ref
    role: Role
    responsibilities: OptionalText = ""


class HoldConsultation(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.HOLD_CONSULTATION
    kind: ConsultationKind
    participants: Annotated[tuple[Participant, ...], Meta(min_length=1, max_length=50)]
    client_involvement: ClientInvolvement
    decisions: Lines = ()
    next_consultation_on: date | None = None
    no_next_reason: OptionalText | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.hold_consultation(
            ctx,
            kind=self.kind,
            participants=tuple(
                t.Participant(organisation=p.organisation, role=p.role, person_ref=p.person_ref)
                for p in self.participants
            ),
            client_involvement=self.client_involvement,
            decisions=self.decisions,
            next_consultation_on=self.next_consultation_on,
            no_next_reason=self.no_next_reason,
        )


class WaiveConsultation(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.WAIVE_CONSULTATION
    kind: ConsultationKind
    reason: Text

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.waive_consultation(ctx, kind=self.kind, reason=self.reason)


class ProposeRoleAgreement(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.PROPOSE_ROLE_AGREEMENT
    agreement_id: Ref | None = None
    assignments: Annotated[tuple[ProposedRoleAssignment, ...], Meta(min_length=1, max_length=20)]

    @property
    def item_id(self) -> str | None:
        return self.agreement_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "agreement_id", "agreement")
        return identified

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.propose_role_agreement(
            ctx,
            agreement_id=self.agreement_id or "",
            assignments=tuple(
                t.RoleAssignment(party=a.party, role=a.role, responsibilities=a.responsibilities)
                for a in self.assignments
            ),
        )


class AnswerRoleAgreement(Command, kw_only=True, frozen=True):
    """Accepting needs nothing but the time; the party is the actor's organisation."""


class AcceptRoleAgreementAt(AnswerRoleAgreement, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.ACCEPT_ROLE_AGREEMENT
    agreement_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.accept_role_agreement(ctx, agreement_id=self.agreement_id)


class DeclineRoleAgreement(Command, kw_only=True, frozen=True):
    reason: Text


class DeclineRoleAgreementAt(DeclineRoleAgreement, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.DECLINE_ROLE_AGREEMENT
    agreement_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.decline_role_agreement(ctx, agreement_id=self.agreement_id, reason=self.reason)


class EndRoleAgreement(Command, kw_only=True, frozen=True):
    reason: Text


class EndRoleAgreementAt(EndRoleAgreement, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.END_ROLE_AGREEMENT
    agreement_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.end_role_agreement(ctx, agreement_id=self.agreement_id, reason=self.reason)


# --- trajectories: the plan -----------------------------------------------------------------------


class SetGoal(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.SET_GOAL
    goal_id: Ref | None = None
    description: Text

    @property
    def item_id(self) -> str | None:
        return self.goal_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "goal_id", "goal")
        return identified

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.set_goal(ctx, goal_id=self.goal_id or "", description=self.description)


class ReviseGoal(Command, kw_only=True, frozen=True):
    description: Text
    reason: OptionalText = ""


class ReviseGoalAt(ReviseGoal, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.REVISE_GOAL
    goal_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.revise_goal(
            ctx, goal_id=self.goal_id, description=self.description, reason=self.reason
        )


class CloseGoal(Command, kw_only=True, frozen=True):
    outcome: Text


class CloseGoalAt(CloseGoal, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.CLOSE_GOAL
    goal_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.close_goal(ctx, goal_id=self.goal_id, outcome=self.outcome)


class AgreeAction(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.AGREE_ACTION
    action_id: Ref | None = None
    description: Text
    owner: Ref
    due_on: date | None = None
    goal_id: Ref | None = None

    @property
    def item_id(self) -> str | None:
        return self.action_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "action_id", "action")
        return identified

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.agree_action(
            ctx,
            action_id=self.action_id or "",
            description=self.description,
            owner=self.owner,
            due_on=self.due_on,
            goal_id=self.goal_id,
        )


class SignPlan(TrajectoryCommand, kw_only=True, frozen=True):
    """004: signed by the client, or by a representative the client did not exclude."""

    action = Action.SIGN_PLAN
    signatory: Signatory
    representative_ref: Ref | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        record.client(trajectory.client_id).check_may_sign(self.signatory, self.representative_ref)
        trajectory.sign_plan(
            ctx, signatory=self.signatory, representative_ref=self.representative_ref
        )


class Evaluate(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.EVALUATE
    results: Text
    blocking: Annotated[tuple[ReasonCategory, ...], Meta(max_length=10)] = ()
    pdca_phase: PdcaPhase | None = None
    new_agreements: Lines = ()
    next_evaluation_on: date | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.evaluate(
            ctx,
            results=self.results,
            blocking=self.blocking,
            pdca_phase=self.pdca_phase,
            new_agreements=self.new_agreements,
            next_evaluation_on=self.next_evaluation_on,
        )


# --- trajectories: escalations and blocks ---------------------------------------------------------


class RaiseEscalation(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.RAISE_ESCALATION
    escalation_id: Ref | None = None
    level: EscalationLevel
    reason: ReasonCategory
    description: OptionalText = ""

    @property
    def item_id(self) -> str | None:
        return self.escalation_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "escalation_id", "escalation")
        return identified

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.raise_escalation(
            ctx,
            escalation_id=self.escalation_id or "",
            level=self.level,
            reason=self.reason,
            description=self.description,
        )


class ChangeEscalationLevel(Command, kw_only=True, frozen=True):
    to_level: EscalationLevel
    reason: Text


class ChangeEscalationLevelAt(ChangeEscalationLevel, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.CHANGE_ESCALATION_LEVEL
    escalation_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.change_escalation_level(
            ctx, escalation_id=self.escalation_id, to_level=self.to_level, reason=self.reason
        )


class ResolveEscalation(Command, kw_only=True, frozen=True):
    resolution: Text


class ResolveEscalationAt(ResolveEscalation, TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.RESOLVE_ESCALATION
    escalation_id: str

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.resolve_escalation(
            ctx, escalation_id=self.escalation_id, resolution=self.resolution
        )


class BlockTrajectory(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.BLOCK
    reasons: Annotated[tuple[ReasonCategory, ...], Meta(min_length=1, max_length=10)]
    description: OptionalText = ""

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.block(ctx, reasons=self.reasons, description=self.description)


class UnblockTrajectory(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.UNBLOCK
    resolution: Text

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.unblock(ctx, resolution=self.resolution)


# --- trajectories: handover and the end -----------------------------------------------------------


class HandOver(TrajectoryCommand, kw_only=True, frozen=True):
    """004: information passes to another organisation only with the client's consent."""

    action = Action.HAND_OVER
    to_party: Ref
    scopes: Annotated[tuple[ConsentScope, ...], Meta(min_length=1, max_length=3)] = (
        ConsentScope.PLAN,
    )
    transfers_coordination: Annotated[
        bool,
        Meta(
            description=(
                "Whether the receiving party becomes the trajectory's coordinator (and so a "
                "party that no longer needs the client's consent to see it). Off unless asked "
                "for; refused (409) on a closed trajectory."
            )
        ),
    ] = False

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.check_time(ctx)  # a bad date is a bad date before it is a consent matter
        consent_id = record.client(trajectory.client_id).consent_covering(
            self.to_party, self.scopes, ctx.occurred_on
        )
        trajectory.hand_over(
            ctx,
            to_party=self.to_party,
            scopes=self.scopes,
            consent_id=consent_id,
            transfers_coordination=self.transfers_coordination,
        )


class RecordFollowUpContact(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.RECORD_FOLLOW_UP_CONTACT
    contacted_party: Ref
    outcome: Text

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.record_follow_up_contact(
            ctx, contacted_party=self.contacted_party, outcome=self.outcome
        )


class CloseTrajectory(TrajectoryCommand, kw_only=True, frozen=True):
    action = Action.CLOSE_TRAJECTORY
    reason: Text
    follow_up_by: Ref | None = None
    no_follow_up_reason: OptionalText | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.close(
            ctx,
            reason=self.reason,
            follow_up_by=self.follow_up_by,
            no_follow_up_reason=self.no_follow_up_reason,
        )


# --- the organisation register ------------------------------------------------------------------

#: Written as ``0123.456.749``, ``0123456749`` or ``BE0123456749``; the domain checks the digits.
EnterpriseNumber = Annotated[
    str,
    Meta(
        pattern=r"^(BE)?[0-9]{4}\.?[0-9]{3}\.?[0-9]{3}$",
        description="Belgian enterprise number (KBO/BCE): ten digits, mod-97 check",
        examples=["0403.170.701"],
    ),
]
AgbCode = Annotated[str, Meta(pattern=r"^[0-9]{8}$", description="Dutch AGB code (Vektis)")]
UraNumber = Annotated[str, Meta(pattern=r"^[0-9]{8}$", description="Dutch URA number (UZI)")]
KvkNumber = Annotated[str, Meta(pattern=r"^[0-9]{8}$", description="Dutch KvK number")]


class OrganisationIdentifiers(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The public identifiers of an organisation, where it has them."""

    enterprise_number: EnterpriseNumber | None = None
    agb: AgbCode | None = None
    ura: UraNumber | None = None
    kvk: KvkNumber | None = None

    def domain(self) -> PublicIdentifiers:
        return PublicIdentifiers(
            enterprise_number=self.enterprise_number, agb=self.agb, ura=self.ura, kvk=self.kvk
        )


class RegisterOrganisation(Command, kw_only=True, frozen=True):
    """Register an organisation under the identifier the record uses for it (a token's ``org``,
    a referrer, a party). A coordinator's registration is provisional until an admin confirms
    it; without a kind it is ``unclassified``."""

    action = Action.REGISTER_ORGANISATION
    identifier: Ref
    name: ShortText
    kind: OrganisationKind = OrganisationKind.UNCLASSIFIED
    region: Ref | None = None
    public_identifiers: OrganisationIdentifiers = OrganisationIdentifiers()

    def register(self, ctx: CommandContext, *, provisional: bool) -> Organisation:
        return Organisation.register(
            ctx,
            identifier=self.identifier,
            name=self.name,
            kind=self.kind,
            region=self.region,
            public_identifiers=self.public_identifiers.domain(),
            provisional=provisional,
        )


class ConfirmOrganisation(OrganisationCommand, kw_only=True, frozen=True):
    """An admin vouches for a provisional registration as it stands."""

    action = Action.CONFIRM_ORGANISATION

    def apply(self, organisation: Organisation, ctx: CommandContext) -> None:
        organisation.confirm(ctx)


class CorrectOrganisation(OrganisationCommand, kw_only=True, frozen=True):
    """Correct any field but the identifier; a field left out stays as it is. Public
    identifiers, when given, replace the organisation's as a whole. A new ``kind`` classifies
    it (an ``unclassified`` organisation found in the record is registered instead)."""

    action = Action.CORRECT_ORGANISATION
    name: ShortText | None = None
    kind: OrganisationKind | None = None
    region: Ref | None = None
    public_identifiers: OrganisationIdentifiers | None = None

    def apply(self, organisation: Organisation, ctx: CommandContext) -> None:
        organisation.correct(
            ctx,
            name=self.name,
            kind=self.kind,
            region=self.region,
            public_identifiers=(
                self.public_identifiers.domain() if self.public_identifiers is not None else None
            ),
        )


# --- export authorisations (issue #13) ----------------------------------------------------------


class GrantExportAuthorisation(Command, kw_only=True, frozen=True):
    """The data protection officer authorises one user of one organisation to export one
    region's pseudonymised event data (XES), for a purpose, on a legal basis, until a day."""

    action = Action.GRANT_EXPORT_AUTHORISATION
    user_id: UserId
    organisation: Ref
    purpose: Text
    legal_basis: LegalBasis
    region: Ref
    until: date

    def grant(self, ctx: CommandContext) -> ExportAuthorisation:
        return ExportAuthorisation.grant(
            ctx,
            user_id=self.user_id,
            organisation=self.organisation,
            purpose=self.purpose,
            legal_basis=self.legal_basis,
            region=self.region,
            until=self.until,
        )


class RevokeExportAuthorisation(Command, kw_only=True, frozen=True):
    """Revoked from now on: the next export under it is refused."""

    action = Action.REVOKE_EXPORT_AUTHORISATION
    reason: OptionalText = ""

    def apply(self, authorisation: ExportAuthorisation, ctx: CommandContext) -> None:
        authorisation.revoke(ctx, reason=self.reason)
