"""The key stores: many keys read in one query before a batch is decoded (prefetch); the
erasure ledger that keeps an erased client's subjects known."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from application.keys import KeyStore, SqliteKeyStore
from rodedraad.wiring import build_key_store
from tests.integration.databases import BACKENDS, fresh_settings, require_backend


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[KeyStore, KeyStore]]:
    """Two stores on one database: one writes keys, the other starts with an empty cache."""
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path) as settings:
        writer = build_key_store(settings)
        reader = build_key_store(settings)
        yield writer, reader
        writer.close()


def _cut_off(store: KeyStore) -> None:
    """No more database for this store: what it answers now comes from its cache."""
    if isinstance(store, SqliteKeyStore):
        store._conn.close()
    else:
        store.close()


def test_prefetched_keys_are_answered_without_the_database(
    stores: tuple[KeyStore, KeyStore],
) -> None:
    writer, reader = stores
    client = uuid.uuid4()
    subjects = [uuid.uuid4() for _ in range(3)]
    keys = {s: writer.create(s, client) for s in subjects}
    unknown = uuid.uuid4()

    # As a batch of notifications gives them: some as text, repeated, with one never keyed.
    reader.prefetch([str(subjects[0]), subjects[0], *subjects[1:], unknown])
    _cut_off(reader)

    assert {s: reader.key_for(s) for s in subjects} == keys
    assert reader.key_for(unknown) is None


def test_a_subject_not_prefetched_still_goes_to_the_database(
    stores: tuple[KeyStore, KeyStore],
) -> None:
    writer, reader = stores
    subject = uuid.uuid4()
    key = writer.create(subject, uuid.uuid4())

    reader.prefetch([uuid.uuid4()])

    assert reader.key_for(subject) == key


def test_a_key_read_while_another_thread_empties_the_cache_is_still_answered(
    stores: tuple[KeyStore, KeyStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full cache is emptied by whoever fills it next: a key just read must not be taken
    for "erased" because another thread emptied the cache before it was looked up again."""
    writer, reader = stores
    subject = uuid.uuid4()
    key = writer.create(subject, uuid.uuid4())
    remember = reader._remember_all  # type: ignore[attr-defined]

    def remembered_then_emptied(keys: dict[uuid.UUID, bytes | None]) -> None:
        remember(keys)
        reader._cache.clear()  # type: ignore[attr-defined]  # another thread's overflow

    monkeypatch.setattr(reader, "_remember_all", remembered_then_emptied)

    assert reader.key_for(subject) == key


def test_an_erasure_tried_again_still_names_every_subject_of_the_client(
    stores: tuple[KeyStore, KeyStore],
) -> None:
    """Review of #10 (S3): the keys are gone after the first try; the ledger still knows whose
    they were, so a retry erases the trajectories too."""
    writer, reader = stores
    client, trajectory = uuid.uuid4(), uuid.uuid4()
    writer.create(client, client)
    writer.create(trajectory, client)
    writer.erase_client(client)

    again = reader.erase_client(client)

    assert set(again) == set(reader.subjects_of(client)) == {client, trajectory}
    assert (reader.key_for(client), reader.key_for(trajectory)) == (None, None)


def test_a_subject_keyed_by_another_store_keeps_its_key(
    stores: tuple[KeyStore, KeyStore],
) -> None:
    """``create`` writes a key in one statement and keeps one that is there already: the store
    that asks second, never having read the subject, gets the first store's key."""
    writer, reader = stores
    subject, client = uuid.uuid4(), uuid.uuid4()
    key = writer.create(subject, client)

    assert reader.create(subject, client) == key
    assert reader.key_for(subject) == key
    assert writer.create(subject, client) == key
