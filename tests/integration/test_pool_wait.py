"""A database that cannot be reached is given up on within ``POOL_WAIT_SECONDS``, on our own
pools and on the event store's (eventsourcing's), rather than after psycopg_pool's 30 s: the
API then answers 503 with ``Retry-After`` and the projection worker pauses and tries again."""

import socket
import time

import pytest
from eventsourcing.utils import Environment
from psycopg_pool import PoolTimeout

from application.pg_recorder import RodeDraadPostgresFactory
from application.sql import autocommit_pool
from application.unavailable import POOL_WAIT_SECONDS, is_unavailable
from rodedraad.settings import Settings


def _unreachable() -> str:
    """A PostgreSQL URL on a local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"postgresql://postgres@127.0.0.1:{port}/rodedraad"


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


def test_the_event_stores_pool_waits_no_longer_than_ours() -> None:
    settings = Settings.from_env({"RODEDRAAD_DATABASE_URL": _unreachable()})
    factory = RodeDraadPostgresFactory(Environment(env=settings.database.eventsourcing_env()))
    try:
        assert factory.datastore.pool.timeout == POOL_WAIT_SECONDS
    finally:
        factory.close()
