"""Production: read-model queries on PostgreSQL through an asyncpg pool."""

import re
from typing import Any

import asyncpg

from application.unavailable import POOL_WAIT_SECONDS, DatabaseUnavailable, NoConnection
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
    TimeoutError,  # (making the pool's first connections, in ``open``)
)


def numbered(sql: str) -> str:
    """``?`` placeholders → asyncpg's ``$1, $2, …``."""
    counter = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


class PostgresRunner:
    dialect = "postgres"

    def __init__(
        self, url: str, min_size: int = 2, max_size: int = 10, wait: float = POOL_WAIT_SECONDS
    ) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        #: Seconds a read waits at most for a connection (a free one of the pool, or a new one
        #: made): then the read models are unavailable (``NoConnection``, 503), as on the
        #: service's other pools.
        self.wait = wait
        self._pool: asyncpg.Pool | None = None
        self._sql: dict[str, str] = {}

    async def open(self) -> None:
        if self._pool is None:
            try:
                pool = await asyncpg.create_pool(
                    self.url, min_size=self.min_size, max_size=self.max_size, timeout=self.wait
                )
            except (*_LOST_CONNECTION, OSError) as error:
                raise NoConnection("the read models cannot be reached") from error
            if self._pool is None:
                self._pool = pool
            else:  # (another read opened one meanwhile: one pool is kept)
                await pool.close()

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = numbered(sql)
        lost = 0
        for attempt in range(_ATTEMPTS):
            # (The pool the connection came from: the runner may close its pool and open another
            # meanwhile, and a connection goes back to its own.)
            pool = self._pool
            assert pool is not None
            try:
                conn = await pool.acquire(timeout=self.wait)
            except TimeoutError as error:  # (no connection within ``wait``: not tried again)
                raise NoConnection("no connection to the read models in time") from error
            try:
                records = await conn.fetch(text, *params)
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
                await pool.expire_connections()
                continue
            finally:
                await pool.release(conn)
            return [tuple(r) for r in records]
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def postgres_queries(url: str) -> tuple[ReadModelQueries, PostgresRunner]:
    runner = PostgresRunner(url)
    return ReadModelQueries.on(runner), runner
