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
  ``blocks/blocked``): when the part is all or none of its group, or all of it but fewer
  than k, it discloses an attribute.
- Where a count is of events (consultations, handovers, deadlines), a unit contributes their
  number; where it is of trajectories (referrals, blocked), 1.
- Durations are quantile cells with one value per unit (its last such duration in the period),
  so "fewer than k on either side" counts trajectories. How many units a quantile is of (its
  size, ``model.quantile_size``: ``n:<category>``) is in the units' contributions but in no
  table: the audit holds what released quartiles say of it (``model.smallest_size``).

Seeds: 000 (the thread: follow-up after the end, handovers, continuations), 001 (blocks,
escalations, who sits at the table), 002 (the client's participation), 003 and 004 (the
procedures' deadlines, the signed plan, evaluations).
"""

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter

from domain.common import ClientInvolvement, EscalationLevel, ReasonCategory, Sector, Signatory
from domain.deadlines import Deadline, DeadlinePolicy, DeadlineRule, Fact, instances
from domain.organisation import OrganisationKind
from projections.statistics import dynamics
from projections.statistics.model import (
    ALL_SECTORS,
    SIZE_PREFIX,
    CellKey,
    CountCell,
    Period,
    Population,
    QuantileCell,
    RateCell,
    TableSpec,
    size_cell,
)
from projections.statistics.units import (
    AgreementAccepted,
    AgreementDeclined,
    AgreementEnded,
    AgreementProposed,
    Blocked,
    Consulted,
    ContinuedFrom,
    Due,
    EscalationRaised,
    EscalationResolved,
    HandedOver,
    Signed,
    Unblocked,
    UnitRecord,
    ended_last_on,
    worked_out_under,
)

SECTORS: tuple[str, ...] = tuple(sector.value for sector in Sector)
REASONS: tuple[str, ...] = tuple(reason.value for reason in ReasonCategory)
LEVELS: tuple[str, ...] = tuple(level.value for level in EscalationLevel)
INVOLVEMENTS: tuple[str, ...] = tuple(involvement.value for involvement in ClientInvolvement)
SIGNATORIES: tuple[str, ...] = tuple(signatory.value for signatory in Signatory)
#: The organisation register's kinds (issue #12, point 1); organisations it does not know, or
#: has not classified yet, count as ``unclassified``: a category of its own in every release.
UNCLASSIFIED = "unclassified"
#: The register's kinds (``domain.organisation``), ``unclassified`` last.
ORGANISATION_KINDS: tuple[str, ...] = tuple(kind.value for kind in OrganisationKind)
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
            f"one category per reason: {_each(REASONS)}. A reason fewer than k trajectories of "
            "the region were blocked for in the period is rare: its trajectories also count in "
            "reason:other, so that what they say is not lost with the rare cell",
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
    dynamics.SPEC,
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
    ending: str = "otherwise"


def _blocks(unit: UnitRecord, closed_on: date | None) -> list[_Block]:
    """The unit's blocks in order, each with how it ended; one still open when the trajectory
    closed ends there."""
    blocks: list[_Block] = []
    for detail in unit.details:
        is_open = bool(blocks) and blocks[-1].end is None
        if isinstance(detail, Blocked) and not is_open:
            blocks.append(_Block(detail.on, detail.reasons))
        elif isinstance(detail, Unblocked) and is_open:
            blocks[-1].end = detail.on
    if blocks and blocks[-1].end is None and closed_on is not None:
        blocks[-1].end = max(closed_on, blocks[-1].start)
    for block in blocks:
        if block.end is not None:
            block.ending = _ending(unit, block.start, block.end)
    return blocks


def _ending(unit: UnitRecord, start: date, end: date) -> str:
    """How a block ended: after the last escalation, role agreement or handover during it
    (001: which dynamic gets a trajectory unstuck); on the same day, in ``BLOCK_ENDINGS``'
    order."""
    last: tuple[date, int] | None = None
    for detail in unit.details:
        if not start <= detail.on <= end:
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


def _parties(number: int) -> str:
    return "1-2" if number <= 2 else "3-4" if number <= 4 else "5+"


def _kinds(number: int) -> str:
    return "1" if number <= 1 else "2" if number == 2 else "3+"


@dataclass(slots=True)
class Digest:
    """What a unit can count in, worked out once for every period a release builds.

    ``dated``: (day, cell, amount) of what counts in the period its day falls in, by day;
    ``once``: cells a unit counts in at most once a period (a trajectory handed over);
    ``durations``: (day, cell, days), the last of each cell in a period being the unit's value;
    ``running``: from acceptance to closing; ``blocks``; ``agreements``: in force from, until.
    """

    dated: list[tuple[date, Cell, int]]
    once: list[tuple[date, Cell]]
    durations: list[tuple[date, Cell, int]]
    running: tuple[date, date | None] | None
    blocks: list[_Block]
    agreements: list[tuple[date, date | None]]


def digest(
    unit: UnitRecord, deadlines: Iterable[Deadline | Due], kinds: Mapping[str, str]
) -> Digest:
    """``unit``'s digest; ``deadlines`` are its deadlines under its region's policy
    (``domain.deadlines.instances``, as the deadlines read model and the scheduler have them),
    ``kinds`` the organisation register's kinds."""
    dated: list[tuple[date, Cell, int]] = []
    once: list[tuple[date, Cell]] = []
    durations: list[tuple[date, Cell, int]] = []

    # ``dated.append`` by a local name, each cell a literal tuple: a cold release works out
    # every unit's digest (100,000 at the large size), and a call per entry was a third of it.
    add = dated.append

    first: dict[str, Fact] = {}
    for fact in unit.facts:
        first.setdefault(fact.kind, fact)
        if fact.kind == "plan_signed":
            add((fact.on, ("procedures", "plan_signed"), 1))
        elif fact.kind == "evaluated":
            add((fact.on, ("procedures", "evaluations"), 1))
        elif fact.kind == "follow_up":
            add((fact.on, ("procedures", "follow_up_contacted"), 1))
    accepted, declined, closing = first.get("accepted"), first.get("declined"), first.get("closed")

    # flow
    add((unit.referred_on, ("flow", "referrals"), 1))
    if accepted is not None:
        add((unit.referred_on, ("flow", "referrals:accepted"), 1))
        add((accepted.on, ("flow", "accepted"), 1))
        durations.append(
            (accepted.on, ("flow", "days_to_acceptance"), (accepted.on - unit.referred_on).days)
        )
    if declined is not None:
        add((unit.referred_on, ("flow", "referrals:declined"), 1))
        add((declined.on, ("flow", "declined"), 1))
    if closing is not None:
        add((closing.on, ("flow", "closed"), 1))
        if closing.ref is not None:
            add((closing.on, ("procedures", "closed_with_follow_up_planned"), 1))
    closed_on = closing.on if closing else None
    running = (accepted.on, closed_on) if accepted is not None else None

    # blocks that ended: how, and how long
    blocks = _blocks(unit, closed_on)
    for block in blocks:
        if block.end is not None:
            for reason in block.reasons:
                cell = ("blocks", f"block_days:{reason}")
                durations.append((block.end, cell, (block.end - block.start).days))

    # the details: consultations, signatures, agreements, escalations, handovers
    raised: dict[str, date] = {}
    named: dict[str, tuple[str, ...]] = {}
    accepted_by: dict[str, set[str]] = {}
    in_force_on: dict[str, date] = {}
    stopped_on: dict[str, date] = {}
    for detail in unit.details:
        on = detail.on
        match detail:
            case Consulted():
                add((on, ("participation", "consultations"), 1))
                add((on, ("participation", f"client:{detail.involvement}"), 1))
                add((on, ("participation", f"parties:{_parties(detail.parties)}"), 1))
                present = {kinds.get(org, UNCLASSIFIED) for org in detail.organisations}
                add((on, ("participation", f"org_kinds:{_kinds(len(present))}"), 1))
                for kind in sorted(present):
                    add((on, ("participation", f"at_the_table:{kind}"), 1))
                if detail.kind in MILESTONES:
                    add((on, ("procedures", f"{detail.kind}_consultation_held"), 1))
                    if detail.kind == "start":
                        days = (on - unit.referred_on).days
                        durations.append((on, ("flow", "days_to_start"), days))
            case Signed():
                add((on, ("participation", f"signatory:{detail.signatory}"), 1))
            case AgreementProposed():
                named[detail.agreement] = detail.parties
                add((on, ("participation", "agreements:proposed"), 1))
            case AgreementAccepted():
                parties = accepted_by.setdefault(detail.agreement, set())
                parties.add(detail.party)
                if detail.agreement not in in_force_on and parties >= set(
                    named.get(detail.agreement, ())
                ):
                    in_force_on[detail.agreement] = on
                    add((on, ("participation", "agreements:accepted"), 1))
            case AgreementDeclined():
                stopped_on.setdefault(detail.agreement, on)
                add((on, ("participation", "agreements:declined"), 1))
            case AgreementEnded():
                stopped_on.setdefault(detail.agreement, on)
                add((on, ("participation", "agreements:ended"), 1))
            case EscalationRaised():
                raised[detail.escalation] = on
                add((on, ("blocks", "escalations"), 1))
                add((on, ("blocks", f"escalated:{detail.level}"), 1))
            case EscalationResolved():
                add((on, ("blocks", "escalations_resolved"), 1))
                if detail.escalation in raised:
                    days = max(0, (on - raised[detail.escalation]).days)
                    durations.append((on, ("blocks", "days_to_resolution"), days))
            case HandedOver():
                add((on, ("continuity", "handovers"), 1))
                once.append((on, ("continuity", "trajectories_handed_over")))
                if detail.transfers_coordination:
                    add((on, ("continuity", "coordination_transferred"), 1))
            case ContinuedFrom():
                once.append((on, ("continuity", "continued_from_earlier")))
    agreements = [(since, stopped_on.get(a)) for a, since in in_force_on.items()]

    # procedures: the deadlines the facts give under the region's policy
    for deadline in deadlines:
        due = deadline.due_on
        add((due, ("procedures", f"deadline:{deadline.rule}/due"), 1))
        if deadline.met_on is None:
            outcome = "missed"
        else:
            outcome = "met" if deadline.met_on <= due else "met_late"
        add((due, ("procedures", f"deadline:{deadline.rule}/{outcome}"), 1))
    dated.sort(key=itemgetter(0))
    durations.sort(key=itemgetter(0))
    return Digest(dated, once, durations, running, blocks, agreements)


def period_cells(found: Digest, period: Period) -> tuple[dict[Cell, int], dict[Cell, int]]:
    """What a unit contributes to ``period``'s count cells, and its durations (days)."""
    start, end = period.start, period.end
    counts: dict[Cell, int] = {}
    low = bisect_left(found.dated, start, key=lambda entry: entry[0])
    for day, cell, amount in found.dated[low:]:
        if day > end:
            break
        counts[cell] = counts.get(cell, 0) + amount
    for day, cell in found.once:
        if start <= day <= end:
            counts[cell] = 1
    durations = {cell: days for day, cell, days in found.durations if start <= day <= end}
    for cell in durations:
        # The quantile's size (``model.quantile_size``): one per unit with a value.
        counts[size_cell(*cell)] = 1
    if found.running is not None:
        since, until = found.running
        if since <= end and (until is None or until >= start):
            counts[("flow", "active")] = 1
    in_period = [b for b in found.blocks if b.start <= end and (b.end is None or b.end >= start)]
    if in_period:
        counts[("flow", "blocked")] = counts[("blocks", "blocked")] = 1
        for reason in {r for b in in_period for r in b.reasons}:
            counts[("blocks", f"reason:{reason}")] = 1
        ended = [b for b in in_period if b.end is not None and b.end <= end]
        if ended:
            counts[("blocks", f"ended:{ended[-1].ending}")] = 1
        if any(b.end is None or b.end > end for b in in_period):
            counts[("blocks", "still_open")] = 1
    in_force = sum(
        1 for since, until in found.agreements if since <= end and (until is None or until > end)
    )
    if in_force:
        counts[("participation", "agreements:in_force")] = in_force
    return counts, durations


# --- the population ------------------------------------------------------------------------------


def _trajectory_id(unit: UnitRecord) -> str:
    return unit.trajectory_id


def _reach(policy: DeadlinePolicy) -> timedelta:
    """How far after its anchor's date a deadline of the policy can fall due, at most."""
    rules = [*policy.rules, *(rule for _, _, rules in policy.overrides for rule in rules)]
    return timedelta(
        days=max((r.due_after.months * 31 + r.due_after.days for r in rules), default=0)
    )


def _settled_by(unit: UnitRecord, reach: timedelta) -> date | None:
    """The day after which an ended trajectory counts in nothing any more (no fact, no running
    day, no deadline falls due later); ``None`` while it has not ended."""
    last = ended_last_on(unit.referred_on, unit.facts, unit.details)
    return None if last is None else last + reach


def ended_last_from(policy: DeadlinePolicy, period: Period) -> date:
    """A unit whose record ends before this day (``units.ended_last_on``) is settled before
    ``period`` starts under ``policy``, and counts in none of its cells: ``read_units`` may
    leave it out (``ended_last_from``)."""
    return period.start - _reach(policy)


class Digests:
    """Each unit's ``_settled_by`` day and ``digest`` under one deadline policy and one
    register's kinds, worked out once and kept between the releases of one process (a
    unit's deadlines, ``domain.deadlines.instances``, are most of a population's cost, and
    most units did not change since the last release). An entry holds while the unit is the
    one it was worked out from: the same object (``units.KnownUnits`` hands back the same
    ``UnitRecord`` for an unchanged row) or an equal one."""

    def __init__(self, policy: DeadlinePolicy, kinds: Mapping[str, str]) -> None:
        self.policy = policy
        self.kinds = dict(kinds)
        self._reach = _reach(policy)
        self._worked_out_under = worked_out_under(policy)
        self._rules: dict[tuple[str, str], list[DeadlineRule]] = {}
        self._found: dict[str, tuple[UnitRecord, date | None, Digest | None]] = {}

    def holds_for(self, policy: DeadlinePolicy, kinds: Mapping[str, str]) -> bool:
        return policy is self.policy and kinds == self.kinds

    def _entry(self, unit: UnitRecord) -> tuple[UnitRecord, date | None, Digest | None]:
        entry = self._found.get(unit.trajectory_id)
        if entry is None or not (entry[0] is unit or entry[0] == unit):
            entry = self._found[unit.trajectory_id] = (unit, _settled_by(unit, self._reach), None)
        return entry

    def settled(self, unit: UnitRecord) -> date | None:
        """The day after which ``unit`` counts in nothing any more (``_settled_by``)."""
        return self._entry(unit)[1]

    def digest(self, unit: UnitRecord) -> Digest:
        """``unit``'s digest, its deadlines under its region's and sector's rules."""
        entry = self._entry(unit)
        if entry[2] is not None:
            return entry[2]
        deadlines: Sequence[Deadline | Due] | None = None
        if unit.deadlines is not None and unit.policy and unit.policy == self._worked_out_under:
            deadlines = unit.deadlines  # worked out by the projection under this very policy
        else:
            where = (unit.region, unit.sector)
            rules = self._rules.get(where)
            if rules is None:
                rules = self._rules[where] = self.policy.rules_for(*where)
            deadlines = instances(unit.facts, rules)
        found = digest(unit, deadlines, self.kinds)
        self._found[unit.trajectory_id] = (entry[0], entry[1], found)
        return found


def population(
    units: Iterable[UnitRecord],
    period: Period,
    *,
    policy: DeadlinePolicy,
    kinds: Mapping[str, str],
    unit_id: Callable[[UnitRecord], str] = _trajectory_id,
    regions: Collection[str] = (),
    digests: Digests | None = None,
    sectors: Iterable[str] = (),
) -> Population:
    """Every table's cells for ``period`` over ``units``, before disclosure control.

    ``kinds`` maps organisation identifiers to their kind in the register (unknown:
    ``unclassified``). ``regions`` are given cells even without a unit; every region a unit
    belongs to has them anyway. Units referred after the period, or contributing nothing to
    it, are left out of the contributions (they constrain nothing). ``sectors`` beyond the
    domain's, in order, are given cells too (as a unit of such a sector would).
    """
    return populations(
        units,
        (period,),
        policy=policy,
        kinds=kinds,
        unit_id=unit_id,
        regions=regions,
        digests=digests,
        sectors=sectors,
    )[period]


def populations(
    units: Iterable[UnitRecord],
    periods: Iterable[Period],
    *,
    policy: DeadlinePolicy,
    kinds: Mapping[str, str],
    unit_id: Callable[[UnitRecord], str] = _trajectory_id,
    regions: Collection[str] = (),
    digests: Digests | None = None,
    sectors: Iterable[str] = (),
) -> dict[Period, Population]:
    """``population`` of each of ``periods`` in one pass over the units: a release audits a
    year with its quarters, and each unit's deadlines are worked out once for all of them
    (and once for every release of a process that keeps its ``digests``)."""
    if digests is None:
        digests = Digests(policy, kinds)
    elif not digests.holds_for(policy, kinds):
        raise ValueError("digests worked out under another policy or other kinds")
    wanted = sorted(set(periods), key=lambda p: (p.start, p.end))
    names = rule_names(policy)
    vocabulary = kind_vocabulary(kinds)
    categories = count_cells(names, vocabulary)
    # The quantiles' sizes: in the units' contributions, never cells of a table.
    known = {cell for cell, _ in categories} | {size_cell(*cell) for cell in quantile_cells()}
    seen_regions: set[str] = set(regions)
    known_sectors = list(SECTORS)
    known_sectors.extend(s for s in dict.fromkeys(sectors) if s not in SECTORS)
    keys: dict[tuple[str, str, str, str], CellKey] = {}

    def key(table: str, region: str, sector: str, category: str) -> CellKey:
        found = keys.get((table, region, sector, category))
        if found is None:
            found = keys[(table, region, sector, category)] = CellKey(
                table, region, sector, category
            )
        return found

    #: Per (region, sector): a cell's keys in its sector and in the region's ``*``.
    pairs: dict[tuple[str, str], dict[Cell, tuple[CellKey, CellKey]]] = {}
    contributions: dict[Period, dict[str, dict[CellKey, int]]] = {p: {} for p in wanted}
    by_sector = {p: p.by_sector for p in wanted}
    values: dict[Period, dict[CellKey, list[int]]] = {p: {} for p in wanted}
    dynamic_keys: dict[Period, set[CellKey]] = {p: set() for p in wanted}
    for unit in units:
        seen_regions.add(unit.region)
        if unit.sector not in known_sectors:
            known_sectors.append(unit.sector)
        settled = digests.settled(unit)
        concerned = [
            p
            for p in wanted
            if unit.referred_on <= p.end and (settled is None or settled >= p.start)
        ]
        if not concerned:
            continue
        where = (unit.region, unit.sector)
        found = digests.digest(unit)
        if where not in pairs:
            pairs[where] = {}
        mine_pairs = pairs[where]
        for period in concerned:
            counts, durations = period_cells(found, period)
            moves, gaps = dynamics.unit_cells(unit, period, kinds)
            if moves:
                # The dynamics table: region level only, and only its non-zero cells exist.
                found_moves = {
                    key(dynamics.DYNAMICS, unit.region, ALL_SECTORS, category): amount
                    for category, amount in moves.items()
                }
                dynamic_keys[period].update(found_moves)
                for category, days in gaps.items():
                    cell_key = key(dynamics.DYNAMICS, unit.region, ALL_SECTORS, category)
                    values[period].setdefault(cell_key, []).append(days)
            if counts:
                mine: dict[CellKey, int] = {}
                for cell, amount in counts.items():
                    pair = mine_pairs.get(cell)
                    if pair is None:
                        if cell not in known:
                            continue  # outside the vocabulary: never a cell of its own
                        pair = mine_pairs[cell] = (
                            key(cell[0], unit.region, unit.sector, cell[1]),
                            key(cell[0], unit.region, ALL_SECTORS, cell[1]),
                        )
                    mine[pair[1]] = amount
                    if by_sector[period]:
                        mine[pair[0]] = amount
                if moves:
                    mine.update(found_moves)
                contributions[period][unit_id(unit)] = mine
            for (table, category), days in durations.items():
                for sector in (unit.sector, ALL_SECTORS) if by_sector[period] else (ALL_SECTORS,):
                    cell_key = key(table, unit.region, sector, category)
                    values[period].setdefault(cell_key, []).append(days)

    shapes: dict[bool, tuple[dict[CellKey, CountCell], list[CellKey], dict[CellKey, RateCell]]]
    shapes = {}
    for split in set(by_sector.values()):
        count_map: dict[CellKey, CountCell] = {}
        quantile_keys: list[CellKey] = []
        rates: dict[CellKey, RateCell] = {}
        for region in sorted(seen_regions):
            for sector in (*known_sectors, ALL_SECTORS) if split else (ALL_SECTORS,):
                for (table, category), group in categories:
                    count_key = key(table, region, sector, category)
                    count_map[count_key] = CountCell(
                        count_key, key(group[0], region, sector, group[1]) if group else None
                    )
                for table, category in quantile_cells():
                    quantile_keys.append(key(table, region, sector, category))
                for (table, category), numerator, denominator in rate_cells(names):
                    rate_key = key(table, region, sector, category)
                    rates[rate_key] = RateCell(
                        rate_key,
                        key(*_at(numerator, region, sector)),
                        key(*_at(denominator, region, sector)),
                    )
        shapes[split] = (count_map, quantile_keys, rates)
    made: dict[Period, Population] = {}
    for period in wanted:
        count_map, quantile_keys, rates = shapes[by_sector[period]]
        extra_counts, extra_quantiles, extra_rates = _dynamics_cells(
            dynamic_keys[period], seen_regions, key
        )
        made[period] = Population(
            period,
            contributions[period],
            {**count_map, **extra_counts},
            {
                cell: QuantileCell(cell, tuple(sorted(values[period].get(cell, ()))))
                for cell in (*quantile_keys, *extra_quantiles)
            },
            {**rates, **extra_rates},
        )
    return made


def _dynamics_cells(
    found: Iterable[CellKey],
    regions: Iterable[str],
    key: Callable[[str, str, str, str], CellKey],
) -> tuple[dict[CellKey, CountCell], list[CellKey], dict[CellKey, RateCell]]:
    """The dynamics table's cells of a period: the early-factor cells of every region (zero or
    not), and every other count only where some trajectory counts in it (``dynamics``), with
    each edge's duration quantiles and each path's share."""
    table = dynamics.DYNAMICS
    counts: dict[CellKey, CountCell] = {}
    for region in sorted(regions):
        for category in dynamics.early_categories():
            cell = key(table, region, ALL_SECTORS, category)
            counts[cell] = CountCell(cell)
    quantiles: list[CellKey] = []
    rates: dict[CellKey, RateCell] = {}
    for cell in sorted(found):
        if cell.category.startswith(SIZE_PREFIX):
            continue  # a quantile's size: in the contributions only
        group = dynamics.group_of(cell.category)
        counts[cell] = CountCell(cell, cell._replace(category=group) if group else None)
        source, _, target = cell.category.removeprefix("edge:").partition(">")
        if (
            cell.category.startswith("edge:")
            and source != dynamics.START
            and target != dynamics.END
        ):
            quantiles.append(cell._replace(category=f"weeks:{cell.category.removeprefix('edge:')}"))
        share = dynamics.share_of(cell.category)
        if share is not None:
            rate = key(table, cell.region, ALL_SECTORS, share[0])
            rates[rate] = RateCell(rate, cell, cell._replace(category=share[1]))
    return counts, quantiles, rates


def _at(cell: Cell, region: str, sector: str) -> tuple[str, str, str, str]:
    return cell[0], region, sector, cell[1]


#: Categories whose rare values also count in the table's ``other`` (issue #12: rare categories
#: merged into "other"): (table, prefix). Only categories that count a trajectory once (0 or 1),
#: so "also in other" is a union; counts of consultations cannot be merged per trajectory.
RARE_MERGED: tuple[tuple[str, str], ...] = (("blocks", "reason:"),)


def merge_rare(population: Population, k: int) -> Population:
    """``population`` with each rare category (fewer than ``k`` trajectories of the region, but
    some) also counted in its table's ``other``: a trajectory counts in ``other`` if it counts in
    ``other`` or in a rare category. The rare cell itself stays, for disclosure control to
    withhold (it is below k) and audit: it is still a sum over the same units."""
    values = population.values()
    rare: dict[tuple[str, str, str], set[str]] = {}
    for table, prefix in RARE_MERGED:
        other = f"{prefix}other"
        for key, value in values.items():
            if (
                key.table == table
                and key.sector == ALL_SECTORS
                and key.category.startswith(prefix)
                and key.category != other
                and 0 < value < k
            ):
                rare.setdefault((table, key.region, prefix), set()).add(key.category)
    if not rare:
        return population
    merged: dict[str, dict[CellKey, int]] = {}
    for unit, cells in population.contributions.items():
        extra: dict[CellKey, int] = {}
        for key, amount in cells.items():
            if not amount:
                continue
            for (table, region, prefix), categories in rare.items():
                if key.table == table and key.region == region and key.category in categories:
                    extra[key._replace(category=f"{prefix}other")] = 1
        if extra:
            updated = dict(cells)
            for key in extra:
                if key in population.counts:
                    updated[key] = max(updated.get(key, 0), 1)
            merged[unit] = updated
        else:
            merged[unit] = dict(cells)
    return Population(
        population.period, merged, population.counts, population.quantiles, population.rates
    )
