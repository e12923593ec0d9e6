"""Current state as the API shows it, built from an aggregate.

Issue #2 reads the aggregate itself; the read side (issue #3) replaces these with projections.
"""

from api.schemas import (
    ActionView,
    ClientView,
    ConsentView,
    EscalationView,
    GoalView,
    PlanView,
    RepresentativeView,
    RoleAgreementView,
    TrajectoryView,
)
from domain.client import Client
from domain.trajectory import Trajectory


def trajectory_view(t: Trajectory) -> TrajectoryView:
    block = t.current_block
    return TrajectoryView(
        id=t.id,
        version=t.version,
        client_id=t.client_id,
        status=t.status.value,
        sector=t.sector,
        region=t.region,
        referrer_organisation=t.referrer_organisation,
        coordinating_organisation=t.coordinating_organisation,
        parties=t.parties,
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
    )


def client_view(c: Client) -> ClientView:
    return ClientView(
        id=c.id,
        version=c.version,
        registering_organisation=c.registering_organisation,
        name=c.personal.name,
        contact=c.personal.contact,
        representatives=[
            RepresentativeView(ref=ref, name=r.personal.name, excluded=r.excluded_at is not None)
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
            )
            for consent_id, k in c.consents.items()
        ],
    )
