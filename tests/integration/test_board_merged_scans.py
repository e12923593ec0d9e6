"""The board's merged index scans answer exactly what a scan of the whole scope answers (issue
#22 point 4), on both backends.

``board_query`` takes the first ``limit`` of each component of "stuck" by index (the anchor,
an overdue consultation, a silence) and merges them. Here it is compared, row for row and in
order, with the query it replaced: every open trajectory of the scope, "stuck since" computed
for each, sorted and cut. The workload is the benchmark's (blocks, escalations, consultations,
silences, closed trajectories), and the filters are many combinations of scope, sector, reason,
``min_days``, ``idle_days`` and ``limit``, each at several moments: "stuck" depends on today.
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
from benchmarks.board_probe import scan_query
from benchmarks.workload import BatchLoader, default_as_of, generate, organisations_registered_on

from domain.common import ReasonCategory, Sector
from projections.plan_state.board import BoardFilter, board_query
from projections.plan_state.projection import PlanStateProjection
from projections.read_postgres import PostgresRunner, postgres_queries
from projections.read_sqlite import SqliteRunner, sqlite_queries
from projections.store import iso
from rodedraad.settings import Settings
from rodedraad.wiring import (
    build_care_record,
    build_projection_database,
    build_projection_worker,
)
from tests.integration.databases import BACKENDS, fresh_settings, require_backend

AS_OF = default_as_of()
TRAJECTORIES = 300


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The benchmark's workload of ``TRAJECTORIES``, its plan state caught up."""
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path_factory.mktemp("board")) as settings:
        loader = BatchLoader(settings, batch_size=60)
        try:
            loader.load(
                generate(11, TRAJECTORIES, as_of=AS_OF),
                organisations_registered_on=organisations_registered_on(AS_OF),
            )
        finally:
            loader.close()
        record = build_care_record(settings)
        worker = build_projection_worker(settings, record)
        try:
            worker.catch_up()
        finally:
            worker.database.close()
            record.close()
        yield settings


def _runner(settings: Settings) -> PostgresRunner | SqliteRunner:
    if settings.database.is_postgres:
        return postgres_queries(settings.database.url)[1]
    return sqlite_queries(settings.data_dir / "readmodels.sqlite")[1]


def _filters(
    scopes: list[tuple[str | None, str | None]], rng: random.Random, reasons: list[ReasonCategory]
) -> list[BoardFilter]:
    """Every scope with the defaults, then random combinations of every filter."""
    filters = [BoardFilter(organisation=o, region=r) for o, r in scopes]
    for _ in range(120):
        organisation, region = rng.choice(scopes)
        filters.append(
            BoardFilter(
                organisation=organisation,
                region=region,
                sector=rng.choice([None, None, *Sector]),
                reason=rng.choice([*([None] * len(reasons)), *reasons]),
                min_days=rng.choice([0, 0, 1, 7, 30, 90, 365, 2000]),
                idle_days=rng.choice([1, 7, 30, 90, 90, 365, 3650]),
                limit=rng.choice([1, 2, 3, 5, 10, 25, 100, 500]),
            )
        )
    return filters


async def _compare(
    runner: PostgresRunner | SqliteRunner,
    moments: list[datetime],
    reasons: list[ReasonCategory],
    rng: random.Random,
) -> tuple[int, int, int, int]:
    """Both queries for each moment and filter (the scopes found in the read model): the same
    rows in the same order. → (boards compared, with rows, cut at their limit, with a tie)."""
    try:
        orgs = await runner.fetch(
            "SELECT organisation, COUNT(*) FROM rm_trajectory_parties "
            "GROUP BY organisation ORDER BY COUNT(*) DESC, organisation",
            [],
        )
        regions = await runner.fetch("SELECT DISTINCT region FROM rm_trajectories", [])
        scopes: list[tuple[str | None, str | None]] = [(None, None), ("no-such-org", None)]
        scopes += [(str(o), None) for o, _ in orgs[:6]] + [(str(orgs[-1][0]), None)]
        scopes += [(None, str(r)) for (r,) in regions] + [(None, "no-such-region")]
        scopes += [(str(orgs[0][0]), str(r)) for (r,) in regions]
        compared = nonempty = full = ties = 0
        for now in moments:
            for f in _filters(scopes, rng, reasons):
                expected = await runner.fetch(*scan_query(f, now, runner.dialect))
                found = await runner.fetch(*board_query(f, now, runner.dialect))
                assert found == expected, (f, now)
                compared += 1
                nonempty += bool(found)
                full += len(found) == f.limit
                ties += any(a[-1] == b[-1] for a, b in pairwise(found))
        return compared, nonempty, full, ties
    finally:
        await runner.close()


def test_the_merged_scans_answer_what_a_scan_of_the_scope_answers(loaded: Settings) -> None:
    midday = datetime.combine(AS_OF, time(13, 37, 12, 345678), UTC)
    moments = [midday + timedelta(days=d) for d in (-60, -20, -3, 0, 2, 30, 120, 700)]
    moments.append(datetime.combine(AS_OF, time(), UTC))  # midnight: a consultation due today
    reasons = list(ReasonCategory)

    compared, nonempty, full, ties = anyio.run(
        _compare, _runner(loaded), moments, reasons, random.Random(22)
    )

    # Not vacuous (many combinations are empty by design: another sector, a reason no open
    # trajectory has, a moment before the workload): boards with rows, boards cut at their
    # limit, and boards with rows stuck since the same moment (their order is the id's).
    assert nonempty > compared // 8, (nonempty, compared)
    assert full > compared // 50, (full, compared)
    assert ties > 0


#: The synthetic read model's few distinct moments: most rows tie with others in each list.
_DAY = datetime(2026, 6, 15, tzinfo=UTC)
_STATUSES = ["referred", "accepted", "active", "active", "blocked", "closed", "declined"]


def _synthetic_rows(rng: random.Random, count: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """``count`` plan-state rows (and their parties) drawn from a handful of values each, so
    that the three lists tie often, at and across their ``limit``: what the workload rarely
    does. Consistent as the projection writes them: a board column is its component when the
    trajectory can be stuck, NULL otherwise; a block or an escalation gives the anchor."""
    rows, parties = [], []
    for n in range(count):
        trajectory_id = str(UUID(int=rng.getrandbits(128)))
        status = rng.choice(_STATUSES)
        anchor = (
            iso(_DAY + timedelta(days=rng.choice([-40, -10, -3, 0])))
            if status == "blocked" or rng.random() < 0.3
            else None
        )
        consultation = (
            (_DAY.date() + timedelta(days=rng.choice([-30, -5, -1, 0, 1, 20]))).isoformat()
            if rng.random() < 0.7
            else None
        )
        recorded = iso(_DAY + timedelta(days=rng.choice([-400, -100, -40, -5, 0]), hours=9))
        can_be_stuck = status in ("referred", "accepted", "active", "blocked")
        reasons = rng.choice(["", ",capacity,", ",funding,", ",capacity,waiting_list,"])
        rows.append(
            (
                trajectory_id,
                1,
                f"client-{n}",
                status,
                rng.choice(["youth_care", "mental_health"]),
                rng.choice(["antwerp", "limburg", "west-flanders"]),
                "org-ref",
                "org-a",
                iso(_DAY - timedelta(days=500)),
                recorded,
                consultation,
                None,
                anchor if status == "blocked" else None,
                int(anchor is not None),
                anchor,
                reasons if anchor else "",
                0,
                "",
                anchor,
                *((anchor, consultation, recorded) if can_be_stuck else (None, None, None)),
                0,
                None,
                b"",
                b"",
            )
        )
        for organisation in rng.sample(["org-a", "org-b", "org-c", "org-d"], rng.randint(1, 3)):
            board = rows[-1][19:22]
            parties.append((organisation, trajectory_id, rows[-1][8], *board))
    return rows, parties


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_merged_scans_order_ties_as_the_scan_does(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    require_backend(request, backend)
    rng = random.Random(4)
    rows, parties = _synthetic_rows(rng, 700)
    with fresh_settings(backend, tmp_path) as settings:
        database = build_projection_database(settings)
        try:
            with database.transaction() as tx:
                for statement in PlanStateProjection(keys=None).ddl("", "synthetic"):  # type: ignore[arg-type]
                    tx.execute(statement)
                marks = ", ".join("?" * len(rows[0]))
                tx.executemany(f"INSERT INTO rm_trajectories VALUES ({marks})", rows)
                tx.executemany(
                    "INSERT INTO rm_trajectory_parties VALUES (?, ?, ?, ?, ?, ?)", parties
                )
        finally:
            database.close()
        moments = [
            _DAY + timedelta(days=d, hours=h) for d in (-41, -10, -1, 0, 1, 30) for h in (0, 9, 15)
        ]
        compared, _, full, ties = anyio.run(
            _compare, _runner(settings), moments, [ReasonCategory.CAPACITY], rng
        )

    assert full > compared // 5, (full, compared)
    assert ties > compared // 5, (ties, compared)
