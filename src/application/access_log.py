"""Reads of personal data, recorded: who read which client's data, when, through which endpoint.

An append-only log beside the event store (its own SQLite file in embedded mode, a table in
PostgreSQL; made by its migrations, ``application.migrations``). An auditor queries it; the
retention policy's logbook period (5 years by default, seed 004) bounds how long entries are
kept.

Chained (issue #16), so an insider cannot quietly delete their own reads: each entry has a
position (1, 2, 3, … without gaps) and

    h(n) = SHA-256( h(n - 1) ‖ n ‖ the entry's fields )

written in the entry's transaction (``application.read_log_chain`` defines the bytes, appends
and verifies). Pruning for retention removes a whole range from the start and keeps its
boundary (the last pruned position and its hash), so the chain still verifies after it.
"""

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from application import read_log_chain
from application.metrics import metrics
from application.sql import Database, Tx

T = TypeVar("T")


class PersonalDataRead(msgspec.Struct, frozen=True):
    """One read of a client's personal data: who (user, organisation, the role they acted in),
    whose (client, trajectory), when, through which endpoint and request."""

    at: datetime
    user_id: str
    organisation: str
    role: str
    client_id: UUID
    trajectory_id: UUID | None
    endpoint: str
    request_id: str
    #: An export's: the export authorisation it was made under, and its purpose (issue #13).
    authorisation: str | None = None
    purpose: str | None = None


_COLUMNS = (
    "at, user_id, organisation, role, client_id, trajectory_id, endpoint, request_id, "
    "authorisation, purpose"
)


def _entry(row: tuple[Any, ...]) -> PersonalDataRead:
    at, user, org, role, client, trajectory, endpoint, request, authorisation, purpose = row
    return PersonalDataRead(
        at=at if isinstance(at, datetime) else datetime.fromisoformat(at),
        user_id=user,
        organisation=org,
        role=role,
        client_id=client if isinstance(client, UUID) else UUID(client),
        trajectory_id=(
            None
            if trajectory is None
            else trajectory
            if isinstance(trajectory, UUID)
            else UUID(trajectory)
        ),
        endpoint=endpoint,
        request_id=request,
        authorisation=authorisation,
        purpose=purpose,
    )


class AccessLog:
    """The log in a table of ``database``: ``personal_data_reads`` in its own SQLite file,
    ``rodedraad_personal_data_reads`` beside the event store on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._sqlite = database.dialect == "sqlite"
        self._table = "personal_data_reads" if self._sqlite else "rodedraad_personal_data_reads"

    def _value(self, value: Any) -> Any:
        """SQLite keeps moments and ids as text; PostgreSQL has types for them."""
        if self._sqlite and isinstance(value, datetime):
            return value.isoformat()
        if self._sqlite and isinstance(value, UUID):
            return str(value)
        return value

    def _among(self, column: str, ids: Collection[UUID]) -> tuple[str, Any]:
        """SQL that tests ``column`` against a set of ids, and its parameter."""
        if self._sqlite:
            return (
                f"{column} IN (SELECT value FROM json_each(?))",  # noqa: S608
                json.dumps(sorted(str(i) for i in ids)),
            )
        return f"{column} = ANY(?)", list(ids)

    def record(self, entry: PersonalDataRead) -> None:
        """Retried once on a lost connection: a read recorded twice beats one not recorded.
        On PostgreSQL one autocommitted call that chains it (``read_log_chain.append_call``)."""
        if self._sqlite:
            self.record_many([entry])
            return
        sql, params = read_log_chain.append_call(
            [self._value(v) for v in msgspec.structs.astuple(entry)]
        )
        self._db.safely(lambda: self._db.statement(sql, params))
        metrics().personal_data_reads.labels(entry.role).inc()

    def record_many(self, entries: Sequence[PersonalDataRead]) -> None:
        """Several reads in one transaction (an export: one entry per client and trajectory),
        chained in it; retried once on a lost connection, like ``record``."""
        if not entries:
            return
        rows = [[self._value(v) for v in msgspec.structs.astuple(e)] for e in entries]

        def write() -> None:
            with self._db.transaction() as tx:
                read_log_chain.append(tx, self._table, rows)

        self._db.safely(write)
        for entry in entries:
            metrics().personal_data_reads.labels(entry.role).inc()

    def query(
        self,
        *,
        client_ids: Collection[UUID] | None = None,
        trajectory_ids: Collection[UUID] | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[PersonalDataRead]:
        """Newest first. An auditor's region decides what it may see, with two filters:
        ``client_ids`` (the clients with a trajectory in the region) and ``trajectory_ids``
        (the region's trajectories: an entry naming another trajectory is left out, one that
        names none, a read of the client, is kept)."""
        where, params = ["1 = 1"], []
        if client_ids is not None:
            test, ids = self._among("client_id", client_ids)
            where.append(test)
            params.append(ids)
        if trajectory_ids is not None:
            test, ids = self._among("trajectory_id", trajectory_ids)
            where.append(f"(trajectory_id IS NULL OR {test})")
            params.append(ids)
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if since is not None:
            where.append("at >= ?")
            params.append(self._value(since))
        sql = (
            f"SELECT {_COLUMNS} FROM {self._table} WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY at DESC LIMIT ?"
        )

        def read() -> list[tuple[Any, ...]]:
            with self._db.transaction(write=False) as tx:
                return tx.fetchall(sql, [*params, limit])

        return [_entry(tuple(r)) for r in self._db.safely(read)]

    def count_before(self, moment: datetime) -> int:
        def count() -> list[tuple[Any, ...]]:
            with self._db.transaction(write=False) as tx:
                return tx.fetchall(
                    f"SELECT count(*) FROM {self._table} WHERE at < ?",  # noqa: S608
                    [self._value(moment)],
                )

        return int(self._db.safely(count)[0][0])

    def purge_before(self, moment: datetime, now: datetime | None = None) -> int:
        """Retention: remove the entries older than ``moment`` as one range from the start of
        the chain, keeping its boundary (``read_log_chain.prune``). An older entry after a
        newer one (two writers' clocks) waits for the next prune; the number removed."""

        def prune() -> int:
            with self._db.transaction() as tx:
                return read_log_chain.prune(
                    tx, self._table, self._value(moment), self._value(now or datetime.now(UTC))
                )

        return self._db.safely(prune)

    def verify(self) -> read_log_chain.Verification:
        """The whole log against its chain: the first entry that does not match."""

        def check() -> read_log_chain.Verification:
            with self._db.transaction(write=False) as tx:
                return read_log_chain.verify(tx, self._table)

        return self._db.safely(check)

    def _reading(self, work: Callable[[Tx], T]) -> T:
        def run() -> T:
            with self._db.transaction(write=False) as tx:
                return work(tx)

        return self._db.safely(run)

    def head(self) -> read_log_chain.Head:
        """The chain's head now, as a seal signs it (``application.seals``)."""
        return self._reading(lambda tx: read_log_chain.head(tx, self._table))

    def check_sealed_head(
        self, sealed: read_log_chain.Head, retention: timedelta | None, now: datetime
    ) -> str | None:
        """Why the log does not hold against a sealed head (None: it holds)."""
        return self._reading(
            lambda tx: read_log_chain.check_sealed_head(tx, self._table, sealed, retention, now)
        )

    def after_head(self, position: int) -> tuple[int, int | None, datetime | None]:
        """The entries after a sealed head: how many, the first's position and moment."""
        return self._reading(lambda tx: read_log_chain.after_head(tx, self._table, position))

    def close(self) -> None:
        self._db.close()
