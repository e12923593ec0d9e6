"""Group commit: the events of commands that finish at the same moment share one transaction.

The event store serialises writers (PostgreSQL: an EXCLUSIVE table lock held to the commit, so
that the log's order is its commit order and no reader ever skips an event; SQLite: one writer).
One command per transaction therefore pays one lock hand-over and one commit each, and under
concurrency the commands queue for the lock. Here the commands queue for the *writer* instead:
whoever holds it records every command waiting at that moment in one ``insert_events`` call (one
lock, one commit), and the others just learn their result. With one client nothing changes; with
eight, a transaction carries several commands.

Nothing is traded for it:
- the events of one command stay together and in order; commands keep their own positions;
- a batch that the store refuses (a command lost a race on its aggregate's version, or the
  database failed) is recorded again command by command, so each command gets exactly its own
  outcome: the one that lost the race its ``IntegrityError``, the others their recording.
  Except when the store got no connection in time (``NoConnection``, an unknown outcome like
  any unavailable database): each command alone would wait as long again, under the writer
  lock, with the others queued behind it, so every command not yet recorded is told so;
- the order of the log is still the commit order, under the same lock (the proof is the
  exactly-once test of the projections under concurrent writers).
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from application.unavailable import NoConnection

log = structlog.get_logger(__name__)

#: At most this many commands in one transaction (a bound on its size and on the lock's hold).
MAX_BATCH = 64

Record = Callable[[ProcessingEvent[Any]], list[Recording[Any]]]
AfterRecord = Callable[[ProcessingEvent[Any], list[Recording[Any]]], None]


@dataclass(eq=False, slots=True)
class _Ticket:
    """One command's aggregates and, once written, its recordings or its error."""

    aggregates: Sequence[Aggregate]
    events: list[Any] = field(default_factory=list)
    recordings: list[Recording[Any]] | None = None
    error: BaseException | None = None
    done: bool = False


def _processing_event(tickets: Sequence[_Ticket]) -> ProcessingEvent[Any]:
    """The commands' events and aggregates, as eventsourcing records them in one transaction."""
    processing = ProcessingEvent[Any]()
    for ticket in tickets:
        processing.events.extend(ticket.events)
        processing.aggregates.update({a.id: a for a in ticket.aggregates})
    return processing


class GroupCommit:
    """Records commands' pending events, several commands per transaction when they coincide.

    ``record`` writes one ``ProcessingEvent`` in one transaction (the application's ``_record``);
    ``after`` runs once per written batch (snapshots, notifying the projection worker).
    """

    def __init__(self, record: Record, after: AfterRecord, max_batch: int = MAX_BATCH) -> None:
        self._record = record
        self._after = after
        self._max_batch = max_batch
        self._waiting: list[_Ticket] = []
        self._waiting_lock = threading.Lock()
        self._writer = threading.Lock()
        #: Transactions written and commands they carried (for /health and the benchmarks).
        self.batches = 0
        self.commands = 0

    def save(self, *aggregates: Aggregate) -> list[Recording[Any]]:
        """Record the aggregates' pending events; their recordings, or the store's error."""
        ticket = _Ticket(aggregates)
        for aggregate in aggregates:
            ticket.events.extend(aggregate.collect_events())
        with self._waiting_lock:
            self._waiting.append(ticket)
        while True:
            with self._writer:
                if ticket.done:
                    break
                with self._waiting_lock:
                    batch = self._waiting[: self._max_batch]
                    del self._waiting[: self._max_batch]
                try:
                    self._write(batch)
                except BaseException as error:  # never leave a taken command without an outcome
                    for taken in batch:
                        if not taken.done:
                            taken.error, taken.done = error, True
                    raise
        if ticket.error is not None:
            raise ticket.error
        assert ticket.recordings is not None
        return ticket.recordings

    def _write(self, batch: list[_Ticket]) -> None:
        """Under the writer lock: the whole batch in one transaction, else one by one."""
        if len(batch) > 1:
            together = _processing_event(batch)
            try:
                recordings = self._record(together)
            except NoConnection as error:
                self._no_connection(batch, error)
                return
            except Exception:  # noqa: BLE001 - each command is retried alone for its own outcome
                log.debug("group commit refused; recording its commands one by one", n=len(batch))
            else:
                start = 0
                for ticket in batch:
                    ticket.recordings = recordings[start : start + len(ticket.events)]
                    start += len(ticket.events)
                self._finish(together, recordings, batch)
                return
        for ticket in batch:
            processing = _processing_event([ticket])
            try:
                recordings = self._record(processing)
            except NoConnection as error:
                self._no_connection([t for t in batch if not t.done], error)
                return
            except BaseException as error:  # noqa: BLE001 - handed to the command that caused it
                ticket.error, ticket.done = error, True
                continue
            ticket.recordings = recordings
            self._finish(processing, recordings, [ticket])

    @staticmethod
    def _no_connection(tickets: list[_Ticket], error: NoConnection) -> None:
        """Tell each of ``tickets`` the store got no connection (each its own exception, raised
        in its own thread)."""
        for ticket in tickets:
            told = NoConnection(str(error))
            told.__cause__ = error
            ticket.error, ticket.done = told, True

    def _finish(
        self,
        processing: ProcessingEvent[Any],
        recordings: list[Recording[Any]],
        tickets: list[_Ticket],
    ) -> None:
        """The events are stored: the commands are done whatever the follow-up work does."""
        self.batches += 1
        self.commands += len(tickets)
        for ticket in tickets:
            ticket.done = True
        try:
            self._after(processing, recordings)
        except Exception:  # a snapshot is an optimisation; the commands are recorded
            log.exception("follow-up after recording failed (snapshot or notification)")
