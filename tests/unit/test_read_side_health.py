"""``/health``'s read-side checks and the worker's pauses, on a clock the test moves (issue #10)."""

import asyncio
import sqlite3
import threading
import types
from typing import Any

import psycopg
import pytest
import structlog
from eventsourcing.persistence import OperationalError as StoreOperationalError

from application.unavailable import DatabaseUnavailable, is_busy, is_unavailable
from projections.health import StalledProjections, StandbyReachable, behind_primary
from projections.store import PostgresProjectionDatabase
from projections.tracking import TrackingQueries
from projections.worker import Backoff, ProjectionWorker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stalled_check(positions: dict[str, int], head: int, clock: Clock) -> StalledProjections:
    async def current() -> dict[str, int]:
        return dict(positions)

    return StalledProjections(current, lambda: head, stalled_after=10, clock=clock)


def test_a_lagging_projection_that_stands_still_is_reported_once_past_the_threshold() -> None:
    clock = Clock()
    check = stalled_check({"timeline": 7}, head=10, clock=clock)
    assert asyncio.run(check()) is None  # first seen behind: not yet a stall
    clock.now = 10.5

    reason = asyncio.run(check())

    assert reason == "projection timeline is 3 events behind and has not advanced for 10 s"


def test_a_lagging_projection_that_advances_is_not_reported() -> None:
    clock = Clock()
    positions = {"timeline": 7}
    check = stalled_check(positions, head=10, clock=clock)
    asyncio.run(check())
    clock.now, positions["timeline"] = 10.5, 8

    assert asyncio.run(check()) is None


def test_a_projection_at_the_head_is_never_reported_however_long_it_waits() -> None:
    clock = Clock()
    check = stalled_check({"timeline": 10}, head=10, clock=clock)
    asyncio.run(check())
    clock.now = 3600

    assert asyncio.run(check()) is None


def test_the_workers_pauses_double_up_to_the_longest_and_start_again_after_success() -> None:
    backoff = Backoff(first=0.5, longest=3.0)

    pauses = [backoff.next() for _ in range(5)]
    backoff.reset()

    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.next() == 0.5


def test_a_busy_sqlite_file_is_unavailable_as_raised_and_as_eventsourcing_wraps_it() -> None:
    locked = sqlite3.OperationalError("database is locked")
    wrapped = StoreOperationalError("database is locked")
    wrapped.__cause__ = locked

    assert (is_unavailable(locked), is_unavailable(wrapped)) == (True, True)


def test_a_missing_sqlite_table_is_a_fault_of_ours_not_an_unavailable_database() -> None:
    assert not is_unavailable(sqlite3.OperationalError("no such table: rm_tracking"))


class _Pauses(threading.Event):
    """A stop event that records each pause asked of it instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout or 0.0)
        return self.is_set()


class _FailingWorker(ProjectionWorker):
    """A worker whose batches raise the given errors in turn, then succeed."""

    def __init__(self, errors: list[Exception]) -> None:
        self._errors = errors
        self._lock = threading.RLock()
        self.projections = ()
        self.name = "test"

    def process_together(self) -> tuple[int, bool]:
        if self._errors:
            raise self._errors.pop(0)
        return 0, False

    def heartbeat(self, state: str, *, force: bool = False) -> None:
        pass


class _StopWhenCaughtUp:
    def wait(self, stop: threading.Event) -> None:
        stop.set()


def _pauses_after(errors: list[Exception]) -> list[float]:
    stop = _Pauses()
    _FailingWorker(errors).run(stop, _StopWhenCaughtUp())
    return stop.asked


def test_a_worker_kept_out_by_another_writer_tries_again_within_a_second() -> None:
    locked = StoreOperationalError("database is locked")
    locked.__cause__ = sqlite3.OperationalError("database is locked")

    pauses = _pauses_after([locked] * 8)

    assert len(pauses) == 8
    assert max(pauses) == 1.0
    assert pauses[0] < 0.1


def test_a_lost_database_is_tried_again_after_pauses_that_double_to_five_seconds() -> None:
    """Capped low: a read model must be back soon after its database (a try costs one
    connection attempt)."""
    lost = psycopg.OperationalError("connection refused")

    assert _pauses_after([lost] * 7) == [0.5, 1, 2, 4, 5, 5, 5]


def test_only_a_held_lock_is_busy_not_a_lost_database_nor_a_fault_of_ours() -> None:
    assert is_busy(sqlite3.OperationalError("database is busy"))
    assert is_busy(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert not is_busy(psycopg.OperationalError("connection refused"))
    assert not is_busy(sqlite3.OperationalError("no such table: rm_tracking"))


def test_the_projection_database_does_not_wait_forever_for_a_host_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review of #10: a start against a host gone from the network must give up, not hang."""
    asked: dict[str, Any] = {}

    def unreachable(*_: object, **options: Any) -> None:
        asked.update(options)
        raise psycopg.OperationalError("connection timeout expired")

    monkeypatch.setattr(psycopg, "connect", unreachable)

    with pytest.raises(psycopg.OperationalError):
        PostgresProjectionDatabase("postgresql://rodedraad@192.0.2.1:5432/rodedraad")

    assert asked.get("connect_timeout") == 10


class Runner:
    """A read-model runner whose database is up or gone."""

    dialect = "postgres"

    def __init__(self, rows: list[tuple[Any, ...]] | None) -> None:
        self.rows = rows

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self.rows is None:
            raise DatabaseUnavailable("the read models cannot be reached")
        return self.rows


def test_a_standby_that_cannot_be_reached_makes_health_degraded() -> None:
    gone = StandbyReachable(TrackingQueries(Runner(None)))
    there = StandbyReachable(TrackingQueries(Runner([("plan_state", 4)])))

    assert asyncio.run(gone()) == "the read replica cannot be reached: its reads answer 503"
    assert asyncio.run(there()) is None


def test_the_standby_s_lag_is_counted_per_projection_against_the_primary_s_position() -> None:
    lag = behind_primary({"plan_state": 10, "timeline": 9}, {"plan_state": 7})

    assert lag == {"plan_state": 3, "timeline": 9}  # a projection the standby lacks: all of it


def test_a_failure_that_lasts_is_told_again_every_ten_seconds_with_its_tries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Said once and then silent, a worker that keeps failing looked like one that hangs
    (a CI failure of the fault test could not tell them apart)."""
    clock = Clock()

    class Paused(_Pauses):
        def wait(self, timeout: float | None = None) -> bool:
            clock.now += timeout or 0.0
            return super().wait(timeout)

    monkeypatch.setattr("projections.worker.time", types.SimpleNamespace(monotonic=clock))
    stop = Paused()
    lost = psycopg.OperationalError("connection refused")
    with structlog.testing.capture_logs() as logs:
        _FailingWorker([lost] * 9).run(stop, _StopWhenCaughtUp())

    told = [(line["event"], line.get("tries"), line.get("seconds")) for line in logs]
    # tries at 0, 0.5, 1.5, 3.5, 7.5, 12.5 (told), 17.5, 22.5 (told), 27.5; then success
    assert told == [
        ("projection worker following the log", None, None),
        ("projection worker lost its database; reconnecting with backoff", None, None),
        ("projection worker still failing", 6, 12.5),
        ("projection worker still failing", 8, 22.5),
        ("projection worker recovered", 9, None),
    ]
