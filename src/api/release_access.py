"""Who may read which statistics release, and a region's published dynamics (issue #12, #13),
decided once for the API's statistics routes and the pages' process map (issue #23): a page
never draws what the API would not answer. Learning networks read releases only, never the
read models.
"""

import anyio.to_thread
import msgspec

from api.access import STATISTICS_READERS, AccessPolicy, Forbidden
from api.auth import Principal
from api.common import Caller, StandbyBehind
from api.schemas import MapEdge, MapNode, ProcessMapView, ReleaseSummary
from api.services import ApiServices
from domain.errors import NotFound
from projections.statistics import dynamics
from projections.statistics.model import ALL_SECTORS, Period
from projections.statistics.store import CellRow, ReleaseDescription, ReleaseStore


class ReleaseNotFound(NotFound):
    rule = "statistics-release-not-found"


def release_store(services: ApiServices) -> ReleaseStore:
    """Where releases are read: the hot standby's copy when there is one (a release is the
    same for every reader of a region: who reads which region follows from the token alone)."""
    if services.releases is None:  # pragma: no cover - every deployment has one
        raise ReleaseNotFound("this deployment keeps no statistics releases")
    return services.standby_releases or services.releases


def statistics_reader(
    services: ApiServices, request: Caller
) -> tuple[Principal, frozenset[str] | None]:
    policy: AccessPolicy = services.policy
    acting = policy.require_role(request.user, "read statistics releases", STATISTICS_READERS)
    return acting, policy.statistics_regions(acting)


def visible_regions(release: ReleaseDescription, regions: frozenset[str] | None) -> list[str]:
    return [r for r in release.regions if regions is None or r in regions]


def release_summary(release: ReleaseDescription, regions: frozenset[str] | None) -> ReleaseSummary:
    return ReleaseSummary(
        number=release.number,
        period=release.period,
        revises=release.revises,
        computed_at=release.computed_at,
        log_position=release.log_position,
        rule_set=release.rule_set,
        k=release.k,
        deployment=release.deployment,
        regions=visible_regions(release, regions),
    )


async def read_releases(
    services: ApiServices, request: Caller, period: Period | None
) -> list[ReleaseSummary]:
    """Every release (of ``period``), newest first, with the regions of it the caller reads."""
    _, regions = statistics_reader(services, request)
    store = release_store(services)
    found = await anyio.to_thread.run_sync(lambda: store.releases(period))
    return [release_summary(r, regions) for r in found]


def release_of(services: ApiServices, store: ReleaseStore, number: int) -> ReleaseDescription:
    release = store.release(number)
    if release is None:
        primary = services.releases
        if store is not primary and primary is not None and primary.release(number) is not None:
            raise StandbyBehind()  # saved on the primary, not replayed on the standby yet
        raise ReleaseNotFound(f"no statistics release numbered {number}")
    return release


def require_region(services: ApiServices, request: Caller, region: str) -> None:
    """403 for a region whose statistics the caller does not read."""
    _, regions = statistics_reader(services, request)
    if regions is not None and region not in regions:
        raise Forbidden(
            f"statistics of region {region!r} are not yours to read: a learning network and an "
            "auditor read their own region's releases, the forum every region's"
        )


def published_dynamics(
    services: ApiServices, request: Caller, number: int, region: str
) -> tuple[ReleaseDescription, dict[str, CellRow], dict[str, float]]:
    """A region's published dynamics cells of a release, by category, and the published median
    (days) per ``weeks:`` category. 404 for a release or region it does not hold, 403 for a
    region the caller does not read."""
    require_region(services, request, region)
    store = release_store(services)
    release = release_of(services, store, number)
    if region not in release.regions:
        raise ReleaseNotFound(
            f"release {number} holds no region {region!r}; it holds {', '.join(release.regions)}"
        )
    rows = store.cells(number, dynamics.DYNAMICS, [region]).get(region, [])
    counts: dict[str, CellRow] = {}
    medians: dict[str, float] = {}
    for row in rows:
        if row.value is None:
            continue
        if row.kind == "quantile":
            if row.quantile == 0.5:
                medians[row.category] = row.value
        else:
            counts[row.category] = row
    return release, counts, medians


def category_pair(rest: str) -> tuple[str, str]:
    first, _, second = rest.partition(">")
    return first, second


async def read_process_map(
    services: ApiServices, request: Caller, number: int, region: str
) -> ProcessMapView:
    """The directly-follows graph of a region in a release: its published nodes and edges only
    (a withheld one is not listed, nor counted), each edge with its median gap in weeks where
    that is published."""
    release, cells, medians = await anyio.to_thread.run_sync(
        lambda: published_dynamics(services, request, number, region)
    )
    nodes = [
        MapNode(category.removeprefix("node:"), int(row.value or 0))
        for category, row in sorted(cells.items())
        if category.startswith("node:")
    ]
    edges = []
    for category, row in sorted(cells.items()):
        if category.startswith("edge:"):
            pair = category.removeprefix("edge:")
            median = medians.get(f"weeks:{pair}")
            edges.append(
                MapEdge(
                    *category_pair(pair),
                    count=int(row.value or 0),
                    median_weeks=None if median is None else round(median / 7, 1),
                )
            )
    return ProcessMapView(release.number, release.period, region, release.k, nodes, edges)


#: The tables the trend of a region is drawn from, at the region's all-sectors cells.
TREND_TABLES = ("flow", "procedures")


class RegionRelease(msgspec.Struct, frozen=True):
    """One period's newest release, as far as a region's trend reads it: its all-sectors
    cells of ``TREND_TABLES`` by category (published or withheld, as stored)."""

    number: int
    period: str
    cells: dict[str, CellRow]


def trend_releases(services: ApiServices, request: Caller, region: str) -> list[RegionRelease]:
    """Per period, the newest release holding ``region`` (a revision replaces what it revises),
    oldest period first. 403 for a region the caller does not read: the same rule as a
    region's process map, so a network never sees another region's numbers."""
    require_region(services, request, region)
    store = release_store(services)
    newest: dict[str, ReleaseDescription] = {}
    for release in store.releases():  # newest first
        if region in release.regions:
            newest.setdefault(release.period, release)
    found = []
    for period, release in sorted(newest.items(), key=lambda item: _period_order(item[0])):
        cells = {
            row.category: row
            for table in TREND_TABLES
            for row in store.cells(release.number, table, [region]).get(region, [])
            if row.sector == ALL_SECTORS
        }
        found.append(RegionRelease(release.number, period, cells))
    return found


def _period_order(period: str) -> tuple[int, int]:
    """Quarters in order, a year after its fourth quarter."""
    parsed = Period.parse(period)
    return parsed.year, parsed.quarter or 5


async def read_trend(services: ApiServices, request: Caller, region: str) -> list[RegionRelease]:
    return await anyio.to_thread.run_sync(lambda: trend_releases(services, request, region))
