"""The one-pass rebuild (issue #22): every projection fed from one read of the log, in windows.

``rebuild_many`` reads the log once, decodes each event once and applies windows of many events
to every projection's fresh ``*_next`` tables, one transaction per window (a trajectory whose
events fall in one window has its row written once; rows new to a table are copied in). What
it builds must be, row by row, what the live worker built batch by batch; a projection failing
mid-way must leave the live tables serving, untouched, and every position where it was. On
PostgreSQL it may split the work by record over child processes: the same tables, the same
positions, a failing child as harmless as a failing projection.
"""

import functools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from application.care_record import CareRecord
from application.commands import EraseClient
from projections.store import Tx, share_of
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_projection_worker, build_share_worker
from tests.integration.databases import read_models, rows
from tests.integration.stories import Story, tell
from tests.support import context, said


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
    # This process's pass (a failing child of a split one: ``test_split_rebuild``).
    rebuilder.rebuild_processes = 1
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
    rebuilder.rebuild_processes = 1
    decoded = rebuilder._decoded
    pages: list[int] = []

    def fails_on_the_fifth_page(
        notifications: Sequence[Any], interned: dict[Any, Any] | None = None
    ) -> list[tuple[int, Any]]:
        pages.append(len(notifications))
        if len(pages) == 5:
            raise RuntimeError("the log could not be read")
        return decoded(notifications, interned)

    monkeypatch.setattr(rebuilder, "_decoded", fails_on_the_fifth_page)

    with pytest.raises(RuntimeError, match="the log could not be read"):
        rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert len(pages) == 5
    assert not [t for t in threading.enumerate() if t.name == "rebuild-reader"]
    assert read_models(live.database, live.projections) == followed
    assert live.positions() == {p.name: live.head() for p in live.projections}


# --- split by record over child processes (PostgreSQL) -------------------------------------------
# ``rebuild_many`` hands the projections whose rows each belong to one trajectory (``by_record``)
# to ``rebuild_processes`` spawned children; each reads the log, decodes only the events of its
# share of the records (and every client's erasure) and writes the same ``*_next`` tables,
# tracked in rows of its own. SQLite keeps its rebuild in one process (one writer).


def _split_only(settings: Settings) -> None:
    if not settings.database.is_postgres:
        pytest.skip("SQLite has one writer: its rebuild stays in one process")


def _work_for_both_shares(story: Story) -> None:
    """Trajectory ids are random, so a story's few may all fall into one of two shares: a
    client not erased below is referred again until each share has a trajectory."""
    thread = story.threads[-1]
    while {share_of(t, 2) for t in story.trajectory_ids} != {0, 1}:
        story._refer(thread, thread.day, c=0, continues_from=None)


def _erase_two_clients(record: CareRecord, story: Story, live: ProjectionWorker) -> None:
    """Two clients erased after the live worker wrote their rows; it follows the erasures."""
    for thread in story.threads[:2]:
        ctx = context()
        record.erase_client(
            ctx, thread.client_id, None, said(EraseClient, ctx, legal_basis="gdpr_request")
        )
    live.catch_up()


def _counted_worker(settings: Settings, marks: Path) -> ProjectionWorker:
    """A child's worker that leaves a mark: the split did run in children."""
    with (marks / "children").open("a") as f:
        f.write("child\n")
    return build_share_worker(settings)


def _failing_worker(settings: Settings) -> ProjectionWorker:
    """A child's worker whose deadlines projection breaks on its second window."""
    worker = build_share_worker(settings)
    failing = worker.projection("deadlines")
    apply = failing.apply
    windows: list[int] = []

    def breaks(tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        windows.append(len(batch))
        if len(windows) == 2:
            raise RuntimeError("deadlines broke in a child")
        apply(tx, batch, suffix)

    failing.apply = breaks  # type: ignore[method-assign]
    return worker


def _tables(worker: ProjectionWorker) -> dict[str, list[tuple[Any, ...]]]:
    return read_models(worker.database, worker.projections)


@pytest.mark.parametrize(
    ("window", "subjects", "page"),
    [(7, 3, 5), (60, 1_000, 25), (20_000, 4_000, 1000)],
    ids=["seven events or three records", "sixty events", "default"],
)
def test_a_rebuild_split_by_record_equals_the_live_tables_and_the_one_process_rebuild(
    own_settings: Settings,
    record: CareRecord,
    story: Story,
    live: ProjectionWorker,
    rebuilder: ProjectionWorker,
    tmp_path: Path,
    window: int,
    subjects: int,
    page: int,
) -> None:
    _split_only(own_settings)
    _work_for_both_shares(story)
    _erase_two_clients(record, story, live)
    followed = _tables(live)
    head = live.head()
    trajectories = rows(live.database, "SELECT id FROM rm_trajectories")
    assert {share_of(UUID(t), 2) for (t,) in trajectories} == {0, 1}, "both shares have work"
    rebuilder.rebuild_window, rebuilder.rebuild_subjects = window, subjects
    rebuilder.batch_size = max(1, page // 5)
    rebuilder.rebuild_split_min_events = 0  # the split, whatever the log's length
    rebuilder.share_worker = functools.partial(_counted_worker, own_settings, tmp_path)

    assert rebuilder.rebuild_many([p.name for p in rebuilder.projections]) == head

    assert (tmp_path / "children").read_text().count("child") == 2
    assert _tables(live) == followed
    assert live.positions() == {p.name: head for p in live.projections}
    tracked = rows(live.database, "SELECT name FROM rm_tracking")
    assert sorted(name for (name,) in tracked) == sorted(p.name for p in live.projections)
    # One process, the same log: the same tables.
    rebuilder.rebuild_processes = 1
    assert rebuilder.rebuild_many([p.name for p in rebuilder.projections]) == head
    assert _tables(live) == followed


def test_a_child_failing_leaves_the_live_tables_serving_and_the_next_rebuild_starts_afresh(
    own_settings: Settings, live: ProjectionWorker, rebuilder: ProjectionWorker, story: Story
) -> None:
    _split_only(own_settings)
    followed = _tables(live)
    head = live.head()
    rebuilder.rebuild_window, rebuilder.rebuild_subjects = 40, 1_000
    rebuilder.rebuild_split_min_events = 0  # the split, whatever the log's length
    rebuilder.share_worker = functools.partial(_failing_worker, own_settings)

    with pytest.raises(RuntimeError, match="deadlines broke in a child"):
        rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert _tables(live) == followed
    assert live.positions() == {p.name: head for p in live.projections}
    tell(story, steps=20, seed=23)
    live.catch_up()
    followed = _tables(live)
    rebuilder.rebuild_split_min_events = 0  # the split, whatever the log's length
    rebuilder.share_worker = functools.partial(build_share_worker, own_settings)
    assert rebuilder.rebuild_many([p.name for p in rebuilder.projections]) == live.head()
    assert _tables(live) == followed
    tracked = rows(live.database, "SELECT name FROM rm_tracking")
    assert sorted(name for (name,) in tracked) == sorted(p.name for p in live.projections)


@pytest.mark.postgres
def test_postgresql_and_python_put_a_record_in_the_same_share(postgres_url: str) -> None:
    """The share a child reads (PostgreSQL's filter on the raw id) is the share whose records
    its projections apply (``share_of``): else a record's events would go to one share and its
    erasure's rewrite to the other."""
    import uuid

    import psycopg

    ids = [uuid.uuid4() for _ in range(64)] + [UUID(int=i) for i in (0, 1, 255, 256, 257)]
    with psycopg.connect(postgres_url) as conn:
        for shares in (2, 3):
            found = [
                row[0]
                for row in conn.execute(
                    "SELECT get_byte(uuid_send(u), 15) %% %s FROM unnest(%s::uuid[]) AS u",
                    (shares, ids),
                ).fetchall()
            ]
            assert found == [share_of(u, shares) for u in ids]


def test_a_rebuild_copying_every_table_in_binary_form_equals_the_live_tables(
    own_settings: Settings,
    live: ProjectionWorker,
    rebuilder: ProjectionWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A story is too short for a window of 200 rows of one table, so the rebuilds above copy
    in text form only: here every copy goes the binary way (sealed bytea, erased trajectories,
    NULLs and all), and the tables come out as the live worker built them."""
    from application import sql

    if not own_settings.database.is_postgres:
        pytest.skip("binary COPY is PostgreSQL's; SQLite inserts rows")
    monkeypatch.setattr(sql, "COPY_AS_THEY_ARE", 1)
    copied = sql.PostgresTx._copy
    binary: list[str] = []

    def noting(self: Any, statement: str, rows: Any, types: Any = None) -> None:
        copied(self, statement, rows, types)
        if types is not None:  # copied in binary form, not refused and sent again as text
            binary.append(statement.split()[1])

    monkeypatch.setattr(sql.PostgresTx, "_copy", noting)
    followed = read_models(live.database, live.projections)

    rebuilder.rebuild_many([p.name for p in rebuilder.projections])

    assert read_models(live.database, live.projections) == followed
    assert {"rm_trajectories", "rm_timeline", "rm_deadlines"} <= {
        t.removesuffix("_next") for t in binary
    }


def test_a_rebuild_leaves_every_table_it_built_analysed_for_postgresqls_planner(
    own_settings: Settings, live: ProjectionWorker, rebuilder: ProjectionWorker
) -> None:
    """Freshly filled tables have no statistics until autovacuum comes by (never where it is
    off, as on this machine's server), and PostgreSQL then plans a region's list as a sort of
    all its trajectories (issue #22: 62 ms against 0.7). A rebuild analyses what it built."""
    if not own_settings.database.is_postgres:
        pytest.skip("SQLite's planner is left to its defaults")
    tables = sorted(table for p in rebuilder.projections for table in p.tables)
    analysed = (
        "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) "
        "AND last_analyze >= %s AND schemaname = current_schema()"
    )
    with psycopg.connect(own_settings.database.url, autocommit=True) as conn:
        (started,) = conn.execute("SELECT now()").fetchone()  # type: ignore[misc]

        rebuilder.rebuild_many([p.name for p in rebuilder.projections])

        assert sorted(r for (r,) in conn.execute(analysed, [tables, started])) == tables
        # Only ANALYZE fills ``pg_stats`` (an index build or a VACUUM sets a table's size, not
        # what its columns hold): the planner now knows how the regions are spread.
        regions = conn.execute(
            "SELECT n_distinct FROM pg_stats WHERE tablename = 'rm_trajectories' "
            "AND attname = 'region' AND schemaname = current_schema()"
        ).fetchall()
    assert len(regions) == 1
    assert rows(live.database, "SELECT id FROM rm_trajectories"), "the story has trajectories"
