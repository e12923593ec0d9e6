"""``rodedraad statistics release`` and ``export`` beside the record (issue #12)."""

import dataclasses
from typing import Any

from application.care_record import CareRecord
from application.signing import PublicKey
from projections.statistics.document import decode_signed, verify_release
from projections.statistics.model import Grid, Period
from projections.statistics.releases import RULE_SET_VERSION, RULE_SET_WITH_LAWS
from rodedraad.settings import Settings
from rodedraad.wiring import build_release_store
from tests.integration.conftest import Rodedraad
from tests.integration.stories import Story, story_start, tell


def _first_full_year() -> Period:
    return Period(story_start().year + 1)


def _on(settings: Settings, grid: Grid) -> Settings:
    """``settings`` releasing ``grid`` (``RODEDRAAD_STATISTICS_GRID``)."""
    return dataclasses.replace(
        settings, statistics=dataclasses.replace(settings.statistics, grid=grid)
    )


def test_a_period_is_released_from_the_command_line_and_exported_signed(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    tell(Story(record, clients=12), steps=400, seed=3)
    year = _first_full_year()  # a year: the default grid

    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(year))
    assert code == 0, err
    assert out.startswith(f"release 1: {year} at log position ")

    code, again, err = rodedraad(own_settings, "statistics", "release", "--period", str(year))
    assert code == 0, err
    assert again == ""
    assert "already says all there is to say" in err
    # Switched to quarters, the released year's quarters are refused: the year less three published
    # quarters would say what the fourth holds.
    quarters = _on(own_settings, "quarters")
    code, out, err = rodedraad(quarters, "statistics", "release", "--period", f"{year}Q1")
    assert (code, out) == (1, "")
    assert f"{year}Q1 overlaps {year}, released before on the other grid" in err

    # Embedded mode makes the signing key on first need; a PostgreSQL deployment once, on purpose.
    code, public, err = rodedraad(own_settings, "keys", "public", "--create")
    assert code == 0, err
    code, exported, err = rodedraad(own_settings, "statistics", "export", "1")
    assert code == 0, err
    document = verify_release(
        decode_signed(exported.encode()), [PublicKey.from_pem(public, source="keys public")]
    )
    assert (document.number, document.period) == (1, str(year))
    assert {table.name for table in document.tables} == {
        "flow",
        "procedures",
        "participation",
        "blocks",
        "continuity",
        "dynamics",
    }


def test_a_period_not_yet_past_its_lag_is_refused_with_a_reason(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", "2999")
    assert code == 1
    assert out == ""
    assert "can be released from 3000-01-30 on" in err


def test_a_period_off_the_grid_is_refused(own_settings: Settings, rodedraad: Rodedraad) -> None:
    code, _, err = rodedraad(own_settings, "statistics", "release", "--period", "2026-03")
    assert code == 2
    assert "is not a year (2026) or a quarter (2026Q3)" in err


def test_a_year_and_its_quarters_are_never_both_released(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    tell(Story(record, clients=12), steps=400, seed=3)
    year = _first_full_year()
    # The default grid is years: a quarter is refused, naming the setting that changes it.
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", f"{year}Q2")
    assert (code, out) == (1, "")
    assert f"{year}Q2 is a quarter, and this deployment releases years" in err
    assert "RODEDRAAD_STATISTICS_GRID=years" in err
    quarters = _on(own_settings, "quarters")
    code, _, err = rodedraad(quarters, "statistics", "release", "--period", f"{year}Q2")
    assert code == 0, err
    # Back on years, the deployment still never releases the year whose quarter it released:
    # the year less that quarter would say what the other three hold.
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(year))
    assert (code, out) == (1, "")
    assert f"{year} overlaps {year}Q2, released before on the other grid" in err
    store = build_release_store(own_settings)
    try:
        assert [r.period for r in store.releases()] == [f"{year}Q2"]
    finally:
        store.close()


def test_exporting_a_release_that_does_not_exist_says_so(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    code, out, err = rodedraad(own_settings, "statistics", "export", "7")
    assert code == 1
    assert out == ""
    assert "no statistics release numbered 7" in err


def test_a_year_begun_without_the_laws_is_finished_with_them(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    """A deployment upgrades to the laws (the default) in the middle of a year: its next
    quarter is made under rule set 3, audited with the laws against the quarter released
    without them (narrowed no further than that one narrows itself, not refused for it), and
    releasing that earlier quarter again makes a revision under the new rules."""
    tell(Story(record, clients=12), steps=400, seed=3)
    year = _first_full_year().year
    first, second = Period(year, 1), Period(year, 2)
    own_settings = _on(own_settings, "quarters")

    rodedraad.monkeypatch.setenv("RODEDRAAD_STATISTICS_LAWS", "false")
    code, _, err = rodedraad(own_settings, "statistics", "release", "--period", str(first))
    assert code == 0, err
    # Upgraded to the default: the setting left out, as a deployment that never set it.
    rodedraad.monkeypatch.delenv("RODEDRAAD_STATISTICS_LAWS")
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(second))
    assert code == 0, err
    assert out.startswith(f"release 2: {second} at log position ")
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(first))
    assert code == 0, err
    assert out.startswith(f"release 3: {first} at log position ")

    store = build_release_store(own_settings)
    try:
        made = [store.release(number) for number in (1, 2, 3)]
    finally:
        store.close()
    assert [(r.period, r.revises, r.rule_set) for r in made if r is not None] == [
        (str(first), None, RULE_SET_VERSION),
        (str(second), None, RULE_SET_WITH_LAWS),
        (str(first), 1, RULE_SET_WITH_LAWS),
    ]


def test_the_same_cells_under_the_other_rule_set_are_a_revision_not_nothing_new(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    """A release says which rules it passed: the same numbers released again under the other
    rule set are a new version naming it (a reader can tell which audit they passed), while
    releasing them again under the same rules adds nothing."""
    tell(Story(record, clients=3), steps=60, seed=5)
    first = Period(_first_full_year().year, 1)
    own_settings = _on(own_settings, "quarters")

    rodedraad.monkeypatch.setenv("RODEDRAAD_STATISTICS_LAWS", "false")
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(first))
    assert code == 0, err
    code, _, again = rodedraad(own_settings, "statistics", "release", "--period", str(first))
    assert code == 0, again
    assert f"release 1 of {first} already says all there is to say" in again
    rodedraad.monkeypatch.setenv("RODEDRAAD_STATISTICS_LAWS", "true")
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(first))
    assert code == 0, err
    assert out.startswith(f"release 2: {first} at log position ")

    store = build_release_store(own_settings)
    try:
        one, two = store.release(1), store.release(2)
        assert one is not None
        assert two is not None
        cells = [{t.name: store.cells(r.number, t.name) for t in r.tables} for r in (one, two)]
    finally:
        store.close()
    assert (one.rule_set, two.rule_set, two.revises) == (RULE_SET_VERSION, RULE_SET_WITH_LAWS, 1)
    # Each records how many intervals it cut, read back, not left unknown: none under rule
    # set 2, which never cuts; some or none under rule set 3 (its period's first version was
    # made without the laws), as the story's numbers fall.
    assert one.audit.narrowed_before == 0
    assert two.audit.narrowed_before is not None
    assert cells[0] == cells[1], "the story is too small for the rule sets to differ"


def test_a_revision_holding_regions_back_says_so_on_the_command_line(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """The operator sees which regions a revision held back at the earlier release's figures,
    and a revision that would say nothing new is not made (exit 0). The populations are the
    unit tests' (three trajectories of r moved to q, p's own late facts: k of them at a
    time, since fewer would hold p back too)."""
    from projections.statistics.releases import Releases
    from tests.unit.test_disclosure_laws import moved_referrals

    year = Period(2025)
    counted = iter(
        [
            (moved_referrals(0, period=year), 1),
            (moved_referrals(3, 10, year), 2),
            # Another of r's trajectories moved to q: r and q are held back again, at release
            # 1's figures, and p says what it said.
            (moved_referrals(4, 10, year), 3),
            # Facts recorded since elsewhere (another year's, a client registered): the same
            # figures at a later position, then release 2's own.
            (moved_referrals(4, 10, year), 4),
            (moved_referrals(3, 10, year), 5),
            # Those figures under another k: computed (and refused: release 2's regions are
            # held at its figures under its own k only).
            (moved_referrals(3, 10, year), 6),
            # k late facts of p's: a revision.
            (moved_referrals(4, 20, year), 7),
        ]
    )
    rodedraad.monkeypatch.setattr(Releases, "population", lambda _self, _period: next(counted))
    rodedraad.monkeypatch.setattr(Releases, "_unchanged_since", lambda *_a: False)
    computed: list[int] = []
    compute = Releases.compute

    def counting(self: Releases, *args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return compute(self, *args, **kwargs)

    rodedraad.monkeypatch.setattr(Releases, "compute", counting)
    args = ("statistics", "release", "--period", str(year))

    assert rodedraad(own_settings, *args)[0] == 0
    code, out, err = rodedraad(own_settings, *args)
    assert code == 0, err
    assert out.splitlines()[0].startswith(
        f"release 2: {year} at log position 2, revising release 1"
    )
    assert out.splitlines()[1].startswith("held back at release 1's figures: q, r (if revised,")
    assert len(computed) == 2
    code, out, err = rodedraad(own_settings, *args)
    assert (code, out) == (0, "")
    said = "release 2 of 2025 already says all a revision may: q, r would be held back"
    assert said in err
    assert len(computed) == 3
    # Those figures again: what was said is said again, nothing computed (it took minutes at
    # 100,000 trajectories), and so for the figures release 2 was made from.
    code, out, err = rodedraad(own_settings, *args)
    assert (code, out) == (0, "")
    assert said in err
    code, out, err = rodedraad(own_settings, *args)
    assert (code, out) == (0, "")
    assert (
        "release 2 of 2025 already says all there is to say: it was made from the same figures "
        "a release would be computed from now (q, r held back at release 1's figures)"
    ) in err
    assert len(computed) == 3
    rodedraad.monkeypatch.setenv("RODEDRAAD_STATISTICS_K", "11")
    code, out, err = rodedraad(own_settings, *args)
    assert (code, out) == (1, "")
    assert "release 2 was made under k=10, this one k=11" in err
    assert len(computed) == 4
    rodedraad.monkeypatch.delenv("RODEDRAAD_STATISTICS_K")
    code, out, err = rodedraad(own_settings, *args)
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"release 3: {year} at log position 7, revising")
    assert len(computed) == 5
