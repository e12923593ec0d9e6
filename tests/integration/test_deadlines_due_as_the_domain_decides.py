"""What the deadlines read model finds due is exactly what the domain's deadline rules decide.

The scheduler asks the read model what is due (``DeadlineQueries.due``: one indexed SQL query
over ``rm_deadlines``), while the rules live in the domain (``domain.deadlines``: ``instances``
gives a trajectory's deadlines, ``due_actions`` what is due of them at a moment). Hypothesis
generates trajectories' dated facts, a policy (rules and a regional override) and a moment,
some deadlines already recorded as missed, met late or reminded; the read model stores the
facts as the projection does, and the deadlines it returns as due must be the domain's missed,
met-late and reminder deadlines: none more, none fewer, none of another kind. So the SQL and
the rules cannot drift apart.
"""

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.common import ConsultationKind, Sector
from domain.deadlines import (
    Anchor,
    Deadline,
    DeadlinePolicy,
    DeadlineRule,
    Fact,
    Offset,
    Satisfier,
    due_actions,
    instances,
)
from projections.deadlines import DeadlineQueries, DeadlinesProjection
from projections.store import (
    PostgresProjectionDatabase,
    ProjectionDatabase,
    SqliteProjectionDatabase,
)
from tests.integration.databases import BACKENDS, fresh_postgres_database, require_backend

REGIONS = ("elz-a", "elz-b")
FIRST_DAY = date(2025, 1, 1)

#: Every kind of fact the projection derives from events, except the scheduler's own records.
FACT_KINDS = (
    "accepted",
    "declined",
    *(f"consultation:{kind.value}" for kind in ConsultationKind),
    *(f"waived:{kind.value}" for kind in ConsultationKind),
    "plan_signed",
    "evaluation_planned",
    "evaluated",
    "blocked",
    "unblocked",
    "escalation_raised",
    "escalation_resolved",
    "closed",
    "follow_up",
)
#: What the scheduler records of a deadline, as the facts the projection keeps of it.
RECORDED_KINDS = ("deadline_missed", "deadline_met_late", "deadline_reminded")

days = st.integers(0, 400).map(lambda n: FIRST_DAY + timedelta(days=n))

facts = st.lists(
    st.builds(
        Fact,
        kind=st.sampled_from(FACT_KINDS),
        on=days,
        due=st.none() | days,
        ref=st.none() | st.sampled_from(["esc-1", "esc-2", "org-follow-up"]),
    ),
    min_size=4,
    max_size=20,
).map(lambda found: sorted(found, key=lambda f: f.on))  # in the order they happened

rules = st.lists(
    st.builds(
        DeadlineRule,
        name=st.sampled_from(["rule-a", "rule-b", "rule-c", "rule-d"]),
        source=st.just("generated"),
        expected=st.sampled_from(["a consultation", "an evaluation", "a signed plan"]),
        starts=st.sampled_from(Anchor),
        due_after=st.builds(Offset, months=st.integers(0, 4), days=st.integers(0, 40)),
        satisfied_by=st.sampled_from(Satisfier),
        remind_before=st.builds(Offset, months=st.integers(0, 1), days=st.integers(0, 30)),
        enabled=st.integers(0, 5).map(bool),  # mostly enabled
    ),
    max_size=4,
    unique_by=lambda rule: rule.name,
)

policies = st.builds(
    lambda base, regional: DeadlinePolicy(
        rules=tuple(base), overrides=(("elz-b", None, tuple(regional)),)
    ),
    rules.filter(bool),
    rules,
)

#: The date in UTC decides (a run at 23:30 in Brussels is the next day's run in UTC).
zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])

moments = st.datetimes(
    min_value=datetime(2024, 12, 1),  # noqa: DTZ001 - hypothesis adds the time zone
    max_value=datetime(2026, 6, 1),  # noqa: DTZ001
    timezones=zones,
)

Trajectory = tuple[str, str, list[Fact]]  # region, sector, facts in the order they happened


@st.composite
def trajectories(draw: st.DrawFn, policy: DeadlinePolicy) -> Trajectory:
    """A trajectory's facts, and records of some of its own deadlines as missed, met late or
    reminded (what the scheduler recorded before: those are not due again)."""
    region = draw(st.sampled_from(REGIONS))
    sector = draw(st.sampled_from(Sector)).value
    found = draw(facts)
    recorded = [
        Fact(kind, draw(days), due=deadline.due_on, ref=deadline.rule)
        for deadline in instances(found, policy.rules_for(region, sector))
        for kind in draw(st.sets(st.sampled_from(RECORDED_KINDS)) | st.just(set()))
    ]
    return region, sector, sorted([*found, *recorded], key=lambda f: f.on)


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProjectionDatabase]:
    """The deadlines read model's tables, on each backend in turn (emptied per example)."""
    require_backend(request, request.param)
    with ExitStack() as stack:
        opened: ProjectionDatabase = (
            PostgresProjectionDatabase(stack.enter_context(fresh_postgres_database()))
            if request.param == "postgres"
            else SqliteProjectionDatabase(tmp_path_factory.mktemp("due") / "readmodels.sqlite")
        )
        stack.callback(opened.close)
        with opened.transaction() as tx:
            for statement in DeadlinesProjection(DeadlinePolicy(rules=())).ddl("", "due"):
                tx.execute(statement)
        yield opened


def moments_near(
    stored: dict[str, Trajectory], policy: DeadlinePolicy
) -> st.SearchStrategy[datetime]:
    """Mostly a moment on a day where the rules turn (the day before, of and after a due date,
    a reminder date, a date met), sometimes any moment."""
    turning = sorted(
        {
            day + timedelta(days=shift)
            for region, sector, trajectory_facts in stored.values()
            for d in instances(trajectory_facts, policy.rules_for(region, sector))
            for day in (d.due_on, d.remind_on, d.met_on)
            if day is not None
            for shift in (-1, 0, 1)
        }
    )
    if not turning:
        return moments
    on_a_turning_day = st.builds(
        lambda day, hour, zone: datetime(day.year, day.month, day.day, hour, tzinfo=UTC).astimezone(
            zone
        ),
        st.sampled_from(turning),
        st.integers(0, 23),
        zones,
    )
    return on_a_turning_day | moments


def what_the_domain_decides(
    stored: dict[str, Trajectory], policy: DeadlinePolicy, now: datetime
) -> list[tuple[str, str, str, date, str, date | None]]:
    found = []
    for tid, (region, sector, trajectory_facts) in stored.items():
        due = due_actions(instances(trajectory_facts, policy.rules_for(region, sector)), now)
        kinds: list[tuple[str, list[Deadline]]] = [
            ("missed", due.missed),
            ("met_late", due.met_late),
            ("reminder", due.reminders),
        ]
        found += [
            (kind, tid, d.rule, d.due_on, d.expected, d.met_on) for kind, ds in kinds for d in ds
        ]
    return sorted(found, key=repr)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), policy=policies)
def test_the_deadlines_the_read_model_finds_due_are_those_the_domain_rules_decide(
    database: ProjectionDatabase, data: st.DataObject, policy: DeadlinePolicy
) -> None:
    stored = {
        str(uuid4()): data.draw(trajectories(policy)) for _ in range(data.draw(st.integers(1, 4)))
    }
    now = data.draw(moments_near(stored, policy))
    with database.transaction() as tx:
        tx.execute("DELETE FROM rm_deadlines")
        tx.execute("DELETE FROM rm_deadline_facts")
        DeadlinesProjection(policy).write_facts(tx, stored)

    found = [
        (d.kind, str(d.trajectory_id), d.rule, d.due_on, d.expected, d.met_on)
        for d in DeadlineQueries(database).due(now)
    ]

    decided = what_the_domain_decides(stored, policy, now)
    for kind in {row[0] for row in decided}:
        hypothesis.event(f"due: {kind}")
    assert sorted(found, key=repr) == decided
