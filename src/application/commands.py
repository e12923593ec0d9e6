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

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol, Self
from uuid import UUID, uuid4

import msgspec
from msgspec import Meta

from domain import learning_network as ln
from domain import trajectory as t
from domain.client import Client, PersonalData, PersonRole
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
from domain.person_requests import RequestKind, RequestOutcome
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
    #: A referral that continues a closed trajectory at the caller's own organisation (#17).
    CONTINUE = "continue"
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
    SHARE_FINDING = "share_finding"
    REGISTER_ORGANISATION = "register_organisation"
    CONFIRM_ORGANISATION = "confirm_organisation"
    CORRECT_ORGANISATION = "correct_organisation"
    GRANT_EXPORT_AUTHORISATION = "grant_export_authorisation"
    REVOKE_EXPORT_AUTHORISATION = "revoke_export_authorisation"
    ESTABLISH_LEARNING_NETWORK = "establish_learning_network"
    ADMIT_NETWORK_MEMBER = "admit_network_member"
    RECORD_NETWORK_MEMBER_LEFT = "record_network_member_left"
    PROPOSE_THEME = "propose_theme"
    SCHEDULE_THEME = "schedule_theme"
    CLOSE_THEME = "close_theme"
    HOLD_NETWORK_MEETING = "hold_network_meeting"
    RAISE_POLICY_SIGNAL = "raise_policy_signal"
    ANSWER_POLICY_SIGNAL = "answer_policy_signal"
    CLOSE_POLICY_SIGNAL = "close_policy_signal"
    ESCALATE_POLICY_SIGNAL = "escalate_policy_signal"
    PUBLISH_LESSONS = "publish_lessons"
    START_IMPROVEMENT_TRAJECTORY = "start_improvement_trajectory"
    MEASURE_IMPROVEMENT_TRAJECTORY = "measure_improvement_trajectory"
    CLOSE_LEARNING_NETWORK = "close_learning_network"
    LINK_IDENTITY = "link_identity"
    REVOKE_IDENTITY_LINK = "revoke_identity_link"
    RECORD_BIRTH_YEAR = "record_birth_year"
    ASSESS_CAPACITY = "assess_capacity"
    #: Issue #19 point 5: the person's own; no organisation's role takes them.
    FILE_REQUEST = "file_request"
    GIVE_CONSULTATION_INPUT = "give_consultation_input"
    #: A person's request decided by the coordinating organisation or the officer.
    DECIDE_REQUEST = "decide_request"


# --- field types --------------------------------------------------------------------------------

#: When it happened in the world; an offset is required (``2026-11-20T10:00:00+01:00``).
OccurredAt = Annotated[
    datetime,
    Meta(tz=True, description="When it happened in the world, with a time zone offset"),
]
#: What no text of the record holds: C1 controls and DEL, and the bidirectional embeddings,
#: overrides and isolates (which show a text other than the one stored). The marks a
#: right-to-left text may need (U+200E, U+200F) and joiners are taken.
_NEVER = r"\x7f-\x9f\u202a-\u202e\u2066-\u2069"
#: Free text (a goal, a consultation's notes): lines, so tab, LF and CR are its only C0
#: controls, and the line and paragraph separators (U+2028, U+2029: soft line breaks that text
#: pasted from word processors and slides carries) are taken. A NUL or an ESC would reach the
#: plan page and the FHIR bundle (whose strings hold no other control character). A linear
#: pattern: Python's ``$`` may match before a final newline, which this text may hold anyway.
MULTI_LINE = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f{_NEVER}]*$"
OptionalText = Annotated[str, Meta(pattern=MULTI_LINE, max_length=4000)]
#: A name, a title, a contact: one line of printable text (a NUL or a line break in a person's
#: name is an error of the sending system, and a name is shown on the plan, the board and in
#: exports): no C0 control, and no line or paragraph separator, either.
_NOT_IN_A_LINE = rf"\x00-\x1f\u2028\u2029{_NEVER}"
ONE_LINE = rf"^(?!.*\n)[^{_NOT_IN_A_LINE}]*$"
#: Spaces and marks that show nothing: a name of only these is blank (``"   "``, U+200B).
_INVISIBLE = (
    r" \xa0\xad\u034f\u061c\u115f\u1160\u1680\u180e\u2000-\u200f\u202f\u205f-\u2064"
    r"\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
#: One line holding at least one visible character: invisible ones, then a visible one, then
#: any of the line's (linear: no part of the text can be matched two ways).
VISIBLE_LINE = rf"^(?!.*\n)[{_INVISIBLE}]*[^{_NOT_IN_A_LINE}{_INVISIBLE}][^{_NOT_IN_A_LINE}]*$"
ShortText = Annotated[str, Meta(pattern=VISIBLE_LINE, min_length=1, max_length=200)]
#: Free text that must say something (a reason, a goal, a consultation's notes): lines and
#: blanks, then a visible character, then any free text (linear, as ``VISIBLE_LINE``). Spaces
#: and line breaks alone would stand in the record as a reason nobody gave.
VISIBLE_TEXT = (
    rf"^[\t\n\r\u2028\u2029{_INVISIBLE}]*[^\x00-\x1f\u2028\u2029{_NEVER}{_INVISIBLE}]"
    rf"[^\x00-\x08\x0b\x0c\x0e-\x1f{_NEVER}]*$"
)
Text = Annotated[str, Meta(pattern=VISIBLE_TEXT, min_length=1, max_length=4000)]
OptionalShortText = Annotated[str, Meta(pattern=ONE_LINE, max_length=200)]
#: Identifiers chosen by callers: organisations, regions, goals, agreements, consents. Letters,
#: digits and ``._:@-``, so no control character ever names anything (a NUL cannot be stored in
#: PostgreSQL text, issue #10). ``(?!.*\n)`` because Python's ``$`` also matches before a final
#: newline; the lookahead means the same in the ECMA regexes of JSON Schema.
REF_PATTERN = r"^(?!.*\n)[A-Za-z0-9][A-Za-z0-9._:@-]*$"
REF_MAX_LENGTH = 100
Ref = Annotated[str, Meta(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH)]
Lines = Annotated[tuple[Text, ...], Meta(max_length=50)]
#: A user as a bearer token names it (``sub``): one line of printable text, not blank (a
#: token whose ``sub`` is blank is refused, so no one could sign in as it).
UserId = Annotated[str, Meta(pattern=VISIBLE_LINE, min_length=1, max_length=200)]


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

    #: Fields besides the item's id that the caller writes and the record keeps in the clear,
    #: naming someone by a reference (an action's ``owner``): checked as a chosen id is.
    references: ClassVar[tuple[str, ...]] = ()

    def chosen_references(self) -> list[tuple[str, str]]:
        """The fields and values the caller chose that outlive an erasure: the id of the item
        this command creates (``("goal_id", "goal-school")``; before ``identified``, so an id
        the record makes is not among them) and its ``references``."""
        chosen = []
        if self.item_id is not None:
            field = next(
                (f for f in self.__struct_fields__ if getattr(self, f) == self.item_id),
                "the identifier",
            )
            chosen.append((field, self.item_id))
        chosen += [(f, v) for f in self.references if isinstance(v := getattr(self, f), str)]
        return chosen

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
    trajectory_id: Annotated[
        UUID | None,
        Meta(
            description="For the purpose continuation only, and then required (issue #17): "
            "the closed trajectory the consent lets to_party continue at its own organisation "
            "(and read); such a consent opens nothing else of the client"
        ),
    ] = None

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
            trajectory_id=self.trajectory_id,
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
    legal_basis: Annotated[str, Meta(pattern=r"^(?!.*\n)(gdpr_request|retention_ended)$")]


# --- the person as a user (issue #19) ------------------------------------------------------------


def signatory_of(ctx: CommandContext) -> tuple[Signatory, str | None]:
    """Who the person acting is, as the record names a signatory: the client, or the
    representative their identity link names (``Actor.on_behalf_of``); the token never says."""
    if ctx.actor.role == Signatory.REPRESENTATIVE:
        return Signatory.REPRESENTATIVE, ctx.actor.on_behalf_of
    return Signatory.CLIENT, None


class FileRequest(ClientCommand, kw_only=True, frozen=True):
    """GDPR art. 15-17 (issue #19): a copy of the data, a rectification of a named field, or
    an erasure; answered within a month."""

    action = Action.FILE_REQUEST
    request_id: Ref | None = None
    kind: RequestKind
    field_name: (
        Annotated[
            str,
            Meta(
                pattern=VISIBLE_LINE,
                min_length=1,
                max_length=200,
                description="For a rectification: the field to correct (name, contact, a goal)",
            ),
        ]
        | None
    ) = None
    details: OptionalText = ""

    @property
    def item_id(self) -> str | None:
        return self.request_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "request_id", "request")
        return identified

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.file_request(
            ctx,
            request_id=self.request_id or "",
            kind=self.kind,
            field_name=self.field_name,
            details=self.details,
        )


class DecideRequest(Command, kw_only=True, frozen=True):
    outcome: RequestOutcome
    legal_ground: Annotated[
        str,
        Meta(
            pattern=VISIBLE_TEXT,
            min_length=1,
            max_length=4000,
            description="Why, as the person reads it (e.g. 004's ten-year retention, GDPR art. "
            "17(3)(b), for a refused erasure)",
        ),
    ]


class DecideRequestAt(DecideRequest, ClientCommand, kw_only=True, frozen=True):
    action = Action.DECIDE_REQUEST
    request_id: str

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.decide_request(
            ctx, request_id=self.request_id, outcome=self.outcome, legal_ground=self.legal_ground
        )


class SignMyPlan(Command, kw_only=True, frozen=True):
    """The person signs their plan: as the client, or as the representative their link names."""


class SignMyPlanAs(SignMyPlan, TrajectoryCommand, kw_only=True, frozen=True):
    """``together``: the minors' rules want both the minor's and a parent's signature
    (``domain.minors.needs_both_signatures``), decided by the API from the person's record."""

    action = Action.SIGN_PLAN
    together: bool

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        signatory, representative_ref = signatory_of(ctx)
        record.client(trajectory.client_id).check_may_sign(
            signatory, representative_ref, ctx.occurred_at
        )
        if self.together:
            trajectory.sign_plan_together(
                ctx, signatory=signatory, representative_ref=representative_ref
            )
        else:
            trajectory.sign_plan(ctx, signatory=signatory, representative_ref=representative_ref)


class GiveConsultationInput(TrajectoryCommand, kw_only=True, frozen=True):
    """001: "zelf aanwezig of vooraf bevraagd": the person's statement ahead of a consultation."""

    action = Action.GIVE_CONSULTATION_INPUT
    statement: Text
    for_kind: ConsultationKind | None = None

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        given_by, representative_ref = signatory_of(ctx)
        trajectory.give_consultation_input(
            ctx,
            statement=self.statement,
            for_kind=self.for_kind,
            given_by=given_by,
            representative_ref=representative_ref,
        )


class LinkIdentity(Command, kw_only=True, frozen=True):
    """The body of an identity link: the identity provider's subject (``sub`` of the person's
    tokens), as the client or as an appointed representative. The API keys the subject
    (``LinkIdentity.keyed``) before the record sees it."""

    action = Action.LINK_IDENTITY
    link_id: Ref | None = None
    #: The ``sub`` of the person's tokens: a token holding a control character is refused, so a
    #: subject holding one could never sign in (and would carry it into the record).
    subject: UserId
    as_role: PersonRole
    representative_ref: Ref | None = None

    def keyed(self, subject_hash: str) -> "LinkIdentityKeyed":
        # (Not identified here: the record identifies it, so a link id it makes is not taken
        # for one the caller chose, and a retry under the same Idempotency-Key is the same.)
        return LinkIdentityKeyed(**msgspec.structs.asdict(self), subject_hash=subject_hash)


class LinkIdentityKeyed(LinkIdentity, ClientCommand, kw_only=True, frozen=True):
    """``LinkIdentity`` with the subject's keyed hash, by which the person's tokens find it."""

    subject_hash: str

    @property
    def item_id(self) -> str | None:
        return self.link_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "link_id", "link")
        return identified

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.link_identity(
            ctx,
            link_id=self.link_id or "",
            subject=self.subject,
            subject_hash=self.subject_hash,
            as_role=self.as_role,
            representative_ref=self.representative_ref,
        )


class RevokeIdentityLink(Command, kw_only=True, frozen=True):
    reason: OptionalText = ""


class RevokeIdentityLinkAt(RevokeIdentityLink, ClientCommand, kw_only=True, frozen=True):
    action = Action.REVOKE_IDENTITY_LINK
    link_id: str

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.revoke_identity_link(ctx, link_id=self.link_id, reason=self.reason)


class RecordBirthYear(ClientCommand, kw_only=True, frozen=True):
    """The client's year of birth, where known (the minors' rules need it)."""

    action = Action.RECORD_BIRTH_YEAR
    birth_year: Annotated[int, Meta(ge=1850, le=9999)]

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.record_birth_year(ctx, birth_year=self.birth_year)


class AssessCapacity(ClientCommand, kw_only=True, frozen=True):
    """A professional's judgement whether the minor can exercise their rights alone."""

    action = Action.ASSESS_CAPACITY
    capable: bool
    assessed_on: date

    def apply(self, client: Client, ctx: CommandContext) -> None:
        client.assess_capacity(ctx, capable=self.capable, assessed_on=self.assessed_on)


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
    continues_from: Annotated[
        UUID | None,
        Meta(
            description="A closed trajectory of the same client that this one continues: its "
            "open goals and their actions are carried into this one (not in force here until "
            "the plan is signed here), and it names this one in continued_by. It is continued "
            "by one live continuation at most: while one is open, or once one closed (continue "
            "from that one), another is refused (409, trajectory-already-continued); a "
            "declined one does not count. Besides the "
            "organisation that manages the client, an organisation holding the client's "
            "consent with scope plan and purpose continuation may open it, at its own "
            "organisation (no other referrer_organisation)"
        ),
    ] = None

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
                organisation, (ConsentScope.PLAN,), ctx.occurred_at
            )
        except ConsentMissing:
            raise CoordinationNeedsConsent(
                f"naming {organisation!r} to coordinate passes the plan to it: no consent of "
                f"the client in force at {ctx.occurred_at.astimezone(UTC).isoformat()} (given "
                f"by then, not revoked, not run out) covers the plan for "
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
    #: Issue #19: the person whose plan it is reads the decisions (off by default).
    visible_to_client: bool = False

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
            visible_to_client=self.visible_to_client,
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

    #: Who does it: an organisation, or a person of the network by a reference (``mother``),
    #: kept in the clear.
    references = ("owner",)

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
        record.client(trajectory.client_id).check_may_sign(
            self.signatory, self.representative_ref, ctx.occurred_at
        )
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
    #: Issue #19: the person whose plan it is reads the description (off by default).
    visible_to_client: bool = False

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
            visible_to_client=self.visible_to_client,
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
    #: Issue #19: the person whose plan it is reads the description (off by default).
    visible_to_client: bool = False

    def apply(self, trajectory: Trajectory, ctx: CommandContext, record: ClientReader) -> None:
        trajectory.block(
            ctx,
            reasons=self.reasons,
            description=self.description,
            visible_to_client=self.visible_to_client,
        )


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
            self.to_party, self.scopes, ctx.occurred_at
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
        pattern=r"^(?!.*\n)(BE)?[0-9]{4}\.?[0-9]{3}\.?[0-9]{3}$",
        description="Belgian enterprise number (KBO/BCE): ten digits, mod-97 check",
        examples=["0403.170.701"],
    ),
]
AgbCode = Annotated[str, Meta(pattern=r"^(?!.*\n)[0-9]{8}$", description="Dutch AGB code (Vektis)")]
UraNumber = Annotated[
    str, Meta(pattern=r"^(?!.*\n)[0-9]{8}$", description="Dutch URA number (UZI)")
]
KvkNumber = Annotated[str, Meta(pattern=r"^(?!.*\n)[0-9]{8}$", description="Dutch KvK number")]


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


class ShareFinding(Command, kw_only=True, frozen=True):
    """Issue #14 point 2: a finding of the trajectory's consultations, shared with the region's
    learning network as a theme proposal, without a trace back. The text is written for
    sharing: ``names_no_one`` confirms it names no person, school, town or date that identifies
    the family, and the record refuses names recorded for the trajectory, contact details,
    account and identification numbers, and dates (``domain.shared_findings``)."""

    action = Action.SHARE_FINDING
    network_id: UUID
    title: ShortText
    text: Text
    names_no_one: bool = False


# --- learning networks (issue #14) --------------------------------------------------------------


class NetworkReader(Protocol):
    """What a command on a learning network may consult besides the network: the organisation
    register and the statistics releases."""

    def registered(self, identifier: str) -> bool: ...

    def released(self, number: int) -> bool: ...


class NetworkCommand(Command, kw_only=True, frozen=True):
    """A command that changes one learning network (the forum's too)."""

    action: ClassVar[Action]

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        raise NotImplementedError


ReleaseNumber = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Releases = Annotated[tuple[ReleaseNumber, ...], Meta(max_length=50)]
Refs = Annotated[tuple[Ref, ...], Meta(max_length=100)]


class EstablishLearningNetwork(Command, kw_only=True, frozen=True):
    """A region's learning network (``meso``, a region named) or the deployment's forum
    (``macro``, no region), with the organisation that coordinates it."""

    action = Action.ESTABLISH_LEARNING_NETWORK
    level: ln.NetworkLevel = ln.NetworkLevel.MESO
    region: Ref | None = None
    coordinating_organisation: Ref

    def establish(self, ctx: CommandContext) -> ln.LearningNetwork:
        return ln.LearningNetwork.establish(
            ctx,
            level=self.level,
            region=self.region,
            coordinating_organisation=self.coordinating_organisation,
        )


class AdmitNetworkMember(NetworkCommand, kw_only=True, frozen=True):
    """An organisation of the register joins the pool, with its expertise and role (a client
    representative's organisation, never a client)."""

    action = Action.ADMIT_NETWORK_MEMBER
    organisation: Ref
    expertise: ShortText
    role: ln.MemberRole

    @property
    def item_id(self) -> str | None:
        return self.organisation

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        if not record.registered(self.organisation):
            raise ln.MemberNotRegistered(
                f"{self.organisation!r} is not in the organisation register: a member is an "
                "organisation of the register (POST /v1/organisations first)",
                field="organisation",
            )
        network.admit_member(
            ctx, organisation=self.organisation, expertise=self.expertise, role=self.role
        )


class RecordNetworkMemberLeft(Command, kw_only=True, frozen=True):
    reason: OptionalText = ""


class RecordNetworkMemberLeftAt(RecordNetworkMemberLeft, NetworkCommand, kw_only=True, frozen=True):
    action = Action.RECORD_NETWORK_MEMBER_LEFT
    organisation: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.record_member_left(ctx, organisation=self.organisation, reason=self.reason)


#: How the network shows who proposed a theme: by the kind of role, never the organisation.
PROPOSER_OF_ROLE = {
    "coordinator": ln.ProposerKind.REGION_COORDINATOR,
    "forum": ln.ProposerKind.FORUM,
}


class ProposeTheme(NetworkCommand, kw_only=True, frozen=True):
    """A theme for the network; its proposer is shown by kind ("a coordinator of the region")."""

    action = Action.PROPOSE_THEME
    theme_id: Ref | None = None
    title: ShortText
    description: Text
    source_kind: ln.ThemeSource = ln.ThemeSource.MEMBER_EXPERIENCE

    @property
    def item_id(self) -> str | None:
        return self.theme_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "theme_id", "theme")
        return identified

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        if self.source_kind == ln.ThemeSource.CASE_FINDING:
            raise ln.CaseFindingSharedFromItsTrajectory()
        network.propose_theme(
            ctx,
            theme_id=self.theme_id or "",
            title=self.title,
            description=self.description,
            proposer_kind=PROPOSER_OF_ROLE.get(ctx.actor.role, ln.ProposerKind.MEMBER),
            source_kind=self.source_kind,
        )


class ScheduleTheme(Command, kw_only=True, frozen=True):
    scheduled_for: date


class ScheduleThemeAt(ScheduleTheme, NetworkCommand, kw_only=True, frozen=True):
    action = Action.SCHEDULE_THEME
    theme_id: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.schedule_theme(ctx, theme_id=self.theme_id, scheduled_for=self.scheduled_for)


class CloseTheme(Command, kw_only=True, frozen=True):
    conclusion: Text


class CloseThemeAt(CloseTheme, NetworkCommand, kw_only=True, frozen=True):
    action = Action.CLOSE_THEME
    theme_id: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.close_theme(ctx, theme_id=self.theme_id, conclusion=self.conclusion)


class HoldNetworkMeeting(NetworkCommand, kw_only=True, frozen=True):
    """A meeting held: its kind, day, the members present, the themes discussed, the statistics
    releases consulted (by number) and its conclusions."""

    action = Action.HOLD_NETWORK_MEETING
    meeting_id: Ref | None = None
    kind: ln.MeetingKind
    held_on: date
    members_present: Refs
    themes_discussed: Refs = ()
    releases_consulted: Releases = ()
    conclusions: Lines = ()

    @property
    def item_id(self) -> str | None:
        return self.meeting_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "meeting_id", "meeting")
        return identified

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.hold_meeting(
            ctx,
            meeting_id=self.meeting_id or "",
            kind=self.kind,
            held_on=self.held_on,
            members_present=self.members_present,
            themes_discussed=self.themes_discussed,
            releases_consulted=self.releases_consulted,
            conclusions=self.conclusions,
            known_release=record.released,
        )


class EvidenceBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a signal rests on: statistics releases by number and themes of the network."""

    releases: Releases = ()
    themes: Refs = ()


class RaisePolicySignal(NetworkCommand, kw_only=True, frozen=True):
    """A blocking structure signalled to policy, resting on at least one theme or release."""

    action = Action.RAISE_POLICY_SIGNAL
    signal_id: Ref | None = None
    category: ln.SignalCategory
    description: Text
    evidence: EvidenceBody
    addressed_to: ShortText

    @property
    def item_id(self) -> str | None:
        return self.signal_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "signal_id", "signal")
        return identified

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.raise_signal(
            ctx,
            signal_id=self.signal_id or "",
            category=self.category,
            description=self.description,
            evidence=ln.Evidence(releases=self.evidence.releases, themes=self.evidence.themes),
            addressed_to=self.addressed_to,
            known_release=record.released,
        )


class AnswerPolicySignal(Command, kw_only=True, frozen=True):
    answer: Text
    answered_by: ShortText


class AnswerPolicySignalAt(AnswerPolicySignal, NetworkCommand, kw_only=True, frozen=True):
    action = Action.ANSWER_POLICY_SIGNAL
    signal_id: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.answer_signal(
            ctx, signal_id=self.signal_id, answer=self.answer, answered_by=self.answered_by
        )


class ClosePolicySignal(Command, kw_only=True, frozen=True):
    reason: Text


class ClosePolicySignalAt(ClosePolicySignal, NetworkCommand, kw_only=True, frozen=True):
    action = Action.CLOSE_POLICY_SIGNAL
    signal_id: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.close_signal(ctx, signal_id=self.signal_id, reason=self.reason)


class EscalatePolicySignal(Command, kw_only=True, frozen=True):
    """Take a region's signal to the forum (recorded on the region's network and the forum)."""

    reason: Text


class EscalatePolicySignalAt(EscalatePolicySignal, Command, kw_only=True, frozen=True):
    action = Action.ESCALATE_POLICY_SIGNAL
    signal_id: str


class ActionProposalBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    proposal_id: Ref
    description: Text


class PublishLessons(NetworkCommand, kw_only=True, frozen=True):
    """001: the year's lessons, improvement paths and action proposals, for named audiences."""

    action = Action.PUBLISH_LESSONS
    year: Annotated[int, Meta(ge=1900, le=9999)]
    what_worked: Lines = ()
    what_did_not: Lines = ()
    improvement_paths: Lines = ()
    action_proposals: Annotated[tuple[ActionProposalBody, ...], Meta(max_length=50)] = ()
    audiences: Annotated[tuple[ln.Audience, ...], Meta(min_length=1, max_length=10)]

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.publish_lessons(
            ctx,
            year=self.year,
            what_worked=self.what_worked,
            what_did_not=self.what_did_not,
            improvement_paths=self.improvement_paths,
            action_proposals=tuple(
                ln.ActionProposal(p.proposal_id, p.description) for p in self.action_proposals
            ),
            audiences=self.audiences,
        )


class StartImprovementTrajectory(NetworkCommand, kw_only=True, frozen=True):
    """What the network decided to change (an action proposal), followed from now on."""

    action = Action.START_IMPROVEMENT_TRAJECTORY
    improvement_id: Ref | None = None
    title: ShortText
    action_proposal: Text
    theme_id: Ref | None = None

    @property
    def item_id(self) -> str | None:
        return self.improvement_id

    def identified(self) -> Self:
        identified: Self = _identified(self, "improvement_id", "improvement")
        return identified

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.start_improvement(
            ctx,
            improvement_id=self.improvement_id or "",
            title=self.title,
            action_proposal=self.action_proposal,
            theme_id=self.theme_id,
        )


Count = Annotated[int, Meta(ge=0, le=10_000_000)]


class ReachCountBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    now: Count = 0
    expected: Count = 0


class GroupReachBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    direct: ReachCountBody = ReachCountBody()
    indirect: ReachCountBody = ReachCountBody()

    def domain(self) -> ln.GroupReach:
        return ln.GroupReach(
            direct=ln.ReachCount(self.direct.now, self.direct.expected),
            indirect=ln.ReachCount(self.indirect.now, self.indirect.expected),
        )


class ReachBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """002's reach: who benefits directly and indirectly, now and expected."""

    clients: GroupReachBody = GroupReachBody()
    relatives: GroupReachBody = GroupReachBody()
    professionals: GroupReachBody = GroupReachBody()


class MeasureImprovementTrajectory(Command, kw_only=True, frozen=True):
    """002's measurement moment."""

    measured_on: date
    pdca_phase: PdcaPhase
    participation: ln.ParticipationRung
    confidence: Annotated[int, Meta(ge=1, le=5)]
    reach: ReachBody = ReachBody()


class MeasureImprovementTrajectoryAt(
    MeasureImprovementTrajectory, NetworkCommand, kw_only=True, frozen=True
):
    action = Action.MEASURE_IMPROVEMENT_TRAJECTORY
    improvement_id: str

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.measure_improvement(
            ctx,
            improvement_id=self.improvement_id,
            measured_on=self.measured_on,
            pdca_phase=self.pdca_phase,
            participation=self.participation,
            confidence=self.confidence,
            reach=ln.Reach(
                clients=self.reach.clients.domain(),
                relatives=self.reach.relatives.domain(),
                professionals=self.reach.professionals.domain(),
            ),
        )


class CloseLearningNetwork(NetworkCommand, kw_only=True, frozen=True):
    action = Action.CLOSE_LEARNING_NETWORK
    reason: Text

    def apply(
        self, network: ln.LearningNetwork, ctx: CommandContext, record: NetworkReader
    ) -> None:
        network.close(ctx, reason=self.reason)
