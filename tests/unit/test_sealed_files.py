"""A file sealed to one X25519 key (issue #16, the audit export): only that key's holder opens
it, and any change to it, or another key, makes it not open at all."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from application.sealed_files import (
    SealedFileError,
    decrypt_with,
    encrypt_to,
    public_key_from_text,
)

CONTENT = b'{"an": "export"}'


def _pem(key: X25519PrivateKey | Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_the_recipient_opens_what_was_sealed_to_their_key() -> None:
    identity = X25519PrivateKey.generate()

    sealed = encrypt_to(identity.public_key(), CONTENT)

    assert CONTENT not in sealed
    assert decrypt_with(identity, sealed) == CONTENT


def test_another_key_does_not_open_it() -> None:
    sealed = encrypt_to(X25519PrivateKey.generate().public_key(), CONTENT)

    with pytest.raises(SealedFileError, match="another key"):
        decrypt_with(X25519PrivateKey.generate(), sealed)


@pytest.mark.parametrize("at", [0, 30, 60, -1])
def test_a_changed_byte_anywhere_makes_it_not_open(at: int) -> None:
    identity = X25519PrivateKey.generate()
    sealed = bytearray(encrypt_to(identity.public_key(), CONTENT))
    sealed[at] ^= 0x01

    with pytest.raises(SealedFileError):
        decrypt_with(identity, bytes(sealed))


def test_a_recipient_key_is_taken_as_pem_or_as_its_base64_line() -> None:
    identity = X25519PrivateKey.generate()
    pem = _pem(identity)

    for text in (pem, pem.splitlines()[1]):
        sealed = encrypt_to(public_key_from_text(text), CONTENT)
        assert decrypt_with(identity, sealed) == CONTENT


def test_a_signing_key_is_no_recipient_key() -> None:
    with pytest.raises(SealedFileError, match="not an X25519 key"):
        public_key_from_text(_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(SealedFileError, match="not an X25519 public key"):
        public_key_from_text("not a key at all, not even base64!")
