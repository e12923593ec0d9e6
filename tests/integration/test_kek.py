"""The key-encryption key (issue #10, point 7): no subject key is ever stored in clear; rotation
re-wraps them all; a retired version is destroyed after the backup window, and a copy of the
database older than that cannot be decrypted, and says why.

Each test runs on SQLite and on PostgreSQL, on a database of its own. The clock of rotations is
driven explicitly (``KekRotation.run(now)``): nothing sleeps.
"""

import dataclasses
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
import structlog

from application.care_record import CareRecord
from application.commands import EraseClient, Refer, RegisterClient
from application.kek import KekError, KekVersion, KeyringFile, unwrap
from application.kek_rotation import KekRotation
from application.keys import KEY_TABLES
from application.migrations import migrate, migration_status
from application.sealing import SealBroken
from domain.common import Sector
from domain.errors import TransitionNotAllowed
from rodedraad import cli
from rodedraad.settings import Settings
from rodedraad.wiring import (
    build_care_record,
    build_deadline_scheduler,
    build_kek_rotation,
    build_key_store,
    build_leader_lock,
    build_policy,
    build_projection_worker,
    stores_of,
)
from scheduler.runner import BackgroundDeadlines
from tests.conftest import settings_for
from tests.integration.databases import (
    BACKENDS,
    fresh_postgres_database,
    fresh_settings,
    require_backend,
)
from tests.integration.raw_files import (
    files_holding,
    postgres_files,
    sqlite_files,
    wal_mark,
)
from tests.support import context, said


@dataclass
class Deployment:
    """One deployment's settings on a database of its own."""

    settings: Settings
    tmp_path: Path

    @property
    def is_postgres(self) -> bool:
        return self.settings.database.is_postgres

    @property
    def url(self) -> str:
        return self.settings.database.url

    def record(self) -> CareRecord:
        return build_care_record(self.settings)

    def rotation(self, record: CareRecord) -> KekRotation:
        return build_kek_rotation(self.settings, record.keys)

    def stored_keys(self) -> dict[UUID, tuple[int, bytes]]:
        """Every row of the key store as stored: subject → (KEK version, wrapped key)."""
        sql = "SELECT subject, kek_version, wrapped_key FROM {}"
        if self.is_postgres:
            with psycopg.connect(self.url) as conn:
                rows = conn.execute(sql.format(KEY_TABLES["postgres"][0])).fetchall()
        else:
            with sqlite3.connect(self.settings.data_dir / "keys.sqlite") as conn:
                rows = conn.execute(sql.format("subject_keys")).fetchall()
        return {UUID(str(s)): (int(v), bytes(w)) for s, v, w in rows}


@pytest.fixture(params=BACKENDS)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path / "data") as settings:
        yield Deployment(settings, tmp_path)


def record_client(record: CareRecord, name: str) -> tuple[UUID, UUID]:
    """A client with a name, and a trajectory whose question names them: two subjects."""
    client = record.register_client(
        context(), said(RegisterClient, context(), name=name, contact=f"{name}@post.example")
    ).id
    trajectory = record.refer(
        context(),
        said(
            Refer,
            context(),
            client_id=client,
            question=f"support at school for {name}",
            client_criteria=(f"{name} is 14",),
            referrer_engagement="weekly contact",
            sector=Sector.YOUTH_CARE,
            region="west-flanders",
        ),
    ).id
    return client, trajectory


def a_name() -> str:
    return f"Qzx{uuid4().hex}"


# --- never in clear ------------------------------------------------------------------------


def test_no_subject_key_is_in_clear_in_any_file_of_the_database_even_after_an_erasure(
    deployment: Deployment,
) -> None:
    mark = wal_mark(deployment.url) if deployment.is_postgres else None
    record = deployment.record()
    try:
        subjects = [s for _ in range(3) for s in record_client(record, a_name())]
        keys = [record.keys.key_for(s) for s in subjects]
        record.erase_client(
            context(), subjects[0], None, said(EraseClient, context(), legal_basis="gdpr_request")
        )
    finally:
        record.close()
    wrapped = [w for _, w in deployment.stored_keys().values()]
    files = (
        postgres_files(deployment.url, mark)
        if mark is not None
        else sqlite_files(deployment.settings.data_dir)
    )

    assert files_holding(files, [k for k in keys if k is not None]) == {}
    assert len(wrapped) == 4  # the erased client's two keys are gone
    assert files_holding(files, wrapped), "the search finds the keys as they are stored"


# --- rotation --------------------------------------------------------------------------------


def test_a_rotation_rewraps_every_key_under_the_new_version_and_reads_go_on(
    deployment: Deployment,
) -> None:
    record = deployment.record()
    names = {record_client(record, name)[0]: name for name in [a_name() for _ in range(4)]}
    try:
        report = deployment.rotation(record).run(datetime.now(UTC), force=True)
    finally:
        record.close()

    assert (report.rotated_to, report.rewrapped, report.retired) == (2, 8, [1])
    assert {version for version, _ in deployment.stored_keys().values()} == {2}
    fresh = deployment.record()  # another process: no key cached
    try:
        assert {c: fresh.client(c).personal.name for c in names} == names
    finally:
        fresh.close()


def test_a_rotation_that_crashed_halfway_loses_nothing_and_the_next_run_finishes_it(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = deployment.record()
    names = {record_client(record, name)[0]: name for name in [a_name() for _ in range(5)]}
    rotation = dataclasses.replace(deployment.rotation(record), batch=3)
    store = rotation.store
    batches = 0
    rewrap = store.rewrap_batch

    def crashing(*args: Any) -> int:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise OSError("the process was killed")
        return rewrap(*args)

    monkeypatch.setattr(store, "rewrap_batch", crashing)
    with pytest.raises(OSError, match="killed"):
        rotation.run(datetime.now(UTC), force=True)
    record.close()
    halfway = [version for version, _ in deployment.stored_keys().values()]

    assert sorted(halfway) == [1] * 7 + [2] * 3
    restarted = deployment.record()
    try:
        assert {c: restarted.client(c).personal.name for c in names} == names
        report = deployment.rotation(restarted).run(datetime.now(UTC))
        assert (report.rotated_to, report.rewrapped, report.retired) == (None, 7, [1])
        assert {version for version, _ in deployment.stored_keys().values()} == {2}
    finally:
        restarted.close()


# --- the backup window ------------------------------------------------------------------------


@dataclass
class Backup:
    """A copy of the database taken before a client was erased and the KEK rotated."""

    deployment: Deployment
    client: UUID
    name: str
    copy: Path
    rotation: KekRotation
    rotated_at: datetime

    def restore(self, url: str | None) -> Settings:
        """The copy as a deployment of its own, with the live deployment's KEK file."""
        kek = self.deployment.settings.kek.file
        if url is None:
            return settings_for(f"sqlite:///{self.copy / 'rodedraad.sqlite'}", self.copy, kek)
        pg_tool("pg_restore", "--no-owner", "-d", url.rsplit("/", 1)[1], str(self.copy))
        return settings_for(url, self.copy.parent / "restored", kek)


def take_copy(deployment: Deployment) -> Path:
    """SQLite: the data files (never the KEK); PostgreSQL: a ``pg_dump``."""
    if not deployment.is_postgres:
        copy = deployment.tmp_path / "copy"
        shutil.copytree(
            deployment.settings.data_dir, copy, ignore=shutil.ignore_patterns("kek.json*")
        )
        return copy
    dump = deployment.tmp_path / "backup.dump"
    pg_tool("pg_dump", "-Fc", "-f", str(dump), deployment.url.rsplit("/", 1)[1])
    return dump


def pg_tool(command: str, *args: str) -> None:
    """``pg_dump`` or ``pg_restore`` on the test server."""
    subprocess.run(  # noqa: S603 - fixed arguments, our own test databases
        [command, "-h", "127.0.0.1", "-U", "postgres", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def backup(deployment: Deployment) -> Iterator[Backup]:
    name = a_name()
    record = deployment.record()
    client, _ = record_client(record, name)
    record.close()  # SQLite: checkpointed, so the files are a whole copy
    copy = take_copy(deployment)
    record = deployment.record()
    try:
        record.erase_client(
            context(), client, None, said(EraseClient, context(), legal_basis="gdpr_request")
        )
        rotation = deployment.rotation(record)
        rotated_at = datetime.now(UTC)
        rotation.run(rotated_at, force=True)
        yield Backup(deployment, client, name, copy, rotation, rotated_at)
    finally:
        record.close()


@contextmanager
def restored(backup: Backup) -> Iterator[Settings]:
    if not backup.deployment.is_postgres:
        yield backup.restore(None)
        return
    with fresh_postgres_database() as url:
        yield backup.restore(url)


def test_a_backup_within_the_window_can_still_be_restored(backup: Backup) -> None:
    a_day_before_the_end = backup.rotated_at + backup.rotation.window - timedelta(days=1)

    report = backup.rotation.run(a_day_before_the_end)

    assert report.destroyed == []
    with restored(backup) as settings:
        record = build_care_record(settings)
        try:
            assert record.client(backup.client).personal.name == backup.name
        finally:
            record.close()


def test_a_backup_older_than_the_window_cannot_be_decrypted_and_says_why(backup: Backup) -> None:
    window_passed = backup.rotated_at + backup.rotation.window

    report = backup.rotation.run(window_passed)

    assert report.destroyed == [1]
    keyring = KeyringFile(backup.deployment.settings.kek.file).reload()
    with restored(backup) as settings:
        with pytest.raises(KekError) as refused:
            build_care_record(settings)
        copied = Deployment(settings, backup.deployment.tmp_path).stored_keys()
    assert refused.value.message.startswith(
        f"2 subject key(s) are wrapped under KEK version 1, destroyed {window_passed:%Y-%m-%d}"
    )
    assert "older than the backup window" in refused.value.message
    assert {version for version, _ in copied.values()} == {1}
    assert keyring.get(1) == KekVersion(1, key=None, created_at=None, destroyed_at=window_passed)
    for subject, (_, wrapped) in copied.items():  # no key left in the keyring opens them
        for kek in keyring.live:
            with pytest.raises(SealBroken):
                unwrap(kek, subject, wrapped)


# --- refusing to start -----------------------------------------------------------------------


def test_the_store_refuses_to_start_without_its_kek_file_and_says_what_to_do(
    deployment: Deployment,
) -> None:
    record = deployment.record()
    record_client(record, a_name())
    record.close()
    kek = deployment.settings.kek.file
    kek.rename(kek.with_name("kek-elsewhere.json"))

    with pytest.raises(KekError) as refused:
        deployment.record()

    message = refused.value.message
    assert "holds 2 subject keys wrapped under KEK version(s) 1" in message
    assert f"the KEK file {kek} does not exist: restore it from your escrow" in message
    assert not kek.exists(), "no new KEK is made for a store that has keys"


def test_a_kek_file_of_another_deployment_is_refused(deployment: Deployment) -> None:
    deployment.record().close()
    kek = deployment.settings.kek.file
    other = KeyringFile(deployment.tmp_path / "other-kek.json")
    other.create(datetime.now(UTC))
    shutil.copy(other.path, kek)

    with pytest.raises(KekError, match=r"is not this database's: its version 1 differs"):
        deployment.record()


def test_keys_status_says_what_is_wrong_and_exits_1(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record = deployment.record()
    record_client(record, a_name())
    record.close()
    deployment.settings.kek.file.unlink()
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(deployment.settings.data_dir))
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", deployment.url)

    assert cli.main(["keys", "status"]) == 1

    assert f"the KEK file {deployment.settings.kek.file} does not exist" in capsys.readouterr().err


def test_keys_status_warns_of_a_kek_file_inside_the_data_directory(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review of #10 (S4): the default puts the KEK where the data's backups go."""
    deployment.record().close()
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(deployment.settings.data_dir))
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", deployment.url)

    assert cli.main(["keys", "status"]) == 0

    assert "warning: the KEK file" in capsys.readouterr().out


def test_keys_status_says_nothing_of_a_kek_file_kept_apart_from_the_data(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    apart = deployment.tmp_path / "escrowed" / "kek.json"
    apart.parent.mkdir()
    settings = dataclasses.replace(
        deployment.settings, kek=dataclasses.replace(deployment.settings.kek, file=apart)
    )
    build_care_record(settings).close()
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RODEDRAAD_DATABASE_URL", deployment.url)
    monkeypatch.setenv("RODEDRAAD_KEK_FILE", str(apart))

    assert cli.main(["keys", "status"]) == 0

    assert "warning" not in capsys.readouterr().out


def test_every_start_warns_of_a_kek_file_inside_the_data_directory(
    deployment: Deployment,
) -> None:
    with structlog.testing.capture_logs() as logs:
        deployment.record().close()

    assert "KEK file inside the data directory" in [e["event"] for e in logs]


# --- stores from before envelope encryption ----------------------------------------------------


def test_keys_stored_in_clear_by_an_older_version_are_wrapped_by_a_migration_and_leave_no_trace(
    deployment: Deployment,
) -> None:
    subject, client, key = uuid4(), uuid4(), bytes(range(32))
    legacy_store(deployment, subject, client, key)
    said: list[str] = []

    applied = migrate(stores_of(deployment.settings), say=said.append)

    assert "keys/0002_wrap_plaintext_keys" in [a.label for a in applied]
    assert "keys/0002_wrap_plaintext_keys: 1 of 1 subject keys wrapped under KEK version 1" in said
    store = build_key_store(deployment.settings)
    try:
        assert store.key_for(subject) == key
    finally:
        store.close()
    assert deployment.stored_keys()[subject][0] == 1
    files = (
        postgres_files(deployment.url, since=None)  # the WAL kept the old rows: see the README
        if deployment.is_postgres
        else sqlite_files(deployment.settings.data_dir)
    )
    assert files_holding(files, [key]) == {}
    assert files_holding(files, [deployment.stored_keys()[subject][1]])


def test_keys_in_clear_wait_for_a_usable_kek_file_and_are_wrapped_once_there_is_one(
    deployment: Deployment,
) -> None:
    """A failed migration is not recorded and runs again at the next start: the keys in clear
    are neither lost nor left behind (before migrations had names, the first start set the old
    table aside for good, and the keys were never wrapped)."""
    subject, client, key = uuid4(), uuid4(), bytes(range(32))
    legacy_store(deployment, subject, client, key)
    kek = deployment.settings.kek.file
    kek.parent.mkdir(parents=True, exist_ok=True)
    kek.write_text("not a keyring")

    with pytest.raises(KekError, match="cannot be read"):
        build_key_store(deployment.settings)

    assert "keys/0002_wrap_plaintext_keys" in [
        m.label for m in migration_status(stores_of(deployment.settings)).pending
    ]
    kek.unlink()  # the operator removes the broken file: this store has never had a KEK
    store = build_key_store(deployment.settings)
    try:
        assert store.key_for(subject) == key
    finally:
        store.close()


def legacy_store(deployment: Deployment, subject: UUID, client: UUID, key: bytes) -> None:
    """The key table as the versions before issue #10 created it, with one key in clear."""
    if deployment.is_postgres:
        with psycopg.connect(deployment.url) as conn:
            conn.execute(
                "CREATE TABLE rodedraad_subject_keys (subject UUID PRIMARY KEY, "
                "client UUID NOT NULL, key BYTEA NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX ix_rodedraad_subject_keys_client ON rodedraad_subject_keys (client)"
            )
            conn.execute(
                "INSERT INTO rodedraad_subject_keys VALUES (%s, %s, %s)", (subject, client, key)
            )
        return
    deployment.settings.data_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(deployment.settings.data_dir / "keys.sqlite") as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE subject_keys (subject TEXT PRIMARY KEY, client TEXT NOT NULL, "
            "key BLOB NOT NULL)"
        )
        conn.execute("CREATE INDEX ix_subject_keys_client ON subject_keys (client)")
        conn.execute("INSERT INTO subject_keys VALUES (?, ?, ?)", (str(subject), str(client), key))
    conn.close()


# --- the scheduler and the health check --------------------------------------------------------


def tick_as_leader(deployment: Deployment, scheduler: Any, record: CareRecord) -> None:
    """One tick of the background scheduler, leading, with the deployment's KEK rotation."""
    background = BackgroundDeadlines(
        scheduler,
        build_leader_lock(deployment.settings),
        interval=300,
        kek_rotation=deployment.rotation(record),
    )
    try:
        background.tick()
    finally:
        background.lock.release()


def test_the_scheduler_rotates_the_kek_when_it_is_due(deployment: Deployment) -> None:
    KeyringFile(deployment.settings.kek.file).create(datetime.now(UTC) - timedelta(days=91))
    record = deployment.record()
    names = {record_client(record, name)[0]: name for name in [a_name() for _ in range(2)]}
    policy = build_policy(deployment.settings)
    worker = build_projection_worker(deployment.settings, record, policy=policy)
    scheduler = build_deadline_scheduler(deployment.settings, record, policy, worker=worker)
    try:
        tick_as_leader(deployment, scheduler, record)
        assert {c: record.client(c).personal.name for c in names} == names
    finally:
        scheduler.database.close()
        worker.database.close()
        record.close()

    keyring = KeyringFile(deployment.settings.kek.file).reload()
    assert keyring.current.version == 2
    retired = keyring.get(1)
    assert retired is not None
    assert retired.retired_at is not None
    assert {version for version, _ in deployment.stored_keys().values()} == {2}


def test_the_scheduler_rotates_the_kek_even_when_its_deadline_run_fails(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of #10 (S5): a deadline run that keeps failing (here a domain error on one
    trajectory) must not stop the rotation, or only /health would notice, 90 days later."""
    KeyringFile(deployment.settings.kek.file).create(datetime.now(UTC) - timedelta(days=91))
    record = deployment.record()
    record_client(record, a_name())
    policy = build_policy(deployment.settings)
    scheduler = build_deadline_scheduler(deployment.settings, record, policy)

    def fails(now: datetime, **_: object) -> None:
        raise TransitionNotAllowed("cannot record a deadline on a closed trajectory")

    monkeypatch.setattr(scheduler, "run_once", fails)
    try:
        tick_as_leader(deployment, scheduler, record)
    finally:
        scheduler.database.close()
        record.close()

    assert KeyringFile(deployment.settings.kek.file).reload().current.version == 2


def test_health_says_when_a_retired_version_outlived_the_backup_window(
    deployment: Deployment,
) -> None:
    record = deployment.record()
    try:
        rotation = deployment.rotation(record)
        rotated_at = datetime.now(UTC)
        rotation.run(rotated_at, force=True)  # version 1 retired; nothing runs afterwards
        in_time = rotation.health_reason(rotated_at + rotation.window)
        overdue = rotation.health_reason(rotated_at + rotation.window + timedelta(days=2))
    finally:
        record.close()

    assert in_time is None
    assert overdue is not None
    assert overdue.startswith("retired KEK version(s) 1 should have been destroyed 35 days")
