"""``python -m benchmarks.releases``: statistics releases end to end, on one machine (issue #12).

Loads the workload (``--size``, medium by default: 10,000 trajectories over six regions and six
years) into a fresh store (or, with ``--database-url`` and ``--data-dir``, takes a store it was
loaded into before: loading the large size takes a quarter of an hour), brings the statistics
read models up to the log, and then, as the scheduler would once the lag has passed:

1. releases the last full year (``--grid years``, the default here) or its four quarters in
   order (``--grid quarters``, each audited with the earlier ones of its year, so later ones
   take longer), as the scheduler does on that grid, each timed (``--periods`` chooses others
   of the grid) — the target: under a minute each at the large size (100,000);
2. reports the share of the flow table's region cells (every region, all sectors) that each
   release publishes — the target: at least 60 % of the region x year cells at the medium
   size;
3. exports one region's trajectories of the last period as XES and checks the export against
   the event store itself (``benchmarks.xes_check``: directly-follows counts, the release's
   edges, nothing of the record in its bytes);
4. reads release tables through the HTTP API (the forum's answer, every region, and a learning
   network's, one region), ``--reads`` times each, against ``GET /health`` read the same way
   in the same process as the baseline — the target: p99 ≤ 50 ms.

It prints one JSON object and writes it to ``benchmarks/results``. The projection catch-up is
timed too (events per second of the ``statistics`` and ``organisations`` projections alone).
"""

import argparse
import dataclasses
import hashlib
import json
import os
import statistics as stats
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import TestClient

from api.auth import LocalTokens
from benchmarks import machine, xes_check
from benchmarks.databases import Target, postgres_target, server_version, sqlite_target
from benchmarks.processes import ChildrenPeak, cpu_seconds, memory_mib
from benchmarks.workload import (
    SIZES,
    BatchLoader,
    default_as_of,
    generate,
    organisations_registered_on,
)
from projections.organisations import OrganisationsProjection
from projections.statistics.model import ALL_SECTORS, GRIDS, Grid, Period
from projections.statistics.releases import Releases
from projections.statistics.units import StatisticsProjection
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import (
    Container,
    build_care_record,
    build_policy,
    build_projection_database,
    build_releases,
)


def _say(line: str) -> None:
    print(f"[releases] {line}", file=sys.stderr, flush=True)


#: The region whose tables are read and whose export is checked.
REGION = "west-flanders"


def _quantiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * stats.median(ordered), 2),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


def _timed(reads: int, call: Callable[[], Any]) -> list[float]:
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def load_workload(settings: Settings, size: int, seed: int, as_of: date) -> dict[str, Any]:
    """The benchmark workload of ``size`` trajectories, bulk-loaded, with its organisations."""
    started = time.perf_counter()
    loader = BatchLoader(settings, batch_size=250)
    try:
        loaded = loader.load(
            generate(seed, size, as_of=as_of),
            organisations_registered_on=organisations_registered_on(as_of),
        )
    finally:
        loader.close()
    return {
        "trajectories": loaded.trajectories,
        "events": loaded.events,
        "seconds": round(time.perf_counter() - started, 1),
    }


def catch_up_statistics(settings: Settings) -> dict[str, Any]:
    """The statistics read models alone, from position zero: their own throughput."""
    care_record = build_care_record(settings)
    database = build_projection_database(settings)
    worker = ProjectionWorker(
        care_record,
        database,
        (StatisticsProjection(build_policy(settings)), OrganisationsProjection()),
    )
    try:
        worker.ensure_ready()
        started = time.perf_counter()
        events = worker.catch_up()
        seconds = time.perf_counter() - started
    finally:
        database.close()
        care_record.close()
    return {
        "events": events,
        "seconds": round(seconds, 1),
        "events_per_second": round(events / seconds) if seconds else None,
    }


def cells_digest(releases: Releases, number: int, tables: Sequence[str]) -> str:
    """SHA-256 of every cell of release ``number`` as stored and served (per table and region,
    in order): equal digests, the same numbers published and the same cells withheld. A served
    cell's reason is ``suppressed`` for most rules (``store.public_reason``), so which rule
    withheld it is compared by ``withheld_by_rule`` beside it, not by the digest."""
    digest = hashlib.sha256()
    for table in sorted(tables):
        for region, rows in releases.store.cells(number, table).items():
            digest.update(msgspec.json.encode([table, region, rows]))
    return digest.hexdigest()


def release_periods(settings: Settings, periods: Sequence[Period]) -> dict[str, Any]:
    """Release ``periods`` in order, each timed, with what each table published."""
    releases = build_releases(settings, build_policy(settings))
    found: dict[str, Any] = {}
    try:
        for period in periods:
            started, cpu = time.perf_counter(), cpu_seconds(os.getpid(), children=True)
            with ChildrenPeak() as children:
                made = releases.release(period)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(os.getpid(), children=True) - cpu - children.cpu_seconds
            flow = releases.store.cells(made.number, "flow")
            region_cells = [
                c
                for rows in flow.values()
                for c in rows
                if c.sector == ALL_SECTORS and c.kind == "count"
            ]
            found[str(period)] = {
                "number": made.number,
                # What the release step used, which --no-laws cannot lower for a year an
                # earlier release of which held the laws (the run's "rule_set" is the flag's).
                "rule_set": made.rule_set,
                "seconds": round(seconds, 2),
                # This process's CPU and its audit processes' (its threads included; the
                # database's not): on a shared machine, what the wall-clock seconds do not say.
                "cpu_seconds": round(cpu, 2),
                "load_average": round(os.getloadavg()[0], 2),
                "memory_mib": memory_mib(os.getpid()),
                # The largest of the audit's processes so far (each holds a region's model).
                "audit_process_peak_mib": children.peak_mib,
                "withheld_counts_audited": made.audit.withheld_counts_audited,
                "earlier_versions": made.audit.earlier_versions,
                "tables": {
                    t.name: {
                        "cells": t.cells,
                        "published_share": t.published_share,
                        "withheld_by_rule": dict(sorted(t.withheld_by_rule.items())),
                    }
                    for t in made.tables
                },
                "flow_region_cells_published": round(
                    sum(1 for c in region_cells if c.value is not None) / len(region_cells), 3
                ),
                "cells_sha256": cells_digest(releases, made.number, [t.name for t in made.tables]),
            }
            _say(f"{period}: release {made.number} in {seconds:.1f} s ({cpu:.1f} CPU s)")
    finally:
        releases.store.close()
        releases.read_models.close()
    return found


def _reads(settings: Settings, number: int, reads: int) -> dict[str, Any]:
    # No embedded scheduler: it would make the releases still due while this measures.
    container = Container.build(dataclasses.replace(settings, embedded_workers=False))
    tokens = LocalTokens.from_file(settings.auth.secret_file)

    def bearer(role: str, region: str) -> dict[str, str]:
        token = tokens.issue(user="bench", organisation="ln", roles=[role], region=region)
        return {"Authorization": f"Bearer {token}"}

    forum = bearer("forum", REGION)
    network = bearer("learning_network", REGION)
    path = f"/v1/statistics/releases/{number}/tables/flow"
    try:
        with TestClient(app=container.http_app()) as client:

            def get(url: str, headers: dict[str, str] | None = None) -> None:
                response = client.get(url, headers=headers or {})
                assert response.status_code == 200, response.text

            get(path, forum)  # warm
            baseline = _timed(reads, lambda: get("/health"))
            forum_reads = _timed(reads, lambda: get(path, forum))
            network_reads = _timed(reads, lambda: get(path, network))
    finally:
        container.close()
    health = _quantiles(baseline)
    return {
        "reads_each": reads,
        "health_baseline": health,
        "forum_flow_table": {
            **_quantiles(forum_reads),
            "p99_vs_health": round(_quantiles(forum_reads)["p99_ms"] / health["p99_ms"], 2),
        },
        "learning_network_flow_table": {
            **_quantiles(network_reads),
            "p99_vs_health": round(_quantiles(network_reads)["p99_ms"] / health["p99_ms"], 2),
        },
    }


def run(
    size: str,
    backend: str,
    seed: int,
    reads: int,
    chosen: Sequence[str] = (),
    check_export: bool = True,
    loaded: Target | None = None,
    laws: bool = True,
    grid: Grid = "years",
) -> dict[str, Any]:
    as_of = default_as_of()
    year = as_of.year - 1 if as_of >= date(as_of.year, 1, 31) else as_of.year - 2
    periods = [Period.parse(p) for p in chosen] or (
        [Period(year)] if grid == "years" else [Period(year, q) for q in range(1, 5)]
    )
    target_of = postgres_target if backend == "postgres" else sqlite_target
    result: dict[str, Any] = {
        "benchmark": "statistics releases",
        "size": size,
        "trajectories": SIZES[size],
        "backend": backend,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "machine": machine.describe(server_version() if backend == "postgres" else None),
        "code": machine.code_version(),
        "rule_set": Releases.rule_set(laws),
        "grid": grid,
    }
    with nullcontext(loaded) if loaded is not None else target_of() as target:
        settings = target.settings()
        # Rule set 3 unless --no-laws (RODEDRAAD_STATISTICS_LAWS=false); the grid as chosen
        # (RODEDRAAD_STATISTICS_GRID).
        statistics = dataclasses.replace(settings.statistics, laws=laws, grid=grid)
        settings = dataclasses.replace(settings, statistics=statistics)
        if loaded is None:
            _say(f"loading {SIZES[size]:,} trajectories on {backend}")
            result["load"] = load_workload(settings, SIZES[size], seed, as_of)
        else:
            result["load"] = {"loaded_before": True, "database": target.database_url}
        _say("catching up the statistics projections")
        result["catch_up"] = catch_up_statistics(settings)
        _say(f"releasing {', '.join(map(str, periods))}")
        result["releases"] = release_periods(settings, periods)
        last = str(periods[-1])
        if check_export:
            _say(f"checking the XES export of {REGION}, {last}, against the event store")
            result["xes"] = xes_check.check(
                settings, REGION, periods[-1], result["releases"][last]["number"]
            )
        _say(f"reading release tables, {reads} times each")
        result["reads"] = _reads(settings, result["releases"][str(periods[-1])]["number"], reads)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.releases", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument(
        "--no-export-check",
        action="store_true",
        help="skip the XES check (it reads every stored event into memory: for the large size)",
    )
    parser.add_argument(
        "--periods",
        nargs="*",
        default=(),
        help="periods of --grid to release, in order (default: the last full year, or its "
        "quarters)",
    )
    parser.add_argument(
        "--grid",
        choices=GRIDS,
        default="years",
        help="release years or quarters (RODEDRAAD_STATISTICS_GRID; default here: years, whose "
        "region cells the 60 %% target is about)",
    )
    parser.add_argument(
        "--database-url",
        help="a store the workload of --size was already loaded into (statistics read models "
        "not yet built): loading the large size takes a quarter of an hour",
    )
    parser.add_argument("--data-dir", type=Path, help="that store's data directory")
    parser.add_argument(
        "--laws",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="release under rule set 3, the audit holding the laws (the default); --no-laws: "
        "rule set 2, as RODEDRAAD_STATISTICS_LAWS=false would",
    )
    args = parser.parse_args(argv)
    if (args.database_url is None) != (args.data_dir is None):
        parser.error("--database-url and --data-dir go together")
    off_grid = [p for p in args.periods if not Period.parse(p).on(args.grid)]
    if off_grid:
        parser.error(f"{', '.join(off_grid)}: not of --grid {args.grid}")
    loaded = Target(args.backend, args.database_url, args.data_dir) if args.database_url else None
    result = run(
        args.size,
        args.backend,
        args.seed,
        args.reads,
        args.periods,
        not args.no_export_check,
        loaded,
        args.laws,
        args.grid,
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M")
    path = (
        Path(__file__).parent
        / "results"
        / f"{stamp}-{result['machine']['hostname']}-releases-{args.size}.json"
    )
    path.write_text(json.dumps(result, indent=1) + "\n")
    _say(f"written to {path}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
