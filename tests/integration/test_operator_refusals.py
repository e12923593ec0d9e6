"""An operator's command on a store that is not there, or cannot be used, says so in one line
and exits 2 (found by an outside walk of the commands: an empty store was made and reported on
as sound, and a damaged or mistaken store ended in a traceback)."""

from pathlib import Path
from uuid import uuid4

import pytest

from rodedraad import cli
from rodedraad.wiring import build_care_record, build_projection_worker
from tests.conftest import settings_for
from tests.integration.conftest import Rodedraad


def test_a_command_on_a_data_directory_that_is_not_there_reads_nothing(
    tmp_path: Path, rodedraad: Rodedraad
) -> None:
    nowhere = tmp_path / "mistyped"
    settings = settings_for(f"sqlite:///{nowhere / 'rodedraad.sqlite'}", nowhere)
    for command in (("backup", str(tmp_path / "backup"), "--unencrypted"), ("audit", "verify")):
        code, out, err = rodedraad(settings, *command)
        assert code == 2, (command, out, err)
        assert f"there is no event store at {nowhere / 'rodedraad.sqlite'}" in err
        assert not (nowhere / "rodedraad.sqlite").exists(), "no empty store is made to report on"


def test_a_trajectory_the_log_does_not_hold_is_not_reported_as_sound(
    tmp_path: Path, rodedraad: Rodedraad
) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)
    assert rodedraad(settings, "migrate")[0] == 0
    absent = uuid4()
    code, out, err = rodedraad(settings, "audit", "verify", "--trajectory", str(absent))
    assert code == 2, (out, err)
    assert f"the log holds no events of trajectory {absent}" in err
    assert "match the chain" not in out, "nothing is reported as checked"
    assert "read log" not in out


def test_a_damaged_store_file_is_said_in_a_line(tmp_path: Path, rodedraad: Rodedraad) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)
    assert rodedraad(settings, "migrate")[0] == 0
    store = tmp_path / "rodedraad.sqlite"
    store.write_bytes(b"this is not what it was" * 1000)
    code, _, err = rodedraad(settings, "audit", "verify")
    assert code == 2, err
    assert "an embedded store file is damaged" in err
    assert "Traceback" not in err


def test_a_data_directory_that_is_a_file_is_said_in_a_line(
    tmp_path: Path, rodedraad: Rodedraad
) -> None:
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data directory should be")
    settings = settings_for(f"sqlite:///{blocked / 'rodedraad.sqlite'}", blocked)
    code, _, err = rodedraad(settings, "keys", "status")
    assert code == 2, err
    assert "Check the path it names and who owns it" in err
    assert "Traceback" not in err


def test_the_rebuild_command_names_every_read_model_it_rebuilds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(The same walk: its help named two of six.)"""
    settings = settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)
    record = build_care_record(settings)
    worker = build_projection_worker(settings, record)
    try:
        names = [p.name for p in worker.projections]
    finally:
        worker.database.close()
        record.close()
    with pytest.raises(SystemExit):
        cli.main(["projections", "rebuild", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert [name for name in names if name not in said] == []


def test_a_backup_asked_both_encrypted_and_unencrypted_is_refused(
    tmp_path: Path, rodedraad: Rodedraad
) -> None:
    """Found by the outside walk of the commands: `backup DIR --to KEY --unencrypted` wrote an
    encrypted backup; the operator meant one of the two."""
    settings = settings_for(f"sqlite:///{tmp_path / 'rodedraad.sqlite'}", tmp_path)
    assert rodedraad(settings, "migrate")[0] == 0
    target = tmp_path / "backup"
    with pytest.raises(SystemExit) as refused:
        rodedraad(settings, "backup", str(target), "--to", str(tmp_path / "k.pub"), "--unencrypted")
    assert refused.value.code == 2
    assert "argument --unencrypted: not allowed with argument --to" in (
        rodedraad.capsys.readouterr().err
    )
    assert not target.exists()
