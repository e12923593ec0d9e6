"""The trajectory's state machine, command by command and state by state.

referred ──accept──▶ accepted ──start consultation (or waiver)──▶ active ⇄ blocked ──close──▶ closed
    └──decline──▶ declined

Every command is tried in every state: where the state machine allows it, the command records
one event; everywhere else it is refused with ``TransitionNotAllowed`` and records nothing. Every
command also checks ``occurred_at`` (aware, not in the future, not before the referral) first.
"""

import inspect
from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.common import (
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Signatory,
)
from domain.errors import (
    InvalidValue,
    OccurredBeforeReferral,
    OccurredInFuture,
    TransitionNotAllowed,
)
from domain.trajectory import RUNNING, RoleAssignment, Status, Trajectory
from tests.support import context
from tests.unit.builders import (
    NEXT_ORGANISATION,
    NOW,
    PARTICIPANTS,
    PROVIDER,
    at,
    closed,
    ctx,
    furnished,
    new_events,
    on,
    referred,
)

#: The day every command of this module happens on (after all the furniture below).
DAY = 30


Command = Callable[[Trajectory, CommandContext], object]


def _hold(kind: ConsultationKind) -> Command:
    return lambda t, c: t.hold_consultation(
        c,
        kind=kind,
        participants=PARTICIPANTS,
        client_involvement=ClientInvolvement.CONSULTED_BEFOREHAND,
        decisions=(),
        next_consultation_on=on(DAY + 30),
        no_next_reason=None,
    )


def _continue(t: Trajectory, c: CommandContext) -> None:
    t.continue_from(c, previous=closed(client_id=t.client_id))


def _continued_by(t: Trajectory, c: CommandContext) -> None:
    """The other end of ``continue_from``: ``t`` is the earlier trajectory (issue #17)."""
    later = referred(client_id=t.client_id, day=DAY)
    later.continued_from = t.id  # what its ContinuedFrom would have set
    t.record_continued_by(c, continuing=later)


PLAN_WORK = RUNNING | {Status.ACCEPTED}

#: command name → (the states that allow it, the command with valid arguments)
COMMANDS: dict[str, tuple[frozenset[Status], Command]] = {
    "accept": (
        frozenset({Status.REFERRED}),
        lambda t, c: t.accept(c, coordinating_organisation=None),
    ),
    "decline": (frozenset({Status.REFERRED}), lambda t, c: t.decline(c, reason="geen plaats")),
    "hold the start consultation": (frozenset({Status.ACCEPTED}), _hold(ConsultationKind.START)),
    "hold an ad hoc consultation": (RUNNING, _hold(ConsultationKind.AD_HOC)),
    "waive the start consultation": (
        frozenset({Status.ACCEPTED}),
        lambda t, c: t.waive_consultation(c, kind=ConsultationKind.START, reason="crisis"),
    ),
    "waive the three-month consultation": (
        RUNNING,
        lambda t, c: t.waive_consultation(c, kind=ConsultationKind.THREE_MONTH, reason="kort"),
    ),
    "propose a role agreement": (
        PLAN_WORK,
        lambda t, c: t.propose_role_agreement(
            c,
            agreement_id="ra-2",
            assignments=(RoleAssignment(party=PROVIDER.organisation, role=Role.BUDDY),),
        ),
    ),
    "accept a role agreement": (
        PLAN_WORK,
        lambda t, c: t.accept_role_agreement(c, agreement_id="ra-1"),
    ),
    "decline a role agreement": (
        PLAN_WORK,
        lambda t, c: t.decline_role_agreement(c, agreement_id="ra-1", reason="geen tijd"),
    ),
    "end a role agreement": (
        PLAN_WORK | {Status.CLOSED},
        lambda t, c: t.end_role_agreement(c, agreement_id="ra-1", reason="niet meer nodig"),
    ),
    "set a goal": (
        PLAN_WORK,
        lambda t, c: t.set_goal(c, goal_id="goal-2", description="Sam sport wekelijks"),
    ),
    "revise a goal": (
        PLAN_WORK,
        lambda t, c: t.revise_goal(
            c, goal_id="goal-school", description="Sam gaat voltijds naar school", reason="vlot"
        ),
    ),
    "close a goal": (
        PLAN_WORK,
        lambda t, c: t.close_goal(c, goal_id="goal-school", outcome="bereikt"),
    ),
    "agree an action": (
        PLAN_WORK,
        lambda t, c: t.agree_action(
            c,
            action_id="act-1",
            description="school contacteren",
            owner=PROVIDER.organisation,
            due_on=on(DAY + 7),
            goal_id="goal-school",
        ),
    ),
    "sign the plan": (
        PLAN_WORK,
        lambda t, c: t.sign_plan(c, signatory=Signatory.CLIENT, representative_ref=None),
    ),
    "sign the plan in part (NL, 12-15)": (
        PLAN_WORK,
        lambda t, c: t.sign_plan_together(c, signatory=Signatory.CLIENT, representative_ref=None),
    ),
    "give input ahead of a consultation": (
        PLAN_WORK,
        lambda t, c: t.give_consultation_input(
            c,
            statement="Ik wil erbij zijn",
            for_kind=None,
            given_by=Signatory.CLIENT,
            representative_ref=None,
        ),
    ),
    "evaluate the plan": (
        RUNNING,
        lambda t, c: t.evaluate(
            c,
            results="Sam gaat halftijds naar school",
            blocking=(),
            pdca_phase=PdcaPhase.TRY_OUT,
            new_agreements=(),
            next_evaluation_on=None,
        ),
    ),
    "raise an escalation": (
        RUNNING,
        lambda t, c: t.raise_escalation(
            c,
            escalation_id="esc-2",
            level=EscalationLevel.NETWORK,
            reason=ReasonCategory.REGULATION,
            description="regelgeving",
        ),
    ),
    "change an escalation level": (
        RUNNING,
        lambda t, c: t.change_escalation_level(
            c, escalation_id="esc-1", to_level=EscalationLevel.ORGANISATION, reason="blijft"
        ),
    ),
    "resolve an escalation": (
        RUNNING | {Status.CLOSED},
        lambda t, c: t.resolve_escalation(c, escalation_id="esc-1", resolution="opgelost"),
    ),
    "block": (
        frozenset({Status.ACTIVE}),
        lambda t, c: t.block(c, reasons=(ReasonCategory.WAITING_LIST,), description=""),
    ),
    "unblock": (frozenset({Status.BLOCKED}), lambda t, c: t.unblock(c, resolution="plaats")),
    "hand over": (
        RUNNING | {Status.CLOSED},
        lambda t, c: t.hand_over(
            c,
            to_party=NEXT_ORGANISATION,
            scopes=(ConsentScope.PLAN,),
            consent_id="consent-1",
            transfers_coordination=False,
        ),
    ),
    "record a follow-up contact": (
        frozenset({Status.CLOSED}),
        lambda t, c: t.record_follow_up_contact(
            c, contacted_party=PROVIDER.organisation, outcome="plan loopt"
        ),
    ),
    "close": (
        RUNNING,
        lambda t, c: t.close(
            c, reason="afgerond", follow_up_by=PROVIDER.organisation, no_follow_up_reason=None
        ),
    ),
    "continue an earlier trajectory": (frozenset({Status.REFERRED}), _continue),
    "record that a later trajectory continues it": (frozenset({Status.CLOSED}), _continued_by),
    "share a finding": (RUNNING, lambda t, c: t.share_finding(c, region=t.region)),
}

#: Refusals that another rule words more precisely (tested in test_consultations.py).
MORE_PRECISE_REFUSALS = {("hold an ad hoc consultation", Status.ACCEPTED)}

ALLOWED = [
    pytest.param(name, status, id=f"{name} when {status.value}")
    for name, (allowed, _) in COMMANDS.items()
    for status in Status
    if status in allowed
]
REFUSED = [
    pytest.param(name, status, id=f"{name} when {status.value}")
    for name, (allowed, _) in COMMANDS.items()
    for status in Status
    if status not in allowed and (name, status) not in MORE_PRECISE_REFUSALS
]
FIRST_ALLOWED = [
    pytest.param(name, min(allowed, key=list(Status).index), id=name)
    for name, (allowed, _) in COMMANDS.items()
]


def test_every_command_of_the_trajectory_is_in_the_table() -> None:
    """The scheduler's ``record_*deadline*`` commands are allowed in every state
    (test_handover_and_deadlines.py)."""
    commands = {
        "accept",
        "decline",
        "hold_consultation",
        "waive_consultation",
        "propose_role_agreement",
        "accept_role_agreement",
        "decline_role_agreement",
        "end_role_agreement",
        "set_goal",
        "revise_goal",
        "close_goal",
        "agree_action",
        "sign_plan",
        "sign_plan_together",
        "give_consultation_input",
        "evaluate",
        "raise_escalation",
        "change_escalation_level",
        "resolve_escalation",
        "block",
        "unblock",
        "hand_over",
        "record_missed_deadline",
        "record_deadline_met_late",
        "record_deadline_reminder",
        "record_follow_up_contact",
        "close",
        "continue_from",
        "record_continued_by",
        "share_finding",
    }
    public_methods = {
        name
        for name, value in vars(Trajectory).items()
        if inspect.isfunction(value) and not name.startswith("_")
    } - {
        "plan_in_force_on",
        "open_missed_deadlines",
        "check_time",
        "check_answers_referral",
        # issue #15: the ordering rules and the status timeline, not commands
        "ordering_conflict",
        "trigger_event",
        "status_at",
        # what a reader who may not learn of some block reasons is shown, not a command
        "status_shown_without",
        # issue #17: a rule on the continuations, checked before continuing, not a command
        "check_continuable",
    }
    assert public_methods == commands
    called_in_table = {
        name for _, command in COMMANDS.values() for name in command.__code__.co_names
    }
    scheduler_commands = {
        "record_missed_deadline",
        "record_deadline_met_late",
        "record_deadline_reminder",
    }
    assert commands - scheduler_commands <= called_in_table


@pytest.mark.parametrize(("command", "status"), ALLOWED)
def test_a_command_in_a_state_that_allows_it_records_one_event(
    command: str, status: Status
) -> None:
    trajectory = furnished(status)
    before = len(new_events(trajectory))

    COMMANDS[command][1](trajectory, ctx(DAY))

    assert len(new_events(trajectory)) == before + 1


@pytest.mark.parametrize(("command", "status"), REFUSED)
def test_a_command_in_a_state_that_does_not_allow_it_is_refused_as_a_transition(
    command: str, status: Status
) -> None:
    trajectory = furnished(status)
    before = len(new_events(trajectory))

    with pytest.raises(TransitionNotAllowed):
        COMMANDS[command][1](trajectory, ctx(DAY))

    assert len(new_events(trajectory)) == before
    assert trajectory.status == status


@pytest.mark.parametrize(("command", "status"), FIRST_ALLOWED)
def test_a_command_refuses_a_fact_that_lies_in_the_future(command: str, status: Status) -> None:
    trajectory = furnished(status)
    before = len(new_events(trajectory))

    with pytest.raises(OccurredInFuture):
        COMMANDS[command][1](trajectory, context(occurred_at=NOW + timedelta(hours=1), now=NOW))

    assert len(new_events(trajectory)) == before


@pytest.mark.parametrize(("command", "status"), FIRST_ALLOWED)
def test_a_command_refuses_a_fact_from_before_the_referral(command: str, status: Status) -> None:
    trajectory = furnished(status)
    before = len(new_events(trajectory))

    with pytest.raises(OccurredBeforeReferral):
        COMMANDS[command][1](trajectory, ctx(0, hours=-1))

    assert len(new_events(trajectory)) == before


@pytest.mark.parametrize(("command", "status"), FIRST_ALLOWED)
def test_a_command_refuses_a_time_without_an_offset(command: str, status: Status) -> None:
    trajectory = furnished(status)
    naive = at(DAY).replace(tzinfo=None)

    with pytest.raises(InvalidValue) as refused:
        COMMANDS[command][1](trajectory, context(occurred_at=naive, now=NOW))

    assert refused.value.field == "occurred_at"


def test_a_fact_within_the_clock_skew_of_now_is_not_in_the_future() -> None:
    trajectory = referred()

    trajectory.accept(
        context(occurred_at=NOW + timedelta(minutes=5), now=NOW), coordinating_organisation=None
    )

    assert trajectory.status == Status.ACCEPTED


def test_a_fact_just_beyond_the_clock_skew_of_now_is_in_the_future() -> None:
    trajectory = referred()

    with pytest.raises(OccurredInFuture):
        trajectory.accept(
            context(occurred_at=NOW + timedelta(minutes=5, microseconds=1), now=NOW),
            coordinating_organisation=None,
        )


def test_a_fact_at_the_moment_of_the_referral_is_not_before_it() -> None:
    trajectory = referred()

    trajectory.accept(ctx(0), coordinating_organisation=None)

    assert trajectory.accepted_at == at(0)
