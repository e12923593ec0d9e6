"""``rodedraad serve`` on an address another process listens on says so in a line and exits 2,
naming the address and the setting that gives it (found by an outside probe: the metrics
listener's ``OSError: [Errno 98] Address already in use`` ended the process in a traceback)."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from application.errors import OperatorError
from rodedraad.settings import Settings
from rodedraad.wiring import start_metrics_listener


@contextmanager
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 another process (here, this one) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_metrics_address_in_use_is_refused_naming_it_and_its_setting(tmp_path: Path) -> None:
    with taken_port() as port:
        settings = Settings.from_env(
            {
                "RODEDRAAD_DATABASE_URL": f"sqlite:///{tmp_path / 'rodedraad.sqlite'}",
                "RODEDRAAD_DATA_DIR": str(tmp_path),
                "RODEDRAAD_METRICS_ADDRESS": f"127.0.0.1:{port}",
            }
        )
        with pytest.raises(OperatorError) as refused:
            start_metrics_listener(settings)
    assert f"cannot listen on 127.0.0.1:{port}" in refused.value.message
    assert "RODEDRAAD_METRICS_ADDRESS" in refused.value.message


def _serve(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        RODEDRAAD_DATABASE_URL=f"sqlite:///{tmp_path / 'rodedraad.sqlite'}",
        RODEDRAAD_DATA_DIR=str(tmp_path),
        RODEDRAAD_EMBEDDED_WORKERS="false",
        **environ,
    )
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "rodedraad.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("which", ["metrics", "http"])
def test_serve_on_an_address_in_use_exits_2_saying_why(which: str, tmp_path: Path) -> None:
    with taken_port() as port:
        if which == "metrics":
            done = _serve(
                tmp_path,
                "--port",
                str(free_port()),
                RODEDRAAD_METRICS_ADDRESS=f"127.0.0.1:{port}",
            )
            setting = "RODEDRAAD_METRICS_ADDRESS"
        else:
            done = _serve(tmp_path, RODEDRAAD_PORT=str(port))
            setting = "RODEDRAAD_HOST/RODEDRAAD_PORT"
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"rodedraad: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert setting in done.stderr
