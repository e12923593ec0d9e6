"""The production process model of ``deploy/compose.yaml``, run as processes (issue #20 point 1).

The machines here have no container engine, so this test reads the compose file and starts
exactly its commands with its environment as processes on a PostgreSQL database of its own: the
``migrate`` job first (the services refuse to start while a migration is pending), then the
API, the projection worker and the scheduler. A trajectory walks through the API: commands, a
read model catching up, and a deadline the scheduler records. A one-off job runs beside them;
then every service stops on SIGTERM and exits cleanly. If the file rots, this test fails.

What the test replaces, and only that: what ``api.env`` and the volumes give a container (the
database URL, where the files live) and the ports; and the scheduler's interval (1 s, not 300 s).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import settings_for
from tests.e2e.conftest import token_factory
from tests.e2e.test_metrics_http import scrape, total
from tests.e2e.test_readme_walkthrough import ROOT, free_port
from tests.integration.databases import fresh_postgres_database

pytestmark = pytest.mark.postgres

COMPOSE = ROOT / "deploy" / "compose.yaml"
SERVICES = ("api", "worker", "scheduler")
#: What a container gets from elsewhere (api.env, volumes, port mapping), set by the test.
REPLACED = {
    "RODEDRAAD_DATABASE_URL",
    "RODEDRAAD_DATA_DIR",
    "RODEDRAAD_KEK_FILE",
    "RODEDRAAD_HOST",
    "RODEDRAAD_PORT",
    "RODEDRAAD_SCHEDULER_INTERVAL_SECONDS",
    "RODEDRAAD_HEARTBEAT_SECONDS",
    "RODEDRAAD_METRICS_ADDRESS",
}
#: Paths and the listening address inside a container: the test gives its own.
CONTAINER_PATHS = {
    "RODEDRAAD_DATA_DIR",
    "RODEDRAAD_KEK_FILE",
    "RODEDRAAD_HOST",
    "RODEDRAAD_PORT",
    "RODEDRAAD_METRICS_ADDRESS",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def argv(service: dict[str, Any], *extra: str) -> list[str]:
    """The service's command line, with ``rodedraad`` as this interpreter's module."""
    words = [*service.get("entrypoint", []), *(extra or service.get("command", []))]
    assert words[0] == "rodedraad", words
    return [sys.executable, "-m", "rodedraad.cli", *words[1:]]


@dataclass
class Deployment:
    compose: dict[str, Any]
    overrides: dict[str, str]
    logs: Path
    #: Each process's metrics listener (in containers each has its own network address).
    metrics: dict[str, tuple[str, int]] = field(
        default_factory=lambda: {name: ("127.0.0.1", free_port()) for name in SERVICES}
    )
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        declared = {k: str(v) for k, v in self.compose["services"][name]["environment"].items()}
        env = {**os.environ, **declared, **self.overrides}
        if name in self.metrics:
            host, port = self.metrics[name]
            env["RODEDRAAD_METRICS_ADDRESS"] = f"{host}:{port}"
        else:  # a one-off job exposes none: it would only find the service's port taken
            env.pop("RODEDRAAD_METRICS_ADDRESS", None)
        return env

    def run_job(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        service = self.compose["services"][name]
        return subprocess.run(  # noqa: S603 - the compose file's own command
            argv(service, *args),
            cwd=ROOT,
            env=self.env(name),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self, name: str) -> None:
        self.running[name] = subprocess.Popen(  # noqa: S603 - the compose file's own command
            argv(self.compose["services"][name]),
            cwd=ROOT,
            env=self.env(name),
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / f"{name}.log").open("a"),
        )

    def stop(self) -> dict[str, int]:
        """SIGTERM to each, as ``docker compose stop`` sends; their exit codes."""
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait(timeout=10)
        self.running.clear()
        return codes

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Deployment, str, str]]:
    with fresh_postgres_database() as url:
        port = free_port()
        overrides = {
            "RODEDRAAD_DATABASE_URL": url,
            "RODEDRAAD_DATA_DIR": str(tmp_path / "files"),
            "RODEDRAAD_KEK_FILE": str(tmp_path / "kek" / "kek.json"),
            "RODEDRAAD_HOST": "127.0.0.1",
            "RODEDRAAD_PORT": str(port),
            "RODEDRAAD_SCHEDULER_INTERVAL_SECONDS": "1",
            "RODEDRAAD_HEARTBEAT_SECONDS": "1",
        }
        assert set(overrides) | {"RODEDRAAD_METRICS_ADDRESS"} == REPLACED
        (tmp_path / "logs").mkdir()
        running = Deployment(compose(), overrides, tmp_path / "logs")
        token = token_factory(settings_for(url, tmp_path / "files"))()
        try:
            yield running, f"http://127.0.0.1:{port}", token
        finally:
            running.stop()


def call(
    base: str,
    token: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    key: str | None = None,
) -> tuple[int, Any]:
    """One request (with ``key``, or a new ``Idempotency-Key``); its status and JSON body."""
    request = urllib.request.Request(  # noqa: S310 - a local server of this test
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key or uuid.uuid4().hex,
        },
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


def eventually(probe: Any, seconds: float) -> Any:
    """The first truthy answer of ``probe()`` within ``seconds``, else the last one."""
    deadline = time.monotonic() + seconds
    answer = probe()
    while not answer and time.monotonic() < deadline:
        time.sleep(0.25)
        answer = probe()
    return answer


def test_the_compose_file_declares_the_services_and_jobs_of_the_process_model() -> None:
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        environment = services[name]["environment"]
        assert environment["RODEDRAAD_EMBEDDED_WORKERS"] == "false"
        assert environment["RODEDRAAD_MIGRATE_ON_START"] == "false"
        # The test replaces only what a container gets from api.env, volumes and ports.
        assert not set(environment) & (REPLACED - CONTAINER_PATHS), name
    for name in SERVICES:
        assert "healthcheck" in services[name], name
    jobs = {n: s for n, s in services.items() if "jobs" in s.get("profiles", [])}
    assert set(jobs) >= {"rebuild", "release-statistics", "rotate-keys"}
    every_word = json.dumps(services).lower()
    assert "erase" not in every_word, "erasure is the data protection officer's, via the API"


def test_the_compose_processes_record_commands_follow_the_log_and_record_deadlines(
    deployment: tuple[Deployment, str, str],
) -> None:
    running, base, token = deployment
    migrated = running.run_job("migrate")
    assert migrated.returncode == 0, migrated.stderr
    for name in SERVICES:
        running.start(name)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:  # noqa: S310
                return bool(json.loads(answer.read())["status"] == "ok")
        except OSError:
            return False

    assert eventually(healthy, 30), running.log()

    # Accepted sixty days ago, and no start consultation since: due thirty days after acceptance.
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    status, client = call(base, token, "POST", "/v1/clients", {"occurred_at": t0.isoformat()})
    assert status == 201, client
    status, trajectory = call(
        base,
        token,
        "POST",
        "/v1/trajectories",
        {
            "occurred_at": (t0 + timedelta(hours=1)).isoformat(),
            "client_id": client["id"],
            "question": "Support at home",
            "sector": "youth_care",
            "region": "west-flanders",
        },
    )
    assert status == 201, trajectory
    path = f"/v1/trajectories/{trajectory['id']}"
    acceptance = {"occurred_at": (t0 + timedelta(hours=2)).isoformat()}
    status, accepted = call(base, token, "POST", f"{path}/acceptance", acceptance)
    assert status == 200, accepted

    # The worker process brings the read model up to the command's position.
    status, state = call(base, token, "GET", f"{path}?min_position={accepted['position']}")
    assert status == 200, (state, running.log())
    assert state["version"] == 2

    # The scheduler process records the missed start consultation; the worker shows it.
    def missed() -> list[Any]:
        status, timeline = call(base, token, "GET", f"{path}/timeline")
        assert status == 200, timeline
        return [e for e in timeline["entries"] if e["kind"] == "deadline_missed"]

    entries = eventually(missed, 30)
    assert [e["detail"]["rule"] for e in entries] == ["start_consultation"], running.log()

    # Each process exposes its own metrics.
    api, scheduler = scrape(running.metrics["api"]), scrape(running.metrics["scheduler"])
    assert total(api, "rodedraad_commands_total", outcome="recorded") == 3

    def worker_position() -> float:  # observed at each heartbeat (1 s here)
        worker = scrape(running.metrics["worker"])
        return total(worker, "rodedraad_projection_position", projection="plan_state")

    assert eventually(lambda: worker_position() >= accepted["position"], 10)
    assert total(scheduler, "rodedraad_scheduler_facts_recorded_total", kind="missed") == 1
    assert total(scheduler, "rodedraad_scheduler_runs_total", outcome="completed") >= 1

    # A one-off job beside the running services.
    rebuilt = running.run_job("rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt up to log position" in rebuilt.stderr

    # uvicorn shuts down gracefully on SIGTERM and then re-raises it (exit 143 in a container).
    assert running.stop() == {"api": -signal.SIGTERM, "worker": 0, "scheduler": 0}, running.log()
