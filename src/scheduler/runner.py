"""The scheduler: asks the deadlines read model what is due and records it as events.

Exactly once: each recording is idempotent in the domain (a deadline's rule and due date are
recorded once per kind), a write that loses a race to another scheduler is retried on fresh
state, and only one run goes on at a time (a PostgreSQL advisory lock, or a file lock in
embedded mode, held while a run goes on: ``scheduler.jobs``). Running again at the same
moment records nothing new.
"""

import fcntl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import msgspec
import psycopg
import structlog

from application.care_record import CareRecord, CommandResult, ConcurrentWrite
from application.files import private_file
from application.kek import KekError
from application.kek_rotation import KekRotation
from application.metrics import metrics
from application.unavailable import connect_timeout
from domain.common import Actor, CommandContext
from domain.deadlines import DeadlinePolicy
from domain.errors import DomainError
from domain.network_cadence import CadenceFact
from domain.person_requests import RequestDeadline, deadline_due
from projections.deadlines import DeadlineQueries, DueDeadline
from projections.store import ProjectionDatabase
from projections.worker import ProjectionWorker

log = structlog.get_logger("rodedraad.scheduler")

SCHEDULER_ACTOR = Actor(user_id="rodedraad-scheduler", organisation="rodedraad", role="scheduler")


class Fired(DueDeadline):
    """One thing the scheduler found due, and whether this run recorded it."""

    recorded: bool = False


class NetworkCadenceFired(msgspec.Struct):
    """A learning network's cadence fact found due (issue #14 point 3), and whether this run
    recorded it."""

    network_id: UUID
    level: str
    region: str | None
    fact: CadenceFact
    recorded: bool = False


class PersonRequestFired(msgspec.Struct):
    """A person's GDPR request whose reminder or month is due (issue #19 point 5), and whether
    this run recorded it."""

    client_id: UUID
    request_id: str
    deadline: RequestDeadline
    answer_due_on: date
    recorded: bool = False


class RunReport(msgspec.Struct):
    now: datetime
    dry_run: bool
    fired: list[Fired] = msgspec.field(default_factory=list)
    network_cadence: list[NetworkCadenceFired] = msgspec.field(default_factory=list)
    person_requests: list[PersonRequestFired] = msgspec.field(default_factory=list)

    @property
    def recorded(self) -> int:
        return sum(1 for f in self.fired if f.recorded)


class LeaderLock(Protocol):
    """The scheduler's lock: one run (periodic, or a one-off job) holds it at a time."""

    #: Why the last ``acquire`` could not even ask for the lock (the database cannot be
    #: reached), or None: False from ``acquire`` then means another run holds it.
    unreachable: str | None

    def acquire(self) -> bool:
        """Take the lock if no other run holds it; True while this process holds it."""

    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session-level advisory lock: released by PostgreSQL if this process dies."""

    KEY = 0x52_44_53_43  # "RDSC"

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self.unreachable: str | None = None

    def acquire(self) -> bool:
        if self._held and self._conn is not None and not self._conn.closed:
            try:  # a session lock lives as long as its connection: is it still there?
                self._conn.execute("SELECT 1")
                return True
            except psycopg.OperationalError:
                log.warning("scheduler lost its lock's connection; taking the lock again")
                self.release()
        try:
            # (bounded: a host gone from the network must not stop the scheduler's loop)
            self._conn = psycopg.connect(self.url, autocommit=True, **connect_timeout(self.url))
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.KEY,)).fetchone()
        except psycopg.OperationalError as e:
            log.warning("could not reach PostgreSQL for the scheduler lock", error=str(e))
            if self._conn is not None:  # (connected, then lost before the lock was had)
                self._conn.close()
            self._held = False
            self.unreachable = "PostgreSQL cannot be reached for the scheduler's lock"
            return False
        self.unreachable = None
        self._held = bool(row and row[0])
        if not self._held:
            self._conn.close()
        return self._held

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._held = False


class FileLeaderLock:
    """Embedded mode: an exclusive lock on a file beside the data, released on exit."""

    unreachable: str | None = None  # (a file beside the data is always there)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = private_file(self.path).open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@dataclass
class DeadlineScheduler:
    """Evaluates the deadline rules at a moment and records what fired."""

    care_record: CareRecord
    database: ProjectionDatabase
    policy: DeadlinePolicy
    #: Brings the read models up to the log before a run (in-process), if given.
    worker: ProjectionWorker | None = None
    wait_for_read_model: float = 30.0

    @property
    def deadlines(self) -> DeadlineQueries:
        """The deadlines read model, on this scheduler's projection database."""
        return DeadlineQueries(self.database)

    def _catch_up(self) -> None:
        if self.worker is not None:
            self.worker.catch_up()
            return
        head = self.care_record.recorder.max_notification_id() or 0
        deadline = time.monotonic() + self.wait_for_read_model
        while time.monotonic() < deadline:
            if self.deadlines.position() >= head:
                return
            time.sleep(0.2)
        log.warning("deadlines read model behind the log; evaluating what it has", head=head)

    def due(self, now: datetime) -> list[Fired]:
        """What the deadlines read model finds due at ``now``, not yet recorded by this run."""
        return [Fired(**msgspec.structs.asdict(d)) for d in self.deadlines.due(now)]

    def run_once(self, now: datetime, *, dry_run: bool = False) -> RunReport:
        """Everything due at ``now``; recorded unless ``dry_run``."""
        self._catch_up()
        report = RunReport(
            now=now,
            dry_run=dry_run,
            fired=self.due(now),
            network_cadence=self.network_cadence_due(now),
            person_requests=self.person_requests_due(now),
        )
        if dry_run:
            return report
        run_id = f"scheduler-{uuid.uuid4().hex[:12]}"
        ctx = CommandContext(
            actor=SCHEDULER_ACTOR,
            occurred_at=now,
            correlation_id=run_id,
            causation_id=None,
            now=now,
        )
        for fired in report.fired:
            fired.recorded = self._record(ctx, fired)
            if fired.recorded:
                metrics().scheduler_facts.labels(fired.kind).inc()
        for found in report.network_cadence:
            found.recorded = self._record_cadence(ctx, found)
            if found.recorded:
                metrics().scheduler_facts.labels("network_cadence").inc()
        for request in report.person_requests:
            request.recorded = self._record_request(ctx, request)
            if request.recorded:
                metrics().scheduler_facts.labels("person_request").inc()
        metrics().scheduler_runs.labels("completed").inc()
        log.info(
            "scheduler run",
            run=run_id,
            found=len(report.fired),
            recorded=report.recorded,
            cadence_recorded=sum(1 for c in report.network_cadence if c.recorded),
            requests_recorded=sum(1 for r in report.person_requests if r.recorded),
        )
        return report

    def _record(self, ctx: CommandContext, fired: Fired) -> bool:
        for _ in range(5):
            try:
                return self._record_once(ctx, fired) is not None
            except ConcurrentWrite:
                continue  # another scheduler or a coordinator wrote first: reload and re-check
            except DomainError as e:
                log.warning(
                    "deadline not recorded", rule=fired.rule, refused_by=e.rule, kind=fired.kind
                )
                return False
        log.warning("deadline not recorded after repeated races", rule=fired.rule)
        return False

    def _record_once(self, ctx: CommandContext, fired: Fired) -> CommandResult | None:
        return self.care_record.record_deadline(
            ctx,
            fired.trajectory_id,
            kind=fired.kind,
            rule=fired.rule,
            due_on=fired.due_on,
            expected=fired.expected,
            met_on=fired.met_on,
        )

    def network_cadence_due(self, now: datetime) -> list[NetworkCadenceFired]:
        """Issue #14 point 3: every learning network's cadence facts due at ``now`` and not
        recorded yet, as the network's own rule decides (``LearningNetwork.cadence_due``)."""
        found = []
        for network_id in self.care_record.learning_networks():
            network = self.care_record.learning_network(network_id)
            for fact in network.cadence_due(now, self.policy.cadence):
                found.append(
                    NetworkCadenceFired(
                        network_id=network_id,
                        level=network.level.value,
                        region=network.region,
                        fact=fact,
                    )
                )
        return found

    def person_requests_due(self, now: datetime) -> list[PersonRequestFired]:
        return person_requests_due(self.care_record, now)

    def _record_request(self, ctx: CommandContext, found: PersonRequestFired) -> bool:
        """Once: the record re-decides on fresh state; a write that loses a race is retried."""
        for _ in range(5):
            try:
                return (
                    self.care_record.record_request_deadline(
                        ctx, found.client_id, found.request_id, found.deadline
                    )
                    is not None
                )
            except ConcurrentWrite:
                self.care_record.forget_cached([found.client_id])
                continue
            except DomainError as e:
                log.warning("request deadline not recorded", refused_by=e.rule)
                return False
        log.warning("request deadline not recorded after repeated races")
        return False

    def _record_cadence(self, ctx: CommandContext, found: NetworkCadenceFired) -> bool:
        """Once, however often and however many schedulers run: the network records a fact
        once (its key), and a write that loses a race is retried on fresh state."""
        for _ in range(5):
            try:
                return (
                    self.care_record.record_cadence(ctx, found.network_id, found.fact) is not None
                )
            except ConcurrentWrite:
                self.care_record.forget_cached([found.network_id])
                continue
            except DomainError as e:
                log.warning("cadence not recorded", key=found.fact.key, refused_by=e.rule)
                return False
        log.warning("cadence not recorded after repeated races", key=found.fact.key)
        return False


def person_requests_due(care_record: CareRecord, now: datetime) -> list[PersonRequestFired]:
    """Issue #19 point 5: every open GDPR request whose reminder (a week before) or month
    (GDPR art. 12(3)) is due at ``now`` and not recorded yet (``person_requests.deadline_due``);
    an erased client's record takes no new facts and is passed over."""
    today = now.astimezone(UTC).date()
    found = []
    for client_id in care_record.clients_with_requests():
        client = care_record.client(client_id)
        if client.erased_at is not None:
            continue
        for request_id, request in client.requests.items():
            deadline = deadline_due(request, today)
            if deadline is not None:
                found.append(
                    PersonRequestFired(
                        client_id=client_id,
                        request_id=request_id,
                        deadline=deadline,
                        answer_due_on=request.answer_due_on,
                    )
                )
    return found


def _on_its_own(failure: str, job: Callable[[datetime], object], now: datetime) -> None:
    """One job of a tick, whose failure is logged and stops no other job: a deadline run that
    keeps failing (a lost database, a domain error on one trajectory) must not stop the KEK's
    rotation and destruction (issue #10 review, S5). The next tick tries both again."""
    try:
        job(now)
    except (psycopg.OperationalError, OSError) as e:
        log.warning(failure, error_class=type(e).__name__, error=str(e))
    except KekError as e:
        log.error(failure, error_class=type(e).__name__, error=e.message)
    except Exception as e:  # the other jobs, and the next tick, must still run
        log.exception(failure, error_class=type(e).__name__)


class BackgroundDeadlines:
    """APScheduler 3: runs the scheduler every ``interval`` seconds, the first time at start,
    and with it the KEK's rotation (``kek_rotation``: rotate when due, destroy retired versions
    past the backup window; issue #10) and the pruning of idempotency keys older than a day
    (``prune_idempotency_keys``) and the release of the theme batches that are due
    (``release_theme_batches``, issue #14 point 2) and a seal over the event chain when one is
    due (``take_seal``, issue #16), each on its own: one failing never stops
    another. A run whose
    turn comes while another holds the lock (another scheduler process, a one-off job) is
    skipped: the next one comes soon enough. The statistics releases whose period's lag has
    passed (``release_statistics``, issue #12) are a job of their own, outside the lock."""

    def __init__(
        self,
        scheduler: DeadlineScheduler,
        lock: LeaderLock,
        interval: float,
        kek_rotation: KekRotation | None = None,
        prune_idempotency_keys: Callable[[datetime], object] | None = None,
        release_statistics: Callable[[datetime], object] | None = None,
        release_theme_batches: Callable[[datetime], object] | None = None,
        take_seal: Callable[[datetime], object] | None = None,
    ) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.scheduler = scheduler
        self.lock = lock
        self.kek_rotation = kek_rotation
        self.prune_idempotency_keys = prune_idempotency_keys
        self.release_statistics = release_statistics
        self.release_theme_batches = release_theme_batches
        self.take_seal = take_seal
        self._apscheduler = BackgroundScheduler(timezone=UTC)
        self._apscheduler.add_job(
            self.tick,
            "interval",
            seconds=interval,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            id="deadlines",
        )
        if release_statistics is not None:
            # Its own job, outside the lock: a release can take a minute, which must not hold
            # up the deadlines or a one-off job waiting for its turn; the release store itself
            # keeps two processes from saving one period twice.
            self._apscheduler.add_job(
                self.release_tick,
                "interval",
                seconds=interval,
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
                id="statistics",
            )
        self._lock = threading.Lock()

    def tick(self) -> None:
        """One run, at the real date, holding the lock only while it runs (issue #11): a
        one-off job (``scheduler.jobs``) takes its turn between two runs."""
        with self._lock:
            if not self.lock.acquire():
                if self.lock.unreachable is not None:  # (``acquire`` warned already)
                    metrics().scheduler_runs.labels("unreachable").inc()
                    return
                log.debug("another scheduler run holds the lock; skipping this one")
                metrics().scheduler_runs.labels("skipped").inc()
                return
            try:
                self._run(datetime.now(UTC))
            finally:
                self.lock.release()

    def release_tick(self) -> None:
        """Release the statistics of every period whose lag has passed (issue #12)."""
        if self.release_statistics is not None:
            _on_its_own(
                "releasing statistics failed; will retry",
                self.release_statistics,
                datetime.now(UTC),
            )

    def _run(self, now: datetime) -> None:
        _on_its_own("scheduler run failed; will retry", self.scheduler.run_once, now)
        if self.kek_rotation is not None:
            _on_its_own("KEK rotation failed; will retry", self.kek_rotation.run, now)
        if self.prune_idempotency_keys is not None:
            _on_its_own(
                "pruning idempotency keys failed; will retry", self.prune_idempotency_keys, now
            )
        if self.release_theme_batches is not None:
            _on_its_own(
                "releasing theme batches failed; will retry", self.release_theme_batches, now
            )
        if self.take_seal is not None:
            _on_its_own("sealing the event chain failed; will retry", self.take_seal, now)

    def start(self) -> None:
        self._apscheduler.start()

    def shutdown(self) -> None:
        """Stop, letting a run in progress finish (once; again does nothing)."""
        if self._apscheduler.running:
            self._apscheduler.shutdown(wait=True)
        self.lock.release()
