"""Reads from a PostgreSQL hot standby (issue #20 point 4), against a real streaming replica.

The shared test server is never reconfigured: ``benchmarks.replica.streaming_replica`` runs
``initdb`` for a primary of its own in a temporary directory (as the ``postgres`` OS user:
PostgreSQL refuses to run as root, and CI runs as root), on free ports, with its own
``pg_hba.conf`` allowing replication, makes the standby with ``pg_basebackup`` and removes both
at the end. With the standby's replay
paused, it holds that a plan state is read from the standby (read-your-writes waits for the
standby's own position), and that a consent revoked on the primary closes the door at once,
however far behind the standby is.
"""

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from benchmarks.replica import server_programs_available, streaming_replica
from litestar.testing import TestClient

from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import token_factory
from tests.e2e.steps import at, bearer, on

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
def app(
    replica: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, TestClient, str]]:  # type: ignore[type-arg]
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
            yield settings, http, standby
    finally:
        container.close()


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
    settings, http, standby = app
    a, b = coordinator(settings), coordinator(settings, "org-b")
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
