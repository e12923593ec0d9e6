"""The care record: one eventsourcing ``Application``, its use cases typed end to end.

A use case loads what it needs, lets the caller's access policy decide who acts, runs one typed
command (``application.commands``) on one aggregate, and saves. Most commands change one
trajectory or one client and go through ``change_trajectory`` / ``change_client``; registering,
referring and erasing, and the scheduler's deadlines, have use cases of their own. A command on
an existing aggregate may name the version it expects (``If-Match``); a stale version is refused
before anything is recorded, and a write that loses a race is refused by the event store's
unique (aggregate, version) constraint, so no update is ever lost.
"""

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import get_topic, strtobool

from application.codec import MsgspecTranscoder, PersonalDataErased, SealingMapper
from application.commands import (
    ClientCommand,
    EraseClient,
    EscalatePolicySignalAt,
    EstablishLearningNetwork,
    GrantConsent,
    GrantExportAuthorisation,
    NetworkCommand,
    OrganisationCommand,
    Refer,
    RegisterClient,
    RegisterOrganisation,
    RevokeExportAuthorisation,
    ShareFinding,
    TrajectoryCommand,
)
from application.commit_times import CommitTimes
from application.erasure_ledger import ErasureLedgerFile
from application.group_commit import GroupCommit
from application.keys import KeyStore, MemoryKeyStore, WrappedKeyStore
from application.metrics import metrics
from domain.client import Client
from domain.common import Actor, CommandContext
from domain.errors import ClientErased, DomainError, InvalidValue, TrajectoryNotFound
from domain.export_authorisation import ExportAuthorisation
from domain.learning_network import (
    ClosedNetworkTakesNothing,
    EscalationNeedsForum,
    LearningNetwork,
    LearningNetworkNotFound,
    NetworkAlreadyEstablished,
    NetworkLevel,
    NetworkStatus,
    ProposerKind,
    ThemeSource,
    network_id,
)
from domain.network_cadence import CadenceFact
from domain.organisation import (
    Organisation,
    OrganisationAlreadyRegistered,
    OrganisationNotFound,
    organisation_id,
)
from domain.person_requests import RequestDeadline, deadline_due
from domain.record import Record
from domain.shared_findings import (
    IdentifyingNetworkText,
    SharerReadsNoNames,
    check_confirmed,
    check_shareable,
)
from domain.trajectory import OPEN, Trajectory

A = TypeVar("A", bound=Record)
log = structlog.get_logger("rodedraad.findings")

#: What the scheduler records of a deadline.
DeadlineFact = Literal["missed", "met_late", "reminder"]

#: Who re-applies an erasure of the ledger file after a restore (issue #21).
RESTORE_ACTOR = Actor(user_id="rodedraad-restore", organisation="rodedraad", role="restore")
#: Who proposes a batch's themes to a network: the record's own process, shown as "a
#: coordinator of the region" (``ProposerKind.REGION_COORDINATOR``), never an organisation.
THEME_BATCH_ACTOR = Actor(user_id="rodedraad-theme-batches", organisation="rodedraad", role="batch")


class FindingOutbox(Protocol):
    """Where a shared finding waits for its region's batch (``application.finding_batches``)."""

    def hold(
        self, *, region: str, title: str, text: str, received_on: date, trajectory: UUID
    ) -> None: ...


#: Take a snapshot every this many events, so long-lived trajectories load fast.
SNAPSHOT_INTERVAL = 50


class ApplicationError(Exception):
    """A refusal that comes from concurrency, not from the domain's rules."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleVersion(ApplicationError):
    """The caller's expected version (``If-Match``) is not the current one."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the record is at version {current}, not {expected}; reload it and decide again"
        )
        self.expected = expected
        self.current = current


class ConcurrentWrite(ApplicationError):
    """Another command recorded the same version first."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command answers: the aggregate, its new version and the log position it reached."""

    id: UUID
    version: int
    position: int | None
    #: The id of the item (goal, agreement, consent, …) the command created, if it created one.
    item_id: str | None = None


class CopyingRepository(Repository[UUID]):
    """eventsourcing's repository, whose cached aggregates are never copied while they change.

    The library's ``get`` fast-forwards a cached aggregate *in place* (under a lock of its own)
    and deep-copies it *after* that lock: a copy made by one thread while another thread's
    fast-forward applied events to the same object failed (``dictionary changed size during
    iteration``: an outside probe's eight writers on one learning network got ``500``s), or could
    have copied a half-applied aggregate. Here a lock per aggregate (one of ``STRIPES``, by its
    id) holds across the fast-forward and the copy, and every other copy from the cache
    (``CareRecord._cached_copy``) takes it too. Different aggregates rarely share one.
    """

    STRIPES = 64

    def __init__(self, event_store: Any, **options: Any) -> None:
        super().__init__(event_store, **options)
        self._stripes = tuple(threading.Lock() for _ in range(self.STRIPES))

    def guarding(self, aggregate_id: UUID) -> threading.Lock:
        """The lock held while ``aggregate_id``'s cached object is changed or copied."""
        return self._stripes[aggregate_id.int % self.STRIPES]

    def get(self, aggregate_id: UUID, *, version: int | None = None, **options: Any) -> Any:
        if self.cache is None or version is not None:
            return super().get(aggregate_id, version=version, **options)
        with self.guarding(aggregate_id):
            return super().get(aggregate_id, version=version, **options)


class CareRecord(Application[UUID]):
    """Trajectories and clients: the record's use cases."""

    name = "rodedraad"
    snapshotting_intervals = {Trajectory: SNAPSHOT_INTERVAL, Client: SNAPSHOT_INTERVAL}
    #: Called after every save; the composition root wires it to wake the projection worker.
    on_recorded: Callable[[], None] | None = None
    #: The erasure ledger kept apart from the backups (issue #21); the composition root sets it.
    erasure_ledger: ErasureLedgerFile | None = None
    repository: CopyingRepository  # (``construct_repository``)

    def __init__(self, env: Mapping[str, str] | None = None, keys: KeyStore | None = None) -> None:
        #: Per-client keys that seal personal data (crypto-shredding); in memory if not given.
        self.keys: KeyStore = keys or MemoryKeyStore()
        super().__init__(env=env)
        self.group_commit = GroupCommit(self._record, self._after_recorded)
        #: The aggregates this thread's command may take from the cache as they are (issue #22).
        self._trusted = threading.local()
        #: Per creation topic: up to where the log was read, and what was found (``_created``).
        self._creations: dict[str, tuple[int, list[UUID]]] = {}
        self._creations_lock = threading.Lock()

    def close(self) -> None:
        super().close()
        self.keys.close()

    def construct_repository(self) -> "CopyingRepository":
        """eventsourcing's repository, with its cache guarded (``CopyingRepository``)."""
        maxsize = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return CopyingRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(maxsize) if maxsize else None,
            fastforward=strtobool(self.env.get(self.AGGREGATE_CACHE_FASTFORWARD, "y")),
            fastforward_skipping=strtobool(
                self.env.get(self.AGGREGATE_CACHE_FASTFORWARD_SKIPPING, "n")
            ),
            deepcopy_from_cache=strtobool(self.env.get(self.DEEPCOPY_FROM_AGGREGATE_CACHE, "y")),
        )

    def construct_mapper(self) -> Mapper[UUID]:
        return SealingMapper(
            transcoder=MsgspecTranscoder(),
            keys=self.keys,
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )

    def _after_recorded(
        self, processing: ProcessingEvent[UUID], recordings: list[Recording[UUID]]
    ) -> None:
        """What ``Application.save`` does after recording: snapshots, then notification."""
        self._take_snapshots(processing)
        self._notify(recordings)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if self.on_recorded is not None:
            self.on_recorded()

    # --- plumbing -------------------------------------------------------------------------------

    def _load(self, cls: type[A], aggregate_id: UUID) -> A:
        aggregate: Aggregate | None = None
        trusted: Aggregate | None = getattr(self._trusted, "aggregate", None)
        if trusted is not None and trusted.id == aggregate_id:
            self._trusted.aggregate = None  # once: the command decides on this very copy
            aggregate = trusted
        if aggregate is None:
            with contextlib.suppress(AggregateNotFoundError):
                aggregate = self.repository.get(aggregate_id)
        if not isinstance(aggregate, cls):
            raise cls.not_found(f"no {cls.__name__.lower()} with id {aggregate_id}")
        return aggregate

    def _check_writable(self, aggregate: Record) -> None:
        """An erased client's record takes no new facts (there is no key to seal them with)."""
        has_key = not aggregate.holds_personal_data or self.keys.key_for(aggregate.id) is not None
        aggregate.check_writable(has_key=has_key)

    def forget_cached(self, aggregate_ids: Iterable[UUID]) -> None:
        """Drop aggregates from this process's cache (their keys were destroyed elsewhere)."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def reload_trajectory(self, trajectory_id: UUID) -> Trajectory:
        """The trajectory read afresh from the store, never from the cache (after an erasure,
        its personal fields must read as placeholders)."""
        self.forget_cached([trajectory_id])
        return self.trajectory(trajectory_id)

    def trajectory(self, trajectory_id: UUID) -> Trajectory:
        return self._load(Trajectory, trajectory_id)

    def client(self, client_id: UUID) -> Client:
        return self._load(Client, client_id)

    # --- the aggregate being written, from the cache (issue #22) ---------------------------------

    def _cached_copy(self, aggregate_id: UUID) -> Aggregate | None:
        """This process's cached copy as it is, not fast-forwarded from the store; ``None`` when
        none is cached. A copy: a refused command must leave the cache as it was."""
        repository = self.repository
        cache = repository.cache
        if cache is None:
            return None
        with repository.guarding(aggregate_id):
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                return None
            # The cheap copy of ``domain.record``, not the deep one.
            return copy.deepcopy(cached) if isinstance(cached, Aggregate) else None

    def _cache_saved(self, aggregates: Iterable[Aggregate]) -> None:
        """Saved aggregates are current as of their commit: the cache keeps them, so that the
        next command on them starts from there without reading the store."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate in aggregates:
            with contextlib.suppress(KeyError):
                if cache.get(aggregate.id).version >= aggregate.version:
                    continue  # a later version is cached already (another thread's)
            cache.put(aggregate.id, aggregate)

    def _writing_cached(
        self, aggregate_id: UUID, command: Callable[[], CommandResult]
    ) -> CommandResult:
        """Run ``command``, which loads, decides on and saves ``aggregate_id``, on the cached
        copy as it is, without reading the aggregate's newer events from the store first.

        The store's unique (aggregate, version) makes that safe: a command decided on a copy
        that another process had already moved on cannot be recorded (its version is taken).
        Then, and when the copy's answer was a refusal, the copy is checked: if the record had
        moved on before this command began, the cache was stale and the command runs once more
        on the record as it is, invisibly to the client. If it moved on only after (a command
        that won a race), the outcome stands, as it would have without the cache: the lost race
        is a 409. (The commit's stamp is the database's clock; the start, this process's: with
        clocks apart, a race may be retried, which records the command on the newer version,
        or a stale copy refused as a race. Neither loses an update.)

        Only the aggregate being written: what decides access besides it (a client's consents,
        exclusions, erasure) is read from the record, so a revocation made through another
        process counts on the next request.
        """
        started = datetime.now(UTC)  # before the copy: a commit after it is never "before"
        cached = self._cached_copy(aggregate_id)
        if cached is None:
            return command()
        version = cached.version  # the command moves the copy on: the version it began at
        self._trusted.aggregate = cached
        try:
            return command()
        except (DomainError, ApplicationError):
            # Only a refusal or a lost race is decided on the copy; anything else (the database
            # gone, a failure after the commit) may follow this very command's commit, and
            # running it again would record it twice.
            self._trusted.aggregate = None
            if not self._moved_on_before(aggregate_id, version, started):
                raise
        finally:
            self._trusted.aggregate = None
        self.forget_cached([aggregate_id])
        metrics().stale_cache_retries.inc()
        return command()

    def _moved_on_before(self, aggregate_id: UUID, version: int, moment: datetime) -> bool:
        """Whether the store held a version after ``version`` committed by ``moment``."""
        for event in CommitTimes(self.recorder).stored_events(aggregate_id):
            if event.stored.originator_version == version + 1:
                return event.committed_at is None or event.committed_at <= moment
        return False

    def _save_all(self, *aggregates: Aggregate, item_id: str | None = None) -> CommandResult:
        try:
            recordings = self.group_commit.save(*aggregates)
        except IntegrityError:
            # Whatever copy this process holds is behind the record: the next load reads it.
            self.forget_cached([a.id for a in aggregates])
            raise ConcurrentWrite(
                "another command changed this record at the same moment; reload it and retry"
            ) from None
        except PersonalDataErased:
            # The client was erased between this command's check and its commit (their keys
            # are gone, so nothing personal can be sealed): refused as the check would now
            # refuse it, nothing recorded.
            self.forget_cached([a.id for a in aggregates])
            raise ClientErased(
                "the client's personal data was erased while this command was being recorded; "
                "their record is closed to new facts"
            ) from None
        self._cache_saved(aggregates)
        first = aggregates[0]
        positions = [r.notification.id for r in recordings if r.notification is not None]
        return CommandResult(
            id=first.id,
            version=first.version,
            position=max(positions) if positions else None,
            item_id=item_id,
        )

    def _load_for(
        self, ctx: CommandContext, cls: type[A], aggregate_id: UUID, expected_version: int | None
    ) -> tuple[A, CommandContext]:
        """Load, decide who acts, check the expected version and that it takes new facts.

        Access is decided first, on the record as it is (not on a read model that may lag): a
        record the caller may not see has no version to reveal. The command runs with the
        context the decision returns, so the event names the role that acted.
        """
        aggregate = self._load(cls, aggregate_id)
        ctx = ctx.authorised(aggregate)
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(expected_version, aggregate.version)
        self._check_writable(aggregate)
        return aggregate, ctx

    def change_trajectory(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        command: TrajectoryCommand,
    ) -> CommandResult:
        """Any command on one trajectory (``application.commands``: accept, consultations, role
        agreements, the plan, escalations, blocks, handover, closing). The trajectory comes from
        the cache as it is (``_writing_cached``)."""

        def run() -> CommandResult:
            trajectory, authorised = self._load_for(
                ctx, Trajectory, trajectory_id, expected_version
            )
            chosen = command.chosen_references()
            if chosen:  # (kept after an erasure: they name no one)
                client = self.client(trajectory.client_id)
                for field, value in chosen:
                    client.check_identifier(
                        field,
                        value,
                        recorded=_sees_names(authorised, client),
                        also=client.names_known_to(authorised.actor),
                    )
            identified = command.identified()
            identified.apply(trajectory, authorised, self)
            return self._save_all(trajectory, item_id=identified.item_id)

        return self._writing_cached(trajectory_id, run)

    def change_client(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        command: ClientCommand,
    ) -> CommandResult:
        """Any command on one client's record: representatives and consents."""
        client, ctx = self._load_for(ctx, Client, client_id, expected_version)
        if isinstance(command, GrantConsent) and command.trajectory_id is not None:
            self.check_trajectory_of(client_id, command.trajectory_id)
        for field, value in command.chosen_references():  # (they outlive an erasure)
            client.check_identifier(
                field,
                value,
                recorded=_sees_names(ctx, client),
                also=[getattr(command, "name", None), *client.names_known_to(ctx.actor)],
            )
        command = command.identified()
        command.apply(client, ctx)
        return self._save_all(client, item_id=command.item_id)

    def check_trajectory_of(self, client_id: UUID, trajectory_id: UUID) -> None:
        """A consent names one of its client's own trajectories (issue #17). Another client's
        is refused as one that does not exist, in the same words: a consent on the wrong
        person's record would be revocable by someone who never saw it, and the refusal tells
        nothing of the other client's trajectory. Asked of the key store first (a trajectory's
        key is its client's), so another client's record is not read at all."""
        own = trajectory_id != client_id and trajectory_id in self.keys.subjects_of(client_id)
        if own:
            found: Aggregate | None = None
            with contextlib.suppress(AggregateNotFoundError):
                found = self.repository.get(trajectory_id)
            own = isinstance(found, Trajectory) and found.client_id == client_id
        if not own:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")

    def trajectories_of(self, client_id: UUID) -> list[Trajectory]:
        """The client's trajectories, from the record itself.

        Every trajectory's key belongs to its client and is created in the command that refers
        it, so the key store knows them without lagging behind the record (a key whose referral
        was never recorded names no trajectory and is passed over). An erased client's
        trajectories are still known, through the key store's erasure ledger.
        """
        found = []
        for subject in self.keys.subjects_of(client_id):
            if subject == client_id:
                continue
            with contextlib.suppress(AggregateNotFoundError):
                aggregate: Aggregate = self.repository.get(subject)
                if isinstance(aggregate, Trajectory) and aggregate.client_id == client_id:
                    found.append(aggregate)
        return found

    def manages(self, organisation: str, client: Client) -> bool:
        """Whether ``organisation`` acts for ``client``: it registered the client, or it
        coordinates one of the client's open trajectories (read from the record, never from a
        read model). The access policy asks it (``AccessPolicy.manages``), and so does a
        continuation (``_refer``)."""
        if client.registering_organisation == organisation:
            return True
        return any(
            t.status in OPEN and t.coordinating_organisation == organisation
            for t in self.trajectories_of(client.id)
        )

    # --- clients --------------------------------------------------------------------------------

    def register_client(self, ctx: CommandContext, command: RegisterClient) -> CommandResult:
        return self._save_all(Client.register(ctx, personal=command.personal))

    def erase_client(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        command: EraseClient,
    ) -> CommandResult:
        """Crypto-shredding: destroy the client's keys, drop snapshots, record the erasure.

        Keys go first: if anything fails after that, the personal data is already unreadable and
        a retry only records the fact, for every subject (the key store's erasure ledger still
        names the client's trajectories once their keys are gone). Snapshots hold sealed state;
        they are dropped so that the aggregates load from their events, whose personal fields
        now read as placeholders.
        """
        _, ctx = self._load_for(ctx, Client, client_id, expected_version)
        if self.erasure_ledger is not None:  # before the keys go: a restore must know of it
            self.erasure_ledger.append(client_id, ctx.now, command.legal_basis)
        return self._erase(ctx, client_id, command)

    def _erase(self, ctx: CommandContext, client_id: UUID, command: EraseClient) -> CommandResult:
        subjects = tuple(sorted(set(self.keys.erase_client(client_id)) | {client_id}, key=str))
        self._delete_snapshots(subjects)
        self.forget_cached(subjects)
        client = self.client(client_id)  # reloaded without its keys
        client.erase(ctx, legal_basis=command.legal_basis, erased_subjects=subjects)
        result = self._save_all(client)
        metrics().erasures.inc()
        return result

    # --- re-applying erasures after a restore (``application.erasure_ledger``) ----------------

    def erasure_state(self, client_id: UUID) -> str:
        """``erased``, ``present`` (recorded and not erased) or ``absent`` (not in this log)."""
        try:
            client = self.client(client_id)
        except Client.not_found:
            return "absent"
        return "erased" if client.erased_at is not None else "present"

    def reapply_erasure(self, client_id: UUID, erased_at: datetime, legal_basis: str) -> None:
        """An erasure the ledger file holds and this (restored) store lacks, done again by the
        record's own process, dated when it was first done; nothing is added to the file."""
        now = datetime.now(UTC)
        ctx = CommandContext(
            actor=RESTORE_ACTOR,
            occurred_at=min(erased_at, now),
            correlation_id=f"erasure-reapplied-{uuid.uuid4().hex[:12]}",
            causation_id=None,
            now=now,
        )
        try:
            self._load_for(ctx, Client, client_id, None)
            self._erase(
                ctx, client_id, EraseClient(occurred_at=ctx.occurred_at, legal_basis=legal_basis)
            )
        except (ClientErased, ConcurrentWrite):
            # Another process starting beside this one re-applied it first: done is done.
            self.forget_cached([client_id])
            if self.erasure_state(client_id) != "erased":
                raise

    def erase_keys_only(self, client_id: UUID) -> None:
        """Whatever keys of the client are left go (a client the log does not hold, or one
        whose erasure is recorded but whose keys a torn copy kept). Nothing to do, no write."""
        if isinstance(self.keys, WrappedKeyStore) and not self.keys.holds_keys_of(client_id):
            return
        subjects = self.keys.erase_client(client_id)
        self.forget_cached([*subjects, client_id])

    def _delete_snapshots(self, subjects: tuple[UUID, ...]) -> None:
        if self.snapshots is None:
            return
        recorder: Any = self.snapshots.recorder
        postgres = isinstance(recorder, PostgresAggregateRecorder)
        mark = "%s" if postgres else "?"
        table = recorder.events_table_name
        with recorder.datastore.transaction(commit=True) as cursor:
            for subject in subjects:
                cursor.execute(
                    f"DELETE FROM {table} WHERE originator_id = {mark}",  # noqa: S608
                    (subject if postgres else subject.hex,),
                )

    # --- the organisation register -------------------------------------------------------------

    def organisation(self, identifier: str) -> Organisation:
        """The registered organisation with this identifier, or ``OrganisationNotFound``."""
        return self._load(Organisation, organisation_id(identifier))

    def register_organisation(
        self, ctx: CommandContext, command: RegisterOrganisation, *, provisional: bool
    ) -> CommandResult:
        """Register once per identifier: a second registration is refused (409) and names the
        way out (a correction). Two racing registrations meet the store's unique (aggregate,
        version) constraint, which refuses the second as a concurrent write (409 too)."""
        if self._holds(organisation_id(command.identifier)):
            raise OrganisationAlreadyRegistered(
                f"organisation {command.identifier!r} is already registered; an admin corrects "
                f"it with POST /v1/organisations/{command.identifier}/correct",
                field="identifier",
            )
        organisation = command.register(ctx, provisional=provisional)
        return self._save_all(organisation, item_id=organisation.identifier)

    def _holds(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def change_organisation(
        self,
        ctx: CommandContext,
        identifier: str,
        expected_version: int | None,
        command: OrganisationCommand,
    ) -> CommandResult:
        """Confirm or correct (classify) one registered organisation."""
        if not self._holds(organisation_id(identifier)):
            raise OrganisationNotFound(
                f"organisation {identifier!r} is not registered; register it first with "
                "POST /v1/organisations"
            )
        organisation, ctx = self._load_for(
            ctx, Organisation, organisation_id(identifier), expected_version
        )
        command.apply(organisation, ctx)
        return self._save_all(organisation, item_id=organisation.identifier)

    # --- export authorisations (issue #13) -----------------------------------------------------

    def grant_export_authorisation(
        self, ctx: CommandContext, command: GrantExportAuthorisation
    ) -> CommandResult:
        """The data protection officer's record (the access policy decided the role: no
        record stands behind a new authorisation)."""
        authorisation = command.grant(ctx)
        return self._save_all(authorisation, item_id=str(authorisation.id))

    def revoke_export_authorisation(
        self,
        ctx: CommandContext,
        authorisation_id: UUID,
        expected_version: int | None,
        command: RevokeExportAuthorisation,
    ) -> CommandResult:
        authorisation, ctx = self._load_for(
            ctx, ExportAuthorisation, authorisation_id, expected_version
        )
        command.apply(authorisation, ctx)
        return self._save_all(authorisation, item_id=str(authorisation.id))

    def export_authorisation(self, authorisation_id: UUID) -> ExportAuthorisation:
        return self._load(ExportAuthorisation, authorisation_id)

    def export_authorisations(self) -> list[ExportAuthorisation]:
        """Every export authorisation ever recorded, oldest first, from the record itself (a
        revocation counts from the very next request, as a consent's does). Found by the topic
        of their creation event in the log: a handful of rows, read on the DPO's list and on an
        export, never on a hot path."""
        return [self.export_authorisation(i) for i in self._created(ExportAuthorisation.Granted)]

    def identity_links_after(self, position: int) -> tuple[list[tuple[int, UUID]], int]:
        """(log position, client id) of every identity link recorded after ``position``, oldest
        first, and the position read up to (issue #19: ``application.identities`` reads on from
        there, so a request never reads again the log it read before)."""
        return self._recorded_after(Client.IdentityLinked, position)

    def clients_with_requests(self) -> list[UUID]:
        """The clients that ever filed a GDPR request (issue #19), found by the topic of the
        event in the log: the deciders' queue and the scheduler check each one's record."""
        return list(dict.fromkeys(self._created(Client.RequestFiled)))

    def _created(self, creation: type[Aggregate.Event]) -> list[UUID]:
        """The ids of every aggregate created by ``creation``, oldest first. This process
        remembers what it found and up to where it read, and reads on from there: the log is
        read once, not on every call (an export, the scheduler's pass, a list)."""
        topic = get_topic(creation)
        with self._creations_lock:
            head, known = self._creations.setdefault(topic, (0, []))
            found, head = self._recorded_after(creation, head)
            known.extend(originator for _, originator in found)
            self._creations[topic] = (head, known)
            return list(known)

    def _recorded_after(
        self, event: type[Aggregate.Event], position: int
    ) -> tuple[list[tuple[int, UUID]], int]:
        """(log position, originator id) of every ``event`` recorded after ``position`` up to
        the log's head when asked, oldest first, found by the event's topic a page at a time;
        and that head. Every position up to the head is committed when the head is seen: the
        writers assign positions under the lock that orders the log (PostgreSQL's table lock,
        SQLite's one writer), so none below it commits later."""
        head = self.recorder.max_notification_id() or 0
        topics = [get_topic(event)]
        found: list[tuple[int, UUID]] = []
        start: int | None = position or None
        while head > position:
            page = self.recorder.select_notifications(
                start, 500, stop=head, topics=topics, inclusive_of_start=False
            )
            found.extend((n.id, UUID(str(n.originator_id))) for n in page)
            if len(page) < 500:
                break
            start = page[-1].id
        return found, max(head, position)

    # --- learning networks (issue #14) ---------------------------------------------------------

    def learning_network(self, network: UUID) -> LearningNetwork:
        return self._load(LearningNetwork, network)

    def establish_learning_network(
        self, ctx: CommandContext, command: EstablishLearningNetwork
    ) -> CommandResult:
        """One network per region, one forum per deployment: the id is derived from the level
        and region, so a second establishment is refused (409), and two racing ones meet the
        store's unique (aggregate, version) constraint."""
        network = command.establish(ctx)
        if self._holds(network.id):
            where = (
                "the deployment has its forum already"
                if command.level == NetworkLevel.MACRO
                else f"region {command.region!r} has its learning network already"
            )
            raise NetworkAlreadyEstablished(
                f"{where} (GET /v1/learning-networks/{network.id})", field="region"
            )
        return self._save_all(network, item_id=str(network.id))

    def change_network(
        self,
        ctx: CommandContext,
        network: UUID,
        expected_version: int | None,
        command: NetworkCommand,
        released: Callable[[int], bool],
    ) -> CommandResult:
        """Any command on one learning network; ``released`` says whether a statistics release
        of that number exists (meetings and signals cite releases by number)."""
        aggregate, ctx = self._load_for(ctx, LearningNetwork, network, expected_version)
        command = command.identified()
        command.apply(aggregate, ctx, _NetworkReader(self, released))
        return self._save_all(aggregate, item_id=command.item_id)

    def learning_networks(self) -> list[UUID]:
        """Every learning network ever established (the forum too), from the record itself:
        found by the topic of their creation event, as the export authorisations are."""
        return self._created(LearningNetwork.Established)

    def record_cadence(
        self, ctx: CommandContext, network: UUID, fact: CadenceFact
    ) -> CommandResult | None:
        """The scheduler's cadence fact on a network (issue #14 point 3). Idempotent: ``None``
        when it was recorded before, as ``record_deadline``."""
        aggregate = self.learning_network(network)
        new = aggregate.record_cadence(ctx, fact)
        return self._save_all(aggregate) if new else None

    def record_request_deadline(
        self, ctx: CommandContext, client_id: UUID, request_id: str, deadline: RequestDeadline
    ) -> CommandResult | None:
        """The scheduler's fact on a person's GDPR request (issue #19): the reminder or the
        month passed. Idempotent: ``None`` when the request no longer has it due (decided, or
        recorded before), as ``person_requests.deadline_due`` decides on the fresh record."""
        client = self.client(client_id)
        self._check_writable(client)
        request = client.requests.get(request_id)
        if request is None or deadline_due(request, ctx.occurred_on) != deadline:
            return None
        client.record_request_deadline(ctx, request_id=request_id, deadline=deadline)
        return self._save_all(client)

    def escalate_policy_signal(
        self,
        ctx: CommandContext,
        network: UUID,
        expected_version: int | None,
        command: EscalatePolicySignalAt,
    ) -> CommandResult:
        """A region's signal taken to the forum: recorded on both in one transaction."""
        aggregate, ctx = self._load_for(ctx, LearningNetwork, network, expected_version)
        forum_id = network_id(NetworkLevel.MACRO, None)
        if not self._holds(forum_id):
            raise EscalationNeedsForum(
                "the deployment has no forum yet: a forum token or an admin establishes it "
                "(POST /v1/learning-networks with level macro)"
            )
        forum = self.learning_network(forum_id)
        aggregate.escalate_signal(
            ctx, signal_id=command.signal_id, reason=command.reason, forum=forum
        )
        return self._save_all(aggregate, forum, item_id=command.signal_id)

    # --- shared findings (issue #14 point 2) ---------------------------------------------------

    def share_finding(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        command: ShareFinding,
        outbox: FindingOutbox,
    ) -> CommandResult:
        """A finding of the trajectory shared with its region's learning network, without a
        trace back: access is decided on the trajectory first (a refused caller learns nothing
        of the names), the text is checked against the names recorded for the trajectory
        (decrypted here, in the application, by the record's mapper), the trajectory records
        that it shared, and then — another transaction, another store — the proposal waits in
        its region's batch (``application.finding_batches``)."""
        trajectory, ctx = self._load_for(ctx, Trajectory, trajectory_id, expected_version)
        if not _sees_names(ctx, self.client(trajectory.client_id)):
            raise SharerReadsNoNames  # (before any check that reads the names)
        trajectory.check_time(ctx)  # a date is refused for its date, whatever the network
        network = self._load(LearningNetwork, command.network_id)
        if network.level != NetworkLevel.MESO:
            raise LearningNetworkNotFound(
                f"no learning network of a region with id {command.network_id}: a finding is "
                "shared with the region's network, never the forum",
                field="network_id",
            )
        if network.status == NetworkStatus.CLOSED:
            raise ClosedNetworkTakesNothing(f"{network.name} is closed: it takes nothing new")
        check_confirmed(command.names_no_one)
        check_shareable(
            {"title": command.title, "text": command.text}, self.names_recorded_for(trajectory)
        )
        trajectory.share_finding(ctx, region=network.region or "")
        result = self._save_all(trajectory)
        outbox.hold(
            region=trajectory.region,
            title=command.title.strip(),
            text=command.text.strip(),
            received_on=ctx.now.astimezone(UTC).date(),
            trajectory=trajectory.id,
        )
        return result

    def names_recorded_for(self, trajectory: Trajectory) -> list[str]:
        """The names the record holds for a trajectory: its client's, its representatives', and
        the persons of the network named at its consultations (``person_ref``)."""
        client = self.client(trajectory.client_id)
        names = [client.personal.name or ""]
        names += [r.personal.name or "" for r in client.representatives.values()]
        for event in self.repository.event_store.get(trajectory.id):
            if isinstance(event, Trajectory.ConsultationHeld):
                names += [p.person_ref or "" for p in event.participants]
        return [n for n in names if n]

    def propose_case_findings(
        self, region: str, proposals: Iterable[tuple[str, str, str]], now: datetime
    ) -> int:
        """A region's released batch: each ``(theme_id, title, text)`` proposed to the region's
        network as a case finding by "a coordinator of the region", on the batch's day, under a
        correlation id of its own and no causation id; a theme proposed before (a retried
        release) is passed over. How many themes entered."""
        network = self.learning_network(network_id(NetworkLevel.MESO, region))
        day = now.astimezone(UTC).date()
        moment = max(datetime.combine(day, time(0), tzinfo=UTC), network.established_at)
        ctx = CommandContext(
            actor=THEME_BATCH_ACTOR,
            occurred_at=moment,
            correlation_id=f"theme-batch-{uuid.uuid4().hex[:12]}",
            causation_id=None,
            now=now,
        )
        new = 0
        for theme_id, title, text in proposals:
            if theme_id in network.themes:
                continue
            try:
                network.propose_theme(
                    ctx,
                    theme_id=theme_id,
                    title=title,
                    description=text,
                    proposer_kind=ProposerKind.REGION_COORDINATOR,
                    source_kind=ThemeSource.CASE_FINDING,
                )
            except IdentifyingNetworkText as e:
                # Shared before a network's texts (or a finding's) were checked for what it
                # holds (a record's identifier or its hex prefix, a week number, a date written
                # out): it stays out of the network (the batch is not held up by it).
                log.warning(
                    "shared finding kept out of the network",
                    region=region,
                    theme_id=theme_id,
                    holds=list(e.kinds),
                )
                continue
            new += 1
        if new:
            self._save_all(network)
        return new

    # --- trajectories ---------------------------------------------------------------------------

    def refer(self, ctx: CommandContext, command: Refer) -> CommandResult:
        """*Aanmelding* (001); ``continues_from`` carries an earlier trajectory's thread (000).

        A continuation writes the earlier trajectory too (``ContinuedBy``), so of two at the
        same moment one loses the race on its version. That one runs once more on the record
        as it is: it is then refused as already continued (or, if the race was with another
        fact on the earlier trajectory, recorded), rather than answered with a bare conflict.
        The new trajectory of the lost attempt was never recorded (one commit for both).
        """
        if command.continues_from is None:
            return self._refer(ctx, command)
        try:
            return self._refer(ctx, command)
        except ConcurrentWrite:
            return self._refer(ctx, command)

    def _refer(self, ctx: CommandContext, command: Refer) -> CommandResult:
        client = self.client(command.client_id)
        ctx = ctx.authorised(client)
        client.check_not_erased()
        previous = None
        if command.continues_from is not None:
            previous = self.trajectory(command.continues_from)
            ctx = ctx.authorised(previous)
        trajectory = command.open(ctx)
        if previous is None:
            return self._save_all(trajectory)
        trajectory.continue_from(ctx, previous=previous)
        # 004, issue #17: one that does not manage the client continues under the client's
        # continuation consent, in force at the continuation's moment (the access policy let it
        # in by today's date): the plan passes to it only once the consent is given.
        if not self.manages(ctx.actor.organisation, client):
            client.check_lets_continue(ctx.actor.organisation, ctx.occurred_at, previous.id)
        # Issue #17: one live continuation at most. Its statuses are other aggregates, read
        # here; the version of ``previous`` guards the decision (``ContinuedBy`` moves it on).
        previous.check_continuable(
            {later: self.trajectory(later).status for later in previous.continued_by}
        )
        # Issue #17: the earlier trajectory names the one that continues it, in the same commit.
        previous.record_continued_by(ctx, continuing=trajectory)
        return self._save_all(trajectory, previous)

    # --- the scheduler's deadlines --------------------------------------------------------------

    def record_deadline(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        *,
        kind: DeadlineFact,
        rule: str,
        due_on: date,
        expected: str = "",
        met_on: date | None = None,
    ) -> CommandResult | None:
        """The scheduler's facts on a deadline (rule and due date): ``missed``, ``met_late``
        (``met_on``) or a ``reminder``. Idempotent: ``None`` when this one was recorded before."""
        trajectory = self.trajectory(trajectory_id)
        self._check_writable(trajectory)
        if kind == "missed":
            new = trajectory.record_missed_deadline(
                ctx, rule=rule, due_on=due_on, expected=expected
            )
        elif kind == "reminder":
            new = trajectory.record_deadline_reminder(
                ctx, rule=rule, due_on=due_on, expected=expected
            )
        elif met_on is None:
            raise InvalidValue("a deadline met late names the day it was met", field="met_on")
        else:
            new = trajectory.record_deadline_met_late(ctx, rule=rule, due_on=due_on, met_on=met_on)
        return self._save_all(trajectory) if new else None


@dataclass(frozen=True, slots=True)
class _NetworkReader:
    """What a learning network's command consults: the register, the statistics releases."""

    care_record: CareRecord
    released: Callable[[int], bool]

    def registered(self, identifier: str) -> bool:
        return self.care_record._holds(organisation_id(identifier))


def _sees_names(ctx: CommandContext, client: Client) -> bool:
    """Whether the caller reads the names recorded for ``client`` (``CommandContext.sees_names``;
    the record's own processes do)."""
    return ctx.sees_names is None or ctx.sees_names(client)
