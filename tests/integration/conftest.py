"""Integration fixtures: an empty log of its own on each backend, and the command line."""

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from application.care_record import CareRecord
from projections.worker import ProjectionWorker
from rodedraad.cli import main
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.integration.databases import BACKENDS, fresh_settings, require_backend


@pytest.fixture(params=BACKENDS)
def own_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on an empty log no other test writes to: SQLite, then PostgreSQL."""
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture
def record(own_settings: Settings) -> Iterator[CareRecord]:
    """The care record on ``own_settings``' empty log."""
    care_record = build_care_record(own_settings)
    yield care_record
    care_record.close()


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings on an empty PostgreSQL database of the test's own."""
    with fresh_settings("postgres", tmp_path) as settings:
        yield settings


@pytest.fixture
def pg_record(pg_settings: Settings) -> Iterator[CareRecord]:
    """The care record on ``pg_settings``' database."""
    record = build_care_record(pg_settings)
    yield record
    record.close()


class _CurrentStderr:
    """``sys.stderr`` as it is at each write (pytest captures each phase of a test apart)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@dataclass
class Rodedraad:
    """``rodedraad ARGS`` in this process, on the stores of the settings given."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, settings: Settings, *args: str) -> tuple[int, str, str]:
        """→ (exit code, stdout, stderr). The embedded workers stay off: a command runs alone."""
        for name, value in {
            "DATABASE_URL": settings.database.url,
            "DATA_DIR": str(settings.data_dir),
            "KEK_FILE": str(settings.kek.file),
            "EMBEDDED_WORKERS": "false",
            "MIGRATE_ON_START": str(settings.migrate_on_start).lower(),
            "STATISTICS_GRID": settings.statistics.grid,
        }.items():
            self.monkeypatch.setenv(f"RODEDRAAD_{name}", value)
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def rodedraad(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Rodedraad]:
    """The command line, its logs going to this test's stderr only."""
    saved = structlog.get_config()

    def log_to_stderr(level: str = "info", fmt: str = "auto") -> None:
        # The CLI's own set-up caches loggers bound to the stderr captured at that moment for
        # the rest of the session; here the logs go to whatever stderr is when they are written.
        structlog.configure(
            logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),
            cache_logger_on_first_use=False,
        )

    monkeypatch.setattr("rodedraad.logs.configure_logging", log_to_stderr)
    yield Rodedraad(monkeypatch, capsys)
    structlog.configure(**saved)


@pytest.fixture(params=BACKENDS)
def followed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionWorker]:
    """A record and a worker that follows it one event at a time."""
    with fresh_settings(request.param, tmp_path) as settings:
        record = build_care_record(settings)
        worker = build_projection_worker(settings, record)
        worker.batch_size = 1
        try:
            yield worker
        finally:
            worker.database.close()
            record.close()
