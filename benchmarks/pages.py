"""``python -m benchmarks pages``: how long each page takes (issue #23: ≤ 200 ms each at the
benchmark's medium size), against ``/health`` read the same way.

On a demo data set (``python -m benchmarks demo --size 10000 --data-dir D`` loads the medium
size with its statistics releases), a ``rodedraad serve`` process of its own (embedded SQLite,
as ``make run``) is asked for every page, each as the user who would ask it: the board (a
coordinator's, a region auditor's), a trajectory's page and its thread SVG (its coordinator), the
as-of view (its region's auditor), a release's process map, the trend and the statistics page (a
learning network of the region). The requests of a kind go one after the other from one client,
the session cookie carrying the token (``suite.as_cookie``), ``repeats`` times; ``/health`` is
read the same way in each repeat, so its figure says what the machine and the HTTP path cost by
themselves. Prints p50/p99 per page (median over the repeats) and writes them as JSON.
"""

import asyncio
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.auth import LocalTokens
from benchmarks import machine
from benchmarks.databases import Target
from benchmarks.demo import densest_map
from benchmarks.loads import get_latencies
from benchmarks.processes import free_port, start_server, wait_caught_up, wait_ready
from benchmarks.stats import combine, latency_summary
from benchmarks.suite import _sqlite_rows, as_cookie, say
from rodedraad.settings import Settings

#: The target every page is held to (issue #23), p99 in milliseconds.
TARGET_MS = 200
Requests = list[tuple[str, dict[str, str]]]


def requests_of(settings: Settings, data_dir: Path, n: int, seed: int) -> dict[str, Requests]:
    """Per page, ``n`` requests, each as the user who would ask it."""
    tokens = LocalTokens.from_file(settings.auth.secret_file)

    def cookie(user: str, organisation: str, role: str, region: str) -> dict[str, str]:
        token = tokens.issue(user=user, organisation=organisation, roles=[role], region=region)
        return as_cookie({"Authorization": f"Bearer {token}"})

    rows = _sqlite_rows(
        data_dir / "readmodels.sqlite",
        "SELECT id, coordinating_organisation, region FROM rm_trajectories "
        "WHERE coordinating_organisation IS NOT NULL ORDER BY id LIMIT 20000",
    )
    rng = random.Random(seed)  # noqa: S311 - sampling, not secrets
    picked = [rows[rng.randrange(len(rows))] for _ in range(n)]
    regions = sorted({str(region) for _, _, region in rows})
    shown = densest_map(settings)
    if shown is None:
        raise SystemExit("pages: the data set has no statistics release (load the demo)")
    number, _ = shown

    def coordinator(org: object, region: object) -> dict[str, str]:
        return cookie(f"u-{org}", str(org), "coordinator", str(region))

    def auditor(region: str) -> dict[str, str]:
        return cookie(f"audit-{region}", f"audit-{region}", "auditor", region)

    def network(region: str) -> dict[str, str]:
        return cookie(f"net-{region}", f"net-{region}", "learning_network", region)

    each_region = [regions[i % len(regions)] for i in range(n)]
    return {
        "health": [("/health", {}) for _ in range(n)],
        "board_organisation": [("/ui/board", coordinator(o, r)) for _, o, r in picked],
        "board_region": [("/ui/board", auditor(r)) for r in each_region],
        "trajectory": [(f"/ui/trajectories/{i}", coordinator(o, r)) for i, o, r in picked],
        "thread_svg": [
            (f"/ui/trajectories/{i}/thread.svg", coordinator(o, r)) for i, o, r in picked
        ],
        "as_of": [(f"/ui/audit/trajectories/{i}/as-of", auditor(str(r))) for i, _, r in picked],
        "process_map": [
            (f"/ui/statistics/releases/{number}/process-map?region={r}", network(r))
            for r in each_region
        ],
        "trend": [("/ui/statistics/trend", network(r)) for r in each_region],
        "statistics": [("/ui/statistics", network(r)) for r in each_region],
    }


def measure(data_dir: Path, n: int = 100, repeats: int = 3, seed: int = 1) -> dict[str, Any]:
    target = Target("sqlite", f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
    settings = target.settings()
    kinds = requests_of(settings, data_dir, n, seed)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(target, port, embedded_workers=True)
    try:
        wait_ready(base_url, [server])
        state = wait_caught_up(base_url, [server], settle=1.0)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for r in range(repeats):
            say(f"pages: repeat {r + 1} of {repeats}, {n} requests per page")
            for kind, latencies in asyncio.run(get_latencies(base_url, kinds)).items():
                runs[kind].append(latency_summary(latencies))
    finally:
        server.stop()
    trajectories = _sqlite_rows(
        data_dir / "readmodels.sqlite", "SELECT count(*) FROM rm_trajectories"
    )
    return {
        "trajectories": int(trajectories[0][0]),
        "log_position": int(state["log_position"]),
        "requests_per_page": n,
        "repeats": repeats,
        "target_p99_ms": TARGET_MS,
        "pages_ms": {k: combine(r) for k, r in runs.items()},
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| page | p50 (ms) | p99 (ms) | p99 / health p99 | ≤ 200 ms p99 |",
        "|---|---|---|---|---|",
    ]
    health = result["pages_ms"]["health"]["p99"]["median"]
    for kind, found in result["pages_ms"].items():
        p50, p99 = found["p50"]["median"], found["p99"]["median"]
        met = "—" if kind == "health" else ("met" if p99 <= TARGET_MS else "missed")
        lines.append(f"| {kind} | {p50:.1f} | {p99:.1f} | {p99 / health:.1f} | {met} |")
    return "\n".join(lines)


def main(data_dir: Path, n: int = 100, repeats: int = 3, out: Path | None = None) -> int:
    if not (data_dir / "readmodels.sqlite").exists():
        print(
            f"pages: no demo data set in {data_dir}: load one first with "
            f"`python -m benchmarks demo --size 10000 --data-dir {data_dir}`",
            file=sys.stderr,
        )
        return 2
    started = datetime.now(UTC)
    result = {
        "benchmark": "pages",
        "started_at": started.isoformat(),
        "machine": machine.describe(None),
        "code": machine.code_version(),
        **measure(data_dir, n, repeats),
    }
    text = json.dumps(result, indent=1)
    if out is not None:
        out.write_text(text + "\n")
    print(table(result))
    return 0
