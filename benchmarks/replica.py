"""A PostgreSQL primary and its streaming hot standby of their own, and the read-replica benchmark
(issue #20 point 4).

``streaming_replica()`` never touches the shared server: it runs ``initdb`` in a temporary
directory (as the ``postgres`` OS user when run as root: PostgreSQL refuses to run as root), on
free ports, with its own ``pg_hba.conf`` allowing replication, makes the standby with
``pg_basebackup`` and removes both at the end. The tests use it too.

``python -m benchmarks.replica [--trajectories 200] [--seconds 10] [--clients 8]``: reads per
second of plan states, of org-a's board (``BOARD``) and of its list (``LIST``) through one
``rodedraad serve`` process, first with every query on the primary, then with
``RODEDRAAD_READ_DATABASE_URL`` on the standby. Prints one JSON object.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.processes import free_port, rodedraad_command

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def server_programs_available() -> bool:
    return BIN is not None or shutil.which("initdb") is not None


def _as_postgres(*args: str) -> None:
    """Run a PostgreSQL program, as the ``postgres`` OS user when we are root."""
    command = [str(BIN / args[0]), *args[1:]] if BIN else list(args)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603


@contextmanager
def streaming_replica(database: str = "rodedraad") -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of ``database`` on a new primary and its hot standby."""
    root = Path(tempfile.mkdtemp(prefix="rodedraad-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = root / "primary", root / "standby"
    ports = free_port(), free_port()
    started: list[Path] = []
    try:
        _as_postgres("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {ports[0]}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\nfsync = off\n"
            )
        (primary / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
            "host replication postgres 127.0.0.1/32 trust\n"
        )
        _as_postgres("pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start")
        started.append(primary)
        _as_postgres(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(ports[0]), "-U", "postgres",
            "-D", str(standby), "-R", "-X", "stream",
        )  # fmt: skip
        with (standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {ports[1]}\n")
        _as_postgres("pg_ctl", "-D", str(standby), "-l", str(root / "standby.log"), "-w", "start")
        started.append(standby)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{ports[0]}/postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{database}"')
        standby_url = f"postgresql://postgres@127.0.0.1:{ports[1]}/{database}"
        deadline = time.monotonic() + 30
        while True:  # until the new database has reached the standby
            try:
                psycopg.connect(standby_url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql://postgres@127.0.0.1:{ports[0]}/{database}", standby_url
    finally:
        for data in reversed(started):
            _as_postgres("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


# --- the benchmark ------------------------------------------------------------------------------


def _call(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - our own local server
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def _serve(env: dict[str, str], port: int, log: Path) -> "subprocess.Popen[bytes]":
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [*rodedraad_command(), "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(log.read_text()[-3000:])


def _reads_per_second(
    base: str, token: str, paths: list[str], clients: int, seconds: float
) -> float:
    """GETs of ``paths`` (taken in turn) per second from ``clients`` threads."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        i = index
        while time.monotonic() < stop:
            _call(base, token, paths[i % len(paths)])
            done[index] += 1
            i += clients

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


#: The board: every trajectory of the workload (referred two days ago, nothing since) is idle
#: for more than a day, so each request ranks all of org-a's and returns the 100 longest stuck.
BOARD = "/v1/board?limit=100&idle_days=1"
#: The list: org-a's newest 50.
LIST = "/v1/trajectories?limit=50"


def _measure(
    base: str, token: str, ids: list[str], clients: int, seconds: float
) -> dict[str, float]:
    plan_states = [f"/v1/trajectories/{i}" for i in ids]
    return {
        name: round(_reads_per_second(base, token, paths, clients, seconds), 1)
        for name, paths in (("plan_state", plan_states), ("board", [BOARD]), ("list", [LIST]))
    }


def run(trajectories: int, seconds: float, clients: int) -> dict[str, Any]:
    from api.auth import LocalTokens
    from rodedraad.settings import Settings

    t0 = datetime.now(UTC) - timedelta(days=2)
    with streaming_replica() as (primary, standby), tempfile.TemporaryDirectory() as data:
        env = {
            "RODEDRAAD_DATABASE_URL": primary,
            "RODEDRAAD_DATA_DIR": data,
            "RODEDRAAD_EMBEDDED_WORKERS": "true",
            "RODEDRAAD_LOG_LEVEL": "warning",
        }
        settings = Settings.from_env(env)
        token = LocalTokens.from_file(settings.auth.secret_file).issue(
            user="bench", organisation="org-a", roles=["coordinator"], region="west-flanders"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = _serve(env, port, Path(data) / "serve.log")
        ids: list[str] = []
        try:
            for _ in range(trajectories):
                client = _call(base, token, "/v1/clients", {"occurred_at": t0.isoformat()})
                ids.append(
                    _call(
                        base,
                        token,
                        "/v1/trajectories",
                        {
                            "occurred_at": t0.isoformat(),
                            "client_id": client["id"],
                            "question": "Support at home",
                            "sector": "youth_care",
                            "region": "west-flanders",
                        },
                    )["id"]
                )
            time.sleep(2)  # the worker and the standby catch up
            one = _measure(base, token, ids, clients, seconds)
        finally:
            process.terminate()
            process.wait(timeout=15)
        process = _serve(
            {**env, "RODEDRAAD_READ_DATABASE_URL": standby}, port, Path(data) / "s.log"
        )
        try:
            two = _measure(base, token, ids, clients, seconds)
        finally:
            process.terminate()
            process.wait(timeout=15)
    return {
        "trajectories": trajectories,
        "clients": clients,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "reads_per_second": {"primary_only": one, "with_standby": two},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replica")
    parser.add_argument("--trajectories", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.trajectories, args.seconds, args.clients)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
