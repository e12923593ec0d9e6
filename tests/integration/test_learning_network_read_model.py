"""The learning networks' read models on both databases: each network's state and the policy
signals, the same followed live event by event as rebuilt from zero, and the same as the
record itself (issue #14 point 5)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from application.care_record import CareRecord
from application.commands import (
    AdmitNetworkMember,
    AnswerPolicySignalAt,
    EscalatePolicySignalAt,
    EstablishLearningNetwork,
    EvidenceBody,
    HoldNetworkMeeting,
    MeasureImprovementTrajectoryAt,
    NetworkCommand,
    ProposeTheme,
    RaisePolicySignal,
    RegisterOrganisation,
    StartImprovementTrajectory,
)
from domain.common import Actor, CommandContext, PdcaPhase
from domain.learning_network import (
    MeetingKind,
    MemberRole,
    NetworkLevel,
    ParticipationRung,
    SignalCategory,
)
from projections.learning_networks import NetworkView
from projections.worker import ProjectionWorker
from tests.integration.databases import read_models, rows

CHAIR = Actor(user_id="user-lien", organisation="org-chair", role="learning_network")
ADMIN = Actor(user_id="user-ad", organisation="rodedraad-operations", role="admin")


def context(days_ago: int, actor: Actor = CHAIR) -> CommandContext:
    now = datetime.now(UTC)
    return CommandContext(
        actor=actor,
        occurred_at=now - timedelta(days=days_ago),
        correlation_id="networks",
        causation_id=None,
        now=now,
    )


def day(days_ago: int) -> datetime:
    return context(days_ago).occurred_at


def tell_a_story(record: CareRecord) -> tuple[UUID, UUID]:
    """A region's network: a member, a theme, a meeting, two signals (one answered, one taken
    to the forum), an improvement trajectory measured twice."""
    released = lambda _: True  # noqa: E731 - every release exists in this story
    for identifier in ("org-chair", "org-school"):
        record.register_organisation(
            context(40, ADMIN),
            RegisterOrganisation(occurred_at=day(40), identifier=identifier, name=identifier),
            provisional=False,
        )
    network = record.establish_learning_network(
        context(30, ADMIN),
        EstablishLearningNetwork(
            occurred_at=day(30),
            level=NetworkLevel.MESO,
            region="west-flanders",
            coordinating_organisation="org-chair",
        ),
    ).id
    forum = record.establish_learning_network(
        context(30, ADMIN),
        EstablishLearningNetwork(
            occurred_at=day(30),
            level=NetworkLevel.MACRO,
            coordinating_organisation="org-policy",
        ),
    ).id

    def change(days_ago: int, command: NetworkCommand) -> None:
        record.change_network(context(days_ago), network, None, command, released)

    change(
        29,
        AdmitNetworkMember(
            occurred_at=day(29),
            organisation="org-school",
            expertise="education",
            role=MemberRole.PRACTITIONER,
        ),
    )
    change(
        28,
        ProposeTheme(occurred_at=day(28), theme_id="t-1", title="Waiting", description="Lack"),
    )
    change(
        20,
        HoldNetworkMeeting(
            occurred_at=day(20),
            meeting_id="m-1",
            kind=MeetingKind.LEARNING_NETWORK,
            held_on=day(20).date(),
            members_present=("org-chair", "org-school"),
            themes_discussed=("t-1",),
            releases_consulted=(1,),
        ),
    )
    for signal in ("s-1", "s-2"):
        change(
            15,
            RaisePolicySignal(
                occurred_at=day(15),
                signal_id=signal,
                category=SignalCategory.FUNDING,
                description="Modules lack",
                evidence=EvidenceBody(themes=("t-1",)),
                addressed_to="the minister",
            ),
        )
    change(
        10,
        AnswerPolicySignalAt(
            occurred_at=day(10), signal_id="s-1", answer="Next year", answered_by="the minister"
        ),
    )
    record.escalate_policy_signal(
        context(9),
        network,
        None,
        EscalatePolicySignalAt(occurred_at=day(9), signal_id="s-2", reason="a decree"),
    )
    change(
        8,
        StartImprovementTrajectory(
            occurred_at=day(8), improvement_id="i-1", title="Form", action_proposal="One form"
        ),
    )
    for days_ago, confidence in ((7, 2), (1, 4)):
        change(
            days_ago,
            MeasureImprovementTrajectoryAt(
                occurred_at=day(days_ago),
                improvement_id="i-1",
                measured_on=day(days_ago).date(),
                pdca_phase=PdcaPhase.TRY_OUT,
                participation=ParticipationRung.ADVISING,
                confidence=confidence,
            ),
        )
    return network, forum


def state(worker: ProjectionWorker, network: UUID) -> NetworkView:
    (document,) = rows(
        worker.database, "SELECT document FROM rm_learning_networks WHERE id = ?", (str(network),)
    )[0]
    return msgspec.json.decode(document, type=NetworkView)


def test_the_state_read_model_equals_the_record(followed: ProjectionWorker) -> None:
    network, forum = tell_a_story(followed.care_record)
    followed.catch_up()
    aggregate = followed.care_record.learning_network(network)

    view = state(followed, network)

    assert view.version == aggregate.version
    assert [m.organisation for m in view.members] == list(aggregate.members)
    assert {t.theme_id: t.status for t in view.themes} == {
        t.theme_id: t.status for t in aggregate.themes.values()
    }
    assert {s.signal_id: s.status for s in view.signals} == {
        s.signal_id: s.status for s in aggregate.signals.values()
    }
    assert [m.confidence for m in view.improvement_trajectories[0].measurements] == [2, 4]
    assert [s.from_region for s in state(followed, forum).signals] == ["west-flanders"]
    signals = rows(
        followed.database,
        "SELECT signal_id, status, answered_at IS NOT NULL FROM rm_policy_signals "
        "ORDER BY signal_id",
    )
    assert [tuple(r) for r in signals] == [
        ("s-1", "answered", True),
        ("s-2", "escalated", False),
        ("west-flanders:s-2", "open", False),
    ]


def test_the_read_models_rebuilt_from_zero_equal_the_ones_followed_live(
    followed: ProjectionWorker,
) -> None:
    tell_a_story(followed.care_record)
    followed.catch_up()
    projection = followed.projection("learning_networks")
    live = read_models(followed.database, [projection])

    followed.batch_size = 1000
    followed.rebuild("learning_networks")

    assert read_models(followed.database, [projection]) == live
