"""A read that a rebuild's switch-over made a deadlock victim runs again, a few times at most."""

import asyncio
from typing import Any

import asyncpg
import pytest

from projections.read_postgres import PostgresRunner


class FlakyPool:
    """Fails with a deadlock ``failures`` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.timeouts: list[float | None] = []

    def acquire(self, timeout: float | None = None) -> "FlakyPool":
        self.timeouts.append(timeout)
        return self

    async def __aenter__(self) -> "FlakyPool":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

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


def test_a_read_that_keeps_deadlocking_fails_after_three_tries() -> None:
    pool = FlakyPool(failures=3)

    with pytest.raises(asyncpg.exceptions.DeadlockDetectedError):
        asyncio.run(_runner(pool).fetch("SELECT 1", []))

    assert len(pool.calls) == 3
