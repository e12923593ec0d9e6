"""One mapping from every refusal to ``application/problem+json`` (RFC 9457).

Domain errors: 422 invalid command, 409 rule conflict, 404 unknown, 403 not a party.
Concurrency: 412 stale ``If-Match``, 409 lost race. A body that cannot be parsed at all (not
JSON, not UTF-8): 400 ``request-json``. Well-formed input the schema rejects: 422
``request-schema``, naming the field. A database lost or unreachable: 503 with ``Retry-After``.
Anything unexpected: 500 with no internals in the answer (the log has the traceback).
"""

import enum
import re
import typing
import uuid
from typing import Any

import msgspec
import structlog
from eventsourcing.persistence import MapperDeserialisationError
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_412_PRECONDITION_FAILED,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from api.access import Forbidden
from api.common import PositionNotWritten, ReadModelBehind
from api.idempotency import IdempotencyConflict
from api.schemas import Problem
from application.audit_export import AuditExportRefused
from application.care_record import ApplicationError, StaleVersion
from application.commands import REF_MAX_LENGTH
from application.erasure_ledger import ErasureLedgerError
from application.kek import KekError
from application.signing import SigningKeyError
from application.unavailable import UNAVAILABLE, is_unavailable
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
    headers = dict(headers or {})
    request_id = _request_id(request, headers)
    body = Problem(
        type=f"urn:rodedraad:problem:{rule or status}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        rule=rule,
        field=field,
        request_id=request_id,
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers or None,
    )


def _request_id(request: Request[Any, Any, Any], headers: dict[str, str]) -> str:
    """The id ``RequestLogging`` gave this request, named in the answer's headers too: a
    refusal raised outside it (authentication, a body too large) is answered past its ``send``,
    and a request that matched no route never passed through it (it gets an id here)."""
    state = request.scope.setdefault("state", {})
    if not state.get("request_id"):
        state["request_id"] = uuid.uuid4().hex
    request_id: str = state["request_id"]
    headers["X-Request-ID"] = request_id
    headers["X-Correlation-ID"] = state.get("correlation_id") or request_id
    return request_id


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

#: msgspec quotes the regex a value failed; say what it means instead (``api.schemas``).
_PATTERNS_IN_WORDS = {
    "[A-Za-z0-9._:@-]": f"must be an identifier: 1 to {REF_MAX_LENGTH} letters, digits and "
    "._:@- starting with a letter or digit (no spaces, no control characters)",
    # (The four patterns of text, most particular first: ``VISIBLE_TEXT``, ``VISIBLE_LINE``,
    # ``MULTI_LINE``, and ``ONE_LINE`` or a user id.)
    # (msgspec quotes the pattern as its repr: a backslash twice.)
    r"^[\\t\\n\\r": "must hold at least one visible character (not only spaces, line breaks or "
    "invisible marks), with no control characters other than tab and line breaks, nor "
    "bidirectional embeddings, overrides or isolates",
    "u3164": "must be one line that holds at least one visible character (not only spaces or "
    "invisible marks), with no control characters, line breaks or bidirectional overrides",
    "x0e-": "must not contain control characters other than tab and line breaks, nor "
    "bidirectional embeddings, overrides or isolates",
    "x00-": "must not contain control characters",
}


def refused_field(field: str, told: str) -> ValidationException:
    """A schema problem of ``field``, in words: what ``validation_error`` answers with the field
    named apart."""
    return ValidationException(told, extra=[{"key": field, "message": told}])


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
        if first.get("key") == "data" and detail == "'data'":  # (Litestar's KeyError: no body)
            detail = "the request has no body: send the command as a JSON object"
    if detail.startswith("Invalid enum value"):
        return _enum_value_refused(request, detail, field)
    named = _FIELD_IN_MESSAGE.search(detail)
    if named:
        field = named.group(1) or named.group(2)
    if "matching regex" in detail:
        detail = next(
            (
                f"{field or 'the value'} {words}"
                for k, words in _PATTERNS_IN_WORDS.items()
                if k in detail
            ),
            detail,
        )
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "The request is not valid",
        detail,
        rule="request-schema",
        field=field,
    )


#: Where msgspec says the refused value was, at the end of its message (the value itself comes
#: earlier, quoted, and may hold anything).
_AT_THE_END = re.compile(r" - at `\$\.([^`]+)`$")


def _enum_value_refused(
    request: Request[Any, Any, Any], detail: str, field: str | None
) -> Response[bytes]:
    """msgspec's "Invalid enum value 'x'" echoes the value it refuses; an answer never does
    (README, errors). Say which values the field takes instead, when the route's signature
    tells (issue #10 review)."""
    at = _AT_THE_END.search(detail)
    field = at.group(1) if at else field
    allowed = _allowed_values(request, field) if field else None
    words = (
        f"must be one of: {', '.join(allowed)}" if allowed else "is not one of the allowed values"
    )
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "The request is not valid",
        f"{field or 'the value'} {words}",
        rule="request-schema",
        field=field,
    )


def _allowed_values(request: Request[Any, Any, Any], field: str) -> list[str] | None:
    """The values of the enum at ``field`` (``scopes[1]``, ``participants[0].role``, a query
    parameter's name) in the handler's signature: its body (``data``) or its parameters."""
    path = [part for part in re.split(r"\[\d+\]|\.", field) if part]
    try:
        handler = request.route_handler.fn
        function = getattr(handler, "func", handler)  # a sync handler, wrapped for a thread
        hints = typing.get_type_hints(function, include_extras=True)
    except (AttributeError, KeyError, NameError, TypeError):
        return None
    if not path:
        return None
    found = _enum_at(hints["data"], path) if "data" in hints else None
    found = found or (_enum_at(hints[path[0]], path[1:]) if path[0] in hints else None)
    return [str(member.value) for member in found] if found else None


def _enum_at(annotation: Any, path: list[str]) -> type[enum.Enum] | None:
    """The enum class ``path`` leads to inside ``annotation`` (through ``Annotated``, unions,
    sequences and Structs), or None."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is not None:
        candidates = args[:1] if origin is typing.Annotated else args
        for inner in candidates:
            if inner is not Ellipsis and (found := _enum_at(inner, path)):
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return None if path else annotation
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) and path:
        fields = typing.get_type_hints(annotation, include_extras=True)
        return _enum_at(fields[path[0]], path[1:]) if path[0] in fields else None
    return None


def too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    """A body nested deeper than the decoder goes: no command nests like that, so it breaks the
    schema (422), and it is not a server fault."""
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "The request is not valid",
        "the body is nested too deeply",
        rule="request-schema",
    )


class ApiRequest(Request[Any, Any, Any]):
    """The request every handler gets: its body decodes to a client error or to JSON, never to a
    server error.

    msgspec raises ``UnicodeDecodeError`` (not ``DecodeError``) for a JSON string that is not
    valid UTF-8, and Litestar turns only ``SerializationException`` into a client error; this is
    where the one becomes the other (issue #10, point 12). The message never echoes the bytes.
    A lone surrogate escape (``"a\\ud800b"``), which msgspec calls truncated input, is named.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise SerializationException("a string in the body is not valid UTF-8") from None
        except SerializationException:
            # msgspec says "Input data was truncated" for ``"a\ud800b"``: say what is wrong.
            if _lone_surrogate(await self.body()):
                raise SerializationException(
                    "a string in the body holds an invalid unicode escape: a lone surrogate "
                    "(an escape from \\uD800 to \\uDBFF must be followed by one from \\uDC00 "
                    "to \\uDFFF, and these come only so)"
                ) from None
            raise


#: A backslash and what it escapes: a ``\uXXXX`` unit, or one character (``\\`` too).
_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _lone_surrogate(body: bytes) -> bool:
    """Whether ``body`` escapes half of a UTF-16 surrogate pair without the other half (a high
    one not directly followed by a low one, or a low one on its own)."""
    after_high = -1
    for escape in _ESCAPE.finditer(body):
        unit = int(escape.group(1)[1:], 16) if len(escape.group(1)) == 5 else None
        is_low = unit is not None and 0xDC00 <= unit <= 0xDFFF
        if after_high >= 0:
            if escape.start() != after_high or not is_low:
                return True
            after_high = -1
        elif unit is not None and 0xD800 <= unit <= 0xDBFF:
            after_high = escape.end()
        elif is_low:
            return True
    return after_high >= 0


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if exc.status_code == 400 and isinstance(exc.__cause__, SerializationException):
        # Litestar could not parse the body at all: 400, unlike well-formed JSON the schema
        # refuses (422). The decoder's message names a position, never the bytes.
        return problem(
            request,
            HTTP_400_BAD_REQUEST,
            "The body is not JSON",
            f"send a JSON object in UTF-8 (Content-Type: application/json): {exc.detail}",
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


def position_not_written(
    request: Request[Any, Any, Any], exc: PositionNotWritten
) -> Response[bytes]:
    return problem(
        request,
        HTTP_422_UNPROCESSABLE_ENTITY,
        "Position not written",
        exc.message,
        rule="read-your-writes-position",
        field="min_position",
    )


#: Seconds a client waits before retrying after a 503 for an unavailable database.
RETRY_AFTER_UNAVAILABLE = 2


def database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A lost or unreachable database is the service's trouble, not the request's: 503 with
    ``Retry-After`` (issue #10). A command's outcome is then unknown, so its Idempotency-Key
    stays reserved: a retry with the same key is told to check the record first."""
    if not is_unavailable(exc):  # e.g. SQLite's "no such table": a fault of ours
        return internal_error(request, exc)
    log.warning("database unavailable", error_class=f"{type(exc).__module__}.{type(exc).__name__}")
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Database unavailable",
        "the database could not be reached just now; try again in a few seconds. A command "
        "may or may not have been recorded: check the record's current version (ETag) before "
        "you repeat it",
        rule="database-unavailable",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
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


def erasure_ledger_unavailable(
    request: Request[Any, Any, Any], exc: ErasureLedgerError
) -> Response[bytes]:
    """An erasure is written to the ledger file before any key goes (issue #21); a file that
    cannot be written stops the erasure, and the operator is told why in the log."""
    log.error("erasure ledger unavailable", reason=exc.message)
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Erasure ledger unavailable",
        "the erasure could not be written to the erasure ledger, so nothing was erased; an "
        "operator must make the ledger file writable. Try again afterwards",
        rule="erasure-ledger-unavailable",
    )


def export_unavailable(
    request: Request[Any, Any, Any], exc: SigningKeyError | AuditExportRefused
) -> Response[bytes]:
    """An audit export needs the deployment's signing key and a record that verifies (issue
    #16): without either it is the operator's to fix, and the message says how."""
    log.error("audit export not made", reason=exc.message)
    detail = (
        exc.message
        if isinstance(exc, AuditExportRefused)
        else "the deployment cannot sign the export: its signing key is missing or unusable; "
        "an operator makes or restores it (`rodedraad keys public --create`, README 'Tamper "
        "evidence'). Nothing was exported"
    )
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Audit export unavailable",
        detail,
        rule="audit-export-unavailable",
    )


def record_unreadable(
    request: Request[Any, Any, Any], exc: MapperDeserialisationError
) -> Response[bytes]:
    """A stored event that no longer decodes was changed past the application (an outside
    probe: an auditor's routes answered 500): the operator's to find with ``rodedraad audit
    verify``. The exception's message is not logged: it may quote the stored bytes."""
    log.error("a stored event does not decode", error=type(exc.__cause__ or exc).__name__)
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "Record unreadable",
        "part of the record does not decode, as when it was changed past the application; an "
        "operator runs `rodedraad audit verify`, which names where (README 'Tamper evidence'). "
        "Nothing was recorded",
        rule="record-unreadable",
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
_RULES = {
    400: "bad-request",
    401: "bearer-token",
    403: "access-policy",
    404: "route",
    405: "method",
    413: "body-size",
    415: "media-type",
}


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    ApplicationError: application_error,
    IdempotencyConflict: idempotency_conflict,
    ValidationException: validation_error,
    RecursionError: too_deep,
    HTTPException: http_error,
    ReadModelBehind: read_model_behind,
    PositionNotWritten: position_not_written,
    Forbidden: forbidden,
    KekError: kek_unavailable,
    ErasureLedgerError: erasure_ledger_unavailable,
    SigningKeyError: export_unavailable,
    AuditExportRefused: export_unavailable,
    MapperDeserialisationError: record_unreadable,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error,
    **dict.fromkeys(UNAVAILABLE, database_unavailable),
}
