"""Queries on the read models: plan state, timeline, the coordinators' board, the list.

Read-your-writes: a command answers with the log ``position`` it reached; a query given
``min_position`` (query parameter or ``X-Min-Position`` header) waits, up to ``max_wait_ms``,
until the read model has processed that position, and answers 503 if it has not.
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
import anyio.to_thread
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter

from api.access import CASE_READERS
from api.audit import record_read
from api.auth import Principal
from api.commands import etag, on_behalf_of
from api.schemas import RefFilter
from api.services import ApiServices
from domain.common import ReasonCategory, Sector
from domain.errors import TrajectoryNotFound
from projections.plan_state.board import Board, BoardFilter
from projections.plan_state.sealed import DocumentErased, open_document
from projections.queries import ReadModelQueries
from projections.timeline import Timeline
from projections.views import TrajectoryView

MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="min_position",
        ge=1,
        required=False,
        description="Wait until the read model has processed this log position (from a command)",
    ),
]
MinPositionHeader = Annotated[
    int | None,
    HeaderParameter(name="X-Min-Position", ge=1, required=False, description="As min_position"),
]
MaxWait = Annotated[
    int,
    QueryParameter(
        name="max_wait_ms", ge=0, le=10_000, description="How long to wait for min_position"
    ),
]


class ReadModelBehind(Exception):
    """The read model has not reached the position the caller asked for, within the wait."""

    def __init__(self, projection: str, position: int, wanted: int) -> None:
        super().__init__(
            f"the {projection} read model is at log position {position}, not yet at {wanted}; "
            "retry shortly"
        )
        self.message = str(self)


class ErasureInProgress(ReadModelBehind):
    """The client was erased a moment ago; the read model has yet to rewrite the trajectory."""

    def __init__(self) -> None:
        self.message = (
            "the client's personal data was just erased and this plan state is being rewritten "
            "without it; retry shortly"
        )
        Exception.__init__(self, self.message)


async def await_position(
    queries: NamedDependency[ReadModelQueries],
    projection: str,
    wanted: int | None,
    max_wait_ms: int,
) -> None:
    if wanted is None:
        return
    deadline = anyio.current_time() + max_wait_ms / 1000
    delay = 0.002
    while True:
        position = (await queries.tracking.positions()).get(projection, 0)
        if position >= wanted:
            return
        if anyio.current_time() >= deadline:
            raise ReadModelBehind(projection, position, wanted)
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def authorise_trajectory_read(
    services: ApiServices, request: Request[Principal, Any, Any], trajectory_id: UUID, action: str
) -> tuple[Principal, UUID]:
    """Role, then relation (404 if none), then the representative acted for. → (the principal
    acting in the role that may read, the client id)."""
    services.policy.require_role(request.user, action, CASE_READERS)
    info = await services.queries.plan_state.access_info(trajectory_id)
    if info is None:
        raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
    return await authorise_related(services, request, trajectory_id, action, info)


async def authorise_related(
    services: ApiServices,
    request: Request[Principal, Any, Any],
    trajectory_id: UUID,
    action: str,
    info: tuple[UUID, str, list[str]],
) -> tuple[Principal, UUID]:
    """The relation part of ``authorise_trajectory_read``, on the access facts already read.
    Most readers are decided on the read model's row; only a reader who is not a party waits
    for the client's record (its consents), in a worker thread."""
    principal, policy = request.user, services.policy
    client_id, region, parties = info
    acting = policy.trajectory_reader_without_client(principal, parties, region)
    if acting is None:
        acting = await anyio.to_thread.run_sync(
            policy.trajectory_reader, principal, action, trajectory_id, parties, client_id, region
        )
    representative = on_behalf_of(request)
    if representative is not None:
        client = await anyio.to_thread.run_sync(services.care_record.client, client_id)
        client.check_may_act_for(representative)
    return acting, client_id


class ReadController(Controller):
    tags = ["read models"]

    @get("/v1/trajectories/{trajectory_id:uuid}", summary="Plan state of one trajectory")
    async def plan_state(
        self,
        trajectory_id: FromPath[UUID],
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
        queries: NamedDependency[ReadModelQueries],
        min_position: MinPosition = None,
        x_min_position: MinPositionHeader = None,
        max_wait_ms: MaxWait = 2000,
    ) -> Response[TrajectoryView]:
        """Parties and roles in force, goals and actions, the signed plan, what is next."""
        await await_position(queries, "plan_state", min_position or x_min_position, max_wait_ms)
        services.policy.require_role(request.user, "read", CASE_READERS)
        found = await queries.plan_state.document_with_access(trajectory_id)
        if found is None:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        info, document = found
        acting, client_id = await authorise_related(services, request, trajectory_id, "read", info)

        def record_and_open() -> bytes:
            """One worker thread: the read is recorded, then the document opened (its key may
            come from the database)."""
            record_read(services.access_log, request, acting, client_id, trajectory_id)
            try:
                return open_document(
                    services.care_record.keys, trajectory_id, document.erased, document.stored
                )
            except DocumentErased:
                raise ErasureInProgress() from None

        doc: Any = await anyio.to_thread.run_sync(record_and_open)  # a TrajectoryView's JSON
        return Response(
            content=doc, media_type="application/json", headers={"ETag": etag(document.version)}
        )

    @get("/v1/trajectories/{trajectory_id:uuid}/timeline", summary="Escalation timeline")
    async def timeline(
        self,
        trajectory_id: FromPath[UUID],
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
        queries: NamedDependency[ReadModelQueries],
        min_position: MinPosition = None,
        x_min_position: MinPositionHeader = None,
        max_wait_ms: MaxWait = 2000,
    ) -> Timeline:
        """Consultations, escalations, blocks (with days blocked), handovers, evaluations and
        missed deadlines, in the order they happened, each with who recorded it and when."""
        await await_position(queries, "timeline", min_position or x_min_position, max_wait_ms)
        await authorise_trajectory_read(services, request, trajectory_id, "read the timeline")
        found = await queries.timeline.of_trajectory(trajectory_id)
        if found is None:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        return found

    @get("/v1/board", summary="Coordinators' board: blocked and at-risk trajectories")
    async def board(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
        queries: NamedDependency[ReadModelQueries],
        organisation: RefFilter = None,
        region: RefFilter = None,
        sector: FromQuery[Sector | None] = None,
        reason: FromQuery[ReasonCategory | None] = None,
        min_days: Annotated[int, QueryParameter(ge=0, le=36500)] = 0,
        idle_days: Annotated[int, QueryParameter(ge=1, le=3650)] = 90,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        min_position: MinPosition = None,
        max_wait_ms: MaxWait = 2000,
    ) -> Board:
        """Longest stuck first: blocked, an open escalation, a consultation overdue, or nothing
        recorded for ``idle_days``."""
        await await_position(queries, "plan_state", min_position, max_wait_ms)
        _, organisation, region = services.policy.list_scope(request.user, organisation, region)
        return await queries.plan_state.board(
            BoardFilter(
                organisation=organisation,
                region=region,
                sector=sector,
                reason=reason,
                min_days=min_days,
                idle_days=idle_days,
                limit=limit,
            ),
            now=datetime.now(UTC),
        )
