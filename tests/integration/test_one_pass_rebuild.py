"""The one-pass rebuild (issue #22): every projection fed from one read of the log, in windows.

``rebuild_many`` reads the log once, decodes each event once and applies windows of many events
to every projection's fresh ``*_next`` tables, one transaction per window (a trajectory whose
events fall in one window has its row written once; rows new to a table are copied in). What
it builds must be, row by row, what the live worker built batch by batch; a projection failing
mid-way must leave the live tables serving, untouched, and every position where it was.
"""

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from application.care_record import CareRecord
from projections.store import Tx
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_projection_worker
from tests.integration.databases import read_models, rows
from tests.integration.stories import Story, tell


@pytest.fixture
def story(record: CareRecord) -> Story:
    """A seeded story of six clients, erasures among its possible steps."""
    told = Story(record, clients=6)
    tell(told, steps=160, seed=22)
    return told


@pytest.fixture
def live(own_settings: Settings, record: CareRecord, story: Story) -> Iterator[ProjectionWorker]:
    """The live worker, which followed the story in batches of three events."""
    worker = build_projection_worker(own_settings, record)
    worker.batch_size = 3
    worker.catch_up()
    yield worker
    worker.database.close()


@pytest.fixture
def rebuilder(own_settings: Settings, record: CareRecord) -> Iterator[ProjectionWorker]:
    """A second worker, on a connection of its own, that rebuilds."""
    worker = build_projection_worker(own_settings, record)
    yield worker
    worker.database.close()


@pytest.mark.parametrize(
    ("window", "subjects", "page", "ahead"),
    [
        (1, 1, 1, 1),
        (7, 3, 2, 1),
        (7, 3, 2, 0),
        (50, 1_000, 1000, 2),
        (20_000, 4_000, 1000, 0),
        (20_000, 4_000, 1000, 1),
    ],
    ids=[
        "one event",
        "seven events or three records",
        "seven events, none read ahead",
        "fifty events, two read ahead",
        "default",
        "default windows, one read ahead",
    ],
)
def test_a_one_pass_rebuild_equals_row_by_row_what_the_live_worker_built(
    live: ProjectionWorker,
    rebuilder: ProjectionWorker,
    window: int,
    subjects: int,
    page: int,
    ahead: int,
) -> None:
    followed = read_models(live.database, live.projections)
    head = live.head()
    assert head > 100, "the story should be long enough to need many windows"
    rebuilder.rebuild_window, rebuilder.rebuild_subjects = window, subjects
    rebuilder.batch_size = max(1, page // 5)
    rebuilder.rebuild_read_ahead = ahead

    position = rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert position == head
    assert read_models(live.database, live.projections) == followed
    assert live.positions() == {p.name: head for p in live.projections}
    tracked = rows(live.database, "SELECT name FROM rm_tracking")
    assert sorted(name for (name,) in tracked) == sorted(p.name for p in live.projections)


def test_a_projection_failing_mid_rebuild_leaves_the_live_tables_serving_and_untouched(
    live: ProjectionWorker,
    rebuilder: ProjectionWorker,
    story: Story,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    followed = read_models(live.database, live.projections)
    head = live.head()
    rebuilder.rebuild_window, rebuilder.rebuild_subjects = 40, 1_000
    rebuilder.rebuild_read_ahead = 1  # the thread reading ahead must stop with the failure too
    failing = rebuilder.projection("deadlines")
    windows: list[int] = []
    apply = failing.apply

    def fails_on_the_third_window(tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        windows.append(len(batch))
        if len(windows) == 3:
            raise RuntimeError("deadlines broke mid-rebuild")
        apply(tx, batch, suffix)

    monkeypatch.setattr(failing, "apply", fails_on_the_third_window)

    with pytest.raises(RuntimeError, match="deadlines broke mid-rebuild"):
        rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert len(windows) == 3
    assert not [t for t in threading.enumerate() if t.name == "rebuild-reader"], (
        "the thread reading ahead stops with the rebuild"
    )
    assert read_models(live.database, live.projections) == followed
    assert live.positions() == {p.name: head for p in live.projections}
    # The live worker goes on following the log meanwhile...
    tell(story, steps=20, seed=23)
    live.catch_up()
    assert live.positions() == {p.name: live.head() for p in live.projections}
    followed = read_models(live.database, live.projections)
    # ...and the next rebuild starts afresh and ends where the live worker stands.
    monkeypatch.setattr(failing, "apply", apply)
    assert rebuilder.rebuild_many([p.name for p in rebuilder.projections]) == live.head()
    assert read_models(live.database, live.projections) == followed


def test_a_failure_reading_ahead_stops_the_rebuild_and_leaves_the_live_tables_serving(
    live: ProjectionWorker, rebuilder: ProjectionWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    followed = read_models(live.database, live.projections)
    rebuilder.rebuild_window, rebuilder.rebuild_subjects, rebuilder.batch_size = 40, 1_000, 8
    rebuilder.rebuild_read_ahead = 1
    decoded = rebuilder._decoded
    pages: list[int] = []

    def fails_on_the_fifth_page(notifications: Sequence[Any]) -> list[tuple[int, Any]]:
        pages.append(len(notifications))
        if len(pages) == 5:
            raise RuntimeError("the log could not be read")
        return decoded(notifications)

    monkeypatch.setattr(rebuilder, "_decoded", fails_on_the_fifth_page)

    with pytest.raises(RuntimeError, match="the log could not be read"):
        rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert len(pages) == 5
    assert not [t for t in threading.enumerate() if t.name == "rebuild-reader"]
    assert read_models(live.database, live.projections) == followed
    assert live.positions() == {p.name: live.head() for p in live.projections}
