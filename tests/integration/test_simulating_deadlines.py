"""Simulating deadlines (issue #11, point 9): the scheduler records at a moment in the future
only in a copy made for simulation, never in the live record; the copy has a KEK of its own,
and its scheduler runs only when asked.

The live store is SQLite or PostgreSQL (``own_settings``); a copy is always an embedded store
in a directory of its own.
"""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from application.commands import RegisterClient
from application.kek import KeyringFile
from application.simulation import SimulationError, copy_for_simulation
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_care_record, is_simulation, stores_of
from tests.integration.conftest import Rodedraad
from tests.integration.raw_files import files_holding, sqlite_files
from tests.integration.scheduler_support import Care, deadline_events
from tests.support import context, said


@pytest.fixture
def live(own_settings: Settings) -> Settings:
    """A live record with one trajectory accepted in 2023 and left without a consultation."""
    record = build_care_record(own_settings)
    try:
        Care(record).start("sam", "2023-01-16")
    finally:
        record.close()
    return own_settings


@pytest.fixture
def copied(rodedraad: Rodedraad, live: Settings, tmp_path: Path) -> Settings:
    """``rodedraad simulate copy`` of the live record: the copy's settings."""
    directory = tmp_path / "simulation"
    code, out, err = rodedraad(live, "simulate", "copy", str(directory))
    assert code == 0, err
    assert f"export RODEDRAAD_DATA_DIR={directory} " in out
    return live.simulation_copy(directory)


def in_a_year() -> str:
    return (datetime.now(UTC) + timedelta(days=365)).isoformat()


def test_a_copy_records_at_a_future_moment_while_the_live_record_stays_as_it_was(
    rodedraad: Rodedraad, live: Settings, copied: Settings
) -> None:
    record = build_care_record(live)
    head = record.recorder.max_notification_id()
    record.close()

    code, out, err = rodedraad(copied, "scheduler", "run-once", "--now", in_a_year())

    assert code == 0, err
    report = json.loads(out)
    assert report["fired"]
    assert all(f["recorded"] for f in report["fired"])
    simulated, record = build_care_record(copied), build_care_record(live)
    try:
        assert len(deadline_events(simulated)) == len(report["fired"])
        assert record.recorder.max_notification_id() == head
        assert deadline_events(record) == []
    finally:
        simulated.close()
        record.close()


def test_a_copy_opens_its_personal_data_with_a_kek_of_its_own_never_the_live_one(
    rodedraad: Rodedraad, live: Settings, tmp_path: Path
) -> None:
    record = build_care_record(live)
    client = record.register_client(
        context(), said(RegisterClient, context(), name="Mira Janssens")
    ).id
    record.close()
    directory = tmp_path / "simulation"

    code, _, err = rodedraad(live, "simulate", "copy", str(directory))

    assert code == 0, err
    copy = live.simulation_copy(directory)
    simulated = build_care_record(copy)
    try:
        assert simulated.client(client).personal.name == "Mira Janssens"
    finally:
        simulated.close()
    live_kek = KeyringFile(live.kek.file).reload().current
    assert KeyringFile(copy.kek.file).reload().current.fingerprint != live_kek.fingerprint
    assert live_kek.key is not None
    secret = [live_kek.key, base64.b64encode(live_kek.key)]
    assert files_holding(sqlite_files(directory), secret) == {}


def test_the_embedded_server_on_a_copy_leaves_its_scheduler_to_whoever_asks(
    copied: Settings,
) -> None:
    assert is_simulation(copied)
    container = Container.build(copied)
    try:
        container.start_scheduler()  # as `serve` does
        assert container.background_scheduler is None
    finally:
        container.close()
    record = build_care_record(copied)
    try:
        assert deadline_events(record) == []
    finally:
        record.close()


def test_scheduler_run_refuses_a_copy_it_would_run_at_the_real_date(
    rodedraad: Rodedraad, copied: Settings
) -> None:
    code, _, err = rodedraad(copied, "scheduler", "run")

    assert code == 2
    assert "this store is a simulation copy" in err
    assert "rodedraad scheduler run-once --now" in err


def test_a_copy_goes_into_a_new_empty_directory_only(
    rodedraad: Rodedraad, live: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "taken"
    directory.mkdir()
    (directory / "notes.txt").write_text("someone's notes")

    code, _, err = rodedraad(live, "simulate", "copy", str(directory))

    assert code == 2
    assert f"{directory} is not empty" in err
    assert [p.name for p in directory.iterdir()] == ["notes.txt"]


def test_a_live_record_cannot_be_made_a_simulation(live: Settings) -> None:
    source, target = build_care_record(live), build_care_record(live)
    try:
        with pytest.raises(SimulationError, match="already holds events"):
            copy_for_simulation(source, target, stores_of(live))
    finally:
        source.close()
        target.close()
    assert not is_simulation(live)
