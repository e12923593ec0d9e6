"""A JSON body is taken as its schema types it, not coerced (found by an outside walk).

Litestar converts a decoded body into the handler's struct with msgspec's ``strict=False``,
which takes a number for a moment (``"occurred_at": 1700000000`` as a Unix time, ``-1`` as
1969), a string for a number (``"3"``) and ``"true"`` for a boolean. The OpenAPI document says a
moment is a string with an offset; a client that sends a number has made a mistake, and the
record would hold a moment nobody wrote. Before the handler runs, the body is converted once
more, strictly, into the same struct (a number written ``1.0`` still an integer, as in JSON
Schema); where that fails the request is refused (422, naming the field) as any other schema
error. The body is decoded once (Litestar keeps the decoded JSON on
the request), and only bodies typed as a msgspec struct are checked.

Such a body is JSON, and a request that says it sends something else (``Content-Type:
text/plain``, a form) is refused (415, rule ``media-type``) rather than read as JSON anyway: the
caller's tool sent something other than what it meant to (a request without the header is read
as JSON, as before).
"""

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg

from api.problems import refused_field


def _struct_body(handler: HTTPRouteHandler) -> type[msgspec.Struct] | None:
    """The struct a handler's JSON body decodes to (None: no body, or not a struct)."""
    body = handler.parsed_fn_signature.parameters.get("data")
    if body is None:
        return None
    kwarg = body.kwarg_definition
    if isinstance(kwarg, BodyKwarg) and kwarg.media_type != RequestEncodingType.JSON:
        return None
    found = body.annotation
    return found if isinstance(found, type) and issubclass(found, msgspec.Struct) else None


async def strictly_typed_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a JSON body whose values are not of their schema's types (``before_request``)."""
    handler = request.route_handler
    struct = _struct_body(handler) if isinstance(handler, HTTPRouteHandler) else None
    if struct is None or not await request.body():
        return  # (no body: Litestar's own answer, as before)
    sent = request.headers.get("content-type", "").strip()
    if sent and not is_json_media_type(sent):
        raise HTTPException(
            status_code=415,
            detail="this route takes a JSON body: send it with Content-Type: application/json "
            "(the request named another media type)",
        )
    try:
        decoded = await request.json()
    except SerializationException:
        return  # (not JSON: the handler's own decoding answers it, 400, as before)
    try:
        msgspec.convert(_integral(decoded), type=struct, strict=True, str_keys=True)
    except msgspec.ValidationError as error:
        raise _refused(str(error)) from None


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` (any parameters, such as a charset) or a ``+json`` type."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _refused(told: str) -> ValidationException:
    """msgspec's message as the other schema problems say it: the field apart (``field``), and
    a moment or a day sent as something else told how to write it."""
    at = _AT.search(told)
    if at is None:
        return ValidationException(told)
    field, told = at.group(1), told[: at.start()]
    kind = _MOMENT.match(told)
    if kind is not None:
        told = f"{field} must be text such as {_AS_TEXT[kind.group(1)]}"
    return refused_field(field, told)


def _integral(value: Any) -> Any:
    """``1.0`` as ``1``: JSON Schema's integer is a number without a fraction, however written
    (Litestar's own conversion takes it so too)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


#: Where msgspec says the value was, at the end of its message.
_AT = re.compile(r" - at `\$\.([^`]+)`$")
#: A moment or a day (or either, or null) that was sent as another type.
_MOMENT = re.compile(r"^Expected `(datetime|date)(?: \| null)?`, got")


#: What a moment or a day is sent as, for the answer to a body that sent something else.
_AS_TEXT = {"datetime": '"2026-10-01T12:00:00+02:00"', "date": '"2026-10-01"'}
