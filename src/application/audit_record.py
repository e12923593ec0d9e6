"""The record as auditors read it (issue #15): a trajectory as of a moment on either time
axis, and the facts behind "who agreed what, and when", straight from the event store.

Nothing here reads a read model: the events are read with their log positions and commit
times (``application.commit_times``) and folded by the domain's own code (``domain.as_of``).

Speed (the benchmark's p99 targets): an answer opens only the events it needs. Each stored
event's ``timestamp`` and ``occurred_at`` are read without opening it (no key, no personal
field), which decides which versions the answer includes; the fold may then start from a
snapshot, under one rule for both axes: its version is within the leading run of included
versions (all of them committed by the recorded T, and all of them occurred by the occurred T)
and its own commit was by the earliest moment asked about. A snapshot taken after T is never
used; one of a version whose facts include one that occurred after T is never used either, so
on the occurred axis it only serves when every fact up to its version happened by T. Snapshots
taken before their commit times were recorded have no stamp and are never used.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import MapperDeserialisationError
from eventsourcing.utils import get_topic

from application.care_record import CareRecord
from application.commit_times import CommitTimes, PositionedEvent
from domain.as_of import OrderingViolation, fold, occurred_by, ordering_violations
from domain.client import Client
from domain.deadline_facts import DEADLINE_EVENTS
from domain.deadline_facts import facts_of as deadline_facts
from domain.deadlines import Deadline, DeadlinePolicy, Standing, instances, standing_at
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
    #: The deadlines the policy gives over the facts the answer folded, as they stood at the
    #: moment (empty without a policy).
    deadlines: list[tuple[Deadline, Standing]]
    #: The snapshot version the fold started from (0: from the referral).
    from_snapshot: int = 0


class _Header(msgspec.Struct):
    """What an answer needs of every stored event without opening it."""

    timestamp: datetime
    occurred_at: datetime


_HEADER = msgspec.json.Decoder(_Header)
_REFERRED = get_topic(Trajectory.Referred)
_DEADLINE_TOPICS = frozenset(get_topic(cls) for cls in DEADLINE_EVENTS)


def _header(row: PositionedEvent) -> _Header:
    """An event's times; one that does not decode is as the mapper's: changed past the
    application (the API answers ``record-unreadable``)."""
    try:
        return _HEADER.decode(row.stored.state)
    except msgspec.DecodeError as e:
        raise MapperDeserialisationError(
            f"the stored event at position {row.position} does not decode"
        ) from e


class TrajectoryRecord:
    """A trajectory's stored events, each opened (with its client's key) only when needed."""

    def __init__(self, rows: list[PositionedEvent], mapper: Any) -> None:
        self.rows = rows
        self._mapper = mapper
        self._opened: dict[int, Any] = {}
        if mapper.cipher is None and mapper.compressor is None:
            self.headers = [_header(p) for p in rows]
        else:  # encrypted or compressed whole: opened to read the times
            self.headers = [_Header(e.timestamp, e.occurred_at) for e in self.events()]

    def event(self, index: int) -> Any:
        found = self._opened.get(index)
        if found is None:
            found = self._opened[index] = self._mapper.to_domain_event(self.rows[index].stored)
        return found

    def events(self) -> list[Any]:
        return [self.event(i) for i in range(len(self.rows))]

    @property
    def referral(self) -> Trajectory.Referred:
        return cast(Trajectory.Referred, self.event(0))

    def facts(self) -> list[tuple[Any, PositionedEvent]]:
        return list(zip(self.events(), self.rows, strict=True))


class AuditRecord:
    """Reads of the record for auditors: histories with commit times, and folds as of T."""

    def __init__(self, care_record: CareRecord, policy: DeadlinePolicy | None = None) -> None:
        self._care_record = care_record
        self._policy = policy
        snapshots = care_record.snapshots.recorder if care_record.snapshots else None
        self._commit_times = CommitTimes(care_record.recorder, snapshots)

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
        return self.record(trajectory_id).facts()

    def record(self, trajectory_id: UUID) -> TrajectoryRecord:
        """The trajectory's stored events, unopened but for what is asked of them."""
        rows = self._commit_times.stored_events(trajectory_id)
        if not rows or rows[0].stored.topic != _REFERRED:
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        return TrajectoryRecord(rows, self._care_record.mapper)

    def as_of(
        self,
        trajectory_id: UUID,
        *,
        occurred: datetime | None,
        recorded: datetime | None,
        record: TrajectoryRecord | None = None,
    ) -> TrajectoryAsOf:
        """The trajectory as it stood: ``recorded`` keeps the versions committed by then,
        ``occurred`` the facts that happened by then (of those), folded by the domain."""
        if occurred is None and recorded is None:
            raise ValueError("name a moment on at least one axis")
        moment = cast(datetime, occurred or recorded)
        #: "Recorded after": after the recorded moment, or (asked only about the world) after
        #: the occurred one: the facts the record did not yet show at that moment.
        known_by = recorded or moment
        record = record or self.record(trajectory_id)
        rows, headers = record.rows, record.headers
        committed = len(rows)
        if recorded is not None:
            committed = next(
                (
                    i
                    for i, (p, h) in enumerate(zip(rows, headers, strict=True))
                    if not p.committed_by(recorded, h.timestamp)
                ),
                len(rows),
            )
        included = [
            i for i in range(committed) if occurred is None or headers[i].occurred_at <= occurred
        ]
        leading = next((n for n, i in enumerate(included) if i != n), len(included))
        start, first = self._snapshot_start(
            trajectory_id, record, leading, min(m for m in (occurred, recorded) if m)
        )
        events = [record.event(i) for i in included[first:]]
        if occurred is not None:
            events = occurred_by(events, occurred)
        trajectory = fold(events, start)
        if trajectory is None:
            referral = record.referral
            raise TrajectoryNotFound(
                f"trajectory {trajectory_id} was not yet in the record as asked: referred on "
                f"{referral.occurred_at.isoformat()}, its referral committed on "
                f"{_fact(referral, rows[0]).recorded_at.isoformat()}; ask about a later moment"
            )
        kept = set(included)
        recorded_later = [
            _fact(record.event(i), p)
            for i, (p, h) in enumerate(zip(rows, headers, strict=True))
            if i not in kept
            and h.occurred_at <= moment
            and not p.committed_by(known_by, h.timestamp)
        ]
        client_facts = self.facts(trajectory.client_id)
        client_known = (
            client_facts if recorded is None else _committed_prefix(client_facts, recorded)
        )
        client = _fold_aggregate([e for e, _ in client_known])
        exact = all(p.decided_exactly(known_by) for p in rows) and all(
            p.decided_exactly(known_by) for _, p in client_facts
        )
        return TrajectoryAsOf(
            trajectory=trajectory,
            client=client if isinstance(client, Client) else None,
            moment=moment,
            recorded_later=recorded_later,
            exact=exact,
            deadlines=self._deadlines(record, included, moment),
            from_snapshot=start.version if start is not None else 0,
        )

    def _snapshot_start(
        self, trajectory_id: UUID, record: TrajectoryRecord, leading: int, by: datetime
    ) -> tuple[Trajectory | None, int]:
        """The trajectory as the latest usable snapshot holds it, and how many of the included
        versions it covers: within the ``leading`` run of included versions (the first
        ``leading`` rows), committed by ``by``. ``(None, 0)``: fold from the referral."""
        if leading == 0:
            return None, 0
        within = record.rows[leading - 1].stored.originator_version
        stored = self._commit_times.snapshot(trajectory_id, within, by)
        if stored is None:
            return None, 0
        snapshot: Any = self._care_record.mapper.to_domain_event(stored)
        trajectory = snapshot.mutate(None)
        if not isinstance(trajectory, Trajectory):
            return None, 0
        covered = next(
            i + 1
            for i, p in enumerate(record.rows)
            if p.stored.originator_version == stored.originator_version
        )
        return trajectory, covered

    def _deadlines(
        self, record: TrajectoryRecord, included: Sequence[int], moment: datetime
    ) -> list[tuple[Deadline, Standing]]:
        """The policy's deadlines over the facts the answer includes, standing at the moment
        (issue #15: deadlines due are evaluated at T, by the scheduler's own rules)."""
        if self._policy is None:
            return []
        referral = record.referral
        rules = self._policy.rules_for(referral.region, referral.sector.value)
        facts = [
            fact
            for i in included
            if record.rows[i].stored.topic in _DEADLINE_TOPICS
            and record.headers[i].occurred_at <= moment
            for fact in deadline_facts(record.event(i))
        ]
        # In the order they happened, a back-dated fact in its place (as the read model sorts).
        facts.sort(key=lambda f: f.on)
        return [(d, standing_at(d, moment)) for d in instances(facts, rules)]


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
