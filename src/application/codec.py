"""msgspec encoding of stored events (eventsourcing 9.5 ships only a stdlib JSON transcoder),
with personal data sealed per client (crypto-shredding).

Events are encoded as compact JSON by msgspec. Decoding is typed: each event class gets a msgspec
Struct built once from its dataclass fields, so UUIDs, dates, enums and nested Structs come back
as themselves without the type tags of eventsourcing's ``JSONTranscoder``. An event class with
``class_version > 1`` is decoded untyped first, upcast by its ``upcast_vN_vN+1`` methods, then
converted to the typed Struct.

Sealing: an event class names its ``personal_fields``. Their values are encrypted (AES-GCM) with
the key of the event's aggregate, which belongs to the client, and stored in ``_sealed``; the
plain fields hold placeholders (``"[erased]"``, empty tuples). Decoding with the key restores
the values; once the client's keys are destroyed the placeholders are what anyone reads, while
every other field (who, when, which party, which kind) stays as it was.

Commitments (issue #16): each sealed field (each path of ``personal_fields``) also carries, in
the clear, ``C = SHA-256(salt ‖ plaintext)`` in ``_commitments``, where the plaintext is the
field's JSON exactly as sealed and the salt is 16 random bytes sealed with it (``_salts`` inside
the sealed document). The commitment is part of the stored bytes, so the event chain covers
it; after an erasure the salt is gone with the key, and the commitment reveals nothing. Events
stored before commitments have neither and load as before (``application.commitments``).
"""

import base64
import copy
import dataclasses
import typing
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import CanInitAggregate, DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    Notification,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import TopicError, get_topic, resolve_topic

from application.commitments import commitment, new_salt
from application.keys import KeyStore
from application.sealing import SealBroken, seal_text, unseal_text
from application.uuid_text import uuid_text
from domain.common import ERASED
from domain.record import UNOPENED, Record

#: Looked up once, not per event (``MsgspecMapper.decode_shut``).
_new = object.__new__
_asdict = msgspec.structs.asdict


_ENVELOPE = frozenset({"originator_id", "originator_version"})

_SEALED = "_sealed"
_COMMITMENTS = "_commitments"
#: Inside the sealed document: each path's salt (base64). Paths never start with ``_``.
_SALTS = "_salts"


class PersonalDataErased(Exception):
    """Personal data cannot be written for a subject whose keys were destroyed."""


class MsgspecTranscoder(Transcoder):
    """Untyped msgspec JSON: the fallback path, and what ``Mapper`` requires to exist."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        return msgspec.json.decode(data)


_STRUCTS: dict[type[Any], type[msgspec.Struct]] = {}
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def state_struct(event_class: type[Any]) -> type[msgspec.Struct]:
    """A msgspec Struct with the stored fields of ``event_class`` (all but the envelope)."""
    if event_class in _STRUCTS:
        return _STRUCTS[event_class]
    hints = typing.get_type_hints(event_class)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (f.name, hints.get(f.name, Any))
        if f.default is dataclasses.MISSING
        # A field added later with a default (issue #19: ``visible_to_client``): events
        # stored before it decode with the default.
        else (f.name, hints.get(f.name, Any), f.default)
        for f in dataclasses.fields(event_class)
        if f.name not in _ENVELOPE
    ]
    if _personal_paths(event_class):
        fields.append((_SEALED, str | None, None))
        fields.append((_COMMITMENTS, dict[str, str] | None, None))
    struct = msgspec.defstruct(f"{event_class.__qualname__}State", fields, kw_only=True)
    _STRUCTS[event_class] = struct
    return struct


def _decoder(event_class: type[Any]) -> msgspec.json.Decoder[Any]:
    decoder = _DECODERS.get(event_class)
    if decoder is None:
        decoder = _DECODERS[event_class] = msgspec.json.Decoder(state_struct(event_class))
    return decoder


class MsgspecMapper(Mapper[UUID]):
    """Maps domain events to stored events and back with msgspec (see module docstring)."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder=transcoder, compressor=compressor, cipher=cipher)
        #: Per topic, what ``decode_shut`` needs to decode its events (``_plan``).
        self._plans: dict[str, tuple[type[Any], Any, bool]] = {}

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def to_domain_event(
        self, stored_event: StoredEvent, *, shut: bool = False
    ) -> DomainEventProtocol[UUID]:
        """The stored event decoded; with ``shut``, its sealed personal fields are left shut
        and opened on their first read (``Record.Event.__getattr__``)."""
        try:
            cls = resolve_topic(stored_event.topic)
            if not isinstance(cls, type):
                raise TopicError(stored_event.topic)
        except TopicError as e:  # a topic changed past the application
            raise MapperDeserialisationError(
                f"the topic of stored event {stored_event.originator_id!s} "
                f"v{stored_event.originator_version} names no event class"
            ) from e
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = self._decode_state(cls, data)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
            msg = (
                f"Failed to decode stored event with topic {stored_event.topic!r}, "
                f"originator_id {stored_event.originator_id!s} and "
                f"originator_version {stored_event.originator_version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e
        originator_id = stored_event.originator_id
        state["originator_id"] = (
            originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        )
        state["originator_version"] = stored_event.originator_version
        sealed = state.pop(_SEALED, None)
        state.pop(_COMMITMENTS, None)
        if sealed:
            if shut and _opens_on_read(cls):
                self._shut(cls, state, sealed, state["originator_id"])
            else:
                self._open(cls, state, sealed, state["originator_id"])
        domain_event: DomainEventProtocol[UUID] = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def decode_shut(
        self, stored_events: Sequence[Notification], interned: dict[Any, UUID] | None = None
    ) -> list[tuple[int, Any]]:
        """(position, domain event) of each notification, each as ``to_domain_event`` with
        ``shut`` decodes it, in one loop: what a rebuild decodes the log with. The per-event
        steps (the topic's class, its decoder, whether it opens on read) are looked up once per
        topic instead of once per event, and no call is made per event but the decoder's: the
        calls and look-ups were a third of decoding's CPU, decoding a fifth of a rebuild's
        (issue #22). Events of a class with upcasters, and a mapper with a cipher or a
        compressor, take ``to_domain_event`` itself.

        ``interned`` (a record's id, as stored → its ``UUID``; the caller's, kept across calls)
        gives the events of one record one id instance: a projection's dicts of records then
        find it by identity, where two equal instances cost a call of ``UUID.__eq__`` (Python)
        per look-up, and each string id is parsed once. It also tells the caller which records
        the events belong to."""
        if interned is None:
            interned = {}
        plans = self._plans
        whole = bool(self.cipher or self.compressor)
        decoded: list[tuple[int, Any]] = []
        for n in stored_events:
            stored_id: Any = n.originator_id
            # The key: a UUID's int (a C hash; a UUID's own is Python), else the string.
            is_uuid = type(stored_id) is UUID
            key = stored_id.int if is_uuid else stored_id
            originator_id = interned.get(key)
            if originator_id is None:
                originator_id = interned[key] = stored_id if is_uuid else UUID(str(stored_id))
            plan = plans.get(n.topic)
            if plan is None:
                plan = plans[n.topic] = self._plan(n.topic)
            cls, decode, shut_on_read = plan
            if decode is None or whole:
                state = None
            else:
                try:
                    state = _asdict(decode(n.state))
                except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                    state = None  # decoded again below, which raises as it does
            if state is None:
                event = self.to_domain_event(n, shut=True)
                event.__dict__["originator_id"] = originator_id
                decoded.append((n.id, event))
                continue
            state["originator_id"] = originator_id
            state["originator_version"] = n.originator_version
            if _SEALED in state:
                sealed = state.pop(_SEALED)
                del state[_COMMITMENTS]
                if sealed:
                    if shut_on_read:
                        self._shut(cls, state, sealed, originator_id)
                    else:
                        self._open(cls, state, sealed, originator_id)
            event = _new(cls)
            object.__setattr__(event, "__dict__", state)
            if state.get("erased_subjects"):
                self._decoded_erasure(state["erased_subjects"])
            decoded.append((n.id, event))
        return decoded

    def _plan(self, topic: str) -> tuple[type[Any], Any, bool]:
        """For ``decode_shut``: the topic's class, its decoder's ``decode`` (None for a class
        with upcasters) and whether its sealed fields stay shut until read."""
        cls = resolve_topic(topic)
        typed = getattr(cls, "class_version", 1) == 1
        return cls, _decoder(cls).decode if typed else None, _opens_on_read(cls)

    def _decoded_erasure(self, subjects: Sequence[UUID]) -> None:
        """An event naming erased subjects was decoded (no keys here: nothing to forget)."""

    def _open(self, cls: type[Any], state: dict[str, Any], sealed: str, subject: UUID) -> None:
        """Without keys, sealed personal fields keep their placeholders."""

    def _shut(self, cls: type[Any], state: dict[str, Any], sealed: str, subject: UUID) -> None:
        """Without keys there is nothing to open later: the placeholders stay."""

    @staticmethod
    def _decode_state(cls: type[Any], data: bytes) -> dict[str, Any]:
        class_version = getattr(cls, "class_version", 1)
        if class_version == 1:
            return msgspec.structs.asdict(_decoder(cls).decode(data))
        raw: dict[str, Any] = msgspec.json.decode(data)
        from_version = raw.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(raw)
            from_version += 1
        typed = msgspec.convert(raw, state_struct(cls), strict=False)
        return msgspec.structs.asdict(typed)


class Unopened:
    """The sealed fields of one event, not opened yet: what ``Record.Event.__getattr__``
    asks to open on the first read of one of ``withheld``."""

    __slots__ = ("cls", "mapper", "sealed", "subject", "withheld")

    def __init__(
        self,
        mapper: "SealingMapper",
        cls: type[Any],
        sealed: str,
        subject: UUID,
        withheld: dict[str, Any],
    ) -> None:
        self.mapper = mapper
        self.cls = cls
        self.sealed = sealed
        self.subject = subject
        #: Each personal path's field as stored (placeholders, or items whose sub-field is).
        self.withheld = withheld

    def opened(self) -> dict[str, Any]:
        """The withheld fields opened, with the subject's key as it is now (none if erased
        meanwhile: the placeholders are all there is), for the event to take in one step.

        Opened into copies: the items ``in_the_clear`` handed out keep their placeholders, and
        when opening fails (a broken seal, the key store gone) nothing of the event changes, so
        the event never reads as erased because of a failure. An ``AttributeError`` from
        opening is turned into a ``RuntimeError``: raised from ``__getattr__`` it would read as
        "no such field" (``hasattr``, ``getattr`` with a default)."""
        state = {name: _copied_items(value) for name, value in self.withheld.items()}
        try:
            self.mapper._open(self.cls, state, self.sealed, self.subject)
        except AttributeError as e:
            raise RuntimeError(f"the sealed fields of a {self.cls.__name__} did not open") from e
        return state


def _copied_items(value: Any) -> Any:
    """A field whose items are Structs (a sealed sub-field is opened into them in place) with
    each item copied; any other value as it is (opening replaces it whole)."""
    if isinstance(value, tuple | list) and any(isinstance(i, msgspec.Struct) for i in value):
        return type(value)(copy.copy(item) for item in value)
    return value


def in_the_clear(event: Any, name: str) -> Any:
    """Field ``name`` of ``event`` without opening its sealed fields: for a field whose items
    have a sealed sub-field (``participants[].person_ref``), the items with that sub-field as
    stored in the clear (a placeholder), also after the event opened them (it opens copies).
    For a reader of the items' other fields only (the timeline takes each participant's
    organisation): it never sees the sealed sub-field."""
    unopened = event.__dict__.get(UNOPENED)
    if unopened is not None and name in unopened.withheld:
        return unopened.withheld[name]
    return getattr(event, name)


_OPENS_ON_READ: dict[type[Any], bool] = {}
_WITHHELD: dict[type[Any], tuple[str, ...]] = {}


def _opens_on_read(cls: type[Any]) -> bool:
    """Whether events of ``cls`` can be decoded with their sealed fields shut: those of the
    record's aggregates (``Record.Event.__getattr__`` opens them), but not the one that
    creates an aggregate (eventsourcing makes the aggregate from all of its fields at once)."""
    found = _OPENS_ON_READ.get(cls)
    if found is None:
        found = _OPENS_ON_READ[cls] = issubclass(cls, Record.Event) and not issubclass(
            cls, CanInitAggregate
        )
    return found


def _withheld_names(cls: type[Any]) -> tuple[str, ...]:
    """The fields of ``cls`` its personal paths are in (``participants`` for
    ``participants[].person_ref``)."""
    found = _WITHHELD.get(cls)
    if found is None:
        paths = _personal_paths(cls)
        found = _WITHHELD[cls] = tuple(dict.fromkeys(p.partition("[].")[0] for p in paths))
    return found


def _personal_paths(event_class: type[Any]) -> tuple[str, ...]:
    if issubclass(event_class, Snapshot):
        return ("state",)
    paths: tuple[str, ...] = getattr(event_class, "personal_fields", ())
    return paths


def _placeholder(value: Any) -> Any:
    """What stays readable of a personal value: its shape, not its content."""
    if isinstance(value, str):
        return ERASED
    if isinstance(value, (tuple, list)):
        return ()
    if isinstance(value, dict):
        return {}
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(
            value,
            **{
                f: ERASED if isinstance(getattr(value, f), str) else getattr(value, f)
                for f in value.__struct_fields__
            },
        )
    return value


def _committed(sealed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The document to seal (each path's JSON, and its salt under ``_salts``) and the
    commitments to store in the clear."""
    document: dict[str, Any] = {}
    salts: dict[str, str] = {}
    commitments: dict[str, str] = {}
    for path, value in sealed.items():
        raw = msgspec.json.encode(value)
        salt = new_salt()
        document[path] = msgspec.Raw(raw)
        salts[path] = base64.b64encode(salt).decode()
        commitments[path] = commitment(salt, raw)
    document[_SALTS] = salts
    return document, commitments


_RAW_DOCUMENT = msgspec.json.Decoder(dict[str, msgspec.Raw])


def opened(plaintext: bytes) -> tuple[dict[str, msgspec.Raw], dict[str, bytes]]:
    """A sealed document, opened: each path's JSON exactly as committed, and each path's salt
    (none for an event stored before commitments)."""
    raws = msgspec.json.decode(plaintext, type=dict[str, msgspec.Raw])
    salts = raws.pop(_SALTS, None)
    decoded = {} if salts is None else msgspec.json.decode(salts, type=dict[str, str])
    return raws, {path: base64.b64decode(salt) for path, salt in decoded.items()}


class SealingMapper(MsgspecMapper):
    """``MsgspecMapper`` that seals each event's personal fields with its subject's key."""

    def __init__(
        self,
        transcoder: Transcoder,
        keys: KeyStore,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder=transcoder, compressor=compressor, cipher=cipher)
        self.keys = keys
        self._types: dict[type[Any], dict[str, Any]] = {}
        self._decoders: dict[type[Any], dict[str, tuple[str, str, Any]]] = {}

    # --- encoding -------------------------------------------------------------------------------

    def _key_for_writing(self, event: Any) -> bytes:
        """The subject's key; an aggregate's first event names the client whose key it gets
        (``key_owner``), any later event finds it made, or erased."""
        subject: UUID = event.originator_id
        owner = getattr(event, "key_owner", None)
        if owner is not None and event.originator_version == 1:
            # A new subject: made at once, without first reading that it has no key (a round
            # trip, issue #22); ``create`` keeps a key the subject has already.
            known, key = self.keys.cached_key(subject)
            return key if known and key is not None else self.keys.create(subject, owner())
        key = self.keys.key_for(subject)
        if key is None:
            raise PersonalDataErased(
                f"the personal data of {subject} was erased; nothing personal can be added"
            )
        return key

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        paths = _personal_paths(type(domain_event))
        if not paths:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        sealed: dict[str, Any] = {}
        for path in paths:
            name, _, sub = path.partition("[].")
            value = state[name]
            if sub:
                sealed[path] = [getattr(item, sub) for item in value]
                state[name] = tuple(
                    msgspec.structs.replace(item, **{sub: _placeholder(getattr(item, sub))})
                    for item in value
                )
            else:
                sealed[path] = value
                state[name] = None if value is None else _placeholder(value)
        key = self._key_for_writing(domain_event)
        aad = str(domain_event.originator_id).encode()
        document, state[_COMMITMENTS] = _committed(sealed)
        state[_SEALED] = seal_text(key, msgspec.json.encode(document), aad)
        proxy = object.__new__(type(domain_event))
        object.__setattr__(proxy, "__dict__", state)
        return super().to_stored_event(proxy)

    # --- decoding -------------------------------------------------------------------------------

    def to_domain_event(
        self, stored_event: StoredEvent, *, shut: bool = False
    ) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event, shut=shut)
        # A field, so in the event's ``__dict__`` when it has one (``getattr`` with a default
        # raised and caught an ``AttributeError`` for every other event: ≈ 5 % of a rebuild).
        evicted = event.__dict__.get("erased_subjects")
        if evicted:
            self._decoded_erasure(evicted)
        return event

    def _decoded_erasure(self, subjects: Sequence[UUID]) -> None:
        """Another process erased a client: forget its keys here too."""
        self.keys.forget(list(subjects))

    def _open(self, cls: type[Any], state: dict[str, Any], sealed: str, subject: UUID) -> None:
        key = self.keys.key_for(subject)
        if key is None:
            return  # erased: the placeholders are all there is
        try:
            plaintext = unseal_text(key, sealed, uuid_text(subject).encode())
        except SealBroken as e:
            raise MapperDeserialisationError(f"sealed data of {subject} does not open") from e
        # Straight into each path's type (no intermediate objects, no salts: they prove
        # commitments, which decoding does not need): the log is decoded on every rebuild.
        raws = _RAW_DOCUMENT.decode(plaintext)
        raws.pop(_SALTS, None)
        decoders = self._path_decoders(cls)
        for path, raw in raws.items():
            name, sub, decoder = decoders[path]
            if sub:
                # The items were decoded from this event's JSON a moment ago and nothing else
                # holds them yet: each takes its value in place, no copy of it is made (a copy
                # per item was a twentieth of a rebuild's CPU, issue #22). So an upcaster must
                # never put a shared Struct instance into a state (``msgspec.convert`` hands a
                # Struct through as it is): it would be changed here in place.
                items = state[name]
                for item, v in zip(items, decoder.decode(raw), strict=True):
                    msgspec.structs.force_setattr(item, sub, v)
                state[name] = tuple(items)
            else:
                state[name] = decoder.decode(raw)

    def _shut(self, cls: type[Any], state: dict[str, Any], sealed: str, subject: UUID) -> None:
        """The fields of ``cls``'s personal paths taken out of ``state`` (as stored: their
        placeholders, or the items whose sub-field is sealed) and held, with the sealed
        document, by an ``Unopened`` under ``_unopened``: the event opens them when one is
        first read (``domain.record.Record.Event.__getattr__``)."""
        withheld = {name: state.pop(name) for name in _withheld_names(cls)}
        state[UNOPENED] = Unopened(self, cls, sealed, subject, withheld)

    def _path_decoders(self, cls: type[Any]) -> dict[str, tuple[str, str, Any]]:
        """Per personal path of ``cls``: (field, sub-field of its items or "", a lax decoder
        of the path's JSON: a list of the sub-field's values for a sub-field)."""
        found = self._decoders.get(cls)
        if found is None:
            found = {}
            for path, kind in self._path_types(cls).items():
                name, _, sub = path.partition("[].")
                typed = list[kind] if sub else kind  # type: ignore[valid-type]
                found[path] = (name, sub, msgspec.json.Decoder(typed, strict=False))
            self._decoders[cls] = found
        return found

    def _path_types(self, cls: type[Any]) -> dict[str, Any]:
        found = self._types.get(cls)
        if found is None:
            hints = typing.get_type_hints(cls)
            found = {}
            for path in _personal_paths(cls):
                name, _, sub = path.partition("[].")
                if sub:
                    item_type = typing.get_args(hints[name])[0]
                    found[path] = typing.get_type_hints(item_type)[sub]
                else:
                    found[path] = hints[name]
            self._types[cls] = found
        return found
