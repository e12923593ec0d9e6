"""The audit's hypothetical unit types worked out one type at a time, in the interpreter: how
``_RegionAudit`` made them before it made them as the columns of sparse matrices, many atoms
at once (``_hypothetical_types``, ``_mended``). Kept here as the reference those must equal,
type for type and in the same order: the programme, and so every bound and dual the release
decides by, must not depend on how the types are worked out.

Each function reads the model's structure only (its rows, atoms, laws, holders), never the
matrices the model makes its types from."""

from collections.abc import Sequence

from projections.statistics.disclosure import (
    _COMPLETION_STEPS,
    _HYPOTHETICAL_TYPES,
    _Kind,
    _RegionAudit,
    _versions_of_a_period,
)
from projections.statistics.model import ALL_SECTORS, SIZE_PREFIX, CellKey, Period, same_units


def hypothetical(model: _RegionAudit, start: int, whole: bool = False) -> list[_Kind]:
    """``model._hypothetical(start, whole)``, one type at a time."""
    twins = model._twins_of(start)
    cap = None if whole else _HYPOTHETICAL_TYPES
    lowered: list[_Kind] = []
    for c in _rarest_first(model, twins, whole):
        drop = dropped(model, c, twins)
        kept = tuple((r, a) for r, a in model._atom(c) if r not in drop)
        if kept:
            lowered.append(kept)
        if len(lowered) == cap:
            break
    bases = {twin: model._base(twin) for twin in twins}
    raised: list[_Kind] = []
    for c in _rarest_first(model, [b for t, b in bases.items() if b != t], whole):
        counted = dict(model._atom(c))
        lift: set[int] = set()
        for twin, base in bases.items():
            if base != twin and base in counted:
                for alike in model._alike(twin, twins):
                    lift |= model._holders(alike) | _own_sector(model, alike, c)
        for h in lift:
            counted[h] = max(counted.get(h, 0.0), 1.0)
        raised.append(tuple(sorted(counted.items())))
        if len(raised) == cap:
            break
    moved: list[_Kind] = []
    swapped: set[tuple[Period | None, CellKey]] = set()
    for p in model._partners(twins):
        cell = (model.rows[p].period, same_units(model.rows[p].key))
        if cell in swapped:
            continue
        swapped.add(cell)
        partner = model._twins[cell]
        held: set[int] = set().union(*(model._holders(q) for q in partner))
        moved.append(tuple((h, 1.0) for h in sorted(held)))
        here, there = model.rows[start].key.sector, model.rows[p].key.sector
        if there == here:
            moved += _swapped(model, twins, partner, whole) + _swapped(model, partner, twins, whole)
        elif ALL_SECTORS not in (here, there):
            moved += _resectored(model, partner, here, whole)
            moved += _resectored(model, twins, there, whole)
    completed = [completion(model, kind) for kind in [*raised, *model._alone(twins), *moved]]
    before = len(raised) + len(model._alone(twins))
    return completed[:before] + lowered + completed[before:]


def completion(model: _RegionAudit, kind: _Kind) -> _Kind:
    """``kind`` made to keep the laws (``model._complete_all([kind])``), row by row."""
    vector = dict(kind)
    values = model._law_values(vector.items())
    equal, sector_of = model._equal, [row.key.sector for row in model.rows]
    own = {sector_of[r] for r in vector}
    own.discard(ALL_SECTORS)
    for _ in range(_COMPLETION_STEPS * _versions_of_a_period(model.rows)):
        broken = min(
            (law for law, v in values.items() if (abs(v) > 1e-9 if equal[law] else v < -1e-9)),
            default=None,
        )
        if broken is None:
            return tuple(sorted(vector.items()))
        short = values[broken]
        allowed = own | {ALL_SECTORS}
        mends = [
            r
            for r, c in model._law_coefs[broken].items()
            if r not in vector
            and (c > 0 if short < 0 else c < 0)
            and (not own or sector_of[r] in allowed)
        ]
        if not mends:
            return kind
        chosen = min(mends, key=lambda r: (model.rows[r].release is not None, model.rows[r].key))
        for h in model._holders(chosen):
            was = vector.get(h, 0.0)
            if was < 1.0:
                vector[h] = 1.0
                if sector_of[h] != ALL_SECTORS:
                    own.add(sector_of[h])
                for law, c in model._in_laws.get(h, ()):
                    values[law] = values.get(law, 0.0) + c * (1.0 - was)
    return kind


def dropped(model: _RegionAudit, c: int, twins: Sequence[int]) -> set[int]:
    counted = dict(model._atom(c))
    drop: set[int] = set()
    for twin in twins:
        if twin in counted:
            drop |= model._lowering(twin)
    return model._closed(c, counted, drop)


def _rarest_first(model: _RegionAudit, rows: Sequence[int], whole: bool) -> list[int]:
    found: set[int] = set()
    for r in rows:
        found.update(model.rows[r].cols.tolist() if whole else model._rarest_in(r))
    return sorted(found, key=lambda c: int(model._rarity[c]))


def _own_sector(model: _RegionAudit, start: int, c: int) -> frozenset[int]:
    row = model.rows[start]
    if row.key.sector != ALL_SECTORS:
        return frozenset()
    sector = next(
        (
            model.rows[r].key.sector
            for r, _ in model._atom(c)
            if model.rows[r].release == row.release and model.rows[r].key.sector != ALL_SECTORS
        ),
        None,
    )
    if sector is None:
        return frozenset()
    j = model._in_sector(start, sector)
    return model._holders(j) if j is not None else frozenset()


def _swapped(
    model: _RegionAudit, into: Sequence[int], out_of: Sequence[int], whole: bool
) -> list[_Kind]:
    atoms = _rarest_first(model, out_of, whole)
    found = []
    for c in atoms if whole else atoms[:_HYPOTHETICAL_TYPES]:
        counted = dict(model._atom(c))
        drop: set[int] = set()
        lift: set[int] = set()
        for p in out_of:
            if p in counted:
                drop |= model._lowering(p)
                for t in model._alike(p, into):
                    lift |= model._holders(t) | _own_sector(model, t, c)
        if not lift:
            continue
        moved = {r: a for r, a in counted.items() if r not in drop}
        for h in lift:
            moved[h] = max(moved.get(h, 0.0), 1.0)
        found.append(tuple(sorted(moved.items())))
    return found


def _resectored(
    model: _RegionAudit, out_of: Sequence[int], sector: str, whole: bool
) -> list[_Kind]:
    atoms = _rarest_first(model, out_of, whole)
    found = []
    for c in atoms if whole else atoms[:_HYPOTHETICAL_TYPES]:
        moved: dict[int, float] = {}
        for r, a in model._atom(c):
            row = model.rows[r]
            if row.key.sector != ALL_SECTORS:
                j = model._in_sector(r, sector)
                if j is None:
                    if row.key.category.startswith(SIZE_PREFIX):
                        continue
                    break
                r = j
            moved[r] = moved.get(r, 0.0) + a
        else:
            found.append(tuple(sorted(moved.items())))
    return found
