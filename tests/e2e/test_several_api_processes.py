"""Several API processes behind one address, on one PostgreSQL database (issue #20 point 5).

Two ``rodedraad serve`` processes and one projection worker, as a deployment scales the API out;
the test's client sends each request to the next process in turn (round robin: the "one
address"). Commands interleaved on the same trajectories lose no update and are refused only by
the optimistic concurrency the API documents (``409 lost-race``, retried as documented); an
``Idempotency-Key`` holds across the processes; a consent revoked through one process closes the
door on the very next read through the other.
"""

import itertools
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.conftest import settings_for
from tests.e2e.conftest import token_factory
from tests.e2e.steps import at, on
from tests.e2e.test_compose_processes import call, eventually
from tests.e2e.test_readme_walkthrough import free_port
from tests.e2e.test_surviving_faults import Processes, caught_up, health
from tests.integration.databases import fresh_postgres_database

pytestmark = pytest.mark.postgres

THREADS = 4
TRAJECTORIES = 3
GOALS_PER_THREAD = 3
A, B = "org-a", "org-b"


@dataclass
class RoundRobin:
    """One address for several processes: each request goes to the next one."""

    bases: list[str]
    _next: Iterator[str] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._next = itertools.cycle(self.bases)

    def base(self) -> str:
        with self._lock:
            return next(self._next)


@dataclass
class Deployment:
    settings: Settings
    processes: Processes
    apis: list[str]
    tokens: dict[str, str]

    def command(self, base: str, path: str, body: dict[str, Any], org: str = A) -> Any:
        """A command, retried as the API documents after a lost race (same key: a refusal
        releases it). Any other refusal fails the test."""
        key = uuid.uuid4().hex
        for _ in range(20):
            status, answer = call(base, self.tokens[org], "POST", path, body, key)
            if status in (200, 201):
                return answer
            assert (status, answer.get("rule")) == (409, "lost-race"), (status, answer)
        pytest.fail(f"{path}: lost the race 20 times")


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[Deployment]:
    with fresh_postgres_database() as url:
        settings = settings_for(url, tmp_path)
        issue = token_factory(settings)  # makes the deployment's token secret, shared by all
        env = {
            "RODEDRAAD_DATABASE_URL": url,
            "RODEDRAAD_DATA_DIR": str(tmp_path),
            "RODEDRAAD_EMBEDDED_WORKERS": "false",
            "RODEDRAAD_HEARTBEAT_SECONDS": "1",
            "RODEDRAAD_LOG_FORMAT": "json",
        }
        processes = Processes({**os.environ, **env}, tmp_path)
        try:
            apis = []
            for name in ("api-1", "api-2"):  # one after the other: the first makes the KEK
                port = free_port()
                processes.start(name, "serve", "--port", str(port))
                apis.append(f"http://127.0.0.1:{port}")
                assert eventually(lambda b=apis[-1]: health(b), 30), processes.log()
            processes.start("worker", "projections", "run")
            assert eventually(lambda: caught_up(health(apis[0]) or {"status": ""}), 30)
            tokens = {org: issue(user=f"user@{org}", org=org) for org in (A, B)}
            yield Deployment(settings, processes, apis, tokens)
        finally:
            processes.close()


def referred_and_started(deployment: Deployment, robin: RoundRobin) -> tuple[str, int]:
    """A trajectory with its start consultation: its id, and the log position reached."""
    client = deployment.command(robin.base(), "/v1/clients", {"occurred_at": at(-1)})
    trajectory = deployment.command(
        robin.base(),
        "/v1/trajectories",
        {
            "occurred_at": at(0),
            "client_id": client["id"],
            "question": "Support at home",
            "sector": "youth_care",
            "region": "west-flanders",
        },
    )
    path = f"/v1/trajectories/{trajectory['id']}"
    deployment.command(robin.base(), f"{path}/acceptance", {"occurred_at": at(1)})
    started = deployment.command(
        robin.base(),
        f"{path}/consultations",
        {
            "occurred_at": at(2),
            "kind": "start",
            "participants": [{"organisation": A, "role": "planmaker"}],
            "client_involvement": "present",
            "next_consultation_on": on(90),
        },
    )
    return trajectory["id"], started["position"]


def test_commands_interleaved_through_two_processes_lose_no_update(
    deployment: Deployment,
) -> None:
    robin = RoundRobin(deployment.apis)
    trajectories = [referred_and_started(deployment, robin)[0] for _ in range(TRAJECTORIES)]
    failures: list[BaseException] = []

    def add_goals(thread: int) -> None:
        try:
            for i in range(GOALS_PER_THREAD):
                for trajectory in trajectories:
                    deployment.command(
                        robin.base(),
                        f"/v1/trajectories/{trajectory}/goals",
                        {
                            "occurred_at": at(3),
                            "goal_id": f"goal-{thread}-{i}",
                            "description": "Back to school",
                        },
                    )
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            failures.append(error)

    threads = [threading.Thread(target=add_goals, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == [], failures

    record = build_care_record(deployment.settings)
    try:
        for trajectory in trajectories:
            aggregate = record.trajectory(UUID(trajectory))
            # referral, acceptance, start consultation, then every goal exactly once
            assert aggregate.version == 3 + THREADS * GOALS_PER_THREAD
    finally:
        record.close()


def test_an_idempotency_key_holds_across_processes(deployment: Deployment) -> None:
    first, second = deployment.apis
    robin = RoundRobin([first])
    trajectory, _ = referred_and_started(deployment, robin)
    path = f"/v1/trajectories/{trajectory}/goals"
    body = {"occurred_at": at(3), "goal_id": "goal-once", "description": "Sleeps well"}
    key = uuid.uuid4().hex

    answers = [
        call(base, deployment.tokens[A], "POST", path, body, key) for base in (first, second)
    ]

    assert answers[0] == answers[1]
    assert answers[0][0] == 200, answers
    record = build_care_record(deployment.settings)
    try:
        assert record.trajectory(UUID(trajectory)).version == 4
    finally:
        record.close()


def test_a_consent_revoked_through_one_process_closes_the_next_read_through_the_other(
    deployment: Deployment,
) -> None:
    first, second = deployment.apis
    trajectory, position = referred_and_started(deployment, RoundRobin([first]))
    status, state = call(
        first, deployment.tokens[A], "GET", f"/v1/trajectories/{trajectory}?min_position={position}"
    )
    assert status == 200, state
    client = state["client_id"]
    consent = deployment.command(
        first,
        f"/v1/clients/{client}/consents",
        {"occurred_at": at(0), "to_party": B, "scopes": ["plan"], "purpose": "continuity"},
    )
    path = f"/v1/trajectories/{trajectory}?min_position={consent['position']}"
    status, seen = call(second, deployment.tokens[B], "GET", path)
    assert status == 200, seen

    deployment.command(
        first,
        f"/v1/clients/{client}/consents/{consent['item_id']}/revocation",
        {"occurred_at": at(4), "reason": "withdrawn"},
    )
    status, refused = call(second, deployment.tokens[B], "GET", f"/v1/trajectories/{trajectory}")

    assert (status, refused["rule"]) == (404, "trajectory-not-found")
