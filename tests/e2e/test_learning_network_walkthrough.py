"""The README's walk-through of a year of a learning network (issue #14 point 7), run as written
against a real `rodedraad serve` process, on SQLite and on PostgreSQL: themes in from shared
findings (released as a batch from the command line beside the service), four meetings and a
sector consultation, a signal on a statistics release (released from the command line too), an
improvement trajectory measured twice, the forum, the lessons, and the cadence board."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_readme_walkthrough import free_port
from tests.integration.databases import BACKENDS, fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Walk-through: a year of a learning network"


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```bash\n(.*?)```", readme.split(SECTION, 1)[1], re.S)
    assert match, "the README's year of a learning network has no bash block"
    return match.group(1)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rodedraad.sqlite'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "RODEDRAAD_DATA_DIR": str(tmp_path),
        "RODEDRAAD_DATABASE_URL": database_url,
        "RODEDRAAD_PORT": str(port),
        "RODEDRAAD_LOG_FORMAT": "json",
        # One process serves, follows the log and runs the scheduler, on PostgreSQL too.
        "RODEDRAAD_EMBEDDED_WORKERS": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rodedraad.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"server did not start: {(tmp_path / 'server.log').read_text()}")
                time.sleep(0.1)
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_readme_walks_a_learning_network_through_a_year(
    server: tuple[str, dict[str, str]],
) -> None:
    base, env = server
    script = walkthrough_script().replace("RD=http://127.0.0.1:8000", f"RD={base}")
    if not (ROOT / ".venv/bin/rodedraad").exists():
        script = script.replace(".venv/bin/rodedraad", f"{sys.executable} -m rodedraad.cli")
    done = subprocess.run(  # noqa: S603
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert "422" in lines, "the finding naming the client was not refused"
    assert "west-flanders: 3 theme(s) entered the learning network" in lines
    network, board = json.loads(lines[-2]), json.loads(lines[-1])
    year = network["lessons"][0]["year"]

    sources = sorted(t["source_kind"] for t in network["themes"])
    assert sources == ["case_finding"] * 3 + ["member_experience"]
    assert all(t["proposer_kind"] == "region_coordinator" for t in network["themes"][:3])
    kinds = [m["kind"] for m in network["meetings"]]
    assert kinds.count("learning_network") == 4
    assert kinds.count("sector_consultation") == 1
    assert [s["status"] for s in network["signals"]] == ["escalated"]
    (improvement,) = network["improvement_trajectories"]
    assert [m["pdca_phase"] for m in improvement["measurements"]] == ["try_out", "embed"]
    assert network["cadence_missed"] == []

    (row,) = board
    assert row["live_from"] == year
    assert not [key for key in row["due"] if key.endswith(str(year)) or f":{year}Q" in key]
    # Nothing of the cases reaches the network: no client's name.
    for name in ("Peeters", "Claes", "Wouters", "Lucas"):
        assert name not in lines[-2]
