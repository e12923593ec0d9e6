"""Integration fixtures: an empty log of its own on each backend."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from application.care_record import CareRecord
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
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
