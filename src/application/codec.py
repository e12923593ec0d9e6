"""msgspec encoding of stored events (eventsourcing 9.5 ships only a stdlib JSON transcoder).

Events are encoded as compact JSON by msgspec. Decoding is typed: each event class gets a msgspec
Struct built once from its dataclass fields, so UUIDs, dates, enums and nested Structs come back
as themselves without the type tags of eventsourcing's ``JSONTranscoder``. An event class with
``class_version > 1`` is decoded untyped first, upcast by its ``upcast_vN_vN+1`` methods, then
converted to the typed Struct.
"""

import dataclasses
import typing
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

_ENVELOPE = frozenset({"originator_id", "originator_version"})


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
    fields = [
        (f.name, hints.get(f.name, Any))
        for f in dataclasses.fields(event_class)
        if f.name not in _ENVELOPE
    ]
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

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
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
        domain_event: DomainEventProtocol[UUID] = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

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
