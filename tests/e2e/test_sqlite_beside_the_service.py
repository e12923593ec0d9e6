"""A command line beside the embedded service leaves the service's SQLite files working.

The README has the reader run ``rodedraad statistics release`` and ``rodedraad learning-networks
release-batches`` while ``rodedraad serve`` runs on the same files. SQLite's locks are POSIX
record locks, dropped for a whole process when any descriptor of the file is closed in it; the
service once opened and closed its own database files again while they were open (a second store
on one file) and so gave up its locks. A command line that ended afterwards then took itself to
be the file's last user, checkpointed and deleted the write-ahead log the service still used,
and what the service wrote after that went to a deleted file: events lost, read models stuck.
These tests open every file from another process, as a command line does, and then check that
the service's writes still reach the files everyone else reads.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.conftest import settings_for
from tests.e2e.conftest import token_factory
from tests.e2e.steps import bearer

#: What a command line does to the files before it ends: open each one, read, close.
OPEN_AND_CLOSE = """
import json, sqlite3, sys
for name in json.loads(sys.argv[1]):
    connection = sqlite3.connect(name, timeout=30)
    connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    connection.close()
"""

#: A reader in a process of its own: the events in the log and the read models' positions.
COUNT = """
import json, sqlite3, sys
events = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM stored_events").fetchone()
positions = dict(sqlite3.connect(sys.argv[2]).execute("SELECT name, position FROM rm_tracking"))
print(json.dumps([events[0], positions]))
"""


#: Opens of a database file (or its companions) made outside SQLite while ``watching`` (an
#: audit hook: ``open()``, ``os.open``, ``Path.read_bytes`` and ``shutil`` raise the ``open``
#: event, SQLite's own opens do not). Installed once: audit hooks cannot be removed.
DATABASE_FILES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")
watching: list[list[str]] = []


def _watch(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and watching and isinstance(args[0], str | bytes | os.PathLike):
        name = os.fsdecode(args[0])
        if name.endswith(DATABASE_FILES) and os.path.exists(name):
            watching[-1].append(name)


sys.addaudithook(_watch)


def another_process(script: str, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, this test's script
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_command_line_beside_the_service_keeps_what_the_service_writes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    settings = settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
    assert settings.embedded_workers
    opened: list[str] = []
    watching.append(opened)
    container = Container.build(settings)
    auth = bearer(token_factory(settings)())

    def register(name: str, key: str) -> None:
        answer = http.post(
            "/v1/clients",
            json={"occurred_at": "2026-01-05T10:00:00Z", "name": name},
            headers={**auth, "Idempotency-Key": key},
        )
        assert answer.status_code == 201, answer.text
        container.worker.catch_up()

    try:
        with TestClient(app=container.http_app()) as http:  # the scheduler started too
            register("Mira Janssens", "first")
            databases = sorted(str(p) for p in data_dir.glob("*.sqlite"))
            in_use = {Path(p).name for p in databases if Path(p + "-wal").exists()}
            assert {"rodedraad.sqlite", "readmodels.sqlite"} <= in_use

            another_process(OPEN_AND_CLOSE, json.dumps(databases))

            # The service still holds its files: no write-ahead log was taken from under it.
            assert {p.name.removesuffix("-wal") for p in data_dir.glob("*.sqlite-wal")} >= in_use
            register("Noor Peeters", "second")
            events, positions = json.loads(
                another_process(
                    COUNT, str(data_dir / "rodedraad.sqlite"), str(data_dir / "readmodels.sqlite")
                )
            )
            assert events == 2  # both registrations, as another process reads the log
            assert set(positions.values()) == {2}, positions  # and the read models
    finally:
        container.close()
        watching.remove(opened)
    # The cause itself, whatever the timing: the service opened no database file of its own
    # outside SQLite, from its start to its stop.
    assert opened == []
