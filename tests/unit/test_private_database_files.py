"""Making a store file private never gives up the locks SQLite holds on it in this process.

SQLite's locks are POSIX record locks: the kernel drops them for the whole process when any
descriptor of the file is closed in it. ``private_database_file`` runs for every store made on a
file, the second one on an open file too; it once opened and closed the file, and another process
that closed the file afterwards took itself for its last user and deleted the write-ahead log
still in use here (``tests/e2e/test_sqlite_beside_the_service.py``: what that did to the service).
"""

import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from application.files import private_database_file, private_file

#: Another process opens the file, reads, and closes it: as a command line does when it ends.
OPEN_AND_CLOSE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=30)
connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
connection.close()
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    path = tmp_path / "store.sqlite"
    with closing(sqlite3.connect(private_database_file(path), isolation_level=None)) as first:
        first.execute("PRAGMA journal_mode = WAL")
        first.execute("CREATE TABLE facts (fact INTEGER)")
        first.execute("INSERT INTO facts VALUES (1)")
        yield path, first


def test_making_a_store_private_again_keeps_the_locks_of_an_open_one(
    store: tuple[Path, sqlite3.Connection],
) -> None:
    path, first = store

    private_database_file(path)  # a second store on the same file, as the wiring makes them
    subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(path)], check=True)  # noqa: S603

    assert path.with_name("store.sqlite-wal").exists(), "the other process took the log away"
    first.execute("INSERT INTO facts VALUES (2)")
    with closing(sqlite3.connect(path)) as reader:
        assert reader.execute("SELECT fact FROM facts").fetchall() == [(1,), (2,)]


def test_a_new_file_is_made_private_before_anyone_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store.sqlite"
    private_database_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["store.sqlite"]  # no temporary left


def test_a_symbolic_link_to_a_file_not_yet_made_makes_its_target_private(tmp_path: Path) -> None:
    target, link = tmp_path / "elsewhere.sqlite", tmp_path / "store.sqlite"
    link.symlink_to(target)
    private_file(link)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert link.is_symlink()


def test_a_directory_in_the_place_of_a_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    private_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
