"""One shape for a transaction on SQLite and on PostgreSQL, so that SQL is written once.

SQL uses ``?`` placeholders; the PostgreSQL adapter turns them into ``%s``. The read models
(``projections.store``), the key store (``application.keys``), the access log
(``application.access_log``) and the migrations (``application.migrations``) stand on it.
"""

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from application.files import private_database_file
from application.unavailable import (
    POOL_WAIT_SECONDS,
    closed_if_stuck,
    connect_timeout,
    retry_once,
)

T = TypeVar("T")


class Tx(Protocol):
    """A transaction's cursor, the same shape on both databases."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        """Insert rows that are new to ``table`` (no conflict possible): ``COPY`` on PostgreSQL,
        one prepared ``INSERT`` on SQLite. Text holding a NUL is stored with U+FFFD in its
        place on both (PostgreSQL text cannot hold one). ``types``, the columns' PostgreSQL
        types (``text``, ``int4``, ``int8``, ``bytea``), let PostgreSQL copy many rows in
        binary form; each value must then be of its column's Python type (str, int, bytes)
        or None."""


#: Rows from which ``PostgresTx.insert_rows`` sends them as they are, in a savepoint.
COPY_AS_THEY_ARE = 200


def _without_nul(row: Sequence[Any]) -> list[Any]:
    """``row`` with U+FFFD for NUL in its text (``str.replace`` hands back the same string when
    there is nothing to replace, so the common case costs one scan)."""
    return [v.replace("\x00", "\ufffd") if v.__class__ is str else v for v in row]


class SqliteTx:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            self._conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                [_without_nul(row) for row in rows],
            )


class PostgresTx:
    dialect = "postgres"

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self._cursor.fetchall() if self._cursor.description else []

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        types: Sequence[str] | None = None,
    ) -> None:
        """``COPY``: one round trip and no per-row statement (a rebuild writes millions of
        rows into empty tables, issue #22).

        From ``COPY_AS_THEY_ARE`` rows on, the rows are sent as they are, in a savepoint, and
        in binary form if ``types`` are given (half the client's CPU per row of the text
        form, which escapes every value). A NUL in text is refused, by psycopg before it is
        sent (text form) or by PostgreSQL (binary form), as a ``DataError``; only then are the
        rows sent again, in text form with U+FFFD in its place. Copying each row first was
        ≈ 4 % of a rebuild's CPU; a NUL is all but never there (issue #10 refuses new ones).
        Fewer rows (a live batch's) are copied first, in text form: two more round trips
        would cost them more."""
        if not rows:
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        if len(rows) >= COPY_AS_THEY_ARE:
            try:
                with self._cursor.connection.transaction():
                    self._copy(statement, rows, types)
                return
            except psycopg.DataError:
                pass  # rolled back to the savepoint: as below
        self._copy(statement, [_without_nul(row) for row in rows])

    def _copy(
        self, statement: str, rows: Sequence[Sequence[Any]], types: Sequence[str] | None = None
    ) -> None:
        if types is not None:
            statement += " (FORMAT BINARY)"
            _refuse_wrapping(rows, types)
        with self._cursor.connection.cursor() as plain, plain.copy(statement) as copy:
            if types is not None:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)


_INT4 = range(-(2**31), 2**31)


def _refuse_wrapping(rows: Sequence[Sequence[Any]], types: Sequence[str]) -> None:
    """psycopg's binary int4 dumper wraps a value beyond 32 bits where the text form is refused:
    refuse it the same way (a ``DataError``, so the rows go again in text form and PostgreSQL
    says what is wrong), never store it wrapped."""
    narrow = [i for i, kind in enumerate(types) if kind == "int4"]
    for row in rows:
        for i in narrow:
            value = row[i]
            if value is not None and value not in _INT4:
                raise psycopg.errors.NumericValueOutOfRange(
                    f"{value} does not fit the integer column {i + 1}"
                )


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


class Database(Protocol):
    """A database a store of ours owns (a SQLite file, or a pool on PostgreSQL)."""

    dialect: str

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        """One transaction; ``write=False``: a read, which must not wait for writers."""

    def statement(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in a transaction of its own (one round trip); the rows it changed."""

    def safely(self, operation: Callable[[], T]) -> T:
        """Run an operation that is safe to run twice (a read, an insert that keeps what is
        there, an append); where connections can be lost it is retried once (issue #10)."""

    def close(self) -> None: ...


class SqliteDatabase:
    """A SQLite file of ours (0600, see ``application.files``), one connection shared by
    threads one at a time, in WAL mode."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self._conn = sqlite3.connect(
            private_database_file(path),
            check_same_thread=False,
            isolation_level=None,
            timeout=timeout,
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        return sqlite_transaction(self._conn, self._lock, write=write)

    def statement(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def safely(self, operation: Callable[[], T]) -> T:
        return operation()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Pool(ConnectionPool[psycopg.Connection[Any]]):
    """psycopg's pool, but a connection a lost ``executemany`` left stuck in pipeline mode is
    closed as it comes back (:func:`closed_if_stuck`), so the pool makes another."""

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        with super().connection(timeout) as conn, closed_if_stuck(conn):
            yield conn


def autocommit_pool(conninfo: str, max_size: int) -> "ConnectionPool[psycopg.Connection[Any]]":
    """A pool whose connections autocommit: a statement alone is its own transaction, without a
    BEGIN and a COMMIT of their own (two more round trips each time, issue #22); a transaction
    of several statements opens one with ``conn.transaction()``. An operation waits at most
    ``POOL_WAIT_SECONDS`` for a connection (``PoolTimeout``: the database is unavailable)."""
    return _Pool(
        conninfo,
        min_size=1,
        max_size=max_size,
        max_idle=60,
        timeout=POOL_WAIT_SECONDS,
        open=True,
        # (its own connects bounded too: a host that accepts and never answers would hold
        # the pool's worker 130 s per address, psycopg's default)
        kwargs={"autocommit": True, **connect_timeout(conninfo)},
    )


class PostgresDatabase:
    """A small pool on PostgreSQL. Its connections autocommit: a statement on its own is one
    round trip, and ``transaction`` begins and commits explicitly."""

    dialect = "postgres"

    def __init__(self, conninfo: str, *, max_size: int = 4) -> None:
        self._pool = autocommit_pool(conninfo, max_size)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield PostgresTx(cursor)

    def statement(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._pool.connection() as conn:
            return conn.execute(sql.replace("?", "%s"), params).rowcount

    def safely(self, operation: Callable[[], T]) -> T:
        return retry_once(self._pool, operation)

    def close(self) -> None:
        self._pool.close()
