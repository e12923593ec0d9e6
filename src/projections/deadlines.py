"""Deadlines: every trajectory's deadlines under the policy, for the scheduler to act on.

The projection keeps each trajectory's dated facts (``rm_deadline_facts``) and the deadlines
they give under the policy for its region and sector (``rm_deadlines``): due date, the date it
was met, and whether a miss, a late meeting or a reminder is already recorded. The scheduler
then asks one indexed query what is due (``DeadlineQueries.due``), however large the record
grows. The projection's version includes the policy's fingerprint: a changed policy rebuilds it.

A client's erasure drops the deadlines of their trajectories (the ``Erased`` event names them in
``erased_subjects``): an erased record takes no new facts, so none of them could ever be
recorded, and the scheduler would find them due, and be refused, on every run for good.

This module owns both tables: their DDL, the writer and the query. The query classifies as
``domain.deadlines.due_actions`` does over ``instances``; a property-based test holds the two
together (``tests/integration/test_deadlines_due_as_the_domain_decides.py``).
"""

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import msgspec

from application.care_record import DeadlineFact
from application.uuid_text import uuid_text
from domain.client import Client
from domain.deadline_facts import facts_of
from domain.deadlines import DeadlinePolicy, Fact, instances
from domain.trajectory import Trajectory
from projections.store import ProjectionDatabase, Tx
from projections.tracking import read_tracking

T = Trajectory
_FACTS = msgspec.json.Decoder(list[Fact])
_ENCODER = msgspec.json.Encoder()
_DEADLINE_COLUMNS = (
    "trajectory_id", "rule", "due_on", "met_on", "remind_on", "expected", "missed_recorded",
    "met_late_recorded", "reminded", "region", "sector",
)  # fmt: skip
#: Their PostgreSQL types, for a binary ``COPY`` (``Tx.insert_rows``).
_DEADLINE_TYPES = (*("text",) * 6, *("int4",) * 3, "text", "text")
_FACT_COLUMNS = ("trajectory_id", "region", "sector", "facts")
_FACT_TYPES = ("text",) * 4

#: Bump when what this module derives changes; the policy fingerprint is added to it. 3: an
#: erased client's trajectories have no deadlines.
CODE_VERSION = 3


class DeadlinesProjection:
    """``rm_deadline_facts`` and ``rm_deadlines``."""

    name = "deadlines"
    tables: tuple[str, ...] = ("rm_deadline_facts", "rm_deadlines")
    #: Dated facts and rule names only: an erasure rewrites nothing here.
    personal_tables: tuple[str, ...] = ()
    #: Every row is one trajectory's, built from its events and its client's erasure: a
    #: rebuild may split the work by record, each share seeing every erasure (``shared_events``).
    by_record = True
    shared_events: tuple[type[Any], ...] = (Client.Erased,)
    #: The events it takes in (a share of a split rebuild reads no others).
    consumes: tuple[type[Any], ...] = (Trajectory.Event, Client.Erased)

    def __init__(self, policy: DeadlinePolicy) -> None:
        self.policy = policy
        # A new policy gives other deadlines: a version of its own makes the worker rebuild.
        self.version = CODE_VERSION * 10**6 + int(policy.fingerprint or "0", 16) % 10**6

    def ddl(self, suffix: str, generation: str) -> list[str]:
        facts, deadlines = f"rm_deadline_facts{suffix}", f"rm_deadlines{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {facts} ("
            "trajectory_id TEXT PRIMARY KEY, region TEXT NOT NULL, sector TEXT NOT NULL, "
            "facts TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {deadlines} ("
            "trajectory_id TEXT NOT NULL, rule TEXT NOT NULL, due_on TEXT NOT NULL, "
            "met_on TEXT, remind_on TEXT NOT NULL, expected TEXT NOT NULL, "
            "missed_recorded INTEGER NOT NULL, met_late_recorded INTEGER NOT NULL, "
            "reminded INTEGER NOT NULL, region TEXT NOT NULL, sector TEXT NOT NULL, "
            "PRIMARY KEY (trajectory_id, rule, due_on))",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_deadlines_due ON {deadlines} (due_on)",
        ]

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        added: dict[str, list[Fact]] = {}
        created: dict[str, tuple[str, str]] = {}
        erased: set[str] = set()
        for _, event in batch:
            if isinstance(event, Client.Erased):
                erased.update(uuid_text(s) for s in event.erased_subjects)
                continue
            if not isinstance(event, Trajectory.Event):
                continue
            key = uuid_text(event.originator_id)
            if isinstance(event, T.Referred):
                created[key] = (event.region, event.sector.value)
                added.setdefault(key, [])
                continue
            new = facts_of(event)
            if new:
                added.setdefault(key, []).extend(new)
        if added:
            self._add_facts(tx, added, created, suffix)
        # After the facts: a trajectory's events all come before its client's erasure.
        self._drop_deadlines(tx, sorted(erased), suffix)

    def _add_facts(
        self,
        tx: Tx,
        added: dict[str, list[Fact]],
        created: dict[str, tuple[str, str]],
        suffix: str,
    ) -> None:
        known: dict[str, tuple[str, str, list[Fact]]] = {}
        ids = sorted(added)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = tx.fetchall(
                f"SELECT trajectory_id, region, sector, facts FROM rm_deadline_facts{suffix} "
                f"WHERE trajectory_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for tid, region, sector, facts in rows:
                known[tid] = (region, sector, _FACTS.decode(facts))
        merged: dict[str, tuple[str, str, list[Fact]]] = {}
        for tid, new_facts in added.items():
            region, sector, facts = known.get(tid) or (*created[tid], [])
            # Facts in the order they happened; a back-dated fact takes its place (stable sort).
            merged[tid] = (region, sector, sorted([*facts, *new_facts], key=lambda f: f.on))
        self.write_facts(tx, merged, suffix, fresh=merged.keys() - known.keys())

    @staticmethod
    def _drop_deadlines(tx: Tx, trajectory_ids: Sequence[str], suffix: str) -> None:
        """Delete these trajectories' deadlines: an erased client's (nothing is due on them any
        more), or those about to be written anew from their facts."""
        for start in range(0, len(trajectory_ids), 500):
            chunk = trajectory_ids[start : start + 500]
            tx.execute(
                f"DELETE FROM rm_deadlines{suffix} "
                f"WHERE trajectory_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )

    def write_facts(
        self,
        tx: Tx,
        trajectories: Mapping[str, tuple[str, str, list[Fact]]],
        suffix: str = "",
        fresh: Collection[str] = (),
    ) -> None:
        """Store these trajectories' facts (id → region, sector, facts in the order they
        happened) and, in place of their deadlines so far, those the facts give under the
        policy for their region and sector. Those of ``fresh`` have no rows yet: theirs are
        inserted afresh (``COPY`` on PostgreSQL)."""
        fact_rows: list[tuple[str, ...]] = []
        new_fact_rows: list[tuple[str, ...]] = []
        deadline_rows = []
        for tid, (region, sector, facts) in trajectories.items():
            (new_fact_rows if tid in fresh else fact_rows).append(
                (tid, region, sector, _ENCODER.encode(facts).decode())
            )
            for d in instances(facts, self.policy.rules_for(region, sector)):
                deadline_rows.append(
                    (
                        tid,
                        d.rule,
                        d.due_on.isoformat(),
                        d.met_on.isoformat() if d.met_on else None,
                        d.remind_on.isoformat(),
                        d.expected,
                        int(d.missed_recorded),
                        int(d.met_late_recorded),
                        int(d.reminded),
                        region,
                        sector,
                    )
                )
        tx.insert_rows(f"rm_deadline_facts{suffix}", _FACT_COLUMNS, new_fact_rows, _FACT_TYPES)
        tx.executemany(
            f"INSERT INTO rm_deadline_facts{suffix} (trajectory_id, region, sector, facts) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (trajectory_id) DO UPDATE SET facts = excluded.facts",
            fact_rows,
        )
        self._drop_deadlines(tx, sorted(tid for tid in trajectories if tid not in fresh), suffix)
        tx.insert_rows(f"rm_deadlines{suffix}", _DEADLINE_COLUMNS, deadline_rows, _DEADLINE_TYPES)


#: What the scheduler records for a deadline found due.
DueKind = DeadlineFact


class DueDeadline(msgspec.Struct):
    """One deadline due at a moment, and what is due: its miss, its late meeting, a reminder."""

    kind: DueKind
    trajectory_id: UUID
    rule: str
    due_on: date
    expected: str
    met_on: date | None = None


#: ``domain.deadlines.due_actions`` over the stored deadlines, as one indexed query: missed (due
#: date passed, not met), met late (met after its due date), reminder (within the window, not
#: yet met), each unless already recorded. A deadline met after the moment of the run counts as
#: not (yet) met at that moment; one already recorded as met late is not found missed (a
#: catch-up run at a past moment). Every ``?`` is today's date.
_DUE_SQL = (
    "SELECT trajectory_id, rule, expected, due_on, met_on, "
    "CASE WHEN (met_on IS NULL OR met_on > ?) AND due_on < ? "
    "AND missed_recorded = 0 AND met_late_recorded = 0 THEN 'missed' "
    "WHEN met_on <= ? AND met_on > due_on AND met_late_recorded = 0 THEN 'met_late' "
    "ELSE 'reminder' END AS kind "
    "FROM rm_deadlines WHERE "
    "((met_on IS NULL OR met_on > ?) AND due_on < ? AND missed_recorded = 0 "
    "AND met_late_recorded = 0) "
    "OR (met_on <= ? AND met_on > due_on AND met_late_recorded = 0) "
    "OR ((met_on IS NULL OR met_on > ?) AND remind_on <= ? AND due_on >= ? "
    "AND reminded = 0) "
    "ORDER BY due_on, trajectory_id, rule"
)


class DeadlineQueries:
    """What the scheduler asks of the deadlines read model, on the projection database it
    already holds (sync: the scheduler runs in a thread of its own)."""

    def __init__(self, database: ProjectionDatabase) -> None:
        self.database = database

    def position(self) -> int:
        """The last log position the deadlines read model has taken in."""
        with self.database.transaction() as tx:
            return (read_tracking(tx, DeadlinesProjection.name) or (0, 0))[0]

    def due(self, now: datetime) -> list[DueDeadline]:
        """Every deadline due at ``now`` (by its date in UTC), by due date, trajectory, rule."""
        today = now.astimezone(UTC).date().isoformat()
        with self.database.transaction() as tx:
            rows = tx.fetchall(_DUE_SQL, (today,) * _DUE_SQL.count("?"))
        return [
            DueDeadline(
                kind=kind,
                trajectory_id=UUID(tid),
                rule=rule,
                expected=expected,
                due_on=date.fromisoformat(due_on),
                met_on=date.fromisoformat(met_on) if met_on else None,
            )
            for tid, rule, expected, due_on, met_on, kind in rows
        ]
