"""A release's per-unit contributions as stored: packed as arrays, read back the same, and the
first stored form still read (stored releases are a contract: a release made before is audited
with every later one of its year). The audit gives the same answer from what the store reads
back as from the contributions it was given."""

import zlib

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from projections.statistics.disclosure import AuditFailed, protect
from projections.statistics.model import (
    CellKey,
    Contributions,
    CountCell,
    PackedContributions,
    Period,
    Population,
    PublishedVersion,
    QuantileCell,
    RateCell,
)
from projections.statistics.store import _pack_contributions, _unpack_contributions
from tests.unit.test_disclosure_properties import K, releases

#: Drawing a release takes a while; the examples are fixed (``derandomize``).
SLOW_OK = [HealthCheck.too_slow]
YEAR = Period(2025)
FLOW = CellKey("flow", "r0", "*", "referrals")
BLOCKED = CellKey("flow", "r0", "*", "blocked")
WAITING = CellKey("blocks", "r0", "*", "reason:waiting_list")
CONTRIBUTIONS = {
    "u1": {FLOW: 1, BLOCKED: 1, WAITING: 2},
    "u2": {FLOW: 1, BLOCKED: 0},
    "u3": {},
    "u0": {WAITING: 1, FLOW: 3},
}


def nonzero(contributions: Contributions) -> dict[str, dict[CellKey, int]]:
    return {u: {k: a for k, a in cells.items() if a} for u, cells in contributions.items()}


def first_form(contributions: Contributions) -> bytes:
    """The form releases were stored in before the arrays (``store.py`` until December 2026),
    written as it was: zlib of the cell keys (msgpack, length-prefixed), then a msgpack map of
    unit → [(cell index, amount), …], zero amounts left out."""
    index: dict[CellKey, int] = {}
    units: dict[str, list[tuple[int, int]]] = {}
    for unit, cells in contributions.items():
        units[unit] = [
            (index.setdefault(key, len(index)), amount) for key, amount in cells.items() if amount
        ]
    keys = msgspec.msgpack.encode([tuple(k) for k in index])
    body = msgspec.msgpack.encode(units)
    return zlib.compress(len(keys).to_bytes(8, "big") + keys + body, 6)


def test_contributions_are_read_back_as_saved_in_the_units_order() -> None:
    read = _unpack_contributions(_pack_contributions(CONTRIBUTIONS))
    assert isinstance(read, PackedContributions)
    assert list(read) == ["u1", "u2", "u3", "u0"]
    assert {u: dict(c) for u, c in read.items()} == nonzero(CONTRIBUTIONS)
    assert read["u0"] == {WAITING: 1, FLOW: 3}
    assert "u3" in read
    assert "u9" not in read
    assert len(read) == 4


def test_a_release_stored_in_the_first_form_is_still_read() -> None:
    blob = first_form(CONTRIBUTIONS)
    assert not blob.startswith(b"RDC2")
    read = _unpack_contributions(blob)
    assert list(read) == ["u1", "u2", "u3", "u0"]
    assert {u: dict(c) for u, c in read.items()} == nonzero(CONTRIBUTIONS)
    assert _unpack_contributions(first_form({})) == {}


def test_regions_joined_read_as_one_mapping_like_dict_update() -> None:
    other = {"v1": {CellKey("flow", "r1", "*", "referrals"): 1}}
    joined = PackedContributions.joined(
        [_unpack_contributions(_pack_contributions(c)) for c in (CONTRIBUTIONS, other)]
    )
    assert list(joined) == [*CONTRIBUTIONS, "v1"]
    assert {u: dict(c) for u, c in joined.items()} == nonzero({**CONTRIBUTIONS, **other})
    twice = PackedContributions.joined(
        [PackedContributions.of(CONTRIBUTIONS), PackedContributions.of({"u2": {FLOW: 5}})]
    )
    expected = {**nonzero(CONTRIBUTIONS), "u2": {FLOW: 5}}
    assert {u: {k: a for k, a in c.items() if a} for u, c in twice.items()} == expected


def test_contributions_outside_regions_leave_out_their_units_and_cells() -> None:
    """A revision that holds regions back audits and stores the others' units alone: a unit
    counting in a held region (by an amount that is not zero, as the audit's parts are tied)
    is left out, and so is every cell of a held region, a zero amount there included."""
    other = CellKey("flow", "r1", "*", "referrals")
    contributions = {
        **CONTRIBUTIONS,
        "u4": {other: 2},
        "u5": {other: 1, FLOW: 0},  # (counts in r1 only)
        "u6": {other: 1, FLOW: 1},  # (ties r0 and r1)
    }
    packed = PackedContributions.of(contributions)

    outside = packed.outside({"r0"})

    assert nonzero(outside) == {"u3": {}, "u4": {other: 2}, "u5": {other: 1}}
    assert outside.cell_keys == [other]
    assert dict(outside["u5"]) == {other: 1}
    assert nonzero(packed.outside({"r1"})) == nonzero(CONTRIBUTIONS)
    assert other not in packed.outside({"r1"}).cell_keys
    assert packed.outside(set()) is packed


def test_contributions_say_the_same_whatever_their_order_and_zero_amounts() -> None:
    """What decides that a period counts as its latest release did (no revision computed)."""
    packed = PackedContributions.of(CONTRIBUTIONS)
    reordered = {
        "u0": {FLOW: 3, WAITING: 1},
        "u1": {WAITING: 2, FLOW: 1, BLOCKED: 1},
        "u2": {FLOW: 1},  # (its zero for BLOCKED left out, and u3, counting in nothing)
    }
    stored = _unpack_contributions(_pack_contributions(reordered))
    assert packed.says_the_same_as(stored)
    assert stored.says_the_same_as(packed)
    differing = [
        {**reordered, "u2": {FLOW: 2}},  # an amount
        {**reordered, "u2": {BLOCKED: 1}},  # a cell
        {**reordered, "u9": {FLOW: 1}},  # one more unit
        {u: c for u, c in reordered.items() if u != "u0"},  # one unit fewer
        {**{u: c for u, c in reordered.items() if u != "u2"}, "u7": {FLOW: 1}},  # another id
    ]
    for other in differing:
        assert not packed.says_the_same_as(PackedContributions.of(other)), other
        assert not PackedContributions.of(other).says_the_same_as(packed), other


def test_a_populations_digest_is_its_figures_whatever_their_order() -> None:
    """What decides that a period is computed from what a release was made from, or what a
    computation found nothing new in (``releases.Releases._said_before``): the digest keeps
    every unit's amounts, the cells' shape and the durations, and nothing of their order."""
    counts = {
        FLOW: CountCell(FLOW),
        BLOCKED: CountCell(BLOCKED),
        WAITING: CountCell(WAITING, BLOCKED),
    }
    days = CellKey("flow", "r0", "*", "days_to_acceptance")
    risk = CellKey("flow", "r0", "*", "blocked_share")

    def population(
        contributions: Contributions,
        cells: dict[CellKey, CountCell] = counts,
        values: tuple[int, ...] = (3, 9, 4),
        period: Period = YEAR,
        numerator: CellKey = BLOCKED,
    ) -> Population:
        return Population(
            period,
            contributions,
            cells,
            {days: QuantileCell(days, values)},
            {risk: RateCell(risk, numerator, FLOW)},
        )

    digest = population(CONTRIBUTIONS).digest()
    reordered = {
        "u2": {FLOW: 1},
        "u1": {BLOCKED: 1, WAITING: 2, FLOW: 1},
        "u0": {FLOW: 3, WAITING: 1},
    }
    stored = _unpack_contributions(_pack_contributions(reordered))
    assert population(stored, dict(reversed(counts.items())), (9, 4, 3)).digest() == digest
    differing = [
        population({**reordered, "u2": {FLOW: 2}}),  # an amount
        population({**reordered, "u9": {FLOW: 1}}),  # one more unit
        population({**{u: c for u, c in reordered.items() if u != "u2"}, "u7": {FLOW: 1}}),
        population(reordered, {**counts, WAITING: CountCell(WAITING)}),  # a group
        population(reordered, {FLOW: counts[FLOW], BLOCKED: counts[BLOCKED]}),  # a cell fewer
        population(reordered, values=(3, 9, 5)),  # a duration
        population(reordered, period=Period(2025, 4)),
        population(reordered, numerator=WAITING),  # a rate's numerator
    ]
    assert len({p.digest() for p in differing} | {digest}) == len(differing) + 1


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW_OK, derandomize=True)
@given(releases())
def test_the_audit_decides_the_same_from_contributions_read_back_from_the_store(
    release: tuple[Population, list[Population]],
) -> None:
    """Earlier versions as the store reads them back (packed arrays, either stored form) give
    the very cells and findings their contributions as given do."""
    population, versions = release
    given_versions: list[PublishedVersion] = []
    for number, version in enumerate(versions, start=1):
        try:
            made = protect(version, K, given_versions)
        except AuditFailed:
            return
        shown = {
            c.key: int(c.value) for c in made.cells if c.kind == "count" and c.value is not None
        }
        given_versions.append(
            PublishedVersion(number, version.period, nonzero(version.contributions), shown)
        )
    outcomes = []
    for read in (
        lambda c: nonzero(c),
        lambda c: _unpack_contributions(_pack_contributions(c)),
        lambda c: _unpack_contributions(first_form(c)),
    ):
        stored = [
            PublishedVersion(v.number, v.period, read(v.contributions), v.published)
            for v in given_versions
        ]
        try:
            outcomes.append(protect(population, K, stored))
        except AuditFailed as failed:
            outcomes.append(str(failed))
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]


#: ``CONTRIBUTIONS`` as the first form stored them: written by ``store.py`` at 8e872e1.
FIRST_FORM_BLOB = bytes.fromhex(
    "789c63600003afc95396a4e5e4972f2a3258a8b5b228352db5a82831a718497079524e7e72766aca946560"
    "4631587073516a62717e9e5579626649665e7a7c4e667149cba252c3c99318182731324e62625a546a3411"
    "c859546a3c6151a9c1a4494c8c931898015f682c76"
)
#: ``CONTRIBUTIONS`` in the packed form (``RDC2``), as written when it was introduced.
PACKED_BLOB = bytes.fromhex(
    "52444332789c63600083884993a72c49cbc92f5f5464b0506b65516a5a6a5151624e3192e0f2a49cfce4ec"
    "d49429cbc08c62b0e0e6a2d4c4e2fc3cabf2c4cc92ccbcf4f89ccce292298b4a0d17951a2d2a355e546ac0"
    "0c349c116207031394664462238bc1c4616c905e00ee66277a"
)


def test_the_stored_forms_are_pinned_byte_for_byte() -> None:
    """Stored releases are a contract: a blob written by an earlier version reads back as it
    was written, and the packed form is written as it was introduced (a change of layout, of
    byte order, of width, fails here, not in next year's audit)."""
    assert {u: dict(c) for u, c in _unpack_contributions(FIRST_FORM_BLOB).items()} == nonzero(
        CONTRIBUTIONS
    )
    assert {u: dict(c) for u, c in _unpack_contributions(PACKED_BLOB).items()} == nonzero(
        CONTRIBUTIONS
    )
    assert _pack_contributions(CONTRIBUTIONS) == PACKED_BLOB


def test_an_amount_beyond_32_bits_is_refused_not_wrapped() -> None:
    with pytest.raises(ValueError, match="32 bits"):
        _pack_contributions({"u1": {FLOW: 2**31}})
    with pytest.raises(ValueError, match="32 bits"):
        _pack_contributions({"u1": {FLOW: -(2**31) - 1}})


def test_damaged_stored_contributions_are_refused() -> None:
    raw = zlib.decompress(PACKED_BLOB[4:])
    for damaged in (raw[:-4], raw + b"\x00\x00\x00\x00" * 2):
        with pytest.raises(ValueError, match="damaged"):
            _unpack_contributions(b"RDC2" + zlib.compress(damaged))
