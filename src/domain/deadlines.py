"""Deadlines of the care procedures, as rules over a trajectory's facts.

A rule says what starts the clock (its *anchor*), how long until it is due, and what meets it
(its *satisfier*). Rules are data (see ``scheduler/policy.toml``); anchors and satisfiers are
this fixed vocabulary. ``instances`` turns a trajectory's facts into concrete deadlines: each
with a due date, the date it was met (if it was), and whether the scheduler already recorded it
as missed, met late or reminded. The same facts and rules always give the same deadlines, so
the scheduler's work is deterministic and can be repeated without recording anything twice.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import msgspec

from domain.common import ConsultationKind, add_months
from domain.network_cadence import Cadence


class Fact(msgspec.Struct, frozen=True, array_like=True):
    """One dated fact of a trajectory: ``kind`` (e.g. ``consultation:start``), when, extras."""

    kind: str
    on: date
    due: date | None = None
    ref: str | None = None


class Anchor(StrEnum):
    """What starts a deadline's clock."""

    ACCEPTED = "accepted"
    START_CONSULTATION = "start_consultation"
    PLAN_MEETING = "plan_meeting"
    PLANNED_CONSULTATION = "planned_consultation"  # due on the date a consultation planned
    LAST_CONSULTATION = "last_consultation"
    PLANNED_EVALUATION = "planned_evaluation"  # due on the date signing or evaluating set
    PLAN_SIGNED = "plan_signed"  # due when the signed plan stops being valid
    BLOCKED = "blocked"
    ESCALATION_RAISED = "escalation_raised"
    CLOSED = "closed"


class Satisfier(StrEnum):
    """What meets a deadline: the first such fact after the anchor."""

    START_CONSULTATION = "start_consultation"
    THREE_MONTH_CONSULTATION = "three_month_consultation"
    ANY_CONSULTATION = "any_consultation"
    TRIAL_EVALUATION = "trial_evaluation"  # an evaluation or the three-month consultation
    PLAN_SIGNED = "plan_signed"
    EVALUATION = "evaluation"
    PLAN_RENEWED = "plan_renewed"
    UNBLOCKED_OR_ESCALATED = "unblocked_or_escalated"
    ESCALATION_RESOLVED = "escalation_resolved"
    FOLLOW_UP_CONTACT = "follow_up_contact"


_SATISFYING_KINDS: dict[Satisfier, frozenset[str]] = {
    Satisfier.START_CONSULTATION: frozenset({"consultation:start", "waived:start"}),
    Satisfier.THREE_MONTH_CONSULTATION: frozenset(
        {"consultation:three_month", "waived:three_month"}
    ),
    Satisfier.TRIAL_EVALUATION: frozenset({"evaluated", "consultation:three_month"}),
    Satisfier.PLAN_SIGNED: frozenset({"plan_signed"}),
    Satisfier.EVALUATION: frozenset({"evaluated"}),
    Satisfier.PLAN_RENEWED: frozenset({"plan_signed"}),
    Satisfier.UNBLOCKED_OR_ESCALATED: frozenset({"unblocked", "escalation_raised"}),
    Satisfier.ESCALATION_RESOLVED: frozenset({"escalation_resolved"}),
    Satisfier.FOLLOW_UP_CONTACT: frozenset({"follow_up"}),
}

_ENDING_KINDS = frozenset({"closed", "declined"})


@dataclass(frozen=True, slots=True)
class Offset:
    months: int = 0
    days: int = 0

    def after(self, day: date) -> date:
        return add_months(day, self.months) + timedelta(days=self.days)

    def before(self, day: date) -> date:
        return add_months(day, -self.months) - timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    name: str
    source: str
    expected: str
    starts: Anchor
    due_after: Offset
    satisfied_by: Satisfier
    remind_before: Offset = field(default_factory=lambda: Offset(days=7))
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Deadline:
    rule: str
    expected: str
    due_on: date
    met_on: date | None
    remind_on: date
    missed_recorded: bool
    met_late_recorded: bool
    reminded: bool

    @property
    def key(self) -> str:
        return f"{self.rule}@{self.due_on.isoformat()}"


_CONSULTATIONS = frozenset(f"consultation:{kind.value}" for kind in ConsultationKind)

#: Anchor → (the fact kinds that start the clock, whether the fact's own ``due`` date is the base).
_ANCHOR_KINDS: dict[Anchor, tuple[frozenset[str], bool]] = {
    Anchor.ACCEPTED: (frozenset({"accepted"}), False),
    Anchor.START_CONSULTATION: (frozenset({"consultation:start", "waived:start"}), False),
    Anchor.PLAN_MEETING: (frozenset({"consultation:plan_meeting"}), False),
    Anchor.PLANNED_CONSULTATION: (_CONSULTATIONS, True),
    Anchor.LAST_CONSULTATION: (_CONSULTATIONS - {"consultation:end"}, False),
    Anchor.PLANNED_EVALUATION: (frozenset({"evaluation_planned"}), True),
    Anchor.PLAN_SIGNED: (frozenset({"plan_signed"}), True),
    Anchor.BLOCKED: (frozenset({"blocked"}), False),
    Anchor.ESCALATION_RAISED: (frozenset({"escalation_raised"}), False),
    Anchor.CLOSED: (frozenset({"closed"}), False),
}


def _anchors(rule: DeadlineRule, facts: Sequence[Fact]) -> Iterable[tuple[Fact, date]]:
    """Each fact that starts this rule's clock, with the due date it sets."""
    kinds, from_due = _ANCHOR_KINDS[rule.starts]
    for fact in facts:
        if fact.kind not in kinds:
            continue
        if rule.starts == Anchor.CLOSED and fact.ref is None:
            continue  # closed naming no one to follow up the plan (000): nothing to follow
        base = fact.due if from_due else fact.on
        if base is not None:
            yield fact, rule.due_after.after(base)


def _met_on(rule: DeadlineRule, anchor: Fact, facts: Sequence[Fact], index: int) -> date | None:
    """The date of the first fact after the anchor that meets the rule."""
    satisfier = rule.satisfied_by
    for fact in facts[index + 1 :]:
        if satisfier == Satisfier.ANY_CONSULTATION:
            if fact.kind in _CONSULTATIONS:
                return fact.on
        elif satisfier == Satisfier.ESCALATION_RESOLVED:
            if fact.kind == "escalation_resolved" and fact.ref == anchor.ref:
                return fact.on
        elif fact.kind in _SATISFYING_KINDS[satisfier]:
            return fact.on
    return None


def _ended_on(facts: Sequence[Fact], index: int) -> date | None:
    for fact in facts[index + 1 :]:
        if fact.kind in _ENDING_KINDS:
            return fact.on
    return None


#: What ``instances`` computes from facts and rules, as a version: bump it whenever a change to
#: this module gives other deadlines for the same facts and policy. Whatever keeps deadlines
#: worked out before (the statistics working table) names it beside the policy's fingerprint,
#: so a new version is never answered from an old working-out.
RULES_VERSION = 1


def instances(facts: Sequence[Fact], rules: Iterable[DeadlineRule]) -> list[Deadline]:
    """The deadlines these facts give under these rules (facts in the order they happened).

    A deadline whose trajectory ended (closed, declined) before it fell due and that was not met
    is void: there is nothing left to do. Deadlines anchored on closing are not voided by it.
    """
    recorded = {
        kind: {f"{f.ref}@{f.due.isoformat()}" for f in facts if f.kind == kind and f.due}
        for kind in ("deadline_missed", "deadline_met_late", "deadline_reminded")
    }
    found: dict[str, Deadline] = {}
    position = {id(f): i for i, f in enumerate(facts)}
    for rule in rules:
        if not rule.enabled:
            continue
        for anchor, due in _anchors(rule, facts):
            index = position[id(anchor)]
            met = _met_on(rule, anchor, facts, index)
            ended = None if rule.starts == Anchor.CLOSED else _ended_on(facts, index)
            if met is not None and ended is not None and ended < met:
                met = None  # met only after the trajectory ended: it was not met in it
            if met is None and ended is not None and ended <= due:
                continue  # the trajectory ended before the deadline fell due: void
            key = f"{rule.name}@{due.isoformat()}"
            found[key] = Deadline(
                rule=rule.name,
                expected=rule.expected,
                due_on=due,
                met_on=met,
                remind_on=rule.remind_before.before(due),
                missed_recorded=key in recorded["deadline_missed"],
                met_late_recorded=key in recorded["deadline_met_late"],
                reminded=key in recorded["deadline_reminded"],
            )
    return sorted(found.values(), key=lambda d: (d.due_on, d.rule))


@dataclass(frozen=True, slots=True)
class DueActions:
    """What the scheduler should record at a moment, for one trajectory."""

    missed: list[Deadline]
    met_late: list[Deadline]
    reminders: list[Deadline]


def due_actions(deadlines: Iterable[Deadline], now: datetime) -> DueActions:
    """Missed: due date passed, not met. Met late: met after its due date. Reminder: within the
    reminder window and not yet met."""
    today = now.astimezone(UTC).date()
    missed, met_late, reminders = [], [], []
    for d in deadlines:
        met = d.met_on if d.met_on is not None and d.met_on <= today else None
        if met is None and d.due_on < today and not d.missed_recorded:
            missed.append(d)
        elif met is not None and met > d.due_on and not d.met_late_recorded:
            met_late.append(d)
        elif met is None and d.remind_on <= today <= d.due_on and not d.reminded:
            reminders.append(d)
    return DueActions(missed=missed, met_late=met_late, reminders=reminders)


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """The rules in force, with overrides by region and sector (most specific wins)."""

    rules: tuple[DeadlineRule, ...]
    #: (region or None, sector or None) → rules replacing the defaults of the same name.
    overrides: tuple[tuple[str | None, str | None, tuple[DeadlineRule, ...]], ...] = ()
    learning_sessions_per_year: int = 4
    forum_sessions_per_year: int = 1
    sector_consultations_per_year: int = 1
    fingerprint: str = ""

    @property
    def cadence(self) -> Cadence:
        """A learning network's meetings a year, per kind (``domain.network_cadence``)."""
        return Cadence(
            learning_network=self.learning_sessions_per_year,
            sector_consultation=self.sector_consultations_per_year,
            forum=self.forum_sessions_per_year,
        )

    def rules_for(self, region: str, sector: str) -> list[DeadlineRule]:
        chosen = {rule.name: rule for rule in self.rules}
        specificity = sorted(
            (o for o in self.overrides if o[0] in (None, region) and o[1] in (None, sector)),
            key=lambda o: (o[0] is not None) + (o[1] is not None),
        )
        for _, _, rules in specificity:
            chosen.update({rule.name: rule for rule in rules})
        return list(chosen.values())


class Standing(StrEnum):
    """Where a deadline stood at a moment (issue #15: deadlines due, evaluated at T)."""

    OPEN = "open"  # not met by T, its due date not yet passed
    DUE = "due"  # not met by T, its due date passed: the scheduler records it missed
    MET = "met"  # met by T, on or before its due date
    MET_LATE = "met_late"  # met by T, after its due date


def standing_at(deadline: Deadline, moment: datetime) -> Standing:
    """The deadline as it stood at ``moment``, classified on the dates ``due_actions`` uses:
    met only by a fact of that day or before, due once its due date has passed."""
    day = moment.astimezone(UTC).date()
    met = deadline.met_on if deadline.met_on is not None and deadline.met_on <= day else None
    if met is None:
        return Standing.DUE if deadline.due_on < day else Standing.OPEN
    return Standing.MET_LATE if met > deadline.due_on else Standing.MET
