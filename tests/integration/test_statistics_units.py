"""The statistics' units follow the log, and a period's population counts what the log holds.

A seeded story of several trajectories (every kind of event, some recorded late) is told
through the CareRecord; the projection worker follows it. Then ``read_units`` must give one unit
per trajectory, holding nothing personal, and the populations of the years the story spans must
count exactly the events of the log that fall in them: each consultation, handover, signature
and referral once, in its sector and in its region's ``*`` cell. On SQLite and PostgreSQL.
"""

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, timedelta
from typing import Any

import msgspec
import pytest

from application.care_record import CareRecord
from domain.deadlines import DeadlinePolicy, Offset
from domain.trajectory import Trajectory
from projections.organisations import organisation_kinds
from projections.statistics import tables
from projections.statistics.model import ALL_SECTORS, SAME_UNITS, CellKey, Period, same_units
from projections.statistics.releases import ReleaseRefused, Releases
from projections.statistics.tables import population, populations
from projections.statistics.units import (
    KnownUnits,
    UnitRecord,
    deadlines_of,
    ended_last_on,
    read_units,
    regions_and_sectors,
    worked_out_under,
)
from projections.worker import ProjectionWorker
from rodedraad.settings import Settings
from rodedraad.wiring import build_policy, build_projection_worker, build_releases
from tests.integration.stories import Story, logged_events, tell

T = Trajectory


@pytest.fixture
def story(record: CareRecord) -> Story:
    told = Story(record, clients=3)
    tell(told, steps=120, seed=7)
    return told


def units_of(own_settings: Settings, record: CareRecord) -> list[UnitRecord]:
    worker = build_projection_worker(own_settings, record)
    try:
        worker.catch_up()
        with worker.database.transaction() as tx:
            return list(read_units(tx))
    finally:
        worker.database.close()


def years(events: list[tuple[int, Any]]) -> list[Period]:
    found = {e.occurred_at.astimezone(UTC).year for _, e in events if isinstance(e, T.Event)}
    return [Period(year) for year in sorted(found)]


def logged_in(events: list[tuple[int, Any]], period: Period, kind: type[Any]) -> Counter[str]:
    """How many events of ``kind`` the log holds in ``period``, by the trajectory's region."""
    regions = {e.originator_id: e.region for _, e in events if isinstance(e, T.Referred)}
    return Counter(
        regions[e.originator_id]
        for _, e in events
        if isinstance(e, kind) and period.contains(e.occurred_at.astimezone(UTC).date())
    )


@contextmanager
def story_releases(
    own_settings: Settings, record: CareRecord
) -> Iterator[tuple[ProjectionWorker, Releases, list[Period]]]:
    """A worker caught up with the story, releases over its read models, and every quarter
    and year of the story."""
    worker = build_projection_worker(own_settings, record)
    try:
        worker.catch_up()
        releases = build_releases(own_settings, build_policy(own_settings), worker.database)
        yield worker, releases, [p for y in years(logged_events(record)) for p in y.audited_with()]
    finally:
        worker.database.close()


def test_every_trajectory_is_one_unit_holding_no_personal_text(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    units = units_of(own_settings, record)

    assert sorted(u.trajectory_id for u in units) == sorted(map(str, story.trajectory_ids))
    stored = msgspec.json.encode(units).decode()
    for _, event in logged_events(record):
        for name in getattr(event, "personal_fields", ()):
            field, _, nested = name.partition("[].")
            value = getattr(event, field)
            texts = [getattr(v, nested) for v in value] if nested else [value]
            texts = [t for v in texts for t in (v if isinstance(v, tuple) else (v,))]
            for text in texts:
                if isinstance(text, str) and len(text) > 3:
                    assert f'"{text}"' not in stored, f"{name} of {type(event).__name__} stored"


def test_a_years_population_counts_each_logged_event_once_in_its_region(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    units = units_of(own_settings, record)
    events = logged_events(record)
    counted = {
        "flow/referrals": T.Referred,
        "participation/consultations": T.ConsultationHeld,
        "continuity/handovers": T.HandedOver,
        "procedures/plan_signed": T.PlanSigned,
        "procedures/evaluations": T.Evaluated,
        "blocks/escalations": T.EscalationRaised,
    }
    checked = 0
    for period in years(events):
        found = population(units, period, policy=build_policy(own_settings), kinds={})
        values = found.values()
        regions = {key.region for key in found.counts}
        for name, kind in counted.items():
            table, category = name.split("/")
            logged = logged_in(events, period, kind)
            for region in regions:
                total = values[CellKey(table, region, ALL_SECTORS, category)]
                assert total == logged[region], (period, region, name)
                checked += total
    assert checked > 0, "the story should have events to count"


def test_the_procedures_table_judges_deadlines_as_the_deadline_read_model_does(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    units = units_of(own_settings, record)
    policy: DeadlinePolicy = build_policy(own_settings)
    worker = build_projection_worker(own_settings, record)
    try:
        with worker.database.transaction() as tx:
            stored = tx.fetchall("SELECT due_on, rule, region FROM rm_deadlines")
    finally:
        worker.database.close()
    for period in years(logged_events(record)):
        due = Counter(
            (region, rule) for due_on, rule, region in stored if str(period) == due_on[:4]
        )
        values = population(units, period, policy=policy, kinds={}).values()
        for (region, rule), number in due.items():
            assert values[CellKey("procedures", region, ALL_SECTORS, f"deadline:{rule}/due")] == (
                number
            )


def test_leaving_out_trajectories_ended_long_before_a_period_changes_none_of_its_cells(
    own_settings: Settings, record: CareRecord, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = units_of(own_settings, record)
    policy = build_policy(own_settings)
    periods = [p for year in years(logged_events(record)) for p in year.audited_with()]
    skipping = populations(units, periods, policy=policy, kinds={})

    monkeypatch.setattr(tables, "_settled_by", lambda unit, reach: None)
    every_unit = populations(units, periods, policy=policy, kinds={})

    for period in periods:
        assert skipping[period].contributions == every_unit[period].contributions
        assert skipping[period].quantiles == every_unit[period].quantiles


def test_a_release_reads_no_unit_settled_before_its_period_and_counts_the_same(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """``Releases.population`` leaves out in SQL the units settled before the period
    (``ended_last_on``, kept by the projection, with the policy's reach): the population, its
    cells in their order included, is the one every unit gives, and some unit was left out."""
    policy = build_policy(own_settings)
    periods = [p for year in years(logged_events(record)) for p in year.audited_with()]
    worker = build_projection_worker(own_settings, record)
    left_out = 0
    try:
        worker.catch_up()
        with worker.database.transaction() as tx:
            for period in periods:
                every = list(read_units(tx, referred_by=period.end))
                start = tables.ended_last_from(policy, period)
                read = list(read_units(tx, referred_by=period.end, ended_last_from=start))
                regions, sectors = regions_and_sectors(tx, period.end)
                left_out += len(every) - len(read)
                # Exactly the units the population would not leave out itself are read.
                assert [u.trajectory_id for u in read] == [
                    u.trajectory_id
                    for u in every
                    if (settled := tables._settled_by(u, tables._reach(policy))) is None
                    or settled >= period.start
                ]
                assert regions == {u.region for u in every}
                assert sectors == list(dict.fromkeys(u.sector for u in every))
                fewer = population(
                    read, period, policy=policy, kinds={}, regions=regions, sectors=sectors
                )
                full = population(every, period, policy=policy, kinds={})
                for part in ("contributions", "counts", "quantiles", "rates"):
                    got, expected = getattr(fewer, part), getattr(full, part)
                    assert list(got.items()) == list(expected.items()), (period, part)
            stored = dict(tx.fetchall("SELECT trajectory_id, ended_last_on FROM st_units"))
            units = list(read_units(tx))
            # At the boundary: read on its last day, left out from the day after.
            for tid, day in stored.items():
                if day is not None:
                    last = date.fromisoformat(day)
                    on = {u.trajectory_id for u in read_units(tx, ended_last_from=last)}
                    after = read_units(tx, ended_last_from=last + timedelta(days=1))
                    assert tid in on
                    assert tid not in {u.trajectory_id for u in after}
    finally:
        worker.database.close()
    assert left_out > 0, "no unit was settled before a period: nothing was tested"
    # The column the projection keeps is the record's own last day, once it has ended.
    assert {u.trajectory_id: ended_last_on(u.referred_on, u.facts, u.details) for u in units} == {
        tid: date.fromisoformat(day) if day else None for tid, day in stored.items()
    }
    assert any(stored.values()), "no unit ended"
    assert not all(stored.values()), "every unit ended"


def test_the_deadlines_a_unit_keeps_are_those_a_release_would_work_out_under_its_policy(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """The projection keeps each unit's deadlines under the service's policy, naming it: they
    are ``instances`` of its facts, a population from them is the one worked out afresh, and a
    release under another policy works them out itself instead of taking them."""
    policy = build_policy(own_settings)
    units = units_of(own_settings, record)
    assert policy.fingerprint
    assert all(u.policy == worked_out_under(policy) for u in units)
    kept = [(u.trajectory_id, u.deadlines) for u in units]
    assert kept == [
        (u.trajectory_id, tuple(deadlines_of(u.facts, policy.rules_for(u.region, u.sector))))
        for u in units
    ]
    assert any(deadlines for _, deadlines in kept), "no unit has a deadline: nothing tested"

    bare = [msgspec.structs.replace(u, deadlines=None, policy="") for u in units]
    # Another policy: every deadline a month later, so its deadlines are not the units' own.
    later = dataclasses.replace(
        policy,
        rules=tuple(
            dataclasses.replace(r, due_after=Offset(r.due_after.months + 1, r.due_after.days))
            for r in policy.rules
        ),
        fingerprint="0" * 16,
    )
    periods = [p for year in years(logged_events(record)) for p in year.audited_with()]
    differs = False
    for chosen in (policy, later):
        kept_pop = populations(units, periods, policy=chosen, kinds={})
        afresh = populations(bare, periods, policy=chosen, kinds={})
        for period in periods:
            assert kept_pop[period].values() == afresh[period].values(), (chosen, period)
            assert kept_pop[period].contributions == afresh[period].contributions
            if chosen is later:
                differs = (
                    differs
                    or afresh[period].values()
                    != populations(bare, [period], policy=policy, kinds={})[period].values()
                )
    assert differs, "the other policy changed no cell: nothing was tested"


def test_units_known_from_an_earlier_read_are_reused_only_while_their_row_is_unchanged(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """A process keeps the units it read (``KnownUnits``) between its releases: a row read
    again unchanged gives the same object, a row changed since (more events) is decoded
    again, and every unit equals what a fresh read gives."""
    known = KnownUnits()
    worker = build_projection_worker(own_settings, record)
    try:
        worker.catch_up()
        with worker.database.transaction() as tx:
            first = {u.trajectory_id: u for u in read_units(tx, known=known)}
        tell(story, steps=60, seed=8)
        worker.catch_up()
        with worker.database.transaction() as tx:
            fresh = {u.trajectory_id: u for u in read_units(tx)}
            again = {u.trajectory_id: u for u in read_units(tx, known=known)}
    finally:
        worker.database.close()

    assert again == fresh
    changed = {tid for tid, u in fresh.items() if first.get(tid) != u}
    assert changed, "the story's further steps changed no unit: nothing was tested"
    assert all(again[tid] is first[tid] for tid in fresh.keys() - changed)
    assert all(again[tid] is not first.get(tid) for tid in changed)


def test_a_releases_population_is_the_one_every_unit_gives(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """``Releases.population`` reads no unit settled before the period (in SQL) and keeps the
    deadlines the projection worked out: what it counts must be what every unit referred by
    the period's end gives, worked out afresh, for every quarter and year of the story."""
    policy = build_policy(own_settings)
    with story_releases(own_settings, record) as (worker, releases, periods):
        left_out = 0
        for period in periods:
            got, _ = releases.population(period)
            with worker.database.transaction() as tx:
                every = [
                    msgspec.structs.replace(u, deadlines=None, policy="")
                    for u in read_units(tx, referred_by=period.end)
                ]
                regions, sectors = regions_and_sectors(tx, period.end)
                kinds = organisation_kinds(tx)
                skipping = read_units(
                    tx,
                    referred_by=period.end,
                    ended_last_from=tables.ended_last_from(policy, period),
                )
                left_out += len(every) - len(list(skipping))
            expected = tables.merge_rare(
                population(
                    every, period, policy=policy, kinds=kinds, regions=regions, sectors=sectors
                ),
                releases.k,
            )
            assert got.values() == expected.values(), period
            assert got.contributions == expected.contributions, period
    assert left_out > 0, "no period left a settled unit out: the skip was not tested"


def test_a_release_on_another_versions_working_table_is_refused(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """While the worker rebuilds the working table for a new version (or runs another policy),
    the live table is not what a release reads: it is refused, saying why."""
    policy = build_policy(own_settings)
    worker = build_projection_worker(own_settings, record)
    try:
        worker.catch_up()
        releases = build_releases(own_settings, policy, read_models=worker.database)
        period = years(logged_events(record))[0]
        releases.population(period)  # the worker's own version: read
        with worker.database.transaction() as tx:
            tx.execute("UPDATE rm_tracking SET version = version - 1 WHERE name = 'statistics'")
        with pytest.raises(ReleaseRefused, match="statistics read model is at version"):
            releases.population(period)
    finally:
        worker.database.close()


def test_cells_said_to_count_the_same_units_do_in_every_unit(
    own_settings: Settings, record: CareRecord, story: Story
) -> None:
    """``model.SAME_UNITS`` tells the audit two cells are one (its hypothetical units differ in
    both alike); that holds only while every unit counts in both or in neither, in every
    region and sector of every period of the story. (Its amounts may differ where one cell
    counts events and the other trajectories: escalations resolved, and how many trajectories
    resolved one.)"""
    with story_releases(own_settings, record) as (_, releases, periods):
        pairs = 0
        involved = {*SAME_UNITS, *SAME_UNITS.values()}
        for period in periods:
            got, _ = releases.population(period)
            for cells in got.contributions.values():
                alike: dict[CellKey, list[int]] = defaultdict(list)
                for key, amount in cells.items():
                    if (key.table, key.category) in involved:
                        alike[same_units(key)].append(amount)
                for key, amounts in alike.items():  # in both, alike, or in neither
                    pairs += 1
                    assert len(amounts) == 2, (period, key, amounts)
                    assert all(amounts), (period, key, amounts)
    assert pairs > 0, "no unit counted in a cell of SAME_UNITS: nothing was tested"
