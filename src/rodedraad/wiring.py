"""Builds the application objects from one ``Settings``; the tests use the same factory."""

import functools
import gc
import math
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import anyio.to_thread
import jwt
import structlog
from litestar import Litestar

from api.access import AccessPolicy
from api.app import create_app
from api.auth import LocalTokens, TokenVerifier
from api.idempotency import (
    IdempotencyStore,
    PostgresIdempotencyStore,
    RequestFingerprints,
    SqliteIdempotencyStore,
)
from api.oidc import OidcClient, derived_key
from api.services import ApiServices, HealthCheck, QueryRunner, Retention, UiConfig
from application.access_log import AccessLog
from application.audit_export import AuditExports
from application.care_record import CareRecord
from application.erasure_ledger import ErasureLedgerFile, check_kept, reapply
from application.errors import OperatorError
from application.files import private_directory
from application.finding_batches import (
    FindingBatches,
    ReleasedBatch,
    deliver_to,
    release_due,
)
from application.identities import IdentityLinks, IdentityPepper
from application.kek import KeyringFile
from application.kek_rotation import KekRotation
from application.keys import KeyStore, PostgresKeyStore, SqliteKeyStore, WrappedKeyStore
from application.migrations import Stores, migrate
from application.seals import Seal, SealRefused, Seals
from application.signing import SigningKeyError, SigningKeyFile
from application.simulation import simulation_mark
from application.sql import PostgresDatabase, SqliteDatabase
from domain.deadlines import DeadlinePolicy
from domain.minors import Jurisdiction
from projections.health import (
    StalledProjections,
    StandbyReachable,
    WorkerHeartbeats,
    standby_lag_events,
)
from projections.queries import ReadModelQueries
from projections.read_postgres import postgres_queries
from projections.read_sqlite import sqlite_queries
from projections.statistics.exports import XesExports
from projections.statistics.releases import Releases
from projections.statistics.store import ReleaseStore
from projections.store import (
    PostgresProjectionDatabase,
    ProjectionDatabase,
    SqliteProjectionDatabase,
)
from projections.worker import (
    ListenWakeup,
    PollingWakeup,
    Progress,
    ProjectionWorker,
    Wakeup,
    all_projections,
)
from rodedraad.settings import AuthSettings, OidcSettings, Settings, SettingsError
from scheduler.policy import read_policy
from scheduler.runner import (
    BackgroundDeadlines,
    DeadlineScheduler,
    FileLeaderLock,
    LeaderLock,
    PostgresLeaderLock,
)

log = structlog.get_logger("rodedraad")


def stores_of(settings: Settings) -> Stores:
    """The stores of record: one PostgreSQL database, or a SQLite file each in the data
    directory (the events where ``RODEDRAAD_DATABASE_URL`` says)."""
    postgres = settings.database.is_postgres
    return Stores(
        postgres_url=settings.database.url if postgres else None,
        files={}
        if postgres
        else {
            "events": settings.database.sqlite_path,
            "keys": settings.data_dir / "keys.sqlite",
            "access_log": settings.data_dir / "access-log.sqlite",
            "idempotency": settings.data_dir / "idempotency.sqlite",
            "statistics": settings.data_dir / "statistics.sqlite",
            "findings": settings.data_dir / "findings.sqlite",
        },
        lock_file=settings.data_dir / "migrations.lock",
        keyring=KeyringFile(settings.kek.file),
        event_store_env=settings.database.eventsourcing_env(),
    )


def migrate_at_start(settings: Settings) -> None:
    """Issue #11: every process that opens the stores first runs their pending migrations
    under the schema lock, or with ``migrate_on_start`` off refuses to start while one is
    pending (``MigrationsPending``); a store newer than this code is always refused
    (``StoreNewerThanCode``). The data directory is private (0700) before anything is in it,
    and holds no plain working copy of a backup that did not finish (killed: its process is
    gone), which is removed here."""
    from application.backup import remove_stale_working_copies

    private_directory(settings.data_dir)
    for stale in remove_stale_working_copies(settings.data_dir):
        log.warning("removed the working copy of a backup that did not finish", path=str(stale))
    migrate(
        stores_of(settings),
        run_pending=settings.migrate_on_start,
        say=lambda line: log.info("migration", step=line),
    )


def is_simulation(settings: Settings) -> bool:
    """Whether the configured store is a copy made for simulation (``application.simulation``)."""
    return simulation_mark(stores_of(settings)) is not None


def build_key_store(settings: Settings) -> WrappedKeyStore:
    """Per-client keys, apart from the events and wrapped under the KEK: a file of their own,
    or a PostgreSQL table, opened once the stores are migrated. Refuses (``KekError``) if the
    KEK file cannot unwrap them."""
    migrate_at_start(settings)
    keyring = KeyringFile(settings.kek.file)
    if settings.database.is_postgres:
        return PostgresKeyStore(settings.database.url, keyring)
    return SqliteKeyStore(stores_of(settings).files["keys"], keyring)


def signing_key_file(settings: Settings) -> SigningKeyFile:
    """The deployment's signing key: made on first need in embedded mode (one process, one
    machine); on PostgreSQL made once on purpose, so that no process signs with a key of its own
    (``application.signing``)."""
    return SigningKeyFile(
        settings.signing.key_file, create_on_first_need=not settings.database.is_postgres
    )


def kek_inside_data_dir(settings: Settings) -> str | None:
    """Why a KEK file inside the data directory is a risk, or None when it lies elsewhere.

    The natural backup of an embedded deployment copies the data directory; with the KEK in
    it, every such backup carries its own key and erasure never reaches it (README, 'Back up
    and escrow the KEK'). The default puts it there, so each start says so (issue #10 review,
    S4), and so does ``rodedraad keys status``.
    """
    if not settings.kek.file.resolve().is_relative_to(settings.data_dir.resolve()):
        return None
    return (
        f"the KEK file {settings.kek.file} lies inside the data directory {settings.data_dir}: "
        "a backup of that directory then carries its own KEK, and erasure never reaches it. "
        "Set RODEDRAAD_KEK_FILE outside it, or exclude kek.json* from the data backups"
    )


def build_care_record(settings: Settings) -> CareRecord:
    """The write side on the configured database, once the stores are migrated (on SQLite the
    event store's file is created 0600 before anything opens it). A KEK file inside the data
    directory is warned of at every start (``kek_inside_data_dir``)."""
    if warning := kek_inside_data_dir(settings):
        log.warning("KEK file inside the data directory", advice=warning)
    keys = build_key_store(settings)
    record = CareRecord(env=settings.database.eventsourcing_env(), keys=keys)
    record.erasure_ledger = ErasureLedgerFile(settings.erasure_ledger_file)
    return record


def check_erasure_ledger_kept(care_record: CareRecord) -> None:
    """Refuse to go on where the key store shows an erasure and the ledger file is missing
    (``erasure_ledger.check_kept``): at every start, and before ``erasures reapply``."""
    keys = care_record.keys
    if care_record.erasure_ledger is not None and isinstance(keys, WrappedKeyStore):
        check_kept(care_record.erasure_ledger, keys.has_erasures())


def reapply_missing_erasures(care_record: CareRecord) -> list[UUID]:
    """Issue #21: at start, before a request is answered, every erasure of the ledger file that
    the store's own ledger lacks is done again (a store restored with other tooling, or a
    point-in-time recovery). The clients it erased; nothing if the file has none."""
    if care_record.erasure_ledger is None:
        return []
    check_erasure_ledger_kept(care_record)
    keys = care_record.keys
    done = keys.erasure_done if isinstance(keys, WrappedKeyStore) else None
    found = reapply(care_record, care_record.erasure_ledger.entries(), already_erased=done)
    if found.erased:
        log.warning("erasures re-applied from the erasure ledger", clients=len(found.erased))
    return found.erased


def build_kek_rotation(settings: Settings, keys: KeyStore) -> KekRotation:
    """Rotation of the KEK that wraps these keys (a ``CareRecord``'s), on the configured
    schedule."""
    if not isinstance(keys, WrappedKeyStore):
        raise TypeError("KEK rotation needs a key store with wrapped keys")
    return KekRotation.every(keys, settings.kek.rotation_days, settings.kek.backup_window_days)


def kek_health_check(rotation: KekRotation) -> HealthCheck:
    """``/health`` is degraded while a KEK rotation or destruction is overdue."""

    async def check() -> str | None:
        return await anyio.to_thread.run_sync(rotation.health_reason, datetime.now(UTC))

    return check


def build_ui_config(settings: Settings) -> UiConfig:
    """The pages' sign-in with the identity provider when configured, or their local sign-in
    when asked for (never with a production issuer: the settings refuse that), and their CSRF
    key: derived from the client secret or the local token secret so every process agrees,
    random per process otherwise (a form then outlives no restart)."""
    if settings.oidc is not None:
        oidc = build_oidc_client(settings.oidc)
        return UiConfig(oidc=oidc, csrf_secret=oidc.csrf_secret)
    if settings.auth.uses_issuer:
        return UiConfig()
    tokens = LocalTokens.from_file(settings.auth.secret_file)
    return UiConfig(
        local_sign_in=tokens if settings.ui_local_sign_in else None,
        csrf_secret=derived_key(tokens.secret, "csrf"),
    )


def build_oidc_client(oidc: OidcSettings) -> OidcClient:
    """The pages' relying party; its secret read from its file at start (failing fast)."""
    try:
        secret = oidc.client_secret_file.read_text().strip()
    except OSError as e:
        raise SettingsError(
            f"RODEDRAAD_OIDC_CLIENT_SECRET_FILE cannot be read ({e.strerror}): "
            f"{oidc.client_secret_file}"
        ) from None
    if not secret:
        raise SettingsError(
            f"RODEDRAAD_OIDC_CLIENT_SECRET_FILE is empty: {oidc.client_secret_file}"
        )
    return OidcClient(
        issuer=oidc.issuer,
        client_id=oidc.client_id,
        client_secret=secret,
        redirect_url=oidc.redirect_url,
    )


def build_token_verifier(auth: AuthSettings) -> TokenVerifier:
    """RS256 against the configured issuer in production; the local HS256 secret otherwise."""
    if auth.jwks_url:
        return TokenVerifier(
            key=None,
            algorithm="RS256",
            issuer=auth.issuer,
            audience=auth.audience,
            jwks_client=jwt.PyJWKClient(auth.jwks_url),
        )
    if auth.public_key_file:
        return TokenVerifier(
            key=auth.public_key_file.read_text(),
            algorithm="RS256",
            issuer=auth.issuer,
            audience=auth.audience,
        )
    return LocalTokens.from_file(auth.secret_file).verifier()


def build_identity_links(settings: Settings, care_record: CareRecord) -> IdentityLinks:
    """Issue #19: identity links found through a keyed hash under the deployment's pepper (a
    file of its own, made on first need; ``application.identities``)."""
    path = settings.person.pepper_file or settings.data_dir / "identity-pepper"
    return IdentityLinks(care_record, IdentityPepper.from_file(path))


def build_access_log(settings: Settings) -> AccessLog:
    if settings.database.is_postgres:
        return AccessLog(PostgresDatabase(settings.database.url))
    return AccessLog(SqliteDatabase(stores_of(settings).files["access_log"]))


def build_idempotency_store(settings: Settings) -> IdempotencyStore:
    """Keys and answers of retried commands; their request fingerprints are keyed by the KEK
    (which the key store has created by then), so the table alone reveals no body."""
    fingerprints = RequestFingerprints(KeyringFile(settings.kek.file))
    if settings.database.is_postgres:
        return PostgresIdempotencyStore(settings.database.url, fingerprints)
    return SqliteIdempotencyStore(stores_of(settings).files["idempotency"], fingerprints)


def build_projection_database(settings: Settings) -> ProjectionDatabase:
    if settings.database.is_postgres:
        return PostgresProjectionDatabase(settings.database.url)
    return SqliteProjectionDatabase(settings.data_dir / "readmodels.sqlite")


def settle_heap() -> None:
    """Take what start-up left alive — the modules (numpy, SciPy, HiGHS, Litestar), the
    settings, the wiring — out of the garbage collector's reach (``gc.freeze``). A full
    collection walks every tracked object: the started service holds about 120,000, and one
    such collection took 54 ms here (0.0 ms once they are frozen), the pauses that made the
    as-of benchmark's p99 (issue #15). Objects made later are collected as before. Called
    once, by ``rodedraad serve`` before it serves (a process that starts many apps, like the
    test suite, would pin each one's leftovers for good)."""
    gc.collect()
    gc.freeze()


def build_policy(settings: Settings) -> DeadlinePolicy:
    """The deadline policy; an invalid file stops the process with a message naming the rule."""
    return read_policy(settings.policy_file)


def build_projection_worker(
    settings: Settings,
    care_record: CareRecord,
    progress: Callable[[Progress], None] | None = None,
    policy: DeadlinePolicy | None = None,
) -> ProjectionWorker:
    """A worker whose read models exist and are of the code's version (rebuilt if not)."""
    worker = ProjectionWorker(
        care_record,
        build_projection_database(settings),
        all_projections(
            policy or build_policy(settings),
            care_record.keys,
            reload=care_record.reload_trajectory,
        ),
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    if settings.database.is_postgres:  # SQLite has one writer: its rebuild stays one process
        worker.share_worker = functools.partial(build_share_worker, settings)
    worker.ensure_ready(progress)
    return worker


def build_share_worker(settings: Settings) -> ProjectionWorker:
    """In a child process of a split rebuild: a worker on the same stores as they are (no
    migration, no rebuild of its own)."""
    care_record = build_care_record(settings)
    return ProjectionWorker(
        care_record,
        build_projection_database(settings),
        all_projections(
            build_policy(settings), care_record.keys, reload=care_record.reload_trajectory
        ),
    )


def build_leader_lock(settings: Settings) -> LeaderLock:
    if settings.database.is_postgres:
        return PostgresLeaderLock(settings.database.url)
    return FileLeaderLock(settings.data_dir / "scheduler.lock")


def build_deadline_scheduler(
    settings: Settings,
    care_record: CareRecord,
    policy: DeadlinePolicy,
    worker: ProjectionWorker | None = None,
) -> DeadlineScheduler:
    """The scheduler asks the deadlines read model through a database connection of its own."""
    return DeadlineScheduler(
        care_record=care_record,
        database=build_projection_database(settings),
        policy=policy,
        worker=worker,
    )


@dataclass(frozen=True)
class Deadlines:
    """A scheduler of its own, for the CLI: the record, its read models (made ready, and of the
    code's version), and the scheduler."""

    care_record: CareRecord
    worker: ProjectionWorker
    scheduler: DeadlineScheduler

    def close(self) -> None:
        self.scheduler.database.close()
        self.worker.database.close()
        self.care_record.close()


def build_deadlines(settings: Settings, *, catch_up: bool) -> Deadlines:
    """``catch_up``: the scheduler brings the read models up to the log before a run (a one-off
    run); else it waits for the projection worker to (a scheduler process beside one)."""
    policy = build_policy(settings)
    care_record = build_care_record(settings)
    worker = build_projection_worker(settings, care_record, policy=policy)
    scheduler = build_deadline_scheduler(
        settings, care_record, policy, worker=worker if catch_up else None
    )
    return Deadlines(care_record, worker, scheduler)


def build_release_store(settings: Settings) -> ReleaseStore:
    """The statistics releases: beside the event store on PostgreSQL, ``statistics.sqlite`` in
    embedded mode."""
    if settings.database.is_postgres:
        return ReleaseStore(PostgresDatabase(settings.database.url))
    return ReleaseStore(SqliteDatabase(stores_of(settings).files["statistics"]))


def build_finding_batches(settings: Settings) -> FindingBatches:
    """Shared findings waiting for their batch (issue #14 point 2): beside the event store on
    PostgreSQL, ``findings.sqlite`` in embedded mode."""
    if settings.database.is_postgres:
        return FindingBatches(PostgresDatabase(settings.database.url))
    return FindingBatches(SqliteDatabase(stores_of(settings).files["findings"]))


def theme_batch_job(
    batches: FindingBatches, care_record: CareRecord
) -> Callable[[datetime], list[ReleasedBatch]]:
    """The scheduler's (and the CLI's) job: release every region's theme batch that is due."""
    deliver = deliver_to(care_record)
    return lambda now: release_due(batches, deliver, now)


def seal_job(
    settings: Settings, care_record: CareRecord, access_log: AccessLog
) -> Callable[[datetime], list[Seal]]:
    """The scheduler's job: seal the event chain and the read log's head when the last seal is
    ``RODEDRAAD_SEAL_INTERVAL_MINUTES`` old and there is something new in either (issue #16).
    ``access_log``: the read log, whose head each seal signs (its owner closes it)."""
    seals = Seals(care_record.recorder, access_log)
    key = signing_key_file(settings).load
    every = timedelta(minutes=settings.seal_interval_minutes)

    def job(now: datetime) -> list[Seal]:
        try:
            return seals.take_if_due(key, now, every)
        except SigningKeyError as e:  # a PostgreSQL deployment that has not made its key yet
            log.warning("the event chain is not sealed", reason=e.message)
            return []
        except SealRefused as e:  # the chain does not hold: never seal over it
            log.error("the event chain does not hold; not sealed", reason=e.message)
            return []

    return job


def build_releases(
    settings: Settings, policy: DeadlinePolicy, read_models: ProjectionDatabase | None = None
) -> Releases:
    """Releases read the read models through a connection of their own (or ``read_models``)."""
    stats = settings.statistics
    return Releases(
        read_models=read_models or build_projection_database(settings),
        store=build_release_store(settings),
        policy=policy,
        k=stats.k,
        lag_days=stats.lag_days,
        deployment=settings.signing.deployment,
        laws=stats.laws,
        grid=stats.grid,
        audit_processes=stats.audit_processes,
    )


def wakeup_for(settings: Settings, care_record: CareRecord) -> Wakeup:
    """LISTEN/NOTIFY on PostgreSQL; on SQLite, this process's own saves plus polling."""
    if settings.database.is_postgres:
        channel: str = care_record.recorder.channel_name  # type: ignore[attr-defined]
        return ListenWakeup(settings.database.url, channel)
    polling = PollingWakeup()
    care_record.on_recorded = polling.notify
    return polling


@dataclass(frozen=True)
class _Shutdown:
    close: Callable[[], None]


@dataclass
class Container:
    """Everything one process runs, and how to start and stop it.

    ``inline_projections`` applies new events to the read models before a command answers
    (tests use it for determinism); otherwise a background worker follows the log.
    """

    settings: Settings
    care_record: CareRecord
    idempotency: IdempotencyStore
    token_verifier: TokenVerifier
    policy: DeadlinePolicy
    worker: ProjectionWorker
    inline_projections: bool = False
    #: The embedded scheduler, once started (never on a simulation copy).
    background_scheduler: BackgroundDeadlines | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _closers: list[object] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def build(cls, settings: Settings, *, inline_projections: bool = False) -> "Container":
        care_record = build_care_record(settings)
        reapply_missing_erasures(care_record)
        policy = build_policy(settings)
        container = cls(
            settings=settings,
            care_record=care_record,
            idempotency=build_idempotency_store(settings),
            token_verifier=build_token_verifier(settings.auth),
            policy=policy,
            worker=build_projection_worker(settings, care_record, policy=policy),
            inline_projections=inline_projections,
        )
        if inline_projections:
            care_record.on_recorded = container.worker.catch_up_quietly
        return container

    def read_queries(self) -> tuple[ReadModelQueries, QueryRunner]:
        if self.settings.database.is_postgres:
            return postgres_queries(self.settings.database.url)
        return sqlite_queries(self.settings.data_dir / "readmodels.sqlite")

    def start_projection_worker(self) -> None:
        """Follow the log in a background thread of this process (embedded mode)."""
        if self.inline_projections or self._threads:
            return
        wakeup = wakeup_for(self.settings, self.care_record)
        thread = threading.Thread(
            target=self.worker.run, args=(self._stop, wakeup), name="projections", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        self._closers.append(wakeup)

    def start_scheduler(self) -> None:
        """Record missed deadlines in the background (embedded mode), at the real date, taking
        turns with one-off jobs (``scheduler.jobs``); never on a simulation copy, where time
        moves only when someone runs the scheduler at the moment they choose."""
        if is_simulation(self.settings):
            log.info(
                "a simulation copy: the scheduler runs only when asked "
                "(`rodedraad scheduler run-once --now …`)"
            )
            return
        scheduler = build_deadline_scheduler(
            self.settings,
            self.care_record,
            self.policy,
            worker=self.worker if self.inline_projections else None,
        )
        releases = build_releases(self.settings, self.policy)
        batches = build_finding_batches(self.settings)
        read_log = build_access_log(self.settings)
        background = BackgroundDeadlines(
            scheduler,
            build_leader_lock(self.settings),
            self.settings.scheduler_interval_seconds,
            kek_rotation=build_kek_rotation(self.settings, self.care_record.keys),
            prune_idempotency_keys=self.idempotency.prune,
            release_statistics=releases.run_due,
            release_theme_batches=theme_batch_job(batches, self.care_record),
            take_seal=seal_job(self.settings, self.care_record, read_log),
        )
        background.start()
        self.background_scheduler = background
        self._closers.append(_Shutdown(background.shutdown))
        self._closers.extend(
            [scheduler.database, releases.store, releases.read_models, batches, read_log]
        )

    def http_app(self) -> Litestar:
        queries, runner = self.read_queries()
        standby, standby_runner = (
            postgres_queries(self.settings.read_database_url)
            if self.settings.read_database_url
            else (None, None)
        )
        access_log = build_access_log(self.settings)
        release_store = build_release_store(self.settings)
        exports = XesExports(build_projection_database(self.settings), self.settings.statistics.k)
        findings = build_finding_batches(self.settings)
        self._closers.extend([access_log, release_store, exports, findings])
        standby_releases = None
        if self.settings.read_database_url:
            standby_releases = ReleaseStore(PostgresDatabase(self.settings.read_database_url))
            self._closers.append(standby_releases)
        services = ApiServices(
            care_record=self.care_record,
            idempotency=self.idempotency,
            token_verifier=self.token_verifier,
            queries=queries,
            query_runner=runner,
            standby=standby,
            standby_runner=standby_runner,
            standby_releases=standby_releases,
            policy=AccessPolicy(self.care_record),
            access_log=access_log,
            retention=Retention(
                plan_years=self.settings.retention_plan_years,
                log_years=self.settings.retention_log_years,
            ),
            max_body_bytes=self.settings.http.max_body_bytes,
            benchmark_null_command=self.settings.http.benchmark_null_command,
            releases=release_store,
            exports=exports,
            findings=findings,
            cadence=self.policy.cadence,
            deadline_policy=self.policy,
            audit_exports=AuditExports(
                self.care_record, signing_key_file(self.settings).load, access_log
            ),
            identities=build_identity_links(self.settings, self.care_record),
            jurisdiction=Jurisdiction(self.settings.person.jurisdiction),
            ui=build_ui_config(self.settings),
            health_checks=[
                *self.read_side_health(queries),
                kek_health_check(build_kek_rotation(self.settings, self.care_record.keys)),
                *([StandbyReachable(standby.tracking)] if standby else []),
            ],
        )
        if self.settings.read_database_url:
            self.watch_standby_lag(self.settings.read_database_url)
        on_startup = (
            [self.start_projection_worker, self.start_scheduler]
            if self.settings.embedded_workers
            else []
        )
        return create_app(services, on_startup=on_startup, on_shutdown=[self.close])

    def watch_standby_lag(self, standby_url: str) -> None:
        """``rodedraad_standby_lag_events``: asked of the primary and the standby at each
        scrape (in the metrics listener's thread), so it is as fresh as the scrape."""
        from application.metrics import metrics

        primary_url = self.settings.database.url
        gauge = metrics().standby_lag
        gauge.set_function(lambda: standby_lag_events(primary_url, standby_url))
        # Closed: no longer asked of databases this process let go (unknown from here on).
        self._closers.append(_Shutdown(lambda: gauge.set_function(lambda: math.nan)))

    def read_side_health(self, queries: ReadModelQueries) -> list[HealthCheck]:
        """Issue #10: ``/health`` degraded while the read models stand still behind the log,
        or no projection worker is alive. Inline projections need no worker: not asked."""
        beat = self.settings.heartbeat_seconds
        checks: list[HealthCheck] = [
            StalledProjections(
                queries.tracking.positions, self.care_record.recorder.max_notification_id, 2 * beat
            )
        ]
        if not self.inline_projections:
            checks.append(WorkerHeartbeats(queries.tracking, stale_after=3 * beat))
        return checks

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for closer in self._closers:
            close = getattr(closer, "close", None)
            if close is not None:
                close()
        self.worker.database.close()
        self.idempotency.close()
        self.care_record.close()


class ListenerRefused(OperatorError):
    """An address this process is to listen on cannot be had (in use, not this machine's, a
    port below 1024 without the right); the message names it and the setting that gives it."""


def _cannot_listen(host: str, port: int, setting: str, error: OSError) -> ListenerRefused:
    why = error.strerror or str(error)
    return ListenerRefused(
        f"cannot listen on {host}:{port} ({why}): another process may be listening there; stop "
        f"it, or give this process another address ({setting}); nothing was started"
    )


def check_can_listen(host: str, port: int, setting: str) -> None:
    """Refuses (``ListenerRefused``) at once, before anything starts, if ``host:port`` cannot
    be listened on as the HTTP server will (every address the host resolves to, with
    ``SO_REUSEADDR``); the server would otherwise stop later with a line of its own log."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as e:
        raise _cannot_listen(host, port, setting, e) from None
    for family, kind, protocol, _, address in found:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as e:
                raise _cannot_listen(host, port, setting, e) from None


def start_metrics_listener(settings: Settings) -> Callable[[], None] | None:
    """This process's metrics on ``RODEDRAAD_METRICS_ADDRESS`` (``/metrics``, Prometheus'
    text format, from the client library's own server in a thread); the function that stops
    it, or None when no address is set (the default: no listener). ``ListenerRefused`` if
    the address cannot be listened on (in use: exit 2, saying so, not a traceback)."""
    if settings.metrics_address is None:
        return None
    from prometheus_client import start_http_server

    from application.metrics import metrics

    host, port = settings.metrics_address
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics().registry)
    except OSError as e:
        raise _cannot_listen(host, port, "RODEDRAAD_METRICS_ADDRESS", e) from None
    log.info("metrics listening", address=f"{host}:{port}")

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
