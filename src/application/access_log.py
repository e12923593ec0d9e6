"""Reads of personal data, recorded: who read which client's data, when, through which endpoint.

An append-only log beside the event store (its own SQLite file in embedded mode, a table in
PostgreSQL; made by its migrations, ``application.migrations``). An auditor queries it; the
retention policy's logbook period (5 years by default, seed 004) bounds how long entries are
kept.
"""

import json
import sqlite3
import threading
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import msgspec
from psycopg_pool import ConnectionPool

from application.files import private_database_file
from application.unavailable import with_connection


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


class AccessLog(Protocol):
    def record(self, entry: PersonalDataRead) -> None: ...

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

    def count_before(self, moment: datetime) -> int: ...

    def purge_before(self, moment: datetime) -> int: ...

    def close(self) -> None: ...


_COLUMNS = "at, user_id, organisation, role, client_id, trajectory_id, endpoint, request_id"


def _entry(row: tuple[Any, ...]) -> PersonalDataRead:
    at, user, org, role, client, trajectory, endpoint, request = row
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
    )


def _filters(
    client_ids: str | None,
    trajectory_ids: str | None,
    user_id: str | None,
    since: datetime | None,
    mark: str,
    among: str,
) -> tuple[str, list[Any]]:
    """``client_ids`` and ``trajectory_ids`` as JSON arrays; ``among`` the SQL that tests a
    column (``{column}``) against one."""
    where, params = ["1 = 1"], []
    if client_ids is not None:
        where.append(among.format(column="client_id"))
        params.append(client_ids)
    if trajectory_ids is not None:
        where.append(f"(trajectory_id IS NULL OR {among.format(column='trajectory_id')})")
        params.append(trajectory_ids)
    if user_id is not None:
        where.append(f"user_id = {mark}")
        params.append(user_id)
    if since is not None:
        where.append(f"at >= {mark}")
        params.append(since.isoformat())
    return " AND ".join(where), params


def _json_ids(ids: Collection[UUID] | None) -> str | None:
    return None if ids is None else json.dumps(sorted(str(i) for i in ids))


class SqliteAccessLog:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(
            private_database_file(path), check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")

    def record(self, entry: PersonalDataRead) -> None:
        with self._lock:
            self._conn.execute(
                f"INSERT INTO personal_data_reads ({_COLUMNS}) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.at.isoformat(),
                    entry.user_id,
                    entry.organisation,
                    entry.role,
                    str(entry.client_id),
                    str(entry.trajectory_id) if entry.trajectory_id else None,
                    entry.endpoint,
                    entry.request_id,
                ),
            )

    def query(
        self,
        *,
        client_ids: Collection[UUID] | None = None,
        trajectory_ids: Collection[UUID] | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[PersonalDataRead]:
        where, params = _filters(
            _json_ids(client_ids),
            _json_ids(trajectory_ids),
            user_id,
            since,
            "?",
            "{column} IN (SELECT value FROM json_each(?))",
        )
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM personal_data_reads WHERE {where} "  # noqa: S608
                "ORDER BY at DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_entry(r) for r in rows]

    def count_before(self, moment: datetime) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM personal_data_reads WHERE at < ?", (moment.isoformat(),)
            ).fetchone()
        return int(row[0])

    def purge_before(self, moment: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM personal_data_reads WHERE at < ?", (moment.isoformat(),)
            )
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresAccessLog:
    def __init__(self, conninfo: str) -> None:
        # Autocommit: an entry is one INSERT, one round trip (not BEGIN, INSERT, COMMIT).
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            max_idle=60,
            open=True,
            kwargs={"autocommit": True},
        )

    def record(self, entry: PersonalDataRead) -> None:
        """Retried once on a lost connection: a read recorded twice beats one not recorded."""
        with_connection(
            self._pool,
            lambda conn: conn.execute(
                f"INSERT INTO rodedraad_personal_data_reads ({_COLUMNS}) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    entry.at,
                    entry.user_id,
                    entry.organisation,
                    entry.role,
                    entry.client_id,
                    entry.trajectory_id,
                    entry.endpoint,
                    entry.request_id,
                ),
            ),
        )

    def query(
        self,
        *,
        client_ids: Collection[UUID] | None = None,
        trajectory_ids: Collection[UUID] | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> list[PersonalDataRead]:
        where, params = _filters(
            _json_ids(client_ids),
            _json_ids(trajectory_ids),
            user_id,
            since,
            "%s",
            "{column} IN (SELECT value::uuid FROM jsonb_array_elements_text(%s::jsonb))",
        )
        rows = with_connection(
            self._pool,
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM rodedraad_personal_data_reads WHERE {where} "  # noqa: S608
                "ORDER BY at DESC LIMIT %s",
                [*params, limit],
            ).fetchall(),
        )
        return [_entry(tuple(r)) for r in rows]

    def count_before(self, moment: datetime) -> int:
        row = with_connection(
            self._pool,
            lambda conn: conn.execute(
                "SELECT count(*) FROM rodedraad_personal_data_reads WHERE at < %s", (moment,)
            ).fetchone(),
        )
        return int(row[0]) if row else 0

    def purge_before(self, moment: datetime) -> int:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "DELETE FROM rodedraad_personal_data_reads WHERE at < %s", (moment,)
            )
        return cursor.rowcount

    def close(self) -> None:
        self._pool.close()
