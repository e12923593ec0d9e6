"""Auditors and administrators: reads of personal data, the record's history, retention.

Auditors answer "who saw a client's data" and "what did the record say" from the access log
and the event store itself; they change nothing. Administrators see what passed its retention
period (seed 004: plan and dossier 10 years after the end of service, the logbook 5 years) and
erase it; they never see case data.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from api.access import AUDITORS, RETENTION_READERS, AccessPolicy
from api.auth import Principal
from api.schemas import UserIdFilter
from api.services import ApiServices
from application.access_log import AccessLog, PersonalDataRead
from domain.errors import ClientNotFound, TrajectoryNotFound
from domain.trajectory import Trajectory


class ReadEntry(msgspec.Struct):
    at: datetime
    user_id: str
    organisation: str
    role: str
    client_id: UUID
    trajectory_id: UUID | None
    endpoint: str
    request_id: str


class HistoryEntry(msgspec.Struct):
    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any]
    fields: dict[str, Any]


class History(msgspec.Struct):
    trajectory_id: UUID
    events: list[HistoryEntry]


class ClientDue(msgspec.Struct):
    client_id: UUID
    service_ended: datetime


class RetentionReport(msgspec.Struct):
    as_of: datetime
    plan_years: int
    log_years: int
    #: Clients whose trajectories all ended more than ``plan_years`` ago: erase with
    #: ``POST /v1/clients/{id}/erasure`` and ``legal_basis: retention_ended``.
    clients_due: list[ClientDue]
    #: Access-log entries older than ``log_years``: ``rodedraad retention purge-log`` removes them.
    log_entries_due: int


_ENVELOPE = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at"}


def record_read(
    log: AccessLog,
    request: Request[Principal, Any, Any],
    acting: Principal,
    client_id: UUID,
    trajectory_id: UUID | None,
) -> None:
    """Log a read of personal data, naming the role the reader acted in (issue #10: per role)."""
    log.record(
        PersonalDataRead(
            at=datetime.now(UTC),
            user_id=acting.user_id,
            organisation=acting.organisation,
            role=",".join(acting.roles),
            client_id=client_id,
            trajectory_id=trajectory_id,
            endpoint=f"{request.method} {request.scope.get('path_template', request.url.path)}",
            request_id=request.scope.get("state", {}).get("request_id", ""),
        )
    )


class AuditController(Controller):
    tags = ["audit and retention"]

    @get("/v1/audit/personal-data-reads", summary="Who read which client's personal data")
    async def personal_data_reads(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
        client_id: FromQuery[UUID | None] = None,
        user_id: UserIdFilter = None,
        since: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500,
    ) -> list[ReadEntry]:
        """Auditors only, for the clients of their region (those with a trajectory there);
        newest first. A client of another region does not exist for them (404)."""
        acting = services.policy.require_role(request.user, "read the access log", AUDITORS)
        in_region = await services.queries.plan_state.clients_in_region(acting.region)
        if client_id is not None:
            if client_id not in in_region:
                raise services.policy.hidden(
                    acting, "read the access log", ClientNotFound(f"no client with id {client_id}")
                )
            in_region = {client_id}
        entries = await anyio.to_thread.run_sync(
            lambda: services.access_log.query(
                client_ids=in_region, user_id=user_id, since=since, limit=limit
            )
        )
        return [_as_struct(e) for e in entries]

    @get("/v1/audit/trajectories/{trajectory_id:uuid}/history", summary="The record itself")
    async def history(
        self,
        trajectory_id: FromPath[UUID],
        request: Request[Principal, Any, Any],
        services: NamedDependency[ApiServices],
    ) -> History:
        """Every event of the trajectory from the event store, with both times and the actor:
        who agreed what and when, as recorded. Auditors of the trajectory's region only."""
        policy: AccessPolicy = services.policy
        acting = policy.require_role(request.user, "read a trajectory's history", AUDITORS)
        info = await services.queries.plan_state.access_info(trajectory_id)
        if info is None or info[1] != acting.region:
            raise policy.hidden(
                acting,
                "read a trajectory's history",
                TrajectoryNotFound(f"no trajectory with id {trajectory_id}"),
            )
        events: list[Any] = await anyio.to_thread.run_sync(
            lambda: list(services.care_record.events.get(trajectory_id))
        )
        await anyio.to_thread.run_sync(
            record_read, services.access_log, request, acting, info[0], trajectory_id
        )
        return History(
            trajectory_id=trajectory_id,
            events=[
                HistoryEntry(
                    version=e.originator_version,
                    event=type(e).__qualname__.removeprefix(f"{Trajectory.__name__}."),
                    occurred_at=e.occurred_at,
                    recorded_at=e.timestamp,
                    actor=msgspec.to_builtins(e.actor),
                    fields={
                        k: msgspec.to_builtins(v)
                        for k, v in vars(e).items()
                        if k not in _ENVELOPE and not k.startswith("_")
                    },
                )
                for e in events
            ],
        )

    @get("/v1/admin/retention", summary="What passed its retention period")
    async def retention(
        self, request: Request[Principal, Any, Any], services: NamedDependency[ApiServices]
    ) -> RetentionReport:
        """Administrators and the data protection officer (who erases): pseudonymous client ids
        and counts, never case data."""
        services.policy.require_role(request.user, "list retention", RETENTION_READERS)
        now = datetime.now(UTC)
        rules = services.retention
        plan_cutoff = now - timedelta(days=round(365.25 * rules.plan_years))
        log_cutoff = now - timedelta(days=round(365.25 * rules.log_years))
        due = await services.queries.plan_state.retention_due(plan_cutoff)
        log_due = await anyio.to_thread.run_sync(services.access_log.count_before, log_cutoff)
        return RetentionReport(
            as_of=now,
            plan_years=rules.plan_years,
            log_years=rules.log_years,
            clients_due=[ClientDue(client_id=c, service_ended=at) for c, at in due],
            log_entries_due=log_due,
        )


def _as_struct(entry: PersonalDataRead) -> ReadEntry:
    return ReadEntry(
        at=entry.at,
        user_id=entry.user_id,
        organisation=entry.organisation,
        role=entry.role,
        client_id=entry.client_id,
        trajectory_id=entry.trajectory_id,
        endpoint=entry.endpoint,
        request_id=entry.request_id,
    )
