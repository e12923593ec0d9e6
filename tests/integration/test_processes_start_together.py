"""Processes that start at the same moment (the API and the projection worker of a deployment)
migrate the stores and set up the read models once between them, without tripping over each
other."""

import threading
from pathlib import Path

import pytest

from application.care_record import CareRecord
from application.migrations import MIGRATIONS, migration_status
from projections.worker import ProjectionWorker
from rodedraad.wiring import build_care_record, build_projection_worker, stores_of
from tests.integration.databases import fresh_settings

pytestmark = pytest.mark.postgres


def test_read_models_are_created_once_by_processes_starting_together(
    postgres_url: str, tmp_path: Path
) -> None:
    with fresh_settings("postgres", tmp_path) as settings:
        apps: list[CareRecord] = []
        workers: list[ProjectionWorker] = []
        failures: list[BaseException] = []
        go = threading.Barrier(4)

        def start(index: int) -> None:
            try:
                go.wait()
                app = build_care_record(settings)  # creates the event store's table, function
                apps.append(app)
                workers.append(build_projection_worker(settings, app))
            except BaseException as error:  # noqa: BLE001 - reported in the main thread
                failures.append(error)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        try:
            assert failures == []
            assert len(workers) == len(apps) == 4
            assert all(w.positions() == workers[0].positions() for w in workers)
            assert set(workers[0].positions()) == {
                "plan_state",
                "timeline",
                "deadlines",
                "organisations",
                "statistics",
                "learning_networks",
            }
            applied = migration_status(stores_of(settings)).applied
            assert sorted(a.label for a in applied) == sorted(m.label for m in MIGRATIONS)
        finally:
            for worker in workers:
                worker.database.close()
            for app in apps:
                app.close()
