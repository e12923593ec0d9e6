"""The API when its database goes away (issue #10, points 10 and 11).

Right after PostgreSQL dropped every connection, commands and reads answer as usual (a lost
connection is retried once where that is safe). A database that stays unavailable answers 503
``database-unavailable`` with ``Retry-After``, never 500, and a command interrupted so keeps its
Idempotency-Key reserved. ``/health`` says ``degraded``, with the reason, while no projection
worker follows the log, and ``ok`` while one does or projections run inline.
"""

import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from projections.tracking import write_heartbeat
from tests.e2e.readside import App, app_for_backend, app_of_its_own
from tests.e2e.steps import assert_problem, at
from tests.integration.databases import BACKENDS
from tests.integration.test_pg_recorder import lose_the_next_connection
from tests.integration.test_surviving_a_lost_database import terminate_every_connection


@pytest.fixture(params=BACKENDS)
def inline(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    """The app as the tests build it: projections applied after each command."""
    with app_for_backend(request, tmp_path, inline=True) as built:
        yield built


@pytest.fixture(params=BACKENDS)
def deployed(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    """The API as deployed with a worker of its own process: none runs here."""
    with app_for_backend(request, tmp_path, inline=False) as built:
        yield built


@pytest.fixture
def on_postgres(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    request.getfixturevalue("postgres_url")
    with app_of_its_own("postgres", tmp_path, inline=True) as built:
        yield built


def register(app: App, key: str | None = None) -> Any:
    headers = {**app.auth, **({"Idempotency-Key": key} if key else {})}
    return app.http.post("/v1/clients", json={"occurred_at": at(0)}, headers=headers)


def refer(app: App, client_id: str) -> Any:
    return app.http.post(
        "/v1/trajectories",
        json={
            "client_id": client_id,
            "occurred_at": at(1),
            "question": "Support at home",
            "sector": "youth_care",
            "region": "west-flanders",
            "referrer_engagement": "stays involved",
            "client_criteria": [],
        },
        headers=app.auth,
    )


def unavailable_error(app: App) -> Exception:
    """What each backend raises when its database cannot be used right now."""
    if app.settings.database.is_postgres:
        return psycopg.OperationalError("server closed the connection unexpectedly")
    return sqlite3.OperationalError("database is locked")


# --- lost connections --------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_command_right_after_postgresql_dropped_every_connection_is_recorded(
    on_postgres: App,
) -> None:
    assert register(on_postgres, key=uuid.uuid4().hex).status_code == 201
    assert terminate_every_connection(on_postgres.settings.database.url) > 0

    answer = register(on_postgres, key=uuid.uuid4().hex)

    assert answer.status_code == 201, answer.text


@pytest.mark.postgres
def test_a_read_right_after_postgresql_dropped_every_connection_answers(on_postgres: App) -> None:
    client = register(on_postgres).json()["id"]
    trajectory = refer(on_postgres, client).json()["id"]
    path = f"/v1/trajectories/{trajectory}"
    assert on_postgres.http.get(path, headers=on_postgres.auth).status_code == 200
    assert terminate_every_connection(on_postgres.settings.database.url) > 0

    answer = on_postgres.http.get(path, headers=on_postgres.auth)

    assert answer.status_code == 200, answer.text


@pytest.mark.postgres
def test_a_command_whose_answer_was_lost_after_commit_is_recorded_once_under_its_key(
    on_postgres: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of #10 (S1): the insert committed, its answer was lost, the retry met its own
    rows. Once answered 409 and the key released, the client's retry recorded it again."""
    key = uuid.uuid4().hex
    store = on_postgres.container.care_record.recorder
    before = store.max_notification_id() or 0
    lose_the_next_connection(store, monkeypatch, after_commit=True)

    first = register(on_postgres, key=key)
    again = register(on_postgres, key=key)

    assert first.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert store.max_notification_id() == before + 1


# --- an unavailable database --------------------------------------------------------------------


def test_a_command_whose_database_is_unavailable_answers_503_with_retry_after(
    inline: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object, **__: object) -> bytes:
        raise unavailable_error(inline)

    monkeypatch.setattr(inline.container.care_record.keys, "create", fail)

    answer = register(inline)

    problem = assert_problem(answer, 503, rule="database-unavailable")
    assert int(answer.headers["Retry-After"]) > 0
    assert "try again" in problem["detail"]


def test_a_command_interrupted_by_an_unavailable_database_keeps_its_idempotency_key(
    inline: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its outcome is unknown (the events may have committed): a retry with the same key is
    told to check the record, rather than recording a second time."""
    key = uuid.uuid4().hex

    def fail(*_: object, **__: object) -> bytes:
        raise unavailable_error(inline)

    with monkeypatch.context() as patched:
        patched.setattr(inline.container.care_record.keys, "create", fail)
        assert register(inline, key=key).status_code == 503

    assert_problem(register(inline, key=key), 409, rule="idempotency-key-busy")


# --- /health ------------------------------------------------------------------------------------


def test_health_is_ok_with_inline_projections_and_no_worker(inline: App) -> None:
    register(inline)

    health = inline.http.get("/health").json()

    assert (health["status"], health["reasons"]) == ("ok", [])


def test_health_says_degraded_while_no_projection_worker_was_ever_seen(deployed: App) -> None:
    health = deployed.http.get("/health").json()

    assert health["status"] == "degraded"
    assert health["reasons"] == ["no projection worker connected: never seen"]


def test_health_says_degraded_when_the_worker_was_last_heard_of_long_ago(deployed: App) -> None:
    with deployed.container.worker.database.transaction() as tx:
        write_heartbeat(tx, "host:1", "ok", time.time() - 60)

    health = deployed.http.get("/health").json()

    assert health["status"] == "degraded"
    [reason] = health["reasons"]
    assert reason.startswith("no projection worker connected: last seen 6")  # 60 s, 61 s


def test_health_says_a_worker_is_failing_without_naming_its_host_or_process(
    deployed: App,
) -> None:
    """/health answers without a token (review of #10): the worker's own log names it."""
    with deployed.container.worker.database.transaction() as tx:
        write_heartbeat(tx, "host-7:4242", "failing: OperationalError", time.time())
        write_heartbeat(tx, "host-8:99", "ok", time.time())

    health = deployed.http.get("/health").json()

    assert health["status"] == "degraded"
    assert health["reasons"] == [
        "1 of 2 projection worker(s) report failing: OperationalError; their logs say which"
    ]


def test_health_is_ok_while_a_worker_follows_the_log(deployed: App) -> None:
    deployed.container.start_projection_worker()
    register(deployed)
    deadline = time.monotonic() + 10
    health = deployed.http.get("/health").json()
    while health["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.05)
        health = deployed.http.get("/health").json()

    assert (health["status"], health["reasons"]) == ("ok", [])
