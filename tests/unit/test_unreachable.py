"""What the command line says in one line (``is_unreachable``): the database server that cannot
be reached or was lost, and nothing else; an error of the statement itself keeps its traceback,
which an operator or a bug report needs."""

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import OperationalError as StoreOperationalError
from psycopg_pool import PoolTimeout

from application.unavailable import NoConnection, is_unavailable, is_unreachable


def _wrapped(error: BaseException) -> BaseException:
    """As eventsourcing's recorders raise it."""
    outer = StoreOperationalError(str(error))
    outer.__cause__ = error
    return outer


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection timeout expired"),
        psycopg.OperationalError("connection refused"),
        psycopg.InterfaceError("the connection is lost"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        PoolTimeout("couldn't get a connection after 10.00 sec"),
        NoConnection("no connection within 10 s"),
        _wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_server_that_cannot_be_reached_or_was_lost(error: BaseException) -> None:
    assert is_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.DiskFull("could not extend file"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.InvalidPassword("password authentication failed"),
        psycopg.errors.ObjectNotInPrerequisiteState("not in the state it needs"),
        _wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
        sqlite3.OperationalError("database is locked"),
        ValueError("not a database error at all"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_of_the_statement_or_a_busy_file_is_not(error: BaseException) -> None:
    """(Several of them are "unavailable" to the API, which answers them 503: a deadlock or a
    busy file is worth trying again; but "check that the server is up" would mislead.)"""
    assert not is_unreachable(error)


def test_the_api_s_unavailable_is_wider() -> None:
    assert is_unavailable(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not is_unreachable(psycopg.errors.DeadlockDetected("deadlock detected"))
