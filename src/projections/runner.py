"""The read side's one seam: a runner of SQL text on either database.

Every read model's queries are written once, with ``?`` placeholders, against this protocol;
``read_sqlite`` runs them on the SQLite file in worker threads, ``read_postgres`` on an asyncpg
pool. A query class per read model takes the runner (``projections.queries`` gathers them).
"""

from typing import Any, Protocol


class Runner(Protocol):
    #: ``sqlite`` or ``postgres``: the few places the SQL differs.
    dialect: str

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]: ...
