"""One-off jobs beside a running service (issue #11, point 9): a job takes the scheduler's lock
between two runs, waiting a bounded time for the run in progress, and always lets it go."""

from pathlib import Path

import pytest

from scheduler.jobs import JobLockBusy, run_beside_service
from scheduler.runner import FileLeaderLock


@pytest.fixture
def locks(tmp_path: Path) -> tuple[FileLeaderLock, FileLeaderLock]:
    """The service's run and a one-off job, on the same lock file."""
    return FileLeaderLock(tmp_path / "scheduler.lock"), FileLeaderLock(tmp_path / "scheduler.lock")


def test_a_job_waits_for_the_run_in_progress_and_then_runs(
    locks: tuple[FileLeaderLock, FileLeaderLock],
) -> None:
    service, job = locks
    assert service.acquire()
    said: list[str] = []

    def the_run_finishes_once_the_job_waits(line: str) -> None:
        said.append(line)
        service.release()

    result = run_beside_service(
        job, lambda: "done", wait=10, say=the_run_finishes_once_the_job_waits, poll=0.01
    )

    assert result == "done"
    assert said == ["a scheduler run is going on; waiting up to 10 s for it to finish"]


def test_a_job_gives_up_when_the_run_in_progress_outlasts_its_wait(
    locks: tuple[FileLeaderLock, FileLeaderLock],
) -> None:
    service, job = locks
    assert service.acquire()
    ran: list[bool] = []

    with pytest.raises(JobLockBusy, match=r"held the lock for 0\.05 s; try again later"):
        run_beside_service(job, lambda: ran.append(True), wait=0.05, poll=0.01)

    assert ran == []
    service.release()


def test_a_job_that_fails_lets_go_of_the_lock(
    locks: tuple[FileLeaderLock, FileLeaderLock],
) -> None:
    service, job = locks

    def fails() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_beside_service(job, fails, wait=0)

    assert service.acquire(), "the service's next run is not locked out"
    service.release()
