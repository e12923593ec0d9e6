"""The dated facts a trajectory's events give the deadline rules (``domain.deadlines``).

One rule, used by the deadlines read model (``projections.deadlines``), the statistics units and
the auditors' answer as of a moment (issue #15: the deadlines due at T are evaluated over the
facts up to T by this same mapping and the same ``instances``).
"""

from datetime import UTC, date, datetime
from typing import Any

from domain.deadlines import Fact
from domain.trajectory import Trajectory

T = Trajectory

#: The events that give deadline facts: the others can be left unopened.
DEADLINE_EVENTS: tuple[type[Any], ...] = (
    T.Accepted,
    T.Declined,
    T.ConsultationHeld,
    T.ConsultationWaived,
    T.PlanSigned,
    T.Evaluated,
    T.Blocked,
    T.Unblocked,
    T.EscalationRaised,
    T.EscalationResolved,
    T.Closed,
    T.FollowUpContacted,
    T.DeadlineMissed,
    T.DeadlineMetLate,
    T.DeadlineReminderIssued,
)


def _on(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def facts_of(event: Any) -> list[Fact]:
    """The dated facts an event adds (in the order deadlines need them)."""
    if not isinstance(event, DEADLINE_EVENTS):  # most events: one check, not fifteen cases
        return []
    on = _on(event.occurred_at)
    match event:
        case T.Accepted():
            return [Fact("accepted", on)]
        case T.Declined():
            return [Fact("declined", on)]
        case T.ConsultationHeld():
            return [Fact(f"consultation:{event.kind.value}", on, due=event.next_consultation_on)]
        case T.ConsultationWaived():
            return [Fact(f"waived:{event.kind.value}", on)]
        case T.PlanSigned():
            return [
                Fact("plan_signed", on, due=event.valid_until),
                Fact("evaluation_planned", on, due=event.next_evaluation_on),
            ]
        case T.Evaluated():
            return [
                Fact("evaluated", on),
                Fact("evaluation_planned", on, due=event.next_evaluation_on),
            ]
        case T.Blocked():
            return [Fact("blocked", on)]
        case T.Unblocked():
            return [Fact("unblocked", on)]
        case T.EscalationRaised():
            return [Fact("escalation_raised", on, ref=event.escalation_id)]
        case T.EscalationResolved():
            return [Fact("escalation_resolved", on, ref=event.escalation_id)]
        case T.Closed():
            return [Fact("closed", on, ref=event.follow_up_by)]
        case T.FollowUpContacted():
            return [Fact("follow_up", on)]
        case T.DeadlineMissed():
            return [Fact("deadline_missed", on, due=event.due_on, ref=event.rule)]
        case T.DeadlineMetLate():
            return [Fact("deadline_met_late", on, due=event.due_on, ref=event.rule)]
        case T.DeadlineReminderIssued():
            return [Fact("deadline_reminded", on, due=event.due_on, ref=event.rule)]
    return []
