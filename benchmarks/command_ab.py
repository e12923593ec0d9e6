"""A/B of the HTTP command path (issue #22 point 2): trees of the code served in turn.

One fresh PostgreSQL database, loaded with a small workload; one projection worker (from this
tree); then, round by round, ``rodedraad serve`` from each tree in turn (the order rotates and flips
every round) with ``PYTHONPATH`` naming that tree's ``src``, 8 keep-alive clients sending workload
commands for a window. Per window: commands/s, p50/p99, and the CPU per command of the API
process, of the PostgreSQL backends serving the API's connections and those serving the
projection worker's (found by their client ports, so other databases on a shared server do not
count), and of the load client; the load average beside it. Medians over the rounds.

    python -m benchmarks.command_ab --tree main=/tmp/main/src --tree new=src [--tree …]
        [--rounds 3] [--window 8] [--clients 8] [--null] [--profile DIR] [--extra-path DIR]

``--null``: the null command too, from the last tree, for the floor. ``--profile DIR``: a
py-spy profile (GIL samples) of each server in its first window (``py-spy`` beside the
interpreter). Prints one JSON object.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from api.auth import LocalTokens
from benchmarks.databases import PG_ADMIN_URL, Target
from benchmarks.loads import CpuMeter, ScriptFeed, http_commands
from benchmarks.processes import (
    Service,
    cpu_seconds,
    free_port,
    start,
    start_projection_worker,
    wait_caught_up,
    wait_ready,
)
from benchmarks.stats import latency_summary
from benchmarks.workload import (
    REGIONS,
    BatchLoader,
    default_as_of,
    generate,
    organisations_registered_on,
    region_organisations,
)

_TITLE = re.compile(r"^postgres: (?:[^:]+: )?\S+ (\S+) [\d.]+\((\d+)\)")


def backend_of(title: str) -> tuple[str, int] | None:
    """A PostgreSQL backend's database and its client's TCP port, from its process title
    (``postgres: [cluster: ]user database host(port) state``); None for any other process."""
    match = _TITLE.match(title)
    return (match.group(1), int(match.group(2))) if match else None


def _backends(database: str) -> dict[int, int]:
    """The PostgreSQL backends of ``database``: pid → the client's port (from the title)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        backend = backend_of(title)
        if backend is not None and backend[0] == database:
            found[int(entry.name)] = backend[1]
    return found


def _port_owners() -> dict[int, int]:
    """The local port of each TCP connection to PostgreSQL → the pid of its process."""
    out = subprocess.run(
        ["ss", "-tnpH", "dport = :5432"],  # noqa: S607 - iproute2's ss, fixed arguments
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    owners: dict[int, int] = {}
    for line in out.splitlines():
        parts = line.split()
        pid = re.search(r"pid=(\d+)", line)
        if len(parts) >= 4 and pid:
            owners[int(parts[3].rsplit(":", 1)[1])] = int(pid.group(1))
    return owners


class BackendMeter(CpuMeter):
    """``CpuMeter`` plus the CPU of the database's backends, by the process they serve."""

    def __init__(self, pids: dict[str, int], database: str) -> None:
        super().__init__(pids, postgres=True)
        self.database = database

    def _read(self) -> dict[str, float]:
        found = super()._read()
        owners = _port_owners()
        names = {pid: name for name, pid in self.pids.items()}
        for name in self.pids:
            found[f"pg_{name}"] = 0.0
        found["pg_other"] = 0.0
        for backend, port in _backends(self.database).items():
            key = f"pg_{names[owners[port]]}" if owners.get(port) in names else "pg_other"
            found[key] += cpu_seconds(backend)
        return found


class SignallingMeter(BackendMeter):
    """Also tells the server when the window opens and closes (SIGUSR1, SIGUSR2): a
    ``sitecustomize`` on ``--extra-path`` may count the statements sent in it."""

    def start(self) -> None:
        os.kill(self.pids["api"], signal.SIGUSR1)
        super().start()

    def stop(self) -> dict[str, float]:
        os.kill(self.pids["api"], signal.SIGUSR2)
        return super().stop()


def _load(target: Target, trajectories: int, as_of: date) -> None:
    loader = BatchLoader(target.settings())
    try:
        loader.load(
            generate(1, trajectories, as_of=as_of),
            organisations_registered_on=organisations_registered_on(as_of),
        )
    finally:
        loader.close()


def _headers(target: Target) -> dict[str, dict[str, str]]:
    tokens = LocalTokens.from_file(target.settings().auth.secret_file)
    regions = {org: region for region, code in REGIONS for org in region_organisations(code)}
    found = {}
    for org, region in regions.items():
        token = tokens.issue(
            user=f"u-{org}", organisation=org, roles=["coordinator"], region=region
        )
        found[org] = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return found


def _serve(
    target: Target, src: Path, port: int, name: str, extra_path: Path | None = None
) -> Service:
    paths = [src.resolve(), *([extra_path.resolve()] if extra_path else [])]
    environ = {
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "RODEDRAAD_EMBEDDED_WORKERS": "false",
        "RODEDRAAD_BENCHMARK_NULL_COMMAND": "true",
    }
    args = ["-m", "rodedraad.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start(name, args, target, environ, command=[sys.executable])


def _window(
    base_url: str,
    headers: dict[str, dict[str, str]],
    feed: ScriptFeed,
    meter: BackendMeter,
    args: argparse.Namespace,
    null: bool = False,
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    result = asyncio.run(
        http_commands(
            base_url, headers, feed, args.clients, args.warmup, args.window, meter=meter, null=null
        )
    )
    count = len(result.latencies)
    per_command = {
        name: round(cores * result.window / count * 1000, 3) if count else None
        for name, cores in result.cpu_cores.items()
    }
    latency = latency_summary(result.latencies)
    return {
        "per_second": round(result.per_second, 1),
        "p50_ms": round(latency["p50"], 2),
        "p99_ms": round(latency["p99"], 2),
        "errors": result.errors,
        "first_error": result.first_error,
        "cpu_ms_per_command": per_command,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _profile(pid: int, seconds: float, out: Path) -> "subprocess.Popen[bytes]":
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(  # noqa: S603 - py-spy beside the interpreter, fixed arguments
        [
            str(spy),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
            "--gil",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree",
        action="append",
        required=True,
        metavar="NAME=SRC",
        help="a tree to serve (its src directory); two or more, in the order to compare",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--trajectories", type=int, default=200)
    parser.add_argument("--database", default=f"rd_command_ab_{os.getpid()}")
    parser.add_argument("--null", action="store_true")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--extra-path", type=Path, help="a directory put on the servers' path")
    args = parser.parse_args()

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    data_dir = Path(tempfile.mkdtemp(prefix=f"{args.database}-"))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    target = Target("postgres", f"{base}/{args.database}", data_dir)
    as_of = default_as_of()
    trees = {name: Path(src) for name, _, src in (t.partition("=") for t in args.tree)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in [*trees, "null"]}
    worker: Service | None = None
    try:
        _load(target, args.trajectories, as_of)
        headers = _headers(target)
        worker = start_projection_worker(target)
        feed = ScriptFeed(1, 2_000_000_000, as_of)
        last = list(trees)[-1]
        for round_ in range(args.rounds):
            # Each tree in each place of the order over the rounds, so a drifting load falls on all.
            names = list(trees)
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            if round_ % 2:
                order.reverse()
            for name in order:
                port = free_port()
                server = _serve(target, trees[name], port, f"serve-{name}", args.extra_path)
                try:
                    base_url = f"http://127.0.0.1:{port}"
                    wait_ready(base_url, [server, worker])
                    wait_caught_up(base_url, [server, worker], settle=0.5)
                    pids = {"api": server.pid, "worker": worker.pid}
                    spy = None
                    if args.profile is not None and round_ == 0:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = _profile(server.pid, args.window, args.profile / f"{name}.txt")
                    meter = (SignallingMeter if args.extra_path else BackendMeter)(
                        pids, args.database
                    )
                    runs[name].append(_window(base_url, headers, feed, meter, args))
                    if spy is not None:
                        spy.wait(timeout=60)
                    if args.null and name == last:
                        runs["null"].append(
                            _window(
                                base_url,
                                headers,
                                feed,
                                BackendMeter(pids, args.database),
                                args,
                                null=True,
                            )
                        )
                    server.check_alive()
                finally:
                    server.stop()
                time.sleep(1)
    finally:
        if worker is not None:
            worker.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)

    def median(name: str, pick: Any) -> float | None:
        values = [v for r in runs[name] if (v := pick(r)) is not None]
        return round(statistics.median(values), 3) if values else None

    summary: dict[str, Any] = {}
    for name, windows in runs.items():
        if not windows:
            continue
        keys = windows[0]["cpu_ms_per_command"].keys()
        summary[name] = {
            "per_second": median(name, lambda r: r["per_second"]),
            "p99_ms": median(name, lambda r: r["p99_ms"]),
            "cpu_ms_per_command": {
                k: median(name, lambda r, k=k: r["cpu_ms_per_command"][k]) for k in keys
            },
        }
    print(json.dumps({"summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
