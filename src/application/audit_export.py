"""The audit export and its offline verification (issue #16, point 4).

One file per trajectory, for an auditor outside the system: the trajectory's stored events and
its client's (the agreements view and the as-of answers rest on both: consents and
representatives live in the client's record; a consent to continue another trajectory, and its
revocation, only by their chain entries: ``about_another_trajectory``), each as stored — the
bytes the event chain hashes — with the chain entry before it and its own, and a Merkle
inclusion proof into a seal; the seals' signed lines; per sealed personal field its plaintext
and salt, which a verifier checks against the commitment inside the chained bytes; and the
views the auditor asked for.

Before it gathers anything the export **seals on demand** (``Seals.take``): every event up to
the moment of export is then in a signed seal, so the auditor holds a proof for each and not a
list of events a truncation could have removed. Events committed between that seal and the
read (a command racing the export) are shipped without a proof and counted as unsealed.

The whole document is signed with the deployment's Ed25519 key besides (``SignedExport``): the
seals prove each event, the signature that the file is whole (no event left out at its end, no
view or field status altered). Then it is sealed to the auditor's X25519 key
(``application.sealed_files``). No subject key leaves the system: plaintexts and salts are
opened here, under the export's authorisation (the caller's), and the keys stay.

Data minimisation: fields an event class names in ``contact_fields`` (a person's name and
contact details) are left out unless the export is asked with them; their commitment stays and
verifies as ``withheld``.

``verify_export`` needs no database and never takes the signing key from the file it checks:
the caller gives the deployment's public key, obtained elsewhere. It names the first thing that
does not hold.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
import structlog
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eventsourcing.utils import TopicError, resolve_topic

from application.access_log import AccessLog
from application.care_record import CareRecord
from application.commitments import matches
from application.errors import OperatorError
from application.event_chain import ChainBroken, EventChain, link
from application.merkle import InclusionProof
from application.personal_fields import CommittedField, committed_fields
from application.sealed_files import SealedFileError, decrypt_with, encrypt_to, is_sealed
from application.seals import Seal, SealRefused, Seals
from application.signing import PublicKey, SigningKey, decode_signature, encode_signature
from domain.client import Client

log = structlog.get_logger("rodedraad.audit_export")

#: Version 2: an event may be shipped without its ``topic`` and ``state`` (a client's event
#: about another trajectory: its place and its chain entry only). A verifier of version 1
#: failed on that with a decoding error; it now reads "not a rodedraad-audit-export/1".
FORMAT = "rodedraad-audit-export/2"
#: The formats ``verify_export`` reads: a file of version 1 (made before) still verifies.
READ_FORMATS = ("rodedraad-audit-export/1", FORMAT)


def _signed_prefix(export_format: str) -> bytes:
    """What the document's signature is over: the format's line, then the document's bytes."""
    return export_format.encode() + b"\n"


#: Version 1, or version 2 with the read log's head after it (which an export does not use:
#: its proofs are into the event positions).
_SEAL_LINE = re.compile(
    r"^rodedraad-seal/(?:1 (\d+) (\d+) (\d+) (\d+) ([0-9a-f]{64}) (\S+)"
    r"|2 (\d+) (\d+) (\d+) (\d+) ([0-9a-f]{64}) (\S+) \d+ [0-9a-f]{64} \S+)$",
)

#: A field's status in the export.
DISCLOSED = "disclosed"  # plaintext and salt shipped, checked against the commitment
WITHHELD = "withheld"  # a contact detail the export was not asked for
ERASED = "erased"  # the client was erased: no key, no plaintext, no salt
UNCOMMITTED = "uncommitted"  # stored before commitments: the plaintext cannot be checked


class AuditExportRefused(OperatorError):
    """The record does not verify, so no export is made; the message says where."""


class ExportedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event as the chain hashes it, with its chain entries and inclusion proof."""

    position: int
    originator_id: UUID
    version: int
    #: ``None`` (with ``state``): an event of the client's about another trajectory (a consent
    #: to continue that one, its revocation), which the auditor of this one does not read: only
    #: its place in the record and its chain entry, proved in a seal, are in the export.
    topic: str | None
    #: The stored state, base64 in the JSON: the bytes the chain hashes.
    state: bytes | None
    #: The chain entry of the log position before this one (hex), and this one's.
    previous_hash: str
    chain_hash: str
    #: Into seal ``proof.seal``; None: committed after the export's seal.
    proof: InclusionProof | None


class ExportedSeal(msgspec.Struct, frozen=True, kw_only=True):
    """A seal as signed: its line and its Ed25519 signature (base64)."""

    number: int
    line: str
    signature: str
    key_id: str


class ExportedField(msgspec.Struct, frozen=True, kw_only=True):
    """One sealed personal field of one event: plaintext (the field's JSON as sealed) and salt
    when ``disclosed``; the commitment as in the event's stored bytes."""

    position: int
    originator_id: UUID
    version: int
    path: str
    status: str
    commitment: str | None
    plaintext: bytes | None = None
    salt: bytes | None = None


class AuditExport(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    trajectory_id: UUID
    client_id: UUID
    exported_at: datetime
    #: The auditor: user and organisation.
    exported_by: str
    include_contact: bool
    events: list[ExportedEvent]
    seals: list[ExportedSeal]
    fields: list[ExportedField]
    #: The views as the system reads the events: ``GET .../agreements`` and each ``as-of``
    #: asked. Derived, not evidence: the verifier checks the events they rest on and that the
    #: document is the one signed, not the reading itself.
    agreements: Any = None
    as_of: list[Any] = []


class SignedExport(msgspec.Struct, frozen=True, kw_only=True):
    """What is sealed to the auditor: the document's exact bytes and the deployment's
    signature over ``FORMAT`` + newline + those bytes."""

    format: str
    key_id: str
    signature: str
    document: msgspec.Raw


@dataclass(frozen=True, slots=True)
class Evidence:
    events: list[ExportedEvent]
    seals: list[ExportedSeal]
    fields: list[ExportedField]


def about_another_trajectory(events: Sequence[tuple[str, bytes]], trajectory_id: UUID) -> set[int]:
    """The indexes of the client's events (``(topic, stored state)`` in version order) that
    are about another trajectory than ``trajectory_id``: a consent to continue another one
    (``ConsentGranted`` naming its ``trajectory_id``) and its end (revoked, or ended by the
    client's erasure). The auditor of this
    trajectory reads neither (the as-of answers and the agreements leave them out): they would
    tell where else the client is in care, and with whom."""
    other: set[str] = set()
    found: set[int] = set()
    for index, (topic, state) in enumerate(events):
        try:
            kind = resolve_topic(topic)
        except TopicError:
            continue  # (changed past the application: the chain check refuses the export)
        if not isinstance(kind, type) or not issubclass(
            kind, Client.ConsentGranted | Client.ConsentRevoked | Client.ConsentEndedByErasure
        ):
            continue
        try:
            fields = msgspec.json.decode(state)
        except msgspec.DecodeError:
            fields = None
        if not isinstance(fields, dict):
            # A state encrypted or compressed whole cannot say which trajectory the consent is
            # about: withheld (the auditor's own views show the consents about this one).
            found.add(index)
            continue
        consent = str(fields.get("consent_id"))
        if issubclass(kind, Client.ConsentGranted):
            named = fields.get("trajectory_id")
            if named is not None and str(named) != str(trajectory_id):
                other.add(consent)
        if consent in other:
            found.add(index)
    return found


def _seal(seal: Seal) -> ExportedSeal:
    return ExportedSeal(
        number=seal.number,
        line=seal.payload().decode(),
        signature=encode_signature(seal.signature),
        key_id=seal.key_id,
    )


def _status(f: CommittedField, contact: bool, include_contact: bool) -> str:
    if contact and not include_contact:
        return WITHHELD
    if f.plaintext is None:
        return ERASED
    return DISCLOSED if f.commitment is not None else UNCOMMITTED


class AuditExports:
    """Makes audit exports from the event store (both backends), signed with the deployment's
    key (``signing_key``: loaded on each export; raises ``SigningKeyError`` when missing)."""

    def __init__(
        self,
        care_record: CareRecord,
        signing_key: Callable[[], SigningKey],
        read_log: AccessLog | None = None,
    ) -> None:
        self._record = care_record
        self._signing_key = signing_key
        #: The seal taken on demand signs its head too (version 2 seals).
        self._read_log = read_log

    def evidence(
        self,
        aggregate_ids: Sequence[UUID],
        *,
        include_contact: bool,
        now: datetime,
        about: UUID | None = None,
    ) -> Evidence:
        """Seal on demand, then each aggregate's events with their chain entries and proofs,
        the seals the proofs lead to, and the sealed fields. ``about``: the trajectory the
        export is about; a consent of the client's to continue another trajectory, and its
        revocation, are withheld (:func:`about_another_trajectory`)."""
        key = self._signing_key()
        recorder = self._record.recorder
        seals = Seals(recorder, self._read_log)
        try:
            seals.take(key, now)
        except SealRefused as refused:
            raise AuditExportRefused(f"{refused.message} — no export is made") from None
        chain = EventChain(recorder)
        events: list[ExportedEvent] = []
        contact: dict[tuple[UUID, int], tuple[str, ...]] = {}
        for aggregate in aggregate_ids:
            try:
                linked = chain.aggregate_links(aggregate)
            except ChainBroken as broken:
                raise AuditExportRefused(
                    f"the record does not verify {broken}; run `rodedraad audit verify` — no "
                    "export is made"
                ) from None
            proved = seals.prove_aggregate([e.position for e in linked], key.public)
            if proved.mismatch is not None:
                m = proved.mismatch
                raise AuditExportRefused(
                    f"the record does not verify at seal {m.seal} (position {m.position}): "
                    f"{m.reason}; run `rodedraad audit verify` — no export is made"
                )
            proofs = {p.position: p for p in proved.proofs}
            withheld = (
                about_another_trajectory([(e.topic, e.state) for e in linked], about)
                if about is not None and aggregate != about
                else set()
            )
            for index, e in enumerate(linked):
                if e.chain_hash is None or not e.links():
                    raise AuditExportRefused(
                        f"the record does not verify at position {e.position}: its event does "
                        "not match the chain; run `rodedraad audit verify` — no export is made"
                    )
                shown = index not in withheld
                if not shown and e.position not in proofs:
                    break  # (committed after the seal: left out with what follows it)
                events.append(
                    ExportedEvent(
                        position=e.position,
                        originator_id=aggregate,
                        version=e.version,
                        topic=e.topic if shown else None,
                        state=e.state if shown else None,
                        previous_hash=e.previous.hex(),
                        chain_hash=e.chain_hash.hex(),
                        proof=proofs.get(e.position),
                    )
                )
                if shown:
                    contact[(aggregate, e.version)] = getattr(
                        resolve_topic(e.topic), "contact_fields", ()
                    )
        used = {e.proof.seal for e in events if e.proof is not None}
        fields = [
            ExportedField(
                position=f.position,
                originator_id=f.originator_id,
                version=f.version,
                path=f.path,
                status=(
                    status := _status(
                        f, f.path in contact.get((f.originator_id, f.version), ()), include_contact
                    )
                ),
                commitment=f.commitment,
                plaintext=f.plaintext if status in (DISCLOSED, UNCOMMITTED) else None,
                salt=f.salt if status == DISCLOSED else None,
            )
            for f in committed_fields(self._record, aggregate_ids)
            # an event committed after its aggregate's events were read is not in the export
            if (f.originator_id, f.version) in contact
        ]
        return Evidence(
            events=events,
            seals=[_seal(s) for s in seals.all() if s.number in used],
            fields=fields,
        )

    def finish(self, document: AuditExport, recipient: X25519PublicKey) -> bytes:
        """The document signed with the deployment's key, sealed to ``recipient``."""
        key = self._signing_key()
        body = msgspec.json.encode(document)
        signed = SignedExport(
            format=FORMAT,
            key_id=key.key_id,
            signature=encode_signature(key.sign(_signed_prefix(FORMAT) + body)),
            document=msgspec.Raw(body),
        )
        log.info(
            "audit export made",
            trajectory_id=str(document.trajectory_id),
            events=len(document.events),
            seals=len(document.seals),
            include_contact=document.include_contact,
            key_id=key.key_id,
        )
        return encrypt_to(recipient, msgspec.json.encode(signed))


# --- verifying, offline ---------------------------------------------------------------------


@dataclass(slots=True)
class ExportCheck:
    """The first thing that does not hold (None: everything holds), and what was checked."""

    failure: str | None = None
    lines: list[str] = field(default_factory=list)


class _Failed(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def open_export(data: bytes, identity: X25519PrivateKey | None) -> bytes:
    """The signed export's JSON: decrypted with ``identity`` when sealed (``SealedFileError``
    when it does not open, or no identity was given for a sealed file)."""
    if not is_sealed(data):
        return data
    if identity is None:
        raise SealedFileError(
            "the export is encrypted; give the private key it was encrypted to (--identity)"
        )
    return decrypt_with(identity, data)


@dataclass(frozen=True, slots=True)
class _SealHeld:
    after: int
    last: int
    entries: int
    root: bytes


def verify_export(signed_json: bytes, public: PublicKey) -> ExportCheck:
    """Check an export against the deployment's public key ``public`` (never the file's own):
    every seal's signature; each event's chain link, its versions without a gap, its inclusion
    proof into its seal's root; each disclosed field's plaintext and salt against the
    commitment inside its event's stored bytes; then the document's own signature."""
    check = ExportCheck()
    try:
        _verify(signed_json, public, check)
    except _Failed as failed:
        check.failure = failed.why
    return check


def _verify(signed_json: bytes, public: PublicKey, check: ExportCheck) -> None:
    try:
        signed = msgspec.json.decode(signed_json, type=SignedExport)
        if signed.format not in READ_FORMATS:
            raise _Failed(
                f"the file is a {signed.format[:80]!r}, not a {' or '.join(READ_FORMATS)}: "
                "made by another program, or by a later version of Rode Draad"
            )
        doc = msgspec.json.decode(signed.document, type=AuditExport)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise _Failed(f"the file is not an audit export of Rode Draad ({e})") from None
    held = _check_seals(doc.seals, public)
    check.lines.append(f"seals: {len(held)} signature(s) hold against key {public.key_id}")
    states = _check_events(doc, held, check)
    _check_fields(doc, states, check)
    signature = decode_signature(signed.signature)
    signed_bytes = _signed_prefix(signed.format) + bytes(signed.document)
    if signature is None or not public.verify(signed_bytes, signature):
        raise _Failed(
            f"the export's own signature does not match key {public.key_id}: the file was "
            "changed after it was made (an event left out, a view or a field's status altered), "
            "or it was made by another deployment"
        )
    check.lines.append(f"the export's signature holds (key {public.key_id})")
    check.lines.append(
        "not checked: the agreements view and the as-of answers are the system's reading of the "
        "events above, signed with them but not recomputed here"
    )


def _check_seals(seals: list[ExportedSeal], public: PublicKey) -> dict[int, _SealHeld]:
    held: dict[int, _SealHeld] = {}
    for s in seals:
        signature = decode_signature(s.signature)
        if signature is None or not public.verify(s.line.encode(), signature):
            raise _Failed(
                f"seal {s.number}: its signature does not match key {public.key_id}: the seal "
                "was rewritten, or the key given is not the deployment's that made the export"
            )
        match = _SEAL_LINE.match(s.line)
        fields = [g for g in match.groups() if g is not None] if match else []
        if not fields or int(fields[0]) != s.number:
            raise _Failed(f"seal {s.number}: its signed line is not a seal line of this number")
        after, last, entries = (int(fields[i]) for i in (1, 2, 3))
        held[s.number] = _SealHeld(after, last, entries, bytes.fromhex(fields[4]))
    return held


def _check_events(
    doc: AuditExport, held: dict[int, _SealHeld], check: ExportCheck
) -> dict[tuple[UUID, int], dict[str, Any]]:
    """Each event's link, proof and versions; their decoded stored states, for the fields."""
    versions: dict[UUID, list[int]] = {}
    states: dict[tuple[UUID, int], dict[str, Any]] = {}
    unsealed = withheld = 0
    for e in doc.events:
        name = f"event {e.originator_id} v{e.version} (position {e.position})"
        try:
            previous, chained = bytes.fromhex(e.previous_hash), bytes.fromhex(e.chain_hash)
        except ValueError:
            raise _Failed(f"{name}: its chain entries are not hex") from None
        if e.topic is None or e.state is None:
            # An event about another trajectory: no content to hash, so its chain entry must
            # be proved in a signed seal, or the export could have put anything in its place.
            if e.topic is not None or e.state is not None or e.originator_id != doc.client_id:
                raise _Failed(f"{name}: withheld in part, or not one of the client's")
            if e.proof is None:
                raise _Failed(f"{name}: withheld, and not proved in a signed seal")
            withheld += 1
        elif link(previous, e.position, e.originator_id, e.version, e.topic, e.state) != chained:
            raise _Failed(
                f"{name}: its stored bytes do not hash to its chain entry: the event (or the "
                "chain entry shipped with it) was changed"
            )
        if e.proof is None:
            unsealed += 1
        else:
            p = e.proof
            seal = held.get(p.seal)
            if p.position != e.position or p.chain_hash != e.chain_hash:
                raise _Failed(f"{name}: its inclusion proof is about another chain entry")
            if seal is None:
                raise _Failed(f"{name}: its proof names seal {p.seal}, which the export lacks")
            if not seal.after < e.position <= seal.last or not p.check(seal.root, seal.entries):
                raise _Failed(
                    f"{name}: its inclusion proof does not lead to seal {p.seal}'s signed root"
                )
        versions.setdefault(e.originator_id, []).append(e.version)
        if e.state is None:
            continue
        try:
            state = msgspec.json.decode(e.state)
        except msgspec.DecodeError:
            state = {}
        states[(e.originator_id, e.version)] = state if isinstance(state, dict) else {}
    for aggregate in (doc.trajectory_id, doc.client_id):
        if aggregate not in versions:
            raise _Failed(f"the export holds no event of {aggregate}")
    for aggregate, found in versions.items():
        for expected, version in enumerate(sorted(found), 1):
            if version != expected:
                raise _Failed(
                    f"{aggregate}: version {expected} is missing (v{version} follows "
                    f"v{expected - 1}): an event was left out of the export"
                )
    check.lines.append(
        f"events: {len(doc.events)} link to their chain entries ({len(versions)} aggregate(s), "
        f"versions without a gap); {len(doc.events) - unsealed} proved included in a signed "
        f"seal, {unsealed} not sealed when exported; {withheld} of the client's about another "
        "trajectory, withheld: only their chain entries"
    )
    return states


def _check_fields(
    doc: AuditExport, states: dict[tuple[UUID, int], dict[str, Any]], check: ExportCheck
) -> None:
    counts = dict.fromkeys((DISCLOSED, WITHHELD, ERASED, UNCOMMITTED), 0)
    listed: set[tuple[UUID, int, str]] = set()
    for f in doc.fields:
        name = f"field {f.path} of event {f.originator_id} v{f.version}"
        state = states.get((f.originator_id, f.version))
        if state is None:
            raise _Failed(f"{name}: the export holds no such event")
        stored = (state.get("_commitments") or {}).get(f.path)
        if f.commitment != stored:
            raise _Failed(f"{name}: its commitment is not the one in the event's stored bytes")
        if f.status == DISCLOSED:
            if stored is None or f.plaintext is None or f.salt is None:
                raise _Failed(f"{name}: disclosed without plaintext, salt or commitment")
            if not matches(f.plaintext, f.salt, stored):
                raise _Failed(
                    f"{name}: its plaintext and salt do not match the commitment in the chained "
                    "event: the plaintext (or salt) was changed"
                )
        elif f.status not in counts:
            raise _Failed(f"{name}: unknown status {f.status!r}")
        counts[f.status] += 1
        listed.add((f.originator_id, f.version, f.path))
    for (aggregate, version), state in states.items():
        for path in state.get("_commitments") or {}:
            if (aggregate, version, path) not in listed:
                raise _Failed(
                    f"field {path} of event {aggregate} v{version}: committed in the event, "
                    "missing from the export's fields"
                )
    check.lines.append(
        f"personal fields: {counts[DISCLOSED]} plaintext(s) match their chained commitment; "
        f"{counts[WITHHELD]} withheld (contact details not asked for), {counts[ERASED]} erased, "
        f"{counts[UNCOMMITTED]} stored before commitments (not checkable)"
    )
