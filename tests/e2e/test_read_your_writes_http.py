"""Read your own writes with a real background worker following the log.

A command answers with the log position it reached. A query given that position (parameter
``min_position`` or header ``X-Min-Position``) waits until the read model has processed it and
then answers with the new state; if the read model does not get there within ``max_wait_ms``
it says so: 503, rule ``read-your-writes``, with ``Retry-After``. The worker wakes up when a
command is recorded (this process's saves on SQLite, LISTEN/NOTIFY on PostgreSQL), so the
wait is short.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.readside import App, Trajectories, app_of_its_own
from tests.e2e.steps import assert_problem, etag
from tests.integration.databases import BACKENDS, require_backend

#: Far more than any wake-up takes, far less than the worker's safety-net polling interval.
PROMPTLY = 0.4


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    require_backend(request, request.param)
    with app_of_its_own(request.param, tmp_path_factory.mktemp("ryw"), inline=False) as built:
        built.container.start_projection_worker()
        yield built


@pytest.fixture(scope="module", params=BACKENDS)
def idle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """An app whose worker never starts: no read model reaches what its commands write."""
    require_backend(request, request.param)
    with app_of_its_own(request.param, tmp_path_factory.mktemp("idle"), inline=False) as built:
        yield built


@pytest.fixture
def build(app: App) -> Trajectories:
    return Trajectories(app)


def get(app: App, path: str, **params: Any) -> Any:
    return app.http.get(path, params=params, headers=app.auth)


def test_a_read_given_the_position_of_a_command_shows_that_command(
    app: App, build: Trajectories
) -> None:
    trajectory = build.referred()
    answer = trajectory.post("/acceptance", {"occurred_at": build.when.ago(10)})

    response = get(app, trajectory.path, min_position=answer["position"])

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == etag(2)
    assert response.json()["status"] == "accepted"


def test_the_position_may_come_as_the_x_min_position_header(app: App, build: Trajectories) -> None:
    trajectory = build.referred()
    answer = trajectory.post("/acceptance", {"occurred_at": build.when.ago(10)})

    response = app.http.get(
        trajectory.path, headers={**app.auth, "X-Min-Position": str(answer["position"])}
    )

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


def test_every_read_endpoint_waits_for_the_position_it_is_given(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=30, next_consultation_in=10)
    answer = trajectory.post(
        "/escalations",
        {"occurred_at": build.when.ago(20), "level": "team", "reason": "safety"},
    )
    position = answer["position"]

    entries = get(app, f"{trajectory.path}/timeline", min_position=position).json()["entries"]
    board = get(app, "/v1/board", region=build.region, min_position=position).json()
    listed = get(app, "/v1/trajectories", region=build.region, min_position=position).json()

    assert entries[-1]["kind"] == "escalation_raised"
    assert [row["id"] for row in board["trajectories"]] == [trajectory.id]
    assert [(item["id"], item["version"]) for item in listed["items"]] == [(trajectory.id, 4)]


def test_the_worker_wakes_up_as_soon_as_a_command_is_recorded(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=60, next_consultation_in=10)
    waits: list[float] = []
    for n in range(8):
        answer = trajectory.post(
            "/goals", {"occurred_at": build.when.ago(50 - n), "description": f"goal {n}"}
        )
        started = time.monotonic()
        response = get(app, trajectory.path, min_position=answer["position"], max_wait_ms=5000)
        waits.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == trajectory.version

    assert max(waits) < PROMPTLY, f"waited {waits} s: the worker was not woken up"


@pytest.mark.parametrize(
    "path",
    ["/v1/trajectories/{id}", "/v1/trajectories/{id}/timeline", "/v1/board", "/v1/trajectories"],
)
def test_a_position_the_read_model_does_not_reach_in_time_is_a_503_with_retry_after(
    idle: App, path: str
) -> None:
    trajectory = Trajectories(idle).referred()
    written = idle.container.care_record.recorder.max_notification_id() or 0

    started = time.monotonic()
    response = get(idle, path.format(id=trajectory.id), min_position=written, max_wait_ms=50)
    waited = time.monotonic() - started

    problem = assert_problem(response, 503, rule="read-your-writes")
    assert response.headers["retry-after"].isdigit()
    assert "not yet at the min_position asked for" in problem["detail"]
    assert 0.05 <= waited < 2


@pytest.mark.parametrize("where", ["query", "header"])
def test_a_position_past_the_end_of_the_log_is_refused_not_waited_for(
    app: App, build: Trajectories, where: str
) -> None:
    """No write answered it, so no wait reaches it: 422 at once, without Retry-After, and the
    value asked for not repeated (a client retrying a 503 "shortly" would loop for ever)."""
    trajectory = build.referred()
    beyond = (app.container.care_record.recorder.max_notification_id() or 0) + 1_000_000
    path = f"/v1/trajectories/{trajectory.id}"

    started = time.monotonic()
    if where == "query":
        response = get(app, path, min_position=beyond, max_wait_ms=5_000)
    else:
        headers = {**app.auth, "X-Min-Position": str(beyond)}
        response = app.http.get(path, params={"max_wait_ms": 5_000}, headers=headers)
    waited = time.monotonic() - started

    problem = assert_problem(response, 422, rule="read-your-writes-position", field="min_position")
    assert "past the end of the event log" in problem["detail"]
    assert "retry-after" not in response.headers
    assert str(beyond) not in response.text
    assert waited < 2
