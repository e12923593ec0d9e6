"""Request ids, correlation ids and one log line per request; never bodies or personal data."""

import re
import time
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from application.metrics import metrics

log = structlog.get_logger("rodedraad.http")

_MAX_ID = 100
#: What an incoming ``X-Request-ID`` may be to stand in for a correlation id: the ids proxies and
#: clients generate (uuids, hex, base64url, ``trace:span``), nothing that reads as a sentence.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,99}")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text = value.decode("latin-1").strip()
            if text and len(text) <= _MAX_ID and text.isascii() and text.isprintable():
                return text
            return None
    return None


def incoming_correlation_id(scope: Scope) -> str | None:
    """The caller's correlation id: ``X-Correlation-ID`` (at most 100 printable ASCII
    characters), else an ``X-Request-ID`` a proxy or client sent, if it looks like an id. Never
    the request id: that one is ours, so an event's causation id is never a header value."""
    if correlation := _header(scope, b"x-correlation-id"):
        return correlation
    incoming = _header(scope, b"x-request-id")
    return incoming if incoming and _REQUEST_ID.fullmatch(incoming) else None


class RequestLogging(ASGIMiddleware):
    """Binds ``request_id`` and ``correlation_id`` to the logs, echoes them as headers and
    leaves them in ``scope["state"]``. A correlation id sent in ``X-Correlation-ID`` is used
    only if it is at most 100 printable ASCII characters; without one, an incoming
    ``X-Request-ID`` that looks like an id is taken as the correlation id (a proxy's id joins
    our logs to its own); otherwise the request id stands in. The request id is always ours."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = uuid.uuid4().hex
        correlation_id = incoming_correlation_id(scope) or request_id
        state = scope.setdefault("state", {})
        # The ids as validated here are the ones commands record (``CommandRunner.context``):
        # an event never carries a header value the logs refuse (issue #10 review, S2).
        state["request_id"], state["correlation_id"] = request_id, correlation_id
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                named = {key.lower() for key, _ in headers}
                for key, value in (
                    (b"x-request-id", request_id),
                    (b"x-correlation-id", correlation_id),
                ):
                    if key not in named:  # a problem answer names them already
                        headers.append((key, value.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(
            request_id=request_id, correlation_id=correlation_id
        ):
            try:
                await next_app(scope, receive, send_with_ids)
            except HTTPException as e:  # raised by middleware (authentication, body size)
                status = e.status_code
                raise
            finally:
                route: Any = scope.get("path_template") or scope.get("path", "")
                seconds = time.perf_counter() - started
                log.info(
                    "request",
                    method=scope.get("method"),
                    route=route,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
                # Only the template: a path may hold ids (an unmatched one never reaches here).
                labels = (str(scope.get("method")), str(scope.get("path_template")), str(status))
                metrics().requests.labels(*labels).inc()
                metrics().request_seconds.labels(*labels).observe(seconds)
