"""Queries: the read models (plan state, timeline, the coordinators' board) and a client's record.

Read-your-writes: a query given the ``position`` a command answered with (``min_position`` or
``X-Min-Position``) waits for the read model to reach it (``api.common.ReadYourWrites``, a
dependency that declares those parameters once).
"""

from typing import Any

import anyio.to_thread
from litestar import Controller, Response, get

from api.access import CASE_READERS
from api.common import (
    Caller,
    Consistency,
    Id,
    Queries,
    RequestedBoard,
    Services,
    StandbyBehind,
    etag,
    on_behalf_of,
    record_read,
)
from api.read_access import authorise_trajectory_read, read_board, read_plan_state
from application import fhir
from domain.errors import TrajectoryNotFound
from projections.plan_state.board import Board
from projections.timeline import Timeline
from projections.views import ClientView, TrajectoryView, client_view


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
        read = await read_plan_state(services, request, trajectory_id)
        doc: Any = read.document  # a TrajectoryView's JSON
        return Response(
            content=doc, media_type="application/json", headers={"ETag": etag(read.version)}
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
        board_filter: RequestedBoard,
    ) -> Board:
        """Longest stuck first: blocked, an open escalation, a consultation overdue, or nothing
        recorded for ``idle_days``."""
        await consistency.reached("plan_state", on_standby=True)
        return await read_board(services, request, board_filter)


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
        seen = (  # (only where a consent names a trajectory: reads each of the client's)
            await anyio.to_thread.run_sync(policy.trajectories_read, acting, client)
            if any(k.trajectory_id is not None for k in client.consents.values())
            else None
        )
        view = client_view(
            client,
            contact_details=policy.sees_contact_details(acting, client),
            trajectories=seen,
        )
        return Response(view, headers={"ETag": etag(view.version)})
