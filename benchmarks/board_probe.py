"""The board's query before and after the merged index scans (issue #22 point 4), side by side.

    RODEDRAAD_DATABASE_URL=... python -m benchmarks.board_probe [--requests 300] [--explain FILE]

On a database whose plan state is built (the benchmark's workload), it asks the boards the
suite's ``queries`` asks (each sector's first provider's coordinator, each region's auditor;
the defaults: ``idle_days`` 90, ``limit`` 100), alternating the scan of the scope
(``scan_query``, the query before) and ``board_query`` request by request through the API's own
query runner, checks that both give the same rows, and prints p50/p99 of each as JSON. With
``--explain`` it writes ``EXPLAIN (ANALYZE, BUFFERS)`` of both for the largest coordinator and
region. The SQL alone: the HTTP figures are the suite's.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.stats import latency_summary
from benchmarks.workload import REGIONS, SECTORS, providers
from projections.plan_state.board import ROW_COLUMNS, BoardFilter, board_query, stuck_since
from projections.plan_state.scope import scoped
from projections.read_postgres import PostgresRunner
from projections.store import iso
from rodedraad.settings import Settings


def scan_query(f: BoardFilter, now: datetime, dialect: str) -> tuple[str, list[Any]]:
    """The board as it was asked before the merged scans: every open trajectory of the scope,
    "stuck since" computed for each (the same expression), sorted by it (then the id) and cut
    at ``limit``. The reference the merged scans are tested against."""
    today = now.astimezone(UTC).date().isoformat()
    idle_cutoff = iso(now - timedelta(days=f.idle_days))
    stuck, params = stuck_since(f, now, dialect)
    source, scope = scoped(f)
    sql = [
        f"SELECT * FROM (SELECT {ROW_COLUMNS}, {stuck} AS stuck",  # noqa: S608 - no input
        *source,
        "AND t.status IN ('referred', 'accepted', 'active', 'blocked') "
        "AND (t.status = 'blocked' OR t.open_escalations > 0 "
        "OR t.next_consultation_on < ? OR t.last_recorded_at < ? OR t.open_deadlines <> '')",
    ]
    params += [*scope, today, idle_cutoff]
    if f.reason is not None:
        sql.append("AND t.reasons LIKE ?")
        params.append(f"%,{f.reason.value},%")
    sql.append(") AS b WHERE stuck <= ? ORDER BY stuck, id LIMIT ?")
    params += [iso(now - timedelta(days=f.min_days)), f.limit]
    return " ".join(sql), params


def boards() -> dict[str, list[BoardFilter]]:
    """The suite's boards: a coordinator's own (the first provider of each sector of each
    region) and a region's auditor's."""
    return {
        "board_organisation": [
            BoardFilter(organisation=providers(code, s)[0])
            for _, code in REGIONS
            for _, s, _ in SECTORS
        ],
        "board_region": [BoardFilter(region=region) for region, _ in REGIONS],
    }


async def measure(url: str, requests: int, explain: str | None) -> dict[str, Any]:
    runner = PostgresRunner(url, min_size=1, max_size=2)
    queries = {"before": scan_query, "after": board_query}
    found: dict[str, Any] = {}
    try:
        for kind, filters in boards().items():
            seconds: dict[str, list[float]] = {name: [] for name in queries}
            rows = 0
            for n in range(requests + 5):  # the first five warm up
                f = filters[n % len(filters)]
                now = datetime.now(UTC)
                answers = []
                order = list(queries.items())
                for name, query in order[:: 1 if n % 2 else -1]:  # each goes first in turn
                    sql, params = query(f, now, "postgres")
                    started = time.perf_counter()
                    answers.append(await runner.fetch(sql, params))
                    if n >= 5:
                        seconds[name].append(time.perf_counter() - started)
                if answers[0] != answers[1]:
                    raise AssertionError(f"the two boards differ for {f}")
                rows += len(answers[0])
            found[kind] = {name: latency_summary(s) for name, s in seconds.items()}
            found[kind]["rows_per_board"] = rows / (requests + 5)
        if explain:
            await _explain(runner, explain)
    finally:
        await runner.close()
    return found


async def _explain(runner: PostgresRunner, path: str) -> None:
    largest = await runner.fetch(
        "SELECT organisation FROM rm_trajectory_parties WHERE organisation = ANY(?::text[]) "
        "GROUP BY organisation ORDER BY COUNT(*) DESC LIMIT 1",
        [[f.organisation for f in boards()["board_organisation"]]],
    )
    region = await runner.fetch(
        "SELECT region FROM rm_trajectories GROUP BY region ORDER BY COUNT(*) DESC LIMIT 1", []
    )
    now = datetime.now(UTC)
    with open(path, "w", encoding="utf-8") as out:
        for f in (BoardFilter(organisation=largest[0][0]), BoardFilter(region=region[0][0])):
            for name, query in (("before", scan_query), ("after", board_query)):
                sql, params = query(f, now, "postgres")
                plan = await runner.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                out.write(f"-- {name}: {f}\n" + "\n".join(str(r[0]) for r in plan) + "\n\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.board_probe")
    parser.add_argument("--requests", type=int, default=300, help="boards of each kind")
    parser.add_argument("--explain", help="write EXPLAIN (ANALYZE, BUFFERS) of both here")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not settings.database.is_postgres:
        print("the probe measures PostgreSQL: set RODEDRAAD_DATABASE_URL", file=sys.stderr)
        return 2
    found = asyncio.run(measure(settings.database.url, args.requests, args.explain))
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
