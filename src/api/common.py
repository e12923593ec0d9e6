"""What every controller stands on: request headers and parameters declared once, ETags,
read-your-writes, the representative a request acts for, and recording a read of personal data.

Controllers import from here (and from ``api.schemas``), never from each other (an import
contract keeps it so). No ``from __future__ import annotations``: Litestar introspects these.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter

from api.auth import Principal
from api.schemas import RefFilter
from api.services import ApiServices
from application.access_log import AccessLog, PersonalDataRead
from application.commands import REF_MAX_LENGTH, REF_PATTERN
from domain.common import ReasonCategory, Sector
from projections.plan_state.board import BoardFilter
from projections.queries import ReadModelQueries

# --- what handlers ask for, written once ---------------------------------------------------------

#: The request, with the principal its bearer token names.
Caller = Request[Principal, Any, Any]
#: What the composition root built for the HTTP layer (``api.services``).
Services = NamedDependency[ApiServices]
#: The read models' queries (``projections.queries``).
Queries = NamedDependency[ReadModelQueries]
#: The record a path names by its id (a trajectory, a client).
Id = FromPath[UUID]

# --- the board's filters (the API's ``/v1/board`` and the board page) ----------------------------


def provide_board_filter(
    organisation: RefFilter = None,
    region: RefFilter = None,
    sector: FromQuery[Sector | None] = None,
    reason: FromQuery[ReasonCategory | None] = None,
    min_days: Annotated[int, QueryParameter(ge=0, le=36500)] = 0,
    idle_days: Annotated[int, QueryParameter(ge=1, le=3650)] = 90,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> BoardFilter:
    """The board's query parameters, declared once: the ``board_filter`` dependency. The
    scope the caller asked for; ``read_access.read_board`` narrows it to what it may list."""
    return BoardFilter(
        organisation=organisation,
        region=region,
        sector=sector,
        reason=reason,
        min_days=min_days,
        idle_days=idle_days,
        limit=limit,
    )


#: The board's filters as asked for (the ``board_filter`` dependency).
RequestedBoard = NamedDependency[BoardFilter]

# --- the headers and parameters of a command ------------------------------------------------------

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='The version you decided on, as its ETag ("7"); a stale one gets 412',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Makes a retry safe: the same key returns the first answer",
    ),
]

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})"?$')
_REF = re.compile(REF_PATTERN)
ON_BEHALF_OF = "X-On-Behalf-Of"


def expected_version(if_match: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``) → 7; absent or ``*`` → no expectation."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ValidationException(
            'If-Match must be an ETag this API gave out, such as "7"',
            extra=[{"key": "If-Match", "message": 'If-Match must be an ETag such as "7"'}],
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'


def on_behalf_of(request: Request[Principal, Any, Any]) -> str | None:
    """The representative reference a request names in ``X-On-Behalf-Of``, as sent (compared
    exactly with the client's appointed representatives, never trimmed or case-folded), or a
    422 if it cannot be one."""
    raw = request.headers.get(ON_BEHALF_OF.lower())
    if raw is None:
        return None
    if len(raw) > REF_MAX_LENGTH or not _REF.match(raw):
        raise ValidationException(
            f"{ON_BEHALF_OF} must be an appointed representative's reference (letters, digits "
            "and . _ : @ -, at most 100 characters)",
            extra=[{"key": ON_BEHALF_OF, "message": "not a representative reference"}],
        )
    return raw


# --- read your writes -----------------------------------------------------------------------------

#: The largest log position there can be: a notification id is a signed 64-bit integer on
#: PostgreSQL and SQLite alike. A ``min_position`` above it is one no write ever answered, and
#: waiting for it would answer 503 "retry shortly" for ever.
MAX_POSITION = 2**63 - 1
MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="min_position",
        ge=1,
        le=MAX_POSITION,
        required=False,
        description="Wait until the read model has processed this log position (from a command)",
    ),
]
MinPositionHeader = Annotated[
    int | None,
    HeaderParameter(
        name="X-Min-Position",
        ge=1,
        le=MAX_POSITION,
        required=False,
        description="As min_position",
    ),
]
MaxWait = Annotated[
    int,
    QueryParameter(
        name="max_wait_ms", ge=0, le=10_000, description="How long to wait for min_position"
    ),
]


class ReadModelBehind(Exception):
    """The read model has not reached the position the caller asked for, within the wait."""

    def __init__(self, projection: str, position: int, wanted: int) -> None:
        super().__init__(
            f"the {projection} read model is at log position {position}, not yet at the "
            "min_position asked for; retry shortly"
        )
        self.message = str(self)


class ErasureInProgress(ReadModelBehind):
    """The client was erased a moment ago; the read model has yet to rewrite the trajectory."""

    def __init__(self) -> None:
        self.message = (
            "the client's personal data was just erased and this plan state is being rewritten "
            "without it; retry shortly"
        )
        Exception.__init__(self, self.message)


class StandbyBehind(ReadModelBehind):
    """The read replica has not replayed a trajectory the primary already knows."""

    def __init__(self) -> None:
        self.message = "the read replica has not caught up with this trajectory yet; retry shortly"
        Exception.__init__(self, self.message)


@dataclass(frozen=True, slots=True)
class ReadYourWrites:
    """A query's ``min_position`` (or ``X-Min-Position``) and how long it may wait for it.

    A command answers with the log ``position`` it reached; a query given it waits, up to
    ``max_wait_ms``, until the read model has processed that position, and answers 503 if it
    has not; 422 for a position no write has reached (past ``MAX_POSITION``, or past the log's
    head when ``log_head`` reads it), which waiting would never reach.
    """

    queries: ReadModelQueries
    wanted: int | None
    max_wait_ms: int
    #: The hot standby's read models, when the query reads there: its own positions count.
    standby: ReadModelQueries | None = None
    #: The event log's head (its highest position), read once and only when the read model is
    #: behind ``wanted``: a position past it is one no write answered, refused rather than
    #: waited for. None: not checked (a position up to ``MAX_POSITION`` is waited for).
    log_head: Callable[[], int | None] | None = None

    async def reached(self, projection: str, *, on_standby: bool = False) -> None:
        """``on_standby``: the query reads the standby, so the standby's own projection
        position must have reached ``wanted`` (it replays the primary's, behind it)."""
        if self.wanted is None:
            return
        queries = self.standby if on_standby and self.standby is not None else self.queries
        deadline = anyio.current_time() + self.max_wait_ms / 1000
        delay = 0.002
        log_head = self.log_head
        while True:
            position = (await queries.tracking.positions()).get(projection, 0)
            if position >= self.wanted:
                return
            if log_head is not None:  # once, and only when the read model is behind
                head: int | None = await anyio.to_thread.run_sync(log_head)
                self._check_written(head or 0)
                log_head = None
            if anyio.current_time() >= deadline:
                raise ReadModelBehind(projection, position, self.wanted)
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _check_written(self, head: int) -> None:
        """422 for a position past the log's head: no write answered it, so waiting is futile
        (the value asked for is not repeated)."""
        if self.wanted is not None and self.wanted > head:
            raise PositionNotWritten(head)


class PositionNotWritten(Exception):
    """A ``min_position`` past the end of the event log: no write answered it, so no wait
    reaches it (422, rule ``read-your-writes-position``: the request is well-formed, what it
    asks for is not there; the value asked for is not repeated)."""

    def __init__(self, head: int) -> None:
        super().__init__(
            "min_position (or X-Min-Position) lies past the end of the event log, at position "
            f"{head}: no write has reached it. Give the position a command answered"
        )
        self.message = str(self)


class LogHeadSeen:
    """The event log's head as this process last read it, for :class:`ReadYourWrites`: read
    again only for a position past the highest head seen (a log only grows), so a read that
    waits for a position some command answered does not ask the write side's database each
    time (on a hot standby, whose read models trail, nearly every such read would)."""

    def __init__(self, read: Callable[[], int | None]) -> None:
        self._read = read
        self.highest = 0

    def past(self, wanted: int | None) -> Callable[[], int | None] | None:
        """What ``ReadYourWrites.log_head`` should be for ``wanted``: None where a head seen
        already reaches it (nothing to check), else a read that remembers what it found."""
        if wanted is None or wanted <= self.highest:
            return None
        return self._read_and_keep

    def _read_and_keep(self) -> int | None:
        head = self._read()
        if head is not None and head > self.highest:
            self.highest = head
        return head


#: A query's read-your-writes parameters, declared once (the ``consistency`` dependency).
Consistency = NamedDependency[ReadYourWrites]


# --- reads of personal data -----------------------------------------------------------------------


def record_read(
    log: AccessLog,
    request: Request[Principal, Any, Any],
    acting: Principal,
    client_id: UUID,
    trajectory_id: UUID | None,
) -> None:
    """Log a read of personal data, naming the role the reader acted in (issue #10: per role)."""
    log.record(read_entry(request, acting, client_id, trajectory_id))


def read_entry(
    request: Request[Principal, Any, Any],
    acting: Principal,
    client_id: UUID,
    trajectory_id: UUID | None,
    *,
    authorisation: str | None = None,
    purpose: str | None = None,
) -> PersonalDataRead:
    """One entry of the log of personal-data reads, for this request; an export names the
    authorisation it was made under and its purpose (issue #13)."""
    return PersonalDataRead(
        at=datetime.now(UTC),
        user_id=acting.user_id,
        organisation=acting.organisation,
        role=",".join(acting.roles),
        client_id=client_id,
        trajectory_id=trajectory_id,
        endpoint=f"{request.method} {request.scope.get('path_template', request.url.path)}",
        request_id=request.scope.get("state", {}).get("request_id", ""),
        authorisation=authorisation,
        purpose=purpose,
    )
