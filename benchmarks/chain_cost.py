"""What the hash chain costs on the command path (issue #16): ``python -m benchmarks chain-cost``.

The same workload commands through ``CareRecord`` (threads, no HTTP, as the suite's append
figure), on a fresh store per run, with the chain off and on, alternating so that drift of the
machine falls on both; per backend and concurrency the median commands/s of each and their
ratio. The target: the chain costs at most 5 % of command throughput.
"""

import json
import socket
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from application.commit_times import CommitTimesSQLiteRecorder
from application.pg_recorder import LockedInsertRecorder
from benchmarks import machine
from benchmarks.databases import (
    Target,
    postgres_available,
    postgres_target,
    server_version,
    sqlite_target,
)
from benchmarks.loads import CpuMeter, ScriptFeed, app_commands
from rodedraad.wiring import build_care_record

WARMUP_SECONDS = 1.0
WINDOW_SECONDS = 4.0
RESULTS = Path(__file__).parent / "results"


@contextmanager
def _chained(on: bool) -> Iterator[None]:
    """The writers with the chain on or off, for stores built inside (benchmark only)."""
    LockedInsertRecorder.chained = on
    CommitTimesSQLiteRecorder.chained = on
    try:
        yield
    finally:
        LockedInsertRecorder.chained = True
        CommitTimesSQLiteRecorder.chained = True


def _run(backend: str, on: bool, concurrency: int, seed: int) -> tuple[float, float]:
    """(commands/s, CPU µs per command of this process and PostgreSQL): the CPU figure is
    what another load on the machine disturbs least."""
    target_of = postgres_target if backend == "postgres" else sqlite_target
    target: Target
    with target_of() as target, _chained(on):
        app = build_care_record(target.settings())
        try:
            feed = ScriptFeed(seed, 1_000_000_000, date(2026, 6, 1))
            meter = CpuMeter({}, postgres=backend == "postgres")
            result = app_commands(app, feed, concurrency, WARMUP_SECONDS, WINDOW_SECONDS, meter)
        finally:
            app.close()
    if result.errors:
        print(f"  ({result.errors} error(s), first: {result.first_error})")
    cores = sum(result.cpu_cores.values())
    return result.per_second, cores * 1e6 / result.per_second if result.per_second else 0.0


def main(
    backends: tuple[str, ...] = ("postgres", "sqlite"),
    concurrencies: tuple[int, ...] = (1, 8),
    repeats: int = 3,
    seed: int = 1,
) -> int:
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    postgres = "postgres" in backends and postgres_available()
    for backend in backends:
        if backend == "postgres" and not postgres:
            print("postgres: not reachable, skipped")
            continue
        for concurrency in concurrencies:
            runs: dict[bool, list[float]] = {False: [], True: []}
            cpu: dict[bool, list[float]] = {False: [], True: []}
            for repeat in range(repeats):
                order = (False, True) if repeat % 2 == 0 else (True, False)
                for on in order:
                    per_second, cpu_us = _run(backend, on, concurrency, seed)
                    runs[on].append(per_second)
                    cpu[on].append(cpu_us)
            without, with_chain = statistics.median(runs[False]), statistics.median(runs[True])
            cpu_without, cpu_with = statistics.median(cpu[False]), statistics.median(cpu[True])
            print(
                f"{backend} c={concurrency}: without the chain {without:,.0f} commands/s "
                f"{[round(r) for r in runs[False]]}, with {with_chain:,.0f} "
                f"{[round(r) for r in runs[True]]}: ratio {with_chain / without:.3f}; CPU per "
                f"command {cpu_without:,.0f} µs without, {cpu_with:,.0f} µs with: "
                f"{cpu_with / cpu_without:.3f}",
                flush=True,
            )
            results[f"{backend} c={concurrency}"] = {
                "without_chain_per_second": runs[False],
                "with_chain_per_second": runs[True],
                "ratio_of_medians": with_chain / without,
                "without_chain_cpu_us_per_command": cpu[False],
                "with_chain_cpu_us_per_command": cpu[True],
                "cpu_ratio_of_medians": cpu_with / cpu_without,
            }
    result = {
        "benchmark": "chain-cost",
        "started_at": started.isoformat(),
        "machine": machine.describe(server_version() if postgres else None),
        "code": machine.code_version(),
        "plan": {"repeats": repeats, "seed": seed, "window_seconds": WINDOW_SECONDS},
        "target": {"ratio_at_least": 0.95},
        "results": results,
    }
    name = "-".join(backends)
    path = RESULTS / f"{started:%Y-%m-%dT%H%M}-{socket.gethostname()}-chain-cost-{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results written to {path}")
    return 0
