"""Backups encrypted to an operator's key: X25519, HKDF-SHA256 and AES-256-GCM in chunks.

Issue #21. A backup holds the record's events (personal fields sealed under subject keys), the
wrapped subject keys and the logs; it is written encrypted to the operator's public key, so
the machine that takes it cannot read it back, and only the holder of the private key (kept
offline, apart from the KEK) can restore it. The construction, from ``cryptography``'s
primitives only:

- per file, an ephemeral X25519 key; its shared secret with the operator's public key, through
  HKDF-SHA256 (salt: both public keys; info: the file's name), gives an AES-256-GCM key;
- the content in chunks of ``CHUNK`` bytes, each sealed with a nonce made of its number and a
  last-chunk flag, and the file's name as associated data (the STREAM construction): a chunk
  moved, dropped, or the file cut short at a chunk's end does not open.

File layout: ``MAGIC``, the ephemeral public key (32 bytes), then each chunk as its sealed
length (4 bytes, big-endian) and its sealed bytes.
"""

import hashlib
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.errors import OperatorError
from application.files import write_private_file

MAGIC = b"RODEDRAAD-BACKUP-1\n"
CHUNK = 1 << 20
_TAG = 16
_LENGTH = struct.Struct(">I")


class BackupKeyError(OperatorError):
    """An operator key file cannot be used; the message says which and why."""


class BackupDamaged(OperatorError):
    """An encrypted file does not open: damaged, cut short, or for another key."""


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: X25519PublicKey) -> str:
    """Names a public key without being it: the manifest records whose key a backup is for."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def new_operator_key(private_file: Path) -> Path:
    """A new key pair: the private key in ``private_file`` (PEM, 0600), the public key beside
    it in ``<file>.pub`` (PEM). Returns the public key's path. Refuses to overwrite."""
    public_file = private_file.with_name(private_file.name + ".pub")
    for path in (private_file, public_file):
        if path.exists():
            raise BackupKeyError(f"{path} exists; a key file is never overwritten")
    private = X25519PrivateKey.generate()
    write_private_file(
        private_file,
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_private_file(
        public_file,
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return public_file


def load_public_key(path: Path) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise BackupKeyError(f"{path} is not a readable public key file ({e})") from None
    if not isinstance(key, X25519PublicKey):
        raise BackupKeyError(
            f"{path} is not an X25519 public key (`rodedraad backup-key` makes one)"
        )
    return key


def load_private_key(path: Path) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise BackupKeyError(f"{path} is not a readable private key file ({e})") from None
    if not isinstance(key, X25519PrivateKey):
        raise BackupKeyError(f"{path} is not an X25519 private key (`rodedraad backup-key`)")
    return key


def _file_key(shared: bytes, ephemeral: bytes, recipient: bytes, name: str) -> AESGCM:
    derived = HKDF(
        algorithm=SHA256(),
        length=32,
        salt=ephemeral + recipient,
        info=b"rodedraad backup file|" + name.encode(),
    ).derive(shared)
    return AESGCM(derived)


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _chunks(source: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The content in chunks, each with whether it is the last (an empty file: one empty)."""
    current = source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        yield current, not following
        if not following:
            return
        current = following


def encrypt(
    source: BinaryIO,
    target: BinaryIO,
    recipient: X25519PublicKey,
    name: str,
    *,
    magic: bytes = MAGIC,
) -> None:
    """``source`` sealed to ``recipient`` into ``target`` (see module docstring). ``magic``
    names the kind of file (a backup's; the audit export's, ``application.sealed_files``)."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = _raw(ephemeral.public_key())
    aead = _file_key(ephemeral.exchange(recipient), ephemeral_raw, _raw(recipient), name)
    target.write(magic + ephemeral_raw)
    for number, (chunk, last) in enumerate(_chunks(source)):
        sealed = aead.encrypt(_nonce(number, last), chunk, name.encode())
        target.write(_LENGTH.pack(len(sealed)) + sealed)


def decrypt(
    source: BinaryIO, identity: X25519PrivateKey, name: str, *, magic: bytes = MAGIC
) -> Iterable[bytes]:
    """The content of a file ``encrypt`` wrote, chunk by chunk; ``BackupDamaged`` if any chunk
    does not open or the last one is missing."""
    if source.read(len(magic)) != magic:
        raise BackupDamaged(f"{name} is not an encrypted file of Rode Draad of this kind")
    ephemeral_raw = source.read(32)
    if len(ephemeral_raw) != 32:
        raise BackupDamaged(f"{name} is cut short (its header is incomplete)")
    ephemeral = X25519PublicKey.from_public_bytes(ephemeral_raw)
    recipient = _raw(identity.public_key())
    aead = _file_key(identity.exchange(ephemeral), ephemeral_raw, recipient, name)
    number = 0
    while True:
        header = source.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            raise BackupDamaged(f"{name} is cut short after chunk {number}: its end is missing")
        (length,) = _LENGTH.unpack(header)
        sealed = source.read(length)
        if length < _TAG or length > CHUNK + _TAG or len(sealed) != length:
            raise BackupDamaged(f"{name} is cut short or damaged at chunk {number}")
        for last in (False, True):
            try:
                chunk = aead.decrypt(_nonce(number, last), sealed, name.encode())
            except InvalidTag:
                continue
            yield chunk
            if last:
                if source.read(1):
                    raise BackupDamaged(f"{name} has bytes after its last chunk")
                return
            break
        else:
            raise BackupDamaged(
                f"chunk {number} of {name} does not open: the file was altered, or the identity "
                "key is not the one the backup was encrypted to"
            )
        number += 1
