"""Identity links (issue #19): which client a person's token is, found through a keyed hash.

A person signs in with the deployment's identity provider, whose subject (``sub``) is personal
data (in Belgium and the Netherlands it stands for a national identity). The record keeps it
sealed under the client's key, with an HMAC-SHA256 of it under the deployment's **pepper**,
also sealed: an identity link is found by recomputing the HMAC of the token's subject and
comparing it with the links of the clients that have any.

**The pepper** is a secret of 32 random bytes in a file of its own (0600, never in the
database, ``RODEDRAAD_IDENTITY_PEPPER_FILE``), made on first need (atomically: two processes
starting together agree on one). Every API process of a deployment must share it; losing it
makes every link unfindable (they are recorded anew), never readable by someone else. Chosen
over a key derived from the KEK, which rotates: a link must be found under the same key for
as long as it lives.

**Finding a link.** The clients with any identity link are found by the topic of the
``IdentityLinked`` event in the log (read on from where the process last read); a process
remembers which clients a keyed subject was found at and up to which link it looked, and on
every request checks those clients' records themselves plus every client linked since, so a
revoked link, an excluded representative or an erased client stops working on the very next
request, and a second child linked to the same parent is found on it. The first request of a
subject in a process reads every linked client once: linear in the number of linked clients
(measured in the README).
"""

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from application.care_record import CareRecord
from application.files import private_file, write_private_file
from domain.client import Client, IdentityLink, PersonRole


@dataclass(frozen=True)
class IdentityPepper:
    """The deployment's pepper of the identity links' keyed hash."""

    key: bytes

    @classmethod
    def from_file(cls, path: Path) -> "IdentityPepper":
        if not path.exists():
            temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
            write_private_file(temporary, secrets.token_hex(32).encode())
            try:
                os.link(temporary, path)  # fails if another process made it first: theirs holds
            except FileExistsError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
        private_file(path)
        key = path.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"the identity pepper file {path} holds no pepper; restore it")
        return cls(key=key.encode())

    def keyed(self, subject: str) -> str:
        """The keyed hash of an identity provider's subject."""
        return hmac.new(self.key, subject.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class FoundLink:
    """A link in force: this person is this client, as this role."""

    client: Client
    link_id: str
    link: IdentityLink


class IdentityLinks:
    """Finds the clients a person's subject is linked to, in a role (module docstring)."""

    def __init__(self, care_record: CareRecord, pepper: IdentityPepper) -> None:
        self.care_record = care_record
        self.pepper = pepper
        #: Per keyed subject: the clients it was found linked at, and up to which log position
        #: of ``_linked`` that answer took every client into account.
        self._seen: dict[str, tuple[frozenset[UUID], int]] = {}
        #: Every client an identity link was ever recorded on, with the log position of that
        #: link, oldest first; read on from ``_head`` as the log grows (never read twice).
        self._linked: list[tuple[int, UUID]] = []
        self._head = 0
        self._lock = threading.Lock()

    def keyed(self, subject: str) -> str:
        return self.pepper.keyed(subject)

    def find(self, subject: str, as_role: PersonRole) -> list[FoundLink]:
        """Every link in force of ``subject`` as ``as_role`` (a parent may represent several
        children), checked on the clients' records themselves. The clients it was found at
        before are asked again, and every client linked since that answer: a second child
        linked to the same parent is found on the next request."""
        keyed = self.pepper.keyed(subject)
        with self._lock:
            self._read_on()
            head = self._head
            remembered, upto = self._seen.get(keyed, (frozenset(), 0))
            candidates = remembered | {client for at, client in self._linked if at > upto}
        found = self._links(keyed, as_role, candidates)
        with self._lock:
            if len(self._seen) >= 10_000:
                self._seen.clear()
            # Clients found in either role stay candidates: the next request may ask the other.
            self._seen[keyed] = (remembered | frozenset(f.client.id for f in found), head)
        return found

    def _read_on(self) -> None:
        """The identity links recorded since ``_head`` (under the lock)."""
        found, self._head = self.care_record.identity_links_after(self._head)
        self._linked.extend(found)

    def _links(self, keyed: str, as_role: PersonRole, clients: frozenset[UUID]) -> list[FoundLink]:
        found = []
        for client_id in sorted(clients, key=str):
            client = self.care_record.client(client_id)
            hit = client.identity_link_for(keyed, as_role)
            if hit is not None:
                found.append(FoundLink(client=client, link_id=hit[0], link=hit[1]))
        return found
