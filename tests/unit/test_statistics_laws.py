"""The laws the disclosure audit holds its hypothetical unit types to are true of every unit the
tables can count (issue #12, "The gap: …"): a law no real unit breaks is what a reader may use.

Units are generated as the events a trajectory records (each event's deadline facts and
statistics details made together, as ``facts_of`` and ``details_of`` make them from one event),
counted by the real tables in a year and its four quarters at one log position, and every law
``laws.Laws`` builds over those cells is checked on every unit's contributions.
"""

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.deadlines import DeadlinePolicy, Fact
from projections.statistics import tables
from projections.statistics.laws import Laws, RowId
from projections.statistics.model import CellKey, Period
from projections.statistics.units import (
    AgreementAccepted,
    AgreementDeclined,
    AgreementEnded,
    AgreementProposed,
    Blocked,
    Consulted,
    ContinuedFrom,
    Detail,
    EscalationLevelChanged,
    EscalationRaised,
    EscalationResolved,
    HandedOver,
    Referred,
    Signed,
    Unblocked,
    UnitRecord,
)
from tests.unit.test_statistics_tables import START_RULE

YEAR = Period(2026)
QUARTERS = tuple(Period(2026, q) for q in range(1, 5))
KINDS = {"org-a": "provider", "org-b": "school", "org-c": "gp", "org-d": "provider"}
ORGANISATIONS = (*KINDS, "org-unknown")
POLICY = DeadlinePolicy(rules=(START_RULE,), fingerprint="laws")
FIRST = date(2025, 10, 1)

days = st.integers(min_value=0, max_value=500)
events = st.one_of(
    st.tuples(st.just("accepted"), days),
    st.tuples(st.just("declined"), days),
    st.tuples(
        st.just("consultation"),
        days,
        st.sampled_from(("start", "three_month", "end", "ad_hoc")),
        st.sampled_from(tables.INVOLVEMENTS),
        st.lists(st.sampled_from(ORGANISATIONS), min_size=1, max_size=4),
        st.integers(min_value=1, max_value=7),
    ),
    st.tuples(st.just("signed"), days, st.sampled_from(tables.SIGNATORIES)),
    st.tuples(st.just("evaluated"), days),
    st.tuples(
        st.just("blocked"), days, st.lists(st.sampled_from(tables.REASONS), min_size=1, max_size=3)
    ),
    st.tuples(st.just("unblocked"), days),
    st.tuples(st.just("raised"), days, st.sampled_from(tables.LEVELS), st.integers(0, 2)),
    st.tuples(st.just("level"), days, st.sampled_from(tables.LEVELS), st.integers(0, 2)),
    st.tuples(st.just("resolved"), days, st.integers(0, 2)),
    st.tuples(st.just("handover"), days, st.booleans()),
    st.tuples(st.just("continued"), days),
    st.tuples(st.just("closed"), days, st.booleans()),
    st.tuples(st.just("follow_up"), days),
    st.tuples(
        st.just("proposed"),
        days,
        st.integers(0, 1),
        st.lists(st.sampled_from(ORGANISATIONS), min_size=1, max_size=3),
    ),
    *(
        st.tuples(st.just(what), days, st.integers(0, 1), st.sampled_from(ORGANISATIONS))
        for what in ("agreement", "agreement_declined")
    ),
    st.tuples(st.just("agreement_ended"), days, st.integers(0, 1)),
)


def recorded(event: tuple) -> tuple[list[Fact], list[Detail]]:  # type: ignore[type-arg]
    """What one event adds to the unit: its deadline facts and its statistics details."""
    what, offset, *rest = event
    on = FIRST + timedelta(days=offset)
    match what:
        case "accepted" | "declined" | "evaluated" | "follow_up":
            facts = [Fact(what, on)]
            if what == "evaluated":
                facts.append(Fact("evaluation_planned", on))
            return facts, []
        case "consultation":
            kind, involvement, organisations, parties = rest
            consulted = Consulted(
                on, kind, involvement, tuple(sorted(set(organisations))), parties, ("provider",)
            )
            return [Fact(f"consultation:{kind}", on)], [consulted]
        case "signed":
            return [Fact("plan_signed", on), Fact("evaluation_planned", on)], [Signed(on, rest[0])]
        case "blocked":
            return [Fact("blocked", on)], [Blocked(on, tuple(dict.fromkeys(rest[0])))]
        case "unblocked":
            return [Fact("unblocked", on)], [Unblocked(on)]
        case "raised":
            level, number = rest
            raised = EscalationRaised(on, f"e{number}", level, "waiting_list")
            return [Fact("escalation_raised", on, ref=f"e{number}")], [raised]
        case "level":
            level, number = rest
            return [], [EscalationLevelChanged(on, f"e{number}", "team", level)]
        case "resolved":
            (number,) = rest
            resolved = EscalationResolved(on, f"e{number}")
            return [Fact("escalation_resolved", on, ref=f"e{number}")], [resolved]
        case "handover":
            return [], [HandedOver(on, rest[0])]
        case "continued":
            return [], [ContinuedFrom(on)]
        case "closed":
            return [Fact("closed", on, ref="follow-up" if rest[0] else None)], []
        case "proposed":
            number, parties = rest
            return [], [AgreementProposed(on, f"a{number}", tuple(sorted(set(parties))))]
        case "agreement":
            number, party = rest
            return [], [AgreementAccepted(on, f"a{number}", party)]
        case "agreement_declined":
            number, party = rest
            return [], [AgreementDeclined(on, f"a{number}", party)]
        case "agreement_ended":
            return [], [AgreementEnded(on, f"a{rest[0]}")]
    raise AssertionError(what)


#: What the domain allows after closing (``Trajectory``: these commands accept CLOSED).
AFTER_CLOSING = ("follow_up", "handover", "resolved", "agreement_ended", "continued")


def _allowed(what: str, state: str, blocked: bool) -> bool:
    """Whether a trajectory in ``state`` may record ``what`` (a simplification of the domain's
    statuses that keeps their order: a decision first, nothing after a decline, closing last
    but for follow-up; a block only while unblocked, an unblock only while blocked)."""
    if state == "referred":
        return what in ("accepted", "declined", "continued")
    if state == "declined":
        return False
    if state == "closed":
        return what in AFTER_CLOSING and what != "continued"
    if what in ("accepted", "declined", "follow_up"):
        return False
    if what == "blocked":
        return not blocked
    if what == "unblocked":
        return blocked
    return True


@st.composite
def units(draw: st.DrawFn) -> list[UnitRecord]:
    found = []
    for index in range(draw(st.integers(min_value=1, max_value=10))):
        referred = draw(st.integers(min_value=0, max_value=400))
        happened = sorted(
            draw(st.lists(events, max_size=14)),
            key=lambda e: e[1],
        )
        facts: list[Fact] = []
        details: list[Detail] = [
            Referred(FIRST + timedelta(days=referred), draw(st.sampled_from(ORGANISATIONS)))
        ]
        state, blocked = "referred", False
        for event in happened:
            what = event[0]
            if event[1] < referred or not _allowed(what, state, blocked):
                continue  # as the domain refuses it (``Trajectory``'s statuses)
            if what in ("accepted", "declined", "closed"):
                state = what
            elif what in ("blocked", "unblocked"):
                blocked = what == "blocked"
            more_facts, more_details = recorded(event)
            facts += more_facts
            details += more_details
        found.append(
            UnitRecord(
                f"t{index}",
                draw(st.sampled_from(("east", "west"))),
                draw(st.sampled_from(("youth_care", "disability_care", "mental_health"))),
                FIRST + timedelta(days=referred),
                tuple(facts),
                tuple(details),
            )
        )
    return found


def counted(
    found: list[UnitRecord],
) -> tuple[Laws, list[RowId], dict[str, dict[int, float]]]:
    """The laws over a year's and its quarters' cells (the year as the release being made,
    each quarter as an earlier version), and each unit's contributions over those rows."""
    periods = (YEAR, *QUARTERS)
    # Rare block reasons also counted in "other", as a release counts them (k small enough
    # for a reason to be rare in one period and not in another).
    populations = {
        period: tables.merge_rare(found_population, 3)
        for period, found_population in tables.populations(
            found, periods, policy=POLICY, kinds=KINDS
        ).items()
    }
    release = {YEAR: None, **{q: q.quarter for q in QUARTERS}}
    rows: list[RowId] = []
    for period in periods:
        keys: set[CellKey] = set(populations[period].counts)
        for cells in populations[period].contributions.values():
            keys.update(cells)
        rows += [(release[period], period, key) for key in sorted(keys)]
    index = {(number, key): i for i, (number, _, key) in enumerate(rows)}
    vectors: dict[str, dict[int, float]] = {}
    for unit in found:
        vector = vectors[unit.trajectory_id] = {}
        for period in periods:
            cells = populations[period].contributions.get(unit.trajectory_id, {})
            for key, amount in cells.items():
                vector[index[(release[period], key)]] = float(amount)
    return Laws(rows), rows, vectors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(units())
def test_every_unit_the_tables_count_keeps_every_law(found: list[UnitRecord]) -> None:
    laws, rows, vectors = counted(found)
    assert laws.laws, "no law was built over the tables' cells"
    for unit in found:
        vector = vectors[unit.trajectory_id]
        broken = [
            " + ".join(
                f"{c:g}·{rows[r][2].text()}@{rows[r][1]}"
                for r, c in zip(law.rows, law.coefs, strict=True)
            )
            + (" = " if law.equal else " ≥ ")
            + f"{-law.constant:g}, but is {law.value(vector) - law.constant:g}"
            for law in laws.laws
            if (abs(law.value(vector)) > 1e-9 if law.equal else law.value(vector) < -1e-9)
        ]
        assert not broken, f"{unit} breaks {broken[:3]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(units(), st.data())
def test_a_repaired_type_keeps_every_law_and_the_change_it_was_made_for(
    found: list[UnitRecord], data: st.DataObject
) -> None:
    """A hypothetical type (a real unit taken out of a cell, or counted in one more) is
    repaired into types that keep every law as the unit does, never undoing the change."""
    laws, rows, vectors = counted(found)
    source = vectors[data.draw(st.sampled_from(sorted(vectors)))]
    if not source:
        return
    rows_of_unit = sorted(source)
    changed = data.draw(st.sampled_from(rows_of_unit))
    if data.draw(st.booleans()):
        raw = {r: a for r, a in source.items() if r != changed}  # taken out of the cell
    else:
        scope = {(rows[r][0], rows[r][2].region, rows[r][2].sector) for r in rows_of_unit}
        others = [
            i
            for i, (release, _, key) in enumerate(rows)
            if (release, key.region, key.sector) in scope and i not in source
        ]
        if not others:
            return
        changed = data.draw(st.sampled_from(others))
        raw = {**source, changed: 1.0}  # counted in one cell more
    for variant in laws.variants(raw, source):
        assert laws.keeps(variant, source)
        assert variant.get(changed, 0.0) == raw.get(changed, 0.0)
        assert min(variant.values(), default=0.0) >= 0


def _rows(*cells: tuple[int | None, Period, str, str, str]) -> list[RowId]:
    return [
        (release, period, CellKey(table, "east", sector, category))
        for release, period, table, sector, category in cells
    ]


def test_a_part_counted_in_more_is_swapped_against_another_part_of_its_whole() -> None:
    """Two consultations with the client absent, counted at one with the client present: the
    repairs have one of them with the client present instead, or a third consultation (a
    consultation has one involvement)."""
    rows = _rows(
        *(
            (None, YEAR, "participation", "*", c)
            for c in ("consultations", "client:present", "client:absent")
        )
    )
    laws = Laws(rows)
    source = {0: 2.0, 2: 2.0}

    repaired = laws.variants({0: 2.0, 1: 1.0, 2: 2.0}, source)

    assert sorted(sorted(v.items()) for v in repaired) == [
        [(0, 2.0), (1, 1.0), (2, 1.0)],
        [(0, 3.0), (1, 1.0), (2, 2.0)],
    ]


def test_a_unit_taken_out_of_a_years_cell_is_taken_out_of_its_quarters_cell() -> None:
    """Accepted in the second quarter: taken out of the year's acceptances, it was not
    accepted in any quarter either."""
    rows = _rows(
        (None, YEAR, "flow", "*", "accepted"),
        *((q, Period(2026, q), "flow", "*", "accepted") for q in range(1, 5)),
    )
    laws = Laws(rows)
    source = {0: 1.0, 2: 1.0}

    assert not laws.keeps({2: 1.0}, source)
    assert laws.variants({2: 1.0}, source) == [{}]
    # Counted in the year's acceptances, a unit was accepted in one of its quarters.
    lifted = laws.variants({0: 1.0}, {})
    assert sorted(tuple(sorted(v)) for v in lifted) == [(0, q) for q in range(1, 5)]


def test_changes_in_two_quarters_add_up_in_their_year() -> None:
    """Consultations counted in the first quarter (1) and the second (2): the year holds 3."""
    rows = _rows(
        (None, YEAR, "participation", "*", "consultations"),
        *((q, Period(2026, q), "participation", "*", "consultations") for q in range(1, 5)),
    )
    laws = Laws(rows)

    assert laws.variants({1: 1.0, 2: 2.0}, {}) == [{0: 3.0, 1: 1.0, 2: 2.0}]


def test_a_repair_keeps_a_unit_in_one_sector_and_its_parts_in_their_whole() -> None:
    """A youth-care unit blocked for funding, counted in mental health's funding cell too: the
    repairs move it to mental health whole, never leave it in two sectors; and a unit blocked
    for no reason is no unit."""
    rows = _rows(
        *(
            (None, YEAR, "blocks", sector, category)
            for sector in ("youth_care", "mental_health", "*")
            for category in ("blocked", "reason:funding", "still_open")
        )
    )
    laws = Laws(rows)
    source = {0: 1.0, 1: 1.0, 2: 1.0, 6: 1.0, 7: 1.0, 8: 1.0}

    repaired = laws.variants({**source, 4: 1.0}, source)

    assert repaired
    for variant in repaired:
        assert laws.keeps(variant, source)
        assert {rows[r][2].sector for r in variant} == {"mental_health", "*"}
    assert not laws.keeps({1: 1.0, 0: 1.0, 6: 1.0, 7: 1.0, 3: 1.0}, source)  # two sectors
    assert not laws.keeps({0: 1.0, 2: 1.0, 6: 1.0, 8: 1.0}, {})  # blocked for no reason


def test_a_type_counting_in_two_sectors_is_no_unit() -> None:
    """A youth-care consultation counted as a mental-health referral too: no unit is of two
    sectors, so neither the type nor any repair of it is kept."""
    rows = _rows(
        *(
            (None, YEAR, table, sector, category)
            for sector in ("youth_care", "mental_health", "*")
            for table, category in (("participation", "consultations"), ("flow", "referrals"))
        )
    )
    laws = Laws(rows)
    source = {0: 1.0, 4: 1.0}  # youth care's and the region's consultations
    both = {**source, 3: 1.0, 5: 1.0}  # and mental health's and the region's referrals

    assert laws.keeps(source, {})
    assert not laws.keeps(both, source)
    assert not laws.keeps(both, {})
    assert all(
        {rows[r][2].sector for r in variant} <= {"youth_care", "*"}
        or {rows[r][2].sector for r in variant} <= {"mental_health", "*"}
        for variant in laws.variants(both, source)
    )
