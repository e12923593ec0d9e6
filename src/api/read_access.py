"""Who may read a trajectory, decided once for every reader of it: the API's read routes and the
pages of ``api.ui`` (issue #23: the same access policy decides every page). A controller imports
from here, never from another controller.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import anyio.to_thread

from api.access import CASE_READERS
from api.auth import Principal
from api.common import Caller, ErasureInProgress, StandbyBehind, on_behalf_of, record_read
from api.services import ApiServices
from domain.errors import TrajectoryNotFound
from projections.plan_state.board import Board, BoardFilter
from projections.plan_state.sealed import DocumentErased, open_document
from projections.plan_state.standby import plan_state_lists
from projections.queries import ReadModelQueries


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


@dataclass(frozen=True, slots=True)
class PlanStateRead:
    """A plan state as its reader may see it: the document's JSON (a ``TrajectoryView``), its
    version, the principal acting in the role that could read it, and whose plan it is."""

    document: bytes
    version: int
    acting: Principal
    client_id: UUID


async def read_plan_state(
    services: ApiServices, request: Caller, trajectory_id: UUID
) -> PlanStateRead:
    """Role, relation (404 if none), then the read recorded in the access log and the document
    opened (its key may come from the database), in one worker thread."""
    services.policy.require_role(request.user, "read", CASE_READERS)
    if services.standby is None:
        found = await services.queries.plan_state.document_with_access(trajectory_id)
        if found is None:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        info, document = found
    else:  # who may read: the primary's; what they read: the standby's
        info, document = await _from_standby(services, services.standby, trajectory_id)
    acting, client_id = await authorise_related(services, request, trajectory_id, "read", info)

    def record_and_open() -> bytes:
        record_read(services.access_log, request, acting, client_id, trajectory_id)
        try:
            return open_document(
                services.care_record.keys, trajectory_id, document.erased, document.stored
            )
        except DocumentErased:
            raise ErasureInProgress() from None

    opened = await anyio.to_thread.run_sync(record_and_open)
    return PlanStateRead(opened, document.version, acting, client_id)


async def read_board(services: ApiServices, request: Caller, requested: BoardFilter) -> Board:
    """The board in the scope the policy gives the caller: an organisation its own trajectories,
    an auditor its region (403 for one who asks for another's)."""
    _, organisation, region = services.policy.list_scope(
        request.user, requested.organisation, requested.region
    )
    # With a standby: the board is computed there, its rows kept as the primary allows.
    lists = plan_state_lists(services.queries.plan_state, services.standby_plan_state)
    return await lists.board(
        replace(requested, organisation=organisation, region=region), now=datetime.now(UTC)
    )
