"""The key-encryption key (KEK): a keyring file that never enters the database.

Every subject key is stored wrapped (sealed) under a version of the KEK, and the row names the
version. The keyring lives in one file (``RODEDRAAD_KEK_FILE``), 0600, replaced atomically,
with one entry per version: its number, its key, when it was created and retired, and for a
destroyed version only a tombstone (number, when it was destroyed) so that a store still
naming it can say so. A copy of the database — write-ahead log, replica, dump, backup — holds
nothing but wrapped keys; once the version that wrapped them is destroyed, nobody can unwrap
them. Rotation (``application.kek_rotation``) adds versions and destroys old ones.

Several processes share the file: writers (first start, rotation) take an exclusive lock on
``<file>.lock``; readers reload the file when it changed on disk or when they meet a version
they do not know.
"""

import base64
import fcntl
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from uuid import UUID

import msgspec

from application.errors import OperatorError
from application.files import private_file, write_private_file
from application.sealing import KEY_BYTES, seal, unseal

#: How long a process trusts its copy of the keyring before it looks at the file again.
RECHECK_SECONDS = 1.0


class KekError(OperatorError):
    """The KEK cannot do what is needed; the message says what an operator can do."""


class StoredVersion(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One version as the file holds it; a destroyed version keeps no key."""

    version: int
    key: str | None = None  # base64
    created_at: datetime | None = None
    retired_at: datetime | None = None
    destroyed_at: datetime | None = None


class StoredKeyring(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: int = 1
    versions: list[StoredVersion]


@dataclass(frozen=True, slots=True)
class KekVersion:
    version: int
    key: bytes | None
    created_at: datetime | None
    retired_at: datetime | None = None
    destroyed_at: datetime | None = None

    @property
    def destroyed(self) -> bool:
        return self.key is None

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it: the database records it, so that a KEK file
        that is not the deployment's is refused at start instead of failing later."""
        if self.key is None:
            raise KekError(f"KEK version {self.version} was destroyed; it has no fingerprint")
        return hmac.new(self.key, b"rodedraad kek fingerprint", hashlib.sha256).hexdigest()[:32]

    def describe(self) -> str:
        if self.destroyed_at is not None:
            return f"version {self.version}, destroyed {self.destroyed_at:%Y-%m-%d %H:%M} UTC"
        if self.retired_at is not None:
            return f"version {self.version}, retired {self.retired_at:%Y-%m-%d %H:%M} UTC"
        created = f", created {self.created_at:%Y-%m-%d %H:%M} UTC" if self.created_at else ""
        return f"version {self.version}{created}"


@dataclass(frozen=True, slots=True)
class Keyring:
    """The versions of the KEK, oldest first. Immutable: changes give a new keyring."""

    versions: tuple[KekVersion, ...]

    def get(self, version: int) -> KekVersion | None:
        for found in self.versions:
            if found.version == version:
                return found
        return None

    @property
    def current(self) -> KekVersion:
        """The version new keys are wrapped under: the newest one neither retired nor destroyed."""
        for found in reversed(self.versions):
            if not found.destroyed and found.retired_at is None:
                return found
        raise KekError(
            "the KEK file has no version in service (every version is retired or destroyed); "
            "restore the file from escrow"
        )

    @property
    def live(self) -> tuple[KekVersion, ...]:
        """Versions whose key is still here: the current one, and those not yet destroyed."""
        return tuple(v for v in self.versions if not v.destroyed)

    def with_new_version(self, now: datetime) -> "Keyring":
        number = max((v.version for v in self.versions), default=0) + 1
        return Keyring((*self.versions, KekVersion(number, os.urandom(KEY_BYTES), now)))

    def retiring(self, version: int, now: datetime) -> "Keyring":
        """``version`` retired at ``now`` (again, if a late row under it was re-wrapped: the
        backup window counts from the last moment the database held one)."""
        return Keyring(
            tuple(replace(v, retired_at=now) if v.version == version else v for v in self.versions)
        )

    def destroying(self, version: int, now: datetime) -> "Keyring":
        """``version`` reduced to a tombstone: its number and when it went, no key."""
        return Keyring(
            tuple(
                KekVersion(version, key=None, created_at=None, destroyed_at=now)
                if v.version == version
                else v
                for v in self.versions
            )
        )

    def encode(self) -> bytes:
        stored = StoredKeyring(
            versions=[
                StoredVersion(
                    version=v.version,
                    key=base64.b64encode(v.key).decode() if v.key is not None else None,
                    created_at=v.created_at,
                    retired_at=v.retired_at,
                    destroyed_at=v.destroyed_at,
                )
                for v in self.versions
            ]
        )
        return msgspec.json.format(msgspec.json.encode(stored)) + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> "Keyring":
        stored = msgspec.json.decode(data, type=StoredKeyring)
        return cls(
            tuple(
                KekVersion(
                    version=v.version,
                    key=base64.b64decode(v.key) if v.key is not None else None,
                    created_at=v.created_at,
                    retired_at=v.retired_at,
                    destroyed_at=v.destroyed_at,
                )
                for v in sorted(stored.versions, key=lambda v: v.version)
            )
        )


def wrap(kek: KekVersion, subject: UUID, key: bytes) -> bytes:
    """A subject key sealed under a KEK version; the associated data binds the subject and the
    version, so a wrapped key copied to another row, or relabelled, does not open."""
    if kek.key is None:
        raise KekError(f"KEK version {kek.version} was destroyed; nothing can be wrapped under it")
    return seal(kek.key, key, _wrapping_aad(kek.version, subject))


def unwrap(kek: KekVersion, subject: UUID, wrapped: bytes) -> bytes:
    """Raises ``SealBroken`` if ``wrapped`` was not wrapped for ``subject`` under this key."""
    if kek.key is None:
        raise KekError(f"KEK version {kek.version} was destroyed; nothing wrapped under it opens")
    return unseal(kek.key, wrapped, _wrapping_aad(kek.version, subject))


def _wrapping_aad(version: int, subject: UUID) -> bytes:
    return f"rodedraad subject key|{subject}|kek {version}".encode()


class KeyringFile:
    """The keyring on disk, shared by every process of a deployment (see module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._cached: Keyring | None = None
        self._signature: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._mutex = threading.Lock()

    def exists(self) -> bool:
        return self.path.exists()

    def keyring(self) -> Keyring:
        """The keyring, reloaded if the file changed since it was last read (looked at no more
        than once a second). Raises ``KekError`` if there is no file."""
        now = time.monotonic()
        with self._mutex:
            if self._cached is not None and now - self._checked < RECHECK_SECONDS:
                return self._cached
        return self.reload()

    def reload(self) -> Keyring:
        """Read the file now if it changed (another process rotated, say)."""
        with self._mutex:
            try:
                info = self.path.stat()
            except FileNotFoundError:
                raise KekError(
                    f"the KEK file {self.path} does not exist; restore it from your escrow "
                    "(see the README, 'Key-encryption key')"
                ) from None
            signature = (info.st_ino, info.st_mtime_ns, info.st_size)
            if self._cached is None or signature != self._signature:
                try:
                    self._cached = Keyring.decode(self.path.read_bytes())
                except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
                    raise KekError(
                        f"the KEK file {self.path} cannot be read ({e}); restore it from your "
                        "escrow"
                    ) from None
                self._signature = signature
            self._checked = time.monotonic()
            return self._cached

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive among processes (and threads) that change the keyring: first start,
        rotation, ``rodedraad keys rotate`` beside a running service."""
        private_file(self._lock_path)
        with self._lock_path.open("r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, keyring: Keyring) -> Keyring:
        """Replace the file (call under ``locked``)."""
        write_private_file(self.path, keyring.encode())
        with self._mutex:
            self._cached = None
            self._signature = None
        return self.reload()

    def create(self, now: datetime) -> Keyring:
        """A first keyring with one version, unless another process made one meanwhile (call
        under ``locked``)."""
        if self.exists():
            return self.reload()
        return self.write(Keyring(()).with_new_version(now))
