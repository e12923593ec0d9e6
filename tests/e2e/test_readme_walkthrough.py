"""The README's curl walk-through, run as written against a real `rodedraad serve` process."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walk-through", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's walk-through has no bash block"
    return match.group(1)


def auditors_script() -> str:
    """The auditors' requests of the README, run after the walk-through in the same shell."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## For auditors", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's section for auditors has no bash block"
    return match.group(1)


def audit_export_script() -> str:
    """Issue #16: the README's audit export and its offline check, run after the auditors'
    requests in the same shell."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**The audit export: the record in one file", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's audit export has no bash block"
    return match.group(1)


def continuation_script() -> str:
    """Issue #17: the README's continuation at a second organisation, run after the
    walk-through in the same shell (it continues the trajectory the walk-through closed)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Continuing at another organisation", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's continuation has no bash block"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(
    tmp_path: Path, database_url: str, **extra: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """A real ``rodedraad serve`` process on ``database_url``: its base URL and environment
    (on ``RODEDRAAD_PORT`` when ``extra`` names one, else a free port)."""
    port = int(extra.get("RODEDRAAD_PORT") or free_port())
    env = {
        **os.environ,
        "RODEDRAAD_DATA_DIR": str(tmp_path),
        "RODEDRAAD_DATABASE_URL": database_url,
        "RODEDRAAD_PORT": str(port),
        "RODEDRAAD_LOG_FORMAT": "json",
        **extra,
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
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a scheduler run that does not end at the signal
            process.kill()
            process.wait(timeout=10)


def run_walkthrough(
    script: str, base: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A README bash block against the server at ``base``, as a reader runs it."""
    script = script.replace("RD=http://127.0.0.1:8000", f"RD={base}")
    if not (ROOT / ".venv/bin/rodedraad").exists():
        script = script.replace(".venv/bin/rodedraad", f"{sys.executable} -m rodedraad.cli")
    return subprocess.run(  # noqa: S603
        ["/bin/bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with serving(tmp_path, f"sqlite:///{tmp_path / 'rodedraad.sqlite'}") as running:
        yield running


def run_script(script: str, server: tuple[str, dict[str, str]]) -> Any:
    """Run README ``script`` against the server with bash -euo pipefail; its last line, parsed."""
    base, env = server
    done = run_walkthrough(script, base, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_readme_walk_through_takes_a_trajectory_from_referral_to_closing(
    server: tuple[str, dict[str, str]],
) -> None:
    final = run_script(walkthrough_script(), server)
    assert final["status"] == "closed"
    assert final["follow_up_by"] == "school-de-linde"
    assert final["plan"]["signatory"] == "client"
    assert final["milestones"].keys() == {"start", "end"}
    assert final["version"] == 15  # one event per command, referral included


def test_the_agreements_view_of_the_walk_through_lists_every_acceptance_with_both_times(
    server: tuple[str, dict[str, str]],
) -> None:
    """Issue #15, done when: the auditors' requests of the README, after its walk-through."""
    agreements = run_script(walkthrough_script() + auditors_script(), server)
    (roles,) = agreements["role_agreements"]
    assert roles["id"] == "roles-1"
    (answer,) = roles["answers"]
    assert answer["party"] == "kompas"
    assert answer["answer"] == "accepted"
    assert answer["at"]["actor"] == {
        "user_id": "an",
        "organisation": "kompas",
        "role": "coordinator",
        "on_behalf_of": None,
    }
    accepted = datetime.fromisoformat("2026-09-11T09:00:00+02:00")
    assert datetime.fromisoformat(answer["at"]["occurred_at"]) == accepted
    assert datetime.fromisoformat(answer["at"]["recorded_at"]) > accepted
    assert datetime.fromisoformat(roles["in_force_from"]) == accepted
    (signature,) = agreements["plan_signatures"]
    assert signature["signatory"] == "client"
    assert [d["decision"] for d in agreements["escalation_decisions"]] == ["raised", "resolved"]


def test_the_readme_audit_export_verifies_offline_against_the_deployments_key(
    server: tuple[str, dict[str, str]],
) -> None:
    """Issue #16 point 4: the auditor's export of the walk-through's trajectory, asked and
    checked as the README says."""
    base, env = server
    script = walkthrough_script() + auditors_script() + audit_export_script()
    done = run_walkthrough(script, base, env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "the export holds" in done.stdout.splitlines()[-1]
    assert "0 not sealed when exported" in done.stdout


def test_the_readme_continues_the_trajectory_at_a_second_organisation_under_its_consent(
    server: tuple[str, dict[str, str]],
) -> None:
    """Issue #17, done when: the walk-through's closed trajectory is continued by de-brug, which
    holds the client's consent (scope plan, purpose continuation), carries its open goal and
    action, and signs the carried plan; the closed one names the continuation."""
    both = run_script(walkthrough_script() + continuation_script(), server)
    earlier, later = both["earlier"], both["later"]
    assert later["continued_from"] == earlier["id"]
    assert earlier["continued_by"] == [later["id"]]
    assert later["referrer_organisation"] == "de-brug"
    assert later["coordinating_organisation"] == "de-brug"
    assert [g["id"] for g in later["goals"]] == ["school"]
    assert [a["goal_id"] for a in later["actions"]] == ["school"]
    assert later["plan"]["signatory"] == "client"
    for item in [*later["goals"], *later["actions"]]:
        assert item["carried_from"]["trajectory_id"] == earlier["id"]
        assert item["carried_from"]["signed_here"] is True
