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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walk-through", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the README's walk-through has no bash block"
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
    """A real ``rodedraad serve`` process on ``database_url``: its base URL and environment."""
    port = free_port()
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


def test_the_readme_walk_through_takes_a_trajectory_from_referral_to_closing(
    server: tuple[str, dict[str, str]],
) -> None:
    base, env = server
    done = run_walkthrough(walkthrough_script(), base, env)
    assert done.returncode == 0, done.stdout + done.stderr
    final = json.loads(done.stdout.strip().splitlines()[-1])
    assert final["status"] == "closed"
    assert final["follow_up_by"] == "school-de-linde"
    assert final["plan"]["signatory"] == "client"
    assert final["milestones"].keys() == {"start", "end"}
    assert final["version"] == 15  # one event per command, referral included
