"""The PostgreSQL event recorder: eventsourcing's table-lock insert, in one round trip.

eventsourcing's ``PostgresApplicationRecorder`` keeps the log gap-free for readers by taking an
EXCLUSIVE lock on the events table for each inserting transaction, so notification ids are
issued in commit order and a projection tailing the log can never pass an id that a slower
transaction fills in later. It sends that as a pipeline: BEGIN, SET LOCAL lock_timeout, LOCK
TABLE, NOTIFY, INSERT … RETURNING, a sync, COMMIT — several statements and client-side work per
transaction, all while the lock is held. Its other mode, database functions, makes one call
but drops the lock, and with it that guarantee.

This recorder keeps the guarantee and makes one call: a PL/pgSQL function that sets the lock
timeout, takes the same EXCLUSIVE lock, notifies and inserts; called on an autocommit
connection it runs as one implicit transaction, so the lock is held from before the first id
is drawn until the commit, exactly as before. The projections' exactly-once tests under
concurrent writers run against it.

An insert is tried again while its connection is lost (eventsourcing's recorder does the same).
An attempt can commit and lose only its answer; the next attempt then meets its own rows as a
version already taken. That is not a lost race: before reporting one, the recorder checks
whether the rows are its own, byte for byte, and if so answers as recorded (issue #10 review,
S1), so a command is neither refused nor, retried with its Idempotency-Key, recorded twice.

A connection the pool could not hand out in time (``POOL_WAIT_SECONDS``) is not tried again:
eventsourcing's retries take it for a lost connection, and ten waits of the pool would hold a
request (or the projection worker's try) for well over a minute. It is ``NoConnection`` (a
``DatabaseUnavailable``) at once: the API answers 503, the worker pauses and tries again.
"""

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString
from uuid import UUID

import structlog
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolTimeout

from application.commit_times import SNAPSHOT_TIMES
from application.event_chain import (
    CHECKPOINT_EVERY,
    COMMIT_TIMES,
    GENESIS,
    HASH_COLUMN,
    PG_LINK,
    pg_link_tail,
)
from application.event_chain import DDL as CHAIN_DDL
from application.unavailable import (
    DatabaseUnavailable,
    NoConnection,
    closed_if_stuck,
    connect_timeout,
)

log = structlog.get_logger("rodedraad.store")

#: Tries of one insert while its connection is lost, and the pause between them (as
#: eventsourcing's own recorder: 10 tries, 0.2 s apart).
INSERT_ATTEMPTS = 10
RETRY_WAIT_SECONDS = 0.2


def _notification(
    position: int, originator_id: Any, version: int, topic: str, state: bytes
) -> Notification:
    """A ``Notification`` equal to the one its constructor makes, at a fraction of the cost (a
    frozen dataclass sets each field through ``object.__setattr__``). Its fields go into the
    new instance's own ``__dict__``: assigning a ``__dict__`` of our own cost twice as much
    (≈ 1.9 against 1.0 µs; a rebuild makes one per event, issue #22)."""
    notification = _new(Notification)
    notification.__dict__.update(
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=bytes(state),
        id=position,
    )
    return notification


def _stored_event(originator_id: Any, version: int, topic: str, state: bytes) -> StoredEvent:
    """A ``StoredEvent`` equal to the one its constructor makes, without the frozen
    dataclass's ``__init__`` (as ``_notification``)."""
    stored = _new(StoredEvent)
    stored.__dict__.update(
        originator_id=originator_id, originator_version=version, topic=topic, state=bytes(state)
    )
    return stored


_new = object.__new__


class LeanEventReader(PostgresAggregateRecorder):
    """eventsourcing's ``select_events`` with the four columns a stored event holds, rows as
    tuples in binary, and each statement rendered once (issue #22). Every command reads the
    events of the client it acts on past the cached copy (the facts that decide access are read
    fresh): eventsourcing composes that statement anew, quotes its names and builds a dict per
    row on each call. Same answers (a test holds it to eventsourcing's reader), same retry."""

    #: Per shape of query (gt, lte, desc, limit given): its text, rendered on first use.
    _select_events_sql: dict[tuple[bool, bool, bool, bool], str]

    def _select_events_text(self, conn: Any, shape: tuple[bool, bool, bool, bool]) -> str:
        gt, lte, desc, limit = shape
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        if gt:
            statement += SQL(" AND originator_version > %s")
        if lte:
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
        )
        if limit:
            statement += SQL(" LIMIT %s")
        return statement.as_string(conn)

    @retry(
        (InterfaceError, OperationalError), max_attempts=INSERT_ATTEMPTS, wait=RETRY_WAIT_SECONDS
    )
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        shape = (gt is not None, lte is not None, desc, limit is not None)
        params: list[Any] = [originator_id]
        params.extend(value for value in (gt, lte, limit) if value is not None)
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            texts = self.__dict__.setdefault("_select_events_sql", {})
            text = texts.get(shape)
            if text is None:
                text = texts[shape] = self._select_events_text(conn, shape)
            curs.execute(text, params, prepare=True, binary=True)
            return [
                _stored_event(originator_id, version, topic, state)
                for originator_id, version, topic, state in curs.fetchall()
            ]


class LockedInsertRecorder(LeanEventReader, PostgresApplicationRecorder):
    """eventsourcing's application recorder, inserting through one function call. Its tables
    and the function are made by the event store's baseline migration, under the schema lock
    (``application.migrations``)."""

    #: Always on; off only for the benchmark that measures what the chain costs.
    chained: bool = True

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.locked_insert_function = f"rd_locked_insert_{events_table_name}"
        self.check_identifier_length(self.locked_insert_function)
        names = {
            "schema": Identifier(self.datastore.schema),
            "function": Identifier(self.locked_insert_function),
            "event": Identifier(self.stored_event_type_name),
            "table": Identifier(self.events_table_name),
            "channel": Identifier(self.channel_name),
            "stamps": Identifier(COMMIT_TIMES),
            "hash": Identifier(HASH_COLUMN),
        }
        # Issue #15: the same call stamps the range of positions it wrote with the server's
        # clock, under the lock, never earlier than the previous stamp (application.commit_times).
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{stamps} (last_position BIGINT PRIMARY KEY, "
                "first_position BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL, "
                "exact BOOLEAN NOT NULL, {hash} BYTEA)"
            ).format(**names)
        )
        # A table made before the chain gets its column here, before the function that writes
        # it is replaced (processes of the older version call the new function at once).
        self.sql_create_statements.append(
            SQL("ALTER TABLE {schema}.{stamps} ADD COLUMN IF NOT EXISTS {hash} BYTEA").format(
                **names
            )
        )
        # Issue #16: the same call chains every event after the last chained commit (normally
        # exactly those it inserted), under the lock, with ``sha256()`` (the link is
        # ``application.event_chain.link``, in SQL: ``PG_LINK``), and keeps the hash at its
        # last position in the commit's row.
        for statement in CHAIN_DDL["postgres"]:
            self.sql_create_statements.append(
                SQL(
                    statement.replace(
                        "CREATE TABLE IF NOT EXISTS ", "CREATE TABLE IF NOT EXISTS {schema}."
                    )
                ).format(**names)
            )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "DECLARE new_ids bigint[]; chained_to bigint; previous bytea; r record; "
                "tails bytea[]; tail bytea; last_stamp timestamptz; stamp timestamptz; "
                "chunk_first bigint; n integer; "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "WITH inserted AS (INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
                "WITH ORDINALITY AS u ORDER BY u.ordinality RETURNING {returning}) "
                "SELECT array_agg(ins.notification_id ORDER BY ins.notification_id){tails} "
                "INTO new_ids{into_tails} FROM inserted AS ins; "
                "IF new_ids IS NULL THEN RETURN; END IF; "
                "SELECT c.last_position, c.{hash}, c.committed_at "
                "INTO chained_to, previous, last_stamp FROM {schema}.{stamps} AS c "
                "ORDER BY c.last_position DESC LIMIT 1; "
                "stamp := greatest(clock_timestamp(), last_stamp); chunk_first := new_ids[1]; "
                "{chain_part}"
                "INSERT INTO {schema}.{stamps} (last_position, first_position, committed_at, "
                "exact, {hash}) VALUES (new_ids[array_upper(new_ids, 1)], chunk_first, "
                "stamp, true, {chained}); "
                "RETURN QUERY SELECT unnest(new_ids); "
                "END; $BODY$"
            ).format(
                lock_timeout=self.datastore.lock_timeout,
                # With the chain, the insert also returns what each link hashes after its
                # predecessor (``pg_link_tail``): the events just written are not read again.
                returning=SQL(
                    "notification_id, originator_id, originator_version, topic, state"
                    if self.chained
                    else "notification_id"
                ),
                tails=SQL(
                    f", array_agg({pg_link_tail('ins')} ORDER BY ins.notification_id)"
                    if self.chained
                    else ""
                ),
                into_tails=SQL(", tails" if self.chained else ""),
                chained=SQL("previous" if self.chained else "NULL"),
                chain_part=SQL(self._chain_part() if self.chained else "").format(
                    genesis=SQL(GENESIS.hex()),
                    link=SQL(PG_LINK),
                    every=SQL(str(CHECKPOINT_EVERY)),
                    **names,
                ),
                **names,
            )
        )
        self.sql_locked_insert = SQL(
            "SELECT id FROM {schema}.{function}(%s) AS inserted(id)"
        ).format(**names)
        self.sql_select_recorded = SQL(
            "SELECT t.originator_id, t.originator_version, t.state, t.notification_id "
            "FROM {schema}.{table} AS t JOIN unnest(%s::uuid[], %s::bigint[]) AS ours(id, v) "
            "ON t.originator_id = ours.id AND t.originator_version = ours.v"
        ).format(**names)

    @staticmethod
    def _chain_part() -> LiteralString:
        """The function's chaining statements (issue #16): every event after the last chained
        commit, in log order, linked with ``PG_LINK``; ``previous`` ends as the hash at the
        last position written. Expects ``chained_to`` and ``previous`` read from the last
        commit's row."""
        return (
            # The last commit was written without the chain (an older version's writer, during
            # an upgrade): chain on from the last commit that has it.
            "IF chained_to IS NOT NULL AND previous IS NULL THEN "
            "SELECT c.last_position, c.{hash} INTO chained_to, previous "
            "FROM {schema}.{stamps} AS c WHERE c.{hash} IS NOT NULL "
            "ORDER BY c.last_position DESC LIMIT 1; END IF; "
            "IF chained_to IS NULL THEN chained_to := 0; "
            "previous := decode('{genesis}', 'hex'); END IF; "
            # Events an older version wrote without a chain (during an upgrade), in log order:
            # only looked for when the positions just written do not follow the last chained
            # one (a gap in the sequence left by an insert that lost a race, or such events).
            "IF chained_to < new_ids[1] - 1 THEN "
            "FOR r IN SELECT e.notification_id, e.originator_id, e.originator_version, "
            "e.topic, e.state FROM {schema}.{table} AS e WHERE e.notification_id > chained_to "
            "AND e.notification_id < new_ids[1] ORDER BY e.notification_id LOOP "
            "previous := {link}; "
            "END LOOP; END IF; "
            # The events just written, from what their insert returned (never ``events[i]``:
            # a subscript copies the whole array of composites in PL/pgSQL, which made the
            # chain's cost grow with the square of the batch). A bulk load's commit keeps the
            # hash every ``CHECKPOINT_EVERY`` events, in a commit-times row of its own.
            "IF array_length(tails, 1) <= {every} THEN "
            "FOREACH tail IN ARRAY tails LOOP "
            "previous := sha256(previous || tail); "
            "END LOOP; "
            "ELSE n := 0; "
            "FOREACH tail IN ARRAY tails LOOP "
            "previous := sha256(previous || tail); n := n + 1; "
            "IF mod(n, {every}) = 0 AND n < array_length(tails, 1) THEN "
            "INSERT INTO {schema}.{stamps} (last_position, first_position, committed_at, "
            "exact, {hash}) VALUES (new_ids[n], chunk_first, stamp, true, previous); "
            "chunk_first := new_ids[n + 1]; END IF; "
            "END LOOP; END IF; "
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        """Insert under the table lock, tried again (up to ``INSERT_ATTEMPTS``) while the
        connection is lost. A version already taken is checked (``_inserted_before``): it may
        be this very insert, committed by an attempt whose answer was lost."""
        if not stored_events:
            return []
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        for attempt in range(1, INSERT_ATTEMPTS + 1):
            try:
                return self._locked_insert(rows)
            except IntegrityError:
                return self._inserted_before(stored_events)
            except (InterfaceError, OperationalError):
                if attempt == INSERT_ATTEMPTS:
                    raise
                time.sleep(RETRY_WAIT_SECONDS)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @retry(
        (InterfaceError, OperationalError), max_attempts=INSERT_ATTEMPTS, wait=RETRY_WAIT_SECONDS
    )
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
        share: tuple[int, int] | None = None,
        shared_topics: Sequence[str] = (),
    ) -> Sequence[Notification]:
        """eventsourcing's query, with only the five columns a notification holds, rows as
        tuples and each notification made without the frozen dataclass's ``__init__``: reading
        the log that way was a sixth of a rebuild's CPU (issue #22). Same answers, same retry.

        ``share`` = (k, n): only the notifications of records whose id's last byte modulo n is
        k (``projections.store.share_of``), and those of ``shared_topics``: a rebuild split by
        record reads only its share's rows, the others are skipped by PostgreSQL."""
        conditions: list[SQL] = []
        params: list[Any] = []
        if start is not None:
            conditions.append(
                SQL("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            conditions.append(SQL("notification_id <= %s"))
            params.append(stop)
        if topics:
            conditions.append(SQL("topic = ANY(%s)"))
            params.append(list(topics))
        if share is not None:
            conditions.append(
                SQL("(get_byte(uuid_send(originator_id), 15) %% %s = %s OR topic = ANY(%s))")
            )
            params.extend((share[1], share[0], list(shared_topics)))
        params.append(limit)
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table}{where} ORDER BY notification_id LIMIT %s"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            where=SQL(" WHERE ") + SQL(" AND ").join(conditions) if conditions else SQL(""),
        )
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params, prepare=True, binary=True)
            return [
                _notification(position, originator_id, version, topic, state)
                for position, originator_id, version, topic, state in curs.fetchall()
            ]

    def _locked_insert(self, rows: list[Any]) -> list[int]:
        """One attempt: the locked-insert function, in one implicit transaction."""
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self.sql_locked_insert, (rows,), prepare=True)
                return [row["id"] for row in curs.fetchall()]
        except (InterfaceError, OperationalError):
            # After PostgreSQL dropped its connections every idle one in the pool is dead;
            # without a sweep each retry would draw the next dead one (issue #10).
            self.datastore.pool.check()
            raise

    def _inserted_before(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """The notification ids of ``stored_events`` if they are already in the table, byte for
        byte: an earlier attempt committed them and only its answer was lost (or the group
        commit's batch did, before its commands were tried one by one). Issue #10 review, S1.

        Sealed state carries a random nonce, so another command's events never hold the same
        bytes; and one insert commits all its rows or none. So: every row there, with our
        state → ours, committed; any row missing or different → a genuine lost race
        (``IntegrityError``). If the table cannot be read, the outcome is unknown
        (``DatabaseUnavailable``: the caller's Idempotency-Key stays reserved).
        """
        ids = [e.originator_id for e in stored_events]
        versions = [e.originator_version for e in stored_events]
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self.sql_select_recorded, (ids, versions))
                found = {
                    (row["originator_id"], row["originator_version"]): row
                    for row in curs.fetchall()
                }
        except (InterfaceError, OperationalError) as error:
            self.datastore.pool.check()
            raise DatabaseUnavailable(
                "an insert met a version already taken, and whether it was its own could not "
                "be checked"
            ) from error
        mine = [found.get((e.originator_id, e.originator_version)) for e in stored_events]
        if all(
            row is not None and bytes(row["state"]) == e.state
            for row, e in zip(mine, stored_events, strict=True)
        ):
            log.warning("an insert whose answer was lost had committed; taken as recorded")
            return [int(row["notification_id"]) for row in mine if row is not None]
        raise IntegrityError("a version of an aggregate is already taken by another command")


class SnapshotTimesRecorder(LeanEventReader):
    """eventsourcing's recorder of snapshots, stamping each snapshot with the server's clock
    once it is written (issue #15: an answer about T starts only from a snapshot committed by
    T). The connection commits each statement, so the stamp is taken after the snapshot's
    commit: never earlier than it, which is the safe side."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{stamps} (originator_id UUID NOT NULL, "
                "originator_version BIGINT NOT NULL, committed_at TIMESTAMPTZ NOT NULL, "
                "PRIMARY KEY (originator_id, originator_version))"
            ).format(schema=Identifier(self.datastore.schema), stamps=Identifier(SNAPSHOT_TIMES))
        )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        curs.executemany(
            SQL(
                "INSERT INTO {schema}.{stamps} (originator_id, originator_version, committed_at) "
                "VALUES (%s, %s, clock_timestamp()) ON CONFLICT (originator_id, "
                "originator_version) DO UPDATE SET committed_at = excluded.committed_at"
            ).format(schema=Identifier(self.datastore.schema), stamps=Identifier(SNAPSHOT_TIMES)),
            [(s.originator_id, s.originator_version) for s in stored_events],
        )


class BoundedWaitDatastore(PostgresDatastore):
    """eventsourcing's datastore whose pool, when it has no connection to hand out in time,
    says so (``NoConnection``, a ``DatabaseUnavailable``) rather than raising the
    ``OperationalError`` every retry of the recorders would wait through again."""

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        try:
            with super().get_connection() as conn, closed_if_stuck(conn):
                yield conn
        except OperationalError as error:
            if isinstance(error.__cause__, PoolTimeout):
                raise NoConnection(
                    f"no connection to the event store within {self.pool.timeout:g} s"
                ) from error
            raise


class RodeDraadPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory with our recorders (``PERSISTENCE_MODULE``) and our
    datastore (:class:`BoundedWaitDatastore`)."""

    application_recorder_class = LockedInsertRecorder
    aggregate_recorder_class = SnapshotTimesRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # (eventsourcing builds its datastore in its own constructor, with no hook for the
        # class; ours adds one method and no state.)
        self.datastore.__class__ = BoundedWaitDatastore
        # Its pool's connects are bounded as ours are: eventsourcing passes no
        # ``connect_timeout``, and psycopg's default is 130 s per address. (It builds the
        # pool unopened, so no connection is made before this.)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)  # (eventsourcing gives it as one)
        pool.kwargs = {**pool.kwargs, **connect_timeout()}
