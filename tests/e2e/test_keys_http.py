"""The key-encryption key as the service shows it (issue #10): ``/health`` says when a rotation
is overdue, ``rodedraad keys rotate`` runs beside a serving process, and a read the keys cannot
open answers 503 with a problem an operator can act on, never a 500 or another's data."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.kek import KeyringFile
from rodedraad import cli
from tests.e2e.readside import App, app_of_its_own
from tests.e2e.steps import assert_problem, bearer
from tests.integration.databases import BACKENDS, require_backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request, request.param)
    return str(request.param)


@pytest.fixture
def app(backend: str, tmp_path: Path) -> Iterator[App]:
    with app_of_its_own(backend, tmp_path, inline=True) as app:
        yield app


def a_client(app: App, name: str = "Mira Janssens") -> str:
    response = app.http.post(
        "/v1/clients",
        json={"occurred_at": "2026-01-05T10:00:00Z", "name": name},
        headers=app.auth,
    )
    assert response.status_code == 201, response.text
    client: str = response.json()["id"]
    return client


def a_trajectory(app: App, client: str) -> str:
    response = app.http.post(
        "/v1/trajectories",
        json={
            "occurred_at": "2026-01-05T11:00:00Z",
            "client_id": client,
            "question": "support at school",
            "sector": "youth_care",
            "region": "west-flanders",
        },
        headers=app.auth,
    )
    assert response.status_code == 201, response.text
    trajectory: str = response.json()["id"]
    return trajectory


def test_health_is_degraded_while_the_kek_rotation_is_overdue(backend: str, tmp_path: Path) -> None:
    KeyringFile(tmp_path / "kek.json").create(datetime.now(UTC) - timedelta(days=92))

    with app_of_its_own(backend, tmp_path, inline=True) as app:
        health = app.http.get("/health").json()

    assert health["status"] == "degraded"
    [reason] = health["reasons"]
    assert reason.startswith("the key-encryption key (version 1) is 92 days old")
    assert "rotated every 90 days" in reason
    assert "rodedraad keys rotate" in reason


def test_health_is_ok_with_a_kek_younger_than_the_rotation(app: App) -> None:
    health = app.http.get("/health").json()

    assert (health["status"], health["reasons"]) == ("ok", [])


def test_health_says_the_kek_cannot_be_used_without_naming_its_file(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of #10: /health answers without a token; the file's path is for the log and
    ``rodedraad keys status``."""
    monkeypatch.setattr("application.kek.RECHECK_SECONDS", 0.0)  # notice the file at once
    app.settings.kek.file.unlink()

    health = app.http.get("/health")

    assert health.json()["status"] == "degraded"
    assert "rodedraad keys status" in health.json()["reasons"][0]
    assert app.settings.kek.file.name not in health.text


def test_keys_rotate_runs_beside_the_serving_process_and_its_reads_and_writes_go_on(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = a_client(app)
    trajectory = a_trajectory(app, client)
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", app.settings.database.url)
    monkeypatch.setattr("rodedraad.logs.configure_logging", lambda *_, **__: None)

    assert cli.main(["keys", "rotate"]) == 0

    assert "KEK version 2 is current: 2 subject key(s) re-wrapped" in capsys.readouterr().err
    keys: Any = app.container.care_record.keys
    keys.forget([UUID(client), UUID(trajectory)])  # as in a process that never saw them
    app.container.care_record.forget_cached([UUID(client), UUID(trajectory)])
    read = app.http.get(f"/v1/clients/{client}", headers=app.auth)
    assert (read.status_code, read.json()["name"]) == (200, "Mira Janssens")
    plan = app.http.get(f"/v1/trajectories/{trajectory}", headers=app.auth)
    assert (plan.status_code, plan.json()["question"]) == (200, "support at school")
    a_trajectory(app, a_client(app, "Noor Peeters"))  # new keys, wrapped under version 2
    assert set(keys.versions_in_use()) == {2}


def test_a_plan_state_read_just_after_the_keys_were_destroyed_answers_503_not_the_plan(
    app: App,
) -> None:
    client = a_client(app)
    trajectory = a_trajectory(app, client)
    # An erasure in another process: the keys are gone, the read model not yet rewritten.
    app.container.care_record.keys.erase_client(UUID(client))

    response = app.http.get(f"/v1/trajectories/{trajectory}", headers=app.auth)

    problem = assert_problem(response, 503, rule="read-your-writes")
    assert "erased" in problem["detail"]
    assert response.headers["Retry-After"] == "1"
    assert "support at school" not in response.text


def test_a_command_racing_an_erasure_is_refused_as_erased_and_records_nothing(app: App) -> None:
    """An outside probe raced commands against an erasure and got 500s: the command had passed
    its check before the erasure was recorded, and the keys were gone when it was sealed."""
    client = a_client(app)
    a_trajectory(app, client)
    # An erasure in another process: the keys are gone, the erasure not yet seen here.
    app.container.care_record.keys.erase_client(UUID(client))
    before = app.container.care_record.recorder.max_notification_id()

    response = app.http.post(
        f"/v1/clients/{client}/representatives",
        json={
            "occurred_at": "2026-01-06T10:00:00Z",
            "representative_ref": "rep-mother",
            "name": "Mother",
        },
        headers=app.auth,
    )

    problem = assert_problem(response, 409, rule="client-erased")
    assert "erased" in problem["detail"]
    assert app.container.care_record.recorder.max_notification_id() == before


def test_a_read_the_kek_cannot_open_answers_503_for_the_operator(app: App) -> None:
    client = a_client(app)
    keys: Any = app.container.care_record.keys
    keyring_file = keys.keyring
    with keyring_file.locked():  # the file lost its only version (restored from a wrong copy)
        keyring_file.write(keyring_file.reload().destroying(1, datetime.now(UTC)))
    keys.forget([UUID(client)])
    app.container.care_record.forget_cached([UUID(client)])

    response = app.http.get(f"/v1/clients/{client}", headers=app.auth)

    problem = assert_problem(response, 503, rule="kek-unavailable")
    assert str(keyring_file.path) not in response.text  # the operator's log says which file
    assert "Mira" not in response.text
    assert "key-encryption key" in problem["detail"]


def test_an_erasure_the_ledger_file_cannot_take_erases_nothing(app: App) -> None:
    """Issue #21: the erasure ledger is written before any key goes. A ledger file that cannot
    be written (here: a directory stands where the file should be) stops the erasure with a
    503 an operator can act on; the client's data stays readable, nothing half-done."""
    client = a_client(app)
    ledger = app.container.care_record.erasure_ledger
    assert ledger is not None
    ledger.path.mkdir(parents=True)
    officer = bearer(app.token(user="dpo", roles=("data_protection_officer",)))

    response = app.http.post(
        f"/v1/clients/{client}/erasure",
        json={"occurred_at": "2026-01-06T10:00:00Z", "legal_basis": "gdpr_request"},
        headers=officer,
    )

    problem = assert_problem(response, 503, rule="erasure-ledger-unavailable")
    assert "nothing was erased" in problem["detail"]
    assert str(ledger.path) not in response.text
    assert app.container.care_record.keys.key_for(UUID(client)) is not None
    assert app.container.care_record.client(UUID(client)).erased_at is None
