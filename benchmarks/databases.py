"""Benchmark databases: a fresh PostgreSQL database (or SQLite data dir) per run, dropped after."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from rodedraad.settings import Settings

#: The server's maintenance database; each run creates ``rodedraad_bench_<random>`` beside it.
PG_ADMIN_URL = os.environ.get(
    "RODEDRAAD_BENCH_PG_URL",
    os.environ.get("RODEDRAAD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one benchmark run keeps its data: the settings a server process would read."""

    backend: str  # "postgres" or "sqlite"
    database_url: str
    data_dir: Path

    def settings(self) -> Settings:
        return Settings.from_env(self.environ())

    def environ(self) -> dict[str, str]:
        """The ``RODEDRAAD_*`` variables for ``rodedraad`` sub-processes."""
        return {
            "RODEDRAAD_DATABASE_URL": self.database_url,
            "RODEDRAAD_DATA_DIR": str(self.data_dir),
            "RODEDRAAD_LOG_LEVEL": "warning",
            "RODEDRAAD_LOG_FORMAT": "json",
        }


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def server_version() -> str:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def postgres_target(keep: bool = False) -> Iterator[Target]:
    """A fresh database ``rodedraad_bench_<random>`` and a data dir; both removed afterwards."""
    name = f"rodedraad_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    data_dir = Path(tempfile.mkdtemp(prefix="rodedraad-bench-"))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield Target("postgres", f"{base}/{name}", data_dir)
    finally:
        if not keep:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def sqlite_target(keep: bool = False) -> Iterator[Target]:
    """A fresh embedded data dir (event store, read models, idempotency keys, secret)."""
    data_dir = Path(tempfile.mkdtemp(prefix="rodedraad-bench-sqlite-"))
    try:
        yield Target("sqlite", f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
