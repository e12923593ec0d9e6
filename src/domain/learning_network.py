"""The LearningNetwork aggregate: the meso and macro levels of seed 001 (issue #14).

Seed 001 (Co-ncept) works on three levels: the trajectory (micro), the region (meso: a
*lerend netwerk* that meets at least four times a year, with a *sectoroverleg* once or twice a
year) and policy (macro: a *forum* that meets at least once a year). Findings of single
trajectories become **themes**; the network discusses them in **meetings** with the statistics
releases at hand; blocking structures are signalled to policy as **policy signals** (and taken to
the forum when the region cannot move them); lessons, improvement paths and action proposals are
published yearly. What a network decides to change is followed as an **improvement trajectory**
with the instruments of seed 002 (PDCA phase, participation ladder, confidence, reach).

One network per region (``meso``) and one forum per deployment (``macro``): the aggregate's id is
derived from its level and region (``network_id``), so a second establishment meets the first.

Improvement trajectories live inside the network, not in an aggregate of their own: they are
started by the network, measured a few times a year, read by the network across all of them, and
take nothing once the network is closed. One consistency boundary keeps those rules in one place;
the stream stays small (a handful of facts a month) and snapshots keep it quick to load.

Nothing here is personal data: members are organisations (never a client), a theme is written
for sharing, and the proposer of a theme is a kind ("a coordinator of the region"), never a
person. Nothing is sealed.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate

from domain.common import CommandContext, PdcaPhase, held, require_identifier, require_text
from domain.errors import InvalidCommand, InvalidValue, NotFound, RuleConflict
from domain.network_cadence import Cadence, CadenceFact, CadenceFactKind, cadence_due
from domain.record import Record
from domain.shared_findings import check_network_text

#: The namespace of network ids: ``uuid5(NETWORKS, "meso:<region>")`` or ``"macro"``. Never
#: changed: the ids of every established network are derived from it.
NETWORKS = UUID("3c1b7f52-5a0e-5d4f-8e27-1f6a9d0b4c83")


class NetworkLevel(StrEnum):
    MESO = "meso"  # lerend netwerk, one per region
    MACRO = "macro"  # forum, one per deployment


def network_id(level: NetworkLevel, region: str | None) -> UUID:
    """The id of the region's learning network, or of the deployment's forum."""
    return uuid5(NETWORKS, "macro" if level == NetworkLevel.MACRO else f"meso:{region}")


class MemberRole(StrEnum):
    """What a member brings to the pool (001: "een pool van mensen met verschillende expertise").
    There is no ``client``: a client is represented, never a member."""

    COORDINATOR = "coordinator"  # the coordinating organisation, chairs the network
    PRACTITIONER = "practitioner"
    PROVIDER = "provider"  # a mandated provider (sector consultation)
    CLIENT_REPRESENTATIVE = "client_representative"  # ervaringsdeskundige, cliëntenraad
    POLICY_MAKER = "policy_maker"
    RESEARCHER = "researcher"
    OTHER = "other"


class ProposerKind(StrEnum):
    """Who proposed a theme, as the network shows it: a kind, never an organisation or person
    (issue #14 point 2: "a coordinator of the region")."""

    MEMBER = "member"
    REGION_COORDINATOR = "region_coordinator"
    FORUM = "forum"


class ThemeSource(StrEnum):
    """From which kind of finding a theme comes."""

    CASE_FINDING = "case_finding"  # a trajectory's consultation (shared without a trace back)
    STATISTICS = "statistics"  # a statistics release
    MEMBER_EXPERIENCE = "member_experience"
    SIGNAL = "signal"  # a policy signal escalated from a region
    OTHER = "other"


class ThemeStatus(StrEnum):
    PROPOSED = "proposed"
    SCHEDULED = "scheduled"
    DISCUSSED = "discussed"
    CLOSED = "closed"


class MeetingKind(StrEnum):
    LEARNING_NETWORK = "learning_network"  # lerend netwerk (meso)
    SECTOR_CONSULTATION = "sector_consultation"  # sectoroverleg (meso, mandated providers)
    FORUM = "forum"  # forum (macro)


#: Which meetings each level holds.
MEETING_KINDS = {
    NetworkLevel.MESO: frozenset({MeetingKind.LEARNING_NETWORK, MeetingKind.SECTOR_CONSULTATION}),
    NetworkLevel.MACRO: frozenset({MeetingKind.FORUM}),
}


class SignalCategory(StrEnum):
    """The blocking structure a signal names (001: "belemmerende structuren")."""

    WAITING_LIST = "waiting_list"
    REGULATION = "regulation"
    ADMISSION_CRITERIA = "admission_criteria"
    FUNDING = "funding"
    COOPERATION = "cooperation"
    OTHER = "other"


class SignalStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    ESCALATED = "escalated"  # taken to the forum (macro)
    CLOSED = "closed"


class Audience(StrEnum):
    """For whom yearly lessons are written (001: "op ieder niveau")."""

    PRACTITIONERS = "practitioners"
    ORGANISATIONS = "organisations"
    CLIENTS_AND_FAMILIES = "clients_and_families"
    POLICY = "policy"
    PUBLIC = "public"


class ParticipationRung(StrEnum):
    """002's participation ladder of clients and relatives."""

    INFORMED = "informed"
    CONSULTED = "consulted"
    ADVISING = "advising"
    CO_PRODUCING = "co_producing"
    CO_DECIDING = "co_deciding"


class NetworkStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


# --- values ------------------------------------------------------------------------------------


class Evidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a signal rests on: statistics releases (by number) and themes of the network."""

    releases: tuple[int, ...] = ()
    themes: tuple[str, ...] = ()


class ActionProposal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    proposal_id: str
    description: str


class ReachCount(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How many benefit now, and how many are expected to."""

    now: int = 0
    expected: int = 0


class GroupReach(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    direct: ReachCount = ReachCount()
    indirect: ReachCount = ReachCount()


class Reach(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """002's reach: clients, relatives and professionals, directly and indirectly."""

    clients: GroupReach = GroupReach()
    relatives: GroupReach = GroupReach()
    professionals: GroupReach = GroupReach()

    def counts(self) -> Iterable[tuple[str, int]]:
        for group in ("clients", "relatives", "professionals"):
            reach: GroupReach = getattr(self, group)
            for way in ("direct", "indirect"):
                count: ReachCount = getattr(reach, way)
                yield f"reach.{group}.{way}.now", count.now
                yield f"reach.{group}.{way}.expected", count.expected


# --- state -------------------------------------------------------------------------------------


class Member(msgspec.Struct, kw_only=True):
    organisation: str
    expertise: str
    role: MemberRole
    joined_at: datetime


class Theme(msgspec.Struct, kw_only=True):
    theme_id: str
    title: str
    status: ThemeStatus
    proposed_at: datetime
    scheduled_for: date | None = None
    times_discussed: int = 0
    conclusion: str | None = None


class Signal(msgspec.Struct, kw_only=True):
    signal_id: str
    category: SignalCategory
    description: str
    evidence: Evidence
    status: SignalStatus
    raised_at: datetime


class Measurement(msgspec.Struct, frozen=True, kw_only=True):
    measured_on: date
    pdca_phase: PdcaPhase
    participation: ParticipationRung
    confidence: int
    reach: Reach


class Improvement(msgspec.Struct, kw_only=True):
    improvement_id: str
    title: str
    measurements: list[Measurement]


# --- refusals ----------------------------------------------------------------------------------


class LearningNetworkNotFound(NotFound):
    rule = "learning-network-not-found"


class NetworkAlreadyEstablished(RuleConflict):
    """001: one learning network per region; one forum per deployment."""

    rule = "one-network-per-region-one-forum"


class ClosedNetworkTakesNothing(RuleConflict):
    """A closed network takes nothing."""

    rule = "closed-network-takes-nothing"


class MembershipConflict(RuleConflict):
    rule = "member-joins-once-and-leaves-once"


class NotAMember(InvalidCommand):
    """001: the members present at a meeting are members of the network."""

    rule = "members-present-are-members"


class MemberNotRegistered(InvalidCommand):
    """A member is an organisation of the register (issue #14), never a person."""

    rule = "member-is-a-registered-organisation"


class ThemeNotOpen(RuleConflict):
    """001: a meeting discusses proposed themes, never closed ones; a closed theme takes
    nothing."""

    rule = "meeting-discusses-open-themes"


class ThemeNotDiscussed(RuleConflict):
    """A theme is closed with the conclusion of its discussion: discussed first."""

    rule = "theme-closed-after-discussion"


class CaseFindingSharedFromItsTrajectory(InvalidCommand):
    """Issue #14 point 2: a finding of a single trajectory reaches the network only through the
    trajectory's sharing (checked against the record's names, batched, dated to its release),
    never as a theme proposed directly."""

    rule = "case-finding-shared-from-its-trajectory"

    def __init__(self) -> None:
        super().__init__(
            "a theme from a case finding is shared from its trajectory (POST "
            "/v1/trajectories/{id}/findings/share), which checks it names no one and brings it "
            "to the network in a batch without a trace back; propose it here with another "
            "source_kind (member_experience, statistics, signal or other)",
            field="source_kind",
        )


class OccurredBeforeEstablishment(InvalidCommand):
    """Nothing happens in a network before it was established."""

    rule = "occurred-at-not-before-establishment"


class MeetingKindNotOfLevel(InvalidCommand):
    """001: a region holds learning-network meetings and sector consultations; the forum holds
    forum meetings."""

    rule = "meeting-kind-of-the-level"


class ReleaseNotKnown(InvalidCommand):
    """A meeting or a signal cites statistics releases that exist (by number)."""

    rule = "cites-existing-releases"


class SignalWithoutEvidence(InvalidCommand):
    """001: a signal to policy rests on evidence: at least one theme or release."""

    rule = "signal-cites-evidence"


class SignalNotOpen(RuleConflict):
    rule = "signal-state"


class EscalationNeedsForum(RuleConflict):
    """A region's signal is taken to the forum of the deployment: meso to macro, once there is
    a forum."""

    rule = "signal-escalates-to-the-forum"


class LessonsAlreadyPublished(RuleConflict):
    """001: lessons are communicated yearly: once per year per network."""

    rule = "lessons-once-per-year"


class MeasurementOutOfOrder(InvalidCommand):
    """002: measurement moments follow each other in time."""

    rule = "measurements-in-time-order"


# --- the aggregate -----------------------------------------------------------------------------


def _network_text(value: str, field: str) -> str:
    """A network's free text: says something, and names no contact, number or record (the
    network keeps it for good, outside every client's encryption)."""
    return check_network_text(field, require_text(value, field))


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _ids(values: Iterable[str], field: str) -> tuple[str, ...]:
    found = tuple(require_identifier(v, field) for v in values)
    if len(set(found)) != len(found):
        raise InvalidValue(f"{field} names an item twice", field=field)
    return found


class LearningNetwork(Record):
    """A region's learning network (meso) or the deployment's forum (macro)."""

    not_found: ClassVar[type[NotFound]] = LearningNetworkNotFound

    class Event(Record.Event):
        """Events of a learning network (no personal data, nothing sealed)."""

        def apply_to(self, network: "LearningNetwork") -> None:
            """Change the network's state; never refuse."""

    class Established(Event, Aggregate.Created):
        level: NetworkLevel
        region: str | None
        coordinating_organisation: str

        def apply(self, aggregate: Any) -> None:
            """Called after ``__init__``: the coordinating organisation chairs, as a member."""
            aggregate.established_at = self.occurred_at
            aggregate.members[self.coordinating_organisation] = Member(
                organisation=self.coordinating_organisation,
                expertise="coordination",
                role=MemberRole.COORDINATOR,
                joined_at=self.occurred_at,
            )

    class MemberJoined(Event):
        organisation: str
        expertise: str
        role: MemberRole

        def apply_to(self, network: "LearningNetwork") -> None:
            network.members[self.organisation] = Member(
                organisation=self.organisation,
                expertise=self.expertise,
                role=self.role,
                joined_at=self.occurred_at,
            )

    class MemberLeft(Event):
        organisation: str
        reason: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.members.pop(self.organisation, None)

    class ThemeProposed(Event):
        theme_id: str
        title: str
        description: str
        proposer_kind: ProposerKind
        source_kind: ThemeSource

        def apply_to(self, network: "LearningNetwork") -> None:
            network.themes[self.theme_id] = Theme(
                theme_id=self.theme_id,
                title=self.title,
                status=ThemeStatus.PROPOSED,
                proposed_at=self.occurred_at,
            )

    class ThemeScheduled(Event):
        theme_id: str
        scheduled_for: date

        def apply_to(self, network: "LearningNetwork") -> None:
            theme = network.themes[self.theme_id]
            theme.scheduled_for = self.scheduled_for
            if theme.status == ThemeStatus.PROPOSED:
                theme.status = ThemeStatus.SCHEDULED

    class ThemeClosed(Event):
        theme_id: str
        conclusion: str

        def apply_to(self, network: "LearningNetwork") -> None:
            theme = network.themes[self.theme_id]
            theme.status = ThemeStatus.CLOSED
            theme.conclusion = self.conclusion

    class MeetingHeld(Event):
        meeting_id: str
        kind: MeetingKind
        held_on: date
        members_present: tuple[str, ...]
        themes_discussed: tuple[str, ...]
        releases_consulted: tuple[int, ...]
        conclusions: tuple[str, ...]

        def apply_to(self, network: "LearningNetwork") -> None:
            network.meetings.append((self.meeting_id, self.kind, self.held_on))
            for theme_id in self.themes_discussed:
                theme = network.themes[theme_id]
                theme.status = ThemeStatus.DISCUSSED
                theme.times_discussed += 1

    class PolicySignalRaised(Event):
        signal_id: str
        category: SignalCategory
        description: str
        evidence: Evidence
        addressed_to: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.signals[self.signal_id] = Signal(
                signal_id=self.signal_id,
                category=self.category,
                description=self.description,
                evidence=self.evidence,
                status=SignalStatus.OPEN,
                raised_at=self.occurred_at,
            )

    class PolicySignalAnswered(Event):
        signal_id: str
        answer: str
        answered_by: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.signals[self.signal_id].status = SignalStatus.ANSWERED

    class PolicySignalClosed(Event):
        signal_id: str
        reason: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.signals[self.signal_id].status = SignalStatus.CLOSED

    class PolicySignalEscalated(Event):
        """Taken to the forum: the forum records it as a signal received (same command)."""

        signal_id: str
        forum_id: UUID
        reason: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.signals[self.signal_id].status = SignalStatus.ESCALATED

    class PolicySignalReceived(Event):
        """The forum received a region's signal: the region, not the trajectories behind it."""

        signal_id: str
        from_network: UUID
        from_region: str
        category: SignalCategory
        description: str
        evidence: Evidence
        reason: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.signals[self.signal_id] = Signal(
                signal_id=self.signal_id,
                category=self.category,
                description=self.description,
                evidence=self.evidence,
                status=SignalStatus.OPEN,
                raised_at=self.occurred_at,
            )

    class LessonsPublished(Event):
        year: int
        what_worked: tuple[str, ...]
        what_did_not: tuple[str, ...]
        improvement_paths: tuple[str, ...]
        action_proposals: tuple[ActionProposal, ...]
        audiences: tuple[Audience, ...]

        def apply_to(self, network: "LearningNetwork") -> None:
            network.lessons_years.add(self.year)

    class ImprovementTrajectoryStarted(Event):
        improvement_id: str
        title: str
        action_proposal: str
        theme_id: str | None

        def apply_to(self, network: "LearningNetwork") -> None:
            network.improvements[self.improvement_id] = Improvement(
                improvement_id=self.improvement_id, title=self.title, measurements=[]
            )

    class ImprovementTrajectoryMeasured(Event):
        improvement_id: str
        measured_on: date
        pdca_phase: PdcaPhase
        participation: ParticipationRung
        confidence: int
        reach: Reach

        def apply_to(self, network: "LearningNetwork") -> None:
            network.improvements[self.improvement_id].measurements.append(
                Measurement(
                    measured_on=self.measured_on,
                    pdca_phase=self.pdca_phase,
                    participation=self.participation,
                    confidence=self.confidence,
                    reach=self.reach,
                )
            )

    class CadenceMissed(Event):
        """001/issue #14 point 3: a live calendar year ended short of a kind of meeting. The
        scheduler's fact, recorded once per year and kind."""

        meeting_kind: MeetingKind
        year: int
        required: int
        held: int

        def apply_to(self, network: "LearningNetwork") -> None:
            network.cadence_recorded.add(f"missed:{self.meeting_kind.value}:{self.year}")

    class CadenceReminderIssued(Event):
        """A quarter of a live year passed without a meeting of the region's network: the
        scheduler's reminder, recorded once per quarter."""

        meeting_kind: MeetingKind
        quarter: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.cadence_recorded.add(f"reminder:{self.meeting_kind.value}:{self.quarter}")

    class NetworkClosed(Event):
        reason: str

        def apply_to(self, network: "LearningNetwork") -> None:
            network.status = NetworkStatus.CLOSED

    # --- establishing ---------------------------------------------------------------------------

    @classmethod
    def establish(
        cls,
        ctx: CommandContext,
        *,
        level: NetworkLevel,
        region: str | None,
        coordinating_organisation: str,
    ) -> "LearningNetwork":
        """A region's learning network (a region named) or the forum (no region)."""
        ctx.check_occurred_at()
        if level == NetworkLevel.MESO and not region:
            raise InvalidValue("a learning network (meso) is a region's: name it", field="region")
        if level == NetworkLevel.MACRO and region:
            raise InvalidValue(
                "the forum (macro) is the deployment's, not a region's: leave region out",
                field="region",
            )
        region = require_identifier(region, "region") if region else None
        return cls._create(
            cls.Established,
            id=network_id(level, region),
            **ctx.event_fields(),
            level=level,
            region=region,
            coordinating_organisation=require_identifier(
                coordinating_organisation, "coordinating_organisation"
            ),
        )

    def __init__(
        self, level: NetworkLevel, region: str | None, coordinating_organisation: str
    ) -> None:
        self.level = level
        self.region = region
        self.coordinating_organisation = coordinating_organisation
        self.status = NetworkStatus.ACTIVE
        self.established_at = datetime.min.replace(tzinfo=UTC)
        self.members: dict[str, Member] = {}
        self.themes: dict[str, Theme] = {}
        self.meetings: list[tuple[str, MeetingKind, date]] = []
        self.signals: dict[str, Signal] = {}
        self.lessons_years: set[int] = set()
        self.improvements: dict[str, Improvement] = {}
        #: The cadence facts recorded (``CadenceFact.key``): each once.
        self.cadence_recorded: set[str] = set()

    @property
    def name(self) -> str:
        return "the forum" if self.level == NetworkLevel.MACRO else f"network {self.region!r}"

    def check_open(self, ctx: CommandContext) -> None:
        """Every command: the time is real, not before the establishment, and the network not
        closed."""
        ctx.check_occurred_at()
        if ctx.occurred_at < self.established_at:
            raise OccurredBeforeEstablishment(
                f"occurred_at lies before {self.name} was established "
                f"({self.established_at.isoformat()})",
                field="occurred_at",
            )
        if self.status == NetworkStatus.CLOSED:
            raise ClosedNetworkTakesNothing(f"{self.name} is closed: it takes nothing new")

    # --- members --------------------------------------------------------------------------------

    def admit_member(
        self, ctx: CommandContext, *, organisation: str, expertise: str, role: MemberRole
    ) -> None:
        self.check_open(ctx)
        organisation = require_identifier(organisation, "organisation")
        if organisation in self.members:
            raise MembershipConflict(
                f"{organisation!r} is already a member of {self.name}", field="organisation"
            )
        self.trigger_event(
            self.MemberJoined,
            **ctx.event_fields(),
            organisation=organisation,
            expertise=_network_text(expertise, "expertise"),
            role=role,
        )

    def record_member_left(self, ctx: CommandContext, *, organisation: str, reason: str) -> None:
        self.check_open(ctx)
        if organisation not in self.members:
            raise MembershipConflict(f"{organisation!r} is no member of {self.name}")
        if organisation == self.coordinating_organisation:
            raise MembershipConflict(
                f"{organisation!r} coordinates {self.name}: it stays a member while it does"
            )
        self.trigger_event(
            self.MemberLeft,
            **ctx.event_fields(),
            organisation=organisation,
            reason=check_network_text("reason", reason.strip()),
        )

    # --- themes ---------------------------------------------------------------------------------

    def propose_theme(
        self,
        ctx: CommandContext,
        *,
        theme_id: str,
        title: str,
        description: str,
        proposer_kind: ProposerKind,
        source_kind: ThemeSource,
    ) -> None:
        self.check_open(ctx)
        theme_id = require_identifier(theme_id, "theme_id")
        if theme_id in self.themes:
            raise ThemeNotOpen(f"theme {theme_id!r} was already proposed", field="theme_id")
        self.trigger_event(
            self.ThemeProposed,
            **ctx.event_fields(),
            theme_id=theme_id,
            title=_network_text(title, "title"),
            description=_network_text(description, "description"),
            proposer_kind=proposer_kind,
            source_kind=source_kind,
        )

    def _open_theme(self, theme_id: str, field: str) -> Theme:
        theme = held(
            self.themes, theme_id, kind="theme", where=f"not a theme of {self.name}", field=field
        )
        if theme.status == ThemeStatus.CLOSED:
            raise ThemeNotOpen(
                f"theme {theme_id!r} is closed ({theme.conclusion}); propose a new theme to take "
                "it up again",
                field=field,
            )
        return theme

    def schedule_theme(self, ctx: CommandContext, *, theme_id: str, scheduled_for: date) -> None:
        self.check_open(ctx)
        self._open_theme(theme_id, "theme_id")
        self.trigger_event(
            self.ThemeScheduled,
            **ctx.event_fields(),
            theme_id=theme_id,
            scheduled_for=scheduled_for,
        )

    def close_theme(self, ctx: CommandContext, *, theme_id: str, conclusion: str) -> None:
        self.check_open(ctx)
        theme = self._open_theme(theme_id, "theme_id")
        if theme.times_discussed == 0:
            raise ThemeNotDiscussed(
                f"theme {theme_id!r} was never discussed: a theme is closed with the conclusion "
                "of a meeting that discussed it"
            )
        self.trigger_event(
            self.ThemeClosed,
            **ctx.event_fields(),
            theme_id=theme_id,
            conclusion=_network_text(conclusion, "conclusion"),
        )

    # --- meetings -------------------------------------------------------------------------------

    def _check_releases(
        self, releases: Iterable[int], known_release: Callable[[int], bool], field: str
    ) -> tuple[int, ...]:
        numbers = tuple(releases)
        if len(set(numbers)) != len(numbers):
            raise InvalidValue(f"{field} names a release twice", field=field)
        unknown = [n for n in numbers if not known_release(n)]
        if unknown:
            raise ReleaseNotKnown(
                f"no statistics release numbered {', '.join(map(str, unknown))}: cite releases "
                "by the numbers GET /v1/statistics/releases lists",
                field=field,
            )
        return numbers

    def hold_meeting(
        self,
        ctx: CommandContext,
        *,
        meeting_id: str,
        kind: MeetingKind,
        held_on: date,
        members_present: Iterable[str],
        themes_discussed: Iterable[str],
        releases_consulted: Iterable[int],
        conclusions: Iterable[str],
        known_release: Callable[[int], bool],
    ) -> None:
        """001: members meet, discuss open themes with the releases at hand, conclude."""
        self.check_open(ctx)
        if kind not in MEETING_KINDS[self.level]:
            allowed = ", ".join(sorted(MEETING_KINDS[self.level]))
            raise MeetingKindNotOfLevel(
                f"{self.name} holds meetings of kind {allowed}, not {kind.value}", field="kind"
            )
        if held_on > ctx.occurred_on or held_on < _day(self.established_at):
            raise InvalidValue(
                f"held_on {held_on.isoformat()} must lie between the network's establishment "
                f"({_day(self.established_at).isoformat()}) and occurred_at "
                f"({ctx.occurred_on.isoformat()})",
                field="held_on",
            )
        present = _ids(members_present, "members_present")
        if not present:
            raise NotAMember("a meeting has members present: name them", field="members_present")
        strangers = [o for o in present if o not in self.members]
        if strangers:
            raise NotAMember(
                f"{', '.join(map(repr, strangers))} {'is' if len(strangers) == 1 else 'are'} no "
                f"member of {self.name}: admit them first (POST …/members)",
                field="members_present",
            )
        themes = _ids(themes_discussed, "themes_discussed")
        for theme_id in themes:
            self._open_theme(theme_id, "themes_discussed")
        self.trigger_event(
            self.MeetingHeld,
            **ctx.event_fields(),
            meeting_id=require_identifier(meeting_id, "meeting_id"),
            kind=kind,
            held_on=held_on,
            members_present=present,
            themes_discussed=themes,
            releases_consulted=self._check_releases(
                releases_consulted, known_release, "releases_consulted"
            ),
            conclusions=tuple(_network_text(c, "conclusions") for c in conclusions),
        )

    # --- policy signals -------------------------------------------------------------------------

    def raise_signal(
        self,
        ctx: CommandContext,
        *,
        signal_id: str,
        category: SignalCategory,
        description: str,
        evidence: Evidence,
        addressed_to: str,
        known_release: Callable[[int], bool],
    ) -> None:
        """001: a blocking structure signalled to policy, resting on themes or releases."""
        self.check_open(ctx)
        signal_id = require_identifier(signal_id, "signal_id")
        if signal_id in self.signals:
            raise SignalNotOpen(f"signal {signal_id!r} was already raised", field="signal_id")
        if not evidence.releases and not evidence.themes:
            raise SignalWithoutEvidence(
                "a policy signal rests on evidence: cite at least one theme of the network or "
                "one statistics release",
                field="evidence",
            )
        themes = _ids(evidence.themes, "evidence.themes")
        for theme_id in themes:
            held(
                self.themes,
                theme_id,
                kind="theme",
                where=f"not a theme of {self.name}",
                field="evidence.themes",
            )
        releases = self._check_releases(evidence.releases, known_release, "evidence.releases")
        self.trigger_event(
            self.PolicySignalRaised,
            **ctx.event_fields(),
            signal_id=signal_id,
            category=category,
            description=_network_text(description, "description"),
            evidence=Evidence(releases=releases, themes=themes),
            addressed_to=_network_text(addressed_to, "addressed_to"),
        )

    def _signal(self, signal_id: str, allowed: frozenset[SignalStatus], doing: str) -> Signal:
        signal = held(
            self.signals,
            signal_id,
            kind="signal",
            where=f"not a signal of {self.name}",
            field="signal_id",
        )
        if signal.status not in allowed:
            raise SignalNotOpen(f"signal {signal_id!r} is {signal.status.value}: not {doing}")
        return signal

    def answer_signal(
        self, ctx: CommandContext, *, signal_id: str, answer: str, answered_by: str
    ) -> None:
        self.check_open(ctx)
        self._signal(signal_id, frozenset({SignalStatus.OPEN}), "to be answered")
        self.trigger_event(
            self.PolicySignalAnswered,
            **ctx.event_fields(),
            signal_id=signal_id,
            answer=_network_text(answer, "answer"),
            answered_by=_network_text(answered_by, "answered_by"),
        )

    def close_signal(self, ctx: CommandContext, *, signal_id: str, reason: str) -> None:
        self.check_open(ctx)
        self._signal(signal_id, frozenset(SignalStatus) - {SignalStatus.CLOSED}, "to be closed")
        self.trigger_event(
            self.PolicySignalClosed,
            **ctx.event_fields(),
            signal_id=signal_id,
            reason=_network_text(reason, "reason"),
        )

    def escalate_signal(
        self,
        ctx: CommandContext,
        *,
        signal_id: str,
        reason: str,
        forum: "LearningNetwork",
    ) -> None:
        """A region's open or answered signal taken to the forum: recorded on both, in one
        command (the forum receives the category, description and evidence, and the region)."""
        self.check_open(ctx)
        if self.level != NetworkLevel.MESO or forum.level != NetworkLevel.MACRO:
            raise EscalationNeedsForum("only a region's signal is taken to the forum")
        forum.check_open(ctx)
        signal = self._signal(
            signal_id, frozenset({SignalStatus.OPEN, SignalStatus.ANSWERED}), "to be escalated"
        )
        reason = _network_text(reason, "reason")
        self.trigger_event(
            self.PolicySignalEscalated,
            **ctx.event_fields(),
            signal_id=signal_id,
            forum_id=forum.id,
            reason=reason,
        )
        forum.trigger_event(
            forum.PolicySignalReceived,
            **ctx.event_fields(),
            signal_id=f"{self.region}:{signal_id}",
            from_network=self.id,
            from_region=self.region or "",
            category=signal.category,
            description=signal.description,
            evidence=signal.evidence,
            reason=reason,
        )

    # --- lessons --------------------------------------------------------------------------------

    def publish_lessons(
        self,
        ctx: CommandContext,
        *,
        year: int,
        what_worked: Iterable[str],
        what_did_not: Iterable[str],
        improvement_paths: Iterable[str],
        action_proposals: Iterable[ActionProposal],
        audiences: Iterable[Audience],
    ) -> None:
        """001: lessons, improvement paths and action proposals, yearly, for named audiences."""
        self.check_open(ctx)
        if year in self.lessons_years:
            raise LessonsAlreadyPublished(
                f"{self.name} published its lessons of {year} already: once a year", field="year"
            )
        if not self.established_at.year <= year <= ctx.occurred_on.year:
            raise InvalidValue(
                f"lessons are of a year from the network's establishment "
                f"({self.established_at.year}) to now",
                field="year",
            )
        readers = tuple(dict.fromkeys(audiences))
        if not readers:
            raise InvalidValue("lessons are written for at least one audience", field="audiences")
        proposals = tuple(action_proposals)
        _ids((p.proposal_id for p in proposals), "action_proposals")
        self.trigger_event(
            self.LessonsPublished,
            **ctx.event_fields(),
            year=year,
            what_worked=tuple(_network_text(t, "what_worked") for t in what_worked),
            what_did_not=tuple(_network_text(t, "what_did_not") for t in what_did_not),
            improvement_paths=tuple(
                _network_text(t, "improvement_paths") for t in improvement_paths
            ),
            action_proposals=tuple(
                ActionProposal(p.proposal_id, _network_text(p.description, "action_proposals"))
                for p in proposals
            ),
            audiences=readers,
        )

    # --- improvement trajectories (seed 002) ----------------------------------------------------

    def start_improvement(
        self,
        ctx: CommandContext,
        *,
        improvement_id: str,
        title: str,
        action_proposal: str,
        theme_id: str | None,
    ) -> None:
        """What the network decided to change (001's action proposal), followed from here."""
        self.check_open(ctx)
        improvement_id = require_identifier(improvement_id, "improvement_id")
        if improvement_id in self.improvements:
            raise RuleConflict(
                f"improvement trajectory {improvement_id!r} was already started",
                field="improvement_id",
            )
        if theme_id is not None:
            held(
                self.themes,
                theme_id,
                kind="theme",
                where=f"not a theme of {self.name}",
                field="theme_id",
            )
        self.trigger_event(
            self.ImprovementTrajectoryStarted,
            **ctx.event_fields(),
            improvement_id=improvement_id,
            title=_network_text(title, "title"),
            action_proposal=_network_text(action_proposal, "action_proposal"),
            theme_id=theme_id,
        )

    def measure_improvement(
        self,
        ctx: CommandContext,
        *,
        improvement_id: str,
        measured_on: date,
        pdca_phase: PdcaPhase,
        participation: ParticipationRung,
        confidence: int,
        reach: Reach,
    ) -> None:
        """002's measurement moment: phase, ladder rung, confidence 1 to 5, reach."""
        self.check_open(ctx)
        improvement = held(
            self.improvements,
            improvement_id,
            kind="improvement trajectory",
            where=f"not one of {self.name}",
            field="improvement_id",
        )
        if not 1 <= confidence <= 5:
            raise InvalidValue("confidence is a score from 1 to 5", field="confidence")
        for field, count in reach.counts():
            if count < 0:
                raise InvalidValue(f"{field} counts people: not negative", field=field)
        if measured_on > ctx.occurred_on:
            raise InvalidValue("measured_on lies after occurred_at", field="measured_on")
        last = improvement.measurements[-1].measured_on if improvement.measurements else None
        if last is not None and measured_on <= last:
            raise MeasurementOutOfOrder(
                f"improvement trajectory {improvement_id!r} was last measured on "
                f"{last.isoformat()}: a new measurement moment lies after it",
                field="measured_on",
            )
        self.trigger_event(
            self.ImprovementTrajectoryMeasured,
            **ctx.event_fields(),
            improvement_id=improvement_id,
            measured_on=measured_on,
            pdca_phase=pdca_phase,
            participation=participation,
            confidence=confidence,
            reach=reach,
        )

    # --- cadence (the scheduler's facts, issue #14 point 3) -------------------------------------

    def cadence_due(self, now: datetime, cadence: Cadence) -> list[CadenceFact]:
        """What the cadence rule finds due at ``now`` and was not recorded yet; nothing for a
        closed network."""
        if self.status == NetworkStatus.CLOSED:
            return []
        due = cadence_due(
            self.level.value,
            self.established_at,
            ((kind.value, held_on) for _, kind, held_on in self.meetings),
            now,
            cadence,
        )
        return [fact for fact in due if fact.key not in self.cadence_recorded]

    def record_cadence(self, ctx: CommandContext, fact: CadenceFact) -> bool:
        """Record one cadence fact, once: ``False`` when it was recorded before (or the network
        is closed), as the trajectory's deadlines are recorded."""
        if fact.key in self.cadence_recorded or self.status == NetworkStatus.CLOSED:
            return False
        if fact.fact == CadenceFactKind.MISSED:
            self.trigger_event(
                self.CadenceMissed,
                **ctx.event_fields(),
                meeting_kind=MeetingKind(fact.meeting_kind),
                year=int(fact.period),
                required=fact.required,
                held=fact.held,
            )
        else:
            self.trigger_event(
                self.CadenceReminderIssued,
                **ctx.event_fields(),
                meeting_kind=MeetingKind(fact.meeting_kind),
                quarter=fact.period,
            )
        return True

    # --- the end --------------------------------------------------------------------------------

    def close(self, ctx: CommandContext, *, reason: str) -> None:
        self.check_open(ctx)
        self.trigger_event(
            self.NetworkClosed, **ctx.event_fields(), reason=_network_text(reason, "reason")
        )
