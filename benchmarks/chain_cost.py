"""What the hash chain costs on the command path (issue #16): ``python -m benchmarks chain-cost``.

The same workload commands through ``CareRecord`` (threads, no HTTP, as the suite's append
figure) on two stores side by side, one written with the chain and one without, both built
before the first window and kept warm. Windows alternate between them in pairs (ABBA order,
so a drift of the machine falls on both sides alike), and each pair gives a ratio: commands/s
with the chain over without, in the same minute. The figure is the median of those ratios;
the ratio of the medians and the CPU per command (this process and PostgreSQL) are kept too.
The target: the chain costs at most 5 % of command throughput.

On PostgreSQL it also times the locked-insert function inside the database (one event per
call, 2,000 calls in one transaction, ``clock_timestamp()`` around each): the chain's own cost
per commit, a figure that another load on the machine disturbs little (its 25th percentile),
with the WAL written per call.

An earlier version built a fresh store for every window (`…T0441-…` and before in
``benchmarks/results``): creating and dropping a database between windows put the server's
background work into whichever window followed, and one window per store gave 7 samples at
most, too few against the noise of a shared machine.
"""

import json
import socket
import statistics
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from application.care_record import CareRecord
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

WARMUP_SECONDS = 0.5
WINDOW_SECONDS = 3.0
#: Calls of the locked-insert function timed inside the database, per store.
IN_DATABASE_CALLS = 2_000
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


class _Store:
    """One store of the pair: its application, its feed of fresh trajectories, its target."""

    def __init__(self, app: CareRecord, feed: ScriptFeed, target: Target) -> None:
        self.app = app
        self.feed = feed
        self.target = target


@contextmanager
def _pair(backend: str, seed: int, control: bool = False) -> Iterator[dict[bool, _Store]]:
    """Two fresh stores, without (False) and with (True) the chain, closed and removed after;
    ``control``: both without it (an A/A run: how far two like stores differ on this machine)."""
    target_of = postgres_target if backend == "postgres" else sqlite_target
    with ExitStack() as stack:
        stores: dict[bool, _Store] = {}
        for on in (False, True):
            chained = on and not control
            target = stack.enter_context(target_of())
            with _chained(chained):  # PostgreSQL: the function is made with (or without) it
                app = build_care_record(target.settings())
            stack.callback(app.close)
            app.recorder.chained = chained  # type: ignore[attr-defined]  # SQLite: per insert
            stores[on] = _Store(app, ScriptFeed(seed, 1_000_000_000, date(2026, 6, 1)), target)
        yield stores


def _window(store: _Store, backend: str, concurrency: int) -> tuple[float, float]:
    """(commands/s, CPU µs per command of this process and PostgreSQL) of one window."""
    meter = CpuMeter({}, postgres=backend == "postgres")
    result = app_commands(store.app, store.feed, concurrency, WARMUP_SECONDS, WINDOW_SECONDS, meter)
    if result.errors:
        print(f"  ({result.errors} error(s), first: {result.first_error})")
    if not result.per_second:
        print(f"  (no command finished in this {WINDOW_SECONDS} s window: its ratio is 0)")
    cores = sum(result.cpu_cores.values())
    return result.per_second, cores * 1e6 / result.per_second if result.per_second else 0.0


_TIMED_CALLS = """
DO $$ DECLARE t0 timestamptz; took float8[] := '{{}}'; wal0 pg_lsn; state bytea;
BEGIN
  state := decode(repeat('ab', 460), 'hex');
  wal0 := pg_current_wal_insert_lsn();
  FOR i IN 1..{calls} LOOP
    t0 := clock_timestamp();
    PERFORM {function}(ARRAY[ROW(gen_random_uuid(), 1, 'benchmark:ChainCost', state)::{event}]);
    took := took || extract(epoch FROM clock_timestamp() - t0)::float8;
  END LOOP;
  RAISE NOTICE '% % %',
    (SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY x) FROM unnest(took) AS x) * 1e6,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(took) AS x) * 1e6,
    pg_wal_lsn_diff(pg_current_wal_insert_lsn(), wal0) / {calls};
END $$
"""


def _in_database(store: _Store) -> tuple[float, float, float]:
    """(p25 µs, p50 µs, WAL bytes) per call of the store's locked-insert function with one
    event of 460 bytes, inside one transaction of the database (no commit per call)."""
    recorder = store.app.recorder
    assert isinstance(recorder, LockedInsertRecorder)
    schema = recorder.datastore.schema
    statement = _TIMED_CALLS.format(
        calls=IN_DATABASE_CALLS,
        function=f'"{schema}"."{recorder.locked_insert_function}"',
        event=f'"{schema}"."{recorder.stored_event_type_name}"',
    )
    notices: list[str] = []
    with psycopg.connect(store.target.database_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
        conn.execute(statement)  # warms the function's plans and the tables' pages
        notices.clear()
        conn.execute(statement)
    p25, p50, wal = (float(x) for x in notices[-1].split())
    return p25, p50, wal


def _measure(
    backend: str, concurrency: int, pairs: int, seed: int, control: bool = False
) -> dict[str, Any]:
    """``pairs`` pairs of windows on a fresh pair of stores, ABBA order (``control``: two
    stores without the chain, the A/A run that shows this machine's noise)."""
    runs: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    ratios: list[float] = []
    in_database: dict[str, Any] = {}
    with _pair(backend, seed, control) as stores:
        for index in range(pairs):
            order = (False, True) if index % 2 == 0 else (True, False)
            for on in order:
                per_second, cpu_us = _window(stores[on], backend, concurrency)
                runs[on].append(per_second)
                cpu[on].append(cpu_us)
            ratios.append(runs[True][-1] / runs[False][-1] if runs[False][-1] else 0.0)
        if backend == "postgres" and concurrency == 1 and not control:
            for on in (False, True):
                p25, p50, wal = _in_database(stores[on])
                in_database["with_chain" if on else "without_chain"] = {
                    "p25_us": round(p25, 1),
                    "p50_us": round(p50, 1),
                    "wal_bytes": round(wal),
                }
    without, with_chain = statistics.median(runs[False]), statistics.median(runs[True])
    cpu_without, cpu_with = statistics.median(cpu[False]), statistics.median(cpu[True])
    median_ratio = statistics.median(ratios)
    label = " CONTROL (both without the chain)" if control else ""
    print(
        f"{backend} c={concurrency}{label}: median of {pairs} paired ratios {median_ratio:.3f} "
        f"{[round(r, 2) for r in ratios]}; without the chain {without:,.0f} commands/s, with "
        f"{with_chain:,.0f} (ratio of medians {with_chain / without:.3f}); CPU per command "
        f"{cpu_without:,.0f} µs without, {cpu_with:,.0f} µs with: {cpu_with / cpu_without:.3f}",
        flush=True,
    )
    if in_database:
        off, on_ = in_database["without_chain"], in_database["with_chain"]
        # What the chain adds to a command at one client is its function's extra time (nothing
        # in Python differs): the command's wall time without it, against that plus the extra.
        extra_us = on_["p50_us"] - off["p50_us"]
        command_us = 1e6 / without if without else 0.0
        in_database["derived_ratio"] = command_us / (command_us + extra_us) if command_us else 0.0
        print(
            f"  the locked insert inside the database, one event: p25 {off['p25_us']} → "
            f"{on_['p25_us']} µs, p50 {off['p50_us']} → {on_['p50_us']} µs, WAL "
            f"{off['wal_bytes']} → {on_['wal_bytes']} bytes per call; a command takes "
            f"{command_us:,.0f} µs without the chain: {extra_us:+.0f} µs is a ratio of "
            f"{in_database['derived_ratio']:.3f}",
            flush=True,
        )
    return {
        "control": control,
        "median_paired_ratio": median_ratio,
        "paired_ratios": ratios,
        "without_chain_per_second": runs[False],
        "with_chain_per_second": runs[True],
        "ratio_of_medians": with_chain / without,
        "without_chain_cpu_us_per_command": cpu[False],
        "with_chain_cpu_us_per_command": cpu[True],
        "cpu_ratio_of_medians": cpu_with / cpu_without,
        **({"in_database_per_call": in_database} if in_database else {}),
    }


def main(
    backends: tuple[str, ...] = ("postgres", "sqlite"),
    concurrencies: tuple[int, ...] = (1, 8),
    pairs: int = 8,
    seed: int = 1,
    control: bool = False,
) -> int:
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    postgres = "postgres" in backends and postgres_available()
    for backend in backends:
        if backend == "postgres" and not postgres:
            print("postgres: not reachable, skipped")
            continue
        for concurrency in concurrencies:
            results[f"{backend} c={concurrency}"] = _measure(backend, concurrency, pairs, seed)
            if control:
                results[f"{backend} c={concurrency} control"] = _measure(
                    backend, concurrency, pairs, seed, control=True
                )
    result = {
        "benchmark": "chain-cost",
        "started_at": started.isoformat(),
        "machine": machine.describe(server_version() if postgres else None),
        "code": machine.code_version(),
        "plan": {
            "pairs": pairs,
            "seed": seed,
            "window_seconds": WINDOW_SECONDS,
            "design": "two stores kept warm, windows alternating in ABBA pairs"
            + (
                "; each followed by an A/A control of two stores without the chain"
                if control
                else ""
            ),
        },
        "target": {"ratio_at_least": 0.95},
        "results": results,
    }
    name = "-".join(backends)
    path = RESULTS / f"{started:%Y-%m-%dT%H%M}-{socket.gethostname()}-chain-cost-{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results written to {path}")
    return 0
