"""The shapes statistics releases are made of (issue #12): periods, cells, populations, releases.

A release covers one closed **period** of a fixed grid (a quarter ``2026Q3`` or a year ``2026``;
no free date ranges). Its numbers are **cells**: a table, a region, a sector (``*`` for all
sectors of the region) and a category (``referrals``, ``blocked/waiting_list``, …).

Every count cell is *defined as a sum over units* (one unit = one trajectory): each unit
contributes an integer to the cells it counts in (a trajectory to ``referrals`` 1, to
``consultations_held`` the number it held). The disclosure audit builds its linear programme
from exactly these definitions, so relations between cells nobody listed by hand (a region's
total is its sectors' sum, a year holds its quarters) are constraints of the audit all the same.

This module holds values only: no I/O, no SQL.
"""

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal, NamedTuple

import msgspec

if TYPE_CHECKING:  # numpy is loaded by the first packing, not by reading a release
    import numpy as np
    import numpy.typing as npt


#: The sector value of a cell that counts every sector of its region.
ALL_SECTORS = "*"

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:Q(?P<quarter>[1-4]))?$")


class InvalidPeriod(ValueError):
    """A period that is not of the grid: ``2026`` or ``2026Q1`` … ``2026Q4``."""


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A year or a quarter: the only periods statistics are released for (a fixed grid, so no
    two releases' periods partly overlap: differencing two free ranges would isolate a day)."""

    year: int
    quarter: int | None = None

    @classmethod
    def parse(cls, text: str) -> "Period":
        match = _PERIOD.match(text.strip())
        if match is None or not 2000 <= int(match["year"]) <= 2999:
            raise InvalidPeriod(
                f"period {text!r} is not a year (2026) or a quarter (2026Q3) between 2000 and 2999"
            )
        quarter = match["quarter"]
        return cls(int(match["year"]), int(quarter) if quarter else None)

    def __str__(self) -> str:
        return f"{self.year}" if self.quarter is None else f"{self.year}Q{self.quarter}"

    @property
    def kind(self) -> Literal["year", "quarter"]:
        return "year" if self.quarter is None else "quarter"

    @property
    def start(self) -> date:
        return date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """The period's last day."""
        if self.quarter is None or self.quarter == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.quarter + 1, 1) - timedelta(days=1)

    @property
    def by_sector(self) -> bool:
        """Whether this period's tables break each region down by sector: a year's do, a
        quarter's do not (only the region's all-sectors cells). A region's quarter holds a
        quarter of its year's trajectories; split six ways again, nearly every sector cell of a
        quarter is below k, and what a quarter published by sector would, with the year's cells
        they add up to, force the year to withhold its own numbers as well. The shape follows
        from the period's kind alone, never from the data (a missing cell would say "zero")."""
        return self.quarter is None

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: "Period") -> bool:
        return self.start <= other.end and other.start <= self.end

    def on(self, grid: "Grid") -> bool:
        """Whether this period is one of ``grid``'s (a quarter of ``quarters``, a year of
        ``years``)."""
        if grid not in GRIDS:
            raise ValueError(f"no grid {grid!r}: one of {', '.join(GRIDS)}")
        return (self.quarter is None) == (grid == "years")

    def overlapping(self) -> tuple["Period", ...]:
        """The periods of the other grid that overlap this one: a year's four quarters, a
        quarter's year. Never both released (see ``Grid``)."""
        if self.quarter is None:
            return tuple(Period(self.year, q) for q in range(1, 5))
        return (Period(self.year),)

    def audited_with(self) -> tuple["Period", ...]:
        """The periods whose releases a release of this one is audited together with: the year
        and its quarters (itself included). They overlap (a year holds its quarters) or count
        many of the same trajectories (a trajectory runs through several quarters), so what
        one publishes could narrow what another withholds."""
        return (Period(self.year), *(Period(self.year, q) for q in range(1, 5)))

    def publishable_on(self, lag_days: int) -> date:
        """The first day a release of this period may be made: ``lag_days`` after its end, so
        late-recorded facts have come in."""
        return self.end + timedelta(days=lag_days)


#: The grid a deployment releases on (``RODEDRAAD_STATISTICS_GRID``): quarters or years, never
#: both. A year and its quarters overlap: the year less its published quarters is what a
#: withheld quarter holds, so a reader could work out by subtraction what the quarter withheld,
#: and no choice of the year's cells protects both (README, "One grid, not two").
Grid = Literal["quarters", "years"]
GRIDS: tuple[Grid, ...] = ("quarters", "years")


def periods_ended_by(
    today: date, lag_days: int, since: date, grid: Grid = "years"
) -> Iterator[Period]:
    """Every period of ``grid`` starting on or after ``since`` that may be released ``today``."""
    for year in range(since.year, today.year + 1):
        periods = (Period(year),) if grid == "years" else [Period(year, q) for q in range(1, 5)]
        for period in periods:
            if period.start >= date(since.year, 1, 1) and period.publishable_on(lag_days) <= today:
                yield period


#: Tables whose cells exist only where some unit counts in them (``dynamics``: ~1,200 possible
#: edges), but for the categories with these prefixes, which exist zero or not.
SPARSE_TABLES: Mapping[str, tuple[str, ...]] = {"dynamics": ("early:",)}


def is_sparse(table: str, category: str) -> bool:
    """Whether a cell exists only where it is not zero: an earlier version without it did not
    have it (it was zero there), so it is no cell of that version to audit."""
    regular = SPARSE_TABLES.get(table)
    return regular is not None and not category.startswith(regular)


#: Cells that count the same units by definition (``tables.period_cells`` counts a blocked
#: trajectory in both; a unit counts in both or in neither, though where one counts events and
#: the other trajectories its amounts differ): one cell to the audit's hypothetical units,
#: which differ in both alike, or a reader who compares them would know what the audit says
#: is open.
SAME_UNITS: Mapping[tuple[str, str], tuple[str, str]] = {
    ("blocks", "blocked"): ("flow", "blocked"),
    # What gives a unit its duration: the size of the quantiles counts the units of the
    # event's count (see ``quantile_size``).
    ("flow", "n:days_to_acceptance"): ("flow", "accepted"),
    ("flow", "n:days_to_start"): ("procedures", "start_consultation_held"),
    ("blocks", "n:days_to_resolution"): ("blocks", "escalations_resolved"),
}

#: The prefix of a quantile's size cell (:func:`quantile_size`).
SIZE_PREFIX = "n:"


def quantile_size(key: "CellKey") -> "CellKey":
    """The cell ``n:<category>`` beside a quantile cell: how many units its values are of (one
    value per unit), a sum over the units like a count, in their contributions but in no
    table.

    A released quartile tells of its size: "at least k units on either side" means n is at
    least :func:`smallest_size`. The audit holds that inequality as a row of its programme
    (it relates to the counts through the units: ``n:days_to_acceptance`` counts the units of
    ``accepted``), and withholds the quartiles where it would narrow a withheld count."""
    table, category = size_cell(key.table, key.category)
    return key._replace(table=table, category=category)


def size_group(key: "CellKey") -> "CellKey | None":
    """The count a quantile's size is a part of, where it is not the same units as one
    (``SAME_UNITS``): a trajectory that ended a block for a reason in the period was blocked
    for it then, so ``n:block_days:<reason>`` is a part of ``reason:<reason>``."""
    prefix = f"{SIZE_PREFIX}block_days:"
    if key.category.startswith(prefix):
        return key._replace(category=f"reason:{key.category.removeprefix(prefix)}")
    return None


def size_cell(table: str, category: str) -> tuple[str, str]:
    """:func:`quantile_size` as (table, category)."""
    return table, f"{SIZE_PREFIX}{category}"


def smallest_size(quartiles: Iterable[float], k: int) -> int:
    """The fewest values a duration can have for ``quartiles`` of it (0.25, 0.5, 0.75) to be
    released, each with at least ``k`` values strictly below and strictly above it
    (``disclosure.released_quantiles``): what a reader of those quartiles knows of its size.
    Values may tie and lie anywhere, so a quartile at rank r = (n - 1)·q can have every value
    before it below it (r of them, or ⌊r⌋ + 1 between two ranks) and every value after it
    above it (n - 1 - ⌊r⌋). 0 for no quartile."""
    wanted = set(quartiles)
    if not wanted:
        return 0

    def room(n: int, q: float) -> bool:
        rank = (n - 1) * q
        low = math.floor(rank)
        below = low if rank == low else low + 1
        return below >= k and n - 1 - low >= k

    n = 2 * k
    while not all(room(n, q) for q in wanted):
        n += 1
    return n


class CellKey(NamedTuple):
    """Where a number sits: ``table``, ``region``, ``sector`` (``*`` = all) and ``category``."""

    table: str
    region: str
    sector: str
    category: str

    def text(self) -> str:
        return "/".join(self)


#: Per unit (an opaque id, the same across versions of a period), its contribution to each
#: count cell it counts in. Cells it does not count in are absent (zero).
Contributions = Mapping[str, Mapping[CellKey, int]]


class PackedContributions(Mapping[str, Mapping[CellKey, int]]):
    """Contributions held as arrays instead of a dict per unit: the cell keys once
    (``cell_keys``), and per unit (in ``units``' order) a slice ``offsets[i]:offsets[i + 1]``
    of ``cells`` (indices into ``cell_keys``) and of ``amounts``. What the release store reads
    back and the audit builds its model from, without a dict of tuples per unit (265,205 of
    them for a large quarter's earlier versions). Read as a mapping, a unit's cells are made
    on demand."""

    __slots__ = ("_index", "amounts", "cell_keys", "cells", "offsets", "units")

    def __init__(
        self,
        units: Sequence[str],
        keys: Sequence[CellKey],
        offsets: "npt.NDArray[np.int64]",
        cells: "npt.NDArray[np.int32]",
        amounts: "npt.NDArray[np.int64]",
    ) -> None:
        if len(offsets) != len(units) + 1 or len(cells) != len(amounts):
            raise ValueError("packed contributions: offsets, cells and amounts do not match")
        self.units = list(units)
        self.cell_keys = list(keys)
        self.offsets = offsets
        self.cells = cells
        self.amounts = amounts
        self._index: dict[str, int] | None = None

    @classmethod
    def of(cls, contributions: "Contributions") -> "PackedContributions":
        """``contributions`` packed (itself when it is packed already). Every (unit, cell)
        pair is kept, zero amounts included, in the mapping's order."""
        import numpy as np

        if isinstance(contributions, PackedContributions):
            return contributions
        index: dict[CellKey, int] = {}
        units: list[str] = []
        sizes: list[int] = []
        cells: list[int] = []
        amounts: list[int] = []
        for unit, found in contributions.items():
            units.append(unit)
            sizes.append(len(found))
            for key, amount in found.items():
                cells.append(index.setdefault(key, len(index)))
                amounts.append(amount)
        offsets = np.zeros(len(units) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return cls(
            units,
            list(index),
            offsets,
            np.array(cells, dtype=np.int32),
            np.array(amounts, dtype=np.int64),
        )

    @classmethod
    def joined(cls, parts: Iterable["PackedContributions"]) -> "PackedContributions":
        """One mapping of ``parts`` in order (a release's regions); a unit in two parts keeps
        the last part's cells, as ``dict.update`` would."""
        import numpy as np

        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        seen: set[str] = set()
        for part in parts:
            if not seen.isdisjoint(part.units):
                return cls.of({u: dict(c) for p in parts for u, c in p.items()})
            seen.update(part.units)
        index: dict[CellKey, int] = {}
        units: list[str] = []
        offsets = [np.zeros(1, dtype=np.int64)]
        cells = []
        amounts = []
        end = 0
        for part in parts:
            remap = np.array(
                [index.setdefault(k, len(index)) for k in part.cell_keys], dtype=np.int32
            )
            units.extend(part.units)
            offsets.append(part.offsets[1:] + end)
            end += int(part.offsets[-1])
            cells.append(remap[part.cells] if part.cells.size else part.cells)
            amounts.append(part.amounts)
        return cls(
            units,
            list(index),
            np.concatenate(offsets),
            np.concatenate(cells) if cells else np.empty(0, np.int32),
            np.concatenate(amounts) if amounts else np.empty(0, np.int64),
        )

    def says_the_same_as(self, other: "PackedContributions") -> bool:
        """Whether both give every unit the same amounts in the same cells, in whatever order
        they hold units and cells (an amount of zero, and a unit counting in nothing, are no
        contribution). Worked out on the arrays: a large year holds a hundred thousand units."""
        import numpy as np

        if np.count_nonzero(self.amounts) != np.count_nonzero(other.amounts):
            return False
        (units, keys, mine), (their_units, their_keys, theirs) = self.canonical(), other.canonical()
        return units == their_units and keys == their_keys and bool(np.array_equal(mine, theirs))

    def canonical(self) -> tuple[list[str], list[CellKey], "npt.NDArray[np.int64]"]:
        """The contributions in an order of their own: the units and the cells that hold a
        non-zero amount, each sorted, and every such amount as a row (the unit's place among
        them, the cell's, the amount), sorted. Two mappings that hold each (unit, cell) pair
        once (as ``of``, ``joined`` and the store make them) give every unit the same amounts
        in the same cells exactly when their canonical forms are equal."""
        import numpy as np

        found = self._entries()
        unit_at, found[:, 0] = np.unique(found[:, 0], return_inverse=True)
        key_at, found[:, 1] = np.unique(found[:, 1], return_inverse=True)
        units = sorted((self.units[i], n) for n, i in enumerate(unit_at.tolist()))
        keys = sorted((self.cell_keys[i], n) for n, i in enumerate(key_at.tolist()))
        for column, names in ((0, units), (1, keys)):
            rank = np.empty(len(names), dtype=np.int64)
            rank[[n for _, n in names]] = np.arange(len(names))
            found[:, column] = rank[found[:, column]]
        return (
            [u for u, _ in units],
            [k for k, _ in keys],
            found[np.lexsort((found[:, 2], found[:, 1], found[:, 0]))],
        )

    def _entries(self) -> "npt.NDArray[np.int64]":
        """Every non-zero contribution as a row: its unit's position, its cell's, its amount."""
        import numpy as np

        counted = self.amounts != 0
        unit = np.repeat(np.arange(len(self.units)), np.diff(self.offsets))[counted]
        return np.stack(
            [unit, self.cells[counted].astype(np.int64), self.amounts[counted].astype(np.int64)],
            axis=1,
        )

    def subset(self, chosen: "npt.NDArray[np.int64]") -> "PackedContributions":
        """The units at positions ``chosen`` (in that order), with their cells."""
        import numpy as np

        sizes = np.diff(self.offsets)[chosen]
        offsets = np.zeros(len(chosen) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        taken = np.repeat(self.offsets[chosen] - offsets[:-1], sizes) + np.arange(
            int(offsets[-1]), dtype=np.int64
        )
        return PackedContributions(
            [self.units[i] for i in chosen.tolist()],
            self.cell_keys,
            offsets,
            self.cells[taken],
            self.amounts[taken],
        )

    def entry_units(self) -> "npt.NDArray[np.int64]":
        """For each (cell, amount) entry, the position of its unit."""
        import numpy as np

        return np.repeat(np.arange(len(self.units)), np.diff(self.offsets))

    def counting(self) -> "PackedContributions":
        """The units with an amount other than zero in some cell."""
        import numpy as np

        return self.subset(np.unique(self.entry_units()[self.amounts != 0]).astype(np.int64))

    def outside(self, regions: Collection[str]) -> "PackedContributions":
        """The units counting in no cell of ``regions`` (by an amount that is not zero, as the
        audit's parts are tied), with only the cells of other regions (a model built from
        them has no row of those regions)."""
        import numpy as np

        if not regions:
            return self
        inside = np.array([key.region in regions for key in self.cell_keys], dtype=bool)
        entry_inside = inside[self.cells] if self.cells.size else np.zeros(0, dtype=bool)
        unit_of = self.entry_units()
        touching = np.zeros(len(self.units), dtype=bool)
        touching[unit_of[entry_inside & (self.amounts != 0)]] = True
        keep = ~touching[unit_of] & ~entry_inside
        units = np.flatnonzero(~touching)
        sizes = np.bincount(unit_of[keep], minlength=len(self.units))[units]
        offsets = np.zeros(units.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        renumbered = (np.cumsum(~inside) - 1).astype(np.int32)
        return PackedContributions(
            [self.units[i] for i in units.tolist()],
            [key for key, held in zip(self.cell_keys, inside.tolist(), strict=True) if not held],
            offsets,
            renumbered[self.cells[keep]],
            self.amounts[keep],
        )

    def sums(self) -> "tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]":
        """Per cell key (``cell_keys``' order): the sum of the units' amounts, and how many
        units count in it (a non-zero amount)."""
        import numpy as np

        size = len(self.cell_keys)
        totals = np.bincount(self.cells, weights=self.amounts, minlength=size)
        counted = np.bincount(self.cells[self.amounts != 0], minlength=size)
        return np.rint(totals).astype(np.int64), counted.astype(np.int64)

    def _positions(self) -> dict[str, int]:
        """Each unit's position, worked out on the first lookup by unit."""
        if self._index is None:
            self._index = {u: i for i, u in enumerate(self.units)}
        return self._index

    def __getitem__(self, unit: str) -> Mapping[CellKey, int]:
        i = self._positions()[unit]
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return {
            self.cell_keys[c]: a
            for c, a in zip(
                self.cells[start:end].tolist(), self.amounts[start:end].tolist(), strict=True
            )
        }

    def __iter__(self) -> Iterator[str]:
        return iter(self.units)

    def __len__(self) -> int:
        return len(self.units)

    def __contains__(self, unit: object) -> bool:
        return unit in self._positions()


@dataclass(frozen=True, slots=True)
class CountCell:
    """A count cell's definition: its value is the sum of the units' contributions.

    ``group`` is the cell it is a part of ("blocked for waiting lists" of "blocked"): when the
    part equals the whole, or is zero, it says "all" or "none" of that group (attribute
    disclosure). ``None`` for cells that are no part of another.
    """

    key: CellKey
    group: CellKey | None = None


def same_units(key: "CellKey") -> "CellKey":
    """The cell ``key`` counts the same units as, by definition (:data:`SAME_UNITS`), or
    ``key`` itself."""
    table, category = SAME_UNITS.get((key.table, key.category), (key.table, key.category))
    if table == "dynamics" and category.startswith(f"{SIZE_PREFIX}weeks:"):
        # The trajectories with a gap from a to b are those counting in the edge a > b.
        category = f"edge:{category.removeprefix(f'{SIZE_PREFIX}weeks:')}"
    return key._replace(table=table, category=category)


@dataclass(frozen=True, slots=True)
class QuantileCell:
    """A duration, released as rounded quantiles of ``values`` (days, one per unit)."""

    key: CellKey
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RateCell:
    """A share ``numerator / denominator`` of two count cells: released only where both are."""

    key: CellKey
    numerator: CellKey
    denominator: CellKey


@dataclass(frozen=True, slots=True)
class TableSpec:
    """What a table shows, for the README and the API: its name, a title, what each of its
    categories means, and which seeds ask for it."""

    name: str
    title: str
    description: str
    seeds: tuple[str, ...]
    categories: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Population:
    """Everything a release of ``period`` is computed from, before disclosure control.

    ``counts`` lists every count cell of the release's tables, zero cells included (a table's
    shape never depends on the data); ``contributions`` defines their values.
    """

    period: Period
    contributions: Contributions
    counts: Mapping[CellKey, CountCell]
    quantiles: Mapping[CellKey, QuantileCell]
    rates: Mapping[CellKey, RateCell]

    def outside(self, regions: Collection[str]) -> "Population":
        """This population without ``regions``: their cells, and the units counting in them."""
        if not regions:
            return self
        return Population(
            self.period,
            PackedContributions.of(self.contributions).outside(regions),
            {key: c for key, c in self.counts.items() if key.region not in regions},
            {key: c for key, c in self.quantiles.items() if key.region not in regions},
            {key: c for key, c in self.rates.items() if key.region not in regions},
        )

    def digest(self) -> bytes:
        """SHA-256 of everything disclosure control reads of this population, in an order of
        its own: its period, every unit's contributions (``PackedContributions.canonical``),
        the count cells with their groups (the tables' shape), the durations each quantile
        cell is drawn from and the rates' definitions. Two populations with one digest give
        one release under the same rules and earlier releases (``releases.release_inputs``)."""
        units, keys, found = PackedContributions.of(self.contributions).canonical()
        said = (
            str(self.period),
            units,
            keys,
            found.astype("<i8").tobytes(),
            sorted((key, cell.group) for key, cell in self.counts.items()),
            sorted((key, sorted(cell.values)) for key, cell in self.quantiles.items()),
            sorted((key, cell.numerator, cell.denominator) for key, cell in self.rates.items()),
        )
        return hashlib.sha256(msgspec.msgpack.encode(said)).digest()

    def value(self, key: CellKey) -> int:
        if isinstance(self.contributions, PackedContributions):
            return self._sums(self.contributions, 0).get(key, 0)
        return sum(cells.get(key, 0) for cells in self.contributions.values())

    @staticmethod
    def _sums(packed: PackedContributions, which: int) -> dict[CellKey, int]:
        sums = packed.sums()[which]
        found: dict[CellKey, int] = {}
        for key, amount in zip(packed.cell_keys, sums.tolist(), strict=True):
            found[key] = found.get(key, 0) + amount
        return found

    def values(self) -> dict[CellKey, int]:
        totals = dict.fromkeys(self.counts, 0)
        if isinstance(self.contributions, PackedContributions):
            for key, amount in self._sums(self.contributions, 0).items():
                if key in totals:
                    totals[key] += amount
            return totals
        for cells in self.contributions.values():
            for key, amount in cells.items():
                if key in totals:
                    totals[key] += amount
        return totals

    def contributors(self) -> dict[CellKey, int]:
        """How many units count in each cell (a statistic from fewer than k is withheld)."""
        counts = dict.fromkeys(self.counts, 0)
        if isinstance(self.contributions, PackedContributions):
            for key, number in self._sums(self.contributions, 1).items():
                if key in counts:
                    counts[key] += number
            return counts
        for cells in self.contributions.values():
            for key, amount in cells.items():
                if amount and key in counts:
                    counts[key] += 1
        return counts


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """An earlier published release of the same year: its units' contributions and the
    count cells it published. A new release is audited together with every one of them."""

    number: int
    period: Period
    contributions: Contributions
    published: Mapping[CellKey, int]
    #: Of each quantile it released quartiles of, its size's smallest possible value
    #: (``smallest_size``): what those quartiles say. Empty for releases made before the
    #: units' contributions held the sizes (rule set 1).
    floors: Mapping[CellKey, int] = field(default_factory=dict)
    #: Whether it was made with the laws in its audit (rule set 3 on, ``laws.py``). One made
    #: before them may have withheld cells the laws show its own published cells narrow
    #: already: a later release of its year only must not narrow them further.
    laws: bool = True
    #: Its k, the count cells it shows withheld (a withheld cell of the process map is not
    #: shown: ``dynamics.hidden``) and its released quartiles' values by (cell, quantile): what
    #: a revision must match to say a region again as it was (``disclosure._carried``). None
    #: where not known: a region of it is then never said again.
    k: int | None = None
    withheld: frozenset[CellKey] | None = None
    quartiles: Mapping[tuple[CellKey, float], float] | None = None


#: How a revision's reason to hold a region back ends where a count it would publish differs
#: from an earlier version's by fewer than k (``disclosure.differing``).
DIFFERENCE_BELOW_K = "the difference would tell a group smaller than k"


#: Why a cell was withheld. Each table says which rule withheld what.
Withheld = Literal[
    "below_k",  # a count, or the group a statistic comes from, below k
    "all_or_none",  # the cell says all or none of its group
    "secondary",  # published, it would narrow a withheld cell below its protection interval
    "quantile_too_few",  # fewer than k units on either side of the quantile
    "rate_part_withheld",  # the numerator or the denominator is withheld
]


def protection_interval(value: int, k: int) -> tuple[float, float]:
    """The range every withheld count must keep open for whoever reads all published numbers:
    ``[v - max(k/2, 0.3·v), v + max(k/2, 0.3·v)]``, clipped at zero (no count is negative, so a
    reader knows that much already)."""
    margin = max(k / 2, 0.3 * value)
    return max(0.0, value - margin), value + margin


@dataclass(frozen=True, slots=True)
class ReleasedCell:
    """One number as released: its value, or ``None`` with the rule that withheld it."""

    key: CellKey
    kind: Literal["count", "quantile", "rate"]
    value: float | None
    withheld: Withheld | None = None
    #: For quantile cells: which quantile (0.25, 0.5, 0.75).
    quantile: float | None = None


@dataclass(frozen=True, slots=True)
class AuditedCell:
    """The audit's finding for one withheld count: the range a reader can narrow it to, across
    every table of the release and every earlier version, and the interval it had to keep."""

    key: CellKey
    release: int | None  # None: this release; else the earlier release's number
    low: float
    high: float
    needed_low: float
    needed_high: float
    #: The interval was cut to the range earlier releases made without the laws already leave
    #: (``PublishedVersion.laws``): this release narrows it no further, and cannot mend it.
    narrowed_before: bool = False

    @property
    def protected(self) -> bool:
        tolerance = 1e-6
        return self.low <= self.needed_low + tolerance and self.high >= self.needed_high - tolerance


@dataclass(frozen=True, slots=True, eq=False)
class Solutions:
    """Feasible solutions of one part's audit programme (a region's) that ``protect`` found
    over its atoms alone and that took some withheld count furthest: each atom named by one
    of its units (``units``), each solution as the atoms it takes (indices into ``units``)
    and their sizes. And ``proofs``: for each withheld count's bound, the feasible solution
    using the count's own hypothetical unit types that took it furthest (:class:`Proof`, its
    types' rows named in ``rows``). What the release step's check may
    start from, after verifying each on a model of its own (``disclosure.audit``): a feasible
    solution proves how far it takes every row, wherever it came from — a proof's types once
    the check has found them among the count's hypothetical types in its own model."""

    units: tuple[str, ...]
    found: "tuple[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]], ...]"
    proofs: "tuple[Proof, ...]" = ()
    #: The rows (version, cell) the proofs' rows and types' rows are indices into.
    rows: tuple[tuple[int | None, CellKey], ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Proof:
    """How far one withheld count can go, shown by a feasible solution that uses some of its
    hypothetical unit types (``disclosure._RegionAudit._hypothetical``): the atoms it takes
    (indices into ``Solutions.units``) and their sizes, the types (each row, amount pairs,
    rows indices into ``Solutions.rows``) and how many units of each, and the count's value
    in it. ``whole``: its types may be any of the count's types, not only the rarest few.
    (The check keeps the proofs it takes in as this too, in its own rows' and atoms' indices.)"""

    row: int
    maximise: bool
    value: float
    whole: bool
    taken: "npt.NDArray[np.int32]"
    sizes: "npt.NDArray[np.float64]"
    kinds: tuple[tuple[tuple[int, float], ...], ...]
    amounts: "npt.NDArray[np.float64]"


@dataclass(frozen=True, slots=True)
class Protected:
    """The outcome of disclosure control: the cells to release and the audit that passed them;
    ``solutions``: per part (its regions), the atom-only feasible solutions that took some
    withheld count furthest and the proofs (:class:`Solutions`), for the check to verify and
    start from."""

    cells: tuple[ReleasedCell, ...]
    audit: tuple[AuditedCell, ...]
    solutions: Mapping[tuple[str, ...], Solutions] = field(default_factory=dict, compare=False)
    #: The regions a revision says again as the latest earlier version of its period said
    #: them, their units counting as then (``disclosure._carried``): in no programme.
    carried: tuple[str, ...] = ()
    #: The regions a revision holds back, each with why: earlier releases alone narrow a
    #: withheld cell of theirs past its interval, whatever the revision withholds. Their
    #: cells are not in ``cells`` nor their findings in ``audit``: the release publishes them
    #: as the release it revises did (``releases.Releases.release``).
    held: Mapping[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(finding.protected for finding in self.audit)


def size_floors(cells: Iterable[ReleasedCell], k: int) -> dict[CellKey, int]:
    """What the released quartiles among ``cells`` say of their quantiles' sizes: per size
    cell (:func:`quantile_size`), the smallest it can be (:func:`smallest_size`). Here, not in
    ``disclosure``, so that reading releases (the API) loads no solver (issue #22: HiGHS,
    SciPy and numpy were 36 MiB of the API's memory)."""
    released: dict[CellKey, list[float]] = defaultdict(list)
    for cell in cells:
        if cell.kind == "quantile" and cell.value is not None and cell.quantile is not None:
            released[quantile_size(cell.key)].append(cell.quantile)
    return {size: smallest_size(found, k) for size, found in released.items()}
