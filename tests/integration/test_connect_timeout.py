"""A host that takes the TCP connection and never answers (a database behind a hung proxy, a
half-dead VM) is given up on within ``POOL_WAIT_SECONDS`` by every connection we open: the
scheduler's lock, the migrations', a backup's and a restore's, and the connects of our pools and
of the event store's. libpq without ``connect_timeout`` waits on such a host for good, which held
the scheduler's loop, a start, an operator's command or a pool's worker with it.

The bound is lowered to libpq's least (2 s) here, so that the tests are quick."""

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from eventsourcing.utils import Environment
from psycopg_pool import PoolTimeout

from application import backup, migrations, pg_recorder, sql
from application.pg_recorder import RodeDraadPostgresFactory
from rodedraad.settings import Settings
from scheduler import runner

BOUND = 2  # (libpq's least connect_timeout)


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A PostgreSQL URL on a local port that takes connections (the kernel completes the
    handshake into the backlog) and never says a word; every module's bound lowered."""
    for module in (runner, migrations, backup, sql, pg_recorder):
        monkeypatch.setattr(module, "POOL_WAIT_SECONDS", BOUND)
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


def test_migrations_give_up_on_a_silent_host(silent: str) -> None:
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="timeout"):
        migrations._PostgresDatabase(silent)
    _within_bound(started)


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
