"""``python -m benchmarks as-of``: how long an auditor's answer as of a moment takes (issue #15).

Targets: p99 ≤ 20 ms for the workload's largest trajectory and ≤ 50 ms for one of 1,000 events,
with the cost per event. Each answer reads the trajectory's events with their commit times,
opens them, folds them by the domain's code and renders the plan state (no snapshot, no read
model), as ``GET /v1/audit/trajectories/{id}/as-of`` does minus HTTP. The moments asked about
are drawn across the trajectory's life, on both axes. The heap is settled first, as the service
does once it has started (``rodedraad.wiring.settle_heap``).
"""

import json
import random
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from api.audit_views import as_of_answer
from application.audit_record import AuditRecord
from application.care_record import CareRecord
from application.commands import ReviseGoalAt, SetGoal
from application.migrations import migrate
from benchmarks import databases, machine
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
from rodedraad.wiring import build_care_record, build_policy, settle_heap, stores_of

ASKED = 300
RESULTS = Path(__file__).parent / "results"


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


def grow(app: CareRecord, trajectory_id: UUID, events: int) -> None:
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
        occurred = moment if i % 2 == 0 else None
        recorded = None if i % 2 == 0 else last
        answer = audit.as_of(trajectory_id, occurred=occurred, recorded=recorded)
        as_of_answer(trajectory_id, occurred, recorded, answer)
        seconds.append(time.perf_counter() - started)
    summary = latency_summary(seconds)
    summary["events"] = float(len(events))
    summary["us_per_event_p50"] = summary["p50"] * 1000 / len(events)
    return summary


def _run(target: databases.Target, trajectories: int, seed: int) -> dict[str, Any]:
    settings = target.settings()
    migrate(stores_of(settings), say=lambda _: None)
    app = build_care_record(settings)
    try:
        rng = random.Random(seed)  # noqa: S311 - moments to ask about, not secrets
        largest, running = _loaded(app, seed, trajectories)
        audit = AuditRecord(app, build_policy(settings))
        grow(app, running, 1000)
        # The service settles its heap once it has started; so does this process before it
        # times (without it, a full collection over the loaded workload paused an answer now
        # and then: 40-50 ms for answers otherwise under 10 ms).
        settle_heap()
        found = {"largest": _time(audit, largest, rng)}
        found["events_1000"] = _time(audit, running, rng)
        return found
    finally:
        app.close()


def main(
    trajectories: int = 200, seed: int = 1, backends: Sequence[str] = ("postgres", "sqlite")
) -> int:
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    postgres = "postgres" in backends and databases.postgres_available()
    for backend in backends:
        if backend == "postgres" and not postgres:
            print("PostgreSQL not reachable: skipped")
            continue
        target = databases.postgres_target if backend == "postgres" else databases.sqlite_target
        with target() as where:
            results[backend] = _run(where, trajectories, seed)
        for name, summary in results[backend].items():
            print(backend, name, json.dumps({k: round(v, 3) for k, v in summary.items()}))
    result = {
        "benchmark": "as-of",
        "started_at": started.isoformat(),
        "machine": machine.describe(databases.server_version() if postgres else None),
        "code": machine.code_version(),
        "plan": {"trajectories": trajectories, "seed": seed, "asked": ASKED},
        "targets_ms": {"largest": {"p99": 20.0}, "events_1000": {"p99": 50.0}},
        "results": results,
    }
    path = RESULTS / f"{started:%Y-%m-%dT%H%M}-{socket.gethostname()}-as-of-{trajectories}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results written to {path}")
    return 0
