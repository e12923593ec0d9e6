"""The Litestar application factory: routes, dependencies, errors, authentication, OpenAPI."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from api.auth import BearerAuthentication, Principal, TokenVerifier
from api.clients import ClientController
from api.commands import CommandRunner
from api.idempotency import IdempotencyStore
from api.observability import RequestLogging
from api.problems import EXCEPTION_HANDLERS
from api.trajectories import TrajectoryController
from application.care_record import CareRecord


@dataclass(frozen=True)
class ApiServices:
    """What the HTTP layer needs, built by the composition root."""

    care_record: CareRecord
    idempotency: IdempotencyStore
    token_verifier: TokenVerifier
    max_body_bytes: int = 256 * 1024


@get("/health", exclude_from_auth=True, summary="Liveness", tags=["operations"])
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(
    services: ApiServices,
    *,
    on_shutdown: Sequence[Callable[[], Any]] = (),
    debug: bool = False,
) -> Litestar:
    def provide_care_record() -> CareRecord:
        return services.care_record

    def provide_runner(request: Request[Principal, Any, Any]) -> CommandRunner:
        return CommandRunner(request, services.idempotency)

    return Litestar(
        route_handlers=[health, TrajectoryController, ClientController],
        dependencies={
            "care_record": Provide(provide_care_record, sync_to_thread=False),
            "runner": Provide(provide_runner, sync_to_thread=False),
        },
        middleware=[
            RequestLogging(),
            DefineMiddleware(BearerAuthentication, exclude=["^/schema", "^/health$"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"token_verifier": services.token_verifier}),
        request_max_body_size=services.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Rode Draad",
            version="0.1.0",
            description=(
                "Event-sourced trajectories of care and support: every intake, consultation, "
                "role agreement, handover and evaluation is an immutable event."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        on_shutdown=list(on_shutdown),
        logging_config=None,
        debug=debug,
    )
