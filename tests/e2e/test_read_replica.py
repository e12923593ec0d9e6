"""Reads from a PostgreSQL hot standby (issue #20 point 4), against a real streaming replica.

The shared test server is never reconfigured: ``benchmarks.replica.streaming_replica`` runs
``initdb`` for a primary of its own in a temporary directory (as the ``postgres`` OS user:
PostgreSQL refuses to run as root, and CI runs as root), on free ports, with its own
``pg_hba.conf`` allowing replication, makes the standby with ``pg_basebackup`` and removes both
at the end. With the standby's replay
paused, it holds that a plan state, the list and a learning network are read from the standby
(read-your-writes waits for the standby's own position), that a consent revoked or a party's
agreement ended on the primary closes the door at once on the plan state, the board and the
list, however far behind the standby is, and that ``/health`` and the metric show the lag.
"""

import os
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from benchmarks.replica import server_programs_available, streaming_replica
from litestar.testing import TestClient

from application.metrics import metrics
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import token_factory
from tests.e2e.steps import at, bearer, on, save_release

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def replica(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL): a database ``rodedraad`` on a primary and its hot standby."""
    if not server_programs_available():
        if os.environ.get("CI") == "true":
            pytest.fail("initdb is required in CI for the read-replica test")
        pytest.skip("no PostgreSQL server programs (initdb) on this machine")
    with streaming_replica() as urls:
        yield urls


@pytest.fixture(scope="module")
def built(
    replica: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Container, TestClient, str]]:  # type: ignore[type-arg]
    primary, standby = replica
    data_dir = tmp_path_factory.mktemp("replica-app")
    settings = Settings.from_env(
        {
            "RODEDRAAD_DATABASE_URL": primary,
            "RODEDRAAD_READ_DATABASE_URL": standby,
            "RODEDRAAD_DATA_DIR": str(data_dir),
        }
    )
    container = Container.build(settings, inline_projections=True)
    try:
        with TestClient(app=container.http_app()) as http:
            yield settings, container, http, standby
    finally:
        container.close()


@pytest.fixture(scope="module")
def app(
    built: tuple[Settings, Container, TestClient, str],  # type: ignore[type-arg]
) -> tuple[Settings, TestClient, str]:  # type: ignore[type-arg]
    settings, _, http, standby = built
    return settings, http, standby


class Replay:
    """Pause and resume the standby's replay of the primary's WAL."""

    def __init__(self, standby: str) -> None:
        self.standby = standby

    def _call(self, function: str) -> None:
        with psycopg.connect(self.standby, autocommit=True) as conn:
            conn.execute(f"SELECT {function}()")

    def __enter__(self) -> "Replay":
        self._call("pg_wal_replay_pause")
        return self

    def __exit__(self, *_: object) -> None:
        self._call("pg_wal_replay_resume")


def coordinator(settings: Settings, org: str = "org-a") -> dict[str, str]:
    return bearer(token_factory(settings)(user=f"user@{org}", org=org))


def org_a_and_b(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> tuple[TestClient, str, dict[str, str], dict[str, str]]:  # type: ignore[type-arg]
    """(client, standby URL, org-a's coordinator, org-b's coordinator)."""
    settings, http, standby = app
    return http, standby, coordinator(settings), coordinator(settings, "org-b")


def post(http: TestClient, path: str, body: dict[str, Any], auth: dict[str, str]) -> Any:  # type: ignore[type-arg]
    answer = http.post(path, json=body, headers=auth)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def started_trajectory(http: TestClient, auth: dict[str, str]) -> tuple[str, str, int]:  # type: ignore[type-arg]
    client = post(http, "/v1/clients", {"occurred_at": at(-1)}, auth)
    referral = {
        "occurred_at": at(0),
        "client_id": client["id"],
        "question": "Support at home",
        "sector": "youth_care",
        "region": "west-flanders",
    }
    trajectory = post(http, "/v1/trajectories", referral, auth)
    path = f"/v1/trajectories/{trajectory['id']}"
    accepted = post(http, f"{path}/acceptance", {"occurred_at": at(1)}, auth)
    return client["id"], trajectory["id"], accepted["position"]


def test_a_plan_state_is_read_from_the_standby_at_its_own_position(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    settings, http, standby = app
    auth = coordinator(settings)
    _, trajectory, position = started_trajectory(http, auth)
    path = f"/v1/trajectories/{trajectory}"

    caught_up = http.get(f"{path}?min_position={position}&max_wait_ms=5000", headers=auth)
    assert caught_up.status_code == 200, caught_up.text
    assert caught_up.json()["version"] == 2

    with Replay(standby):
        goal = {"occurred_at": at(3), "goal_id": "goal-home", "description": "Safe at home"}
        consultation = {
            "occurred_at": at(2),
            "kind": "start",
            "participants": [{"organisation": "org-a", "role": "planmaker"}],
            "client_involvement": "present",
            "next_consultation_on": on(90),
        }
        post(http, f"{path}/consultations", consultation, auth)
        recorded = post(http, f"{path}/goals", goal, auth)
        # The primary's read model has it (inline projections), the paused standby has not:
        behind = http.get(
            f"{path}?min_position={recorded['position']}&max_wait_ms=300", headers=auth
        )
        assert (behind.status_code, behind.json()["rule"]) == (503, "read-your-writes")
        stale = http.get(path, headers=auth)
        assert stale.json()["version"] == 2  # what the standby says, without min_position

    fresh = http.get(f"{path}?min_position={recorded['position']}&max_wait_ms=5000", headers=auth)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["version"] == 4


def test_a_consent_revoked_on_the_primary_closes_the_door_while_the_standby_lags(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    http, standby, a, b = org_a_and_b(app)
    client, trajectory, _ = started_trajectory(http, a)
    consent = post(
        http,
        f"/v1/clients/{client}/consents",
        {"occurred_at": at(0), "to_party": "org-b", "scopes": ["plan"], "purpose": "continuity"},
        a,
    )
    path = f"/v1/trajectories/{trajectory}"
    seen = http.get(f"{path}?min_position={consent['position']}&max_wait_ms=5000", headers=b)
    assert seen.status_code == 200, seen.text

    with Replay(standby):
        revocation = f"/v1/clients/{client}/consents/{consent['item_id']}/revocation"
        post(http, revocation, {"occurred_at": at(4), "reason": "withdrawn"}, a)

        plan, timeline = http.get(path, headers=b), http.get(f"{path}/timeline", headers=b)

        assert (plan.status_code, plan.json()["rule"]) == (404, "trajectory-not-found")
        assert timeline.status_code == 404
        assert http.get(path, headers=a).status_code == 200  # the standby still answers A


def test_an_erasure_on_the_primary_closes_the_standby_s_copy_of_the_plan_state(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    """The standby still holds the sealed document; its key comes from the primary's key
    store, destroyed by the erasure, so the stale copy is never opened."""
    settings, http, standby = app
    a = coordinator(settings)
    officer = bearer(token_factory(settings)(user="dpo", roles=("data_protection_officer",)))
    client, trajectory, position = started_trajectory(http, a)
    path = f"/v1/trajectories/{trajectory}"
    before = http.get(f"{path}?min_position={position}&max_wait_ms=5000", headers=a)
    assert "Support at home" in before.text

    with Replay(standby):
        erasure = {"occurred_at": at(5), "legal_basis": "gdpr_request"}
        post(http, f"/v1/clients/{client}/erasure", erasure, officer)

        during = http.get(path, headers=a)

        assert (during.status_code, during.json()["rule"]) == (503, "read-your-writes")
        assert "Support at home" not in during.text


def on_list(http: TestClient, auth: dict[str, str], trajectory: str, query: str = "") -> bool:  # type: ignore[type-arg]
    answer = http.get(f"/v1/trajectories?limit=500{query}", headers=auth)
    assert answer.status_code == 200, answer.text
    return trajectory in {item["id"] for item in answer.json()["items"]}


def on_board(http: TestClient, auth: dict[str, str], trajectory: str) -> bool:  # type: ignore[type-arg]
    # Nothing recorded for more than a day (the story is 60 days old): on the board.
    answer = http.get("/v1/board?limit=500&idle_days=1", headers=auth)
    assert answer.status_code == 200, answer.text
    return trajectory in {row["id"] for row in answer.json()["trajectories"]}


def standby_parties(standby: str, trajectory: str) -> set[str]:
    with psycopg.connect(standby) as conn:
        rows = conn.execute(
            "SELECT organisation FROM rm_trajectory_parties WHERE trajectory_id = %s",
            (trajectory,),
        ).fetchall()
    return {r[0] for r in rows}


def test_a_party_whose_agreement_ended_on_the_primary_leaves_the_standby_s_board_and_list(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    http, standby, a, b = org_a_and_b(app)
    _, trajectory, _ = started_trajectory(http, a)
    path = f"/v1/trajectories/{trajectory}"
    agreement = {
        "occurred_at": at(2),
        "agreement_id": "care",
        "assignments": [{"party": "org-b", "role": "provider"}],
    }
    post(http, f"{path}/role-agreements", agreement, a)
    accepted = post(http, f"{path}/role-agreements/care/acceptances", {"occurred_at": at(3)}, b)
    caught_up = f"&min_position={accepted['position']}&max_wait_ms=5000"
    assert on_list(http, b, trajectory, caught_up)
    assert on_board(http, b, trajectory)

    with Replay(standby):
        post(http, f"{path}/role-agreements/care/end", {"occurred_at": at(5), "reason": "done"}, a)
        assert "org-b" in standby_parties(standby, trajectory)  # the standby still says so

        assert not on_list(http, b, trajectory)
        assert not on_board(http, b, trajectory)
        assert on_list(http, a, trajectory)  # read on the standby, still there for A
        assert on_board(http, a, trajectory)


def test_min_position_on_the_list_waits_for_the_standby(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    http, standby, a, _ = org_a_and_b(app)
    with Replay(standby):
        _, trajectory, position = started_trajectory(http, a)
        behind = http.get(f"/v1/trajectories?min_position={position}&max_wait_ms=300", headers=a)
        assert (behind.status_code, behind.json()["rule"]) == (503, "read-your-writes")
        assert not on_list(http, a, trajectory)  # not replayed on the standby yet

    assert on_list(http, a, trajectory, f"&min_position={position}&max_wait_ms=5000")


def test_health_and_the_metric_show_how_far_the_standby_is_behind(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    http, standby, a, _ = org_a_and_b(app)
    with Replay(standby):
        started_trajectory(http, a)
        paused = http.get("/health").json()
        paused_metric = metrics().registry.get_sample_value("rodedraad_standby_lag_events")

    assert paused["standby"]["plan_state"]["lag"] >= 1
    assert paused_metric is not None
    assert paused_metric >= 1
    _, _, position = started_trajectory(http, a)
    http.get(f"/v1/trajectories?min_position={position}&max_wait_ms=5000", headers=a)
    caught_up = http.get("/health").json()
    assert caught_up["standby"]["plan_state"] == {"position": position, "lag": 0}
    assert metrics().registry.get_sample_value("rodedraad_standby_lag_events") == 0


def test_a_learning_network_is_read_from_the_standby_and_one_not_replayed_yet_is_a_503(
    app: tuple[Settings, TestClient, str],  # type: ignore[type-arg]
) -> None:
    settings, http, standby = app
    forum = bearer(token_factory(settings)(user="forum", org="forum-secretariat", roles=("forum",)))
    body = {
        "occurred_at": at(0),
        "level": "meso",
        "region": "limburg",
        "coordinating_organisation": "org-a",
    }
    with Replay(standby):
        established = post(http, "/v1/learning-networks", body, forum)
        path = f"/v1/learning-networks/{established['id']}"

        missing = http.get(path, headers=forum)
        listed = http.get("/v1/learning-networks", headers=forum).json()

        assert (missing.status_code, missing.json()["rule"]) == (503, "read-your-writes")
        assert established["id"] not in {n["id"] for n in listed}

    caught_up = f"min_position={established['position']}&max_wait_ms=5000"
    listed = http.get(f"/v1/learning-networks?{caught_up}", headers=forum).json()
    assert established["id"] in {n["id"] for n in listed}
    assert http.get(path, headers=forum).status_code == 200


def test_a_statistics_release_is_read_from_the_standby_once_it_has_replayed_it(
    built: tuple[Settings, Container, TestClient, str],  # type: ignore[type-arg]
) -> None:
    settings, container, http, standby = built
    forum = bearer(token_factory(settings)(user="forum", org="forum-secretariat", roles=("forum",)))
    with Replay(standby):
        number = save_release(container, "west-flanders")
        path = f"/v1/statistics/releases/{number}"

        during = http.get(path, headers=forum)
        listed = http.get("/v1/statistics/releases", headers=forum).json()

        assert (during.status_code, during.json()["rule"]) == (503, "read-your-writes")
        assert number not in {r["number"] for r in listed}  # the standby's list: not yet

    deadline = time.monotonic() + 10
    after = http.get(path, headers=forum)
    while after.status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
        after = http.get(path, headers=forum)
    assert after.status_code == 200, after.text
    assert after.json()["number"] == number
