"""Three simulated years of nine trajectories, the scheduler run on the first of every month.

On an empty database (SQLite and PostgreSQL), the commands of each trajectory's life are recorded
in the order they happened, interleaved with ``run_once`` at each monthly moment (2021-2024, all
in the past of the real clock). Then: every deadline event is recorded exactly once, at the first
run after it fell due; running every step again records nothing; the whole sequence on a fresh
database gives the very same events; and a single run at the end records the same late meetings
and those misses that were still open (the misses met late in between it sees as met late only).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest

from domain.common import Sector
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from scheduler.runner import DeadlineScheduler
from tests.integration.databases import BACKENDS
from tests.integration.scheduler_support import (
    AD_HOC,
    END,
    MDO,
    PLAN_MEETING,
    START,
    THREE_MONTH,
    Care,
    NewSettings,
    Recorded,
    assert_each_once,
    deadline_events,
    empty_databases,
    keys,
    log_events,
    moment,
    scheduler_for,
)

# --- three simulated years ------------------------------------------------------------------------

#: (day, method of ``Care``, label, further arguments): the lives of nine trajectories.
SCRIPT: list[tuple[str, str, str, tuple[Any, ...]]] = [
    # on_time: every procedure on time, closed and followed up.
    ("2021-01-04", "start", "on_time", ()),
    ("2021-01-20", "hold", "on_time", (START, "2021-03-15")),
    ("2021-01-21", "goal", "on_time", ()),
    ("2021-03-15", "hold", "on_time", (PLAN_MEETING, "2021-04-02")),
    ("2021-03-22", "sign", "on_time", ()),
    ("2021-04-02", "hold", "on_time", (THREE_MONTH, "2021-06-14")),
    ("2021-06-14", "hold", "on_time", (AD_HOC, "2021-08-16")),
    ("2021-08-16", "hold", "on_time", (AD_HOC, "2021-10-18")),
    ("2021-10-18", "hold", "on_time", (AD_HOC, "2021-12-13")),
    ("2021-12-13", "hold", "on_time", (AD_HOC, "2022-02-14")),
    ("2022-02-14", "hold", "on_time", (AD_HOC, "2022-04-11")),
    ("2022-03-14", "evaluate", "on_time", ()),
    ("2022-04-11", "hold", "on_time", (AD_HOC, "2022-06-13")),
    ("2022-06-13", "hold", "on_time", (MDO, "2022-08-15")),
    ("2022-08-15", "hold", "on_time", (AD_HOC, "2022-10-17")),
    ("2022-10-17", "hold", "on_time", (AD_HOC, "2022-12-12")),
    ("2022-12-12", "hold", "on_time", (AD_HOC, "2023-02-13")),
    ("2023-02-13", "hold", "on_time", (AD_HOC, "2023-04-17")),
    ("2023-03-06", "evaluate", "on_time", ()),
    ("2023-04-17", "hold", "on_time", (END,)),
    ("2023-04-20", "close", "on_time", ()),
    ("2023-09-18", "follow_up", "on_time", ()),
    # late: everything late, then left to drift.
    ("2021-02-08", "start", "late", ()),
    ("2021-04-19", "hold", "late", (START, "2021-05-17")),
    ("2021-08-23", "hold", "late", (THREE_MONTH, "2021-10-04")),
    ("2021-08-24", "goal", "late", ()),
    ("2021-10-04", "hold", "late", (AD_HOC, "2021-12-06")),
    ("2021-10-11", "sign", "late", ()),
    # blocked: blocked, escalated late, resolved late; blocked again and escalated in time.
    ("2021-03-08", "start", "blocked", ("elz-brugge", Sector.DISABILITY_CARE)),
    ("2021-03-15", "hold", "blocked", (START, "2021-05-17")),
    ("2021-03-16", "goal", "blocked", ()),
    ("2021-04-06", "block", "blocked", ()),
    ("2021-05-20", "escalate", "blocked", ("esc-1",)),
    ("2021-06-21", "hold", "blocked", (AD_HOC, "2021-08-23")),
    ("2021-08-10", "resolve", "blocked", ("esc-1",)),
    ("2021-08-12", "unblock", "blocked", ()),
    ("2021-08-23", "hold", "blocked", (AD_HOC, "2021-10-25")),
    ("2021-08-24", "waive", "blocked", (THREE_MONTH,)),
    ("2021-10-25", "hold", "blocked", (AD_HOC, "2022-01-10")),
    ("2021-11-08", "block", "blocked", ()),
    ("2021-11-15", "escalate", "blocked", ("esc-2",)),
    ("2021-12-06", "resolve", "blocked", ("esc-2",)),
    ("2021-12-07", "unblock", "blocked", ()),
    ("2022-01-10", "hold", "blocked", (END,)),
    ("2022-01-12", "close", "blocked", (None,)),
    # closed_with_follow_up: short, closed, followed up in time.
    ("2022-01-10", "start", "closed_with_follow_up", ("elz-gent", Sector.EDUCATION)),
    ("2022-01-20", "hold", "closed_with_follow_up", (START, "2022-03-03")),
    ("2022-03-03", "hold", "closed_with_follow_up", (END,)),
    ("2022-03-07", "close", "closed_with_follow_up", ()),
    ("2022-08-15", "follow_up", "closed_with_follow_up", ()),
    # closed_without_follow_up: nobody calls back.
    ("2022-02-07", "start", "closed_without_follow_up", ("elz-brugge",)),
    ("2022-02-14", "hold", "closed_without_follow_up", (START, "2022-03-14")),
    ("2022-03-14", "hold", "closed_without_follow_up", (END,)),
    ("2022-03-16", "close", "closed_without_follow_up", ()),
    # follow_up_late: the follow-up call comes two months late.
    ("2022-04-04", "start", "follow_up_late", ("elz-gent", Sector.MENTAL_HEALTH)),
    ("2022-04-11", "hold", "follow_up_late", (START, "2022-05-09")),
    ("2022-05-09", "hold", "follow_up_late", (END,)),
    ("2022-05-10", "close", "follow_up_late", ()),
    ("2023-01-12", "follow_up", "follow_up_late", ()),
    # declined: no deadlines at all.
    ("2022-06-06", "refer", "declined", ()),
    ("2022-06-08", "decline", "declined", ()),
    # plan_meeting_late: start waived, plan signed late after the plan meeting, then stuck.
    ("2022-09-05", "start", "plan_meeting_late", ("elz-gent", Sector.PRIMARY_CARE)),
    ("2022-09-12", "waive", "plan_meeting_late", (START,)),
    ("2022-09-13", "goal", "plan_meeting_late", ()),
    ("2022-10-10", "hold", "plan_meeting_late", (PLAN_MEETING, "2022-11-14")),
    ("2022-11-14", "hold", "plan_meeting_late", (THREE_MONTH, "2023-01-16")),
    ("2023-01-16", "hold", "plan_meeting_late", (AD_HOC, "2023-03-13")),
    ("2023-02-20", "sign", "plan_meeting_late", ()),
    ("2023-03-13", "hold", "plan_meeting_late", (AD_HOC, None)),
    ("2023-09-18", "block", "plan_meeting_late", ()),
    # never_started: accepted, then nothing.
    ("2023-05-08", "start", "never_started", ("elz-brugge",)),
]

#: The scheduler runs on the first of every month at 09:00, from February 2021 to January 2024.
STEPS = [datetime(2021 + (m // 12), m % 12 + 1, 1, 9, 0, tzinfo=UTC) for m in range(1, 37)]
FINAL = STEPS[-1]


def d(text: str) -> date:
    return date.fromisoformat(text)


def m(text: str) -> datetime:
    return moment(text, 9)


#: Every miss and late meeting of the monthly run: (trajectory, rule, due, kind) → when recorded
#: (the first monthly run after the due date, resp. after the day it was met).
EXPECTED: dict[tuple[str, str, date, str], datetime] = {
    ("late", "start_consultation", d("2021-03-08"), "missed"): m("2021-04-01"),
    ("late", "start_consultation", d("2021-03-08"), "met_late"): m("2021-05-01"),
    ("late", "trial_period_evaluation", d("2021-05-08"), "missed"): m("2021-06-01"),
    ("late", "trial_period_evaluation", d("2021-05-08"), "met_late"): m("2021-09-01"),
    ("late", "planned_consultation", d("2021-05-17"), "missed"): m("2021-06-01"),
    ("late", "planned_consultation", d("2021-05-17"), "met_late"): m("2021-09-01"),
    ("late", "consultation_gap", d("2021-07-18"), "missed"): m("2021-08-01"),
    ("late", "consultation_gap", d("2021-07-18"), "met_late"): m("2021-09-01"),
    ("late", "three_month_consultation", d("2021-07-19"), "missed"): m("2021-08-01"),
    ("late", "three_month_consultation", d("2021-07-19"), "met_late"): m("2021-09-01"),
    ("late", "plan_after_admission", d("2021-08-08"), "missed"): m("2021-09-01"),
    ("late", "plan_after_admission", d("2021-08-08"), "met_late"): m("2021-11-01"),
    ("late", "planned_consultation", d("2021-12-06"), "missed"): m("2022-01-01"),
    ("late", "consultation_gap", d("2022-01-02"), "missed"): m("2022-02-01"),
    ("late", "yearly_evaluation", d("2022-10-11"), "missed"): m("2022-11-01"),
    ("blocked", "block_escalation", d("2021-04-20"), "missed"): m("2021-05-01"),
    ("blocked", "block_escalation", d("2021-04-20"), "met_late"): m("2021-06-01"),
    ("blocked", "planned_consultation", d("2021-05-17"), "missed"): m("2021-06-01"),
    ("blocked", "planned_consultation", d("2021-05-17"), "met_late"): m("2021-07-01"),
    ("blocked", "trial_period_evaluation", d("2021-06-08"), "missed"): m("2021-07-01"),
    ("blocked", "consultation_gap", d("2021-06-13"), "met_late"): m("2021-07-01"),
    ("blocked", "three_month_consultation", d("2021-06-15"), "missed"): m("2021-07-01"),
    ("blocked", "three_month_consultation", d("2021-06-15"), "met_late"): m("2021-09-01"),
    ("blocked", "escalation_resolution", d("2021-06-19"), "missed"): m("2021-07-01"),
    ("blocked", "escalation_resolution", d("2021-06-19"), "met_late"): m("2021-09-01"),
    ("blocked", "plan_after_admission", d("2021-09-08"), "missed"): m("2021-10-01"),
    ("closed_without_follow_up", "follow_up_contact", d("2022-09-16"), "missed"): m("2022-10-01"),
    ("follow_up_late", "follow_up_contact", d("2022-11-10"), "missed"): m("2022-12-01"),
    ("follow_up_late", "follow_up_contact", d("2022-11-10"), "met_late"): m("2023-02-01"),
    ("plan_meeting_late", "plan_after_plan_meeting", d("2023-01-10"), "missed"): m("2023-02-01"),
    ("plan_meeting_late", "plan_after_plan_meeting", d("2023-01-10"), "met_late"): m("2023-03-01"),
    ("plan_meeting_late", "consultation_gap", d("2023-06-11"), "missed"): m("2023-07-01"),
    ("plan_meeting_late", "block_escalation", d("2023-10-02"), "missed"): m("2023-11-01"),
    ("never_started", "start_consultation", d("2023-06-08"), "missed"): m("2023-07-01"),
    ("never_started", "trial_period_evaluation", d("2023-08-08"), "missed"): m("2023-09-01"),
    ("never_started", "plan_after_admission", d("2023-11-08"), "missed"): m("2023-12-01"),
}


@dataclass
class Simulation:
    container: Container
    care: Care
    scheduler: DeadlineScheduler
    events: list[Recorded]


def simulate(settings: Settings, steps: list[datetime]) -> Simulation:
    """The script on an empty database, with a scheduler run at each of ``steps`` in between."""
    container = Container.build(settings, inline_projections=True)
    care = Care(container.care_record)
    scheduler = scheduler_for(container)
    timeline: list[tuple[datetime, int, Callable[[], object]]] = [
        (moment(day), index, partial(getattr(care, method), label, day, *args))
        for index, (day, method, label, args) in enumerate(SCRIPT)
    ]
    timeline += [(step, -1, partial(scheduler.run_once, step)) for step in steps]
    try:
        for _, _, action in sorted(timeline, key=lambda t: (t[0], t[1])):
            action()
    except BaseException:
        container.close()
        raise
    return Simulation(container, care, scheduler, deadline_events(container.care_record, care.ids))


@pytest.fixture(scope="module", params=BACKENDS)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NewSettings]:
    with empty_databases(request, tmp_path_factory.mktemp("simulation")) as new:
        yield new


@pytest.fixture(scope="module")
def monthly(databases: NewSettings) -> Iterator[Simulation]:
    """The three years with a run on the first of every month (shared by this module's tests)."""
    simulation = simulate(databases(), STEPS)
    yield simulation
    simulation.container.close()


def test_every_deadline_is_recorded_once_at_the_first_run_after_it_fell_due(
    monthly: Simulation,
) -> None:
    assert_each_once(monthly.events)
    found = {
        (e.trajectory, e.rule, e.due_on, e.kind): e.occurred_at
        for e in monthly.events
        if e.kind != "reminder"
    }
    assert found == EXPECTED
    for e in monthly.events:
        if e.kind == "met_late":
            assert e.met_on is not None
            assert e.met_on > e.due_on


def test_trajectories_that_follow_the_procedures_get_reminders_at_most(
    monthly: Simulation,
) -> None:
    kinds: dict[str, set[str]] = {e.trajectory: set() for e in monthly.events}
    for e in monthly.events:
        kinds[e.trajectory].add(e.kind)
    assert kinds.get("on_time", set()) <= {"reminder"}
    assert kinds.get("closed_with_follow_up", set()) <= {"reminder"}
    assert "declined" not in kinds
    assert "reminder" in kinds["on_time"]  # e.g. the plan meeting's next consultation on 2 April


def test_each_reminder_comes_at_the_first_run_within_its_window(monthly: Simulation) -> None:
    rules = {r.name: r for r in monthly.container.policy.rules}
    reminders = [e for e in monthly.events if e.kind == "reminder"]
    assert reminders
    for e in reminders:
        opens = rules[e.rule].remind_before.before(e.due_on)
        first = min(s for s in STEPS if opens <= s.date() <= e.due_on)
        assert e.occurred_at == first, e


def test_misses_still_open_show_on_the_trajectory_and_the_board(monthly: Simulation) -> None:
    still_open = keys(monthly.events, "missed") - keys(monthly.events, "met_late")
    with monthly.container.worker.database.transaction() as tx:
        board = dict(tx.fetchall("SELECT id, open_deadlines FROM rm_trajectories"))
    for label, tid in monthly.care.ids.items():
        expected = sorted(f"{rule}@{due}" for (lbl, rule, due) in still_open if lbl == label)
        trajectory = monthly.container.care_record.trajectory(tid)
        assert sorted(trajectory.open_missed_deadlines) == expected, label
        assert sorted(filter(None, board[str(tid)].split(","))) == expected, label


def test_running_every_step_again_records_nothing(monthly: Simulation) -> None:
    size = len(log_events(monthly.container.care_record))
    for step in STEPS:
        assert monthly.scheduler.run_once(step).recorded == 0, step
    assert len(log_events(monthly.container.care_record)) == size


def test_the_whole_sequence_on_a_fresh_database_gives_the_same_events(
    monthly: Simulation, databases: NewSettings
) -> None:
    replay = simulate(databases(), STEPS)
    replay.container.close()
    assert sorted(replay.events) == sorted(monthly.events)


def test_a_single_run_at_the_end_records_the_late_meetings_and_the_misses_still_open(
    monthly: Simulation, databases: NewSettings
) -> None:
    final = simulate(databases(), [FINAL])
    final.container.close()
    once, every_month = final.events, monthly.events
    assert_each_once(once)
    assert {e.occurred_at for e in once} == {FINAL}

    def met_late(events: list[Recorded]) -> set[tuple[str, str, date, date | None]]:
        return {(e.trajectory, e.rule, e.due_on, e.met_on) for e in events if e.kind == "met_late"}

    assert met_late(once) == met_late(every_month)
    # A miss met late before the end is, seen only at the end, met late and no more.
    assert keys(once, "missed") == keys(every_month, "missed") - keys(every_month, "met_late")
    assert keys(once, "reminder") <= keys(every_month, "reminder")
