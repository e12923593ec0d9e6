"""Events are a stored contract: every event class survives storage with its types intact.

The examples come from walking a trajectory and a client through every command, so they are the
events the domain really triggers. The set of examples is checked against the event classes the
aggregates define, so a new event cannot slip through untested. Snapshots are checked the same
way: their declared state must equal what the aggregate holds, and a trajectory loaded from a
snapshot must equal the one replayed from its events.
"""

import copy
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Cipher, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import Environment, get_topic

from application.codec import MsgspecMapper, MsgspecTranscoder, SealingMapper
from application.keys import MemoryKeyStore
from application.sealing import seal_text
from domain.client import Client, ClientSnapshotState, PersonalData, PersonRole
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
from domain.export_authorisation import ExportAuthorisation, LegalBasis
from domain.learning_network import (
    ActionProposal,
    Audience,
    Evidence,
    GroupReach,
    LearningNetwork,
    MeetingKind,
    MemberRole,
    NetworkLevel,
    ParticipationRung,
    ProposerKind,
    Reach,
    ReachCount,
    SignalCategory,
    ThemeSource,
)
from domain.network_cadence import CadenceFact, CadenceFactKind
from domain.organisation import Organisation, OrganisationKind, PublicIdentifiers
from domain.person_requests import RequestDeadline, RequestKind, RequestOutcome
from domain.trajectory import RoleAssignment, Trajectory, TrajectorySnapshotState
from tests.support import COORDINATOR
from tests.unit.builders import (
    NEXT_ORGANISATION,
    NOW,
    PARTICIPANTS,
    PROVIDER,
    REFERRED_AT,
    assert_same,
    declined,
    on,
    ready_to_close,
    referred,
)

BRUSSELS_SUMMER = timezone(timedelta(hours=2))


def _ctx(day: int, actor: Any = COORDINATOR) -> CommandContext:
    """A context in local (Brussels) time with a causation id, so both survive storage."""
    return CommandContext(
        actor=actor,
        occurred_at=(REFERRED_AT + timedelta(days=day)).astimezone(BRUSSELS_SUMMER),
        correlation_id=f"request-{day}",
        causation_id=f"cause-{day}",
        now=NOW,
    )


def walk_every_trajectory_command() -> Trajectory:
    """One trajectory through every command that records something, ending closed."""
    t = referred()
    t.accept(_ctx(1), coordinating_organisation=None)
    t.propose_role_agreement(
        _ctx(2),
        agreement_id="ra-1",
        assignments=(
            RoleAssignment(party=COORDINATOR.organisation, role=Role.TRAJECTORY_GUIDE),
            RoleAssignment(
                party=PROVIDER.organisation, role=Role.KEY_WORKER, responsibilities="wekelijks"
            ),
        ),
    )
    t.accept_role_agreement(_ctx(3), agreement_id="ra-1")
    t.accept_role_agreement(_ctx(3, PROVIDER), agreement_id="ra-1")
    t.propose_role_agreement(
        _ctx(3),
        agreement_id="ra-2",
        assignments=(RoleAssignment(party=PROVIDER.organisation, role=Role.BUDDY),),
    )
    t.decline_role_agreement(_ctx(4, PROVIDER), agreement_id="ra-2", reason="geen buddy vrij")
    t.hold_consultation(
        _ctx(5),
        kind=ConsultationKind.START,
        participants=PARTICIPANTS,
        client_involvement=ClientInvolvement.PRESENT,
        decisions=("Sam gaat halftijds naar school",),
        next_consultation_on=on(95),
        no_next_reason=None,
    )
    t.set_goal(_ctx(6), goal_id="goal-school", description="Sam gaat naar school")
    t.set_goal(_ctx(6), goal_id="goal-sleep", description="Sam slaapt thuis")
    t.revise_goal(_ctx(7), goal_id="goal-school", description="Sam gaat voltijds", reason="vlot")
    t.agree_action(
        _ctx(7),
        action_id="act-1",
        description="school bellen",
        owner=PROVIDER.organisation,
        due_on=on(14),
        goal_id="goal-school",
    )
    t.give_consultation_input(
        _ctx(8),
        statement="Ik wil op woensdag vrij",
        for_kind=ConsultationKind.THREE_MONTH,
        given_by=Signatory.CLIENT,
        representative_ref=None,
    )
    t.sign_plan_together(_ctx(9), signatory=Signatory.CLIENT, representative_ref=None)
    t.sign_plan(_ctx(10), signatory=Signatory.REPRESENTATIVE, representative_ref="rep-mother")
    t.raise_escalation(
        _ctx(15),
        escalation_id="esc-1",
        level=EscalationLevel.TEAM,
        reason=ReasonCategory.CAPACITY,
        description="geen begeleider",
    )
    t.change_escalation_level(
        _ctx(16), escalation_id="esc-1", to_level=EscalationLevel.NETWORK, reason="regio"
    )
    t.block(
        _ctx(20),
        reasons=(ReasonCategory.WAITING_LIST, ReasonCategory.FUNDING),
        description="wachtlijst",
    )
    t.record_missed_deadline(
        _ctx(96), rule="next-consultation", due_on=on(95), expected="vervolgoverleg"
    )
    t.record_deadline_reminder(
        _ctx(90), rule="evaluation", due_on=on(97), expected="jaarlijkse evaluatie"
    )
    t.record_deadline_met_late(_ctx(99), rule="next-consultation", due_on=on(95), met_on=on(98))
    t.unblock(_ctx(100), resolution="plaats gevonden")
    t.resolve_escalation(_ctx(100), escalation_id="esc-1", resolution="plaats gevonden")
    t.waive_consultation(_ctx(101), kind=ConsultationKind.THREE_MONTH, reason="was geblokkeerd")
    t.evaluate(
        _ctx(200),
        results="Sam gaat voltijds naar school",
        blocking=(ReasonCategory.WAITING_LIST,),
        pdca_phase=PdcaPhase.EMBED,
        new_agreements=("vervoer blijft",),
        next_evaluation_on=on(380),
    )
    t.close_goal(_ctx(210), goal_id="goal-sleep", outcome="bereikt")
    t.share_finding(_ctx(215), region=t.region)
    t.hand_over(
        _ctx(220),
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN, ConsentScope.DOSSIER),
        consent_id="consent-1",
        transfers_coordination=True,
    )
    t.hold_consultation(
        _ctx(230),
        kind=ConsultationKind.END,
        participants=PARTICIPANTS[:1],
        client_involvement=ClientInvolvement.CONSULTED_BEFOREHAND,
        decisions=(),
        next_consultation_on=None,
        no_next_reason="einde",
    )
    t.end_role_agreement(_ctx(231), agreement_id="ra-1", reason="traject stopt")
    t.close(_ctx(231), reason="doelen bereikt", follow_up_by="org-keeper", no_follow_up_reason=None)
    t.record_follow_up_contact(_ctx(400), contacted_party="org-keeper", outcome="plan loopt")
    return t


def walk_every_client_command() -> Client:
    c = Client.register(_ctx(0), personal=PersonalData(name="Sam Peeters", contact="06 12"))
    c.appoint_representative(
        _ctx(1), representative_ref="rep-mother", personal=PersonalData(name="An Peeters")
    )
    c.appoint_representative(_ctx(1), representative_ref="rep-uncle", personal=PersonalData())
    c.exclude_representative(_ctx(2), representative_ref="rep-uncle", reason="cliënt wil dit")
    c.grant_consent(
        _ctx(3),
        consent_id="consent-1",
        to_party=NEXT_ORGANISATION,
        scopes=(ConsentScope.PLAN, ConsentScope.CONTACT_DETAILS),
        purpose="overdracht",
        until=on(400),
    )
    c.grant_consent(
        _ctx(3),
        consent_id="consent-2",
        to_party="org-other",
        scopes=(ConsentScope.DOSSIER,),
        purpose="advies",
        until=None,
    )
    c.revoke_consent(_ctx(4), consent_id="consent-2", reason="niet meer nodig")
    c.record_birth_year(_ctx(4), birth_year=2012)
    c.assess_capacity(_ctx(4), capable=True, assessed_on=on(3))
    c.link_identity(
        _ctx(4),
        link_id="link-1",
        subject="idp|sam",
        subject_hash="a1" * 32,
        as_role=PersonRole.REPRESENTATIVE,
        representative_ref="rep-mother",
    )
    c.revoke_identity_link(_ctx(4), link_id="link-1", reason="wrong person")
    c.file_request(
        _ctx(4),
        request_id="req-1",
        kind=RequestKind.RECTIFICATION,
        field_name="contact",
        details="mijn nummer is veranderd",
    )
    c.file_request(
        _ctx(4), request_id="req-2", kind=RequestKind.ERASURE, field_name=None, details="wis"
    )
    c.decide_request(
        _ctx(5), request_id="req-2", outcome=RequestOutcome.REFUSED, legal_ground="004: 10 jaar"
    )
    c.record_request_deadline(_ctx(5), request_id="req-1", deadline=RequestDeadline.REMINDER)
    c.erase(_ctx(5), legal_basis="gdpr_request", erased_subjects=(c.id,))
    return c


def walk_every_organisation_command() -> list[Organisation]:
    """One organisation registered provisionally, confirmed, corrected and classified; another
    registered by an admin."""
    provisional = Organisation.register(
        _ctx(0),
        identifier="school-de-linde",
        name="De Linde",
        kind=OrganisationKind.UNCLASSIFIED,
        region=None,
        public_identifiers=PublicIdentifiers(),
        provisional=True,
    )
    provisional.confirm(_ctx(1))
    provisional.correct(
        _ctx(2),
        name="Basisschool De Linde",
        kind=OrganisationKind.SCHOOL,
        region="west-flanders",
        public_identifiers=PublicIdentifiers(enterprise_number="0403170701"),
    )
    confirmed = Organisation.register(
        _ctx(0),
        identifier="gp-peeters",
        name="Huisartsenpraktijk Peeters",
        kind=OrganisationKind.GP,
        region="limburg",
        public_identifiers=PublicIdentifiers(agb="01234567", ura="12345678", kvk="87654321"),
        provisional=False,
    )
    return [provisional, confirmed]


def walk_every_export_authorisation_command() -> ExportAuthorisation:
    """An export authorisation granted, then revoked (issue #13)."""
    authorisation = ExportAuthorisation.grant(
        _ctx(0),
        user_id="user-ana",
        organisation="org-research",
        purpose="Where trajectories block",
        legal_basis=LegalBasis.SCIENTIFIC_RESEARCH,
        region="west-flanders",
        until=NOW.date() + timedelta(days=30),
    )
    authorisation.revoke(_ctx(1), reason="project ended")
    return authorisation


def walk_every_learning_network_command() -> list[LearningNetwork]:
    """A region's network through every fact it records, and the forum that receives its
    escalated signal (issue #14)."""
    network = LearningNetwork.establish(
        _ctx(0), level=NetworkLevel.MESO, region="west-flanders", coordinating_organisation="o-1"
    )
    forum = LearningNetwork.establish(
        _ctx(0), level=NetworkLevel.MACRO, region=None, coordinating_organisation="o-9"
    )
    network.admit_member(
        _ctx(1),
        organisation="o-2",
        expertise="lived experience",
        role=MemberRole.CLIENT_REPRESENTATIVE,
    )
    network.record_member_left(_ctx(1), organisation="o-2", reason="moved")
    network.propose_theme(
        _ctx(2),
        theme_id="theme-1",
        title="Waiting lists",
        description="Places lack",
        proposer_kind=ProposerKind.REGION_COORDINATOR,
        source_kind=ThemeSource.CASE_FINDING,
    )
    network.schedule_theme(
        _ctx(2), theme_id="theme-1", scheduled_for=(REFERRED_AT + timedelta(days=30)).date()
    )
    network.hold_meeting(
        _ctx(3),
        meeting_id="m-1",
        kind=MeetingKind.SECTOR_CONSULTATION,
        held_on=(REFERRED_AT + timedelta(days=3)).date(),
        members_present=("o-1",),
        themes_discussed=("theme-1",),
        releases_consulted=(4, 5),
        conclusions=("Signal it",),
        known_release=lambda _: True,
    )
    network.close_theme(_ctx(4), theme_id="theme-1", conclusion="Signalled")
    for signal in ("s-1", "s-2"):
        network.raise_signal(
            _ctx(4),
            signal_id=signal,
            category=SignalCategory.ADMISSION_CRITERIA,
            description="Criteria exclude",
            evidence=Evidence(releases=(4,), themes=("theme-1",)),
            addressed_to="the agency",
            known_release=lambda _: True,
        )
    network.answer_signal(_ctx(5), signal_id="s-1", answer="Reviewed", answered_by="the agency")
    network.close_signal(_ctx(6), signal_id="s-1", reason="criteria changed")
    network.escalate_signal(_ctx(6), signal_id="s-2", reason="a decree", forum=forum)
    network.publish_lessons(
        _ctx(7),
        year=REFERRED_AT.year,
        what_worked=("A planmaker",),
        what_did_not=("Waiting",),
        improvement_paths=("Shared intake",),
        action_proposals=(ActionProposal("ap-1", "One form"),),
        audiences=(Audience.POLICY, Audience.CLIENTS_AND_FAMILIES),
    )
    network.start_improvement(
        _ctx(8), improvement_id="i-1", title="One form", action_proposal="One form", theme_id=None
    )
    network.measure_improvement(
        _ctx(9),
        improvement_id="i-1",
        measured_on=(REFERRED_AT + timedelta(days=9)).date(),
        pdca_phase=PdcaPhase.TRY_OUT,
        participation=ParticipationRung.CO_PRODUCING,
        confidence=4,
        reach=Reach(professionals=GroupReach(indirect=ReachCount(now=3, expected=30))),
    )
    for fact in (
        CadenceFact(CadenceFactKind.MISSED, "learning_network", "2024", 4, 3),
        CadenceFact(CadenceFactKind.REMINDER, "learning_network", "2024Q3", 1, 0),
    ):
        network.record_cadence(_ctx(9), fact)
    network.close(_ctx(10), reason="merged")
    return [network, forum]


def continued() -> tuple[Trajectory, Trajectory]:
    """A closed trajectory with an open goal and its action, and one that continues it."""
    earlier = ready_to_close()
    earlier.set_goal(_ctx(60), goal_id="g-open", description="Gaat naar school")
    earlier.agree_action(
        _ctx(60),
        action_id="a-1",
        description="Wekelijks contact met de school",
        owner=PROVIDER.organisation,
        due_on=None,
        goal_id="g-open",
    )
    earlier.close(_ctx(61), reason="verhuisd", follow_up_by=None, no_follow_up_reason="verhuisd")
    continuing = referred(client_id=earlier.client_id, day=70)
    continuing.continue_from(_ctx(70), previous=earlier)
    earlier.record_continued_by(_ctx(70), continuing=continuing)
    return earlier, continuing


def _example_events() -> list[Any]:
    earlier, continuing = continued()
    aggregates: list[Aggregate] = [
        walk_every_trajectory_command(),
        declined(),
        continuing,
        earlier,
        walk_every_client_command(),
        *walk_every_organisation_command(),
        walk_every_export_authorisation_command(),
        *walk_every_learning_network_command(),
    ]
    return [event for aggregate in aggregates for event in aggregate.collect_events()]


EXAMPLES: dict[type, Any] = {}
for _event in _example_events():
    EXAMPLES.setdefault(type(_event), _event)


def _event_classes(aggregate_class: type[Aggregate]) -> set[type]:
    """The event classes nested in an aggregate.

    eventsourcing also defines a generic ``Created`` class on every aggregate; ours are created
    by their own creation events instead (see the test below), so it is never stored.
    """
    base = aggregate_class.Event
    return {
        value
        for value in vars(aggregate_class).values()
        if isinstance(value, type)
        and issubclass(value, base)
        and value not in {base, aggregate_class.Created}
    }


DISCOVERED = (
    _event_classes(Trajectory)
    | _event_classes(Client)
    | _event_classes(Organisation)
    | _event_classes(ExportAuthorisation)
    | _event_classes(LearningNetwork)
)


def mapper() -> MsgspecMapper:
    return MsgspecMapper(transcoder=MsgspecTranscoder())


# --- every event class round-trips ------------------------------------------------------------


def test_every_event_class_of_the_aggregates_has_a_round_trip_example() -> None:
    assert set(EXAMPLES) == DISCOVERED


def test_the_aggregates_are_created_by_their_own_creation_events() -> None:
    assert type(referred().collect_events()[0]) is Trajectory.Referred
    registered = Client.register(_ctx(0), personal=PersonalData())
    assert type(registered.collect_events()[0]) is Client.Registered


@pytest.mark.parametrize(
    "event_class", sorted(EXAMPLES, key=lambda c: c.__qualname__), ids=lambda c: c.__qualname__
)
def test_an_event_comes_back_from_storage_as_it_was_recorded(event_class: type) -> None:
    event = EXAMPLES[event_class]
    codec = mapper()

    stored = codec.to_stored_event(event)
    restored = codec.to_domain_event(stored)

    assert stored.topic == get_topic(event_class)
    assert type(restored) is event_class
    for field in fields(event):
        assert_same(getattr(event, field.name), getattr(restored, field.name), field.name)
    assert restored == event


def test_stored_events_keep_the_values_of_enumerations_not_their_names() -> None:
    codec = mapper()
    stored = codec.to_stored_event(EXAMPLES[Trajectory.Blocked])

    state = msgspec.json.decode(stored.state)

    assert state["reasons"] == ["waiting_list", "funding"]
    assert state["occurred_at"].endswith("+02:00")


def mismatched() -> StoredEvent:
    """An ``Accepted`` whose organisation is a number: not what its class holds."""
    return StoredEvent(
        originator_id=uuid4(),
        originator_version=2,
        topic=get_topic(Trajectory.Accepted),
        state=b'{"timestamp": "2023-01-17T09:00:00Z", "coordinating_organisation": 7}',
    )


def test_an_event_that_does_not_match_its_class_is_refused_on_reading() -> None:
    with pytest.raises(MapperDeserialisationError):
        mapper().to_domain_event(mismatched())


@pytest.mark.parametrize("topic", ["domain.client:Nowhere", "nowhere", "builtins:len"])
def test_an_event_whose_topic_names_no_event_class_is_refused_on_reading(topic: str) -> None:
    """Review: a topic changed past the application escaped as an error of its own (a 500 on
    the auditor's routes) rather than as an event that does not decode (503)."""
    stored = mismatched()
    changed = StoredEvent(stored.originator_id, stored.originator_version, topic, stored.state)

    with pytest.raises(MapperDeserialisationError):
        mapper().to_domain_event(changed)


class ReversingCipher(Cipher):
    """A stand-in cipher (the real AES one needs pycryptodome): reversible, and not JSON."""

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment

    def encrypt(self, plaintext: bytes) -> bytes:
        return b"sealed:" + plaintext[::-1]

    def decrypt(self, ciphertext: bytes) -> bytes:
        assert ciphertext.startswith(b"sealed:"), "decrypt what was encrypted"
        return ciphertext.removeprefix(b"sealed:")[::-1]


def test_an_event_comes_back_through_compression_and_encryption() -> None:
    event = EXAMPLES[Trajectory.ConsultationHeld]
    codec = MsgspecMapper(
        transcoder=MsgspecTranscoder(), compressor=ZlibCompressor(), cipher=ReversingCipher()
    )

    stored = codec.to_stored_event(event)
    restored = codec.to_domain_event(stored)

    assert stored.state.startswith(b"sealed:")
    assert b"participants" not in stored.state
    for field in fields(event):
        assert_same(getattr(event, field.name), getattr(restored, field.name), field.name)


def test_the_transcoder_reads_back_what_it_writes() -> None:
    transcoder = MsgspecTranscoder()
    value = {"reasons": ["funding"], "count": 2, "nested": {"ok": True, "none": None}}

    assert transcoder.decode(transcoder.encode(value)) == value


# --- upcasting ----------------------------------------------------------------------------------


class NoteAdded(Trajectory.Event):
    """A throwaway event at version 2: version 1 had no ``category``."""

    class_version = 2

    note: str
    category: ReasonCategory

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["category"] = ReasonCategory.OTHER.value


def _note_v2(category: ReasonCategory) -> NoteAdded:
    return NoteAdded(  # type: ignore[call-arg]
        originator_id=uuid4(),
        originator_version=4,
        timestamp=datetime(2023, 2, 1, 10, 0, tzinfo=UTC),
        actor=COORDINATOR,
        occurred_at=datetime(2023, 2, 1, 9, 0, tzinfo=BRUSSELS_SUMMER),
        correlation_id="request-1",
        causation_id=None,
        note="moeder belde",
        category=category,
    )


def test_an_event_stored_at_version_1_comes_back_upcast_to_version_2() -> None:
    originator_id = uuid4()
    v1_state = {
        "timestamp": "2023-02-01T10:00:00Z",
        "actor": {"user_id": "user-an", "organisation": "org-coordinating", "role": "coordinator"},
        "occurred_at": "2023-02-01T09:00:00+02:00",
        "correlation_id": "request-1",
        "causation_id": None,
        "note": "moeder belde",
    }
    stored = StoredEvent(
        originator_id=originator_id,
        originator_version=4,
        topic=get_topic(NoteAdded),
        state=msgspec.json.encode(v1_state),
    )

    restored = mapper().to_domain_event(stored)

    assert isinstance(restored, NoteAdded)
    assert restored.category is ReasonCategory.OTHER
    assert restored.note == "moeder belde"
    assert restored.actor == COORDINATOR
    assert restored.occurred_at == datetime(2023, 2, 1, 9, 0, tzinfo=BRUSSELS_SUMMER)
    assert (restored.originator_id, restored.originator_version) == (originator_id, 4)


def test_an_event_stored_at_its_current_version_is_not_upcast_again() -> None:
    event = _note_v2(ReasonCategory.SAFETY)
    codec = mapper()

    stored = codec.to_stored_event(event)
    restored = codec.to_domain_event(stored)

    assert msgspec.json.decode(stored.state)["class_version"] == 2
    assert_same(event.category, restored.category)
    assert restored == event


# --- snapshots ------------------------------------------------------------------------------------


def _replayed_versions(events: list[Any]) -> Iterator[Aggregate]:
    """The aggregate after each event, replayed from its stored form."""
    codec = mapper()
    aggregate = None
    for event in events:
        aggregate = codec.to_domain_event(codec.to_stored_event(event)).mutate(aggregate)
        yield aggregate


def _from_snapshot(aggregate: Aggregate) -> Aggregate:
    codec = mapper()
    snapshot = type(aggregate).Snapshot.take(aggregate)
    restored = codec.to_domain_event(codec.to_stored_event(snapshot))
    return restored.mutate(None)  # type: ignore[attr-defined,no-any-return]


ENVELOPE = {"_id", "_version", "_pending_events"}


@pytest.mark.parametrize(
    ("walk", "state_class"),
    [
        (walk_every_trajectory_command, TrajectorySnapshotState),
        (walk_every_client_command, ClientSnapshotState),
    ],
    ids=["trajectory", "client"],
)
def test_a_snapshot_declares_exactly_the_state_the_aggregate_holds(
    walk: Any, state_class: type[msgspec.Struct]
) -> None:
    aggregate = walk()

    assert set(state_class.__struct_fields__) == set(vars(aggregate)) - ENVELOPE


@pytest.mark.parametrize(
    "walk", [walk_every_trajectory_command, walk_every_client_command], ids=["trajectory", "client"]
)
def test_an_aggregate_loaded_from_a_snapshot_equals_the_one_replayed_from_its_events(
    walk: Any,
) -> None:
    """At every version of the walk, so that every attribute is seen set and unset."""
    events = list(walk().collect_events())

    for replayed in _replayed_versions(events):
        restored = _from_snapshot(replayed)

        assert type(restored) is type(replayed)
        assert_same(vars(replayed), vars(restored), f"version {replayed.version}")


def test_a_trajectory_loaded_from_a_snapshot_carries_on_like_the_replayed_one() -> None:
    events = list(walk_every_trajectory_command().collect_events())
    *_, replayed = _replayed_versions(events)
    restored = _from_snapshot(replayed)
    assert isinstance(replayed, Trajectory)
    assert isinstance(restored, Trajectory)

    for trajectory in (replayed, restored):
        trajectory.record_follow_up_contact(
            _ctx(500), contacted_party="org-keeper", outcome="plan loopt nog"
        )

    # Each new event is stamped with its own recording time; all else must be equal.
    recorded = {"_pending_events": [], "_modified_on": None}
    assert_same(vars(replayed) | recorded, vars(restored) | recorded)
    assert restored.version == replayed.version == len(events) + 1


# --- copies out of the aggregate cache ---------------------------------------------------------


@pytest.mark.parametrize(
    "walk", [walk_every_trajectory_command, walk_every_client_command], ids=["trajectory", "client"]
)
def test_a_deep_copy_equals_the_aggregate_at_every_version(walk: Any) -> None:
    """The cache hands out ``deepcopy``s, made through the typed state (not ``copy.deepcopy``
    of every nested struct): at every version the copy holds exactly the same values."""
    events = list(walk().collect_events())

    for replayed in _replayed_versions(events):
        copied = copy.deepcopy(replayed)

        assert type(copied) is type(replayed)
        assert_same(vars(replayed), vars(copied), f"version {replayed.version}")


def test_changing_a_deep_copy_leaves_the_cached_aggregate_as_it_was() -> None:
    events = list(walk_every_trajectory_command().collect_events())
    *_, cached = _replayed_versions(events)
    assert isinstance(cached, Trajectory)
    cached.collect_events()

    def state() -> bytes:
        return msgspec.json.encode(vars(cached))

    before = state()

    copied = copy.deepcopy(cached)
    copied.record_follow_up_contact(_ctx(500), contacted_party="org-keeper", outcome="nog")
    for agreement in copied.role_agreements.values():
        agreement.accepted_by.append("org-intruder")
    copied.goals.clear()

    assert state() == before
    assert cached.version == len(events)
    assert copied.version == len(events) + 1


def test_a_copy_keeps_pending_events_apart() -> None:
    trajectory = walk_every_trajectory_command()
    pending = len(trajectory._pending_events)
    copied = copy.deepcopy(trajectory)

    copied.collect_events()

    assert len(trajectory._pending_events) == pending > 0


# --- ContinuedFrom, version 1 (issue #17) -------------------------------------------------------


def stored_as(event: Any, state: dict[str, Any]) -> StoredEvent:
    """``event`` as an older writer stored it: with ``state`` (the fields of its time)."""
    return StoredEvent(
        originator_id=event.originator_id,
        originator_version=event.originator_version,
        topic=get_topic(type(event)),
        state=msgspec.json.encode(state),
    )


def test_a_continuation_stored_before_it_carried_actions_still_loads_with_its_goals() -> None:
    """Version 1 of ``ContinuedFrom`` carried only the open goals' texts (sealed). It is upcast
    on reading: no goal ids, no actions; its goals come into the plan as carried-1, …"""
    earlier, continuing = continued()
    keys = MemoryKeyStore()
    key = keys.create(continuing.id, continuing.client_id)
    codec = SealingMapper(MsgspecTranscoder(), keys=keys)
    current = next(e for e in continuing.collect_events() if type(e) is Trajectory.ContinuedFrom)
    state = msgspec.json.decode(codec.to_stored_event(current).state)
    for added in ("class_version", "carried_goal_ids", "carried_actions"):
        del state[added]
    sealed_v1 = {"carried_goals": ["Gaat naar school"]}
    state["_sealed"] = seal_text(key, msgspec.json.encode(sealed_v1), str(continuing.id).encode())
    old = codec.to_domain_event(stored_as(current, state))
    fresh = referred(client_id=continuing.client_id, day=70)
    old.apply(fresh)  # type: ignore[attr-defined]

    assert isinstance(old, Trajectory.ContinuedFrom)
    assert (old.carried_goals, old.carried_goal_ids, old.carried_actions) == (
        ("Gaat naar school",),
        (),
        (),
    )
    assert old.previous_trajectory_id == earlier.id
    assert list(fresh.goals) == ["carried-1"]
    assert fresh.goals["carried-1"].description == "Gaat naar school"
    assert fresh.goals["carried-1"].carried_from is not None
    assert fresh.goals["carried-1"].carried_from.trajectory_id == earlier.id
    assert fresh.actions == {}
    assert fresh.continued_from == earlier.id


def test_a_continuation_carries_the_open_goals_with_their_ids_and_their_actions() -> None:
    _, continuing = continued()

    assert list(continuing.goals) == ["g-open"]
    assert continuing.actions["a-1"].description == "Wekelijks contact met de school"
    assert continuing.actions["a-1"].goal_id == "g-open"
    assert continuing.plan is None


def test_a_consent_stored_before_it_could_name_a_trajectory_loads_naming_none() -> None:
    """``ConsentGranted`` version 1 had no ``trajectory_id``: upcast, it names none, so the
    consent reaches the client as such, as it did when it was given."""
    granted = next(
        e for e in walk_every_client_command().collect_events() if type(e) is Client.ConsentGranted
    )
    codec = mapper()
    state = msgspec.json.decode(codec.to_stored_event(granted).state)
    del state["class_version"], state["trajectory_id"]
    old = codec.to_domain_event(stored_as(granted, state))

    assert isinstance(old, Client.ConsentGranted)
    assert old.trajectory_id is None
    assert (old.consent_id, old.to_party, old.scopes) == (
        granted.consent_id,
        granted.to_party,
        granted.scopes,
    )


@pytest.mark.parametrize(
    "event_class", [Trajectory.EscalationRaised, Trajectory.Blocked, Trajectory.ConsultationHeld]
)
def test_a_free_text_recorded_before_visible_to_client_reads_as_not_visible(
    event_class: type,
) -> None:
    """Issue #19: the flag is a field added with a default; events stored without it load."""
    event = EXAMPLES[event_class]
    stored = {
        k: v
        for k, v in vars(event).items()
        if k not in ("originator_id", "originator_version", "visible_to_client")
    }
    decoded = MsgspecMapper._decode_state(event_class, msgspec.json.encode(stored))
    assert decoded["visible_to_client"] is False
