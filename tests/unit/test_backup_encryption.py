"""Backup files are encrypted to the operator's key in chunks that do not open out of place
(``application.backup_crypto``): the content comes back whole, or not at all."""

import io

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from application.backup_crypto import CHUNK, BackupDamaged, decrypt, encrypt

CONTENT = bytes(range(256)) * (CHUNK * 3 // 256 + 7)  # three full chunks and a bit


def sealed(identity: X25519PrivateKey, name: str = "events.sqlite") -> bytes:
    out = io.BytesIO()
    encrypt(io.BytesIO(CONTENT), out, identity.public_key(), name)
    return out.getvalue()


def opened(data: bytes, identity: X25519PrivateKey, name: str = "events.sqlite") -> bytes:
    return b"".join(decrypt(io.BytesIO(data), identity, name))


def test_the_content_comes_back_whole_with_the_operators_key() -> None:
    identity = X25519PrivateKey.generate()
    data = sealed(identity)
    assert CONTENT[:4096] not in data
    assert opened(data, identity) == CONTENT


def test_a_file_cut_at_a_chunk_boundary_does_not_open() -> None:
    identity = X25519PrivateKey.generate()
    data = sealed(identity)
    boundary = len(data) - (len(CONTENT) - 3 * CHUNK + 16 + 4)  # the last chunk dropped
    with pytest.raises(BackupDamaged, match="cut short"):
        opened(data[:boundary], identity)


def test_another_key_or_another_name_does_not_open_it() -> None:
    identity = X25519PrivateKey.generate()
    data = sealed(identity)
    with pytest.raises(BackupDamaged, match="does not open"):
        opened(data, X25519PrivateKey.generate())
    with pytest.raises(BackupDamaged, match="does not open"):
        opened(data, identity, name="keys.sqlite")
