"""The benchmark's null command (issue #22): routed only when the benchmark asks for it, behind
the same authentication as every command, and never beside a production token issuer."""

import dataclasses
from pathlib import Path

import pytest
from litestar.testing import TestClient

from rodedraad.settings import Settings, SettingsError
from rodedraad.wiring import Container
from tests.e2e.conftest import token_factory

PATH = "/v1/benchmark/null-command"
BODY = {"occurred_at": "2026-11-30T10:00:00Z", "summary": "any command's body"}


def test_a_deployment_has_no_null_command(http: TestClient, auth: dict[str, str]) -> None:  # type: ignore[type-arg]
    assert http.post(PATH, json=BODY, headers=auth).status_code == 404


def test_the_benchmark_s_null_command_answers_as_a_command_without_recording(
    any_settings: Settings,
) -> None:
    settings = dataclasses.replace(
        any_settings,
        http=dataclasses.replace(any_settings.http, benchmark_null_command=True),
    )
    container = Container.build(settings, inline_projections=True)
    try:
        head = container.care_record.recorder.max_notification_id() or 0
        with TestClient(app=container.http_app()) as http:
            assert http.post(PATH, json=BODY).status_code == 401
            token = token_factory(settings)()
            answer = http.post(PATH, json=BODY, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
            assert answer.json()["version"] == 1
            assert answer.headers["ETag"] == '"1"'
            bad = http.post(
                PATH,
                content=b"{not json",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert bad.status_code == 400
            assert (container.care_record.recorder.max_notification_id() or 0) == head
    finally:
        container.close()


def test_the_null_command_is_off_by_default_and_refused_with_a_production_issuer(
    tmp_path: Path,
) -> None:
    assert (
        Settings.from_env({"RODEDRAAD_DATA_DIR": str(tmp_path)}).http.benchmark_null_command
        is False
    )
    with pytest.raises(SettingsError, match="BENCHMARK_NULL_COMMAND"):
        Settings.from_env(
            {
                "RODEDRAAD_DATA_DIR": str(tmp_path),
                "RODEDRAAD_BENCHMARK_NULL_COMMAND": "true",
                "RODEDRAAD_JWT_JWKS_URL": "https://idp.example/jwks",
                "RODEDRAAD_JWT_ISSUER": "https://idp.example",
            }
        )
