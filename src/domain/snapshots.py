"""Snapshots decoded back into typed aggregate state.

eventsourcing's ``Snapshot`` stores an aggregate's ``__dict__``; our msgspec transcoder stores it
as plain JSON, so decoding needs the attribute types. Each aggregate names a msgspec Struct of its
attributes as ``snapshot_state`` (a test keeps it equal to what the aggregate really holds).
"""

from typing import Any

import msgspec
from eventsourcing.domain import Snapshot
from eventsourcing.utils import resolve_topic


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
