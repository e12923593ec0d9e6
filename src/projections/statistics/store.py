"""The releases, as published: a store of record, written once per release and never changed.

Learning networks read releases, never the read models (issue #12, point 3): what they can read
changes only when a new release is written. A release is saved in one transaction — its
description, its tables' cells per region, and (private) its units' contributions — so a
release is there whole or not at all. Numbers are given under the store's writer lock, so the
scheduler inside a running service and ``rodedraad statistics release`` beside it never give
one number twice.

The contributions are kept for one reason: a later release of the same year (a
revision, a later quarter of the year) is audited together with every earlier published
version, which needs each version's cells as sums over the same units. No query of the API
reads them.
"""

import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from application.sql import Database, Tx
from projections.statistics.model import (
    CellKey,
    Contributions,
    PackedContributions,
    Period,
    PublishedVersion,
    ReleasedCell,
    size_floors,
)

_RELEASES = "rodedraad_statistics_releases"
_TABLES = "rodedraad_statistics_release_tables"
_UNITS = "rodedraad_statistics_release_units"
#: Per release, the digests of inputs known to give it (``releases.release_inputs``): the one
#: it was made from, and those a later computation found to say nothing new. Never served.
_INPUTS = "rodedraad_statistics_release_inputs"


class CellRow(msgspec.Struct, frozen=True, omit_defaults=True):
    """One released number as stored and served: where it sits, and its value or why not."""

    sector: str
    category: str
    kind: Literal["count", "quantile", "rate"]
    value: float | None
    withheld: str | None = None
    quantile: float | None = None
    #: A count's group (a part of it), a quantile's group, a rate's denominator: a category.
    group: str | None = None
    #: A rate's numerator.
    numerator: str | None = None


class TableSummary(msgspec.Struct, frozen=True):
    """What a table of a release holds, and what disclosure control did to it."""

    name: str
    cells: int
    published: int
    withheld_by_rule: dict[str, int]
    #: The same per region: kept, never served (per region, a tally could name the rule of a
    #: single cell), for a revision that holds a region back to count its cells under the
    #: rules that withheld them (``releases._summaries``). None in a release saved before it.
    withheld_by_rule_in: dict[str, dict[str, int]] | None = None

    @property
    def published_share(self) -> float:
        return round(self.published / self.cells, 4) if self.cells else 0.0


class AuditSummary(msgspec.Struct, frozen=True):
    """The disclosure audit the release passed."""

    withheld_counts_audited: int
    earlier_versions: list[int]
    #: The narrowest a withheld count could be pinned, as a share of the interval it had to keep
    #: open (≥ 1.0 means every interval was kept).
    narrowest_margin: float | None
    #: Withheld counts (of this release and earlier versions) whose interval was cut to what
    #: earlier releases made without the laws already left open (rule set 3 after rule set 2,
    #: ``disclosure._RegionAudit.settle``). None in a release saved before this field: not
    #: recorded (0 for every one of rule sets 1 and 2; one of rule set 3 may have cut some).
    narrowed_before: int | None = None
    #: The regions a revision publishes as the release it revises did, none of their units
    #: counting otherwise since (late facts fell elsewhere): the same numbers, which tell
    #: nothing new, so in no programme of this audit (``disclosure._carried``). None in a
    #: first release, and in one saved before this field.
    said_again: list[str] | None = None
    #: The regions a revision holds at the figures of the release it revises: late facts
    #: there would let earlier releases alone narrow a withheld cell past its interval,
    #: whatever the revision withheld, so their cells are that release's, unchanged, and the
    #: late facts wait. None in a first release, and in one saved before this field.
    held_back: list[str] | None = None


class ReleaseDescription(msgspec.Struct, frozen=True):
    """Everything a release names besides its cells."""

    number: int
    period: str
    revises: int | None
    computed_at: datetime
    log_position: int
    rule_set: str
    k: int
    deployment: str
    deadline_policies: dict[str, str]
    regions: list[str]
    tables: list[TableSummary]
    audit: AuditSummary


class ReleaseConflict(Exception):
    """Another process saved a release meanwhile: one with this number, one of a period the
    audit was to hold (``audited_with``) that it did not see, or one of an overlapping period
    (``never_beside``). Nothing was saved; compute again (and check the grid again)."""


_DESCRIPTION = msgspec.json.Decoder(ReleaseDescription)
_CELLS = msgspec.json.Decoder(list[CellRow])
_ENCODER = msgspec.json.Encoder()
_UNIT_CELLS = msgspec.msgpack.Decoder(dict[str, list[tuple[int, int]]])
_KEYS = msgspec.msgpack.Decoder(list[tuple[str, str, str, str]])
_HEAD = msgspec.msgpack.Decoder(tuple[list[tuple[str, str, str, str]], list[str]])

#: The stored form of a region's contributions since they are packed as arrays; a blob without
#: it is the first form (``_unpack_contributions_v1``), which stays readable: stored releases
#: are a contract, and a release made before is audited with every later one of its year.
_PACKED = b"RDC2"
#: Little-endian 32 bits (numpy's ``"<i4"``), and its range: numpy is loaded by the first
#: packing or unpacking, not by reading a release (the API; issue #22, its memory).
_INT32 = "<i4"
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
# (No first-form blob starts with the marker: a zlib stream's first byte has 8 in its low four
# bits, and "R" is 0x52.)


def _pack_contributions(contributions: Contributions) -> bytes:
    """Per region, compact: the cell keys and the unit ids once, then per unit its number of
    cells, and every (cell index, amount) pair as little-endian 32-bit arrays (zero amounts
    left out). Read back as arrays, without a dict per unit (``PackedContributions``)."""
    import numpy as np

    packed = PackedContributions.of(contributions)
    if (
        packed.amounts.size
        and not _INT32_MIN <= packed.amounts.min() <= packed.amounts.max() <= _INT32_MAX
    ):
        # Stored as 32 bits, an amount beyond them would wrap into another number without an
        # error, and the audit of every later release of its year would read that number.
        raise ValueError("a unit's contribution to a cell does not fit the stored 32 bits")
    nonzero = packed.amounts != 0
    cells = packed.cells[nonzero]
    unit_of = packed.entry_units()[nonzero]
    sizes = np.bincount(unit_of, minlength=len(packed.units))
    used, cells = np.unique(cells, return_inverse=True)
    keys = [tuple(packed.cell_keys[i]) for i in used.tolist()]
    head = msgspec.msgpack.encode((keys, packed.units))
    body = b"".join(
        array.astype(_INT32).tobytes() for array in (sizes, cells, packed.amounts[nonzero])
    )
    return _PACKED + zlib.compress(len(head).to_bytes(8, "big") + head + body, 6)


def _unpack_contributions(blob: bytes) -> PackedContributions:
    """A region's contributions as stored, in either form."""
    import numpy as np

    blob = bytes(blob)
    if not blob.startswith(_PACKED):
        return _unpack_contributions_v1(blob)
    raw = zlib.decompress(blob[len(_PACKED) :])
    size = int.from_bytes(raw[:8], "big")
    keys, units = _HEAD.decode(raw[8 : 8 + size])
    body = np.frombuffer(raw, dtype=_INT32, offset=8 + size)
    sizes = body[: len(units)]
    pairs = (body.size - len(units)) // 2
    if (
        len(sizes) != len(units)
        or (sizes < 0).any()
        or body.size != len(units) + 2 * int(sizes.sum())
    ):
        raise ValueError("stored contributions are damaged: their lengths do not add up")
    offsets = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return PackedContributions(
        units,
        [CellKey(*k) for k in keys],
        offsets,
        body[len(units) : len(units) + pairs].astype(np.int32),
        body[len(units) + pairs :].astype(np.int64),
    )


def _unpack_contributions_v1(blob: bytes) -> PackedContributions:
    """The first stored form: zlib of the cell keys (msgpack, length-prefixed), then a msgpack
    map of unit → [(cell index, amount), …]."""
    import numpy as np

    raw = zlib.decompress(blob)
    size = int.from_bytes(raw[:8], "big")
    keys = [CellKey(*k) for k in _KEYS.decode(raw[8 : 8 + size])]
    units = _UNIT_CELLS.decode(raw[8 + size :])
    offsets = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum([len(pairs) for pairs in units.values()], out=offsets[1:])
    flat = [pair for pairs in units.values() for pair in pairs]
    table = np.array(flat, dtype=np.int64).reshape(-1, 2)
    return PackedContributions(
        list(units), keys, offsets, table[:, 0].astype(np.int32), table[:, 1].copy()
    )


#: Rule sets whose releases' units have no quantile sizes in their contributions
#: (``model.quantile_size``): what their quartiles say of them is not in any audit.
_UNSIZED = frozenset({"rodedraad-statistics/1"})
#: The rule sets whose audit did not hold the laws (``laws.py``; ``PublishedVersion.laws``).
_WITHOUT_LAWS = frozenset({"rodedraad-statistics/1", "rodedraad-statistics/2"})

#: What a withheld count or quantile says in a release: one word, whatever the rule. Which rule
#: withheld a cell would narrow it: "below k" says it is under k, "all or none" that it is zero
#: or its group's value or within k of it — exactly what withholding it protects. Each table
#: tallies per rule how many cells each withheld, over every region of the release.
SUPPRESSED = "suppressed"
#: A share withheld because a part of it is: that much a reader sees anyway.
_OPEN_REASONS = frozenset({"rate_part_withheld"})


def public_reason(rule: str | None) -> str | None:
    """The reason a released cell shows for the rule that withheld it."""
    if rule is None or rule in _OPEN_REASONS:
        return rule
    return SUPPRESSED


def cell_rows(
    cells: Iterable[ReleasedCell],
    groups: Mapping[CellKey, CellKey | None],
    rates: Mapping[CellKey, tuple[CellKey, CellKey]] | None = None,
) -> Iterator[tuple[tuple[str, str], CellRow]]:
    """Each released cell as stored, under its (table, region): a count with its group's
    category, a rate with its numerator's and denominator's."""
    rates = rates or {}
    for cell in cells:
        group = groups.get(cell.key)
        numerator, denominator = rates.get(cell.key, (None, None))
        if denominator is not None:
            group = denominator
        yield (
            (cell.key.table, cell.key.region),
            CellRow(
                sector=cell.key.sector,
                category=cell.key.category,
                kind=cell.kind,
                value=cell.value,
                withheld=public_reason(cell.withheld),
                quantile=cell.quantile,
                group=group.category if group is not None else None,
                numerator=numerator.category if numerator is not None else None,
            ),
        )


class ReleaseStore:
    """Releases in ``rodedraad_statistics_*`` tables (``statistics.sqlite`` in embedded mode)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._db.transaction(write=False) as tx:
                return tx.fetchall(sql, params)

        return self._db.safely(run)

    def save(
        self,
        description: ReleaseDescription,
        tables: Mapping[tuple[str, str], Sequence[CellRow]],
        contributions: Mapping[str, Contributions],
        *,
        audited_with: Collection[str] = (),
        never_beside: Collection[str] = (),
        inputs: str | None = None,
    ) -> ReleaseDescription:
        """Write a release whole, under the number ``description`` names; that number must be
        the next one and ``description.revises`` the period's latest release; the releases of
        the periods ``audited_with`` exactly those its audit saw
        (``description.audit.earlier_versions``), and none of the periods ``never_beside``
        (the other grid's) saved. ``ReleaseConflict`` if another process saved one meanwhile:
        checked under the lock the save holds, so two processes cannot both pass. ``inputs``:
        the digest of what a later release computed from the same figures would read
        (``known_inputs``), kept with it."""
        with self._db.transaction() as tx:
            self._lock(tx)
            expected = self._next_number(tx)
            latest = tx.fetchall(
                f"SELECT max(number) FROM {_RELEASES} WHERE period = ?", (description.period,)
            )[0][0]
            if description.number != expected or description.revises != latest:
                raise ReleaseConflict(
                    f"another release of {description.period} or another number was saved meanwhile"
                )
            for periods, wanted in (
                (audited_with, set(description.audit.earlier_versions)),
                (never_beside, set()),
            ):
                if periods and self._numbers(tx, periods) != wanted:
                    raise ReleaseConflict(
                        f"a release of {', '.join(sorted(periods))} was saved meanwhile"
                    )
            tx.execute(
                f"INSERT INTO {_RELEASES} (number, period, revises, computed_at, "
                "log_position, description) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    description.number,
                    description.period,
                    description.revises,
                    description.computed_at
                    if tx.dialect == "postgres"
                    else description.computed_at.isoformat(),
                    description.log_position,
                    _ENCODER.encode(description),
                ),
            )
            tx.executemany(
                f"INSERT INTO {_TABLES} (number, table_name, region, cells) VALUES (?, ?, ?, ?)",
                [
                    (description.number, table, region, _ENCODER.encode(list(rows)))
                    for (table, region), rows in sorted(tables.items())
                ],
            )
            tx.executemany(
                f"INSERT INTO {_UNITS} (number, region, contributions) VALUES (?, ?, ?)",
                [
                    (description.number, region, _pack_contributions(units))
                    for region, units in sorted(contributions.items())
                ],
            )
            if inputs is not None:
                self._remember(tx, description.number, inputs, None)
        return description

    def known_inputs(self, number: int, inputs: str) -> str | None:
        """Whether release ``number`` is known to be what the ``inputs`` give: ``None`` if not,
        else what the computation that found so said (``""`` where nothing was said: the
        release was made from them)."""
        rows = self._read(
            f"SELECT said FROM {_INPUTS} WHERE number = ? AND inputs = ?", (number, inputs)
        )
        return None if not rows else (rows[0][0] or "")

    def remember_inputs(self, number: int, inputs: str, said: str) -> None:
        """Keep that computing from ``inputs`` said nothing new over release ``number``, and
        what it said (the operator's message, aggregates only)."""

        def run() -> None:
            with self._db.transaction() as tx:
                self._remember(tx, number, inputs, said)

        self._db.safely(run)

    @staticmethod
    def _remember(tx: Tx, number: int, inputs: str, said: str | None) -> None:
        tx.execute(
            f"INSERT INTO {_INPUTS} (number, inputs, said) VALUES (?, ?, ?) "
            "ON CONFLICT (number, inputs) DO NOTHING",
            (number, inputs, said),
        )

    @staticmethod
    def _numbers(tx: Tx, periods: Collection[str]) -> set[int]:
        marks = ", ".join("?" * len(periods))
        return {
            number
            for (number,) in tx.fetchall(
                f"SELECT number FROM {_RELEASES} WHERE period IN ({marks})", list(periods)
            )
        }

    @staticmethod
    def _lock(tx: Tx) -> None:
        """SQLite's ``BEGIN IMMEDIATE`` already holds the writer lock; PostgreSQL: the table's."""
        if tx.dialect == "postgres":
            tx.execute(f"LOCK TABLE {_RELEASES} IN SHARE ROW EXCLUSIVE MODE")

    @staticmethod
    def _next_number(tx: Tx) -> int:
        return int(tx.fetchall(f"SELECT coalesce(max(number), 0) + 1 FROM {_RELEASES}")[0][0])

    def next_number(self) -> int:
        return int(self._read(f"SELECT coalesce(max(number), 0) + 1 FROM {_RELEASES}")[0][0])

    def releases(self, period: Period | None = None) -> list[ReleaseDescription]:
        """Every release (of ``period``), newest first."""
        if period is None:
            rows = self._read(f"SELECT description FROM {_RELEASES} ORDER BY number DESC")
        else:
            rows = self._read(
                f"SELECT description FROM {_RELEASES} WHERE period = ? ORDER BY number DESC",
                (str(period),),
            )
        return [_DESCRIPTION.decode(bytes(row[0])) for row in rows]

    def release(self, number: int) -> ReleaseDescription | None:
        rows = self._read(f"SELECT description FROM {_RELEASES} WHERE number = ?", (number,))
        return _DESCRIPTION.decode(bytes(rows[0][0])) if rows else None

    def cells(
        self, number: int, table: str, regions: Sequence[str] | None = None
    ) -> dict[str, list[CellRow]]:
        """A table's cells of a release, per region (of ``regions`` only, when given)."""
        rows = self._read(
            f"SELECT region, cells FROM {_TABLES} WHERE number = ? AND table_name = ? "
            "ORDER BY region",
            (number, table),
        )
        wanted = None if regions is None else set(regions)
        return {
            region: _CELLS.decode(bytes(blob))
            for region, blob in rows
            if wanted is None or region in wanted
        }

    def contributions(self, number: int, regions: Sequence[str]) -> dict[str, PackedContributions]:
        """The units' contributions release ``number`` stored for each of ``regions``."""
        if not regions:
            return {}
        marks = ", ".join("?" * len(regions))
        return {
            region: _unpack_contributions(blob)
            for region, blob in self._read(
                f"SELECT region, contributions FROM {_UNITS} WHERE number = ? "
                f"AND region IN ({marks}) ORDER BY region",
                (number, *regions),
            )
        }

    def published_versions(self, periods: Iterable[Period]) -> list[PublishedVersion]:
        """Every release of these periods, with its units' contributions and its published
        counts: what a new release of the same year is audited against."""
        names = [str(p) for p in periods]
        marks = ", ".join("?" * len(names))
        found = self._read(
            f"SELECT number, period, description FROM {_RELEASES} WHERE period IN ({marks}) "
            "ORDER BY number",
            names,
        )
        versions = []
        for number, period, description in found:
            contributions = PackedContributions.joined(
                _unpack_contributions(blob)
                for (blob,) in self._read(
                    f"SELECT contributions FROM {_UNITS} WHERE number = ? ORDER BY region",
                    (number,),
                )
            )
            published: dict[CellKey, int] = {}
            withheld: set[CellKey] = set()
            quartiles: list[ReleasedCell] = []
            for table, region, blob in self._read(
                f"SELECT table_name, region, cells FROM {_TABLES} WHERE number = ?", (number,)
            ):
                for row in _CELLS.decode(bytes(blob)):
                    key = CellKey(table, region, row.sector, row.category)
                    if row.kind == "count" and row.value is not None:
                        published[key] = int(row.value)
                    elif row.kind == "count":
                        withheld.add(key)
                    elif row.kind == "quantile" and row.value is not None:
                        quartiles.append(
                            ReleasedCell(key, "quantile", row.value, None, row.quantile)
                        )
            said = _DESCRIPTION.decode(bytes(description))
            versions.append(
                PublishedVersion(
                    number=int(number),
                    period=Period.parse(period),
                    contributions=contributions,
                    published=published,
                    floors={} if said.rule_set in _UNSIZED else size_floors(quartiles, said.k),
                    laws=said.rule_set not in _WITHOUT_LAWS,
                    k=said.k,
                    withheld=frozenset(withheld),
                    quartiles={
                        (cell.key, cell.quantile): cell.value
                        for cell in quartiles
                        if cell.quantile is not None and cell.value is not None
                    },
                )
            )
        return versions

    def close(self) -> None:
        self._db.close()
