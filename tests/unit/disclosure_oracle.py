"""An independent oracle for the disclosure audit: one linear programme over the whole release
(no decomposition, no warm start, no incremental state), solved by SciPy's ``linprog``.

It restates the model from the issue in the plainest terms: a variable per atom (units with the
same contribution vector across this release and every earlier version), every published cell an
equality, and, while a withheld cell is audited, every hypothetical unit type the reader cannot
rule out for it: each atom of its group (or all-sectors cell) as if it had also counted in the
cell and its holders, and each atom that counted in it as if it had not (nor in its parts).
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from projections.statistics.laws import Laws
from projections.statistics.model import (
    ALL_SECTORS,
    SIZE_PREFIX,
    CellKey,
    Period,
    Population,
    Protected,
    PublishedVersion,
    protection_interval,
    same_units,
    size_group,
)


@dataclass(frozen=True)
class Range:
    release: int | None
    key: CellKey
    value: int
    low: float
    high: float
    #: The least value of what holds the cell (its group, its all-sectors cell), or of what a
    #: law's published cells bound it by: no count is more than what holds it, so the interval
    #: stops there.
    cap: float = float("inf")

    def keeps_interval(self, k: int) -> bool:
        needed_low, needed_high = protection_interval(self.value, k)
        needed_high = min(needed_high, self.cap)
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
    floors: Mapping[CellKey, int] | None = None,
    *,
    laws: bool = True,
) -> list[Range]:
    """The range of every withheld count cell of this release and of ``earlier``; a quantile's
    size (``floors``, and each earlier version's) is at least its floor."""
    floors = floors or {}
    versions: list[tuple[int | None, Mapping[str, Mapping[CellKey, int]], set[CellKey], dict]] = [
        (None, population.contributions, set(population.counts) | set(floors), dict(published))
    ]
    for version in earlier:
        # The cells of that version's shape (a quarter's has no sector cells).
        cells = set(version.published) | {
            key
            for key in population.counts
            if version.period.by_sector or key.sector == ALL_SECTORS
        }
        for unit_cells in version.contributions.values():
            cells.update(key for key in unit_cells if not key.category.startswith(SIZE_PREFIX))
        cells.update(version.floors)
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
    at_least = {
        where[(number, key)]: floor
        for number, found in [(None, floors), *((v.number, v.floors) for v in earlier)]
        for key, floor in found.items()
    }
    groups = {key: cell.group for key, cell in population.counts.items() if cell.group}
    for _, key in rows:
        if (group := size_group(key)) is not None:
            groups[key] = group
    period_of = {None: population.period, **{v.number: v.period for v in earlier}}
    held = _laws(rows, period_of, matrix, truth) if laws else []
    steps = 12 * max(Counter(period_of[number] for number in {n for n, _ in rows}).values())
    found: list[Range] = []
    for i, (number, key) in enumerate(rows):
        if i in fixed or i in at_least:
            continue
        twins = [
            j
            for j, (other, cell) in enumerate(rows)
            if same_units(cell) == same_units(key) and period_of[other] == period_of[number]
        ]
        columns = np.hstack(
            [
                matrix,
                _types(matrix, twins, rows, groups, where, held, steps),
                _partner_types(matrix, twins, rows, groups, where, held, period_of, steps),
            ]
        )
        eq_rows = sorted(fixed)
        ub_rows = sorted(at_least)
        # Each law summed over the units, as a row over the same columns.
        equal = [terms @ columns[sorted(terms)] for terms, eq in held if eq]
        at_least_zero = [terms @ columns[sorted(terms)] for terms, eq in held if not eq]
        a_eq = np.vstack([columns[eq_rows], *equal])
        b_eq = [*(fixed[r] for r in eq_rows), *(0.0 for _ in equal)]
        a_ub = np.vstack([-columns[ub_rows], *(-law for law in at_least_zero)])
        b_ub = [*(-at_least[r] for r in ub_rows), *(0.0 for _ in at_least_zero)]
        bounds = []
        for sense in (1.0, -1.0):
            result = linprog(
                sense * columns[i],
                A_eq=a_eq if len(b_eq) else None,
                b_eq=b_eq if len(b_eq) else None,
                A_ub=a_ub if len(b_ub) else None,
                b_ub=b_ub if len(b_ub) else None,
                bounds=(0, None),
                method="highs",
            )
            if result.status == 3:  # unbounded
                bounds.append(-sense * np.inf)
            else:
                assert result.status == 0, result.message
                bounds.append(sense * result.fun)
        alike = [j for j in twins if rows[j][0] == number]
        holders = [
            h
            for j in alike
            if j not in at_least  # a quantile's size counts trajectories, its twin maybe events
            for h in _holders(number, rows[j][1], groups, where)
            if h not in alike
        ]
        caps = [float(truth[h]) for h in holders]
        for terms, _ in held:
            for j in alike:
                if terms.get(j, 0.0) < 0 and j not in at_least:
                    # Only where what bounds it is published: a law's withheld bound (a sum
                    # of withheld reasons) is nothing a reader is told; in a revision, or its
                    # cell published in an earlier version of the period, of the same units.
                    over = {h: c for h, c in terms.items() if c > 0}
                    if all(
                        _told(h, alike, rows, fixed, at_least, columns, period_of) for h in over
                    ):
                        caps.append(sum(c * float(truth[h]) for h, c in over.items()) / -terms[j])
        cap = min(caps, default=float("inf"))
        found.append(Range(number, key, round(truth[i]), bounds[0], bounds[1], cap))
    return found


def _told(
    h: int,
    alike: Sequence[int],
    rows: Sequence[tuple[int | None, CellKey]],
    fixed: Mapping[int, float],
    at_least: Mapping[int, int],
    columns: np.ndarray,
    period_of: Mapping[int | None, Period],
) -> bool:
    """Whether a reader is told row ``h`` as a law's bound: published; or, a row of this
    release, its cell published in an earlier version of the same period and held at one number
    with it by the programme (``columns``: the atoms and the audited cell's types count in both
    alike)."""
    if h in at_least or h in alike:
        return False
    number, key = rows[h]
    return h in fixed or (
        number is None
        and any(
            other is not None
            and cell == key
            and period_of[other] == period_of[number]
            and g in fixed
            and g not in at_least
            and np.array_equal(columns[g], columns[h])
            for g, (other, cell) in enumerate(rows)
        )
    )


class _Terms(dict[int, float]):
    """A law's coefficients by row; ``terms @ rows`` is the law over the rows' columns."""

    def __matmul__(self, rows: np.ndarray) -> np.ndarray:
        return np.array([self[r] for r in sorted(self)]) @ rows


def _laws(
    rows: Sequence[tuple[int | None, CellKey]],
    period_of: Mapping[int | None, Period],
    matrix: np.ndarray,
    truth: np.ndarray,
) -> list[tuple[_Terms, bool]]:
    """The laws of one version with no constant (``laws.py``) that the units keep in sum: a
    reader knows each holds between the cells (summed over the units), whatever the units."""
    found = []
    laws = Laws([(number, period_of[number], key) for number, key in rows]).laws
    # In an order of the cells (as the audit's), not of the rows' numbering.
    for law in sorted(
        laws,
        key=lambda law: (
            sorted((-1 if rows[r][0] is None else rows[r][0], rows[r][1].text()) for r in law.rows),
            law.name,
        ),
    ):
        if law.constant or len({rows[r][0] for r in law.rows}) != 1:
            continue
        terms = _Terms(zip(law.rows, law.coefs, strict=True))
        value = float(terms @ truth[sorted(terms)])
        if abs(value) <= 1e-6 if law.equal else value >= -1e-6:
            found.append((terms, law.equal))
    return found


def _types(
    matrix: np.ndarray,
    twins: Sequence[int],
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
    laws: Sequence[tuple["_Terms", bool]],
    steps: int = 12,
) -> np.ndarray:
    """The hypothetical unit types of a withheld cell (``twins``: the cell in every version of
    its period): each atom of a twin's outermost group (else all-sectors cell) as if it had
    also counted in the twin, its holders and its sector's cell; each atom that counted in a
    twin as if it had not, nor in the twin's parts and, for a sector's cell, the region's cell
    and its parts; and units counting in the cell (in every version) and its holders only: one
    per sector for an all-sectors cell."""
    raised, lowered = [], []
    for column in matrix.T:
        lift: list[int] = []
        drop: list[int] = []
        for t in twins:
            number, key = rows[t]
            root, seen = key, {key}
            while root in groups and groups[root] not in seen and (number, groups[root]) in where:
                root = groups[root]
                seen.add(root)
            base = (number, root) if root != key else (number, key._replace(sector=ALL_SECTORS))
            b = where.get(base, t)
            if b != t and column[b] > 0:
                # In it, and so in every cell of its version counting the same units.
                for other, cell in (rows[a] for a in twins):
                    if other == number:
                        lift += _holders(number, cell, groups, where)
                        lift += _sector_holders(column, number, cell, groups, where)
            if column[t] > 0:
                drop += _dropped(t, rows, groups, where)
        if lift:
            up = column.copy()
            up[lift] = np.maximum(up[lift], 1.0)
            raised.append(_completed(up, rows, groups, where, laws, steps))
        if drop:
            down = column.copy()
            down[sorted(_closed(column, set(drop), rows, groups, where, laws))] = 0.0
            if down.any():
                lowered.append(down)
    first = rows[twins[0]][1]
    sectors = (
        sorted(
            {
                key.sector
                for _, key in rows
                if key.table == first.table
                and key.category == first.category
                and key.sector != ALL_SECTORS
            }
        )
        if first.sector == ALL_SECTORS
        else [first.sector]
    ) or [first.sector]
    for sector in sectors:
        alone = np.zeros(matrix.shape[0])
        for t in twins:
            number, key = rows[t]
            own = key._replace(sector=sector)
            alone[_holders(number, own if (number, own) in where else key, groups, where)] = 1.0
        raised.append(_completed(alone, rows, groups, where, laws, steps))
    return np.array(raised + lowered).T


def _dropped(
    t: int,
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
) -> list[int]:
    """What a unit no longer counts in when it no longer counts in row ``t``: ``t``, its parts
    and, for a sector's row, the region's row and its parts."""
    number, key = rows[t]
    gone = {t}
    whole = (number, key._replace(sector=ALL_SECTORS))
    if key.sector != ALL_SECTORS and whole in where:
        gone.add(where[whole])
    return [
        j
        for j, (other, cell) in enumerate(rows)
        if other == number and gone & set(_holders(other, cell, groups, where))
    ]


def _completed(
    unit: np.ndarray,
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
    laws: Sequence[tuple["_Terms", bool]],
    steps: int = 12,
) -> np.ndarray:
    """``unit`` made to keep every law: while one is broken (the first in the laws' order),
    the first row by (version, key) with a coefficient that mends it is added with its
    holders; ``unit`` as it was if none mends it within ``steps`` (twelve for each version of a
    period: the unit differs in each alike, so it may break the laws of each)."""
    done = unit.copy()
    for _ in range(steps):
        broken = next(
            (
                (terms, value)
                for terms, equal in laws
                if (value := sum(c * done[r] for r, c in terms.items()))
                and (abs(value) > 1e-9 if equal else value < -1e-9)
            ),
            None,
        )
        if broken is None:
            return done
        terms, value = broken
        # A unit is of one sector: mended in its own sector's cells (or the region's).
        own = {rows[r][1].sector for r in np.flatnonzero(done)} - {ALL_SECTORS}
        mends = [
            r
            for r, c in terms.items()
            if not done[r]
            and (c > 0) == (value < 0)
            and (not own or rows[r][1].sector in own | {ALL_SECTORS})
        ]
        if not mends:
            return unit
        chosen = min(mends, key=lambda r: (rows[r][0] is not None, rows[r][1]))
        done[_holders(rows[chosen][0], rows[chosen][1], groups, where)] = np.maximum(
            done[_holders(rows[chosen][0], rows[chosen][1], groups, where)], 1.0
        )
    return unit


def _closed(
    column: np.ndarray,
    drop: set[int],
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
    laws: Sequence[tuple["_Terms", bool]],
) -> set[int]:
    """``drop`` and, while dropping it takes a law below where the unit had it (an equality's
    value, an inequality's or zero, whichever is less), the rows the unit counts in with a
    negative coefficient in that law, with what ``_dropped`` drops for each (twelve rounds at
    most)."""
    before = [sum(c * column[r] for r, c in terms.items()) for terms, _ in laws]
    for _ in range(12):
        kept = column.copy()
        kept[sorted(drop)] = 0.0
        more: set[int] = set()
        for (terms, equal), had in zip(laws, before, strict=True):
            floor = had if equal else min(had, 0.0)
            if sum(c * kept[r] for r, c in terms.items()) < floor - 1e-9:
                for r, c in terms.items():
                    if c < 0 and column[r] > 0 and r not in drop:
                        more.update(_dropped(r, rows, groups, where))
        if not more - drop:
            break
        drop = drop | more
    return drop


def _partner_types(
    matrix: np.ndarray,
    twins: Sequence[int],
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
    laws: Sequence[tuple["_Terms", bool]],
    period_of: Mapping[int | None, Period],
    steps: int = 12,
) -> np.ndarray:
    """For every row sharing a law with a twin (but for the twins and what holds them): a
    unit counting in it and its holders only, made to keep the laws (``_completed``); and, if
    it is of the twins' sector, each atom counting in that cell (in any version of its period)
    moved into the twins, and each atom counting in a twin moved into that cell (``_moved``);
    if it is of another sector, the atoms of each as if they were of the other's sector."""
    near = set(twins)
    for t in twins:
        near.update(_holders(rows[t][0], rows[t][1], groups, where))
    partners = sorted({r for terms, _ in laws if set(twins) & set(terms) for r in terms})
    found = []
    seen: set[tuple[Period, CellKey]] = set()
    for p in partners:
        if p in near:
            continue
        cell = (period_of[rows[p][0]], same_units(rows[p][1]))
        if cell in seen:
            continue
        seen.add(cell)
        partner = [
            j for j, (other, key) in enumerate(rows) if (period_of[other], same_units(key)) == cell
        ]
        alone = np.zeros(matrix.shape[0])
        for q in partner:  # in every version of the period alike
            alone[_holders(rows[q][0], rows[q][1], groups, where)] = 1.0
        found.append(_completed(alone, rows, groups, where, laws, steps))
        here, there = rows[twins[0]][1].sector, rows[p][1].sector
        moved = []
        if here == there:
            moved += _moved(matrix, partner, twins, rows, groups, where)
            moved += _moved(matrix, twins, partner, rows, groups, where)
        elif ALL_SECTORS not in (here, there):
            # A unit is of one sector: it changes sector in every cell, or not at all.
            moved += _resectored(matrix, partner, here, rows, where)
            moved += _resectored(matrix, twins, there, rows, where)
        found += [_completed(unit, rows, groups, where, laws, steps) for unit in moved]
    return np.array(found).T if found else np.zeros((matrix.shape[0], 0))


def _moved(
    matrix: np.ndarray,
    out_of: Sequence[int],
    into: Sequence[int],
    rows: Sequence[tuple[int | None, CellKey]],
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
) -> list[np.ndarray]:
    """Each atom counting in ``out_of`` (a cell in every version of its period) moved into
    ``into``: out of it and what ``_dropped`` drops, into ``into``'s rows of the same versions
    and their holders."""
    found = []
    for column in matrix.T:
        drop: set[int] = set()
        lift: set[int] = set()
        for q in out_of:
            if column[q] > 0:
                drop.update(_dropped(q, rows, groups, where))
                for t in into:
                    number, key = rows[t]
                    if number == rows[q][0]:
                        lift.update(_holders(number, key, groups, where))
                        lift.update(_sector_holders(column, number, key, groups, where))
        if lift:
            moved = column.copy()
            moved[sorted(drop)] = 0.0
            moved[sorted(lift)] = np.maximum(moved[sorted(lift)], 1.0)
            found.append(moved)
    return found


def _resectored(
    matrix: np.ndarray,
    out_of: Sequence[int],
    sector: str,
    rows: Sequence[tuple[int | None, CellKey]],
    where: Mapping[tuple[int | None, CellKey], int],
) -> list[np.ndarray]:
    """Each atom counting in ``out_of`` as if its units were of ``sector``: every sector cell
    they count in counted in that sector's instead (none where a count has no counterpart; a
    quantile's size with no row there is left out: a row not in the model constrains nothing)."""
    found = []
    for column in matrix.T:
        if not any(column[q] > 0 for q in out_of):
            continue
        moved = np.zeros_like(column)
        for j in np.flatnonzero(column):
            number, key = rows[j]
            target = (
                j if key.sector == ALL_SECTORS else where.get((number, key._replace(sector=sector)))
            )
            if target is None:
                if key.category.startswith(SIZE_PREFIX):
                    continue
                break
            moved[target] += column[j]
        else:
            found.append(moved)
    return found


def _sector_holders(
    column: np.ndarray,
    number: int | None,
    key: CellKey,
    groups: Mapping[CellKey, CellKey],
    where: Mapping[tuple[int | None, CellKey], int],
) -> list[int]:
    """For an all-sectors cell: the same cell of the sector the atom's units are in, with its
    holders (a unit counts in its sector's cell as in the region's)."""
    if key.sector != ALL_SECTORS:
        return []
    for (other, cell), j in where.items():
        if other == number and cell.sector != ALL_SECTORS and column[j] > 0:
            counterpart = key._replace(sector=cell.sector)
            if (number, counterpart) in where:
                return _holders(number, counterpart, groups, where)
            return []
    return []


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
