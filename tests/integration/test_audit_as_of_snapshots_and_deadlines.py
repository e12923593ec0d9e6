"""Issue #15 on each backend: an answer about T may start from a snapshot committed by T and
gives what the fold from the referral gives; never from one committed after T; and the
deadlines of the scheduler's policy stand in the answer as they stood at T."""

from datetime import UTC, datetime, timedelta

from benchmarks.as_of import grow

from application.audit_record import AuditRecord
from application.care_record import CareRecord
from application.commit_times import SNAPSHOT_TIMES
from domain.as_of import fold
from projections.views import trajectory_view
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from scheduler.policy import read_policy
from tests.integration.stories import Story
from tests.integration.test_audit_record import _accepted as accepted_trajectory


def _accepted(record: CareRecord) -> tuple[Story, object]:
    story, trajectory = accepted_trajectory(record)
    return story, trajectory.id


def _full_fold(audit: AuditRecord, trajectory_id: object) -> dict[str, object]:
    events = [e for e, _ in audit.trajectory_facts(trajectory_id)]  # type: ignore[arg-type]
    folded = fold(events)
    assert folded is not None
    return trajectory_view(folded)  # type: ignore[no-any-return]


def test_an_answer_starts_from_a_snapshot_committed_by_then_and_folds_the_same(
    own_settings: Settings,
) -> None:
    record = build_care_record(own_settings)
    try:
        _, trajectory_id = _accepted(record)
        grow(record, trajectory_id, 120)  # type: ignore[arg-type]
        audit = AuditRecord(record)

        answer = audit.as_of(trajectory_id, occurred=None, recorded=datetime.now(UTC))  # type: ignore[arg-type]

        assert answer.from_snapshot >= 100
        assert trajectory_view(answer.trajectory) == _full_fold(audit, trajectory_id)
    finally:
        record.close()


def test_a_snapshot_committed_after_the_moment_is_never_used(own_settings: Settings) -> None:
    record = build_care_record(own_settings)
    try:
        _, trajectory_id = _accepted(record)
        grow(record, trajectory_id, 60)  # type: ignore[arg-type]
        later = datetime.now(UTC) + timedelta(days=1)
        recorder: object = record.snapshots.recorder  # type: ignore[union-attr]
        postgres = own_settings.database.is_postgres
        stamp = later if postgres else later.isoformat(timespec="microseconds")
        with recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            mark = "%s" if postgres else "?"
            cursor.execute(f"UPDATE {SNAPSHOT_TIMES} SET committed_at = {mark}", (stamp,))
        audit = AuditRecord(record)

        answer = audit.as_of(trajectory_id, occurred=None, recorded=datetime.now(UTC))  # type: ignore[arg-type]

        assert answer.from_snapshot == 0
        assert trajectory_view(answer.trajectory) == _full_fold(audit, trajectory_id)
    finally:
        record.close()


def test_the_start_consultation_is_open_after_acceptance_and_due_a_month_later(
    own_settings: Settings,
) -> None:
    record = build_care_record(own_settings)
    try:
        story, trajectory_id = _accepted(record)
        audit = AuditRecord(record, read_policy(None))

        def standing(day: int) -> str:
            answer = audit.as_of(trajectory_id, occurred=story.at(day), recorded=None)  # type: ignore[arg-type]
            found = {d.rule: s.value for d, s in answer.deadlines}
            return found.get("start_consultation", "none")

        assert standing(1) == "none"  # referred, not yet accepted: no clock runs
        assert standing(3) == "open"
        assert standing(40) == "due"
    finally:
        record.close()
