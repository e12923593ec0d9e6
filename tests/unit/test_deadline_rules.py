"""The deadline rules of the care procedures, as pure functions over hand-built facts.

Every default rule of ``scheduler/policy.toml`` gets the same questions: not due before its due
date, missed the day after, met by the right fact and not by a look-alike, met late by a late
fact, a reminder within ``[due - remind_before, due]``, and void when the trajectory ended before
it fell due (except the rule anchored on closing). Then ``due_actions`` at a moment, the policy
file (amending, disabling, adding, overrides by region and sector, refusals) and the
learning-network cadence.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from domain.deadlines import (
    Anchor,
    Deadline,
    DeadlinePolicy,
    Fact,
    Offset,
    Satisfier,
    due_actions,
    instances,
)
from scheduler.policy import PolicyError, default_policy_text, load_policy, read_policy

DEFAULTS = read_policy(None)
RULES = {rule.name: rule for rule in DEFAULTS.rules}
#: The day each case's clock starts.
A = date(2023, 3, 10)
ONE_DAY = timedelta(days=1)


def at(day: date) -> datetime:
    """A moment on ``day`` (the scheduler judges by the UTC calendar date)."""
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """One default rule: the facts that start it, when it is due, what meets it and what not."""

    anchor: tuple[Fact, ...]
    due: date
    remind_on: date
    right: tuple[Fact, ...]  # each of these meets it
    wrong: tuple[Fact, ...]  # none of these does


def _f(kind: str, ref: str | None = None) -> Fact:
    """A satisfier template; the test puts it on the day it needs."""
    return Fact(kind, A, ref=ref)


CASES: dict[str, Case] = {
    "start_consultation": Case(
        anchor=(Fact("accepted", A),),
        due=date(2023, 4, 10),  # 1 month
        remind_on=date(2023, 4, 3),
        right=(_f("consultation:start"), _f("waived:start")),
        wrong=(_f("consultation:ad_hoc"), _f("consultation:three_month")),
    ),
    "three_month_consultation": Case(
        anchor=(Fact("accepted", A - 5 * ONE_DAY), Fact("consultation:start", A)),
        due=date(2023, 6, 10),  # 3 months after the start consultation
        remind_on=date(2023, 6, 3),
        right=(_f("consultation:three_month"), _f("waived:three_month")),
        # an ad hoc consultation does not meet the three-month consultation
        wrong=(_f("consultation:ad_hoc"), _f("consultation:mdo"), _f("evaluated")),
    ),
    "planned_consultation": Case(
        anchor=(
            Fact("accepted", A - 5 * ONE_DAY),
            Fact("consultation:start", A, due=date(2023, 4, 7)),
        ),
        due=date(2023, 4, 7),  # the date the consultation planned
        remind_on=date(2023, 4, 4),  # 3 days
        right=(_f("consultation:ad_hoc"), _f("consultation:mdo"), _f("consultation:end")),
        wrong=(_f("evaluated"), _f("plan_signed")),
    ),
    "trial_period_evaluation": Case(
        anchor=(Fact("accepted", A),),
        due=date(2023, 6, 10),  # 3 months after admission
        remind_on=date(2023, 6, 3),
        # an evaluation meets the trial period, and so does the three-month consultation
        right=(_f("evaluated"), _f("consultation:three_month")),
        wrong=(_f("consultation:ad_hoc"), _f("waived:three_month"), _f("plan_signed")),
    ),
    "plan_after_plan_meeting": Case(
        anchor=(
            Fact("accepted", A - 10 * ONE_DAY),
            Fact("consultation:start", A - 5 * ONE_DAY),
            Fact("consultation:plan_meeting", A),
        ),
        due=date(2023, 6, 10),  # 3 months
        remind_on=date(2023, 6, 3),
        right=(_f("plan_signed"),),
        wrong=(_f("evaluated"), _f("consultation:plan_meeting")),
    ),
    "plan_after_admission": Case(
        anchor=(Fact("accepted", A),),
        due=date(2023, 9, 10),  # 6 months
        remind_on=date(2023, 9, 3),
        right=(_f("plan_signed"),),
        wrong=(_f("consultation:plan_meeting"), _f("evaluated")),
    ),
    "yearly_evaluation": Case(
        anchor=(
            Fact("plan_signed", A, due=date(2026, 3, 10)),
            Fact("evaluation_planned", A, due=date(2024, 3, 10)),
        ),
        due=date(2024, 3, 10),  # the date signing (or the last evaluation) set
        remind_on=date(2024, 2, 10),  # 1 month
        right=(_f("evaluated"),),
        wrong=(_f("plan_signed"), _f("consultation:ad_hoc")),
    ),
    "plan_renewal": Case(
        anchor=(Fact("plan_signed", A, due=date(2026, 3, 10)),),
        due=date(2026, 3, 10),  # the signed plan's valid_until (3 years)
        remind_on=date(2026, 1, 10),  # 2 months
        right=(_f("plan_signed"),),
        wrong=(_f("evaluated"), _f("consultation:plan_meeting")),
    ),
    "follow_up_contact": Case(
        anchor=(Fact("consultation:end", A - 2 * ONE_DAY), Fact("closed", A, ref="org-keeper")),
        due=date(2023, 9, 10),  # 6 months after closing
        remind_on=date(2023, 9, 3),
        right=(_f("follow_up"),),
        wrong=(_f("escalation_resolved", "esc-1"), _f("deadline_reminded")),
    ),
    "consultation_gap": Case(
        anchor=(Fact("consultation:ad_hoc", A),),
        due=A + timedelta(days=90),  # 2023-06-08
        remind_on=A + timedelta(days=83),
        right=(_f("consultation:mdo"), _f("consultation:end"), _f("consultation:intervision")),
        wrong=(_f("evaluated"), _f("waived:three_month"), _f("blocked")),
    ),
    "block_escalation": Case(
        anchor=(Fact("blocked", A),),
        due=date(2023, 3, 24),  # 14 days
        remind_on=date(2023, 3, 21),  # 3 days
        right=(_f("unblocked"), _f("escalation_raised", "esc-1")),
        wrong=(_f("consultation:ad_hoc"), _f("escalation_resolved", "esc-0")),
    ),
    "escalation_resolution": Case(
        anchor=(Fact("escalation_raised", A, ref="esc-1"),),
        due=date(2023, 4, 9),  # 30 days
        remind_on=date(2023, 4, 2),
        right=(_f("escalation_resolved", "esc-1"),),
        # resolving another escalation does not resolve this one
        wrong=(_f("escalation_resolved", "esc-2"), _f("unblocked")),
    ),
}

RULE_NAMES = sorted(CASES)


def case_id(value: object) -> str:
    return f"{value.kind}:{value.ref}" if isinstance(value, Fact) else str(value)


def on_day(template: Fact, day: date) -> Fact:
    return Fact(template.kind, day, due=template.due, ref=template.ref)


def deadlines_of(name: str, facts: list[Fact]) -> list[Deadline]:
    """The deadlines of one default rule under these facts (sorted by date, as they happen)."""
    ordered = sorted(facts, key=lambda f: f.on)
    return [d for d in instances(ordered, DEFAULTS.rules) if d.rule == name]


def the(name: str, facts: list[Fact], due: date) -> Deadline | None:
    found = [d for d in deadlines_of(name, facts) if d.due_on == due]
    assert len(found) <= 1
    return found[0] if found else None


def missed_at(name: str, facts: list[Fact], day: date) -> list[date]:
    actions = due_actions(deadlines_of(name, facts), at(day))
    return [d.due_on for d in actions.missed]


# --- the table covers the shipped policy ----------------------------------------------------------


def test_every_default_rule_has_a_case_and_a_source() -> None:
    assert set(CASES) == set(RULES)
    for rule in DEFAULTS.rules:
        assert rule.enabled, rule.name
        assert rule.source, rule.name
        assert rule.expected, rule.name


# --- each default rule ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_is_due_on_its_date_and_not_missed_before_the_day_after(name: str) -> None:
    case = CASES[name]
    facts = list(case.anchor)
    deadline = the(name, facts, case.due)
    assert deadline is not None, deadlines_of(name, facts)
    assert deadline.met_on is None
    assert deadline.expected == RULES[name].expected
    for day in (case.anchor[-1].on, case.due - ONE_DAY, case.due):
        assert case.due not in missed_at(name, facts, day), day


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_is_missed_the_day_after_its_due_date(name: str) -> None:
    case = CASES[name]
    facts = list(case.anchor)
    assert case.due in missed_at(name, facts, case.due + ONE_DAY)
    assert case.due in missed_at(name, facts, case.due + timedelta(days=400))
    actions = due_actions(deadlines_of(name, facts), at(case.due + ONE_DAY))
    assert [d.due_on for d in actions.met_late] == []


@pytest.mark.parametrize(
    ("name", "right"), [(n, f) for n in RULE_NAMES for f in CASES[n].right], ids=case_id
)
def test_rule_is_met_by_the_right_fact_on_its_due_date(name: str, right: Fact) -> None:
    case = CASES[name]
    facts = [*case.anchor, on_day(right, case.due)]
    deadline = the(name, facts, case.due)
    assert deadline is not None
    assert deadline.met_on == case.due
    for day in (case.due + ONE_DAY, case.due + timedelta(days=400)):
        actions = due_actions(deadlines_of(name, facts), at(day))
        assert case.due not in [d.due_on for d in actions.missed]
        assert case.due not in [d.due_on for d in actions.met_late]


@pytest.mark.parametrize(
    ("name", "wrong"), [(n, f) for n in RULE_NAMES for f in CASES[n].wrong], ids=case_id
)
def test_rule_is_not_met_by_the_wrong_fact(name: str, wrong: Fact) -> None:
    case = CASES[name]
    facts = [*case.anchor, on_day(wrong, case.due - ONE_DAY)]
    deadline = the(name, facts, case.due)
    assert deadline is not None
    assert deadline.met_on is None
    assert case.due in missed_at(name, facts, case.due + ONE_DAY)


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_met_after_its_due_date_is_met_late(name: str) -> None:
    case = CASES[name]
    late = case.due + timedelta(days=5)
    facts = [*case.anchor, on_day(case.right[0], late)]
    deadline = the(name, facts, case.due)
    assert deadline is not None
    assert deadline.met_on == late
    actions = due_actions(deadlines_of(name, facts), at(late + ONE_DAY))
    assert case.due in [d.due_on for d in actions.met_late]
    assert case.due not in [d.due_on for d in actions.missed]


@pytest.mark.parametrize("name", RULE_NAMES)
def test_rule_reminds_within_its_window_before_the_due_date(name: str) -> None:
    case = CASES[name]
    rule = RULES[name]
    facts = list(case.anchor)
    deadline = the(name, facts, case.due)
    assert deadline is not None
    assert deadline.remind_on == case.remind_on == rule.remind_before.before(case.due)

    def reminded(day: date) -> bool:
        actions = due_actions(deadlines_of(name, facts), at(day))
        return case.due in [d.due_on for d in actions.reminders]

    assert not reminded(case.remind_on - ONE_DAY)
    assert reminded(case.remind_on)
    assert reminded(case.due)
    assert not reminded(case.due + ONE_DAY)  # then it is missed, not reminded
    # met before the window: no reminder
    met = [*facts, on_day(case.right[0], case.remind_on - ONE_DAY)]
    assert case.due not in [
        d.due_on for d in due_actions(deadlines_of(name, met), at(case.remind_on)).reminders
    ]


@pytest.mark.parametrize("ending", ["closed", "declined"])
@pytest.mark.parametrize("name", [n for n in RULE_NAMES if RULES[n].starts != Anchor.CLOSED])
def test_rule_of_a_trajectory_that_ended_before_the_due_date_is_void(
    name: str, ending: str
) -> None:
    case = CASES[name]
    facts = [*case.anchor, Fact(ending, case.due - ONE_DAY)]
    assert the(name, facts, case.due) is None
    assert missed_at(name, facts, case.due + timedelta(days=30)) == []


@pytest.mark.parametrize("name", [n for n in RULE_NAMES if RULES[n].starts != Anchor.CLOSED])
def test_rule_of_a_trajectory_that_ended_after_the_due_date_stays_missed(name: str) -> None:
    case = CASES[name]
    facts = [*case.anchor, Fact("closed", case.due + ONE_DAY)]
    assert case.due in missed_at(name, facts, case.due + timedelta(days=30))


@pytest.mark.parametrize("name", [n for n in RULE_NAMES if RULES[n].starts != Anchor.CLOSED])
def test_rule_met_before_the_trajectory_ended_stays_met(name: str) -> None:
    case = CASES[name]
    facts = [*case.anchor, on_day(case.right[0], case.due), Fact("closed", case.due + ONE_DAY)]
    deadline = the(name, facts, case.due)
    assert deadline is not None
    assert deadline.met_on == case.due


def test_follow_up_contact_is_anchored_on_closing_and_not_voided_by_it() -> None:
    case = CASES["follow_up_contact"]
    assert RULES["follow_up_contact"].starts == Anchor.CLOSED
    facts = [Fact("accepted", A - timedelta(days=100)), *case.anchor]
    assert missed_at("follow_up_contact", facts, case.due + ONE_DAY) == [case.due]


def test_the_end_consultation_starts_no_consultation_gap() -> None:
    facts = [Fact("consultation:end", A)]
    assert deadlines_of("consultation_gap", facts) == []


def test_each_consultation_starts_its_own_gap_and_planned_date() -> None:
    facts = [
        Fact("consultation:start", A, due=date(2023, 4, 7)),
        Fact("consultation:ad_hoc", date(2023, 4, 7), due=date(2023, 5, 5)),
    ]
    planned = deadlines_of("planned_consultation", facts)
    assert [(d.due_on, d.met_on) for d in planned] == [
        (date(2023, 4, 7), date(2023, 4, 7)),
        (date(2023, 5, 5), None),
    ]
    gaps = deadlines_of("consultation_gap", facts)
    assert [(d.due_on, d.met_on) for d in gaps] == [
        (A + timedelta(days=90), date(2023, 4, 7)),
        (date(2023, 4, 7) + timedelta(days=90), None),
    ]


def test_each_escalation_has_a_deadline_of_its_own() -> None:
    facts = [
        Fact("escalation_raised", A, ref="esc-1"),
        Fact("escalation_raised", A + ONE_DAY, ref="esc-2"),
        Fact("escalation_resolved", A + 2 * ONE_DAY, ref="esc-2"),
    ]
    found = {(d.due_on, d.met_on) for d in deadlines_of("escalation_resolution", facts)}
    assert found == {(date(2023, 4, 9), None), (date(2023, 4, 10), A + 2 * ONE_DAY)}


def test_an_escalation_resolved_after_an_early_closing_is_not_missed() -> None:
    """An escalation open when the trajectory closed (before it was due) is not missed because
    it was resolved after the closing: the trajectory ended before the deadline fell due."""
    facts = [
        Fact("accepted", date(2023, 1, 2)),
        Fact("consultation:start", date(2023, 1, 5)),
        Fact("escalation_raised", A, ref="esc-1"),  # due 2023-04-09
        Fact("consultation:end", A + ONE_DAY),
        Fact("closed", A + 2 * ONE_DAY),
        Fact("escalation_resolved", A + 10 * ONE_DAY, ref="esc-1"),  # allowed when closed
    ]
    assert missed_at("escalation_resolution", facts, date(2023, 5, 1)) == []


def test_a_disabled_rule_gives_no_deadlines() -> None:
    policy = load_policy("[rules.start_consultation]\nenabled = false\n", "operator", base=DEFAULTS)
    facts = [Fact("accepted", A)]
    found = {d.rule for d in instances(facts, policy.rules_for("elz-gent", "youth_care"))}
    assert "start_consultation" not in found
    assert "trial_period_evaluation" in found


# --- due_actions at a moment ----------------------------------------------------------------------


ACCEPTED = date(2023, 1, 2)
#: Accepted, and the start consultation held late (due 2 Feb), planning the next for 10 March.
LATE_START = [
    Fact("accepted", ACCEPTED),
    Fact("consultation:start", date(2023, 2, 10), due=date(2023, 3, 10)),
]


def actions_at(facts: list[Fact], day: date) -> dict[str, list[str]]:
    deadlines = instances(sorted(facts, key=lambda f: f.on), DEFAULTS.rules)
    found = due_actions(deadlines, at(day))
    return {
        kind: sorted(f"{d.rule}@{d.due_on.isoformat()}" for d in group)
        for kind, group in (
            ("missed", found.missed),
            ("met_late", found.met_late),
            ("reminders", found.reminders),
        )
    }


def test_due_actions_classify_missed_met_late_and_reminders_at_a_moment() -> None:
    assert actions_at(LATE_START[:1], date(2023, 2, 3)) == {
        "missed": ["start_consultation@2023-02-02"],
        "met_late": [],
        "reminders": [],
    }
    assert actions_at(LATE_START, date(2023, 3, 8)) == {
        "missed": [],
        "met_late": ["start_consultation@2023-02-02"],
        "reminders": ["planned_consultation@2023-03-10"],
    }
    assert actions_at(LATE_START, date(2023, 4, 3)) == {
        "missed": ["planned_consultation@2023-03-10", "trial_period_evaluation@2023-04-02"],
        "met_late": ["start_consultation@2023-02-02"],
        "reminders": [],
    }


def recorded(kind: str, key: str, day: date) -> Fact:
    rule, _, due = key.partition("@")
    return Fact(kind, day, due=date.fromisoformat(due), ref=rule)


def test_recorded_deadlines_are_not_acted_on_again() -> None:
    facts = [
        *LATE_START,
        recorded("deadline_missed", "start_consultation@2023-02-02", date(2023, 2, 3)),
        recorded("deadline_reminded", "planned_consultation@2023-03-10", date(2023, 3, 8)),
    ]
    assert actions_at(facts, date(2023, 3, 8)) == {
        "missed": [],
        "met_late": ["start_consultation@2023-02-02"],  # recorded missed, then met late
        "reminders": [],
    }
    facts += [
        recorded("deadline_met_late", "start_consultation@2023-02-02", date(2023, 3, 8)),
        recorded("deadline_missed", "planned_consultation@2023-03-10", date(2023, 4, 3)),
        recorded("deadline_missed", "trial_period_evaluation@2023-04-02", date(2023, 4, 3)),
    ]
    assert actions_at(facts, date(2023, 4, 3)) == {"missed": [], "met_late": [], "reminders": []}
    deadlines = {d.key: d for d in instances(sorted(facts, key=lambda f: f.on), DEFAULTS.rules)}
    start = deadlines["start_consultation@2023-02-02"]
    assert (start.missed_recorded, start.met_late_recorded, start.reminded) == (True, True, False)
    planned = deadlines["planned_consultation@2023-03-10"]
    assert (planned.missed_recorded, planned.reminded) == (True, True)


def test_a_catch_up_run_before_a_recorded_late_meeting_finds_nothing_missed() -> None:
    """One standing per deadline: met late (recorded on 11 February), a run at 3 February, when
    it was not met yet, does not find it missed (it was, then; the record says met late)."""
    facts = [
        *LATE_START,
        recorded("deadline_met_late", "start_consultation@2023-02-02", date(2023, 2, 11)),
    ]

    assert actions_at(facts, date(2023, 2, 3))["missed"] == []
    # Not recorded yet, the late meeting leaves the miss to be recorded first, as ever.
    assert actions_at(LATE_START, date(2023, 2, 3))["missed"] == ["start_consultation@2023-02-02"]


def test_a_record_of_another_due_date_does_not_suppress_a_deadline() -> None:
    facts = [
        Fact("accepted", ACCEPTED),
        recorded("deadline_missed", "start_consultation@2023-02-03", date(2023, 2, 4)),
        recorded("deadline_missed", "trial_period_evaluation@2023-02-02", date(2023, 2, 4)),
    ]
    assert "start_consultation@2023-02-02" in actions_at(facts, date(2023, 2, 4))["missed"]


# --- the policy file ------------------------------------------------------------------------------


def test_the_shipped_policy_loads_with_every_default_rule() -> None:
    policy = load_policy(default_policy_text(), "default policy")
    assert policy == DEFAULTS
    assert [r.name for r in policy.rules] == [
        "start_consultation",
        "three_month_consultation",
        "planned_consultation",
        "trial_period_evaluation",
        "plan_after_plan_meeting",
        "plan_after_admission",
        "yearly_evaluation",
        "plan_renewal",
        "follow_up_contact",
        "consultation_gap",
        "block_escalation",
        "escalation_resolution",
    ]
    start = RULES["start_consultation"]
    assert (start.starts, start.due_after, start.satisfied_by, start.source) == (
        Anchor.ACCEPTED,
        Offset(months=1),
        Satisfier.START_CONSULTATION,
        "001",
    )
    assert RULES["consultation_gap"].due_after == Offset(days=90)
    assert RULES["follow_up_contact"].due_after == Offset(months=6)
    assert RULES["planned_consultation"].remind_before == Offset(days=3)
    assert RULES["three_month_consultation"].remind_before == Offset(days=7)  # [defaults]
    assert (policy.learning_sessions_per_year, policy.forum_sessions_per_year) == (4, 1)
    assert policy.overrides == ()
    assert len(policy.fingerprint) == 12
    assert policy.rules_for("any-region", "youth_care") == list(policy.rules)


def operator(text: str) -> DeadlinePolicy:
    return load_policy(text, "policy file ops.toml", base=DEFAULTS)


def test_an_operator_file_amends_a_rules_due_after_and_keeps_the_rest() -> None:
    policy = operator('[rules.start_consultation]\ndue_after = "10 days"\n')
    rule = {r.name: r for r in policy.rules}["start_consultation"]
    assert rule.due_after == Offset(days=10)
    assert (rule.starts, rule.satisfied_by, rule.source, rule.expected) == (
        Anchor.ACCEPTED,
        Satisfier.START_CONSULTATION,
        "001",
        RULES["start_consultation"].expected,
    )
    assert rule.remind_before == RULES["start_consultation"].remind_before
    assert len(policy.rules) == len(DEFAULTS.rules)
    assert policy.fingerprint != DEFAULTS.fingerprint
    facts = [Fact("accepted", A)]
    due = [d.due_on for d in instances(facts, policy.rules) if d.rule == "start_consultation"]
    assert due == [A + timedelta(days=10)]


def test_an_operator_file_disables_a_rule() -> None:
    policy = operator("[rules.consultation_gap]\nenabled = false\n")
    gap = {r.name: r for r in policy.rules}["consultation_gap"]
    assert gap.enabled is False
    assert list(instances([Fact("consultation:ad_hoc", A)], policy.rules)) == []


def test_an_operator_file_adds_a_rule() -> None:
    policy = operator(
        "[defaults]\n"
        'remind_before = "2 days"\n'
        "[rules.handover_plan_within_two_weeks]\n"
        'source = "regional agreement"\n'
        'starts = "accepted"\n'
        'due_after = "2 weeks"\n'
        'satisfied_by = "plan_signed"\n'
    )
    added = {r.name: r for r in policy.rules}["handover_plan_within_two_weeks"]
    assert added.due_after == Offset(days=14)
    assert added.remind_before == Offset(days=2)
    assert added.source == "regional agreement"
    assert added.expected == "handover plan within two weeks"
    assert len(policy.rules) == len(DEFAULTS.rules) + 1
    deadlines = instances([Fact("accepted", A)], policy.rules)
    assert "handover_plan_within_two_weeks@2023-03-24" in {d.key for d in deadlines}


OVERRIDES = """
[[overrides]]
region = "elz-gent"
sector = "youth_care"
[overrides.rules.start_consultation]
due_after = "5 days"

[[overrides]]
region = "elz-gent"
[overrides.rules.start_consultation]
due_after = "10 days"
[overrides.rules.block_escalation]
due_after = "7 days"

[[overrides]]
sector = "youth_care"
[overrides.rules.start_consultation]
due_after = "20 days"
[overrides.rules.consultation_gap]
enabled = false
"""


def start_due_after(policy: DeadlinePolicy, region: str, sector: str) -> Offset:
    rules = {r.name: r for r in policy.rules_for(region, sector)}
    return rules["start_consultation"].due_after


def test_overrides_by_region_by_sector_and_by_both_the_most_specific_wins() -> None:
    policy = operator(OVERRIDES)
    assert start_due_after(policy, "elz-gent", "youth_care") == Offset(days=5)
    assert start_due_after(policy, "elz-gent", "education") == Offset(days=10)
    assert start_due_after(policy, "elz-brugge", "youth_care") == Offset(days=20)
    assert start_due_after(policy, "elz-brugge", "education") == Offset(months=1)
    # each override replaces only the rules it names, and only where it applies
    gent_youth = {r.name: r for r in policy.rules_for("elz-gent", "youth_care")}
    assert gent_youth["block_escalation"].due_after == Offset(days=7)
    assert gent_youth["consultation_gap"].enabled is False
    brugge_education = {r.name: r for r in policy.rules_for("elz-brugge", "education")}
    assert brugge_education["block_escalation"].due_after == Offset(days=14)
    assert brugge_education["consultation_gap"].enabled is True
    assert len(brugge_education) == len(DEFAULTS.rules)
    # the defaults of the policy itself are untouched
    assert {r.name: r for r in policy.rules}["start_consultation"].due_after == Offset(months=1)


def test_an_override_amends_the_operators_own_version_of_a_rule() -> None:
    policy = operator(
        '[rules.start_consultation]\nremind_before = "2 days"\n'
        '[[overrides]]\nregion = "elz-gent"\n'
        '[overrides.rules.start_consultation]\ndue_after = "10 days"\n'
    )
    rule = {r.name: r for r in policy.rules_for("elz-gent", "youth_care")}["start_consultation"]
    assert (rule.due_after, rule.remind_before) == (Offset(days=10), Offset(days=2))


def test_read_policy_reads_the_operators_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[rules.start_consultation]\ndue_after = "2 weeks"\n')
    policy = read_policy(path)
    assert {r.name: r for r in policy.rules}["start_consultation"].due_after == Offset(days=14)
    assert policy.fingerprint != DEFAULTS.fingerprint
    with pytest.raises(PolicyError, match=r"missing\.toml"):
        read_policy(tmp_path / "missing.toml")


INVALID = {
    "unknown anchor": (
        '[rules.start_consultation]\nstarts = "referral"\n',
        ("start_consultation", "starts", "referral"),
    ),
    "unknown satisfier": (
        '[rules.start_consultation]\nsatisfied_by = "a phone call"\n',
        ("start_consultation", "satisfied_by"),
    ),
    "bad duration": (
        '[rules.three_month_consultation]\ndue_after = "3 moons"\n',
        ("three_month_consultation", "due_after", "3 moons"),
    ),
    "duration not text": (
        "[rules.three_month_consultation]\ndue_after = 90\n",
        ("three_month_consultation", "due_after"),
    ),
    "bad reminder": (
        '[rules.block_escalation]\nremind_before = "soon"\n',
        ("block_escalation", "remind_before"),
    ),
    "unknown field": (
        '[rules.start_consultation]\ndue = "1 month"\n',
        ("start_consultation", "due"),
    ),
    "missing field of a new rule": (
        '[rules.plan_sent_to_school]\nstarts = "plan_signed"\ndue_after = "1 week"\n',
        ("plan_sent_to_school", "satisfied_by"),
    ),
    "enabled not a boolean": (
        '[rules.consultation_gap]\nenabled = "no"\n',
        ("consultation_gap", "enabled"),
    ),
    "bad TOML": ('[rules.start_consultation\ndue_after = "1 month"\n', ("not valid TOML",)),
    "override naming neither region nor sector": (
        '[[overrides]]\n[overrides.rules.start_consultation]\ndue_after = "10 days"\n',
        ("overrides[0]", "region", "sector"),
    ),
    "override with an invalid rule": (
        '[[overrides]]\nregion = "elz-gent"\n'
        '[overrides.rules.start_consultation]\ndue_after = "ten days"\n',
        ("overrides[0]", "start_consultation", "due_after"),
    ),
    "override with a new rule missing a field": (
        '[[overrides]]\nsector = "education"\n'
        '[overrides.rules.school_report]\nstarts = "accepted"\n',
        ("overrides[0]", "school_report", "due_after"),
    ),
    "unknown section": ('[rule.start_consultation]\ndue_after = "1 month"\n', ("rule",)),
    "learning network not a number": (
        '[learning_network]\nsessions_per_year = "four"\n',
        ("learning_network", "sessions_per_year"),
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_policy_is_refused_naming_the_rule_and_field(case: str) -> None:
    text, named = INVALID[case]
    with pytest.raises(PolicyError) as refused:
        operator(text)
    message = str(refused.value)
    assert message.startswith("policy file ops.toml")
    for part in named:
        assert part in message, (part, message)


MALFORMED = {
    "override rules not a table": (
        '[[overrides]]\nregion = "elz-gent"\nrules = "start_consultation"\n',
        ("overrides[0]", "rules"),
    ),
    "overrides not an array of tables": ("overrides = 3\n", ("overrides",)),
    "unknown field in defaults": ('[defaults]\nremind_befor = "3 days"\n', ("remind_befor",)),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_policy_is_refused_with_a_policy_error_not_a_crash(case: str) -> None:
    """An operator's typo must stop the process with a message, not a traceback (or be ignored)."""
    text, named = MALFORMED[case]
    with pytest.raises(PolicyError) as refused:
        operator(text)
    for part in named:
        assert part in str(refused.value)


def test_a_base_policy_needs_rules() -> None:
    with pytest.raises(PolicyError, match="no \\[rules"):
        load_policy("[defaults]\n", "default policy")


# --- learning-network cadence (the rule itself: test_network_cadence.py) ------------------------


def test_the_cadence_can_be_set_in_the_policy_file() -> None:
    policy = operator("[learning_network]\nsessions_per_year = 6\nforum_sessions_per_year = 2\n")
    assert (policy.learning_sessions_per_year, policy.forum_sessions_per_year) == (6, 2)


def test_a_closing_that_names_no_one_to_follow_up_gives_no_follow_up_deadline() -> None:
    """000: the follow-up contact checks on whoever follows up the plan; closing with a reason
    why no one does leaves nothing to check."""
    facts = [Fact("consultation:end", A - 2 * ONE_DAY), Fact("closed", A)]

    found = instances(facts, [rule for rule in DEFAULTS.rules if rule.name == "follow_up_contact"])

    assert found == []
