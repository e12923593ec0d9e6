"""The PostgreSQL recorder: eventsourcing's table lock kept, in one call per transaction."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import EventStore, IntegrityError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

from application.care_record import CareRecord
from application.commands import AppointRepresentative, RegisterClient
from application.pg_recorder import LockedInsertRecorder
from rodedraad.settings import Settings
from tests.support import said
from tests.unit.builders import ctx

pytestmark = pytest.mark.postgres


def test_the_application_records_through_the_locked_insert(pg_record: CareRecord) -> None:
    assert isinstance(pg_record.recorder, LockedInsertRecorder)

    first = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0)))
    second = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0)))

    assert (first.position, second.position) == (1, 2)
    [notification] = pg_record.recorder.select_notifications(start=2, limit=1)
    assert notification.originator_id == second.id


@pytest.mark.parametrize(
    ("start", "limit", "options"),
    [
        (None, 50, {}),
        (1, 4, {}),
        (2, 50, {"inclusive_of_start": False}),
        (1, 50, {"stop": 5}),
        (None, 50, {"topics": "registered"}),
        (2, 3, {"stop": 7, "topics": "registered", "inclusive_of_start": False}),
    ],
    ids=["from the start", "a page", "after a position", "up to a stop", "of a topic", "all"],
)
def test_the_log_reads_as_eventsourcings_own_reader_reads_it(
    pg_record: CareRecord, start: int | None, limit: int, options: dict[str, Any]
) -> None:
    """The leaner read of the log (issue #22) answers exactly what eventsourcing's does."""
    for _ in range(8):
        pg_record.register_client(ctx(0), said(RegisterClient, ctx(0)))
    recorder = pg_record.recorder
    if options.get("topics") == "registered":
        options = {**options, "topics": [recorder.select_notifications(1, 1)[0].topic]}

    ours = recorder.select_notifications(start, limit, **options)

    theirs = PostgresApplicationRecorder.select_notifications(
        recorder,
        start,
        limit,
        **options,
    )
    assert ours, "the case should find notifications"
    assert ours == theirs
    assert [type(n.state) for n in ours] == [bytes] * len(ours)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gt": 2},
        {"lte": 3},
        {"gt": 1, "lte": 4},
        {"desc": True, "limit": 2},
        {"gt": 9},
        {"lte": 3, "desc": True, "limit": 1},
        {"desc": True},
    ],
    ids=[
        "all",
        "after a version",
        "up to a version",
        "between",
        "last two",
        "none after",
        "the last up to a version (a snapshot's shape)",
        "all, newest first",
    ],
)
def test_a_records_events_read_as_eventsourcings_own_reader_reads_them(
    pg_record: CareRecord, options: dict[str, Any]
) -> None:
    """The leaner read of one record's events (issue #22): the same stored events, in the same
    order, with their state as bytes; and the same for the snapshots' recorder."""
    client = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0)))
    for n in range(1, 5):
        pg_record.change_client(
            ctx(n),
            client.id,
            None,
            said(AppointRepresentative, ctx(n), representative_ref=f"rep-{n}"),
        )
    recorder = pg_record.recorder

    ours = recorder.select_events(client.id, **options)

    theirs = PostgresAggregateRecorder.select_events(recorder, client.id, **options)
    assert ours == theirs
    assert [type(e.state) for e in ours] == [bytes] * len(ours)
    if options != {"gt": 9}:
        assert ours, "the case should find events"
    assert isinstance(pg_record.snapshots, EventStore)
    snapshots = pg_record.snapshots.recorder
    assert snapshots.select_events(client.id, **options) == (
        PostgresAggregateRecorder.select_events(snapshots, client.id, **options)
    )


def test_a_write_waits_for_the_table_lock_like_eventsourcings_own(
    pg_record: CareRecord, pg_settings: Settings
) -> None:
    """Another transaction that is inserting (ROW EXCLUSIVE, which a plain INSERT would not
    wait for) holds our insert back until it ends: the EXCLUSIVE lock that keeps notification
    ids in commit order is taken."""
    table = pg_record.recorder.events_table_name  # type: ignore[attr-defined]
    done = threading.Event()
    with psycopg.connect(pg_settings.database.url) as holder:
        holder.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
        writer = threading.Thread(
            target=lambda: (
                pg_record.register_client(ctx(0), said(RegisterClient, ctx(0))),
                done.set(),
            )
        )
        writer.start()
        time.sleep(0.5)
        assert not done.is_set(), "the insert did not wait for the table lock"
    writer.join(10)

    assert done.is_set()
    assert pg_record.recorder.max_notification_id() == 1


def test_a_version_taken_twice_is_refused_and_nothing_of_it_recorded(pg_record: CareRecord) -> None:
    client_id = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0))).id
    [existing] = pg_record.recorder.select_events(client_id)
    again = StoredEvent(client_id, existing.originator_version, existing.topic, existing.state)
    fresh = StoredEvent(client_id, existing.originator_version + 1, existing.topic, existing.state)

    with pytest.raises(IntegrityError):
        pg_record.recorder.insert_events([fresh, again])

    assert len(pg_record.recorder.select_events(client_id)) == 1


def lose_the_next_connection(
    recorder: Any, monkeypatch: pytest.MonkeyPatch, *, after_commit: bool
) -> None:
    """The recorder's next connection is lost: ``after_commit``, once its statement committed
    and before the answer arrived (PostgreSQL restarting between the commit and the reply);
    otherwise before the statement ran."""
    connection = recorder.datastore.get_connection
    lost: list[bool] = []

    def lose() -> None:
        lost.append(True)
        raise OperationalError("server closed the connection unexpectedly")

    @contextmanager
    def lost_once() -> Iterator[Any]:
        if not lost and not after_commit:
            lose()
        with connection() as conn:
            yield conn
        if not lost:
            lose()

    monkeypatch.setattr(recorder.datastore, "get_connection", lost_once)


def test_an_insert_that_committed_but_lost_its_answer_is_recorded_once(
    pg_record: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of #10 (S1): the retry meets its own rows; that is no lost race."""
    lose_the_next_connection(pg_record.recorder, monkeypatch, after_commit=True)

    result = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0)))

    assert result.position == pg_record.recorder.max_notification_id() == 1
    assert len(pg_record.recorder.select_events(result.id)) == 1


def test_a_version_another_command_took_while_the_answer_was_lost_is_a_lost_race(
    pg_record: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry meets rows that are not ours (their sealed bytes differ): refused."""
    client_id = pg_record.register_client(ctx(0), said(RegisterClient, ctx(0))).id
    [existing] = pg_record.recorder.select_events(client_id)
    theirs = StoredEvent(client_id, existing.originator_version + 1, existing.topic, b"theirs")
    ours = StoredEvent(client_id, existing.originator_version + 1, existing.topic, b"ours")
    pg_record.recorder.insert_events([theirs])
    lose_the_next_connection(pg_record.recorder, monkeypatch, after_commit=False)

    with pytest.raises(IntegrityError):
        pg_record.recorder.insert_events([ours])

    assert [e.state for e in pg_record.recorder.select_events(client_id)][-1] == b"theirs"
