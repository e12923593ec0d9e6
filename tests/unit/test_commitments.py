"""Issue #16: each sealed personal field carries a commitment SHA-256(salt ‖ plaintext), its
salt sealed with the plaintext; events sealed before commitments still load."""

from dataclasses import fields
from typing import Any
from uuid import uuid4

import msgspec
from eventsourcing.persistence import StoredEvent

from application.codec import MsgspecTranscoder, SealingMapper, opened
from application.commitments import matches
from application.keys import MemoryKeyStore
from application.sealing import seal_text, unseal_text
from domain.trajectory import Trajectory
from tests.unit.builders import assert_same
from tests.unit.test_event_codec import EXAMPLES


def _sealed() -> tuple[SealingMapper, Any, StoredEvent, bytes]:
    """A referral (three personal fields) sealed by a mapper with its subject's key."""
    keys = MemoryKeyStore()
    event = EXAMPLES[Trajectory.Referred]
    key = keys.create(event.originator_id, uuid4())
    codec = SealingMapper(transcoder=MsgspecTranscoder(), keys=keys)
    return codec, event, codec.to_stored_event(event), key


def _opened(
    stored: StoredEvent, key: bytes
) -> tuple[dict[str, Any], dict[str, msgspec.Raw], dict[str, bytes]]:
    state: dict[str, Any] = msgspec.json.decode(stored.state)
    raws, salts = opened(unseal_text(key, state["_sealed"], str(stored.originator_id).encode()))
    return state, raws, salts


def test_every_sealed_field_carries_a_commitment_its_plaintext_and_salt_match() -> None:
    _, event, stored, key = _sealed()

    state, raws, salts = _opened(stored, key)

    assert set(state["_commitments"]) == set(type(event).personal_fields)
    for path, commitment in state["_commitments"].items():
        assert len(salts[path]) == 16
        assert matches(bytes(raws[path]), salts[path], commitment)


def test_a_changed_plaintext_or_salt_does_not_match_the_commitment() -> None:
    _, _, stored, key = _sealed()
    state, raws, salts = _opened(stored, key)
    path = "question"

    changed = bytes(raws[path]).replace(b'"', b'"x', 1)
    assert not matches(changed, salts[path], state["_commitments"][path])
    assert not matches(bytes(raws[path]), bytes(16), state["_commitments"][path])


def test_two_seals_of_the_same_plaintext_commit_differently() -> None:
    """A fresh salt per seal: equal commitments would tell equal plaintexts apart."""
    _, _, first, _ = _sealed()
    _, _, second, _ = _sealed()

    one = msgspec.json.decode(first.state)["_commitments"]
    other = msgspec.json.decode(second.state)["_commitments"]
    assert all(one[path] != other[path] for path in one)


def test_an_event_sealed_before_commitments_still_loads_and_opens() -> None:
    codec, event, stored, key = _sealed()
    state, raws, _ = _opened(stored, key)
    # As a version before commitments stored it: no commitments, no salts in the sealed document.
    old_document = msgspec.json.encode(dict(raws))
    del state["_commitments"]
    state["_sealed"] = seal_text(key, old_document, str(stored.originator_id).encode())
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=msgspec.json.encode(state),
    )

    restored = codec.to_domain_event(old)

    for field in fields(event):
        assert_same(getattr(event, field.name), getattr(restored, field.name), field.name)
