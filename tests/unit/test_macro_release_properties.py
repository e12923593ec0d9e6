"""Whatever the inputs, a macro release publishes no count below its k and leaves every count it
withheld open over its protection interval, checked here by a second oracle: the ranges a
reader can narrow a cell to under "the ``*`` cell is the sum of its sectors", worked out by
hand instead of by linear programming."""

import math
from collections.abc import Callable

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.statistics.document import CellDocument, ReleaseDocument
from projections.statistics.merge import merge
from projections.statistics.model import protection_interval
from tests.unit.statistics_documents import COMPUTED_AT, count, release

SECTORS = ("youth", "disability", "first_line", "mental_health")


@st.composite
def regions(draw: st.DrawFn, deployment: str, k: int) -> dict[str, list[CellDocument]]:
    """A deployment's referrals in one or two regions, its own k applied (withheld below it)."""
    by_region: dict[str, list[CellDocument]] = {}
    for region in range(draw(st.integers(1, 2))):
        name = f"{deployment}-{region}"
        cells = by_region[name] = []
        sectors = SECTORS[: draw(st.integers(1, len(SECTORS)))]
        values = [draw(st.integers(0, 60)) for _ in sectors]
        for sector, value in [*zip(sectors, values, strict=True), ("*", sum(values))]:
            cells.append(count(name, sector, "referrals", value if value >= k else None, "below_k"))
    return by_region


def _range(
    cell: CellDocument, published: dict[tuple[str, str], float | None]
) -> tuple[float, float]:
    """What a reader of the published cells knows of a withheld ``cell``."""
    parts = {s: v for (region, s), v in published.items() if region == cell.region and s != "*"}
    total = published[(cell.region, "*")]
    unknown = [s for s, v in parts.items() if v is None]
    known = sum(v for v in parts.values() if v is not None)
    if total is not None:
        return (total - known, total - known) if len(unknown) == 1 else (0, total - known)
    if cell.sector == "*":
        return (known, known) if not unknown else (known, math.inf)
    return (0, math.inf)


@settings(max_examples=60, deadline=None)
@given(
    k_west=st.integers(5, 12),
    k_east=st.integers(5, 20),
    data=st.data(),
)
def test_a_macro_release_narrows_no_count_it_withheld_below_its_interval(
    k_west: int, k_east: int, data: st.DataObject
) -> None:
    inputs = [
        release("west", data.draw(regions("west", k_west)), k=k_west),
        release("east", data.draw(regions("east", k_east)), k=k_east),
    ]
    _assert_open(inputs, lambda c: (c.region, c.sector), _range)


def _assert_open(
    inputs: list[ReleaseDocument],
    key: Callable[[CellDocument], tuple[str, str]],
    reader: Callable[[CellDocument, dict[tuple[str, str], float | None]], tuple[float, float]],
) -> None:
    """Merge ``inputs``: no count published below the merged k, and every count the merge
    withheld again open over its interval to ``reader`` (cells by ``key``)."""
    original = {key(c): c.value for document in inputs for c in document.tables[0].cells}
    merged = merge(inputs, deployment="forum", number=1, computed_at=COMPUTED_AT)
    k = max(document.k for document in inputs)
    (table,) = merged.tables
    published = {key(c): c.value for c in table.cells}
    for cell in table.cells:
        if cell.value is not None:
            assert cell.value >= k
            continue
        value = original[key(cell)]
        if value is None:
            continue  # withheld by its deployment, whose own audit answers for it
        low, high = reader(cell, published)
        needed_low, needed_high = protection_interval(round(value), k)
        assert low <= needed_low + 1e-6, (cell, low, needed_low)
        assert high >= needed_high - 1e-6, (cell, high, needed_high)


#: A consultation's one involvement of the client: the parts sum to ``consultations``.
INVOLVEMENTS = ("client:consulted_beforehand", "client:not_involved", "client:present")


@st.composite
def consultations(draw: st.DrawFn, deployment: str, k: int) -> dict[str, list[CellDocument]]:
    """A deployment's consultations and the client's involvement in them, in one or two
    regions, withheld below its own k (whose audit is its own: only what the merge withholds
    again is checked)."""
    by_region: dict[str, list[CellDocument]] = {}
    for region in range(draw(st.integers(1, 2))):
        name = f"{deployment}-{region}"
        parts = [draw(st.integers(0, 40)) for _ in INVOLVEMENTS]
        values = [*zip(INVOLVEMENTS, parts, strict=True), ("consultations", sum(parts))]
        by_region[name] = [
            count(name, "*", category, value if value >= k else None, "below_k")
            for category, value in values
        ]
    return by_region


def _partition_range(
    cell: CellDocument, published: dict[tuple[str, str], float | None]
) -> tuple[float, float]:
    """What a reader of the published cells knows of a withheld one, by "the parts sum to
    the whole", worked out by hand."""
    region, category = cell.region, cell.category
    whole = published[(region, "consultations")]
    parts = {c: published[(region, c)] for c in INVOLVEMENTS}
    known = sum(v for v in parts.values() if v is not None)
    unknown = [c for c, v in parts.items() if v is None]
    if category == "consultations":
        return (known, known) if not unknown else (known, math.inf)
    if whole is None:
        return (0, math.inf)
    return (whole - known, whole - known) if len(unknown) == 1 else (0, whole - known)


@settings(max_examples=60, deadline=None)
@given(k_west=st.integers(5, 12), k_east=st.integers(5, 20), data=st.data())
def test_a_macro_release_keeps_a_partition_from_narrowing_what_it_withheld(
    k_west: int, k_east: int, data: st.DataObject
) -> None:
    def participation(deployment: str, k: int) -> ReleaseDocument:
        regions = data.draw(consultations(deployment, k))
        document = release(deployment, regions, k=k)
        (table,) = document.tables
        return msgspec.structs.replace(
            document, tables=[msgspec.structs.replace(table, name="participation")]
        )

    inputs = [participation("west", k_west), participation("east", k_east)]
    _assert_open(inputs, lambda c: (c.region, c.category), _partition_range)
