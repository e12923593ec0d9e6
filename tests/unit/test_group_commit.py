"""Group commit: commands that coincide share a transaction, and each keeps its own outcome."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from application.group_commit import GroupCommit
from application.unavailable import NoConnection


@dataclass
class FakeAggregate:
    """What the group commit needs of an aggregate: an id and its pending events."""

    n_events: int = 1
    id: UUID = field(default_factory=uuid4)
    pending: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending = [f"{self.id}:{i}" for i in range(self.n_events)]

    def collect_events(self) -> list[str]:
        events, self.pending = self.pending, []
        return events


class FakeStore:
    """Records what it is given, one call per transaction; may hold the first call or refuse."""

    def __init__(self, refuse: set[UUID] | None = None) -> None:
        self.transactions: list[list[str]] = []
        self.after_calls: list[int] = []
        self.refuse = refuse or set()
        self.hold_first = threading.Event()
        self.hold_first.set()
        self.first_entered = threading.Event()
        self.position = 0

    def record(self, processing: ProcessingEvent[Any]) -> list[Any]:
        if not self.transactions and not self.first_entered.is_set():
            self.first_entered.set()
            assert self.hold_first.wait(5)
        if self.refuse & set(processing.aggregates):
            raise IntegrityError("duplicate key value violates unique constraint")
        self.transactions.append(list(processing.events))
        recordings = []
        for event in processing.events:
            self.position += 1
            recordings.append((event, self.position))
        return recordings

    def after(self, processing: ProcessingEvent[Any], recordings: list[Any]) -> None:
        self.after_calls.append(len(recordings))


def test_one_command_alone_is_one_transaction_with_its_own_recordings() -> None:
    store = FakeStore()
    group = GroupCommit(store.record, store.after)
    aggregate = FakeAggregate(n_events=2)

    recordings = group.save(aggregate)

    assert recordings == [(f"{aggregate.id}:0", 1), (f"{aggregate.id}:1", 2)]
    assert store.transactions == [[f"{aggregate.id}:0", f"{aggregate.id}:1"]]
    assert store.after_calls == [2]
    assert (group.batches, group.commands) == (1, 1)


def _save_in_threads(
    group: GroupCommit, aggregates: list[FakeAggregate]
) -> tuple[dict[UUID, Any], list[threading.Thread]]:
    """Each aggregate saved from its own thread; the outcomes fill in as the threads end."""
    outcomes: dict[UUID, Any] = {}

    def save(aggregate: FakeAggregate) -> None:
        try:
            outcomes[aggregate.id] = group.save(aggregate)
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes[aggregate.id] = error

    threads = [threading.Thread(target=save, args=(a,)) for a in aggregates]
    for thread in threads:
        thread.start()
    return outcomes, threads


def test_commands_waiting_for_the_writer_are_recorded_together_each_with_own_positions() -> None:
    store = FakeStore()
    store.hold_first.clear()
    group = GroupCommit(store.record, store.after)
    first = FakeAggregate()
    started = _save_in_threads(group, [first])
    assert store.first_entered.wait(5)
    waiting = [FakeAggregate(n_events=1 + i % 3) for i in range(6)]
    more, more_threads = _save_in_threads(group, waiting)
    _wait_until(lambda: len(group._waiting) == len(waiting))

    store.hold_first.set()
    for thread in [*started[1], *more_threads]:
        thread.join(5)

    assert len(store.transactions) == 2
    assert sorted(store.transactions[1]) == sorted(e for a in waiting for e in _events_of(a))
    for aggregate in waiting:
        recordings = more[aggregate.id]
        assert [event for event, _ in recordings] == _events_of(aggregate)
        positions = [position for _, position in recordings]
        assert positions == list(range(positions[0], positions[0] + aggregate.n_events))
    assert (group.batches, group.commands) == (2, 7)
    assert store.after_calls == [1, sum(a.n_events for a in waiting)]


def test_a_refused_batch_is_recorded_again_command_by_command() -> None:
    loser = FakeAggregate()
    store = FakeStore(refuse={loser.id})
    store.hold_first.clear()
    group = GroupCommit(store.record, store.after)
    started = _save_in_threads(group, [FakeAggregate()])
    assert store.first_entered.wait(5)
    winners = [FakeAggregate() for _ in range(3)]
    more, more_threads = _save_in_threads(group, [winners[0], loser, *winners[1:]])
    _wait_until(lambda: len(group._waiting) == 4)

    store.hold_first.set()
    for thread in [*started[1], *more_threads]:
        thread.join(5)

    assert isinstance(more[loser.id], IntegrityError)
    for winner in winners:
        assert [event for event, _ in more[winner.id]] == _events_of(winner)
    recorded = [event for transaction in store.transactions for event in transaction]
    assert not any(event.startswith(str(loser.id)) for event in recorded)
    assert len(recorded) == len(set(recorded)) == 4


def _a_batch_of_three_recorded_by(
    record: Callable[[ProcessingEvent[Any]], list[Any]],
) -> tuple[list[FakeAggregate], dict[UUID, Any]]:
    """Three commands that waited for the writer together, recorded by ``record``; each
    command's outcome."""
    store = FakeStore()
    store.hold_first.clear()
    group = GroupCommit(store.record, store.after)
    started = _save_in_threads(group, [FakeAggregate()])
    assert store.first_entered.wait(5)
    waiting = [FakeAggregate() for _ in range(3)]
    more, more_threads = _save_in_threads(group, waiting)
    _wait_until(lambda: len(group._waiting) == 3)
    group._record = record  # (the first command holds the store's own, still)
    store.hold_first.set()
    for thread in [*started[1], *more_threads]:
        thread.join(5)
    return waiting, more


def test_a_batch_that_got_no_connection_is_not_tried_again_command_by_command() -> None:
    """Each command alone would wait as long again for a connection, under the writer lock:
    every command of the batch is told at once (an unknown outcome, as for any unavailable
    database)."""
    calls: list[int] = []

    def no_connection(processing: ProcessingEvent[Any]) -> list[Any]:
        calls.append(len(processing.events))
        raise NoConnection("no connection to the event store within 10 s")

    waiting, outcomes = _a_batch_of_three_recorded_by(no_connection)

    assert calls == [3]  # (the batch once, none of its commands alone)
    assert all(isinstance(outcomes[a.id], NoConnection) for a in waiting)
    assert len({id(outcomes[a.id]) for a in waiting}) == 3  # (each raised in its own thread)


def test_commands_tried_alone_stop_at_the_first_that_got_no_connection() -> None:
    """A batch refused for a lost race is tried command by command; once one of them gets no
    connection, the others are told so rather than each waiting as long again."""
    calls: list[int] = []

    def refused_then_no_connection(processing: ProcessingEvent[Any]) -> list[Any]:
        calls.append(len(processing.events))
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        raise NoConnection("no connection to the event store within 10 s")

    waiting, outcomes = _a_batch_of_three_recorded_by(refused_then_no_connection)

    assert calls == [3, 1]  # (the batch, then its first command alone, and no more)
    assert all(isinstance(outcomes[a.id], NoConnection) for a in waiting)


def test_an_error_reaches_the_command_that_caused_it_when_alone() -> None:
    aggregate = FakeAggregate()
    group = GroupCommit(FakeStore(refuse={aggregate.id}).record, lambda p, r: None)

    with pytest.raises(IntegrityError):
        group.save(aggregate)

    assert (group.batches, group.commands) == (0, 0)


def test_a_failing_follow_up_does_not_undo_a_recorded_command() -> None:
    store = FakeStore()

    def after(processing: ProcessingEvent[Any], recordings: list[Any]) -> None:
        raise RuntimeError("snapshot store unavailable")

    group = GroupCommit(store.record, after)
    aggregate = FakeAggregate()

    assert group.save(aggregate) == [(f"{aggregate.id}:0", 1)]


def test_batches_are_bounded() -> None:
    store = FakeStore()
    store.hold_first.clear()
    group = GroupCommit(store.record, store.after, max_batch=3)
    started = _save_in_threads(group, [FakeAggregate()])
    assert store.first_entered.wait(5)
    more, more_threads = _save_in_threads(group, [FakeAggregate() for _ in range(7)])
    _wait_until(lambda: len(group._waiting) == 7)

    store.hold_first.set()
    for thread in [*started[1], *more_threads]:
        thread.join(5)

    assert [len(t) for t in store.transactions] == [1, 3, 3, 1]
    assert all(isinstance(outcome, list) for outcome in more.values())


def _events_of(aggregate: FakeAggregate) -> list[str]:
    return [f"{aggregate.id}:{i}" for i in range(aggregate.n_events)]


def _wait_until(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)
