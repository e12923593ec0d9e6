"""``/v1/clients``: registration, representatives and consent."""

from typing import Any
from uuid import UUID, uuid4

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.access import CASE_READERS
from api.audit import record_read
from api.auth import Principal
from api.commands import CommandRunner, etag, on_behalf_of
from api.schemas import (
    AppointRepresentative,
    CommandAnswer,
    EraseClient,
    ExcludeRepresentative,
    GrantConsent,
    RefInPath,
    RegisterClient,
    RevokeConsent,
)
from api.services import ApiServices
from api.trajectories import IdempotencyKey, IfMatch
from application.care_record import CareRecord
from domain.client import PersonalData
from projections.views import ClientView, client_view

Answer = Response[CommandAnswer]


class ClientController(Controller):
    path = "/v1/clients"
    tags = ["clients"]

    @post("/", sync_to_thread=True, summary="Register a client under a pseudonymous id")
    def register(
        self,
        data: JSONBody[RegisterClient],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, _, d: care_record.register_client(ctx, personal=PersonalData(**d)),
            action="register_client",
            created=True,
            location=lambda r: f"/v1/clients/{r.id}",
        )

    @get("/{client_id:uuid}", summary="The client's current state")
    async def show(
        self,
        client_id: FromPath[UUID],
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
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

    @post("/{client_id:uuid}/representatives", sync_to_thread=True, status_code=200)
    def appoint_representative(
        self,
        client_id: FromPath[UUID],
        data: JSONBody[AppointRepresentative],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Appoint the person who may sign for the client (004)."""
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: care_record.appoint_representative(
                ctx,
                client_id,
                version,
                representative_ref=d["representative_ref"],
                personal=PersonalData(name=d["name"], contact=d["contact"]),
            ),
            action="appoint_representative",
            item_id=data.representative_ref,
        )

    @post(
        "/{client_id:uuid}/representatives/{representative_ref:str}/exclusion",
        sync_to_thread=True,
        status_code=200,
    )
    def exclude_representative(
        self,
        client_id: FromPath[UUID],
        representative_ref: RefInPath,
        data: JSONBody[ExcludeRepresentative],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """The client opts out: this representative can neither sign nor see the plan (004)."""
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: care_record.exclude_representative(
                ctx, client_id, version, representative_ref=representative_ref, **d
            ),
            action="exclude_representative",
        )

    @post("/{client_id:uuid}/consents", sync_to_thread=True, status_code=200)
    def grant_consent(
        self,
        client_id: FromPath[UUID],
        data: JSONBody[GrantConsent],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Record the client's consent: to whom, what, why and until when (004)."""
        consent_id = data.consent_id or f"consent-{uuid4().hex[:12]}"
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: care_record.grant_consent(
                ctx, client_id, version, **{**d, "consent_id": consent_id}
            ),
            action="grant_consent",
            item_id=consent_id,
        )

    @post(
        "/{client_id:uuid}/consents/{consent_id:str}/revocation",
        sync_to_thread=True,
        status_code=200,
    )
    def revoke_consent(
        self,
        client_id: FromPath[UUID],
        consent_id: RefInPath,
        data: JSONBody[RevokeConsent],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Revoke a consent; it takes effect at once."""
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: care_record.revoke_consent(
                ctx, client_id, version, consent_id=consent_id, **d
            ),
            action="revoke_consent",
        )

    @post("/{client_id:uuid}/erasure", sync_to_thread=True, status_code=200)
    def erase(
        self,
        client_id: FromPath[UUID],
        data: JSONBody[EraseClient],
        runner: NamedDependency[CommandRunner],
        care_record: NamedDependency[CareRecord],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Answer:
        """Destroy the client's keys: their personal data becomes unreadable everywhere, while
        the record keeps who agreed what and when."""
        return runner.run(  # type: ignore[return-value]
            data,
            lambda ctx, version, d: care_record.erase_client(ctx, client_id, version, **d),
            action="erase_client",
        )
