"""Private files: everything Rode Draad writes to disk is readable by its own user only.

The data directory holds the records of vulnerable people (events, read models, the access log)
and the secrets that protect them (the key store, the KEK, the token secret); another user of
the machine must read none of it. So the data directory is created ``0700`` (and tightened if it
exists and belongs to us), and every file is created ``0600`` *before* SQLite or anyone opens
it: SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file.
"""

import os
import stat
import threading
from pathlib import Path

import structlog

log = structlog.get_logger("rodedraad.files")

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
#: SQLite's companions of a database file: they take its mode when SQLite creates them, but
#: one left by an older version keeps its own.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner can enter: created 0700, or tightened to 0700 if it
    exists and is ours. A shared directory (sticky, like ``/tmp``) is left alone, with a
    warning: the data directory should be one of its own."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) == PRIVATE_DIRECTORY:
        return path
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX:
        log.warning(
            "data directory is not private; give Rode Draad a directory of its own",
            directory=str(path),
            mode=oct(stat.S_IMODE(info.st_mode)),
        )
        return path
    path.chmod(PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> Path:
    """``path`` exists and only its owner may read or write it (0600): created so, or tightened
    if it exists and is ours. Missing parent directories are created 0700.

    No descriptor of ``path`` is ever closed here. SQLite's locks are POSIX record locks, which
    the kernel drops for the whole process when *any* descriptor of the file in that process is
    closed: opening and closing a database this process already had open (a second store on
    the same file) silently gave up its locks. Another process (a command line beside the
    service) then took the file as its own alone, checkpointed and deleted the write-ahead
    log still in use here, and what this process wrote after that went to a deleted file:
    events lost. So a file that exists is only tightened, and a new one is made under a
    temporary name and linked into place (a symbolic link is followed to its target)."""
    path.parent.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    target = Path(os.path.realpath(path))
    if not target.exists():
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.new")
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        try:
            os.link(temporary, target)
        except FileExistsError:
            pass  # made meanwhile, by another process or thread: theirs holds
        finally:
            temporary.unlink(missing_ok=True)
    if not os.access(target, os.R_OK | os.W_OK):
        raise PermissionError(
            f"{target} exists but this user cannot read and write it: give it to the service's "
            "user (chown), or point the setting at another file"
        )
    _tighten(target)
    return path


def private_database_file(path: Path) -> Path:
    """``private_file`` for a SQLite database, and its write-ahead log and shared memory."""
    private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        _tighten(path.with_name(path.name + suffix))
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable by its owner only: a temporary file
    (0600) beside it, flushed to disk, renamed over it, and the directory flushed too. A crash
    leaves the old content or the new, never half of either."""
    path.parent.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _tighten(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if (
        stat.S_ISREG(info.st_mode)
        and stat.S_IMODE(info.st_mode) != PRIVATE_FILE
        and info.st_uid == os.geteuid()
    ):
        path.chmod(PRIVATE_FILE)
