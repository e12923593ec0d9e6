"""Queries: the read models (plan state, timeline, the coordinators' board) and a client's record.

Read-your-writes: a query given the ``position`` a command answered with (``min_position`` or
``X-Min-Position``) waits for the read model to reach it (``api.common.ReadYourWrites``, a
dependency that declares those parameters once).
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from litestar import Controller, Response, get
from litestar.params import FromQuery, QueryParameter

from api.access import CASE_READERS
from api.auth import Principal
from api.common import (
    Caller,
    Consistency,
    ErasureInProgress,
    Id,
    Queries,
    Services,
    StandbyBehind,
    etag,
    on_behalf_of,
    record_read,
)
from api.schemas import RefFilter
from api.services import ApiServices
from application import fhir
from domain.common import ReasonCategory, Sector
from domain.errors import TrajectoryNotFound
from projections.plan_state.board import Board, BoardFilter
from projections.plan_state.sealed import DocumentErased, open_document
from projections.plan_state.standby import plan_state_lists
from projections.queries import ReadModelQueries
from projections.timeline import Timeline
from projections.views import ClientView, TrajectoryView, client_view


async def authorise_trajectory_read(
    services: ApiServices, request: Caller, trajectory_id: UUID, action: str
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
    request: Caller,
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


async def _from_standby(
    services: ApiServices, standby: ReadModelQueries, trajectory_id: UUID
) -> tuple[Any, Any]:
    """The access facts from the primary, the document from the standby. A trajectory the
    standby has not replayed yet is a read model behind (503, retry), never a 404."""
    info = await services.queries.plan_state.access_info(trajectory_id)
    if info is None:
        raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
    found = await standby.plan_state.document_with_access(trajectory_id)
    if found is None:
        raise StandbyBehind()
    return info, found[1]


class ReadController(Controller):
    tags = ["read models"]

    @get("/v1/trajectories/{trajectory_id:uuid}", summary="Plan state of one trajectory")
    async def plan_state(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
    ) -> Response[TrajectoryView]:
        """Parties and roles in force, goals and actions, the signed plan, what is next."""
        await consistency.reached("plan_state", on_standby=True)
        services.policy.require_role(request.user, "read", CASE_READERS)
        if services.standby is None:
            found = await queries.plan_state.document_with_access(trajectory_id)
            if found is None:
                raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
            info, document = found
        else:  # who may read: the primary's; what they read: the standby's
            info, document = await _from_standby(services, services.standby, trajectory_id)
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
        trajectory_id: Id,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
    ) -> Timeline:
        """Consultations, escalations, blocks (with days blocked), handovers, evaluations and
        missed deadlines, in the order they happened, each with who recorded it and when."""
        await consistency.reached("timeline", on_standby=True)
        await authorise_trajectory_read(services, request, trajectory_id, "read the timeline")
        found = await (services.standby or queries).timeline.of_trajectory(trajectory_id)
        if found is None and services.standby is not None:
            raise StandbyBehind()  # the primary knows it (authorised above): not replayed yet
        if found is None:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        return found

    @get(
        "/v1/trajectories/{trajectory_id:uuid}/fhir",
        summary="The trajectory as an HL7 FHIR R4 Bundle, for the care systems around it",
        media_type=fhir.MEDIA_TYPE,
    )
    async def fhir_bundle(
        self, trajectory_id: Id, request: Caller, services: Services
    ) -> Response[dict[str, Any]]:
        """A ``collection`` Bundle (FHIR 4.0.1) built from the trajectory's events: Patient,
        EpisodeOfCare, CarePlan, Goals, CareTeam, Consents, Provenance per signature,
        Encounters and Organizations (README "FHIR export"). Same access as the plan state
        (404 for one who may not read it); the name only where the client read route shows
        it, and the client's consents only where the client read route shows them; every
        export is logged as a read of the client's personal data."""
        acting, client_id = await authorise_trajectory_read(
            services, request, trajectory_id, "export"
        )
        policy = services.policy

        def record_and_build() -> dict[str, Any]:
            record_read(services.access_log, request, acting, client_id, trajectory_id)
            return fhir.trajectory_bundle(
                services.care_record,
                trajectory_id,
                personal_details=lambda client: policy.sees_contact_details(acting, client),
                now=policy.clock(),
                # An auditor reads it in its region (decided above); the client's record too.
                client_record=lambda client: policy.sees_client(acting, client, {acting.region}),
            )

        document = await anyio.to_thread.run_sync(record_and_build)
        return Response(document, media_type=fhir.MEDIA_TYPE, headers={"Cache-Control": "no-store"})

    @get("/v1/board", summary="Coordinators' board: blocked and at-risk trajectories")
    async def board(
        self,
        request: Caller,
        services: Services,
        queries: Queries,
        consistency: Consistency,
        organisation: RefFilter = None,
        region: RefFilter = None,
        sector: FromQuery[Sector | None] = None,
        reason: FromQuery[ReasonCategory | None] = None,
        min_days: Annotated[int, QueryParameter(ge=0, le=36500)] = 0,
        idle_days: Annotated[int, QueryParameter(ge=1, le=3650)] = 90,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> Board:
        """Longest stuck first: blocked, an open escalation, a consultation overdue, or nothing
        recorded for ``idle_days``."""
        await consistency.reached("plan_state", on_standby=True)
        _, organisation, region = services.policy.list_scope(request.user, organisation, region)
        # With a standby: the board is computed there, its rows kept as the primary allows.
        lists = plan_state_lists(queries.plan_state, services.standby_plan_state)
        return await lists.board(
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


class ClientReadController(Controller):
    """A client's record, read from its aggregate (always current: no read-your-writes)."""

    path = "/v1/clients"
    tags = ["clients"]

    @get("/{client_id:uuid}", summary="The client's current state")
    async def show(
        self,
        client_id: Id,
        request: Caller,
        services: Services,
    ) -> Response[ClientView]:
        """Name and contact details: organisations related to the client only (auditors: clients
        with a trajectory in their region); every read is recorded in the access log."""
        policy = services.policy
        policy.require_role(request.user, "read a client", CASE_READERS)
        client = await anyio.to_thread.run_sync(services.care_record.client, client_id)
        regions = await services.queries.plan_state.client_regions(client_id)
        acting = await anyio.to_thread.run_sync(
            policy.client_reader, request.user, "read a client", client, regions
        )
        representative = on_behalf_of(request)
        if representative is not None:
            client.check_may_act_for(representative)
        await anyio.to_thread.run_sync(
            record_read, services.access_log, request, acting, client_id, None
        )
        view = client_view(client, contact_details=policy.sees_contact_details(acting, client))
        return Response(view, headers={"ETag": etag(view.version)})
