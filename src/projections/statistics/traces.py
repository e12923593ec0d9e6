"""A trajectory as a trace of activities: the one derivation the process map and the XES export
share (issue #13).

``trace(unit)`` turns a statistics unit (``units.UnitRecord``: one trajectory's dated facts
and details, no free text, no person) into steps ``Step(activity, week)``: *what* happened, from
the closed vocabulary below, and *when*, in whole weeks since the trajectory's referral (never
a calendar date). Two trajectories follow the same **variant** when their activities, in order,
are the same (``variant``).

Order: by day; on one day, the referral first, then a continuation and the decision on the
referral, a waiver, everything else in the order it was recorded, an evaluation, and the
closure and a follow-up contact last. Deadline
facts of the scheduler (missed, met late, reminders) and planned dates are no activities: they
are not something the parties did.

This module is pure: no I/O, no clock. ``annotated`` adds what the export says of a step (the
kinds of the organisations and the roles at a consultation, the kind of the party answering a
role agreement) without changing the steps.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import NamedTuple

from projections.statistics import units as u

# --- the vocabulary (stored in exports and drawn on maps: values are never renamed) ----------

REFERRAL = "referral"
ACCEPTED = "accepted"
DECLINED = "declined"
CONTINUED_FROM = "continued_from"
#: ``consultation:<kind>`` (``domain.common.ConsultationKind``: start, three_month, ad_hoc,
#: end, mdo, plan_meeting, intervision).
CONSULTATION = "consultation"
#: ``consultation_waived:<kind>``: a milestone consultation replaced by a reasoned waiver (001).
CONSULTATION_WAIVED = "consultation_waived"
PLAN_SIGNED = "plan_signed"
EVALUATED = "evaluated"
BLOCKED = "blocked"
UNBLOCKED = "unblocked"
ESCALATION_RAISED = "escalation_raised"
ESCALATION_LEVEL_CHANGED = "escalation_level_changed"
ESCALATION_RESOLVED = "escalation_resolved"
ROLE_AGREEMENT_PROPOSED = "role_agreement_proposed"
ROLE_AGREEMENT_ACCEPTED = "role_agreement_accepted"
ROLE_AGREEMENT_DECLINED = "role_agreement_declined"
ROLE_AGREEMENT_ENDED = "role_agreement_ended"
HANDOVER = "handover"
FOLLOW_UP_CONTACTED = "follow_up_contacted"
CLOSED = "closed"

#: On one day: what comes first (lower) and last (higher); every other activity in between,
#: in the order it was recorded. A waiver comes before that day's other steps (it says a
#: consultation will not be held), an evaluation after them (it judges them): the unit keeps
#: those two apart from the other steps, so their place on a day is a rule, not an accident of
#: how it is stored — and a trace can be worked out from the events themselves the same way.
_FIRST = {REFERRAL: 0, CONTINUED_FROM: 1, ACCEPTED: 2, DECLINED: 2}
_LAST = {EVALUATED: 6, CLOSED: 9, FOLLOW_UP_CONTACTED: 10}
_WAIVED = 4
_BETWEEN = 5

#: Deadline facts that are activities (the rest are the scheduler's or repeat a detail).
_FACT_ACTIVITIES = {
    "accepted": ACCEPTED,
    "declined": DECLINED,
    "evaluated": EVALUATED,
    "closed": CLOSED,
    "follow_up": FOLLOW_UP_CONTACTED,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One activity of a trace, ``week`` whole weeks after the trajectory's referral."""

    activity: str
    week: int


class Annotation(NamedTuple):
    """What the export says of a step beside its activity: the organisations' kinds and the
    roles involved (sorted, no identifier of any organisation)."""

    kinds: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


#: An organisation's identifier → its kind (``projections.organisations.organisation_kinds``).
Kinds = Mapping[str, str]
UNCLASSIFIED = "unclassified"


def _kinds(organisations: tuple[str, ...], kinds: Kinds) -> tuple[str, ...]:
    return tuple(sorted({kinds.get(o, UNCLASSIFIED) for o in organisations}))


def _detail_step(detail: u.Detail, kinds: Kinds) -> tuple[str, Annotation]:
    match detail:
        case u.Consulted():
            return (
                f"{CONSULTATION}:{detail.kind}",
                Annotation(_kinds(detail.organisations, kinds), detail.roles),
            )
        case u.Signed():
            return PLAN_SIGNED, Annotation(roles=(detail.signatory,))
        case u.AgreementProposed():
            return ROLE_AGREEMENT_PROPOSED, Annotation(_kinds(detail.parties, kinds))
        case u.AgreementAccepted():
            return ROLE_AGREEMENT_ACCEPTED, Annotation(_kinds((detail.party,), kinds))
        case u.AgreementDeclined():
            return ROLE_AGREEMENT_DECLINED, Annotation(_kinds((detail.party,), kinds))
        case u.AgreementEnded():
            return ROLE_AGREEMENT_ENDED, Annotation()
        case u.Blocked():
            return BLOCKED, Annotation()
        case u.Unblocked():
            return UNBLOCKED, Annotation()
        case u.EscalationRaised():
            return ESCALATION_RAISED, Annotation()
        case u.EscalationLevelChanged():
            return ESCALATION_LEVEL_CHANGED, Annotation()
        case u.EscalationResolved():
            return ESCALATION_RESOLVED, Annotation()
        case u.HandedOver():
            return HANDOVER, Annotation()
        case u.ContinuedFrom():
            return CONTINUED_FROM, Annotation()
    raise AssertionError(f"unknown detail {detail!r}")  # pragma: no cover


def _dated(unit: u.UnitRecord, kinds: Kinds) -> Iterator[tuple[date, str, Annotation]]:
    yield unit.referred_on, REFERRAL, Annotation()
    for detail in unit.details:
        if isinstance(detail, u.Referred):
            continue  # the referral is the unit's referred_on, yielded above
        activity, annotation = _detail_step(detail, kinds)
        yield detail.on, activity, annotation
    for fact in unit.facts:
        if fact.kind in _FACT_ACTIVITIES:
            yield fact.on, _FACT_ACTIVITIES[fact.kind], Annotation()
        elif fact.kind.startswith("waived:"):
            yield (
                fact.on,
                f"{CONSULTATION_WAIVED}:{fact.kind.removeprefix('waived:')}",
                (Annotation()),
            )


def _rank(activity: str) -> int:
    if activity.startswith(f"{CONSULTATION_WAIVED}:"):
        return _WAIVED
    return _FIRST.get(activity, _LAST.get(activity, _BETWEEN))


def dated(
    unit: u.UnitRecord, kinds: Kinds, until: date | None = None
) -> tuple[tuple[date, Step, Annotation], ...]:
    """The trajectory's steps in order with their day (for the release's own use: durations,
    cutting at a period's end; never exported), up to and including ``until`` if given."""
    ordered = sorted(_dated(unit, kinds), key=lambda d: (d[0], _rank(d[1])))  # stable sort
    return tuple(
        (on, Step(activity, max(0, (on - unit.referred_on).days // 7)), annotation)
        for on, activity, annotation in ordered
        if until is None or on <= until
    )


def annotated(
    unit: u.UnitRecord, kinds: Kinds, until: date | None = None
) -> tuple[tuple[Step, Annotation], ...]:
    """The trajectory's steps in order, each with what the export says of it; up to and
    including ``until`` (a period's last day: the scope of a release and an export) if given."""
    return tuple((step, annotation) for _, step, annotation in dated(unit, kinds, until))


def trace(unit: u.UnitRecord, until: date | None = None) -> tuple[Step, ...]:
    """The trajectory's activities in order, each in whole weeks since its referral."""
    return tuple(step for step, _ in annotated(unit, {}, until))


def variant(steps: tuple[Step, ...]) -> tuple[str, ...]:
    """The sequence of activities: what trajectories following the same path share."""
    return tuple(step.activity for step in steps)


def directly_follows(traces: list[tuple[Step, ...]]) -> dict[tuple[str, str], int]:
    """How often one activity directly follows another, over ``traces``."""
    counts: dict[tuple[str, str], int] = {}
    for steps in traces:
        for a, b in pairwise(steps):
            counts[a.activity, b.activity] = counts.get((a.activity, b.activity), 0) + 1
    return counts
