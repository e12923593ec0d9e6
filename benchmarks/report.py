"""Turns a results file into the quick JSON summary and the Markdown table of the README."""

import math
from pathlib import Path
from typing import Any

from benchmarks.machine import label

_BACKENDS = (("postgres", "PostgreSQL"), ("sqlite", "SQLite (embedded)"))


def _short(stat: dict[str, Any] | None) -> dict[str, float] | None:
    if not stat:
        return None
    return {k: stat[k] for k in ("median", "min", "max") if k in stat}


def quick_figures(result: dict[str, Any], path: Path) -> dict[str, Any]:
    """One JSON object with the figures and ratios (median, min, max of the repeated runs)."""
    found: dict[str, Any] = {
        "file": str(path),
        "machine": result["machine"],
        "mode": result["plan"]["mode"],
        "size": result["plan"]["size"],
        "repeats": result["plan"]["repeats"],
        "seconds": result["seconds"],
    }
    for backend, _ in _BACKENDS:
        run = result.get(backend)
        if not run or "http" not in run:
            continue
        figures: dict[str, Any] = {"events_loaded": run["load"]["events"]}
        for kind in ("http", "append"):
            figures[kind] = {
                clients: {
                    "commands_per_second": _short(m["per_second"]),
                    "latency_ms": {q: _short(m["latency_ms"][q]) for q in ("p50", "p95", "p99")},
                    "baseline_commits_per_second": _short(m["baseline_per_second"]),
                    "ratio_to_baseline": _short(m["ratio"]),
                    "errors": m["errors"],
                    "cpu_ms_per_command": m.get("cpu_ms_per_command"),
                    **_floors(m),
                }
                for clients, m in run[kind].items()
            }
        figures["rebuild_events_per_second"] = {
            name: _short(value["events_per_second"])
            for name, value in run["rebuild"].items()
            if isinstance(value, dict) and "events_per_second" in value
        }
        figures["rebuild_projection_events"] = {
            name: value["events"]
            for name, value in run["rebuild"].items()
            if isinstance(value, dict) and "events" in value
        }
        figures["rebuild_peak_rss_mib"] = _short(run["rebuild"]["all"]["peak_rss_mib"])
        figures["lag_ms"] = {
            key: {q: _short(run["lag_ms"][key][q]) for q in ("p50", "p99")}
            for key in ("plan_state", "all")
        }
        figures["lag_ms"]["rate"] = run["lag_ms"]["rate_target"]
        figures["queries_ms"] = {
            kind: {q: _short(v[q]) for q in ("p50", "p99")} for kind, v in run["queries_ms"].items()
        }
        if "statistics" in run:
            figures["statistics_seconds"] = {
                "read_units": _short(run["statistics"]["read_seconds"]),
                **{
                    period: _short(value["seconds"])
                    for period, value in run["statistics"]["periods"].items()
                },
            }
        figures["memory_mib"] = run["memory_mib"]
        figures["consistency_ok"] = run["consistency"]["ok"]
        found[backend] = figures
    found["targets"] = result["targets"]
    return found


def _floors(m: dict[str, Any]) -> dict[str, Any]:
    """Issue #22: the null command and the peer beside the commands, where measured."""
    found: dict[str, Any] = {}
    for name in ("null", "peer"):
        if f"{name}_per_second" in m:
            found[name] = {
                "commands_per_second": _short(m[f"{name}_per_second"]),
                "p99_ms": _short(m[f"{name}_latency_ms"]["p99"]),
                "ratio": _short(m[f"ratio_to_{name}"]),
                "cpu_ms_per_command": m[f"{name}_cpu_ms_per_command"],
            }
    return found


def _cpu(cpu: dict[str, float] | None, *names: str) -> str:
    if not cpu:
        return "-"
    return " / ".join(f"{cpu[n]:.2f}" if n in cpu else "-" for n in names)


def _fmt(stat: dict[str, Any] | None, digits: int = 0) -> str:
    if not stat or math.isnan(stat.get("median", math.nan)):
        return "-"
    spec = f",.{digits}f"
    return f"{stat['median']:{spec}} ({stat['min']:{spec}}-{stat['max']:{spec}})"


def _ms(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "-"
    return _fmt(stat, 1 if stat["median"] >= 1 else 2)


def _floor_lines(result: dict[str, Any]) -> list[str]:
    """Issue #22: commands/s as ratios to the baseline, the null command and the peer, and the
    CPU each process spent per command, all from the same run."""
    lines = [
        "",
        "**Floors** (issue #22; same run, same load client): the *null command* is the same "
        "server, middleware, authentication and body decoding answering without the domain or "
        "the store; the *peer* is eventsourcing's own `Application` doing load-command-save on a "
        "small aggregate on the same database (HTTP: behind a bare Litestar app; CareRecord: "
        "from threads). CPU in ms per command: API (or the peer's process) / PostgreSQL (every "
        "server process of the machine) / projection worker / load generator (on the CareRecord "
        "rows the application runs inside the load generator's process).",
        "",
        "| backend | path | clients | commands/s | ÷ baseline | null cmd/s | ÷ null "
        "| peer cmd/s | ÷ peer | CPU ms/cmd ours | CPU ms/cmd null | CPU ms/cmd peer |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        run = result.get(backend, {})
        for kind, path in (("http", "HTTP"), ("append", "CareRecord")):
            for clients, m in run.get(kind, {}).items():
                if "null_per_second" not in m and "peer_per_second" not in m:
                    continue
                ours = ("serve", "postgres", "projections", "benchmark")
                lines.append(
                    f"| {name} | {path} | {clients} | {_fmt(m['per_second'])} "
                    f"| {_fmt(m['ratio'], 2)} | {_fmt(m.get('null_per_second'))} "
                    f"| {_fmt(m.get('ratio_to_null'), 2)} | {_fmt(m.get('peer_per_second'))} "
                    f"| {_fmt(m.get('ratio_to_peer'), 2)} "
                    f"| {_cpu(m.get('cpu_ms_per_command'), *ours)} "
                    f"| {_cpu(m.get('null_cpu_ms_per_command'), *ours)} "
                    f"| {_cpu(m.get('peer_cpu_ms_per_command'), 'peer', 'postgres', 'benchmark')} |"
                )
    return lines


def table(result: dict[str, Any]) -> str:
    plan = result["plan"]
    first = next((result[b] for b, _ in _BACKENDS if b in result and "load" in result[b]), None)
    load = first["load"] if first else {"trajectories": 0, "events": 0}
    lines = [
        f"Measured {result['started_at'][:16].replace('T', ' ')} UTC on "
        f"`{result['machine']['hostname']}`: {label(result['machine'])}.",
        f"{plan['mode'].capitalize()} run, size **{plan['size']}**: "
        f"{load['trajectories']:,} trajectories, {load['events']:,} events. "
        f"Each figure: median (min-max) of {plan['repeats']} runs "
        f"({plan['window']:g} s windows; rebuilds: {plan['rebuild_repeats']} run(s)). "
        f"Code: commit {result.get('code', {}).get('commit', '?')}.",
        "",
        "**Commands** (workload mix; the baseline is single-row ~1 KB inserts, one commit each, "
        "at the same concurrency, measured alternately in the same run)",
        "",
        "| backend | path | clients | commands/s | p50 ms | p95 ms | p99 ms "
        "| baseline commits/s | ratio |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        run = result.get(backend, {})
        for kind, path in (("http", "HTTP"), ("append", "CareRecord")):
            for clients, m in run.get(kind, {}).items():
                lines.append(
                    f"| {name} | {path} | {clients} | {_fmt(m['per_second'])} "
                    f"| {_ms(m['latency_ms']['p50'])} | {_ms(m['latency_ms']['p95'])} "
                    f"| {_ms(m['latency_ms']['p99'])} | {_fmt(m['baseline_per_second'])} "
                    f"| {_fmt(m['ratio'], 2)} |"
                )
    lines += _floor_lines(result)
    lines += [
        "",
        "**Projection rebuild** from position 0 (child process; peak resident memory)",
        "",
        "| backend | projection | its events | events/s | seconds | peak RSS MiB |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        rebuild = result.get(backend, {}).get("rebuild", {})
        for projection, value in rebuild.items():
            if isinstance(value, dict) and "events_per_second" in value:
                together = projection == "all" or "+" in projection
                own = value.get("events", rebuild.get("events") if together else None)
                lines.append(
                    f"| {name} | {projection} | {'-' if own is None else f'{own:,}'} "
                    f"| {_fmt(value['events_per_second'])} "
                    f"| {_fmt(value['seconds'], 1)} | {_fmt(value['peak_rss_mib'])} |"
                )
    lines += [
        "",
        "**Statistics**: read every unit (`read_units`), then build each period's population "
        "(`tables.population`, before disclosure control)",
        "",
        "| backend | units | read s | period | population s | units counted | flow cells >= k |",
        "|---|--:|--:|---|--:|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        statistics = result.get(backend, {}).get("statistics")
        if not statistics:
            continue
        for period, value in statistics["periods"].items():
            counted = value.get("units_contributing")
            share = value.get("flow_region_cells_at_least_k")
            lines.append(
                f"| {name} | {statistics['units']:,} | {_fmt(statistics['read_seconds'], 2)} "
                f"| {period} | {_fmt(value['seconds'], 2)} "
                f"| {'-' if counted is None else f'{counted:,}'} "
                f"| {'-' if share is None else f'{share:.0%}'} |"
            )
    lines += [
        "",
        "**Live projection lag**: from a command's answer to its position in `rm_tracking` "
        "(polled every 2 ms), under a paced load of half the 8-client throughput",
        "",
        "| backend | load commands/s | plan state p50 ms | p99 ms | all projections p50 ms "
        "| p99 ms |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        lag = result.get(backend, {}).get("lag_ms")
        if lag:
            lines.append(
                f"| {name} | {_fmt(lag['rate_achieved'])} | {_ms(lag['plan_state']['p50'])} "
                f"| {_ms(lag['plan_state']['p99'])} | {_ms(lag['all']['p50'])} "
                f"| {_ms(lag['all']['p99'])} |"
            )
    lines += [
        "",
        f"**Queries** over HTTP, one client, sequential, at {load['trajectories']:,} trajectories",
        "",
        "| query | backend | p50 ms | p99 ms |",
        "|---|---|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        for kind, v in result.get(backend, {}).get("queries_ms", {}).items():
            lines.append(f"| {kind} | {name} | {_ms(v['p50'])} | {_ms(v['p99'])} |")
    lines += [
        "",
        "**Memory** of the processes after the run (VmRSS now / VmHWM peak, MiB)",
        "",
        "| backend | process | RSS | peak |",
        "|---|---|--:|--:|",
    ]
    for backend, name in _BACKENDS:
        for process, m in result.get(backend, {}).get("memory_mib", {}).items():
            what = {"serve": "API (`rodedraad serve`)", "projections": "projection worker"}
            lines.append(
                f"| {name} | {what.get(process, process)} | {m['rss']:.0f} | {m['hwm']:.0f} |"
            )
    if result.get("targets"):
        lines += [
            "",
            "**Targets of issue #6** (PostgreSQL)",
            "",
            "| target | limit | measured | met |",
            "|---|---|--:|---|",
        ]
        for t in result["targets"]:
            note = f" ({t['note']})" if t.get("note") else ""
            lines.append(
                f"| {t['target']} | {t['limit']} | {t['value']:,.2f} "
                f"| {'yes' if t['met'] else '**no**'}{note} |"
            )
    return "\n".join(lines)
