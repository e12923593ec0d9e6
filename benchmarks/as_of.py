"""``python -m benchmarks as-of``: how long an auditor's answer as of a moment takes (issue #15).

Targets: p99 ≤ 20 ms for the workload's largest trajectory and ≤ 50 ms for one of 1,000 events,
with the cost per event. Each answer reads the trajectory's events with their commit times,
opens them, folds them by the domain's code and renders the plan state (no snapshot, no read
model), as ``GET /v1/audit/trajectories/{id}/as-of`` does minus HTTP. The moments asked about
are drawn across the trajectory's life, on both axes.
"""

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from application.audit_record import AuditRecord
from application.care_record import CareRecord
from application.commands import ReviseGoalAt, SetGoal
from application.migrations import migrate
from benchmarks.stats import latency_summary
from benchmarks.workload import (
    Ids,
    actor,
    generate,
    organisations_registered_on,
    register_organisations,
    run_step,
)
from domain.common import CommandContext
from domain.trajectory import RUNNING
from projections.views import trajectory_view
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, stores_of

ASKED = 300


def _loaded(app: CareRecord, seed: int, count: int) -> tuple[UUID, UUID]:
    """Load ``count`` workload trajectories: the one with the most events, and a running one."""
    register_organisations(app, organisations_registered_on())
    largest: tuple[int, UUID] | None = None
    running: UUID | None = None
    for trajectory in generate(seed, count):
        ids = Ids()
        for step in trajectory.steps:
            run_step(app, step, ids)
        assert ids.trajectory is not None
        loaded = app.trajectory(ids.trajectory)
        if largest is None or loaded.version > largest[0]:
            largest = (loaded.version, ids.trajectory)
        if loaded.status in RUNNING:
            running = ids.trajectory
    assert largest is not None
    assert running is not None, "the workload has no running trajectory to grow"
    return largest[1], running


def _grown(app: CareRecord, trajectory_id: UUID, events: int) -> None:
    """Grow a running trajectory to ``events`` events: a goal revised again and again, a
    second apart, after everything it holds."""
    t = app.trajectory(trajectory_id)
    who = actor(t.coordinating_organisation or t.intake_organisation)
    start = t.last_recorded_at + timedelta(minutes=1)

    def ctx(n: int) -> CommandContext:
        return CommandContext(
            actor=who,
            occurred_at=start + timedelta(seconds=n),
            correlation_id="benchmark",
            causation_id=None,
            now=datetime.now(UTC),
        )

    first = ctx(0)
    goal = SetGoal(occurred_at=first.occurred_at, goal_id="bench", description="b")
    app.change_trajectory(first, trajectory_id, None, goal)
    n = 1
    while app.trajectory(trajectory_id).version < events:
        at = ctx(n)
        revised = ReviseGoalAt(
            goal_id="bench", occurred_at=at.occurred_at, description=f"b{n}", reason="r"
        )
        app.change_trajectory(at, trajectory_id, None, revised)
        n += 1


def _time(audit: AuditRecord, trajectory_id: UUID, rng: random.Random) -> dict[str, float]:
    events = [e for e, _ in audit.trajectory_facts(trajectory_id)]
    first, last = events[0].occurred_at, max(e.timestamp for e in events)
    seconds = []
    for i in range(ASKED):
        moment = first + (last - first) * rng.random()
        started = time.perf_counter()
        answer = audit.as_of(
            trajectory_id,
            occurred=moment if i % 2 == 0 else None,
            recorded=None if i % 2 == 0 else last,
        )
        trajectory_view(answer.trajectory)
        seconds.append(time.perf_counter() - started)
    summary = latency_summary(seconds)
    summary["events"] = float(len(events))
    summary["us_per_event_p50"] = summary["p50"] * 1000 / len(events)
    return summary


def main(trajectories: int = 200, seed: int = 1) -> int:
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.from_env(
            {
                "RODEDRAAD_DATA_DIR": directory,
                "RODEDRAAD_DATABASE_URL": f"sqlite:///{Path(directory) / 'rodedraad.sqlite'}",
            }
        )
        migrate(stores_of(settings), say=lambda _: None)
        app = build_care_record(settings)
        try:
            rng = random.Random(seed)  # noqa: S311 - moments to ask about, not secrets
            largest, running = _loaded(app, seed, trajectories)
            audit = AuditRecord(app)
            print(f"largest of {trajectories} workload trajectories:", _time(audit, largest, rng))
            _grown(app, running, 1000)
            print("one of 1,000 events:", _time(audit, running, rng))
        finally:
            app.close()
    return 0
