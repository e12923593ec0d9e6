"""The statistics tables: from the units (one per trajectory) to a period's ``Population``.

Pure functions, no I/O: ``population`` takes the units ``read_units`` streams and defines every
count cell of every table as a sum over units (``model.Population``), so disclosure control
and its linear-programming audit see each cell's definition, not just its value (issue #12).

How a unit counts (one unit = one trajectory; "in the period" = the fact's date falls in it):

- A unit counts in its own sector's cell **and** in its region's ``*`` cell, so a region's
  cells are the sums of its sectors'.
- Every count cell exists in every region and sector (each ``domain.common.Sector`` and ``*``),
  zero or not: a table's shape never depends on the data (a missing cell would say "zero").
- Categories with a vocabulary (reason categories, escalation levels, organisation kinds,
  deadline rules) list every value of it.
- A cell that is a part of another names it as ``group`` (``blocks/reason:waiting_list`` of
  ``blocks/blocked``): when the part is all or none of its group it discloses an attribute.
- Where a count is of events (consultations, handovers, deadlines), a unit contributes their
  number; where it is of trajectories (referrals, blocked), 1.
- Durations are quantile cells with one value per unit (its last such duration in the period),
  so "fewer than k on either side" counts trajectories.

Seeds: 000 (the thread: follow-up after the end, handovers, continuations), 001 (blocks,
escalations, who sits at the table), 002 (the client's participation), 003 and 004 (the
procedures' deadlines, the signed plan, evaluations).
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from domain.common import ClientInvolvement, EscalationLevel, ReasonCategory, Sector, Signatory
from domain.deadlines import DeadlinePolicy, DeadlineRule, instances
from projections.statistics.model import (
    ALL_SECTORS,
    CellKey,
    CountCell,
    Period,
    Population,
    QuantileCell,
    RateCell,
    TableSpec,
)
from projections.statistics.units import (
    AgreementAccepted,
    AgreementDeclined,
    AgreementEnded,
    AgreementProposed,
    Blocked,
    Consulted,
    ContinuedFrom,
    EscalationRaised,
    EscalationResolved,
    HandedOver,
    Signed,
    Unblocked,
    UnitRecord,
)

SECTORS: tuple[str, ...] = tuple(sector.value for sector in Sector)
REASONS: tuple[str, ...] = tuple(reason.value for reason in ReasonCategory)
LEVELS: tuple[str, ...] = tuple(level.value for level in EscalationLevel)
INVOLVEMENTS: tuple[str, ...] = tuple(involvement.value for involvement in ClientInvolvement)
SIGNATORIES: tuple[str, ...] = tuple(signatory.value for signatory in Signatory)
#: The organisation register's kinds (issue #12, point 1); organisations it does not know, or
#: has not classified yet, count as ``unclassified``: a category of its own in every release.
UNCLASSIFIED = "unclassified"
ORGANISATION_KINDS: tuple[str, ...] = (
    "provider",
    "referrer",
    "school",
    "pupil_guidance_centre",
    "public_social_welfare_centre",
    "gp",
    "hospital",
    "network",
    "other",
    UNCLASSIFIED,
)
#: How a block ended, in the order a tie on the same day is decided.
BLOCK_ENDINGS: tuple[str, ...] = ("after_escalation", "after_role_agreement", "after_handover")
PARTY_BANDS: tuple[str, ...] = ("1-2", "3-4", "5+")
KIND_BANDS: tuple[str, ...] = ("1", "2", "3+")
MILESTONES: tuple[str, ...] = ("start", "three_month", "end")


def _spec(
    name: str, title: str, description: str, seeds: tuple[str, ...], categories: dict[str, str]
) -> TableSpec:
    return TableSpec(name, title, description, seeds, categories)


def _each(values: Iterable[str]) -> str:
    return ", ".join(values)


TABLES: tuple[TableSpec, ...] = (
    _spec(
        "flow",
        "Flow of trajectories",
        "How many trajectories were referred, accepted, declined, running, blocked and closed, "
        "and how long it took from referral to acceptance and to the start consultation.",
        ("001", "003"),
        {
            "referrals": "trajectories referred in the period",
            "referrals:accepted": "of those referred in the period, the ones accepted since",
            "referrals:declined": "of those referred in the period, the ones declined since",
            "accepted": "trajectories accepted in the period",
            "declined": "referrals declined in the period",
            "active": "trajectories running (accepted, not yet closed) on some day of the period",
            "blocked": "running trajectories blocked on some day of the period",
            "closed": "trajectories closed in the period",
            "days_to_acceptance": "quantiles of the days from referral to acceptance, of the "
            "trajectories accepted in the period",
            "days_to_start": "quantiles of the days from referral to the start consultation, of "
            "the start consultations held in the period",
            "share_accepted": "referrals:accepted / referrals",
            "share_blocked": "blocked / active",
        },
    ),
    _spec(
        "procedures",
        "Procedures kept",
        "Whether the procedures' deadlines were kept, under the deadline policy of the region "
        "(a release names each region's policy fingerprint: 'in time' differs), and the "
        "milestone consultations, signatures, evaluations and follow-up after closing.",
        ("003", "004", "000"),
        {
            "deadline:<rule>/due": "deadlines of this rule that fell due in the period; one "
            "category per rule of the deadline policy",
            "deadline:<rule>/met": "of those, met on or before the due date",
            "deadline:<rule>/met_late": "of those, met after the due date",
            "deadline:<rule>/missed": "of those, not met (or met only after the trajectory ended)",
            "deadline:<rule>/share_met": "met / due",
            "start_consultation_held": "start consultations held in the period",
            "three_month_consultation_held": "three-month consultations held in the period",
            "end_consultation_held": "end consultations held in the period",
            "plan_signed": "plans signed (or renewed) in the period",
            "evaluations": "evaluations of the plan in the period",
            "closed_with_follow_up_planned": "trajectories closed in the period naming who "
            "follows up the plan (000); part of flow/closed",
            "follow_up_contacted": "follow-up contacts held in the period (000)",
        },
    ),
    _spec(
        "participation",
        "Participation",
        "Who takes part: the client at consultations, who signs the plan, how many parties "
        "and kinds of organisation sit at the table, and the role agreements between them.",
        ("002", "004", "001"),
        {
            "consultations": "consultations held in the period",
            **{
                f"client:{involvement}": f"consultations where the client was {involvement}"
                for involvement in INVOLVEMENTS
            },
            **{
                f"signatory:{signatory}": f"plans signed in the period by the {signatory}"
                for signatory in SIGNATORIES
            },
            **{
                f"parties:{band}": f"consultations with {band} parties at the table"
                for band in PARTY_BANDS
            },
            **{
                f"org_kinds:{band}": f"consultations with {band} kinds of organisation present"
                for band in KIND_BANDS
            },
            "at_the_table:<kind>": "consultations with an organisation of this kind present; "
            f"one category per kind: {_each(ORGANISATION_KINDS)}",
            "agreements:proposed": "role agreements proposed in the period",
            "agreements:accepted": "role agreements that came into force in the period (the "
            "last of their parties accepted)",
            "agreements:declined": "role agreements declined by a party in the period",
            "agreements:ended": "role agreements ended in the period",
            "agreements:in_force": "role agreements in force on the period's last day",
            "share_client_present": "client:present / consultations",
        },
    ),
    _spec(
        "blocks",
        "Blocks and escalations",
        "Where trajectories get stuck and why: block reasons, how blocks ended, escalation "
        "levels and how long blocks and escalations lasted.",
        ("001",),
        {
            "blocked": "trajectories blocked on some day of the period",
            "reason:<category>": "of those, blocked for this reason (a block may give several); "
            f"one category per reason: {_each(REASONS)}",
            "ended:after_escalation": "trajectories whose block ended in the period, the last "
            "step during the block being an escalation",
            "ended:after_role_agreement": "… being a role agreement proposed or accepted",
            "ended:after_handover": "… being a handover",
            "ended:otherwise": "trajectories whose block ended in the period without any of those",
            "still_open": "trajectories still blocked on the period's last day",
            "escalations": "escalations raised in the period",
            "escalated:<level>": f"of those, raised at this level; one per level: {_each(LEVELS)}",
            "escalations_resolved": "escalations resolved in the period",
            "block_days:<reason>": "quantiles of the days blocked, of blocks with this reason "
            "that ended in the period",
            "days_to_resolution": "quantiles of the days from raising to resolving, of the "
            "escalations resolved in the period",
        },
    ),
    _spec(
        "continuity",
        "Continuity",
        "Whether the thread holds: handovers, coordination passed on, and trajectories that "
        "carry the plan of an earlier one.",
        ("000", "004"),
        {
            "handovers": "handovers in the period",
            "coordination_transferred": "of those, handovers that passed coordination on",
            "trajectories_handed_over": "trajectories with a handover in the period",
            "continued_from_earlier": "trajectories that took up the plan of an earlier "
            "trajectory in the period",
        },
    ),
)

TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in TABLES)

#: (table, category) of a cell, before its region and sector are known.
Cell = tuple[str, str]


def rule_names(policy: DeadlinePolicy) -> tuple[str, ...]:
    """Every rule the policy names, by default or in an override: the procedures table's
    vocabulary (a rule a region does not use shows zeros there)."""
    names = {rule.name for rule in policy.rules}
    for _, _, rules in policy.overrides:
        names.update(rule.name for rule in rules)
    return tuple(sorted(names))


def kind_vocabulary(kinds: Mapping[str, str]) -> tuple[str, ...]:
    """The register's kinds, and any further kind the register already uses."""
    extra = sorted(set(kinds.values()) - set(ORGANISATION_KINDS))
    return (*ORGANISATION_KINDS, *extra)


def count_cells(rules: Iterable[str], kinds: Iterable[str]) -> list[tuple[Cell, Cell | None]]:
    """Every count category of every table, with the category it is a part of."""
    flow = [
        (("flow", "referrals"), None),
        (("flow", "referrals:accepted"), ("flow", "referrals")),
        (("flow", "referrals:declined"), ("flow", "referrals")),
        (("flow", "accepted"), None),
        (("flow", "declined"), None),
        (("flow", "active"), None),
        (("flow", "blocked"), ("flow", "active")),
        (("flow", "closed"), None),
    ]
    procedures: list[tuple[Cell, Cell | None]] = []
    for rule in rules:
        due = ("procedures", f"deadline:{rule}/due")
        procedures.append((due, None))
        for outcome in ("met", "met_late", "missed"):
            procedures.append((("procedures", f"deadline:{rule}/{outcome}"), due))
    procedures += [
        *((("procedures", f"{m}_consultation_held"), None) for m in MILESTONES),
        (("procedures", "plan_signed"), None),
        (("procedures", "evaluations"), None),
        (("procedures", "closed_with_follow_up_planned"), ("flow", "closed")),
        (("procedures", "follow_up_contacted"), None),
    ]
    consultations = ("participation", "consultations")
    participation: list[tuple[Cell, Cell | None]] = [
        (consultations, None),
        *((("participation", f"client:{i}"), consultations) for i in INVOLVEMENTS),
        *(
            (("participation", f"signatory:{s}"), ("procedures", "plan_signed"))
            for s in SIGNATORIES
        ),
        *((("participation", f"parties:{b}"), consultations) for b in PARTY_BANDS),
        *((("participation", f"org_kinds:{b}"), consultations) for b in KIND_BANDS),
        *((("participation", f"at_the_table:{k}"), consultations) for k in kinds),
        *(
            (("participation", f"agreements:{what}"), None)
            for what in ("proposed", "accepted", "declined", "ended", "in_force")
        ),
    ]
    blocked, escalations = ("blocks", "blocked"), ("blocks", "escalations")
    blocks: list[tuple[Cell, Cell | None]] = [
        (blocked, None),
        *((("blocks", f"reason:{r}"), blocked) for r in REASONS),
        *((("blocks", f"ended:{how}"), blocked) for how in (*BLOCK_ENDINGS, "otherwise")),
        (("blocks", "still_open"), blocked),
        (escalations, None),
        *((("blocks", f"escalated:{level}"), escalations) for level in LEVELS),
        (("blocks", "escalations_resolved"), None),
    ]
    handovers = ("continuity", "handovers")
    continuity: list[tuple[Cell, Cell | None]] = [
        (handovers, None),
        (("continuity", "coordination_transferred"), handovers),
        (("continuity", "trajectories_handed_over"), None),
        (("continuity", "continued_from_earlier"), None),
    ]
    return [*flow, *procedures, *participation, *blocks, *continuity]


def rate_cells(rules: Iterable[str]) -> list[tuple[Cell, Cell, Cell]]:
    """(rate, numerator, denominator): the shares learning networks compare."""
    return [
        (("flow", "share_accepted"), ("flow", "referrals:accepted"), ("flow", "referrals")),
        (("flow", "share_blocked"), ("flow", "blocked"), ("flow", "active")),
        *(
            (
                ("procedures", f"deadline:{rule}/share_met"),
                ("procedures", f"deadline:{rule}/met"),
                ("procedures", f"deadline:{rule}/due"),
            )
            for rule in rules
        ),
        (
            ("participation", "share_client_present"),
            ("participation", "client:present"),
            ("participation", "consultations"),
        ),
    ]


def quantile_cells() -> list[Cell]:
    return [
        ("flow", "days_to_acceptance"),
        ("flow", "days_to_start"),
        *(("blocks", f"block_days:{reason}") for reason in REASONS),
        ("blocks", "days_to_resolution"),
    ]


# --- one unit ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    start: date
    reasons: tuple[str, ...]
    end: date | None = None


def _blocks(unit: UnitRecord, closed_on: date | None) -> list[_Block]:
    """The unit's blocks in order; one still open when the trajectory closed ends there."""
    blocks: list[_Block] = []
    for detail in unit.details:
        is_open = bool(blocks) and blocks[-1].end is None
        if isinstance(detail, Blocked) and not is_open:
            blocks.append(_Block(detail.on, detail.reasons))
        elif isinstance(detail, Unblocked) and is_open:
            blocks[-1].end = detail.on
    if blocks and blocks[-1].end is None and closed_on is not None:
        blocks[-1].end = max(closed_on, blocks[-1].start)
    return blocks


def _ending(unit: UnitRecord, block: _Block) -> str:
    """How a block ended: the last escalation, role agreement or handover during it."""
    assert block.end is not None
    last: tuple[date, int] | None = None
    for detail in unit.details:
        if not block.start <= detail.on <= block.end:
            continue
        match detail:
            case EscalationRaised():
                rank = 0
            case AgreementProposed() | AgreementAccepted():
                rank = 1
            case HandedOver():
                rank = 2
            case _:
                continue
        step = (detail.on, -rank)
        if last is None or step > last:
            last = step
    return "otherwise" if last is None else BLOCK_ENDINGS[-last[1]]


def _first(unit: UnitRecord, kind: str) -> date | None:
    return next((fact.on for fact in unit.facts if fact.kind == kind), None)


def _parties(number: int) -> str:
    return "1-2" if number <= 2 else "3-4" if number <= 4 else "5+"


def _kinds(number: int) -> str:
    return "1" if number <= 1 else "2" if number == 2 else "3+"


def unit_cells(
    unit: UnitRecord,
    period: Period,
    rules: Iterable[DeadlineRule],
    kinds: Mapping[str, str],
) -> tuple[dict[Cell, int], dict[Cell, int]]:
    """What one unit contributes to the period's count cells, and its durations (days)."""
    start, end = period.start, period.end
    counts: dict[Cell, int] = {}
    durations: dict[Cell, int] = {}

    def add(table: str, category: str, amount: int = 1) -> None:
        counts[(table, category)] = counts.get((table, category), 0) + amount

    def within(day: date | None) -> bool:
        return day is not None and start <= day <= end

    accepted_on, declined_on = _first(unit, "accepted"), _first(unit, "declined")
    closing = next((fact for fact in unit.facts if fact.kind == "closed"), None)
    closed_on = closing.on if closing else None

    # flow
    if within(unit.referred_on):
        add("flow", "referrals")
        if accepted_on is not None:
            add("flow", "referrals:accepted")
        if declined_on is not None:
            add("flow", "referrals:declined")
    if within(accepted_on):
        add("flow", "accepted")
        assert accepted_on is not None
        durations[("flow", "days_to_acceptance")] = (accepted_on - unit.referred_on).days
    if within(declined_on):
        add("flow", "declined")
    if within(closed_on):
        add("flow", "closed")
        if closing is not None and closing.ref is not None:
            add("procedures", "closed_with_follow_up_planned")
    if accepted_on is not None and accepted_on <= end and (closed_on is None or closed_on >= start):
        add("flow", "active")

    # blocks
    blocks = _blocks(unit, closed_on)
    in_period = [b for b in blocks if b.start <= end and (b.end is None or b.end >= start)]
    if in_period:
        add("flow", "blocked")
        add("blocks", "blocked")
        for reason in sorted({r for b in in_period for r in b.reasons}):
            add("blocks", f"reason:{reason}")
        ended = [b for b in in_period if within(b.end)]
        if ended:
            last = ended[-1]
            add("blocks", f"ended:{_ending(unit, last)}")
            assert last.end is not None
            for reason in last.reasons:
                durations[("blocks", f"block_days:{reason}")] = (last.end - last.start).days
        if any(b.end is None or b.end > end for b in in_period):
            add("blocks", "still_open")

    # the details: consultations, signatures, agreements, escalations, handovers
    raised: dict[str, date] = {}
    proposed: dict[str, tuple[date, tuple[str, ...]]] = {}
    accepted_by: dict[str, set[str]] = {}
    in_force_on: dict[str, date] = {}
    stopped_on: dict[str, date] = {}
    handed_over = False
    for detail in unit.details:
        on = detail.on
        match detail:
            case Consulted() if within(on):
                add("participation", "consultations")
                add("participation", f"client:{detail.involvement}")
                add("participation", f"parties:{_parties(detail.parties)}")
                present = {kinds.get(org, UNCLASSIFIED) for org in detail.organisations}
                add("participation", f"org_kinds:{_kinds(len(present))}")
                for kind in sorted(present):
                    add("participation", f"at_the_table:{kind}")
                if detail.kind in MILESTONES:
                    add("procedures", f"{detail.kind}_consultation_held")
                    if detail.kind == "start":
                        durations[("flow", "days_to_start")] = (on - unit.referred_on).days
            case Signed() if within(on):
                add("participation", f"signatory:{detail.signatory}")
            case AgreementProposed():
                proposed[detail.agreement] = (on, detail.parties)
                if within(on):
                    add("participation", "agreements:proposed")
            case AgreementAccepted():
                parties = accepted_by.setdefault(detail.agreement, set())
                parties.add(detail.party)
                named = proposed.get(detail.agreement, (on, ()))[1]
                if detail.agreement not in in_force_on and parties >= set(named):
                    in_force_on[detail.agreement] = on
                    if within(on):
                        add("participation", "agreements:accepted")
            case AgreementDeclined():
                stopped_on.setdefault(detail.agreement, on)
                if within(on):
                    add("participation", "agreements:declined")
            case AgreementEnded():
                stopped_on.setdefault(detail.agreement, on)
                if within(on):
                    add("participation", "agreements:ended")
            case EscalationRaised():
                raised[detail.escalation] = on
                if within(on):
                    add("blocks", "escalations")
                    add("blocks", f"escalated:{detail.level}")
            case EscalationResolved() if within(on):
                add("blocks", "escalations_resolved")
                if detail.escalation in raised:
                    days = (on - raised[detail.escalation]).days
                    durations[("blocks", "days_to_resolution")] = max(0, days)
            case HandedOver() if within(on):
                add("continuity", "handovers")
                handed_over = True
                if detail.transfers_coordination:
                    add("continuity", "coordination_transferred")
            case ContinuedFrom() if within(on):
                counts[("continuity", "continued_from_earlier")] = 1
    in_force = sum(
        1
        for agreement, since in in_force_on.items()
        if since <= end and not stopped_on.get(agreement, date.max) <= end
    )
    if in_force:
        add("participation", "agreements:in_force", in_force)
    if handed_over:
        add("continuity", "trajectories_handed_over")

    # procedures: the dated facts, and the deadlines they give under the region's policy
    for fact in unit.facts:
        if not within(fact.on):
            continue
        if fact.kind == "plan_signed":
            add("procedures", "plan_signed")
        elif fact.kind == "evaluated":
            add("procedures", "evaluations")
        elif fact.kind == "follow_up":
            add("procedures", "follow_up_contacted")
    for deadline in instances(unit.facts, rules):
        if not within(deadline.due_on):
            continue
        add("procedures", f"deadline:{deadline.rule}/due")
        if deadline.met_on is None:
            outcome = "missed"
        else:
            outcome = "met" if deadline.met_on <= deadline.due_on else "met_late"
        add("procedures", f"deadline:{deadline.rule}/{outcome}")
    return counts, durations


# --- the population ------------------------------------------------------------------------------


def _trajectory_id(unit: UnitRecord) -> str:
    return unit.trajectory_id


def population(
    units: Iterable[UnitRecord],
    period: Period,
    *,
    policy: DeadlinePolicy,
    kinds: Mapping[str, str],
    unit_id: Callable[[UnitRecord], str] = _trajectory_id,
    regions: Collection[str] = (),
) -> Population:
    """Every table's cells for ``period`` over ``units``, before disclosure control.

    ``kinds`` maps organisation identifiers to their kind in the register (unknown:
    ``unclassified``). ``regions`` are given cells even without a unit; every region a unit
    belongs to has them anyway. Units referred after the period, or contributing nothing to
    it, are left out of the contributions (they constrain nothing).
    """
    names = rule_names(policy)
    vocabulary = kind_vocabulary(kinds)
    categories = count_cells(names, vocabulary)
    known = {cell for cell, _ in categories}
    seen_regions: set[str] = set(regions)
    sectors = list(SECTORS)
    rules: dict[tuple[str, str], list[DeadlineRule]] = {}
    keys: dict[tuple[str, str, str, str], CellKey] = {}

    def key(table: str, region: str, sector: str, category: str) -> CellKey:
        found = keys.get((table, region, sector, category))
        if found is None:
            found = keys[(table, region, sector, category)] = CellKey(
                table, region, sector, category
            )
        return found

    contributions: dict[str, dict[CellKey, int]] = {}
    values: dict[CellKey, list[int]] = {}
    for unit in units:
        seen_regions.add(unit.region)
        if unit.sector not in sectors:
            sectors.append(unit.sector)
        if unit.referred_on > period.end:
            continue
        where = (unit.region, unit.sector)
        if where not in rules:
            rules[where] = policy.rules_for(*where)
        counts, durations = unit_cells(unit, period, rules[where], kinds)
        if counts:
            mine: dict[CellKey, int] = {}
            for (table, category), amount in counts.items():
                if (table, category) not in known:
                    continue  # a kind or rule outside the vocabulary: never a cell of its own
                for sector in (unit.sector, ALL_SECTORS):
                    mine[key(table, unit.region, sector, category)] = amount
            contributions[unit_id(unit)] = mine
        for (table, category), days in durations.items():
            for sector in (unit.sector, ALL_SECTORS):
                values.setdefault(key(table, unit.region, sector, category), []).append(days)

    count_map: dict[CellKey, CountCell] = {}
    quantiles: dict[CellKey, QuantileCell] = {}
    rates: dict[CellKey, RateCell] = {}
    for region in sorted(seen_regions):
        for sector in (*sectors, ALL_SECTORS):
            for (table, category), group in categories:
                cell = key(table, region, sector, category)
                count_map[cell] = CountCell(
                    cell, key(group[0], region, sector, group[1]) if group else None
                )
            for table, category in quantile_cells():
                cell = key(table, region, sector, category)
                quantiles[cell] = QuantileCell(cell, tuple(sorted(values.get(cell, ()))))
            for (table, category), numerator, denominator in rate_cells(names):
                cell = key(table, region, sector, category)
                rates[cell] = RateCell(
                    cell,
                    key(*_at(numerator, region, sector)),
                    key(*_at(denominator, region, sector)),
                )
    return Population(period, contributions, count_map, quantiles, rates)


def _at(cell: Cell, region: str, sector: str) -> tuple[str, str, str, str]:
    return cell[0], region, sector, cell[1]
