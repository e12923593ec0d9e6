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
from typing import NamedTuple

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
        if not self.months:  # most offsets are days or weeks: no calendar to work out
            return day + timedelta(days=self.days)
        return add_months(day, self.months) + timedelta(days=self.days)

    def before(self, day: date) -> date:
        if not self.months:
            return day - timedelta(days=self.days)
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


class Deadline(msgspec.Struct, frozen=True):
    """One deadline a rule gives over a trajectory's facts. (A struct, not a dataclass: a
    rebuild makes one for every deadline of every trajectory it touches, and a frozen
    dataclass took ten times as long to make: issue #22.)"""

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


class _Compiled(NamedTuple):
    """What ``instances`` reads of a rule, worked out once per rule object (``_compiled``)."""

    rule: DeadlineRule
    anchor_kinds: frozenset[str]
    from_due: bool  # the anchoring fact's own ``due`` date is the base, not its date
    on_closing: bool  # anchored on closing: not voided by it, needs a follow-up named
    satisfying: frozenset[str]
    same_ref: bool  # met only by a fact naming the anchor's ``ref`` (an escalation's)
    #: ``due_after`` and ``remind_before`` as months and days (``Offset.after``, ``before``).
    due_months: int
    due_days: timedelta
    remind_months: int
    remind_days: timedelta


#: Rule object's id → its compiled form (the rule kept in it, so an id is never reused while
#: its entry stands). Rules are few and long-lived (a policy's); the cap only bounds a process
#: that builds many policies (tests).
_COMPILED: dict[int, _Compiled] = {}
_COMPILED_CAP = 4096


def _compiled(rule: DeadlineRule) -> _Compiled:
    found = _COMPILED.get(id(rule))
    if found is not None and found.rule is rule:
        return found
    kinds, from_due = _ANCHOR_KINDS[rule.starts]
    satisfier = rule.satisfied_by
    if satisfier == Satisfier.ANY_CONSULTATION:
        satisfying = _CONSULTATIONS
    elif satisfier == Satisfier.ESCALATION_RESOLVED:
        satisfying = frozenset({"escalation_resolved"})
    else:
        satisfying = _SATISFYING_KINDS[satisfier]
    compiled = _Compiled(
        rule=rule,
        anchor_kinds=kinds,
        from_due=from_due,
        on_closing=rule.starts == Anchor.CLOSED,
        satisfying=satisfying,
        same_ref=satisfier == Satisfier.ESCALATION_RESOLVED,
        due_months=rule.due_after.months,
        due_days=timedelta(days=rule.due_after.days),
        remind_months=rule.remind_before.months,
        remind_days=timedelta(days=rule.remind_before.days),
    )
    if len(_COMPILED) >= _COMPILED_CAP:
        _COMPILED.clear()
    _COMPILED[id(rule)] = compiled
    return compiled


#: What ``instances`` computes from facts and rules, as a version: bump it whenever a change to
#: this module gives other deadlines for the same facts and policy. Whatever keeps deadlines
#: worked out before (the statistics working table) names it beside the policy's fingerprint,
#: so a new version is never answered from an old working-out.
RULES_VERSION = 1


def instances(facts: Sequence[Fact], rules: Iterable[DeadlineRule]) -> list[Deadline]:
    """The deadlines these facts give under these rules (facts in the order they happened).

    Each fact that starts a rule's clock gives a deadline, due its offset after the fact's
    date (or its own ``due`` date, for the anchors that name one), met on the date of the first
    later fact that meets the rule (for an escalation's resolution: of the same escalation).
    A deadline whose trajectory ended (closed, declined) before it fell due and that was not met
    is void: there is nothing left to do; one met only after the trajectory ended was not met in
    it. Deadlines anchored on closing are not voided by it. Two that fall on the same rule and
    due date are one (the later anchor's).

    A rebuild works this out for every trajectory it touches (issue #22): each rule's
    vocabulary is looked up once per rule object, the facts' kinds once per call, and the end
    of the trajectory after each fact in one backward pass.
    """
    count = len(facts)
    kinds = [f.kind for f in facts]
    # The date of the first ending (closed, declined) after each position, if any.
    ended_after: list[date | None] = [None] * count
    ending: date | None = None
    for i in range(count - 1, -1, -1):
        ended_after[i] = ending
        if kinds[i] in _ENDING_KINDS:
            ending = facts[i].on
    recorded: dict[str, set[str]] = {
        "deadline_missed": set(),
        "deadline_met_late": set(),
        "deadline_reminded": set(),
    }
    for f in facts:
        into = recorded.get(f.kind)
        if into is not None and f.due:
            into.add(f"{f.ref}@{f.due.isoformat()}")
    missed, met_late, reminded = recorded.values()
    found: dict[str, Deadline] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        compiled = _compiled(rule)
        anchor_kinds, satisfying = compiled.anchor_kinds, compiled.satisfying
        for index in range(count):
            if kinds[index] not in anchor_kinds:
                continue
            anchor = facts[index]
            if compiled.on_closing and anchor.ref is None:
                continue  # closed naming no one to follow up the plan (000): nothing to follow
            base = anchor.due if compiled.from_due else anchor.on
            if base is None:
                continue
            # ``rule.due_after.after(base)``, the offset's parts worked out once.
            due = base + compiled.due_days
            if compiled.due_months:
                due = add_months(base, compiled.due_months) + compiled.due_days
            met = None
            for later in range(index + 1, count):
                if kinds[later] in satisfying and (
                    not compiled.same_ref or facts[later].ref == anchor.ref
                ):
                    met = facts[later].on
                    break
            ended = None if compiled.on_closing else ended_after[index]
            if met is not None and ended is not None and ended < met:
                met = None  # met only after the trajectory ended: it was not met in it
            if met is None and ended is not None and ended <= due:
                continue  # the trajectory ended before the deadline fell due: void
            remind_on = due - compiled.remind_days  # ``rule.remind_before.before(due)``
            if compiled.remind_months:
                remind_on = add_months(due, -compiled.remind_months) - compiled.remind_days
            key = f"{rule.name}@{due.isoformat()}"
            found[key] = Deadline(
                rule=rule.name,
                expected=rule.expected,
                due_on=due,
                met_on=met,
                remind_on=remind_on,
                missed_recorded=key in missed,
                met_late_recorded=key in met_late,
                reminded=key in reminded,
            )
    return sorted(found.values(), key=lambda d: (d.due_on, d.rule))


@dataclass(frozen=True, slots=True)
class DueActions:
    """What the scheduler should record at a moment, for one trajectory."""

    missed: list[Deadline]
    met_late: list[Deadline]
    reminders: list[Deadline]


def due_actions(deadlines: Iterable[Deadline], now: datetime) -> DueActions:
    """Missed: due date passed, not met (and not recorded as met late: a catch-up run at a past
    moment must not give a deadline a second standing). Met late: met after its due date.
    Reminder: within the reminder window and not yet met."""
    today = now.astimezone(UTC).date()
    missed, met_late, reminders = [], [], []
    for d in deadlines:
        met = d.met_on if d.met_on is not None and d.met_on <= today else None
        if met is None and d.due_on < today and not (d.missed_recorded or d.met_late_recorded):
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
