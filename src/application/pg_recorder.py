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
"""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class LockedInsertRecorder(PostgresApplicationRecorder):
    """eventsourcing's application recorder, inserting through one function call. Its tables
    and the function are made by the event store's baseline migration, under the schema lock
    (``application.migrations``)."""

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
        }
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
                "RETURNING notification_id; "
                "END; $BODY$"
            ).format(lock_timeout=self.datastore.lock_timeout, **names)
        )
        self.sql_locked_insert = SQL(
            "SELECT id FROM {schema}.{function}(%s) AS inserted(id)"
        ).format(**names)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        if not stored_events:
            return []
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        try:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self.sql_locked_insert, (rows,), prepare=True)
                return [row["id"] for row in curs.fetchall()]
        except (InterfaceError, OperationalError):
            # After PostgreSQL dropped its connections every idle one in the pool is dead;
            # without a sweep each retry would draw the next dead one (issue #10).
            self.datastore.pool.check()
            raise


class RodeDraadPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory with our recorder (``PERSISTENCE_MODULE``)."""

    application_recorder_class = LockedInsertRecorder
