"""Snapshots checked against the events they summarise (issue #16, third step).

Snapshots are not chained: an erasure drops them (``CareRecord.erase_client``), which a chain
over them could not survive. They are checked instead: for each stored snapshot the aggregate
is rebuilt from its chained events up to the snapshot's version, snapshotted the same way, and
both states are decoded by the application's own mapper (personal fields opened with their
subject's key) and compared. A snapshot that does not decode, whose events are not there, or
whose state differs is named with its originator and version; the events it summarises are
what the record says, and the snapshot can be dropped so the aggregate loads from them.
"""

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder

from application.care_record import CareRecord
from application.commit_times import event_store_rows
from application.event_chain import stored_bytes


@dataclass(frozen=True, slots=True)
class SnapshotMismatch:
    originator_id: UUID
    version: int
    reason: str


@dataclass(frozen=True, slots=True)
class SnapshotReport:
    checked: int
    mismatch: SnapshotMismatch | None


def _decode_failure(mapper: Any, stored: StoredEvent) -> tuple[Any, str | None]:
    try:
        return mapper.to_domain_event(stored), None
    except (MapperDeserialisationError, zlib.error) as e:
        return None, f"it does not decode ({type(e).__name__})"


class SnapshotCheck:
    """Reads the snapshots on the snapshot store's own connections and checks each one."""

    def __init__(self, care_record: CareRecord) -> None:
        self._app = care_record
        store = care_record.snapshots
        self._recorder: Any = store.recorder if store is not None else None
        self._postgres = isinstance(self._recorder, PostgresAggregateRecorder)

    def _rows(self, originator_id: UUID | None) -> Iterator[tuple[Any, ...]]:
        table = self._recorder.events_table_name
        where, params = (
            ("originator_id = ?", (self._key(originator_id),))
            if originator_id
            else (
                "1 = ?",
                (1,),
            )
        )
        keys = event_store_rows(
            self._recorder.datastore,
            self._postgres,
            f"SELECT originator_id, originator_version FROM {table} WHERE {where} "  # noqa: S608
            "ORDER BY originator_id, originator_version",
            params,
        )
        for originator, version in keys:  # one at a time: states can be large
            rows = event_store_rows(
                self._recorder.datastore,
                self._postgres,
                f"SELECT originator_id, originator_version, topic, state FROM {table} "  # noqa: S608
                "WHERE originator_id = ? AND originator_version = ?",
                (originator, version),
            )
            yield from rows

    def _key(self, originator_id: UUID) -> Any:
        return originator_id if self._postgres else originator_id.hex

    def verify(self, originator_id: UUID | None = None) -> SnapshotReport:
        """Every snapshot (or one aggregate's); the first that does not match its events."""
        if self._recorder is None:
            return SnapshotReport(checked=0, mismatch=None)
        checked = 0
        for originator, version, topic, state in self._rows(originator_id):
            aggregate_id = originator if isinstance(originator, UUID) else UUID(str(originator))
            why = self._check(
                aggregate_id, StoredEvent(aggregate_id, int(version), topic, stored_bytes(state))
            )
            if why is not None:
                return SnapshotReport(checked, SnapshotMismatch(aggregate_id, int(version), why))
            checked += 1
        return SnapshotReport(checked=checked, mismatch=None)

    def _check(self, aggregate_id: UUID, stored: StoredEvent) -> str | None:
        """Why the snapshot does not match its events; None when it does."""
        mapper = self._app.mapper
        snapshot, failure = _decode_failure(mapper, stored)
        if failure is not None:
            return failure
        events = list(self._app.events.get(aggregate_id, lte=stored.originator_version))
        aggregate: Any = project_aggregate(None, events)
        if aggregate is None or aggregate.version != stored.originator_version:
            return f"its events up to v{stored.originator_version} are not all in the log"
        rebuilt, failure = _decode_failure(
            mapper, mapper.to_stored_event(type(snapshot).take(aggregate))
        )
        if failure is not None:
            return f"the aggregate rebuilt from its events: {failure}"
        if snapshot.topic != rebuilt.topic or snapshot.state != rebuilt.state:
            return "its state differs from the aggregate rebuilt from its events"
        return None
