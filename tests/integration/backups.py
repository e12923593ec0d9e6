"""What the backup and recovery tests share: a deployment whose KEK and erasure ledger are kept
apart from its data (and in the environment, where the CLI reads its settings), commands, and a
look at the raw keys."""

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest

from application.care_record import CareRecord
from application.commands import RegisterClient
from application.keys import KEY_TABLES
from domain.common import Actor, CommandContext
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, stores_of
from tests.integration.databases import fresh_postgres_database
from tests.support import said

COORDINATOR = Actor(user_id="u-coordinator", organisation="org-kompas", role="coordinator")
OFFICER = Actor(user_id="u-dpo", organisation="org-kompas", role="data_protection_officer")


def ctx(actor: Actor = COORDINATOR) -> CommandContext:
    now = datetime.now(UTC)
    return CommandContext(
        actor=actor,
        occurred_at=now - timedelta(minutes=1),
        correlation_id=f"backup-test-{uuid4().hex[:8]}",
        causation_id=None,
        now=now,
    )


@contextmanager
def deployment(
    backend: str, data_dir: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A deployment's settings, also in the environment (the CLI reads them there): its own
    data directory (or database); the KEK and the erasure ledger in ``shared``, kept apart."""

    @contextmanager
    def url() -> Iterator[str]:
        if backend == "sqlite":
            yield f"sqlite:///{data_dir / 'rodedraad.sqlite'}"
            return
        with fresh_postgres_database() as database:
            yield database

    with url() as database_url, deployment_on(database_url, data_dir, shared, monkeypatch) as s:
        yield s


@contextmanager
def deployment_on(
    database_url: str, data_dir: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """A deployment on ``database_url`` (see ``deployment``)."""
    environ = {
        "RODEDRAAD_DATABASE_URL": database_url,
        "RODEDRAAD_DATA_DIR": str(data_dir),
        "RODEDRAAD_KEK_FILE": str(shared / "kek.json"),
        "RODEDRAAD_ERASURE_LEDGER_FILE": str(shared / "erasure-ledger.jsonl"),
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    yield Settings.from_env(environ)


def register(record: CareRecord, name: str, contact: str = "") -> UUID:
    context = ctx()
    return record.register_client(
        context, said(RegisterClient, context, name=name, contact=contact or None)
    ).id


def wrapped_keys(settings: Settings, client: UUID) -> list[bytes]:
    if settings.database.is_postgres:
        with psycopg.connect(settings.database.url) as conn:
            rows = conn.execute(
                f"SELECT wrapped_key FROM {KEY_TABLES['postgres'][0]} WHERE client = %s",
                (client,),
            ).fetchall()
    else:
        with sqlite3.connect(stores_of(settings).files["keys"]) as conn:
            rows = conn.execute(
                "SELECT wrapped_key FROM subject_keys WHERE client = ?", (str(client),)
            ).fetchall()
    return [bytes(r[0]) for r in rows]


def pg_dump_of(url: str, target: Path) -> Path:
    subprocess.run(["pg_dump", f"--dbname={url}", f"--file={target}"], check=True)  # noqa: S603,S607
    return target


@contextmanager
def care_record_of(settings: Settings) -> Iterator[CareRecord]:
    """The write side on ``settings``, closed afterwards."""
    record = build_care_record(settings)
    try:
        yield record
    finally:
        record.close()
