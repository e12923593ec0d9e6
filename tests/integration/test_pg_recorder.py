"""The PostgreSQL recorder: eventsourcing's table lock kept, in one call per transaction."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from application.care_record import CareRecord
from application.pg_recorder import LockedInsertRecorder
from domain.client import PersonalData
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.integration.databases import fresh_settings
from tests.unit.builders import ctx

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    with fresh_settings("postgres", tmp_path) as settings:
        yield settings


@pytest.fixture
def app(settings: Settings) -> Iterator[CareRecord]:
    app = build_care_record(settings)
    yield app
    app.close()


def test_the_application_records_through_the_locked_insert(app: CareRecord) -> None:
    assert isinstance(app.recorder, LockedInsertRecorder)

    first = app.register_client(ctx(0), personal=PersonalData())
    second = app.register_client(ctx(0), personal=PersonalData())

    assert (first.position, second.position) == (1, 2)
    [notification] = app.recorder.select_notifications(start=2, limit=1)
    assert notification.originator_id == second.id


def test_a_write_waits_for_the_table_lock_like_eventsourcings_own(
    app: CareRecord, settings: Settings
) -> None:
    """Another transaction that is inserting (ROW EXCLUSIVE, which a plain INSERT would not
    wait for) holds our insert back until it ends: the EXCLUSIVE lock that keeps notification
    ids in commit order is taken."""
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    done = threading.Event()
    with psycopg.connect(settings.database.url) as holder:
        holder.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
        writer = threading.Thread(
            target=lambda: (app.register_client(ctx(0), personal=PersonalData()), done.set())
        )
        writer.start()
        time.sleep(0.5)
        assert not done.is_set(), "the insert did not wait for the table lock"
    writer.join(10)

    assert done.is_set()
    assert app.recorder.max_notification_id() == 1


def test_a_version_taken_twice_is_refused_and_nothing_of_it_recorded(app: CareRecord) -> None:
    client_id = app.register_client(ctx(0), personal=PersonalData()).id
    [existing] = app.recorder.select_events(client_id)
    again = StoredEvent(client_id, existing.originator_version, existing.topic, existing.state)
    fresh = StoredEvent(client_id, existing.originator_version + 1, existing.topic, existing.state)

    with pytest.raises(IntegrityError):
        app.recorder.insert_events([fresh, again])

    assert len(app.recorder.select_events(client_id)) == 1
