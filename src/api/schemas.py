"""The wire schema's answers and parameters: msgspec Structs for every response.

The requests are the application's typed commands (``application.commands``: unknown fields
refused, identifiers ``Ref``s, texts bounded), declared once there; a controller finds every
other wire type here. No ``from __future__ import annotations`` here: Litestar introspects these
types.
"""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar.params import PathParameter, QueryParameter

from application.commands import REF_MAX_LENGTH, REF_PATTERN
from projections.statistics.document import CellDocument
from projections.statistics.store import AuditSummary

# --- parameters -----------------------------------------------------------------------------------

#: An identifier (``Ref``) where a path names an item (a goal, an agreement, a consent, ...).
RefInPath = Annotated[
    str, PathParameter(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH)
]
#: The same identifier as a filter of a list; absent means no filter.
RefFilter = Annotated[
    str | None,
    QueryParameter(pattern=REF_PATTERN, min_length=1, max_length=REF_MAX_LENGTH, required=False),
]
#: A user id from a token (``sub``): any text but control characters.
UserIdFilter = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^(?!.*\n)[^\x00-\x1f\x7f]+$", min_length=1, max_length=200, required=False
    ),
]


# --- answers ------------------------------------------------------------------------------------


class CommandAnswer(msgspec.Struct, omit_defaults=True):
    """What every command answers: the record it changed and its new version."""

    id: UUID
    version: int
    #: The event-log position this command reached (read-your-writes, issue #3).
    position: int | None = None
    #: The id of the goal, action, agreement, escalation or consent the command created.
    item_id: str | None = None


class HistoryEntry(msgspec.Struct):
    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: dict[str, Any]
    fields: dict[str, Any]


class History(msgspec.Struct):
    trajectory_id: UUID
    events: list[HistoryEntry]


class ClientDue(msgspec.Struct):
    client_id: UUID
    service_ended: datetime


class RetentionReport(msgspec.Struct):
    as_of: datetime
    plan_years: int
    log_years: int
    #: Clients whose trajectories all ended more than ``plan_years`` ago: erase with
    #: ``POST /v1/clients/{id}/erasure`` and ``legal_basis: retention_ended``.
    clients_due: list[ClientDue]
    #: Access-log entries older than ``log_years``: ``rodedraad retention purge-log`` removes them.
    log_entries_due: int


class ProjectionHealth(msgspec.Struct):
    position: int
    lag: int


class Health(msgspec.Struct):
    #: ``ok``, or ``degraded`` with the ``reasons``: the service answers, but something needs
    #: an operator (a projection that does not advance, an overdue key rotation, …).
    status: str
    log_position: int
    projections: dict[str, ProjectionHealth]
    reasons: list[str] = msgspec.field(default_factory=list)


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with the rule and field that failed."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    field: str | None = None


# --- statistics releases (issue #12) --------------------------------------------------------

#: A period of the release grid: a year or a quarter.
PeriodFilter = Annotated[
    str | None,
    QueryParameter(
        pattern=r"^2\d{3}(Q[1-4])?$",
        required=False,
        description="A year (2026) or a quarter (2026Q3)",
    ),
]


class ReleaseTableSummary(msgspec.Struct, frozen=True):
    """A table of a release, for the regions the caller reads: what it shows and how much of it
    disclosure control let through."""

    name: str
    title: str
    description: str
    seeds: list[str]
    cells: int
    published: int
    published_share: float
    withheld_by_rule: dict[str, int]


class ReleaseSummary(msgspec.Struct, frozen=True):
    """A release: immutable, numbered, for one closed period."""

    number: int
    period: str
    revises: int | None
    computed_at: datetime
    log_position: int
    rule_set: str
    k: int
    deployment: str
    regions: list[str]


class ReleaseView(ReleaseSummary, frozen=True):
    """A release with its tables and what it was computed under."""

    deadline_policies: dict[str, str]
    tables: list[ReleaseTableSummary]
    audit: AuditSummary


class ReleaseTableView(msgspec.Struct, frozen=True):
    """A table of a release for the regions the caller reads; ``categories`` says what each
    category counts."""

    number: int
    period: str
    name: str
    title: str
    description: str
    seeds: list[str]
    categories: dict[str, str]
    regions: list[str]
    #: One number each: ``value``, or ``null`` with the reason in ``withheld``.
    cells: list[CellDocument]


# --- export authorisations (issue #13) -------------------------------------------------------


class ExportAuthorisationView(msgspec.Struct):
    """One export authorisation as the data protection officer sees it: whom it authorises,
    for what, on which basis, and whether it is ``in_force``, ``revoked`` or ``expired`` today."""

    id: UUID
    version: int
    user_id: str
    organisation: str
    purpose: str
    legal_basis: str
    region: str
    until: date
    status: str
    granted_at: datetime
    granted_by: str
    revoked_on: date | None = None
