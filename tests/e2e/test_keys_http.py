"""Keys as the service shows them (issue #10): a read the keys cannot open answers 503 with a
problem the caller can act on, never a 500 or the personal data it no longer may show."""

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from tests.e2e.readside import App, app_of_its_own
from tests.e2e.steps import assert_problem
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
