"""The README's walk-through from the person's side (issue #19 point 7), run as written against
two real `rodedraad serve` processes of one deployment (one data directory, one database), on
SQLite and on PostgreSQL: the person's revocation through one process makes the organisation's
next read a 404 through the other (done when of issue #19)."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_readme_walkthrough import run_walkthrough, serving
from tests.integration.databases import BACKENDS, fresh_postgres_database

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### Walk-through from the person's side"


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```bash\n(.*?)```", readme.split(SECTION, 1)[1], re.S)
    assert match, "the README's walk-through from the person's side has no bash block"
    return match.group(1)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'rodedraad.sqlite'}"
        return
    with fresh_postgres_database() as url:
        yield url


def test_the_readme_walks_the_person_from_link_to_revocation_across_two_processes(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # As in production (README "Running in production"): one process follows the log and runs
    # the scheduler (here the first API process, on PostgreSQL too), the other only serves.
    with (
        serving(data, database_url, RODEDRAAD_EMBEDDED_WORKERS="true") as (first, env),
        serving(data, database_url, RODEDRAAD_EMBEDDED_WORKERS="false") as (second, _),
    ):
        script = walkthrough_script()
        assert "RD2=$RD" in script
        done = run_walkthrough(script.replace("RD2=$RD", f"RD2={second}"), first, env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert "<h1>Mijn handelingsplan</h1>" in lines
    codes = [line for line in lines if re.fullmatch(r"\d{3}", line)]
    # The school reads through the second process, then (after the revocation through the
    # first) is refused through both.
    assert codes == ["200", "404", "404"], lines
    plan = json.loads(next(line for line in lines if line.startswith('{"trajectory"')))
    assert [g["description"] for g in plan["goals"]] == ["Goes to school four days a week"]
    access = json.loads(next(line for line in lines if '"relation"' in line))
    school = [a for a in access if a["grant"]["organisation"] == "school-de-linde"]
    assert [a["grant"]["revocable"] for a in school] == [True]
    (request,) = json.loads(lines[-1])
    assert request["kind"]["code"] == "access_copy"
    assert request["status"]["code"] == "open"
