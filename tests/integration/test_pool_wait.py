"""A database that cannot be reached is given up on within ``POOL_WAIT_SECONDS``, on our own
pools, on the event store's (eventsourcing's) and on the read models' (asyncpg), rather than
after psycopg_pool's 30 s (or, in the event store, after one such wait per retry): the API then
answers 503 with ``Retry-After`` and the projection worker pauses and tries again."""

import asyncio
import time
from uuid import uuid4

import pytest
from benchmarks.processes import free_port
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment
from psycopg_pool import PoolTimeout

from application.care_record import CareRecord
from application.pg_recorder import RodeDraadPostgresFactory
from application.sql import autocommit_pool
from application.unavailable import POOL_WAIT_SECONDS, NoConnection, is_unavailable
from projections.read_postgres import PostgresRunner
from rodedraad.settings import Settings


def _unreachable() -> str:
    """A PostgreSQL URL on a local port nothing listens on."""
    return f"postgresql://postgres@127.0.0.1:{free_port()}/rodedraad"


def test_our_pool_gives_up_on_an_unreachable_database_within_the_bound() -> None:
    pool = autocommit_pool(_unreachable(), max_size=1)
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout) as raised, pool.connection():
            pass
        waited = time.monotonic() - started
    finally:
        pool.close()
    assert POOL_WAIT_SECONDS - 1 <= waited < POOL_WAIT_SECONDS + 5
    assert is_unavailable(raised.value)  # (the API's 503, not a 500)


def test_the_event_store_waits_once_for_a_connection_not_once_per_retry(
    pg_settings: Settings, pg_record: CareRecord
) -> None:
    """Its pool waits as ours do; and a wait that ends without a connection (here: the pool's
    only connection is held) is ``NoConnection`` at once, which none of the recorders' retries
    (ten each, for lost connections) tries again. (``pg_record``: the store made on it.)"""
    env = pg_settings.database.eventsourcing_env()
    assert env["POSTGRES_CONNECT_TIMEOUT"] == str(POOL_WAIT_SECONDS)
    one = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "0"}
    factory = RodeDraadPostgresFactory(Environment(env={**env, **one}))
    recorder = factory.application_recorder()  # (connects, within the default wait)
    factory.datastore.pool.timeout = 1
    event = StoredEvent(originator_id=uuid4(), originator_version=1, topic="t", state=b"s")
    try:
        with factory.datastore.pool.connection():
            for call in (
                lambda: recorder.select_notifications(1, 10),
                recorder.max_notification_id,
                lambda: recorder.select_events(uuid4()),
                lambda: recorder.insert_events([event]),
            ):
                started = time.monotonic()
                with pytest.raises(NoConnection):
                    call()
                assert time.monotonic() - started < 4  # (one wait of 1 s, not ten)
    finally:
        factory.close()


def test_the_read_models_pool_gives_up_within_its_wait(postgres_url: str) -> None:
    """The API's reads (asyncpg): a database that refuses connections, and a pool whose every
    connection is busy, are ``NoConnection`` (503) within the wait, not a 500 or a hang."""

    async def refused() -> None:
        runner = PostgresRunner(_unreachable(), wait=1)
        with pytest.raises(NoConnection):
            await runner.fetch("SELECT 1", [])

    async def busy() -> float:
        runner = PostgresRunner(postgres_url, min_size=1, max_size=1)
        try:
            assert await runner.fetch("SELECT ?::int", [1]) == [(1,)]  # (connects, default wait)
            assert runner._pool is not None
            runner.wait = 0.5
            async with runner._pool.acquire():  # (the pool's only connection, held)
                started = time.monotonic()
                with pytest.raises(NoConnection):
                    await runner.fetch("SELECT 1", [])
                return time.monotonic() - started
        finally:
            await runner.close()

    asyncio.run(refused())
    assert 0.4 <= asyncio.run(busy()) < 3
    assert PostgresRunner(postgres_url).wait == POOL_WAIT_SECONDS


def test_concurrent_first_reads_open_one_pool_and_give_each_connection_back_to_it(
    postgres_url: str,
) -> None:
    """Reads that all find no pool yet each open one; one is kept, and every connection goes
    back to the pool it came from (a connection given to another pool was a 500)."""

    async def first_reads() -> tuple[list[list[tuple[int]]], bool]:
        runner = PostgresRunner(postgres_url, min_size=1, max_size=2)
        try:
            found = await asyncio.gather(*(runner.fetch("SELECT ?::int", [n]) for n in range(8)))
            pool = runner._pool
            assert pool is not None
            return found, pool.get_size() <= 2
        finally:
            await runner.close()

    found, one_pool = asyncio.run(first_reads())
    assert found == [[(n,)] for n in range(8)]
    assert one_pool
