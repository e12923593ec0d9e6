"""The dynamics table (issue #13, points 1-3): the process map, the paths around a block and
what is present early, counted as sums over units and passed through the release's rules."""

import math
from datetime import date, timedelta

import pytest

from domain.deadlines import DeadlinePolicy, Fact
from projections.statistics import dynamics, traces
from projections.statistics.disclosure import protect
from projections.statistics.model import ALL_SECTORS, CellKey, Period, Population, ReleasedCell
from projections.statistics.tables import population
from projections.statistics.units import (
    AgreementProposed,
    Blocked,
    Consulted,
    Detail,
    Referred,
    Unblocked,
    UnitRecord,
)
from tests.unit.disclosure_oracle import published_counts, ranges

REGION = "elz-gent"
Q3, YEAR = Period(2026, 3), Period(2026)
K = 10
POLICY = DeadlinePolicy(rules=(), fingerprint="none")


def unit(
    name: str,
    referred_on: date = date(2026, 7, 6),
    facts: tuple[Fact, ...] = (),
    details: tuple[Detail, ...] = (),
) -> UnitRecord:
    return UnitRecord(name, REGION, "youth_care", referred_on, facts, details)


def start(on: date, involvement: str = "present", *organisations: str) -> Consulted:
    orgs = organisations or ("org-a",)
    return Consulted(on, "start", involvement, orgs, len(orgs), ("provider",))


def cell(category: str, region: str = REGION) -> CellKey:
    return CellKey(dynamics.DYNAMICS, region, ALL_SECTORS, category)


def of(units: list[UnitRecord], period: Period = Q3) -> Population:
    return population(units, period, policy=POLICY, kinds={})


def shown(population: Population) -> dict[CellKey, ReleasedCell]:
    """What a release stores and lists of the dynamics table: published cells and the relative
    risks computed from them."""
    cells = protect(population, K).cells
    listed = [*cells, *dynamics.relative_risks(cells, K)]
    return {
        c.key: c
        for c in listed
        if c.key.table == dynamics.DYNAMICS and not dynamics.hidden(c.key, c.withheld)
    }


def test_a_trace_counts_its_nodes_edges_and_the_ends_of_the_map() -> None:
    referred = date(2026, 7, 6)
    one = unit(
        "t-1",
        referred,
        (Fact("accepted", referred + timedelta(days=7)),),
        (start(referred + timedelta(days=21)),),
    )

    counts, gaps = dynamics.unit_cells(one, Q3, {})

    assert counts["node:referral"] == counts["node:accepted"] == 1
    assert counts["edge:start>referral"] == 1
    assert counts["edge:referral>accepted"] == 1
    assert counts["edge:accepted>consultation:start"] == 1
    assert counts["edge:consultation:start>end"] == 1
    assert gaps == {"weeks:referral>accepted": 7, "weeks:accepted>consultation:start": 14}


def test_in_and_out_edges_of_every_node_sum_to_it() -> None:
    referred = date(2026, 7, 6)
    details: tuple[Detail, ...] = (
        Blocked(referred + timedelta(days=3), ("waiting_list",)),
        Unblocked(referred + timedelta(days=10)),
        Blocked(referred + timedelta(days=20), ("capacity",)),
    )
    counts, _ = dynamics.unit_cells(unit("t-1", referred, details=details), Q3, {})

    for node in [c for c in counts if c.startswith("node:")]:
        activity = node.removeprefix("node:")
        into = sum(
            v for c, v in counts.items() if c.startswith("edge:") and c.endswith(f">{activity}")
        )
        out = sum(v for c, v in counts.items() if c.startswith(f"edge:{activity}>"))
        assert into == out == counts[node], node


def test_paths_name_the_two_activities_before_a_block_and_before_its_end() -> None:
    referred = date(2026, 7, 6)
    details: tuple[Detail, ...] = (
        Blocked(referred, ("waiting_list",)),
        Unblocked(referred + timedelta(days=10)),
    )
    counts, _ = dynamics.unit_cells(unit("t-1", referred, details=details), Q3, {})

    assert counts["into_block:start>referral"] == 1
    assert counts["out_of_block:referral>blocked"] == 1


def test_steps_after_the_period_s_last_day_are_out_of_scope() -> None:
    late = (Blocked(date(2026, 10, 1), ("waiting_list",)),)
    counts, _ = dynamics.unit_cells(unit("t-1", details=late), Q3, {})
    in_year, _ = dynamics.unit_cells(unit("t-1", details=late), YEAR, {})

    assert "node:blocked" not in counts
    assert counts["edge:referral>end"] == 1
    assert in_year["node:blocked"] == 1


def test_only_trajectories_referred_in_the_period_are_in_its_map() -> None:
    counts, _ = dynamics.unit_cells(unit("t-1", referred_on=date(2026, 6, 30)), Q3, {})
    assert counts == {}


def test_early_factors_need_three_months_in_scope_and_come_from_the_first_three() -> None:
    referred = date(2026, 7, 2)  # 90 days before the end of Q3: not three months in it
    details: tuple[Detail, ...] = (
        start(referred + timedelta(days=20), "present", "org-a", "org-b", "org-c"),
        Blocked(referred + timedelta(days=120), ("capacity",)),
    )
    counts, _ = dynamics.unit_cells(unit("t-1", referred, details=details), YEAR, {})
    too_late, _ = dynamics.unit_cells(unit("t-1", referred, details=details), Q3, {})

    assert counts["early:client_present_at_start:present:blocked"] == 1
    assert counts["early:parties_3_or_more:present:blocked"] == 1
    assert counts["early:org_kinds_2_or_more:absent:blocked"] == 1  # all three unclassified
    assert counts["early:start_within_30_days:present:blocked"] == 1
    assert not any(c.startswith("early:") for c in too_late)
    assert counts["early:referrer_engaged:absent:blocked"] == 1  # nobody recorded the referrer


def test_the_referrer_is_engaged_when_its_organisation_sits_at_the_table_early() -> None:
    referred = date(2026, 3, 2)
    referrer = Referred(referred, "school-a")
    early_on = start(referred + timedelta(days=20), "present", "school-a", "org-b")
    later = start(referred + timedelta(days=120), "present", "school-a")
    late_only = dynamics.early_factors(unit("t-1", referred, details=(referrer, later)), {})
    at_start = dynamics.early_factors(unit("t-2", referred, details=(referrer, early_on)), {})
    party = AgreementProposed(referred + timedelta(days=40), "ra-1", ("school-a",))
    by_agreement = dynamics.early_factors(unit("t-3", referred, details=(referrer, party)), {})

    assert not late_only["referrer_engaged"]
    assert at_start["referrer_engaged"]
    assert by_agreement["referrer_engaged"]


def test_the_relative_risk_and_its_interval_are_katz_s_log_method() -> None:
    # 20 of 50 with the factor blocked, 10 of 50 without: RR = 0.4 / 0.2 = 2;
    # SE(ln RR) = sqrt(1/20 - 1/50 + 1/10 - 1/50) = sqrt(0.11);
    # 95 % CI = exp(ln 2 ± 1.96 · 0.33166) = (1.044, 3.831).
    rr, low, high = dynamics.katz(20, 30, 10, 40)

    assert rr == pytest.approx(2.0)
    assert math.log(rr) - math.log(low) == pytest.approx(1.959964 * math.sqrt(0.11))
    assert (round(low, 2), round(high, 2)) == (1.04, 3.83)


def _early(
    present_blocked: int, present_not: int, absent_blocked: int, absent_not: int
) -> list[ReleasedCell]:
    values = (present_blocked, present_not, absent_blocked, absent_not)
    keys = [
        cell(dynamics.early("client_present_at_start", p, b))
        for p in (True, False)
        for b in (True, False)
    ]
    return [
        ReleasedCell(key, "count", float(v) if v >= K else None, None if v >= K else "below_k")
        for key, v in zip(keys, values, strict=True)
    ]


def test_a_relative_risk_is_released_only_when_all_four_cells_are_published() -> None:
    released = dynamics.relative_risks(_early(20, 30, 10, 40), K)
    withheld = dynamics.relative_risks(_early(20, 30, 9, 40), K)

    assert {c.key.category: c.value for c in released} == {
        "rr:client_present_at_start": 2.0,
        "rr_low:client_present_at_start": 1.04,
        "rr_high:client_present_at_start": 3.83,
    }
    assert withheld == []


def _rare_path_population() -> list[UnitRecord]:
    """46 trajectories referred in July: 30 accepted and started, 7 accepted and waiting, 6
    with an ad-hoc consultation after their acceptance, and 3 (fewer than k) blocked right
    after it: a rare path. (The waiting and the ad-hoc ones are what leaves room for the rare
    path beside the published start edge: with the acceptances published, a reader knows
    every edge out of them but the start's adds up to 16.)"""
    units = []
    for i in range(46):
        referred = date(2026, 7, 1) + timedelta(days=i % 20)
        facts = (Fact("accepted", referred + timedelta(days=7)),)
        details: tuple[Detail, ...] = ()
        if i < 30:
            details = (
                start(referred + timedelta(days=14 + i % 9), "present" if i % 3 else "absent"),
            )
        elif 37 <= i < 40:
            details = (Blocked(referred + timedelta(days=8), ("capacity",)),)
        elif i >= 40:
            details = (
                Consulted(
                    referred + timedelta(days=10), "ad_hoc", "present", ("org-a",), 1, ("provider",)
                ),
            )
        units.append(unit(f"t-{i:02}", referred, facts, details))
    return units


def test_a_rare_path_is_neither_drawn_nor_counted_nor_in_a_share() -> None:
    released = shown(of(_rare_path_population()))
    categories = {key.category for key in released}

    assert "edge:accepted>blocked" not in categories
    assert "node:blocked" not in categories
    assert not any("blocked" in c and not c.startswith("early:") for c in categories)
    assert "edge:accepted>consultation:start" in categories
    assert all(c.value is not None for c in released.values())


def test_no_node_total_lets_a_withheld_edge_be_derived() -> None:
    found = of(_rare_path_population())
    protected = protect(found, K)

    assert protected.passed
    found_ranges = ranges(found, published_counts(protected))
    dynamic = [r for r in found_ranges if r.key.table == dynamics.DYNAMICS]
    assert any(r.key.category == "edge:accepted>blocked" for r in dynamic)
    assert all(r.keeps_interval(K) for r in dynamic), [
        r for r in dynamic if not r.keeps_interval(K)
    ]


def test_the_release_lists_no_withheld_cell_of_the_dynamics_table() -> None:
    cells = protect(of(_rare_path_population()), K).cells
    listed = [c for c in cells if not dynamics.hidden(c.key, c.withheld)]

    assert all(c.withheld is None for c in listed if c.key.table == dynamics.DYNAMICS)
    assert any(c.withheld is not None for c in listed if c.key.table != dynamics.DYNAMICS)


def test_the_map_uses_the_trace_the_export_uses() -> None:
    one = unit("t-1", facts=(Fact("accepted", date(2026, 7, 9)),))
    counts, _ = dynamics.unit_cells(one, Q3, {})

    steps = traces.trace(one, until=Q3.end)
    assert [c for c in counts if c.startswith("node:")] == [f"node:{s.activity}" for s in steps]
