"""The auditors' answers built from the record's facts (issue #15): the plan state as of a
moment, and the agreements view. The plan state's shape is the read model's own serialiser
(``projections.views.trajectory_view``), applied to the trajectory the domain folded.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from api.schemas import (
    ActorView,
    AgreementAnswer,
    Agreements,
    ConsentInForce,
    ConsentUse,
    DeadlineAsOf,
    EscalationDecision,
    LateFact,
    Moment,
    PlanSignature,
    RoleAgreementRecord,
    TrajectoryAsOfAnswer,
)
from application.audit_record import Fact, TrajectoryAsOf
from domain.client import Client
from domain.deadlines import Standing
from domain.trajectory import Trajectory
from projections.views import trajectory_view

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at"}


def event_name(event: Any) -> str:
    return type(event).__qualname__.removeprefix(f"{Trajectory.__name__}.")


def event_fields(event: Any) -> dict[str, Any]:
    return {
        k: msgspec.to_builtins(v)
        for k, v in vars(event).items()
        if k not in _ENVELOPE and not k.startswith("_")
    }


def _actor(event: Any) -> ActorView:
    a = event.actor
    return ActorView(
        user_id=a.user_id, organisation=a.organisation, role=a.role, on_behalf_of=a.on_behalf_of
    )


def _moment(fact: Fact) -> Moment:
    return Moment(
        occurred_at=fact.event.occurred_at,
        recorded_at=fact.recorded_at,
        actor=_actor(fact.event),
        version=fact.event.originator_version,
    )


def as_of_answer(
    trajectory_id: UUID,
    occurred: datetime | None,
    recorded: datetime | None,
    answer: TrajectoryAsOf,
) -> TrajectoryAsOfAnswer:
    """Everything time-dependent evaluated at the answer's moment, not today."""
    t = answer.trajectory
    day = answer.moment.astimezone(UTC).date()
    client = answer.client
    consents: list[ConsentInForce] = []
    excluded: list[str] = []
    if client is not None:
        consents = [
            ConsentInForce(
                id=consent_id,
                to_party=c.to_party,
                scopes=[s.value for s in c.scopes],
                granted_on=c.granted_on,
                granted_at=c.given_at,
                until=c.until,
            )
            for consent_id, c in client.consents.items()
            if c.reaches(trajectory_id)  # (not one naming another trajectory, for its continuation)
            and c.given_at <= answer.moment
            and (c.until is None or day <= c.until)
            and (c.revoked_at is None or c.revoked_at > answer.moment)
        ]
        excluded = [
            ref
            for ref, r in client.representatives.items()
            if r.excluded_at is not None and r.excluded_at <= answer.moment
        ]
    return TrajectoryAsOfAnswer(
        trajectory_id=trajectory_id,
        occurred=occurred,
        recorded=recorded,
        evaluated_at=answer.moment,
        commit_times_exact=answer.exact,
        state=trajectory_view(t, erased=_erased(client)),
        plan_in_force=t.plan_in_force_on(day),
        consultation_overdue=t.next_consultation_on is not None and t.next_consultation_on < day,
        evaluation_overdue=t.next_evaluation_on is not None and t.next_evaluation_on < day,
        excluded_representatives=excluded,
        consents_in_force=consents,
        recorded_later=[
            LateFact(
                version=f.event.originator_version,
                event=event_name(f.event),
                occurred_at=f.event.occurred_at,
                recorded_at=f.recorded_at,
                actor=_actor(f.event),
            )
            for f in answer.recorded_later
        ],
        deadlines=[
            DeadlineAsOf(
                rule=d.rule,
                expected=d.expected,
                due_on=d.due_on,
                met_on=d.met_on if standing in (Standing.MET, Standing.MET_LATE) else None,
                standing=standing.value,
                missed_recorded=d.missed_recorded,
                met_late_recorded=d.met_late_recorded,
                reminded=d.reminded,
            )
            for d, standing in answer.deadlines
        ],
    )


def _erased(client: Client | None) -> bool:
    return client is not None and client.erased_at is not None


def agreements_of(
    trajectory_id: UUID, facts: Sequence[Fact], client_events: Sequence[Any]
) -> Agreements:
    """Who agreed what, and when, from the trajectory's facts and its client's."""
    agreements: dict[str, RoleAgreementRecord] = {}
    signatures: list[PlanSignature] = []
    escalations: list[EscalationDecision] = []
    uses: list[ConsentUse] = []
    consents = {e.consent_id: e for e in client_events if isinstance(e, Client.ConsentGranted)}
    revoked = {  # revoked, or ended by the client's erasure: no longer in force from then
        e.consent_id: e
        for e in client_events
        if isinstance(e, Client.ConsentRevoked | Client.ConsentEndedByErasure)
    }
    for fact in facts:
        e = fact.event
        if isinstance(e, Trajectory.RoleAgreementProposed):
            agreements[e.agreement_id] = RoleAgreementRecord(
                id=e.agreement_id,
                assignments=[msgspec.to_builtins(a) for a in e.assignments],
                proposed=_moment(fact),
                answers=[],
                in_force_from=None,
                in_force_to=None,
                ended=None,
            )
        elif isinstance(e, Trajectory.RoleAgreementAccepted | Trajectory.RoleAgreementDeclined):
            record = agreements[e.agreement_id]
            accepted = isinstance(e, Trajectory.RoleAgreementAccepted)
            record.answers.append(
                AgreementAnswer(
                    party=e.party,
                    answer="accepted" if accepted else "declined",
                    reason_given=not accepted,
                    at=_moment(fact),
                )
            )
            parties = {a["party"] for a in record.assignments}
            said_yes = {a.party for a in record.answers if a.answer == "accepted"}
            declined = any(a.answer == "declined" for a in record.answers)
            if accepted and not declined and said_yes >= parties and record.in_force_from is None:
                record.in_force_from = max(
                    a.at.occurred_at for a in record.answers if a.answer == "accepted"
                )
        elif isinstance(e, Trajectory.RoleAgreementEnded):
            record = agreements[e.agreement_id]
            record.ended = _moment(fact)
            if record.in_force_from is not None:
                record.in_force_to = e.occurred_at
        elif isinstance(e, Trajectory.PlanSigned):
            signatures.append(
                PlanSignature(
                    plan_version=e.plan_version,
                    signatory=e.signatory.value,
                    representative_ref=e.representative_ref,
                    valid_until=e.valid_until,
                    at=_moment(fact),
                )
            )
        elif isinstance(
            e,
            Trajectory.EscalationRaised
            | Trajectory.EscalationLevelChanged
            | Trajectory.EscalationResolved,
        ):
            escalations.append(_escalation(fact))
        elif isinstance(e, Trajectory.HandedOver):
            uses.append(_consent_use(fact, consents.get(e.consent_id), revoked.get(e.consent_id)))
    return Agreements(
        trajectory_id=trajectory_id,
        role_agreements=list(agreements.values()),
        plan_signatures=signatures,
        consents_used=uses,
        escalation_decisions=escalations,
    )


def _escalation(fact: Fact) -> EscalationDecision:
    e = fact.event
    if isinstance(e, Trajectory.EscalationRaised):
        return EscalationDecision(e.escalation_id, "raised", e.level.value, _moment(fact))
    if isinstance(e, Trajectory.EscalationLevelChanged):
        return EscalationDecision(e.escalation_id, "level_changed", e.to_level.value, _moment(fact))
    return EscalationDecision(e.escalation_id, "resolved", None, _moment(fact))


def _consent_use(fact: Fact, granted: Any, revoked: Any) -> ConsentUse:
    """004: was the party and scope covered by the consent at the moment of the handover? It
    was given by then (not later the same day), had not run out and was not yet revoked."""
    e = fact.event
    day = e.occurred_at.astimezone(UTC).date()
    granted_on = granted.occurred_at.astimezone(UTC).date() if granted else None
    revoked_at = revoked.occurred_at if revoked else None
    covered = (
        granted is not None
        and granted.to_party == e.to_party
        and set(e.scopes) <= set(granted.scopes)
        and granted.occurred_at <= e.occurred_at
        and (granted.until is None or day <= granted.until)
        and (revoked_at is None or revoked_at > e.occurred_at)
    )
    return ConsentUse(
        to_party=e.to_party,
        scopes=[s.value for s in e.scopes],
        consent_id=e.consent_id,
        covered=covered,
        consent_to_party=granted.to_party if granted else None,
        consent_scopes=[s.value for s in granted.scopes] if granted else [],
        consent_granted_on=granted_on,
        consent_granted_at=granted.occurred_at if granted else None,
        consent_until=granted.until if granted else None,
        consent_revoked_at=revoked_at,
        at=_moment(fact),
    )
