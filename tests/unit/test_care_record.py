"""The care record application on a real event store: SQLite, and PostgreSQL (marked postgres).

Every test runs once per backend through the ``any_settings`` fixture.
"""

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate

from application.care_record import CareRecord, ConcurrentWrite, StaleVersion
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
    EraseClient,
    Evaluate,
    ExcludeRepresentativeAt,
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
    RevokeConsentAt,
    SetGoal,
    SignPlan,
    UnblockTrajectory,
    WaiveConsultation,
)
from domain.client import Client
from domain.common import (
    Actor,
    ClientInvolvement,
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
    ClientNotFound,
    ConsentMissing,
    ContinuationNeedsConsent,
    ContinuationNotAllowed,
    CoordinationNeedsConsent,
    EndConsultationRequired,
    SignatoryNotAllowed,
    TrajectoryAlreadyContinued,
    TrajectoryNotFound,
)
from domain.trajectory import RoleAssignment, Status, Trajectory
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.support import COORDINATOR, on_client, on_trajectory, said
from tests.unit.builders import (
    NEXT_ORGANISATION,
    PARTICIPANTS,
    PROVIDER,
    REFERRER,
    assert_same,
    at,
    ctx,
    on,
)


@pytest.fixture
def app(any_settings: Settings) -> Iterator[CareRecord]:
    care_record = build_care_record(any_settings)
    yield care_record
    care_record.close()


@pytest.fixture
def other_app(any_settings: Settings) -> Iterator[CareRecord]:
    """A second application instance on the same database, e.g. another API process."""
    care_record = build_care_record(any_settings)
    yield care_record
    care_record.close()


# --- walking the use cases ----------------------------------------------------------------------


def register(app: CareRecord) -> UUID:
    return app.register_client(ctx(0), said(RegisterClient, ctx(0), name="Sam Peeters")).id


def refer(app: CareRecord, client_id: UUID, day: int = 0, **extra: Any) -> UUID:
    """Referred by ``REFERRER``, recorded by the coordinating organisation that answers it."""
    return app.refer(
        ctx(day),
        said(
            Refer,
            ctx(day),
            referrer_organisation=REFERRER.organisation,
            client_id=client_id,
            question="Wie helpt Sam terug naar school?",
            client_criteria=("12-18 jaar",),
            referrer_engagement="blijft betrokken",
            sector=Sector.YOUTH_CARE,
            region="elz-gent",
            **extra,
        ),
    ).id


def consultation(kind: ConsultationKind, day: int, next_in_days: int | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "participants": PARTICIPANTS,
        "client_involvement": ClientInvolvement.PRESENT,
        "decisions": ("afspraken gemaakt",),
        "next_consultation_on": on(day + next_in_days) if next_in_days else None,
        "no_next_reason": None,
    }


def started(app: CareRecord, client_id: UUID | None = None) -> UUID:
    """A trajectory accepted on day 1 and started on day 5, with goal-school set on day 6."""
    trajectory_id = refer(app, client_id or register(app))
    on_trajectory(app, ctx(1), trajectory_id, None, Accept, coordinating_organisation=None)
    on_trajectory(
        app,
        ctx(5),
        trajectory_id,
        None,
        HoldConsultation,
        **consultation(ConsultationKind.START, 5, 30),
    )
    on_trajectory(
        app, ctx(6), trajectory_id, None, SetGoal, goal_id="goal-school", description="naar school"
    )
    return trajectory_id


def closed(app: CareRecord, client_id: UUID) -> UUID:
    trajectory_id = started(app, client_id)
    on_trajectory(
        app,
        ctx(60),
        trajectory_id,
        None,
        HoldConsultation,
        **consultation(ConsultationKind.END, 60, None),
    )
    on_trajectory(
        app,
        ctx(61),
        trajectory_id,
        None,
        CloseTrajectory,
        reason="doelen bereikt",
        follow_up_by=PROVIDER.organisation,
        no_follow_up_reason=None,
    )
    return trajectory_id


def stored_events(app: CareRecord, aggregate_id: UUID) -> list[Any]:
    return list(app.events.get(aggregate_id))


def grant(
    app: CareRecord, client_id: UUID, to_party: str = NEXT_ORGANISATION, day: int = 20
) -> None:
    on_client(
        app,
        ctx(day),
        client_id,
        None,
        GrantConsent,
        consent_id="consent-1",
        to_party=to_party,
        scopes=(ConsentScope.PLAN, ConsentScope.DOSSIER),
        purpose="overdracht",
        until=None,
    )


def hand_over(app: CareRecord, trajectory_id: UUID, day: int = 30) -> Any:
    return on_trajectory(
        app,
        ctx(day),
        trajectory_id,
        None,
        HandOver,
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN,),
        transfers_coordination=True,
    )


# --- the whole walk -----------------------------------------------------------------------------


def test_a_trajectory_is_recorded_from_referral_to_closing(app: CareRecord) -> None:
    client_id = register(app)
    on_client(app, ctx(1), client_id, None, AppointRepresentative, representative_ref="rep-mother")
    grant(app, client_id)
    t = refer(app, client_id)
    steps = [
        lambda: on_trajectory(app, ctx(1), t, 1, Accept, coordinating_organisation=None),
        lambda: on_trajectory(
            app, ctx(5), t, 2, HoldConsultation, **consultation(ConsultationKind.START, 5, 30)
        ),
        lambda: on_trajectory(
            app,
            ctx(6),
            t,
            3,
            ProposeRoleAgreement,
            agreement_id="ra-1",
            assignments=(
                RoleAssignment(party=COORDINATOR.organisation, role=Role.TRAJECTORY_GUIDE),
                RoleAssignment(party=PROVIDER.organisation, role=Role.KEY_WORKER),
            ),
        ),
        lambda: on_trajectory(app, ctx(7), t, 4, AcceptRoleAgreementAt, agreement_id="ra-1"),
        lambda: on_trajectory(
            app, ctx(7, actor=PROVIDER), t, 5, AcceptRoleAgreementAt, agreement_id="ra-1"
        ),
        lambda: on_trajectory(
            app, ctx(8), t, 6, SetGoal, goal_id="goal-school", description="naar school"
        ),
        lambda: on_trajectory(
            app,
            ctx(9),
            t,
            7,
            ReviseGoalAt,
            goal_id="goal-school",
            description="voltijds",
            reason="vlot",
        ),
        lambda: on_trajectory(
            app, ctx(9), t, 8, SetGoal, goal_id="goal-sleep", description="thuis slapen"
        ),
        lambda: on_trajectory(
            app,
            ctx(9),
            t,
            9,
            AgreeAction,
            action_id="act-1",
            description="school bellen",
            owner=PROVIDER.organisation,
            due_on=on(16),
            goal_id="goal-school",
        ),
        lambda: on_trajectory(
            app,
            ctx(10),
            t,
            10,
            SignPlan,
            signatory=Signatory.REPRESENTATIVE,
            representative_ref="rep-mother",
        ),
        lambda: on_trajectory(
            app,
            ctx(15),
            t,
            11,
            RaiseEscalation,
            escalation_id="esc-1",
            level=EscalationLevel.TEAM,
            reason=ReasonCategory.CAPACITY,
            description="geen begeleider",
        ),
        lambda: on_trajectory(
            app,
            ctx(16),
            t,
            12,
            ChangeEscalationLevelAt,
            escalation_id="esc-1",
            to_level=EscalationLevel.NETWORK,
            reason="regio",
        ),
        lambda: on_trajectory(
            app,
            ctx(20),
            t,
            13,
            BlockTrajectory,
            reasons=(ReasonCategory.WAITING_LIST,),
            description="",
        ),
        lambda: on_trajectory(app, ctx(25), t, 14, UnblockTrajectory, resolution="plaats gevonden"),
        lambda: on_trajectory(
            app, ctx(25), t, 15, ResolveEscalationAt, escalation_id="esc-1", resolution="ok"
        ),
        lambda: hand_over(app, t, day=30),
        lambda: on_trajectory(
            app,
            ctx(92),
            t,
            17,
            WaiveConsultation,
            kind=ConsultationKind.THREE_MONTH,
            reason="vervangen door mdo",
        ),
        lambda: on_trajectory(
            app,
            ctx(200),
            t,
            18,
            Evaluate,
            results="voltijds naar school",
            blocking=(),
            pdca_phase=PdcaPhase.EMBED,
            new_agreements=(),
            next_evaluation_on=None,
        ),
        lambda: on_trajectory(
            app, ctx(210), t, 19, CloseGoalAt, goal_id="goal-sleep", outcome="bereikt"
        ),
        lambda: on_trajectory(
            app, ctx(220), t, 20, EndRoleAgreementAt, agreement_id="ra-1", reason="einde"
        ),
        lambda: on_trajectory(
            app, ctx(230), t, 21, HoldConsultation, **consultation(ConsultationKind.END, 230, None)
        ),
        lambda: on_trajectory(
            app,
            ctx(231),
            t,
            22,
            CloseTrajectory,
            reason="doelen bereikt",
            follow_up_by="org-keeper",
            no_follow_up_reason=None,
        ),
        lambda: on_trajectory(
            app,
            ctx(400),
            t,
            23,
            RecordFollowUpContact,
            contacted_party="org-keeper",
            outcome="plan loopt",
        ),
    ]

    positions = []
    for version, step in enumerate(steps, start=2):
        result = step()
        assert (result.id, result.version) == (t, version)
        positions.append(result.position)

    assert positions == sorted(positions)
    trajectory = app.trajectory(t)
    assert trajectory.status == Status.CLOSED
    assert trajectory.version == len(steps) + 1
    assert trajectory.coordinating_organisation == NEXT_ORGANISATION
    assert trajectory.follow_up_by == "org-keeper"
    assert trajectory.follow_up_contacted_at == at(400)
    assert trajectory.plan is not None
    assert trajectory.plan.representative_ref == "rep-mother"
    assert [type(e) for e in stored_events(app, t)][-3:] == [
        Trajectory.ConsultationHeld,
        Trajectory.Closed,
        Trajectory.FollowUpContacted,
    ]


def test_a_command_answers_the_new_version_and_the_log_position_it_reached(
    app: CareRecord,
) -> None:
    client = app.register_client(ctx(0), said(RegisterClient, ctx(0)))
    t = refer(app, client.id)

    accepted = on_trajectory(app, ctx(1), t, 1, Accept, coordinating_organisation=None)

    assert client.version == 1
    assert accepted.version == 2
    assert client.position is not None
    assert accepted.position is not None
    assert accepted.position > client.position


def test_a_command_the_domain_refuses_records_nothing(app: CareRecord) -> None:
    t = started(app)
    before = app.recorder.max_notification_id()

    with pytest.raises(EndConsultationRequired):
        on_trajectory(
            app,
            ctx(61),
            t,
            None,
            CloseTrajectory,
            reason="klaar",
            follow_up_by="org-x",
            no_follow_up_reason=None,
        )

    assert app.recorder.max_notification_id() == before
    assert app.trajectory(t).status == Status.ACTIVE


def test_a_declined_referral_is_recorded(app: CareRecord) -> None:
    t = refer(app, register(app))

    result = on_trajectory(app, ctx(1), t, 1, Decline, reason="buiten de toelatingscriteria")

    assert result.version == 2
    assert app.trajectory(t).status == Status.DECLINED


def test_naming_another_organisation_to_coordinate_needs_the_clients_consent(
    app: CareRecord,
) -> None:
    """Issue #10 review (B1): the organisation named to coordinate will hold the plan (004)."""
    t = refer(app, register(app))

    with pytest.raises(CoordinationNeedsConsent) as refused:
        on_trajectory(app, ctx(1), t, 1, Accept, coordinating_organisation=NEXT_ORGANISATION)

    assert refused.value.field == "coordinating_organisation"
    assert app.trajectory(t).version == 1


def test_naming_another_organisation_to_coordinate_is_recorded_under_the_clients_consent(
    app: CareRecord,
) -> None:
    client_id = register(app)
    grant(app, client_id, day=0)
    t = refer(app, client_id)

    on_trajectory(app, ctx(1), t, 1, Accept, coordinating_organisation=NEXT_ORGANISATION)

    assert app.trajectory(t).coordinating_organisation == NEXT_ORGANISATION


def test_a_party_declines_a_role_agreement_through_the_record(app: CareRecord) -> None:
    t = started(app)
    on_trajectory(
        app,
        ctx(6),
        t,
        None,
        ProposeRoleAgreement,
        agreement_id="ra-1",
        assignments=(RoleAssignment(party=PROVIDER.organisation, role=Role.BUDDY),),
    )

    on_trajectory(
        app,
        ctx(7, actor=PROVIDER),
        t,
        None,
        DeclineRoleAgreementAt,
        agreement_id="ra-1",
        reason="geen buddy vrij",
    )

    assert app.trajectory(t).role_agreements["ra-1"].declined_by == PROVIDER.organisation


def test_whoever_listens_is_told_after_every_recorded_command(app: CareRecord) -> None:
    told: list[int | None] = []
    app.on_recorded = lambda: told.append(app.recorder.max_notification_id())

    client_id = register(app)
    refer(app, client_id)

    assert len(told) == 2
    assert told[-1] == app.recorder.max_notification_id()


# --- signing consults the client ------------------------------------------------------------------


def test_the_plan_is_signed_by_a_representative_the_client_appointed(app: CareRecord) -> None:
    client_id = register(app)
    on_client(app, ctx(1), client_id, None, AppointRepresentative, representative_ref="rep-mother")
    t = started(app, client_id)

    on_trajectory(
        app,
        ctx(10),
        t,
        None,
        SignPlan,
        signatory=Signatory.REPRESENTATIVE,
        representative_ref="rep-mother",
    )

    plan = app.trajectory(t).plan
    assert plan is not None
    assert (plan.signatory, plan.representative_ref) == (Signatory.REPRESENTATIVE, "rep-mother")


def test_a_representative_the_client_excluded_cannot_sign_the_plan(app: CareRecord) -> None:
    client_id = register(app)
    on_client(app, ctx(1), client_id, None, AppointRepresentative, representative_ref="rep-uncle")
    on_client(
        app,
        ctx(2),
        client_id,
        None,
        ExcludeRepresentativeAt,
        representative_ref="rep-uncle",
        reason="cliënt wil dit niet",
    )
    t = started(app, client_id)
    version = app.trajectory(t).version

    with pytest.raises(SignatoryNotAllowed):
        on_trajectory(
            app,
            ctx(10),
            t,
            None,
            SignPlan,
            signatory=Signatory.REPRESENTATIVE,
            representative_ref="rep-uncle",
        )

    assert app.trajectory(t).version == version
    assert app.trajectory(t).plan is None


def test_someone_the_client_never_appointed_cannot_sign_the_plan(app: CareRecord) -> None:
    t = started(app)

    with pytest.raises(SignatoryNotAllowed):
        on_trajectory(
            app,
            ctx(10),
            t,
            None,
            SignPlan,
            signatory=Signatory.REPRESENTATIVE,
            representative_ref="rep-x",
        )


def test_the_client_signs_their_own_plan(app: CareRecord) -> None:
    t = started(app)

    on_trajectory(
        app, ctx(10), t, None, SignPlan, signatory=Signatory.CLIENT, representative_ref=None
    )

    assert app.trajectory(t).plan is not None


# --- handover needs consent -----------------------------------------------------------------------


def test_a_handover_needs_a_consent_that_covers_the_receiving_party(app: CareRecord) -> None:
    t = started(app)
    version = app.trajectory(t).version

    with pytest.raises(ConsentMissing):
        hand_over(app, t)

    assert app.trajectory(t).version == version


def test_a_handover_is_recorded_under_the_consent_that_covers_it(app: CareRecord) -> None:
    client_id = register(app)
    grant(app, client_id)
    t = started(app, client_id)

    hand_over(app, t)

    event = stored_events(app, t)[-1]
    assert isinstance(event, Trajectory.HandedOver)
    assert event.consent_id == "consent-1"
    assert app.trajectory(t).coordinating_organisation == NEXT_ORGANISATION


def test_a_consent_for_another_party_does_not_cover_a_handover(app: CareRecord) -> None:
    client_id = register(app)
    grant(app, client_id, to_party="org-other")
    t = started(app, client_id)

    with pytest.raises(ConsentMissing):
        hand_over(app, t)


def test_a_revoked_consent_no_longer_covers_a_handover(app: CareRecord) -> None:
    client_id = register(app)
    grant(app, client_id)
    on_client(
        app, ctx(25), client_id, None, RevokeConsentAt, consent_id="consent-1", reason="ingetrokken"
    )
    t = started(app, client_id)

    with pytest.raises(ConsentMissing):
        hand_over(app, t)


# --- the thread: continuation -------------------------------------------------------------------


def test_a_referral_may_continue_a_closed_trajectory_of_the_client(app: CareRecord) -> None:
    client_id = register(app)
    earlier = closed(app, client_id)

    result = app.refer(
        ctx(100),  # by the organisation that manages the client, for the referrer
        said(
            Refer,
            ctx(100),
            referrer_organisation=REFERRER.organisation,
            client_id=client_id,
            question="Sam heeft opnieuw steun nodig",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.YOUTH_CARE,
            region="elz-gent",
            continues_from=earlier,
        ),
    )

    assert result.version == 2
    later = app.trajectory(result.id)
    assert later.continued_from == earlier
    event = stored_events(app, result.id)[-1]
    assert isinstance(event, Trajectory.ContinuedFrom)
    assert event.carried_goals == ("naar school",)


NEXT = Actor(user_id="user-nina", organisation=NEXT_ORGANISATION, role="coordinator")


def continuation_consent(app: CareRecord, client_id: UUID, earlier: UUID, hours: int) -> None:
    """The client's consent that ``NEXT_ORGANISATION`` continues ``earlier``, on day 100."""
    on_client(
        app,
        ctx(100, hours=hours),
        client_id,
        None,
        GrantConsent,
        consent_id="to-next",
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN,),
        purpose="continuation",
        until=None,
        trajectory_id=earlier,
    )


def continue_at(
    app: CareRecord, client_id: UUID, earlier: UUID, hours: int, actor: Actor = NEXT
) -> UUID:
    """A continuation of ``earlier`` on day 100, recorded by ``actor`` at its own organisation."""
    context = ctx(100, actor=actor, hours=hours)
    return app.refer(
        context,
        said(
            Refer,
            context,
            client_id=client_id,
            question="Sam heeft opnieuw steun nodig",
            sector=Sector.YOUTH_CARE,
            region="elz-gent",
            continues_from=earlier,
        ),
    ).id


def test_a_continuation_under_the_clients_consent_is_held_against_the_consents_moment(
    app: CareRecord,
) -> None:
    """004, issue #17: the consent comes before the plan passes. The access policy lets the
    holder of a continuation consent in by today's date; a continuation dated an hour before the
    consent was given (the same day) passed at a moment no consent covered."""
    client_id = register(app)
    earlier = closed(app, client_id)
    continuation_consent(app, client_id, earlier, hours=5)
    before = app.recorder.max_notification_id()

    with pytest.raises(ContinuationNeedsConsent) as refused:
        continue_at(app, client_id, earlier, hours=4)

    assert refused.value.rule == "continuation-needs-consent"
    assert refused.value.field == "occurred_at"
    assert "lies before the client's consent to it" in refused.value.message
    assert at(100, hours=5).isoformat() in refused.value.message
    assert "at or after that moment" in refused.value.message
    assert app.recorder.max_notification_id() == before
    later = continue_at(app, client_id, earlier, hours=6)
    assert app.trajectory(later).continued_from == earlier
    assert app.trajectory(earlier).continued_by == [later]


def test_a_continuation_by_the_organisation_that_manages_the_client_needs_no_consent(
    app: CareRecord,
) -> None:
    """The organisation that registered the client acts for it: a continuation consent given to
    another organisation later that day does not bear on its continuation."""
    client_id = register(app)
    earlier = closed(app, client_id)
    continuation_consent(app, client_id, earlier, hours=5)

    later = continue_at(app, client_id, earlier, hours=4, actor=COORDINATOR)

    assert app.trajectory(later).continued_from == earlier


def test_a_referral_that_continues_an_open_trajectory_records_nothing(app: CareRecord) -> None:
    client_id = register(app)
    earlier = started(app, client_id)
    before = app.recorder.max_notification_id()

    with pytest.raises(ContinuationNotAllowed):
        refer(app, client_id, day=100, continues_from=earlier)

    assert app.recorder.max_notification_id() == before


def test_a_referral_that_continues_an_unknown_trajectory_is_refused(app: CareRecord) -> None:
    client_id = register(app)

    with pytest.raises(TrajectoryNotFound):
        refer(app, client_id, day=100, continues_from=uuid4())


def test_a_continuation_consent_naming_another_clients_trajectory_is_refused(
    app: CareRecord,
) -> None:
    """A consent names one of its client's own trajectories: another client's is refused in the
    words of one that does not exist, and nothing is recorded."""
    client_id = register(app)
    theirs = closed(app, register(app))
    before = app.recorder.max_notification_id()

    for trajectory_id in (theirs, uuid4(), client_id):
        with pytest.raises(TrajectoryNotFound, match=f"^no trajectory with id {trajectory_id}$"):
            consent_to_continue(app, client_id, trajectory_id)

    assert app.recorder.max_notification_id() == before
    consent_to_continue(app, client_id, closed(app, client_id))
    assert app.client(client_id).consents["consent-c"].trajectory_id is not None


def consent_to_continue(app: CareRecord, client_id: UUID, trajectory_id: UUID) -> None:
    on_client(
        app,
        ctx(70),
        client_id,
        None,
        GrantConsent,
        consent_id="consent-c",
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN,),
        purpose="continuation",
        until=None,
        trajectory_id=trajectory_id,
    )


# --- one live continuation at most (issue #17) --------------------------------------------------


def walked_to(app: CareRecord, t: UUID, status: Status, day: int) -> None:
    """Walk the referred trajectory ``t`` on from ``day`` until it is ``status``."""
    if status == Status.DECLINED:
        on_trajectory(app, ctx(day), t, None, Decline, reason="geen plaats")
        return
    if status == Status.REFERRED:
        return
    on_trajectory(app, ctx(day), t, None, Accept, coordinating_organisation=None)
    if status == Status.ACCEPTED:
        return
    start = consultation(ConsultationKind.START, day + 1, 30)
    on_trajectory(app, ctx(day + 1), t, None, HoldConsultation, **start)
    if status == Status.BLOCKED:
        on_trajectory(
            app, ctx(day + 2), t, None, BlockTrajectory, reasons=(ReasonCategory.WAITING_LIST,)
        )
    if status == Status.CLOSED:
        end = consultation(ConsultationKind.END, day + 2, None)
        on_trajectory(app, ctx(day + 2), t, None, HoldConsultation, **end)
        on_trajectory(
            app,
            ctx(day + 3),
            t,
            None,
            CloseTrajectory,
            reason="verhuisd",
            follow_up_by=PROVIDER.organisation,
            no_follow_up_reason=None,
        )
    assert app.trajectory(t).status == status


@pytest.mark.parametrize(
    "status", [Status.REFERRED, Status.ACCEPTED, Status.ACTIVE, Status.BLOCKED]
)
def test_a_trajectory_continued_by_an_open_one_is_not_continued_again(
    app: CareRecord, status: Status
) -> None:
    client_id = register(app)
    earlier = closed(app, client_id)
    later = refer(app, client_id, day=100, continues_from=earlier)
    walked_to(app, later, status, day=101)
    before = app.recorder.max_notification_id()

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        refer(app, client_id, day=110, continues_from=earlier)

    assert refused.value.rule == "trajectory-already-continued"
    assert f"continued already by trajectory {later}" in refused.value.message
    assert app.recorder.max_notification_id() == before
    assert app.trajectory(earlier).continued_by == [later]


def test_a_retried_continuation_makes_no_second_copy_of_the_plan(app: CareRecord) -> None:
    client_id = register(app)
    earlier = closed(app, client_id)
    later = refer(app, client_id, day=100, continues_from=earlier)

    with pytest.raises(TrajectoryAlreadyContinued):
        refer(app, client_id, day=100, continues_from=earlier)

    assert app.trajectory(earlier).continued_by == [later]


def test_a_trajectory_whose_continuation_was_declined_may_be_continued_again(
    app: CareRecord,
) -> None:
    client_id = register(app)
    earlier = closed(app, client_id)
    declined = refer(app, client_id, day=100, continues_from=earlier)
    walked_to(app, declined, Status.DECLINED, day=101)

    again = refer(app, client_id, day=110, continues_from=earlier)

    assert app.trajectory(earlier).continued_by == [declined, again]
    assert app.trajectory(again).continued_from == earlier
    assert "goal-school" in app.trajectory(again).goals
    # ... and that one is then the live continuation: it is the only one.
    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        refer(app, client_id, day=111, continues_from=earlier)
    assert f"continued already by trajectory {again}" in refused.value.message


def test_a_trajectory_whose_continuation_closed_is_continued_from_that_one(
    app: CareRecord,
) -> None:
    client_id = register(app)
    earlier = closed(app, client_id)
    later = refer(app, client_id, day=100, continues_from=earlier)
    walked_to(app, later, Status.CLOSED, day=101)

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        refer(app, client_id, day=110, continues_from=earlier)

    assert f"continue from trajectory {later} instead" in refused.value.message
    assert app.trajectory(earlier).continued_by == [later]
    latest = refer(app, client_id, day=110, continues_from=later)
    assert app.trajectory(later).continued_by == [latest]


def test_a_record_continued_several_times_before_the_rule_still_loads_and_refuses(
    app: CareRecord,
) -> None:
    """Stores written before the rule may hold several ``ContinuedBy``: they load as they are,
    and the latest open continuation is the one named."""
    client_id = register(app)
    earlier = app.trajectory(closed(app, client_id))
    first = app.trajectory(refer(app, client_id, day=100))
    second = app.trajectory(refer(app, client_id, day=100))
    for later in (first, second):  # as the record once took them: no check of the statuses
        later.continue_from(ctx(100), previous=earlier)
        earlier.record_continued_by(ctx(100), continuing=later)
    app.save(first, second, earlier)

    assert app.trajectory(earlier.id).continued_by == [first.id, second.id]
    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        refer(app, client_id, day=110, continues_from=earlier.id)
    assert f"continued already by trajectory {second.id}" in refused.value.message


def test_of_two_continuations_at_the_same_moment_the_second_is_refused_as_continued(
    app: CareRecord, other_app: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both write the earlier trajectory (``ContinuedBy``): the one that loses the race on its
    version runs once more on the record as it is, and is then refused as already continued,
    not told to retry (which would continue it a second time)."""
    client_id = register(app)
    earlier = closed(app, client_id)
    load = other_app.repository.get
    first: list[UUID] = []

    def load_then_lose_the_race(aggregate_id: UUID, **kwargs: Any) -> Any:
        loaded = load(aggregate_id, **kwargs)
        # Between our load of the earlier trajectory and our save, another process continues
        # it (once: the second attempt reads the record as it is then).
        if aggregate_id == earlier and not first:
            first.append(refer(app, client_id, day=100, continues_from=earlier))
        return loaded

    monkeypatch.setattr(other_app.repository, "get", load_then_lose_the_race)

    with pytest.raises(TrajectoryAlreadyContinued) as refused:
        refer(other_app, client_id, day=100, continues_from=earlier)

    monkeypatch.undo()
    assert f"continued already by trajectory {first[0]}" in refused.value.message
    assert other_app.trajectory(earlier).continued_by == first
    continuations = [
        e for e in stored_events(app, earlier) if isinstance(e, Trajectory.ContinuedBy)
    ]
    assert [e.next_trajectory_id for e in continuations] == first


# --- unknown ids ------------------------------------------------------------------------------


def test_a_trajectory_the_record_does_not_hold_is_not_found(app: CareRecord) -> None:
    with pytest.raises(TrajectoryNotFound):
        app.trajectory(uuid4())
    with pytest.raises(TrajectoryNotFound):
        on_trajectory(app, ctx(1), uuid4(), None, Accept, coordinating_organisation=None)


def test_a_client_the_record_does_not_hold_is_not_found(app: CareRecord) -> None:
    with pytest.raises(ClientNotFound):
        app.client(uuid4())
    with pytest.raises(ClientNotFound):
        refer(app, uuid4())


def test_a_client_id_is_not_found_as_a_trajectory(app: CareRecord) -> None:
    client_id = register(app)

    with pytest.raises(TrajectoryNotFound):
        app.trajectory(client_id)
    with pytest.raises(TrajectoryNotFound):
        on_trajectory(app, ctx(2), client_id, None, SetGoal, goal_id="g", description="d")


def test_a_trajectory_id_is_not_found_as_a_client(app: CareRecord) -> None:
    trajectory_id = refer(app, register(app))

    with pytest.raises(ClientNotFound):
        app.client(trajectory_id)
    with pytest.raises(ClientNotFound):
        refer(app, trajectory_id)


# --- concurrency --------------------------------------------------------------------------------


def test_a_command_on_a_stale_version_is_refused_and_records_nothing(app: CareRecord) -> None:
    t = started(app)
    current = app.trajectory(t).version
    before = app.recorder.max_notification_id()

    with pytest.raises(StaleVersion) as refused:
        on_trajectory(app, ctx(7), t, current - 1, SetGoal, goal_id="goal-2", description="sport")

    assert (refused.value.expected, refused.value.current) == (current - 1, current)
    assert app.recorder.max_notification_id() == before
    assert "goal-2" not in app.trajectory(t).goals


def test_a_command_on_the_expected_version_is_recorded(app: CareRecord) -> None:
    t = started(app)
    current = app.trajectory(t).version

    result = on_trajectory(app, ctx(7), t, current, SetGoal, goal_id="goal-2", description="sport")

    assert result.version == current + 1


def test_of_two_writers_of_the_same_version_the_second_gets_a_concurrent_write(
    app: CareRecord, other_app: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = started(app)
    version = app.trajectory(t).version
    load = other_app.repository.get

    raced: list[UUID] = []

    def load_then_lose_the_race(aggregate_id: UUID, **kwargs: Any) -> Any:
        loaded = load(aggregate_id, **kwargs)
        # Between our load of the trajectory and our save, the first writer records the same
        # version. (Once: the command loads the client too, to check the id it was given.)
        if aggregate_id == t and not raced:
            raced.append(aggregate_id)
            on_trajectory(
                app, ctx(7), t, version, SetGoal, goal_id="goal-first", description="eerst"
            )
        return loaded

    monkeypatch.setattr(other_app.repository, "get", load_then_lose_the_race)

    with pytest.raises(ConcurrentWrite):
        on_trajectory(
            other_app, ctx(7), t, version, SetGoal, goal_id="goal-second", description="tweede"
        )

    monkeypatch.undo()
    events = stored_events(app, t)
    assert [e.originator_version for e in events] == list(range(1, version + 2))
    assert isinstance(events[-1], Trajectory.GoalSet)
    assert events[-1].goal_id == "goal-first"
    reloaded = other_app.trajectory(t)
    assert reloaded.version == version + 1
    assert set(reloaded.goals) == {"goal-school", "goal-first"}


# --- snapshots ------------------------------------------------------------------------------------


def test_a_long_trajectory_is_snapshotted_and_loads_the_same_from_the_snapshot(
    app: CareRecord, other_app: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = started(app)
    version = app.trajectory(t).version
    while version < 55:
        version = on_trajectory(
            app,
            ctx(7),
            t,
            version,
            SetGoal,
            goal_id=f"goal-{version}",
            description=f"doel {version}",
        ).version

    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(t))
    assert [s.originator_version for s in snapshots] == [50]

    read_from: list[int | None] = []
    get_events = other_app.repository.event_store.get

    def spy(*args: Any, **kwargs: Any) -> Any:
        read_from.append(kwargs.get("gt"))
        return get_events(*args, **kwargs)

    monkeypatch.setattr(other_app.repository.event_store, "get", spy)
    from_snapshot = other_app.trajectory(t)
    monkeypatch.undo()

    assert read_from == [50]
    replayed = None
    for event in stored_events(app, t):
        replayed = event.mutate(replayed)
    assert from_snapshot.version == replayed.version == 55
    assert_same(vars(replayed), vars(from_snapshot))


# --- the scheduler's deadlines ------------------------------------------------------------------


def test_a_missed_deadline_is_recorded_once_even_if_the_scheduler_repeats(
    app: CareRecord,
) -> None:
    t = started(app)

    first = app.record_deadline(
        ctx(40),
        t,
        kind="missed",
        rule="next-consultation",
        due_on=on(35),
        expected="vervolgoverleg",
    )
    repeat = app.record_deadline(
        ctx(41),
        t,
        kind="missed",
        rule="next-consultation",
        due_on=on(35),
        expected="vervolgoverleg",
    )

    assert first is not None
    assert repeat is None
    assert app.trajectory(t).version == first.version
    assert app.trajectory(t).missed_deadlines == [f"next-consultation@{on(35).isoformat()}"]


def test_an_erasure_retried_after_a_failure_erases_the_clients_trajectories_too(
    app: CareRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of #10 (S3), as it was found: the keys are destroyed, then dropping the snapshots
    fails ("database is locked"); the retry must still name and evict the trajectory."""
    client_id = register(app)
    t = refer(app, client_id)
    drop_snapshots = app._delete_snapshots
    failed: list[bool] = []

    def locked_the_first_time(subjects: tuple[UUID, ...]) -> None:
        if not failed:
            failed.append(True)
            raise sqlite3.OperationalError("database is locked")
        drop_snapshots(subjects)

    monkeypatch.setattr(app, "_delete_snapshots", locked_the_first_time)
    with pytest.raises(sqlite3.OperationalError):
        app.erase_client(
            ctx(30), client_id, None, said(EraseClient, ctx(30), legal_basis="gdpr_request")
        )

    app.erase_client(
        ctx(30), client_id, None, said(EraseClient, ctx(30), legal_basis="gdpr_request")
    )

    erased = stored_events(app, client_id)[-1]
    assert isinstance(erased, Client.Erased)
    assert set(erased.erased_subjects) == {client_id, t}


# --- the cached trajectory of a command (issue #22) ----------------------------------------------


def test_a_command_on_a_copy_another_process_moved_on_is_recorded_on_the_record_as_it_is(
    app: CareRecord, other_app: CareRecord
) -> None:
    t = started(app)
    other_app.trajectory(t)  # the other process caches the trajectory ...
    version = on_trajectory(
        app, ctx(7), t, None, SetGoal, goal_id="goal-first", description="eerst"
    ).version  # ... and this one moves it on: the other's copy is stale

    result = on_trajectory(
        other_app, ctx(7), t, None, SetGoal, goal_id="goal-second", description="tweede"
    )

    assert result.version == version + 1
    assert set(app.reload_trajectory(t).goals) == {"goal-school", "goal-first", "goal-second"}
    events = stored_events(app, t)
    assert [e.originator_version for e in events] == list(range(1, version + 2))


def test_a_cached_aggregate_is_not_copied_while_another_thread_changes_it(
    app: CareRecord,
) -> None:
    """Found by an outside probe: eight writers on one learning network got ``500``s, "dictionary
    changed size during iteration": the library fast-forwards a cached aggregate in place, and a
    command's copy of it (``_cached_copy``) was taken meanwhile. A copy now waits for the change
    to end."""
    t = started(app)
    app.trajectory(t)  # cached
    changing, done = threading.Event(), threading.Event()

    def fast_forward_held_open(aggregate: Any, events: Any) -> Any:
        changing.set()
        done.wait(10)
        return project_aggregate(aggregate, events)

    loader = threading.Thread(
        target=lambda: app.repository.get(t, projector_func=fast_forward_held_open)
    )
    loader.start()
    assert changing.wait(10)
    copies: list[Any] = []
    copier = threading.Thread(target=lambda: copies.append(app._cached_copy(t)))
    copier.start()
    copier.join(0.5)
    copying_meanwhile = not copier.is_alive()
    done.set()
    loader.join(10)
    copier.join(10)

    assert not copying_meanwhile, "the copy was taken while the cached aggregate was changing"
    assert copies[0].version == app.trajectory(t).version


def test_an_if_match_on_a_copy_another_process_moved_on_is_decided_on_the_record(
    app: CareRecord, other_app: CareRecord
) -> None:
    t = started(app)
    other_app.trajectory(t)
    version = on_trajectory(
        app, ctx(7), t, None, SetGoal, goal_id="goal-first", description="eerst"
    ).version

    result = on_trajectory(
        other_app, ctx(7), t, version, SetGoal, goal_id="goal-second", description="tweede"
    )

    assert result.version == version + 1
