"""``instances`` gives exactly the deadlines of its plain specification, for any facts.

A rebuild works out every touched trajectory's deadlines, so ``domain.deadlines.instances``
was made faster (issue #22: each rule's vocabulary looked up once per rule, the end of the
trajectory after each fact in one backward pass, offsets' parts worked out once). The plain
version it replaced is kept here as the specification: for random facts of every kind, in any
order, with refs and due dates, under the shipped rules, operator-amended rules (offsets in
months and days, disabled rules) and a rule given twice, both give the same deadlines in the
same order.
"""

import ast
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import deadline_facts
from domain.common import ConsultationKind
from domain.deadlines import (
    Anchor,
    Deadline,
    DeadlineRule,
    Fact,
    Offset,
    Satisfier,
    instances,
)
from scheduler.policy import read_policy

_CONSULTATIONS = frozenset(f"consultation:{kind.value}" for kind in ConsultationKind)
_SATISFYING = {
    Satisfier.START_CONSULTATION: {"consultation:start", "waived:start"},
    Satisfier.THREE_MONTH_CONSULTATION: {"consultation:three_month", "waived:three_month"},
    Satisfier.TRIAL_EVALUATION: {"evaluated", "consultation:three_month"},
    Satisfier.PLAN_SIGNED: {"plan_signed"},
    Satisfier.EVALUATION: {"evaluated"},
    Satisfier.PLAN_RENEWED: {"plan_signed"},
    Satisfier.UNBLOCKED_OR_ESCALATED: {"unblocked", "escalation_raised"},
    Satisfier.FOLLOW_UP_CONTACT: {"follow_up"},
}
_ANCHORS = {
    Anchor.ACCEPTED: ({"accepted"}, False),
    Anchor.START_CONSULTATION: ({"consultation:start", "waived:start"}, False),
    Anchor.PLAN_MEETING: ({"consultation:plan_meeting"}, False),
    Anchor.PLANNED_CONSULTATION: (_CONSULTATIONS, True),
    Anchor.LAST_CONSULTATION: (_CONSULTATIONS - {"consultation:end"}, False),
    Anchor.PLANNED_EVALUATION: ({"evaluation_planned"}, True),
    Anchor.PLAN_SIGNED: ({"plan_signed"}, True),
    Anchor.BLOCKED: ({"blocked"}, False),
    Anchor.ESCALATION_RAISED: ({"escalation_raised"}, False),
    Anchor.CLOSED: ({"closed"}, False),
}


def _months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def specified(facts: Sequence[Fact], rules: Iterable[DeadlineRule]) -> list[Deadline]:
    """The deadlines as the rules say, fact by fact (the version before issue #22's)."""
    recorded = {
        kind: {f"{f.ref}@{f.due.isoformat()}" for f in facts if f.kind == kind and f.due}
        for kind in ("deadline_missed", "deadline_met_late", "deadline_reminded")
    }
    found: dict[str, Deadline] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        kinds, from_due = _ANCHORS[rule.starts]
        for index, anchor in enumerate(facts):
            if anchor.kind not in kinds:
                continue
            if rule.starts == Anchor.CLOSED and anchor.ref is None:
                continue
            base = anchor.due if from_due else anchor.on
            if base is None:
                continue
            due = _months(base, rule.due_after.months) + timedelta(days=rule.due_after.days)
            met = None
            for fact in facts[index + 1 :]:
                if rule.satisfied_by == Satisfier.ANY_CONSULTATION:
                    hit = fact.kind in _CONSULTATIONS
                elif rule.satisfied_by == Satisfier.ESCALATION_RESOLVED:
                    hit = fact.kind == "escalation_resolved" and fact.ref == anchor.ref
                else:
                    hit = fact.kind in _SATISFYING[rule.satisfied_by]
                if hit:
                    met = fact.on
                    break
            ended = None
            if rule.starts != Anchor.CLOSED:
                ended = next(
                    (f.on for f in facts[index + 1 :] if f.kind in ("closed", "declined")), None
                )
            if met is not None and ended is not None and ended < met:
                met = None
            if met is None and ended is not None and ended <= due:
                continue
            key = f"{rule.name}@{due.isoformat()}"
            remind = rule.remind_before
            found[key] = Deadline(
                rule=rule.name,
                expected=rule.expected,
                due_on=due,
                met_on=met,
                remind_on=_months(due, -remind.months) - timedelta(days=remind.days),
                missed_recorded=key in recorded["deadline_missed"],
                met_late_recorded=key in recorded["deadline_met_late"],
                reminded=key in recorded["deadline_reminded"],
            )
    return sorted(found.values(), key=lambda d: (d.due_on, d.rule))


SHIPPED = read_policy(None).rules
_RULE_NAMES = [rule.name for rule in SHIPPED]
_KINDS = sorted(
    _CONSULTATIONS
    | {k for kinds, _ in _ANCHORS.values() for k in kinds}
    | {k for kinds in _SATISFYING.values() for k in kinds}
    | {"waived:three_month", "escalation_resolved", "declined", "evaluation_planned"}
    | {"deadline_missed", "deadline_met_late", "deadline_reminded"}
)
#: A few months: facts often fall on the same day or on a due date, where the edges lie.
_DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2023, 5, 31))


@st.composite
def _facts(draw: st.DrawFn) -> list[Fact]:
    out = []
    for _ in range(draw(st.integers(0, 24))):
        kind = draw(st.sampled_from(_KINDS))
        recorded = kind.startswith("deadline_")
        ref = draw(
            st.sampled_from(_RULE_NAMES)
            if recorded
            else st.one_of(st.none(), st.sampled_from(["e1", "e2", "someone"]))
        )
        out.append(Fact(kind, draw(_DAYS), due=draw(st.one_of(st.none(), _DAYS)), ref=ref))
    # In the order they happened, as the projection keeps them (stable: ties as drawn).
    return sorted(out, key=lambda f: f.on) if draw(st.booleans()) else out


@st.composite
def _rules(draw: st.DrawFn) -> list[DeadlineRule]:
    rules = []
    for rule in SHIPPED:
        if draw(st.booleans()):
            rule = replace(
                rule,
                due_after=Offset(months=draw(st.integers(0, 14)), days=draw(st.integers(0, 40))),
                remind_before=Offset(months=draw(st.integers(0, 2)), days=draw(st.integers(0, 10))),
                enabled=draw(st.booleans()),
            )
        rules.append(rule)
    if draw(st.booleans()):  # a rule given twice: the later one's deadline stands
        rules.append(draw(st.sampled_from(rules)))
    return rules


@settings(max_examples=400, deadline=None)
@given(_facts(), _rules())
def test_instances_give_the_specified_deadlines(
    facts: list[Fact], rules: list[DeadlineRule]
) -> None:
    assert instances(facts, rules) == specified(facts, rules)


def test_the_specification_gives_deadlines_for_a_plain_trajectory() -> None:
    """Guard for the property above: it compares non-empty answers, not two empty lists."""
    facts = [
        Fact("accepted", date(2023, 1, 5)),
        Fact("consultation:start", date(2023, 1, 20), due=date(2023, 3, 1)),
        Fact("blocked", date(2023, 2, 1)),
        Fact("closed", date(2023, 6, 1), ref="someone"),
    ]
    found = instances(facts, SHIPPED)
    assert found == specified(facts, SHIPPED)
    assert {d.rule for d in found} >= {"start_consultation", "follow_up_contact"}


def test_every_event_facts_of_maps_is_a_deadline_event() -> None:
    """``facts_of`` answers [] at once for an event not in ``DEADLINE_EVENTS`` (issue #22): so
    every class its cases name must be there, or that event's facts would be lost."""
    tree = ast.parse(inspect.getsource(deadline_facts.facts_of))
    cases = {
        node.cls.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.MatchClass) and isinstance(node.cls, ast.Attribute)
    }
    assert len(cases) == 15
    assert cases == {cls.__name__ for cls in deadline_facts.DEADLINE_EVENTS}
