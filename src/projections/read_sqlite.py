"""Embedded mode: read-model queries on the SQLite file, in worker threads (one connection each)."""

import sqlite3
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from projections.queries import ReadModelQueries


class SqliteRunner:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql, params).fetchall()

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return await anyio.to_thread.run_sync(self._fetch, sql, params)

    async def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def sqlite_queries(path: Path) -> tuple[ReadModelQueries, SqliteRunner]:
    runner = SqliteRunner(path)
    return ReadModelQueries.on(runner), runner
