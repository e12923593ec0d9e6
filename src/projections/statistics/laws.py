"""What every unit's contributions keep, by the tables' definitions: the audit's hypothetical unit
types must keep it too (issue #12, "The gap: …").

The disclosure audit (``disclosure.py``) asks how far a reader can narrow a withheld count from
what is published. Besides the units that exist (the atoms), its model holds *hypothetical* unit
types: units like those that exist, but that did (or did not) count in the withheld cell. A type
no real unit could have gives the model room the reader does not have: "every consultation has
one involvement of the client" makes ``client:*`` sum to ``consultations`` for every unit, so a
reader who adds the published parts knows a withheld one exactly, while a type counting in one
part more (and in nothing else) would call it open. The model is sound only with types a real
unit could have.

A **law** is a linear relation every unit keeps, ``Σ coefficient · amount + constant ≥ 0`` (or
``= 0``), over the rows of the audit's model (a cell of one version). :class:`Laws` holds those
that apply to a model's rows:

- *within a version, for one region's cells of one sector (or all sectors)*: a partition's parts
  sum to its whole (the client's involvement, the band of parties and of organisation kinds per
  consultation; a deadline's outcome; an escalation's level; who signed), and a process map's
  edges out of and into a node, and its paths into and out of a block, hold at most the node
  (the rest in edges nobody took, which a reader cannot tell from withheld ones); the kinds at
  the table per band of kinds; milestone consultations are consultations; a blocked trajectory
  has a reason and ended its block one way or is still blocked; a trajectory handed over had a
  handover; a part counts in its whole (a reason, still blocked: blocked; accepted, closed,
  blocked: running; a referral is accepted or declined, not both); cells that count a trajectory
  once hold 0 or 1; a factor's early cells count a trajectory at most once, and the same
  trajectories as every other factor's;
- *across sectors*: a unit counts in its sector's cell as in the region's (``*`` is the sum of
  the sectors), and it is of one sector;
- *across periods*: a year holds its quarters: a count of dated events is the sum of its
  quarters' (at least the sum of those released so far), a trajectory blocked in the year was
  blocked in one of its quarters and is blocked in the year if it was in any, still blocked at
  the end of the year if at the end of the fourth quarter, a year's process map holds at least
  its quarters'.

Each is checked on every unit the tables count by a property test
(``tests/unit/test_statistics_laws.py``).

Versions of one period (a revision and its predecessor) and of a year and its quarters are
computed at different log positions: a fact recorded late makes a real unit differ from a law
that ignores it. So a type is held to the laws *as its source unit is*: it may not change a
law's value (an equality) or take it below where it was and below zero (an inequality). A type
made from nothing (a unit counting in the cell only) must keep every law outright.

Over-strict laws are safe: they leave the model fewer types, so narrower ranges, so more is
withheld. A missing law is a hole. :meth:`Laws.variants` repairs the types the audit makes so
that they keep the laws where a simple repair exists (a unit counted in a quarter as in the year;
a part swapped for another part of the same whole; a whole counted in a part of each of its
partitions); a type no repair saves is left out.

Pure code, no I/O.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import pairwise

from projections.statistics.model import ALL_SECTORS, SIZE_PREFIX, CellKey, Period
from projections.statistics.tables import MILESTONES
from projections.statistics.traces import BLOCKED, UNBLOCKED

#: A row of the audit's model: (release number, None for the one being made; its period; cell).
RowId = tuple[int | None, Period | None, CellKey]
#: A type by its rows' ranks (``Laws._rank``) and amounts.
_Shape = tuple[tuple[int, float], ...]

#: (table, whole, table of its parts, prefix of its parts): every unit's amounts in the parts
#: sum to the whole's.
PARTITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("participation", "consultations", "participation", "client:"),
    ("participation", "consultations", "participation", "parties:"),
    ("participation", "consultations", "participation", "org_kinds:"),
    ("blocks", "escalations", "blocks", "escalated:"),
    ("procedures", "plan_signed", "participation", "signatory:"),
)

#: Cells a trajectory counts in at most once a period (``tables.digest``: the first acceptance,
#: decline and closing; states; once-a-period facts), and prefixes of such categories.
ONCE: frozenset[tuple[str, str]] = frozenset(
    {
        ("flow", "referrals"),
        ("flow", "referrals:accepted"),
        ("flow", "referrals:declined"),
        ("flow", "accepted"),
        ("flow", "declined"),
        ("flow", "active"),
        ("flow", "blocked"),
        ("flow", "closed"),
        ("procedures", "closed_with_follow_up_planned"),
        ("blocks", "blocked"),
        ("blocks", "still_open"),
        ("continuity", "trajectories_handed_over"),
        ("continuity", "continued_from_earlier"),
    }
)
ONCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("blocks", "reason:"),
    ("blocks", "ended:"),
    ("dynamics", "early:"),
)

#: The milestone consultations of the procedures table.
_MILESTONES = tuple(f"{milestone}_consultation_held" for milestone in MILESTONES)

#: How a year's cell relates to its quarters' (see :func:`period_kind`).
_ANY, _LAST, _AT_END, _ENDED, _SUM, _GROWS = "any", "last", "at_end", "ended", "sum", "grows"

_TOLERANCE = 1e-9
#: A repair's search: how many laws deep, how many candidates kept at each step, how many
#: repaired types kept of one.
_DEPTH = 6
_FRONTIER = 4
_VARIANTS = 24


def is_once(table: str, category: str) -> bool:
    """Whether a unit counts at most once in the cell (0 or 1)."""
    if category.startswith(SIZE_PREFIX):
        return True  # a quantile's size: one per unit with a value
    if (table, category) in ONCE:
        return True
    return any(table == t and category.startswith(p) for t, p in ONCE_PREFIXES)


def period_kind(table: str, category: str) -> str | None:
    """How a unit's amount in a year's cell relates to its amounts in the quarters' cells:

    - ``sum``: dated events, each in one quarter — the year's is the quarters' sum;
    - ``any``: a state on some day (running, blocked, blocked for a reason, handed over), a
      quantile's size — the year's is 1 when some quarter's is;
    - ``last``: a state at the period's end (still blocked) — the year's is the fourth
      quarter's; ``at_end`` (agreements in force) at least the fourth quarter's (a trajectory
      settled before the fourth quarter is not among its units);
    - ``ended``: how the last block that ended did — the year's is one of the quarters';
    - ``grows``: the process map of a trajectory referred in a quarter, up to the period's end —
      the year's is at least the quarter's;
    - ``None``: no relation the audit holds (the early-factor cells, the edges into ``end``,
      ``reason:other``: which reasons are rare is decided per period).
    """
    if table == "dynamics":
        # Its sizes too: a trajectory referred in a quarter is in that quarter's map only, up
        # to the quarter's end, and in the year's up to the year's.
        what = category.removeprefix(SIZE_PREFIX)
        if what.startswith(("node:", "into_block:", "out_of_block:", "weeks:")):
            return _GROWS
        if what.startswith("edge:") and not what.endswith(">end"):
            return _GROWS
        return None
    if category.startswith(SIZE_PREFIX):
        return _ANY
    if (table, category) == ("blocks", "reason:other"):
        # Which reasons are rare, and so also counted in "other", is decided per period.
        return None
    if (table, category) == ("blocks", "still_open"):
        return _LAST
    if (table, category) == ("participation", "agreements:in_force"):
        # In force at the year's end as at the fourth quarter's, but a trajectory settled
        # before the fourth quarter began is not in that quarter's units at all.
        return _AT_END
    if table == "blocks" and category.startswith("ended:"):
        return _ENDED
    if (table, category) in {
        ("flow", "active"),
        ("flow", "blocked"),
        ("blocks", "blocked"),
        ("continuity", "trajectories_handed_over"),
        ("continuity", "continued_from_earlier"),
    } or (table == "blocks" and category.startswith("reason:")):
        return _ANY
    return _SUM


class Law:
    """``Σ coefficient · amount + constant ≥ 0`` over ``rows`` (``= 0`` when ``equal``).

    ``name`` is the same for the law in every scope it holds in (a sector's cells and the
    region's, every version): a repair makes the same choice in all of them. Each term's
    ``label`` is what a repair chooses by: the cell's table and category, its sector (a
    region's cell is the sum of its sectors') or its period (a year and its quarters)."""

    __slots__ = ("coefs", "constant", "equal", "labels", "name", "rows")

    def __init__(
        self,
        terms: Mapping[int, float],
        name: tuple[str, ...],
        labels: Sequence[str],
        equal: bool = False,
        constant: float = 0.0,
    ) -> None:
        self.rows = tuple(terms)
        self.coefs = tuple(terms.values())
        self.name = name
        self.labels = tuple(labels)
        self.equal = equal
        self.constant = constant

    def value(self, vector: Mapping[int, float]) -> float:
        total = self.constant
        get = vector.get
        for r, c in zip(self.rows, self.coefs, strict=True):
            amount = get(r)
            if amount:
                total += c * amount
        return total

    def short_of(
        self, vector: Mapping[int, float], source: Mapping[int, float], before: float | None = None
    ) -> float:
        """How far ``vector`` is from keeping the law as ``source`` does (``before``: the law's
        value there, if known): 0 when it keeps it; else, for an inequality, how much is
        missing (> 0), for an equality the difference."""
        now = self.value(vector)
        if before is None:
            before = self.value(source)
        if self.equal:
            gap = now - before
            return 0.0 if abs(gap) <= _TOLERANCE else gap
        missing = min(0.0, before) - now
        return missing if missing > _TOLERANCE else 0.0


class Laws:
    """The laws over a model's rows (``RowId`` in the model's order), and the checks and repairs
    of hypothetical unit types (a type: row → amount, rows it does not count in absent)."""

    def __init__(self, rows: Sequence[RowId]) -> None:
        self.rows = list(rows)
        self.index: dict[tuple[int | None, CellKey], int] = {
            (release, key): i for i, (release, _, key) in enumerate(self.rows)
        }
        #: (release, region, sector) → {(table, category): row}.
        self._scopes: dict[tuple[int | None, str, str], dict[tuple[str, str], int]] = defaultdict(
            dict
        )
        for i, (release, _, key) in enumerate(self.rows):
            self._scopes[(release, key.region, key.sector)][(key.table, key.category)] = i
        self._period = {release: period for release, period, _ in self.rows}
        #: Each row's rank among the rows by identity (releases by number, the one being made
        #: last): what a repair orders by, so that it never depends on the rows' numbering.
        order = sorted(
            range(len(self.rows)), key=lambda i: (_release_order(self.rows[i][0]), self.rows[i][2])
        )
        self._rank = [0] * len(self.rows)
        for rank, i in enumerate(order):
            self._rank[i] = rank
        self._dates()
        self.laws: list[Law] = []
        for scope in self._scopes.values():
            self._within(scope)
        self._across_sectors()
        self._across_periods()
        #: Row → the laws it is in.
        self.touching: dict[int, list[Law]] = defaultdict(list)
        for law in self.laws:
            for r in law.rows:
                self.touching[r].append(law)

    def _dates(self) -> None:
        """Per year: its versions (the latest last), its quarters' and their sectors' rows."""
        years: dict[int, list[int | None]] = defaultdict(list)
        quarters: dict[int, dict[int, list[int | None]]] = defaultdict(lambda: defaultdict(list))
        for release, period in self._period.items():
            if period is None:
                continue
            if period.quarter is None:
                years[period.year].append(release)
            else:
                quarters[period.year][period.quarter].append(release)
        self._years = {y: sorted(found, key=_release_order) for y, found in years.items()}
        self._quarters = {
            y: {q: sorted(found, key=_release_order) for q, found in sorted(qs.items())}
            for y, qs in quarters.items()
        }
        self._quarter_releases = {
            y: {v for found in qs.values() for v in found} for y, qs in self._quarters.items()
        }
        #: Per year: the rows of its sectors' cells, and its sectors.
        self._year_sector_rows: dict[int, set[int]] = defaultdict(set)
        sectors: dict[int, set[str]] = defaultdict(set)
        release_year = {v: y for y, found in self._years.items() for v in found}
        for i, (release, _, key) in enumerate(self.rows):
            year = release_year.get(release)
            if year is not None and key.sector != ALL_SECTORS:
                self._year_sector_rows[year].add(i)
                sectors[year].add(key.sector)
        self._year_sectors = {y: sorted(found) for y, found in sectors.items()}

    # --- the laws ------------------------------------------------------------------------------

    def _partitions(
        self, scope: Mapping[tuple[str, str], int]
    ) -> list[tuple[tuple[str, ...], int, dict[str, int]]]:
        """(name, whole, parts by category) of every partition in one scope with its whole and
        some part."""
        found: list[tuple[tuple[str, ...], int, dict[str, int]]] = []
        for whole_table, whole_category, table, prefix in PARTITIONS:
            if (whole_table, whole_category) in scope:
                parts = {c: r for (t, c), r in scope.items() if t == table and c.startswith(prefix)}
                if parts:
                    name = (whole_table, whole_category, prefix)
                    found.append((name, scope[(whole_table, whole_category)], parts))
        for (table, category), whole in scope.items():
            if table == "procedures" and category.startswith("deadline:"):
                rule, _, outcome = category.rpartition("/")
                if outcome == "due":
                    parts = {
                        f"{rule}/{o}": scope[(table, f"{rule}/{o}")]
                        for o in ("met", "met_late", "missed")
                        if (table, f"{rule}/{o}") in scope
                    }
                    if parts:
                        found.append(((table, category), whole, parts))
            elif table == "dynamics" and category.startswith("node:"):
                node = category.removeprefix("node:")
                outgoing = {
                    c: r
                    for (t, c), r in scope.items()
                    if t == table and c.startswith(f"edge:{node}>")
                }
                incoming = {
                    c: r
                    for (t, c), r in scope.items()
                    if t == table and c.startswith("edge:") and c.endswith(f">{node}")
                }
                found += [
                    ((table, category, way), whole, parts)
                    for way, parts in (("out", outgoing), ("in", incoming))
                    if parts
                ]
                for way, node in (("into_block", BLOCKED), ("out_of_block", UNBLOCKED)):
                    if category == f"node:{node}":
                        paths = {
                            c: r
                            for (t, c), r in scope.items()
                            if t == table and c.startswith(f"{way}:")
                        }
                        if paths:
                            found.append(((table, category, way), whole, paths))
        return found

    def _add(
        self,
        terms: Mapping[int, float],
        name: tuple[str, ...],
        by: str = "category",
        equal: bool = False,
        constant: float = 0.0,
    ) -> None:
        """A law over ``terms``, its terms labelled ``by`` their cell's category, sector or
        period."""
        labels = []
        for r in terms:
            _, period, key = self.rows[r]
            if by == "sector":
                labels.append(key.sector)
            elif by == "period":
                labels.append(str(period))
            else:
                labels.append(f"{key.table}/{key.category}")
        self.laws.append(Law(terms, name, labels, equal, constant))

    def _within(self, scope: Mapping[tuple[str, str], int]) -> None:
        add = self._add
        for name, whole, parts in self._partitions(scope):
            # The process map lists only the edges some trajectory took, and no withheld one:
            # a reader cannot tell an edge nobody took from a withheld one, so a node's edges
            # with no cell may hold the rest of it (``dynamics``: "zero or withheld").
            equal = name[0] != "dynamics"
            add({whole: 1.0, **dict.fromkeys(parts.values(), -1.0)}, ("parts", *name), equal=equal)
        for (table, category), r in scope.items():
            if is_once(table, category):
                add({r: -1.0}, ("once", table, category), constant=1.0)
        consultations = scope.get(("participation", "consultations"))
        at_the_table = [
            r
            for (t, c), r in scope.items()
            if t == "participation" and c.startswith("at_the_table:")
        ]
        bands = [scope.get(("participation", f"org_kinds:{b}")) for b in ("1", "2", "3+")]
        if at_the_table and all(b is not None for b in bands):
            one, two, more = (b for b in bands if b is not None)
            # A consultation has a participant, so an organisation of some kind at the table:
            # one kind in band 1, two in band 2, three or more in band 3+.
            at_least = dict.fromkeys(at_the_table, 1.0)
            add(_merged(at_least, {one: -1.0, two: -2.0, more: -3.0}), ("kinds_at_least",))
            at_most = {one: 1.0, two: 2.0, more: float(max(3, len(at_the_table)))}
            add(_merged(at_most, dict.fromkeys(at_the_table, -1.0)), ("kinds_at_most",))
        if consultations is not None:
            for r in at_the_table:
                add({consultations: 1.0, r: -1.0}, ("at_a_consultation", self.rows[r][2].category))
            milestones = [
                scope[("procedures", m)] for m in _MILESTONES if ("procedures", m) in scope
            ]
            if milestones:
                add({consultations: 1.0, **dict.fromkeys(milestones, -1.0)}, ("milestones",))
        blocked = scope.get(("blocks", "blocked"))
        if blocked is not None:
            reasons = [
                r for (t, c), r in scope.items() if t == "blocks" and c.startswith("reason:")
            ]
            ended = [r for (t, c), r in scope.items() if t == "blocks" and c.startswith("ended:")]
            still_open = scope.get(("blocks", "still_open"))
            if reasons:
                add({**dict.fromkeys(reasons, 1.0), blocked: -1.0}, ("a_reason",))
            if ended:
                add({blocked: 1.0, **dict.fromkeys(ended, -1.0)}, ("one_ending",))
                if still_open is not None:
                    terms = {**dict.fromkeys(ended, 1.0), still_open: 1.0, blocked: -1.0}
                    add(terms, ("ended_or_open",))
        self._parts_of_a_whole(scope)
        handovers = scope.get(("continuity", "handovers"))
        handed_over = scope.get(("continuity", "trajectories_handed_over"))
        if handovers is not None and handed_over is not None:
            add({handovers: 1.0, handed_over: -1.0}, ("handed_over",))
            # No unit has thousands of handovers in a period; with none, it was not handed over.
            add({handed_over: 1_000.0, handovers: -1.0}, ("handovers",))
        self._early(scope)

    def _parts_of_a_whole(self, scope: Mapping[tuple[str, str], int]) -> None:
        """A unit counting in a part counts in its whole (``tables.count_cells``' groups, and
        what the flow implies): repairs must keep these too."""
        at = scope.get
        pairs = [
            (("flow", "active"), ("flow", "accepted")),  # accepted in the period: running then
            (("flow", "active"), ("flow", "closed")),  # closed in it: running until then
            (("flow", "active"), ("flow", "blocked")),
            (("flow", "closed"), ("procedures", "closed_with_follow_up_planned")),
            (("blocks", "blocked"), ("blocks", "still_open")),
            (("continuity", "handovers"), ("continuity", "coordination_transferred")),
            *(
                (("blocks", "blocked"), (t, c))
                for (t, c) in scope
                if t == "blocks" and c.startswith("reason:")
            ),
        ]
        for whole, part in pairs:
            outer, inner = at(whole), at(part)
            if outer is not None and inner is not None:
                self._add({outer: 1.0, inner: -1.0}, ("part_of", *whole, *part))
        referrals = at(("flow", "referrals"))
        decided = [at(("flow", f"referrals:{d}")) for d in ("accepted", "declined")]
        if referrals is not None and any(r is not None for r in decided):
            # A referral is accepted or declined, not both.
            terms = {referrals: 1.0, **{r: -1.0 for r in decided if r is not None}}
            self._add(terms, ("decided_once",))
        flow_blocked, blocks_blocked = at(("flow", "blocked")), at(("blocks", "blocked"))
        if flow_blocked is not None and blocks_blocked is not None:
            self._add({flow_blocked: 1.0, blocks_blocked: -1.0}, ("same_blocked",), equal=True)

    def _early(self, scope: Mapping[tuple[str, str], int]) -> None:
        """A trajectory in the early-factor tables counts in one of the four cells of every
        factor, blocked or not alike."""
        cells: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for (table, category), r in scope.items():
            if table == "dynamics" and category.startswith("early:"):
                _, factor, _, outcome = category.split(":")
                cells[factor][outcome].append(r)
        factors = sorted(cells)
        for factor in factors:
            terms = {r: -1.0 for found in cells[factor].values() for r in found}
            self._add(terms, ("early_once", factor), constant=1.0)
        for first, other in pairwise(factors):
            for outcome in sorted({*cells[first], *cells[other]}):
                terms = _merged(
                    dict.fromkeys(cells[first][outcome], 1.0),
                    dict.fromkeys(cells[other][outcome], -1.0),
                )
                self._add(terms, ("early", first, other, outcome), equal=True)

    def _across_sectors(self) -> None:
        """A unit counts in its sector's cell as in its region's: ``*`` is the sectors' sum.
        One name for all: a unit is of one sector, in every cell."""
        sectors: dict[tuple[int | None, str, str, str], list[int]] = defaultdict(list)
        for i, (release, _, key) in enumerate(self.rows):
            # (Not a quantile's size: it is a row only where its quartiles were released.)
            if key.sector != ALL_SECTORS and not key.category.startswith(SIZE_PREFIX):
                sectors[(release, key.table, key.region, key.category)].append(i)
        for (release, table, region, category), rows in sectors.items():
            whole = self.index.get((release, CellKey(table, region, ALL_SECTORS, category)))
            if whole is not None:
                terms = {whole: 1.0, **dict.fromkeys(rows, -1.0)}
                self._add(terms, ("sectors",), by="sector", equal=True)

    def _across_periods(self) -> None:
        """A year and its quarters, cell by cell of the regions' all-sectors cells: each version
        of the year with the latest version of each quarter, and each version of a quarter with
        the latest of the year and of the other quarters."""
        for year, year_versions in self._years.items():
            quarters = self._quarters.get(year)
            if not quarters:
                continue
            latest = {q: found[-1] for q, found in quarters.items()}
            pairings: list[tuple[int | None, dict[int, int | None]]] = [
                (y, latest) for y in year_versions
            ]
            for q, found in quarters.items():
                pairings += [(year_versions[-1], {**latest, q: v}) for v in found[:-1]]
            cells = {
                (key.table, key.region, key.category)
                for release, _, key in self.rows
                if release in year_versions and key.sector == ALL_SECTORS
            }
            for table, region, category in sorted(cells):
                kind = period_kind(table, category)
                if kind is None:
                    continue
                key = CellKey(table, region, ALL_SECTORS, category)
                for year_release, chosen in pairings:
                    y = self.index.get((year_release, key))
                    held = {q: self.index.get((v, key)) for q, v in chosen.items()}
                    present = {q: r for q, r in held.items() if r is not None}
                    if y is not None and present:
                        name = ("period", kind, table, category)
                        self._period_law(name, kind, y, present, complete=len(present) == 4)

    def _period_law(
        self,
        name: tuple[str, ...],
        kind: str,
        y: int,
        quarters: Mapping[int, int],
        complete: bool,
    ) -> None:
        def add(terms: Mapping[int, float], equal: bool = False) -> None:
            self._add(terms, name, by="period", equal=equal)

        if kind in (_SUM, _GROWS):
            # At least the sum of the quarters released (and, for dated events, exactly the
            # sum of all four).
            add(
                _merged({y: 1.0}, dict.fromkeys(quarters.values(), -1.0)),
                equal=kind == _SUM and complete,
            )
        elif kind == _ANY:
            for r in quarters.values():
                add({y: 1.0, r: -1.0})
            if complete:
                add(_merged(dict.fromkeys(quarters.values(), 1.0), {y: -1.0}))
        elif kind in (_LAST, _AT_END) and 4 in quarters:
            add({y: 1.0, quarters[4]: -1.0}, equal=kind == _LAST)
        elif kind == _ENDED and complete:
            add(_merged(dict.fromkeys(quarters.values(), 1.0), {y: -1.0}))

    # --- checking and repairing types ------------------------------------------------------------

    def keeps(self, vector: Mapping[int, float], source: Mapping[int, float]) -> bool:
        """Whether a type made from ``source`` (a real unit's vector, or nothing) keeps every
        law as its source does, and is of one sector, as every unit is."""
        return self._one_sector(vector) and not self._broken(vector, source)

    def _one_sector(self, vector: Mapping[int, float]) -> bool:
        sectors = {self.rows[r][2].sector for r, a in vector.items() if a}
        return len(sectors - {ALL_SECTORS}) <= 1

    def _broken(
        self,
        vector: Mapping[int, float],
        source: Mapping[int, float],
        before: dict[int, float] | None = None,
    ) -> list[Law]:
        """The laws ``vector`` does not keep as ``source`` does (only a law over a row where
        they differ can be one); ``before`` keeps each law's value in ``source`` between
        calls with the same source."""
        broken: list[Law] = []
        seen: set[int] = set()
        for r in _changed(vector, source):
            for law in self.touching.get(r, ()):
                if id(law) not in seen:
                    seen.add(id(law))
                    if law.short_of(vector, source, _before(law, source, before)):
                        broken.append(law)
        return broken

    def variants(
        self, vector: Mapping[int, float], source: Mapping[int, float], limit: int = _VARIANTS
    ) -> list[dict[int, float]]:
        """``vector`` if it keeps the laws as ``source`` does, else its repairs that do (at most
        ``limit``; none when no repair is found).

        First a year and its quarters: a change to a year's cells made in one quarter's too
        (a variant per quarter; a unit taken out of the year is taken out of every quarter),
        or a change to a quarter's made in the year's (and the sector's cell of the year).
        Then a short search: one law broken at a time (the first by name), mended in every
        scope it is broken in alike, by each term it could be mended by (a part swapped for
        another, a whole counted in a part, the unit's sector), changing only rows the type
        had left as in ``source``. The result depends on the rows' identities only, never on
        their numbering, so the audit and the tests' oracle find the same types."""
        vector = {r: a for r, a in vector.items() if a}
        if self.keeps(vector, source):
            return [vector]
        found: list[dict[int, float]] = []
        seen: set[_Shape] = set()
        for start in self._in_periods(vector, source):
            for mended in self._search(start, source):
                if not self._one_sector(mended):
                    continue  # each sector's cells mended alike, but another sector's left
                shape = self._shape(mended)
                if shape not in seen:
                    seen.add(shape)
                    found.append(mended)
                    if len(found) >= limit:
                        return found
        return found

    def _search(
        self, vector: dict[int, float], source: Mapping[int, float]
    ) -> list[dict[int, float]]:
        """``vector``'s repairs that keep every law: a best-first search over the broken laws,
        the candidates that leave the fewest laws broken (and the least missing) first. A
        mend changes a few rows, so only the laws over those are looked at again."""
        fixed = frozenset(_changed(vector, source))
        before: dict[int, float] = {}
        start = {
            law: law.short_of(vector, source, _before(law, source, before))
            for law in self._broken(vector, source, before)
        }
        found: list[dict[int, float]] = []
        # A candidate: the type, the laws it breaks (how far), the rows mended since ``vector``.
        frontier: list[tuple[dict[int, float], dict[Law, float], frozenset[int]]] = [
            (vector, start, frozenset())
        ]
        for _ in range(_DEPTH):
            following: dict[
                _Shape, tuple[tuple[int, float], dict[int, float], dict[Law, float], frozenset[int]]
            ] = {}
            for current, broken, touched in frontier:
                if not broken:
                    found.append(current)
                    continue
                name = min(law.name for law in broken)
                instances = [law for law in broken if law.name == name]
                labels = sorted(
                    {
                        label
                        for law in instances
                        for r, label in zip(law.rows, law.labels, strict=True)
                        if r not in fixed
                    }
                )
                for label in labels:
                    mended = self._mend(current, source, instances, label, fixed, before)
                    if mended is None:
                        continue
                    result, changed = mended
                    now = touched | changed
                    # By the rows mended only: every candidate starts from ``vector``.
                    shape = tuple(sorted((self._rank[r], result.get(r, 0.0)) for r in now))
                    if shape in following:
                        continue
                    still = dict(broken)
                    for r in changed:
                        for law in self.touching.get(r, ()):
                            short = law.short_of(result, source, _before(law, source, before))
                            if short:
                                still[law] = short
                            else:
                                still.pop(law, None)
                    score = (len(still), sum(abs(short) for short in still.values()))
                    following[shape] = (score, result, still, now)
            if not following:
                return found
            ranked = sorted(following.items(), key=lambda item: (item[1][0], item[0]))
            frontier = [(result, still, now) for _, (_, result, still, now) in ranked[:_FRONTIER]]
        return found + [current for current, broken, _ in frontier if not broken]

    def _in_periods(
        self, vector: Mapping[int, float], source: Mapping[int, float]
    ) -> list[dict[int, float]]:
        """``vector``, and its variants with a change to a year's cells made in a quarter's too
        or a change to a quarter's made in the year's."""
        changes = _changed(vector, source)
        out: list[dict[int, float]] = [dict(vector)]
        for year, year_versions in self._years.items():
            quarters = self._quarters.get(year)
            if not quarters:
                continue
            in_year = [r for r in changes if self.rows[r][0] in year_versions]
            in_quarters = [r for r in changes if self.rows[r][0] in self._quarter_releases[year]]
            if in_year and not in_quarters:
                out += [
                    variant
                    for base in out
                    for variant in self._into_quarters(base, source, in_year, changes, quarters)
                ]
            elif in_quarters and not in_year:
                out += [
                    variant
                    for base in out
                    for variant in self._into_year(base, source, in_quarters, changes, year)
                ]
        if len(out) > 1 and any(law.name[0] == "period" for law in self._broken(vector, source)):
            del out[0]  # the change left out of the year or the quarters: no repair saves it
        return out

    def _into_quarters(
        self,
        vector: Mapping[int, float],
        source: Mapping[int, float],
        rows: Sequence[int],
        changes: Mapping[int, float],
        quarters: Mapping[int, Sequence[int | None]],
    ) -> list[dict[int, float]]:
        """The year's changes in the quarters: what it counts in more, in one quarter (a
        variant per quarter); what it no longer counts in, in none."""
        held = [
            r
            for r in rows
            if self.rows[r][2].sector == ALL_SECTORS
            # (A year's process map only has to hold its quarters': counting in more of it
            # asks nothing of them, and a trajectory is in its referral quarter's map only.)
            and period_kind(self.rows[r][2].table, self.rows[r][2].category) not in (None, _GROWS)
        ]
        if not held:
            return []
        lifted = [r for r in held if changes[r] > 0]
        gone = [r for r in held if changes[r] < 0 and not vector.get(r, 0.0)]
        out = []
        for chosen in [[q] for q in quarters] if lifted else [list(quarters)]:
            variant = dict(vector)
            for r in lifted:
                key = self.rows[r][2]
                kind = period_kind(key.table, key.category)
                for q in chosen:
                    for v in quarters[q]:
                        j = self.index.get((v, key))
                        if j is not None:
                            base = source.get(j, 0.0)
                            variant[j] = base + changes[r] if kind == _SUM else max(base, 1.0)
            for r in gone:
                key = self.rows[r][2]
                for found in quarters.values():
                    for v in found:
                        j = self.index.get((v, key))
                        if j is not None:
                            variant[j] = 0.0
            out.append({r: a for r, a in variant.items() if a})
        return out

    def _into_year(
        self,
        vector: Mapping[int, float],
        source: Mapping[int, float],
        rows: Sequence[int],
        changes: Mapping[int, float],
        year: int,
    ) -> list[dict[int, float]]:
        """A quarter's changes in the year, in its region's cell and its sector's (the unit's
        sector, or a variant per sector where ``source`` tells none); a unit no longer counting
        in a state in the quarter no longer does in the year, or still does (another quarter)."""
        known = sorted(self.rows[r][2].sector for r in source if r in self._year_sector_rows[year])
        sectors: list[str | None] = [known[0]] if known else [*self._year_sectors.get(year, [])]
        # Per cell, the change in each quarter (its latest version's: a type changes every
        # version of a period alike), added up over the quarters.
        by_quarter: dict[CellKey, dict[int, tuple[int, float]]] = defaultdict(dict)
        for r in rows:
            release, period, key = self.rows[r]
            if period is None or period.quarter is None:
                continue
            order = _release_order(release)
            if order >= by_quarter[key].get(period.quarter, (-1, 0.0))[0]:
                by_quarter[key][period.quarter] = (order, changes[r])
        out = []
        for sector in sectors or [None]:
            for keep in (False, True):
                variant = dict(vector)
                for key, found in by_quarter.items():
                    kind = period_kind(key.table, key.category)
                    if kind is None:
                        continue
                    total = sum(change for _, change in found.values())
                    lifted = any(change > 0 for _, change in found.values())
                    cells = [key] if sector is None else [key, key._replace(sector=sector)]
                    for v in self._years[year]:
                        for cell in cells:
                            j = self.index.get((v, cell))
                            if j is None:
                                continue
                            base = source.get(j, 0.0)
                            if kind in (_SUM, _GROWS):
                                variant[j] = max(0.0, base + total)
                            elif lifted:
                                variant[j] = max(base, 1.0)
                            elif not keep:
                                variant[j] = 0.0
                out.append({r: a for r, a in variant.items() if a})
        return out

    def _shape(self, vector: Mapping[int, float]) -> _Shape:
        """``vector`` by its rows' ranks: the same whatever the rows' numbering."""
        return tuple(sorted((self._rank[r], a) for r, a in vector.items() if a))

    def _mend(
        self,
        vector: Mapping[int, float],
        source: Mapping[int, float],
        laws: Sequence[Law],
        label: str,
        fixed: frozenset[int],
        before: dict[int, float],
    ) -> tuple[dict[int, float], set[int]] | None:
        """``vector`` with each of ``laws`` mended by its term labelled ``label`` (the least
        whole change of that row toward keeping the law, one step at a time for an
        inequality), and the rows changed; ``None`` if a row would go negative."""
        mended = dict(vector)
        changed: set[int] = set()
        for law in laws:
            short = law.short_of(mended, source, _before(law, source, before))
            if not short:
                continue
            for r, c, found in zip(law.rows, law.coefs, law.labels, strict=True):
                if found != label or r in fixed:
                    continue
                if law.equal:
                    change = -short / c
                else:
                    # One step at a time: what is missing may be spread over several terms
                    # (three kinds at a consultation of band 3+ are three kinds, not one
                    # kind three times).
                    change = math.ceil(min(short, 1.0) / abs(c) - _TOLERANCE) * math.copysign(1, c)
                amount = mended.get(r, 0.0) + change
                if amount < -_TOLERANCE:
                    return None
                amount = max(0.0, round(amount, 9))
                if amount:
                    mended[r] = amount
                else:
                    mended.pop(r, None)
                changed.add(r)
                break
        return mended, changed


def _release_order(release: int | None) -> int:
    """Releases in the order they were made: by number, the one being made (``None``) last."""
    return 1 << 62 if release is None else release


def _changed(vector: Mapping[int, float], source: Mapping[int, float]) -> dict[int, float]:
    """Row → how much ``vector`` differs from ``source`` there, for every row where it does."""
    return {
        r: vector.get(r, 0.0) - source.get(r, 0.0)
        for r in {*vector, *source}
        if vector.get(r, 0.0) != source.get(r, 0.0)
    }


def _before(law: Law, source: Mapping[int, float], cache: dict[int, float] | None) -> float:
    """The law's value in ``source``, kept in ``cache`` (by the law's id)."""
    if cache is None:
        return law.value(source)
    found = cache.get(id(law))
    if found is None:
        found = cache[id(law)] = law.value(source)
    return found


def _merged(*terms: Mapping[int, float]) -> dict[int, float]:
    merged: dict[int, float] = {}
    for found in terms:
        for r, c in found.items():
            merged[r] = merged.get(r, 0.0) + c
    return merged
