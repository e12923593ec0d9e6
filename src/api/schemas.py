"""The wire schema: msgspec Structs for every request and response.

Requests forbid unknown fields, so a misspelt field is a 422 rather than silently ignored.
Field names match the keyword arguments of the application's use cases, so a handler passes
a decoded request on without translating it. No ``from __future__ import annotations`` here:
Litestar introspects these types.
"""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.params import PathParameter, QueryParameter
from msgspec import Meta

from domain import trajectory
from domain.common import (
    ClientInvolvement,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)

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
#: The same identifier where a path names an item (a goal, an agreement, a consent, ...).
RefInPath = Annotated[
    str, PathParameter(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH)
]
#: The same identifier as a filter of a list; absent means no filter.
RefFilter = Annotated[
    str | None,
    QueryParameter(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH, required=False),
]
#: A user id from a token (``sub``): any text but control characters.
UserIdFilter = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^(?!.*\n)[^\x00-\x1f\x7f]+$", min_length=1, max_length=200, required=False
    ),
]
Lines = Annotated[tuple[Text, ...], Meta(max_length=50)]


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every command says when it happened in the world."""

    occurred_at: OccurredAt

    def details(self) -> dict[str, Any]:
        """The fields the use case takes, i.e. all but ``occurred_at``."""
        fields = msgspec.structs.asdict(self)
        fields.pop("occurred_at")
        return fields


# --- clients ------------------------------------------------------------------------------------


class RegisterClient(Command, kw_only=True):
    name: ShortText | None = None
    contact: ShortText | None = None


class AppointRepresentative(Command, kw_only=True):
    representative_ref: Ref
    name: ShortText | None = None
    contact: ShortText | None = None


class ExcludeRepresentative(Command, kw_only=True):
    reason: OptionalText = ""


class GrantConsent(Command, kw_only=True):
    consent_id: Ref | None = None
    to_party: Ref
    scopes: Annotated[tuple[ConsentScope, ...], Meta(min_length=1, max_length=3)]
    purpose: Text
    until: date | None = None


class RevokeConsent(Command, kw_only=True):
    reason: OptionalText = ""


class EraseClient(Command, kw_only=True):
    """Crypto-shredding: why the personal data goes (a GDPR request, the end of retention)."""

    legal_basis: Annotated[str, Meta(pattern=r"^(gdpr_request|retention_ended)$")]


# --- trajectories -------------------------------------------------------------------------------


class Refer(Command, kw_only=True):
    client_id: UUID
    question: Text
    sector: Sector
    region: Ref
    client_criteria: Lines = ()
    referrer_engagement: OptionalText = ""
    referrer_organisation: Ref | None = None
    continues_from: UUID | None = None


class Accept(Command, kw_only=True):
    coordinating_organisation: Ref | None = None


class Decline(Command, kw_only=True):
    reason: Text


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


class HoldConsultation(Command, kw_only=True):
    kind: ConsultationKind
    participants: Annotated[tuple[Participant, ...], Meta(min_length=1, max_length=50)]
    client_involvement: ClientInvolvement
    decisions: Lines = ()
    next_consultation_on: date | None = None
    no_next_reason: OptionalText | None = None

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "participants": tuple(
                trajectory.Participant(**msgspec.structs.asdict(p)) for p in self.participants
            ),
        }


class WaiveConsultation(Command, kw_only=True):
    kind: ConsultationKind
    reason: Text


class ProposeRoleAgreement(Command, kw_only=True):
    agreement_id: Ref | None = None
    assignments: Annotated[tuple[ProposedRoleAssignment, ...], Meta(min_length=1, max_length=20)]

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "assignments": tuple(
                trajectory.RoleAssignment(**msgspec.structs.asdict(a)) for a in self.assignments
            ),
        }


class AnswerRoleAgreement(Command, kw_only=True):
    """Accepting needs nothing but the time; the party is the actor's organisation."""


class DeclineRoleAgreement(Command, kw_only=True):
    reason: Text


class EndRoleAgreement(Command, kw_only=True):
    reason: Text


class SetGoal(Command, kw_only=True):
    goal_id: Ref | None = None
    description: Text


class ReviseGoal(Command, kw_only=True):
    description: Text
    reason: OptionalText = ""


class CloseGoal(Command, kw_only=True):
    outcome: Text


class AgreeAction(Command, kw_only=True):
    action_id: Ref | None = None
    description: Text
    owner: Ref
    due_on: date | None = None
    goal_id: Ref | None = None


class SignPlan(Command, kw_only=True):
    signatory: Signatory
    representative_ref: Ref | None = None


class Evaluate(Command, kw_only=True):
    results: Text
    blocking: Annotated[tuple[ReasonCategory, ...], Meta(max_length=10)] = ()
    pdca_phase: PdcaPhase | None = None
    new_agreements: Lines = ()
    next_evaluation_on: date | None = None


class RaiseEscalation(Command, kw_only=True):
    escalation_id: Ref | None = None
    level: EscalationLevel
    reason: ReasonCategory
    description: OptionalText = ""


class ChangeEscalationLevel(Command, kw_only=True):
    to_level: EscalationLevel
    reason: Text


class ResolveEscalation(Command, kw_only=True):
    resolution: Text


class BlockTrajectory(Command, kw_only=True):
    reasons: Annotated[tuple[ReasonCategory, ...], Meta(min_length=1, max_length=10)]
    description: OptionalText = ""


class UnblockTrajectory(Command, kw_only=True):
    resolution: Text


class HandOver(Command, kw_only=True):
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


class RecordFollowUpContact(Command, kw_only=True):
    contacted_party: Ref
    outcome: Text


class CloseTrajectory(Command, kw_only=True):
    reason: Text
    follow_up_by: Ref | None = None
    no_follow_up_reason: OptionalText | None = None


# --- answers ------------------------------------------------------------------------------------


class CommandAnswer(msgspec.Struct, omit_defaults=True):
    """What every command answers: the record it changed and its new version."""

    id: UUID
    version: int
    #: The event-log position this command reached (read-your-writes, issue #3).
    position: int | None = None
    #: The id of the goal, action, agreement, escalation or consent the command created.
    item_id: str | None = None


class ClientCreated(msgspec.Struct):
    id: UUID
    version: int


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with the rule and field that failed."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    field: str | None = None
