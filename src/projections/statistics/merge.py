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
  none of its group when the group's value was published (``all_or_none``);
- secondary suppression: within a region, table and category the ``*`` cell is the sum of the
  sector cells (exact: each trajectory has one sector). Every count the merge newly withholds
  is audited by linear programming over those relations, and more cells are withheld (the
  smallest published one of the failing relation) until each has the range
  ``model.protection_interval(v, k)`` open. Cells withheld in the inputs need no new audit: the
  merge only ever withholds more, which leaves their ranges as wide as their deployment's audit
  found them, or wider;
- a quantile is withheld when the count of its units is withheld or below k (published, it
  would bound that count: a median of n needs n ≥ 2k), or when fewer than k units would lie on
  either side of it;
- rates are recomputed from the merged release's published counts only;
- the ``dynamics`` table (a process map) of an input whose k is smaller than the merged one is
  left out: its edges add up to its nodes, relations this merge does not audit, so it cannot
  be protected again here. From an input at the merged k it passes as it was released.

Pure: no I/O. Inputs are verified (``document.verify_release``) before they reach it.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
from scipy.optimize import linprog

from application.errors import OperatorError
from projections.statistics.document import CellDocument, ReleaseDocument, TableDocument
from projections.statistics.dynamics import DYNAMICS
from projections.statistics.model import ALL_SECTORS, AuditedCell, CellKey, protection_interval
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
                # A process map's edges add up to its nodes, relations this merge does not
                # audit: protected only at its own smaller k, it is left out, not withheld
                # again (a withheld edge of it is never listed anyway).
                continue
            for cell in table.cells:
                if cell.region not in regions:
                    raise MergeRefused(
                        f"{document.describe()} has a cell of region {cell.region!r} in table "
                        f"{table.name!r}, but does not list that region among its own"
                    )
            cells_by_table[table.name].extend(table.cells)
    tables: list[TableDocument] = []
    audit: list[AuditedCell] = []
    for name in sorted(cells_by_table):
        table, findings = _merge_table(name, cells_by_table[name], k)
        tables.append(table)
        audit.extend(findings)
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


def _merge_table(
    name: str, cells: list[CellDocument], k: int
) -> tuple[TableDocument, list[AuditedCell]]:
    counts = _Counts({}, {}, {})
    others: list[CellDocument] = []
    for cell in cells:
        if cell.kind != "count":
            others.append(cell)
            continue
        key = (cell.region, cell.sector, cell.category)
        if key in counts.known:
            raise MergeRefused(f"table {name!r} has the count {'/'.join(key)} twice")
        counts.known[key] = cell.value
        counts.withheld[key] = _inherited(cell)
        counts.group[key] = cell.group
    newly = _primary(counts, k)
    findings = _secondary(name, counts, newly, k)
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
    return (
        TableDocument(
            name=name,
            cells=merged,
            withheld_by_rule=dict(sorted(withheld.items())),
            published_share=published / len(merged) if merged else 0.0,
        ),
        findings,
    )


def _inherited(cell: CellDocument) -> str | None:
    """The rule that withheld ``cell`` in its input (a value-less cell naming none counts as
    below k: the merge cannot vouch for it), or None when it was published."""
    if cell.value is None:
        return cell.withheld or "below_k"
    return None


def _primary(counts: _Counts, k: int) -> set[_Count]:
    """Withhold the published counts below the new k, and those saying all or none of a group
    whose value was published; return them (the cells the merge must audit)."""
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
        if whole is not None and (value == 0 or value == whole):
            counts.withheld[key] = "all_or_none"
            newly.add(key)
    return newly


def _relations(counts: _Counts) -> dict[tuple[str, str], tuple[_Count, list[_Count]]]:
    """Per (region, category): the ``*`` cell and its sector cells, where both exist."""
    sectors: dict[tuple[str, str], list[_Count]] = defaultdict(list)
    for key in counts.known:
        region, sector, category = key
        if sector != ALL_SECTORS:
            sectors[(region, category)].append(key)
    return {
        (region, category): ((region, ALL_SECTORS, category), sorted(members))
        for (region, category), members in sectors.items()
        if (region, ALL_SECTORS, category) in counts.known
    }


def _secondary(name: str, counts: _Counts, newly: set[_Count], k: int) -> list[AuditedCell]:
    """Audit every newly withheld count and withhold the smallest published cell of a failing
    relation until each passes; return the passing findings."""
    findings: list[AuditedCell] = []
    audited = set(newly)
    for total, parts in _relations(counts).values():
        members = [total, *parts]
        while True:
            outcome = _audit(name, counts, total, parts, [m for m in members if m in audited], k)
            failing = [finding for finding in outcome if not finding.protected]
            if not failing:
                findings.extend(outcome)
                break
            candidates = [m for m in members if counts.published(m)]
            if not candidates:  # cannot happen: with all withheld, nothing is bounded
                raise MergeRefused(
                    f"table {name!r}: {failing[0].key.text()} stays narrowed with every cell of "
                    "its relation withheld; report this as a bug"
                )
            smallest = min(candidates, key=lambda m: (counts.known[m] or 0.0, m))
            counts.withheld[smallest] = "secondary"
            audited.add(smallest)
    return findings


def _audit(
    name: str,
    counts: _Counts,
    total: _Count,
    parts: list[_Count],
    audited: Iterable[_Count],
    k: int,
) -> list[AuditedCell]:
    """The range a reader of the published cells can narrow each ``audited`` cell to, by linear
    programming over ``total = sum(parts)``, every count at least zero."""
    audited = list(audited)
    if not audited:
        return []
    unknown = [m for m in [total, *parts] if not counts.published(m)]
    index = {member: i for i, member in enumerate(unknown)}
    row = [0.0] * len(unknown)
    known_side = 0.0  # sum(parts) - total over the published cells, moved to the right
    for member in [total, *parts]:
        sign = -1.0 if member == total else 1.0
        if member in index:
            row[index[member]] = sign
        else:
            known_side -= sign * (counts.known[member] or 0.0)
    findings = []
    for member in audited:
        objective = [0.0] * len(unknown)
        objective[index[member]] = 1.0
        low = _optimum(name, member, objective, row, known_side)
        high = -_optimum(name, member, [-c for c in objective], row, known_side)
        # Audited cells are those an input published: the merge knows their value.
        needed_low, needed_high = protection_interval(round(counts.known[member] or 0.0), k)
        findings.append(
            AuditedCell(
                key=CellKey(name, *member),
                release=None,
                low=low,
                high=high,
                needed_low=needed_low,
                needed_high=needed_high,
            )
        )
    return findings


def _optimum(
    name: str, member: _Count, objective: list[float], row: list[float], right: float
) -> float:
    result = linprog(
        objective,
        A_eq=[row],
        b_eq=[right],
        bounds=[(0, None)] * len(objective),
        method="highs",
    )
    if result.status == 3:  # unbounded: nothing the reader knows bounds the cell this way
        return -math.inf
    if result.status != 0:
        raise MergeRefused(
            f"table {name!r}, region {member[0]!r}, category {member[2]!r}: the published cells "
            f"contradict '*' being the sum of the sectors ({result.message}); the input is not "
            "a release of this rule-set"
        )
    return float(result.fun)


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
