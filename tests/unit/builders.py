"""Builders that walk a Trajectory or a Client to the state a test needs.

Time is fixed: the trajectory is referred on ``REFERRED_AT`` ("day 0") and facts happen on later
days, while the recording clock stands still at ``NOW``, years later, so that no test depends
on the wall clock and a plan signed early on can have expired by ``NOW``.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec

from domain.client import Client, PersonalData
from domain.common import (
    Actor,
    ClientInvolvement,
    CommandContext,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)
from domain.trajectory import Participant, RoleAssignment, Status, Trajectory
from tests.support import COORDINATOR, context

E = TypeVar("E")

#: Day 0: the referral.
REFERRED_AT = datetime(2023, 1, 16, 9, 0, tzinfo=UTC)
#: The recording clock of every command unless a test says otherwise (day 1232).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

REFERRER = Actor(user_id="user-rik", organisation="org-referrer", role="referrer")
PROVIDER = Actor(user_id="user-pia", organisation="org-provider", role="provider")
OUTSIDER = Actor(user_id="user-olaf", organisation="org-outsider", role="coordinator")
#: The organisation a trajectory is handed over to.
NEXT_ORGANISATION = "org-next"

PARTICIPANTS = (
    Participant(organisation=COORDINATOR.organisation, role=Role("trajectory_guide")),
    Participant(organisation=PROVIDER.organisation, role=Role("provider")),
    Participant(organisation="network", role=Role("informal_carer"), person_ref="person-7f3a"),
)


def at(day: int, hours: int = 0) -> datetime:
    """The moment ``day`` days (and ``hours`` hours) after the referral."""
    return REFERRED_AT + timedelta(days=day, hours=hours)


def on(day: int) -> date:
    """The calendar date (UTC) of ``day``."""
    return at(day).date()


def day_of(calendar_date: date) -> int:
    """The day (counted from the referral) that falls on ``calendar_date``."""
    return (calendar_date - REFERRED_AT.date()).days


def ctx(
    day: int, *, actor: Actor = COORDINATOR, now: datetime = NOW, hours: int = 0
) -> CommandContext:
    """A command context for a fact that happened on ``day``, recorded at ``now``."""
    return context(occurred_at=at(day, hours), actor=actor, now=now)


# --- trajectories -----------------------------------------------------------------------------


def referred(client_id: UUID | None = None, day: int = 0) -> Trajectory:
    """Referred by ``REFERRER`` and recorded by the coordinating organisation, which answers
    the referral (only the organisation that recorded it accepts or declines it)."""
    return Trajectory.refer(
        ctx(day),
        referrer_organisation=REFERRER.organisation,
        client_id=client_id or uuid4(),
        question="Wie helpt Sam terug naar school na de opname?",
        client_criteria=("12-18 jaar", "woont in de regio"),
        referrer_engagement="blijft betrokken tot de startconsultatie",
        sector=Sector.YOUTH_CARE,
        region="elz-gent",
    )


def accepted(client_id: UUID | None = None) -> Trajectory:
    trajectory = referred(client_id)
    trajectory.accept(ctx(1), coordinating_organisation=None)
    return trajectory


def declined() -> Trajectory:
    trajectory = referred()
    trajectory.decline(ctx(1), reason="buiten de toelatingscriteria")
    return trajectory


def hold(
    trajectory: Trajectory,
    kind: ConsultationKind,
    day: int,
    *,
    next_in_days: int | None = 30,
    no_next_reason: str | None = None,
    actor: Actor = COORDINATOR,
) -> None:
    """Hold a consultation on ``day`` that plans the next one ``next_in_days`` later."""
    trajectory.hold_consultation(
        ctx(day, actor=actor),
        kind=kind,
        participants=PARTICIPANTS,
        client_involvement=ClientInvolvement.PRESENT,
        decisions=("Sam gaat halftijds naar school",),
        next_consultation_on=on(day + next_in_days) if next_in_days is not None else None,
        no_next_reason=no_next_reason,
    )


def active(client_id: UUID | None = None) -> Trajectory:
    """Accepted on day 1, start consultation on day 5."""
    trajectory = accepted(client_id)
    hold(trajectory, ConsultationKind.START, day=5)
    return trajectory


def blocked() -> Trajectory:
    """Active, then blocked on day 20 for a waiting list."""
    trajectory = active()
    trajectory.block(
        ctx(20), reasons=(ReasonCategory.WAITING_LIST,), description="wachtlijst dagcentrum"
    )
    return trajectory


def set_goal(trajectory: Trajectory, day: int, goal_id: str = "goal-school") -> None:
    trajectory.set_goal(ctx(day), goal_id=goal_id, description="Sam gaat weer naar school")


def sign(trajectory: Trajectory, day: int) -> None:
    trajectory.sign_plan(ctx(day), signatory=Signatory.CLIENT, representative_ref=None)


def signed(day: int = 10) -> Trajectory:
    """Active, with a goal set on day 6 and the plan signed by the client on ``day``."""
    trajectory = active()
    set_goal(trajectory, day=6)
    sign(trajectory, day=day)
    return trajectory


def with_escalation(trajectory: Trajectory, day: int, escalation_id: str = "esc-1") -> None:
    trajectory.raise_escalation(
        ctx(day),
        escalation_id=escalation_id,
        level=EscalationLevel.TEAM,
        reason=ReasonCategory.CAPACITY,
        description="geen begeleider vrij",
    )


def propose(
    trajectory: Trajectory,
    day: int,
    agreement_id: str = "ra-1",
    parties: tuple[str, ...] = (COORDINATOR.organisation, PROVIDER.organisation),
) -> None:
    roles = (Role.TRAJECTORY_GUIDE, Role.PROVIDER, Role.KEY_WORKER, Role.BUDDY)
    trajectory.propose_role_agreement(
        ctx(day),
        agreement_id=agreement_id,
        assignments=tuple(
            RoleAssignment(party=party, role=role, responsibilities="volgt op")
            for party, role in zip(parties, roles, strict=False)
        ),
    )


def ready_to_close(client_id: UUID | None = None) -> Trajectory:
    """Active, with the end consultation held on day 60."""
    trajectory = active(client_id)
    hold(trajectory, ConsultationKind.END, day=60, next_in_days=None)
    return trajectory


def closed(client_id: UUID | None = None) -> Trajectory:
    """Closed on day 61; org-provider follows up the plan."""
    trajectory = ready_to_close(client_id)
    trajectory.close(
        ctx(61),
        reason="doelen bereikt",
        follow_up_by=PROVIDER.organisation,
        no_follow_up_reason=None,
    )
    return trajectory


def furnished(status: Status) -> Trajectory:
    """A trajectory in ``status`` holding what any command allowed there needs.

    Accepted and later: an open goal and a pending role agreement of org-coordinating and
    org-provider. Active and later: start consultation held, plan signed, an open escalation,
    end consultation held (so that ``close`` is possible).
    """
    if status == Status.REFERRED:
        return referred()
    if status == Status.DECLINED:
        return declined()
    trajectory = accepted()
    set_goal(trajectory, day=2)
    propose(trajectory, day=2)
    if status == Status.ACCEPTED:
        return trajectory
    hold(trajectory, ConsultationKind.START, day=5)
    sign(trajectory, day=6)
    with_escalation(trajectory, day=7)
    hold(trajectory, ConsultationKind.END, day=8, next_in_days=None)
    if status == Status.BLOCKED:
        trajectory.block(ctx(9), reasons=(ReasonCategory.FUNDING,), description="budget op")
    if status == Status.CLOSED:
        trajectory.close(
            ctx(9), reason="afgerond", follow_up_by=PROVIDER.organisation, no_follow_up_reason=None
        )
    assert trajectory.status == status
    return trajectory


def new_events(trajectory: Trajectory | Client) -> list[object]:
    """The events a command triggered and nobody has collected yet."""
    return list(trajectory.pending_events)


def last_event(aggregate: Trajectory | Client, event_class: type[E]) -> E:
    """The event the last command triggered, which must be an ``event_class``."""
    event = aggregate.pending_events[-1]
    assert isinstance(event, event_class), f"{type(event).__qualname__} is no {event_class}"
    return event


# --- clients ----------------------------------------------------------------------------------


def registered(day: int = 0) -> Client:
    return Client.register(
        ctx(day), personal=PersonalData(name="Sam Peeters", contact="sam@example.org")
    )


def with_representative(client: Client, day: int, ref: str = "rep-mother") -> None:
    client.appoint_representative(
        ctx(day), representative_ref=ref, personal=PersonalData(name="An Peeters")
    )


def with_consent(
    client: Client,
    day: int,
    *,
    consent_id: str = "consent-1",
    to_party: str = NEXT_ORGANISATION,
    scopes: tuple[ConsentScope, ...] = (ConsentScope.PLAN, ConsentScope.DOSSIER),
    until: date | None = None,
) -> None:
    client.grant_consent(
        ctx(day),
        consent_id=consent_id,
        to_party=to_party,
        scopes=scopes,
        purpose="overdracht naar de volgende begeleiding",
        until=until,
    )


# --- comparison ---------------------------------------------------------------------------------


def assert_same(expected: Any, actual: Any, path: str = "") -> None:
    """Equal, and of the same types all the way down (an enum must not come back a str)."""
    assert type(actual) is type(expected), f"{path}: {type(actual)} is not {type(expected)}"
    if isinstance(expected, msgspec.Struct):
        for name in expected.__struct_fields__:
            assert_same(getattr(expected, name), getattr(actual, name), f"{path}.{name}")
    elif isinstance(expected, tuple | list):
        assert len(actual) == len(expected), path
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_same(e, a, f"{path}[{index}]")
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), path
        actual_keys = {key: key for key in actual}
        for key, value in expected.items():
            assert_same(key, actual_keys[key], f"{path} key {key!r}")
            assert_same(value, actual[key], f"{path}[{key!r}]")
    elif isinstance(expected, datetime):
        assert actual == expected, path
        assert actual.utcoffset() == expected.utcoffset(), f"{path}: offset lost"
    else:
        assert actual == expected, path
