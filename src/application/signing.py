"""The deployment's signing key: an Ed25519 key of its own, in a file outside the database.

A deployment signs what it exports (issue #12, point 5: statistics releases that another
deployment merges into a macro release; later issues sign other exports with the same key), so
that whoever receives the file can tell it came from that deployment and was not altered on the
way. The key lives in ``RODEDRAAD_SIGNING_KEY_FILE`` (PEM, PKCS#8, 0600), never in the database:
a copy of the data must not be able to speak for the deployment.

When the file is missing, it is made on first need **in embedded mode only**, as the KEK file is
made on a first start: one process, one machine, nothing to coordinate. A PostgreSQL deployment
runs several processes, perhaps on several machines; each making a key of its own would sign
with keys nobody trusts, so there it is made once, on purpose (``rodedraad keys public
--create``), and every process is given the same file. A lost key is not made again silently
either way in production: the partners that trust its public key must be told of a new one.

The key itself is never logged or printed; only its id (``key_id``) and its public half are.
"""

import base64
import binascii
import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from application.errors import OperatorError
from application.files import private_file, write_private_file

log = structlog.get_logger("rodedraad.signing")

#: An Ed25519 signature is always this long.
SIGNATURE_BYTES = 64


class SigningKeyError(OperatorError):
    """The signing key or a public key cannot be used; the message names the file and what to
    do."""


def _key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A deployment's public key, as another deployment trusts it (``--trust KEYFILE``)."""

    key: Ed25519PublicKey

    @classmethod
    def from_pem(cls, pem: bytes | str, *, source: str = "the public key") -> "PublicKey":
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise SigningKeyError(
                f"{source} is not a PEM public key; ask its deployment for the output of "
                "`rodedraad keys public`"
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(
                f"{source} is a {type(key).__name__}, not an Ed25519 key; ask its deployment for "
                "the output of `rodedraad keys public`"
            )
        return cls(key)

    @property
    def key_id(self) -> str:
        """Names the key in a signed document: the first 16 hex digits of the SHA-256 of the raw
        public key."""
        return _key_id(self.key)

    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verify(self, payload: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self.key.verify(signature, payload)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The deployment's private key. ``repr`` shows its id only."""

    key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, *, source: str = "the signing key") -> "SigningKey":
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise SigningKeyError(
                f"{source} is not an unencrypted PEM private key; restore it from your backup"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{source} is a {type(key).__name__}, not an Ed25519 key")
        return cls(key)

    def private_pem(self) -> bytes:
        """PKCS#8 PEM, for the key file only."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def public_key_pem(self) -> str:
        """What other deployments trust: ``rodedraad keys public`` prints it."""
        return self.public.pem()

    def sign(self, payload: bytes) -> bytes:
        return self.key.sign(payload)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"


def verify(public_key_pem: bytes | str, payload: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the holder of ``public_key_pem``'s signature of ``payload``."""
    return PublicKey.from_pem(public_key_pem).verify(payload, signature)


def encode_signature(signature: bytes) -> str:
    return base64.b64encode(signature).decode()


def decode_signature(text: str) -> bytes | None:
    """The signature's bytes, or None when ``text`` is no base64 of a signature's length."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SIGNATURE_BYTES else None


class SigningKeyFile:
    """The signing key on disk (see the module docstring for when it is made)."""

    def __init__(self, path: Path, *, create_on_first_need: bool) -> None:
        self.path = path
        self.create_on_first_need = create_on_first_need
        self._lock_path = path.with_name(path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> SigningKey:
        """The key; made now if missing and this deployment makes it on first need."""
        if not self.exists():
            if not self.create_on_first_need:
                raise SigningKeyError(
                    f"the signing key {self.path} does not exist; restore it from your backup, "
                    "or make this deployment's key once with `rodedraad keys public --create` "
                    "and give its public key to the deployments that merge your releases"
                )
            return self.create()
        private_file(self.path)  # tightened to 0600 if someone loosened it
        return SigningKey.from_pem(self.path.read_bytes(), source=f"the signing key {self.path}")

    def create(self) -> SigningKey:
        """A new key in the file, unless there is one already (another process made it
        meanwhile: that one is returned)."""
        with self._locked():
            if self.exists():
                return SigningKey.from_pem(
                    self.path.read_bytes(), source=f"the signing key {self.path}"
                )
            key = SigningKey.generate()
            write_private_file(self.path, key.private_pem())
        log.info(
            "signing key created; back it up apart from the data and give its public key "
            "(rodedraad keys public) to the deployments that merge your releases",
            file=str(self.path),
            key_id=key.key_id,
        )
        return key

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_file(self._lock_path)
        with self._lock_path.open("r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
