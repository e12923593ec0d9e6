"""``python -m benchmarks demo``: a populated embedded service for a newcomer.

Loads a few hundred realistic trajectories (the benchmark workload, seeded) and every region's
learning network with the forum into the embedded data dir, brings the read models up to date
and records the deadlines already missed, so that ``make run`` afterwards serves a board with
blocked and at-risk trajectories and networks with a few years of themes, meetings and signals.
"""

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.networks import load_networks, network_script
from benchmarks.workload import BatchLoader, LoadStats, generate, organisations_registered_on
from rodedraad.settings import Settings, SettingsError
from rodedraad.wiring import (
    build_care_record,
    build_deadline_scheduler,
    build_policy,
    build_projection_worker,
)


def _settings(data_dir: Path) -> Settings:
    """The service's settings from the environment, with the demo's data dir."""
    environ = {**os.environ, "RODEDRAAD_DATA_DIR": str(data_dir)}
    return Settings.from_env(environ)


def main(size: int = 300, data_dir: Path = Path("var"), seed: int = 7) -> int:
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
            generate(seed, size),
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
    print(
        "\nNow run `make run`, then in another terminal:\n"
        "  TOKEN=$(.venv/bin/rodedraad token --user an --org yc-wvl-1 --role coordinator "
        "--region west-flanders)\n"
        '  curl -s -H "Authorization: Bearer $TOKEN" '
        "'http://127.0.0.1:8000/v1/board?region=west-flanders&limit=5'\n"
        '  curl -s -H "Authorization: Bearer $TOKEN" '
        "'http://127.0.0.1:8000/v1/trajectories?organisation=yc-wvl-1&limit=5'",
        file=sys.stderr,
    )
    return 0
