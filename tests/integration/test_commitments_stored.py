"""Issue #16 on each backend: the sealed fields of stored events carry commitments that their
plaintext and salt match, and an erased client's events keep verifying (the chain covers
ciphertext and commitment, and the salt is gone with the key)."""

from application.commands import EraseClient
from application.commitments import matches
from application.personal_fields import committed_fields
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.integration.conftest import Rodedraad
from tests.integration.stories import Story
from tests.support import context, said


def _told(settings: Settings) -> Story:
    record = build_care_record(settings)
    try:
        story = Story(record, clients=2)
        for thread in story.threads:
            story._refer(thread, 1, 0, None)
        return story
    finally:
        record.close()


def test_each_sealed_field_of_a_trajectory_matches_its_stored_commitment(
    own_settings: Settings,
) -> None:
    story = _told(own_settings)
    trajectory = story.threads[0].trajectories[-1]
    record = build_care_record(own_settings)
    try:
        listed = committed_fields(record, [trajectory])
    finally:
        record.close()

    assert {f.path for f in listed} >= {"question", "client_criteria", "referrer_engagement"}
    for field in listed:
        assert field.commitment is not None
        assert field.plaintext is not None
        assert field.salt is not None
        assert matches(field.plaintext, field.salt, field.commitment), field.path
        assert not matches(field.plaintext + b" ", field.salt, field.commitment)


def test_an_erased_clients_commitments_stay_chained_and_reveal_no_salt(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _told(own_settings)
    client = story.threads[0].client_id
    record = build_care_record(own_settings)
    try:
        before = committed_fields(record, record.keys.subjects_of(client))
        record.erase_client(
            context(), client, None, said(EraseClient, context(), legal_basis="gdpr_request")
        )
        after = committed_fields(record, list(dict.fromkeys(f.originator_id for f in before)))
    finally:
        record.close()

    assert before
    assert all(f.plaintext is not None for f in before)
    assert {(f.position, f.path, f.commitment) for f in after} >= {
        (f.position, f.path, f.commitment) for f in before
    }
    assert all(f.plaintext is None and f.salt is None for f in after)
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
