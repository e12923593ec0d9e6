"""One shape for a transaction on SQLite and on PostgreSQL, so that SQL is written once.

SQL uses ``?`` placeholders; the PostgreSQL adapter turns them into ``%s``. The read models
(``projections.store``), the key store (``application.keys``) and the migrations
(``application.migrations``) stand on it.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import psycopg


class Tx(Protocol):
    """A transaction's cursor, the same shape on both databases."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class SqliteTx:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()


class PostgresTx:
    dialect = "postgres"

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self._cursor.fetchall() if self._cursor.description else []


def table_exists(tx: Tx, table: str) -> bool:
    """Whether ``table`` exists (in the current schema on PostgreSQL)."""
    if tx.dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = (
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = ?"
        )
    return bool(tx.fetchall(sql, (table,)))


def column_names(tx: Tx, table: str) -> set[str]:
    """The columns of ``table``; empty if there is no such table."""
    if tx.dialect == "sqlite":
        return {row[1] for row in tx.fetchall(f"PRAGMA table_info({table})")}
    rows = tx.fetchall(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ?",
        (table,),
    )
    return {row[0] for row in rows}


@contextmanager
def sqlite_transaction(
    conn: sqlite3.Connection, lock: AbstractContextManager[Any], *, write: bool = True
) -> Iterator[SqliteTx]:
    """A transaction on a connection shared by threads (one at a time): ``BEGIN IMMEDIATE``
    takes the writer's lock at once, a read (``write=False``) never waits for a writer."""
    with lock:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqliteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
