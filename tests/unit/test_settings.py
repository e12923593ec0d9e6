"""Settings come from RODEDRAAD_* variables, fail fast, and env.example lists them all."""

import re
from pathlib import Path

import pytest

from rodedraad.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedded_default_is_a_sqlite_file_under_the_data_dir() -> None:
    settings = Settings.from_env({})
    assert not settings.database.is_postgres
    assert settings.database.sqlite_path == Path("var/rodedraad.sqlite")
    env = settings.database.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "application.commit_times:RodeDraadSQLiteFactory"
    assert env["SQLITE_DBNAME"] == "var/rodedraad.sqlite"
    assert env["AGGREGATE_CACHE_MAXSIZE"] == "2000"


def test_the_aggregate_cache_size_is_a_setting() -> None:
    settings = Settings.from_env({"RODEDRAAD_AGGREGATE_CACHE_SIZE": "300"})
    assert settings.database.eventsourcing_env()["AGGREGATE_CACHE_MAXSIZE"] == "300"


def test_one_setting_chooses_postgresql() -> None:
    settings = Settings.from_env(
        {"RODEDRAAD_DATABASE_URL": "postgresql://care:s%40cret@db.local:6543/records"}
    )
    env = settings.database.eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "application.pg_recorder:RodeDraadPostgresFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.local", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("care", "s@cret")
    assert env["POSTGRES_DBNAME"] == "records"


def test_metrics_have_no_listener_unless_given_an_address_of_their_own() -> None:
    assert Settings.from_env({}).metrics_address is None
    given = Settings.from_env({"RODEDRAAD_METRICS_ADDRESS": "[::1]:9100"}).metrics_address
    assert given == ("::1", 9100)


def test_processes_migrate_at_start_unless_told_not_to() -> None:
    assert Settings.from_env({}).migrate_on_start
    assert not Settings.from_env({"RODEDRAAD_MIGRATE_ON_START": "false"}).migrate_on_start


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RODEDRAAD_PORT", "eighty", "whole number"),
        ("RODEDRAAD_PORT", "-1", "positive"),
        ("RODEDRAAD_DATABASE_URL", "mysql://x", "sqlite:/// or postgresql://"),
        ("RODEDRAAD_LOG_FORMAT", "xml", "one of"),
        ("RODEDRAAD_MIGRATE_ON_START", "sometimes", "one of true, false"),
        ("RODEDRAAD_JWT_JWKS_URL", "https://issuer/jwks", "RODEDRAAD_JWT_ISSUER"),
        ("RODEDRAAD_METRICS_ADDRESS", "9100", "host:port"),
        ("RODEDRAAD_READ_DATABASE_URL", "postgresql://standby/db", "must be PostgreSQL too"),
        ("RODEDRAAD_METRICS_ADDRESS", "0.0.0.0:8000", "not use the API's port"),
        ("RODEDRAAD_JURISDICTION", "FR", "one of be, nl"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        Settings.from_env({name: value})
    assert "RODEDRAAD_" in str(refused.value)


def test_the_statistics_audit_holds_the_laws_unless_told_not_to() -> None:
    assert Settings.from_env({}).statistics.laws
    assert not Settings.from_env({"RODEDRAAD_STATISTICS_LAWS": "false"}).statistics.laws
    assert Settings.from_env({"RODEDRAAD_STATISTICS_LAWS": "true"}).statistics.laws
    with pytest.raises(SettingsError, match="RODEDRAAD_STATISTICS_LAWS"):
        Settings.from_env({"RODEDRAAD_STATISTICS_LAWS": "yes"})


def test_statistics_are_released_on_years_unless_the_deployment_says_quarters() -> None:
    assert Settings.from_env({}).statistics.grid == "years"
    assert Settings.from_env({"RODEDRAAD_STATISTICS_GRID": "Quarters"}).statistics.grid == (
        "quarters"
    )
    with pytest.raises(SettingsError, match="RODEDRAAD_STATISTICS_GRID must be one of quarters"):
        Settings.from_env({"RODEDRAAD_STATISTICS_GRID": "both"})


def test_a_release_audits_one_region_per_core_unless_told_how_many_at_once() -> None:
    assert Settings.from_env({}).statistics.audit_processes is None
    told = Settings.from_env({"RODEDRAAD_STATISTICS_AUDIT_PROCESSES": "1"})
    assert told.statistics.audit_processes == 1
    for bad in ("0", "two"):
        with pytest.raises(SettingsError, match="RODEDRAAD_STATISTICS_AUDIT_PROCESSES must be"):
            Settings.from_env({"RODEDRAAD_STATISTICS_AUDIT_PROCESSES": bad})


def test_the_minors_rules_are_belgian_unless_the_deployment_says_dutch() -> None:
    assert Settings.from_env({}).person.jurisdiction == "BE"
    assert Settings.from_env({"RODEDRAAD_JURISDICTION": "nl"}).person.jurisdiction == "NL"


def test_env_example_lists_every_variable_the_settings_read() -> None:
    source = (ROOT / "src/rodedraad/settings.py").read_text()
    read = set(re.findall(r'(?:get|optional|integer|choice|flag)\(\s*"([A-Z_]+)"', source))
    listed = set(re.findall(r"^RODEDRAAD_([A-Z_]+)=", (ROOT / "env.example").read_text(), re.M))
    assert read, "found no settings in settings.py"
    assert read == listed
