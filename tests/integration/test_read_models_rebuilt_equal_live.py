"""Read models followed live equal read models rebuilt from zero, and equal the record itself.

Hypothesis tells random but valid stories of several trajectories through the CareRecord. A
projection worker follows the log while the story is told, a few events at a time (batches of
three, sometimes one batch, sometimes a full catch-up between two commands). Then every
projection is rebuilt from position zero, in batches of another size, and every row of every
read model must be the same as before; and each trajectory's plan state must be exactly the
document the aggregate renders. Each example tells its story on an empty log of its own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from application.care_record import CareRecord
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.integration.databases import (
    BACKENDS,
    emptied_afterwards,
    fresh_postgres_database,
    read_models,
    require_backend,
)
from tests.integration.stories import Story, assert_read_models_equal_the_record

CLIENTS = 3
LIVE_BATCH = 3

#: After a command: nothing, one batch of each projection, or everything recorded so far.
FOLLOW = st.sampled_from(["nothing", "nothing", "one batch", "one batch", "catch up"])

STEP = st.tuples(
    st.integers(0, CLIENTS - 1),  # whose trajectory
    st.integers(0, 10_000),  # which of the commands allowed now, and its details
    st.integers(0, 30),  # days that pass first
    st.integers(0, 4).map(lambda n: n == 0),  # recorded late: it happened on an earlier day
    FOLLOW,
)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    """The backend, and on PostgreSQL a database of this module's own, emptied per example."""
    require_backend(request, request.param)
    if request.param == "sqlite":
        yield "sqlite", None
        return
    with fresh_postgres_database() as url:
        yield "postgres", url


@contextmanager
def empty_log(
    backend: tuple[str, str | None], data_dir: Path
) -> Iterator[tuple[Settings, CareRecord]]:
    """Settings and a CareRecord on an empty log of their own."""
    with emptied_afterwards(*backend, data_dir) as settings_:
        record = build_care_record(settings_)
        try:
            yield settings_, record
        finally:
            record.close()


@contextmanager
def projection_worker(
    settings_: Settings, record: CareRecord, batch_size: int
) -> Iterator[ProjectionWorker]:
    """A worker as the composition root builds it, on a database connection of its own."""
    worker = build_projection_worker(settings_, record)
    worker.batch_size = batch_size
    try:
        yield worker
    finally:
        worker.database.close()


def _follow(worker: ProjectionWorker, how: str) -> None:
    if how == "one batch":
        for projection in worker.projections:
            worker.process_batch(projection)
    elif how == "catch up":
        worker.catch_up()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No shrinking: a story takes ~0.1 s to tell, so shrinking one would take minutes. A
    # failing story is printed as generated; its steps replay it (Story.step, in order).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    steps=st.lists(STEP, min_size=10, max_size=60),
    rebuild_batch=st.sampled_from([1, 4, 1000]),
)
def test_read_models_rebuilt_from_zero_equal_those_followed_live_and_the_record(
    backend: tuple[str, str | None],
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, int, int, bool, str]],
    rebuild_batch: int,
) -> None:
    with (
        empty_log(backend, tmp_path_factory.mktemp("log")) as (settings_, record),
        projection_worker(settings_, record, LIVE_BATCH) as worker,
    ):
        story = Story(record, clients=CLIENTS)
        for slot, choice, advance, late, follow in steps:
            told = story.step(slot, choice, advance, late)
            hypothesis.event(f"command: {told or 'refused'}")
            _follow(worker, follow)
        assert story.refused == [], "the story should tell only commands the rules allow"
        worker.catch_up()
        head = worker.head()
        everywhere = {projection.name: head for projection in worker.projections}
        assert worker.positions() == everywhere
        live = read_models(worker.database, worker.projections)

        with projection_worker(settings_, record, rebuild_batch) as rebuilder:
            for projection in rebuilder.projections:
                assert rebuilder.rebuild(projection.name) == head
        assert worker.positions() == everywhere
        assert read_models(worker.database, worker.projections) == live

        assert_read_models_equal_the_record(worker, story)
