"""An exported release carries its deployment's signature; a merge trusts only what verifies."""

import msgspec
import pytest

from application.signing import SigningKey
from projections.statistics.document import (
    ReleaseNotVerified,
    SignedRelease,
    UnreadableRelease,
    decode_signed,
    encode_signed,
    sign_release,
    verify_release,
)
from tests.unit.statistics_documents import referrals, release

WEST = release("west", {"west-1": referrals("west-1", total=40, youth=15, disability=25)})


def test_a_signed_release_read_back_from_its_file_verifies() -> None:
    key = SigningKey.generate()
    signed = decode_signed(encode_signed(sign_release(WEST, key)))
    assert verify_release(signed, [key.public]) == WEST


def test_a_count_built_as_a_whole_number_verifies_once_read_back_as_a_float() -> None:
    """The builder puts ``15`` where the format says float; the file says ``15`` and is read
    back as ``15.0``: the signature covers the canonical form, so both sides agree."""
    key = SigningKey.generate()
    signed = decode_signed(encode_signed(sign_release(WEST, key)))
    youth = signed.document.tables[0].cells[1]
    assert isinstance(youth.value, float)
    assert verify_release(signed, [key.public]).tables == WEST.tables


def test_a_release_altered_after_signing_is_refused_naming_it() -> None:
    key = SigningKey.generate()
    signed = sign_release(WEST, key)
    altered = SignedRelease(
        document=msgspec.structs.replace(signed.document, k=5),
        key_id=signed.key_id,
        signature=signed.signature,
    )
    with pytest.raises(ReleaseNotVerified, match="release 1 of deployment 'west'") as refused:
        verify_release(altered, [key.public])
    assert refused.value.reason == "bad_signature"


def test_a_release_signed_by_a_key_nobody_trusts_is_refused() -> None:
    ours, stranger = SigningKey.generate(), SigningKey.generate()
    with pytest.raises(ReleaseNotVerified, match=stranger.key_id) as refused:
        verify_release(sign_release(WEST, stranger), [ours.public])
    assert refused.value.reason == "unknown_key"


def test_a_signature_of_another_key_under_a_trusted_keys_id_is_refused() -> None:
    ours, stranger = SigningKey.generate(), SigningKey.generate()
    forged = sign_release(WEST, stranger)
    relabelled = SignedRelease(forged.document, key_id=ours.key_id, signature=forged.signature)
    with pytest.raises(ReleaseNotVerified) as refused:
        verify_release(relabelled, [ours.public])
    assert refused.value.reason == "bad_signature"


def test_a_file_that_is_no_signed_release_is_refused_naming_it() -> None:
    with pytest.raises(UnreadableRelease, match=r"west\.json"):
        decode_signed(b'{"document": {}}', source="west.json")
