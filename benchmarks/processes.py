"""The processes a benchmark drives: ``rodedraad serve`` and ``rodedraad projections run``.

Each runs as a child process on 127.0.0.1 with the benchmark's database; its memory is read
from ``/proc/<pid>/status`` and its CPU time from ``/proc/<pid>/stat``.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.databases import Target

_TICKS = os.sysconf("SC_CLK_TCK")


def rodedraad_command() -> list[str]:
    """The ``rodedraad`` console script beside this interpreter (``python -m`` otherwise)."""
    script = Path(sys.executable).parent / "rodedraad"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rodedraad.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory now (VmRSS) and at its peak (VmHWM), in MiB."""
    found: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key.lower()] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"rss": found.get("vmrss", 0.0), "hwm": found.get("vmhwm", 0.0)}


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of a process so far; with ``children``, that of its children
    that ended and were waited for too (a pool's processes, once it is shut down)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = int(fields[11]) + int(fields[12])
    return (own + (int(fields[13]) + int(fields[14]) if children else 0)) / _TICKS


class ChildrenPeak:
    """The largest peak resident memory (VmHWM) of this process's children while it runs, read
    from ``/proc`` each ``every`` seconds (``getrusage``'s figure for children is no help: a
    spawned child's counts the parent's memory at the fork). multiprocessing's resource
    tracker, a child that outlives the work that started it, is not counted. ``cpu_seconds``:
    what the sampling itself cost (a thread of this process), for the measurement to take off
    its own CPU time."""

    def __init__(self, every: float = 1.0) -> None:
        self.every, self.peak_mib, self.cpu_seconds = every, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="children-peak", daemon=True)

    def __enter__(self) -> "ChildrenPeak":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        while True:
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if parent == me and not _is_resource_tracker(entry):
                    self.peak_mib = max(self.peak_mib, memory_mib(int(entry.name))["hwm"])
            self.cpu_seconds = time.thread_time()  # (this thread's, since it started)
            if self._stop.wait(self.every):
                return


def _is_resource_tracker(process: Path) -> bool:
    try:
        return b"resource_tracker" in (process / "cmdline").read_bytes()
    except OSError:
        return False


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL server process on this machine (backends included)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip().startswith("postgres"):
                total += cpu_seconds(int(entry.name))
        except OSError:
            continue
    return total


@dataclass
class Service:
    """A ``rodedraad`` child process and where its output goes."""

    name: str
    popen: "subprocess.Popen[bytes]"
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def memory(self) -> dict[str, float]:
        return memory_mib(self.pid)

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def start(
    name: str,
    args: list[str],
    target: Target,
    extra: dict[str, str],
    command: list[str] | None = None,
) -> Service:
    """``rodedraad args`` (or ``command args``) with the target's settings and ``extra``."""
    log = target.data_dir / f"{name}.log"
    env = {**os.environ, **target.environ(), **extra}
    with log.open("wb") as out:
        popen = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [*(command or rodedraad_command()), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Service(name, popen, log)


def start_server(
    target: Target, port: int, embedded_workers: bool, null_command: bool = False
) -> Service:
    """``rodedraad serve``; ``null_command``: with the benchmark's null command (issue #22)."""
    return start(
        "serve",
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        target,
        {
            "RODEDRAAD_EMBEDDED_WORKERS": "true" if embedded_workers else "false",
            "RODEDRAAD_BENCHMARK_NULL_COMMAND": "true" if null_command else "false",
        },
    )


def start_peer(target: Target, port: int) -> Service:
    """The peer's server (``benchmarks.peer``) on the target's database."""
    return start(
        "peer",
        ["--port", str(port)],
        target,
        {"BENCH_PEER_DATABASE_URL": target.database_url},
        command=[sys.executable, "-m", "benchmarks.peer"],
    )


def start_projection_worker(target: Target) -> Service:
    return start("projections", ["projections", "run"], target, {})


def health(base_url: str) -> dict[str, Any] | None:
    try:
        answer = httpx.get(f"{base_url}/health", timeout=2)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    found: dict[str, Any] = answer.json()
    return found


def wait_ready(base_url: str, services: list[Service], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            service.check_alive()
        if health(base_url) is not None:
            return
        time.sleep(0.1)
    raise TimeoutError(f"the server at {base_url} did not answer /health in {timeout:.0f} s")


def wait_caught_up(
    base_url: str, services: list[Service], settle: float = 0.5, timeout: float = 600
) -> dict[str, Any]:
    """Until every projection has processed the whole log and the log stopped growing."""
    deadline = time.monotonic() + timeout
    last_head, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        for service in services:
            service.check_alive()
        state = health(base_url)
        if state is not None:
            head = int(state["log_position"])
            lags = [int(p["lag"]) for p in state["projections"].values()]
            if head != last_head:
                last_head, steady_since = head, time.monotonic()
            elif lags and max(lags) == 0 and time.monotonic() - steady_since >= settle:
                return state
        time.sleep(0.1)
    raise TimeoutError("the projections did not catch up with the log in time")
