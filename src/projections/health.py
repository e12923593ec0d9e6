"""What ``/health`` asks of the read side (issue #10): is a projection worker alive and well,
and does every projection that lags behind the log still advance?

A worker that lost its database, or was killed, leaves the read models where they were while
the API goes on answering; these checks make ``/health`` say ``degraded`` with the reason, so
an operator (or a load balancer) learns of it. Each check answers ``None`` when all is well,
else one sentence without personal data, and without host names, process ids or file paths:
``/health`` answers without a token (the logs carry those details).
"""

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio.to_thread
import psycopg

from application.unavailable import DatabaseUnavailable
from projections.tracking import REBUILDING, TrackingQueries


@dataclass
class WorkerHeartbeats:
    """Degraded when no projection worker beat within ``stale_after`` seconds (none connected:
    killed, or its database lost), or when a worker that beats says it is failing."""

    tracking: TrackingQueries
    stale_after: float
    clock: Callable[[], float] = time.time

    async def __call__(self) -> str | None:
        beats = await self.tracking.heartbeats()
        now = self.clock()
        fresh = [(worker, state) for worker, at, state in beats if now - at <= self.stale_after]
        if not fresh:
            if not beats:
                return "no projection worker connected: never seen"
            last = max(at for _, at, _ in beats)
            return f"no projection worker connected: last seen {now - last:.0f} s ago"
        failing = sorted({state for _, state in fresh if state != "ok"})
        if not failing:
            return None
        count = sum(state != "ok" for _, state in fresh)
        # /health answers anyone: it names no host or process (issue #10 review); each
        # worker's own log says it is failing, with its name.
        return (
            f"{count} of {len(fresh)} projection worker(s) report {', '.join(failing)}; "
            "their logs say which"
        )


@dataclass
class StalledProjections:
    """Degraded when a projection lags behind the log and its position has not moved for more
    than ``stalled_after`` seconds (as seen by this process's earlier ``/health`` calls)."""

    positions: Callable[[], Awaitable[dict[str, int]]]
    head: Callable[[], int | None]
    stalled_after: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[int, float]] = field(default_factory=dict)  # position, since when

    async def __call__(self) -> str | None:
        head = await anyio.to_thread.run_sync(self.head) or 0
        now = self.clock()
        reasons = []
        for name, position in sorted((await self.positions()).items()):
            seen = self._seen.get(name)
            if position >= head:
                self._seen.pop(name, None)
            elif seen is None or seen[0] != position:
                self._seen[name] = (position, now)
            elif (still := now - seen[1]) > self.stalled_after:
                reasons.append(
                    f"projection {name} is {head - position} events behind and has not "
                    f"advanced for {still:.0f} s"
                )
        return "; ".join(reasons) or None


def behind_primary(primary: dict[str, int], standby: dict[str, int]) -> dict[str, int]:
    """Per projection, how many log positions the standby's copy of its read model is behind
    the primary's (issue #20 point 4): what a ``min_position`` read on the standby may wait."""
    return {name: max(0, position - standby.get(name, 0)) for name, position in primary.items()}


@dataclass
class StandbyReachable:
    """Degraded when the hot standby (``RODEDRAAD_READ_DATABASE_URL``) cannot be reached: the
    reads it serves fail while it is away (its lag is in ``/health``'s ``standby``)."""

    standby: TrackingQueries

    async def __call__(self) -> str | None:
        try:
            await self.standby.positions()
        except DatabaseUnavailable:
            return "the read replica cannot be reached: its reads answer 503"
        return None


def standby_lag_events(primary_url: str, standby_url: str) -> float:
    """The largest ``behind_primary`` over the projections, asked of both databases with a
    connection each (at a metrics scrape, from the listener's thread); NaN when either cannot
    be reached, so the gauge says "unknown" rather than "caught up"."""
    try:
        positions = []
        for url in (primary_url, standby_url):
            with psycopg.connect(url, connect_timeout=2) as conn:
                rows = conn.execute("SELECT name, position FROM rm_tracking").fetchall()
            positions.append({str(n): int(p) for n, p in rows if REBUILDING not in str(n)})
    except psycopg.Error:
        return math.nan
    return float(max(behind_primary(*positions).values(), default=0))
