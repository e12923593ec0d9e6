"""A capacity model (issue #22 point 5): what one PostgreSQL server carries, from a results file.

The measured figures come from a full run's results file (commands/s at 8 clients with their
p99 and CPU per command of each process, the rebuild of all projections, the live lag, the
queries); the workload's own numbers (commands per trajectory over its life, how long a
trajectory stays open) come from the generator; everything else is an *assumption*, named in
:class:`Assumptions` with its default and why, since no source here says. The arithmetic is
kept in :func:`model` so that the README's table is this module's output, not a hand sum.

python -m benchmarks.capacity benchmarks/results/<full-large>.json \
    [--board benchmarks/results/<board-large>.json] [--bytes-per-event N]

The model is a single-box one: the API, the projection worker and PostgreSQL on one machine of
the measured size (2 cores, shared), as measured. It scales with cores only where a measurement
says so, and none here does (two API processes on the same two cores were slower).
"""

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

SECONDS_A_YEAR = 365 * 24 * 3600
HOURS_A_YEAR = 365 * 24


@dataclass(frozen=True, slots=True)
class Measured:
    """The figures of one results file the model rests on (PostgreSQL, 8 clients)."""

    commit: str
    cores: int
    trajectories: int
    events_per_command: float
    commands_per_second: float
    command_p99_ms: float
    #: CPU per HTTP command by process, ms: ``serve``, ``postgres``, ``projections``, ``benchmark``.
    cpu_ms_per_command: dict[str, float]
    rebuild_events_per_second: float
    lag_p99_ms: float
    lag_commands_per_second: float
    #: One client, sequential, p50 and p99 ms: ``plan_state``, ``board``, ``list``.
    read_p50_ms: dict[str, float]
    read_p99_ms: dict[str, float]

    @property
    def server_cpu_ms_per_command(self) -> float:
        """API, PostgreSQL and projection worker; the load generator is not the product's."""
        return sum(v for k, v in self.cpu_ms_per_command.items() if k != "benchmark")


@dataclass(frozen=True, slots=True)
class Workload:
    """What the generator says about one trajectory over its life (closed ones: whole lives)."""

    commands_per_trajectory: float
    open_years: float


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What no source here says; each default is a stated choice (see the README's table)."""

    #: Flanders has some 15-20 care regions; the upper end, for a deployment for all of them.
    regions: int = 20
    #: Referrals a region's coordinators take on a year. No source: a generous guess for
    #: coordinated, multi-party trajectories (about one in 70 inhabitants of a region of
    #: 350,000), so that the answer errs on the side of load.
    trajectories_per_region_year: int = 5_000
    #: Commands arrive on working days in working hours only ...
    working_days: int = 250
    working_hours: int = 8
    #: ... and the busiest hour carries twice a working hour's mean (Monday mornings, the days
    #: before holidays). Together: the peak-to-average ratio against the year's mean.
    peak_hour_factor: float = 2.0
    #: At peak, use half of what was measured: the live lag was measured at half the 8-client
    #: rate (p99 21.5 ms), and the latency at full rate misses its target.
    utilisation: float = 0.5
    #: Open trajectories a coordinator follows, and how often each opens the board a day.
    caseload: int = 25
    board_views_per_day: int = 10
    #: Plan-state or timeline reads around each command (before writing, after, by a party).
    reads_per_command: float = 3.0
    #: The record is kept 10 years after the trajectory (procedure 004); the log holds them all.
    retention_years: int = 10
    #: A changed projection rebuilds from position 0; a night is the longest we accept.
    rebuild_window_hours: float = 8.0
    #: What a page check costs on the primary when a standby serves the read (measured: 0.4 ms
    #: for 50 ids, "Read replicas"); plan-state access facts are taken to cost the same.
    primary_check_ms: float = 0.4

    @property
    def peak_to_average(self) -> float:
        return HOURS_A_YEAR / (self.working_days * self.working_hours) * self.peak_hour_factor


def _median(figure: dict[str, Any]) -> float:
    return float(figure["median"])


def _reads(queries: dict[str, Any], boards: dict[str, Any], quantile: str) -> dict[str, float]:
    """Plan state, the list, and the slower of the two boards (a coordinator's, a region's)."""
    return {
        "plan_state": _median(queries["plan_state"][quantile]),
        "board": max(_median(boards[k][quantile]) for k in ("board_organisation", "board_region")),
        "list": _median(queries["list"][quantile]),
    }


def measured(result: dict[str, Any], board: dict[str, Any] | None = None) -> Measured:
    """The model's inputs from a results file (and the board's re-measure, if given)."""
    pg = result["postgres"]
    http = pg["http"]["8"]
    rate = _median(http["per_second"])
    cpu = http.get("cpu_ms_per_command")
    if cpu is None:  # older files keep the cores each process used in the window
        cpu = {k: v * 1000 / rate for k, v in http["cpu_cores"].items()}
    cpu = {k: float(v) for k, v in cpu.items() if k not in ("all", "all_but_load")}
    queries = pg["queries_ms"]
    boards = dict(queries)
    if board is not None:
        boards.update(board["http_after"]["ms"])
    load = pg["load"]
    return Measured(
        commit=str(result["code"]["commit"]),
        cores=int(result["machine"]["cores"]),
        trajectories=int(load["trajectories"]),
        events_per_command=(load["events"] - load.get("network_events", 0)) / load["commands"],
        commands_per_second=rate,
        command_p99_ms=_median(http["latency_ms"]["p99"]),
        cpu_ms_per_command=cpu,
        rebuild_events_per_second=_median(pg["rebuild"]["all"]["events_per_second"]),
        lag_p99_ms=_median(pg["lag_ms"]["all"]["p99"]),
        lag_commands_per_second=_median(pg["lag_ms"]["rate_achieved"]),
        read_p50_ms=_reads(queries, boards, "p50"),
        read_p99_ms=_reads(queries, boards, "p99"),
    )


def workload(seed: int, as_of: date, count: int = 5_000) -> Workload:
    """Commands per trajectory and years open, from the generator's closed and declined ones.

    A trajectory still open on ``as_of`` is cut there, so it counts too few commands; the
    whole lives are those that ended. The results file's seed and ``as_of`` make it the same
    workload the run loaded. Years open is their referral-to-last-command span, the
    mean time a trajectory is on someone's board (Little's law turns it into open ones).
    """
    from benchmarks.workload import generate

    lives: list[int] = []
    spans: list[float] = []
    for script in generate(seed, count, as_of=as_of):
        if script.outcome == "open":
            continue
        lives.append(len(script.steps))
        if script.outcome == "closed":
            first, last = script.steps[0].occurred_at, script.steps[-1].occurred_at
            spans.append((last - first).days / 365)
    return Workload(statistics.fmean(lives), statistics.fmean(spans))


def model(m: Measured, w: Workload, a: Assumptions) -> dict[str, float]:
    """The arithmetic, one named figure per step; rates per second, volumes per year."""
    out: dict[str, float] = {"peak_to_average": a.peak_to_average}
    cpu = m.server_cpu_ms_per_command
    out["server_cpu_ms_per_command"] = cpu
    out["cpu_bound_commands_per_second"] = m.cores * 1000 / cpu
    # Commands alone, at the measured throughput.
    peak = m.commands_per_second * a.utilisation
    out["planned_peak_commands_per_second"] = peak
    out["carried_commands_a_year"] = peak / a.peak_to_average * SECONDS_A_YEAR
    out["carried_trajectories_a_year"] = out["carried_commands_a_year"] / w.commands_per_trajectory
    # The assumed demand.
    t = a.regions * a.trajectories_per_region_year
    out["demand_trajectories_a_year"] = t
    out["demand_commands_a_year"] = t * w.commands_per_trajectory
    out["demand_peak_commands_per_second"] = (
        out["demand_commands_a_year"] / SECONDS_A_YEAR * a.peak_to_average
    )
    out["headroom_commands"] = out["carried_trajectories_a_year"] / t
    # Commands and reads together, in CPU at peak per trajectory a year (everything is linear).
    cmd_per_t = w.commands_per_trajectory / SECONDS_A_YEAR * a.peak_to_average
    coordinators_per_t = w.open_years / a.caseload
    boards_per_t = (
        coordinators_per_t * a.board_views_per_day / (a.working_hours * 3600) * a.peak_hour_factor
    )
    plans_per_t = cmd_per_t * a.reads_per_command
    out["demand_open_trajectories"] = t * w.open_years
    out["demand_coordinators"] = t * coordinators_per_t
    out["demand_peak_boards_per_second"] = t * boards_per_t
    out["demand_peak_plan_reads_per_second"] = t * plans_per_t
    budget = m.cores * 1000 * a.utilisation  # CPU ms a second
    reads = {
        "commands": cmd_per_t * cpu,
        "boards": boards_per_t * m.read_p50_ms["board"],
        "plan_reads": plans_per_t * m.read_p50_ms["plan_state"],
    }
    per_t = sum(reads.values())
    for name, cost in reads.items():
        out[f"cpu_share_{name}"] = cost / per_t
    out["demand_peak_cpu_cores"] = t * per_t / 1000
    out["single_box_trajectories_a_year"] = budget / per_t
    with_standby = cmd_per_t * cpu + (boards_per_t + plans_per_t) * a.primary_check_ms
    out["with_standby_trajectories_a_year"] = budget / with_standby
    # The log: a changed projection is rebuilt from position 0 over every event kept.
    events_per_t = w.commands_per_trajectory * m.events_per_command * a.retention_years
    out["demand_log_events"] = t * events_per_t
    out["demand_rebuild_hours"] = t * events_per_t / m.rebuild_events_per_second / 3600
    out["rebuild_trajectories_a_year"] = (
        a.rebuild_window_hours * 3600 * m.rebuild_events_per_second / events_per_t
    )
    out["limit_trajectories_a_year"] = min(
        out["single_box_trajectories_a_year"], out["rebuild_trajectories_a_year"]
    )
    out["headroom"] = out["limit_trajectories_a_year"] / t
    out["regions_per_server"] = out["limit_trajectories_a_year"] / a.trajectories_per_region_year
    return out


def storage(bytes_per_event: float, m: Measured, w: Workload, a: Assumptions) -> dict[str, float]:
    """The event store's size a year and after the retention period, at the assumed demand."""
    per_t = w.commands_per_trajectory * m.events_per_command * bytes_per_event
    t = a.regions * a.trajectories_per_region_year
    return {
        "bytes_per_trajectory": per_t,
        "gb_a_year": t * per_t / 1e9,
        "gb_retained": t * per_t * a.retention_years / 1e9,
    }


def sensitivity(m: Measured, w: Workload, a: Assumptions) -> list[tuple[str, float, float]]:
    """Both limits (CPU of one box, a night's rebuild) when one assumption is made twice as
    hard, the others as they are."""
    cases = {
        "as assumed": a,
        "peak hour 4x a working hour's mean": replace(a, peak_hour_factor=a.peak_hour_factor * 2),
        "board opened 20x a day": replace(a, board_views_per_day=a.board_views_per_day * 2),
        "caseload 12": replace(a, caseload=max(1, a.caseload // 2)),
        "6 reads a command": replace(a, reads_per_command=a.reads_per_command * 2),
        "retention 20 years": replace(a, retention_years=a.retention_years * 2),
        "rebuild within 4 hours": replace(a, rebuild_window_hours=a.rebuild_window_hours / 2),
    }
    rows = []
    for name, case in cases.items():
        out = model(m, w, case)
        rows.append(
            (name, out["single_box_trajectories_a_year"], out["rebuild_trajectories_a_year"])
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__)
    parser.add_argument("results", help="a full run's results file (PostgreSQL)")
    parser.add_argument("--board", help="the board's re-measure (its http_after figures)")
    parser.add_argument("--bytes-per-event", type=float, help="measured database bytes per event")
    parser.add_argument(
        "--rebuild-events-per-second",
        type=float,
        help="a later rebuild of all projections than the results file's (say where it is from)",
    )
    args = parser.parse_args(argv)
    result = json.loads(Path(args.results).read_text())
    board = json.loads(Path(args.board).read_text()) if args.board else None
    m = measured(result, board)
    if args.rebuild_events_per_second:
        m = replace(m, rebuild_events_per_second=args.rebuild_events_per_second)
    w = workload(int(result["seed"]), date.fromisoformat(result["as_of"]))
    a = Assumptions()
    out: dict[str, Any] = {
        "measured": asdict(m),
        "workload": asdict(w),
        "assumptions": asdict(a),
        "model": model(m, w, a),
        "sensitivity": {
            name: {"single_box": box, "rebuild": rebuild}
            for name, box, rebuild in sensitivity(m, w, a)
        },
    }
    if args.bytes_per_event:
        out["storage"] = storage(args.bytes_per_event, m, w, a)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
