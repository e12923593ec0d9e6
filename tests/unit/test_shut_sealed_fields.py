"""The projections decode the log with each event's sealed personal fields left shut, opened on
their first read (issue #22: most are read by no projection, and opening was the largest cost of
a rebuild). Whatever reads one must get what an event decoded at once holds, and after an
erasure the placeholders, never the sealed values."""

from dataclasses import fields
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import StoredEvent

from application.codec import UNOPENED, MsgspecTranscoder, SealingMapper, in_the_clear
from application.keys import MemoryKeyStore
from domain.common import ERASED
from domain.record import Record
from domain.trajectory import Trajectory
from tests.unit.builders import assert_same
from tests.unit.test_event_codec import EXAMPLES

#: The events with sealed fields that a projection's decoding leaves shut.
SHUT = sorted(
    (
        cls
        for cls in EXAMPLES
        if getattr(cls, "personal_fields", ())
        and issubclass(cls, Record.Event)
        and not issubclass(cls, CanInitAggregate)
    ),
    key=lambda c: c.__qualname__,
)


def _stored(event: Any) -> tuple[SealingMapper, MemoryKeyStore, Any, StoredEvent]:
    """``event`` sealed under a key of its subject's own client."""
    keys = MemoryKeyStore()
    client = uuid4()
    keys.create(event.originator_id, client)
    codec = SealingMapper(MsgspecTranscoder(), keys=keys)
    return codec, keys, client, codec.to_stored_event(event)


def _personal_names(cls: type) -> set[str]:
    return {path.partition("[].")[0] for path in cls.personal_fields}  # type: ignore[attr-defined]


def test_every_kind_of_event_with_sealed_fields_is_left_shut_but_its_creation() -> None:
    assert Trajectory.ConsultationHeld in SHUT
    assert Trajectory.Referred not in SHUT  # eventsourcing makes the aggregate from all of it
    assert len(SHUT) >= 20


@pytest.mark.parametrize("event_class", SHUT, ids=lambda c: c.__qualname__)
def test_a_shut_event_reads_as_the_event_decoded_at_once(event_class: type) -> None:
    event = EXAMPLES[event_class]
    codec, _, _, stored = _stored(event)

    shut = codec.to_domain_event(stored, shut=True)

    assert UNOPENED in vars(shut)
    assert not _personal_names(event_class) & set(vars(shut))
    eager = codec.to_domain_event(stored)
    for field in fields(event):
        assert_same(getattr(eager, field.name), getattr(shut, field.name), field.name)
    assert UNOPENED not in vars(shut)
    assert shut == event


@pytest.mark.parametrize("event_class", SHUT, ids=lambda c: c.__qualname__)
def test_a_shut_event_of_a_client_erased_before_it_is_read_reads_as_erased(
    event_class: type,
) -> None:
    event = EXAMPLES[event_class]
    codec, keys, client, stored = _stored(event)
    shut = codec.to_domain_event(stored, shut=True)

    keys.erase_client(client)

    without_keys = codec.to_domain_event(stored)
    for field in fields(event):
        assert_same(getattr(without_keys, field.name), getattr(shut, field.name), field.name)
    for name in _personal_names(event_class):
        value = getattr(event, name)
        if value:  # something personal was sealed: it does not come back
            assert getattr(shut, name) != value, name


def test_the_organisations_of_a_consultation_are_read_without_opening_its_sealed_fields() -> None:
    event = EXAMPLES[Trajectory.ConsultationHeld]
    assert any(p.person_ref for p in event.participants)
    codec, _, _, stored = _stored(event)
    shut = codec.to_domain_event(stored, shut=True)

    clear = in_the_clear(shut, "participants")

    assert [p.organisation for p in clear] == [p.organisation for p in event.participants]
    assert [p.role for p in clear] == [p.role for p in event.participants]
    assert {p.person_ref for p in clear} <= {ERASED, None}  # never the sealed value
    assert UNOPENED in vars(shut)
    assert shut.participants == event.participants  # a read of the field itself opens it
    assert in_the_clear(shut, "participants") == event.participants


def test_reading_a_field_an_event_does_not_have_leaves_it_shut() -> None:
    event = EXAMPLES[Trajectory.Blocked]
    codec, _, _, stored = _stored(event)
    shut = codec.to_domain_event(stored, shut=True)

    assert getattr(shut, "erased_subjects", None) is None
    with pytest.raises(AttributeError):
        _ = shut.no_such_field  # type: ignore[attr-defined]
    assert UNOPENED in vars(shut)
    assert shut.description == event.description


def test_items_read_in_the_clear_keep_their_placeholders_after_the_event_opened() -> None:
    event = EXAMPLES[Trajectory.ConsultationHeld]
    codec, _, _, stored = _stored(event)
    shut = codec.to_domain_event(stored, shut=True)
    clear = in_the_clear(shut, "participants")

    assert shut.participants == event.participants  # opens the event's own copies

    assert {p.person_ref for p in clear} <= {ERASED, None}


class _Broken(Exception):
    pass


@pytest.mark.parametrize("failure", [_Broken, AttributeError])
def test_a_shut_event_whose_fields_fail_to_open_never_reads_as_erased(
    failure: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    event = EXAMPLES[Trajectory.ConsultationHeld]
    codec, _, _, stored = _stored(event)
    shut = codec.to_domain_event(stored, shut=True)

    def fail(*_: Any) -> None:
        raise failure("the key store is gone")

    with monkeypatch.context() as patched:
        patched.setattr(codec, "_open", fail)
        for _ in range(2):  # and again: the first failure changed nothing
            with pytest.raises(_Broken if failure is _Broken else RuntimeError):
                _ = shut.participants
        assert UNOPENED in vars(shut)

    assert shut.participants == event.participants  # opens once the cause is gone
