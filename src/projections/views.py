"""The read models' documents: what coordinators see of a trajectory and a client.

These are built from aggregate state by the plan-state projection and stored as JSON, so a query
answers with stored bytes and never replays events.
"""

from collections.abc import Collection
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

from domain.client import Client
from domain.common import ConsentScope, EscalationLevel, ReasonCategory, Sector, Signatory
from domain.trajectory import CarriedFrom, RoleAssignment, Trajectory


class RoleAgreementView(msgspec.Struct):
    id: str
    assignments: tuple[RoleAssignment, ...]
    accepted_by: list[str]
    in_force: bool
    declined_by: str | None
    ended_at: datetime | None


class CarriedFromView(msgspec.Struct):
    """Where a goal or action came from when a continuation carried it (issue #17)."""

    trajectory_id: Annotated[
        UUID, msgspec.Meta(description="The earlier trajectory this one continues")
    ]
    as_of: Annotated[
        datetime,
        msgspec.Meta(
            description="The plan as it stood in the earlier trajectory at this moment "
            "(the continuation's occurred_at)"
        ),
    ]
    plan_version: Annotated[
        int | None,
        msgspec.Meta(
            description="The version of the earlier trajectory's signed plan; null when it had none"
        ),
    ]
    signed_here: Annotated[
        bool,
        msgspec.Meta(
            description="Whether the plan has been signed in this trajectory: a "
            "carried goal or action is in force here only once it is (the organisation that "
            "continues takes responsibility for it by that signature)"
        ),
    ]


#: A carried item's origin, or null: set in this trajectory.
Carried = Annotated[
    CarriedFromView | None,
    msgspec.Meta(
        description="Carried from an earlier trajectory by a continuation (not in "
        "force here until signed here: see signed_here); null when set in this trajectory"
    ),
]


class GoalView(msgspec.Struct):
    id: str
    description: str
    closed: bool
    outcome: str | None
    carried_from: Carried = None


class ActionView(msgspec.Struct):
    id: str
    description: str
    owner: str
    due_on: date | None
    goal_id: str | None
    carried_from: Carried = None


class EscalationView(msgspec.Struct):
    id: str
    level: EscalationLevel
    reason: ReasonCategory
    raised_at: datetime
    resolved_at: datetime | None


class PlanView(msgspec.Struct):
    version: int
    signed_at: datetime
    signatory: Signatory
    representative_ref: str | None
    valid_until: date


class ClientInputView(msgspec.Struct):
    """What the person said ahead of a consultation (issue #19), for the professionals."""

    statement: str
    for_kind: str | None
    given_by: str
    representative_ref: str | None
    given_at: datetime


class TrajectoryView(msgspec.Struct):
    id: UUID
    version: int
    client_id: UUID
    status: str
    question: str
    sector: Sector
    region: str
    referrer_organisation: str
    coordinating_organisation: str | None
    parties: list[str]
    #: Roles of agreements in force only: every named party accepted, not ended.
    roles_in_force: list[RoleAssignment]
    referred_at: datetime
    consultations_held: int
    milestones: dict[str, datetime]
    next_consultation_on: date | None
    role_agreements: list[RoleAgreementView]
    goals: list[GoalView]
    actions: list[ActionView]
    plan: PlanView | None
    next_evaluation_on: date | None
    escalations: list[EscalationView]
    blocked_since: datetime | None
    block_reasons: list[ReasonCategory]
    handovers: int
    missed_deadlines: list[str]
    closed_at: datetime | None
    follow_up_by: str | None
    continued_from: Annotated[
        UUID | None,
        msgspec.Meta(
            description="The earlier trajectory this one continues (its plan's open "
            "goals and their actions are carried into this one: see carried_from)"
        ),
    ]
    #: The client's personal data was erased: free text reads "[erased]" (crypto-shredding).
    personal_data_erased: bool = False
    continued_by: Annotated[
        list[UUID],
        msgspec.Meta(
            description="Later trajectories that continue this one (issue #17: the "
            "thread both ways), in the order they were opened"
        ),
    ] = msgspec.field(default_factory=list)
    client_criteria: Annotated[
        list[str],
        msgspec.Meta(
            description="The client criteria the referral named (001: part of the intake)"
        ),
    ] = msgspec.field(default_factory=list)
    referrer_engagement: Annotated[
        str,
        msgspec.Meta(
            description="What the referrer engaged to do, as the referral recorded "
            "it (001); empty when it named nothing"
        ),
    ] = ""
    client_inputs: Annotated[
        list[ClientInputView],
        msgspec.Meta(
            description="What the client or their representative said ahead of a "
            "consultation, in their own words (001: 'vooraf bevraagd'; issue #19)"
        ),
    ] = msgspec.field(default_factory=list)


class ConsentView(msgspec.Struct):
    id: str
    to_party: str
    scopes: tuple[ConsentScope, ...]
    purpose: str
    granted_on: date
    until: date | None
    revoked: bool
    trajectory_id: Annotated[
        UUID | None,
        msgspec.Meta(
            description="For the purpose continuation: the trajectory the consent lets its "
            "holder continue and read, and nothing else of the client (issue #17)"
        ),
    ] = None


class RepresentativeView(msgspec.Struct):
    ref: str
    name: str | None
    excluded: bool


class ClientView(msgspec.Struct):
    id: UUID
    version: int
    erased: bool
    registering_organisation: str
    name: str | None
    contact: str | None
    representatives: list[RepresentativeView]
    consents: list[ConsentView]


def trajectory_view(t: Trajectory, *, erased: bool = False) -> TrajectoryView:
    block = t.current_block
    return TrajectoryView(
        id=t.id,
        version=t.version,
        client_id=t.client_id,
        status=t.status.value,
        question=t.question,
        sector=t.sector,
        region=t.region,
        referrer_organisation=t.referrer_organisation,
        coordinating_organisation=t.coordinating_organisation,
        parties=t.parties,
        roles_in_force=[
            assignment
            for agreement in t.role_agreements.values()
            if agreement.in_force
            for assignment in agreement.assignments
        ],
        referred_at=t.referred_at,
        consultations_held=t.consultation_count,
        milestones={k.value: v for k, v in t.milestones.items()},
        next_consultation_on=t.next_consultation_on,
        role_agreements=[
            RoleAgreementView(
                id=agreement_id,
                assignments=a.assignments,
                accepted_by=list(a.accepted_by),
                in_force=a.in_force,
                declined_by=a.declined_by,
                ended_at=a.ended_at,
            )
            for agreement_id, a in t.role_agreements.items()
        ],
        goals=[
            GoalView(
                id=goal_id,
                description=g.description,
                closed=g.closed_at is not None,
                outcome=g.outcome,
                carried_from=_carried(t, g.carried_from),
            )
            for goal_id, g in t.goals.items()
        ],
        actions=[
            ActionView(
                id=action_id,
                description=a.description,
                owner=a.owner,
                due_on=a.due_on,
                goal_id=a.goal_id,
                carried_from=_carried(t, a.carried_from),
            )
            for action_id, a in t.actions.items()
        ],
        plan=PlanView(
            version=t.plan.version,
            signed_at=t.plan.signed_at,
            signatory=t.plan.signatory,
            representative_ref=t.plan.representative_ref,
            valid_until=t.plan.valid_until,
        )
        if t.plan
        else None,
        next_evaluation_on=t.next_evaluation_on,
        escalations=[
            EscalationView(
                id=escalation_id,
                level=e.level,
                reason=e.reason,
                raised_at=e.raised_at,
                resolved_at=e.resolved_at,
            )
            for escalation_id, e in t.escalations.items()
        ],
        blocked_since=block.since if block else None,
        block_reasons=list(block.reasons) if block else [],
        handovers=t.handover_count,
        missed_deadlines=list(t.missed_deadlines),
        closed_at=t.closed_at,
        follow_up_by=t.follow_up_by,
        continued_from=t.continued_from,
        personal_data_erased=erased,
        continued_by=list(t.continued_by),
        client_criteria=list(t.client_criteria),
        referrer_engagement=t.referrer_engagement,
        client_inputs=[
            ClientInputView(
                statement=i.statement,
                for_kind=i.for_kind.value if i.for_kind else None,
                given_by=i.given_by.value,
                representative_ref=i.representative_ref,
                given_at=i.given_at,
            )
            for i in t.client_inputs
        ],
    )


def _carried(t: Trajectory, source: CarriedFrom | None) -> CarriedFromView | None:
    """A carried item is in force here once the plan is signed here (after the carrying: a
    continuation is recorded at the referral, before any signature of this trajectory)."""
    if source is None:
        return None
    return CarriedFromView(
        trajectory_id=source.trajectory_id,
        as_of=source.as_of,
        plan_version=source.plan_version,
        signed_here=t.plan is not None,
    )


def client_view(
    c: Client, *, contact_details: bool = True, trajectories: Collection[UUID] | None = None
) -> ClientView:
    """``contact_details=False`` withholds name and contact (a consent without that scope);
    ``trajectories``, where given, the trajectories the reader reads: a consent naming another
    one is left out (``AccessPolicy.trajectories_read``)."""
    return ClientView(
        id=c.id,
        version=c.version,
        erased=c.erased_at is not None,
        registering_organisation=c.registering_organisation,
        name=c.personal.name if contact_details else None,
        contact=c.personal.contact if contact_details else None,
        representatives=[
            RepresentativeView(
                ref=ref,
                name=r.personal.name if contact_details else None,
                excluded=r.excluded_at is not None,
            )
            for ref, r in c.representatives.items()
        ],
        consents=[
            ConsentView(
                id=consent_id,
                to_party=k.to_party,
                scopes=k.scopes,
                purpose=k.purpose,
                granted_on=k.granted_on,
                until=k.until,
                revoked=k.revoked_at is not None,
                trajectory_id=k.trajectory_id,
            )
            for consent_id, k in c.consents.items()
            if trajectories is None or k.trajectory_id is None or k.trajectory_id in trajectories
        ],
    )
