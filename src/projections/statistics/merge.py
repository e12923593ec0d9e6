"""A macro release: the released statistics of several deployments merged into one (issue #12,
point 5). Seed 001 names the macro level: a *forum* of partners from several primary-care zones
("Houtland-Polder, Midden-West-Vlaanderen, RITS, Westhoek en Westkust-Polder"), at least once a
year; their regions may be served by different deployments, and the forum reads across them
without anyone's event data.

Each input is an exported release, already under disclosure control: a withheld cell has no
value, so the merge never learns what any deployment withheld. Like a release, the result's
cells say only that they are withheld; each table tallies the rules.
The merged release is held to the **largest k** of its inputs, so the rules are applied again
with what the merge knows:

- a cell withheld in its input stays withheld, for the same rule;
- a published count below the new k is withheld (``below_k``), and so is one that says all or
  none of its group, or all but fewer than the new k, when the group's value was published
  (``all_or_none``);
- secondary suppression: what a reader knows of a region's counts, across its tables, is that
  the ``*`` cell is the sum of the sector cells (each trajectory has one sector) and that the
  laws every trajectory keeps within a release hold summed over them (``laws.py``: parts that
  sum to their whole, a part within its whole, a process map's edges within their node, …;
  facts of the tables whatever rule-set the inputs were released under), each equality as two
  inequalities. One the values the inputs published contradict by themselves is left out (no
  law of these releases, and no reader can use it); the rest are kept, and inputs they still
  leave contradicting each other are refused. Every count the merge newly withholds is
  audited by linear programming over those relations, and more cells are withheld (of the
  published cells the failing bound rests on, the smallest) until each has the range
  ``model.protection_interval(v, k)`` open. Cells withheld in the inputs need no new audit:
  the merge only ever withholds more, which leaves their ranges as wide as their deployment's
  audit found them, or wider;
- a quantile is withheld when the count of its units is withheld or below k (published, it
  would bound that count: a median of n needs n ≥ 2k), or when fewer than k units would lie on
  either side of it;
- rates are recomputed from the merged release's published counts only;
- the ``dynamics`` table (a process map) of an input whose k is smaller than the merged one is
  left out: a map leaves out its withheld edges, so withholding more of it here could not be
  told from an edge nobody took, nor the laws over it held as a reader holds them. From an
  input at the merged k it passes as it was released, unless the merge withholds a count of
  its region again: then that region's map is left out too (``_without_maps_of``).

Pure: no I/O. Inputs are verified (``document.verify_release``) before they reach it.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import OptimizeResult, linprog

from application.errors import OperatorError
from projections.statistics.document import CellDocument, ReleaseDocument, TableDocument
from projections.statistics.dynamics import DYNAMICS
from projections.statistics.laws import Laws
from projections.statistics.model import (
    ALL_SECTORS,
    AuditedCell,
    CellKey,
    protection_interval,
)
from projections.statistics.store import public_reason


class MergeRefused(OperatorError):
    """Releases that cannot be merged into one; the message names them and why."""


#: (region, sector, category): a count cell within one table.
_Count = tuple[str, str, str]


def merge(
    documents: Sequence[ReleaseDocument], *, deployment: str, number: int, computed_at: datetime
) -> ReleaseDocument:
    """The macro release of ``documents`` (see the module docstring for the rules)."""
    merged, _ = merge_with_audit(
        documents, deployment=deployment, number=number, computed_at=computed_at
    )
    return merged


def merge_with_audit(
    documents: Sequence[ReleaseDocument], *, deployment: str, number: int, computed_at: datetime
) -> tuple[ReleaseDocument, tuple[AuditedCell, ...]]:
    """``merge``, and the audit's finding for every count the merge withheld that its inputs
    published (each ``protected``)."""
    _check_mergeable(documents)
    k = max(document.k for document in documents)
    cells_by_table: dict[str, list[CellDocument]] = defaultdict(list)
    for document in documents:
        regions = set(document.regions)
        for table in document.tables:
            if table.name == DYNAMICS and document.k < k:
                # Protected only at its own smaller k, a process map is left out, not withheld
                # again: its withheld edges are not listed, so the merge cannot tell them from
                # edges nobody took, nor audit an edge withheld here against them.
                continue
            for cell in table.cells:
                if cell.region not in regions:
                    raise MergeRefused(
                        f"{document.describe()} has a cell of region {cell.region!r} in table "
                        f"{table.name!r}, but does not list that region among its own"
                    )
            cells_by_table[table.name].extend(table.cells)
    counts: dict[str, _Counts] = {}
    others: dict[str, list[CellDocument]] = {}
    for name in sorted(cells_by_table):
        counts[name], others[name] = _table_counts(name, cells_by_table[name])
    newly = {name: _primary(table_counts, k) for name, table_counts in counts.items()}
    _without_maps_of(counts, others, newly)
    audit = _secondary(counts, newly, k)
    tables = [_assemble(name, counts[name], others[name], k) for name in sorted(counts)]
    policies: dict[str, str] = {}
    for document in documents:
        policies.update(document.deadline_policies)
    merged = ReleaseDocument(
        deployment=deployment,
        number=number,
        period=documents[0].period,
        computed_at=computed_at,
        # A macro release reads no log of its own: its inputs name theirs.
        log_position=0,
        rule_set=documents[0].rule_set,
        k=k,
        deadline_policies=dict(sorted(policies.items())),
        regions=sorted(region for document in documents for region in document.regions),
        tables=tables,
        merged_from=sorted(f"{document.deployment}#{document.number}" for document in documents),
    )
    return merged, tuple(audit)


def _check_mergeable(documents: Sequence[ReleaseDocument]) -> None:
    """One period, one rule-set, each region from one deployment only."""
    if not documents:
        raise MergeRefused("no releases to merge")
    for attribute, what in (("period", "periods"), ("rule_set", "rule-sets")):
        values = {getattr(document, attribute) for document in documents}
        if len(values) > 1:
            listed = "; ".join(
                f"{document.describe()}: {getattr(document, attribute)}" for document in documents
            )
            raise MergeRefused(
                f"the releases have different {what} ({listed}); merge releases of one period "
                "computed under one rule-set"
            )
    seen: dict[str, ReleaseDocument] = {}
    for document in documents:
        for region in document.regions:
            if (earlier := seen.get(region)) is not None:
                raise MergeRefused(
                    f"region {region!r} is in {earlier.describe()} and in "
                    f"{document.describe()}; a region may come from one deployment only"
                )
            seen[region] = document


@dataclass(slots=True)
class _Counts:
    """A table's count cells as the merge knows them: the value its input published (None when
    withheld there) and the rule that withholds it now (None: published)."""

    known: dict[_Count, float | None]
    withheld: dict[_Count, str | None]
    group: dict[_Count, str | None]

    def published(self, key: _Count) -> bool:
        return key in self.withheld and self.withheld[key] is None


def _without_maps_of(
    counts: dict[str, _Counts], others: dict[str, list[CellDocument]], newly: dict[str, set[_Count]]
) -> None:
    """Leave out the process map of every region with a count withheld again, as that of an
    input at a smaller k: a map does not list its withheld edges, so the laws over it (an
    edge within its node, the early factors' same trajectories) could not be held here as a
    reader holds them. (A map passes only from an input at the merged k, whose own rules
    withheld what these would: this is a guard, not expected to take any.)"""
    maps = counts.get(DYNAMICS)
    if maps is None:
        return
    again = _again(newly)
    for key in [key for key in maps.known if key[0] in again]:
        del maps.known[key], maps.withheld[key], maps.group[key]
    others[DYNAMICS] = [cell for cell in others[DYNAMICS] if cell.region not in again]
    newly[DYNAMICS] = {key for key in newly[DYNAMICS] if key[0] not in again}


def _again(newly: dict[str, set[_Count]]) -> set[str]:
    """The regions with a count withheld again."""
    return {region for keys in newly.values() for region, _, _ in keys}


def _table_counts(name: str, cells: list[CellDocument]) -> tuple[_Counts, list[CellDocument]]:
    """A table's counts as its inputs released them, and its other cells."""
    counts = _Counts({}, {}, {})
    others: list[CellDocument] = []
    for cell in cells:
        if cell.kind != "count":
            others.append(cell)
            continue
        key = (cell.region, cell.sector, cell.category)
        if key in counts.known:
            raise MergeRefused(f"table {name!r} has the count {'/'.join(key)} twice")
        if cell.value is not None and not (math.isfinite(cell.value) and cell.value >= 0):
            raise MergeRefused(
                f"table {name!r} has the count {'/'.join(key)} = {cell.value}, which no count "
                "is; the input is not a release this deployment can merge"
            )
        counts.known[key] = cell.value
        counts.withheld[key] = _inherited(cell)
        counts.group[key] = cell.group
    return counts, others


def _assemble(name: str, counts: _Counts, others: list[CellDocument], k: int) -> TableDocument:
    """The merged table: its counts as the rules left them, quantiles and rates after them."""
    merged = [
        CellDocument(
            region=region,
            sector=sector,
            category=category,
            kind="count",
            value=counts.known[(region, sector, category)] if reason is None else None,
            withheld=reason,
            group=counts.group[(region, sector, category)],
        )
        for (region, sector, category), reason in counts.withheld.items()
    ]
    merged += [_quantile(cell, counts, k) for cell in others if cell.kind == "quantile"]
    merged += [_rate(cell, counts) for cell in others if cell.kind == "rate"]
    merged.sort(key=lambda c: (c.region, c.sector, c.category, c.kind, c.quantile or 0.0))
    if name == DYNAMICS:  # a withheld edge is not drawn or counted (as in a release)
        merged = [cell for cell in merged if cell.withheld is None]
    withheld = Counter(cell.withheld for cell in merged if cell.withheld is not None)
    published = sum(1 for cell in merged if cell.withheld is None)
    # Each cell says only that it is withheld; the table tallies the rules (as a release does).
    merged = [
        msgspec.structs.replace(cell, withheld=public_reason(cell.withheld))
        if cell.withheld is not None
        else cell
        for cell in merged
    ]
    return TableDocument(
        name=name,
        cells=merged,
        withheld_by_rule=dict(sorted(withheld.items())),
        published_share=published / len(merged) if merged else 0.0,
    )


def _inherited(cell: CellDocument) -> str | None:
    """The rule that withheld ``cell`` in its input (a value-less cell naming none counts as
    below k: the merge cannot vouch for it), or None when it was published."""
    if cell.value is None:
        return cell.withheld or "below_k"
    return None


def _primary(counts: _Counts, k: int) -> set[_Count]:
    """Withhold the published counts below the new k, and those saying all or none of a group
    whose value was published, or all of it but fewer than k (``disclosure.primary_suppression``);
    return them (the cells the merge must audit)."""
    newly: set[_Count] = set()
    for key, value in counts.known.items():
        if value is None or counts.withheld[key] is not None:
            continue
        if value < k:
            counts.withheld[key] = "below_k"
            newly.add(key)
            continue
        group = counts.group[key]
        whole = counts.known.get((key[0], key[1], group)) if group is not None else None
        if whole is not None and (value == 0 or 0 <= whole - value < k):
            counts.withheld[key] = "all_or_none"
            newly.add(key)
    return newly


#: (table, region, sector, category): a count cell of the merged release.
_Cell = tuple[str, str, str, str]
#: Tolerance of the programmes' answers (counts are whole numbers).
_TOLERANCE = 1e-6


@dataclass(slots=True)
class _Region:
    """One region's count cells across every table, and the linear relations a reader knows
    hold between them: ``*`` is the sum of the sectors, and the laws every trajectory keeps
    within a release (``laws.py``), summed over the trajectories."""

    cells: list[_Cell]
    counts: dict[str, _Counts]
    #: Relations ``Σ coefficient · cell ≥ 0``, each {cell index: coefficient}: an equality is
    #: two, one each way, so that a direction the inputs contradict goes alone.
    relations: list[dict[int, float]]
    #: The relations as a sparse matrix, and the cells in any, once settled (``_settle``).
    matrix: sparse.csr_matrix | None = None
    related: frozenset[int] = frozenset()

    def value(self, i: int) -> float | None:
        table, region, sector, category = self.cells[i]
        return self.counts[table].known[(region, sector, category)]

    def published(self, i: int) -> bool:
        table, region, sector, category = self.cells[i]
        return self.counts[table].published((region, sector, category))

    def bounds(self, known: bool = False) -> list[tuple[float, float | None]]:
        """A published cell is its value (with ``known``, any cell an input published); any
        other is a count, at least zero."""
        found: list[tuple[float, float | None]] = []
        for i in range(len(self.cells)):
            value = self.value(i)
            fixed = value is not None and (known or self.published(i))
            found.append((value, value) if fixed and value is not None else (0, None))
        return found


def _regions(counts: dict[str, _Counts], newly: dict[str, set[_Count]]) -> list[_Region]:
    """Per region with a count withheld again, its cells and relations (:class:`_Region`)."""
    by_region: dict[str, list[_Cell]] = defaultdict(list)
    for table, table_counts in sorted(counts.items()):
        for region, sector, category in sorted(table_counts.known):
            by_region[region].append((table, region, sector, category))
    again = _again(newly)
    regions = []
    for name, cells in sorted(by_region.items()):
        if name not in again:
            continue
        index = {cell: i for i, cell in enumerate(cells)}
        sums: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
        for i, (table, region, sector, category) in enumerate(cells):
            whole = index.get((table, region, ALL_SECTORS, category))
            if sector != ALL_SECTORS and whole is not None:
                sums[(table, category)][whole] = 1.0
                sums[(table, category)][i] = -1.0
        try:
            # One version, no period: only the laws within a release are built.
            found = Laws([(None, None, CellKey(*cell)) for cell in cells]).laws
        except (ValueError, IndexError) as error:
            raise MergeRefused(
                f"region {name!r}: a category the tables of this rule-set do not have "
                f"({error}); the input is not a release this deployment can merge"
            ) from error
        # Laws with a constant (a trajectory counted at most once) say nothing summed over
        # an unknown number of trajectories; the sectors' sums are stated above already.
        # (No process map is here: ``_without_maps_of`` left out the maps of the regions
        # audited, whose withheld cells a map does not list.)
        equalities = [*sums.values()]
        relations: list[dict[int, float]] = []
        for law in found:
            if law.constant != 0 or law.name == ("sectors",):
                continue
            terms = dict(zip(law.rows, law.coefs, strict=True))
            if law.equal:
                equalities.append(terms)
            else:
                relations.append(terms)
        for terms in equalities:
            relations += [terms, {i: -c for i, c in terms.items()}]
        regions.append(_Region(cells, counts, relations))
    return regions


def _secondary(
    counts: dict[str, _Counts], newly: dict[str, set[_Count]], k: int
) -> list[AuditedCell]:
    """Audit every newly withheld count against what a reader knows of its region (the
    sectors' sums and the laws) and withhold more published cells, the ones the failing bound
    rests on and the smallest first, until each passes; return the passing findings."""
    findings: list[AuditedCell] = []
    for region in _regions(counts, newly):
        _settle(region)
        audited = [
            i
            for i, (table, region_name, sector, category) in enumerate(region.cells)
            if (region_name, sector, category) in newly[table]
        ]
        passed: dict[int, AuditedCell] = {}
        while audited:
            failing: tuple[AuditedCell, set[int]] | None = None
            for i in audited:
                if i in passed:
                    continue
                finding, binding = _range(region, i, k)
                if finding.protected:
                    passed[i] = finding
                else:
                    failing = (finding, binding)
                    break
            if failing is None:
                break
            finding, binding = failing
            chosen = _to_withhold(region, binding)
            if chosen is None:
                raise MergeRefused(
                    f"{finding.key.text()} stays narrowed with every cell it rests on "
                    "withheld; report this as a bug"
                )
            table, region_name, sector, category = region.cells[chosen]
            region.counts[table].withheld[(region_name, sector, category)] = "secondary"
            audited.append(chosen)
            # Withholding only widens what a reader knows: what passed still passes.
        findings.extend(passed[i] for i in audited)
    return findings


def _to_withhold(region: _Region, binding: set[int]) -> int | None:
    """The published cell to withhold next: of those the failing bound rests on, the smallest
    (it costs the reader least); else the smallest published cell of the region in any
    relation with a withheld one."""
    candidates = [i for i in binding if region.published(i)]
    if not candidates:
        related = {
            i
            for relation in region.relations
            if any(not region.published(j) for j in relation)
            for i in relation
        }
        candidates = [i for i in related if region.published(i)]
    if not candidates:
        return None
    return min(candidates, key=lambda i: (region.value(i) or 0.0, region.cells[i]))


def _settle(region: _Region) -> None:
    """Leave out each relation the values the inputs published contradict by themselves (its
    cells an input withheld at zero where they add, however large where they take away, it
    still fails): no law of these releases, and no reader can use it. One that can hold is
    kept, whatever it says of the cells no input published — a relation kept that is false
    there only makes the merge withhold more. If those kept still contradict each other, the
    inputs are refused: no choice among them is the merge's to make."""
    kept = []
    for relation in region.relations:
        # Its largest value over what the inputs withheld: unbounded if one of them adds.
        largest = 0.0
        for i, c in relation.items():
            value = region.value(i)
            if value is None:
                if c > 0:
                    break
            else:
                largest += c * value
        else:
            if largest < -_TOLERANCE:
                continue
        kept.append(relation)
    region.relations = kept
    region.matrix = _matrix(kept, len(region.cells))
    region.related = frozenset(i for relation in kept for i in relation)
    if not kept:
        return
    result = _solve(np.zeros(len(region.cells)), region.matrix, region.bounds(known=True))
    if result.status != 0:
        raise MergeRefused(
            f"region {region.cells[0][1]!r}: the published cells contradict each other under "
            f"the sums over the sectors and the tables' laws ({result.message}); the inputs "
            "are not releases this deployment can merge"
        )


def _matrix(relations: list[dict[int, float]], columns: int) -> sparse.csr_matrix:
    """The relations as the rows of a sparse matrix over ``columns`` columns."""
    return sparse.csr_matrix(
        (
            [c for relation in relations for c in relation.values()],
            (
                [r for r, relation in enumerate(relations) for _ in relation],
                [i for relation in relations for i in relation],
            ),
        ),
        shape=(len(relations), columns),
    )


def _solve(
    objective: npt.NDArray[np.float64],
    matrix: sparse.csr_matrix,
    bounds: list[tuple[float, float | None]],
) -> OptimizeResult:
    """Minimise ``objective`` over the relations ``matrix · x ≥ 0`` within ``bounds``. HiGHS's
    presolve may answer "infeasible or unbounded" (status 4) where it cannot tell which (an
    audit's programme is always feasible: ``_settle`` solved it with more cells fixed):
    solved again without it, it says which."""
    problem = {
        "A_ub": -matrix,
        "b_ub": np.zeros(matrix.shape[0]),
        "bounds": bounds,
        "method": "highs",
    }
    result = linprog(objective, **problem)
    if result.status == 4:
        result = linprog(objective, options={"presolve": False}, **problem)
    return result


def _range(region: _Region, i: int, k: int) -> tuple[AuditedCell, set[int]]:
    """How far a reader can narrow cell ``i``, and the cells whose published values the bound
    that falls short rests on (a non-zero marginal)."""
    n = len(region.cells)
    table, region_name, sector, category = region.cells[i]
    # Audited cells are those an input published: the merge knows their value.
    needed_low, needed_high = protection_interval(round(region.value(i) or 0.0), k)
    ranges: list[float] = [0.0, math.inf]
    marginals: list[set[int]] = [set(), set()]
    if i in region.related and region.matrix is not None:  # else nothing bounds it
        bounds = region.bounds()
        for side, sign in enumerate((1.0, -1.0)):
            objective = np.zeros(n)
            objective[i] = sign
            result = _solve(objective, region.matrix, bounds)
            if result.status == 3:  # unbounded above: nothing a reader knows bounds it
                continue
            if result.status != 0:
                raise MergeRefused(
                    f"region {region_name!r}: the merge's own programme failed "
                    f"({result.message}); report this as a bug"
                )
            ranges[side] = sign * float(result.fun)
            shadow = np.abs(result.lower.marginals) + np.abs(result.upper.marginals)
            marginals[side] = {int(j) for j in np.flatnonzero(shadow > _TOLERANCE) if j != i}
    low, high = ranges
    finding = AuditedCell(
        key=CellKey(table, region_name, sector, category),
        release=None,
        low=low,
        high=high,
        needed_low=needed_low,
        needed_high=needed_high,
    )
    short: set[int] = set()
    if low > needed_low + _TOLERANCE:
        short |= marginals[0]
    if high < needed_high - _TOLERANCE:
        short |= marginals[1]
    return finding, short


def _quantile(cell: CellDocument, counts: _Counts, k: int) -> CellDocument:
    if cell.value is None:
        return cell if cell.withheld else _withhold(cell, "below_k")
    size_key = (cell.region, cell.sector, cell.group) if cell.group is not None else None
    if size_key is None or not counts.published(size_key):
        reason = counts.withheld.get(size_key) if size_key is not None else None
        return _withhold(cell, "secondary" if reason == "secondary" else "below_k")
    size = counts.known[size_key] or 0.0
    if size < k:
        return _withhold(cell, "below_k")
    share = cell.quantile if cell.quantile is not None else 0.5
    if min(share, 1 - share) * size < k:
        return _withhold(cell, "quantile_too_few")
    return cell


def _rate(cell: CellDocument, counts: _Counts) -> CellDocument:
    if cell.value is None:
        return cell if cell.withheld else _withhold(cell, "rate_part_withheld")
    if cell.numerator is None or cell.group is None:
        return _withhold(cell, "rate_part_withheld")
    numerator = (cell.region, cell.sector, cell.numerator)
    denominator = (cell.region, cell.sector, cell.group)
    if not (counts.published(numerator) and counts.published(denominator)):
        return _withhold(cell, "rate_part_withheld")
    over = counts.known[denominator] or 0.0
    if over == 0:
        return _withhold(cell, "rate_part_withheld")
    return _replace_value(cell, round((counts.known[numerator] or 0.0) / over, 4))


def _withhold(cell: CellDocument, reason: str) -> CellDocument:
    return msgspec.structs.replace(cell, value=None, withheld=reason)


def _replace_value(cell: CellDocument, value: float) -> CellDocument:
    return msgspec.structs.replace(cell, value=value, withheld=None)
