"""``python -m benchmarks disclosure``: how long disclosure control takes (issue #12).

Times :func:`projections.statistics.disclosure.protect` on synthetic populations shaped like a
year's release: ~10 regions, three sectors plus the all-sectors cells, and the five tables'
worth of count cells (~300 per region), with groups (blocks by reason within blocks), multi-valued
categories (organisation kinds at the table), quantiles and rates. Target: 100,000 units in
under a minute. The population is synthetic and seeded (no event store is read), so the figure
is the audit's own cost.
"""

import random
import time
from collections.abc import Mapping

from projections.statistics.disclosure import protect
from projections.statistics.model import (
    ALL_SECTORS,
    CellKey,
    CountCell,
    Period,
    Population,
    QuantileCell,
    RateCell,
    quantile_size,
)

SECTORS = ("youth", "adult", "disability")
FLOW = ("referrals", "accepted", "declined", "active", "blocked", "closed")
BLOCK_REASONS = ("waiting_list", "admission_criteria", "regulation", "funding", "other")
BLOCK_ENDS = ("after_escalation", "after_new_agreement", "after_handover", "still_open")
DEADLINE_RULES = ("start", "three_month", "plan_signed", "evaluation", "end", "follow_up")
DEADLINE_OUTCOMES = ("met", "met_late", "missed")
PRESENCE = ("client_present", "client_consulted", "client_absent")
SIGNERS = ("signed_client", "signed_representative")
PARTIES = ("parties_2", "parties_3", "parties_4", "parties_5_plus")
KINDS = ("provider", "school", "gp", "hospital", "welfare_centre", "unclassified")
AGREEMENTS = ("agreement_in_force", "agreement_declined", "agreement_ended")
ESCALATIONS = ("escalation_1", "escalation_2", "escalation_3")
CONTINUITY = ("handover", "continued")


def region_names(regions: int) -> list[str]:
    return [f"region-{i:02d}" for i in range(regions)]


def cell_definitions(regions: int) -> dict[CellKey, CountCell]:
    """Every count cell of a release, zero cells included: its shape never depends on data."""
    counts: dict[CellKey, CountCell] = {}
    for region in region_names(regions):
        for sector in (*SECTORS, ALL_SECTORS):

            def add(
                table: str,
                category: str,
                group: str | None = None,
                at: tuple[str, str] = (region, sector),
            ) -> None:
                key = CellKey(table, *at, category)
                parent = None if group is None else CellKey("flow", *at, group)
                counts[key] = CountCell(key, parent)

            for category in FLOW:
                add("flow", category, None if category == "referrals" else "referrals")
            for rule in DEADLINE_RULES:
                for outcome in DEADLINE_OUTCOMES:
                    add("procedures", f"{rule}/{outcome}", "accepted")
            for category in (*PRESENCE, *SIGNERS, *PARTIES, *KINDS, *AGREEMENTS):
                add("participation", category, "accepted")
            for reason in BLOCK_REASONS:
                add("blocks", f"blocked/{reason}", "blocked")
            for end in BLOCK_ENDS:
                add("blocks", f"ended/{end}", "blocked")
            for level in ESCALATIONS:
                add("blocks", level, "accepted")
            for category in CONTINUITY:
                add("continuity", category, "accepted")
    return counts


def unit_cells(rng: random.Random, region: str, sector: str) -> dict[CellKey, int]:
    """One trajectory's contributions: each category it counts in, for its sector and for all
    sectors of its region."""
    categories: list[tuple[str, str, int]] = [("flow", "referrals", 1)]
    if rng.random() < 0.08:
        categories.append(("flow", "declined", 1))
    else:
        categories.append(("flow", "accepted", 1))
        categories.append(("flow", "closed" if rng.random() < 0.3 else "active", 1))
        for rule in DEADLINE_RULES:
            if rng.random() < 0.8:
                outcome = rng.choices(DEADLINE_OUTCOMES, (0.7, 0.2, 0.1))[0]
                categories.append(("procedures", f"{rule}/{outcome}", 1))
        held = rng.randint(1, 6)
        categories.append(("participation", rng.choices(PRESENCE, (0.6, 0.3, 0.1))[0], held))
        categories.append(("participation", rng.choices(SIGNERS, (0.7, 0.3))[0], 1))
        categories.append(("participation", rng.choice(PARTIES), 1))
        for kind in rng.sample(KINDS, rng.randint(1, 3)):  # multi-valued: not exclusive
            categories.append(("participation", kind, 1))
        categories.append(("participation", rng.choice(AGREEMENTS), 1))
        if rng.random() < 0.16:
            categories.append(("flow", "blocked", 1))
            for reason in rng.sample(BLOCK_REASONS, rng.choice((1, 1, 2))):
                categories.append(("blocks", f"blocked/{reason}", 1))
            categories.append(("blocks", f"ended/{rng.choice(BLOCK_ENDS)}", 1))
        if rng.random() < 0.3:
            categories.append(("blocks", rng.choice(ESCALATIONS), 1))
        if rng.random() < 0.2:
            categories.append(("continuity", "handover", 1))
        if rng.random() < 0.05:
            categories.append(("continuity", "continued", 1))
    cells: dict[CellKey, int] = {}
    for table, category, amount in categories:
        for where in (sector, ALL_SECTORS):
            key = CellKey(table, region, where, category)
            cells[key] = cells.get(key, 0) + amount
    return cells


def synthetic_population(
    units: int, regions: int = 10, seed: int = 1, period: Period | None = None
) -> Population:
    """A seeded population of ``units`` trajectories spread unevenly over ``regions``."""
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not a secret
    names = region_names(regions)
    weights = [rng.uniform(0.5, 1.5) for _ in names]
    contributions: dict[str, Mapping[CellKey, int]] = {}
    durations: dict[CellKey, list[int]] = {}
    for index in range(units):
        region = rng.choices(names, weights)[0]
        sector = rng.choices(SECTORS, (0.5, 0.35, 0.15))[0]
        cells = unit_cells(rng, region, sector)
        contributions[f"u{index}"] = cells
        if CellKey("flow", region, sector, "accepted") in cells:
            days = int(rng.lognormvariate(3.0, 0.6))
            for where in (sector, ALL_SECTORS):
                quantile = CellKey("flow", region, where, "days_to_acceptance")
                durations.setdefault(quantile, []).append(days)
                cells[quantile_size(quantile)] = 1  # the unit counts in the quantile's size
    counts = cell_definitions(regions)
    quantiles = {key: QuantileCell(key, tuple(values)) for key, values in durations.items()}
    rates: dict[CellKey, RateCell] = {}
    for region in names:
        for sector in (*SECTORS, ALL_SECTORS):
            key = CellKey("rates", region, sector, "share_blocked")
            rates[key] = RateCell(
                key,
                CellKey("flow", region, sector, "blocked"),
                CellKey("flow", region, sector, "accepted"),
            )
    return Population(period or Period(2026), contributions, counts, quantiles, rates)


def measure(units: int, regions: int = 10, seed: int = 1, k: int = 10) -> dict[str, float]:
    """Seconds ``protect`` takes on one synthetic population, and what it publishes (rule
    set 2, without the laws: no longer releases' default, kept so that the saved results stay
    comparable)."""
    population = synthetic_population(units, regions, seed)
    started = time.perf_counter()
    protected = protect(population, k, laws=False)
    seconds = time.perf_counter() - started
    counts = [cell for cell in protected.cells if cell.kind == "count"]
    flow = [cell for cell in counts if cell.key.table == "flow"]
    region_flow = [cell for cell in flow if cell.key.sector == ALL_SECTORS]
    return {
        "units": float(units),
        "regions": float(regions),
        "count_cells": float(len(counts)),
        "seconds": round(seconds, 2),
        "published_share": round(sum(c.withheld is None for c in counts) / len(counts), 3),
        "flow_published_share": round(sum(c.withheld is None for c in flow) / len(flow), 3),
        "region_flow_published_share": round(
            sum(c.withheld is None for c in region_flow) / len(region_flow), 3
        ),
        "secondary": float(sum(c.withheld == "secondary" for c in counts)),
        "audited": float(len(protected.audit)),
    }


def main(sizes: tuple[int, ...] = (10_000, 100_000), seed: int = 1) -> int:
    for units in sizes:
        print(measure(units, seed=seed), flush=True)
    return 0
