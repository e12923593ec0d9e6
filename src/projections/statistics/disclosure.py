"""Disclosure control for statistics releases (issue #12, point 4): pure code, no I/O.

A learning network's members are professionals of the same region who know many of the families
(seed 001), so a released number must not let them single anyone out. :func:`protect` decides
what a release shows; :func:`audit` is the check the release step runs again before publishing.

The rules, in the order they apply:

- **Primary suppression**: a count below ``k`` (never below 5), or counted from fewer than ``k``
  units, is withheld ``below_k``.
- **Attribute disclosure**: a part of a group that equals the group ("all twelve blocks were
  waiting lists"), is zero while the group is not ("none"), or falls short of the group by
  fewer than ``k`` ("all but one": 538 of 539 consultations with a provider at the table says
  one without) is withheld ``all_or_none``: the group less the part is a count too, below ``k``
  though no cell holds it, and the group is there to subtract from whether published or not.
- **Secondary suppression**, checked by a **linear-programming audit**: a reader who knows every
  published number of this release *and of every earlier version* of the same year must
  not be able to narrow a withheld count ``v`` below ``protection_interval(v, k)``. While one
  can be narrowed, one more published cell is withheld ``secondary``.
- **Quantiles** are released as quartiles rounded to whole weeks, never a minimum or maximum,
  with at least k values on either side: so a released quartile says its duration is of at
  least ``model.smallest_size`` trajectories, an inequality the audit holds; where it would
  narrow a withheld count, the quartiles are withheld ``secondary``. **Rates** only where both
  parts are published.

The audit's model (why it is sound). Every count is a sum over units (``model.py``). Units with
the same contribution vector — across this release's cells and every earlier version's cells,
units matched by id — form an **atom**; the variables are the atoms' sizes, ``≥ 0``, and every
published cell is an equality. The reader is assumed to know which combinations of cells occur
(the atoms), which is more than a real reader knows, so ranges found are never wider than a real
reader's: the audit errs on the side of withholding. The programme is the continuous (LP)
relaxation of the integer one — accepted practice in statistical disclosure control (it is what
τ-ARGUS's audit does); integrality could only narrow ranges by less than one unit, which the
interval's margin of at least ``k/2`` absorbs in practice.

An **empty** cell (value 0) has no atom, so the atom model alone would call it exactly zero
whatever is published. For it the audit adds hypothetical unit types: each unit type of the
cell's group (or all-sectors cell) as it would be had it also counted in the cell and in every
cell that structurally holds it (the ``group`` and the all-sectors cell ``*``, transitively),
and asks how many such units the published numbers leave room for; and, for every atom
counting in a withheld cell, the same units as if they had not counted in it (nor in its parts).
Those columns are open only while their own cell is audited, so they never widen another cell's
range. A programme holds the rarest 16 of each kind first (fewer columns can only narrow a
range); where that finds a cell narrowed, the programme is solved again with every type before
anything more is withheld (or the release refused), and :func:`audit` does the same, so what is
decided is the model's answer, not the cap's. Where the whole set decides a range at once —
every unit of the cell taken out while only withheld cells change, so it reaches zero — that is
decided without a programme, alike in :func:`protect` and :func:`audit`. The independent oracle
of the tests (``tests/unit/disclosure_oracle.py``) holds every type uncapped.

A released quartile says its duration is of at least ``model.smallest_size`` trajectories:
each unit's place in a quantile is in its contributions (``model.quantile_size``), and the
programme holds that inequality (:func:`size_floors`); where it would narrow a withheld count,
the quartiles are withheld (before any count: :func:`_best`).

**The laws** (``laws.py``; ``laws=True``, this module's default, and what releases use under rule
set 3, ``RODEDRAAD_STATISTICS_LAWS``): what every unit keeps by the tables' definitions within one
version — parts that sum to their whole (the client's involvement per consultation), the kinds at
the table against the bands of kinds, a blocked trajectory's reason, a handover for a trajectory
handed over, a region's cell as its sectors' sum, … — summed over the units, are rows of the
programme too (``_RegionAudit._laws``): a reader knows they hold between the cells whatever the
units. The hypothetical types then need partners to keep them: for each cell sharing a law with the
audited one, units taken out of it (a unit that moves into the cell from another part of the same
whole) and units counting in it (a whole counted in one of its parts), and units of another sector
as if of this one (``_resectored``); a type is completed row by row where a row of the unit's own
sector mends a broken law (``_mended``: a consultation counts in a band of parties too), else left
as it is; and a unit taken out of a cell is taken out of what a law then takes below where the unit
had it (``_closed``: out of a node, out of its edges). A law caps a cell's interval only while its
bound is published; a cell so capped is audited again when the bound is withheld. A type may still
break a law by itself, but the programme can use it only in combinations that keep every law in sum.

Known holes (docs/statistics-releases.md, "The gap: …"; issue #12 is open for them): without
``laws``, every law above (``tests/unit/test_disclosure_laws.py`` shows each on its smallest input).
With them, a year against its quarters: a year and its quarters are versions computed at different
log positions, and a fact recorded late makes a real unit break "the year is the sum of its
quarters", so those laws are not rows, and a year's withheld count whose quarters were published can
be narrowed by adding them up (shown there too, marked as failing). Releases never ask for that (a
deployment releases quarters or years, ``releases.Releases.grid``), but for a store that released
both before the grid was one setting. And "keeps every law in sum" is weaker than "every unit keeps
it": a combination of types may keep a law in sum that no real units could, so a reader who reasons
unit by unit may know more.

Cells are only coupled through shared units. Units never cross regions in practice, so the
programme decomposes per region (regions a unit does span are audited together); each region's
model is built once and re-solved per withheld cell with a new objective. The basis stays primal
feasible under a change of objective and when a constraint is dropped, so HiGHS's primal simplex
warm-starts. (At 100,000 trajectories a region has about 6,400 atoms and a year's release still
takes many minutes under the laws: README, "Statistics for learning networks".)

A revision **says again** the regions where no unit counts otherwise than in the latest earlier
version of its period (:func:`_carried`): that version's numbers and withheld cells, which tell
a reader nothing new, in no programme. Only the regions with late facts are protected and
audited against every earlier version; :func:`audit` leaves a region out only where the release
publishes there just what that version did.
"""

import math
import multiprocessing
import os
import sys
import threading
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, islice, pairwise
from operator import itemgetter
from typing import Any, TypeVar

import highspy
import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import csgraph

from projections.statistics.dynamics import DYNAMICS
from projections.statistics.laws import Laws
from projections.statistics.model import (
    ALL_SECTORS,
    DIFFERENCE_BELOW_K,
    SIZE_PREFIX,
    AuditedCell,
    CellKey,
    PackedContributions,
    Period,
    Population,
    Proof,
    Protected,
    PublishedVersion,
    QuantileCell,
    ReleasedCell,
    Solutions,
    Withheld,
    is_sparse,
    protection_interval,
    quantile_size,
    same_units,
    size_floors,
    size_group,
)

#: No release may use a smaller k: below five, "a handful" is already a person (issue #12).
SMALLEST_K = 5

#: The quartiles a duration is released as: never the minimum or maximum (an extreme is one
#: person's value).
QUARTILES = (0.25, 0.5, 0.75)

#: Durations are rounded to whole weeks: two releases that differ by one late fact then mostly
#: show the same figure, so differencing them does not reveal that fact's duration.
DAYS_PER_WEEK = 7

_FREE = math.inf
_FIRST_MODEL = threading.Lock()
_banner_shown = False


def _highs() -> highspy.Highs:
    """A new HiGHS instance. The first one in a process prints HiGHS's banner on standard
    output, before any option can silence it; standard output is where the CLI writes its
    answers and the service its JSON logs, so that one line is sent to standard error."""
    global _banner_shown
    with _FIRST_MODEL:
        if _banner_shown:
            return highspy.Highs()  # type: ignore[no-untyped-call]
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            return highspy.Highs()  # type: ignore[no-untyped-call]
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            _banner_shown = True


_DUAL_ZERO = 1e-9
#: How many hypothetical unit types an empty cell's audit may use (fewer types: narrower
#: ranges, so a cap only errs on the side of withholding).
_HYPOTHETICAL_TYPES = 16
#: How many rows :meth:`_RegionAudit._mended` adds to a type at most to make it keep the laws
#: (and how many rounds :meth:`_RegionAudit._closed` takes).
_COMPLETION_STEPS = 12
#: How many cells of dense arrays :meth:`_RegionAudit._mended` holds at once: it mends types
#: that break a law in batches, each type a row as wide as the model's rows and laws (about
#: 40 MB; the large year's antwerp, 1,125 rows and 537 laws, mends 2,400 types at once).
#: The laws' values of types (:meth:`_RegionAudit._law_values_of`, a row per type, a column
#: per law) are worked out in chunks of as many cells; :meth:`_RegionAudit._lowered` holds
#: three such arrays at once (before, after and their difference: about 100 MB at most).
_MENDED_CELLS = 4_000_000
#: How many types' columns a model remembers at most (each a few KiB), and of :func:`_remembered`'s
#: other caches where no limit of their own is given.
_REMEMBERED = 50_000
#: How many atoms' columns (:meth:`_RegionAudit._atom`), and their laws' values, a model
#: remembers at most: an atom of a large region counts in a hundred rows or so (about 12 KiB
#: as Python tuples). The large year's regions have about 6,400 atoms each, and a cell's whole
#: set of types asks for nearly every atom of it: with 4,096 they were worked out again and
#: again (the large year's antwerp, 6,369 atoms: protect 142 -> 129 s, side by side, with
#: this and :meth:`_RegionAudit._closed` taking the dropped rows off the atom's laws' values;
#: the same cells withheld, and the process's peak memory no higher).
_ATOMS_REMEMBERED = 8_192
#: How far a type's reduced cost must improve an optimum for :meth:`_RegionAudit._grow` to
#: add it (below HiGHS's dual feasibility tolerance: a type too many costs a column, one too
#: few could leave a cell narrowed that is not), and how many rounds it may take before the
#: whole set is opened instead.
_PRICED = 1e-9
_GROWTH_ROUNDS = 200
#: How many feasible solutions :meth:`_RegionAudit._learn` keeps before it forgets those no
#: row is taken furthest by any more (each the atoms it takes and their sizes: at most as many
#: as the programme has rows, 12 bytes each — about 10 KiB at 100,000 trajectories; twice as
#: many are kept after a compaction that leaves more than half).
_SOLUTIONS_KEPT = 4_096
_NO_ROWS = np.empty(0, dtype=np.int32)
_NO_VALUES = np.empty(0, dtype=np.float64)
_NO_ROWS.flags.writeable = _NO_VALUES.flags.writeable = False  # (shared by every thread)
_UNBOUNDED = frozenset(
    {highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible}
)


def _settled(status: "highspy.HighsModelStatus | None", maximise: bool) -> bool:
    """Whether a programme's end may be believed (None: stopped where it was asked to go, on a
    checked solution).
    A minimisation is never unbounded — sizes and costs are never negative — so saying so is
    the solver losing its way, not a cell free to go below zero."""
    if status is None or status in (
        highspy.HighsModelStatus.kOptimal,
        highspy.HighsModelStatus.kModelEmpty,
    ):
        return True
    return maximise and status in _UNBOUNDED


class AuditFailed(Exception):
    """A withheld cell stays narrowed below its protection interval even with every cell this
    release could still withhold withheld (earlier versions' numbers are out already), or the
    published numbers contradict the units they claim to count. The release is refused."""


class RevisionNarrowed(AuditFailed):
    """A withheld cell of a revision that earlier releases alone narrow past its interval,
    whatever it withholds, in a part that could not be held back (``protect``'s
    ``hold_back``)."""


def check_k(k: int) -> None:
    """Refuse a ``k`` below :data:`SMALLEST_K` (issue #12: configurable, never below 5)."""
    if k < SMALLEST_K:
        raise ValueError(f"k must be at least {SMALLEST_K} (issue #12), not {k}")


# --- primary rules -------------------------------------------------------------------------


def primary_suppression(population: Population, k: int) -> dict[CellKey, Withheld]:
    """The count cells withheld before any audit: ``below_k`` (a count, or its number of
    contributing units, below ``k``) and ``all_or_none`` (a part equal to its non-empty group,
    or zero while the group is not — zero is below ``k`` anyway —, or short of its group by
    fewer than ``k``: the rest of the group, ``0 < whole - part < k``, is a count below ``k``
    that no cell holds, so no other rule would keep it)."""
    check_k(k)
    values = population.values()
    contributors = population.contributors()
    withheld: dict[CellKey, Withheld] = {}
    for key, cell in population.counts.items():
        value = values[key]
        if value < k or contributors[key] < k:
            withheld[key] = "below_k"
            continue
        if cell.group is None:
            continue
        whole = values[cell.group] if cell.group in values else population.value(cell.group)
        if whole > 0 and (value == 0 or 0 <= whole - value < k):
            withheld[key] = "all_or_none"
    return withheld


def released_quantiles(cell: QuantileCell, k: int) -> list[ReleasedCell]:
    """The quartiles of a duration, rounded to whole weeks.

    A quartile is released only when at least ``k`` values lie *strictly* below and *strictly*
    above it — both the exact quartile and its rounded value (ties on the quartile count on
    neither side: the conservative reading). Fewer than ``k`` values in all is ``below_k``.
    """
    ordered = sorted(cell.values)
    released: list[ReleasedCell] = []
    for q in QUARTILES:
        if len(ordered) < k:
            released.append(ReleasedCell(cell.key, "quantile", None, "below_k", q))
            continue
        exact = _quantile(ordered, q)
        rounded = DAYS_PER_WEEK * round(exact / DAYS_PER_WEEK)
        below = sum(1 for v in ordered if v < min(exact, rounded))
        above = sum(1 for v in ordered if v > max(exact, rounded))
        if below < k or above < k:
            released.append(ReleasedCell(cell.key, "quantile", None, "quantile_too_few", q))
        else:
            released.append(ReleasedCell(cell.key, "quantile", float(rounded), None, q))
    return released


def _quantile(ordered: Sequence[int], q: float) -> float:
    """Linear interpolation between order statistics (the usual 'inclusive' definition)."""
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- the audit's model ---------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    key: CellKey
    release: int | None  # None: this release
    value: int
    published: bool
    #: Published in an earlier version: out already, never withheld now.
    fixed: bool
    cols: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    coefs: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, np.float64))
    #: The period of its version: a revision's cells are the same cells as its predecessor's.
    period: Period | None = None
    #: A quantile's size (``model.quantile_size``), never published itself: what its published
    #: quartiles say of it, that it is at least this (``model.smallest_size``). While
    #: ``published``, the row is that inequality; withheld, the quartiles are.
    floor: int | None = None


#: A unit type: the rows it counts in and its amount in each.
_Kind = tuple[tuple[int, float], ...]
#: A cell in every version of its period: its period and its key (``model.same_units``).
_Cell = tuple[Period | None, CellKey]


def _versions_of_a_period(rows: Iterable[_Row]) -> int:
    """The most versions (releases, this one included) of one period among ``rows``."""
    versions = {(row.period, row.release) for row in rows}
    return max(Counter(period for period, _ in versions).values(), default=1)


def _amounts(kinds: Sequence[_Kind], rows: int) -> sparse.csc_matrix:
    """Unit types' amounts in the model's rows: a column per type, a row per model row."""
    return _Columns.of_kinds(kinds).matrix(rows)


def _kinds_of(
    amounts: sparse.csc_matrix, shared: dict[tuple[int, float], tuple[int, float]] | None = None
) -> list[_Kind]:
    """The unit types a matrix's columns are (sorted by row, a row once), as tuples; each
    (row, amount) pair the one ``shared`` holds, where given. (A model keeps thousands of
    types, each of about a hundred pairs: made anew for each type, those pairs took half a
    gigabyte more than the atoms' own in the large year's antwerp.) Each distinct pair is
    looked up in ``shared`` once, and every entry takes its pair by index, in C: most of a
    model's pairs are the same few thousand, asked millions of times."""
    if shared is None or amounts.indices.size < 1024:  # (few: as fast one by one)
        pairs = list(zip(amounts.indices.tolist(), amounts.data.tolist(), strict=True))
        if shared is not None:
            pairs = [shared.setdefault(pair, pair) for pair in pairs]
    else:
        # (Row and amount as one number, exact: rows are far below 2**53, amounts as stored.)
        each, at = np.unique(
            amounts.indices.astype(np.float64) + 1j * amounts.data, return_inverse=True
        )
        distinct = [
            shared.setdefault(pair, pair)
            for pair in zip(each.real.astype(np.int64).tolist(), each.imag.tolist(), strict=True)
        ]
        pairs = list(itemgetter(*at.ravel().tolist())(distinct))
    ends = amounts.indptr.tolist()
    return [tuple(pairs[start:end]) for start, end in pairwise(ends)]


@dataclass(frozen=True, slots=True)
class _Columns:
    """Unit types as the arrays of a sparse matrix's columns (each by row), without the
    matrix: a cell's types are made of many small pieces, and a SciPy matrix for each cost
    more than the pieces themselves (about 40,000 a large region's capped types asked)."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int64]
    data: npt.NDArray[np.float64]

    @property
    def width(self) -> int:
        return self.indptr.size - 1

    @classmethod
    def of(cls, matrix: sparse.csc_matrix) -> "_Columns":
        return cls(
            matrix.indptr.astype(np.int64),
            matrix.indices.astype(np.int64),
            np.asarray(matrix.data, dtype=np.float64),
        )

    @classmethod
    def of_kinds(cls, kinds: Sequence[_Kind]) -> "_Columns":
        lengths = np.fromiter(map(len, kinds), dtype=np.int64, count=len(kinds))
        indptr = np.zeros(len(kinds) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        total = int(indptr[-1])
        # Every (row, amount) pair flattened in C, rows read back from floats: exact (row
        # numbers are far below 2**53). (A whole set of a large cell is half a million pairs.)
        pairs = np.fromiter(chain.from_iterable(chain.from_iterable(kinds)), np.float64, 2 * total)
        return cls(indptr, pairs[0::2].astype(np.int64), pairs[1::2].copy())

    @classmethod
    def of_entries(
        cls,
        rows: npt.NDArray[np.int64],
        cols: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        width: int,
    ) -> "_Columns":
        """From entries sorted by column, then row (a row once in a column)."""
        indptr = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=width), out=indptr[1:])
        return cls(indptr, rows, values)

    @classmethod
    def stacked(cls, parts: Sequence["_Columns"]) -> "_Columns":
        """The columns of ``parts``, one after the other."""
        if not parts:
            return _Columns(np.zeros(1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0))
        ends = np.cumsum([part.indices.size for part in parts])[:-1]
        return cls(
            np.concatenate(
                [
                    [0],
                    *(
                        part.indptr[1:] + start
                        for part, start in zip(parts, [0, *ends], strict=True)
                    ),
                ]
            ).astype(np.int64),
            np.concatenate([part.indices for part in parts]),
            np.concatenate([part.data for part in parts]),
        )

    def taken(self, at: npt.NDArray[np.int64]) -> "_Columns":
        """Columns ``at`` (in that order)."""
        starts = self.indptr[at]
        lengths = self.indptr[at + 1] - starts
        indptr = np.zeros(at.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        entries = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return _Columns(indptr, self.indices[entries], self.data[entries])

    @classmethod
    def gathered(
        cls,
        parts: Sequence["_Columns"],
        part: npt.NDArray[np.int64],
        column: npt.NDArray[np.int64],
    ) -> "_Columns":
        """Column ``column[i]`` of ``parts[part[i]]`` for each ``i``: written once into the
        arrays of the result, never stacked first (a large cell's whole set is a hundred
        megabytes, and every copy of it is held at once)."""
        lengths = np.zeros(part.size, dtype=np.int64)
        for p, of in enumerate(parts):
            here = part == p
            lengths[here] = np.diff(of.indptr)[column[here]]
        indptr = np.zeros(part.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=np.int64)
        data = np.empty(indptr[-1], dtype=np.float64)
        for p, of in enumerate(parts):
            here = np.flatnonzero(part == p)
            found = of.taken(column[here])
            to = np.repeat(indptr[here] - found.indptr[:-1], np.diff(found.indptr))
            to += np.arange(found.indices.size)
            indices[to] = found.indices
            data[to] = found.data
        return cls(indptr, indices, data)

    def replaced(self, at: npt.NDArray[np.int64], by: "_Columns") -> "_Columns":
        """These columns with columns ``at`` (ascending) replaced by ``by``'s, in order."""
        part = np.zeros(self.width, dtype=np.int64)
        column = np.arange(self.width)
        part[at] = 1
        column[at] = np.arange(at.size)
        return _Columns.gathered([self, by], part, column)

    def entries(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Their stored entries by column: rows, columns and values."""
        cols = np.repeat(np.arange(self.width, dtype=np.int64), np.diff(self.indptr))
        return self.indices, cols, self.data

    def matrix(self, rows: int) -> sparse.csc_matrix:
        return sparse.csc_matrix((self.data, self.indices, self.indptr), shape=(rows, self.width))


#: This release's number among the rows' versions (:meth:`_RegionAudit._atom_sectors`): no
#: release is numbered so.
_THIS_RELEASE = np.iinfo(np.int64).min


def _amount(kind: _Kind, r: int) -> float:
    """How much a unit of type ``kind`` counts in row ``r`` (0 if not at all). Every type is
    sorted by row, a row once, so it is looked up by bisection: ``(r,)`` sorts before every
    pair of row ``r`` and after every pair of a lower row."""
    i = bisect_left(kind, (r,))
    if i < len(kind) and kind[i][0] == r:
        return kind[i][1]
    return 0.0


#: :attr:`_RegionAudit._pricing`: a row, its whole set of types as their amounts in the model's
#: rows (rows by types), their costs, and which of them are open.
_Pricing = tuple[int, sparse.csc_matrix, npt.NDArray[np.float64], npt.NDArray[np.bool_]]

_K = TypeVar("_K")
_T = TypeVar("_T")


def _remembered(
    cache: dict[_K, _T], kind: _K, work: Callable[[_K], _T], limit: int = _REMEMBERED
) -> _T:
    """``work(kind)``, remembered in ``cache``; a full cache (``limit``) is emptied first (a
    year's types are many: memory stays bounded)."""
    found = cache.get(kind)
    if found is None:
        found = _remember(cache, kind, work(kind), limit)
    return found


def _remember(cache: dict[_K, _T], kind: _K, found: _T, limit: int = _REMEMBERED) -> _T:
    """Keep ``found`` for ``kind`` in ``cache``, emptied first when full."""
    if len(cache) >= limit:
        cache.clear()
    cache[kind] = found
    return found


def _atoms_here(
    atoms: npt.NDArray[np.int64],
    taken: npt.NDArray[np.int32],
    sizes: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64] | None:
    """The atoms of this model that a solution from another (``taken`` indexes its units,
    mapped here by ``atoms``, with ``sizes``) is about; None when it is malformed (shapes
    that differ, an index out of range, a size not finite) or names a unit this model does
    not have. Such a solution goes unused."""
    if (
        taken.shape != sizes.shape
        or (taken.size and not 0 <= taken.min() <= taken.max() < atoms.size)
        or not np.isfinite(sizes).all()
    ):
        return None
    at = atoms[taken]
    return None if at.size and at.min() < 0 else at


def _acyclic(taken: sparse.csr_matrix) -> sparse.csr_matrix:
    """:meth:`_RegionAudit._substitute`'s rows taken out of rows, without any that is taken,
    through others, out of itself: in such a cycle the rows' equalities would only hold each
    other, and the programme would lose one. A guard: only rows nothing was taken out of are
    taken, so no chain or cycle forms today; this keeps it so if that choice changes."""
    taken = taken.tocoo()
    _, label = csgraph.connected_components(taken, directed=True, connection="strong")
    kept = (label[taken.row] != label[taken.col]) & (taken.data != 0)
    return sparse.csr_matrix(
        (taken.data[kept], (taken.row[kept], taken.col[kept])), shape=taken.shape
    )


@dataclass(slots=True)
class _Bound:
    value: float
    duals: dict[int, float] | None  # row → its dual at the optimum (None when unbounded)


class _RegionAudit:
    """One connected part of the release (in practice, one region): its atoms, every cell of
    this release and the earlier versions in it as a row, and a HiGHS model re-solved per
    withheld cell."""

    def __init__(
        self,
        rows: list[_Row],
        atoms: sparse.csc_matrix,
        sizes: npt.NDArray[np.int64],
        groups: Mapping[CellKey, CellKey],
        laws: bool = False,
        legacy: frozenset[int] = frozenset(),
    ):
        """``atoms``: a column per atom (one row per cell, sorted indices), its coefficient in
        each row it counts in; ``sizes``: how many units each atom stands for; ``laws``: hold
        the laws within a version (:meth:`_laws`); ``legacy``: the earlier versions in it
        made without them (:meth:`settle`)."""
        self.rows = rows
        self.legacy = legacy
        #: Row → the low end and the high end of its interval cut to what the earlier versions
        #: alone leave (:meth:`settle`), and the bounds it was worked out from.
        self._settled: dict[int, tuple[float, float]] = {}
        self._before: dict[tuple[int, bool, bool], float] = {}
        self.groups = groups
        self.index = {(row.release, row.key): i for i, row in enumerate(rows)}
        self._columns = atoms
        self.atom_sizes = sizes
        #: What :meth:`_holders`, :meth:`_lowering` and :meth:`_atom` found: each depends on
        #: the model's structure only, which never changes, and is asked again for every type.
        self._holders_of: dict[int, frozenset[int]] = {}
        self._lowering_of: dict[int, frozenset[int]] = {}
        #: A cell (in every version of its period, :meth:`_twins_of`) → the rows of each of its
        #: "alone" types that keep every law (:meth:`_lawful_alone`).
        self._alone_lawful: dict[_Cell, list[tuple[int, ...]]] = {}
        self._atoms: dict[int, _Kind] = {}
        self._atom_law_values: dict[int, dict[int, float]] = {}
        self._sector_rows: dict[tuple[int, str], int | None] = {}
        #: Row → the rows it structurally holds (its group, its all-sectors cell, transitively)
        #: and the rows that hold it (their inverse): what a unit counting in it counts in too.
        self._held_by: dict[int, set[int]] = defaultdict(set)
        for i in range(len(rows)):
            for holder in self._holders(i):
                if holder != i:
                    self._held_by[holder].add(i)
        by_row = atoms.tocsr()
        by_row.sort_indices()
        for r, row in enumerate(rows):
            start, end = by_row.indptr[r], by_row.indptr[r + 1]
            row.cols = by_row.indices[start:end].astype(np.int32)
            row.coefs = by_row.data[start:end].astype(np.float64)
        self.num_atoms = len(sizes)
        #: The atoms' columns as floats, each by row: what the hypothetical types are made of.
        by_column = sparse.csc_matrix(atoms, dtype=np.float64, copy=True)
        by_column.sort_indices()
        self._atom_columns = _Columns.of(by_column)
        #: Each row's sector and version as numbers, for :meth:`_atom_sectors`: the sector an
        #: index into ``_sector_names`` (-1: all sectors), the version ``_THIS_RELEASE`` for
        #: this release.
        self._sector_names = sorted({row.key.sector for row in rows} - {ALL_SECTORS})
        self._sector_codes = np.array(
            [
                -1 if row.key.sector == ALL_SECTORS else self._sector_names.index(row.key.sector)
                for row in rows
            ],
            dtype=np.int64,
        )
        self._release_codes = np.array(
            [_THIS_RELEASE if row.release is None else row.release for row in rows], dtype=np.int64
        )
        self._atom_sector_codes: dict[int | None, npt.NDArray[np.int64]] = {}
        #: The most versions of one period among its rows: a hypothetical type differs in
        #: every version of its cell's period alike, so it may break the laws of each, and
        #: :meth:`_mended` takes as many steps for each as for one (a revision's types were
        #: left broken half-way, and the audit narrowed cells a first release held open).
        self._versions = _versions_of_a_period(rows)
        #: (cell, whole) → the hypothetical unit types of its rows: the rarest
        #: ``_HYPOTHETICAL_TYPES`` of each kind, or (``whole``) every one of them. A cell's
        #: (:meth:`_cell`), since they are made for it in every version alike: a revision's
        #: row and its earlier twins have the same ones.
        self._phantoms: dict[tuple[_Cell, bool], list[tuple[tuple[int, float], ...]]] = {}
        #: The cells whose capped types leave some out (worked out with them).
        self._capped: set[_Cell] = set()
        #: Each atom's rank from the rarest (fewest units; ties in the atoms' order).
        self._rarity = np.empty(self.num_atoms, dtype=np.int64)
        self._rarity[np.argsort(sizes, kind="stable")] = np.arange(self.num_atoms)
        #: Row → the atoms counting in it, the rarest first (worked out when first asked).
        self._atoms_with: dict[int, list[int]] = {}
        #: (table, category) → the sectors it has cells for.
        sectors: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in rows:
            if row.key.sector != ALL_SECTORS:
                sectors[(row.key.table, row.key.category)].add(row.key.sector)
        self._sectors = {where: sorted(found) for where, found in sectors.items()}
        #: The same cell in every version of the same period (a revision and its predecessors),
        #: and the cells counting the same units as it (``model.SAME_UNITS``): a hypothetical
        #: unit differs in all of them alike.
        self._twins: dict[_Cell, list[int]] = defaultdict(list)
        #: (row, bound, its earlier twin) → whether the row's types count in both alike
        #: (:meth:`_types_alike`).
        self._alike_in_types: dict[tuple[int, int, int], bool] = {}
        for i in range(len(rows)):
            self._twins[self._cell(i)].append(i)
        self._laws(by_row, laws)
        #: :meth:`_whole_types`' last cell, its whole set and their weights.
        self._whole: tuple[_Cell, sparse.csc_matrix, npt.NDArray[np.float64]] | None = None
        #: Every (row, amount) pair of the types the model keeps as tuples (its capped types, the
        #: types opened), each once (:func:`_kinds_of`).
        self._pairs: dict[tuple[int, float], tuple[int, float]] = {}
        self._mending_arrays: (
            tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]] | None
        ) = None
        #: Every unit type's column in the programme (:meth:`_columns_for`), once worked out.
        self._columns_of: dict[_Kind, tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]] = {}
        #: :meth:`_resectoring`'s types of every atom, by sector (the model's structure only).
        self._resectorings: dict[str, tuple[_Columns, npt.NDArray[np.bool_]]] = {}
        #: Random weights of the rows: a type's column weighed by them tells the types that
        #: may be the same apart from those that cannot be (:meth:`_among`).
        self._fingerprint = np.random.default_rng(0).uniform(1.0, 2.0, len(rows))
        self.highs = self._model()
        #: Every row over the atoms, to read any feasible solution's value of every row.
        self._rows_over_atoms = by_row
        #: How high and how low a feasible solution found so far took each row: a row already
        #: taken as far as it needs to go is decided without a programme of its own. Valid while
        #: the feasible set only grows (withholding); when an equality is put back, kept only
        #: as far as the solutions that keep it take them (:meth:`publish_again`).
        self.highest = np.full(len(rows), -np.inf)
        self.lowest = np.full(len(rows), np.inf)
        #: The regions of its rows; each atom's representative (the id of one of its units)
        #: and which atom of this model each unit is in (set by :func:`_parts`): to carry
        #: feasible solutions from one model of a population to another (:meth:`solutions`,
        #: :meth:`start_from`).
        self.regions = _regions_of(rows)
        self.representatives: tuple[str, ...] = ()
        self._atom_of_unit: Callable[[Sequence[str]], npt.NDArray[np.int64]] | None = None
        #: What it was built from (:meth:`_PartPlan.build`): to build it again without the
        #: quantiles' sizes secondary suppression withheld (:func:`_protect_part`).
        self.plan: _PartPlan | None = None
        #: The atom-only feasible solutions :meth:`_learn` was told (their atoms and sizes: a
        #: simplex solution takes at most as many atoms as the programme has rows), and for
        #: each row the one that took it highest and lowest (-1: none).
        self._found: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]] = []
        self._keep_at = _SOLUTIONS_KEPT
        self._highest_from = np.full(len(rows), -1, dtype=np.int64)
        self._lowest_from = np.full(len(rows), -1, dtype=np.int64)
        #: While :meth:`relaxed` solves a programme that is not the release's: learn nothing.
        self._relaxed = False
        #: (row, maximise) → the feasible solution with the row's hypothetical types that took
        #: it furthest (:meth:`_prove`), for :meth:`solutions`.
        self._proved: dict[tuple[int, bool], Proof] = {}
        #: (row, maximise) → proofs another model found (:meth:`start_from`), not yet verified
        #: here (:meth:`proven`).
        self._proofs: dict[tuple[int, bool], list[Proof]] = defaultdict(list)
        #: (row, maximise) → this model's own last proof from before a row was published
        #: again (:meth:`publish_again`), to verify again as :meth:`proven` does another's.
        self._kept: dict[tuple[int, bool], Proof] = {}
        #: The solution a programme stopped at on reaching what it was asked (:meth:`_run`).
        self._stopped_at: npt.NDArray[np.float64] = _NO_VALUES
        #: The audited row's value in that solution.
        self._reached = 0.0
        #: The published rows' values in the last optimal solution (LP row order).
        self._activity: npt.NDArray[np.float64] | None = None
        #: The row whose hypothetical unit types are in the model (see :meth:`_open`), the
        #: first column of them and their costs.
        self._opened: tuple[tuple[int, bool], int, npt.NDArray[np.float64]] | None = None
        #: The opened row's own LP row, after every other (:meth:`_open`): its value, bounded
        #: at what a bound asks while it runs (:meth:`_run`), free otherwise.
        self._cap: int | None = None
        #: The opened hypothetical types' columns (LP rows by types, as the rows are published;
        #: the programme holds them with equalities taken out, :meth:`_add`), for ``_satisfies``.
        self._phantom_matrix: sparse.csc_matrix | None = None
        #: The opened types themselves, in their columns' order.
        self._open_kinds: list[_Kind] = []
        #: While row ``r`` is open and its programme grown (:meth:`_grow`): ``r``, its whole
        #: set of types as their amounts in the model's rows, their costs, and which are open.
        self._pricing: _Pricing | None = None

    def _laws(self, by_row: sparse.csr_matrix, hold: bool) -> None:
        """The relations between this model's cells that every unit keeps within one version
        (``laws.py``: parts that sum to their whole, the kinds at the table per band of kinds,
        a blocked trajectory's reason, a handover for a trajectory handed over, a region's
        cell as its sectors' sum, …), summed over the units: so a relation between cells a
        reader knows holds, whatever the units. Each is a row of the programme over the atoms
        and the hypothetical types alike, which a type breaking it can only keep in sum with
        others. Laws with a constant (a trajectory counted at most once) say nothing summed,
        and laws across versions do not hold for a unit a late fact changed: neither is here.
        A law the units do not keep in sum (a cell merged into "other" leaves a partition
        short) is no law of this release, and is left out rather than make the model
        contradict its units."""
        rows = self.rows
        found = Laws([(row.release, row.period, row.key) for row in rows]).laws if hold else []
        laws = sorted(
            (
                law
                for law in found
                if law.constant == 0 and len({rows[r].release for r in law.rows}) == 1
            ),
            # In an order of the cells, not of the rows' numbering: what a completion mends
            # first must not depend on how the model was split or its rows numbered.
            key=lambda law: (
                sorted(
                    (-1 if rows[r].release is None else rows[r].release, rows[r].key.text())
                    for r in law.rows
                ),
                law.name,
            ),
        )
        if laws:
            terms = sparse.csr_matrix(
                (
                    [c for law in laws for c in law.coefs],
                    (
                        [i for i, law in enumerate(laws) for _ in law.rows],
                        [r for law in laws for r in law.rows],
                    ),
                ),
                shape=(len(laws), len(rows)),
            )
            over_atoms = (terms @ by_row).tocsr()
            truth = over_atoms @ self.atom_sizes.astype(np.float64)
            kept = [
                i
                for i, law in enumerate(laws)
                if (abs(truth[i]) <= 1e-6 if law.equal else truth[i] >= -1e-6)
            ]
            laws = [laws[i] for i in kept]
            over_atoms = over_atoms[kept]
            terms = terms[kept]
        else:
            over_atoms = sparse.csr_matrix((0, self.num_atoms))
            terms = sparse.csr_matrix((0, len(rows)))
        #: Each law's coefficients over the rows (a row per law): how a row's amount moves
        #: the laws' rows of the programme, for pricing types without their columns
        #: (:meth:`_row_weights`).
        self._law_terms = terms.tocsr()
        #: The same by model row (a column per row, its laws' coefficients): a row's terms,
        #: gathered as rows are added to a type (:meth:`_mended`).
        self._law_terms_by_row = _Columns.of(terms.tocsc())
        #: Each law's terms over the atoms (a row per law), and whether it is an equality.
        self._law_rows = over_atoms
        self._law_equal = np.array([law.equal for law in laws], dtype=bool)
        #: The same, for the interpreter's loops (a numpy bool per look-up costs more).
        self._equal: list[bool] = self._law_equal.tolist()
        #: Row → (law, coefficient) for every law it is in: a hypothetical type's column there.
        self._in_laws: dict[int, list[tuple[int, float]]] = {}
        for i, law in enumerate(laws):
            for r, c in zip(law.rows, law.coefs, strict=True):
                self._in_laws.setdefault(r, []).append((i, c))
        self._law_coefs = [dict(zip(law.rows, law.coefs, strict=True)) for law in laws]

    def _law_values(self, column: Iterable[tuple[int, float]]) -> dict[int, float]:
        """A column's value in each law it is in (rows → amounts, as a type is). (Asked for
        every hypothetical type, some several times: written for the interpreter.)"""
        values: dict[int, float] = {}
        found = values.get
        in_laws = self._in_laws.get
        for r, a in column:
            laws = in_laws(r)
            if laws:
                for law, c in laws:
                    values[law] = found(law, 0.0) + c * a
        return values

    def _keeps_laws(self, changes: Mapping[int, float]) -> bool:
        """Whether moving units by ``changes`` (law → change of its value) keeps every law
        whatever the units: no equality moves, no inequality goes down."""
        return all(abs(v) <= 1e-9 if self._equal[law] else v >= -1e-9 for law, v in changes.items())

    def _hypothetical(self, start: int, whole: bool = False) -> list[tuple[tuple[int, float], ...]]:
        """Unit types a reader cannot rule out for withheld row ``start``: units like those that
        exist, but that did (or did not) count in the cell.

        - *Counting in it*: units of the cell's group (or, without a group, of its all-sectors
          cell) that also counted in it and in what holds it — a blocked unit is also accepted
          and active, like the group's units are — and units counting in the cell and what it
          implies only. (An empty cell needs them, or it would be pinned at zero.)
        - *Not counting in it*: units that counted in it, as if they had not — nor in what only
          a unit counting in it counts in (its parts, its sectors' cells). Without them, a unit
          whose combination of cells is its own pins every cell it counts in: a reader who
          compares two versions would "know" a late trajectory's every attribute.

        A unit differs so in the cell in every version of the same period alike (a revision
        counts the same trajectories as its predecessor, but for late facts).

        The model has one of each for every atom; the programme holds at most
        ``_HYPOTHETICAL_TYPES`` of each, the units of the rarest combinations first: fewer
        types can only narrow the range found, so the programme errs on the side of
        withholding. Where the full set is decisive without a programme ("every unit taken
        out" touches withheld rows only), :meth:`freely_moves` decides instead; where the
        capped set finds the cell narrowed, the ``whole`` set decides (:meth:`bound`)."""
        return _kinds_of(self._hypothetical_types(start, whole), self._pairs)

    def _hypothetical_types(self, start: int, whole: bool = False) -> sparse.csc_matrix:
        """:meth:`_hypothetical`'s types as the columns of a matrix (the model's rows by types,
        each column by row): made for many atoms at once from their columns, and the types
        that break a law mended together (:meth:`_mended`; a large cell's whole set is a
        hundred thousand types, which pricing and the check's proofs read as this matrix, never
        as tuples)."""
        twins = self._twins_of(start)
        cap = None if whole else _HYPOTHETICAL_TYPES
        lowered = self._lowered(self._rarest_first(twins, whole), twins)
        lowered = lowered.taken(np.arange(min(lowered.width, cap or lowered.width)))
        bases = {twin: self._base(twin) for twin in twins}
        atoms = self._rarest_first([b for t, b in bases.items() if b != t], whole)
        raised = self._raised(atoms[:cap], twins, bases)
        # The cells it shares a law with (``_laws``): units taken out of one of them (a unit
        # moving into the cell from another part of the same whole), and units counting in
        # one of them and what holds it only (a whole counting in one of its parts). Alone,
        # such a type may break a law; the laws' rows let the programme use them only in
        # combinations that keep every law in sum.
        partners = self._partners(twins)
        moved: list[_Columns] = []
        swapped: set[_Cell] = set()
        for p in partners:
            cell = self._cell(p)
            if cell in swapped:
                continue
            swapped.add(cell)
            partner = self._twins[cell]
            # In every version of the period alike, as the cell's own "alone" types are.
            held: set[int] = set().union(*(self._holders(q) for q in partner))
            moved.append(_Columns.of_kinds([tuple((h, 1.0) for h in sorted(held))]))
            here, there = self.rows[start].key.sector, self.rows[p].key.sector
            if there == here:
                moved += [
                    self._swapped(twins, partner, whole),
                    self._swapped(partner, twins, whole),
                ]
            elif ALL_SECTORS not in (here, there):
                # A unit is of one sector: one of another sector's, were it of this one, and
                # one of this one's, were it of that one.
                moved += [
                    self._resectored(partner, here, whole),
                    self._resectored(twins, there, whole),
                ]
        if (
            lowered.width == cap  # (cut short over all its versions' atoms, each few or not)
            or raised.width == cap
            or any(len(self.rows[x].cols) > _HYPOTHETICAL_TYPES for x in [*twins, *bases.values()])
        ) or any(
            # (The moved types take the rarest atoms of a cell over all its versions.)
            sum(len(self.rows[q].cols) for q in cell) > _HYPOTHETICAL_TYPES
            for cell in [twins, *(self._twins[c] for c in swapped)]
            if partners
        ):
            # (Some of its types may be left out: see :meth:`capped`.)
            self._capped.add(self._cell(start))
        alone = _Columns.of_kinds(self._alone(twins))
        completed = self._completed_types(_Columns.stacked([raised, alone, *moved]))
        before = raised.width + alone.width  # (the lowered types are never completed)
        after = completed.width - before
        part = np.repeat([0, 1, 0], [before, lowered.width, after])
        column = np.concatenate(
            [np.arange(before), np.arange(lowered.width), np.arange(before, completed.width)]
        )
        return _Columns.gathered([completed, lowered], part, column).matrix(len(self.rows))

    def _lowered(self, atoms: npt.NDArray[np.int64], twins: Sequence[int]) -> _Columns:
        """Units of ``atoms`` taken out of the cell (``twins``: it in every version of its
        period): each atom's column without the rows its units no longer count in
        (:meth:`_dropped`), in ``atoms``' order; none for an atom left counting in nothing.
        Worked out for all at once; an atom whose column so breaks a law that
        :meth:`_closed` drops more is worked out on its own."""
        groups, found = self._grouped(atoms, twins, ())
        drops = [set().union(*(self._lowering(t) for t in present)) for present, _ in found]
        lowered = self._moved(atoms, groups, drops, [set()] * len(found))
        replaced: dict[int, _Kind] = {}
        laws = self._law_terms.shape[0]
        step = max(1, _MENDED_CELLS // max(1, laws))  # (atoms a chunk: dense, by law)
        for start in range(0, atoms.size if laws else 0, step):
            at = np.arange(start, min(start + step, atoms.size))
            before = self._law_values_of(self._atom_columns.taken(atoms[at]))
            after = self._law_values_of(lowered if at.size == atoms.size else lowered.taken(at))
            # (An equality that moves down; an inequality that goes below zero as it does.)
            fell = (after - before < -1e-9) & (self._law_equal | (after < -1e-9))
            for j in at[fell.any(axis=1)].tolist():
                c = int(atoms[j])
                counted = dict(self._atom(c))
                drop = self._closed(c, counted, set(drops[groups[j]]))
                replaced[j] = tuple((r, a) for r, a in self._atom(c) if r not in drop)
        if replaced:
            at = np.array(sorted(replaced), dtype=np.int64)
            lowered = lowered.replaced(at, _Columns.of_kinds([replaced[j] for j in at.tolist()]))
        return lowered.taken(np.flatnonzero(np.diff(lowered.indptr)))

    def _raised(
        self, atoms: npt.NDArray[np.int64], twins: Sequence[int], bases: Mapping[int, int]
    ) -> _Columns:
        """Units of ``atoms`` (units of the cell's group or all-sectors cell: ``bases``, each
        twin's) that also counted in the cell, in every row counting the same units, and in
        what holds those: each atom's column with those rows counted in (at least once)."""
        keys = sorted({b for t, b in bases.items() if b != t})
        releases = list(dict.fromkeys(self.rows[t].release for t in twins))
        groups, found = self._grouped(atoms, keys, releases)
        lifts = []
        for present, sectors in found:
            lift: set[int] = set()
            for twin, base in bases.items():
                if base != twin and base in present:
                    # In it, and so in every cell counting the same units (``SAME_UNITS``).
                    for alike in self._alike(twin, twins):
                        lift |= self._holders(alike) | self._sector_holders(
                            alike, sectors[releases.index(self.rows[alike].release)]
                        )
            lifts.append(lift)
        return self._moved(atoms, groups, [], lifts)

    def _completed_types(self, types: _Columns) -> _Columns:
        """Each of ``types`` (a column each, by row) made to keep the laws: the laws' values of
        many of them worked out at once (:meth:`_law_values_of`), and the types that break a
        law mended together (:meth:`_mended`). A type that breaks none is its own completion.
        (The amounts and the laws' coefficients are whole numbers, whose sums are exact in any
        order: each type is completed as it would be on its own.)"""
        laws = self._law_terms.shape[0]
        if not laws or not types.width:
            return types
        at_once = max(1, _MENDED_CELLS // (len(self.rows) + laws))
        broken: list[npt.NDArray[np.int64]] = []
        mended: list[_Columns] = []
        for start in range(0, types.width, at_once):
            chunk = np.arange(start, min(start + at_once, types.width))
            some = types if chunk.size == types.width else types.taken(chunk)
            values = self._law_values_of(some)
            bad = np.where(self._law_equal, np.abs(values) > 1e-9, values < -1e-9).any(axis=1)
            if bad.any():
                broken.append(chunk[bad])
                mended.append(self._mended(some.taken(np.flatnonzero(bad)), values[bad]))
        if not broken:
            return types
        return types.replaced(np.concatenate(broken), _Columns.stacked(mended))

    def _law_values_of(self, types: _Columns) -> npt.NDArray[np.float64]:
        """Every law's value for each of ``types`` (a row each, a column per law): each of
        their entries' law terms gathered (``_law_terms_by_row``) and summed in C, with no
        sparse matrix made (most types are asked a few at a time, where making one costs
        more than the sums)."""
        laws = self._law_terms.shape[0]
        owner, law, added = self._law_terms_of(*types.entries())
        found = np.bincount(owner * laws + law, weights=added, minlength=types.width * laws)
        return found.reshape(types.width, laws).astype(np.float64, copy=False)

    def _law_terms_of(
        self,
        rows: npt.NDArray[np.int64],
        owners: npt.NDArray[np.int64],
        amounts: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """What entries (a type ``owners[i]`` counting ``amounts[i]`` in row ``rows[i]``) add
        to the laws: each of their rows' law terms (``_law_terms_by_row``), gathered, as its
        owner, its law and the value it adds."""
        terms = self._law_terms_by_row.taken(rows)
        lengths = np.diff(terms.indptr)
        return np.repeat(owners, lengths), terms.indices, np.repeat(amounts, lengths) * terms.data

    def _mended(self, types: _Columns, laws: npt.NDArray[np.float64]) -> _Columns:
        """Types that break a law (``types``, a column each, and ``laws``, their laws' values,
        a row each), each made to keep every law by counting also in the rows a law asks for:
        while a law is broken (the first, in the laws' order), the first row (by version and
        key) that mends it is added with what holds it (a consultation counts in a band of
        parties, a trajectory in the early tables in a cell of every factor), each at least
        once. A unit is of one sector: it is mended in its own sector's rows (or the
        region's); a unit counting in the region's rows only is of the first sector that
        mends it. A type stays as it is if no row mends it within ``_COMPLETION_STEPS``
        steps for each version of the model's rows. Every type is a row of dense arrays, all
        mended step by step together."""
        law_rows, law_coefs, holders = self._mending()
        sector = self._sector_codes
        sectors = len(self._sector_names)
        code = np.where(sector < 0, sectors, sector)  # (the region's rows: a column of its own)
        rows_at, types_at, values_at = types.entries()
        amounts = np.zeros((types.width, len(self.rows)))
        amounts[types_at, rows_at] = values_at
        present = np.zeros((types.width, len(self.rows)), dtype=bool)  # (whatever its amount)
        present[types_at, rows_at] = True
        laws = laws.copy()  # (moved step by step below)
        own = np.zeros((types.width, sectors + 1), dtype=bool)  # (whether it counts there)
        of_a_sector = sector[rows_at] >= 0
        own[types_at[of_a_sector], sector[rows_at][of_a_sector]] = True
        done = np.zeros(types.width, dtype=bool)
        active = np.arange(types.width)
        for _ in range(_COMPLETION_STEPS * self._versions):
            value = laws[active]
            broken = np.where(self._law_equal, np.abs(value) > 1e-9, value < -1e-9)
            mending = broken.any(axis=1)
            done[active[~mending]] = True
            active, broken = active[mending], broken[mending]
            if not active.size:
                break
            law = broken.argmax(axis=1)  # (the first law broken)
            rows, coefs = law_rows[law], law_coefs[law]
            there = np.maximum(rows, 0)
            short = laws[active, law][:, None] < 0
            may = (rows >= 0) & np.where(short, coefs > 0, coefs < 0)
            may &= ~present[active[:, None], there]
            owned = np.any(own[active, :sectors], axis=1, keepdims=True)
            may &= ~owned | (code[there] == sectors) | own[active[:, None], code[there]]
            found = may.any(axis=1)  # (a type no row mends stays as it was)
            active, may, there = active[found], may[found], there[found]
            chosen = there[np.arange(active.size), may.argmax(axis=1)]
            lifted = holders[chosen]
            at = np.maximum(lifted, 0)
            was = amounts[active[:, None], at]
            change = (lifted >= 0) & (was < 1.0)
            which, slot = np.nonzero(change)
            to, rows_changed = active[which], at[which, slot]
            delta = 1.0 - was[which, slot]
            amounts[to, rows_changed] = 1.0
            present[to, rows_changed] = True
            in_sector = sector[rows_changed] >= 0
            own[to[in_sector], sector[rows_changed][in_sector]] = True
            # The laws' values moved by the added rows' terms, gathered, not a matrix made and
            # multiplied for each step. (Whole numbers: their sums are exact in any order.)
            owner, law_of, added = self._law_terms_of(rows_changed, to, delta)
            np.add.at(laws, (owner, law_of), added)
        cols_of, rows_of = np.nonzero(present)  # (by type, then row)
        mended = _Columns.of_entries(rows_of, cols_of, amounts[cols_of, rows_of], types.width)
        kept = np.flatnonzero(~done)  # (a type no row mended in time stays as it was)
        return mended.replaced(kept, types.taken(kept))

    def _mending(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """For :meth:`_mended`: each law's rows, the first by version and key first, and their
        coefficients (a row per law, -1 past its rows), and each row's holders
        (:meth:`_holders`, -1 past them). (Worked out once: the model's structure only.)"""
        if self._mending_arrays is None:
            rank = {r: (row.release is not None, row.key) for r, row in enumerate(self.rows)}
            width = max((len(coefs) for coefs in self._law_coefs), default=0)
            law_rows = np.full((len(self._law_coefs), width), -1, dtype=np.int64)
            law_coefs = np.zeros((len(self._law_coefs), width))
            for law, coefs in enumerate(self._law_coefs):
                ranked = sorted(coefs, key=rank.__getitem__)
                law_rows[law, : len(ranked)] = ranked
                law_coefs[law, : len(ranked)] = [coefs[r] for r in ranked]
            held = [sorted(self._holders(r)) for r in range(len(self.rows))]
            holders = np.full((len(self.rows), max(map(len, held), default=0)), -1, np.int64)
            for r, found in enumerate(held):
                holders[r, : len(found)] = found
            self._mending_arrays = (law_rows, law_coefs, holders)
        return self._mending_arrays

    def _complete_all(self, kinds: Sequence[_Kind]) -> list[_Kind]:
        """Each of ``kinds`` (each sorted by row, a row once, as every type is made) made to
        keep the laws (:meth:`_completed_types`)."""
        completed = self._completed_types(_Columns.of_kinds(kinds))
        return _kinds_of(completed.matrix(len(self.rows)), self._pairs)

    def _swapped(self, into: Sequence[int], out_of: Sequence[int], whole: bool) -> _Columns:
        """Units of one cell moved into another of the same sector that shares a law with it
        (each given as the cell in every version of its period; one of them the audited
        cell): out of ``out_of`` and what only a unit counting in it counts in, into ``into``
        and what holds it (counted in again if ``out_of``'s dropped it), in every version the
        unit counted in ``out_of`` in. One type per atom (the rarest ``_HYPOTHETICAL_TYPES``,
        or every one), none where it lifts into nothing."""
        atoms = self._rarest_first(out_of, whole)
        atoms = atoms if whole else atoms[:_HYPOTHETICAL_TYPES]
        releases = list(dict.fromkeys(self.rows[t].release for t in into))
        groups, found = self._grouped(atoms, out_of, releases)
        drops, lifts = [], []
        for present, sectors in found:
            drop: set[int] = set()
            lift: set[int] = set()
            for p in present:
                drop |= self._lowering(p)
                for t in self._alike(p, into):
                    lift |= self._holders(t) | self._sector_holders(
                        t, sectors[releases.index(self.rows[t].release)]
                    )
            drops.append(drop)
            lifts.append(lift)
        kept = np.array([bool(lift) for lift in lifts], dtype=bool)[groups]
        return self._moved(atoms[kept], groups[kept], drops, lifts)

    def _resectored(self, out_of: Sequence[int], sector: str, whole: bool) -> _Columns:
        """Units of a cell of another sector (``out_of``: it in every version of its period)
        as if they were of ``sector``: every cell of their own sector counted in that
        sector's instead, in every version; none where a count has no counterpart there.
        One type per atom (the rarest ``_HYPOTHETICAL_TYPES``, or every one).

        A quantile's size without a row in that sector (its quartiles not released there) is
        left out of the type rather than the type dropped: a row the model does not hold
        constrains nothing, so the type is the same as with that size's row withheld. The
        release step's check holds size rows only where quartiles were published, while
        ``protect()`` holds one, withheld, for every quartile it withheld; dropping the type
        in the one and not the other let them disagree under the laws (a signatory cell the
        check found narrowed that secondary suppression had left open)."""
        atoms = self._rarest_first(out_of, whole)
        atoms = atoms if whole else atoms[:_HYPOTHETICAL_TYPES]
        types, valid = self._resectoring(sector)
        return types.taken(atoms[valid[atoms]])

    def _resectoring(self, sector: str) -> tuple[_Columns, npt.NDArray[np.bool_]]:
        """Every atom's units as if they were of ``sector`` (:meth:`_resectored`'s type for
        each atom: the model's structure only, worked out once), and which atoms have one (a
        count of it with no counterpart in that sector: none)."""
        found = self._resectorings.get(sector)
        if found is not None:
            return found
        n = len(self.rows)
        target = np.arange(n, dtype=np.int64)
        for r, row in enumerate(self.rows):
            if row.key.sector != ALL_SECTORS:
                j = self._in_sector(r, sector)
                if j is None:
                    j = -1 if row.key.category.startswith(SIZE_PREFIX) else -2
                target[r] = j
        rows, cols, values = self._atom_columns.entries()
        to = target[rows]
        valid = np.ones(self.num_atoms, dtype=bool)
        valid[cols[to == -2]] = False
        there = to >= 0
        types = sparse.csc_matrix(
            (values[there], (to[there], cols[there])), shape=(n, self.num_atoms)
        )
        types.sum_duplicates()
        found = self._resectorings[sector] = (_Columns.of(types), valid)
        return found

    def _grouped(
        self, atoms: npt.NDArray[np.int64], keys: Sequence[int], releases: Sequence[int | None]
    ) -> tuple[npt.NDArray[np.int64], list[tuple[tuple[int, ...], tuple[str | None, ...]]]]:
        """``atoms`` grouped by what the types made of them depend on: which of the rows
        ``keys`` each counts in, and the sector of its units in each of ``releases``
        (:meth:`_atom_sectors`). Each atom's group, and for each group those rows and sectors."""
        if not atoms.size:
            return np.zeros(0, dtype=np.int64), []
        columns = [np.isin(atoms, self.rows[key].cols) for key in keys] + [
            self._atom_sectors(release)[atoms] for release in releases
        ]
        # Each atom's signature as one number, a digit per column (a sector's code or -1, or
        # whether it counts in the row, plus one), the first the most significant: grouped
        # and ordered as its rows would be, for a fraction of the cost of grouping rows.
        radix = max(3, len(self._sector_names) + 1)
        if radix ** len(columns) < 2**62:
            number = np.zeros(atoms.size, dtype=np.int64)
            for column in columns:
                number = number * radix + column.astype(np.int64) + 1
            numbers, groups = np.unique(number, return_inverse=True)
            signatures: list[list[int]] = []
            for n in numbers.tolist():
                digits = []
                for _ in columns:
                    n, digit = divmod(n, radix)
                    digits.append(digit - 1)
                signatures.append([*reversed(digits), 0])
        else:
            signature = np.column_stack([*columns, np.zeros(atoms.size, dtype=np.int64)]).astype(
                np.int64
            )
            unique, groups = np.unique(signature, axis=0, return_inverse=True)
            signatures = unique.tolist()
        found = []
        for u in signatures:
            present = tuple(key for key, there in zip(keys, u, strict=False) if there)
            sectors = tuple(
                None if code < 0 else self._sector_names[code] for code in u[len(keys) : -1]
            )
            found.append((present, sectors))
        return np.asarray(groups, dtype=np.int64).ravel(), found

    def _atom_sectors(self, release: int | None) -> npt.NDArray[np.int64]:
        """Each atom's sector in ``release``: the sector of the first row of that version it
        counts in that is a sector's, as an index into ``_sector_names`` (-1: none).
        (Remembered: the model's structure only.)"""
        found = self._atom_sector_codes.get(release)
        if found is None:
            rows, cols, _ = self._atom_columns.entries()
            code = _THIS_RELEASE if release is None else release
            ours = (self._release_codes[rows] == code) & (self._sector_codes[rows] >= 0)
            first_cols, first = np.unique(cols[ours], return_index=True)
            found = np.full(self.num_atoms, -1, dtype=np.int64)
            found[first_cols] = self._sector_codes[rows[ours][first]]
            self._atom_sector_codes[release] = found
        return found

    def _moved(
        self,
        atoms: npt.NDArray[np.int64],
        groups: npt.NDArray[np.int64],
        drops: Sequence[set[int]],
        lifts: Sequence[set[int]],
    ) -> _Columns:
        """Each of ``atoms``' column (in that order) without the rows its group drops
        (``drops[group]``) and counting at least once in the rows it lifts into
        (``lifts[group]``, where a dropped row counts once again)."""
        n = len(self.rows)
        rows, cols, values = self._atom_columns.taken(atoms).entries()
        if drops:
            dropped = np.zeros((len(drops), n), dtype=bool)
            for g, drop in enumerate(drops):
                dropped[g, list(drop)] = True
            kept = ~dropped[groups[cols], rows]
            rows, cols, values = rows[kept], cols[kept], values[kept]
        sizes = np.array([len(lift) for lift in lifts], dtype=np.int64)
        lengths = sizes[groups] if atoms.size else np.zeros(0, dtype=np.int64)
        if lengths.sum():
            flat = np.array([r for lift in lifts for r in sorted(lift)], dtype=np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            lift_cols = np.repeat(np.arange(atoms.size), lengths)
            offsets = np.arange(lift_cols.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            lift_rows = flat[np.repeat(starts[groups], lengths) + offsets]
            rows = np.concatenate([rows, lift_rows])
            cols = np.concatenate([cols, lift_cols])
            values = np.concatenate([values, np.ones(lift_rows.size)])
            order = np.lexsort((rows, cols))
            rows, cols, values = rows[order], cols[order], values[order]
            first = np.ones(rows.size, dtype=bool)
            first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
            at = np.flatnonzero(first)
            values = np.maximum.reduceat(values, at) if at.size else values
            rows, cols = rows[at], cols[at]
        return _Columns.of_entries(rows, cols, values, atoms.size)

    def _partners(self, twins: Sequence[int]) -> list[int]:
        """The rows sharing a law with one of ``twins`` (but for the twins and what holds
        them): a unit that moves into the cell keeps the laws by leaving one of those."""
        exclude: set[int] = set(twins)
        for t in twins:
            exclude |= self._holders(t)
        found: set[int] = set()
        for t in twins:
            for law, _ in self._in_laws.get(t, ()):
                found.update(self._law_coefs[law])
        return sorted(found - exclude)

    def _dropped(self, c: int, twins: Sequence[int]) -> set[int]:
        """The rows atom ``c``'s units no longer count in when taken out of the cell (``twins``:
        it in every version of its period): each twin they count in, and what it drops."""
        counted = dict(self._atom(c))
        drop: set[int] = set()
        for twin in twins:
            if twin in counted:
                drop |= self._lowering(twin)
        return self._closed(c, counted, drop)

    def _closed(self, c: int, counted: Mapping[int, float], drop: set[int]) -> set[int]:
        """``drop`` and what a law makes a unit of atom ``c`` (``counted``: its column) no
        longer count in with it: where dropping them takes a law below where the unit had it
        (a node dropped, its edges kept; a whole dropped, its parts kept), the rows the unit
        counts in that take it down are dropped too (the edges, the parts), and what they
        drop."""
        if not self._in_laws:
            return drop
        before = self._atom_laws(c)
        in_laws = self._in_laws.get
        for _ in range(_COMPLETION_STEPS):
            # The laws' values without the dropped rows: the atom's less what those add
            # (exact: whole numbers), not summed again over the atom's every row.
            after = dict(before)
            for r in drop:
                a = counted.get(r)
                if a is not None:
                    for law, coef in in_laws(r, ()):
                        after[law] -= coef * a
            more: set[int] = set()
            for law, had in before.items():
                floor = had if self._equal[law] else min(had, 0.0)
                if after.get(law, 0.0) < floor - 1e-9:
                    for r, coef in self._law_coefs[law].items():
                        if coef < 0 and r in counted and r not in drop:
                            more |= self._lowering(r)
            if not more - drop:
                break
            drop = drop | more
        return drop

    def _twins_of(self, r: int) -> list[int]:
        """Row ``r``'s cell in every version of its period, and the cells counting the same
        units (``_twins``)."""
        return self._twins[self._cell(r)]

    def _cell(self, r: int) -> _Cell:
        """Row ``r``'s cell in every version of its period (``_twins``' key): what its
        hypothetical types are made for (:meth:`_hypothetical_types` reads its twins and its
        sector only, the same for every row of the cell)."""
        row = self.rows[r]
        return (row.period, same_units(row.key))

    def _alike(self, r: int, twins: Sequence[int]) -> list[int]:
        """Row ``r`` and the rows of its version counting the same units (its twins there)."""
        return [t for t in twins if self.rows[t].release == self.rows[r].release]

    def _atom_laws(self, c: int) -> dict[int, float]:
        """Atom ``c``'s value in every law one of its rows is in (zero too): what
        :meth:`_closed` takes the dropped rows' values from. (Remembered as its column.)"""
        return _remembered(self._atom_law_values, c, self._atom_law_column, _ATOMS_REMEMBERED)

    def _atom_law_column(self, c: int) -> dict[int, float]:
        return self._law_values(self._atom(c))

    def _atom(self, c: int) -> tuple[tuple[int, float], ...]:
        """Atom ``c``'s column: (row, coefficient) for every row it counts in, by row."""
        return _remembered(self._atoms, c, self._atom_column, _ATOMS_REMEMBERED)

    def _atom_column(self, c: int) -> tuple[tuple[int, float], ...]:
        start, end = self._columns.indptr[c], self._columns.indptr[c + 1]
        return tuple(
            zip(
                self._columns.indices[start:end].tolist(),
                self._columns.data[start:end].astype(np.float64).tolist(),
                strict=True,
            )
        )

    def _rarest_in(self, r: int) -> list[int]:
        """The atoms counting in row ``r``, the rarest first (at most ``4 · _HYPOTHETICAL_TYPES
        + 1`` of them: enough for the capped types; :meth:`capped` says when more exist)."""
        found = self._atoms_with.get(r)
        if found is None:
            cols = self.rows[r].cols
            ranks = self._rarity[cols]
            chosen = cols[np.argsort(ranks)[: 4 * _HYPOTHETICAL_TYPES + 1]]
            found = self._atoms_with[r] = chosen.tolist()
        return found

    def _rarest_first(self, rows: Sequence[int], whole: bool = False) -> npt.NDArray[np.int64]:
        """The atoms counting in any of ``rows``, the rarest first (at most what is used, or
        every one of them)."""
        if not rows:
            return np.zeros(0, dtype=np.int64)
        found = np.unique(
            np.concatenate(
                [
                    self.rows[r].cols if whole else np.asarray(self._rarest_in(r), dtype=np.int64)
                    for r in rows
                ]
            ).astype(np.int64)
        )
        return found[np.argsort(self._rarity[found], kind="stable")]

    def _alone(self, twins: Sequence[int]) -> list[tuple[tuple[int, float], ...]]:
        """Units that count in the cell (in every version of its period) and in what that
        implies, and in nothing else: one per sector for a region's all-sectors cell, since a
        unit counts in its sector's cell too."""
        first = self.rows[twins[0]]
        if first.key.sector != ALL_SECTORS:
            holders: set[int] = set().union(*(self._holders(t) for t in twins))
            return [tuple((h, 1.0) for h in sorted(holders))]
        sectors = self._sectors.get((first.key.table, first.key.category), [])
        types = []
        for sector in sectors:
            lifted: set[int] = set()
            for t in twins:
                j = self.index.get((self.rows[t].release, self.rows[t].key._replace(sector=sector)))
                lifted |= self._holders(j) if j is not None else self._holders(t)
            types.append(tuple((h, 1.0) for h in sorted(lifted)))
        every: set[int] = set().union(*(self._holders(t) for t in twins))
        return types or [tuple((h, 1.0) for h in sorted(every))]

    def _base(self, start: int) -> int:
        """The row whose units a unit counting in ``start`` is like: the outermost group it is
        a part of (blocked for waiting lists → blocked → active), else its all-sectors cell
        (``start`` itself when neither is there). The outermost, because a reader does not
        know how many of the units in between there are when those are withheld too."""
        row = self.rows[start]
        key, seen = row.key, {row.key}
        while (group := self.groups.get(key)) is not None and group not in seen:
            if (row.release, group) not in self.index:
                break
            key = group
            seen.add(key)
        base = (row.release, key) if key != row.key else None
        if base is None:
            base = (row.release, row.key._replace(sector=ALL_SECTORS))
        return self.index.get(base, start)

    def _lowering(self, start: int) -> frozenset[int]:
        """The rows a unit no longer counts in when it no longer counts in ``start``: the row,
        its parts, and, for a sector's row, the region's row of the category and its parts."""
        found = self._lowering_of.get(start)
        if found is not None:
            return found
        dependents = self._held_by.get(start, set()) | {start}
        row = self.rows[start]
        if row.key.sector != ALL_SECTORS:
            whole = self.index.get((row.release, row.key._replace(sector=ALL_SECTORS)))
            if whole is not None:
                dependents |= self._held_by.get(whole, set()) | {whole}
        found = self._lowering_of[start] = frozenset(dependents)
        return found

    def _sector_holders(self, start: int, sector: str | None) -> frozenset[int]:
        """For an all-sectors row: its row for ``sector`` (the sector a unit's units are in,
        :meth:`_atom_sectors`; None: none), and what holds that (a unit counts in its sector's
        cell as in the region's)."""
        if sector is None or self.rows[start].key.sector != ALL_SECTORS:
            return frozenset()
        j = self._in_sector(start, sector)
        return self._holders(j) if j is not None else frozenset()

    def _in_sector(self, r: int, sector: str) -> int | None:
        """Row ``r``'s cell as a cell of ``sector`` (same version, table and category), or
        None where the model has no such row. (Remembered: the model's structure only.)"""
        key = (r, sector)
        if key not in self._sector_rows:
            row = self.rows[r]
            self._sector_rows[key] = self.index.get((row.release, row.key._replace(sector=sector)))
        return self._sector_rows[key]

    def _holders(self, start: int) -> frozenset[int]:
        """The rows a unit counting in row ``start`` counts in by the tables' structure: the
        group, and the all-sectors cell of the same table and category, transitively."""
        found = self._holders_of.get(start)
        if found is not None:
            return found
        seen = {start}
        todo = [start]
        while todo:
            row = self.rows[todo.pop()]
            parents = (
                [row.key._replace(sector=ALL_SECTORS)] if row.key.sector != ALL_SECTORS else []
            )
            group = self.groups.get(row.key)
            if group is not None:
                parents.append(group)
            for parent in parents:
                j = self.index.get((row.release, parent))
                if j is not None and j not in seen:
                    seen.add(j)
                    todo.append(j)
        found = self._holders_of[start] = frozenset(seen)
        return found

    def _model(self) -> highspy.Highs:
        highs = _highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("presolve", "off")  # presolve would throw the warm start away
        highs.setOptionValue("simplex_strategy", 4)  # primal: the basis stays primal feasible
        lp = highspy.HighsLp()
        columns = self.num_atoms
        # Only published rows constrain anything: a withheld row would be a free row of the
        # basis, costing every iteration and telling nothing. (The objective is a row's
        # coefficients set on the columns; the audited row gets a row of its own only while
        # it is audited, to be bounded where its interval ends: :meth:`_open`.)
        self._lp_row = {
            r: i for i, r in enumerate(r for r, row in enumerate(self.rows) if row.published)
        }
        #: Each row's LP row (-1: none; never changes, as ``_lp_row``).
        self._lp_of_row = np.full(len(self.rows), -1, dtype=np.int64)
        self._lp_of_row[list(self._lp_row)] = list(self._lp_row.values())
        published = [self.rows[r] for r in self._lp_row]
        #: Each LP row's published bounds (its value; a quantile's size: its floor and up),
        #: and whether it is still published (withholding frees it): what a solution a bound
        #: stopped at is checked against.
        self._lp_low = np.array([self._lower(row) for row in published], dtype=np.float64)
        self._lp_high = np.array([self._upper(row) for row in published], dtype=np.float64)
        # After them, the laws (``_laws``): zero for an equality, at least zero otherwise.
        laws = len(self._law_equal)
        self._first_law = len(published)
        self._lp_low = np.concatenate([self._lp_low, np.zeros(laws)])
        self._lp_high = np.concatenate(
            [self._lp_high, np.where(self._law_equal, 0.0, highspy.kHighsInf)]
        )
        self._lp_published = np.ones(len(published) + laws, dtype=bool)
        lp.num_row_ = len(published) + laws
        # The published rows of every column, in the column's order of rows (LP rows are
        # numbered in the rows' order, so that order is kept), then its laws.
        #: The rows that are LP rows, in their order (the laws' rows follow them).
        self._lp_rows = np.fromiter(self._lp_row, dtype=np.int64)
        matrix = sparse.vstack([self._columns[self._lp_rows, :], self._law_rows]).tocsr()
        # Published equalities taken out of the rows that hold them (see :meth:`_substitute`),
        # each given a column of its own that is fixed at zero while the row is published.
        self._taken = self._substitute(matrix)
        # Column ``z_i`` of taken row ``i``: -1 in ``i``, and in each row ``j`` it was taken
        # out of, what it was taken out with: ``i`` then reads ``a_i·x - z_i = v_i`` and ``j``
        # ``(a_j - t·a_i)·x + t·z_i = b_j - t·v_i``, which is ``a_j·x = b_j`` whatever ``z_i``.
        z_rows = np.fromiter(self._z_of, dtype=np.int64, count=len(self._z_of))
        self._num_z = z_rows.size
        slack = (
            self._taken.tocsc()[:, z_rows] - sparse.eye(matrix.shape[0], format="csc")[:, z_rows]
        )
        matrix = sparse.hstack([matrix - self._taken @ matrix, slack]).tocsc()
        matrix.eliminate_zeros()
        matrix.sort_indices()
        #: What the taken equalities moved each LP row's bounds by.
        self._shift = self._taken @ np.where(np.isfinite(self._lp_low), self._lp_low, 0.0)
        lp.num_col_ = columns + self._num_z
        lp.col_cost_ = np.zeros(columns + self._num_z)
        lp.col_lower_ = np.zeros(columns + self._num_z)
        lp.col_upper_ = np.concatenate([np.full(columns, highspy.kHighsInf), np.zeros(self._num_z)])
        lp.row_lower_ = self._lp_low - self._shift
        lp.row_upper_ = self._lp_high - self._shift
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data.astype(np.float64)
        highs.passModel(lp)
        return highs

    @staticmethod
    def _lower(row: _Row) -> float:
        if not row.published:
            return -highspy.kHighsInf
        return float(row.value if row.floor is None else row.floor)

    @staticmethod
    def _upper(row: _Row) -> float:
        if not row.published or row.floor is not None:
            return highspy.kHighsInf
        return float(row.value)

    def withhold(self, r: int) -> None:
        """Drop row ``r``'s equality: the feasible set only grows, so every range found so far
        stays open (the audit is incremental)."""
        self.rows[r].published = False
        self._lp_published[self._lp_row[r]] = False
        self._free(r)

    def _free(self, r: int) -> None:
        """Let row ``r`` take any value in the programme: its column ``z_i`` free, where it was
        taken out of other rows (:meth:`_substitute`; its own row keeps its bounds, or the
        rows it was taken out of would lose theirs), else its row's bounds."""
        i = self._lp_row[r]
        z = self._z_of.get(i)
        if z is not None:
            self.highs.changeColBounds(z, -highspy.kHighsInf, highspy.kHighsInf)
        else:
            self.highs.changeRowBounds(i, -highspy.kHighsInf, highspy.kHighsInf)

    def _bind(self, r: int) -> None:
        """Put row ``r``'s published bounds back into the programme (undoing :meth:`_free`)."""
        i = self._lp_row[r]
        z = self._z_of.get(i)
        if z is not None:
            self.highs.changeColBounds(z, 0.0, 0.0)
        else:
            row = self.rows[r]
            shift = float(self._shift[i])
            self.highs.changeRowBounds(i, self._lower(row) - shift, self._upper(row) - shift)

    def _substitute(self, matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        """Which published equalities to take out of which LP rows (``matrix``: LP rows over
        the atoms), as a matrix ``T`` of LP rows by LP rows: row ``j`` of the programme is
        ``a_j - Σ_i T[j, i]·a_i``, its bounds moved by ``T·v``. A region's cell counts every unit
        its sectors' cells count, and a law sums cells: with each published sector's cell and
        each published cell of a law taken out, the programme holds each unit's membership of
        a published cell about once rather than in every row holding it, and every simplex
        iteration prices fewer terms (the large year's regions: 42 to 43 % fewer non-zeros).
        Taken only out of rows it leaves with fewer atoms' terms (the taken rows' columns not
        counted), and only a row nothing was taken out of is taken (so a taken row's programme
        row is ``a_i·x - z_i = v_i``, whose bounds withholding leaves in place; and none is
        taken out of itself, :func:`_acyclic`).

        Tried and not kept (cc10e65): a group's published parts taken out of it too, and laws
        taking rows that had rows taken out of them. The large year's largest region lost
        another 38 % of its non-zeros and 8 % of its ``protect()``, but the demo's 2025 was
        refused (its process map drew one transition where it draws ten), likely by the
        difference between ``protect()``'s model and the check's that :func:`_protect_part`
        now mends. Tried again with that mend: the demo passes, but the large year's whole
        release was no faster (575 s against 564 s) and withheld more (docs/statistics-releases.md).

        Sets ``_z_of``: each taken row's column (see :meth:`_model`)."""
        n = matrix.shape[0]
        first_law = self._first_law
        equal = np.isfinite(self._lp_low) & (self._lp_low == self._lp_high)
        equal[first_law:] = False
        lp_of = self._lp_of_row
        sectors_j: list[int] = []
        sectors_i: list[int] = []
        for j, r in enumerate(self._lp_rows.tolist()):
            row = self.rows[r]
            if row.key.sector != ALL_SECTORS or row.floor is not None:
                continue
            for sector in self._sectors.get((row.key.table, row.key.category), ()):
                cell = self.index.get((row.release, row.key._replace(sector=sector)))
                if cell is not None and lp_of[cell] >= 0 and equal[lp_of[cell]]:
                    sectors_j.append(j)
                    sectors_i.append(int(lp_of[cell]))
        taken = sparse.csr_matrix((np.ones(len(sectors_j)), (sectors_j, sectors_i)), shape=(n, n))
        taken = self._fewer_terms(matrix, taken)
        holds = np.diff(taken.indptr) > 0  # (rows something was taken out of)
        if self._law_terms.shape[0]:
            plain = equal & ~holds
            over_lp = self._law_terms[:, self._lp_rows].tocsc()
            over_lp = over_lp @ sparse.diags(plain[:first_law].astype(np.float64))
            laws = sparse.vstack(
                [
                    sparse.csr_matrix((first_law, n)),
                    sparse.hstack([over_lp, sparse.csr_matrix((over_lp.shape[0], n - first_law))]),
                ]
            ).tocsr()
            taken = taken + self._fewer_terms(matrix, laws)
        taken = _acyclic(taken.tocsr())
        used = np.unique(taken.indices)
        self._z_of = {int(i): self.num_atoms + k for k, i in enumerate(used.tolist())}
        return taken

    @staticmethod
    def _fewer_terms(matrix: sparse.csr_matrix, taken: sparse.csr_matrix) -> sparse.csr_matrix:
        """``taken`` only in the rows of ``matrix`` it leaves with fewer terms."""
        after = (matrix - taken @ matrix).tocsr()
        after.eliminate_zeros()
        fewer = np.diff(after.indptr) < np.diff(matrix.indptr)
        return (sparse.diags(fewer.astype(np.float64)) @ taken).tocsr()

    def needed(self, r: int, k: int) -> tuple[float, float]:
        """The interval withheld row ``r`` must keep open: ``protection_interval``, clipped at
        what no reader needs to be told — a count is never negative, and never more than what
        holds it (its group, its region's all-sectors cell) or than a law bounds it by (an
        edge out of a node, the node; a reason, the blocked). "All twelve blocks were waiting
        lists" is protected by leaving room below twelve; above twelve there is none to leave."""
        row = self.rows[r]
        low, high = protection_interval(row.value, k)
        alike = self._alike(r, self._twins_of(r))
        holders: list[float] = [
            self.rows[h].value
            for t in alike
            if self.rows[t].floor is None  # (a size counts trajectories, a twin maybe events)
            for h in self._holders(t)
            if h not in alike
        ]
        for t in alike:
            if self.rows[t].floor is not None:
                continue
            for law, c in self._in_laws.get(t, ()):
                bound = self._law_coefs[law]
                told = {j: self._told(r, j, alike) for j, b in bound.items() if b > 0}
                if c < 0 and all(value is not None for value in told.values()):
                    # What the law's published terms allow it at most, those taking it down at
                    # 0 (a withheld bound, a sum of withheld reasons, would hide the interval).
                    holders.append(
                        sum(bound[j] * float(value or 0) for j, value in told.items()) / -c
                    )
        high = min([high, *holders])
        if r in self._settled:
            floor, cap = self._settled[r]
            low, high = max(low, floor), min(high, cap)
        return low, high

    def _told(self, r: int, j: int, alike: Sequence[int]) -> int | None:
        """Row ``j``'s value where a reader is told it as a law's bound on row ``r``
        (:meth:`needed`): ``j`` published; or ``j`` of this release, withheld, its cell published
        in an earlier version of the period, where ``r``'s programme holds the two at one
        number: the same atoms count in both by the same amounts, and so does every one of
        ``r``'s hypothetical types (a type made of a unit whose other cells changed, moved into
        another sector or cell, may count in one version's and not the other's). None
        otherwise, and for a row of ``alike`` or a quantile's size."""
        row = self.rows[j]
        if row.floor is not None or j in alike:
            return None
        if row.published:
            return row.value
        if row.release is not None:
            return None  # (an earlier version's bound: told only as published)
        twin = self._published_twin(r, j)
        return None if twin is None else self.rows[twin].value

    def _published_twin(self, r: int, j: int) -> int | None:
        """The row of an earlier version of row ``j``'s cell, published, that row ``r``'s
        programme holds at ``j``'s number: the same atoms count in both by the same amounts,
        and so does every one of ``r``'s hypothetical types (a type made of a unit whose other
        cells changed, moved into another sector or cell, may count in one version's and not
        the other's). None where there is none."""
        row = self.rows[j]
        for twin in self._twins_of(j):
            other = self.rows[twin]
            if (
                other.key == row.key
                and other.release is not None
                and other.published
                and other.floor is None
                and np.array_equal(other.cols, row.cols)
                and np.array_equal(other.coefs, row.coefs)
                and self._types_alike(r, j, twin)
            ):
                return twin
        return None

    def implied(self, r: int, j: int) -> bool:
        """Whether row ``j`` of this release, published, tells ``r``'s programme nothing that
        an earlier version's published row of its cell does not (:meth:`_published_twin`):
        that row's equality is ``j``'s own there, so withholding ``j`` leaves the programme's
        feasible set as it is, and cannot move ``r``'s bounds. (Withheld all the same, it
        would likely be found narrowed by its twin when audited, and published again
        (:meth:`publish_again`), which sets the part's audit back.)"""
        row = self.rows[j]
        return (
            row.release is None
            and row.published
            and row.floor is None
            and self._published_twin(r, j) is not None
        )

    def _types_alike(self, r: int, j: int, g: int) -> bool:
        """Whether every hypothetical type of row ``r`` (the whole set) counts in rows ``j`` and
        ``g`` by the same amount."""
        found = self._alike_in_types.get((r, j, g))
        if found is None:
            types = self._whole_types(r)[0]
            found = (types[j, :] != types[g, :]).nnz == 0
            _remember(self._alike_in_types, (r, j, g), found)
        return found

    def settle(self, r: int, maximise: bool, k: int) -> bool:
        """Cut row ``r``'s interval, on one side, to the range the earlier versions leave it
        with none of this release's cells published, where they narrow it past the interval by
        themselves: only in a part with a version made without the laws (``legacy``), whose
        withheld cells the laws may show narrowed by its own published ones — out already, so
        no release can mend that; this one must only narrow them no further. Only where those
        versions alone narrow it as far as every earlier version does (a lawful one narrowing
        it further is a fault). False when there is nothing to cut (no such version, cut
        already, or not theirs): the release must open it, or is refused."""
        if not self.legacy:
            return False
        floor, cap = self._settled.get(r, (-np.inf, np.inf))
        if (cap if maximise else floor) != (np.inf if maximise else -np.inf):
            return False
        low, high = self.needed(r, k)

        def reaches(value: float) -> bool:
            return value >= high - 1e-6 if maximise else value <= low + 1e-6

        # (Both bounds hold whatever this release withholds: worked out once per side.)
        if (r, maximise, False) not in self._before:
            self._before[(r, maximise, False)] = self._without_this_release(
                r, maximise, every=True
            )[0].value
        before = self._before[(r, maximise, False)]
        if reaches(before):
            return False
        if (r, maximise, True) not in self._before:
            # The releases made without the laws must be what narrows it: by themselves (the
            # lawful earlier releases' cells withheld too) they must narrow it as far as all
            # earlier releases do; if not, releases made with the laws narrow it further,
            # which is a fault (the release is refused). (A lawful release may have published
            # again what a law-less one did: that narrows nothing further.)
            lawful = frozenset(
                row.release for row in self.rows if row.release is not None
            ).difference(self.legacy)
            self._before[(r, maximise, True)] = self._without_this_release(
                r, maximise, every=True, also=lawful
            )[0].value
        alone = self._before[(r, maximise, True)]
        if alone > before + 1e-6 if maximise else alone < before - 1e-6:
            return False
        self._settled[r] = (floor, before) if maximise else (before, cap)
        return True

    def narrowed_before(self, r: int) -> bool:
        return r in self._settled

    def capped_by(self, j: int) -> list[int]:
        """The rows whose interval a law may stop at row ``j`` (``needed``): those it bounds,
        and their versions' twins (a cell counting the same units is capped as its twin is:
        ``needed`` applies every twin's laws)."""
        return [
            t
            for law, c in self._in_laws.get(j, ())
            if c > 0
            for m, coef in self._law_coefs[law].items()
            if coef < 0
            for t in self._alike(m, self._twins_of(m))
        ]

    def freely_moves(self, r: int, maximise: bool) -> bool:
        """Whether row ``r`` is unbounded above (or can reach zero) without a programme: a unit
        type that counts in it changes only withheld rows, so any number of them can be added;
        or every unit counting in it can be taken out of it while only withheld rows change.
        Most withheld cells of a small region are decided so. Both are exact for the model
        (the types exist in it), so :func:`audit` decides them alike."""
        twins = self._twins_of(r)
        if maximise:
            lawful = self._lawful_alone(r)
            return any(all(not self.rows[h].published for h in rows) for rows in lawful)
        dropped: set[int] = set()
        for twin in twins:
            dropped |= self._lowering(twin)
        # Exact for the model, which has a "taken out" type for every atom counting in the
        # cell: each changes only rows in ``dropped``. The programme holds the rarest
        # ``_HYPOTHETICAL_TYPES`` of them only (fewer columns: narrower ranges), so here it
        # would find a floor the model does not have; :func:`audit` decides so too.
        if any(self.rows[d].published for d in dropped):
            return False
        if not any(d in self._in_laws for d in dropped):
            return True
        # Taking a unit out must keep the laws too, for every atom alike (as its type in
        # :meth:`_hypothetical` takes it out).
        atoms: set[int] = set()
        for twin in twins:
            atoms.update(self.rows[twin].cols.tolist())
        for c in atoms:
            drop = self._dropped(c, twins)
            if any(self.rows[d].published for d in drop):
                return False
            taken = self._law_values((i, a) for i, a in self._atom(c) if i in drop)
            if not self._keeps_laws({law: -v for law, v in taken.items()}):
                return False
        return True

    def _lawful_alone(self, r: int) -> list[tuple[int, ...]]:
        """The rows of each of row ``r``'s "alone" types (:meth:`_alone`) that keep every law,
        for :meth:`freely_moves`: the model's structure only, so asked again after each cell
        withheld, and the same for every row of one cell (its twins). The first time, worked
        out for the cell of every row withheld by then, all in one :meth:`_completed_types`
        (each type is completed there as it would be on its own); a cell withheld later, on
        its own. (One row at a time, the medium year asked for 10,018 completions.)"""
        cell = self._cell(r)
        found = self._alone_lawful.get(cell)
        if found is not None:
            return found
        cells = [cell]
        if not self._alone_lawful:
            withheld = {
                self._cell(q)
                for q, other in enumerate(self.rows)
                if not other.published and other.floor is None
            }
            cells += sorted(withheld - {cell}, key=lambda c: self._twins[c][0])
        alone = [self._alone(self._twins[c]) for c in cells]
        completed = iter(self._complete_all([kind for kinds in alone for kind in kinds]))
        for c, kinds in zip(cells, alone, strict=True):
            self._alone_lawful[c] = [
                tuple(h for h, _ in kind)
                for kind in islice(completed, len(kinds))
                if self._keeps_laws(self._law_values(kind))
            ]
        return self._alone_lawful[cell]

    def _learn(self, solution: npt.NDArray[np.float64], phantoms_from: int) -> None:
        """Note, for every row, how high and how low this feasible solution takes it — unless
        it uses the audited row's hypothetical units, which only that row's audit admits —
        and keep the solution while it takes some row furthest (:meth:`solutions`)."""
        if self._relaxed or np.any(solution[phantoms_from:] > 1e-9):
            return
        sizes = solution[: self.num_atoms]
        values = self._rows_over_atoms @ sizes
        # (Beyond rounding: a published row's value differs by 1e-12 from one solution to
        # the next, which is no row taken further.)
        higher, lower = values > self.highest + 1e-9, values < self.lowest - 1e-9
        if higher.any() or lower.any():
            if len(self._found) >= self._keep_at:
                self._keep_furthest()
                if len(self._found) > self._keep_at // 2:  # (no compacting at every one)
                    self._keep_at *= 2
            taken = np.flatnonzero(sizes > 0).astype(np.int32)
            self._highest_from[higher] = self._lowest_from[lower] = len(self._found)
            self._found.append((taken, sizes[taken].copy()))
        np.maximum(self.highest, values, out=self.highest)
        np.minimum(self.lowest, values, out=self.lowest)

    def _keep_furthest(self) -> None:
        """Forget the solutions no row is taken furthest by any more."""
        kept = np.unique(np.concatenate([self._highest_from, self._lowest_from]))
        kept = kept[kept >= 0]
        renumbered = np.full(len(self._found) + 1, -1, dtype=np.int64)  # (-1 stays -1)
        renumbered[kept] = np.arange(kept.size)
        self._found = [self._found[i] for i in kept.tolist()]
        self._highest_from = renumbered[self._highest_from]
        self._lowest_from = renumbered[self._lowest_from]

    def solutions(self) -> Solutions:
        """The feasible solutions over the atoms that took a withheld row furthest, each atom
        named by one of its units, and each withheld row's proofs (:meth:`_prove`): how far
        each such row can go, for another model of the same population to verify and start
        from (:meth:`start_from`)."""
        published = np.array([row.published for row in self.rows], dtype=bool)
        self._highest_from[published] = self._lowest_from[published] = -1
        self._keep_furthest()
        proofs = tuple(proof for (r, _), proof in sorted(self._proved.items()) if not published[r])
        rows = tuple((row.release, row.key) for row in self.rows) if proofs else ()
        return Solutions(self.representatives, tuple(self._found), proofs, rows)

    def start_from(self, solutions: Solutions) -> int:
        """Take every row as far as those of ``solutions`` (found on another model of the same
        population, :meth:`solutions`) that are feasible here take it: each is mapped to this
        model's atoms by its atoms' units, and believed only if ``_satisfies`` finds it
        feasible in this model — every published row at its value, every law, no size below
        zero — so a solution that is wrong or from another population only goes unused.
        How many were. Its proofs are kept for :meth:`proven` to verify, each when its row is
        audited."""
        if self._atom_of_unit is None or not solutions.units:
            return 0
        atoms = self._atom_of_unit(solutions.units)
        used = 0
        for taken, sizes in solutions.found:
            at = _atoms_here(atoms, taken, sizes)
            if at is None:
                continue
            x = np.bincount(at, weights=sizes, minlength=self.num_atoms).astype(np.float64)
            if x.size == self.num_atoms and self._satisfies(x):
                self._learn(x, self.num_atoms)
                used += 1
        self._take_proofs(solutions, atoms)
        return used

    def _take_proofs(self, solutions: Solutions, atoms: npt.NDArray[np.int64]) -> None:
        """Keep ``solutions``' proofs, in this model's rows and atoms, for :meth:`proven` to
        verify when their row is audited; one naming a unit or its own row this model does not
        have, or malformed, is left out. A type's amounts in rows this model does not have are
        left out of it: the check's model has no row for a quartile's size the release
        withheld, so its own types do not count there (whether what is left is one of them,
        :meth:`proven` decides)."""
        here = [self.index.get(row, -1) for row in solutions.rows]
        for proof in solutions.proofs:
            if (
                not 0 <= proof.row < len(here)
                or len(proof.kinds) != proof.amounts.size
                or not np.isfinite(proof.amounts).all()
                or any(not 0 <= q < len(here) for kind in proof.kinds for q, _ in kind)
            ):
                continue
            at = _atoms_here(atoms, proof.taken, proof.sizes)
            if at is None or here[proof.row] < 0:
                continue
            # (Sorted by row, as every type is made, whatever this model's numbering.)
            kinds = tuple(
                tuple(sorted((here[q], a) for q, a in kind if here[q] >= 0)) for kind in proof.kinds
            )
            if not all(kinds):
                continue
            self._proofs[(here[proof.row], proof.maximise)].append(
                Proof(
                    here[proof.row],
                    proof.maximise,
                    proof.value,
                    proof.whole,
                    at.astype(np.int32),
                    proof.sizes,
                    kinds,
                    proof.amounts,
                )
            )

    def proven(self, r: int, maximise: bool, enough: float) -> float | None:
        """How far a proof takes row ``r`` here, if one reaches ``enough`` and holds in this
        model: one another model found (:meth:`start_from`), one this one found before a row
        was published again (:meth:`publish_again`), or a twin's (a revision's row and its
        earlier version, audited in turn, mostly reach as far in one solution). It holds
        where its types are among the row's own hypothetical types (the rarest, or, for a
        proof found with the whole set, the whole set), and with its atoms it keeps every
        published row and law, no size below zero. None without such a proof: the row is then
        searched as without any."""
        capped: set[_Kind] | None = None
        # This model's own proofs, its types made for the row's cell (:meth:`_cell`): the
        # row's last before a row was published again, and its twins' (where the same atoms
        # count in both, a twin's solution takes the row as far; worked out below).
        ours = [self._kept.get((r, maximise))]
        ours += [self._proved.get((t, maximise)) for t in self._twins_of(r) if t != r]
        for proof, own in [
            *((proof, False) for proof in self._proofs.get((r, maximise), ())),
            *((proof, True) for proof in ours if proof is not None),
        ]:
            if proof.row == r and not (
                proof.value >= enough - 1e-6 if maximise else proof.value <= enough + 1e-6
            ):
                continue
            if (proof.sizes < -1e-9).any() or (proof.amounts < -1e-9).any():
                continue
            # (Ours: its types are among the row's, made for its cell by this model.)
            if not own:
                if capped is None:
                    self.capped(r)  # (works out the rarest types, as a programme would)
                    capped = set(self._phantoms[(self._cell(r), False)])
                if not capped.issuperset(proof.kinds):
                    if not proof.whole:
                        continue
                    amounts, weights = self._whole_types(r)
                    among = self._among(amounts, weights, proof.kinds)
                    if not set(_kinds_of(amounts[:, among])).issuperset(proof.kinds):
                        continue
            x = np.bincount(proof.taken, weights=proof.sizes, minlength=self.num_atoms).astype(
                np.float64
            )
            matrix, costs = self._columns_and_costs(r, proof.kinds)
            activity = self._atoms_activity(x) + matrix @ proof.amounts
            if self._gap(activity) > 1e-6:
                continue
            row = self.rows[r]
            value = float(x[row.cols] @ row.coefs + costs @ proof.amounts)
            if value >= enough - 1e-6 if maximise else value <= enough + 1e-6:
                # (Its own now, for :meth:`solutions` to hand on: a part built again
                # without a size, :func:`_protect_part`, starts from it too.)
                kept = self._proved.get((r, maximise))
                if kept is None or (value > kept.value if maximise else value < kept.value):
                    self._proved[(r, maximise)] = Proof(
                        r,
                        maximise,
                        value,
                        proof.whole,
                        proof.taken,
                        proof.sizes,
                        proof.kinds,
                        proof.amounts,
                    )
                return value
        return None

    def _prove(
        self, r: int, maximise: bool, value: float, cols: npt.NDArray[np.float64], first: int
    ) -> None:
        """Keep the feasible solution ``cols`` of row ``r``'s programme (its types' columns
        from ``first``) as the row's proof on this side, if it uses the row's hypothetical
        types (one that does not is :meth:`_learn`'s) and takes it further than the last."""
        if self._relaxed or self._opened is None:
            return
        used = np.flatnonzero(cols[first:] > 1e-9)
        if not used.size:
            return
        kept = self._proved.get((r, maximise))
        if kept is not None and (value <= kept.value if maximise else value >= kept.value):
            return
        sizes = cols[: self.num_atoms]
        taken = np.flatnonzero(sizes > 0).astype(np.int32)
        self._proved[(r, maximise)] = Proof(
            r,
            maximise,
            value,
            self._opened[0][1] or self._pricing is not None,
            taken,
            sizes[taken].copy(),
            tuple(self._open_kinds[j] for j in used.tolist()),
            cols[first:][used].copy(),
        )

    def relaxed(self, r: int, maximise: bool, needed: float) -> list[int] | None:
        """Whether withholding every published row of this release would open row ``r``'s
        failing bound, when the dual found names none of them (a degenerate programme has many
        optimal duals, and the one HiGHS returns may lean on earlier versions alone): ``None``
        if even then it stays narrowed — earlier versions alone narrow it — else the rows of
        this release that a solution reaching ``needed`` moves off their published value (one
        of them must be withheld for it)."""
        if not any(row.published and not row.fixed for row in self.rows):
            return None
        bound, activity, free = self._without_this_release(r, maximise)
        opened = bound.value >= needed - 1e-6 if maximise else bound.value <= needed + 1e-6
        if not opened:
            return None
        if activity is None:  # unbounded once they are free: any of them may be the one
            return free
        moved = [
            i
            for i in free
            if not self._lower(self.rows[i]) - 1e-6
            <= activity[self._lp_row[i]]
            <= self._upper(self.rows[i]) + 1e-6
        ]
        return moved or free

    def _without_this_release(
        self, r: int, maximise: bool, every: bool = False, also: frozenset[int] = frozenset()
    ) -> tuple[_Bound, npt.NDArray[np.float64] | None, list[int]]:
        """Row ``r``'s bound with the published rows of this release that may still be
        withheld — ``every`` one, also those published again for good — withheld (what the
        earlier versions alone leave it), the rows' activity at that optimum, and those rows.
        ``also``: the published rows of these earlier releases withheld too."""
        free = [
            i
            for i, row in enumerate(self.rows)
            if row.published
            and (
                (row.release is None if every else not row.fixed)
                or (row.release is not None and row.release in also)
            )
        ]
        for i in free:
            self._free(i)
        self._relaxed = True
        try:
            # (Grown, not the whole set: the same optimum, and the programme protect() has
            # open for ``r`` stays open, with the types it grew.)
            bound = self.bound(r, maximise, grow=self.capped(r))
            return bound, self._activity, free
        finally:
            self._relaxed = False
            for i in free:
                self._bind(i)

    def publish_again(self, r: int) -> None:
        """Put row ``r``'s equality back, for good: it is never withheld again.

        An equality put back only takes solutions out of the feasible set. So what was found
        so far is not forgotten but sifted: each atom-only solution that keeps the equality
        (checked on the model as it now is) still takes its rows as far, and each row's proof
        is kept for :meth:`proven` to verify again when the row is audited again (every
        published row and law kept). The rest are forgotten. (All of it forgotten, a revision
        of the medium year that put 35 cells back one by one solved 16,493 programmes, where
        this solves 3,063: docs/statistics-releases.md, "A revision's part, audited again from
        nothing".)"""
        found, proved = self._found, self._proved
        self.highest[:] = -np.inf
        self.lowest[:] = np.inf
        self._found = []
        self._proved = {}
        self._highest_from[:] = self._lowest_from[:] = -1
        row = self.rows[r]
        row.published = True
        row.fixed = True
        self._lp_published[self._lp_row[r]] = True
        self._bind(r)
        for taken, sizes in found:
            x = np.bincount(taken, weights=sizes, minlength=self.num_atoms).astype(np.float64)
            if self._gap(self._atoms_activity(x)) <= 1e-6:
                self._learn(x, self.num_atoms)
        self._kept.update(proved)

    def bound(
        self,
        r: int,
        maximise: bool,
        enough: float | None = None,
        whole: bool = False,
        grow: bool = False,
    ) -> _Bound:
        """The smallest or largest value row ``r`` can take given every published row, over
        the atoms and, while ``r`` is audited, its hypothetical unit types.

        With ``enough``, the search stops at the first feasible solution that takes row
        ``r`` to ``enough`` (at least, when maximising; at most, when minimising): the answer
        is then that solution's value, not the optimum. That is all secondary suppression
        asks — whether the interval stays open — and a feasible solution that reaches it is
        a proof that it does, however far the optimum lies beyond. Row ``r`` has an LP row of
        its own while it is audited (:meth:`_open`), bounded at ``enough`` while the bound
        runs (:meth:`_run`): the programme's optimum is then ``enough`` itself wherever the
        interval is open, and the primal simplex stops as soon as it gets there. Where it is
        not, the bound never binds, and the optimum and its duals are the programme's own.
        The solution it stops at is checked for feasibility here before it is believed.

        ``whole``: with every hypothetical type of the row, not the rarest few (the model
        itself, as the oracle has it; asked where the capped programme would refuse).

        ``grow``: the same answer as ``whole``, by column generation: the rarest types first,
        and at an optimum that does not reach ``enough``, every type of the whole set whose
        reduced cost would improve it added (:meth:`_grow`), until none would — the optimum
        is then the whole set's (its duals prove it). A solution of fewer types is one of the
        whole set, so an early stop stands as it is."""
        row = self.rows[r]
        highs = self.highs
        first, costs = self._open(r, whole)
        sense = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
        highs.changeObjectiveSense(sense)
        highs.changeColsCost(len(row.cols), row.cols, row.coefs)
        self._activity = None
        try:
            for _ in range(_GROWTH_ROUNDS):
                status = self._run(row, maximise, enough, costs)
                if not _settled(status, maximise) and self._feasible():
                    status = self._cold(row, maximise, costs)
                if not (grow and status == highspy.HighsModelStatus.kOptimal):
                    break
                value = float(highs.getInfo().objective_function_value)
                if enough is not None and (
                    value >= enough - 1e-6 if maximise else value <= enough + 1e-6
                ):
                    break
                if not self._grow(r, maximise, self._row_duals()):
                    break
                costs = self._opened[2] if self._opened is not None else costs
            else:  # (the reduced costs never settled: the whole set decides, as without)
                return self.bound(r, maximise, enough, whole=True)
            if status is None:  # a checked feasible solution reaches enough
                self._prove(r, maximise, self._reached, self._stopped_at, first)
                return _Bound(self._reached, None)
            if status == highspy.HighsModelStatus.kModelEmpty:  # nothing published constrains
                return _Bound(_FREE if maximise else 0.0, None)
            if status == highspy.HighsModelStatus.kOptimal:
                value = float(highs.getInfo().objective_function_value)
                cols = np.asarray(highs.getSolution().col_value)
                self._learn(cols, first)
                self._prove(r, maximise, value, cols, first)
                self._activity = self._activity_of(cols)
                return _Bound(value, self._duals(self._row_duals()))
            if status in _UNBOUNDED and maximise and self._feasible():
                return _Bound(_FREE, None)
            if self._feasible():
                raise AuditFailed(
                    f"the solver could not settle {row.key.text()}'s range "
                    f"({highs.modelStatusToString(status)}, also from a cold start): the release "
                    "is refused rather than published unchecked; please report it"
                )
            raise AuditFailed(
                "the published numbers contradict the units they count "
                f"({highs.modelStatusToString(status)} auditing {row.key.text()}): "
                "recompute the release from one population"
            )
        finally:
            highs.changeColsCost(len(row.cols), row.cols, np.zeros(len(row.cols)))
            # (Not before: changing the model drops the solution and duals read above.)
            self._bound_at(None, maximise)

    def _row_duals(self) -> npt.NDArray[np.float64]:
        """The LP rows' duals at the optimum found, as the rows are published: the
        programme's rows have equalities taken out (:meth:`_substitute`), whose duals give
        the same reduced costs as ``y - Tᵀy``. (Not the audited row's own, :meth:`_open`: it
        is no published row, and at an optimum short of what was asked it binds nothing.)"""
        y = np.asarray(self.highs.getSolution().row_dual, dtype=np.float64)[: self._lp_low.size]
        return np.asarray(y - self._taken.T @ y, dtype=np.float64)

    def _duals(self, duals: npt.NDArray[np.float64]) -> dict[int, float]:
        """Each published row's dual; a row in a law whose dual is not zero, if its own is,
        takes the law's: withholding one of a binding law's cells may open the bound as
        withholding a cell whose own row binds does (a sector's cell, where only the region's
        binds by its row and the sectors' sum by the law)."""
        found = {r: duals[i] for r, i in self._lp_row.items()}
        for law, members in enumerate(self._law_coefs):
            dual = duals[self._first_law + law]
            if abs(dual) > _DUAL_ZERO:
                for r in members:
                    if r in found and abs(found[r]) <= _DUAL_ZERO:
                        found[r] = dual
        return found

    def _cold(
        self, row: _Row, maximise: bool, costs: npt.NDArray[np.float64]
    ) -> "highspy.HighsModelStatus | None":
        """Solve again from no basis, when a warm start ended neither optimal nor unbounded
        although the units' true sizes satisfy every published row (so the programme is
        feasible: the simplex lost its way numerically, measured once on the medium year);
        then once more with presolve and the dual simplex. The warm starts after it begin
        from the basis this ends on."""
        highs = self.highs
        highs.clearSolver()
        status = self._run(row, maximise, None, costs)
        if _settled(status, maximise):
            return status
        highs.clearSolver()
        highs.setOptionValue("presolve", "on")
        highs.setOptionValue("simplex_strategy", 1)
        try:
            return self._run(row, maximise, None, costs)
        finally:
            highs.setOptionValue("presolve", "off")
            highs.setOptionValue("simplex_strategy", 4)

    def capped(self, r: int) -> bool:
        """Whether row ``r``'s programme may hold only some of its hypothetical types: more
        atoms count in a row its types are made from than the cap (the rarest of them may all
        have given no type, so this errs towards asking the whole set)."""
        cell = self._cell(r)
        if (cell, False) not in self._phantoms:
            self._phantoms[(cell, False)] = self._hypothetical(r)
        return cell in self._capped

    def _open(self, r: int, whole: bool = False) -> tuple[int, npt.NDArray[np.float64]]:
        """Put row ``r``'s hypothetical unit types into the model (their costs: how much each
        counts in ``r``), taking out another row's first; the first column of them and their
        costs.

        They stay in while ``r`` is audited: every programme of its audit (both bounds, and
        again after each cell withheld for it) then starts from the basis the last one ended
        on, which stays primal feasible when an equality is dropped (but for ``r``'s own row
        below, bounded on the other side for the other bound). Deleting them after each
        programme would drop that basis (HiGHS starts again from one of its own, which cost
        the year's failing minimisations most of their iterations).

        Row ``r`` gets an LP row of its own too, the last (``_cap``): its atoms' and its
        types' amounts in it, free but while a bound runs (:meth:`_run`): the simplex then
        stops where the interval ends rather than at the optimum (docs/statistics-releases.md, "The
        audited cell bounded where its interval ends")."""
        if self._opened is not None and self._opened[0] == (r, whole):
            return self._opened[1], self._opened[2]
        self.close()
        highs = self.highs
        cell = self._cell(r)
        phantoms = self._phantoms.get((cell, whole))
        if phantoms is None:
            phantoms = self._hypothetical(r, whole)
            if not whole:  # (every type of a large cell is many: asked rarely, never kept)
                self._phantoms[(cell, whole)] = phantoms
        self._opened = ((r, whole), highs.getNumCol(), _NO_VALUES)
        self._phantom_matrix = None
        self._open_kinds = []
        row = self.rows[r]
        self._cap = highs.getNumRow()
        highs.addRow(
            -highspy.kHighsInf,
            highspy.kHighsInf,
            len(row.cols),
            np.asarray(row.cols, dtype=np.int32),
            np.asarray(row.coefs, dtype=np.float64),
        )
        self._add(r, phantoms)
        return self._opened[1], self._opened[2]

    def _add(self, r: int, kinds: Sequence[_Kind]) -> None:
        """Add unit types to the opened programme of row ``r``: their columns to the model,
        to ``_phantom_matrix`` and their costs to the opened ones."""
        assert self._opened is not None
        added, costs = self._columns_and_costs(r, kinds)
        # (In the programme's rows, which have published equalities taken out: _substitute.)
        held = (added - self._taken @ added).tocsc()
        # (And their amounts in ``r``'s own row, the last: :meth:`_open`.)
        held = sparse.vstack([held, sparse.csr_matrix(costs.reshape(1, -1))]).tocsc()
        held.eliminate_zeros()
        held.sort_indices()
        self.highs.addCols(
            len(kinds),
            costs,
            np.zeros(len(kinds)),
            np.full(len(kinds), highspy.kHighsInf),
            held.nnz,
            held.indptr[:-1].astype(np.int32),
            held.indices.astype(np.int32),
            held.data,
        )
        key, first, opened = self._opened
        self._opened = (key, first, np.concatenate([opened, costs]) if opened.size else costs)
        self._phantom_matrix = (
            added
            if self._phantom_matrix is None
            else sparse.hstack([self._phantom_matrix, added], format="csc")
        )
        self._open_kinds.extend(kinds)

    def _columns_and_costs(
        self, r: int, kinds: Sequence[_Kind]
    ) -> tuple[sparse.csc_matrix, npt.NDArray[np.float64]]:
        """Unit types' columns (LP rows by types) and their costs in row ``r``."""
        found = [self._columns_of.get(kind) for kind in kinds]
        missing = [kind for kind, f in zip(kinds, found, strict=True) if f is None]
        made = iter(self._columns_for(missing))
        columns = [
            f if f is not None else _remember(self._columns_of, kind, next(made))
            for kind, f in zip(kinds, found, strict=True)
        ]
        ends = np.cumsum([index.size for index, _ in columns], dtype=np.int64)
        index = np.concatenate([index for index, _ in columns]) if columns else _NO_ROWS
        values = np.concatenate([values for _, values in columns]) if columns else _NO_VALUES
        starts = np.concatenate([[0], ends]).astype(np.int32)
        matrix = sparse.csc_matrix((values, index, starts), shape=(self._lp_low.size, len(kinds)))
        costs = np.array([_amount(kind, r) for kind in kinds], dtype=np.float64)
        return matrix, costs

    def _grow(self, r: int, maximise: bool, duals: npt.NDArray[np.float64]) -> bool:
        """Column generation for row ``r``'s opened programme at an optimum with ``duals``
        (the rows' duals): add every type of the row's whole set (:meth:`_hypothetical`)
        whose reduced cost ``c_j - a_j'y`` would improve it (above ``_PRICED`` when
        maximising, below ``-_PRICED`` when minimising) and is not open yet; whether any was.
        With none, the duals are feasible for the whole set, so the optimum is its optimum.

        A type's ``a_j'y`` is worked out from its amounts in the model's rows, each weighed
        by :meth:`_row_weights`, so the whole set needs no column of its own in the
        programme: only the types added do (:meth:`_columns_for`). (The whole set's amounts are
        the last cell's, kept (:meth:`_whole_types`); which of them are open, while the row
        stays open.)"""
        if self._pricing is None or self._pricing[0] != r:
            amounts, weights = self._whole_types(r)
            row = np.zeros(len(self.rows))
            row[r] = 1.0
            costs = np.asarray(amounts.T @ row, dtype=np.float64)  # (its amount in ``r``)
            self._pricing = (r, amounts, costs, self._among(amounts, weights, self._open_kinds))
        _, amounts, costs, added = self._pricing
        reduced = costs - amounts.T @ self._row_weights(duals)
        improving = (reduced > _PRICED) if maximise else (reduced < -_PRICED)
        chosen = np.flatnonzero(improving & ~added)
        if not chosen.size:
            return False
        added[chosen] = True
        self._add(r, _kinds_of(amounts[:, chosen], self._pairs))
        return True

    def _whole_types(self, r: int) -> tuple[sparse.csc_matrix, npt.NDArray[np.float64]]:
        """Row ``r``'s whole set of types (:meth:`_hypothetical_types`) and each type's weight
        (:meth:`_among`); the last cell's kept, since its pricing and the proofs of both its
        bounds ask for it in turn. (The types depend on the model's structure only.)"""
        cell = self._cell(r)
        if self._whole is None or self._whole[0] != cell:
            self._whole = None  # (not two whole sets at once)
            amounts = self._hypothetical_types(r, whole=True)
            self._whole = (cell, amounts, amounts.T @ self._fingerprint)
        return self._whole[1], self._whole[2]

    def _among(
        self, amounts: sparse.csc_matrix, weights: npt.NDArray[np.float64], kinds: Sequence[_Kind]
    ) -> npt.NDArray[np.bool_]:
        """Which of the types ``amounts`` holds (a column each, ``weights`` their columns
        weighed by ``_fingerprint``) are among ``kinds``: only a column that weighs what one
        of ``kinds`` does can be one, and only those are compared as types."""
        found = np.zeros(amounts.shape[1], dtype=bool)
        if not kinds or not amounts.shape[1]:
            return found
        known = np.sort(_amounts(kinds, len(self.rows)).T @ self._fingerprint)
        at = np.clip(np.searchsorted(known, weights), 1, known.size) - 1
        near = np.zeros(weights.size, dtype=bool)
        for side in (at, np.minimum(at + 1, known.size - 1)):
            near |= np.abs(known[side] - weights) <= 1e-9 * np.maximum(1.0, np.abs(weights))
        maybe = np.flatnonzero(near)
        those = set(kinds)
        found[maybe] = [kind in those for kind in _kinds_of(amounts[:, maybe])]
        return found

    def _row_weights(self, duals: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """What a unit's amount in each of the model's rows adds to its column's ``a_j'y``
        at these duals ``y``: the dual of the row's own LP row (a published row; a withheld
        one has none) and, for each law the row is in, the law's dual times the row's
        coefficient in it (a type's law entries are its amounts summed by those
        coefficients, :meth:`_law_values`)."""
        y = np.asarray(duals, dtype=np.float64)
        weights = np.zeros(len(self.rows))
        weights[self._lp_rows] = y[: self._first_law]
        if self._law_terms.shape[0]:
            weights += self._law_terms.T @ y[self._first_law :]
        return weights

    def _columns_for(
        self, kinds: Sequence[_Kind]
    ) -> list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]]:
        """Unit types' columns in the programme (each sorted by row, a row once, as every type
        is made): a type's amounts in its published rows, by LP row, then its laws' values
        that are not zero, by law — worked out for all at once, as :meth:`_complete_all`
        does (exactly, on whole numbers)."""
        if not kinds:
            return []
        amounts = _amounts(kinds, len(self.rows))
        lp = self._lp_of_row[amounts.indices]
        published = lp >= 0
        laws = (self._law_terms @ amounts).tocsc()
        laws.sort_indices()
        nonzero = laws.data != 0
        columns = []
        for j in range(len(kinds)):
            start, end = amounts.indptr[j], amounts.indptr[j + 1]
            there = published[start:end]
            first, last = laws.indptr[j], laws.indptr[j + 1]
            kept = nonzero[first:last]
            index = np.concatenate(
                [lp[start:end][there], laws.indices[first:last][kept] + self._first_law]
            )
            values = np.concatenate([amounts.data[start:end][there], laws.data[first:last][kept]])
            columns.append((index.astype(np.int32), values))
        return columns

    def forget(self) -> None:
        """Let go of every hypothetical type worked out, once the part's audit is over."""
        self._phantoms.clear()
        self._columns_of.clear()
        self._resectorings.clear()
        self._pairs.clear()
        self._whole = None
        self._atoms.clear()
        self._atom_law_values.clear()
        self._atom_sector_codes.clear()
        self._proofs.clear()
        self._kept.clear()
        self._proved.clear()
        self._holders_of.clear()
        self._lowering_of.clear()
        self._alone_lawful.clear()
        self._pricing = None

    def close(self) -> None:
        """Take the audited row's hypothetical unit types and its own row out of the model
        again."""
        if self._opened is None:
            return
        first = self._opened[1]
        self._opened = None
        self._phantom_matrix = None
        self._pricing = None
        self._open_kinds = []
        added = self.highs.getNumCol() - first
        if added:
            self.highs.deleteCols(added, np.arange(first, first + added, dtype=np.int32))
        if self._cap is not None:
            self.highs.deleteRows(1, np.array([self._cap], dtype=np.int32))
            self._cap = None

    def _bound_at(self, enough: float | None, maximise: bool) -> None:
        """Bound the audited row's own LP row (:meth:`_open`) at ``enough``, from above when
        maximising, from below when minimising; ``None``: free."""
        if self._cap is None:
            return
        low, high = -highspy.kHighsInf, highspy.kHighsInf
        if enough is not None:
            low, high = (low, enough) if maximise else (enough, high)
        self.highs.changeRowBounds(self._cap, low, high)

    def _run(
        self,
        row: _Row,
        maximise: bool,
        enough: float | None,
        hypothetical_costs: npt.NDArray[np.float64],
    ) -> "highspy.HighsModelStatus | None":
        """Solve; with ``enough``, with the audited row bounded there (:meth:`_bound_at`),
        returning None if the optimum is a feasible solution whose value of ``row`` reaches
        it (left in ``self._reached``, the solution in ``self._stopped_at``). The bound stays
        until :meth:`bound` has read what it needs: changing the model drops the solution."""
        highs = self.highs
        self._bound_at(enough, maximise)
        highs.run()
        status = highs.getModelStatus()
        if enough is None or status != highspy.HighsModelStatus.kOptimal:
            return status
        cols = np.asarray(highs.getSolution().col_value)
        phantoms_from = cols.size - hypothetical_costs.size
        value = float(cols[row.cols] @ row.coefs + cols[phantoms_from:] @ hypothetical_costs)
        reached = value >= enough - 1e-6 if maximise else value <= enough + 1e-6
        if not reached:  # (short of it: the bound binds nothing, the optimum is the programme's)
            return status
        if self._satisfies(cols, programme=True):
            self._reached = value
            self._stopped_at = cols
            self._learn(cols, phantoms_from)
            return None
        # Reached, but not believed on what it shows: the programme's own optimum decides, as
        # any optimum HiGHS ends on does (nothing learnt from this one).
        self._bound_at(None, maximise)
        highs.run()
        return highs.getModelStatus()

    def _satisfies(self, cols: npt.NDArray[np.float64], programme: bool = False) -> bool:
        """Whether a solution the simplex stopped at is feasible: no negative size, every
        published row at its value (a quantile's size at least its floor; HiGHS's
        tolerances). The rows' values are recomputed from the columns (A·x), not taken from
        the solver's row activities: a stop where the audited row was bounded (:meth:`_run`)
        is believed only on what it shows, since it is what proves an interval open."""
        opened = 0 if self._phantom_matrix is None else self._phantom_matrix.shape[1]
        if programme:  # (its columns taken out: what they hold is the rows' business)
            cols = np.concatenate([cols[: self.num_atoms], cols[self.num_atoms + self._num_z :]])
        if cols.size and cols.min() < -1e-9:
            return False
        if cols.size != self.num_atoms + opened:  # (columns this check does not know of)
            return False
        return self._gap(self._activity_of(cols, programme=False)) <= 1e-6

    def _gap(self, activity: npt.NDArray[np.float64]) -> float:
        """How far LP rows' values (``activity``) lie outside their published bounds at most
        (0: within all of them; a withheld row has none)."""
        gap = np.maximum(self._lp_low - activity, activity - self._lp_high)[self._lp_published]
        return float(gap.max()) if gap.size else 0.0

    def _activity_of(
        self, cols: npt.NDArray[np.float64], programme: bool = True
    ) -> npt.NDArray[np.float64]:
        """Every LP row's value as published (not as the programme holds it, with equalities
        taken out: :meth:`_substitute`) in a solution: the ``programme``'s columns (the atoms,
        the taken rows' columns, the opened types), or the atoms' and the opened types' only."""
        activity = self._atoms_activity(cols[: self.num_atoms])
        if self._phantom_matrix is not None:
            start = self.num_atoms + (self._num_z if programme else 0)
            activity = activity + self._phantom_matrix @ cols[start:]
        return activity

    def _atoms_activity(self, atoms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Every LP row's value as published in a solution over the atoms alone."""
        return np.concatenate(
            [(self._rows_over_atoms @ atoms)[self._lp_rows], self._law_rows @ atoms]
        )

    def _feasible(self) -> bool:
        """The atoms' true sizes satisfy every published row unless the numbers were tampered
        with: checked directly, since an unbounded status says nothing about feasibility."""
        sizes = np.zeros(self.highs.getNumCol())
        sizes[: self.num_atoms] = self.atom_sizes
        return all(
            self._lower(row) - 1e-6 <= float(sizes[row.cols] @ row.coefs) <= self._upper(row) + 1e-6
            for row in self.rows
            if row.published
        )


def _build(
    population: Population,
    published: Mapping[CellKey, int],
    withheld: Collection[CellKey],
    earlier: Sequence[PublishedVersion],
    floors: Mapping[CellKey, int],
    laws: bool = False,
) -> list[_RegionAudit]:
    """Every connected part's model (:func:`_plans`), built here."""
    return [plan.build() for plan in _plans(population, published, withheld, earlier, floors, laws)]


@dataclass(frozen=True, slots=True)
class _Carried:
    """The regions a revision publishes as the latest earlier version of its period did
    (:func:`_carried`): that version's published counts there and its quartiles' sizes there
    (``PublishedVersion.floors``)."""

    regions: frozenset[str] = frozenset()
    published: Mapping[CellKey, int] = field(default_factory=dict)
    floors: Mapping[CellKey, int] = field(default_factory=dict)

    def only(self, regions: Collection[str]) -> "_Carried":
        return _Carried(
            frozenset(regions) & self.regions,
            {key: v for key, v in self.published.items() if key.region in regions},
            {key: f for key, f in self.floors.items() if key.region in regions},
        )

    def as_published(
        self, published: Mapping[CellKey, int], floors: Mapping[CellKey, int]
    ) -> "_Carried":
        """Only the regions where ``published`` and ``floors`` (a release's counts and
        quartiles' sizes) are just the version's."""
        return self.only(
            [
                region
                for region in self.regions
                if {key: v for key, v in published.items() if key.region == region}
                == self.only([region]).published
                and {key: f for key, f in floors.items() if key.region == region}
                == self.only([region]).floors
            ]
        )


def _carried(
    population: Population, earlier: Sequence[PublishedVersion], k: int, laws: bool
) -> _Carried:
    """The regions where a revision says again what the latest earlier version of its period
    says: each region whose units all count in it alone, in this release and in that version,
    and count in it as they did then (late facts elsewhere, or none), under the same k and
    laws, where that version's published counts are this release's numbers and its quartiles'
    sizes are what this release's quartiles say where it published its cells' quartiles.

    Published so, such a region tells a reader nothing the earlier versions did not (its
    numbers are that version's, which was audited against every one before it), so its cells
    need no programme — and get none: a model of two versions of the same units narrowed
    cells that the model of one version held open (README, "Statistics for learning
    networks"), which refused revisions where nothing in a region had changed. Regions with a
    late fact are protected and audited against every earlier version as before."""
    same_period = [v for v in earlier if v.period == population.period]
    if not same_period:
        return _Carried()
    latest = max(same_period, key=lambda v: v.number)
    if latest.k != k or latest.laws != laws or latest.withheld is None or latest.quartiles is None:
        return _Carried()
    now = _by_lone_region(PackedContributions.of(population.contributions))
    then = _by_lone_region(PackedContributions.of(latest.contributions))
    values = population.values()
    primary = primary_suppression(population, k)
    # The quartiles of each cell whose quartiles that version published (its ``floors``).
    quartiles = {
        (cell.key, cell.quantile): cell.value
        for key in population.quantiles
        if quantile_size(key) in latest.floors
        for cell in released_quantiles(population.quantiles[key], k)
        if cell.value is not None and cell.quantile is not None
    }
    carried: set[str] = set()
    for region in sorted({key.region for key in population.counts}):
        units, units_then = now.get(region), then.get(region)
        if units is None or units_then is None or not units.says_the_same_as(units_then):
            continue  # (a unit counting in another region too is in neither)
        published = {key: v for key, v in latest.published.items() if key.region == region}
        if any(
            key not in population.counts or values[key] != v or key in primary
            for key, v in published.items()
        ):
            continue
        # The same table (a new cell would be shown withheld, unaudited).
        if not shows_the_cells_of(latest, population.counts, region):
            continue
        # Its quartiles as it published them: the same values, of the same cells.
        if {at: v for at, v in quartiles.items() if at[0].region == region} != {
            at: v for at, v in latest.quartiles.items() if at[0].region == region
        }:
            continue
        carried.add(region)
    return _Carried(frozenset(carried), latest.published, latest.floors).only(carried)


def shows_the_cells_of(
    version: PublishedVersion, counts: Iterable[CellKey], region: str | None = None
) -> bool:
    """Whether a release of these count cells shows the cells ``version`` showed, published or
    withheld, and no other — in ``region``, or in every region. A withheld cell of the process
    map is shown by neither (``dynamics.hidden``)."""

    def here(key: CellKey) -> bool:
        return region is None or key.region == region

    shown = {
        key for key in counts if here(key) and (key.table != DYNAMICS or key in version.published)
    }
    assert version.withheld is not None  # (read back by ``ReleaseStore.published_versions``)
    return shown == {key for key in [*version.published, *version.withheld] if here(key)}


def _by_lone_region(packed: PackedContributions) -> dict[str, PackedContributions]:
    """The units of each region that count in no other, by region; a region with a unit
    counting in another too is left out."""
    names = sorted({key.region for key in packed.cell_keys})
    place = {name: i for i, name in enumerate(names)}
    of_key = np.array([place[key.region] for key in packed.cell_keys], dtype=np.int64)
    sizes = np.diff(packed.offsets)
    counting = np.flatnonzero(sizes > 0)
    if not counting.size:
        return {}
    regions = of_key[packed.cells] if packed.cells.size else np.empty(0, np.int64)
    starts = packed.offsets[counting]
    lowest = np.minimum.reduceat(regions, starts)
    highest = np.maximum.reduceat(regions, starts)
    # Every region a crossing unit counts in (not only its lowest and highest).
    crossing_entries = np.repeat(lowest != highest, sizes[counting])
    crossing = set(np.unique(regions[crossing_entries]).tolist())
    return {
        name: packed.subset(counting[lowest == i])
        for i, name in enumerate(names)
        if i not in crossing and np.any(lowest == i)
    }


def _plans(
    population: Population,
    published: Mapping[CellKey, int],
    withheld: Collection[CellKey],
    earlier: Sequence[PublishedVersion],
    floors: Mapping[CellKey, int],
    laws: bool = False,
) -> list["_PartPlan"]:
    """What every connected part's model is made of: rows for this release's cells
    (``published`` and ``withheld``), the sizes of its released quantiles (``floors``, see
    :func:`size_floors`) and every earlier version's cells and sizes, columns for the atoms."""
    groups = {key: cell.group for key, cell in population.counts.items() if cell.group is not None}
    for key in {*floors, *(key for version in earlier for key in version.floors)}:
        if (group := size_group(key)) is not None:
            groups[key] = group
    values = population.values()
    rows: list[_Row] = []
    own: dict[CellKey, int] = {}
    for key in sorted({*published, *withheld}):
        is_published = key in published
        value = published[key] if is_published else values[key]
        own[key] = len(rows)
        rows.append(_Row(key, None, value, is_published, fixed=False, period=population.period))
    sizes = _totals(PackedContributions.of(population.contributions), floors)
    _check_floors(sizes, floors, "this release")
    for key in sorted(floors):
        own[key] = len(rows)
        rows.append(
            _Row(
                key,
                None,
                sizes[key],
                published=True,
                fixed=False,
                period=population.period,
                floor=floors[key],
            )
        )
    lookups: list[tuple[PackedContributions, dict[CellKey, int]]] = [
        (PackedContributions.of(population.contributions), own)
    ]
    for version in earlier:
        packed = PackedContributions.of(version.contributions)
        # Every cell of the tables in that version's shape (a quarter's has no sector cells):
        # a cell empty in an earlier version is the same cell as in a revision, and must be
        # able to differ in both alike.
        shaped = (
            key
            for key in population.counts
            if (version.period.by_sector or key.sector == ALL_SECTORS)
            and not is_sparse(key.table, key.category)
        )
        # And every cell its units count in, but for the quantiles' sizes: those are rows
        # only where quartiles were released (``version.floors``), and then as such.
        totals = _totals(packed, [*shaped, *version.published], every=True)
        lookup: dict[CellKey, int] = {}
        for key in sorted(totals):
            is_published = key in version.published
            value = version.published[key] if is_published else totals[key]
            lookup[key] = len(rows)
            rows.append(
                _Row(
                    key,
                    version.number,
                    value,
                    is_published,
                    fixed=is_published,
                    period=version.period,
                )
            )
        sizes = _totals(packed, version.floors)
        _check_floors(sizes, version.floors, f"release {version.number}")
        for key in sorted(version.floors):
            lookup[key] = len(rows)
            rows.append(
                _Row(
                    key,
                    version.number,
                    sizes[key],
                    published=True,
                    fixed=True,
                    period=version.period,
                    floor=version.floors[key],
                )
            )
        lookups.append((packed, lookup))
    legacy = frozenset(version.number for version in earlier if laws and not version.laws)
    return _parts(rows, lookups, groups, laws, legacy)


def _check_floors(sizes: Mapping[CellKey, int], floors: Mapping[CellKey, int], of: str) -> None:
    """Refuse a model whose units count in fewer of a quantile's size than its released
    quartiles need: their contributions lack the sizes (``model.quantile_size``), so what
    the quartiles say cannot be audited."""
    if short := sorted(key.text() for key, floor in floors.items() if sizes[key] < floor):
        raise AuditFailed(
            f"the units of {of} count in fewer of {short[0]} than its released quartiles "
            "need: its units' contributions lack the quantiles' sizes, so what they say cannot "
            "be audited; recompute the release from one population"
        )


def _totals(
    packed: PackedContributions, keys: Iterable[CellKey], every: bool = False
) -> dict[CellKey, int]:
    """The sum of the units' amounts in each of ``keys`` (zero where none counts); with
    ``every``, in every cell they count in too, but for the quantiles' sizes."""
    totals: dict[CellKey, int] = dict.fromkeys(keys, 0)
    sums = np.zeros(len(packed.cell_keys), dtype=np.int64)
    np.add.at(sums, packed.cells, packed.amounts)
    for key, amount in zip(packed.cell_keys, sums.tolist(), strict=True):
        if key in totals:
            totals[key] += amount
        elif every and not key.category.startswith(SIZE_PREFIX):
            totals[key] = amount
    return totals


def _parts(
    rows: list[_Row],
    lookups: Sequence[tuple[PackedContributions, Mapping[CellKey, int]]],
    groups: Mapping[CellKey, CellKey],
    laws: bool = False,
    legacy: frozenset[int] = frozenset(),
) -> list["_PartPlan"]:
    """The connected parts of the model: every unit's vector over all ``rows`` (its amounts in
    each version's cells, ``lookups``: the version's contributions and its cells' rows), units
    with the same vector merged into an atom, and atoms grouped by the regions they tie
    together; ``legacy``: the earlier versions made without the laws. Worked out on arrays:
    a large quarter with three earlier versions has 265,205 units' vectors. The atoms are
    numbered in the order of their vectors (each a list of (row, amount) by row), not of their
    units: the units' order (their ids, random at load) must not change which atom is which,
    since the simplex's path and the cap on hypothetical types (rarest first, ties by atom)
    depend on it, and a release must be a function of its population alone."""
    # Every (unit, row, amount) entry, in the order of the versions and of their units.
    unit_index: dict[str, int] = {}
    entry_units, entry_rows, entry_amounts = [], [], []
    for packed, lookup in lookups:
        to_row = np.array([lookup.get(key, -1) for key in packed.cell_keys], dtype=np.int64)
        ids = np.array(
            [unit_index.setdefault(unit, len(unit_index)) for unit in packed.units], dtype=np.int64
        )
        of_entry = np.repeat(ids, np.diff(packed.offsets))
        at = to_row[packed.cells] if packed.cells.size else np.empty(0, np.int64)
        keep = (at >= 0) & (packed.amounts != 0)
        entry_units.append(of_entry[keep])
        entry_rows.append(at[keep])
        entry_amounts.append(packed.amounts[keep])
    units = np.concatenate(entry_units) if entry_units else np.empty(0, np.int64)
    at = np.concatenate(entry_rows) if entry_rows else np.empty(0, np.int64)
    amounts = np.concatenate(entry_amounts) if entry_amounts else np.empty(0, np.int64)
    # A unit's place: where its first entry is (a unit with none is in no atom).
    first = np.full(len(unit_index), units.size, dtype=np.int64)
    np.minimum.at(first, units, np.arange(units.size, dtype=np.int64))
    order = np.argsort(first[units] * max(len(rows), 1) + at, kind="stable")
    units, at, amounts = units[order], at[order], amounts[order]
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]]).astype(np.int64)
    ends = np.r_[starts[1:], units.size].astype(np.int64)
    if not units.size:
        starts = ends = np.empty(0, np.int64)
    # Units with the same vector: one atom (16 bytes an entry: a unit's vector is its slice).
    raw = _vector_bytes(at, amounts)
    atom_of: dict[bytes, int] = {}
    sizes: list[int] = []
    first_of: list[int] = []
    unit_atoms: list[int] = []  # (each unit's atom, in the order of ``starts``)
    for start, end in zip((16 * starts).tolist(), (16 * ends).tolist(), strict=True):
        vector = raw[start:end]
        c = atom_of.get(vector)
        if c is None:
            c = atom_of[vector] = len(sizes)
            sizes.append(0)
            first_of.append(start // 16)
        sizes[c] += 1
        unit_atoms.append(c)
    # Renumbered in their vectors' order (``atom_of`` holds them in the order numbered), as
    # bytes (8 a number, where a list of Python numbers per atom would take about 36).
    vectors = list(atom_of)
    canonical = sorted(range(len(sizes)), key=vectors.__getitem__)
    sizes = [sizes[c] for c in canonical]
    first_of = [first_of[c] for c in canonical]
    # Each unit's atom, renumbered so (-1: a unit in no atom), and the units by id.
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[canonical] = np.arange(len(sizes), dtype=np.int64)
    atom_of_unit = np.full(len(unit_index), -1, dtype=np.int64)
    if units.size:
        atom_of_unit[units[starts]] = rank[np.array(unit_atoms, dtype=np.int64)]
    unit_ids = list(unit_index)
    # The regions each unit ties together (units never cross regions in practice).
    region_names = sorted({row.key.region for row in rows})
    region_id = {name: i for i, name in enumerate(region_names)}
    row_region = np.array([region_id[row.key.region] for row in rows], dtype=np.int64)
    parent = list(range(len(region_names)))

    def find(region: int) -> int:
        while parent[region] != region:
            parent[region] = parent[parent[region]]
            region = parent[region]
        return region

    if units.size:
        regions = row_region[at]
        lowest = np.minimum.reduceat(regions, starts)
        highest = np.maximum.reduceat(regions, starts)
        for start, end in zip(
            starts[lowest != highest].tolist(), ends[lowest != highest].tolist(), strict=True
        ):
            first_region, *others = np.unique(regions[start:end]).tolist()
            for other in others:
                parent[find(other)] = find(first_region)
    part_of_region = np.array([find(r) for r in range(len(region_names))], dtype=np.int64)
    row_part = part_of_region[row_region] if len(rows) else row_region
    # Every atom's column over all rows, then each part's rows and atoms.
    firsts = np.array(first_of, dtype=np.int64)
    lengths = ends[np.searchsorted(starts, firsts)] - firsts if firsts.size else firsts
    indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    gather = np.repeat(firsts - indptr[:-1], lengths) + np.arange(int(indptr[-1]))
    columns = sparse.csc_matrix(
        (amounts[gather].astype(np.float64), at[gather], indptr),
        shape=(len(rows), len(sizes)),
    )
    atom_part = row_part[at[firsts]] if firsts.size else firsts
    atom_sizes = np.array(sizes, dtype=np.int64)
    # Each atom's number within its part, and each unit's part (-1: a unit in no atom).
    local_atom = np.zeros(len(sizes), dtype=np.int64)
    unit_part = np.full(atom_of_unit.size, -1, dtype=np.int64)
    unit_part[atom_of_unit >= 0] = atom_part[atom_of_unit[atom_of_unit >= 0]]
    plans: list[_PartPlan] = []
    for part in sorted(set(row_part.tolist()), key=lambda p: region_names[p]):
        members = np.flatnonzero(row_part == part)
        mine = np.flatnonzero(atom_part == part)
        local_atom[mine] = np.arange(mine.size)
        local = columns[:, mine][members, :].tocsc()
        local.sort_indices()
        part_rows = [rows[r] for r in members.tolist()]
        keys = {row.key for row in part_rows}
        in_part = np.flatnonzero(unit_part == part)
        plans.append(
            _PartPlan(
                rows=part_rows,
                atoms=local,
                sizes=atom_sizes[mine],
                groups={key: group for key, group in groups.items() if key in keys},
                laws=laws,
                legacy=frozenset(row.release for row in part_rows if row.release in legacy),
                representatives=tuple(unit_ids[u] for u in units[firsts[mine]].tolist()),
                unit_atoms=dict(
                    zip(
                        (unit_ids[u] for u in in_part.tolist()),
                        local_atom[atom_of_unit[in_part]].tolist(),
                        strict=True,
                    )
                ),
            )
        )
    return plans


@dataclass(frozen=True, slots=True, eq=False)
class _PartPlan:
    """What one connected part's model (:class:`_RegionAudit`) is built from: plain data, so
    that a part can be sent to a process of its own and built there (:func:`_each_part`).
    ``representatives``: one unit of each atom; ``unit_atoms``: the atom each unit of the part
    is in (to carry feasible solutions from one model of a population to another)."""

    rows: list[_Row]
    atoms: sparse.csc_matrix
    sizes: npt.NDArray[np.int64]
    groups: Mapping[CellKey, CellKey]
    laws: bool
    legacy: frozenset[int]
    representatives: tuple[str, ...]
    unit_atoms: Mapping[str, int]

    @property
    def num_atoms(self) -> int:
        return len(self.sizes)

    @property
    def regions(self) -> tuple[str, ...]:
        return _regions_of(self.rows)

    def build(self) -> _RegionAudit:
        audit = _RegionAudit(self.rows, self.atoms, self.sizes, self.groups, self.laws, self.legacy)
        audit.representatives = self.representatives
        audit._atom_of_unit = partial(_local_atoms, self.unit_atoms)
        audit.plan = self
        return audit

    def without(self, dropped: Collection[int], reopened: Collection[CellKey] = ()) -> "_PartPlan":
        """This part without rows ``dropped``, its other rows as they are now (published or
        withheld), as :func:`_plans` would make it of those rows: units whose vectors no
        longer differ merged into one atom, numbered in their vectors' order, each named by its
        first unit; units left counting in no row in no atom. This release's rows of
        ``reopened`` (withheld to protect others) are made published, for the caller to
        withhold again once built: a row withheld when its model is built has no equality in
        it, so it could not be published again there (:meth:`_RegionAudit.publish_again`)."""
        gone, again = set(dropped), set(reopened)
        kept = [r for r in range(len(self.rows)) if r not in gone]
        rows = [
            _Row(
                row.key,
                row.release,
                row.value,
                row.published or (row.release is None and row.key in again),
                row.fixed,
                period=row.period,
                floor=row.floor,
            )
            for row in (self.rows[r] for r in kept)
        ]
        columns = sparse.csc_matrix(self.atoms[kept, :])
        columns.eliminate_zeros()
        columns.sort_indices()
        vectors = [
            _vector_bytes(
                columns.indices[columns.indptr[c] : columns.indptr[c + 1]],
                columns.data[columns.indptr[c] : columns.indptr[c + 1]],
            )
            for c in range(columns.shape[1])
        ]
        merged = sorted({vector for vector in vectors if vector})  # (b"": in no row now)
        number = {vector: n for n, vector in enumerate(merged)}
        atom = np.array([number.get(vector, -1) for vector in vectors], dtype=np.int64)
        # (The units in the order _plans met them; each new atom named by its first unit.)
        place = {unit: i for i, unit in enumerate(self.unit_atoms)}
        first = np.full(len(merged), -1, dtype=np.int64)
        for c in sorted(range(atom.size), key=lambda c: place[self.representatives[c]]):
            if atom[c] >= 0 and first[atom[c]] < 0:
                first[atom[c]] = c
        kept_atoms = atom >= 0
        keys = {row.key for row in rows}
        return _PartPlan(
            rows=rows,
            atoms=sparse.csc_matrix(columns[:, first]),
            sizes=np.bincount(
                atom[kept_atoms], weights=self.sizes[kept_atoms], minlength=len(merged)
            ).astype(np.int64),
            groups={key: group for key, group in self.groups.items() if key in keys},
            laws=self.laws,
            legacy=self.legacy,
            representatives=tuple(self.representatives[c] for c in first.tolist()),
            unit_atoms={unit: int(atom[c]) for unit, c in self.unit_atoms.items() if atom[c] >= 0},
        )


def _vector_bytes(rows: npt.NDArray[Any], amounts: npt.NDArray[Any]) -> bytes:
    """Vectors as :func:`_parts` and :meth:`_PartPlan.without` key and order atoms, one
    encoding for both: each (row, amount) as two numbers of 8 bytes, big-endian with the sign
    bit flipped, so that comparing bytes compares the numbers (amounts are whole: stored as
    floats in a part's matrix, they are rounded back)."""
    pairs = np.empty((rows.size, 2), dtype=np.int64)
    pairs[:, 0], pairs[:, 1] = rows, np.rint(amounts).astype(np.int64)
    return bytes((pairs.view(np.uint64) ^ np.uint64(1 << 63)).astype(">u8").tobytes())


def _regions_of(rows: Iterable[_Row]) -> tuple[str, ...]:
    """The regions of a part's rows: the part's name, to carry its solutions by."""
    return tuple(sorted({row.key.region for row in rows}))


def _local_atoms(unit_atoms: Mapping[str, int], ids: Sequence[str]) -> npt.NDArray[np.int64]:
    """The atom of one part each unit of ``ids`` is in (``unit_atoms``: the part's units); -1
    for a unit of no atom, of another part, or unknown."""
    return np.fromiter((unit_atoms.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))


def _finding(part: _RegionAudit, r: int, low: float, high: float, k: int) -> AuditedCell:
    row = part.rows[r]
    needed_low, needed_high = part.needed(r, k)
    return AuditedCell(
        row.key, row.release, low, high, needed_low, needed_high, part.narrowed_before(r)
    )


# --- secondary suppression -----------------------------------------------------------------


def _candidate(part: _RegionAudit, failing: int, duals: dict[int, float] | None) -> int | None:
    """The published cell of this release to withhold next for ``failing``.

    Cells whose constraint binds the failing bound (a non-zero dual) widen it when withheld.
    If none of this release's binds in the dual found, another optimal dual may still lean on
    them: :meth:`_RegionAudit.relaxed` then decides. Among them: a sector's cell before a
    region's all-sectors
    cell (the region's totals are what a learning network reads first), then the same table,
    then the same sector, then the smallest value (it costs the reader least).
    """
    candidates = [
        r
        for r, row in enumerate(part.rows)
        if row.published
        and not row.fixed
        and duals is not None
        and abs(duals.get(r, 0.0)) > _DUAL_ZERO
    ]
    return _best(part, failing, candidates)


def _best(part: _RegionAudit, failing: int, candidates: Sequence[int]) -> int | None:
    """The candidate to withhold first (see :func:`_candidate`), or None without any; never
    one :meth:`_RegionAudit.implied` shows cannot move ``failing``."""
    candidates = [c for c in candidates if not part.implied(failing, c)]
    if not candidates:
        return None
    target = part.rows[failing].key
    return min(
        candidates,
        key=lambda r: (
            # A quantile's quartiles before any count: they say less (only "at least"), and a
            # count is what the rest of the table is read against.
            part.rows[r].floor is None,
            part.rows[r].key.sector == ALL_SECTORS,
            part.rows[r].key.table != target.table,
            part.rows[r].key.sector != target.sector,
            part.rows[r].value,
            part.rows[r].key,
        ),
    )


@dataclass(frozen=True, slots=True)
class _PartProtected:
    """What :func:`_protect_part` made of one part: its findings, the cells of this release it
    withheld to protect others, and the feasible solutions to start the check from."""

    findings: list[AuditedCell]
    secondary: set[CellKey]
    solutions: Solutions
    #: Why the part is held back (:func:`protect`'s ``hold_back``); None: it is protected.
    held: str | None = None


def _protect_part(k: int, hold_back: frozenset[str], part: _RegionAudit) -> _PartProtected:
    """Protect one part (:func:`_protected`), on the model the release step's check will build.

    A quantile's size whose quartiles this release withholds is no row of the check's model
    (:func:`audit` holds sizes only where quartiles are published), while ``protect()``'s model
    keeps it, withheld. Withheld rows constrain nothing, but the hypothetical types are made of
    the model's rows, and under the laws a type counting in such a size counts in the rows a
    law ties it to: ``protect()`` then found cells open that the check, and the independent
    oracle, found narrowed (a participation cell of the demo's 2025, open down to 64 where it
    had to reach 65.1, narrowed to 65.45 for the check), and the release was refused. So where
    this release withheld such a size, the part is built again without it, as the check builds
    it, starting from the solutions found (each verified on it, :meth:`_RegionAudit.start_from`,
    so mostly no programme is solved again), and protected again from there: what is withheld
    stays withheld, and more is where the check's model needs it."""
    found = _protected(k, hold_back, part, set())
    while found.held is None and part.plan is not None:
        sizes = [
            r
            for r, row in enumerate(part.rows)
            if row.floor is not None and row.release is None and not row.published
        ]
        if not sizes:
            break
        part = part.plan.without(sizes, found.secondary).build()
        for r, row in enumerate(part.rows):
            if row.release is None and row.key in found.secondary:
                part.withhold(r)
        part.start_from(found.solutions)
        found = _protected(k, hold_back, part, found.secondary)
    return found


def _protected(
    k: int, hold_back: frozenset[str], part: _RegionAudit, secondary: set[CellKey]
) -> _PartProtected:
    """Audit every withheld row of one part, withholding more of this release's cells until
    every one keeps its interval; refuse (:class:`AuditFailed`) when that cannot be done, or,
    in a revision where earlier releases alone narrow a cell and every region of the part is
    in ``hold_back``, hold the part back (nothing of it protected or published).

    A cell this release withheld only to protect another (``secondary``) that earlier versions
    already narrow by themselves protects nothing by being withheld (a revision's unchanged
    total, a year whose quarters are all out): it is published again, and since an equality
    added back can narrow cells audited before, they are audited again.

    ``secondary``: what an earlier model of the part withheld to protect others (see
    :func:`_protect_part`); its rows are withheld in this model already."""
    queue = _audit_order(part)
    findings: dict[int, AuditedCell] = {}
    secondary = set(secondary)  # (the part's own: no two parts share a row)
    while queue:
        r = queue.pop(0)
        row = part.rows[r]
        if row.published or row.floor is not None:
            continue  # (a quantile's size withheld: its quartiles are; it is no count)
        low = high = float(row.value)
        published_again = False
        for maximise in (False, True):
            whole = False  # every hypothetical type, once the capped ones fell short
            while True:
                # (Again after each cell withheld: a law's bound caps it only while published.)
                needed_low, needed_high = part.needed(r, k)
                if part.freely_moves(r, maximise):
                    bound = _Bound(_FREE if maximise else 0.0, None)
                    break
                reached = float(part.highest[r] if maximise else part.lowest[r])
                if reached >= needed_high - 1e-6 if maximise else reached <= needed_low + 1e-6:
                    bound = _Bound(reached, None)
                    break
                enough = needed_high if maximise else needed_low
                # (A proof an earlier model of the part found, verified on this one.)
                proven = part.proven(r, maximise, enough)
                if proven is not None:
                    bound = _Bound(proven, None)
                    break
                bound = part.bound(r, maximise, enough, grow=whole)
                opened = bound.value >= enough - 1e-6 if maximise else bound.value <= enough + 1e-6
                if not opened and not whole and part.capped(r):
                    # The capped types may be what narrows it: the model itself, with every
                    # type, decides (and its dual names what to withhold), from now on — by
                    # adding the types that would move it (``grow``), not all of them.
                    whole = True
                    bound = part.bound(r, maximise, enough, grow=whole)
                    opened = (
                        bound.value >= enough - 1e-6 if maximise else bound.value <= enough + 1e-6
                    )
                if opened:
                    break
                if part.settle(r, maximise, k):
                    # Narrowed before this release, by releases made without the laws: it
                    # must only go no further (and stays withheld: published, it might
                    # narrow another cell further).
                    continue
                chosen = _candidate(part, r, bound.duals)
                if chosen is None:
                    moved = part.relaxed(r, maximise, enough)
                    chosen = _best(part, r, moved or ())
                if chosen is None and row.release is None and row.key in secondary:
                    part.publish_again(r)
                    secondary.discard(row.key)
                    published_again = True
                    break
                if chosen is None:
                    if row.release is None and _in_a_revision(part, r):
                        if not hold_back.issuperset(part.regions):
                            raise RevisionNarrowed(_refusal(part, r, maximise, bound.value))
                        part.forget()
                        held = _narrowed_by_earlier(part, r, maximise, bound.value)
                        return _PartProtected([], set(), Solutions((), ()), held=held)
                    raise AuditFailed(_refusal(part, r, maximise, bound.value))
                part.withhold(chosen)
                secondary.add(part.rows[chosen].key)
                queue.append(chosen)
                for capped in part.capped_by(chosen):
                    if findings.pop(capped, None) is not None:
                        queue.append(capped)  # its interval no longer stops at ``chosen``
            if published_again:
                break
            if maximise:
                high = bound.value
            else:
                low = bound.value
        if published_again:
            findings.clear()
            queue = _audit_order(part)
            continue
        findings[r] = _finding(part, r, low, high, k)
    found = part.solutions()
    part.forget()
    return _PartProtected([findings[r] for r in sorted(findings)], secondary, found)


def _audit_order(part: _RegionAudit) -> list[int]:
    """The part's withheld rows in the order :func:`_protected` audits them: the model's; in
    a revision, each cell's rows back to back (this release's row, then its earlier
    versions'): a row's proof mostly holds for its twin (:meth:`_RegionAudit.proven`), and
    the cell's whole set of types, kept for one cell at a time (:meth:`_whole_types`), is
    worked out once for both. (A first release keeps the model's order, whatever earlier
    releases of other periods its part holds.)"""
    withheld = [r for r, row in enumerate(part.rows) if not row.published]
    periods = {row.period for row in part.rows if row.release is None}
    if not any(row.release is not None and row.period in periods for row in part.rows):
        return withheld
    cells = {r: part._cell(r) for r in withheld}
    first: dict[_Cell, int] = {}
    for r, cell in cells.items():
        first.setdefault(cell, r)
    return sorted(withheld, key=lambda r: (first[cells[r]], r))


def _refusal(part: _RegionAudit, r: int, maximise: bool, value: float) -> str:
    """Why row ``r`` refuses the release: earlier versions narrow it, whatever it withholds."""
    row = part.rows[r]
    narrowed = f"{'at most' if maximise else 'at least'} {value:g}"
    release = "this release" if row.release is None else f"release {row.release}"
    if _in_a_revision(part, r):
        # A revision: no release can mend what earlier ones published (the issue's rule
        # refuses it; README, "A region a revision cannot revise is held back").
        return (
            f"{_narrowed_by_earlier(part, r, maximise, value)}, and no withheld cell may be "
            "narrowed past its interval: the revision is refused"
        )
    return (
        f"{row.key.text()} of {release} can be narrowed to {narrowed} by what is published "
        "already, whatever this release withholds: the release is refused; revise the earlier "
        "release or publish after the period's late facts are in"
    )


def _narrowed_by_earlier(part: _RegionAudit, r: int, maximise: bool, value: float) -> str:
    """How far earlier releases alone narrow row ``r`` of a revision's part."""
    row = part.rows[r]
    of = "this revision" if row.release is None else f"release {row.release}"
    return (
        f"{row.key.text()} of {of} can be narrowed to {'at most' if maximise else 'at least'} "
        f"{value:g} by what earlier releases published, whatever this revision withholds"
    )


def _in_a_revision(part: _RegionAudit, r: int) -> bool:
    """Whether row ``r``'s part holds an earlier release of the row's period."""
    period = part.rows[r].period
    return any(o.release is not None and o.period == period for o in part.rows)


def protect(
    population: Population,
    k: int,
    earlier: Sequence[PublishedVersion] = (),
    *,
    laws: bool = True,
    progress: "Progress | None" = None,
    processes: int | None = None,
    hold_back: Collection[str] = (),
) -> Protected:
    """Apply every disclosure rule of issue #12 to ``population`` and return what to release.

    ``earlier`` are the published versions of the periods of the same year (a year and its quarters,
    earlier revisions of the same period): their numbers are out, so they are constraints of the
    audit and their withheld cells must stay protected too. Raises :class:`AuditFailed` when
    that cannot be achieved by withholding more of this release (the release is refused), and
    ``ValueError`` for a ``k`` below 5. ``laws``: hold the laws within a version (the module's
    docstring); an earlier version made without them (``PublishedVersion.laws``) is then only
    narrowed no further than it narrows itself (:meth:`_RegionAudit.settle`). ``progress``
    is told each part (a region) as its audit ends: at 100,000 trajectories it takes minutes.
    ``processes``: how many parts at most are audited at once (:func:`_each_part`; None: one
    per core).

    ``hold_back``: in a revision, the regions that may be held back rather than refuse it:
    a part (the regions its units tie together, in any version) whose withheld cell earlier
    releases alone narrow past its interval, whatever this release withholds, and whose every
    region is among them, is left out of what is returned (``Protected.held``, with why) for
    the caller to publish as the release it revises did; the other parts are protected as
    they would be without it, since no unit ties them to it.

    ``Protected.audit`` has a finding for every withheld count of this release and of the
    earlier versions; its ``low`` and ``high`` are the extremes found when the cell was audited
    (later withholdings only widen them).
    """
    check_k(k)
    primary = primary_suppression(population, k)
    values = population.values()
    published = {key: values[key] for key in population.counts if key not in primary}
    quartiles = [
        cell
        for key in sorted(population.quantiles)
        for cell in released_quantiles(population.quantiles[key], k)
    ]
    secondary: set[CellKey] = set()
    solutions: dict[tuple[str, ...], Solutions] = {}
    findings: list[AuditedCell] = []
    plans = _plans(population, published, primary, earlier, size_floors(quartiles, k), laws)
    plans, carried = _without_carried(plans, _carried(population, earlier, k, laws))
    # A part whose cell published now and in an earlier version of the period would differ by
    # fewer than k, but not by none, is not protected: the difference is a group of its own.
    # (A region said again publishes the latest version's numbers, which tell nothing new:
    # what it would publish otherwise is not what a reader sees, so it is not set against the
    # earlier versions; ``audit`` sees those numbers and skips them alike.)
    moved = differing(
        population.period,
        {key: v for key, v in published.items() if key.region not in carried.regions},
        earlier,
        k,
        _groups(population),
    )
    held: dict[str, str] = {}
    unheld = []
    for plan in plans:
        why = next((moved[region] for region in plan.regions if region in moved), None)
        if why is None:
            unheld.append(plan)
        elif frozenset(hold_back).issuperset(plan.regions):
            held.update(dict.fromkeys(plan.regions, why))
        else:
            raise RevisionNarrowed(f"{why}: the revision is refused")
    if stray := sorted(set(moved) - {region for plan in plans for region in plan.regions}):
        raise AuditFailed(f"{moved[stray[0]]}, in no part of the audit: please report it")
    plans = unheld
    # A region said again as the latest version said it: what it withheld, withheld again;
    # the quartiles of its cells where it published theirs (their sizes, ``floors``).
    for key in population.counts:
        if key.region in carried.regions and key not in primary and key not in carried.published:
            secondary.add(key)
    for cell in quartiles:
        if cell.key.region in carried.regions and quantile_size(cell.key) not in carried.floors:
            secondary.add(quantile_size(cell.key))
    work = partial(_protect_part, k, frozenset(hold_back))
    for plan, done in zip(plans, _each_part(plans, work, progress, processes), strict=True):
        if done.held is not None:
            held.update(dict.fromkeys(plan.regions, done.held))
            continue
        findings.extend(done.findings)
        secondary |= done.secondary
        solutions[plan.regions] = done.solutions
    rules: dict[CellKey, Withheld] = {**primary, **dict.fromkeys(secondary, "secondary")}
    cells = [
        ReleasedCell(key, "count", None if key in rules else float(values[key]), rules.get(key))
        for key in sorted(population.counts)
        if key.region not in held
    ]
    for cell in quartiles:
        if cell.key.region in held:
            continue
        if cell.withheld is None and quantile_size(cell.key) in secondary:
            # What its quartiles say of its size would narrow a withheld count.
            cell = ReleasedCell(cell.key, "quantile", None, "secondary", cell.quantile)
        cells.append(cell)
    for key in sorted(population.rates):
        if key.region in held:
            continue
        rate = population.rates[key]
        parts = (rate.numerator, rate.denominator)
        if (
            any(part in rules or part not in values for part in parts)
            or not values[rate.denominator]
        ):
            cells.append(ReleasedCell(key, "rate", None, "rate_part_withheld"))
        else:
            share = round(values[rate.numerator] / values[rate.denominator], 2)
            cells.append(ReleasedCell(key, "rate", share))
    return Protected(
        tuple(cells),
        tuple(sorted(findings, key=_order)),
        solutions,
        tuple(sorted(carried.regions)),
        held=dict(sorted(held.items())),
    )


def _groups(population: Population) -> dict[CellKey, CellKey]:
    """Each count that is a part of a group, with its group."""
    return {key: c.group for key, c in population.counts.items() if c.group is not None}


def differing(
    period: Period,
    published: Mapping[CellKey, int],
    earlier: Sequence[PublishedVersion],
    k: int,
    groups: Mapping[CellKey, CellKey] | None = None,
) -> dict[str, str]:
    """The regions where a count ``published`` now differs from what an earlier version of
    ``period`` published of the same cell by fewer than ``k`` but not by none, each with why
    (its first such cell, by key, and the earliest version): set against each other, the two
    numbers tell a statistic of a group smaller than k (three late trajectories, all
    accepted), as a count below k would, so the difference is suppressed as such a count is.
    Every earlier version of the period counts, not only the latest: each is out, and one may
    publish a cell the next one withheld. A cell published as its latest publication said it
    tells nothing new (its differences are out with that one: a region said again, or a pair
    of releases made before this rule), so only a number that moved is set against them. A
    region of them cannot be revised: a revision holds it back or is refused (README, "A
    region a revision cannot revise is held back"). The reason names the cell and the
    releases, never a number of theirs."""
    versions = sorted((v for v in earlier if v.period == period), key=lambda v: v.number)
    found: dict[str, str] = {}
    for key in sorted(published):
        if key.region in found:
            continue
        before = [(v.number, v.published[key]) for v in versions if key in v.published]
        if (number := _moved_by_fewer_than_k(published[key], before, k)) is not None:
            found[key.region] = (
                f"{key.text()} of this revision differs from what release {number} "
                f"published by fewer than k={k}, and not by none: {DIFFERENCE_BELOW_K}"
            )
            continue
        # The rest of its group (the group less the part, ``all_or_none``'s count) is a count
        # too: 100 -> 112 referrals, 80 -> 91 accepted tell that one late referral was not.
        group = (groups or {}).get(key)
        if group is None or group not in published:
            continue
        rests = [
            (v.number, v.published[group] - v.published[key])
            for v in versions
            if key in v.published and group in v.published
        ]
        rest = published[group] - published[key]
        if (number := _moved_by_fewer_than_k(rest, rests, k)) is not None:
            found[key.region] = (
                f"{group.text()} less {key.text()} of this revision differs from what release "
                f"{number} published by fewer than k={k}, and not by none: {DIFFERENCE_BELOW_K}"
            )
    return found


def _moved_by_fewer_than_k(now: int, before: Sequence[tuple[int, int]], k: int) -> int | None:
    """The earliest release of ``before`` (``(number, value)`` by number) whose value ``now``
    differs from by fewer than ``k`` and not by none; ``None`` when there is none, or when the
    latest of them said ``now`` (its differences are out with that one, see :func:`differing`)."""
    if before and before[-1][1] == now:
        return None
    return next((n for n, value in before if 0 < abs(now - value) < k), None)


def _without_carried(
    plans: list["_PartPlan"], carried: _Carried
) -> tuple[list["_PartPlan"], _Carried]:
    """The parts left to protect or audit, and what is carried: the parts whose every region
    is (a part ties regions whose units count in both; none of its regions is then)."""
    kept, dropped = [], set()
    for plan in plans:
        if set(plan.regions) <= carried.regions:
            dropped |= set(plan.regions)
        else:
            kept.append(plan)
    return kept, carried.only(dropped)


def audit(
    population: Population,
    published: Mapping[CellKey, int],
    withheld: Collection[CellKey],
    k: int,
    earlier: Sequence[PublishedVersion] = (),
    *,
    exact: bool = True,
    floors: Mapping[CellKey, int] | None = None,
    laws: bool = True,
    progress: "Progress | None" = None,
    solutions: Mapping[tuple[str, ...], Solutions] | None = None,
    processes: int | None = None,
) -> tuple[AuditedCell, ...]:
    """The exact range a reader of ``published`` (and of every earlier version) can narrow each
    withheld count to, for the release step to check before it publishes (``all(f.protected)``).

    Nothing is withheld here: a failing finding means the release must not go out. Raises
    :class:`AuditFailed` when the published numbers contradict the population's units, and
    when a count of ``published`` differs from an earlier version's of the same period by
    fewer than k but not by none (:func:`differing`: ``protect()`` holds such a region back).

    ``floors``: what the release's published quartiles say of their sizes
    (:func:`size_floors`), inequalities of the programme like the earlier versions' own.

    Not ``exact``: each bound is searched only as far as the cell's protection interval (a
    feasible solution reaching it is the proof), so a finding's ``low`` and ``high`` may lie
    inside the true range; whether it is ``protected`` is the same. That is the release step's
    check: a fresh model, none of :func:`protect`'s incremental state.

    ``solutions``: feasible solutions :func:`protect` found (``Protected.solutions``). Each is
    verified on this fresh model (:meth:`_RegionAudit.start_from`) before it counts, and, not
    ``exact``, a bound one of them takes as far as its interval needs is not searched again;
    the others are, as without. The same for its proofs (``Solutions.proofs``), each a
    solution using one withheld row's own hypothetical types, believed for that row's bound
    only if this model makes those types for the row (:meth:`_RegionAudit.proven`). A feasible
    solution is a proof wherever it came from, so the check depends on :func:`protect` for no
    answer, only for where it starts. (Measured once, the large year's antwerp: the check from
    41 to 16 s with the proofs, no programme left to solve there, the same verdicts.)

    ``processes``: as for :func:`protect`.
    """
    check_k(k)
    floors = floors or {}
    if moved := differing(population.period, published, earlier, k, _groups(population)):
        # (A difference of two published versions of a cell is no withheld count to audit.)
        raise AuditFailed(
            f"{next(iter(moved.values()))}: the release publishes a region a revision may not "
            "revise; this is a fault of disclosure control, please report it"
        )
    plans = _plans(population, published, withheld, earlier, floors, laws)
    # A region is not audited again only where this release publishes there just what the
    # latest version did: its counts, and quartiles saying as much of their sizes.
    carried = _carried(population, earlier, k, laws).as_published(published, floors)
    plans, _ = _without_carried(plans, carried)
    work = partial(_audit_part, k, exact, solutions or {})
    findings = [
        finding for found in _each_part(plans, work, progress, processes) for finding in found
    ]
    return tuple(sorted(findings, key=_order))


def _audit_part(
    k: int, exact: bool, solutions: Mapping[tuple[str, ...], Solutions], part: _RegionAudit
) -> list[AuditedCell]:
    """The findings of every withheld row of one part (:func:`audit`)."""
    if part.regions in solutions:
        part.start_from(solutions[part.regions])
    found = []
    for r, row in enumerate(part.rows):
        if row.published or row.floor is not None:
            continue
        finding = _audited(part, r, k, exact)
        if not finding.protected and (
            # Narrowed before this release (``settle``): searched again to the cut interval.
            (finding.low > finding.needed_low + 1e-6 and part.settle(r, False, k))
            | (finding.high < finding.needed_high - 1e-6 and part.settle(r, True, k))
        ):
            finding = _audited(part, r, k, exact)
        found.append(finding)
    part.forget()
    return found


def _audited(part: _RegionAudit, r: int, k: int, exact: bool) -> AuditedCell:
    """Withheld row ``r``'s finding: its range, exact or searched as far as its interval."""
    low, high = part.needed(r, k) if not exact else (None, None)
    return _finding(part, r, _extreme(part, r, False, low), _extreme(part, r, True, high), k)


def _extreme(part: _RegionAudit, r: int, maximise: bool, enough: float | None = None) -> float:
    """The optimum of row ``r``'s range in the model (or, with ``enough``, a value at least as
    far as that, see :meth:`_RegionAudit.bound`): decided without a programme where that is
    exact (:meth:`_RegionAudit.freely_moves`), else by the programme: with the rarest
    hypothetical types, then — where those are capped and the answer is to be exact, or falls
    short — with every one of them (the capped set can only narrow it)."""
    if part.freely_moves(r, maximise):
        return _FREE if maximise else 0.0
    if enough is not None:
        # A feasible solution of an earlier programme took it this far already: the model
        # never changes here, so that solution stands.
        reached = float(part.highest[r] if maximise else part.lowest[r])
        if reached >= enough - 1e-6 if maximise else reached <= enough + 1e-6:
            return reached
        # Or a proof protect() found with the row's own hypothetical types, verified here.
        proven = part.proven(r, maximise, enough)
        if proven is not None:
            return proven
    found = part.bound(r, maximise, enough).value
    if part.capped(r) and (
        enough is None or (found < enough - 1e-6 if maximise else found > enough + 1e-6)
    ):
        # The capped types may narrow it (exact, or about to fail): the model itself decides.
        found = part.bound(r, maximise, enough, whole=True).value
    return found


#: Told how many of a model's parts (regions) have been audited, and of how many.
Progress = Callable[[int, int], None]

#: From this many atoms in all (the medium year's six regions have 4,212, the large year's
#: first region alone 6,370), the parts are audited in processes of their own, not threads:
#: starting one (importing numpy, SciPy and HiGHS) takes a second or two, which a small release
#: would mostly spend waiting. In threads, the medium year's `protect()` took 121.5 s against
#: 92.2 s in two processes, the same cells withheld (2026-12-07, Intel Xeon 2-core VM): most
#: of a part's time is Python (making unit types, the bookkeeping between programmes), which
#: runs one thread at a time.
PROCESSES_FROM = 2_500

_T_found = TypeVar("_T_found")


def _each_part(
    plans: Sequence[_PartPlan],
    work: Callable[[_RegionAudit], _T_found],
    progress: Progress | None = None,
    processes: int | None = None,
) -> Iterator[_T_found]:
    """``work`` on every part, in the parts' order, each part built where it is worked on.
    The parts share no row, so each is audited on its own.

    On as many cores as there are (or ``processes``, at most; one: here, one part after
    another), and parts: in processes of their own from
    :data:`PROCESSES_FROM` atoms, so that each part's Python (the types it generates, the
    bookkeeping between programmes) runs beside another's — in threads, only HiGHS's solving
    did, without Python's interpreter lock, and a release of the large workload kept 1.5 of
    2 cores busy. ``work`` and the plans are then pickled, so ``work`` is a module's
    function (a :func:`functools.partial` of one). A part that fails fails the whole call, as
    here: its exception is raised in the caller (a process that dies, as
    ``BrokenProcessPool``) and nothing more is returned; the parts not yet handed to a worker
    are not started, those already running (and in processes, one queued) run to their end
    first. ``progress`` is told after each part, in the parts' order."""
    workers = min(len(plans), processes or _cores())
    pool: Executor | None = None
    if workers > 1 and sum(plan.num_atoms for plan in plans) >= PROCESSES_FROM:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    elif workers > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="disclosure")
    each = partial(_built_and_worked, work)
    try:
        done = pool.map(each, plans) if pool is not None else map(each, plans)
        for n, found in enumerate(done, start=1):
            if progress is not None:
                progress(n, len(plans))
            yield found
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _built_and_worked(work: Callable[[_RegionAudit], _T_found], plan: _PartPlan) -> _T_found:
    return work(plan.build())


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        return os.cpu_count() or 1


def _order(finding: AuditedCell) -> tuple[int, CellKey]:
    return (-1 if finding.release is None else finding.release, finding.key)
