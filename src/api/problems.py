"""One mapping from every refusal to ``application/problem+json`` (RFC 9457).

Domain errors: 422 invalid command, 409 rule conflict, 404 unknown, 403 not a party.
Concurrency: 412 stale ``If-Match``, 409 lost race. Input the schema rejects: 422, naming the
field. Anything unexpected: 500 with no internals in the answer (the log has the traceback).
"""

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_412_PRECONDITION_FAILED,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from api.access import Forbidden
from api.idempotency import IdempotencyConflict
from api.reads import ReadModelBehind
from api.schemas import Problem
from application.care_record import ApplicationError, StaleVersion
from application.kek import KekError
from domain.errors import DomainError, InvalidCommand, NotAParty, NotFound, RuleConflict

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger("rodedraad.api")


def problem(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    detail: str,
    *,
    rule: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = Problem(
        type=f"urn:rodedraad:problem:{rule or status}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        rule=rule,
        field=field,
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _domain_status(error: DomainError) -> tuple[int, str]:
    if isinstance(error, InvalidCommand):
        return HTTP_422_UNPROCESSABLE_ENTITY, "The command is not valid"
    if isinstance(error, NotFound):
        return HTTP_404_NOT_FOUND, "Not found"
    if isinstance(error, NotAParty):
        return HTTP_403_FORBIDDEN, "Not a party"
    if isinstance(error, RuleConflict):
        return HTTP_409_CONFLICT, "The record refuses this command"
    return HTTP_409_CONFLICT, "The record refuses this command"


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    status, title = _domain_status(exc)
    log.info("command refused", status=status, rule=exc.rule, field=exc.field)
    return problem(request, status, title, exc.message, rule=exc.rule, field=exc.field)


def application_error(request: Request[Any, Any, Any], exc: ApplicationError) -> Response[bytes]:
    if isinstance(exc, StaleVersion):
        return problem(
            request,
            HTTP_412_PRECONDITION_FAILED,
            "The record has changed",
            exc.message,
            rule="if-match-current-version",
            headers={"ETag": f'"{exc.current}"'},
        )
    return problem(request, HTTP_409_CONFLICT, "Concurrent change", exc.message, rule="lost-race")


def idempotency_conflict(
    request: Request[Any, Any, Any], exc: IdempotencyConflict
) -> Response[bytes]:
    if exc.reused:
        return problem(
            request,
            HTTP_422_UNPROCESSABLE_ENTITY,
            "Idempotency-Key reused",
            exc.message,
            rule="idempotency-key-for-one-request",
            field="Idempotency-Key",
        )
    return problem(
        request, HTTP_409_CONFLICT, "Request in progress", exc.message, rule="idempotency-key-busy"
    )


#: msgspec names the culprit: "unknown field `x`", "required field `x`" or "- at `$.a.b[0]`".
_FIELD_IN_MESSAGE = re.compile(r"field `([^`]+)`|at `\$\.([^`]+)`")


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    """Litestar's decoding errors: malformed JSON, wrong types, unknown or missing fields."""
    field = None
    detail = exc.detail
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        first = extra[0]
        field = str(first["key"]) if first.get("key") and first["key"] != "data" else None
        if first.get("message"):
            detail = str(first["message"])
    named = _FIELD_IN_MESSAGE.search(detail)
    if named:
        field = named.group(1) or named.group(2)
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "The request is not valid",
        detail,
        rule="request-schema",
        field=field,
    )


def too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    """A body nested deeper than the decoder goes: invalid input, not a server fault."""
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "The request is not valid",
        "the body is nested too deeply",
        rule="request-json",
    )


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if exc.status_code == 400:  # a body that is not JSON at all: invalid input like any other
        return problem(
            request,
            HTTP_422_UNPROCESSABLE_ENTITY,
            "The request is not valid",
            exc.detail,
            rule="request-json",
        )
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="rodedraad"')
    return problem(
        request,
        exc.status_code,
        _TITLES.get(exc.status_code, "Request refused"),
        exc.detail,
        rule=_RULES.get(exc.status_code),
        headers=headers or None,
    )


def forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[bytes]:
    return problem(request, HTTP_403_FORBIDDEN, "Forbidden", exc.message, rule="access-policy")


def read_model_behind(request: Request[Any, Any, Any], exc: ReadModelBehind) -> Response[bytes]:
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Read model not yet current",
        exc.message,
        rule="read-your-writes",
        headers={"Retry-After": "1"},
    )


def kek_unavailable(request: Request[Any, Any, Any], exc: KekError) -> Response[bytes]:
    """The KEK cannot unwrap a key (a version missing or destroyed): the operator's to fix; the
    caller is told no more than that (the log and ``rodedraad keys status`` say the rest)."""
    log.error("key-encryption key unavailable", reason=exc.message)
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Keys unavailable",
        "the service cannot open the keys of personal data at the moment; an operator must "
        "restore its key-encryption key. Nothing was recorded",
        rule="kek-unavailable",
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("unexpected error", exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "something went wrong on our side; nothing was recorded unless the answer says so. "
        "Quote the X-Request-ID header when you report it",
    )


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported media type",
}
_RULES = {401: "bearer-token", 404: "route", 405: "method", 413: "body-size"}


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    ApplicationError: application_error,
    IdempotencyConflict: idempotency_conflict,
    ValidationException: validation_error,
    RecursionError: too_deep,
    HTTPException: http_error,
    ReadModelBehind: read_model_behind,
    Forbidden: forbidden,
    KekError: kek_unavailable,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error,
}
