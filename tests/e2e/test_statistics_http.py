"""Statistics releases through the API (issue #12): who reads which region, and nothing a
learning network can read changes between two releases."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import structlog
import structlog.testing
from litestar.testing import TestClient

from projections.statistics.model import Period
from projections.statistics.releases import NothingChanged, ReleaseRefused, Releases
from projections.statistics.units import StatisticsProjection
from projections.tracking import read_tracking
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_releases
from tests.e2e.conftest import TokenFactory, token_factory
from tests.e2e.steps import bearer, trajectory_in_region

PERIOD = Period(2025, 2)
IN_PERIOD = datetime(2025, 4, 7, 9, 0, tzinfo=UTC)
ENDPOINTS = (
    "/v1/statistics/releases",
    "/v1/statistics/releases/1",
    "/v1/statistics/releases/1/tables/flow",
    "/v1/statistics/releases/1/tables/blocks",
)

App = tuple[Settings, Container, TestClient]  # type: ignore[type-arg]


def _at(day: int, hours: int = 0) -> str:
    return (IN_PERIOD + timedelta(days=day, hours=hours)).isoformat()


def _trajectory(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    region: str,
    day: int,
    *,
    blocked: bool = False,
    sector: str = "youth_care",
    accept: bool = True,
) -> str:
    when = IN_PERIOD + timedelta(days=day)
    return trajectory_in_region(
        http, auth, region, when, blocked=blocked, sector=sector, accept=accept
    )


@pytest.fixture
def app(private_app: App) -> Iterator[tuple[App, Releases]]:
    settings, container, http = private_app
    # The releases here are the test's own: the embedded scheduler, which would release every
    # closed period by itself as the data below comes in, is stopped before there is any.
    if container.background_scheduler is not None:
        container.background_scheduler.shutdown()
    # West Flanders: 48 referrals in two sectors, 36 of them accepted; Limburg: 14, 3 blocked.
    auth = bearer(token_factory(settings)(region="west-flanders"))
    for i in range(48):
        sector = ("youth_care", "disability_care")[i % 2]
        _trajectory(http, auth, "west-flanders", day=i % 40, sector=sector, accept=i % 4 != 0)
    auth = bearer(token_factory(settings)(region="limburg"))
    for i in range(14):
        _trajectory(http, auth, "limburg", day=i, blocked=i < 3)
    releases = build_releases(settings, container.policy, container.worker.database)
    releases.grid = "quarters"  # the facts below lie in one quarter
    yield private_app, releases
    releases.store.close()


def _reader(settings: Settings, role: str, region: str = "west-flanders") -> dict[str, str]:
    tokens: TokenFactory = token_factory(settings)
    return bearer(tokens(org="lerend-netwerk", roles=(role,), region=region))


def _answers(http: TestClient, headers: dict[str, str]) -> list[Any]:  # type: ignore[type-arg]
    found = []
    for path in ENDPOINTS:
        response = http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        found.append(response.json())
    return found


def test_a_learning_network_reads_its_own_region_and_the_forum_every_region(
    app: tuple[App, Releases],
) -> None:
    (settings, _, http), releases = app
    releases.release(PERIOD)
    network = http.get(
        "/v1/statistics/releases/1/tables/flow", headers=_reader(settings, "learning_network")
    ).json()
    forum = http.get(
        "/v1/statistics/releases/1/tables/flow", headers=_reader(settings, "forum")
    ).json()
    auditor = http.get(
        "/v1/statistics/releases/1/tables/flow",
        headers=_reader(settings, "auditor", region="limburg"),
    ).json()
    assert {c["region"] for c in network["cells"]} == {"west-flanders"}
    assert {c["region"] for c in forum["cells"]} == {"west-flanders", "limburg"}
    assert {c["region"] for c in auditor["cells"]} == {"limburg"}
    assert network["categories"], "a table says what each category counts"


@pytest.mark.parametrize(
    "role", ["coordinator", "professional", "admin", "data_protection_officer"]
)
def test_roles_outside_the_learning_networks_read_no_release(
    app: tuple[App, Releases], role: str
) -> None:
    (settings, _, http), releases = app
    releases.release(PERIOD)
    for path in ENDPOINTS:
        response = http.get(path, headers=_reader(settings, role))
        assert response.status_code == 403, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_a_region_with_three_blocked_trajectories_releases_no_three(
    app: tuple[App, Releases],
) -> None:
    (settings, _, http), releases = app
    releases.release(PERIOD)
    blocks = http.get(
        "/v1/statistics/releases/1/tables/blocks", headers=_reader(settings, "forum")
    ).json()
    flow = http.get(
        "/v1/statistics/releases/1/tables/flow", headers=_reader(settings, "forum")
    ).json()
    numbers = [c["value"] for c in blocks["cells"] + flow["cells"] if c["value"] is not None]
    assert 3 not in numbers
    blocked = [
        c
        for c in flow["cells"]
        if c["category"] == "blocked" and c["sector"] == "*" and c["region"] == "limburg"
    ]
    assert len(blocked) == 1
    assert blocked[0]["value"] is None
    assert blocked[0]["withheld"] == "suppressed"


def test_nothing_a_network_reads_changes_until_the_next_release(
    app: tuple[App, Releases],
) -> None:
    (settings, _, http), releases = app
    releases.release(PERIOD)
    reader = _reader(settings, "forum")
    before = _answers(http, reader)

    # One more trajectory, and late facts on it, all in the released period.
    auth = bearer(token_factory(settings)())

    def late_trajectory() -> None:
        late = _trajectory(http, auth, "west-flanders", day=5, blocked=True)
        block = http.post(
            f"/v1/trajectories/{late}/unblocking",
            json={"occurred_at": _at(20), "resolution": "Place found"},
            headers=auth,
        )
        assert block.status_code == 200, block.text
        block = http.post(
            f"/v1/trajectories/{late}/blocks",
            json={"occurred_at": _at(25), "reasons": ["funding"], "description": "Budget"},
            headers=auth,
        )
        assert block.status_code == 200, block.text

    late_trajectory()
    assert _answers(http, reader) == before
    # One late trajectory would move the region's counts by one: held back, nothing made
    # (README, "Nor is a region revised whose published counts would move by fewer than k").
    with pytest.raises(NothingChanged):
        releases.release(PERIOD)
    assert _answers(http, reader) == before
    for _ in range(releases.k - 1):
        late_trajectory()
    assert _answers(http, reader) == before
    revision = releases.release(PERIOD)
    assert (revision.number, revision.revises) == (2, 1)
    assert _answers(http, reader)[1:] == before[1:], "release 1 itself never changes"
    assert [r["number"] for r in http.get(ENDPOINTS[0], headers=reader).json()] == [2, 1]


def test_a_period_released_again_without_new_facts_makes_no_new_release(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, releases = app
    releases.release(PERIOD)
    with pytest.raises(NothingChanged):
        releases.release(PERIOD)
    assert [r.number for r in releases.store.releases()] == [1]

    # Not even computed again with nothing recorded since: computed, its audit holds the
    # release itself as an earlier version, and an outside walk saw that refuse.
    def computed_again(period: Period, *_read: Any) -> None:
        raise AssertionError(f"{period} computed again with nothing recorded since")

    monkeypatch.setattr(releases, "compute", computed_again)
    with pytest.raises(NothingChanged):
        releases.release(PERIOD)
    # Another k is another release.
    monkeypatch.setattr(releases, "k", releases.k + 1)
    with pytest.raises(AssertionError, match="computed again"):
        releases.release(PERIOD)


def test_facts_recorded_outside_a_released_period_make_no_revision_of_it(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside walk: with a client registered since, a release of the demo's 2025
    was computed again and refused by its audit (a model of two versions narrowed a cell one
    version's model held open). A period whose units count as they did is not computed."""
    (settings, _, http), releases = app
    first = releases.release(PERIOD)
    auth = bearer(token_factory(settings)(region="limburg"))
    _trajectory(http, auth, "limburg", day=120)  # referred in the next quarter
    client = http.post(
        "/v1/clients", json={"occurred_at": _at(1), "name": "Jan Peeters"}, headers=auth
    )
    assert client.status_code == 201, client.text
    with releases.read_models.transaction() as tx:
        tracked = read_tracking(tx, StatisticsProjection.name)
    assert tracked is not None
    assert tracked[0] > first.log_position, "the read model moved on since release 1"

    def computed_again(period: Period, *_read: Any) -> None:
        raise AssertionError(f"{period} computed again while none of its facts changed")

    monkeypatch.setattr(releases, "compute", computed_again)
    with pytest.raises(NothingChanged):
        releases.release(PERIOD)
    # A fact of the period itself is computed (``test_nothing_a_network_reads_changes…``
    # shows the revision made).
    _trajectory(http, auth, "limburg", day=3)
    with pytest.raises(AssertionError, match="computed again"):
        releases.release(PERIOD)
    assert [r.number for r in releases.store.releases()] == [1]


#: What a release's audit counts over the regions it audited (``ReleaseAudit``).
_AUDIT_COUNTS = ("withheld_counts_audited", "narrowest_margin", "narrowed_before")


def test_a_revision_holds_back_the_regions_earlier_releases_alone_narrow_and_revises_the_rest(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late facts moved three of r's trajectories to q, so that release 1's 12 referrals for r
    hold the revision's 9 at most 12, whatever it withholds; p's late facts are its own (k of
    them, and q has k - 3 of its own, so that no published difference from release 1 is a
    group below k: README, "A region a revision cannot revise is held back"). The
    revision holds r and q back at release 1's cells and units (their withheld cells counted
    under the rules that withheld them), says so to an auditor of the region and to none of
    the learning networks, and revises p; asked again with nothing new, it says so (exit 0
    from the command line) rather than publish release 2 once more; under another k it may
    not hold them and refuses."""
    from tests.unit.test_disclosure_laws import moved_referrals

    (settings, _, http), releases = app
    year = Period(2025)
    releases.grid = "years"
    late = {"late_in_p": 10, "late_in_q": 7}  # (k = 10)
    counted = iter(
        [(moved_referrals(0, period=year), 1), (moved_referrals(3, period=year, **late), 2)]
    )
    monkeypatch.setattr(releases, "population", lambda _period: next(counted))
    # (The read model does not move here: the populations above are the facts.)
    monkeypatch.setattr(releases, "_unchanged_since", lambda *_a: False)
    first = releases.release(year)

    with structlog.testing.capture_logs() as logs:
        revision = releases.release(year)

    assert (revision.revises, revision.audit.held_back) == (first.number, ["q", "r"])
    assert revision.regions == ["p", "q", "r"]
    store = releases.store
    for table in ("flow",):
        assert store.cells(revision.number, table, ["q", "r"]) == store.cells(
            first.number, table, ["q", "r"]
        )
        assert store.cells(revision.number, table, ["p"]) != store.cells(first.number, table, ["p"])
    # What the next revision is audited against: release 1's units for r and q, p's new ones.
    versions = {v.number: v for v in store.published_versions([year])}
    then, now = versions[first.number].contributions, versions[revision.number].contributions
    assert {u: dict(then[u]) for u in then if u[0] in "qr"} == {
        u: dict(now[u]) for u in now if u[0] in "qr"
    }
    assert sum(1 for u in now if u[0] == "p") == 30
    # r and q withhold their t (below k) and their s (so as not to give t away), as release
    # 1's audit chose; p, with k late referrals in t, publishes all three.
    flow = {t.name: t for t in revision.tables}["flow"]
    assert flow.withheld_by_rule == {"below_k": 2, "secondary": 2}
    assert {r: n for r, n in (flow.withheld_by_rule_in or {}).items() if n} == {
        region: {"below_k": 1, "secondary": 1} for region in "qr"
    }
    held = [e for e in logs if e["event"] == "statistics region held back"]
    assert sorted(e["region"] for e in held) == ["q", "r"]
    assert all("flow/r/*/referrals of this revision" in e["reason"] for e in held)
    # Which regions were held back (or said again) tells whether late facts fell there; so
    # would the revision's counts of its audit, set against the tables' tallies every reader
    # gets over every region: they cover p only. (In release 1, as many withheld counts
    # audited as the flow table tallies; here fewer.)
    audited = revision.audit.withheld_counts_audited
    assert audited < sum(flow.withheld_by_rule.values())
    first_flow = {t.name: t for t in first.tables}["flow"]
    assert sum(first_flow.withheld_by_rule.values()) == first.audit.withheld_counts_audited
    for role, region, told in (
        ("forum", "r", None),
        ("learning_network", "r", None),
        ("auditor", "r", ["r"]),
        ("auditor", "p", []),
    ):
        read = http.get(
            f"/v1/statistics/releases/{revision.number}",
            headers=_reader(settings, role, region),
        )
        assert read.status_code == 200, read.text
        audit = read.json()["audit"]
        assert audit["held_back"] == told, (role, region)
        assert [audit[f] for f in _AUDIT_COUNTS] == [None, None, None], (role, region)
        assert audit["earlier_versions"] == [first.number]
        assert "withheld_by_rule_in" not in read.text
    # A first release audits every region: every reader is told how many and how narrowly.
    for role in ("forum", "learning_network"):
        read = http.get(
            f"/v1/statistics/releases/{first.number}", headers=_reader(settings, role, "r")
        )
        audit = read.json()["audit"]
        assert [audit[f] for f in _AUDIT_COUNTS] == [getattr(first.audit, f) for f in _AUDIT_COUNTS]
        assert audit["withheld_counts_audited"] > 0
        assert audit["narrowest_margin"] is not None
        assert audit["narrowed_before"] is not None

    # Another of r's trajectories in q: r and q held back again, p as it was (the figures
    # release 2 was made from are not computed again: ``test_statistics_cli``).
    counted = iter([(moved_referrals(4, period=year, **late), 3)])
    with pytest.raises(NothingChanged, match=r"all a revision may: q, r would be held back"):
        releases.release(year)
    # Under another k, release 2's regions are not held at its cells: refused, as before
    # (p's and q's late facts, 11 or more away from every earlier version's: k = 11).
    counted = iter([(moved_referrals(3, 21, year, late_in_q=8), 4)])
    monkeypatch.setattr(releases, "k", releases.k + 1)
    refused = (
        r"flow/r/\*/referrals of this revision can be narrowed.*made under k=10, this one k=11"
    )
    with pytest.raises(ReleaseRefused, match=refused):
        releases.release(year)
    assert [r.number for r in store.releases()] == [revision.number, first.number]


def test_a_period_is_not_released_before_its_lag_has_passed(app: tuple[App, Releases]) -> None:
    _, releases = app
    today = datetime.now(UTC).date()
    running = Period(today.year, (today.month - 1) // 3 + 1)
    with pytest.raises(ReleaseRefused, match="can be released from"):
        releases.release(running)
    assert releases.store.releases() == []


def test_a_release_that_fails_the_audit_is_refused_and_nothing_is_published(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections.statistics import disclosure
    from projections.statistics.model import AuditedCell, CellKey, Protected

    (settings, _, http), releases = app
    narrowed = AuditedCell(
        key=CellKey("flow", "limburg", "*", "blocked"),
        release=None,
        low=3.0,
        high=3.0,
        needed_low=0.0,
        needed_high=8.0,
    )
    monkeypatch.setattr(
        disclosure, "protect", lambda *_a, **_k: Protected(cells=(), audit=(narrowed,))
    )
    with pytest.raises(ReleaseRefused, match="disclosure audit"):
        releases.release(PERIOD)
    assert releases.store.releases() == []
    assert http.get(ENDPOINTS[0], headers=_reader(settings, "forum")).json() == []


def _dies(*_args: Any) -> None:
    """A region's audit whose process is killed (the memory killer, say)."""
    import multiprocessing
    import os

    if multiprocessing.parent_process() is None:
        raise RuntimeError("called in the test's own process, not in a process of its own")
    os._exit(9)


@pytest.mark.parametrize("step", ["_protect_part", "_audit_part"])
def test_a_release_whose_audit_process_dies_is_refused_and_nothing_is_published(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Regions are audited in processes of their own on a large release: one that dies,
    protecting or checking, refuses the release with a message an operator can act on."""
    from projections.statistics import disclosure

    (settings, _, http), releases = app
    monkeypatch.setattr(disclosure, "PROCESSES_FROM", 0)
    monkeypatch.setattr(disclosure, "_cores", lambda: 2)
    monkeypatch.setattr(disclosure, step, _dies)  # (pickled by name: the processes run it)
    refusal = r"ended before it was done.*Nothing was published"
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(ReleaseRefused, match=refusal) as refused,
    ):
        releases.release(PERIOD)
    # Protecting it (the earlier releases stand), or checking what protect chose.
    assert ("the earlier releases stand" in str(refused.value)) == (step == "_protect_part")
    told = [e for e in logs if e["event"] == "statistics audit progress"]
    assert {e["step"] for e in told} == ({"protect"} if step == "_audit_part" else set())
    assert [e["period"] for e in logs if e["event"] == "statistics audit process ended"] == [
        str(PERIOD)
    ]
    assert releases.store.releases() == []
    assert http.get(ENDPOINTS[0], headers=_reader(settings, "forum")).json() == []


def test_a_release_whose_disclosure_control_published_too_much_is_refused_before_publishing(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``protect`` at fault: every count published and an audit that says all is well. The
    release step's own audit, on a model built afresh, still refuses it."""
    from projections.statistics import disclosure
    from projections.statistics.model import Protected, ReleasedCell

    (settings, _, http), releases = app

    def publishes_everything(population: Any, *_a: Any, **_k: Any) -> Protected:
        values = population.values()
        cells = tuple(
            ReleasedCell(key, "count", float(values[key]), None) for key in population.counts
        )
        return Protected(cells=cells, audit=())

    monkeypatch.setattr(disclosure, "protect", publishes_everything)
    with pytest.raises(ReleaseRefused, match=r"audit before publishing found .* primary rules"):
        releases.release(PERIOD)
    assert releases.store.releases() == []
    assert http.get(ENDPOINTS[0], headers=_reader(settings, "forum")).json() == []


def test_a_release_withholding_a_total_its_published_parts_give_away_is_refused(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``protect`` at fault the other way: it withholds West Flanders' referrals (48, no primary
    rule's business) but publishes both sectors' referrals, which add up to it. The release
    step's audit finds the total pinned and refuses."""
    from projections.statistics import disclosure
    from projections.statistics.model import CellKey, Protected, ReleasedCell

    (settings, _, http), releases = app
    protect = disclosure.protect
    total = CellKey("flow", "west-flanders", "*", "referrals")

    def gives_the_total_away(population: Any, *args: Any, **kwargs: Any) -> Protected:
        chosen = protect(population, *args, **kwargs)
        cells = tuple(
            ReleasedCell(c.key, c.kind, None, "secondary") if c.key == total else c
            for c in chosen.cells
        )
        return Protected(cells=cells, audit=chosen.audit)

    monkeypatch.setattr(disclosure, "protect", gives_the_total_away)
    with pytest.raises(ReleaseRefused, match="narrow below their protection interval"):
        releases.release(PERIOD)
    assert releases.store.releases() == []
    assert http.get(ENDPOINTS[0], headers=_reader(settings, "forum")).json() == []


def test_a_release_publishing_a_quartile_the_rules_withhold_is_refused(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``protect`` at fault: it publishes a quartile of fewer than k trajectories. The release
    step checks every published quartile against the quartile rules and refuses."""
    from projections.statistics import disclosure
    from projections.statistics.model import Protected, ReleasedCell

    (settings, _, http), releases = app
    protect = disclosure.protect

    def publishes_a_withheld_median(population: Any, *args: Any, **kwargs: Any) -> Protected:
        chosen = protect(population, *args, **kwargs)
        median = next(
            c
            for c in chosen.cells
            if c.kind == "quantile" and c.quantile == 0.5 and c.withheld is not None
        )
        cells = tuple(
            ReleasedCell(c.key, c.kind, 14.0, None, c.quantile) if c == median else c
            for c in chosen.cells
        )
        return Protected(cells=cells, audit=chosen.audit)

    monkeypatch.setattr(disclosure, "protect", publishes_a_withheld_median)
    with pytest.raises(ReleaseRefused, match="quartile rules withhold"):
        releases.release(PERIOD)
    assert releases.store.releases() == []
    assert http.get(ENDPOINTS[0], headers=_reader(settings, "forum")).json() == []


def test_the_scheduler_releases_each_closed_period_once(app: tuple[App, Releases]) -> None:
    _, releases = app
    made = releases.run_due()
    # Quarters, as set above: never a year beside them (README, "One grid, not two").
    assert {r.period for r in made} >= {"2025Q2"}
    assert all(Period.parse(r.period).quarter is not None for r in made)
    # The units kept between the run's releases are let go of once the run is over.
    assert releases.digests is None
    assert releases.known_units._units == {}
    assert releases.run_due() == []


#: A day on which 2025 is past its lag and 2026 is not: what falls due does not move with the
#: calendar.
ONE_DAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_on_the_years_grid_the_scheduler_releases_the_year(app: tuple[App, Releases]) -> None:
    _, releases = app
    releases.grid = "years"
    releases.clock = lambda: ONE_DAY
    assert [r.period for r in releases.run_due()] == ["2025"]
    assert releases.run_due() == []


def test_the_scheduler_never_releases_a_year_whose_quarter_was_released(
    app: tuple[App, Releases],
) -> None:
    _, releases = app
    releases.release(PERIOD)  # on quarters, before the deployment switched to years
    releases.grid = "years"
    releases.clock = lambda: ONE_DAY
    # 2025 less its second quarter would say what the other three hold: never due, and said.
    with structlog.testing.capture_logs() as logs:
        assert releases.due(ONE_DAY.date()) == []
    assert [(e["period"], e["overlapping"], e["log_level"]) for e in logs if "period" in e] == [
        ("2025", ["2025Q2"], "warning")
    ]
    assert releases.run_due() == []
    with pytest.raises(ReleaseRefused, match="2025 overlaps 2025Q2, released before"):
        releases.release(Period(2025))


def test_a_year_is_not_saved_beside_a_quarter_another_process_saved_meanwhile(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes set to different grids (a misconfiguration): whichever saves second is
    refused, checked under the release store's lock, not only before the long computation."""
    (settings, container, _), quarters = app
    years = build_releases(settings, container.policy, container.worker.database)
    years.grid = "years"
    compute = years.compute

    def meanwhile(period: Period, *read: Any) -> Any:
        found = compute(period, *read)
        if not quarters.store.releases():
            quarters.release(PERIOD)  # the other process saves 2025Q2 during the year's audit
        return found

    monkeypatch.setattr(years, "compute", meanwhile)
    try:
        with pytest.raises(ReleaseRefused, match="2025 overlaps 2025Q2, released before"):
            years.release(Period(2025))
    finally:
        years.store.close()
    assert [r.period for r in quarters.store.releases()] == ["2025Q2"]


def test_a_quarter_saved_meanwhile_by_another_process_is_audited_before_saving(
    app: tuple[App, Releases], monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings, container, _), releases = app
    other = build_releases(settings, container.policy, container.worker.database)
    other.grid = "quarters"
    compute = releases.compute
    computed: list[Period] = []

    def meanwhile(period: Period, *read: Any) -> Any:
        found = compute(period, *read)
        computed.append(period)
        if len(computed) == 1:
            other.release(Period(2025, 3))  # saved while this process audits 2025Q2
        return found

    monkeypatch.setattr(releases, "compute", meanwhile)
    try:
        made = releases.release(PERIOD)
    finally:
        other.store.close()
    # Computed twice: the first audit had not seen 2025Q3, so it was not saved.
    assert computed == [PERIOD, PERIOD]
    (third,) = [r for r in releases.store.releases() if r.period == "2025Q3"]
    assert made.audit.earlier_versions == [third.number]


def test_an_unknown_release_or_table_is_not_found(app: tuple[App, Releases]) -> None:
    (settings, _, http), releases = app
    releases.release(PERIOD)
    reader = _reader(settings, "forum")
    for path in ("/v1/statistics/releases/9", "/v1/statistics/releases/1/tables/nonsense"):
        response = http.get(path, headers=reader)
        assert response.status_code == 404, response.text
    bad = http.get("/v1/statistics/releases?period=2025Q5", headers=reader)
    assert bad.status_code == 400 or bad.status_code == 422, bad.text
    # A number no store can hold is bad input, not an error of the service (it was a 500).
    for path in (
        "/v1/statistics/releases/9223372036854775808",
        "/v1/statistics/releases/0",
        "/v1/statistics/releases/9223372036854775808/tables/flow",
    ):
        huge = http.get(path, headers=reader)
        assert huge.status_code == 422, huge.text
        assert huge.headers["content-type"].startswith("application/problem+json"), huge.text


def test_an_earlier_release_tells_the_next_audit_what_its_quartiles_said(
    app: tuple[App, Releases],
) -> None:
    """The quartiles a release published are inequalities of every later audit of its year:
    the store gives them back as the earlier version's floors (a median at k = 10: at least
    20 trajectories). A release of rule set 1, whose units hold no sizes, gives none."""
    from projections.statistics.model import CellKey, quantile_size
    from projections.statistics.store import CellRow

    _, releases = app
    made = releases.store.release(releases.release(PERIOD).number)
    assert made is not None
    median = CellRow(
        sector="*", category="days_to_acceptance", kind="quantile", value=21.0, quantile=0.5
    )
    size = quantile_size(CellKey("flow", "west-flanders", "*", "days_to_acceptance"))
    units = {"west-flanders": {f"u{i}": {size: 1} for i in range(24)}}
    for number, rule_set in (
        (made.number + 1, "rodedraad-statistics/2"),
        (made.number + 2, "rodedraad-statistics/1"),
    ):
        said = msgspec.structs.replace(made, rule_set=rule_set, number=number, revises=number - 1)
        releases.store.save(said, {("flow", "west-flanders"): [median]}, units)

    floors = [v.floors for v in releases.store.published_versions([PERIOD])]

    assert floors[1:] == [{size: 20}, {}]


def test_a_release_says_how_far_its_audit_is_region_by_region(app: tuple[App, Releases]) -> None:
    """A year's audit takes minutes at 100,000 trajectories: the release logs each part (a
    region) of protecting and of checking as it ends, with counts only."""
    _, releases = app
    with structlog.testing.capture_logs() as logs:
        releases.release(PERIOD)
    told = [e for e in logs if e["event"] == "statistics audit progress"]
    for step in ("protect", "check"):
        steps = [(e["parts_done"], e["parts"]) for e in told if e["step"] == step]
        assert steps, step
        assert steps == [(n, steps[0][1]) for n in range(1, steps[0][1] + 1)], step
    assert {e["period"] for e in told} == {str(PERIOD)}
    assert all(
        set(e) <= {"event", "log_level", "period", "step", "parts_done", "parts"} for e in told
    )
