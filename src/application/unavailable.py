"""A database lost for a moment, or unavailable: retry once where that is safe, else say so.

When PostgreSQL restarts or terminates backends, every idle connection of every pool is dead,
and the pool learns it only by using one. Issue #10 (point 11): a command right after such a
fault must not answer 500. Two rules, one place:

- ``retry_once`` runs an operation on one of our own psycopg pools and, if its connection was
  lost, sweeps the pool's broken idle connections (``ConnectionPool.check``) and runs it once
  more. Only for operations that are safe to run twice: reads, ``INSERT … ON CONFLICT DO
  NOTHING`` creations, updates and deletes that set a final state, and the access-log append (a
  read recorded twice is better than a read not recorded). eventsourcing's own recorder already
  retries its statements.
- ``is_unavailable`` says whether an error means the database cannot be used right now (a lost
  connection, a pool that found no connection in time, a SQLite file busy past its timeout): the
  API answers those 503 with ``Retry-After`` instead of 500.
"""

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

T = TypeVar("T")
C = TypeVar("C", bound="psycopg.Connection[Any]")

#: Seconds an operation waits at most for a pooled connection, on our pools and on
#: eventsourcing's (``POSTGRES_CONNECT_TIMEOUT``, which it uses as its pool's wait): then it
#: raises, the API answers 503 with ``Retry-After`` and the projection worker pauses and tries
#: again. psycopg_pool's default is 30 s, which left a request hanging half a minute while the
#: database was away, and a worker that many seconds late after connections came back.
POOL_WAIT_SECONDS = 10


def connect_timeout(conninfo: str = "") -> dict[str, Any]:
    """The ``connect_timeout`` a connection to ``conninfo`` is made with: ``POOL_WAIT_SECONDS``,
    unless ``PGCONNECT_TIMEOUT`` sets one (the operator's choice stands), or ``conninfo`` does
    (the event store's pool passes none: it follows ``PGCONNECT_TIMEOUT`` only). Without one,
    psycopg waits 130 s for each address of a host that takes the connection and never answers
    (a hung proxy, a half-dead VM); each address is given the timeout anew."""
    if os.environ.get("PGCONNECT_TIMEOUT") or "connect_timeout" in conninfo_to_dict(conninfo):
        return {}
    return {"connect_timeout": POOL_WAIT_SECONDS}


class DatabaseUnavailable(Exception):
    """The database could not be used, even after one retry; nothing can be said of the
    outcome beyond what the raising operation documents."""


class NoConnection(DatabaseUnavailable):
    """No connection could be had within ``POOL_WAIT_SECONDS``: trying again at once would
    wait as long. This attempt sent nothing; an earlier attempt of the same operation may have
    committed, so the outcome is unknown, as for any ``DatabaseUnavailable``."""


#: Errors of psycopg that mean a connection was lost or could not be made.
LOST_CONNECTION: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)

#: Every error class that may mean "unavailable" (``is_unavailable`` decides for SQLite's).
UNAVAILABLE: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    *LOST_CONNECTION,
    StoreOperationalError,
    StoreInterfaceError,
    sqlite3.OperationalError,
)


def _sqlite_error(error: BaseException) -> sqlite3.OperationalError | None:
    """SQLite's own error, raised as is or wrapped by eventsourcing; None for any other."""
    if isinstance(error, sqlite3.OperationalError):
        return error
    if isinstance(error, (StoreOperationalError, StoreInterfaceError)) and isinstance(
        error.__cause__, sqlite3.OperationalError
    ):
        return error.__cause__
    return None


def _sqlite_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be used now, not that a request was wrong.

    SQLite raises ``OperationalError`` for its own mistakes too (a missing table): only a busy
    or locked file counts, whether raised as is or wrapped by eventsourcing.
    """
    sqlite = _sqlite_error(error)
    if sqlite is not None:
        return _sqlite_busy(sqlite)
    return isinstance(error, UNAVAILABLE)


#: PostgreSQL's SQLSTATEs besides class 08 (connection exception) that say the server cannot
#: be used now: shutting down (57P01, 57P02), starting (57P03), or full (53300).
_SERVER_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300"})


def stuck_in_pipeline(conn: "psycopg.Connection[Any]") -> bool:
    """Whether ``conn`` was left in pipeline mode outside any pipeline: psycopg's
    ``executemany`` runs in one, and when the connection is lost mid-way (a terminated
    backend) its exit can fail and be only logged, the error of the statement being raised
    instead. libpq has not yet seen the socket close, so the connection's status stays OK and
    ``broken`` False, yet it is unusable: a statement without parameters is refused on the
    client ("PQsendQuery not allowed in pipeline mode", an ``OperationalError`` with no
    SQLSTATE), and one with parameters is sent into the pipeline and waits for ever for a
    result. A connection kept because it is not broken then fails, or hangs, for good. Seen
    once in about thirty runs of the fault test (and three times in CI): the projection
    worker never caught up again. None of our code opens a pipeline on a connection it keeps,
    so between statements this means stuck."""
    return not conn.closed and conn.pgconn.pipeline_status != pq.PipelineStatus.OFF


@contextmanager
def closed_if_stuck(conn: C) -> Iterator[C]:
    """``conn`` for a block of work, closed after it if the work left it stuck in pipeline
    mode (:func:`stuck_in_pipeline`): a pool given a closed connection back makes another
    rather than hand that one out again. Closed in the caller's thread: psycopg_pool's
    ``reset`` hook would move every return to its worker threads (about three times slower
    each, and the pool grew, measured)."""
    try:
        yield conn
    finally:
        if stuck_in_pipeline(conn):
            conn.close()


def is_unreachable(error: BaseException) -> bool:
    """True when ``error`` (or what it wraps) says the database server cannot be reached or was
    lost: a connection refused, timed out or broken, a pool that had none in time, a server
    shutting down or full. Narrower than :func:`is_unavailable`: not a busy SQLite file, and
    not an error of the statement itself (a deadlock, a full disk, a cancelled query, a wrong
    password), whose traceback an operator or a bug report needs."""
    for found in (error, error.__cause__):
        if isinstance(found, DatabaseUnavailable | PoolTimeout):
            return True
        if isinstance(found, psycopg.OperationalError | psycopg.InterfaceError):
            state = found.sqlstate  # (None: the client's own, e.g. a timeout or a lost socket)
            return state is None or state.startswith("08") or state in _SERVER_UNAVAILABLE
    return False


def is_busy(error: BaseException) -> bool:
    """True when ``error`` says another writer holds the database for now: a SQLite file locked
    or busy past its timeout (raised as is or wrapped by eventsourcing), or PostgreSQL's
    ``lock_timeout``. Such a wait ends when the other transaction does, within seconds: worth
    trying again soon, unlike a lost database."""
    sqlite = _sqlite_error(error)
    if sqlite is not None:
        return _sqlite_busy(sqlite)
    return isinstance(error, psycopg.errors.LockNotAvailable) or isinstance(
        error.__cause__, psycopg.errors.LockNotAvailable
    )


def retry_once(pool: "ConnectionPool[Any]", operation: Callable[[], T]) -> T:
    """``operation()``; if it lost its connection, sweep the pool and run it once more.

    A pool that timed out waiting for a connection is not retried: the database is down, and
    waiting as long again helps no one.
    """
    try:
        return operation()
    except PoolTimeout:
        raise
    except LOST_CONNECTION:
        pool.check()  # drops every idle connection the fault broke, opens new ones
        return operation()


def with_connection(
    pool: "ConnectionPool[Any]", work: Callable[["psycopg.Connection[Any]"], T]
) -> T:
    """``work(conn)`` on a connection of ``pool`` (in one transaction, or one a statement if the
    pool's connections autocommit), run again once on a fresh connection if the first was lost
    (``retry_once``): ``work`` must be safe to run twice."""

    def attempt() -> T:
        with pool.connection() as conn:
            return work(conn)

    return retry_once(pool, attempt)
