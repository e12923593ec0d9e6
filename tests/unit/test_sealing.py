"""Sealed values open only where they were sealed: a wrapped key under its subject and KEK
version, a read-model column in its row and column (issue #10)."""

import os
import sys
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.kek import Keyring, unwrap, wrap
from application.sealing import CachedKey, SealBroken, seal, unseal
from projections.plan_state.sealed import open_column, seal_column

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_wrapped_key_opens_for_its_subject_under_its_version() -> None:
    kek = Keyring(()).with_new_version(NOW).current
    subject, key = uuid4(), os.urandom(32)

    assert unwrap(kek, subject, wrap(kek, subject, key)) == key


def test_a_wrapped_key_copied_to_another_subject_does_not_open() -> None:
    kek = Keyring(()).with_new_version(NOW).current

    with pytest.raises(SealBroken):
        unwrap(kek, uuid4(), wrap(kek, uuid4(), os.urandom(32)))


def test_a_wrapped_key_relabelled_with_another_version_does_not_open() -> None:
    first = Keyring(()).with_new_version(NOW).current
    relabelled = type(first)(version=2, key=first.key, created_at=NOW)

    with pytest.raises(SealBroken):
        unwrap(relabelled, (subject := uuid4()), wrap(first, subject, os.urandom(32)))


def test_a_sealed_read_model_column_moved_to_another_column_does_not_open() -> None:
    key, trajectory = os.urandom(32), uuid4()
    doc = seal_column(key, trajectory, "doc", b'{"question": "help for Mira"}')

    assert open_column(key, trajectory, "doc", doc) == b'{"question": "help for Mira"}'
    with pytest.raises(SealBroken):
        open_column(key, trajectory, "state", doc)
    with pytest.raises(SealBroken):
        open_column(key, uuid4(), "doc", doc)


def test_a_cached_key_keeps_its_cipher_and_is_freed_with_it() -> None:
    """The cipher a cached key keeps (issue #22) seals and opens as one made anew, and does not
    hold the key: a key that its own cipher held would never be freed (the cycle runs through a
    native object the collector cannot see into), erased or not."""
    plain = os.urandom(32)
    key = CachedKey(plain)
    held = sys.getrefcount(key)
    sealed = seal(key, b"statement", b"aad")
    assert key.cipher() is key.cipher()
    assert sys.getrefcount(key) == held
    assert unseal(plain, sealed, b"aad") == b"statement"
    assert unseal(key, seal(plain, b"statement", b"aad"), b"aad") == b"statement"
    with pytest.raises(SealBroken):
        unseal(key, sealed, b"elsewhere")
