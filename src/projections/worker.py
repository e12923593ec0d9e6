"""Following the event log: catch-up in batches, live updates, and rebuilds without downtime.

One loop takes every batch, live or rebuilding (``_advance``): read the projections' positions
(locked on PostgreSQL), fetch the next notifications after each position once, decode them once
(the keys of their subjects prefetched), apply them to every projection at that position, store
the new positions. Each batch is one transaction: a worker stopped anywhere leaves either the
whole batch or none of it, so no event is missed or counted twice, and two workers on one
projection serialise on the tracking row. After a live batch with an erasure, and after a
rebuild, the tables that held personal data are scrubbed (``_scrub``).

A rebuild builds fresh tables beside the live ones (``*_next``), catches up from position zero,
and in one final transaction applies the last events, drops the live tables, renames the new
ones into place and moves the tracking row. Queries keep answering from the live tables until
that commit and from the new ones after it. On PostgreSQL a rebuild splits the work of the
projections whose rows each belong to one record over child processes, by record
(``_rebuild_split``): each reads and applies only its share's events.
"""

import concurrent.futures
import contextlib
import gc
import math
import multiprocessing
import os
import queue
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from application.care_record import CareRecord
from application.codec import MsgspecMapper
from application.keys import KeyStore
from application.metrics import metrics
from application.unavailable import is_busy, is_unavailable
from domain.client import Client
from domain.deadlines import DeadlinePolicy
from domain.trajectory import Trajectory
from projections.deadlines import DeadlinesProjection
from projections.learning_networks import LearningNetworksProjection
from projections.organisations import OrganisationsProjection
from projections.plan_state.projection import PlanStateProjection
from projections.statistics.units import StatisticsProjection
from projections.store import ProjectionDatabase, Tx, lock_schema
from projections.timeline import TimelineProjection
from projections.tracking import (
    REBUILDING,
    delete_tracking,
    read_tracking,
    write_heartbeat,
    write_tracking,
)

log = structlog.get_logger("rodedraad.projections")

#: Tries of a rebuild's switch-over that PostgreSQL picked as a deadlock victim.
SWITCH_OVER_ATTEMPTS = 5
#: A rebuild's window: events applied in one transaction, and the records they may belong to.
REBUILD_WINDOW_EVENTS = 20_000
REBUILD_WINDOW_SUBJECTS = 4_000
#: Windows read and decoded ahead, in a thread, while the last is written (each one more window
#: in memory). Off: on the shared 2-core machine it sped the medium set up and slowed the large
#: one (README, "the one-pass rebuild"); the thread's GIL competes with the writer's.
REBUILD_READ_AHEAD = 0
#: Processes a rebuild on PostgreSQL splits the work of the projections whose rows each belong
#: to one record (``by_record``) over, by record: each reads the log, decodes and applies only
#: the events of its share (README, "the one-pass rebuild"). SQLite has one writer: one process.
REBUILD_PROCESSES = 2
#: A log shorter than this is rebuilt in one process: a spawned child costs ≈ 3.4 s of CPU to
#: start (imports and wiring), the work of ≈ 35,000 events at the one process's ≈ 100 µs each,
#: so below this the split is slower (and the API's and workers' rebuilds at start, of a new or
#: small store, would spawn two processes for nothing).
REBUILD_SPLIT_MIN_EVENTS = 200_000
#: Allocations between two collections of the cyclic garbage collector's youngest generation
#: while a rebuild's pass runs (Python's default is 700). A window holds 20,000 decoded events,
#: hundreds of thousands of objects that live until the window is written: at the default the
#: collector ran ≈ 2,600 times in a share's pass at the medium size, 17 of them over the whole
#: heap (the process's imports too), and took a third of the pass's CPU (issue #22). Garbage
#: without cycles is freed at once whatever this says; only cycles wait longer.
REBUILD_GC_THRESHOLD = 50_000


class Projection(Protocol):
    name: str
    version: int
    tables: tuple[str, ...]
    #: Those of ``tables`` whose rows an erasure rewrites: scrubbed after a batch with one.
    personal_tables: tuple[str, ...]

    def ddl(self, suffix: str, generation: str) -> list[str]: ...

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None: ...


def all_projections(
    policy: DeadlinePolicy, keys: KeyStore, reload: Callable[[UUID], Trajectory] | None = None
) -> tuple[Projection, ...]:
    """Every projection; ``keys`` seal the plan state's personal columns, ``reload`` loads a
    trajectory afresh (after a client's erasure)."""
    return (
        PlanStateProjection(keys, reload),
        TimelineProjection(),
        DeadlinesProjection(policy),
        OrganisationsProjection(),
        StatisticsProjection(policy),
        LearningNetworksProjection(),
    )


@dataclass(frozen=True, slots=True)
class Copy:
    """Which copy of the read models a batch writes: the live tables, or the fresh ones a
    rebuild builds beside them (``<table>_next``, tracked as ``<name>:rebuild``)."""

    table_suffix: str
    tracking_suffix: str

    def tracking(self, projection: Projection) -> str:
        return projection.name + self.tracking_suffix


LIVE = Copy("", "")
REBUILT = Copy("_next", REBUILDING)


class Advanced(NamedTuple):
    """What one step of the loop did: events taken in, whether a batch was full (more may be
    waiting), whether an erasure was among them."""

    events: int
    full: bool
    erasure: bool


@dataclass(frozen=True, slots=True)
class Progress:
    projection: str
    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    def line(self) -> str:
        left = self.seconds_left
        eta = f"{left:.0f} s left" if left is not None else "estimating"
        return (
            f"{self.projection}: {self.done}/{self.total} events, {self.rate:,.0f} events/s, {eta}"
        )


class ProjectionWorker:
    """Keeps every projection up to date with the event log of one ``CareRecord``."""

    def __init__(
        self,
        care_record: CareRecord,
        database: ProjectionDatabase,
        projections: Sequence[Projection],
        batch_size: int = 1000,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self.care_record = care_record
        self.database = database
        self.projections = tuple(projections)
        self.batch_size = batch_size
        #: A rebuild applies the log in windows of at most this many events, or of events of
        #: at most ``rebuild_subjects`` records (aggregates): what bounds its memory.
        self.rebuild_window = REBUILD_WINDOW_EVENTS
        self.rebuild_subjects = REBUILD_WINDOW_SUBJECTS
        #: Windows a rebuild reads and decodes ahead, in a thread of its own, while the last
        #: is written (0: read and write in turn).
        self.rebuild_read_ahead = REBUILD_READ_AHEAD
        #: Makes, in a child process, a worker on the same stores (None: rebuild in this
        #: process only). Must pickle: children are spawned, not forked (open connections).
        self.share_worker: Callable[[], ProjectionWorker] | None = None
        self.rebuild_processes = REBUILD_PROCESSES
        self.rebuild_split_min_events = REBUILD_SPLIT_MIN_EVENTS
        self._lock = threading.RLock()
        #: An erasure was taken in and its scrub has not yet succeeded.
        self._scrub_pending = False
        #: Who beats the heartbeat: one row per worker process.
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.heartbeat_seconds = heartbeat_seconds
        self._beat: tuple[str, float] = ("", -math.inf)  # last state written, and when

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections)
        raise KeyError(f"no projection named {name!r}; known: {known}")

    # --- set-up ---------------------------------------------------------------------------------

    def ensure_ready(self, progress: Callable[[Progress], None] | None = None) -> None:
        """Create missing read models; rebuild those whose version changed."""
        for projection in self.projections:
            with self.database.transaction() as tx:
                lock_schema(tx)
                tracking = read_tracking(tx, projection.name, lock=True)
                if tracking is None:
                    for statement in projection.ddl("", uuid.uuid4().hex[:8]):
                        tx.execute(statement)
                    write_tracking(tx, projection.name, 0, projection.version)
                    continue
            if tracking[1] != projection.version:
                log.info(
                    "projection version changed; rebuilding",
                    projection=projection.name,
                    stored=tracking[1],
                    code=projection.version,
                )
                self.rebuild(projection.name, progress)

    # --- following the log ------------------------------------------------------------------------

    def _advance(
        self, tx: Tx, projections: Sequence[Projection], copy: Copy, limit: int
    ) -> Advanced:
        """The one batch loop, for the live path, catch-up and the rebuild alike: in ``tx``,
        projections that stand at one position share one read and one decoding of the next
        ``limit`` notifications; each applies them to ``copy`` and moves its tracking row."""
        at: dict[int, list[Projection]] = {}
        for projection in projections:
            tracking = read_tracking(tx, copy.tracking(projection), lock=True)
            if tracking is None:
                raise LookupError(f"projection {copy.tracking(projection)!r} has no tracking row")
            at.setdefault(tracking[0], []).append(projection)
        events, full, erasure = 0, False, False
        for position, group in at.items():
            notifications = self.care_record.recorder.select_notifications(
                start=position, limit=limit, inclusive_of_start=False
            )
            if not notifications:
                continue
            batch = self._decoded(notifications)
            for projection in group:
                projection.apply(tx, batch, copy.table_suffix)
                write_tracking(
                    tx, copy.tracking(projection), notifications[-1].id, projection.version
                )
            events += len(notifications)
            full = full or len(notifications) == limit
            erasure = erasure or any(isinstance(event, Client.Erased) for _, event in batch)
        return Advanced(events, full, erasure)

    def _step(
        self, projections: Sequence[Projection], copy: Copy = LIVE, limit: int | None = None
    ) -> Advanced:
        """One batch in a transaction of its own; after a live batch with an erasure, the
        scrub. (A rebuild reads an erased client's events without their keys, so its batches
        never write what an erasure took away; it scrubs once, after its switch-over.)"""
        with self.database.transaction() as tx:
            advanced = self._advance(tx, projections, copy, limit or self.batch_size)
        if advanced.erasure and copy is LIVE:
            self._scrub_pending = True
        if self._scrub_pending:
            self._scrub(projections)
        return advanced

    def _scrub(self, projections: Sequence[Projection]) -> None:
        """The one scrub: what an erasure overwrote, or a rebuild dropped, must not linger in
        free pages or the write-ahead log, so the tables these projections rewrite on erasure
        are scrubbed. A pending erasure's scrub is done only once this succeeded: a failed one
        is tried again after the next batch (issue #10 review)."""
        tables = [table for p in projections for table in p.personal_tables]
        if tables:
            self.database.scrub(tables)
            self._scrub_pending = False

    def process_batch(self, projection: Projection) -> int:
        """One batch of one projection, in one transaction. Returns the events processed."""
        return self._step([projection]).events

    def _decoded(
        self, notifications: Sequence[Notification], interned: dict[Any, UUID] | None = None
    ) -> list[tuple[int, Any]]:
        """(position, domain event) of each notification; the keys of the batch's subjects are
        read in one query first, not one query per event. The sealed personal fields are left
        shut, each event's opened on the first read of one (most are read by no projection,
        and opening was the largest cost of a rebuild's pass: issue #22). With ``interned``,
        the events of one record share one id instance (``MsgspecMapper.decode_shut``)."""
        self.care_record.keys.prefetch(n.originator_id for n in notifications)
        mapper = self.care_record.mapper
        if isinstance(mapper, MsgspecMapper):
            return mapper.decode_shut(notifications, interned)
        decoded = [(n.id, mapper.to_domain_event(n)) for n in notifications]
        if interned is not None:
            interned.update((e.originator_id, e.originator_id) for _, e in decoded)
        return decoded

    def process_together(self) -> tuple[int, bool]:
        """One batch for every projection, in one transaction: projections at the same
        position share one read and one decoding of the log. Returns (events, whether a batch
        was full, i.e. more may be waiting)."""
        advanced = self._step(self.projections)
        return advanced.events, advanced.full

    def catch_up(self) -> int:
        """Process everything recorded so far, for every projection (one caller at a time)."""
        total = 0
        with self._lock:
            while True:
                count, full = self.process_together()
                total += count
                if not full:
                    return total

    def catch_up_quietly(self) -> None:
        """``catch_up`` after a command (inline projections): the command is recorded whatever
        happens here, so a projection failure is logged, not raised into its answer."""
        try:
            self.catch_up()
        except Exception:
            log.exception("projection failed after a command; it will retry")

    def run(self, stop: threading.Event, wakeup: "Wakeup") -> None:
        """Follow the log until ``stop`` is set; sleep until ``wakeup`` says there is more.

        A failed batch rolled back as a whole, so it is simply tried again, after a pause that
        doubles while the failure lasts (a lost database reconnects on the next try) up to
        5 s, or up to 1 s while another writer holds the database (a command line's release
        beside the service): a reader waiting for its own write must not wait out a pause
        made for an outage. Each state change is logged once, and every loop beats the
        heartbeat ``/health`` reads.
        """
        log.info(
            "projection worker following the log",
            projections=[p.name for p in self.projections],
            worker=self.name,
        )
        backoff = Backoff()
        busy = Backoff(first=0.05, longest=1.0)  # another writer holds the file: soon free
        failing: _Failing | None = None
        while not stop.is_set():
            try:
                with self._lock:  # one batch per loop, so a long catch-up beats too
                    _, full = self.process_together()
                self.heartbeat("ok")
            except Exception as error:  # noqa: BLE001 - the worker outlives any one failure
                failing = self._failed(error, failing)
                stop.wait(busy.next() if is_busy(error) else backoff.next())
                continue
            if failing is not None:
                log.info(
                    "projection worker recovered",
                    error_class=failing.kind,
                    after_seconds=round(time.monotonic() - failing.since, 1),
                    tries=failing.tries,
                )
                failing = None
                backoff.reset()
                busy.reset()
            if not full:
                wakeup.wait(stop)  # caught up: sleep until new events are announced

    def _failed(self, error: Exception, failing: "_Failing | None") -> "_Failing":
        """Log a failure once, again if its kind changes, and while it lasts every
        ``STILL_FAILING_SECONDS`` with how long and how many tries (a worker that says
        nothing after "lost its database" cannot be told from one that hangs); tell the
        heartbeat."""
        kind = type(error).__name__
        now = time.monotonic()
        if failing is not None and failing.kind == kind:
            failing.tries += 1
            if now - failing.told >= STILL_FAILING_SECONDS:
                log.warning(
                    "projection worker still failing",
                    error_class=kind,
                    sqlstate=getattr(error, "sqlstate", None),
                    seconds=round(now - failing.since, 1),
                    tries=failing.tries,
                    where=_where(error),
                )
                failing.told = now
        else:
            if is_busy(error):
                log.info("projection worker waits for another writer", error_class=kind)
            elif is_unavailable(error) or isinstance(error, OSError):
                log.warning(
                    "projection worker lost its database; reconnecting with backoff",
                    error_class=kind,
                    where=_where(error),
                )
            else:
                log.exception("projection failed; retrying with backoff", error_class=kind)
            failing = _Failing(kind, since=now, told=now)
        with contextlib.suppress(Exception):  # the database may well be what failed
            self.heartbeat(f"failing: {kind}", force=True)
        return failing

    def heartbeat(self, state: str, *, force: bool = False) -> None:
        """Tell ``/health`` this worker is alive and how it fares: at most every
        ``heartbeat_seconds`` while nothing changes, at once when the state does."""
        now = time.monotonic()
        if not force and state == self._beat[0] and now - self._beat[1] < self.heartbeat_seconds:
            return
        with self.database.transaction() as tx:
            write_heartbeat(tx, self.name, state, time.time())
        self._beat = (state, now)
        if state == "ok":
            self.observe()

    def observe(self) -> None:
        """Each projection's position and lag, for the metrics (as often as the heartbeat)."""
        head = self.head()
        for name, position in self.positions().items():
            metrics().projection_position.labels(name).set(position)
            metrics().projection_lag.labels(name).set(max(0, head - position))

    # --- positions ------------------------------------------------------------------------------

    def head(self) -> int:
        return self.care_record.recorder.max_notification_id() or 0

    def positions(self) -> dict[str, int]:
        with self.database.transaction() as tx:
            return {p.name: (read_tracking(tx, p.name) or (0, 0))[0] for p in self.projections}

    # --- rebuild ---------------------------------------------------------------------------

    def rebuild(self, name: str, progress: Callable[[Progress], None] | None = None) -> int:
        """Build ``name`` afresh beside the live copy, then switch over atomically."""
        return self.rebuild_many([name], progress)

    def rebuild_many(
        self, names: Sequence[str], progress: Callable[[Progress], None] | None = None
    ) -> int:
        """Build these projections afresh in one pass over the log (each event read and
        decoded once), beside the live copies, then switch them over in one transaction and
        scrub the database of the old tables' content."""
        projections = [self.projection(name) for name in names]
        label = "+".join(names)
        # Secondary indexes are built once the pass is done: one sort each instead of an index
        # insert per row (the tables' keys stay, the pass looks rows up by them).
        indexes: list[str] = []
        with self.database.transaction() as tx:
            for projection in projections:
                for table in projection.tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table}{REBUILT.table_suffix}")
                for statement in projection.ddl(REBUILT.table_suffix, uuid.uuid4().hex[:8]):
                    if statement.startswith("CREATE INDEX"):
                        indexes.append(statement)
                    else:
                        tx.execute(statement)
                write_tracking(tx, REBUILT.tracking(projection), 0, projection.version)
        limit = self.batch_size * 5
        total, started = self.head(), time.monotonic()
        split = [p for p in projections if getattr(p, "by_record", False)]
        if (
            self.share_worker is not None
            and self.rebuild_processes > 1
            and split
            and total >= self.rebuild_split_min_events
        ):
            rest = [p for p in projections if p not in split]
            done = self._rebuild_split(split, rest, total, limit)
        else:
            done = self._rebuild_windows(projections, limit, None, None, REBUILT, label, progress)
        if progress:
            progress(Progress(label, done, max(total, done), time.monotonic() - started))
        seconds = {"pass": time.monotonic() - started}
        mark = time.monotonic()
        with self.database.transaction() as tx:
            for statement in indexes:
                tx.execute(statement)
            if tx.dialect == "postgres":
                # Tables just filled have no statistics until autovacuum comes by (never, where
                # it is off): PostgreSQL then guesses a region holds 0.5 % of the trajectories
                # and sorted all 16,822 of a region's for a page of its list, 62 ms against
                # 0.7 ms once analysed (100,000 trajectories; issue #22). A sample each.
                for projection in projections:
                    for table in projection.tables:
                        tx.execute(f"ANALYZE {table}{REBUILT.table_suffix}")
        seconds["indexes"] = time.monotonic() - mark
        mark = time.monotonic()
        position = self._switch_over(projections, limit)
        seconds["switch_over"] = time.monotonic() - mark
        mark = time.monotonic()
        # The old tables are gone; what they held must not linger in free pages or the
        # write-ahead log either: an older version's tables held names and questions in clear
        # (plan_state before version 7; issue #10 review, S6).
        self._scrub(projections)
        seconds["scrub"] = time.monotonic() - mark
        log.info(
            "projections rebuilt",
            projections=list(names),
            position=position,
            seconds={phase: round(value, 2) for phase, value in seconds.items()},
        )
        return position

    def _rebuild_windows(
        self,
        projections: Sequence[Projection],
        limit: int,
        stop: int | None,
        share: tuple[int, int] | None,
        copy: Copy,
        label: str = "",
        progress: Callable[[Progress], None] | None = None,
    ) -> int:
        """The pass itself: the log from zero (up to ``stop``, else its head) in windows into
        the ``*_next`` tables, tracked in ``copy``'s rows; with ``share`` = (k, n) only the
        events of the records of share k of n (and those every share needs). Returns the
        events applied."""
        total, done, started, last_report = self.head(), 0, time.monotonic(), 0.0
        position = 0
        topics = sorted(
            {get_topic(cls) for p in projections for cls in getattr(p, "shared_events", ())}
        )
        source = self._windows(limit, stop, share, topics, _topics_read(projections))
        with (
            _fewer_collections(REBUILD_GC_THRESHOLD),
            _read_ahead(source, self.rebuild_read_ahead) as windows,
        ):
            for window, subjects, end in windows:
                self._apply_window(projections, window, position, end, copy)
                # A window's keys are read in one query each page; kept, they would grow with
                # the log up to the cache's cap. The window read ahead may share records with
                # this one (its keys already read): a key forgotten too soon is read again.
                self.care_record.keys.forget([_uuid(s) for s in subjects - windows.ahead])
                time.sleep(0.001)  # let live writers to the same database in between windows
                done, position = done + len(window), end
                now = time.monotonic()
                if progress and now - last_report >= 1.0 and position < total:
                    # (The last line is the caller's, once every window is in: said once.)
                    progress(Progress(label, done, max(total, done), now - started))
                    last_report = now
                if stop is None and done >= total:
                    break
        return done

    def _rebuild_split(
        self, split: Sequence[Projection], rest: Sequence[Projection], stop: int, limit: int
    ) -> int:
        """``split`` rebuilt up to ``stop`` by ``rebuild_processes`` child processes, each
        the records of its share, tracked in rows of its own (``<name>:rebuild/<k>of<n>``);
        ``rest`` meanwhile here, in one pass of its own. Once every child reached ``stop``,
        their rows are folded into the projections' rebuild rows in one transaction; the
        switch-over then takes the rest of the log as before. A failed child fails the
        rebuild (the next one starts from zero)."""
        assert self.share_worker is not None
        shares = self.rebuild_processes
        copies = [_share_copy(k, shares) for k in range(shares)]
        with self.database.transaction() as tx:
            for projection in split:
                for copy in copies:
                    write_tracking(tx, copy.tracking(projection), 0, projection.version)
        names = [p.name for p in split]
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(shares, mp_context=context) as pool:
            futures = [
                pool.submit(
                    _rebuild_share, self.share_worker, self._sizes(), names, (k, shares), stop
                )
                for k in range(shares)
            ]
            done = self._rebuild_windows(rest, limit, stop, None, REBUILT) if rest else 0
            applied = [future.result() for future in futures]
        with self.database.transaction() as tx:
            for projection in split:
                # Another rebuild of the same projection, started meanwhile, made the ``*_next``
                # tables afresh and moved (or removed) this row: the children's work is not
                # what those tables hold, so nothing is folded and nothing switched over.
                own = read_tracking(tx, REBUILT.tracking(projection), lock=True)
                if own is None or own[0] != 0:
                    raise RuntimeError(
                        f"{REBUILT.tracking(projection)} stands at {own and own[0]}, not at 0: "
                        "another rebuild of it ran meanwhile; rebuild again"
                    )
                for copy in copies:
                    at = read_tracking(tx, copy.tracking(projection), lock=True)
                    if at is None or at[0] != stop:
                        raise RuntimeError(
                            f"{copy.tracking(projection)} stands at {at and at[0]}, not at "
                            f"{stop}: a share of the rebuild did not finish"
                        )
                    delete_tracking(tx, copy.tracking(projection))
                write_tracking(tx, REBUILT.tracking(projection), stop, projection.version)
        log.info("rebuild shares done", projections=names, events=applied, rest=done)
        return max(done, sum(applied))

    def _sizes(self) -> dict[str, int]:
        """What a child of a split rebuild takes over from this worker."""
        return {
            "batch_size": self.batch_size,
            "rebuild_window": self.rebuild_window,
            "rebuild_subjects": self.rebuild_subjects,
            "rebuild_read_ahead": self.rebuild_read_ahead,
        }

    def rebuild_share(self, names: Sequence[str], share: tuple[int, int], stop: int) -> int:
        """In a child process: share ``share`` = (k, n) of the rebuild of ``names`` up to
        ``stop`` (the tables and tracking rows already made by the parent)."""
        projections = [self.projection(name) for name in names]
        for projection in projections:
            if isinstance(projection, PlanStateProjection):
                projection.share = share
        limit = self.batch_size * 5
        return self._rebuild_windows(projections, limit, stop, share, _share_copy(*share))

    def _windows(
        self,
        limit: int,
        stop: int | None = None,
        share: tuple[int, int] | None = None,
        shared_topics: Sequence[str] = (),
        topics: Sequence[str] = (),
    ) -> Iterator[tuple[list[tuple[int, Any]], set[UUID | str], int]]:
        """The log from position zero in windows: each the decoded events after the last,
        read ``limit`` at a time, up to ``rebuild_window`` events or ``rebuild_subjects``
        records (so memory stays bounded however long the log is); the records they belong to;
        and the position it ends at. A trajectory whose events fall in one window has its row
        written once for all of them. Ends at ``stop``, or at the head of the log. With
        ``share`` only the events of that share's records and of ``shared_topics`` are read
        (the database skips the others), so the last window ends at ``stop`` even if the
        events before it are another share's; with ``topics`` too, only events of those."""
        end = 0
        while True:
            window: list[tuple[int, Any]] = []
            #: The window's records, each id once (``_decoded``): how many bounds the window.
            interned: dict[Any, UUID] = {}
            began, exhausted = end, False
            while len(window) < self.rebuild_window and len(interned) < self.rebuild_subjects:
                page = min(limit, self.rebuild_window - len(window))
                select = self.care_record.recorder.select_notifications
                if share is None:
                    notifications = select(
                        start=end, limit=page, stop=stop, inclusive_of_start=False
                    )
                else:
                    # A share reads the next ``page`` positions, not its next ``page`` events:
                    # bounded so, PostgreSQL scans that range of the log's key and skips the
                    # other shares' rows there (asked for the next N rows of a share, it chose
                    # a parallel scan of the whole log). Only the PostgreSQL recorder splits.
                    assert stop is not None, "a share of a rebuild ends where its parent said"
                    upper = min(end + page, stop)
                    notifications = select(  # type: ignore[call-arg]
                        start=end,
                        limit=page,
                        stop=upper,
                        inclusive_of_start=False,
                        share=share,
                        shared_topics=shared_topics,
                        topics=topics,
                    )
                if notifications:
                    window.extend(self._decoded(notifications, interned))
                    end = notifications[-1].id
                if share is not None:
                    end = upper
                    if end == stop:
                        exhausted = True
                        break
                elif len(notifications) < page:
                    exhausted = True
                    break
            if exhausted and stop is not None:
                end = stop  # nothing of this share is left up to it
            if end == began:
                return
            yield window, set(interned.values()), end
            if exhausted:
                return

    def _apply_window(
        self,
        projections: Sequence[Projection],
        window: Sequence[tuple[int, Any]],
        start: int,
        end: int,
        copy: Copy = REBUILT,
    ) -> None:
        """One window of a rebuild into the ``*_next`` tables, in one transaction with every
        projection's rebuild position (``copy``'s row): all move from ``start`` to ``end``
        together, or none."""
        with self.database.transaction() as tx:
            for projection in projections:
                name = copy.tracking(projection)
                tracking = read_tracking(tx, name, lock=True)
                if tracking is None or tracking[0] != start:
                    raise RuntimeError(
                        f"{name} moved to {tracking and tracking[0]} while this rebuild stood at "
                        f"{start}: another rebuild of it is under way; let one finish"
                    )
                projection.apply(tx, window, copy.table_suffix)
                write_tracking(tx, name, end, projection.version)

    def _switch_over(self, projections: Sequence[Projection], limit: int) -> int:
        """In one transaction: serialise with the live worker, apply what came in meanwhile,
        drop the live tables and rename the new ones into place, move the positions.

        A query that read one of the live tables and waits for another can deadlock with the
        switch-over's exclusive locks on PostgreSQL; whichever it picks as the victim rolls back
        as a whole, so the switch-over simply runs again (readers retry too).
        """
        for attempt in range(1, SWITCH_OVER_ATTEMPTS + 1):
            try:
                with self.database.transaction() as tx:
                    for projection in projections:
                        read_tracking(tx, projection.name, lock=True)
                    while self._advance(tx, projections, REBUILT, limit).events:
                        pass
                    position = 0
                    for projection in projections:
                        position = (read_tracking(tx, REBUILT.tracking(projection)) or (0, 0))[0]
                        for table in projection.tables:
                            tx.execute(f"DROP TABLE IF EXISTS {table}")
                            tx.execute(
                                f"ALTER TABLE {table}{REBUILT.table_suffix} RENAME TO {table}"
                            )
                        write_tracking(tx, projection.name, position, projection.version)
                        delete_tracking(tx, REBUILT.tracking(projection))
                return position
            except psycopg.errors.DeadlockDetected:
                if attempt == SWITCH_OVER_ATTEMPTS:
                    raise
                log.info("rebuild switch-over chosen as a deadlock victim; again", attempt=attempt)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")


class _ReadAhead:
    """The items of ``source`` produced in a thread of its own, at most ``depth`` ahead of the
    consumer: a rebuild's reads and decoding (Python, and PostgreSQL reading the log) overlap
    with its writes (PostgreSQL copying rows in, while this process waits on the socket).
    ``ahead`` holds the records of the window produced next, once known. A failure in the
    thread is raised in the consumer; a consumer that stops early stops the thread."""

    _END = object()

    def __init__(
        self, source: Iterator[tuple[list[Any], set[UUID | str], int]], depth: int
    ) -> None:
        self._source = source
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="rebuild-reader", daemon=True)
        self.ahead: set[UUID | str] = set()

    def _produce(self) -> None:
        try:
            for item in self._source:
                self.ahead = item[1]
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(error)

    def _put(self, item: Any) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[tuple[list[Any], set[UUID | str], int]]:
        self._thread.start()
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@contextlib.contextmanager
def _read_ahead(
    source: Iterator[tuple[list[Any], set[UUID | str], int]], depth: int
) -> Iterator["_ReadAhead | _InTurn"]:
    """``source`` read ahead in a thread (``depth`` > 0), or in turn with its consumer."""
    if depth <= 0:
        yield _InTurn(source)
        return
    reader = _ReadAhead(source, depth)
    try:
        yield reader
    finally:
        reader.stop()


@dataclass
class _InTurn:
    """The windows read when the consumer asks for the next one: none is read ahead."""

    source: Iterator[tuple[list[Any], set[UUID | str], int]]
    ahead: frozenset[UUID | str] = frozenset()

    def __iter__(self) -> Iterator[tuple[list[Any], set[UUID | str], int]]:
        return self.source


class _Collections:
    """The process's garbage-collector thresholds while rebuild passes run: raised by the
    first pass to begin, put back by the last to end (passes may overlap in threads of one
    process; the thresholds are the process's, so one pass alone must not put them back)."""

    lock = threading.Lock()
    passes = 0
    before: tuple[int, int, int] = (0, 0, 0)


@contextlib.contextmanager
def _fewer_collections(threshold: int) -> Iterator[None]:
    """The garbage collector's youngest generation collected every ``threshold`` allocations
    (at least as seldom as it was) while this runs, its thresholds as they were afterwards.
    Garbage without cycles is still freed at once; in a running service (an in-process
    rebuild) its other threads run with the same thresholds meanwhile."""
    with _Collections.lock:
        if _Collections.passes == 0:
            _Collections.before = gc.get_threshold()
            first, *rest = _Collections.before
            gc.set_threshold(max(threshold, first), *rest)
        _Collections.passes += 1
    try:
        yield
    finally:
        with _Collections.lock:
            _Collections.passes -= 1
            if _Collections.passes == 0:
                gc.set_threshold(*_Collections.before)


def _share_copy(k: int, shares: int) -> Copy:
    """The ``*_next`` tables, tracked in share k of n's own rows while the shares run."""
    return Copy(REBUILT.table_suffix, f"{REBUILDING}/{k}of{shares}")


def _rebuild_share(
    make: Callable[[], "ProjectionWorker"],
    sizes: dict[str, int],
    names: Sequence[str],
    share: tuple[int, int],
    stop: int,
) -> int:
    """A child process's part of a split rebuild: its own worker on the same stores, with the
    parent's window sizes (``ProjectionWorker._sizes``)."""
    worker = make()
    for name, value in sizes.items():
        setattr(worker, name, value)
    try:
        return worker.rebuild_share(names, share, stop)
    finally:
        worker.database.close()
        worker.care_record.close()


def _topics_read(projections: Sequence[Projection]) -> list[str]:
    """The topics of the events these projections take in (each one's ``consumes``, subclasses
    included), or none, meaning every event, if one of them does not say. A share of a split
    rebuild reads only these: the clients', organisations' and networks' events (≈ 5 % of the
    log, many with sealed fields) are then neither sent, built nor decoded (issue #22). A
    projection's ``shared_events`` (a client's erasure) are always read, listed in its
    ``consumes`` or not: an erasure a share did not read would leave its rows unscrubbed."""
    stack: list[type[Any]] = []
    for projection in projections:
        consumes = getattr(projection, "consumes", None)
        if consumes is None:
            return []
        stack.extend(consumes)
        stack.extend(getattr(projection, "shared_events", ()))
    found: set[str] = set()
    while stack:
        cls = stack.pop()
        found.add(get_topic(cls))
        stack.extend(cls.__subclasses__())
    return sorted(found)


def _uuid(subject: UUID | str) -> UUID:
    return subject if isinstance(subject, UUID) else UUID(str(subject))


def _where(error: BaseException) -> list[str]:
    """Where ``error`` was raised, innermost last: code locations of our own code and of the
    libraries (file, line, function), never a value, so no personal data; also of what it
    was raised from (``__cause__``), where the cause was the database's."""
    frames = traceback.extract_tb(error.__traceback__)[-6:]
    if error.__cause__ is not None:
        frames += traceback.extract_tb(error.__cause__.__traceback__)[-3:]
    return [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames]


#: Seconds between the worker's "still failing" lines while one kind of failure lasts.
STILL_FAILING_SECONDS = 10.0


@dataclass
class _Failing:
    """A kind of failure the worker's loop is in: since when, how many tries, last told."""

    kind: str
    since: float
    told: float
    tries: int = 1


class Backoff:
    """Pauses between tries that double from ``first`` up to ``longest``, until ``reset``."""

    def __init__(self, first: float = 0.5, longest: float = 5.0) -> None:
        self.first = first
        self.longest = longest
        self._next = first

    def next(self) -> float:
        pause, self._next = self._next, min(self._next * 2, self.longest)
        return pause

    def reset(self) -> None:
        self._next = self.first


class Wakeup(Protocol):
    def wait(self, stop: threading.Event) -> None:
        """Return when there may be new events (or ``stop`` is set)."""


class PollingWakeup:
    """SQLite has no subscription: wake when this process records, or poll for others."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, stop: threading.Event) -> None:
        self._event.wait(self.interval)
        self._event.clear()


class ListenWakeup:
    """PostgreSQL: LISTEN on the event store's NOTIFY channel; poll as a safety net."""

    def __init__(self, url: str, channel: str, interval: float = 1.0) -> None:
        self.url = url
        self.channel = channel
        self.interval = interval
        self._conn: psycopg.Connection[Any] | None = None
        self._lost_since: float | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            self._conn.execute(
                psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(self.channel))
            )
        return self._conn

    def wait(self, stop: threading.Event) -> None:
        """Wait for a notification; a lost connection is made again (and LISTENs again) on
        the next wait. The worker's own loop backs off while the database stays away."""
        try:
            for _ in self._connection().notifies(timeout=self.interval, stop_after=1):
                pass
        except psycopg.OperationalError as error:
            if self._lost_since is None:
                log.warning(
                    "projection listener lost its database", error_class=type(error).__name__
                )
                self._lost_since = time.monotonic()
            self.close()
            self._conn = None
            stop.wait(self.interval)  # the worker polls meanwhile; it backs off if it fails too
            return
        if self._lost_since is not None:
            log.info(
                "projection listener reconnected",
                after_seconds=round(time.monotonic() - self._lost_since, 1),
            )
            self._lost_since = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
