"""Integration fixtures: an empty log of its own on each backend."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from rodedraad.settings import Settings
from tests.integration.databases import BACKENDS, fresh_settings, require_backend


@pytest.fixture(params=BACKENDS)
def own_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings on an empty log no other test writes to: SQLite, then PostgreSQL."""
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path) as settings:
        yield settings
