"""The care record: one eventsourcing ``Application`` with one method per use case.

Each method loads what it needs, runs one command on one aggregate, and saves. A command on an
existing aggregate may name the version it expects (``If-Match``); a stale version is refused
before anything is recorded, and a write that loses a race is refused by the event store's
unique (aggregate, version) constraint, so no update is ever lost.
"""

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.postgres import PostgresAggregateRecorder

from application.codec import MsgspecTranscoder, SealingMapper
from application.group_commit import GroupCommit
from application.keys import KeyStore, MemoryKeyStore
from domain.client import Client, PersonalData
from domain.common import CommandContext, ConsentScope, Sector, Signatory
from domain.errors import (
    ClientErased,
    ClientNotFound,
    ConsentMissing,
    CoordinationNeedsConsent,
    DomainError,
    TrajectoryNotFound,
)
from domain.trajectory import Trajectory

A = TypeVar("A", bound=Aggregate)

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


class CareRecord(Application[UUID]):
    """Trajectories and clients: every use case of issue #2, one method each."""

    name = "rodedraad"
    snapshotting_intervals = {Trajectory: SNAPSHOT_INTERVAL, Client: SNAPSHOT_INTERVAL}
    #: Called after every save; the composition root wires it to wake the projection worker.
    on_recorded: Callable[[], None] | None = None

    def __init__(self, env: Mapping[str, str] | None = None, keys: KeyStore | None = None) -> None:
        #: Per-client keys that seal personal data (crypto-shredding); in memory if not given.
        self.keys: KeyStore = keys or MemoryKeyStore()
        super().__init__(env=env)
        self.group_commit = GroupCommit(self._record, self._after_recorded)

    def close(self) -> None:
        super().close()
        self.keys.close()

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
        missing: type[DomainError] = TrajectoryNotFound if cls is Trajectory else ClientNotFound
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(f"no {cls.__name__.lower()} with id {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise missing(f"no {cls.__name__.lower()} with id {aggregate_id}")
        return aggregate

    def _check_writable(self, aggregate: Aggregate) -> None:
        """An erased client's record takes no new facts (there is no key to seal them with)."""
        if isinstance(aggregate, Client):
            aggregate.check_not_erased()
        elif self.keys.key_for(aggregate.id) is None:
            raise ClientErased(
                "the client's personal data was erased; this trajectory is closed to new facts"
            )

    def _writable_trajectory(self, trajectory_id: UUID) -> Trajectory:
        trajectory = self.trajectory(trajectory_id)
        self._check_writable(trajectory)
        return trajectory

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

    def _save_all(self, *aggregates: Aggregate) -> CommandResult:
        try:
            recordings = self.group_commit.save(*aggregates)
        except IntegrityError:
            raise ConcurrentWrite(
                "another command changed this record at the same moment; reload it and retry"
            ) from None
        first = aggregates[0]
        positions = [r.notification.id for r in recordings if r.notification is not None]
        return CommandResult(
            id=first.id, version=first.version, position=max(positions) if positions else None
        )

    def _change(
        self,
        ctx: CommandContext,
        cls: type[A],
        aggregate_id: UUID,
        expected_version: int | None,
        command: Callable[[A, CommandContext], object],
    ) -> CommandResult:
        """Load, decide who acts, check the expected version, run the command, save.

        Access is decided first, on the record as it is (not on a read model that may lag): a
        record the caller may not see has no version to reveal. The command runs with the
        context the decision returns, so the event names the role that acted.
        """
        aggregate = self._load(cls, aggregate_id)
        ctx = ctx.authorised(aggregate)
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(expected_version, aggregate.version)
        self._check_writable(aggregate)
        command(aggregate, ctx)
        return self._save_all(aggregate)

    def _change_trajectory(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        command: Callable[[Trajectory, CommandContext], object],
    ) -> CommandResult:
        return self._change(ctx, Trajectory, trajectory_id, expected_version, command)

    def _change_client(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        command: Callable[[Client, CommandContext], object],
    ) -> CommandResult:
        return self._change(ctx, Client, client_id, expected_version, command)

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

    # --- clients --------------------------------------------------------------------------------

    def register_client(self, ctx: CommandContext, *, personal: PersonalData) -> CommandResult:
        return self._save_all(Client.register(ctx, personal=personal))

    def erase_client(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        *,
        legal_basis: str,
    ) -> CommandResult:
        """Crypto-shredding: destroy the client's keys, drop snapshots, record the erasure.

        Keys go first: if anything fails after that, the personal data is already unreadable and
        a retry only records the fact, for every subject (the key store's erasure ledger still
        names the client's trajectories once their keys are gone). Snapshots hold sealed state;
        they are dropped so that the aggregates load from their events, whose personal fields
        now read as placeholders.
        """
        client = self.client(client_id)
        ctx = ctx.authorised(client)
        if expected_version is not None and client.version != expected_version:
            raise StaleVersion(expected_version, client.version)
        client.check_not_erased()
        subjects = tuple(sorted(set(self.keys.erase_client(client_id)) | {client_id}, key=str))
        self._delete_snapshots(subjects)
        self.forget_cached(subjects)
        client = self.client(client_id)  # reloaded without its keys
        client.erase(ctx, legal_basis=legal_basis, erased_subjects=subjects)
        return self._save_all(client)

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

    def appoint_representative(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        *,
        representative_ref: str,
        personal: PersonalData,
    ) -> CommandResult:
        return self._change_client(
            ctx,
            client_id,
            expected_version,
            lambda c, ctx: c.appoint_representative(
                ctx, representative_ref=representative_ref, personal=personal
            ),
        )

    def exclude_representative(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        *,
        representative_ref: str,
        reason: str,
    ) -> CommandResult:
        return self._change_client(
            ctx,
            client_id,
            expected_version,
            lambda c, ctx: c.exclude_representative(
                ctx, representative_ref=representative_ref, reason=reason
            ),
        )

    def grant_consent(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        *,
        consent_id: str,
        to_party: str,
        scopes: tuple[ConsentScope, ...],
        purpose: str,
        until: date | None,
    ) -> CommandResult:
        return self._change_client(
            ctx,
            client_id,
            expected_version,
            lambda c, ctx: c.grant_consent(
                ctx,
                consent_id=consent_id,
                to_party=to_party,
                scopes=scopes,
                purpose=purpose,
                until=until,
            ),
        )

    def revoke_consent(
        self,
        ctx: CommandContext,
        client_id: UUID,
        expected_version: int | None,
        *,
        consent_id: str,
        reason: str,
    ) -> CommandResult:
        return self._change_client(
            ctx,
            client_id,
            expected_version,
            lambda c, ctx: c.revoke_consent(ctx, consent_id=consent_id, reason=reason),
        )

    # --- trajectories: intake -------------------------------------------------------------------

    def refer(
        self,
        ctx: CommandContext,
        *,
        client_id: UUID,
        question: str,
        client_criteria: tuple[str, ...],
        referrer_engagement: str,
        sector: Sector,
        region: str,
        referrer_organisation: str | None = None,
        continues_from: UUID | None = None,
    ) -> CommandResult:
        """*Aanmelding* (001); ``continues_from`` carries an earlier trajectory's thread (000)."""
        client = self.client(client_id)
        ctx = ctx.authorised(client)
        client.check_not_erased()
        previous = None
        if continues_from is not None:
            previous = self.trajectory(continues_from)
            ctx = ctx.authorised(previous)
        trajectory = Trajectory.refer(
            ctx,
            client_id=client_id,
            question=question,
            client_criteria=client_criteria,
            referrer_engagement=referrer_engagement,
            sector=sector,
            region=region,
            referrer_organisation=referrer_organisation,
        )
        if previous is not None:
            trajectory.continue_from(ctx, previous=previous)
        return self._save_all(trajectory)

    def accept(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        *,
        coordinating_organisation: str | None,
    ) -> CommandResult:
        """001; naming another organisation to coordinate needs the client's consent (004)."""

        def accept(trajectory: Trajectory, ctx: CommandContext) -> None:
            named = coordinating_organisation
            if named and named != ctx.actor.organisation:
                self._check_consent_to_coordinate(trajectory, ctx, named)
            trajectory.accept(ctx, coordinating_organisation=coordinating_organisation)

        return self._change_trajectory(ctx, trajectory_id, expected_version, accept)

    def _check_consent_to_coordinate(
        self, trajectory: Trajectory, ctx: CommandContext, organisation: str
    ) -> None:
        """The organisation named to coordinate will hold the plan: a consent of the client in
        force on the day of acceptance must cover passing it the plan (issue #10 review, B1).
        Time and who answers the referral are checked first: a bad date or the wrong
        organisation is refused as such, before it is a consent matter."""
        trajectory.check_time(ctx)
        trajectory.check_answers_referral(ctx)
        try:
            self.client(trajectory.client_id).consent_covering(
                organisation, (ConsentScope.PLAN,), ctx.occurred_on
            )
        except ConsentMissing:
            raise CoordinationNeedsConsent(
                f"naming {organisation!r} to coordinate passes the plan to it: no consent of "
                f"the client in force on {ctx.occurred_on.isoformat()} covers the plan for "
                f"{organisation!r}. Record the client's consent first, or accept without "
                "naming another organisation",
                field="coordinating_organisation",
            ) from None

    def decline(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, *, reason: str
    ) -> CommandResult:
        return self._change_trajectory(
            ctx, trajectory_id, expected_version, lambda t, ctx: t.decline(ctx, reason=reason)
        )

    # --- trajectories: the generic commands ------------------------------------------------------
    #
    # These forward their keyword arguments unchanged to the aggregate method of the same name;
    # the aggregate's typed signature is the contract, and the API's request structs match it.

    def _forward(
        self,
        method: str,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        details: dict[str, Any],
    ) -> CommandResult:
        return self._change_trajectory(
            ctx,
            trajectory_id,
            expected_version,
            lambda t, ctx: getattr(t, method)(ctx, **details),
        )

    def hold_consultation(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("hold_consultation", ctx, trajectory_id, expected_version, details)

    def waive_consultation(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("waive_consultation", ctx, trajectory_id, expected_version, details)

    def propose_role_agreement(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward(
            "propose_role_agreement", ctx, trajectory_id, expected_version, details
        )

    def accept_role_agreement(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("accept_role_agreement", ctx, trajectory_id, expected_version, details)

    def decline_role_agreement(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward(
            "decline_role_agreement", ctx, trajectory_id, expected_version, details
        )

    def end_role_agreement(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("end_role_agreement", ctx, trajectory_id, expected_version, details)

    def set_goal(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("set_goal", ctx, trajectory_id, expected_version, details)

    def revise_goal(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("revise_goal", ctx, trajectory_id, expected_version, details)

    def close_goal(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("close_goal", ctx, trajectory_id, expected_version, details)

    def agree_action(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("agree_action", ctx, trajectory_id, expected_version, details)

    def evaluate(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("evaluate", ctx, trajectory_id, expected_version, details)

    def raise_escalation(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("raise_escalation", ctx, trajectory_id, expected_version, details)

    def change_escalation_level(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward(
            "change_escalation_level", ctx, trajectory_id, expected_version, details
        )

    def resolve_escalation(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("resolve_escalation", ctx, trajectory_id, expected_version, details)

    def block(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("block", ctx, trajectory_id, expected_version, details)

    def unblock(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("unblock", ctx, trajectory_id, expected_version, details)

    def record_follow_up_contact(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward(
            "record_follow_up_contact", ctx, trajectory_id, expected_version, details
        )

    def close_trajectory(
        self, ctx: CommandContext, trajectory_id: UUID, expected_version: int | None, **details: Any
    ) -> CommandResult:
        return self._forward("close", ctx, trajectory_id, expected_version, details)

    # --- trajectories: commands that consult the client -------------------------------------------

    def sign_plan(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        *,
        signatory: Signatory,
        representative_ref: str | None,
    ) -> CommandResult:
        """004: signed by the client, or by a representative the client did not exclude."""

        def sign(trajectory: Trajectory, ctx: CommandContext) -> None:
            self.client(trajectory.client_id).check_may_sign(signatory, representative_ref)
            trajectory.sign_plan(ctx, signatory=signatory, representative_ref=representative_ref)

        return self._change_trajectory(ctx, trajectory_id, expected_version, sign)

    def hand_over(
        self,
        ctx: CommandContext,
        trajectory_id: UUID,
        expected_version: int | None,
        *,
        to_party: str,
        scopes: tuple[ConsentScope, ...],
        transfers_coordination: bool,
    ) -> CommandResult:
        """004: information passes to another organisation only with the client's consent."""

        def hand_over(trajectory: Trajectory, ctx: CommandContext) -> None:
            trajectory.check_time(ctx)  # a bad date is a bad date before it is a consent matter
            client = self.client(trajectory.client_id)
            consent_id = client.consent_covering(to_party, scopes, ctx.occurred_on)
            trajectory.hand_over(
                ctx,
                to_party=to_party,
                scopes=scopes,
                consent_id=consent_id,
                transfers_coordination=transfers_coordination,
            )

        return self._change_trajectory(ctx, trajectory_id, expected_version, hand_over)

    def _record_deadline(
        self, trajectory_id: UUID, record: Callable[[Trajectory], bool]
    ) -> CommandResult | None:
        trajectory = self._writable_trajectory(trajectory_id)
        if not record(trajectory):
            return None
        return self._save_all(trajectory)

    def record_missed_deadline(
        self, ctx: CommandContext, trajectory_id: UUID, *, rule: str, due_on: date, expected: str
    ) -> CommandResult | None:
        """Idempotent: returns ``None`` when this deadline was already recorded."""
        return self._record_deadline(
            trajectory_id,
            lambda t: t.record_missed_deadline(ctx, rule=rule, due_on=due_on, expected=expected),
        )

    def record_deadline_met_late(
        self, ctx: CommandContext, trajectory_id: UUID, *, rule: str, due_on: date, met_on: date
    ) -> CommandResult | None:
        """Idempotent: returns ``None`` when this deadline was already recorded as met late."""
        return self._record_deadline(
            trajectory_id,
            lambda t: t.record_deadline_met_late(ctx, rule=rule, due_on=due_on, met_on=met_on),
        )

    def record_deadline_reminder(
        self, ctx: CommandContext, trajectory_id: UUID, *, rule: str, due_on: date, expected: str
    ) -> CommandResult | None:
        """Idempotent: returns ``None`` when this reminder was already issued."""
        return self._record_deadline(
            trajectory_id,
            lambda t: t.record_deadline_reminder(ctx, rule=rule, due_on=due_on, expected=expected),
        )
