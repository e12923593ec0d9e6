"""Exactly once: a projection stores its position in the same transaction as its read model.

A worker that dies in the middle of a batch, or after writing the read model but before
storing its position, leaves the read model and the position as they were before the batch.
A worker started afterwards then counts every event exactly once: nothing missed, nothing
twice. Two workers following one log at the same time serialise on the tracking row.
"""

import dataclasses
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from application.care_record import CareRecord
from application.commands import Refer
from domain.common import Sector
from domain.errors import DomainError
from projections import worker as worker_module
from projections.store import Tx
from projections.worker import Projection, ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_projection_worker
from tests.integration.databases import read_models
from tests.integration.stories import (
    REFERRER,
    Story,
    assert_read_models_equal_the_record,
    tell,
)
from tests.support import said

BATCH = 5


class WorkerDied(Exception):
    """Stands for a crash: the process killed, the connection lost, a bug in a projection."""


class DiesHalfwayThroughABatch:
    """A projection that applies the first half of its batch, then dies.

    It counts the rows of its tables inside the transaction before dying, so the test can
    tell that something really was written, and then rolled back.
    """

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.tables = inner.tables
        self.personal_tables = inner.personal_tables
        self.rows_before: int | None = None
        self.rows_when_dying: int | None = None

    def ddl(self, suffix: str, generation: str) -> list[str]:
        return self.inner.ddl(suffix, generation)

    def _count(self, tx: Tx, suffix: str) -> int:
        return sum(
            int(tx.fetchall(f"SELECT COUNT(*) FROM {table}{suffix}")[0][0]) for table in self.tables
        )

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        self.rows_before = self._count(tx, suffix)
        self.inner.apply(tx, batch[: len(batch) // 2 + 1], suffix)
        self.rows_when_dying = self._count(tx, suffix)
        raise WorkerDied(f"{self.name} died halfway through a batch of {len(batch)}")


@pytest.fixture
def story(record: CareRecord) -> Story:
    """Three clients' trajectories, 90 commands long: every kind of event, many batches."""
    told = Story(record, clients=3)
    tell(told, steps=90, seed=3)
    return told


def worker_on(settings: Settings, record: CareRecord) -> ProjectionWorker:
    """A worker as a freshly started process builds it: its own database connection."""
    worker = build_projection_worker(settings, record)
    worker.batch_size = BATCH
    return worker


def past_the_clients(worker: ProjectionWorker, story: Story) -> None:
    """Process the clients' registrations and one batch of trajectory events, no more."""
    worker.batch_size = story.clients_registered_at
    for projection in worker.projections:
        worker.process_batch(projection)
    worker.batch_size = BATCH
    for projection in worker.projections:
        worker.process_batch(projection)


def test_a_worker_dying_halfway_through_a_batch_leaves_read_models_and_positions_untouched(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    worker = worker_on(own_settings, record)
    past_the_clients(worker, story)
    before, positions = read_models(worker.database, worker.projections), worker.positions()
    dying = [DiesHalfwayThroughABatch(p) for p in worker.projections]
    doomed = ProjectionWorker(record, worker.database, dying, batch_size=BATCH)

    for projection in dying:
        with pytest.raises(WorkerDied):
            doomed.process_batch(projection)

    timeline = next(p for p in dying if p.name == "timeline")
    assert timeline.rows_when_dying is not None
    assert timeline.rows_before is not None
    assert timeline.rows_when_dying > timeline.rows_before, "the crash came after writing"
    assert worker.positions() == positions
    assert read_models(worker.database, worker.projections) == before
    worker.database.close()


def test_a_worker_restarted_after_dying_halfway_counts_every_event_exactly_once(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    first = worker_on(own_settings, record)
    dying = [DiesHalfwayThroughABatch(p) for p in first.projections]
    doomed = ProjectionWorker(record, first.database, dying, batch_size=BATCH)
    past_the_clients(first, story)
    for projection in dying:
        with pytest.raises(WorkerDied):
            doomed.process_batch(projection)
    first.database.close()

    restarted = worker_on(own_settings, record)
    restarted.catch_up()

    assert_read_models_equal_the_record(restarted, story)
    live = read_models(restarted.database, restarted.projections)
    for projection in restarted.projections:
        restarted.rebuild(projection.name)
    assert read_models(restarted.database, restarted.projections) == live
    restarted.database.close()


def test_a_worker_dying_after_writing_but_before_storing_its_position_redoes_the_batch(
    own_settings: Settings,
    record: CareRecord,
    story: Story,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = worker_on(own_settings, record)
    past_the_clients(worker, story)
    before, positions = read_models(worker.database, worker.projections), worker.positions()

    def die(*_: object) -> None:
        raise WorkerDied("died between the read model and the position")

    with monkeypatch.context() as patched:
        patched.setattr(worker_module, "write_tracking", die)
        for projection in worker.projections:
            with pytest.raises(WorkerDied):
                worker.process_batch(projection)
    assert worker.positions() == positions
    assert read_models(worker.database, worker.projections) == before

    worker.catch_up()
    assert_read_models_equal_the_record(worker, story)
    worker.database.close()


def test_two_workers_following_one_log_at_once_count_every_event_exactly_once(
    own_settings: Settings, record: CareRecord
) -> None:
    story = Story(record, clients=4)
    workers = [worker_on(own_settings, record) for _ in range(2)]
    for worker in workers:
        worker.batch_size = 2
    telling_done = threading.Event()
    failures: list[BaseException] = []

    def tell_the_story() -> None:
        try:
            tell(story, steps=80, seed=11)
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            failures.append(error)
        finally:
            telling_done.set()

    def follow(worker: ProjectionWorker) -> None:
        try:
            while not telling_done.is_set():
                worker.catch_up()
            worker.catch_up()
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            failures.append(error)

    threads = [threading.Thread(target=tell_the_story)] + [
        threading.Thread(target=follow, args=(worker,)) for worker in workers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert not any(thread.is_alive() for thread in threads)
    for worker in workers:
        assert_read_models_equal_the_record(worker, story)
        worker.database.close()


def test_a_fact_at_the_ends_of_the_calendar_is_refused_or_projected_never_stopping_the_log(
    own_settings: Settings, record: CareRecord
) -> None:
    """A moment such as 0001-01-01T00:00+14:00 lies before year 1 in UTC.

    Either the record refuses it, or the projections process it: an event they cannot
    process would stop every read model at that position for good, and with inline
    projections every later command would answer 500 although it was recorded.
    """
    story = Story(record, clients=1)
    worker = worker_on(own_settings, record)
    moments = [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))),
    ]
    for moment in moments:
        ctx = dataclasses.replace(story.ctx(0, REFERRER), occurred_at=moment)
        try:
            record.refer(
                ctx,
                said(
                    Refer,
                    ctx,
                    client_id=story.threads[0].client_id,
                    question="Wie helpt?",
                    client_criteria=(),
                    referrer_engagement="",
                    sector=Sector.YOUTH_CARE,
                    region="elz-gent",
                ),
            )
        except DomainError:
            continue
    tell(story, steps=5, seed=5)

    worker.catch_up()

    assert worker.positions() == {p.name: worker.head() for p in worker.projections}
    worker.database.close()
