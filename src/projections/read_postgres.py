"""Production: read-model queries on PostgreSQL through an asyncpg pool."""

import re
from typing import Any

import asyncpg

from application.unavailable import DatabaseUnavailable
from projections.queries import ReadModelQueries

_PLACEHOLDER = re.compile(r"\?")
#: Tries of a read that a rebuild's switch-over made a deadlock victim.
_ATTEMPTS = 3
#: What asyncpg raises when a connection was lost or cannot be made (a restart, a terminated
#: backend, a server still starting up or refusing connections).
_LOST_CONNECTION = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A connection whose backend was terminated between two queries can trip asyncpg's own
    # protocol state ("cannot switch to state …; another operation is in progress").
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    TimeoutError,
)


def numbered(sql: str) -> str:
    """``?`` placeholders → asyncpg's ``$1, $2, …``."""
    counter = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PostgresRunner:
    dialect = "postgres"

    def __init__(self, url: str, min_size: int = 2, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._sql: dict[str, str] = {}

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size
            )

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = numbered(sql)
        lost = 0
        for attempt in range(_ATTEMPTS):
            try:
                records = await self._pool.fetch(text, *params)
            except asyncpg.exceptions.DeadlockDetectedError:
                # A rebuild's switch-over renames the read-model tables in one transaction; a
                # read that locked one of them first is chosen as the deadlock's victim. Reads
                # change nothing, so the read runs again (on the new tables).
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            except _LOST_CONNECTION as error:
                # PostgreSQL restarted or terminated the connections: every idle one in the pool
                # is dead too, so all are expired (replaced on their next acquire) and the read
                # runs once more; after that the database is unavailable.
                lost += 1
                if lost > 1 or attempt == _ATTEMPTS - 1:
                    raise DatabaseUnavailable("the read models cannot be reached") from error
                await self._pool.expire_connections()
                continue
            return [tuple(r) for r in records]
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def postgres_queries(url: str) -> tuple[ReadModelQueries, PostgresRunner]:
    runner = PostgresRunner(url)
    return ReadModelQueries.on(runner), runner
