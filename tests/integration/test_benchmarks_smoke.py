"""The benchmark suite's smoke test: the workload obeys the domain's rules, a tiny run reports.

Every generated trajectory runs through ``CareRecord``'s use cases one command at a time (the
API's path, each rule checked) without a refusal, the same scripts load in bulk to the same
events, and a tiny quick run against PostgreSQL produces every figure the JSON report names.
"""

from pathlib import Path
from uuid import UUID

import pytest
from benchmarks import report, suite
from benchmarks.databases import Target
from benchmarks.workload import BatchLoader, Ids, default_as_of, generate, run_step

from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.integration.databases import fresh_postgres_database

AS_OF = default_as_of()
TINY = 25


def test_every_generated_trajectory_passes_the_domain_rules(sqlite_settings: Settings) -> None:
    scripts = list(generate(3, TINY, as_of=AS_OF))
    assert scripts == list(generate(3, TINY, as_of=AS_OF)), "the workload is reproducible"
    assert {s.outcome for s in scripts} >= {"closed", "open"}
    app = build_care_record(sqlite_settings)
    try:
        commands = 0
        for trajectory in scripts:
            ids = Ids()
            for step in trajectory.steps:
                assert step.occurred_at.date() < AS_OF
                run_step(app, step, ids)  # a refused command raises: the test fails
                commands += 1
        assert commands == sum(len(s.steps) for s in scripts)
        assert app.recorder.max_notification_id() == commands
    finally:
        app.close()


def test_bulk_loading_records_the_same_events_readable_by_the_application(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {
            "RODEDRAAD_DATABASE_URL": f"sqlite:///{tmp_path / 'bulk.sqlite'}",
            "RODEDRAAD_DATA_DIR": str(tmp_path),
        }
    )
    loader = BatchLoader(settings, batch_size=7)
    try:
        stats = loader.load(generate(3, TINY, as_of=AS_OF))
    finally:
        loader.close()
    assert stats.trajectories == TINY
    assert (
        stats.events == stats.commands == sum(len(s.steps) for s in generate(3, TINY, as_of=AS_OF))
    )

    # Sealed with the application's own keys: a freshly built application reads every name.
    app = build_care_record(settings)
    try:
        notifications = app.recorder.select_notifications(start=1, limit=stats.events)
        clients = [n.originator_id for n in notifications if n.topic.endswith("Registered")]
        names = [app.client(UUID(str(c))).personal.name for c in clients]
    finally:
        app.close()
    assert len(names) == TINY
    assert all(name is not None and " " in name for name in names), names


@pytest.mark.postgres
def test_a_tiny_quick_run_reports_every_figure(postgres_url: str, tmp_path: Path) -> None:
    plan = suite.Plan(
        mode="quick",
        size="tiny",
        trajectories=10,
        repeats=1,
        warmup=0.05,
        window=0.3,
        baseline_window=0.1,
        concurrencies=(1, 8),
        app_concurrencies=(1,),
        rebuild_repeats=1,
        lag_seconds=0.3,
        queries_per_kind=3,
        backends=("postgres",),
    )
    # A database of its own: the suite samples trajectories from the whole read model.
    with fresh_postgres_database() as url:
        result = suite.run_on(plan, {"postgres": Target("postgres", url, tmp_path)})
    figures = report.quick_figures(result, tmp_path / "result.json")

    pg = figures["postgres"]
    assert set(pg["http"]) == {"1", "8"}
    for clients in pg["http"].values():
        assert clients["errors"] == 0
        assert clients["commands_per_second"]["median"] > 0
        assert set(clients["latency_ms"]) == {"p50", "p95", "p99"}
        assert clients["baseline_commits_per_second"]["median"] > 0
        assert clients["ratio_to_baseline"]["median"] > 0
    assert pg["append"]["1"]["ratio_to_baseline"]["median"] > 0
    assert {"plan_state", "timeline", "all"} <= set(pg["rebuild_events_per_second"])
    assert set(pg["lag_ms"]) >= {"plan_state", "all"}
    assert {
        "plan_state",
        "timeline",
        "board_organisation",
        "board_region",
        "list",
        "audit_history",
        "audit_reads",
    } <= set(pg["queries_ms"])
    assert "statistics" in pg["rebuild_events_per_second"]
    assert pg["statistics_seconds"]["read_units"]["median"] >= 0
    assert set(pg["memory_mib"]) == {"serve", "projections"}
    assert pg["consistency_ok"] is True
    assert figures["machine"]["cores"] >= 1
    assert {t["target"] for t in figures["targets"]} >= {"plan state p99 (ms)"}
    assert "| PostgreSQL | HTTP | 8 |" in report.table(result)
