"""A rebuild decodes the log a window at a time with ``MsgspecMapper.decode_shut``: one loop
instead of a call of ``to_domain_event`` per event (issue #22). Every event must come back as
``to_domain_event(shut=True)`` gives it, field for field and type for type, and the events of one
record must share one id instance (the projections' dicts then find it by identity)."""

from dataclasses import fields
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import MapperDeserialisationError, Notification, StoredEvent

from application.codec import UNOPENED, MsgspecMapper, MsgspecTranscoder, SealingMapper
from application.keys import MemoryKeyStore
from domain.client import Client
from domain.trajectory import Trajectory
from tests.unit.builders import assert_same
from tests.unit.test_event_codec import EXAMPLES, ReversingCipher, mismatched, stored_as

EVERY_CLASS = sorted(EXAMPLES, key=lambda c: c.__qualname__)


def _notification(stored: StoredEvent, position: int, originator_id: Any = None) -> Notification:
    return Notification(
        id=position,
        originator_id=stored.originator_id if originator_id is None else originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )


def _sealing() -> tuple[SealingMapper, MemoryKeyStore]:
    keys = MemoryKeyStore()
    return SealingMapper(MsgspecTranscoder(), keys=keys), keys


def _assert_reads_as(expected: Any, actual: Any) -> None:
    assert type(actual) is type(expected)
    assert (UNOPENED in vars(actual)) == (UNOPENED in vars(expected))
    for field in fields(expected):
        assert_same(getattr(expected, field.name), getattr(actual, field.name), field.name)


@pytest.mark.parametrize("event_class", EVERY_CLASS, ids=lambda c: c.__qualname__)
def test_an_event_decoded_in_a_window_reads_as_one_decoded_alone(event_class: type) -> None:
    event = EXAMPLES[event_class]
    codec, keys = _sealing()
    keys.create(event.originator_id, uuid4())
    stored = codec.to_stored_event(event)

    [(position, decoded)] = codec.decode_shut([_notification(stored, 41)])

    assert position == 41
    _assert_reads_as(codec.to_domain_event(stored, shut=True), decoded)
    assert decoded == event


def test_the_events_of_one_record_share_one_id_instance_and_the_window_knows_its_records() -> None:
    codec, _ = _sealing()
    trajectory, other = uuid4(), uuid4()
    interned: dict[Any, UUID] = {}
    decoded = []
    for position, subject in enumerate((trajectory, other, trajectory, trajectory), start=1):
        example = EXAMPLES[Trajectory.Accepted]
        event = type(example)(**{**vars(example), "originator_id": subject})
        stored = codec.to_stored_event(event)
        # As PostgreSQL hands them out: a new, equal instance for every row.
        fresh_instance = UUID(str(subject))
        decoded += codec.decode_shut([_notification(stored, position, fresh_instance)], interned)

    ids = [event.originator_id for _, event in decoded]
    assert ids == [trajectory, other, trajectory, trajectory]
    assert ids[0] is ids[2] is ids[3]
    assert sorted(interned.values()) == sorted([trajectory, other])


def test_ids_stored_as_text_come_back_as_uuids_parsed_once() -> None:
    codec, _ = _sealing()
    subject = uuid4()
    stored = codec.to_stored_event(EXAMPLES[Trajectory.Accepted])
    interned: dict[Any, UUID] = {}

    first, second = codec.decode_shut(
        [_notification(stored, 1, str(subject)), _notification(stored, 2, str(subject))], interned
    )

    assert first[1].originator_id == subject
    assert type(first[1].originator_id) is UUID
    assert first[1].originator_id is second[1].originator_id
    assert list(interned.values()) == [subject]


def test_a_mapper_with_a_cipher_and_a_compressor_decodes_each_event_as_alone() -> None:
    from eventsourcing.compressor import ZlibCompressor

    codec = MsgspecMapper(
        transcoder=MsgspecTranscoder(), compressor=ZlibCompressor(), cipher=ReversingCipher()
    )
    event = EXAMPLES[Trajectory.ConsultationHeld]
    stored = codec.to_stored_event(event)
    interned: dict[Any, UUID] = {}

    [(_, decoded)] = codec.decode_shut([_notification(stored, 7)], interned)

    _assert_reads_as(codec.to_domain_event(stored), decoded)
    assert decoded.originator_id is interned[event.originator_id.int]


def test_an_event_of_a_class_with_upcasters_stored_at_its_version_reads_as_alone() -> None:
    upcast = [cls for cls in EVERY_CLASS if getattr(cls, "class_version", 1) > 1]
    assert upcast, "the log holds classes with upcasters (issue #19 and later)"
    codec, keys = _sealing()
    for cls in upcast:
        event = EXAMPLES[cls]
        keys.create(event.originator_id, uuid4())
        stored = codec.to_stored_event(event)

        [(_, decoded)] = codec.decode_shut([_notification(stored, 3)])

        _assert_reads_as(codec.to_domain_event(stored, shut=True), decoded)


def test_an_event_stored_by_an_older_writer_is_upcast_in_a_window_as_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    granted = EXAMPLES[Client.ConsentGranted]
    codec, keys = _sealing()
    keys.create(granted.originator_id, uuid4())
    state = msgspec.json.decode(codec.to_stored_event(granted).state)
    del state["class_version"]  # as version 1 was stored; every field still decodes as it is

    def upcast(raw: dict[str, Any]) -> None:  # one whose work shows
        raw["trajectory_id"] = None
        raw["to_party"] = "upcast"

    monkeypatch.setattr(Client.ConsentGranted, "upcast_v1_v2", staticmethod(upcast))
    stored = stored_as(granted, state)

    [(_, decoded)] = codec.decode_shut([_notification(stored, 3)])

    assert decoded.to_party == "upcast"
    assert decoded.trajectory_id is None
    _assert_reads_as(codec.to_domain_event(stored, shut=True), decoded)


def test_an_event_that_does_not_match_its_class_is_refused_in_a_window_too() -> None:
    with pytest.raises(MapperDeserialisationError):
        _sealing()[0].decode_shut([_notification(mismatched(), 1)])


def test_an_erasure_decoded_in_a_window_makes_the_mapper_forget_the_erased_keys() -> None:
    codec, keys = _sealing()
    erased = EXAMPLES[Client.Erased]
    assert erased.erased_subjects, "the example names the subjects it erased"
    forgotten: list[UUID] = []
    keys.forget = forgotten.extend  # type: ignore[method-assign]

    codec.decode_shut([_notification(codec.to_stored_event(erased), 9)])

    assert sorted(forgotten) == sorted(erased.erased_subjects)
