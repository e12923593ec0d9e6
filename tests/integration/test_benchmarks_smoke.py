"""The benchmark suite's smoke test: the workload obeys the domain's rules, a tiny run reports.

Every generated trajectory and every learning-network step runs through ``CareRecord``'s use
cases one command at a time (the API's path, each rule checked) without a refusal, the same
scripts load in bulk to the same events, and a tiny quick run against PostgreSQL produces every
figure the JSON report names, the network projection's rebuild over events of its own among them.
"""

from pathlib import Path
from uuid import UUID

import pytest
from benchmarks import report, suite
from benchmarks.databases import Target
from benchmarks.networks import load_networks, network_script, run_network_step
from benchmarks.workload import (
    REGIONS,
    BatchLoader,
    Ids,
    default_as_of,
    generate,
    organisation_registrations,
    organisations_registered_on,
    register_organisations,
    run_step,
)

from application.care_record import CareRecord
from domain.learning_network import (
    MeetingKind,
    NetworkLevel,
    SignalStatus,
    ThemeStatus,
    network_id,
)
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


def _networks_hold_a_year_of_work_each(app: CareRecord) -> None:
    """Each region's network and the forum did what 001 asks of them over the years."""
    networks = {network_id(NetworkLevel.MESO, region) for region, _ in REGIONS}
    forum = app.learning_network(network_id(NetworkLevel.MACRO, None))
    assert set(app.learning_networks()) == networks | {forum.id}
    for network in map(app.learning_network, networks):
        full_years = range(network.established_at.year + 1, AS_OF.year)
        for year in full_years:
            held = [k for _, k, day in network.meetings if day.year == year]
            assert held.count(MeetingKind.LEARNING_NETWORK) >= 4, (network.region, year)
            assert held.count(MeetingKind.SECTOR_CONSULTATION) >= 1, (network.region, year)
        assert network.lessons_years >= set(range(network.established_at.year, AS_OF.year - 1))
        assert {t.status for t in network.themes.values()} >= {ThemeStatus.CLOSED}
        assert {s.status for s in network.signals.values()} & {
            SignalStatus.ANSWERED,
            SignalStatus.ESCALATED,
            SignalStatus.CLOSED,
        }
        assert any(len(i.measurements) >= 2 for i in network.improvements.values())
        assert 100 <= network.version <= 500, "a few hundred events per region, not thousands"
    assert any(
        s.status == SignalStatus.ESCALATED
        for n in networks
        for s in app.learning_network(n).signals.values()
    )
    assert forum.signals, "the forum received the regions' escalated signals"
    assert [k for _, k, _ in forum.meetings].count(MeetingKind.FORUM) >= 5


def test_every_generated_learning_network_step_passes_the_domain_rules(
    sqlite_settings: Settings,
) -> None:
    steps = network_script(3, AS_OF)
    assert steps == network_script(3, AS_OF), "the networks' script is reproducible"
    assert all(step.occurred_at.date() < AS_OF for step in steps)
    app = build_care_record(sqlite_settings)
    try:
        register_organisations(app, organisations_registered_on(AS_OF))
        for step in steps:
            run_network_step(app, step)  # a refused command raises: the test fails
        _networks_hold_a_year_of_work_each(app)
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
    steps = network_script(3, AS_OF)
    try:
        stats = loader.load(
            generate(3, TINY, as_of=AS_OF),
            organisations_registered_on=organisations_registered_on(AS_OF),
        )
        network_events = load_networks(loader, steps)
    finally:
        loader.close()
    escalations = sum(1 for step in steps if step.command == "escalate_policy_signal")
    assert network_events == len(steps) + escalations, "an escalation is recorded on the forum too"
    assert stats.trajectories == TINY
    registered = len(organisation_registrations(organisations_registered_on(AS_OF)))
    assert (
        stats.events - registered
        == stats.commands
        == sum(len(s.steps) for s in generate(3, TINY, as_of=AS_OF))
    )

    # Sealed with the application's own keys: a freshly built application reads every name.
    app = build_care_record(settings)
    try:
        notifications = app.recorder.select_notifications(start=1, limit=stats.events)
        clients = [n.originator_id for n in notifications if n.topic.endswith("Client.Registered")]
        names = [app.client(UUID(str(c))).personal.name for c in clients]
        _networks_hold_a_year_of_work_each(app)
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
        "page_trajectory",
        "page_board_organisation",
        "page_board_region",
        "page_as_of",
    } <= set(pg["queries_ms"])
    assert "statistics" in pg["rebuild_events_per_second"]
    assert "learning_networks" in pg["rebuild_events_per_second"]
    own = pg["rebuild_projection_events"]
    assert own["learning_networks"] > 0, "the networks' projection rebuilt over their events"
    assert own["plan_state"] > 0
    assert pg["statistics_seconds"]["read_units"]["median"] >= 0
    assert set(pg["memory_mib"]) == {"serve", "projections"}
    assert pg["consistency_ok"] is True
    assert figures["machine"]["cores"] >= 1
    assert {t["target"] for t in figures["targets"]} >= {
        "plan state p99 (ms)",
        "a trajectory page p99 (ms)",
    }
    assert "| PostgreSQL | HTTP | 8 |" in report.table(result)
