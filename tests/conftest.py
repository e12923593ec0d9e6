"""Shared fixtures: settings for a fresh SQLite file, and a fresh PostgreSQL database.

PostgreSQL tests are marked ``postgres``. Without a server they skip locally, but fail in CI
(``CI=true``), where the server is required.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rodedraad.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "RODEDRAAD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, dropped afterwards."""
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable (required in CI)")
    name = f"rodedraad_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_kek_file(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The KEK of the session's database: its tests have data dirs of their own, but its keys
    are wrapped under one KEK, as every process of a deployment shares one."""
    return tmp_path_factory.mktemp("session-kek") / "kek.json"


@pytest.fixture(scope="session")
def postgres_erasure_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The erasure ledger of the session's database, shared as every process of a deployment
    shares one: with a ledger per test, a test after one that erased a client on it would find
    an erasure its own (empty) ledger does not hold, and the store would refuse to start."""
    return tmp_path_factory.mktemp("session-ledger") / "erasure-ledger.jsonl"


def settings_for(
    database_url: str,
    data_dir: Path,
    kek_file: Path | None = None,
    erasure_ledger_file: Path | None = None,
) -> Settings:
    """Settings on ``database_url``, keeping files in ``data_dir`` (the KEK and the erasure
    ledger too, unless given)."""
    environ = {"RODEDRAAD_DATABASE_URL": database_url, "RODEDRAAD_DATA_DIR": str(data_dir)}
    if kek_file is not None:
        environ["RODEDRAAD_KEK_FILE"] = str(kek_file)
    if erasure_ledger_file is not None:
        environ["RODEDRAAD_ERASURE_LEDGER_FILE"] = str(erasure_ledger_file)
    return Settings.from_env(environ)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for each backend in turn: the same test body runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return settings_for(
        url,
        tmp_path,
        request.getfixturevalue("postgres_kek_file"),
        request.getfixturevalue("postgres_erasure_ledger"),
    )
