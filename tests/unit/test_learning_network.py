"""The LearningNetwork aggregate: seed 001's rules for the meso and macro levels, and seed 002's
improvement trajectories (issue #14 points 1 and 6)."""

from datetime import date

import pytest

from domain.common import Actor, PdcaPhase
from domain.errors import InvalidValue, ItemNotFound, RuleConflict
from domain.learning_network import (
    ActionProposal,
    Audience,
    ClosedNetworkTakesNothing,
    EscalationNeedsForum,
    Evidence,
    GroupReach,
    LearningNetwork,
    LessonsAlreadyPublished,
    MeasurementOutOfOrder,
    MeetingKind,
    MeetingKindNotOfLevel,
    MemberRole,
    MembershipConflict,
    NetworkLevel,
    NotAMember,
    OccurredBeforeEstablishment,
    ParticipationRung,
    ProposerKind,
    Reach,
    ReachCount,
    ReleaseNotKnown,
    SignalCategory,
    SignalNotOpen,
    SignalStatus,
    SignalWithoutEvidence,
    ThemeNotDiscussed,
    ThemeNotOpen,
    ThemeSource,
    ThemeStatus,
    network_id,
)
from tests.unit.builders import ctx, on

CHAIR = Actor(user_id="user-lien", organisation="org-chair", role="learning_network")
RELEASES = {1, 2}


def known(number: int) -> bool:
    return number in RELEASES


def network(region: str = "west-flanders") -> LearningNetwork:
    made = LearningNetwork.establish(
        ctx(0, actor=CHAIR),
        level=NetworkLevel.MESO,
        region=region,
        coordinating_organisation="org-chair",
    )
    made.admit_member(
        ctx(1), organisation="org-school", expertise="education", role=MemberRole.PRACTITIONER
    )
    return made


def forum() -> LearningNetwork:
    return LearningNetwork.establish(
        ctx(0), level=NetworkLevel.MACRO, region=None, coordinating_organisation="org-policy"
    )


def with_theme(theme_id: str = "theme-1") -> LearningNetwork:
    n = network()
    n.propose_theme(
        ctx(2),
        theme_id=theme_id,
        title="Waiting lists for residential care",
        description="Trajectories wait months for a place",
        proposer_kind=ProposerKind.REGION_COORDINATOR,
        source_kind=ThemeSource.CASE_FINDING,
    )
    return n


def meet(n: LearningNetwork, day: int, *themes: str, present: tuple[str, ...] = ()) -> None:
    n.hold_meeting(
        ctx(day),
        meeting_id=f"meeting-{day}",
        kind=MeetingKind.LEARNING_NETWORK,
        held_on=on(day),
        members_present=present or ("org-chair", "org-school"),
        themes_discussed=themes,
        releases_consulted=(1,),
        conclusions=("Signal it",),
        known_release=known,
    )


def raise_signal(n: LearningNetwork, evidence: Evidence, signal_id: str = "signal-1") -> None:
    n.raise_signal(
        ctx(5),
        signal_id=signal_id,
        category=SignalCategory.WAITING_LIST,
        description="Residential places lacking",
        evidence=evidence,
        addressed_to="the agency for youth care",
        known_release=known,
    )


# --- establishing: one per region, one forum -------------------------------------------------


def test_a_regions_network_has_its_id_from_the_region_and_its_coordinator_is_a_member() -> None:
    n = network()

    assert n.id == network_id(NetworkLevel.MESO, "west-flanders")
    assert n.members["org-chair"].role == MemberRole.COORDINATOR


def test_the_forum_is_the_deployments_and_names_no_region() -> None:
    assert forum().id == network_id(NetworkLevel.MACRO, None)
    with pytest.raises(InvalidValue):
        LearningNetwork.establish(
            ctx(0), level=NetworkLevel.MACRO, region="limburg", coordinating_organisation="o"
        )
    with pytest.raises(InvalidValue):
        LearningNetwork.establish(
            ctx(0), level=NetworkLevel.MESO, region=None, coordinating_organisation="o"
        )


# --- members ---------------------------------------------------------------------------------


def test_a_member_joins_once_and_the_coordinator_does_not_leave() -> None:
    n = network()
    with pytest.raises(MembershipConflict):
        n.admit_member(ctx(2), organisation="org-school", expertise="x", role=MemberRole.OTHER)
    with pytest.raises(MembershipConflict):
        n.record_member_left(ctx(2), organisation="org-chair", reason="")
    n.record_member_left(ctx(2), organisation="org-school", reason="moved")
    assert "org-school" not in n.members


def test_a_client_is_never_a_member_role() -> None:
    assert "client" not in {r.value for r in MemberRole}


# --- themes and meetings ---------------------------------------------------------------------


def test_a_meeting_discusses_a_proposed_theme_and_marks_it_discussed() -> None:
    n = with_theme()

    meet(n, 3, "theme-1")

    assert n.themes["theme-1"].status == ThemeStatus.DISCUSSED
    assert n.meetings == [("meeting-3", MeetingKind.LEARNING_NETWORK, on(3))]


def test_a_meeting_does_not_discuss_a_closed_theme() -> None:
    n = with_theme()
    meet(n, 3, "theme-1")
    n.close_theme(ctx(4), theme_id="theme-1", conclusion="Signalled")

    with pytest.raises(ThemeNotOpen):
        meet(n, 5, "theme-1")


def test_a_meeting_does_not_discuss_a_theme_never_proposed() -> None:
    with pytest.raises(ItemNotFound):
        meet(with_theme(), 3, "theme-unknown")


def test_a_theme_is_closed_only_after_a_meeting_discussed_it() -> None:
    n = with_theme()
    with pytest.raises(ThemeNotDiscussed):
        n.close_theme(ctx(3), theme_id="theme-1", conclusion="Done")


def test_members_present_must_be_members() -> None:
    with pytest.raises(NotAMember):
        meet(with_theme(), 3, present=("org-chair", "org-stranger"))


def test_a_region_holds_no_forum_meeting_and_the_forum_no_sector_consultation() -> None:
    n = with_theme()
    with pytest.raises(MeetingKindNotOfLevel):
        n.hold_meeting(
            ctx(3),
            meeting_id="m",
            kind=MeetingKind.FORUM,
            held_on=on(3),
            members_present=("org-chair",),
            themes_discussed=(),
            releases_consulted=(),
            conclusions=(),
            known_release=known,
        )


def test_a_meeting_cites_only_releases_that_exist() -> None:
    n = with_theme()
    with pytest.raises(ReleaseNotKnown):
        n.hold_meeting(
            ctx(3),
            meeting_id="m",
            kind=MeetingKind.SECTOR_CONSULTATION,
            held_on=on(3),
            members_present=("org-chair",),
            themes_discussed=(),
            releases_consulted=(7,),
            conclusions=(),
            known_release=known,
        )


# --- policy signals --------------------------------------------------------------------------


def test_a_signal_cites_at_least_one_theme_or_release() -> None:
    with pytest.raises(SignalWithoutEvidence):
        raise_signal(with_theme(), Evidence())


def test_a_signal_cites_themes_of_the_network_and_releases_that_exist() -> None:
    with pytest.raises(ItemNotFound):
        raise_signal(with_theme(), Evidence(themes=("theme-unknown",)))
    with pytest.raises(ReleaseNotKnown):
        raise_signal(with_theme(), Evidence(releases=(9,)))


def test_a_signal_is_answered_once_then_closed() -> None:
    n = with_theme()
    raise_signal(n, Evidence(themes=("theme-1",), releases=(2,)))
    n.answer_signal(ctx(6), signal_id="signal-1", answer="More places", answered_by="agency")
    with pytest.raises(SignalNotOpen):
        n.answer_signal(ctx(7), signal_id="signal-1", answer="Again", answered_by="agency")
    n.close_signal(ctx(8), signal_id="signal-1", reason="places funded")
    assert n.signals["signal-1"].status == SignalStatus.CLOSED
    with pytest.raises(SignalNotOpen):
        n.close_signal(ctx(9), signal_id="signal-1", reason="twice")


def test_a_regions_signal_escalated_is_received_by_the_forum() -> None:
    n, macro = with_theme(), forum()
    raise_signal(n, Evidence(themes=("theme-1",)))

    n.escalate_signal(ctx(6), signal_id="signal-1", reason="needs a decree", forum=macro)

    assert n.signals["signal-1"].status == SignalStatus.ESCALATED
    received = macro.signals["west-flanders:signal-1"]
    assert (received.category, received.status) == (SignalCategory.WAITING_LIST, SignalStatus.OPEN)
    with pytest.raises(SignalNotOpen):
        n.escalate_signal(ctx(7), signal_id="signal-1", reason="again", forum=macro)


def test_the_forum_escalates_nowhere() -> None:
    macro = forum()
    macro.raise_signal(
        ctx(5),
        signal_id="s",
        category=SignalCategory.FUNDING,
        description="d",
        evidence=Evidence(releases=(1,)),
        addressed_to="minister",
        known_release=known,
    )
    with pytest.raises(EscalationNeedsForum):
        macro.escalate_signal(ctx(6), signal_id="s", reason="r", forum=macro)


# --- lessons ---------------------------------------------------------------------------------


def lessons(n: LearningNetwork, year: int) -> None:
    n.publish_lessons(
        ctx(400),
        year=year,
        what_worked=("A planmaker per trajectory",),
        what_did_not=("Waiting lists",),
        improvement_paths=("Shared intake",),
        action_proposals=(ActionProposal("ap-1", "One intake form for the region"),),
        audiences=(Audience.POLICY, Audience.PRACTITIONERS),
    )


def test_lessons_are_published_once_per_year() -> None:
    n = network()
    lessons(n, 2023)
    with pytest.raises(LessonsAlreadyPublished):
        lessons(n, 2023)
    lessons(n, 2024)


def test_lessons_are_of_a_year_since_the_establishment() -> None:
    with pytest.raises(InvalidValue):
        lessons(network(), 2019)


# --- improvement trajectories (seed 002) -------------------------------------------------------


def measure(n: LearningNetwork, day: int, confidence: int = 3) -> None:
    n.measure_improvement(
        ctx(day),
        improvement_id="imp-1",
        measured_on=on(day),
        pdca_phase=PdcaPhase.TRY_OUT,
        participation=ParticipationRung.ADVISING,
        confidence=confidence,
        reach=Reach(clients=GroupReach(direct=ReachCount(now=4, expected=20))),
    )


def improving() -> LearningNetwork:
    n = with_theme()
    n.start_improvement(
        ctx(10),
        improvement_id="imp-1",
        title="One intake form",
        action_proposal="One intake form for the region",
        theme_id="theme-1",
    )
    return n


def test_an_improvement_trajectory_is_measured_over_time() -> None:
    n = improving()
    measure(n, 20)
    measure(n, 200, confidence=4)

    assert [m.confidence for m in n.improvements["imp-1"].measurements] == [3, 4]


def test_measurement_moments_follow_each_other() -> None:
    n = improving()
    measure(n, 20)
    with pytest.raises(MeasurementOutOfOrder):
        measure(n, 20)


def test_confidence_is_a_score_from_one_to_five() -> None:
    with pytest.raises(InvalidValue):
        measure(improving(), 20, confidence=6)


def test_reach_counts_no_negative_people() -> None:
    with pytest.raises(InvalidValue):
        improving().measure_improvement(
            ctx(20),
            improvement_id="imp-1",
            measured_on=on(20),
            pdca_phase=PdcaPhase.CLARIFY,
            participation=ParticipationRung.INFORMED,
            confidence=2,
            reach=Reach(relatives=GroupReach(indirect=ReachCount(now=-1))),
        )


def test_an_improvement_trajectory_is_started_once() -> None:
    n = improving()
    with pytest.raises(RuleConflict):
        n.start_improvement(
            ctx(11), improvement_id="imp-1", title="t", action_proposal="a", theme_id=None
        )


# --- the end ---------------------------------------------------------------------------------


def test_a_closed_network_takes_nothing() -> None:
    n = improving()
    n.close(ctx(30), reason="merged with the neighbouring region")

    with pytest.raises(ClosedNetworkTakesNothing):
        meet(n, 31)
    with pytest.raises(ClosedNetworkTakesNothing):
        measure(n, 31)
    with pytest.raises(ClosedNetworkTakesNothing):
        n.admit_member(ctx(31), organisation="o", expertise="e", role=MemberRole.OTHER)


def test_a_held_on_date_lies_after_the_establishment_and_not_after_occurred_at() -> None:
    with pytest.raises(InvalidValue, match="held_on 2020-01-01 must lie between"):
        with_theme().hold_meeting(
            ctx(3),
            meeting_id="m",
            kind=MeetingKind.LEARNING_NETWORK,
            held_on=date(2020, 1, 1),
            members_present=("org-chair",),
            themes_discussed=(),
            releases_consulted=(),
            conclusions=(),
            known_release=known,
        )


def test_nothing_happens_in_a_network_before_its_establishment() -> None:
    n = LearningNetwork.establish(
        ctx(5), level=NetworkLevel.MESO, region="limburg", coordinating_organisation="org-chair"
    )
    with pytest.raises(OccurredBeforeEstablishment):
        n.close(ctx(4), reason="too early")
