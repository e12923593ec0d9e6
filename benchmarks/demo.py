"""``python -m benchmarks demo``: a populated embedded service for a newcomer.

Loads realistic trajectories (the benchmark workload, seeded) and every region's learning
network with the forum into the embedded data dir, brings the read models up to date, records
the deadlines already missed and releases the statistics of every closed period (what the
service's scheduler would do on its first run), so that ``make run`` afterwards serves a board
with blocked and at-risk trajectories, networks with a few years of themes, meetings and
signals, and a process map per region that draws real edges.

**Dense enough for the process map** (issue #23): with k = 10, a region's year must hold a few
hundred trajectories before disclosure control lets ten transitions through. Under the laws
(rule set 3, the default) a node's big edge beside small ones is withheld more often, so the
demo is larger than it was under rule set 2 (at 1,200 trajectories the densest map drew 9
under the laws, at 1,500 10 in two regions only): ``SIZE`` trajectories referred over
``YEARS`` years (about 170 per region and year) make the densest region's map of the last
closed year draw more than ten edges and withhold others (``tests/e2e/test_demo_data.py``
asserts it). About 4 minutes alone on two cores, 6 beside a test run.
"""

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.networks import load_networks, network_script
from benchmarks.workload import BatchLoader, LoadStats, generate, organisations_registered_on
from domain.deadlines import DeadlinePolicy
from projections.statistics.dynamics import DYNAMICS
from projections.statistics.store import ReleaseDescription
from projections.store import ProjectionDatabase
from rodedraad.settings import Settings, SettingsError
from rodedraad.wiring import (
    build_care_record,
    build_deadline_scheduler,
    build_policy,
    build_projection_worker,
    build_release_store,
    build_releases,
)

#: The demo's default size: trajectories referred over ``YEARS`` years.
SIZE = 2000
YEARS = 2
#: The region the printed URLs show (the README's example coordinator works there).
REGION = "west-flanders"


def _settings(data_dir: Path) -> Settings:
    """The service's settings from the environment, with the demo's data dir."""
    environ = {**os.environ, "RODEDRAAD_DATA_DIR": str(data_dir)}
    return Settings.from_env(environ)


def release_closed_periods(
    settings: Settings, policy: DeadlinePolicy, read_models: ProjectionDatabase
) -> list[ReleaseDescription]:
    """Every closed period's statistics release, as the service's scheduler makes them on its
    first run (``Releases.run_due``): the learning networks' process maps and trends."""
    releases = build_releases(settings, policy, read_models)
    try:
        return releases.run_due()
    finally:
        releases.store.close()


def densest_map(settings: Settings) -> tuple[int, str] | None:
    """The newest release (of a year where there is one: the default grid) and its region
    whose process map draws the most edges: the map the demo points to."""
    store = build_release_store(settings)
    try:
        drawn = [
            (sum(1 for row in rows if row.category.startswith("edge:")), release, region)
            for release in store.releases()
            for region, rows in sorted(store.cells(release.number, DYNAMICS).items())
        ]
    finally:
        store.close()
    drawn = [found for found in drawn if found[0] > 0]
    if not drawn:
        return None
    _, release, region = max(
        drawn, key=lambda d: ("Q" not in d[1].period, d[1].period, d[0], d[1].number)
    )
    return release.number, region


def main(size: int = SIZE, data_dir: Path = Path("var"), seed: int = 7, years: int = YEARS) -> int:
    try:
        settings = _settings(data_dir)
    except SettingsError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    where = "PostgreSQL" if settings.database.is_postgres else str(settings.database.sqlite_path)
    print(f"Loading {size} demo trajectories into {where} …", file=sys.stderr)
    started = time.perf_counter()
    care_record = build_care_record(settings)
    before = care_record.recorder.max_notification_id() or 0
    care_record.close()

    loader = BatchLoader(settings, batch_size=100)
    try:
        stats: LoadStats = loader.load(
            generate(seed, size, years=years),
            # On an empty record only: a second demo load finds them registered already.
            organisations_registered_on=organisations_registered_on() if before == 0 else None,
        )
        # Every region's learning network and the forum, over the same years (issue #14): on
        # an empty record only, as the organisations (a network is established once).
        networks = load_networks(loader, network_script(seed)) if before == 0 else 0
    finally:
        loader.close()

    care_record = build_care_record(settings)
    try:
        policy = build_policy(settings)
        worker = build_projection_worker(settings, care_record, policy=policy)
        try:
            worker.catch_up()
            scheduler = build_deadline_scheduler(settings, care_record, policy, worker=worker)
            try:
                report = scheduler.run_once(datetime.now(UTC))
            finally:
                scheduler.database.close()
            worker.catch_up()
            positions = worker.positions()
            print(
                "Releasing the statistics of every closed period not released yet, under "
                "disclosure control (minutes on two cores) …",
                file=sys.stderr,
            )
            released = release_closed_periods(settings, policy, worker.database)
        finally:
            worker.database.close()
        head = care_record.recorder.max_notification_id() or 0
    finally:
        care_record.close()

    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(stats.outcomes.items()))
    print(
        f"Loaded {stats.trajectories} trajectories ({outcomes}): {stats.events:,} events, "
        f"and {networks:,} events of the regions' learning networks and the forum; "
        f"the scheduler recorded {report.recorded} deadline facts (missed or met late); "
        f"{len(released)} statistics releases "
        f"({', '.join(f'{r.period} under {r.rule_set}' for r in released)}); "
        f"read models at "
        f"{min(positions.values()) if positions else 0} of {head} "
        f"({time.perf_counter() - started:.1f} s).",
        file=sys.stderr,
    )
    if before:
        print(
            f"(The store already held {before} events; the demo was added to them.)",
            file=sys.stderr,
        )
    shown = densest_map(settings)
    process_map = (
        f"  a process map:  http://127.0.0.1:8000/ui/statistics/releases/{shown[0]}"
        f"/process-map?region={shown[1]} (as a learning_network of {shown[1]})\n"
        if shown is not None
        else ""
    )
    print(
        "\nThe pages, after `RODEDRAAD_UI_LOCAL_SIGN_IN=true make run` (sign in on the form: "
        f"a coordinator of yc-wvl-1, a learning_network or auditor of {REGION}):\n"
        "  the board:      http://127.0.0.1:8000/ui/board\n"
        "  a trajectory:   follow a row of the board, or "
        "http://127.0.0.1:8000/ui/trajectories/{id} (its thread: …/{id}/thread.svg)\n"
        f"{process_map}"
        "  the trend:      http://127.0.0.1:8000/ui/statistics/trend\n"
        "\nOr the API, in another terminal:\n"
        "  TOKEN=$(.venv/bin/rodedraad token --user an --org yc-wvl-1 --role coordinator "
        "--region west-flanders)\n"
        '  curl -s -H "Authorization: Bearer $TOKEN" '
        "'http://127.0.0.1:8000/v1/board?region=west-flanders&limit=5'\n"
        '  curl -s -H "Authorization: Bearer $TOKEN" '
        "'http://127.0.0.1:8000/v1/trajectories?organisation=yc-wvl-1&limit=5'",
        file=sys.stderr,
    )
    return 0
