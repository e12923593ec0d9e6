"""One-off jobs beside a running service (issue #11, point 9).

The scheduler's lock (``scheduler.runner``: a PostgreSQL advisory lock, or a file lock in
embedded mode) is held by one run at a time: a periodic run of the scheduler — inside ``serve``
in embedded mode, ``rodedraad scheduler run`` in production — or a job an operator starts by
hand (``rodedraad scheduler run-once``, ``rodedraad keys rotate``, the theme batches of shared
findings: ``rodedraad learning-networks release-batches``). A periodic run holds it only while
it runs, so a one-off job waits for the run in progress to finish (a bounded time, saying so)
and then runs beside the service; it never needs the service stopped.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the command line imports this module at once: keep it light
    from scheduler.runner import LeaderLock

T = TypeVar("T")

#: How long a one-off job waits by default for the run in progress (``--wait``): a scheduler
#: run takes seconds; one that holds the lock for longer is worth a look.
DEFAULT_WAIT_SECONDS = 30.0


class JobNotStarted(Exception):
    """The job did not run: the lock could not be had (``message`` says why and what to do;
    ``exit_code``, the command line's: 3 for "try again later", 2 for an unreachable database,
    as for any command)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class JobLockBusy(JobNotStarted):
    """Another run held the lock for longer than the job would wait."""

    exit_code = 3

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"another scheduler run (the service's, or another job) held the lock for "
            f"{waited:g} s; try again later, or wait longer with --wait SECONDS"
        )


class JobLockUnreachable(JobNotStarted):
    """The lock could not be asked for: the database is unreachable (no run holds it)."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"{why}; nothing was run. Check RODEDRAAD_DATABASE_URL and that the database is "
            "up, then run it again"
        )


def run_beside_service(
    lock: "LeaderLock",
    job: Callable[[], T],
    *,
    wait: float = DEFAULT_WAIT_SECONDS,
    say: Callable[[str], None] = lambda line: None,
    poll: float = 0.25,
) -> T:
    """``job()`` holding ``lock``: taken at once if free, else waited for up to ``wait``
    seconds (``say`` tells the operator once), else ``JobLockBusy``; ``JobLockUnreachable`` at
    once when the database cannot be reached (no run is waited for then). Released afterwards."""
    deadline = time.monotonic() + wait
    waiting = False
    while not lock.acquire():
        if lock.unreachable is not None:
            raise JobLockUnreachable(lock.unreachable)
        left = deadline - time.monotonic()
        if left <= 0:
            raise JobLockBusy(wait)
        if not waiting:
            say(f"a scheduler run is going on; waiting up to {wait:g} s for it to finish")
            waiting = True
        time.sleep(min(poll, left))
    try:
        return job()
    finally:
        lock.release()
