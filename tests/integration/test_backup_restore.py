"""Backup and restore lose nothing and never bring an erased person back (issue #21).

- A backup of the embedded store taken while a thread keeps recording commands (each under an
  idempotency key, as the API does) restores every command acknowledged before it began, a key
  for every client with events, and no torn state between the files: every stored answer's
  client is in the log, and a retry of an acknowledged command is answered as before.
- A client erased after a backup is erased again when that older backup is restored with the
  erasure ledger, before anything can answer a request: its wrapped keys and its name are in no
  restored file (SQLite) or in no dump of the restored database (PostgreSQL). A restore made
  with other tooling is caught at start-up.
- A restore into a non-empty directory, from a backup cut short or altered, or needing a
  destroyed KEK version, is refused and changes nothing.
"""

import os
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from api.idempotency import StoredAnswer, request_of
from application import backup as backup_module
from application.backup import read_manifest, restore_sqlite
from application.care_record import CareRecord
from application.commands import EraseClient
from application.erasure_ledger import ErasureLedgerError, ErasureLedgerFile
from application.kek import KeyringFile
from application.unavailable import NoConnection
from rodedraad import cli
from rodedraad.wiring import (
    Container,
    build_care_record,
    build_idempotency_store,
    stores_of,
)
from tests.integration import raw_files
from tests.integration.backups import (
    OFFICER,
    care_record_of,
    ctx,
    deployment,
    deployment_on,
    pg_dump_of,
    register,
    wrapped_keys,
)
from tests.integration.databases import BACKENDS, require_backend
from tests.support import said

#: A deployment that has erased no one has no erasure ledger file yet, and says so to restore.
NONE_YET = "--no-erasures-yet"


def operator_key(tmp_path: Path) -> tuple[Path, Path]:
    private = tmp_path / "operator-key"
    assert cli.main(["backup-key", str(private)]) == 0
    return private, private.with_name("operator-key.pub")


def clients_in_log(record: CareRecord) -> set[UUID]:
    found: set[UUID] = set()
    position = 0
    while page := record.recorder.select_notifications(
        start=position, limit=500, inclusive_of_start=False
    ):
        found |= {n.originator_id for n in page if n.topic.endswith("Client.Registered")}
        position = page[-1].id
    return found


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes: what "changes nothing" compares."""
    if not directory.exists():
        return {}
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# --- under write load ----------------------------------------------------------------------------


def test_a_backup_under_write_load_restores_every_acknowledged_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "apart"
    private, public = operator_key(tmp_path)
    backup = tmp_path / "backup"
    with deployment("sqlite", tmp_path / "live", shared, monkeypatch) as live:
        record = build_care_record(live)
        idempotency = build_idempotency_store(live)
        acknowledged: list[tuple[str, int, UUID]] = []
        stop = threading.Event()
        failures: list[BaseException] = []

        def keep_writing() -> None:
            number = 0
            try:
                while not stop.is_set():
                    key = f"key-{number}"
                    request = request_of("POST", "/clients", str(number).encode())
                    assert idempotency.reserve(key, request) is None
                    client = register(record, f"Client {number}")
                    idempotency.complete(key, StoredAnswer(201, str(client).encode(), None, None))
                    acknowledged.append((key, number, client))
                    number += 1
            except BaseException as e:  # noqa: BLE001 - handed to the test's thread
                failures.append(e)

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            while len(acknowledged) < 40 and writer.is_alive():
                time.sleep(0.01)
            before = list(acknowledged)
            assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
            during = len(acknowledged)
            time.sleep(0.2)
        finally:
            stop.set()
            writer.join()
            idempotency.close()
            record.close()
        assert not failures, failures
        assert len(acknowledged) > during >= len(before)  # the writes went on throughout

    manifest = read_manifest(backup)
    assert all((backup / f.name).stat().st_mode & 0o777 == 0o600 for f in manifest.files), (
        "backup files are private"
    )
    with deployment("sqlite", tmp_path / "restored", shared, monkeypatch) as restored:
        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 0
        record = build_care_record(restored)
        idempotency = build_idempotency_store(restored)
        try:
            assert record.recorder.max_notification_id() == manifest.log_position
            for key, number, client in before:  # acknowledged before the backup began
                assert record.client(client).personal.name == f"Client {number}"
                request = request_of("POST", "/clients", str(number).encode())
                assert idempotency.reserve(key, request) == StoredAnswer(
                    201, str(client).encode(), None, None
                ), "a retry is answered as before"
            in_log = clients_in_log(record)
            assert len(in_log) >= len(before)
            assert all(record.keys.key_for(c) is not None for c in in_log), "a key for each"
            answered = _answered_clients(stores_of(restored).files["idempotency"])
            assert answered <= in_log, "no stored answer for a command the log lacks"
            assert len(answered) >= len(before)
        finally:
            idempotency.close()
            record.close()


def _answered_clients(path: Path) -> set[UUID]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT body FROM idempotency_keys WHERE status IS NOT NULL")
        return {UUID(bytes(r[0]).decode()) for r in rows}


# --- erasure after the backup --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_client_erased_after_the_backup_stays_erased_after_a_restore(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "apart"
    private, public = operator_key(tmp_path)
    backup = tmp_path / "backup"
    name, contact = f"Zyx{uuid4().hex}", f"+32 4{uuid4().hex[:12]}"
    with deployment(backend, tmp_path / "live", shared, monkeypatch) as live:
        with care_record_of(live) as record:
            erased = register(record, name, contact)
            kept = register(record, "Kept Client")
            wrapped = wrapped_keys(live, erased)
            assert wrapped
            assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
            record.erase_client(
                ctx(OFFICER), erased, None, said(EraseClient, ctx(), legal_basis="gdpr_request")
            )
        assert [e.client for e in ErasureLedgerFile(live.erasure_ledger_file).entries()] == [erased]

    with deployment(backend, tmp_path / "restored", shared, monkeypatch) as restored:
        assert cli.main(["restore", str(backup), "--identity", str(private)]) == 0
        needles = [name.encode(), contact.encode(), *wrapped]
        if backend == "sqlite":
            found = raw_files.files_holding(raw_files.sqlite_files(restored.data_dir), needles)
        else:
            found = raw_files.files_holding(
                [pg_dump_of(restored.database.url, tmp_path / "restored.sql")], needles
            )
        assert found == {}, "the erased client's keys or data are readable after the restore"
        with care_record_of(restored) as record:
            assert record.keys.key_for(erased) is None
            assert record.client(erased).erased_at is not None
            assert record.client(kept).personal.name == "Kept Client"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restore_without_the_erasure_ledger_is_refused_and_an_erased_client_stays_erased(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found by an outside walk: with the ledger's setting mistyped (or the file not yet put
    back), a restore re-applied nothing and the erased client came back. Now the restore is
    refused, changing nothing; said to go on without a ledger while the backup shows an
    erasure (so the deployment had one), it stops after the files, and the service does not
    start until the ledger is back."""
    private, public = operator_key(tmp_path)
    backup = tmp_path / "backup"
    name = f"Zyx{uuid4().hex}"
    with (
        deployment(backend, tmp_path / "live", tmp_path / "apart", monkeypatch) as live,
        care_record_of(live) as record,
    ):
        before = register(record, "Erased before the backup")
        record.erase_client(
            ctx(OFFICER), before, None, said(EraseClient, ctx(), legal_basis="gdpr_request")
        )
        erased = register(record, name)
        assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
        record.erase_client(
            ctx(OFFICER), erased, None, said(EraseClient, ctx(), legal_basis="gdpr_request")
        )

    # The restore runs where the ledger is not: the KEK put back, the ledger forgotten.
    (tmp_path / "elsewhere").mkdir()
    shutil.copy2(tmp_path / "apart" / "kek.json", tmp_path / "elsewhere" / "kek.json")
    with deployment(backend, tmp_path / "restored", tmp_path / "elsewhere", monkeypatch) as there:
        target = snapshot(tmp_path / "restored")
        assert cli.main(["restore", str(backup), "--identity", str(private)]) == 2
        assert "erasure ledger" in capsys.readouterr().err
        assert snapshot(tmp_path / "restored") == target, "a refusal changes nothing"
        # A ledger path that is no file is refused before anything is written, flag or not.
        there.erasure_ledger_file.mkdir()
        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 2
        assert "cannot be read" in capsys.readouterr().err
        assert snapshot(tmp_path / "restored") == target, "a refusal changes nothing"
        there.erasure_ledger_file.rmdir()

        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 2
        said_then = capsys.readouterr().err
        assert "the backup is restored, but the rest could not be done" in said_then
        assert "does not exist, but this store has erased clients" in said_then
        with pytest.raises(ErasureLedgerError, match="before anything serves"):
            Container.build(there, inline_projections=True)
        with care_record_of(there) as record:
            assert record.client(erased).personal.name == name  # (not served: refused above)

        # With the setting pointing at the ledger, the start erases the client again.
        url = there.database.url
        with deployment_on(url, tmp_path / "restored", tmp_path / "apart", monkeypatch) as back:
            container = Container.build(back, inline_projections=True)
            try:
                assert container.care_record.client(erased).erased_at is not None
            finally:
                container.close()


def test_a_restore_by_other_tooling_is_erased_again_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files put back without ``rodedraad restore`` (no re-application by it): the service's
    start re-applies the ledger file before it can answer anything."""
    shared = tmp_path / "apart"
    backup = tmp_path / "backup"
    with (
        deployment("sqlite", tmp_path / "live", shared, monkeypatch) as live,
        care_record_of(live) as record,
    ):
        erased = register(record, f"Zyx{uuid4().hex}")
        assert cli.main(["backup", str(backup), "--unencrypted"]) == 0
        record.erase_client(
            ctx(OFFICER), erased, None, said(EraseClient, ctx(), legal_basis="retention_ended")
        )
    with deployment("sqlite", tmp_path / "restored", shared, monkeypatch) as restored:
        files = dict(stores_of(restored).files)
        restore_sqlite(backup, read_manifest(backup), None, files, restored.data_dir, set(), print)
        before = wrapped_keys(restored, erased)
        assert before, "the copy put back holds the erased client's keys"
        container = Container.build(restored, inline_projections=True)
        try:
            assert container.care_record.client(erased).erased_at is not None
            assert wrapped_keys(restored, erased) == []
        finally:
            container.close()


# --- refusals --------------------------------------------------------------------------------


@pytest.fixture
def a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An encrypted backup of a small embedded store, and the key it is for."""
    private, public = operator_key(tmp_path)
    backup = tmp_path / "backup"
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            register(record, "Someone")
        assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
    return backup, private


def _put_a_file_in_the_target(tmp_path: Path, backup: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "rodedraad.sqlite").write_bytes(b"a live record")


def _cut_short(tmp_path: Path, backup: Path) -> None:
    events = backup / "events.sqlite"
    os.truncate(events, events.stat().st_size // 2)


def _flip_a_byte(tmp_path: Path, backup: Path) -> None:
    keys = backup / "keys.sqlite"
    data = bytearray(keys.read_bytes())
    data[len(data) // 2] ^= 0xFF
    keys.write_bytes(bytes(data))


def _destroy_the_kek_version(tmp_path: Path, backup: Path) -> None:
    keyring = KeyringFile(tmp_path / "apart" / "kek.json")
    now = datetime.now(UTC)
    with keyring.locked():
        keyring.write(keyring.reload().with_new_version(now).destroying(1, now))


@pytest.mark.parametrize(
    ("damage", "said_why"),
    [
        (_put_a_file_in_the_target, "is not empty"),
        (_cut_short, "cut short"),
        (_flip_a_byte, "does not match its checksum"),
        (_destroy_the_kek_version, "KEK version 1, which was destroyed"),
    ],
    ids=["non-empty directory", "truncated", "wrong checksum", "destroyed KEK version"],
)
def test_a_restore_that_cannot_be_done_is_refused_and_changes_nothing(
    damage: Callable[[Path, Path], None],
    said_why: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    a_backup: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup, private = a_backup
    damage(tmp_path, backup)
    target = tmp_path / "target"
    with deployment("sqlite", target, tmp_path / "apart", monkeypatch):
        before = snapshot(target), snapshot(backup)
        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 2
        assert (snapshot(target), snapshot(backup)) == before, "a refusal changes nothing"
        assert not any(".restoring-" in p.name for p in tmp_path.iterdir())
    assert said_why in capsys.readouterr().err


def test_a_restore_that_loses_the_database_after_the_backup_went_in_says_what_is_left(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    a_backup: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Not "run the command again" (a second restore is refused: the database holds the
    backup now) but the steps left before serving."""
    backup, private = a_backup

    def lost(settings: object) -> int:
        raise NoConnection("no connection within 10 s")

    monkeypatch.setattr(cli, "_after_restore", lost)
    with deployment("sqlite", tmp_path / "target", tmp_path / "apart", monkeypatch):
        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 2
    err = capsys.readouterr().err
    assert "the backup is restored, but the database was lost before the rest" in err
    assert "NoConnection: no connection within 10 s" in err
    for step in ("erasures reapply", "projections rebuild all", "audit verify"):
        assert f"`rodedraad {step}`" in err


def test_a_write_ahead_log_left_beside_an_event_store_kept_elsewhere_refuses_the_restore(
    tmp_path: Path,
) -> None:
    """SQLite ties no write-ahead log to its database: one left where the event store is put
    back would be replayed into the restored store."""
    elsewhere = tmp_path / "events"
    elsewhere.mkdir()
    (elsewhere / "rodedraad.sqlite-wal").write_bytes(b"frames of another database")
    files = {"events": elsewhere / "rodedraad.sqlite"}
    with pytest.raises(backup_module.BackupRefused, match=r"rodedraad\.sqlite-wal"):
        backup_module._empty_data_dir(tmp_path / "data", files, set())


def test_a_backup_is_not_written_unencrypted_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch):
        assert cli.main(["backup", str(tmp_path / "backup")]) == 2
    assert "--unencrypted" in capsys.readouterr().err
    assert not (tmp_path / "backup").exists()


def test_a_backup_tells_how_far_it_is_on_a_large_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress is told per tenth of a large store's pages (here every store counts as large)."""
    monkeypatch.setattr(backup_module, "LARGE", 0)
    monkeypatch.setattr(backup_module, "PAGES_PER_STEP", 2)
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            for number in range(30):
                register(record, f"Client {number}")
        said_lines: list[str] = []
        files = dict(stores_of(live).files)
        backup_module.backup_sqlite(files, tmp_path / "backup", None, "test", said_lines.append)

    events = [line for line in said_lines if line.startswith("events: ")]
    assert "events: 100%" in " ".join(events)
    assert len([line for line in events if "% of" in line]) >= 3


@pytest.mark.postgres
def test_a_restore_into_a_database_that_holds_tables_is_refused_and_changes_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_backend(request, "postgres")
    private, public = operator_key(tmp_path)
    backup = tmp_path / "backup"
    with deployment("postgres", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            client = register(record, "Someone")
            assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
            register(record, "Someone later")
            head = record.recorder.max_notification_id()

        assert cli.main(["restore", str(backup), "--identity", str(private), NONE_YET]) == 2

        assert "a restore goes into an empty database" in capsys.readouterr().err
        with care_record_of(live) as record:
            assert record.recorder.max_notification_id() == head
            assert record.client(client).personal.name == "Someone"


def test_two_processes_starting_together_reapply_an_erasure_once_and_both_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several API processes start after a recovery: each re-applies the ledger; the one that
    comes second finds the erasure done and starts, and the log records it once."""
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        first, second = build_care_record(live), build_care_record(live)
        try:
            client = register(first, "Someone")
            assert second.erasure_state(client) == "present"
            moment = datetime.now(UTC)

            first.reapply_erasure(client, moment, "gdpr_request")
            second.reapply_erasure(client, moment, "gdpr_request")

            erasures = [e for e in first.events.get(client) if type(e).__name__ == "Erased"]
            assert len(erasures) == 1
            assert second.erasure_state(client) == "erased"
        finally:
            first.close()
            second.close()


def test_a_backup_is_checked_as_a_restore_would_check_it_writing_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    a_backup: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup, private = a_backup
    other, _ = operator_key(tmp_path / "other")
    with deployment("sqlite", tmp_path / "target", tmp_path / "apart", monkeypatch):
        before = snapshot(backup)
        assert cli.main(["backup-check", str(backup), "--identity", str(private)]) == 0
        assert "every file opened" in capsys.readouterr().out
        assert cli.main(["backup-check", str(backup), "--identity", str(other)]) == 2
        assert "give that key's private key" in capsys.readouterr().err
        assert snapshot(backup) == before
    assert not (tmp_path / "target").exists()
