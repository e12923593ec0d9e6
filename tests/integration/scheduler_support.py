"""Shared by the scheduler's integration tests: empty databases, commands dated in the past,
and the deadline events of the log."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.care_record import CareRecord
from application.commands import (
    Accept,
    BlockTrajectory,
    CloseTrajectory,
    Decline,
    Evaluate,
    HoldConsultation,
    RaiseEscalation,
    RecordFollowUpContact,
    Refer,
    RegisterClient,
    ResolveEscalationAt,
    SetGoal,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from domain.common import (
    ClientInvolvement,
    ConsultationKind,
    EscalationLevel,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)
from domain.trajectory import Participant, Trajectory
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_deadline_scheduler
from scheduler.runner import SCHEDULER_ACTOR, DeadlineScheduler
from tests.integration.databases import fresh_settings, require_backend
from tests.support import COORDINATOR, context, on_trajectory, said

T = Trajectory
START, THREE_MONTH, AD_HOC, END, MDO, PLAN_MEETING = (
    ConsultationKind.START,
    ConsultationKind.THREE_MONTH,
    ConsultationKind.AD_HOC,
    ConsultationKind.END,
    ConsultationKind.MDO,
    ConsultationKind.PLAN_MEETING,
)
PARTICIPANTS = (
    Participant(organisation=COORDINATOR.organisation, role=Role("trajectory_guide")),
    Participant(organisation="org-provider", role=Role("provider")),
)


# --- databases of their own -----------------------------------------------------------------------

NewSettings = Callable[[], Settings]


@contextmanager
def empty_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewSettings]:
    """``new()`` → settings on a new, empty database of ``request.param`` (as many as needed).

    The embedded background scheduler is off: it would run at the real clock, and a test runs
    the scheduler itself, at the moments it chooses.
    """
    require_backend(request, request.param)
    with ExitStack() as stack:
        count = 0

        def new() -> Settings:
            nonlocal count
            count += 1
            data_dir = tmp_path / f"db{count}"
            data_dir.mkdir()
            settings = stack.enter_context(fresh_settings(request.param, data_dir))
            return replace(settings, embedded_workers=False)

        yield new


def scheduler_for(container: Container, **kwargs: Any) -> DeadlineScheduler:
    """The container's scheduler (closed with it), catching the read models up before a run."""
    scheduler = build_deadline_scheduler(
        container.settings, container.care_record, container.policy, worker=container.worker
    )
    for name, value in kwargs.items():
        setattr(scheduler, name, value)
    container._closers.append(scheduler.database)
    return scheduler


# --- writing trajectories -------------------------------------------------------------------------


def moment(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@dataclass
class Care:
    """Commands on one care record, each dated by the day it happened (10:00 UTC)."""

    app: CareRecord
    ids: dict[str, UUID] = field(default_factory=dict)

    def ctx(self, day: str, hour: int = 10) -> Any:
        return context(occurred_at=moment(day, hour))

    def refer(
        self, label: str, day: str, region: str = "elz-gent", sector: Sector = Sector.YOUTH_CARE
    ) -> UUID:
        client = self.app.register_client(self.ctx(day), said(RegisterClient, self.ctx(day))).id
        self.ids[label] = self.app.refer(
            self.ctx(day),
            said(
                Refer,
                self.ctx(day),
                client_id=client,
                question="Wie helpt Sam terug naar school?",
                client_criteria=(),
                referrer_engagement="",
                sector=sector,
                region=region,
            ),
        ).id
        return self.ids[label]

    def start(
        self, label: str, day: str, region: str = "elz-gent", sector: Sector = Sector.YOUTH_CARE
    ) -> UUID:
        """Referred and accepted on ``day``."""
        tid = self.refer(label, day, region, sector)
        on_trajectory(
            self.app, self.ctx(day, 11), tid, None, Accept, coordinating_organisation=None
        )
        return tid

    def decline(self, label: str, day: str) -> None:
        on_trajectory(
            self.app, self.ctx(day), self.ids[label], None, Decline, reason="buiten de criteria"
        )

    def hold(
        self, label: str, day: str, kind: ConsultationKind, next_on: str | None = None
    ) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            HoldConsultation,
            kind=kind,
            participants=PARTICIPANTS,
            client_involvement=ClientInvolvement.PRESENT,
            decisions=(),
            next_consultation_on=date.fromisoformat(next_on) if next_on else None,
            no_next_reason=None if next_on else "wacht op een plaats",
        )

    def waive(self, label: str, day: str, kind: ConsultationKind) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            WaiveConsultation,
            kind=kind,
            reason="ziek",
        )

    def goal(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            SetGoal,
            goal_id="goal-1",
            description="terug naar school",
        )

    def sign(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            SignPlan,
            signatory=Signatory.CLIENT,
            representative_ref=None,
        )

    def evaluate(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            Evaluate,
            results="goed op weg",
            blocking=(),
            pdca_phase=None,
            new_agreements=(),
            next_evaluation_on=None,
        )

    def block(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            BlockTrajectory,
            reasons=(ReasonCategory.WAITING_LIST,),
            description="",
        )

    def unblock(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            UnblockTrajectory,
            resolution="plaats gevonden",
        )

    def escalate(self, label: str, day: str, escalation_id: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            RaiseEscalation,
            escalation_id=escalation_id,
            level=EscalationLevel.NETWORK,
            reason=ReasonCategory.WAITING_LIST,
            description="wachtlijst",
        )

    def resolve(self, label: str, day: str, escalation_id: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            ResolveEscalationAt,
            escalation_id=escalation_id,
            resolution="opgelost",
        )

    def close(self, label: str, day: str, follow_up_by: str | None = "org-provider") -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            CloseTrajectory,
            reason="afgerond",
            follow_up_by=follow_up_by,
            no_follow_up_reason=None if follow_up_by else "cliënt verhuisd",
        )

    def follow_up(self, label: str, day: str) -> None:
        on_trajectory(
            self.app,
            self.ctx(day),
            self.ids[label],
            None,
            RecordFollowUpContact,
            contacted_party="org-provider",
            outcome="loopt",
        )


# --- reading the log ------------------------------------------------------------------------------

KINDS = {
    T.DeadlineMissed: "missed",
    T.DeadlineMetLate: "met_late",
    T.DeadlineReminderIssued: "reminder",
}


@dataclass(frozen=True, order=True)
class Recorded:
    """One deadline event the scheduler recorded."""

    trajectory: str  # a label, or the id
    rule: str
    due_on: date
    kind: str  # missed | met_late | reminder
    occurred_at: datetime
    met_on: date | None


def log_events(app: CareRecord) -> list[Any]:
    """Every event of the log, in log order."""
    found: list[Any] = []
    position = 0
    while notifications := app.recorder.select_notifications(
        start=position, limit=500, inclusive_of_start=False
    ):
        found.extend(app.mapper.to_domain_event(n) for n in notifications)
        position = notifications[-1].id
    return found


def deadline_events(app: CareRecord, labels: dict[str, UUID] | None = None) -> list[Recorded]:
    """The scheduler's events in log order, trajectories named by ``labels`` where given."""
    names = {tid: label for label, tid in (labels or {}).items()}
    found = []
    for event in log_events(app):
        kind = KINDS.get(type(event))
        if kind is None:
            continue
        assert event.actor == SCHEDULER_ACTOR
        found.append(
            Recorded(
                trajectory=names.get(event.originator_id, str(event.originator_id)),
                rule=event.rule,
                due_on=event.due_on,
                kind=kind,
                occurred_at=event.occurred_at,
                met_on=getattr(event, "met_on", None),
            )
        )
    return found


def keys(events: list[Recorded], kind: str | None = None) -> set[tuple[str, str, date]]:
    return {(e.trajectory, e.rule, e.due_on) for e in events if kind is None or e.kind == kind}


def assert_each_once(events: list[Recorded]) -> None:
    counts = Counter((e.trajectory, e.rule, e.due_on, e.kind) for e in events)
    assert {k: n for k, n in counts.items() if n != 1} == {}
