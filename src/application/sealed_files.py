"""A file sealed to one recipient's X25519 key: ephemeral X25519, HKDF-SHA256, AES-256-GCM.

Issue #16 (the audit export): the export holds plaintext personal data, so it leaves the system
only encrypted to a key its recipient provides; the machine that makes it cannot read it back.
The construction, age-like and from ``cryptography``'s primitives only: a fresh X25519 key per
file; its shared secret with the recipient's public key, through HKDF-SHA256 (salt: both public
keys; info: ``INFO``), gives an AES-256-GCM key, used once, for the whole content (a file small
enough to hold in memory; the nonce may be zero because the key is never used again).

Layout: ``MAGIC``, the ephemeral public key (32 bytes), the sealed content (with its 16-byte
tag). The magic is the associated data, so the header cannot be swapped for another format's.

Keys are what ``openssl genpkey -algorithm X25519`` writes (PKCS#8 PEM private key; its
``openssl pkey -pubout`` PEM public key). The backups of issue #21 seal files to an operator's
X25519 key in chunks (``application.backup_crypto`` on that branch); the two may be unified.
"""

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.errors import OperatorError

MAGIC = b"RODEDRAAD-SEALED-FILE/1\n"
INFO = b"rodedraad sealed file"
_KEY = 32
_NONCE = bytes(12)


class SealedFileError(OperatorError):
    """A key cannot be used, or a sealed file does not open; the message says which and why."""


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _aead(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=_KEY, salt=ephemeral + recipient, info=INFO).derive(
        shared
    )
    return AESGCM(key)


def encrypt_to(public_key: X25519PublicKey, content: bytes) -> bytes:
    """``content`` sealed so that only the holder of ``public_key``'s private half opens it."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = _raw(ephemeral.public_key())
    aead = _aead(ephemeral.exchange(public_key), ephemeral_raw, _raw(public_key))
    return MAGIC + ephemeral_raw + aead.encrypt(_NONCE, content, MAGIC)


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


def decrypt_with(private_key: X25519PrivateKey, data: bytes) -> bytes:
    """The content of a file ``encrypt_to`` sealed to ``private_key``'s public half."""
    if not is_sealed(data):
        raise SealedFileError("the file is not a sealed file of Rode Draad")
    ephemeral_raw = data[len(MAGIC) : len(MAGIC) + _KEY]
    if len(ephemeral_raw) != _KEY:
        raise SealedFileError("the sealed file is cut short (its header is incomplete)")
    ephemeral = X25519PublicKey.from_public_bytes(ephemeral_raw)
    aead = _aead(private_key.exchange(ephemeral), ephemeral_raw, _raw(private_key.public_key()))
    try:
        return aead.decrypt(_NONCE, data[len(MAGIC) + _KEY :], MAGIC)
    except InvalidTag:
        raise SealedFileError(
            "the sealed file does not open: it was altered, or it was sealed to another key "
            "than the identity given"
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
