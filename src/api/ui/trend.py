"""A region's trend of blocks and deadlines kept, per period (issue #23): the geometry only;
``trend.svg`` draws it (escaped).

From the newest release of each period of the region (``release_access.trend_releases``), its
all-sectors cells: the share of running trajectories blocked (``flow/share_blocked``) and, for
one deadline rule, how many deadlines fell due and were met, met late or missed
(``procedures/deadline:<rule>/…``). Published numbers only: a withheld cell is marked
"withheld" in words, with no bar (never drawn as zero), and nothing is derived from the
published ones (a withheld part is never the due count minus the others).
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.release_access import RegionRelease
from projections.statistics.store import CellRow

#: How a deadline's outcome is told apart: fill colour (Okabe-Ito) and a pattern, for colour
#: blindness and print; text labels say it in words besides.
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("met", "url(#trend-met)"),
    ("met_late", "url(#trend-late)"),
    ("missed", "url(#trend-missed)"),
)
LABEL_W, BAR_W, ROW_H, BAR_H = 90, 420, 30, 11
TOP = 40


@dataclass(frozen=True, slots=True)
class Number:
    """A released number: ``value`` when published; ``withheld`` when disclosure control held
    it back (no value is drawn); neither when the release has no such cell."""

    value: float | None
    withheld: bool

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class Bar:
    """One number of one period, placed: a bar of ``width`` when published, else none."""

    key: str  # "share_blocked" or an outcome
    number: Number
    x: float
    y: float
    width: float
    fill: str


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: str
    release: int
    y: float
    blocked: Number
    active: Number
    share_blocked: Bar
    due: Number
    outcomes: list[Bar]


@dataclass(frozen=True, slots=True)
class TrendLayout:
    rule: str | None
    rules: list[str]
    width: int
    blocks_height: int
    deadlines_top: int
    height: int
    left: int
    bar_width: int
    rows: list[PeriodRow]


def number(cells: Mapping[str, CellRow], category: str) -> Number:
    row = cells.get(category)
    if row is None:
        return Number(None, False)
    return Number(row.value, row.value is None)


def deadline_rules(releases: Sequence[RegionRelease]) -> list[str]:
    """The rules named in the releases, the one with the most published numbers first."""
    published: Counter[str] = Counter()
    for release in releases:
        for category, row in release.cells.items():
            if category.startswith("deadline:") and not category.endswith("/share_met"):
                rule = category.removeprefix("deadline:").partition("/")[0]
                published[rule] += row.value is not None
    return sorted(published, key=lambda rule: (-published[rule], rule))


def layout(releases: Sequence[RegionRelease], rule: str | None) -> TrendLayout:
    rules = deadline_rules(releases)
    chosen = rule if rule in rules else (rules[0] if rules else None)
    left = LABEL_W
    blocks_height = TOP + len(releases) * ROW_H + 10
    deadlines_top = blocks_height + TOP + 16  # a heading and a legend
    group_h = ROW_H + 2 * BAR_H + 8
    counts = [
        number(r.cells, f"deadline:{chosen}/{outcome}").value or 0.0
        for r in releases
        for outcome, _ in OUTCOMES
    ]
    most = max(counts, default=0.0) or 1.0
    rows = []
    for i, release in enumerate(releases):
        y = TOP + i * ROW_H
        share = number(release.cells, "share_blocked")
        gy = deadlines_top + i * group_h + 4
        outcomes = []
        for j, (outcome, fill) in enumerate(OUTCOMES):
            found = number(release.cells, f"deadline:{chosen}/{outcome}")
            width = 0.0 if found.value is None else BAR_W * found.value / most
            outcomes.append(Bar(outcome, found, left, gy + j * (BAR_H + 3), round(width, 1), fill))
        rows.append(
            PeriodRow(
                period=release.period,
                release=release.number,
                y=y,
                blocked=number(release.cells, "blocked"),
                active=number(release.cells, "active"),
                share_blocked=Bar(
                    "share_blocked",
                    share,
                    left,
                    y,
                    round(BAR_W * (share.value or 0.0), 1),
                    "url(#trend-blocked)",
                ),
                due=number(release.cells, f"deadline:{chosen}/due"),
                outcomes=outcomes,
            )
        )
    return TrendLayout(
        rule=chosen,
        rules=rules,
        width=left + BAR_W + 170,
        blocks_height=blocks_height,
        deadlines_top=deadlines_top,
        height=deadlines_top + len(releases) * group_h + 10,
        left=left,
        bar_width=BAR_W,
        rows=rows,
    )
