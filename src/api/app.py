"""The Litestar application factory: routes, dependencies, errors, authentication, OpenAPI."""

from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.audit import AuditController
from api.auth import BearerAuthentication
from api.bodies import strictly_typed_body
from api.clients import ClientController, client_command_handlers
from api.commands import command_runners
from api.common import (
    LogHeadSeen,
    MaxWait,
    MinPosition,
    MinPositionHeader,
    ReadYourWrites,
    provide_board_filter,
)
from api.exports import ExportController
from api.learning_networks import LearningNetworkController, learning_network_command_handlers
from api.null_command import null_command
from api.observability import RequestLogging
from api.openapi import DocumentedOpenAPIConfig
from api.organisations import OrganisationController
from api.person import MeController
from api.person_decisions import MyDecisionsController
from api.problems import EXCEPTION_HANDLERS, ApiRequest
from api.query_parameters import QueryParameters
from api.reads import ClientReadController, ReadController
from api.request_queue import RequestQueueController
from api.schemas import Health, ProjectionHealth
from api.services import ApiServices
from api.statistics import StatisticsController
from api.trajectories import (
    TrajectoryController,
    finding_handlers,
    trajectory_command_handlers,
)
from api.ui.pages import template_config, ui_router
from application.care_record import CareRecord
from application.unavailable import DatabaseUnavailable
from projections.health import behind_primary
from projections.queries import ReadModelQueries


@get("/health", exclude_from_auth=True, summary="Liveness and projection lag", tags=["operations"])
async def health(
    queries: NamedDependency[ReadModelQueries],
    care_record: NamedDependency[CareRecord],
    services: NamedDependency[ApiServices],
) -> Health:
    """Each projection's position and how far it lags behind the event log; ``degraded`` with
    the reasons when something needs an operator."""
    head = await anyio.to_thread.run_sync(care_record.recorder.max_notification_id) or 0
    positions = await queries.tracking.positions()
    reasons = [reason for check in services.health_checks if (reason := await check())]
    return Health(
        status="degraded" if reasons else "ok",
        reasons=reasons,
        log_position=head,
        projections={
            name: ProjectionHealth(position=p, lag=max(0, head - p))
            for name, p in positions.items()
        },
        standby=await _standby_health(services.standby, positions),
    )


async def _standby_health(
    standby: ReadModelQueries | None, primary: dict[str, int]
) -> dict[str, ProjectionHealth] | None:
    """Each projection on the standby: its position, and how far behind the primary's."""
    if standby is None:
        return None
    try:
        positions = await standby.tracking.positions()
    except DatabaseUnavailable:  # StandbyReachable names it among the reasons
        return None
    return {
        name: ProjectionHealth(position=positions.get(name, 0), lag=lag)
        for name, lag in behind_primary(primary, positions).items()
    }


def create_app(
    services: ApiServices,
    *,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
    debug: bool = False,
) -> Litestar:
    def provide_care_record() -> CareRecord:
        return services.care_record

    def provide_queries() -> ReadModelQueries:
        return services.queries

    def provide_services() -> ApiServices:
        return services

    heads = LogHeadSeen(services.care_record.recorder.max_notification_id)

    def provide_read_your_writes(
        min_position: MinPosition = None,
        x_min_position: MinPositionHeader = None,
        max_wait_ms: MaxWait = 2000,
    ) -> ReadYourWrites:
        wanted = min_position or x_min_position
        return ReadYourWrites(
            services.queries, wanted, max_wait_ms, services.standby, log_head=heads.past(wanted)
        )

    runner, intake = command_runners(services)
    query_parameters = QueryParameters()

    async def checked_request(request: Request[Any, Any, Any]) -> None:
        """Before a handler: its query holds only parameters it takes (each once where it
        takes one value), and its JSON body is of its schema's types."""
        query_parameters.check(request)
        await strictly_typed_body(request)

    return Litestar(
        route_handlers=[
            health,
            TrajectoryController,
            *trajectory_command_handlers,
            *finding_handlers,
            ReadController,
            ClientReadController,
            ClientController,
            *client_command_handlers,
            MeController,
            MyDecisionsController,
            RequestQueueController,
            AuditController,
            StatisticsController,
            OrganisationController,
            ExportController,
            LearningNetworkController,
            *learning_network_command_handlers,
            ui_router(),
            # Issue #22: the benchmark's floor, only when the benchmark asks for it.
            *([null_command] if services.benchmark_null_command else []),
        ],
        dependencies={
            "queries": Provide(provide_queries, sync_to_thread=False),
            "services": Provide(provide_services, sync_to_thread=False),
            "care_record": Provide(provide_care_record, sync_to_thread=False),
            "runner": Provide(runner, sync_to_thread=False),
            "intake": Provide(intake, sync_to_thread=False),
            "consistency": Provide(provide_read_your_writes, sync_to_thread=False),
            "board_filter": Provide(provide_board_filter, sync_to_thread=False),
        },
        middleware=[
            RequestLogging(),
            DefineMiddleware(BearerAuthentication, exclude=["^/schema", "^/health$", "^/ui(/|$)"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=checked_request,
        request_class=ApiRequest,
        state=State({"token_verifier": services.token_verifier, "ui_services": services}),
        template_config=template_config(),
        request_max_body_size=services.max_body_bytes,
        openapi_config=DocumentedOpenAPIConfig(
            title="Rode Draad",
            version="0.1.0",
            description=(
                "Event-sourced trajectories of care and support: every intake, consultation, "
                "role agreement, handover and evaluation is an immutable event."
            ),
            path="/schema",
            security=[{"BearerToken": []}],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="user (sub), organisation (org), roles and region",
                    )
                }
            ),
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        on_startup=[query_parameters.learn, *on_startup],
        on_shutdown=[
            services.query_runner.close,
            *([services.standby_runner.close] if services.standby_runner else []),
            *on_shutdown,
        ],
        logging_config=None,
        debug=debug,
    )
