"""Statistics releases for learning networks (issue #12): read-only, released numbers only.

Learning networks never query the read models: they read releases, each immutable, so nothing
they can read changes between two releases. A region's ``learning_network`` and its auditors read
the cells of their region, the ``forum`` those of every region of the deployment. Every other
role gets 403. What each table and category means is in the answer (``TableSpec``) and the
README.
"""

from collections.abc import Sequence
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, Response, get
from litestar.params import PathParameter

from api.access import Role, role_of
from api.common import Caller, Services
from api.release_access import (
    ReleaseNotFound,
    category_pair,
    published_dynamics,
    read_process_map,
    read_releases,
    release_of,
    release_store,
    release_summary,
    statistics_reader,
    visible_regions,
)
from api.schemas import (
    EarlyFactorsView,
    EarlyFactorView,
    PathsView,
    PathView,
    PeriodFilter,
    ProcessMapView,
    ReleaseAudit,
    ReleaseNumber,
    ReleaseRegion,
    ReleaseSummary,
    ReleaseTableSummary,
    ReleaseTableView,
    ReleaseView,
    TwoByTwo,
)
from projections.statistics import dynamics
from projections.statistics.document import cell_documents
from projections.statistics.model import Period
from projections.statistics.store import CellRow, ReleaseDescription, TableSummary
from projections.statistics.tables import TABLES

_SPECS = {spec.name: spec for spec in TABLES}
#: A table's name (``GET /v1/statistics/releases/{number}`` lists them).
TableName = Annotated[str, PathParameter(pattern=r"^[a-z_]{1,40}$")]
#: Releases never change: a client may keep what it read.
_IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}


def _table_summary(table: TableSummary, cells: Sequence[CellRow]) -> ReleaseTableSummary:
    """Cells and the share published in the caller's regions; which rule withheld how many, over
    every region of the release (per region, a tally could name the rule of a single cell)."""
    spec = _SPECS[table.name]
    published = sum(1 for c in cells if c.withheld is None)
    return ReleaseTableSummary(
        name=table.name,
        title=spec.title,
        description=spec.description,
        seeds=list(spec.seeds),
        cells=len(cells),
        published=published,
        published_share=round(published / len(cells), 4) if cells else 0.0,
        withheld_by_rule=dict(table.withheld_by_rule),
    )


def _audit_for(release: ReleaseDescription, role: str, visible: Sequence[str]) -> ReleaseAudit:
    """The audit as ``role`` reads it. Which regions a revision said again or held back tells
    whether late facts fell there, and a region held back that a withheld number of its own
    would be narrowed by what was published: an auditor reads them for the regions it reads,
    a learning network and the forum do not (``null``).

    Nor, in a revision, does any reader get its counts (how many withheld counts it audited,
    how narrowly, how many it cut to what earlier releases left): they cover the regions it
    audited again only, and every reader gets each table's tallies of withheld cells over every
    region (``withheld_by_rule``), so set against them they would tell the regions not audited
    again from the others — to an auditor, of regions it does not read. A first release audits
    every region."""
    audit = release.audit

    def told(regions: list[str] | None) -> list[str] | None:
        if role != Role.AUDITOR or regions is None:
            return None
        return [r for r in regions if r in visible]

    first = release.revises is None
    return ReleaseAudit(
        withheld_counts_audited=audit.withheld_counts_audited if first else None,
        earlier_versions=audit.earlier_versions,
        narrowest_margin=audit.narrowest_margin if first else None,
        narrowed_before=audit.narrowed_before if first else None,
        said_again=told(audit.said_again),
        held_back=told(audit.held_back),
    )


def _value(row: CellRow | None) -> int | None:
    return None if row is None or row.value is None else int(row.value)


class StatisticsController(Controller):
    tags = ["statistics"]

    @get("/v1/statistics/releases", summary="The statistics releases, newest first")
    async def releases(
        self, request: Caller, services: Services, period: PeriodFilter = None
    ) -> list[ReleaseSummary]:
        """Every release (of ``period``), with the regions of it the caller reads."""
        return await read_releases(
            services, request, Period.parse(period) if period is not None else None
        )

    @get("/v1/statistics/releases/{number:int}", summary="A release and its tables")
    async def release(
        self, number: ReleaseNumber, request: Caller, services: Services
    ) -> Response[ReleaseView]:
        """What the release was computed under (period, log position, rule set, k, the deadline
        policy of each region) and, per table, what share of its cells it publishes for the
        caller's regions and which rule withheld the rest."""
        acting, regions = statistics_reader(services, request)
        store = release_store(services)

        def read() -> tuple[ReleaseDescription, list[ReleaseTableSummary]]:
            release = release_of(services, store, number)
            visible = visible_regions(release, regions)
            summaries = []
            for table in release.tables:
                cells = store.cells(number, table.name, visible)
                summaries.append(
                    _table_summary(table, [c for rows in cells.values() for c in rows])
                )
            return release, summaries

        release, summaries = await anyio.to_thread.run_sync(read)
        visible = visible_regions(release, regions)
        view = ReleaseView(
            **msgspec.structs.asdict(release_summary(release, regions)),
            deadline_policies={r: f for r, f in release.deadline_policies.items() if r in visible},
            tables=summaries,
            audit=_audit_for(release, role_of(acting), visible),
        )
        return Response(view, headers=_IMMUTABLE)

    @get(
        "/v1/statistics/releases/{number:int}/tables/{name:str}",
        summary="A table of a release, for the caller's regions",
    )
    async def table(
        self, number: ReleaseNumber, name: TableName, request: Caller, services: Services
    ) -> Response[ReleaseTableView]:
        """Every cell of the table in the caller's regions: per sector (``*`` = all sectors of
        the region) and category, its value, or ``null`` and why (``suppressed`` by disclosure
        control, or ``rate_part_withheld``)."""
        _, regions = statistics_reader(services, request)
        store = release_store(services)
        spec = _SPECS.get(name)
        if spec is None:
            raise ReleaseNotFound(
                f"no statistics table {name!r}; the tables are {', '.join(_SPECS)}"
            )

        def read() -> tuple[ReleaseDescription, dict[str, list[CellRow]]]:
            release = release_of(services, store, number)
            return release, store.cells(number, name, visible_regions(release, regions))

        release, cells = await anyio.to_thread.run_sync(read)
        view = ReleaseTableView(
            number=release.number,
            period=release.period,
            name=spec.name,
            title=spec.title,
            description=spec.description,
            seeds=list(spec.seeds),
            categories=dict(spec.categories),
            regions=sorted(cells),
            cells=cell_documents(cells),
        )
        return Response(view, headers=_IMMUTABLE)

    @get(
        "/v1/statistics/releases/{number:int}/process-map",
        summary="The process map of a region in a release: published nodes and edges",
    )
    async def process_map(
        self, number: ReleaseNumber, region: ReleaseRegion, request: Caller, services: Services
    ) -> Response[ProcessMapView]:
        """The directly-follows graph of the region's trajectories referred in the period, up to
        its last day: each published activity with its occurrences, each published edge with
        its occurrences and median gap in weeks. A withheld node or edge is not listed at all (nor
        counted): what is absent occurred not at all or was withheld."""
        view = await read_process_map(services, request, number, region)
        return Response(view, headers=_IMMUTABLE)

    @get(
        "/v1/statistics/releases/{number:int}/paths",
        summary="The published paths into and out of a block, with their shares",
    )
    async def paths(
        self, number: ReleaseNumber, region: ReleaseRegion, request: Caller, services: Services
    ) -> Response[PathsView]:
        """The two activities that came right before a block (``into_block``) and before its end
        (``out_of_block``), as counts and as shares of the region's blocks (block ends), most
        common first; only what is published."""
        release, cells, _ = await anyio.to_thread.run_sync(
            lambda: published_dynamics(services, request, number, region)
        )
        shares = {c: row.value for c, row in cells.items() if c.startswith("share_")}

        def listed(kind: str) -> list[PathView]:
            found = [
                PathView(
                    list(category_pair(category.removeprefix(f"{kind}:"))),
                    int(row.value or 0),
                    shares.get(f"share_{category}"),
                )
                for category, row in cells.items()
                if category.startswith(f"{kind}:")
            ]
            return sorted(found, key=lambda p: (-p.count, p.before))

        view = PathsView(
            release.number,
            release.period,
            region,
            release.k,
            blocks=_value(cells.get("node:blocked")),
            unblocks=_value(cells.get("node:unblocked")),
            into_block=listed("into_block"),
            out_of_block=listed("out_of_block"),
        )
        return Response(view, headers=_IMMUTABLE)

    @get(
        "/v1/statistics/releases/{number:int}/early-factors",
        summary="What is present early in trajectories that got blocked: relative risks",
    )
    async def early_factors(
        self, number: ReleaseNumber, region: ReleaseRegion, request: Caller, services: Services
    ) -> Response[EarlyFactorsView]:
        """Per factor known in the first three months after referral, the two-by-two table
        (factor present or absent, by blocked by the period's end or not; ``null`` where withheld)
        and, when all four are published and at least k, the relative risk of being blocked
        with the factor present against absent and its 95 % confidence interval."""
        release, cells, _ = await anyio.to_thread.run_sync(
            lambda: published_dynamics(services, request, number, region)
        )

        def count(factor: str, present: bool, blocked: bool) -> int | None:
            return _value(cells.get(dynamics.early(factor, present, blocked)))

        def rate(name: str) -> float | None:
            row = cells.get(name)
            return None if row is None else row.value

        factors = [
            EarlyFactorView(
                factor,
                TwoByTwo(
                    count(factor, True, True),
                    count(factor, True, False),
                    count(factor, False, True),
                    count(factor, False, False),
                ),
                rate(f"rr:{factor}"),
                rate(f"rr_low:{factor}"),
                rate(f"rr_high:{factor}"),
            )
            for factor in dynamics.FACTORS
        ]
        view = EarlyFactorsView(release.number, release.period, region, release.k, factors)
        return Response(view, headers=_IMMUTABLE)
