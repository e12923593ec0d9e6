"""Auditors and administrators: reads of personal data, the record's history, retention.

Auditors answer "who saw a client's data" and "what did the record say" from the access log
and the event store itself; they change nothing. Administrators and the data protection officer
see what passed its retention period (seed 004: plan and dossier 10 years after the end of
service, the logbook 5 years); only the data protection officer erases it (``POST
/v1/clients/{id}/erasure``), and neither sees case data.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from api.access import AUDITORS, RETENTION_READERS, AccessPolicy
from api.common import Caller, Id, Services, record_read
from api.schemas import ClientDue, History, HistoryEntry, RetentionReport, UserIdFilter
from application.access_log import PersonalDataRead
from domain.errors import ClientNotFound, TrajectoryNotFound
from domain.trajectory import Trajectory

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at"}


class AuditController(Controller):
    tags = ["audit and retention"]

    @get("/v1/audit/personal-data-reads", summary="Who read which client's personal data")
    async def personal_data_reads(
        self,
        request: Caller,
        services: Services,
        client_id: FromQuery[UUID | None] = None,
        user_id: UserIdFilter = None,
        since: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500,
    ) -> list[PersonalDataRead]:
        """Auditors only, for the clients of their region (those with a trajectory there), and
        of those only the reads of the client itself or of a trajectory in the region (issue
        #10 review, B2: a client's trajectory in another region is not theirs to audit);
        newest first. A client of another region does not exist for them (404)."""
        acting = services.policy.require_role(request.user, "read the access log", AUDITORS)
        in_region = await services.queries.plan_state.clients_in_region(acting.region)
        trajectories = await services.queries.plan_state.trajectories_in_region(acting.region)
        if client_id is not None:
            if client_id not in in_region:
                raise services.policy.hidden(
                    acting, "read the access log", ClientNotFound(f"no client with id {client_id}")
                )
            in_region = {client_id}
        return await anyio.to_thread.run_sync(
            lambda: services.access_log.query(
                client_ids=in_region,
                trajectory_ids=trajectories,
                user_id=user_id,
                since=since,
                limit=limit,
            )
        )

    @get("/v1/audit/trajectories/{trajectory_id:uuid}/history", summary="The record itself")
    async def history(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
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
    async def retention(self, request: Caller, services: Services) -> RetentionReport:
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
