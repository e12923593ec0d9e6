"""The OpenAPI document names every status a route can answer (issue #10, point 14).

Litestar documents a handler's success and a ``400 ValidationException`` it never answers (our
problem mapping turns validation into 422). Clients generated from the document must handle the
problems the API really answers, so one place decides them by the kind of route, from what the
document itself says of each operation: a ``/v1`` route needs a token (401) and passes the access
policy (403); a body can fail to parse (400), be too large (413), be sent as another media type than
JSON (415) or break the schema (422), as can parameters (422); a command can conflict (409), and
with ``If-Match`` be stale (412); a route that names a record by id can find none (404); a query
given ``min_position`` can wait in vain (503, read-your-writes); any route can lose its database
(503), and a ``/v1`` route can meet keys the KEK cannot open (503, kek-unavailable). Every one is an
``application/problem+json`` ``Problem``.

The document is rewritten where Litestar turns it into a dictionary, so the served JSON, the
interactive pages and ``app.openapi_schema.to_schema()`` all say the same.
"""

import dataclasses
from typing import Any

import msgspec
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import OpenAPI

from api.idempotency import KEY_MAX_LENGTH
from api.problems import PROBLEM_JSON
from api.schemas import Problem

_COMPONENT = "#/components/schemas/{name}"
_PROBLEM_REF = _COMPONENT.format(name=Problem.__name__)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "string"}}

#: What each status means, and the headers it comes with.
_ANSWERS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The body cannot be parsed: not JSON, or not UTF-8 (rule `request-json`)",
        {},
    ),
    401: (
        "No valid bearer token (rule `bearer-token`)",
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    403: ("The token's role or relation does not allow this (rule `access-policy`)", {}),
    404: ("No such record, or none the token is related to", {}),
    409: (
        "A rule of the procedures refuses the command, or it lost a race with another write "
        "(rule `lost-race`), or a request with the same Idempotency-Key is still running",
        {},
    ),
    412: (
        "If-Match names a version that is no longer the current one (rule "
        "`if-match-current-version`); the ETag header has the current one",
        {"ETag": {"schema": {"type": "string"}}},
    ),
    413: ("The body is larger than the configured limit (rule `body-size`)", {}),
    415: (
        "The body was sent with a Content-Type other than application/json (rule `media-type`)",
        {},
    ),
    422: (
        "Well-formed input the API does not take: a field or parameter that breaks the schema "
        "(rule `request-schema`, naming it in `field`), or a command its rules refuse as invalid",
        {},
    ),
    503: (
        "The database cannot be reached (rule `database-unavailable`); retry after Retry-After",
        {"Retry-After": _RETRY_AFTER},
    ),
}

_READ_YOUR_WRITES = (
    "The read model has not reached `min_position` within `max_wait_ms` (rule "
    "`read-your-writes`), or the database cannot be reached (rule `database-unavailable`); "
    "retry after Retry-After"
)
#: A ``/v1`` route may open personal data, and with it the keys the KEK wraps.
_KEK_UNAVAILABLE = (
    ". Or the service cannot open the keys of personal data until an operator restores its "
    "key-encryption key (rule `kek-unavailable`, without Retry-After)"
)

#: The auditor's routes read the stored events themselves (not a read model).
_RECORD_UNREADABLE = (
    ". Or a stored event no longer decodes, as when it was changed past the application (rule "
    "`record-unreadable`, without Retry-After: an operator runs `rodedraad audit verify`)"
)


def answers_of(
    path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]
) -> set[int]:
    """The problem statuses an operation can answer, by its kind (see the module docstring)."""
    parameters = operation.get("parameters", [])
    names = {p["name"] for p in parameters}
    body = _body_schema(operation, schemas)
    statuses = {503}
    if path.startswith("/v1/"):
        statuses |= {401, 403}
    if body is not None:
        statuses |= {400, 413, 422}
        if "application/json" in operation["requestBody"].get("content", {}):
            statuses.add(415)
    if parameters:
        statuses.add(422)
    if method == "post":
        statuses.add(409)
    if "If-Match" in names:
        statuses.add(412)
    if any(p["in"] == "path" or _names_a_record(p.get("schema", {})) for p in parameters) or (
        body is not None and _names_a_record(body)
    ):
        statuses.add(404)
    return statuses


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation of ``document`` answers its problems as ``Problem`` documents."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(msgspec.json.schema_components([Problem], ref_template=_COMPONENT)[1])
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)  # Litestar's ValidationException: we answer 422
            statuses = answers_of(path, method, operation, components)
            waits = any(p["name"] == "min_position" for p in operation.get("parameters", []))
            for status in sorted(statuses):
                description, headers = _ANSWERS[status]
                if status == 503 and waits:
                    description = _READ_YOUR_WRITES
                if status == 503 and path.startswith("/v1/"):
                    description += _KEK_UNAVAILABLE
                if status == 503 and path.startswith("/v1/audit/trajectories/"):
                    description += _RECORD_UNREADABLE
                responses[str(status)] = {
                    "description": description,
                    **({"headers": headers} if headers else {}),
                    "content": {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}},
                }
    return document


def _body_schema(operation: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    schema: dict[str, Any] = next(iter(content.values())).get("schema", {})
    reference = schema.get("$ref", "")
    return dict(schemas.get(reference.rsplit("/", 1)[-1], schema)) if reference else schema


def _names_a_record(schema: Any) -> bool:
    """A uuid anywhere in the schema: a record the API may not find (a client, a trajectory)."""
    if isinstance(schema, dict):
        return schema.get("format") == "uuid" or any(map(_names_a_record, schema.values()))
    if isinstance(schema, list):
        return any(map(_names_a_record, schema))
    return False


# --- what the API takes, as it takes it -------------------------------------------------------
#
# A client generated from the document, or a fuzzer reading it, believes what it says a request
# may hold. Where Litestar's rendering says less than the API enforces, the document says what
# the API does (found by schemathesis' positive-data check from outside): a request the
# document allows is not refused for its shape.

#: The headers whose values the API checks beyond "a string", as it checks them
#: (``common.expected_version``, ``commands._KEY``).
_HEADER_PATTERNS = {
    "If-Match": r'^\s*(?:\*|(?:W/)?"?\d{1,12}"?)\s*$',
    "Idempotency-Key": rf"^[!-~]{{1,{KEY_MAX_LENGTH}}}$",
}
#: The routes answered without a token (every other one needs the bearer token).
_OPEN_ROUTES = ("/health",)


def _structs() -> dict[str, list[type[msgspec.Struct]]]:
    """Every msgspec struct loaded, by name (Litestar titles a struct's schema with it)."""
    found: dict[str, list[type[msgspec.Struct]]] = {}
    stack = list(msgspec.Struct.__subclasses__())
    while stack:
        cls = stack.pop()
        found.setdefault(cls.__name__, []).append(cls)
        stack.extend(cls.__subclasses__())
    return found


def _refuses_unknown_fields(schema: dict[str, Any], structs: list[type[msgspec.Struct]]) -> bool:
    """Whether the struct(s) the schema was made from refuse fields they do not declare."""
    properties = set(schema.get("properties", {}))
    return bool(structs) and all(
        cls.__struct_config__.forbid_unknown_fields
        and {f.encode_name for f in msgspec.structs.fields(cls)} == properties
        for cls in structs
    )


def _without_any(node: Any) -> Any:
    """Litestar renders ``tuple[X, ...]``'s items as ``oneOf: [X, {}]`` (the ellipsis as "any
    value"); the items are ``X``."""
    if isinstance(node, dict):
        one_of = node.get("oneOf")
        if isinstance(one_of, list) and {} in one_of:
            rest = [option for option in one_of if option != {}]
            if len(rest) == 1:
                node = {**{k: v for k, v in node.items() if k != "oneOf"}, **rest[0]}
        return {key: _without_any(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_any(value) for value in node]
    return node


def _with_items_as_decoded(schema: dict[str, Any], cls: type[msgspec.Struct]) -> None:
    """Litestar leaves out what constrains a tuple's items (``tuple[Ref, ...]``: a pattern and a
    length per item); msgspec, which decodes them, says it: its items where they name no
    other schema."""
    (own,), components = msgspec.json.schema_components([cls], ref_template=_COMPONENT)
    decoded = components.get(cls.__name__, own).get("properties", {})
    for name, described in schema.get("properties", {}).items():
        items = decoded.get(name, {}).get("items")
        if "items" in described and items is not None and "$ref" not in str(items):
            described["items"] = items


def document_inputs(document: dict[str, Any]) -> dict[str, Any]:
    """What a request may hold, as the API takes it: a struct that refuses unknown fields says
    ``additionalProperties: false`` and its tuples' items what each must be; a tuple's items
    their one type; ``If-Match`` and ``Idempotency-Key`` their patterns; the open routes no
    security."""
    document = _without_any(document)
    structs = _structs()
    for schema in document.get("components", {}).get("schemas", {}).values():
        made_from = structs.get(schema.get("title", ""), [])
        if schema.get("type") == "object" and _refuses_unknown_fields(schema, made_from):
            schema["additionalProperties"] = False
            if len(made_from) == 1:
                _with_items_as_decoded(schema, made_from[0])
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for parameter in operation.get("parameters", []):
                pattern = _HEADER_PATTERNS.get(parameter.get("name", ""))
                if parameter.get("in") == "header" and pattern is not None:
                    # (A header is a string or not sent: Litestar's ``oneOf`` with null is
                    # its Python type, ``str | None``.)
                    described = parameter.get("schema", {}).get("description")
                    parameter["schema"] = {"type": "string", "pattern": pattern} | (
                        {"description": described} if described else {}
                    )
            if path in _OPEN_ROUTES:
                operation["security"] = []
    return document


class DocumentedOpenAPI(OpenAPI):
    """Litestar's document, with every problem a route can answer (``document_problems``) and
    what a request may hold as the API takes it (``document_inputs``)."""

    def to_schema(self) -> dict[str, Any]:
        return document_problems(document_inputs(super().to_schema()))


class DocumentedOpenAPIConfig(OpenAPIConfig):
    """An ``OpenAPIConfig`` whose document is a ``DocumentedOpenAPI``."""

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        return DocumentedOpenAPI(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        )
