"""Builds the application objects from one ``Settings``; the tests use the same factory."""

from application.care_record import CareRecord
from rodedraad.settings import Settings


def build_care_record(settings: Settings) -> CareRecord:
    """The write side on the configured database, creating the SQLite file on first start."""
    if not settings.database.is_postgres:
        settings.database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return CareRecord(env=settings.database.eventsourcing_env())
