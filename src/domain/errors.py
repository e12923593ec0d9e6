"""Named domain errors.

Every refusal of the write side is one of these. The API maps the three families to HTTP
statuses in one place: ``InvalidCommand`` → 422, ``RuleConflict`` → 409, ``NotFound`` → 404,
``NotAParty`` → 403. Each error names the ``rule`` it enforces so that a client can act on it.
"""


class DomainError(Exception):
    """A command the record refuses."""

    rule: str = "domain-rule"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidCommand(DomainError):
    """The command itself is wrong or incomplete, whatever the state of the record."""

    rule = "invalid-command"


class RuleConflict(DomainError):
    """The command conflicts with the current state of the record."""

    rule = "rule-conflict"


class NotFound(DomainError):
    """The command names something the record does not hold."""

    rule = "not-found"


class NotAParty(DomainError):
    """The actor's organisation is not the party the command needs."""

    rule = "not-a-party"


class RepresentativeExcluded(NotAParty):
    """004: a representative the client excluded can neither sign nor see the plan."""

    rule = "representative-excluded"


# --- input-shaped rules (422) -------------------------------------------------------------


class OccurredInFuture(InvalidCommand):
    rule = "occurred-at-not-in-future"


class OccurredBeforeReferral(InvalidCommand):
    rule = "occurred-at-not-before-referral"


class NextConsultationNotPlanned(InvalidCommand):
    """003: "tijdens MDO een vervolg MDO inplannen" — a consultation plans the next one."""

    rule = "consultation-plans-the-next"


class ReasonRequired(InvalidCommand):
    rule = "reason-required"


class FollowUpNotNamed(InvalidCommand):
    """000: closing names who follows up the plan, or records why no one does (one of the two)."""

    rule = "closure-names-who-follows-up"


class EvaluationIntervalTooLong(InvalidCommand):
    """004: the plan is evaluated at least once a year."""

    rule = "evaluation-at-least-yearly"


class InvalidValue(InvalidCommand):
    rule = "invalid-value"


class RepresentativeNotAppointed(InvalidCommand):
    """Only a representative the client appointed acts in the client's name (004)."""

    rule = "on-behalf-of-appointed-representative"


# --- state conflicts (409) ----------------------------------------------------------------


class TransitionNotAllowed(RuleConflict):
    rule = "trajectory-state-machine"


class StartConsultationRequired(RuleConflict):
    """001: every trajectory starts with a start consultation (or a reasoned waiver)."""

    rule = "trajectory-starts-with-start-consultation"


class ConsultationAlreadyHeld(RuleConflict):
    rule = "consultation-kind-held-once"


class EndConsultationRequired(RuleConflict):
    """001: every trajectory ends with an end consultation (or a reasoned waiver)."""

    rule = "trajectory-ends-with-end-consultation"


class RoleAgreementNotPending(RuleConflict):
    rule = "role-agreement-state"


class PlanNotInForce(RuleConflict):
    """004: the plan is in force from its signature and valid at most three years."""

    rule = "plan-in-force"


class SignatoryNotAllowed(RuleConflict):
    """004: the client signs, or their representative unless the client excluded them."""

    rule = "plan-signed-by-client-or-representative"


class ConsentMissing(RuleConflict):
    """004: information passes to another organisation only with the client's consent."""

    rule = "handover-needs-consent"


class CoordinationNeedsConsent(ConsentMissing):
    """004: naming another organisation to coordinate passes the plan to it, so a consent of
    the client in force must cover that organisation for the plan (issue #10 review, B1)."""

    rule = "coordination-needs-consent"


class ContinuationNeedsConsent(RuleConflict):
    """000, 004, issue #17: an organisation that does not manage the client continues a
    trajectory only under the client's consent to it, in force at the continuation's moment:
    the plan passes to it only once the consent is given."""

    rule = "continuation-needs-consent"


class EscalationNotOpen(RuleConflict):
    rule = "escalation-state"


class ContinuationNotAllowed(RuleConflict):
    """000: a new trajectory carries the plan of an earlier, closed one of the same client."""

    rule = "continuation-of-closed-trajectory"


class TrajectoryAlreadyContinued(RuleConflict):
    """000, issue #17: a closed trajectory is continued by one live continuation at most, so
    that one person's plan runs in one place (a retried referral makes no second copy)."""

    rule = "trajectory-already-continued"


class ClientErased(RuleConflict):
    rule = "client-erased"


# --- unknown references (404) -------------------------------------------------------------


class TrajectoryNotFound(NotFound):
    rule = "trajectory-not-found"


class ClientNotFound(NotFound):
    rule = "client-not-found"


class ItemNotFound(NotFound):
    """A goal, action, role agreement, escalation or consent that the record does not hold."""

    rule = "item-not-found"


# --- the order of facts in the world (issue #15) -----------------------------------------------
# A fact may not predate the facts it depends on, so that "the state on day T" (every fact that
# happened by T, folded in the record's order) is well defined. Each names the rule it enforces.


class StatusChangeBeforeCurrentStatus(InvalidCommand):
    """A fact that changes the trajectory's status (accepted, started, blocked, unblocked,
    closed) may not predate the moment its current status began."""

    rule = "status-change-not-before-current-status"


class FactOutsideItsStatus(InvalidCommand):
    """At its ``occurred_at`` the trajectory was in a status in which the fact was possible."""

    rule = "fact-within-its-status"


class FactBeforeWhatItConcerns(InvalidCommand):
    """A fact about an agreement, goal, escalation or the plan may not predate the latest
    fact about it (an acceptance its proposal, a resolution its escalation, …)."""

    rule = "fact-not-before-what-it-concerns"
