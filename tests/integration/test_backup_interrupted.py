"""A backup cut short leaves no clear copy of the record among the backups; a backup made from a
damaged store is refused before it is restored (found by an outside probe).

- ``rodedraad backup --to KEY`` killed (SIGKILL) or stopped (SIGTERM) while it copied left
  ``DIR/.copying-XXXX/events.sqlite``, a plain SQLite copy of the event store, in the backup
  directory; ``backup-check`` said only that the directory held no manifest. The plain working
  copy is now made in the data directory (which holds the same data), SIGTERM removes it, the
  next backup or process start removes one a killed backup left, and ``backup-check`` warns of
  a plain store in a backup directory.
- A restore of a backup taken from a store whose event was altered (its checksums match) put
  the files in place, then died with a traceback on the event, half restored. It is refused
  now, before anything is put in place.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from application import backup as backup_module
from rodedraad import cli
from rodedraad.wiring import migrate_at_start, stores_of
from tests.integration.backups import care_record_of, deployment, register

NONE_YET = "--no-erasures-yet"
SQLITE_HEADER = b"SQLite format 3\x00"


def operator_key(tmp_path: Path) -> tuple[Path, Path]:
    private = tmp_path / "operator-key"
    assert cli.main(["backup-key", str(private)]) == 0
    return private, private.with_name("operator-key.pub")


def plain_stores(directory: Path) -> list[Path]:
    """Every file under ``directory`` that is a clear SQLite database, or a working copy (one
    being written may not have its header yet, but holds the record's pages in clear)."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                if handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER or "copying-" in str(path):
                    found.append(path)
    return found


def working_copies(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{backup_module.WORKING_PREFIX}*"))


# --- where the plain copy is made, and what is left of it ---------------------------------------


def test_a_backup_makes_its_plain_copies_in_the_data_directory_not_in_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, public = operator_key(tmp_path)
    made: list[Path] = []
    copy = backup_module._online_copy

    def watched(source: sqlite3.Connection, target: Path, *rest: object) -> None:
        made.append(target)
        copy(source, target, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(backup_module, "_online_copy", watched)
    data_dir, backup = tmp_path / "live", tmp_path / "backup"
    with deployment("sqlite", data_dir, tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            register(record, "Someone")
        assert cli.main(["backup", str(backup), "--to", str(public)]) == 0

    assert len(made) == 6
    for plain in made:
        assert plain.is_relative_to(data_dir), plain
        assert not plain.is_relative_to(backup), plain
    assert not plain_stores(backup), "an encrypted backup holds no clear store"
    assert not working_copies(data_dir), "the working copies are gone once it is done"


def test_the_working_copy_a_killed_backup_left_is_removed_by_the_next_backup_and_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, public = operator_key(tmp_path)
    data_dir = tmp_path / "live"

    def left_by_a_killed_backup() -> Path:
        stale = data_dir / f"{backup_module.WORKING_PREFIX}killed"
        stale.mkdir(mode=0o700)
        with sqlite3.connect(stale / "events.sqlite") as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        return stale

    with deployment("sqlite", data_dir, tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            register(record, "Someone")
        stale = left_by_a_killed_backup()
        assert cli.main(["backup", str(tmp_path / "backup"), "--to", str(public)]) == 0
        assert not stale.exists(), "the next backup removes it"

        stale = left_by_a_killed_backup()
        migrate_at_start(live)  # what every process that opens the stores does first
        assert not stale.exists(), "the next start of a process removes it"

        stale = left_by_a_killed_backup()
        said: list[str] = []
        files = dict(stores_of(live).files)
        backup_module.backup_sqlite(files, tmp_path / "again", None, "test", said.append)
        assert not stale.exists(), "a backup removes it itself, beside the event store"
        assert f"removed the working copy of a backup that did not finish: {stale}" in said


def test_the_working_copy_of_a_backup_running_now_is_kept(tmp_path: Path) -> None:
    with backup_module._working_directory(tmp_path) as work:
        (work / "events.sqlite").write_bytes(SQLITE_HEADER)
        assert backup_module.remove_stale_working_copies(tmp_path) == []
        assert (work / "events.sqlite").exists()
    assert not work.exists()


def test_backup_check_warns_of_a_clear_store_left_in_a_backup_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a backup killed by an earlier version left: its working copy, no manifest."""
    backup = tmp_path / "backup"
    (backup / ".copying-3k2j1x").mkdir(parents=True)
    with sqlite3.connect(backup / ".copying-3k2j1x" / "events.sqlite") as conn:
        conn.execute("CREATE TABLE stored_events (x)")
    conn.close()
    # (one being written when it was killed may have no SQLite header yet: pages in clear)
    (backup / ".copying-3k2j1x" / "keys.sqlite").write_bytes(bytes(100) + b"client keys")
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch):
        assert cli.main(["backup-check", str(backup)]) == 2
    err = capsys.readouterr().err
    assert "UNENCRYPTED copy (whole or in part) of a store" in err
    assert str(backup / ".copying-3k2j1x" / "events.sqlite") in err
    assert str(backup / ".copying-3k2j1x" / "keys.sqlite") in err
    assert "Delete it now" in err


def test_backup_check_takes_a_finished_unencrypted_backup_for_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup"
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            register(record, "Someone")
        assert cli.main(["backup", str(backup), "--unencrypted"]) == 0
        assert cli.main(["backup-check", str(backup)]) == 0
    assert "UNENCRYPTED" not in capsys.readouterr().err


# --- a real process, stopped while it copies ------------------------------------------------------


def _a_store_that_takes_a_while(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded deployment whose event store is large enough (48 MB) for a backup to take a
    few hundred milliseconds; its data directory."""
    data_dir = tmp_path / "live"
    with (
        deployment("sqlite", data_dir, tmp_path / "apart", monkeypatch) as live,
        care_record_of(live) as record,
    ):
        register(record, "Someone")
    with sqlite3.connect(data_dir / "rodedraad.sqlite") as conn:
        conn.execute("CREATE TABLE ballast (b BLOB)")
        conn.executemany(
            "INSERT INTO ballast VALUES (?)", ((os.urandom(1 << 20),) for _ in range(48))
        )
    conn.close()
    return data_dir


def _stopped_while_copying(
    tmp_path: Path, data_dir: Path, public: Path, how: signal.Signals
) -> tuple[int, str]:
    """``rodedraad backup`` in a process of its own, sent ``how`` as soon as a working copy of
    a store is there (where this version or the one before made it); its exit status."""
    backup = tmp_path / "backup"
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "rodedraad.cli", "backup", str(backup), "--to", str(public)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            places = [data_dir, backup]
            copying = [
                p
                for place in places
                if place.is_dir()
                for p in place.glob(".*copying-*/*.sqlite")
                if p.stat().st_size > 0
            ]
            if copying:
                process.send_signal(how)
                break
            time.sleep(0.002)
        else:
            pytest.fail("the backup ended (or never began) before a working copy was seen")
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err.decode(errors="replace")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_backup_stopped_while_it_copies_leaves_no_clear_store_in_the_backup_directory(
    how: signal.Signals,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, public = operator_key(tmp_path)
    data_dir = _a_store_that_takes_a_while(tmp_path, monkeypatch)

    code, err = _stopped_while_copying(tmp_path, data_dir, public, how)

    backup = tmp_path / "backup"
    assert not plain_stores(backup), "no clear copy of the record among the backups"
    if how == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM, err
        assert "the backup was stopped before it finished" in err
        assert "Traceback" not in err
        assert not working_copies(data_dir), "SIGTERM removes the working copy"
    else:
        assert code == -signal.SIGKILL
        assert working_copies(data_dir), "SIGKILL leaves it, in the data directory"
        with deployment("sqlite", data_dir, tmp_path / "apart", monkeypatch) as live:
            migrate_at_start(live)
        assert not working_copies(data_dir), "the next start removes what SIGKILL left"
    capsys.readouterr()
    assert cli.main(["backup-check", str(backup)]) == 2
    err = capsys.readouterr().err
    assert "holds no manifest.json" in err
    assert "UNENCRYPTED" not in err


# --- a backup of a store with an altered event ----------------------------------------------------

_MOMENT_IN_JSON = re.compile(rb'"timestamp":"[0-9]{4}-')


def _alter_an_event(events_file: Path) -> int:
    """A byte of the second event's moment turned into one no date has (as a flipped bit on
    disk would); the event's log position."""
    with sqlite3.connect(events_file) as conn:
        rows = conn.execute(
            "SELECT rowid, state FROM stored_events ORDER BY rowid LIMIT 1 OFFSET 1"
        )
        for position, state in rows:
            found = _MOMENT_IN_JSON.search(state)
            if found:
                altered = bytearray(state)
                altered[found.end() - 3] = ord("z")
                conn.execute(
                    "UPDATE stored_events SET state = ? WHERE rowid = ?",
                    (bytes(altered), position),
                )
                break
        else:
            raise AssertionError("no event holds a moment to alter")
    conn.close()
    return int(position)


def test_a_backup_of_a_store_with_an_altered_event_is_refused_before_anything_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = operator_key(tmp_path)
    backup, target = tmp_path / "backup", tmp_path / "target"
    with deployment("sqlite", tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
        with care_record_of(live) as record:
            for number in range(3):
                register(record, f"Client {number}")
        position = _alter_an_event(live.database.sqlite_path)
        assert cli.main(["backup", str(backup), "--to", str(public)]) == 0
    capsys.readouterr()

    with deployment("sqlite", target, tmp_path / "apart", monkeypatch):
        code = cli.main(["restore", str(backup), "--identity", str(private), NONE_YET])

    assert code == 2
    err = capsys.readouterr().err
    assert f"the event at log position {position:,} in the backup does not decode" in err
    assert "Restore another backup" in err
    assert "nothing was restored" in err
    assert not target.exists() or not any(target.iterdir()), "nothing is put in place"
    assert not any(".restoring-" in p.name for p in tmp_path.iterdir())
