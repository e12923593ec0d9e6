"""What the idempotency table keeps, and for how long (review of issue #10).

A key holds for a day: a retry within it replays the first answer (also across a KEK
rotation), a retry after it is a new request, and the scheduler's run deletes older keys. A row
keeps no plain hash of the request: a register request's body (a name, a contact, a moment)
can be guessed, and its hash confirmed, by anyone holding only a copy of the database.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import psycopg
import pytest

from application.commands import RegisterClient
from rodedraad.wiring import (
    Container,
    build_deadline_scheduler,
    build_kek_rotation,
    build_leader_lock,
)
from scheduler.runner import BackgroundDeadlines
from tests.e2e.readside import App, app_for_backend
from tests.e2e.steps import at
from tests.integration.databases import BACKENDS

BODY = {"occurred_at": at(0), "name": "Lotte Peeters", "contact": "+32 470 12 34 56"}


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    """An app of its own, with no scheduler in the background: the test runs it."""
    with app_for_backend(request, tmp_path, inline=True) as built:
        yield built


def register(app: App, key: str) -> Any:
    return app.http.post("/v1/clients", json=BODY, headers={**app.auth, "Idempotency-Key": key})


def on_idempotency_table(container: Container, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """``sql`` (``{table}``, ``?``) on the table of keys, as a copy of the database shows it."""
    settings = container.settings
    if settings.database.is_postgres:
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            cursor = conn.execute(
                sql.format(table="rodedraad_idempotency_keys").replace("?", "%s"), params
            )
            return cursor.fetchall() if cursor.description else None
    with sqlite3.connect(settings.data_dir / "idempotency.sqlite") as conn:
        found = conn.execute(sql.format(table="idempotency_keys"), params).fetchall()
    conn.close()
    return found


def age_every_key(container: Container, hours: float) -> None:
    then = datetime.now(UTC) - timedelta(hours=hours)
    stored = then if container.settings.database.is_postgres else then.isoformat()
    on_idempotency_table(container, "UPDATE {table} SET created_at = ?", (stored,))


def test_the_table_keeps_no_plain_hash_of_a_request_one_could_guess(app: App) -> None:
    register(app, uuid4().hex)
    decoded = msgspec.json.decode(json.dumps(BODY), type=RegisterClient)
    guess = b"POST /v1/clients\n" + msgspec.json.encode(decoded)

    [(stored,)] = on_idempotency_table(app.container, "SELECT fingerprint FROM {table}")

    assert hashlib.sha256(guess).hexdigest() not in stored


def test_a_retry_within_a_day_replays_even_after_the_kek_was_rotated(app: App) -> None:
    key = uuid4().hex
    first = register(app, key)
    rotation = build_kek_rotation(app.settings, app.container.care_record.keys)
    rotation.run(datetime.now(UTC), force=True)

    again = register(app, key)

    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_a_retry_after_a_day_is_a_new_request(app: App) -> None:
    key = uuid4().hex
    first = register(app, key)
    age_every_key(app.container, hours=25)

    again = register(app, key)

    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]


def test_the_schedulers_run_deletes_the_keys_older_than_a_day(app: App) -> None:
    register(app, "kept-since-a-day")
    age_every_key(app.container, hours=25)
    register(app, "kept-since-now")
    settings, container = app.settings, app.container
    background = BackgroundDeadlines(
        build_deadline_scheduler(settings, container.care_record, container.policy),
        build_leader_lock(settings),
        interval=300,
        prune_idempotency_keys=container.idempotency.prune,
    )
    try:
        background.tick()
    finally:
        background.lock.release()
        background.scheduler.database.close()

    keys = on_idempotency_table(app.container, "SELECT key FROM {table}")
    assert [key.rsplit("\x1f", 1)[-1] for (key,) in keys] == ["kept-since-now"]
