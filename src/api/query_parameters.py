"""Query parameters a route of the API does not take are refused, not ignored.

A filter misspelt (``?regoin=west-flanders``) or asked of a route that has none used to be
dropped in silence: the answer then looked like the one asked for while it held every region
the caller may see, and an auditor's ``personal-data-reads`` without its ``client_id`` filter
looked like one client's reads. A parameter given twice where it takes one value used to count
only its last value. Both are refused now (``422``, ``request-schema``), naming the parameter.

A value is held to its documented type as written: Litestar reads ``?limit=1e3`` as 1000 and
``?occurred=1700000000`` as a Unix time, where the document says a whole number and a moment
written as text (a probe's finding). An integer is digits (a sign allowed), a moment or a day
starts with its date (``2026-09-01``); anything else is refused (``422``) before it is read.

What a route takes is what its OpenAPI operation documents: the document a caller builds from
is the one the API holds them to. Only the API's own routes (``/v1/…``) are checked; the pages
of ``/ui`` read their query themselves.
"""

import re
import threading
from collections.abc import Iterable
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIType, Parameter, Reference, Schema
from litestar.routes import HTTPRoute

from api.problems import refused_field


class _Taken:
    """The query parameters of one operation: all of them, and those that take many values."""

    __slots__ = ("many", "names", "written")

    def __init__(
        self,
        names: frozenset[str],
        many: frozenset[str],
        written: dict[str, tuple[re.Pattern[str], str]] | None = None,
    ) -> None:
        self.names = names
        self.many = many
        #: A parameter whose value must be written so (integers, moments, days), and how to say it.
        self.written = written or {}


#: How a value of a documented type (and format) is written: the pattern and how to say it.
_WRITTEN: dict[tuple[str, str | None], tuple[re.Pattern[str], str]] = {
    ("integer", None): (
        re.compile(r"[+-]?[0-9]+"),
        "a whole number written in digits, such as 100",
    ),
    ("string", "date-time"): (
        re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].*)?", re.DOTALL),
        "a moment written as text with an offset, such as 2026-09-01T09:00:00+02:00",
    ),
    ("string", "date"): (re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), "a day such as 2026-09-01"),
}


def _written(schema: Schema | Reference | None) -> tuple[re.Pattern[str], str] | None:
    """How a parameter's value must be written, if its schema (or its one option beside null)
    is an integer, a moment or a day."""
    if not isinstance(schema, Schema):
        return None
    options = [o for o in (*(schema.one_of or ()), *(schema.any_of or ())) if isinstance(o, Schema)]
    if options:
        typed = [o for o in options if o.type != OpenAPIType.NULL]
        return _written(typed[0]) if len(typed) == 1 else None
    kind = schema.type.value if isinstance(schema.type, OpenAPIType) else None
    if kind is None:
        return None
    return _WRITTEN.get((kind, schema.format.value if schema.format else None))


def _takes_many(schema: Schema | Reference | None) -> bool:
    """Whether a parameter's schema is (or may be) an array: given once per value."""
    if not isinstance(schema, Schema):
        return False
    if schema.type == OpenAPIType.ARRAY or (
        isinstance(schema.type, list | tuple) and OpenAPIType.ARRAY in schema.type
    ):
        return True
    options = [*(schema.one_of or ()), *(schema.any_of or ())]
    return any(_takes_many(option) for option in options)


def _query_of(parameters: Iterable[Parameter | Reference] | None) -> _Taken:
    query = [p for p in parameters or () if isinstance(p, Parameter) and p.param_in == "query"]
    written = {p.name: w for p in query if (w := _written(p.schema)) is not None}
    return _Taken(
        frozenset(p.name for p in query),
        frozenset(p.name for p in query if _takes_many(p.schema)),
        written,
    )


def _operations(app: Litestar) -> dict[int, _Taken]:
    """Each API route handler's query parameters, as the OpenAPI document states them (keyed
    by the handler's identity: a request names the handler it was routed to)."""
    paths = app.openapi_schema.paths or {}
    taken: dict[int, _Taken] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path_format.startswith("/v1/"):
            continue
        item = paths.get(route.path_format)
        for handler in route.route_handlers:
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None) if item is not None else None
                if operation is not None:
                    taken[id(handler)] = _query_of(operation.parameters)
    return taken


class QueryParameters:
    """Refuses (``check``) a query parameter the route's operation does not document, and one
    given more than once that takes one value. Works out what each route takes the first time
    it is asked (from the OpenAPI document, which Litestar builds once)."""

    def __init__(self) -> None:
        self._taken: dict[int, _Taken] | None = None
        #: Every parameter some route of the API takes: the only names a refusal says back. A
        #: caller's name for a parameter may hold anything (``?0470123456``, a name), and an
        #: answer never echoes what it refuses (README, errors).
        self._known: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def learn(self, app: Litestar) -> None:
        """Work out what each route takes (``on_startup``: Litestar builds the OpenAPI document
        once, and no request waits for it)."""
        with self._lock:
            if self._taken is None:
                taken = _operations(app)
                self._known = frozenset(n for t in taken.values() for n in t.names)
                self._taken = taken

    def _of(self, app: Litestar) -> dict[int, _Taken]:
        if self._taken is None:
            self.learn(app)
        assert self._taken is not None
        return self._taken

    def check(self, request: Request[Any, Any, Any]) -> None:
        if not request.query_params:
            return
        taken = self._of(request.app).get(id(request.route_handler))
        if taken is None:
            return  # (not a route of the API)
        for name in request.query_params:
            if name not in taken.names:
                raise _unknown(name, taken, said_back=name in self._known)
            if name not in taken.many and len(request.query_params.getall(name)) > 1:
                raise refused_field(
                    name, f"{name} is given more than once; give it once (it takes one value)"
                )
            written = taken.written.get(name)
            if written is not None and not all(
                written[0].fullmatch(value) for value in request.query_params.getall(name)
            ):
                raise refused_field(name, f"{name} must be {written[1]}")


def _unknown(name: str, taken: _Taken, *, said_back: bool) -> ValidationException:
    said = (
        f"{name} is not a query parameter of this route"
        if said_back
        else "the query names a parameter this route does not take"
    )
    if taken.names:
        said += f"; it takes {', '.join(sorted(taken.names))}"
    else:
        said += "; it takes none"
    said += " (the OpenAPI document, /schema/openapi.json, lists each route's)"
    if said_back:
        return refused_field(name, said)
    return ValidationException(said)
