"""Tracking: where each projection stands in the event log, and which workers are alive.

This module owns ``rm_tracking`` and ``rm_worker_heartbeat``. A projection's position (the
last event-log notification it processed) is stored in ``rm_tracking`` in the same transaction
as its read-model changes, so each event counts exactly once whatever crashes; a rebuild keeps
the position of the tables it builds in a row of its own (``<name>:rebuild``) until it switches
over. The worker writes here (sync, in its transaction); the API reads positions and heartbeats
through ``TrackingQueries`` (async, on the query runner).
"""

from application.sql import Tx
from projections.runner import Runner

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_tracking ("
    "name TEXT PRIMARY KEY, position BIGINT NOT NULL, version BIGINT NOT NULL)"
)
#: One row per projection worker process: when it last got through a loop, and how that went
#: (``ok`` or ``failing: <error class>``, never personal data). ``/health`` reads it (issue #10).
#: ``beat_at`` is in seconds since the epoch (UTC), by the worker's clock.
HEARTBEAT_DDL = (
    "CREATE TABLE IF NOT EXISTS rm_worker_heartbeat ("
    "worker TEXT PRIMARY KEY, beat_at DOUBLE PRECISION NOT NULL, state TEXT NOT NULL)"
)
#: Both tables, created by every projection database when it opens.
DDL = (TRACKING_DDL, HEARTBEAT_DDL)
#: A worker not heard of for this long is forgotten (a process killed and never restarted).
HEARTBEAT_KEPT_SECONDS = 24 * 3600.0
#: Ends the name of the tracking row of a projection being rebuilt (``positions`` skips it).
REBUILDING = ":rebuild"


def read_tracking(tx: Tx, name: str, *, lock: bool = False) -> tuple[int, int] | None:
    """(position, version) of a projection; ``lock`` serialises writers on PostgreSQL."""
    suffix = " FOR UPDATE" if lock and tx.dialect == "postgres" else ""
    rows = tx.fetchall(f"SELECT position, version FROM rm_tracking WHERE name = ?{suffix}", (name,))
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def write_tracking(tx: Tx, name: str, position: int, version: int) -> None:
    tx.execute(
        "INSERT INTO rm_tracking (name, position, version) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version",
        (name, position, version),
    )


def delete_tracking(tx: Tx, name: str) -> None:
    """Forget a tracking row (a rebuild's, once it switched over)."""
    tx.execute("DELETE FROM rm_tracking WHERE name = ?", (name,))


def write_heartbeat(tx: Tx, worker: str, state: str, at: float) -> None:
    """Record that ``worker`` got through a loop at ``at`` (epoch seconds) in ``state``; forget
    workers not heard of for a day."""
    tx.execute(
        "INSERT INTO rm_worker_heartbeat (worker, beat_at, state) VALUES (?, ?, ?) "
        "ON CONFLICT (worker) DO UPDATE SET beat_at = excluded.beat_at, state = excluded.state",
        (worker, at, state),
    )
    tx.execute("DELETE FROM rm_worker_heartbeat WHERE beat_at < ?", (at - HEARTBEAT_KEPT_SECONDS,))


class TrackingQueries:
    """What the API asks of the tracking tables: read-your-writes and ``/health``."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def positions(self) -> dict[str, int]:
        """Each live projection's position (not the rows of rebuilds under way)."""
        rows = await self.runner.fetch("SELECT name, position FROM rm_tracking", [])
        return {str(name): int(position) for name, position in rows if REBUILDING not in str(name)}

    async def heartbeats(self) -> list[tuple[str, float, str]]:
        """(worker, last beat in epoch seconds, state) of every worker heard of in a day."""
        rows = await self.runner.fetch("SELECT worker, beat_at, state FROM rm_worker_heartbeat", [])
        return [(str(worker), float(at), str(state)) for worker, at, state in rows]
