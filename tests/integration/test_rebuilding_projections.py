"""Rebuilds: ``rodedraad projections rebuild NAME`` and a changed projection version.

A rebuild builds a fresh copy beside the live read model from position zero and switches over;
what it ends with is what following the log gave, whatever the live copy had become.
"""

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from application.care_record import CareRecord
from application.commands import EraseClient, RegisterClient
from projections.plan_state.projection import PlanStateProjection
from projections.worker import ProjectionWorker
from rodedraad import cli
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.integration.databases import read_models, rows
from tests.integration.raw_files import sqlite_files
from tests.integration.stories import Story, tell
from tests.support import context, said


@pytest.fixture
def worker(own_settings: Settings, record: CareRecord) -> Iterator[ProjectionWorker]:
    """A worker that has followed a story of three clients to its end."""
    tell(Story(record, clients=3), steps=60, seed=21)
    following = build_projection_worker(own_settings, record)
    following.catch_up()
    yield following
    following.database.close()


def tamper(worker: ProjectionWorker) -> None:
    """Damage the live read models the way only a rebuild repairs."""
    with worker.database.transaction() as tx:
        tx.execute("UPDATE rm_trajectories SET region = 'tampered', doc = '{}'")
        tx.execute("DELETE FROM rm_timeline WHERE kind = 'referred'")


@pytest.fixture
def run_cli(own_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``rodedraad`` as an operator runs it, with the environment pointing at this database."""
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(own_settings.data_dir))
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", own_settings.database.url)
    # The command configures structlog for its process; keep the test session's logging as it is.
    monkeypatch.setattr("rodedraad.logs.configure_logging", lambda *_, **__: None)
    return monkeypatch


def test_rebuilding_all_projections_from_the_command_line_restores_them_and_shows_progress(
    worker: ProjectionWorker,
    run_cli: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    followed = read_models(worker.database, worker.projections)
    head = worker.head()
    tamper(worker)

    assert cli.main(["projections", "rebuild", "all"]) == 0

    err = capsys.readouterr().err
    rebuilt = next(line for line in err.splitlines() if "rebuilt up to log position" in line)
    assert rebuilt.endswith(f"rebuilt up to log position {head}")
    assert all(projection.name in rebuilt for projection in worker.projections)
    assert "events/s" in err
    assert f"/{head} events" in err
    finished = [line for line in err.splitlines() if f"{head}/{head} events" in line]
    assert len(finished) == 1, "the last progress line is said once (an outside walk: twice)"
    assert read_models(worker.database, worker.projections) == followed
    assert worker.positions() == {p.name: head for p in worker.projections}


def test_rebuilding_one_projection_from_the_command_line_leaves_the_others_alone(
    worker: ProjectionWorker,
    run_cli: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    followed = read_models(worker.database, worker.projections)
    tamper(worker)

    assert cli.main(["projections", "rebuild", "timeline"]) == 0

    now = read_models(worker.database, [worker.projection("timeline")])
    assert now["rm_timeline"] == followed["rm_timeline"]
    regions = {row[0] for row in rows(worker.database, "SELECT region FROM rm_trajectories")}
    assert regions == {"tampered"}
    assert "timeline: rebuilt up to log position" in capsys.readouterr().err


def test_rebuilding_an_unknown_projection_exits_2_and_names_the_known_ones(
    worker: ProjectionWorker,
    run_cli: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["projections", "rebuild", "no_such_view"]) == 2

    err = capsys.readouterr().err
    assert "no projection named 'no_such_view'" in err
    assert "plan_state" in err
    assert "timeline" in err


def test_a_changed_projection_version_rebuilds_that_projection_when_the_worker_starts(
    own_settings: Settings,
    record: CareRecord,
    worker: ProjectionWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    followed = read_models(worker.database, worker.projections)
    tamper(worker)
    new_version = PlanStateProjection.version + 1
    monkeypatch.setattr(PlanStateProjection, "version", new_version)

    started = build_projection_worker(own_settings, record)

    now = read_models(started.database, started.projections)
    assert now["rm_trajectories"] == followed["rm_trajectories"]
    assert now["rm_trajectory_parties"] == followed["rm_trajectory_parties"]
    assert len(now["rm_timeline"]) < len(followed["rm_timeline"]), "timeline not rebuilt"
    versions = dict(rows(started.database, "SELECT name, version FROM rm_tracking"))
    assert versions["plan_state"] == new_version
    assert started.positions()["plan_state"] == started.head()
    started.database.close()


def test_an_unchanged_projection_version_does_not_rebuild_when_the_worker_starts(
    own_settings: Settings, record: CareRecord, worker: ProjectionWorker
) -> None:
    tamper(worker)

    started = build_projection_worker(own_settings, record)

    regions = {row[0] for row in rows(started.database, "SELECT region FROM rm_trajectories")}
    assert regions == {"tampered"}
    started.database.close()


def test_a_rebuild_leaves_nothing_of_the_old_tables_in_the_files(sqlite_settings: Settings) -> None:
    """Review of #10 (S6): plan state before version 7 kept names and questions in clear; the
    rebuild that replaces its tables must not leave them in free pages or the write-ahead log."""
    record = build_care_record(sqlite_settings)
    tell(Story(record, clients=1), steps=10, seed=3)
    worker = build_projection_worker(sqlite_settings, record)
    worker.catch_up()
    name = f"Zyx{uuid.uuid4().hex}".encode()
    with worker.database.transaction() as tx:  # as an older version wrote it: in clear
        tx.execute("UPDATE rm_trajectories SET doc = ?", (name,))
    try:
        worker.rebuild("plan_state")
        files = sqlite_files(sqlite_settings.data_dir)  # while open: closing would checkpoint
        holding = [p.name for p in files if name in p.read_bytes()]
    finally:
        worker.database.close()
        record.close()

    assert holding == []


def test_a_scrub_after_an_erasure_that_failed_is_tried_again(
    own_settings: Settings, record: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed scrub (the database busy, say) is not forgotten: the next batch scrubs."""
    worker = build_projection_worker(own_settings, record)
    client = record.register_client(context(), said(RegisterClient, context(), name="Sam")).id
    record.erase_client(
        context(), client, None, said(EraseClient, context(), legal_basis="gdpr_request")
    )
    scrub, scrubbed = worker.database.scrub, []

    def busy_the_first_time(tables: Sequence[str]) -> None:
        if not scrubbed:
            scrubbed.append(False)
            raise sqlite3.OperationalError("database is locked")
        scrub(tables)
        scrubbed.append(True)

    monkeypatch.setattr(worker.database, "scrub", busy_the_first_time)
    try:
        with pytest.raises(sqlite3.OperationalError):
            worker.catch_up()
        worker.catch_up()
    finally:
        worker.database.close()

    assert scrubbed == [False, True]


def test_a_switch_over_chosen_as_a_deadlock_victim_runs_again(
    worker: ProjectionWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a query that read one live table and waits for another deadlocks with the
    switch-over's exclusive locks, and the switch-over may be the victim: it runs again."""
    followed = read_models(worker.database, worker.projections)
    head = worker.head()
    tamper(worker)
    real = worker.database.transaction
    victims = []

    @contextmanager
    def deadlocked_once() -> Iterator[Any]:
        with real() as tx:
            dropping = tx.execute

            def execute(sql: str, params: Any = ()) -> None:
                if sql == "DROP TABLE IF EXISTS rm_trajectories" and not victims:
                    victims.append(sql)
                    raise psycopg.errors.DeadlockDetected("deadlock detected")
                dropping(sql, params)

            monkeypatch.setattr(tx, "execute", execute)
            yield tx

    monkeypatch.setattr(worker.database, "transaction", deadlocked_once)

    position = worker.rebuild_many([p.name for p in worker.projections])

    assert victims == ["DROP TABLE IF EXISTS rm_trajectories"]
    assert position == head
    assert read_models(worker.database, worker.projections) == followed
