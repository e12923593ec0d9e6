"""The embedded service's files are its user's alone (issue #10, point 8): the data directory
is 0700 and every file in it 0600, from the event store to the scheduler's and the migrations'
locks, including the SQLite write-ahead logs; a directory left open by an older version is
tightened."""

import stat
from pathlib import Path

from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.conftest import settings_for
from tests.e2e.conftest import token_factory
from tests.e2e.steps import bearer

EXPECTED = {
    "rodedraad.sqlite",  # events and snapshots
    "readmodels.sqlite",
    "access-log.sqlite",
    "idempotency.sqlite",
    "keys.sqlite",
    "jwt-secret",
    "kek.json",
    "kek.json.lock",
    "scheduler.lock",
    "migrations.lock",
}


def modes(data_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(data_dir)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in [data_dir, *sorted(data_dir.rglob("*"))]
    }


def serve_and_write(data_dir: Path) -> None:
    """The embedded service as ``rodedraad serve`` runs it: API, projections and scheduler."""
    settings = settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
    assert settings.embedded_workers
    container = Container.build(settings)
    auth = bearer(token_factory(settings)())
    try:
        with TestClient(app=container.http_app()) as http:
            client = http.post(
                "/v1/clients",
                json={"occurred_at": "2026-01-05T10:00:00Z", "name": "Mira Janssens"},
                headers={**auth, "Idempotency-Key": "first"},
            )
            assert client.status_code == 201, client.text
            read = http.get(f"/v1/clients/{client.json()['id']}", headers=auth)
            assert read.status_code == 200, read.text
            container.worker.catch_up()
            seen = set(modes(data_dir))
            assert seen >= EXPECTED, EXPECTED - seen
            assert {"readmodels.sqlite-wal", "rodedraad.sqlite-wal"} <= seen
    finally:
        container.close()


def test_every_file_the_embedded_service_writes_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    serve_and_write(data_dir)

    found = modes(data_dir)
    assert found.pop(".") == "0o700"
    assert set(found.values()) == {"0o600"}, found


def test_a_data_directory_left_open_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    for name in ("readmodels.sqlite", "readmodels.sqlite-wal", "jwt-secret"):
        (data_dir / name).touch(mode=0o644)
        (data_dir / name).chmod(0o644)
    (data_dir / "jwt-secret").write_text("a secret an older version wrote, readable to all")

    serve_and_write(data_dir)

    found = modes(data_dir)
    assert found.pop(".") == "0o700"
    assert set(found.values()) == {"0o600"}, found
