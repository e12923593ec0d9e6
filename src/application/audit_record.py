"""The record as auditors read it (issue #15): a trajectory as of a moment on either time
axis, and the facts behind "who agreed what, and when", straight from the event store.

Nothing here reads a read model or a snapshot: the events are read with their log positions
and commit times (``application.commit_times``) and folded by the domain's own code
(``domain.as_of``). A snapshot is never used, so none taken after T can leak into an answer
about T.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from application.care_record import CareRecord
from application.commit_times import CommitTimes, PositionedEvent
from domain.as_of import OrderingViolation, fold, occurred_by, ordering_violations
from domain.client import Client
from domain.errors import TrajectoryNotFound
from domain.trajectory import Trajectory


@dataclass(frozen=True, slots=True)
class Fact:
    """One stored event, with the moment its commit is known to have happened."""

    event: Any
    position: int
    #: The commit time if the record has it, else the event's own timestamp (``exact`` False).
    recorded_at: datetime
    exact: bool


@dataclass(frozen=True, slots=True)
class TrajectoryAsOf:
    trajectory: Trajectory
    client: Client | None
    #: The moment everything time-dependent is evaluated at (the occurred T, else recorded T).
    moment: datetime
    #: Facts that happened by the moment but whose commit came after the recorded T (or after
    #: the occurred T when only that is given): what the record did not show then.
    recorded_later: list[Fact]
    #: Whether every commit time the answer relied on is known exactly.
    exact: bool


class AuditRecord:
    """Reads of the record for auditors: histories with commit times, and folds as of T."""

    def __init__(self, care_record: CareRecord) -> None:
        self._care_record = care_record
        self._commit_times = CommitTimes(care_record.recorder)

    def facts(self, aggregate_id: UUID) -> list[tuple[Any, PositionedEvent]]:
        """The aggregate's events (opened with its client's key) with positions and stamps."""
        mapper = self._care_record.mapper
        return [
            (mapper.to_domain_event(p.stored), p)
            for p in self._commit_times.stored_events(aggregate_id)
        ]

    def trajectory_ids(self) -> list[UUID]:
        """Every trajectory ever referred, oldest first (by the topic of the referral)."""
        topics = [get_topic(Trajectory.Referred)]
        ids: list[UUID] = []
        start: int | None = None
        recorder = self._care_record.recorder
        while True:
            page = recorder.select_notifications(
                start, 500, topics=topics, inclusive_of_start=False
            )
            ids.extend(UUID(str(n.originator_id)) for n in page)
            if len(page) < 500:
                return ids
            start = page[-1].id

    def ordering_report(self) -> list[tuple[UUID, OrderingViolation]]:
        """Every recorded fact that breaks an ordering rule of issue #15 (recorded before the
        rules existed): reported, never changed. ``rodedraad audit check-order`` prints it."""
        found = []
        for trajectory_id in self.trajectory_ids():
            events = [e for e, _ in self.facts(trajectory_id)]
            found += [(trajectory_id, v) for v in ordering_violations(events)]
        return found

    def trajectory_facts(self, trajectory_id: UUID) -> list[tuple[Any, PositionedEvent]]:
        found = self.facts(trajectory_id)
        if not found or not isinstance(found[0][0], Trajectory.Referred):
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        return found

    def as_of(
        self,
        trajectory_id: UUID,
        *,
        occurred: datetime | None,
        recorded: datetime | None,
        facts: list[tuple[Any, PositionedEvent]] | None = None,
    ) -> TrajectoryAsOf:
        """The trajectory as it stood: ``recorded`` keeps the versions committed by then,
        ``occurred`` the facts that happened by then (of those), folded by the domain."""
        if occurred is None and recorded is None:
            raise ValueError("name a moment on at least one axis")
        moment = cast(datetime, occurred or recorded)
        #: "Recorded after": after the recorded moment, or (asked only about the world) after
        #: the occurred one: the facts the record did not yet show at that moment.
        known_by = recorded or moment
        facts = facts if facts is not None else self.trajectory_facts(trajectory_id)
        committed = facts if recorded is None else _committed_prefix(facts, recorded)
        events = [e for e, _ in committed]
        if occurred is not None:
            events = occurred_by(events, occurred)
        trajectory = fold(events)
        if trajectory is None:
            raise TrajectoryNotFound(
                f"trajectory {trajectory_id} was not yet in the record as asked: referred on "
                f"{facts[0][0].occurred_at.isoformat()}, its referral committed on "
                f"{_fact(*facts[0]).recorded_at.isoformat()}; ask about a later moment"
            )
        kept = {e.originator_version for e in events}
        recorded_later = [
            _fact(e, p)
            for e, p in facts
            if e.originator_version not in kept
            and e.occurred_at <= moment
            and not p.committed_by(known_by, e.timestamp)
        ]
        client_facts = self.facts(trajectory.client_id)
        client_known = (
            client_facts if recorded is None else _committed_prefix(client_facts, recorded)
        )
        client = _fold_aggregate([e for e, _ in client_known])
        exact = all(p.decided_exactly(known_by) for _, p in facts) and all(
            p.decided_exactly(known_by) for _, p in client_facts
        )
        return TrajectoryAsOf(
            trajectory=trajectory,
            client=client if isinstance(client, Client) else None,
            moment=moment,
            recorded_later=recorded_later,
            exact=exact,
        )


def _fact(event: Any, positioned: PositionedEvent) -> Fact:
    stamp = positioned.committed_at
    return Fact(
        event=event,
        position=positioned.position,
        recorded_at=stamp if stamp is not None else event.timestamp,
        exact=stamp is not None and positioned.exact,
    )


def facts_of(pairs: Sequence[tuple[Any, PositionedEvent]]) -> list[Fact]:
    return [_fact(e, p) for e, p in pairs]


def _committed_prefix(
    facts: Sequence[tuple[Any, PositionedEvent]], moment: datetime
) -> list[tuple[Any, PositionedEvent]]:
    """The prefix of versions whose commit had happened by ``moment``."""
    kept = []
    for event, positioned in facts:
        if not positioned.committed_by(moment, event.timestamp):
            break
        kept.append((event, positioned))
    return kept


def _fold_aggregate(events: Sequence[Any]) -> Aggregate | None:
    """A prefix of an aggregate's versions, folded as the write side folds them."""
    aggregate: Aggregate | None = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
