"""The raw bytes a database leaves on disk: what a file-level backup or a thief would copy.

On SQLite, every file of the data directory (with its ``-wal`` and ``-shm`` files). On
PostgreSQL, the test database's own files under the server's ``data_directory`` after a
``CHECKPOINT`` (heap, TOAST, indexes; dead rows too), and the write-ahead log segments written
since a mark (``pg_wal`` is shared by every database of the server, so only the segments of
this test's time are searched). The tests run as root and may read them.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg

_SEGMENT = re.compile(r"^[0-9A-F]{24}$")


@dataclass(frozen=True)
class WalMark:
    """The write-ahead log segment current when the mark was taken."""

    segment: str


def wal_mark(url: str) -> WalMark:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert row is not None
    return WalMark(str(row[0]))


def postgres_files(url: str, since: WalMark | None) -> list[Path]:
    """The database's own files and the WAL segments from ``since`` on (none without a mark),
    after a checkpoint."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        data_directory = conn.execute("SHOW data_directory").fetchone()
        database = conn.execute(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        until = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert data_directory is not None
    assert database is not None
    assert until is not None
    root = Path(str(data_directory[0]))
    own = [p for p in (root / "base" / str(database[0])).iterdir() if p.is_file()]
    if since is None:
        return own
    wal = [  # segments named after the current one are recycled: they hold older log only
        p
        for p in (root / "pg_wal").iterdir()
        if _SEGMENT.match(p.name) and since.segment[8:] <= p.name[8:] <= str(until[0])[8:]
    ]
    return own + wal


def sqlite_files(data_dir: Path) -> list[Path]:
    return [p for p in sorted(data_dir.rglob("*")) if p.is_file()]


def files_holding(paths: Iterable[Path], needles: Iterable[bytes]) -> dict[str, int]:
    """File → how many of ``needles`` it holds (raw, or as hex text), for the files that do."""
    wanted = [(n, n.hex().encode()) for n in needles]
    found = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a segment recycled or a temporary file gone meanwhile
            continue
        hits = sum(1 for raw, hexed in wanted if raw in data or hexed in data)
        if hits:
            found[str(path)] = hits
    return found
