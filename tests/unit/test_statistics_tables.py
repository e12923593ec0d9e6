"""A period's population: which trajectory counts in which cell (issue #12, point 2).

Units are built by hand (one per trajectory), so each test shows the one fact it is about.
"""

import re
from datetime import date
from typing import Any

import pytest

from domain.common import Sector
from domain.deadlines import Anchor, DeadlinePolicy, DeadlineRule, Fact, Offset, Satisfier
from projections.statistics.model import ALL_SECTORS, CellKey, Period, Population
from projections.statistics.tables import TABLES, population, populations
from projections.statistics.units import (
    AgreementAccepted,
    AgreementProposed,
    Blocked,
    Consulted,
    Detail,
    EscalationRaised,
    HandedOver,
    Unblocked,
    UnitRecord,
)

REGION = "elz-gent"
SECTOR = "youth_care"
Q2, Q3, YEAR = Period(2026, 2), Period(2026, 3), Period(2026)
START_RULE = DeadlineRule(
    name="start_consultation",
    source="003",
    expected="the start consultation within a month of acceptance",
    starts=Anchor.ACCEPTED,
    due_after=Offset(days=30),
    satisfied_by=Satisfier.START_CONSULTATION,
)
POLICY = DeadlinePolicy(rules=(START_RULE,), fingerprint="ab")


def unit(
    name: str = "t-1",
    referred_on: date = date(2026, 7, 10),
    facts: tuple[Fact, ...] = (),
    details: tuple[Detail, ...] = (),
    sector: str = SECTOR,
    region: str = REGION,
) -> UnitRecord:
    return UnitRecord(name, region, sector, referred_on, facts, details)


def of(units: list[UnitRecord], period: Period, kinds: dict[str, str] | None = None) -> Population:
    return population(units, period, policy=POLICY, kinds=kinds or {})


def value(found: Population, name: str, sector: str | None = None, region: str = REGION) -> int:
    """A cell's value; by default the unit's sector's cell in a year, the region's in a quarter
    (a quarter's tables are not broken down by sector)."""
    if sector is None:
        sector = SECTOR if found.period.kind == "year" else ALL_SECTORS
    table, category = name.split("/", 1)
    return found.value(CellKey(table, region, sector, category))


def blocked(start: date, end: date | None, *reasons: str) -> tuple[Detail, ...]:
    return (Blocked(start, reasons), *((Unblocked(end),) if end else ()))


def consulted(on: date, involvement: str = "present", *organisations: str) -> Consulted:
    orgs = organisations or ("org-a",)
    return Consulted(on, "ad_hoc", involvement, orgs, len(orgs), ("provider",))


def test_a_trajectory_referred_in_q3_counts_in_2026q3_and_2026_not_in_2026q2() -> None:
    referred = [unit(referred_on=date(2026, 8, 3))]

    assert value(of(referred, Q3), "flow/referrals") == 1
    assert value(of(referred, YEAR), "flow/referrals") == 1
    assert value(of(referred, Q2), "flow/referrals") == 0


def test_a_block_across_two_quarters_counts_as_blocked_in_both() -> None:
    accepted = (Fact("accepted", date(2026, 4, 2)),)
    across = [
        unit(
            referred_on=date(2026, 4, 1),
            facts=accepted,
            details=blocked(date(2026, 6, 20), date(2026, 7, 5), "waiting_list"),
        )
    ]

    assert value(of(across, Q2), "blocks/blocked") == 1
    assert value(of(across, Q3), "blocks/blocked") == 1
    assert value(of(across, Q2), "flow/blocked") == 1


def test_a_regions_all_sectors_cell_is_the_sum_of_its_sectors() -> None:
    units = [
        unit("t-1", sector="youth_care"),
        unit("t-2", sector="youth_care"),
        unit("t-3", sector="mental_health"),
    ]

    found = of(units, YEAR)

    assert value(found, "flow/referrals", ALL_SECTORS) == 3
    assert value(found, "flow/referrals", "youth_care") == 2
    assert value(found, "flow/referrals", "mental_health") == 1


def test_every_count_cell_exists_in_every_sector_of_the_region_even_when_zero() -> None:
    found = of([unit()], YEAR)

    sectors = {key.sector for key in found.counts if key.region == REGION}
    assert sectors == {*(sector.value for sector in Sector), ALL_SECTORS}
    assert found.values()[CellKey("blocks", REGION, "education", "reason:funding")] == 0


def test_a_quarter_shows_only_the_regions_all_sectors_cells_and_a_year_every_sector() -> None:
    units = [unit("t-1", sector="youth_care"), unit("t-2", sector="mental_health")]

    quarter, year = of(units, Q3), of(units, YEAR)

    for found in (quarter, year):
        assert value(found, "flow/referrals", ALL_SECTORS) == 2
    assert {key.sector for key in quarter.counts} == {ALL_SECTORS}
    assert {key.sector for key in quarter.quantiles} == {ALL_SECTORS}
    assert {key.sector for key in quarter.rates} == {ALL_SECTORS}
    assert all(
        key.sector == ALL_SECTORS for cells in quarter.contributions.values() for key in cells
    )
    assert value(year, "flow/referrals", "mental_health") == 1


def test_every_value_of_a_vocabulary_is_a_category_of_its_own() -> None:
    categories = {key.category for key in of([unit()], Q3).counts}

    assert {"blocks/reason:regulation", "blocks/escalated:policy"} <= {
        f"blocks/{c}" for c in categories
    }
    assert {"at_the_table:unclassified", "at_the_table:school"} <= categories
    assert "deadline:start_consultation/missed" in categories


def test_a_block_reason_is_a_part_of_the_trajectories_blocked() -> None:
    found = of([unit()], YEAR)

    reason = found.counts[CellKey("blocks", REGION, SECTOR, "reason:waiting_list")]
    assert reason.group == CellKey("blocks", REGION, SECTOR, "blocked")


def test_a_block_that_ended_after_an_escalation_during_it_ended_after_escalation() -> None:
    details = (
        Blocked(date(2026, 7, 20), ("funding",)),
        EscalationRaised(date(2026, 7, 25), "esc-1", "network", "funding"),
        Unblocked(date(2026, 8, 10)),
    )

    found = of([unit(details=details)], Q3)

    assert value(found, "blocks/ended:after_escalation") == 1
    assert value(found, "blocks/ended:otherwise") == 0
    assert value(found, "blocks/escalated:network") == 1


def test_a_block_ends_after_the_last_step_taken_during_it() -> None:
    details = (
        Blocked(date(2026, 7, 20), ("capacity",)),
        EscalationRaised(date(2026, 7, 22), "esc-1", "team", "capacity"),
        HandedOver(date(2026, 8, 1), False),
        Unblocked(date(2026, 8, 10)),
    )

    assert value(of([unit(details=details)], Q3), "blocks/ended:after_handover") == 1


def test_a_block_open_on_the_periods_last_day_is_still_open() -> None:
    found = of([unit(details=blocked(date(2026, 9, 1), None, "regulation"))], Q3)

    assert value(found, "blocks/still_open") == 1
    assert value(found, "blocks/reason:regulation") == 1


def test_the_days_blocked_are_counted_for_the_block_that_ended_in_the_period() -> None:
    details = blocked(date(2026, 7, 1), date(2026, 7, 15), "waiting_list")

    found = of([unit(details=details)], Q3)

    key = CellKey("blocks", REGION, ALL_SECTORS, "block_days:waiting_list")
    assert found.quantiles[key].values == (14,)


def test_a_start_consultation_held_after_its_due_date_counts_as_met_late() -> None:
    facts = (Fact("accepted", date(2026, 7, 1)), Fact("consultation:start", date(2026, 8, 15)))

    found = of([unit(referred_on=date(2026, 6, 28), facts=facts)], Q3)

    assert value(found, "procedures/deadline:start_consultation/due") == 1
    assert value(found, "procedures/deadline:start_consultation/met_late") == 1
    assert value(found, "procedures/deadline:start_consultation/met") == 0


def test_a_start_consultation_never_held_counts_as_missed_in_the_quarter_it_fell_due() -> None:
    facts = (Fact("accepted", date(2026, 6, 20)),)

    trajectory = [unit(referred_on=date(2026, 6, 1), facts=facts)]

    assert value(of(trajectory, Q3), "procedures/deadline:start_consultation/missed") == 1
    assert value(of(trajectory, Q2), "procedures/deadline:start_consultation/due") == 0


def test_consultations_count_by_the_clients_involvement() -> None:
    details = (
        consulted(date(2026, 7, 2), "present"),
        consulted(date(2026, 8, 2), "present"),
        consulted(date(2026, 9, 2), "not_involved"),
    )

    found = of([unit(details=details)], Q3)

    assert value(found, "participation/consultations") == 3
    assert value(found, "participation/client:present") == 2
    assert value(found, "participation/client:not_involved") == 1


def test_an_organisation_the_register_does_not_know_sits_at_the_table_as_unclassified() -> None:
    details = (consulted(date(2026, 7, 2), "present", "org-school", "org-new"),)

    found = of([unit(details=details)], Q3, kinds={"org-school": "school"})

    assert value(found, "participation/at_the_table:school") == 1
    assert value(found, "participation/at_the_table:unclassified") == 1
    assert value(found, "participation/org_kinds:2") == 1


def test_a_role_agreement_comes_into_force_when_its_last_party_accepts() -> None:
    details = (
        AgreementProposed(date(2026, 6, 1), "ra-1", ("org-a", "org-b")),
        AgreementAccepted(date(2026, 6, 2), "ra-1", "org-a"),
        AgreementAccepted(date(2026, 7, 3), "ra-1", "org-b"),
    )

    trajectory = [unit(referred_on=date(2026, 5, 1), details=details)]

    assert value(of(trajectory, Q2), "participation/agreements:accepted") == 0
    assert value(of(trajectory, Q3), "participation/agreements:accepted") == 1
    assert value(of(trajectory, Q3), "participation/agreements:in_force") == 1


def test_days_to_acceptance_are_one_value_per_trajectory_accepted_in_the_period() -> None:
    units = [
        unit("t-1", date(2026, 6, 20), (Fact("accepted", date(2026, 7, 5)),)),
        unit("t-2", date(2026, 7, 1), (Fact("accepted", date(2026, 7, 3)),)),
    ]

    found = of(units, Q3)

    key = CellKey("flow", REGION, ALL_SECTORS, "days_to_acceptance")
    assert found.quantiles[key].values == (2, 15)


def test_the_units_of_a_population_are_their_trajectory_ids() -> None:
    found = of([unit("3f2c-trajectory")], Q3)

    assert set(found.contributions) == {"3f2c-trajectory"}


def test_a_trajectory_referred_after_the_period_contributes_nothing_to_it() -> None:
    found = of([unit(referred_on=date(2026, 10, 1))], Q3)

    assert found.contributions == {}
    assert value(found, "flow/referrals") == 0


def test_the_share_accepted_divides_the_referrals_accepted_by_the_referrals() -> None:
    rate = of([unit()], YEAR).rates[CellKey("flow", REGION, SECTOR, "share_accepted")]

    assert rate.numerator.category == "referrals:accepted"
    assert rate.denominator.category == "referrals"


def described(category: str) -> re.Pattern[str]:
    """A category as ``TABLES`` describes it: ``reason:<category>`` stands for every reason."""
    parts = re.split(r"<[a-z]+>", category)
    return re.compile("^" + "[^/]+".join(map(re.escape, parts)) + "$")


def test_every_category_of_the_population_is_described_in_its_table() -> None:
    found = of([unit()], Q3)
    patterns = {spec.name: [described(c) for c in spec.categories] for spec in TABLES}

    for key in [*found.counts, *found.quantiles, *found.rates]:
        assert any(p.match(key.category) for p in patterns[key.table]), key


def test_a_year_and_its_quarters_built_together_equal_each_built_alone() -> None:
    details = (
        consulted(date(2026, 2, 2)),
        *blocked(date(2026, 3, 20), date(2026, 5, 2), "funding"),
        consulted(date(2026, 11, 2), "consulted_beforehand"),
    )
    facts = (Fact("accepted", date(2026, 1, 9)),)
    units = [unit(referred_on=date(2026, 1, 5), facts=facts, details=details)]

    together = populations(units, YEAR.audited_with(), policy=POLICY, kinds={})

    for period in YEAR.audited_with():
        assert together[period] == of(units, period)


def test_a_rare_block_reason_also_counts_in_other() -> None:
    """Rare categories merged into "other" (issue #12): three trajectories blocked for safety in
    a region, with k = 10, also count as blocked for another reason; the rare cell stays."""
    from projections.statistics.model import CountCell
    from projections.statistics.tables import merge_rare

    def key(sector: str, category: str) -> CellKey:
        return CellKey("blocks", "r", sector, category)

    cells = [key(s, c) for s in ("*", "youth_care") for c in ("reason:safety", "reason:other")]
    units = {
        f"t{i}": {key("*", "reason:safety"): 1, key("youth_care", "reason:safety"): 1}
        for i in range(3)
    } | {
        f"o{i}": {key("*", "reason:other"): 1, key("youth_care", "reason:other"): 1}
        for i in range(12)
    }
    before = Population(YEAR, units, {c: CountCell(c) for c in cells}, {}, {})

    after = merge_rare(before, 10).values()

    assert after[key("*", "reason:other")] == 15
    assert after[key("youth_care", "reason:other")] == 15
    assert after[key("*", "reason:safety")] == 3


def test_digests_kept_between_releases_give_the_population_worked_out_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process keeps each unit's digest between its releases (``Digests``): a unit that
    changed since (a late fact) is worked out again, an unchanged one is not, and each
    population equals the one built without them."""
    from projections.statistics import tables
    from projections.statistics.tables import Digests

    worked_out: list[tuple[Fact, ...]] = []
    real_instances = tables.instances

    def counted(facts: tuple[Fact, ...], rules: Any) -> Any:
        worked_out.append(tuple(facts))
        return real_instances(facts, rules)

    facts = (Fact("accepted", date(2026, 7, 12)),)
    before = [unit("t-1", facts=facts), unit("t-2", facts=facts)]
    kept = Digests(POLICY, {})
    monkeypatch.setattr(tables, "instances", counted)
    first = population(before, Q3, policy=POLICY, kinds={}, digests=kept)
    assert len(worked_out) == 2
    late = (*facts, Fact("consultation:start", date(2026, 8, 20)))
    after = [before[0], unit("t-2", facts=late)]

    worked_out.clear()
    again = population(after, Q3, policy=POLICY, kinds={}, digests=kept)
    assert worked_out == [late]  # only the changed unit

    monkeypatch.setattr(tables, "instances", real_instances)
    assert first == of(before, Q3)
    assert again == of(after, Q3)
    assert again != first


def test_digests_refuse_another_policy_or_other_kinds() -> None:
    from projections.statistics.tables import Digests

    kept = Digests(POLICY, {})
    other = DeadlinePolicy(rules=(START_RULE,), fingerprint="cd")
    for policy, kinds in ((other, {}), (POLICY, {"org": "school"})):
        with pytest.raises(ValueError, match="another policy"):
            population([unit()], Q3, policy=policy, kinds=kinds, digests=kept)
