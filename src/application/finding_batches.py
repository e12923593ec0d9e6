"""Shared findings waiting for their region's batch (issue #14 point 2): the outbox between a
trajectory and its region's learning network.

A finding shared from a trajectory is recorded on the trajectory (``Trajectory.FindingShared``)
and then, in a transaction of its own on a store of its own, held here. It enters the network
(as ``ThemeProposed``, source ``case_finding``, proposed by "a coordinator of the region") only
when its region's batch is due (``domain.shared_findings.batch_is_due``), with ids of its own,
a correlation id of the batch's own, no causation id and the day of the release as its time.

What this store keeps, and no more: per pending proposal its region, title, text, the day it was
received and an opaque **count key** — an HMAC of the trajectory id under a secret of the
region's current batch — so that "proposals from at least three trajectories" can be counted
without keeping which trajectories. When a batch is released its proposals and its secret are
deleted: after that not even this store can tell which keys belonged to which trajectory, and
before it only someone holding both the secret and a trajectory id can test one guess.

The text is not sealed with any client's key: an erasure does not reach it (README, "Learning
networks"), which is why ``domain.shared_findings`` refuses anything personal before it gets
here.
"""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import msgspec
import structlog

from application.care_record import CareRecord
from application.sql import Database
from domain.errors import DomainError
from domain.shared_findings import batch_is_due

log = structlog.get_logger("rodedraad.findings")

BATCHES = "rodedraad_finding_batches"
PROPOSALS = "rodedraad_finding_proposals"


class PendingProposal(msgspec.Struct, frozen=True):
    """A proposal as the batch holds it: never a trajectory id."""

    proposal_id: str
    title: str
    text: str
    received_on: date

    @property
    def theme_id(self) -> str:
        """The theme's id in the network: derived from the proposal's own random id (so a
        release that is retried proposes each theme once), never from the trajectory."""
        return f"finding-{self.proposal_id[:16]}"


class PendingBatch(msgspec.Struct, frozen=True):
    region: str
    oldest_received: date
    trajectories: int
    proposals: tuple[PendingProposal, ...]

    def due(self, today: date) -> bool:
        return batch_is_due(self.oldest_received, self.trajectories, today)


class ReleasedBatch(msgspec.Struct, frozen=True):
    """What a release did, for the operator: a region and how many themes entered (never which
    trajectories)."""

    region: str
    themes: int
    released: bool
    reason: str = ""


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class FindingBatches:
    """The pending proposals per region, on ``database`` (``findings.sqlite`` in embedded
    mode, tables beside the event store on PostgreSQL; made by ``application.migrations``)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        #: Row lock on PostgreSQL: a proposal never joins a batch whose secret is being thrown
        #: away (SQLite serialises writers already).
        self._lock = "" if database.dialect == "sqlite" else " FOR UPDATE"

    def close(self) -> None:
        self._db.close()

    def hold(
        self, *, region: str, title: str, text: str, received_on: date, trajectory: uuid.UUID
    ) -> None:
        """Hold a proposal in its region's batch (opened with a fresh secret if none is)."""
        with self._db.transaction() as tx:
            tx.execute(
                f"INSERT INTO {BATCHES} (region, secret) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (region) DO NOTHING",
                (region, secrets.token_hex(32)),
            )
            ((secret,),) = tx.fetchall(
                f"SELECT secret FROM {BATCHES} WHERE region = ?{self._lock}",  # noqa: S608
                (region,),
            )
            count_key = hmac.new(bytes.fromhex(secret), trajectory.bytes, hashlib.sha256)
            tx.execute(
                f"INSERT INTO {PROPOSALS} (proposal_id, region, title, text, received_on, "  # noqa: S608
                "count_key) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    region,
                    title,
                    text,
                    received_on.isoformat(),
                    count_key.hexdigest(),
                ),
            )

    def pending(self) -> list[PendingBatch]:
        """Every region's pending batch, oldest proposal first."""
        with self._db.transaction(write=False) as tx:
            rows = tx.fetchall(
                f"SELECT region, proposal_id, title, text, received_on, count_key "  # noqa: S608
                f"FROM {PROPOSALS} ORDER BY region, received_on, proposal_id"
            )
        by_region: dict[str, list[tuple[PendingProposal, str]]] = {}
        for region, proposal_id, title, text, received_on, key in rows:
            proposal = PendingProposal(proposal_id, title, text, _day(received_on))
            by_region.setdefault(region, []).append((proposal, key))
        return [
            PendingBatch(
                region=region,
                oldest_received=min(p.received_on for p, _ in held),
                trajectories=len({key for _, key in held}),
                proposals=tuple(p for p, _ in held),
            )
            for region, held in sorted(by_region.items())
        ]

    def forget(self, region: str, proposal_ids: tuple[str, ...]) -> None:
        """Delete released proposals; and the batch's secret once nothing waits under it."""
        with self._db.transaction() as tx:
            tx.fetchall(
                f"SELECT region FROM {BATCHES} WHERE region = ?{self._lock}",  # noqa: S608
                (region,),
            )
            tx.executemany(
                f"DELETE FROM {PROPOSALS} WHERE proposal_id = ?",  # noqa: S608
                [(p,) for p in proposal_ids],
            )
            left = tx.fetchall(
                f"SELECT count(*) FROM {PROPOSALS} WHERE region = ?",  # noqa: S608
                (region,),
            )
            if left[0][0] == 0:
                tx.execute(f"DELETE FROM {BATCHES} WHERE region = ?", (region,))  # noqa: S608


#: Proposes a batch's themes to the region's network: (region, proposals, now) → themes entered.
Deliver = Callable[[str, tuple[PendingProposal, ...], datetime], int]


def release_due(batches: FindingBatches, deliver: Deliver, now: datetime) -> list[ReleasedBatch]:
    """Release every region's batch that is due at ``now``: its themes enter the network, then
    the batch (its proposals and secret) is forgotten. Delivering is idempotent (a theme's id
    comes from its proposal), so a release interrupted between the two is safely run again."""
    today = now.astimezone(UTC).date()
    done = []
    for batch in batches.pending():
        if not batch.due(today):
            done.append(ReleasedBatch(batch.region, 0, released=False, reason="not due"))
            continue
        try:
            themes = deliver(batch.region, batch.proposals, now)
        except DomainError as e:  # no network for the region, or a closed one: it waits
            log.warning("theme batch not released", region=batch.region, refused_by=e.rule)
            done.append(ReleasedBatch(batch.region, 0, released=False, reason=e.message))
            continue
        batches.forget(batch.region, tuple(p.proposal_id for p in batch.proposals))
        log.info("theme batch released", region=batch.region, themes=themes)
        done.append(ReleasedBatch(batch.region, themes, released=True))
    return done


def deliver_to(care_record: CareRecord) -> Deliver:
    """Deliver a batch through the care record (``CareRecord.propose_case_findings``)."""

    def deliver(region: str, proposals: tuple[PendingProposal, ...], now: datetime) -> int:
        return care_record.propose_case_findings(
            region, ((p.theme_id, p.title, p.text) for p in proposals), now
        )

    return deliver
