"""A read that a rebuild's switch-over made a deadlock victim runs again, a few times at most;
a read that gets no connection in time does not."""

import asyncio
from typing import Any

import asyncpg
import pytest

from application.unavailable import POOL_WAIT_SECONDS, NoConnection
from projections.read_postgres import PostgresRunner


class FlakyPool:
    """Fails with a deadlock ``failures`` times, then answers; hands out itself as the
    connection and counts what it is asked (``busy``: no connection to hand out in time)."""

    def __init__(self, failures: int, busy: bool = False) -> None:
        self.failures = failures
        self.busy = busy
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.timeouts: list[float | None] = []
        self.released = 0

    async def acquire(self, timeout: float | None = None) -> "FlakyPool":
        self.timeouts.append(timeout)
        if self.busy:
            raise TimeoutError
        return self

    async def release(self, conn: "FlakyPool") -> None:
        self.released += 1

    async def fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        self.calls.append((sql, params))
        if len(self.calls) <= self.failures:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return [(1, "a")]


def _runner(pool: FlakyPool) -> PostgresRunner:
    runner = PostgresRunner("postgresql://unused")
    runner._pool = pool  # type: ignore[assignment]
    return runner


def test_a_deadlocked_read_is_run_again_with_the_same_statement() -> None:
    pool = FlakyPool(failures=2)

    rows = asyncio.run(_runner(pool).fetch("SELECT ? FROM t WHERE x = ?", [1, "a"]))

    assert rows == [(1, "a")]
    assert pool.calls == [("SELECT $1 FROM t WHERE x = $2", (1, "a"))] * 3
    assert pool.timeouts == [POOL_WAIT_SECONDS] * 3  # (each connection waited for, bounded)
    assert pool.released == 3


def test_a_read_that_keeps_deadlocking_fails_after_three_tries() -> None:
    pool = FlakyPool(failures=3)

    with pytest.raises(asyncpg.exceptions.DeadlockDetectedError):
        asyncio.run(_runner(pool).fetch("SELECT 1", []))

    assert len(pool.calls) == 3


def test_a_read_that_gets_no_connection_in_time_is_unavailable_at_once() -> None:
    """Waiting as long again would not help: the API answers 503 after one wait."""
    pool = FlakyPool(failures=0, busy=True)

    with pytest.raises(NoConnection):
        asyncio.run(_runner(pool).fetch("SELECT 1", []))

    assert (pool.timeouts, pool.calls, pool.released) == ([POOL_WAIT_SECONDS], [], 0)
