"""Stories of several trajectories, told through the CareRecord one command at a time.

A ``Story`` turns plain numbers (which trajectory, which of the commands allowed now, how many
days pass, whether the fact is recorded late) into a valid command on the record: whatever the
numbers, the log it leaves is one a real coordinator could have left. Hypothesis draws the
numbers, so it explores referrals, acceptance, consultations, role agreements with several
parties, goals, actions, signatures, evaluations, escalations, blocks, handovers with consent,
missed deadlines, closing, follow-up contacts and continuations, in any order the rules allow.
"""

import asyncio
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from application.care_record import CareRecord
from application.commands import (
    Accept,
    AcceptRoleAgreementAt,
    AgreeAction,
    AppointRepresentative,
    BlockTrajectory,
    ChangeEscalationLevelAt,
    CloseGoalAt,
    CloseTrajectory,
    Decline,
    DeclineRoleAgreementAt,
    EndRoleAgreementAt,
    Evaluate,
    GrantConsent,
    HandOver,
    HoldConsultation,
    ProposeRoleAgreement,
    RaiseEscalation,
    RecordFollowUpContact,
    Refer,
    RegisterClient,
    ResolveEscalationAt,
    ReviseGoalAt,
    SetGoal,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from domain.common import (
    Actor,
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)
from domain.errors import (
    DomainError,
    FactBeforeWhatItConcerns,
    FactOutsideItsStatus,
    StatusChangeBeforeCurrentStatus,
)
from domain.trajectory import RUNNING, Participant, RoleAssignment, Status, Trajectory
from projections.plan_state.board import BoardFilter
from projections.plan_state.sealed import open_column
from projections.queries import ReadModelQueries
from projections.views import trajectory_view
from projections.worker import ProjectionWorker
from tests.integration.databases import rows
from tests.support import on_client, on_trajectory, said

COORDINATOR = Actor(user_id="user-an", organisation="org-coordinating", role="coordinator")
REFERRER = Actor(user_id="user-rik", organisation="org-referrer", role="referrer")
PROVIDER = Actor(user_id="user-pia", organisation="org-provider", role="provider")
BUDDY = Actor(user_id="user-bo", organisation="org-buddy", role="buddy")
NEXT = "org-next"
#: Who may be named in a role agreement; each accepts or declines as itself.
PARTIES = (COORDINATOR, PROVIDER, BUDDY)
#: The client consented to hand the plan and the dossier to each of these.
CONSENTED = (NEXT, COORDINATOR.organisation, PROVIDER.organisation)
REGIONS = ("elz-gent", "elz-brugge", "elz-leuven")
SECTORS = (Sector.YOUTH_CARE, Sector.MENTAL_HEALTH, Sector.DISABILITY_CARE)
REASONS = tuple(ReasonCategory)
LEVELS = tuple(EscalationLevel)
ROLES = (Role.TRAJECTORY_GUIDE, Role.PROVIDER, Role.KEY_WORKER, Role.BUDDY)
OTHER_KINDS = (
    ConsultationKind.AD_HOC,
    ConsultationKind.MDO,
    ConsultationKind.PLAN_MEETING,
    ConsultationKind.INTERVISION,
)
#: Stories span at most this many days, all in the past (a plan stays valid for three years).
MAX_DAY = 900

Command = Callable[[int, int], object]


def story_start() -> datetime:
    """Day 0 of a story: long enough ago that every day of it has passed."""
    return (datetime.now(UTC) - timedelta(days=MAX_DAY + 30)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )


@dataclass
class Thread:
    """One client and the trajectories of their thread, newest last."""

    client_id: UUID
    day: int = 0
    trajectories: list[UUID] = field(default_factory=list)
    referred_on_day: dict[UUID, int] = field(default_factory=dict)


#: The ordering rules of issue #15: a late fact refused by one of them is told when it may be.
ORDERING_RULES = (FactBeforeWhatItConcerns, FactOutsideItsStatus, StatusChangeBeforeCurrentStatus)


class Story:
    """Runs valid commands on ``record`` for a few clients, each with a thread of trajectories."""

    def __init__(self, record: CareRecord, clients: int, start: datetime | None = None) -> None:
        self.record = record
        self.start = start or story_start()
        self.counter = 0
        #: Names of the commands recorded, in order (for Hypothesis' statistics and for asserts).
        self.told: list[str] = []
        self.refused: list[tuple[str, str]] = []
        self.threads = [Thread(client_id=self._register(n)) for n in range(clients)]
        #: The log position after registering the clients: trajectory events come after it.
        self.clients_registered_at: int = record.recorder.max_notification_id() or 0

    # --- time and context -------------------------------------------------------------------

    def at(self, day: int, minutes: int = 0) -> datetime:
        return self.start + timedelta(days=day, minutes=minutes)

    def on(self, day: int) -> date:
        return self.at(day).astimezone(UTC).date()

    def ctx(self, day: int, actor: Actor = COORDINATOR, minutes: int = 0) -> CommandContext:
        return CommandContext(
            actor=actor,
            occurred_at=self.at(day, minutes),
            correlation_id=f"story-{self.counter}",
            causation_id=None,
            now=datetime.now(UTC),
        )

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    # --- clients ----------------------------------------------------------------------------

    def _register(self, n: int) -> UUID:
        record = self.record
        client_id = record.register_client(
            self.ctx(0), said(RegisterClient, self.ctx(0), name=f"Client {n}")
        ).id
        on_client(
            record,
            self.ctx(0),
            client_id,
            None,
            AppointRepresentative,
            representative_ref="rep-mother",
            name="Moeder",
        )
        for party in CONSENTED:
            on_client(
                record,
                self.ctx(0),
                client_id,
                None,
                GrantConsent,
                consent_id=f"consent-{party}",
                to_party=party,
                scopes=(ConsentScope.PLAN, ConsentScope.DOSSIER),
                purpose="overdracht",
                until=None,
            )
        return client_id

    # --- telling ------------------------------------------------------------------------------

    @property
    def trajectory_ids(self) -> list[UUID]:
        return [t for thread in self.threads for t in thread.trajectories]

    def step(self, slot: int, choice: int, advance: int, late: bool) -> str | None:
        """One command on the current trajectory of client ``slot`` (or a new referral).

        ``advance`` days pass first; a ``late`` fact happened on an earlier day of the
        trajectory than the last one recorded (recorded later, occurring earlier).
        """
        thread = self.threads[slot % len(self.threads)]
        thread.day = min(thread.day + advance, MAX_DAY)
        current = thread.trajectories[-1] if thread.trajectories else None
        trajectory = self.record.trajectory(current) if current else None
        day = thread.day
        if trajectory is not None and late and current is not None:
            first = thread.referred_on_day[current]
            day = first + choice % (thread.day - first + 1)
        commands = self._commands(thread, trajectory)
        name, command = commands[choice % len(commands)]
        try:
            try:
                command(day, choice // len(commands))
            except ORDERING_RULES:
                if day == thread.day:
                    raise
                # Issue #15: a late fact may not predate what it depends on; the story tells
                # it when it may have happened instead (as a coordinator would be told to).
                command(thread.day, choice // len(commands))
        except DomainError as refusal:
            self.refused.append((name, refusal.message))
            return None
        self.told.append(name)
        return name

    def _commands(self, thread: Thread, t: Trajectory | None) -> list[tuple[str, Command]]:
        """The commands allowed now, each as often as its weight: stories mostly move on."""
        if t is None:
            return [("refer", lambda day, c: self._refer(thread, day, c, None))]
        s = t.status
        weighted: list[tuple[int, str, Command]] = [
            (1, "record missed deadline", lambda day, c: self._missed_deadline(t, day, c)),
            (1, "issue deadline reminder", lambda day, c: self._reminder(t, day, c)),
        ]
        add = weighted.append
        if t.open_missed_deadlines:
            add((1, "record deadline met late", lambda day, c: self._met_late(t, day, c)))
        if s == Status.REFERRED:
            add((6, "accept", lambda day, c: self._accept(t, day, c)))
            add((1, "decline", lambda day, c: self._decline(t, day)))
        if s == Status.DECLINED:
            add((3, "refer again", lambda day, c: self._refer(thread, day, c, None)))
        if s == Status.CLOSED:
            add((3, "continue", lambda day, c: self._refer(thread, day, c, t.id)))
            add((1, "record follow-up contact", lambda day, c: self._follow_up(t, day)))
        if s == Status.ACCEPTED:
            add((4, "hold start consultation", lambda day, c: self._consult(t, day, c, True)))
            add((1, "waive start consultation", lambda day, c: self._waive(t, day, c)))
        if s in RUNNING:
            add((3, "hold consultation", lambda day, c: self._consult(t, day, c, False)))
            if self._waivable(t):
                add((1, "waive consultation", lambda day, c: self._waive(t, day, c)))
            if t.plan is not None:  # a story is shorter than a plan's three years
                add((2, "evaluate", lambda day, c: self._evaluate(t, day, c)))
            add((2, "raise escalation", lambda day, c: self._raise(t, day, c)))
            if t.open_escalations:
                add((2, "change escalation level", lambda day, c: self._relevel(t, day, c)))
            if ConsultationKind.END in t.milestones:
                add((1, "close", lambda day, c: self._close(t, day, c)))
        if s == Status.ACTIVE:
            add((2, "block", lambda day, c: self._block(t, day, c)))
        if s == Status.BLOCKED:
            add((3, "unblock", lambda day, c: self._unblock(t, day)))
        if s in RUNNING | {Status.CLOSED}:
            add((1, "hand over", lambda day, c: self._hand_over(t, day, c)))
            if t.open_escalations:
                add((2, "resolve escalation", lambda day, c: self._resolve(t, day, c)))
        if s in RUNNING | {Status.ACCEPTED}:
            add((2, "propose role agreement", lambda day, c: self._propose(t, day, c)))
            add((2, "set goal", lambda day, c: self._set_goal(t, day)))
            add((1, "agree action", lambda day, c: self._agree_action(t, day, c)))
            if self._pending_answers(t):
                add((4, "accept role agreement", lambda day, c: self._answer(t, day, c, True)))
                add((1, "decline role agreement", lambda day, c: self._answer(t, day, c, False)))
            if self._open_goals(t):
                add((1, "revise goal", lambda day, c: self._revise_goal(t, day, c)))
                add((1, "close goal", lambda day, c: self._close_goal(t, day, c)))
                add((2, "sign plan", lambda day, c: self._sign(t, day, c)))
        if s in RUNNING | {Status.ACCEPTED, Status.CLOSED} and self._endable(t):
            add((1, "end role agreement", lambda day, c: self._end_agreement(t, day, c)))
        return [(name, command) for weight, name, command in weighted for _ in range(weight)]

    # --- intake -------------------------------------------------------------------------------

    def _refer(self, thread: Thread, day: int, c: int, continues_from: UUID | None) -> None:
        result = self.record.refer(
            self.ctx(day),  # recorded by the organisation that answers it (accept, decline)
            said(
                Refer,
                self.ctx(day),
                referrer_organisation=REFERRER.organisation,
                client_id=thread.client_id,
                question="Wie helpt Sam terug naar school?",
                client_criteria=("12-18 jaar",),
                referrer_engagement="blijft betrokken",
                sector=SECTORS[c % len(SECTORS)],
                region=REGIONS[c % len(REGIONS)],
                continues_from=continues_from,
            ),
        )
        thread.trajectories.append(result.id)
        thread.referred_on_day[result.id] = day

    def _accept(self, t: Trajectory, day: int, c: int) -> None:
        coordinating = PROVIDER.organisation if c % 4 == 3 else None
        on_trajectory(
            self.record, self.ctx(day), t.id, None, Accept, coordinating_organisation=coordinating
        )

    def _decline(self, t: Trajectory, day: int) -> None:
        on_trajectory(self.record, self.ctx(day), t.id, None, Decline, reason="buiten de criteria")

    # --- consultations --------------------------------------------------------------------------

    def _consult(self, t: Trajectory, day: int, c: int, start: bool) -> None:
        if start:
            kind = ConsultationKind.START
        else:
            kinds = [
                k
                for k in (ConsultationKind.THREE_MONTH, ConsultationKind.END)
                if k not in t.milestones
            ] + list(OTHER_KINDS)
            kind = kinds[c % len(kinds)]
        planned = kind != ConsultationKind.END and c % 5 != 4
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            HoldConsultation,
            kind=kind,
            participants=(
                Participant(organisation=COORDINATOR.organisation, role=Role("trajectory_guide")),
                Participant(organisation=PROVIDER.organisation, role=Role("provider")),
            ),
            client_involvement=tuple(ClientInvolvement)[c % len(ClientInvolvement)],
            decisions=("Sam gaat halftijds naar school",),
            next_consultation_on=self.on(day) + timedelta(days=1 + c % 60) if planned else None,
            no_next_reason=None if planned else "geen vervolg nodig",
        )

    @staticmethod
    def _waivable(t: Trajectory) -> list[ConsultationKind]:
        return [
            k for k in (ConsultationKind.THREE_MONTH, ConsultationKind.END) if k not in t.milestones
        ]

    def _waive(self, t: Trajectory, day: int, c: int) -> None:
        kinds = [ConsultationKind.START] if t.status == Status.ACCEPTED else self._waivable(t)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            WaiveConsultation,
            kind=kinds[c % len(kinds)],
            reason="cliënt wil niet",
        )

    # --- role agreements ------------------------------------------------------------------------

    def _propose(self, t: Trajectory, day: int, c: int) -> None:
        named = [p for n, p in enumerate(PARTIES) if (c + 1) >> n & 1] or [PARTIES[c % 3]]
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            ProposeRoleAgreement,
            agreement_id=self._next_id("agreement"),
            assignments=tuple(
                RoleAssignment(party=p.organisation, role=ROLES[(c + n) % len(ROLES)])
                for n, p in enumerate(named)
            ),
        )

    @staticmethod
    def _pending_answers(t: Trajectory) -> list[tuple[str, Actor]]:
        return [
            (agreement_id, actor)
            for agreement_id, agreement in t.role_agreements.items()
            if agreement.pending
            for actor in PARTIES
            if actor.organisation in agreement.parties
            and actor.organisation not in agreement.accepted_by
        ]

    def _answer(self, t: Trajectory, day: int, c: int, accept: bool) -> None:
        pending = self._pending_answers(t)
        agreement_id, actor = pending[c % len(pending)]
        if accept:
            on_trajectory(
                self.record,
                self.ctx(day, actor),
                t.id,
                None,
                AcceptRoleAgreementAt,
                agreement_id=agreement_id,
            )
        else:
            on_trajectory(
                self.record,
                self.ctx(day, actor),
                t.id,
                None,
                DeclineRoleAgreementAt,
                agreement_id=agreement_id,
                reason="geen tijd",
            )

    @staticmethod
    def _endable(t: Trajectory) -> list[str]:
        return [
            agreement_id
            for agreement_id, a in t.role_agreements.items()
            if a.ended_at is None and a.declined_by is None
        ]

    def _end_agreement(self, t: Trajectory, day: int, c: int) -> None:
        endable = self._endable(t)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            EndRoleAgreementAt,
            agreement_id=endable[c % len(endable)],
            reason="herzien",
        )

    # --- the plan -----------------------------------------------------------------------------

    @staticmethod
    def _open_goals(t: Trajectory) -> list[str]:
        return [goal_id for goal_id, g in t.goals.items() if g.closed_at is None]

    def _set_goal(self, t: Trajectory, day: int) -> None:
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            SetGoal,
            goal_id=self._next_id("goal"),
            description="naar school",
        )

    def _revise_goal(self, t: Trajectory, day: int, c: int) -> None:
        goals = self._open_goals(t)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            ReviseGoalAt,
            goal_id=goals[c % len(goals)],
            description=f"naar school, {c} dagen per week",
            reason="haalbaarder",
        )

    def _close_goal(self, t: Trajectory, day: int, c: int) -> None:
        goals = self._open_goals(t)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            CloseGoalAt,
            goal_id=goals[c % len(goals)],
            outcome="bereikt",
        )

    def _agree_action(self, t: Trajectory, day: int, c: int) -> None:
        goals = list(t.goals)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            AgreeAction,
            action_id=self._next_id("action"),
            description="intake dagcentrum",
            owner=PARTIES[c % len(PARTIES)].organisation,
            due_on=self.on(day) + timedelta(days=c % 90) if c % 3 else None,
            goal_id=goals[c % len(goals)] if goals and c % 2 else None,
        )

    def _sign(self, t: Trajectory, day: int, c: int) -> None:
        if c % 2:
            actor = msgspec.structs.replace(COORDINATOR, on_behalf_of="rep-mother")
            on_trajectory(
                self.record,
                self.ctx(day, actor),
                t.id,
                None,
                SignPlan,
                signatory=Signatory.REPRESENTATIVE,
                representative_ref="rep-mother",
            )
        else:
            on_trajectory(
                self.record,
                self.ctx(day),
                t.id,
                None,
                SignPlan,
                signatory=Signatory.CLIENT,
                representative_ref=None,
            )

    def _evaluate(self, t: Trajectory, day: int, c: int) -> None:
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            Evaluate,
            results="half gehaald",
            blocking=tuple(r for n, r in enumerate(REASONS) if c >> n & 1)[:3],
            pdca_phase=tuple(PdcaPhase)[c % len(PdcaPhase)] if c % 5 else None,
            new_agreements=("vaker overleg",),
            next_evaluation_on=None,
        )

    # --- escalation and blocks ------------------------------------------------------------------

    def _raise(self, t: Trajectory, day: int, c: int) -> None:
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            RaiseEscalation,
            escalation_id=self._next_id("escalation"),
            level=LEVELS[c % len(LEVELS)],
            reason=REASONS[c % len(REASONS)],
            description="geen plaats",
        )

    def _relevel(self, t: Trajectory, day: int, c: int) -> None:
        open_ = list(t.open_escalations.items())
        escalation_id, escalation = open_[c % len(open_)]
        levels = [level for level in LEVELS if level != escalation.level]
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            ChangeEscalationLevelAt,
            escalation_id=escalation_id,
            to_level=levels[c % len(levels)],
            reason="blijft hangen",
        )

    def _resolve(self, t: Trajectory, day: int, c: int) -> None:
        open_ = list(t.open_escalations)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            ResolveEscalationAt,
            escalation_id=open_[c % len(open_)],
            resolution="plaats",
        )

    def _block(self, t: Trajectory, day: int, c: int) -> None:
        reasons = tuple(r for n, r in enumerate(REASONS) if c >> n & 1)[:3] or (REASONS[c % 10],)
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            BlockTrajectory,
            reasons=reasons,
            description="wachtlijst",
        )

    def _unblock(self, t: Trajectory, day: int) -> None:
        on_trajectory(
            self.record, self.ctx(day), t.id, None, UnblockTrajectory, resolution="plaats gevonden"
        )

    # --- handover, deadlines, closing -----------------------------------------------------------

    def _hand_over(self, t: Trajectory, day: int, c: int) -> None:
        current = t.coordinating_organisation or t.referrer_organisation
        parties = [p for p in CONSENTED if p != current]
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            HandOver,
            to_party=parties[c % len(parties)],
            scopes=(ConsentScope.PLAN,) if c % 2 else (ConsentScope.PLAN, ConsentScope.DOSSIER),
            # Coordination passes only while the trajectory runs (a closed one hands the plan on).
            transfers_coordination=c % 3 != 0 and t.status in RUNNING,
        )

    def _missed_deadline(self, t: Trajectory, day: int, c: int) -> None:
        rule = ("consultation-due", "evaluation-due", "plan-signature-due")[c % 3]
        self.record.record_deadline(
            self.ctx(day),
            t.id,
            kind="missed",
            rule=rule,
            due_on=self.on(day) - timedelta(days=c % 20),
            expected="consultation",
        )

    def _reminder(self, t: Trajectory, day: int, c: int) -> None:
        self.record.record_deadline(
            self.ctx(day),
            t.id,
            kind="reminder",
            rule="evaluation-due",
            due_on=self.on(day) + timedelta(days=c % 20),
            expected="evaluation",
        )

    def _met_late(self, t: Trajectory, day: int, c: int) -> None:
        missed = t.open_missed_deadlines
        rule, _, due = missed[c % len(missed)].partition("@")
        due_on = date.fromisoformat(due)
        self.record.record_deadline(
            self.ctx(day),
            t.id,
            kind="met_late",
            rule=rule,
            due_on=due_on,
            met_on=due_on + timedelta(days=1),
        )

    def _close(self, t: Trajectory, day: int, c: int) -> None:
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            CloseTrajectory,
            reason="doelen bereikt",
            follow_up_by=PROVIDER.organisation if c % 2 else None,
            no_follow_up_reason=None if c % 2 else "cliënt verhuist",
        )

    def _follow_up(self, t: Trajectory, day: int) -> None:
        on_trajectory(
            self.record,
            self.ctx(day),
            t.id,
            None,
            RecordFollowUpContact,
            contacted_party=PROVIDER.organisation,
            outcome="loopt",
        )


#: Trajectory events that tell nothing of the escalation story: the plan's content only.
NOT_ON_TIMELINE = (
    Trajectory.GoalSet,
    Trajectory.GoalRevised,
    Trajectory.GoalClosed,
    Trajectory.ActionAgreed,
)


def logged_events(record: CareRecord) -> list[tuple[int, object]]:
    """(position, event) of everything in the log, in log order."""
    found: list[tuple[int, object]] = []
    position = 0
    while True:
        page = record.recorder.select_notifications(
            start=position, limit=500, inclusive_of_start=False
        )
        if not page:
            return found
        found += [(n.id, record.mapper.to_domain_event(n)) for n in page]
        position = page[-1].id


def timeline_positions(record: CareRecord) -> set[tuple[str, int]]:
    """(trajectory id, position) of every event the timeline must hold exactly once."""
    return set(expected_timeline(record))


def expected_timeline(record: CareRecord) -> dict[tuple[str, int], tuple[int, str, int | None]]:
    """What the timeline must say of each event, worked out from the log on its own:
    (trajectory id, position) → (version, kind, days blocked if it is an unblocking)."""
    blocked_since: dict[UUID, datetime] = {}
    expected: dict[tuple[str, int], tuple[int, str, int | None]] = {}
    for position, event in logged_events(record):
        if not isinstance(event, Trajectory.Event) or isinstance(event, NOT_ON_TIMELINE):
            continue
        days = None
        if isinstance(event, Trajectory.Blocked):
            blocked_since[event.originator_id] = event.occurred_at
        elif isinstance(event, Trajectory.Unblocked):
            days = max(0, (event.occurred_at - blocked_since.pop(event.originator_id)).days)
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
        expected[(str(event.originator_id), position)] = (event.originator_version, kind, days)
    return expected


def tell(story: Story, steps: int, seed: int) -> None:
    """``steps`` commands chosen by a seeded random walk: the same story for the same seed."""
    chance = random.Random(seed)
    for _ in range(steps):
        story.step(
            chance.randrange(len(story.threads)),
            chance.randrange(10_000),
            chance.randrange(20),
            chance.random() < 0.2,
        )


def assert_read_models_equal_the_record(worker: ProjectionWorker, story: Story) -> None:
    """Every projection at the head of the log; each event on the timeline exactly once; each
    trajectory's plan state the very document its aggregate renders, at its version."""
    record = worker.care_record
    head = worker.head()
    assert worker.positions() == {p.name: head for p in worker.projections}
    timeline = rows(
        worker.database,
        "SELECT trajectory_id, position, version, kind, blocked_days FROM rm_timeline",
    )
    told = {
        (tid, position): (version, kind, days) for tid, position, version, kind, days in timeline
    }
    assert len(told) == len(timeline)
    assert told == expected_timeline(record)
    listed = {row[0] for row in rows(worker.database, "SELECT id FROM rm_trajectories")}
    assert listed == {str(t) for t in story.trajectory_ids}
    for trajectory_id in story.trajectory_ids:
        trajectory = record.trajectory(trajectory_id)
        [(version, doc)] = rows(
            worker.database,
            "SELECT version, doc FROM rm_trajectories WHERE id = ?",
            (str(trajectory_id),),
        )
        assert version == trajectory.version
        key = record.keys.key_for(trajectory_id)
        assert key is not None
        assert open_column(key, trajectory_id, "doc", doc) == msgspec.json.encode(
            trajectory_view(trajectory)
        )
    assert_the_board_equals_the_record(worker, story)


class TxRunner:
    """Runs the read queries on the worker's own database connection."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self.dialect: str = database.dialect

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.database.transaction() as tx:
            rows: list[tuple[Any, ...]] = tx.fetchall(sql, params)
            return rows


def expected_board(
    record: CareRecord,
    ids: list[UUID],
    now: datetime,
    idle_days: int,
    organisation: str | None = None,
) -> list[tuple[str, datetime]]:
    """The board computed from the aggregates themselves: (id, stuck since), longest first."""
    today, cutoff = now.date(), now - timedelta(days=idle_days)
    found = []
    for trajectory_id in ids:
        t = record.trajectory(trajectory_id)
        if t.status.value not in ("referred", "accepted", "active", "blocked"):
            continue
        if organisation is not None and organisation not in t.parties:
            continue
        candidates = [e.raised_at for e in t.escalations.values() if e.resolved_at is None]
        if t.current_block is not None:
            candidates.append(t.current_block.since)
        if t.next_consultation_on is not None and t.next_consultation_on < today:
            due = t.next_consultation_on
            candidates.append(datetime(due.year, due.month, due.day, tzinfo=UTC))
        if t.last_recorded_at < cutoff:
            candidates.append(t.last_recorded_at)
        for deadline in t.open_missed_deadlines:
            due = date.fromisoformat(deadline.partition("@")[2])
            candidates.append(datetime(due.year, due.month, due.day, tzinfo=UTC))
        if candidates:
            found.append((str(t.id), min(candidates)))
    return sorted(found, key=lambda row: (row[1], row[0]))


def assert_the_board_equals_the_record(worker: ProjectionWorker, story: Story) -> None:
    """The board (stuck since, order, page) as the database computes it equals the board
    computed from the aggregates, for a few idle periods, page sizes and minimum days."""
    queries = ReadModelQueries.on(TxRunner(worker.database))
    now = datetime.now(UTC)
    parties = sorted(
        {p for t in story.trajectory_ids for p in worker.care_record.trajectory(t).parties}
    )
    cases = [(90, 500, 0, None), (7, 2, 0, None), (30, 500, 20, None)]
    cases += [(30, 500, 0, organisation) for organisation in parties[:2]]
    for idle_days, limit, min_days, organisation in cases:
        wanted = BoardFilter(
            idle_days=idle_days, limit=limit, min_days=min_days, organisation=organisation
        )
        board = asyncio.run(queries.plan_state.board(wanted, now))
        expected = [
            (tid, since)
            for tid, since in expected_board(
                worker.care_record, story.trajectory_ids, now, idle_days, organisation
            )
            if (now - since).days >= min_days
        ]
        assert [(str(r.id), r.stuck_since) for r in board.trajectories] == expected[:limit]
