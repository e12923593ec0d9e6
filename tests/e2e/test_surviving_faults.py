"""The fault run of issue #10, in CI: real processes on PostgreSQL, under write load.

``rodedraad serve`` (no embedded workers) and ``rodedraad projections run`` run as their own
processes, as in production, while a few clients record commands over HTTP. During the load the
worker is killed (-9) and restarted, then the API, then PostgreSQL terminates every connection
to the database. Afterwards every acknowledged command is in the event store at the position it
was acknowledged with, no request was ever answered 500 (503 is allowed while the database was
away), the read models reach the head of the log and equal a rebuild from zero, and ``/health``
said ``degraded`` while no worker followed the log and ``ok`` again at the end.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.conftest import PG_ADMIN_URL, settings_for
from tests.e2e.conftest import token_factory
from tests.e2e.test_readme_walkthrough import ROOT, free_port
from tests.integration.databases import fresh_postgres_database, read_models
from tests.integration.test_surviving_a_lost_database import terminate_every_connection

pytestmark = pytest.mark.postgres

CLIENTS = 3
#: Seconds of load after each fault, so each recovery is tested under writes.
LOAD_AFTER_FAULT = 2.0


@dataclass
class Acknowledged:
    id: str
    version: int
    position: int


@dataclass
class Load:
    """Clients that register, refer and accept, remembering every acknowledged answer."""

    base: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    unreachable: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        request = urllib.request.Request(  # noqa: S310 - a local server of this test
            self.base + path,
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                status, payload = answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            status, payload = refused.code, None
        except OSError:  # the API is down (killed) or the connection broke: not acknowledged
            with self._lock:
                self.unreachable += 1
            time.sleep(0.1)
            return None
        with self._lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if payload is not None:
                self.acknowledged.append(
                    Acknowledged(payload["id"], payload["version"], payload["position"])
                )
        return payload

    def _client(self) -> None:
        now = datetime.now(UTC).isoformat()
        while not self.stop.is_set():
            client = self.post("/v1/clients", {"occurred_at": now, "name": "Fault Test"})
            if client is None:
                continue
            trajectory = self.post(
                "/v1/trajectories",
                {
                    "client_id": client["id"],
                    "occurred_at": now,
                    "question": "Support at home",
                    "sector": "youth_care",
                    "region": "west-flanders",
                    "referrer_engagement": "stays involved",
                    "client_criteria": ["under 18"],
                },
            )
            if trajectory is not None:
                self.post(f"/v1/trajectories/{trajectory['id']}/acceptance", {"occurred_at": now})

    def __enter__(self) -> "Load":
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


@dataclass
class Processes:
    """The API and the worker as subprocesses; every one is killed at the end, whatever
    happened."""

    env: dict[str, str]
    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        self.running[name] = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "rodedraad.cli", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / f"{name}.log").open("a"),
        )

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def close(self) -> None:
        for process in self.running.values():
            process.kill()
            process.wait(timeout=10)
        self.running.clear()

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs.glob("*.log"))

    def stacks(self) -> str:
        """Every running process's threads as they stand (``kill -USR1``: the CLI's stack
        dump), for a failure that a process seems stuck in; the workers' first, and before
        everything the worker's main thread alone (a CI log cut in its middle cut it off
        once: a stall could not be told from a failure repeated)."""
        for process in self.running.values():
            process.send_signal(signal.SIGUSR1)
        time.sleep(1)
        logs = {name: (self.logs / f"{name}.log").read_text() for name in self.running}
        return "\n".join(
            [
                f"--- worker's main thread\n{main_thread(logs.get('worker', ''))}",
                *(
                    f"--- {name}.log (end)\n{logs[name][-8000:]}"
                    for name in sorted(logs, key=lambda name: name != "worker")
                ),
            ]
        )


def main_thread(log: str) -> str:
    """The main thread's stack in the last stack dump of a log (``faulthandler`` names it
    "Current thread": the signal is handled on it), or what says there is none."""
    start = log.rfind("Current thread ")
    if start < 0:
        return "(no stack dump in the log)"
    header, *lines = log[start:].splitlines()
    frames = itertools.takewhile(lambda line: line.startswith("  File "), lines)
    return "\n".join([header, *frames])


def health(base: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:  # noqa: S310
            result: dict[str, Any] = json.loads(answer.read())
            return result
    except OSError:
        return None


def wait_for_health(
    base: str, condition: Callable[[dict[str, Any]], bool], seconds: float
) -> dict[str, Any] | None:
    """The first ``/health`` answer that meets ``condition`` within ``seconds``, else None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = health(base)
        if answer is not None and condition(answer):
            return answer
        time.sleep(0.2)
    return None


def connections() -> str:
    """The server's connections by database and state, against its limit: what a worker that
    cannot get one back would be up against (a stall of about 30 s after every connection was
    dropped was seen twice in CI and never here, where the worker is back within 4 s of a
    database that refused connections for 3 to 25 s)."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            limit = admin.execute("SHOW max_connections").fetchone()
            rows = admin.execute(
                "SELECT coalesce(datname, '-'), coalesce(state, '-'), count(*) "
                "FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC"
            ).fetchall()
    except psycopg.Error as error:  # (out of slots itself: say so, and keep the stacks)
        return f"the server's connections could not be read: {error!r}"
    return f"max_connections {limit[0] if limit else '?'}; " + ", ".join(
        f"{database} {state}: {count}" for database, state, count in rows
    )


def stalled(base: str, processes: Processes, seconds: float = 90) -> str:
    """What a worker that did not catch up in time was doing (``/health``, the server's
    connections, the stacks), whether it caught up at all in the next ``seconds`` (a stall
    that ends by itself points at a wait with a timeout; one that does not, at a hang), and
    what it logged meanwhile (last: a CI log keeps a message's head and tail)."""
    seen = f"{health(base)}\n{connections()}\n{processes.stacks()}"
    worker_log = processes.logs / "worker.log"
    logged = worker_log.stat().st_size if worker_log.exists() else 0
    started = time.monotonic()
    later = wait_for_health(base, caught_up, seconds)
    after = (
        f"caught up {time.monotonic() - started:.0f} s after the stacks were taken"
        if later is not None
        else f"not caught up {seconds:.0f} s later either: {health(base)}"
    )
    meanwhile = worker_log.read_bytes()[logged:][-3000:].decode(errors="replace")
    return f"{after}\n{seen}\n--- the worker's log meanwhile\n{meanwhile}"


def caught_up(answer: dict[str, Any]) -> bool:
    return answer["status"] == "ok" and all(p["lag"] == 0 for p in answer["projections"].values())


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Processes, str]]:
    with fresh_postgres_database() as url:
        settings = settings_for(url, tmp_path)
        port = free_port()
        env = {
            **os.environ,
            "RODEDRAAD_DATABASE_URL": url,
            "RODEDRAAD_DATA_DIR": str(tmp_path),
            "RODEDRAAD_PORT": str(port),
            "RODEDRAAD_EMBEDDED_WORKERS": "false",
            "RODEDRAAD_HEARTBEAT_SECONDS": "1",
            "RODEDRAAD_LOG_FORMAT": "json",
        }
        processes = Processes(env, tmp_path)
        try:
            yield settings, processes, f"http://127.0.0.1:{port}"
        finally:
            processes.close()


def test_every_acknowledged_command_survives_killed_processes_and_dropped_connections(
    deployment: tuple[Settings, Processes, str],
) -> None:
    settings, processes, base = deployment
    token = token_factory(settings)()
    processes.start("worker", "projections", "run")
    processes.start("api", "serve")
    assert wait_for_health(base, caught_up, 30), processes.log()

    with Load(base, token) as load:
        time.sleep(LOAD_AFTER_FAULT)

        processes.kill("worker")
        degraded = wait_for_health(base, lambda a: a["status"] == "degraded", 15)
        assert degraded is not None, processes.log()
        processes.start("worker", "projections", "run")
        time.sleep(LOAD_AFTER_FAULT)

        processes.kill("api")
        processes.start("api", "serve")
        assert wait_for_health(base, lambda _: True, 30), processes.log()
        acknowledged_before = load.count()
        time.sleep(LOAD_AFTER_FAULT)
        assert load.count() > acknowledged_before, "no command acknowledged after the API restart"

        assert terminate_every_connection(settings.database.url) > 0
        acknowledged_before = load.count()
        time.sleep(LOAD_AFTER_FAULT)
        assert load.count() > acknowledged_before, "no command acknowledged after the drop"

    assert all(status < 500 or status == 503 for status in load.statuses), load.statuses
    assert any("no projection worker" in r or "behind" in r for r in degraded["reasons"])
    final = wait_for_health(base, caught_up, 30)
    assert final is not None, stalled(base, processes)
    # What the failure above would show: the worker's process answers with its threads'
    # stacks, and its main thread's comes first, alone.
    first = processes.stacks().split("--- worker.log")[0]
    assert first.startswith("--- worker's main thread\nCurrent thread "), processes.log()
    assert " in _projections_run\n" in first, processes.log()
    processes.close()

    record = build_care_record(settings)
    try:
        assert final["log_position"] == record.recorder.max_notification_id()
        for ack in load.acknowledged:
            [notification] = record.recorder.select_notifications(start=ack.position, limit=1)
            assert (str(notification.originator_id), notification.originator_version) == (
                ack.id,
                ack.version,
            ), f"acknowledged {ack} is not in the store at its position"
        worker = build_projection_worker(settings, record)
        try:
            live = read_models(worker.database, worker.projections)
            worker.rebuild_many([p.name for p in worker.projections])
            assert read_models(worker.database, worker.projections) == live
        finally:
            worker.database.close()
    finally:
        record.close()
