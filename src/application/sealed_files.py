"""A file sealed to one recipient's X25519 key: the audit export (issue #16).

The export holds plaintext personal data, so it leaves the system only encrypted to a key its
recipient provides; the machine that makes it cannot read it back. The construction is the
backups' (``application.backup_crypto``: an ephemeral X25519 key, HKDF-SHA256, AES-256-GCM in
chunks that cannot be moved, dropped or cut off), with a magic of its own and ``NAME`` as the
file name bound into the key and every chunk, so a backup file cannot pass for an export.

Keys are what ``openssl genpkey -algorithm X25519`` writes (PKCS#8 PEM private key; its
``openssl pkey -pubout`` PEM public key); ``rodedraad backup-key`` makes the same kind.
"""

import base64
import binascii
import io

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from application.backup_crypto import BackupDamaged, decrypt, encrypt
from application.errors import OperatorError

MAGIC = b"RODEDRAAD-SEALED-FILE/2\n"
NAME = "rodedraad audit export"


class SealedFileError(OperatorError):
    """A key cannot be used, or a sealed file does not open; the message says which and why."""


def encrypt_to(public_key: X25519PublicKey, content: bytes) -> bytes:
    """``content`` sealed so that only the holder of ``public_key``'s private half opens it."""
    target = io.BytesIO()
    encrypt(io.BytesIO(content), target, public_key, NAME, magic=MAGIC)
    return target.getvalue()


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def decrypt_with(private_key: X25519PrivateKey, data: bytes) -> bytes:
    """The content of a file ``encrypt_to`` sealed to ``private_key``'s public half."""
    if not is_sealed(data):
        raise SealedFileError("the file is not a sealed file of Rode Draad")
    try:
        return b"".join(decrypt(io.BytesIO(data), private_key, NAME, magic=MAGIC))
    except BackupDamaged:
        raise SealedFileError(
            "the sealed file does not open: it was altered or cut short, or it was sealed to "
            "another key than the identity given"
        ) from None


def public_key_from_text(text: str) -> X25519PublicKey:
    """A recipient's key as sent: a PEM public key, or its base64 line alone (the DER of the
    SubjectPublicKeyInfo, as ``openssl pkey -pubout`` writes between the PEM lines)."""
    data = text.strip().encode()
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(base64.b64decode(data, validate=True))
    except (ValueError, binascii.Error):
        raise SealedFileError(
            "the recipient key is not an X25519 public key in PEM or base64 DER; make one with "
            "`openssl genpkey -algorithm X25519 -out auditor.pem` and "
            "`openssl pkey -in auditor.pem -pubout -out auditor.pub`"
        ) from None
    if not isinstance(key, X25519PublicKey):
        raise SealedFileError(
            f"the recipient key is a {type(key).__name__}, not an X25519 key; make one with "
            "`openssl genpkey -algorithm X25519`"
        )
    return key


def private_key_from_pem(pem: bytes, *, source: str) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SealedFileError(
            f"{source} is not an unencrypted PEM private key (`openssl genpkey -algorithm "
            "X25519` writes one)"
        ) from None
    if not isinstance(key, X25519PrivateKey):
        raise SealedFileError(f"{source} is a {type(key).__name__}, not an X25519 key")
    return key
