"""The erasure ledger kept apart from the backups: a restore never brings an erased person back.

Issue #21, point 3. Every erasure is recorded twice: in the key store's table of erased
subjects (``application.keys``, written in the transaction that deletes the keys, and so in
every backup taken after it), and here, in an append-only file the operator keeps apart from
the data (``RODEDRAAD_ERASURE_LEDGER_FILE``): one JSON line per erasure with the client's id,
when it was erased and the legal basis it was erased under. Ids, times and a legal basis only:
no personal data, so the file may be copied to wherever the operator keeps what must outlive a
lost data directory.

The line is written (and flushed to disk) *before* the keys are destroyed: a crash between the
two leaves a line for an erasure the store has not done yet, never an erasure the file does
not know. A restore of any age (``rodedraad restore``, a point-in-time recovery on PostgreSQL
followed by ``rodedraad erasures reapply``, or another tool's restore followed by a start) then
re-applies every erasure of the file the store lacks, before the service answers a request
(``reapply``).
"""

import fcntl
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

import msgspec

from application.errors import OperatorError
from application.files import PRIVATE_FILE, private_file


class ErasureLedgerError(OperatorError):
    """The ledger file cannot be read or written; the message says which and why."""


class ErasureLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One erasure as the file holds it."""

    client: UUID
    erased_at: datetime
    legal_basis: str


class ErasureLedgerFile:
    """The append-only file (see module docstring); shared by every process of a deployment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, client: UUID, erased_at: datetime, legal_basis: str) -> None:
        """One line, on disk before this returns (``O_APPEND`` under an exclusive lock)."""
        line = msgspec.json.encode(ErasureLine(client, erased_at, legal_basis)) + b"\n"
        try:
            private_file(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, PRIVATE_FILE)
        except OSError as e:
            raise ErasureLedgerError(
                f"the erasure ledger {self.path} cannot be written ({e.strerror}); nothing was "
                "erased. Make it writable (RODEDRAAD_ERASURE_LEDGER_FILE) and erase again"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> list[ErasureLine]:
        """Every erasure, oldest first; none if there is no file yet. A last line cut short
        by a crash (no newline) is passed over: its erasure had not begun."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ErasureLedgerError(
                f"the erasure ledger {self.path} cannot be read ({e.strerror}); restore it from "
                "your copy of it (RODEDRAAD_ERASURE_LEDGER_FILE) before anything serves"
            ) from None
        found = []
        lines = data.split(b"\n")
        for number, raw in enumerate(lines[:-1], start=1):
            if not raw.strip():
                continue
            try:
                found.append(msgspec.json.decode(raw, type=ErasureLine))
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise ErasureLedgerError(
                    f"line {number} of the erasure ledger {self.path} cannot be read ({e}); "
                    "restore the file from your copy of it"
                ) from None
        return sorted(found, key=lambda e: e.erased_at)


def check_kept(ledger: ErasureLedgerFile, store_has_erasures: bool) -> None:
    """Refuse to go on without the file where the store shows an erasure was made: every
    erasure writes its line first, so the file existed, and without it an erasure made after
    the store was copied (a restore, a recovery) would come back unnoticed (found by an
    outside walk: a restore with the setting mistyped brought an erased person back)."""
    if store_has_erasures and not ledger.path.exists():
        raise ErasureLedgerError(
            f"the erasure ledger {ledger.path} does not exist, but this store has erased "
            "clients: restore the file from the copy you keep beside the backups, or point "
            "RODEDRAAD_ERASURE_LEDGER_FILE at it (every process of a deployment shares one), "
            "before anything serves. Without it, a client erased after this store was copied "
            "would come back. Only if this store's erasures were all made by a version before "
            "the file was kept (issue #21), and none since, create it empty (0600) to say so"
        )


class ErasingRecord(Protocol):
    """What re-applying needs of the write side (``application.care_record.CareRecord``)."""

    def erasure_state(self, client_id: UUID) -> str:
        """``erased``, ``present`` (recorded and not erased), or ``absent`` (never recorded)."""

    def reapply_erasure(self, client_id: UUID, erased_at: datetime, legal_basis: str) -> None:
        """Destroy the client's keys and record the erasure, noting nothing in the file."""

    def erase_keys_only(self, client_id: UUID) -> None:
        """Destroy whatever keys of the client there are (a client the log does not hold)."""


@dataclass(frozen=True)
class Reapplied:
    """What ``reapply`` did: the clients it erased, and how many lines it looked at."""

    erased: list[UUID]
    checked: int


def reapply(
    record: ErasingRecord,
    entries: Iterable[ErasureLine],
    *,
    already_erased: Callable[[UUID], bool] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Reapplied:
    """Every erasure of ``entries`` the store lacks, done again, oldest first.

    ``already_erased``: a cheap test (the key store's own ledger) that lets a start-up pass over
    the clients it knows are done; without it, every client is looked at in the log (a restore).
    """
    erased: list[UUID] = []
    seen: set[UUID] = set()
    checked = 0
    for entry in entries:
        if entry.client in seen:
            continue
        seen.add(entry.client)
        checked += 1
        if already_erased is not None and already_erased(entry.client):
            continue
        state = record.erasure_state(entry.client)
        if state == "present":
            record.reapply_erasure(entry.client, entry.erased_at, entry.legal_basis)
            erased.append(entry.client)
            say(f"client {entry.client}: erased again (erased {entry.erased_at:%Y-%m-%d %H:%M})")
        else:  # erased in the log already, or never in it: no key of it may be left either way
            record.erase_keys_only(entry.client)
    return Reapplied(erased, checked)
