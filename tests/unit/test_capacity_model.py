"""The capacity model's arithmetic (issue #22 point 5), on a small results file of round figures.

The expected values are worked out by hand in the comments, from the fixture's figures.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from benchmarks.capacity import (
    SECONDS_A_YEAR,
    Assumptions,
    Workload,
    main,
    measured,
    model,
    sensitivity,
    storage,
)


def _figure(median: float) -> dict[str, float]:
    return {"median": median, "min": median, "max": median}


def _query(p50: float, p99: float) -> dict[str, Any]:
    return {"p50": _figure(p50), "p99": _figure(p99)}


def _results() -> dict[str, Any]:
    """A results file in the suite's shape: 400 commands/s at 8 clients, 2 cores."""
    return {
        "code": {"commit": "abc1234"},
        "seed": 1,
        "as_of": "2026-11-22",
        "machine": {"cores": 2},
        "postgres": {
            "load": {"trajectories": 100, "commands": 2_000, "events": 2_000},
            "http": {
                "8": {
                    "per_second": _figure(400.0),
                    "latency_ms": {"p99": _figure(30.0)},
                    # cores used in the window: 0.6 / 400 per s = 1.5 ms a command, and so on
                    "cpu_cores": {
                        "serve": 0.6,
                        "postgres": 0.4,
                        "projections": 0.2,
                        "benchmark": 0.1,
                    },
                }
            },
            "rebuild": {"all": {"events_per_second": _figure(10_000.0)}},
            "lag_ms": {"all": {"p99": _figure(20.0)}, "rate_achieved": _figure(200.0)},
            "queries_ms": {
                "plan_state": _query(2.0, 3.0),
                "list": _query(1.5, 2.5),
                "board_organisation": _query(40.0, 90.0),
                "board_region": _query(10.0, 20.0),
            },
        },
    }


def _board() -> dict[str, Any]:
    return {
        "http_after": {
            "ms": {"board_organisation": _query(4.0, 12.0), "board_region": _query(5.0, 15.0)}
        }
    }


WORKLOAD = Workload(commands_per_trajectory=25.0, open_years=1.5)


def test_cpu_per_command_is_read_from_the_cores_each_process_used() -> None:
    m = measured(_results())
    # (0.6 + 0.4 + 0.2) cores / 400 commands/s = 3 ms; the load generator left out.
    assert m.server_cpu_ms_per_command == pytest.approx(3.0)
    assert m.cpu_ms_per_command["benchmark"] == pytest.approx(0.25)


def test_the_boards_re_measure_replaces_the_full_runs_board() -> None:
    assert measured(_results()).read_p50_ms["board"] == 40.0
    after = measured(_results(), _board())
    assert after.read_p50_ms["board"] == 5.0
    assert after.read_p99_ms["board"] == 15.0


def test_peak_to_average_is_the_share_of_working_hours_times_the_busiest_hour() -> None:
    a = Assumptions(working_days=365, working_hours=24, peak_hour_factor=1.0)
    assert a.peak_to_average == pytest.approx(1.0)
    assert Assumptions(working_days=365, working_hours=12).peak_to_average == pytest.approx(4.0)


def test_commands_carried_a_year_at_half_the_measured_rate() -> None:
    m = measured(_results())
    a = Assumptions(working_days=365, working_hours=24, peak_hour_factor=1.0, utilisation=0.5)
    out = model(m, WORKLOAD, a)
    # 400/s at half: 200/s all year round; 25 commands a trajectory.
    assert out["carried_commands_a_year"] == pytest.approx(200 * SECONDS_A_YEAR)
    assert out["carried_trajectories_a_year"] == pytest.approx(8 * SECONDS_A_YEAR)


def test_the_rebuild_limit_is_a_nights_worth_of_events_over_the_retained_log() -> None:
    m = measured(_results())
    a = Assumptions(retention_years=10, rebuild_window_hours=8.0)
    out = model(m, WORKLOAD, a)
    # 8 h x 10,000 events/s = 288 M events; a trajectory keeps 25 events x 10 years = 250.
    assert out["rebuild_trajectories_a_year"] == pytest.approx(288_000_000 / 250)
    doubled = model(m, WORKLOAD, replace(a, retention_years=20))
    assert doubled["rebuild_trajectories_a_year"] == pytest.approx(288_000_000 / 500)


def test_the_limit_is_the_lower_of_cpu_and_rebuild_and_the_headroom_is_against_demand() -> None:
    m = measured(_results(), _board())
    a = Assumptions()
    out = model(m, WORKLOAD, a)
    assert out["limit_trajectories_a_year"] == min(
        out["single_box_trajectories_a_year"], out["rebuild_trajectories_a_year"]
    )
    assert out["headroom"] == pytest.approx(out["limit_trajectories_a_year"] / 100_000)
    assert sum(out[f"cpu_share_{k}"] for k in ("commands", "boards", "plan_reads")) == (
        pytest.approx(1.0)
    )


def test_cpu_at_the_demand_peak_fills_the_budget_at_the_single_box_limit() -> None:
    m = measured(_results(), _board())
    a = Assumptions()
    out = model(m, WORKLOAD, a)
    at_limit = model(
        m,
        WORKLOAD,
        replace(
            a, regions=1, trajectories_per_region_year=int(out["single_box_trajectories_a_year"])
        ),
    )
    # Half of two cores: one core busy at the busiest hour.
    assert at_limit["demand_peak_cpu_cores"] == pytest.approx(1.0, rel=1e-4)


def test_a_standby_carries_more_since_only_the_access_check_stays_on_the_primary() -> None:
    m = measured(_results(), _board())
    out = model(m, WORKLOAD, Assumptions())
    assert out["with_standby_trajectories_a_year"] > out["single_box_trajectories_a_year"]
    free = model(m, WORKLOAD, Assumptions(primary_check_ms=0.0))
    # A free check leaves the primary only the commands' CPU.
    assert free["with_standby_trajectories_a_year"] == pytest.approx(
        free["single_box_trajectories_a_year"] / free["cpu_share_commands"]
    )


def test_a_harder_assumption_never_raises_a_limit() -> None:
    m = measured(_results(), _board())
    rows = sensitivity(m, WORKLOAD, Assumptions())
    name, box, rebuild = rows[0]
    assert name == "as assumed"
    for _, other_box, other_rebuild in rows[1:]:
        assert other_box <= box
        assert other_rebuild <= rebuild


def test_storage_grows_with_the_retained_years() -> None:
    m = measured(_results())
    out = storage(1_000.0, m, WORKLOAD, Assumptions(regions=1, trajectories_per_region_year=1_000))
    # 25 events of 1 KB a trajectory, 1,000 a year, kept 10 years.
    assert out["bytes_per_trajectory"] == pytest.approx(25_000)
    assert out["gb_a_year"] == pytest.approx(0.025)
    assert out["gb_retained"] == pytest.approx(0.25)


def test_the_command_line_prints_the_model_of_a_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("benchmarks.capacity.workload", lambda seed, as_of: WORKLOAD)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results()))
    assert main([str(path), "--bytes-per-event", "1000"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["measured"]["commit"] == "abc1234"
    assert printed["model"]["peak_to_average"] == pytest.approx(Assumptions().peak_to_average)
    assert printed["storage"]["bytes_per_trajectory"] == pytest.approx(25_000)
