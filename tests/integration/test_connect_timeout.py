"""A host that takes the TCP connection and never answers (a database behind a hung proxy, a
half-dead VM) is given up on within ``POOL_WAIT_SECONDS`` by every connection we open: the
scheduler's lock, the migrations', a backup's and a restore's (and their ``pg_dump`` and
``pg_restore``), and the connects of our pools and of the event store's. Without a timeout,
psycopg waits 130 s for each address of such a host, and libpq's own tools for good; the
scheduler's loop, a start, an operator's command or a pool's worker waited with them. A timeout
the operator set in the URL or in ``PGCONNECT_TIMEOUT`` stands.

The bound is lowered to libpq's least (2 s) here, so that the tests are quick."""

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import psycopg
import pytest
from eventsourcing.utils import Environment
from psycopg_pool import PoolTimeout

from application import backup, sql, unavailable
from application.metrics import metrics
from application.pg_recorder import RodeDraadPostgresFactory
from application.unavailable import connect_timeout
from rodedraad.settings import Settings
from scheduler import runner
from scheduler.jobs import JobLockUnreachable, run_beside_service
from tests.integration.conftest import Rodedraad

BOUND = 2  # (libpq's least connect_timeout)


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL URL on a local port that takes connections (the kernel completes the
    handshake into the backlog) and never says a word; every module's bound lowered."""
    monkeypatch.setattr(unavailable, "POOL_WAIT_SECONDS", BOUND)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/rodedraad"
    finally:
        listener.close()


def _within_bound(started: float) -> None:
    waited = time.monotonic() - started
    assert BOUND - 0.5 <= waited < BOUND + 4, waited


def test_the_scheduler_lock_gives_up_on_a_silent_host(silent: str) -> None:
    lock = runner.PostgresLeaderLock(silent)
    started = time.monotonic()
    assert lock.acquire() is False  # (this run does not fire; the next tick tries again)
    _within_bound(started)
    assert lock.unreachable is not None


def test_a_tick_without_the_database_is_counted_as_unreachable_not_as_skipped(
    silent: str,
) -> None:
    """Skipped means another run held the lock (every follower replica's normal state); an
    outage must show apart in ``rodedraad_scheduler_runs_total``."""

    def count(outcome: str) -> float:
        found = metrics().registry.get_sample_value(
            "rodedraad_scheduler_runs_total", {"outcome": outcome}
        )
        return found or 0.0

    before = count("unreachable"), count("skipped")
    background = runner.BackgroundDeadlines(
        cast(runner.DeadlineScheduler, None), runner.PostgresLeaderLock(silent), interval=3600
    )
    background.tick()  # (the lock is never had: the scheduler itself is not reached)
    assert (count("unreachable"), count("skipped")) == (before[0] + 1, before[1])


def test_a_one_off_job_says_the_database_is_unreachable_not_that_a_run_is_going_on(
    silent: str,
) -> None:
    """Not "a scheduler run is going on; waiting up to 30 s": no run holds the lock."""
    said: list[str] = []
    ran: list[bool] = []
    started = time.monotonic()
    with pytest.raises(JobLockUnreachable, match="PostgreSQL cannot be reached") as raised:
        run_beside_service(
            runner.PostgresLeaderLock(silent), lambda: ran.append(True), wait=30, say=said.append
        )
    _within_bound(started)
    assert "nothing was run" in raised.value.message
    assert said == []
    assert ran == []


def test_the_command_line_says_what_to_do_when_postgresql_cannot_be_reached(
    silent: str, tmp_path: Path, rodedraad: Rodedraad
) -> None:
    """A clear line and exit code 2, not a traceback. (``scheduler run-once`` gives up at its
    migrations' connect here, before it asks for the lock: see the next test for the lock.)"""
    settings = Settings.from_env(
        {
            "RODEDRAAD_DATABASE_URL": silent,
            "RODEDRAAD_DATA_DIR": str(tmp_path / "data"),
            "RODEDRAAD_KEK_FILE": str(tmp_path / "kek.json"),
        }
    )
    for command in (["migrate"], ["scheduler", "run-once"]):
        started = time.monotonic()
        code, _, err = rodedraad(settings, *command)
        assert code == 2
        _within_bound(started)
        said = err.strip().splitlines()[-1]
        assert said.startswith("rodedraad: PostgreSQL cannot be reached or was lost ("), err
        assert "timeout" in said
        assert "check RODEDRAAD_DATABASE_URL" in said


def test_a_one_off_job_whose_lock_cannot_be_reached_says_so_and_runs_nothing(
    silent: str, pg_settings: Settings, rodedraad: Rodedraad, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database reachable for the job's own work, its lock's connection not (the lock's
    connection is its own): exit 2 and why, not "a scheduler run is going on" and a wait."""
    monkeypatch.setattr(
        "rodedraad.wiring.build_leader_lock", lambda settings: runner.PostgresLeaderLock(silent)
    )
    started = time.monotonic()
    code, out, err = rodedraad(pg_settings, "scheduler", "run-once")
    _within_bound(started)
    assert code == 2
    said = err.strip().splitlines()[-1]
    assert said == (
        "rodedraad: PostgreSQL cannot be reached for the scheduler's lock; nothing was run. "
        "Check RODEDRAAD_DATABASE_URL and that the database is up, then run it again"
    )
    assert "waiting up to" not in err
    assert out == ""


def test_pg_dump_gives_up_on_a_silent_host(silent: str, tmp_path: Path) -> None:
    """libpq's tools wait for good without a timeout; ``PGCONNECT_TIMEOUT`` bounds their
    connect (not the dump)."""
    failed: list[BaseException] = []

    def dump() -> None:
        try:
            backup._run(["pg_dump", f"--dbname={silent}", "--schema-only"], "pg_dump")
        except backup.BackupRefused as e:
            failed.append(e)

    started = time.monotonic()
    # (In a thread: without the bound, pg_dump would wait for good; this fails instead.)
    attempt = threading.Thread(target=dump, daemon=True)
    attempt.start()
    attempt.join(BOUND + 10)
    assert not attempt.is_alive(), "pg_dump still waiting on a silent host"
    # (libpq 15 counts the timeout in whole seconds: it may end up to a second early.)
    assert time.monotonic() - started >= BOUND - 1.1
    assert len(failed) == 1
    assert re.search(r"pg_dump failed: .*timeout", str(failed[0]))


def test_a_timeout_the_operator_set_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    url = "postgresql://postgres@db.example/rodedraad"
    assert connect_timeout(url) == {"connect_timeout": unavailable.POOL_WAIT_SECONDS}
    assert connect_timeout(f"{url}?connect_timeout=30") == {}
    assert connect_timeout("host=db.example connect_timeout=30") == {}
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "30")
    assert connect_timeout(url) == {}


def test_a_backup_and_a_restore_give_up_on_a_silent_host(silent: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        backup.backup_postgres(silent, tmp_path / "out", None, "test", lambda _: None)
    _within_bound(started)
    manifest = backup.Manifest(
        kind="postgres",
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
        code_version="test",
        log_position=0,
        kek_versions=[],
        encrypted_to=None,
        files=[],
    )
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        backup.restore_postgres(tmp_path / "in", manifest, None, silent, lambda _: None)
    _within_bound(started)


def test_our_pools_connects_end_on_a_silent_host(silent: str) -> None:
    """The caller's wait was bounded already (``PoolTimeout``); the pool's own connect is
    now too: it fails (an error the pool counts and tries again) instead of hanging."""
    pool = sql.autocommit_pool(silent, max_size=1)
    try:
        with pytest.raises(PoolTimeout), pool.connection(timeout=BOUND * 2 + 1):
            pass
        assert pool.get_stats().get("connections_errors", 0) >= 1
    finally:
        pool.close(timeout=1)


def test_the_event_stores_pool_connects_end_on_a_silent_host(
    silent: str, pg_settings: Settings
) -> None:
    env = dict(pg_settings.database.eventsourcing_env())
    host, port = silent.rsplit("@", 1)[1].split("/")[0].split(":")
    env.update(POSTGRES_HOST=host, POSTGRES_PORT=port, POSTGRES_POOL_SIZE="1")
    factory = RodeDraadPostgresFactory(Environment(env=env))
    pool = factory.datastore.pool
    try:
        pool.open(wait=False)
        with pytest.raises(PoolTimeout), pool.connection(timeout=BOUND * 2 + 1):
            pass
        assert pool.get_stats().get("connections_errors", 0) >= 1
    finally:
        pool.close(timeout=1)
