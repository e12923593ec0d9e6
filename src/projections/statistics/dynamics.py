"""The ``dynamics`` table (issue #13, points 1-3): the process map, the paths into and out of a
block, and what is present early in trajectories that get blocked.

Pure functions, no I/O. ``unit_cells`` says what one trajectory contributes; ``tables.populations``
puts it in the same population as every other table, so that the same disclosure control and the
same linear-programming audit (over the same units) decide what is published.

**Scope.** The trajectories of a region referred in the period, with their steps
(``traces.dated``, the derivation the XES export uses) up to and including the period's last day.
Region level only (sector ``*``) in every period: the cells are never split by sector.

**Cells.** Counts, each a sum over the trajectories' contributions (a trajectory contributes its
number of occurrences):

- ``node:<activity>``: occurrences of the activity;
- ``edge:<a>><b>``: occurrences of ``b`` directly following ``a``, a part of ``node:<a>``; with
  ``edge:start><a>`` (the first step) and ``edge:<a>>end`` (the last step in scope), a node's in-
  and out-edges each sum to it, and the audit sees that relation through the units;
- ``into_block:<x>><y>``: blocks whose two preceding activities were ``x``, ``y`` (``start``
  where there were fewer), a part of ``node:blocked``; ``out_of_block:<x>><y>`` likewise before an
  ``unblocked``, a part of ``node:unblocked``; their shares of the node are rates
  (``share_into_block:…``, ``share_out_of_block:…``);
- ``weeks:<a>><b>``: quantiles (the release's quartile rules) of the gap in days from ``a`` to
  ``b``, one value per trajectory: its median gap for that edge (how many: ``n:weeks:<a>><b>``, in
  the contributions only, see ``model.quantile_size``);
- ``early:<factor>:<present|absent>:<blocked|not_blocked>`` (see ``FACTORS``): the two-by-two
  table of a factor known in the first three months after referral against being blocked within
  the scope, over the trajectories referred at least ``EARLY_DAYS`` before the period's end;
- ``rr:<factor>``, ``rr_low:<factor>``, ``rr_high:<factor>``: the relative risk of being blocked
  with the factor present against absent, with its 95 % confidence interval (Katz's log method),
  computed after disclosure control from the four published counts, and only when every one of
  them is published and at least ``k`` (``relative_risks``).

**Only non-zero cells exist** (a vocabulary of ~35 activities has ~1,200 possible edges), except
the ``early:`` cells, which exist for every region, zero or not. A cell absent from a release
reads "zero or withheld": a withheld cell of this table is never stored nor listed
(``hidden``), and the table's summary counts only what is published. The audit still has every
non-zero cell as a row, so no node total gives a withheld edge away.
"""

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from itertools import pairwise
from statistics import median_low

from projections.statistics import traces
from projections.statistics.model import SIZE_PREFIX, CellKey, Period, ReleasedCell, TableSpec
from projections.statistics.units import AgreementProposed, Consulted, Referred, UnitRecord

DYNAMICS = "dynamics"
#: The ends of every trace, as nodes of the map's start and end edges (no activity is named so).
START, END = "start", "end"
#: "The first three months" after referral, in days; a trajectory is in the early-factor
#: tables only when all of them lie within the period's scope.
EARLY_DAYS = 91
#: The factors known early (issue #13, point 3), each present or absent per trajectory.
FACTORS: tuple[str, ...] = (
    "referrer_engaged",
    "client_present_at_start",
    "parties_3_or_more",
    "org_kinds_2_or_more",
    "start_within_30_days",
)
PRESENCE = ("present", "absent")
OUTCOMES = ("blocked", "not_blocked")
#: z for a two-sided 95 % interval.
_Z = 1.959964

SPEC = TableSpec(
    DYNAMICS,
    "Dynamics",
    "The process map of the trajectories referred in the period (their steps up to the "
    "period's last day, region level only), the paths into and out of a block, and what was "
    "present in the first three months of trajectories that got blocked and of those that did "
    "not. Only non-zero cells exist; a withheld cell of this table is not listed: a category "
    "that is absent reads 'zero or withheld'.",
    ("001",),
    {
        "node:<activity>": "occurrences of the activity (traces.py's vocabulary)",
        "edge:<a>><b>": "occurrences of b directly following a; start><a> is a trace's first "
        "step, <a>>end its last in the period",
        "weeks:<a>><b>": "quantiles of the days from a to b (each trajectory's median gap), "
        "rounded to whole weeks",
        "into_block:<x>><y>": "blocks whose two preceding activities were x, y",
        "out_of_block:<x>><y>": "ends of blocks (unblocked) whose two preceding activities were "
        "x, y",
        "share_into_block:<x>><y>": "into_block:<x>><y> / node:blocked",
        "share_out_of_block:<x>><y>": "out_of_block:<x>><y> / node:unblocked",
        "early:<factor>:<presence>:<outcome>": "trajectories referred in the period at least "
        f"{EARLY_DAYS} days before its end, by whether the factor was present in their first "
        "three months (presence: present, absent) and whether they were blocked by the "
        f"period's end (outcome: blocked, not_blocked); factors: {', '.join(FACTORS)}",
        "rr:<factor>": "relative risk of being blocked, factor present against absent; only "
        "when all four early cells are published and at least k",
        "rr_low:<factor>": "its 95 % confidence interval's lower end (Katz, log method)",
        "rr_high:<factor>": "its upper end",
    },
)


def edge(a: str, b: str) -> str:
    return f"edge:{a}>{b}"


def early(factor: str, present: bool, blocked: bool) -> str:
    return f"early:{factor}:{PRESENCE[not present]}:{OUTCOMES[not blocked]}"


def early_categories() -> list[str]:
    """The four cells of every factor: they exist in every region, zero or not."""
    return [f"early:{f}:{p}:{o}" for f in FACTORS for p in PRESENCE for o in OUTCOMES]


def group_of(category: str) -> str | None:
    """The category a dynamics count is a part of (all-or-none, and the audit's structure)."""
    kind, _, rest = category.partition(":")
    if kind == "edge":
        source = rest.partition(">")[0]
        return None if source == START else f"node:{source}"
    if kind == "into_block":
        return f"node:{traces.BLOCKED}"
    if kind == "out_of_block":
        return f"node:{traces.UNBLOCKED}"
    return None


def share_of(category: str) -> tuple[str, str] | None:
    """A path's share of the region's blocks (or block ends): (rate category, denominator)."""
    kind, _, rest = category.partition(":")
    if kind in ("into_block", "out_of_block"):
        group = group_of(category)
        assert group is not None
        return f"share_{kind}:{rest}", group
    return None


def hidden(key: CellKey, withheld: str | None) -> bool:
    """Whether a released cell is left out of what a release stores and lists: every withheld
    cell of this table ("a suppressed edge is not drawn or counted", and that it exists would
    say it is not zero)."""
    return key.table == DYNAMICS and withheld is not None


def _paths(kind: str, target: str, activities: list[str]) -> Iterable[str]:
    padded = [START, START, *activities]
    for i, activity in enumerate(activities):
        if activity == target:
            yield f"{kind}:{padded[i]}>{padded[i + 1]}"


def unit_cells(
    unit: UnitRecord, period: Period, kinds: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, int]]:
    """What ``unit`` contributes to ``period``'s dynamics counts, and its gap (days) per edge
    for the duration quantiles; nothing unless it was referred in the period."""
    if not period.contains(unit.referred_on):
        return {}, {}
    steps = traces.dated(unit, kinds, until=period.end)
    activities = [step.activity for _, step, _ in steps]
    counts: Counter[str] = Counter(f"node:{a}" for a in activities)
    counts.update(edge(a, b) for a, b in pairwise([START, *activities, END]))
    counts.update(_paths("into_block", traces.BLOCKED, activities))
    counts.update(_paths("out_of_block", traces.UNBLOCKED, activities))
    gaps: dict[str, list[int]] = {}
    for (on_a, a, _), (on_b, b, _) in pairwise(steps):
        gaps.setdefault(edge(a.activity, b.activity), []).append((on_b - on_a).days)
    # The size of each edge's duration quantiles (``model.quantile_size``): one per trajectory.
    counts.update({f"{SIZE_PREFIX}weeks:{cell.removeprefix('edge:')}": 1 for cell in gaps})
    if unit.referred_on + timedelta(days=EARLY_DAYS) <= period.end:
        blocked = traces.BLOCKED in activities
        for factor, present in early_factors(unit, kinds).items():
            counts[early(factor, present, blocked)] = 1
    return dict(counts), {
        f"weeks:{cell.removeprefix('edge:')}": median_low(days) for cell, days in gaps.items()
    }


def early_factors(unit: UnitRecord, kinds: Mapping[str, str]) -> dict[str, bool]:
    """Which factors were present in the first ``EARLY_DAYS`` after the referral, from what the
    unit records: the consultations held then (who sat at the table, whether the client was
    present at the start consultation, how soon it was held) and the role agreements proposed
    then. The referrer is engaged when the referring organisation sat at one of those
    consultations or is a party to one of those agreements (001: the referrer stays involved)."""
    until = unit.referred_on + timedelta(days=EARLY_DAYS)
    held = [d for d in unit.details if isinstance(d, Consulted) and d.on <= until]
    starts = [d for d in held if d.kind == "start"]
    present_kinds = {kinds.get(org, traces.UNCLASSIFIED) for d in held for org in d.organisations}
    referrers = {d.organisation for d in unit.details if isinstance(d, Referred)}
    engaged = any(referrers & set(d.organisations) for d in held) or any(
        referrers & set(d.parties)
        for d in unit.details
        if isinstance(d, AgreementProposed) and d.on <= until
    )
    return {
        "referrer_engaged": engaged,
        "client_present_at_start": any(d.involvement == "present" for d in starts),
        "parties_3_or_more": max((d.parties for d in held), default=0) >= 3,
        "org_kinds_2_or_more": len(present_kinds) >= 2,
        "start_within_30_days": any((d.on - unit.referred_on).days <= 30 for d in starts),
    }


def katz(a: int, b: int, c: int, d: int) -> tuple[float, float, float]:
    """Relative risk (a / (a + b)) / (c / (c + d)) and its 95 % confidence interval by the log
    method (Katz et al. 1978): ln RR ± z · √(1/a - 1/(a+b) + 1/c - 1/(c+d)). Needs a, c > 0."""
    rr = (a / (a + b)) / (c / (c + d))
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return rr, math.exp(math.log(rr) - _Z * se), math.exp(math.log(rr) + _Z * se)


def relative_risks(cells: Iterable[ReleasedCell], k: int) -> list[ReleasedCell]:
    """Per region and factor, ``rr``, ``rr_low`` and ``rr_high`` (rounded to 0.01), from the
    released early cells: only where all four are published and at least ``k`` (issue #13:
    "released only where every cell of the two-by-two table has at least k trajectories").
    A relative risk not computed is simply absent (withheld)."""
    published: dict[tuple[str, str], float] = {}
    for cell in cells:
        if cell.key.table == DYNAMICS and cell.withheld is None and cell.value is not None:
            published[(cell.key.region, cell.key.category)] = cell.value
    regions = sorted({region for region, category in published if category.startswith("early:")})
    found: list[ReleasedCell] = []
    for region in regions:
        for factor in FACTORS:
            four = [
                published.get((region, early(factor, present, blocked)))
                for present in (True, False)
                for blocked in (True, False)
            ]
            if any(v is None or v < k for v in four):
                continue
            a, b, c, d = (int(v) for v in four if v is not None)
            for name, value in zip(("rr", "rr_low", "rr_high"), katz(a, b, c, d), strict=True):
                key = CellKey(DYNAMICS, region, "*", f"{name}:{factor}")
                found.append(ReleasedCell(key, "rate", round(value, 2)))
    return found
