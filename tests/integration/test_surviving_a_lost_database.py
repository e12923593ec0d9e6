"""PostgreSQL drops every connection (a restart, ``pg_terminate_backend``): the projection
worker reconnects and catches up, and the command path's own pools recover (issue #10)."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from application.care_record import CareRecord
from application.sql import autocommit_pool
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_projection_worker, wakeup_for
from scheduler.runner import PostgresLeaderLock
from tests.conftest import PG_ADMIN_URL
from tests.integration.stories import Story, tell

pytestmark = pytest.mark.postgres


def terminate_every_connection(url: str) -> int:
    """What a PostgreSQL restart does to a database's clients: every backend ends at once."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@contextmanager
def following(settings: Settings, record: CareRecord) -> Iterator[ProjectionWorker]:
    """A projection worker following the log in a thread, as ``projections run`` does."""
    worker = build_projection_worker(settings, record)
    stop = threading.Event()
    wakeup = wakeup_for(settings, record)
    thread = threading.Thread(target=worker.run, args=(stop, wakeup), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=10)
        wakeup.close()  # type: ignore[attr-defined]
        worker.database.close()


def catches_up_after(
    settings: Settings, record: CareRecord, fault: Callable[[ProjectionWorker], None]
) -> None:
    """A worker that followed ten commands, then ``fault``, then ten more: it catches up."""
    story = Story(record, clients=2)
    with following(settings, record) as worker:
        tell(story, steps=10, seed=3)
        assert wait_for(lambda: set(worker.positions().values()) == {worker.head()}, 10)

        fault(worker)
        tell(story, steps=10, seed=4)

        caught_up = wait_for(lambda: set(worker.positions().values()) == {worker.head()}, 10)
        assert caught_up, f"positions {worker.positions()} behind the head {worker.head()}"


def test_a_projection_worker_catches_up_after_every_connection_was_terminated(
    pg_settings: Settings, pg_record: CareRecord
) -> None:
    def terminated(_: ProjectionWorker) -> None:
        assert terminate_every_connection(pg_settings.database.url) > 0

    catches_up_after(pg_settings, pg_record, terminated)


def test_a_key_is_created_right_after_every_connection_was_terminated(
    pg_settings: Settings, pg_record: CareRecord
) -> None:
    subject = uuid4()
    pg_record.keys.key_for(uuid4())  # the key store's pool has a connection, soon a dead one

    assert terminate_every_connection(pg_settings.database.url) > 0

    assert len(pg_record.keys.create(subject, client=subject)) == 32


def test_a_scheduler_whose_lock_connection_was_terminated_no_longer_claims_to_lead(
    pg_settings: Settings,
) -> None:
    """The session lock went with the connection: another scheduler may lead now, so this one
    must take the lock again rather than believe it still holds it."""
    url = pg_settings.database.url
    leader, other = PostgresLeaderLock(url), PostgresLeaderLock(url)
    try:
        assert leader.acquire()
        terminate_every_connection(url)
        assert other.acquire()

        assert not leader.acquire()
    finally:
        leader.release()
        other.release()


# A connection psycopg leaves in pipeline mode when it is lost during ``executemany`` (its
# pipeline's exit fails and is only logged): status OK, ``broken`` False, and every statement
# refused on the client ("PQsendQuery not allowed in pipeline mode"). Which terminated
# backend leaves it so is a matter of timing (1 run in about 30 of the fault test); libpq's
# ``enter_pipeline_mode`` on an idle connection leaves it in that same state at once.


def test_a_worker_whose_connection_a_lost_executemany_left_in_pipeline_mode_catches_up(
    pg_settings: Settings, pg_record: CareRecord
) -> None:
    stuck: list[psycopg.Connection[Any]] = []

    def left_in_pipeline_mode(worker: ProjectionWorker) -> None:
        with worker.database._lock:  # type: ignore[attr-defined]  # (between its batches)
            stuck.append(worker.database._conn)  # type: ignore[attr-defined]
            stuck[0].pgconn.enter_pipeline_mode()

    catches_up_after(pg_settings, pg_record, left_in_pipeline_mode)
    assert stuck[0].closed


def test_a_pool_hands_out_no_connection_left_in_pipeline_mode(pg_settings: Settings) -> None:
    """The pools of the key store and of the API's own tables (``autocommit_pool``)."""
    pool = autocommit_pool(pg_settings.database.url, max_size=1)
    try:
        with pool.connection() as conn:
            conn.pgconn.enter_pipeline_mode()
            stuck = conn

        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert stuck.closed
    finally:
        pool.close()


def test_the_event_store_pool_hands_out_no_connection_left_in_pipeline_mode(
    pg_record: CareRecord,
) -> None:
    datastore = pg_record.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        conn.pgconn.enter_pipeline_mode()
        stuck = conn

    assert stuck.closed
    assert pg_record.recorder.max_notification_id() is None  # (an empty log: read, not refused)
