"""After a batch with a client's erasure, the worker scrubs the tables that held their data.

The plan state's rows of an erased client are rewritten with placeholders; the old versions of
those rows must not linger in free pages or the write-ahead log (``VACUUM`` on PostgreSQL, a
truncating checkpoint on SQLite). The scrub runs once per batch that holds an erasure, on the
tables whose rows an erasure rewrites, and never after a batch without one (a ``VACUUM`` per
batch would slow every worker down).
"""

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from application.care_record import CareRecord
from application.commands import EraseClient
from projections.store import ProjectionDatabase
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_projection_worker
from tests.integration.stories import Story, tell
from tests.support import context, said


class ScrubsNoted:
    """The worker's database, noting the tables each scrub was asked for."""

    def __init__(self, inner: ProjectionDatabase) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.scrubbed: list[list[str]] = []

    def transaction(self) -> Any:
        return self.inner.transaction()

    def scrub(self, tables: Sequence[str]) -> None:
        self.scrubbed.append(list(tables))
        self.inner.scrub(tables)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def worker(own_settings: Settings, record: CareRecord) -> Iterator[ProjectionWorker]:
    built = build_projection_worker(own_settings, record)
    built.database = ScrubsNoted(built.database)
    yield built
    built.database.close()


def test_the_worker_scrubs_the_plan_state_after_a_batch_with_an_erasure(
    record: CareRecord, worker: ProjectionWorker
) -> None:
    story = Story(record, clients=2)
    tell(story, steps=20, seed=7)
    worker.catch_up()
    ctx = context()
    erasure = said(EraseClient, ctx, legal_basis="gdpr_request")
    record.erase_client(ctx, story.threads[0].client_id, None, erasure)

    worker.catch_up()

    assert isinstance(worker.database, ScrubsNoted)
    assert worker.database.scrubbed == [["rm_trajectories"]]


def test_batches_without_an_erasure_scrub_nothing(
    record: CareRecord, worker: ProjectionWorker
) -> None:
    worker.batch_size = 5
    tell(Story(record, clients=2), steps=20, seed=7)

    worker.catch_up()

    assert isinstance(worker.database, ScrubsNoted)
    assert worker.database.scrubbed == []
