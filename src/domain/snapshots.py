"""Snapshots decoded back into typed aggregate state, and aggregates copied through that state.

eventsourcing's ``Snapshot`` stores an aggregate's ``__dict__``; our msgspec transcoder stores it
as plain JSON, so decoding needs the attribute types. Each aggregate names a msgspec Struct of its
attributes as ``snapshot_state`` (a test keeps it equal to what the aggregate really holds).
"""

import copy
from typing import Any, ClassVar, Self

import msgspec
from eventsourcing.domain import Snapshot
from eventsourcing.utils import resolve_topic

#: What eventsourcing's ``Aggregate`` keeps beside the state a snapshot holds.
_IDENTITY = ("_id", "_version", "_pending_events")
_encoder = msgspec.json.Encoder()


class TypedSnapshot(Snapshot):
    def mutate(self, _: None) -> Any:
        cls = resolve_topic(self.topic)
        typed = msgspec.convert(self.state, cls.snapshot_state, strict=False)
        aggregate = object.__new__(cls)
        aggregate.__dict__.update(msgspec.structs.asdict(typed))
        aggregate.__dict__.update(
            _id=self.originator_id, _version=self.originator_version, _pending_events=[]
        )
        return aggregate


class CopiedThroughState:
    """An aggregate whose deep copy is a msgspec round trip of its ``snapshot_state``.

    eventsourcing deep-copies every aggregate it hands out of its cache, so that a command that
    fails half-way cannot corrupt the cached one; ``copy.deepcopy`` of a trajectory with a few
    dozen nested structs cost ≈ 0.5 ms per command (the largest single cost of the command path
    in the profile). Encoding to JSON and decoding into the typed state does the same in tens of
    microseconds, and it is the very path snapshots take, so the copy is as faithful as a
    snapshot (the snapshot-state test covers both).
    """

    snapshot_state: ClassVar[type[msgspec.Struct]]

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        fields = dict(self.__dict__)
        identity = {name: fields.pop(name) for name in _IDENTITY}
        state = msgspec.json.decode(_encoder.encode(fields), type=self.snapshot_state)
        copied = object.__new__(type(self))
        copied.__dict__.update(msgspec.structs.asdict(state))
        copied.__dict__.update(
            _id=identity["_id"],
            _version=identity["_version"],
            _pending_events=copy.deepcopy(identity["_pending_events"], memo),
        )
        return copied
