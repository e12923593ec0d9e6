"""Simulating deadlines without a single fact dated in the future in the live record.

Issue #11, point 9. To see what the scheduler would record next month, run it at a moment in
the future (``rodedraad scheduler run-once --now …``). On a live record that is refused: the
facts it would record (a deadline missed "on" a day that has not come) would stand in the
record for good. ``--dry-run`` lists what would fire and records nothing, anywhere, at any
moment. To record — to step through months and watch the board — make a copy for simulation:

- ``copy_for_simulation`` copies every event of a store (SQLite or PostgreSQL) up to its head
  into a new, empty embedded store, which it first *marks* as a simulation (a row in
  ``rodedraad_simulation``, made by the event store's migration ``0002_simulation_mark``): a
  copy cut off half-way is a simulation too, never mistaken for a record.
- The subject keys are copied after the events (an erasure made meanwhile holds in the copy
  too) and wrapped under a KEK of the copy's own: the copy never holds the deployment's KEK,
  so the live KEK's rotation and destruction keep protecting the live data's copies. The copy
  does hold personal data, readable with its own KEK: delete it when done.
- Not copied: snapshots (rebuilt as the copy records), the read models (rebuilt from the copied
  log when a process opens the copy), the log of personal-data reads and the idempotency keys
  (neither is needed to simulate; the fewer copies of them, the better).

A store is marked only at creation, while it holds no event: a live record cannot be turned
into a simulation.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent

from application.care_record import CareRecord
from application.errors import OperatorError
from application.keys import WrappedKeyStore
from application.migrations import SIMULATION_TABLE, Stores, open_store_databases
from application.sql import table_exists

#: Events copied per batch.
COPY_BATCH = 1000


class SimulationError(OperatorError):
    """A simulation copy cannot be made as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SimulationMark:
    marked_at: datetime
    #: The log position of the live store the copy was made up to.
    copied_up_to: int


@dataclass(frozen=True, slots=True)
class CopyReport:
    events: int
    keys: int
    copied_up_to: int


def simulation_mark(stores: Stores) -> SimulationMark | None:
    """The mark of a store made for simulation; None for a live record (or no store yet)."""
    with open_store_databases(stores, create=False, only="events") as databases:
        database = databases["events"]
        if database is None:
            return None
        with database.transaction() as tx:
            if not table_exists(tx, SIMULATION_TABLE):
                return None
            rows = tx.fetchall(f"SELECT marked_at, copied_up_to FROM {SIMULATION_TABLE}")
    if not rows:
        return None
    at, position = rows[0]
    return SimulationMark(
        at if isinstance(at, datetime) else datetime.fromisoformat(at), int(position)
    )


def copy_for_simulation(
    source: CareRecord,
    target: CareRecord,
    target_stores: Stores,
    say: Callable[[str], None] = lambda line: None,
) -> CopyReport:
    """Copy ``source``'s log and keys into ``target``, an empty embedded store that is marked
    as a simulation before its first event (see the module docstring)."""
    source_keys, target_keys = source.keys, target.keys
    if not isinstance(source_keys, WrappedKeyStore) or not isinstance(target_keys, WrappedKeyStore):
        raise TypeError("a simulation copy needs stores with wrapped keys")
    if target.recorder.max_notification_id():
        raise SimulationError(
            "the copy's store already holds events; make a copy in a new, empty directory"
        )
    head = source.recorder.max_notification_id() or 0
    _mark(target_stores, head)
    events = keys = position = 0
    last_said = 0.0
    while position < head:
        batch = source.recorder.select_notifications(
            start=position, limit=COPY_BATCH, stop=head, inclusive_of_start=False
        )
        if not batch:
            break
        target.recorder.insert_events(
            [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in batch]
        )
        position, events = batch[-1].id, events + len(batch)
        if time.monotonic() - last_said >= 1.0 or position >= head:
            say(f"{events:,} events copied, up to log position {position:,} of {head:,}")
            last_said = time.monotonic()
    for rows in source_keys.export_keys():
        keys += target_keys.import_keys(rows)
    say(f"{keys:,} subject keys copied, wrapped under the copy's own KEK")
    return CopyReport(events=events, keys=keys, copied_up_to=head)


def _mark(stores: Stores, head: int) -> None:
    with (
        open_store_databases(stores, create=False, only="events") as databases,
        databases["events"].transaction() as tx,
    ):
        now = datetime.now(UTC)
        tx.execute(
            f"INSERT INTO {SIMULATION_TABLE} (marked_at, copied_up_to) VALUES (?, ?)",
            (now.isoformat() if tx.dialect == "sqlite" else now, head),
        )
