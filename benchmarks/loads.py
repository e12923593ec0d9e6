"""The loads a benchmark applies, each over a warm-up and then a measured window.

- :func:`http_commands`: workload commands as HTTP requests from N concurrent clients (keep-alive
  connections of :mod:`benchmarks.http_client`), or the same bodies to the null command;
- :func:`app_commands`: the same commands through ``CareRecord`` from N threads (no HTTP);
- :func:`pg_inserts` / :func:`sqlite_inserts`: the physical baseline, single-row inserts of a
  ~1 KB payload, one commit each, at the same concurrency;
- :class:`PositionWatcher`: watches the projections' positions (``rm_tracking``) for the lag;
- :func:`get_latencies`: sequential queries.

A request counts when it *ends* inside the window; throughput is the count over the window.
"""

import asyncio
import itertools
import sqlite3
import threading
import time
import uuid
from bisect import bisect_left
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import psycopg

from api.null_command import NULL_COMMAND_PATH
from application.care_record import CareRecord
from benchmarks.http_client import Connection, encode_headers
from benchmarks.processes import cpu_seconds, postgres_cpu_seconds
from benchmarks.stats import latency_summary
from benchmarks.workload import Ids, TrajectoryScript, http_request, record_answer, run_step, script

PAYLOAD_BYTES = 1024


def payload(size: int = PAYLOAD_BYTES) -> bytes:
    """A JSON-like payload of ``size`` bytes, like a stored event's state."""
    text = b'{"actor":{"user_id":"u-yc-ant-1","organisation":"yc-ant-1"},"detail":"'
    return (text + b"x" * size)[: size - 2] + b'"}'


class ScriptFeed:
    """Hands fresh trajectories (not in the loaded data set) to concurrent clients."""

    def __init__(self, seed: int, first_index: int, as_of: date) -> None:
        self.seed = seed
        self.as_of = as_of
        self._indices = itertools.count(first_index)

    def next(self) -> TrajectoryScript:
        return script(self.seed, next(self._indices), self.as_of)


class CpuMeter:
    """CPU used by the benchmark, the named processes and PostgreSQL, in cores, over a window."""

    def __init__(self, pids: dict[str, int], postgres: bool) -> None:
        self.pids = pids
        self.postgres = postgres
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def _read(self) -> dict[str, float]:
        found = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        found["benchmark"] = time.process_time()
        if self.postgres:
            found["postgres"] = postgres_cpu_seconds()
        return found

    def start(self) -> None:
        self._start = self._read()
        self._t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._t0
        end = self._read()
        return {k: round((end[k] - self._start[k]) / elapsed, 2) for k in end}


@dataclass
class RunResult:
    """One measured window."""

    window: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    cpu_cores: dict[str, float] = field(default_factory=dict)
    #: (answered at, log position) of each command answered inside the window.
    answers: list[tuple[float, int]] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.window

    def summary(self) -> dict[str, Any]:
        return {
            "per_second": round(self.per_second, 1),
            "latency_ms": {k: round(v, 3) for k, v in latency_summary(self.latencies).items()},
            "errors": self.errors,
            "first_error": self.first_error,
            "cpu_cores": self.cpu_cores,
        }


class Window:
    def __init__(self, warmup: float, window: float) -> None:
        self.t0 = time.perf_counter()
        self.start = self.t0 + warmup
        self.end = self.start + window
        self.result = RunResult(window=window)
        self._lock = threading.Lock()

    def over(self) -> bool:
        return time.perf_counter() >= self.end

    def record(self, started: float, ended: float, position: int | None = None) -> None:
        if self.start <= ended <= self.end:
            self.result.latencies.append(ended - started)
            if position is not None:
                self.result.answers.append((ended, position))

    def error(self, ended: float, message: str) -> None:
        with self._lock:
            if self.start <= ended <= self.end:
                self.result.errors += 1
            if self.result.first_error is None:
                self.result.first_error = message[:500]


def start_meter(meter: CpuMeter | None, window: Window) -> None:
    """Start the meter when the measured window opens (called from a timer)."""
    if meter is not None:
        delay = window.start - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        meter.start()


async def gather_measured(
    w: Window, meter: CpuMeter | None, loops: Sequence[Coroutine[Any, Any, None]]
) -> None:
    """Run the clients' loops; the meter starts when the window opens and stops after."""
    meter_task = asyncio.create_task(asyncio.to_thread(start_meter, meter, w))
    await asyncio.gather(*loops)
    await meter_task
    if meter is not None:
        w.result.cpu_cores = meter.stop()


# --- HTTP --------------------------------------------------------------------------------------


async def http_commands(
    base_url: str,
    headers: dict[str, dict[str, str]],
    feed: ScriptFeed,
    concurrency: int,
    warmup: float,
    window: float,
    *,
    rate: float | None = None,
    meter: CpuMeter | None = None,
    null: bool = False,
) -> RunResult:
    """Workload commands from ``concurrency`` clients; at ``rate`` commands/s if given.
    ``null``: each to the server's null command instead (issue #22), the same bodies."""
    w = Window(warmup, window)
    interval = concurrency / rate if rate else 0.0
    encoded = {org: encode_headers(h) for org, h in headers.items()}

    async def client_loop(k: int, client: Connection) -> None:
        next_send = w.t0 + interval * k / concurrency
        while not w.over():
            trajectory = feed.next()
            ids = Ids()
            for step in trajectory.steps:
                if rate:
                    delay = next_send - time.perf_counter()
                    next_send += interval
                    if delay > 0:
                        await asyncio.sleep(delay)
                if w.over():
                    return
                path, body = http_request(step, ids)
                if null:
                    path = NULL_COMMAND_PATH
                started = time.perf_counter()
                status, content = await client.request(
                    "POST", path, encoded[step.organisation], msgspec.json.encode(body)
                )
                ended = time.perf_counter()
                if status >= 300:
                    w.error(ended, f"{status} {step.command}: {content.decode(errors='replace')}")
                    break
                data = msgspec.json.decode(content)
                record_answer(step, ids, data["id"])
                w.record(started, ended, data.get("position"))

    clients = [Connection(base_url) for _ in range(concurrency)]
    try:
        await gather_measured(w, meter, [client_loop(k, c) for k, c in enumerate(clients)])
    finally:
        for client in clients:
            await client.close()
    return w.result


async def get_latencies(
    base_url: str, kinds: dict[str, list[tuple[str, dict[str, str]]]], warmup: int = 5
) -> dict[str, list[float]]:
    """Per kind, sequential GETs (path, headers) from one client; the first ``warmup`` of each
    kind are not counted."""
    found: dict[str, list[float]] = {}
    client = Connection(base_url)
    try:
        for kind, requests in kinds.items():
            found[kind] = []
            for i, (path, headers) in enumerate([*requests[:warmup], *requests]):
                encoded = encode_headers(headers)
                started = time.perf_counter()
                status, content = await client.request("GET", path, encoded)
                ended = time.perf_counter()
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status} {content[:300]!r}")
                if i >= warmup:
                    found[kind].append(ended - started)
    finally:
        await client.close()
    return found


# --- the application directly -------------------------------------------------------------------


def app_commands(
    app: CareRecord,
    feed: ScriptFeed,
    concurrency: int,
    warmup: float,
    window: float,
    meter: CpuMeter | None = None,
) -> RunResult:
    """Workload commands through ``CareRecord`` from ``concurrency`` threads of this process."""
    w = Window(warmup, window)

    def client_loop() -> None:
        while not w.over():
            trajectory = feed.next()
            ids = Ids()
            for step in trajectory.steps:
                if w.over():
                    return
                started = time.perf_counter()
                try:
                    result = run_step(app, step, ids)
                except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
                    w.error(time.perf_counter(), f"{step.command}: {e!r}")
                    break
                w.record(started, time.perf_counter(), result.position)

    run_threads(client_loop, concurrency, w, meter)
    return w.result


def run_threads(
    target: Callable[[], None], concurrency: int, w: Window, meter: CpuMeter | None
) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start_meter(meter, w)
    for thread in threads:
        thread.join(timeout=w.end - time.perf_counter() + 60)
    if meter is not None:
        w.result.cpu_cores = meter.stop()


# --- the physical baseline ----------------------------------------------------------------------

BASELINE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_baseline (id BIGSERIAL PRIMARY KEY, "
    "originator_id UUID NOT NULL, originator_version INTEGER NOT NULL, topic TEXT NOT NULL, "
    "state BYTEA NOT NULL)"
)
_TOPIC = "domain.trajectory:Trajectory.ConsultationHeld"


def prepare_pg_baseline(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(BASELINE_DDL)


async def pg_inserts(
    url: str, concurrency: int, warmup: float, window: float, meter: CpuMeter | None = None
) -> RunResult:
    """Single-row inserts of ~1 KB, each its own transaction, from ``concurrency`` connections."""
    data = payload()
    connections = [await asyncpg.connect(url) for _ in range(concurrency)]
    w = Window(warmup, window)
    sql = (
        "INSERT INTO bench_baseline (originator_id, originator_version, topic, state) "
        "VALUES ($1, 1, $2, $3)"
    )

    async def client_loop(conn: asyncpg.Connection) -> None:
        while not w.over():
            started = time.perf_counter()
            await conn.execute(sql, uuid.uuid4(), _TOPIC, data)
            w.record(started, time.perf_counter())

    try:
        await gather_measured(w, meter, [client_loop(c) for c in connections])
    finally:
        for conn in connections:
            await conn.close()
    return w.result


def sqlite_inserts(
    path: Path, concurrency: int, warmup: float, window: float, meter: CpuMeter | None = None
) -> RunResult:
    """The same on an SQLite file in WAL mode (as eventsourcing opens it), one commit each.

    SQLite takes one writer at a time; the threads take turns through a lock in this process
    (as eventsourcing's connection pool makes its writers do) rather than spinning on the
    file's busy timeout, which would understate what the file can take.
    """
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_baseline (id INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "topic TEXT NOT NULL, state BLOB NOT NULL)"
        )
    conn.close()
    w = Window(warmup, window)
    data = payload()
    writer = threading.Lock()

    def client_loop() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            while not w.over():
                started = time.perf_counter()
                with writer:
                    conn.execute(
                        "INSERT INTO bench_baseline (originator_id, originator_version, topic, "
                        "state) VALUES (?, 1, ?, ?)",
                        (uuid.uuid4().hex, _TOPIC, data),
                    )
                w.record(started, time.perf_counter())
        finally:
            conn.close()

    run_threads(client_loop, concurrency, w, meter)
    return w.result


# --- projection lag -----------------------------------------------------------------------------


class PositionWatcher(threading.Thread):
    """Polls the projections' positions every ``interval`` seconds, keeping when each moved."""

    def __init__(self, fetch: Callable[[], dict[str, int]], interval: float = 0.002) -> None:
        super().__init__(name="position-watcher", daemon=True)
        self.fetch = fetch
        self.interval = interval
        self.history: list[tuple[float, dict[str, int]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            positions = self.fetch()
            self.history.append((time.perf_counter(), positions))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def lags(self, answers: Sequence[tuple[float, int]], names: Sequence[str]) -> list[float]:
        """Per answered command: seconds until every projection in ``names`` reached it."""
        times = [t for t, _ in self.history]
        reached = [min(p.get(n, 0) for n in names) for _, p in self.history]
        for i in range(1, len(reached)):  # positions only grow; guard against a stale read
            reached[i] = max(reached[i], reached[i - 1])
        found = []
        for answered, position in answers:
            i = bisect_left(reached, position)
            if i < len(times):
                found.append(max(0.0, times[i] - answered))
        return found


def pg_positions(url: str) -> Callable[[], dict[str, int]]:
    conn = psycopg.connect(url, autocommit=True)

    def fetch() -> dict[str, int]:
        rows = conn.execute("SELECT name, position FROM rm_tracking").fetchall()
        return {str(n): int(p) for n, p in rows if ":" not in str(n)}

    return fetch


def sqlite_positions(path: Path) -> Callable[[], dict[str, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def fetch() -> dict[str, int]:
        rows = conn.execute("SELECT name, position FROM rm_tracking").fetchall()
        return {str(n): int(p) for n, p in rows if ":" not in str(n)}

    return fetch
