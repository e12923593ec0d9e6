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
    #: With a read replica (``RODEDRAAD_READ_DATABASE_URL``): each projection's position on the
    #: standby and how far it is behind the primary's (``lag``, in log positions); ``null``
    #: without one, or when the standby cannot be reached (then ``reasons`` says so).
    standby: dict[str, ProjectionHealth] | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with the rule and field that failed."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rule: str | None = None
    field: str | None = None
    #: This request's id (also the ``X-Request-ID`` header): quote it when you report a problem.
    request_id: str | None = None


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


class ReleaseAudit(msgspec.Struct, frozen=True):
    """The disclosure audit the release passed, as the caller may read it.

    ``withheld_counts_audited``: how many withheld counts the audit checked, not counting the
    dynamics table's; ``narrowest_margin``: the narrowest any withheld count it checked (this
    release's or an earlier version's) could be pinned, as a share of the interval it had to
    keep open (≥ 1.0: every interval kept; ``null`` with none to check); ``narrowed_before``:
    how many it cut to what earlier releases made without the laws left open (``null``: a
    release saved before it was recorded). A revision audits only the regions whose figures
    it changes, so in a revision these three are ``null`` to every reader: set against each
    table's tallies of withheld cells over every region (``withheld_by_rule``), they would
    tell which regions it did not audit again, that is where late facts fell (or did not).
    ``earlier_versions``: the releases of the same year it was audited against.
    ``said_again`` and ``held_back``: the regions a revision published as the release it
    revises did, and those it held at that release's figures; to an auditor, of the regions
    it reads; ``null`` to the others, in a first release and in a release saved before they
    were recorded."""

    withheld_counts_audited: int | None
    earlier_versions: list[int]
    narrowest_margin: float | None
    narrowed_before: int | None = None
    said_again: list[str] | None = None
    held_back: list[str] | None = None


class ReleaseView(ReleaseSummary, frozen=True):
    """A release with its tables and what it was computed under."""

    deadline_policies: dict[str, str]
    tables: list[ReleaseTableSummary]
    audit: ReleaseAudit


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


#: A release's number, as the store numbers them.
ReleaseNumber = Annotated[int, PathParameter(ge=1, le=2_147_483_647)]
#: The region of a release whose dynamics are read (required).
ReleaseRegion = Annotated[
    str,
    QueryParameter(
        pattern=REF_PATTERN,
        min_length=1,
        max_length=REF_MAX_LENGTH,
        description="A region of the release (a learning network and an auditor: their own)",
    ),
]


class MapNode(msgspec.Struct, frozen=True):
    """An activity of the process map and how often it occurred (published only)."""

    activity: str
    count: int


class MapEdge(msgspec.Struct, frozen=True):
    """``target`` directly following ``source`` (``start``: a trace's first step, ``end``: its
    last in the period): how often, and the median gap in whole weeks where it is published."""

    source: str
    target: str
    count: int
    median_weeks: float | None = None


class RegionOfRelease(msgspec.Struct, frozen=True):
    """Which release and region a dynamics answer is of, and the k it was released under."""

    number: int
    period: str
    region: str
    k: int


class ProcessMapView(RegionOfRelease, frozen=True):
    """A region's directly-follows graph in a release: published nodes and edges only (an
    activity or edge not listed occurred not at all or was withheld)."""

    nodes: list[MapNode]
    edges: list[MapEdge]


class PathView(msgspec.Struct, frozen=True):
    """Two activities that came right before a block (or its end), how many blocks (or ends)
    followed them and their share of all of the region's (when both are published)."""

    before: list[str]
    count: int
    share: float | None = None


class PathsView(RegionOfRelease, frozen=True):
    """The published paths into and out of a block; ``blocks`` and ``unblocks`` are the
    region's totals (``null`` when withheld)."""

    blocks: int | None
    unblocks: int | None
    into_block: list[PathView]
    out_of_block: list[PathView]


class TwoByTwo(msgspec.Struct, frozen=True):
    """Trajectories by the factor present/absent and blocked/not; ``null`` where withheld."""

    present_blocked: int | None
    present_not_blocked: int | None
    absent_blocked: int | None
    absent_not_blocked: int | None


class EarlyFactorView(msgspec.Struct, frozen=True):
    """A factor known in the first three months, its two-by-two table and, when every cell of
    it is published and at least k, the relative risk of being blocked with a 95 % interval."""

    factor: str
    table: TwoByTwo
    relative_risk: float | None = None
    low: float | None = None
    high: float | None = None


class EarlyFactorsView(RegionOfRelease, frozen=True):
    """The early factors of a region in a release, in ``dynamics.FACTORS``' order."""

    factors: list[EarlyFactorView]


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


# --- the audit of one trajectory (issue #15) ------------------------------------------------------


class ActorView(msgspec.Struct):
    """Who recorded a fact: user, organisation, the role used, and for whom."""

    user_id: str
    organisation: str
    role: str
    on_behalf_of: str | None


class LateFact(msgspec.Struct):
    """A fact that happened by the moment asked about, committed to the record only later."""

    version: int
    event: str
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorView


class ConsentInForce(msgspec.Struct):
    id: str
    to_party: str
    scopes: list[str]
    granted_on: date
    #: The moment it was given (004): in force from then on, not from the start of its day. A
    #: consent read from a snapshot taken before the moment was kept: the start of its day.
    granted_at: datetime
    until: date | None


class TrajectoryAsOfAnswer(msgspec.Struct):
    """The plan state's shape as of a moment, with the client's consents in force then and
    the facts the record did not show then (the difference between the two axes)."""

    trajectory_id: UUID
    occurred: datetime | None
    recorded: datetime | None
    #: The moment everything time-dependent is evaluated at.
    evaluated_at: datetime
    #: False when a commit time the answer needed predates the commit-time record (it then
    #: used the events' own timestamps, taken before their commit).
    commit_times_exact: bool
    state: Any
    plan_in_force: bool
    consultation_overdue: bool
    evaluation_overdue: bool
    excluded_representatives: list[str]
    consents_in_force: list[ConsentInForce]
    recorded_later: list[LateFact]
    #: The deadline policy's deadlines over the facts up to the moment, as they stood then.
    deadlines: list["DeadlineAsOf"] = msgspec.field(default_factory=list)


class DeadlineAsOf(msgspec.Struct):
    """One deadline as it stood at the moment asked about: ``open`` (not met, not yet due),
    ``due`` (not met, its due date passed), ``met`` or ``met_late`` (met by then)."""

    rule: str
    expected: str
    due_on: date
    met_on: date | None
    standing: str
    #: Whether the scheduler had recorded its miss, late meeting or reminder by then.
    missed_recorded: bool
    met_late_recorded: bool
    reminded: bool


class Moment(msgspec.Struct):
    """A fact's two times: in the world, and when the record committed it."""

    occurred_at: datetime
    recorded_at: datetime
    actor: ActorView
    version: int


class AgreementAnswer(msgspec.Struct):
    party: str
    answer: str
    reason_given: bool
    at: Moment


class RoleAgreementRecord(msgspec.Struct):
    id: str
    assignments: list[dict[str, Any]]
    proposed: Moment
    answers: list[AgreementAnswer]
    in_force_from: datetime | None
    in_force_to: datetime | None
    ended: Moment | None


class PlanSignature(msgspec.Struct):
    plan_version: int
    signatory: str
    representative_ref: str | None
    valid_until: date
    at: Moment


class ConsentUse(msgspec.Struct):
    """A handover and the consent that covered it at that moment (004)."""

    to_party: str
    scopes: list[str]
    consent_id: str
    covered: bool
    consent_to_party: str | None
    consent_scopes: list[str]
    consent_granted_on: date | None
    #: The moment the consent was given (its grant's occurred_at): ``covered`` is decided
    #: against it, not against its day (004).
    consent_granted_at: datetime | None
    consent_until: date | None
    consent_revoked_at: datetime | None
    at: Moment


class EscalationDecision(msgspec.Struct):
    escalation_id: str
    decision: str
    level: str | None
    at: Moment


class Agreements(msgspec.Struct):
    """Who agreed what, and when: every role agreement, signature, consent used and
    escalation decision of one trajectory, from the record itself."""

    trajectory_id: UUID
    role_agreements: list[RoleAgreementRecord]
    plan_signatures: list[PlanSignature]
    consents_used: list[ConsentUse]
    escalation_decisions: list[EscalationDecision]


class AsOfInExport(msgspec.Struct):
    """One as-of question of an audit export (``as_of=occurred:T``, ``recorded:T`` or both,
    comma-separated) and its answer as ``GET .../as-of`` gives it; ``not_in_record`` instead
    when the trajectory was not yet in the record as asked (the route's 404)."""

    asked: str
    answer: TrajectoryAsOfAnswer | None
    not_in_record: str | None = None
