"""Learning networks as read models: each network's state, and the policy signals overview
(issue #14 point 5).

``rm_learning_networks`` holds one row per network (a region's, or the deployment's forum): its
level, region, status and version as columns, and its whole state (members, themes, meetings,
signals, lessons, improvement trajectories with their measurements) as one JSON document,
folded from the network's events in log order. ``rm_policy_signals`` holds one row per signal
(of a region, or received by the forum) with its category, status and the moments it was
raised, answered, escalated or closed: the overview counts open signals per category and region
and says how long they have been open.

No personal data: members are organisations, themes are written for sharing, a proposer is a
kind. An erasure rewrites nothing here.

The module owns both tables: DDL, writer (``LearningNetworksProjection``) and queries
(``LearningNetworkQueries``, on the API's async runner).
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from statistics import median
from typing import Any
from uuid import UUID

import msgspec

from domain.common import PdcaPhase
from domain.learning_network import (
    ActionProposal,
    Audience,
    Evidence,
    LearningNetwork,
    MeetingKind,
    MemberRole,
    NetworkLevel,
    NetworkStatus,
    ParticipationRung,
    ProposerKind,
    Reach,
    SignalCategory,
    SignalStatus,
    ThemeSource,
    ThemeStatus,
)
from domain.network_cadence import OWED, Cadence, cadence_due, first_live_year
from projections.runner import Runner
from projections.store import Tx, iso

N = LearningNetwork

# --- the views ----------------------------------------------------------------------------------


class MemberView(msgspec.Struct, kw_only=True):
    organisation: str
    expertise: str
    role: MemberRole
    joined_at: datetime


class ThemeView(msgspec.Struct, kw_only=True):
    theme_id: str
    title: str
    description: str
    #: Who proposed it, as a kind ("region_coordinator": a coordinator of the region).
    proposer_kind: ProposerKind
    source_kind: ThemeSource
    status: ThemeStatus
    proposed_at: datetime
    scheduled_for: date | None = None
    discussed_in: list[str] = []
    conclusion: str | None = None
    closed_at: datetime | None = None


class MeetingView(msgspec.Struct, kw_only=True):
    meeting_id: str
    kind: MeetingKind
    held_on: date
    members_present: list[str]
    themes_discussed: list[str]
    releases_consulted: list[int]
    conclusions: list[str]


class SignalView(msgspec.Struct, kw_only=True):
    signal_id: str
    category: SignalCategory
    description: str
    evidence: Evidence
    addressed_to: str
    status: SignalStatus
    raised_at: datetime
    #: The region a signal received by the forum came from.
    from_region: str | None = None
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    closing_reason: str | None = None
    #: Days from raised to closed or escalated, or to today while open (computed when read).
    days_open: int | None = None


class LessonsView(msgspec.Struct, kw_only=True):
    year: int
    what_worked: list[str]
    what_did_not: list[str]
    improvement_paths: list[str]
    action_proposals: list[ActionProposal]
    audiences: list[Audience]
    published_at: datetime


class MeasurementView(msgspec.Struct, kw_only=True):
    measured_on: date
    pdca_phase: PdcaPhase
    participation: ParticipationRung
    confidence: int
    reach: Reach


class ImprovementView(msgspec.Struct, kw_only=True):
    improvement_id: str
    title: str
    action_proposal: str
    theme_id: str | None
    started_at: datetime
    #: In time order: the network sees the trajectory over its measurement moments.
    measurements: list[MeasurementView] = []


class NetworkSummary(msgspec.Struct, kw_only=True):
    id: UUID
    version: int
    level: NetworkLevel
    region: str | None
    coordinating_organisation: str
    status: NetworkStatus
    established_at: datetime


class NetworkView(NetworkSummary, kw_only=True):
    """A learning network as it stands: everything it recorded."""

    closed_at: datetime | None = None
    members: list[MemberView] = []
    themes: list[ThemeView] = []
    meetings: list[MeetingView] = []
    signals: list[SignalView] = []
    lessons: list[LessonsView] = []
    improvement_trajectories: list[ImprovementView] = []
    #: The scheduler's cadence facts (issue #14 point 3): ``learning_network:2027`` for a year
    #: short of a kind of meeting, ``2027Q2`` for a quarter without a meeting.
    cadence_missed: list[str] = []
    cadence_reminders: list[str] = []


class SignalAge(msgspec.Struct, kw_only=True):
    network_id: UUID
    signal_id: str
    level: NetworkLevel
    region: str | None
    category: SignalCategory
    status: SignalStatus
    raised_at: datetime
    answered: bool
    #: Days from raised to closed or escalated, or to today while open.
    days_open: int


class SignalGroup(msgspec.Struct, kw_only=True):
    """Per region (``None``: the forum) and category."""

    region: str | None
    category: SignalCategory
    open: int
    answered: int
    escalated: int
    closed: int
    #: Of the signals still open (open or answered): the longest and the median days open.
    longest_open_days: int | None
    median_open_days: float | None


class SignalsOverview(msgspec.Struct, kw_only=True):
    groups: list[SignalGroup]
    signals: list[SignalAge]


# --- the writer ----------------------------------------------------------------------------------

_NETWORKS = "rm_learning_networks"
_SIGNALS = "rm_policy_signals"
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(NetworkView)


def _signal_view(
    event: "N.PolicySignalRaised | N.PolicySignalReceived",
    at: datetime,
    addressed_to: str,
    from_region: str | None,
) -> SignalView:
    return SignalView(
        signal_id=event.signal_id,
        category=event.category,
        description=event.description,
        evidence=event.evidence,
        addressed_to=addressed_to,
        status=SignalStatus.OPEN,
        raised_at=at,
        from_region=from_region,
    )


def fold(view: NetworkView | None, event: Any) -> NetworkView:
    """The network's view after ``event`` (the view the projection stores)."""
    if isinstance(event, N.Established):
        return NetworkView(
            id=event.originator_id,
            version=event.originator_version,
            level=event.level,
            region=event.region,
            coordinating_organisation=event.coordinating_organisation,
            status=NetworkStatus.ACTIVE,
            established_at=event.occurred_at,
            members=[
                MemberView(
                    organisation=event.coordinating_organisation,
                    expertise="coordination",
                    role=MemberRole.COORDINATOR,
                    joined_at=event.occurred_at,
                )
            ],
        )
    assert view is not None, "a network's first event establishes it"
    view.version = event.originator_version
    themes = {t.theme_id: t for t in view.themes}
    signals = {s.signal_id: s for s in view.signals}
    at = event.occurred_at
    if isinstance(event, N.MemberJoined):
        view.members.append(
            MemberView(
                organisation=event.organisation,
                expertise=event.expertise,
                role=event.role,
                joined_at=at,
            )
        )
    elif isinstance(event, N.MemberLeft):
        view.members = [m for m in view.members if m.organisation != event.organisation]
    elif isinstance(event, N.ThemeProposed):
        view.themes.append(
            ThemeView(
                theme_id=event.theme_id,
                title=event.title,
                description=event.description,
                proposer_kind=event.proposer_kind,
                source_kind=event.source_kind,
                status=ThemeStatus.PROPOSED,
                proposed_at=at,
            )
        )
    elif isinstance(event, N.ThemeScheduled):
        theme = themes[event.theme_id]
        theme.scheduled_for = event.scheduled_for
        if theme.status == ThemeStatus.PROPOSED:
            theme.status = ThemeStatus.SCHEDULED
    elif isinstance(event, N.ThemeClosed):
        theme = themes[event.theme_id]
        theme.status, theme.conclusion, theme.closed_at = ThemeStatus.CLOSED, event.conclusion, at
    elif isinstance(event, N.MeetingHeld):
        view.meetings.append(
            MeetingView(
                meeting_id=event.meeting_id,
                kind=event.kind,
                held_on=event.held_on,
                members_present=list(event.members_present),
                themes_discussed=list(event.themes_discussed),
                releases_consulted=list(event.releases_consulted),
                conclusions=list(event.conclusions),
            )
        )
        for theme_id in event.themes_discussed:
            themes[theme_id].status = ThemeStatus.DISCUSSED
            themes[theme_id].discussed_in.append(event.meeting_id)
    elif isinstance(event, N.PolicySignalRaised):
        view.signals.append(_signal_view(event, at, event.addressed_to, None))
    elif isinstance(event, N.PolicySignalReceived):
        view.signals.append(_signal_view(event, at, "the forum", event.from_region))
    elif isinstance(event, N.PolicySignalAnswered):
        signal = signals[event.signal_id]
        signal.status, signal.answer = SignalStatus.ANSWERED, event.answer
        signal.answered_by, signal.answered_at = event.answered_by, at
    elif isinstance(event, N.PolicySignalEscalated):
        signal = signals[event.signal_id]
        signal.status, signal.escalated_at = SignalStatus.ESCALATED, at
    elif isinstance(event, N.PolicySignalClosed):
        signal = signals[event.signal_id]
        signal.status, signal.closed_at, signal.closing_reason = (
            SignalStatus.CLOSED,
            at,
            event.reason,
        )
    elif isinstance(event, N.LessonsPublished):
        view.lessons.append(
            LessonsView(
                year=event.year,
                what_worked=list(event.what_worked),
                what_did_not=list(event.what_did_not),
                improvement_paths=list(event.improvement_paths),
                action_proposals=list(event.action_proposals),
                audiences=list(event.audiences),
                published_at=at,
            )
        )
    elif isinstance(event, N.ImprovementTrajectoryStarted):
        view.improvement_trajectories.append(
            ImprovementView(
                improvement_id=event.improvement_id,
                title=event.title,
                action_proposal=event.action_proposal,
                theme_id=event.theme_id,
                started_at=at,
            )
        )
    elif isinstance(event, N.ImprovementTrajectoryMeasured):
        for improvement in view.improvement_trajectories:
            if improvement.improvement_id == event.improvement_id:
                improvement.measurements.append(
                    MeasurementView(
                        measured_on=event.measured_on,
                        pdca_phase=event.pdca_phase,
                        participation=event.participation,
                        confidence=event.confidence,
                        reach=event.reach,
                    )
                )
    elif isinstance(event, N.CadenceMissed):
        view.cadence_missed.append(f"{event.meeting_kind.value}:{event.year}")
    elif isinstance(event, N.CadenceReminderIssued):
        view.cadence_reminders.append(event.quarter)
    elif isinstance(event, N.NetworkClosed):
        view.status, view.closed_at = NetworkStatus.CLOSED, at
    return view


_SIGNAL_MOMENTS: dict[type, tuple[str, SignalStatus]] = {
    N.PolicySignalAnswered: ("answered_at", SignalStatus.ANSWERED),
    N.PolicySignalEscalated: ("escalated_at", SignalStatus.ESCALATED),
    N.PolicySignalClosed: ("closed_at", SignalStatus.CLOSED),
}


class LearningNetworksProjection:
    """``rm_learning_networks`` (each network's state) and ``rm_policy_signals``."""

    name = "learning_networks"
    version = 1
    tables: tuple[str, ...] = (_NETWORKS, _SIGNALS)
    #: Organisations and texts written for sharing: an erasure rewrites nothing here.
    personal_tables: tuple[str, ...] = ()

    def ddl(self, suffix: str, generation: str) -> list[str]:
        networks, signals = f"{_NETWORKS}{suffix}", f"{_SIGNALS}{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {networks} ("
            "id TEXT PRIMARY KEY, level TEXT NOT NULL, region TEXT, status TEXT NOT NULL, "
            "coordinating_organisation TEXT NOT NULL, version INTEGER NOT NULL, "
            "established_at TEXT NOT NULL, document TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {signals} ("
            "network_id TEXT NOT NULL, signal_id TEXT NOT NULL, level TEXT NOT NULL, "
            "region TEXT, category TEXT NOT NULL, status TEXT NOT NULL, "
            "raised_at TEXT NOT NULL, answered_at TEXT, escalated_at TEXT, closed_at TEXT, "
            "PRIMARY KEY (network_id, signal_id))",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_policy_signals_region "
            f"ON {signals} (region, category)",
        ]

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]], suffix: str) -> None:
        """In log order; each network's view read once a batch and written once at its end."""
        networks, signals = f"{_NETWORKS}{suffix}", f"{_SIGNALS}{suffix}"
        views: dict[str, NetworkView | None] = {}
        for _, event in events:
            if not isinstance(event, LearningNetwork.Event):
                continue
            key = str(event.originator_id)
            if key not in views:
                rows = tx.fetchall(f"SELECT document FROM {networks} WHERE id = ?", (key,))
                views[key] = _decoder.decode(rows[0][0]) if rows else None
            view = views[key] = fold(views[key], event)
            self._signal(tx, signals, view, event)
        for key, found in views.items():
            if found is None:
                continue
            tx.execute(
                f"INSERT INTO {networks} (id, level, region, status, coordinating_organisation, "
                "version, established_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "version = excluded.version, document = excluded.document",
                (
                    key,
                    found.level.value,
                    found.region,
                    found.status.value,
                    found.coordinating_organisation,
                    found.version,
                    iso(found.established_at),
                    _encoder.encode(found).decode(),
                ),
            )

    @staticmethod
    def _signal(tx: Tx, table: str, view: NetworkView, event: Any) -> None:
        if isinstance(event, N.PolicySignalRaised | N.PolicySignalReceived):
            tx.execute(
                f"INSERT INTO {table} (network_id, signal_id, level, region, category, status, "
                "raised_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (network_id, signal_id) DO NOTHING",
                (
                    str(view.id),
                    event.signal_id,
                    view.level.value,
                    view.region,
                    event.category.value,
                    SignalStatus.OPEN.value,
                    iso(event.occurred_at),
                ),
            )
        elif (moment := _SIGNAL_MOMENTS.get(type(event))) is not None:
            column, status = moment  # names are ours
            tx.execute(
                f"UPDATE {table} SET status = ?, {column} = ? "
                "WHERE network_id = ? AND signal_id = ?",
                (status.value, iso(event.occurred_at), str(view.id), event.signal_id),
            )


# --- queries -------------------------------------------------------------------------------------

_SUMMARY = "id, version, level, region, coordinating_organisation, status, established_at"


def _summary(row: Sequence[Any]) -> NetworkSummary:
    return NetworkSummary(
        id=UUID(row[0]),
        version=int(row[1]),
        level=NetworkLevel(row[2]),
        region=row[3],
        coordinating_organisation=row[4],
        status=NetworkStatus(row[5]),
        established_at=datetime.fromisoformat(row[6]),
    )


def _days(start: str, end: str | None, today: date) -> int:
    began = datetime.fromisoformat(start).astimezone(UTC).date()
    ended = datetime.fromisoformat(end).astimezone(UTC).date() if end else today
    return max(0, (ended - began).days)


def overview(rows: Sequence[Sequence[Any]], today: date) -> SignalsOverview:
    """Open signals per category and region, how long open, answered or not."""
    ages = [
        SignalAge(
            network_id=UUID(r[0]),
            signal_id=r[1],
            level=NetworkLevel(r[2]),
            region=r[3],
            category=SignalCategory(r[4]),
            status=SignalStatus(r[5]),
            raised_at=datetime.fromisoformat(r[6]),
            answered=r[7] is not None,
            days_open=_days(r[6], r[9] or r[8], today),
        )
        for r in rows
    ]
    groups: dict[tuple[str, str], list[SignalAge]] = {}
    for age in ages:
        groups.setdefault((age.region or "", age.category.value), []).append(age)
    found = []
    for (region, category), members in sorted(groups.items()):
        still = [
            a.days_open for a in members if a.status in (SignalStatus.OPEN, SignalStatus.ANSWERED)
        ]
        count = {s: sum(1 for a in members if a.status == s) for s in SignalStatus}
        found.append(
            SignalGroup(
                region=region or None,
                category=SignalCategory(category),
                open=count[SignalStatus.OPEN],
                answered=count[SignalStatus.ANSWERED],
                escalated=count[SignalStatus.ESCALATED],
                closed=count[SignalStatus.CLOSED],
                longest_open_days=max(still) if still else None,
                median_open_days=float(median(still)) if still else None,
            )
        )
    return SignalsOverview(groups=found, signals=ages)


class MeetingsOwed(msgspec.Struct, kw_only=True):
    meeting_kind: str
    required: int
    held: int


class CadenceStatus(msgspec.Struct, kw_only=True):
    """A network on the cadence board (issue #14 point 3): this year's meetings against what the
    policy requires, the years and quarters the scheduler recorded as short, and what it will
    record on its next run."""

    network_id: UUID
    level: NetworkLevel
    region: str | None
    status: NetworkStatus
    #: The first calendar year the cadence rule holds (the first full year after establishment).
    live_from: int
    year: int
    this_year: list[MeetingsOwed]
    last_meeting_on: date | None
    cadence_missed: list[str]
    cadence_reminders: list[str]
    #: Due, not recorded yet (the scheduler records them on its next run).
    due: list[str]


def cadence_status(view: NetworkView, now: datetime, cadence: Cadence) -> CadenceStatus:
    """The board's row for one network: the domain's rule (``domain.network_cadence``) on the
    meetings the read model holds."""
    today = now.astimezone(UTC).date()
    meetings = [(m.kind.value, m.held_on) for m in view.meetings]
    recorded = {f"missed:{k}" for k in view.cadence_missed} | {
        f"reminder:learning_network:{q}" for q in view.cadence_reminders
    }
    due = (
        []
        if view.status == NetworkStatus.CLOSED
        else cadence_due(view.level.value, view.established_at, meetings, now, cadence)
    )
    return CadenceStatus(
        network_id=view.id,
        level=view.level,
        region=view.region,
        status=view.status,
        live_from=first_live_year(view.established_at),
        year=today.year,
        this_year=[
            MeetingsOwed(
                meeting_kind=kind,
                required=cadence.per_year(kind),
                held=sum(1 for k, d in meetings if k == kind and d.year == today.year),
            )
            for kind in OWED[view.level.value]
        ],
        last_meeting_on=max((d for _, d in meetings), default=None),
        cadence_missed=view.cadence_missed,
        cadence_reminders=view.cadence_reminders,
        due=[fact.key for fact in due if fact.key not in recorded],
    )


class LearningNetworkQueries:
    """The networks' queries on the API's async runner (``read_sqlite`` / ``read_postgres``)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def one(self, network: UUID, today: date) -> NetworkView | None:
        """The network's state, each signal with the days it has been open by ``today``."""
        rows = await self.runner.fetch(
            f"SELECT document FROM {_NETWORKS} WHERE id = ?", [str(network)]
        )
        if not rows:
            return None
        view = _decoder.decode(rows[0][0])
        for signal in view.signals:
            ended = signal.closed_at or signal.escalated_at
            signal.days_open = _days(iso(signal.raised_at) or "", iso(ended), today)
        return view

    async def cadence(
        self, regions: frozenset[str] | None, now: datetime, cadence: Cadence
    ) -> list[CadenceStatus]:
        """The cadence board: every network the caller reads, with its cadence status."""
        found = []
        for summary in await self.list(regions):
            view = await self.one(summary.id, now.astimezone(UTC).date())
            if view is not None:
                found.append(cadence_status(view, now, cadence))
        return found

    async def list(self, regions: frozenset[str] | None) -> list[NetworkSummary]:
        """Every network (``regions`` ``None``), or the meso networks of ``regions``."""
        sql = f"SELECT {_SUMMARY} FROM {_NETWORKS}"
        params: list[Any] = []
        if regions is not None:
            sql += f" WHERE level = 'meso' AND region IN ({', '.join('?' for _ in regions)})"
            params = sorted(regions)
        rows = await self.runner.fetch(sql + " ORDER BY level, region", params)
        return [_summary(r) for r in rows]

    async def signals(
        self, regions: frozenset[str] | None, today: date, status: SignalStatus | None = None
    ) -> SignalsOverview:
        sql = (
            "SELECT network_id, signal_id, level, region, category, status, raised_at, "
            f"answered_at, escalated_at, closed_at FROM {_SIGNALS}"
        )
        clauses: list[str] = []
        params: list[Any] = []
        if regions is not None:
            clauses.append(f"level = 'meso' AND region IN ({', '.join('?' for _ in regions)})")
            params += sorted(regions)
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = await self.runner.fetch(sql + " ORDER BY raised_at, signal_id", params)
        return overview(rows, today)
