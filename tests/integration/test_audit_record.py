"""Issue #15 on each backend: histories recorded before the ordering rules are reported, never
changed; and stores made before commit times answer about earlier moments approximately, and
say so."""

from datetime import UTC, datetime

from eventsourcing.domain import Aggregate

from application.audit_record import AuditRecord
from application.care_record import CareRecord
from application.commit_times import COMMIT_TIMES
from application.migrations import RECORDS_TABLE
from domain.trajectory import Trajectory
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.integration.conftest import Rodedraad
from tests.integration.stories import COORDINATOR, Story


def _accepted(record: CareRecord) -> tuple[Story, Trajectory]:
    story = Story(record, clients=1)
    thread = story.threads[0]
    story._refer(thread, 1, 0, None)
    trajectory = record.trajectory(thread.trajectories[-1])
    story._accept(trajectory, 2, 0)
    return story, record.trajectory(trajectory.id)


def test_a_fact_recorded_before_the_rules_is_reported_and_kept(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    record = build_care_record(own_settings)
    try:
        story, trajectory = _accepted(record)
        # As a version before issue #15 could record it: a goal set while only referred.
        Aggregate.trigger_event(
            trajectory,
            Trajectory.GoalSet,
            actor=COORDINATOR,
            occurred_at=story.at(1, minutes=30),
            correlation_id="before-the-rules",
            causation_id=None,
            goal_id="goal-early",
            description="Back to school",
        )
        record.group_commit.save(trajectory)
    finally:
        record.close()

    code, out, _ = rodedraad(own_settings, "audit", "check-order")

    assert code == 1
    assert f"{trajectory.id} v3 GoalSet: fact-within-its-status" in out
    record = build_care_record(own_settings)
    try:
        assert "goal-early" in record.trajectory(trajectory.id).goals
    finally:
        record.close()


def test_a_store_made_before_commit_times_answers_earlier_moments_approximately(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    record = build_care_record(own_settings)
    try:
        _, trajectory = _accepted(record)
        database = own_settings.database
        # The store as a version before issue #15 left it: no stamps, migration not run.
        mark = "%s" if database.is_postgres else "?"
        _execute(record, f"DELETE FROM {COMMIT_TIMES}")
        _execute(
            record, f"DELETE FROM {RECORDS_TABLE} WHERE name = {mark}", "0004_commit_times_before"
        )
    finally:
        record.close()
    before = datetime.now(UTC)

    code, out, _ = rodedraad(own_settings, "migrate")
    assert code == 0, out

    record = build_care_record(own_settings)
    try:
        audit = AuditRecord(record)
        earlier = audit.as_of(trajectory.id, occurred=None, recorded=before)
        assert not earlier.exact
        assert earlier.trajectory.version == 2  # the events' own timestamps, taken before
        now = audit.as_of(trajectory.id, occurred=None, recorded=datetime.now(UTC))
        assert now.exact
        assert now.trajectory.version == 2
    finally:
        record.close()


def _execute(record: CareRecord, sql: str, *params: object) -> None:
    datastore = record.recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(sql, params)
