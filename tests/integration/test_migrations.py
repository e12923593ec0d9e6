"""Migrations have a name (issue #11, point 8): each runs once per store, recorded there with
when it ran and which version ran it; ``rodedraad migrate`` runs and lists them; processes run
them at start, or wait for an operator; and no process starts on a store newer than its code.

Each test runs on a database of its own, on SQLite and on PostgreSQL (``own_settings``), except
where only the embedded layout of files is at stake.
"""

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from application.commands import RegisterClient
from application.migrations import (
    MIGRATIONS,
    SIMULATION_TABLE,
    STORES,
    MigrationsPending,
    StoreNewerThanCode,
    code_version,
    migrate,
    migration_status,
    open_store_databases,
)
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record, stores_of
from tests.conftest import settings_for
from tests.integration.conftest import Rodedraad
from tests.integration.databases import fresh_settings, require_backend
from tests.support import context, said

ALL = [m.label for m in MIGRATIONS]


def on_store(settings: Settings, store: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """One statement in one store's database (``?`` placeholders)."""
    with (
        open_store_databases(stores_of(settings), create=False, only=store) as databases,
        databases[store].transaction() as tx,
    ):
        tx.execute(sql, params)


def record_a_newer_migration(settings: Settings) -> None:
    """What a newer version of Rode Draad leaves in the store it migrated."""
    at = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    on_store(
        settings,
        "events",
        "INSERT INTO rodedraad_migrations (store, name, applied_at, applied_by) "
        "VALUES (?, ?, ?, ?)",
        (
            "events",
            "0003_hash_chain",
            at.isoformat() if not settings.database.is_postgres else at,
            "2.0.0",
        ),
    )


def embedded(tmp_path: Path) -> Settings:
    data_dir = tmp_path / "var"
    return settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)


# --- records ---------------------------------------------------------------------------------


def test_a_new_store_records_each_migration_with_when_it_ran_and_the_version_that_ran_it(
    own_settings: Settings,
) -> None:
    before = datetime.now(UTC)
    applied = migrate(stores_of(own_settings))
    after = datetime.now(UTC)

    assert [a.label for a in applied] == ALL
    status = migration_status(stores_of(own_settings))
    assert status.up_to_date
    assert [(a.label, a.applied_by) for a in status.applied] == [(m, code_version()) for m in ALL]
    assert all(before <= a.applied_at <= after for a in status.applied)


def test_each_embedded_store_records_its_migrations_in_its_own_file(tmp_path: Path) -> None:
    settings = embedded(tmp_path)
    migrate(stores_of(settings))

    for store, path in stores_of(settings).files.items():
        with sqlite3.connect(path) as conn:
            recorded = conn.execute("SELECT store, name FROM rodedraad_migrations").fetchall()
        conn.close()
        assert sorted(recorded) == [(m.store, m.name) for m in MIGRATIONS if m.store == store]


def test_a_store_made_before_migrations_had_names_gains_their_records_and_loses_nothing(
    own_settings: Settings,
) -> None:
    record = build_care_record(own_settings)
    client = record.register_client(
        context(), said(RegisterClient, context(), name="Mira Janssens")
    ).id
    head = record.recorder.max_notification_id()
    record.close()
    for store in STORES:  # as versions before left it
        on_store(own_settings, store, "DROP TABLE IF EXISTS rodedraad_migrations")
    on_store(own_settings, "events", f"DROP TABLE {SIMULATION_TABLE}")

    applied = migrate(stores_of(own_settings))

    assert [a.label for a in applied] == ALL
    record = build_care_record(own_settings)
    try:
        assert record.recorder.max_notification_id() == head
        assert record.client(client).personal.name == "Mira Janssens"
    finally:
        record.close()


# --- refusing to start -------------------------------------------------------------------------


def test_no_process_starts_on_a_store_migrated_by_a_newer_version(own_settings: Settings) -> None:
    migrate(stores_of(own_settings))
    record_a_newer_migration(own_settings)

    with pytest.raises(StoreNewerThanCode) as refused:
        build_care_record(own_settings)

    message = refused.value.message
    assert "migrated by a newer version of Rode Draad" in message
    assert "events/0003_hash_chain, applied 2027-03-01 08:30 UTC by rodedraad 2.0.0" in message
    assert "install that version of Rode Draad (or a newer one) and start again" in message


def test_serve_exits_2_naming_the_migration_it_does_not_know(
    rodedraad: Rodedraad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded(tmp_path)
    migrate(stores_of(settings))
    record_a_newer_migration(settings)
    served: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: served.append(args))

    code, _, err = rodedraad(settings, "serve")

    assert code == 2
    assert "events/0003_hash_chain" in err
    assert served == []


def test_without_migrating_at_start_processes_wait_for_an_operator_to_migrate(
    own_settings: Settings,
) -> None:
    settings = replace(own_settings, migrate_on_start=False)

    with pytest.raises(MigrationsPending) as refused:
        build_care_record(settings)

    assert f"need {len(ALL)} migration(s) that have not run: {', '.join(ALL)}" in (
        refused.value.message
    )
    assert "run `rodedraad migrate`" in refused.value.message
    assert migration_status(stores_of(settings)).applied == []
    migrate(stores_of(settings))
    build_care_record(settings).close()


# --- the command -------------------------------------------------------------------------------


def test_migrate_prints_what_it_runs_and_then_that_nothing_is_left(
    rodedraad: Rodedraad, own_settings: Settings
) -> None:
    code, out, _ = rodedraad(own_settings, "migrate")

    assert code == 0
    for migration in MIGRATIONS:
        assert f"{migration.label}: {migration.why}\n" in out
        assert f"{migration.label}: done in " in out
    assert f"{len(ALL)} migration(s) applied; the stores are up to date" in out
    code, out, _ = rodedraad(own_settings, "migrate")
    assert (code, out) == (0, "nothing to migrate: the stores are up to date\n")


def test_migrate_status_lists_applied_and_pending_and_exits_1_while_one_is_pending(
    rodedraad: Rodedraad, own_settings: Settings
) -> None:
    migrate(stores_of(own_settings))
    on_store(
        own_settings,
        "keys",
        "DELETE FROM rodedraad_migrations WHERE store = ? AND name = ?",
        ("keys", "0002_wrap_plaintext_keys"),
    )

    code, out, _ = rodedraad(own_settings, "migrate", "--status")

    assert code == 1
    assert "\nkeys (" in out
    assert f"  applied  {'0001_baseline':<28} 20" in out
    assert " UTC by rodedraad " in out
    assert f"  pending  {'0002_wrap_plaintext_keys':<28} Keys stored in clear" in out
    rodedraad(own_settings, "migrate")
    code, out, _ = rodedraad(own_settings, "migrate", "--status")
    assert code == 0
    assert "pending" not in out


def test_migrate_status_on_a_store_not_made_yet_creates_nothing(
    rodedraad: Rodedraad, tmp_path: Path
) -> None:
    settings = embedded(tmp_path)

    code, out, _ = rodedraad(settings, "migrate", "--status")

    assert code == 1
    assert out.count("  pending  ") == len(ALL)
    assert not settings.data_dir.exists()


KEY_STORE_TABLES = (
    "rodedraad_subject_keys",
    "rodedraad_kek_fingerprints",
    "rodedraad_erased_subjects",
)


@pytest.mark.postgres
def test_the_keys_of_a_postgresql_store_move_into_their_own_schema_and_still_open(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue #21: a store the version before left (key tables in ``public``, ``keys/0004`` not
    run) has them moved into ``rodedraad_keys``; its clients' data still reads."""
    require_backend(request, "postgres")
    with fresh_settings("postgres", tmp_path) as settings:
        record = build_care_record(settings)
        client = record.register_client(context(), said(RegisterClient, context(), name="Mira")).id
        record.close()
        for table in KEY_STORE_TABLES:
            on_store(settings, "keys", f"ALTER TABLE rodedraad_keys.{table} SET SCHEMA public")
        on_store(
            settings,
            "keys",
            "DELETE FROM rodedraad_migrations WHERE name = ?",
            ("0004_own_schema",),
        )

        applied = migrate(stores_of(settings))

        assert [a.label for a in applied] == ["keys/0004_own_schema"]
        with (
            open_store_databases(stores_of(settings), create=False, only="keys") as databases,
            databases["keys"].transaction() as tx,
        ):
            placed = tx.fetchall(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = ANY(?)",
                (list(KEY_STORE_TABLES),),
            )
        assert [schema for (schema,) in placed] == ["rodedraad_keys"] * 3
        record = build_care_record(settings)
        try:
            assert record.client(client).personal.name == "Mira"
        finally:
            record.close()
