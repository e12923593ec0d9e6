"""An independent oracle for the disclosure audit: one linear programme over the whole release
(no decomposition, no warm start, no incremental state), solved by SciPy's ``linprog``.

It restates the model from the issue in the plainest terms: a variable per atom (units with the
same contribution vector across this release and every earlier version), every published cell an
equality, and for an empty withheld cell one hypothetical unit type counting in the cell, its
group and the all-sectors cell, transitively.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from projections.statistics.model import (
    ALL_SECTORS,
    CellKey,
    Population,
    Protected,
    PublishedVersion,
    protection_interval,
)


@dataclass(frozen=True)
class Range:
    release: int | None
    key: CellKey
    value: int
    low: float
    high: float

    def keeps_interval(self, k: int) -> bool:
        needed_low, needed_high = protection_interval(self.value, k)
        return self.low <= needed_low + 1e-6 and self.high >= needed_high - 1e-6


def published_counts(protected: Protected) -> dict[CellKey, int]:
    return {
        cell.key: int(cell.value)
        for cell in protected.cells
        if cell.kind == "count" and cell.value is not None
    }


def ranges(
    population: Population,
    published: Mapping[CellKey, int],
    earlier: Sequence[PublishedVersion] = (),
) -> list[Range]:
    """The range of every withheld count cell of this release and of ``earlier``."""
    versions: list[tuple[int | None, Mapping[str, Mapping[CellKey, int]], set[CellKey], dict]] = [
        (None, population.contributions, set(population.counts), dict(published))
    ]
    for version in earlier:
        cells = set(version.published)
        for unit_cells in version.contributions.values():
            cells.update(unit_cells)
        versions.append((version.number, version.contributions, cells, dict(version.published)))
    rows: list[tuple[int | None, CellKey]] = [
        (number, key) for number, _, cells, _ in versions for key in sorted(cells)
    ]
    where = {row: i for i, row in enumerate(rows)}
    units = {unit for _, contributions, _, _ in versions for unit in contributions}
    atoms: Counter[tuple[int, ...]] = Counter()
    for unit in units:
        vector = [0] * len(rows)
        for number, contributions, _, _ in versions:
            for key, amount in contributions.get(unit, {}).items():
                if (number, key) in where:
                    vector[where[(number, key)]] += amount
        atoms[tuple(vector)] += 1
    matrix = np.array(list(atoms), dtype=float).T.reshape(len(rows), len(atoms))
    truth = matrix @ np.array(list(atoms.values()), dtype=float)
    fixed = {
        where[(number, key)]: value
        for number, _, _, published_here in versions
        for key, value in published_here.items()
    }
    groups = {key: cell.group for key, cell in population.counts.items() if cell.group}
    found: list[Range] = []
    for i, (number, key) in enumerate(rows):
        if i in fixed:
            continue
        columns = matrix
        if truth[i] == 0:
            columns = np.hstack([matrix, _hypothetical(matrix, number, key, groups, where)])
        eq_rows = sorted(fixed)
        bounds = []
        for sense in (1.0, -1.0):
            result = linprog(
                sense * columns[i],
                A_eq=columns[eq_rows],
                b_eq=[fixed[r] for r in eq_rows],
                bounds=(0, None),
                method="highs",
            )
            if result.status == 3:  # unbounded
                bounds.append(-sense * np.inf)
            else:
                assert result.status == 0, result.message
                bounds.append(sense * result.fun)
        found.append(Range(number, key, round(truth[i]), bounds[0], bounds[1]))
    return found


def _hypothetical(
    matrix: np.ndarray,
    number: int | None,
    key: CellKey,
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
) -> np.ndarray:
    """The atoms of the cell's group (else of its all-sectors cell) also counted in the cell
    and its holders; with none, one type counting in the cell and its holders only."""
    holders = _holders(number, key, groups, where)
    base = (number, groups[key]) if key in groups else None
    if base not in where:
        base = (number, key._replace(sector=ALL_SECTORS))
    own = where[(number, key)]
    chosen = where.get(base, own)
    types = []
    if chosen != own:
        for column in matrix.T:
            if column[chosen] > 0:
                raised = column.copy()
                raised[holders] = np.maximum(raised[holders], 1.0)
                types.append(raised)
    if not types:
        alone = np.zeros(matrix.shape[0])
        alone[holders] = 1.0
        types.append(alone)
    return np.array(types).T


def _holders(
    number: int | None,
    key: CellKey,
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
) -> list[int]:
    seen = {key}
    todo = [key]
    while todo:
        current = todo.pop()
        parents = [groups[current]] if current in groups else []
        if current.sector != ALL_SECTORS:
            parents.append(current._replace(sector=ALL_SECTORS))
        for parent in parents:
            if (number, parent) in where and parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return [where[(number, cell)] for cell in seen]
