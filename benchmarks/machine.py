"""Names the machine a run measured: CPU, cores, memory, Python, PostgreSQL, SQLite."""

import os
import platform
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def describe(postgres_version: str | None) -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "postgresql": postgres_version or "not measured",
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def label(machine: dict[str, Any]) -> str:
    """One line: ``AMD EPYC, 2 cores, 23.5 GiB, Python 3.11.7, PostgreSQL 15.20``."""
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, "
        f"SQLite {machine['sqlite']}"
    )


def code_version() -> dict[str, Any]:
    """The commit measured, whether the work tree differed from it, and where ``src`` came from."""
    import application

    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - fixed git arguments
                ["git", *args],  # noqa: S607 - git from PATH
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    src = Path(application.__file__).resolve().parent.parent
    in_tree = src == root / "src"
    exported = src.parent / "COMMIT"  # a `git archive` copy may name its commit beside src/
    commit = (
        git("rev-parse", "--short", "HEAD")
        if in_tree or not exported.exists()
        else exported.read_text().strip()
    )
    return {
        "commit": commit or "unknown",
        "src": str(src),
        #: Uncommitted changes under src/ (None: the code ran from a copy outside the tree).
        "src_changed_since_commit": bool(git("status", "--porcelain", "--", "src"))
        if in_tree
        else None,
    }
