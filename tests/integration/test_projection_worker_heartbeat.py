"""A projection worker tells ``/health`` how it fares through its heartbeat (issue #10)."""

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from projections.store import Tx
from projections.tracking import TrackingQueries
from projections.worker import PollingWakeup, ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.integration.stories import Story, TxRunner, tell


class Broken:
    """A projection that fails on every batch, as a bug in one would."""

    name, version, tables, personal_tables = "broken", 1, (), ()

    def ddl(self, suffix: str, generation: str) -> list[str]:
        return []

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        raise RuntimeError("a projection bug")


def heartbeats(worker: ProjectionWorker) -> list[tuple[str, float, str]]:
    return asyncio.run(TrackingQueries(TxRunner(worker.database)).heartbeats())


def test_a_worker_whose_projection_fails_says_so_in_its_heartbeat(own_settings: Settings) -> None:
    record = build_care_record(own_settings)
    worker = build_projection_worker(own_settings, record)
    worker.projections = (*worker.projections, Broken())
    worker.ensure_ready()
    tell(Story(record, clients=1), steps=3, seed=1)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, PollingWakeup(0.05)), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        beats = heartbeats(worker)
        while not beats and time.monotonic() < deadline:
            time.sleep(0.05)
            beats = heartbeats(worker)
    finally:
        stop.set()
        thread.join(timeout=10)
        worker.database.close()
        record.close()

    assert [(name, state) for name, _, state in beats] == [(worker.name, "failing: RuntimeError")]
