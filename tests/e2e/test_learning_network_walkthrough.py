"""The README's walk-through of a year of a learning network (issue #14 point 7), run as written
against a real `rodedraad serve` process, on SQLite and on PostgreSQL: themes in from shared
findings (released as a batch from the command line beside the service), four meetings and a
sector consultation, a signal on a statistics release (released from the command line too), an
improvement trajectory measured twice, the forum, the lessons, and the cadence board."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_readme_walkthrough import run_walkthrough, serving
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
    # One process serves, follows the log and runs the scheduler, on PostgreSQL too.
    # Quarters, as the README has the reader start it.
    with serving(
        tmp_path,
        database_url,
        RODEDRAAD_EMBEDDED_WORKERS="true",
        RODEDRAAD_STATISTICS_GRID="quarters",
    ) as running:
        yield running


def test_the_readme_walks_a_learning_network_through_a_year(
    server: tuple[str, dict[str, str]],
) -> None:
    base, env = server
    done = run_walkthrough(walkthrough_script(), base, env, timeout=300)
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
