"""Backup and restore of the stores of record (issue #21), embedded and on PostgreSQL.

**Embedded (SQLite), one moment for every file.** A command touches several files in turn: it
reserves its idempotency key, its events are saved (the subject key of a new client was made
before), then its answer is stored with the key. A copy of each file taken at a different
moment could hold an answer whose events it lacks (a retry would be told "done" for a fact
that is not there) or events whose key reservation it lacks (a retry would record them twice).
So ``backup_sqlite`` takes the event store's write lock (``BEGIN IMMEDIATE``: writers wait, for
milliseconds, readers go on), opens a read transaction on every store file while it holds it,
notes the log position, and lets go. Each file is then copied through SQLite's online backup API
from its own read transaction: every copy is of the same moment, as if the service had stopped
there. A restored store is then in the state a crash at that moment leaves, which the service
already answers for: a command acknowledged before the backup began is in it; a command whose
events were saved but whose answer was not stored finds its key reserved and unanswered (409:
check the record and retry with a new key), never a second recording; the key of every client
with events is there (keys are made before the events that need them). The read models are not
backed up: they are rebuilt from the events after a restore.

**PostgreSQL.** Every store is one database, so one snapshot is consistent already: the
backup exports a snapshot (``pg_export_snapshot``), reads the log position and the KEK versions
in it, and runs ``pg_dump --format=custom --snapshot`` on that very snapshot.

**Both.** Each file is encrypted to the operator's public key (``application.backup_crypto``)
unless ``--unencrypted`` was asked for, written 0600 in a 0700 directory, and described in
``manifest.json`` (written last: a backup without one did not finish) with its size and
SHA-256, the log position, the moment, and the KEK versions the wrapped keys need. The KEK is
never in a backup. A restore checks all of that, and the KEK file, before it writes anything.
"""

import errno
import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from uuid import UUID

import msgspec
import psycopg
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eventsourcing.persistence import StoredEvent

from application.backup_crypto import BackupDamaged, decrypt, encrypt, key_id
from application.care_record import CareRecord
from application.codec import MsgspecMapper, MsgspecTranscoder
from application.errors import OperatorError
from application.files import PRIVATE_FILE, private_directory, write_private_file
from application.kek import KeyringFile
from application.keys import KEY_TABLES
from application.unavailable import connect_timeout

MANIFEST = "manifest.json"
#: The working directory of a backup's plain SQLite copies: beside the store, in the data
#: directory (never in the backup's), one per backup, locked (``flock``) while it runs.
WORKING_PREFIX = ".backup-copying-"
#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"
#: SQLite pages copied per step of the online backup (4 MiB at the default page size).
PAGES_PER_STEP = 1024
#: Progress is told for stores of at least this many bytes.
LARGE = 64 << 20
_EVENTS = {"sqlite": "stored_events", "postgres": f"{CareRecord.name}_events"}
_POSITION = {"sqlite": "rowid", "postgres": "notification_id"}

Say = Callable[[str], None]


class BackupRefused(OperatorError):
    """A backup or restore that cannot be done as asked; nothing was changed."""


class BackupFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    #: The store it holds (``events``, ``keys``, …), or ``database`` for a PostgreSQL dump.
    store: str
    size: int
    sha256: str


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: int = 1
    #: ``sqlite`` (a file per store) or ``postgres`` (one ``pg_dump`` of the database).
    kind: str
    created_at: datetime
    code_version: str
    #: The last position of the event log in the backup: every event up to it, none after.
    log_position: int
    #: The KEK versions the backup's wrapped subject keys need (the KEK is never in it).
    kek_versions: list[int]
    #: The operator key it is encrypted to (``backup_crypto.key_id``), or None: not encrypted.
    encrypted_to: str | None
    files: list[BackupFile]


# --- writing ---------------------------------------------------------------------------------


def _empty_target(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupRefused(f"{directory} is not empty; a backup goes into a new, empty directory")
    private_directory(directory)


def _store_file(
    source: Path | IO[bytes], directory: Path, name: str, recipient: X25519PublicKey | None
) -> tuple[int, str]:
    """``source`` (a file, or a stream read to its end) into ``directory/name`` (encrypted if
    ``recipient``), 0600; its size and SHA-256 as written."""
    target = directory / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with ExitStack() as stack:
        out = stack.enter_context(os.fdopen(fd, "wb"))
        plain = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        hashing = _Hashing(out)
        if recipient is None:
            shutil.copyfileobj(plain, hashing)
        else:
            encrypt(plain, hashing, recipient, name)  # type: ignore[arg-type]
        out.flush()
        os.fsync(out.fileno())
    return hashing.size, hashing.digest.hexdigest()


class _Hashing:
    """A writer that counts and hashes what goes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.size += len(data)
        self.digest.update(data)
        return len(data)


def _finish(
    directory: Path,
    kind: str,
    code_version: str,
    position: int,
    versions: list[int],
    recipient: X25519PublicKey | None,
    written: list[BackupFile],
) -> Manifest:
    """The manifest, written last: a backup directory without one did not finish."""
    manifest = Manifest(
        kind=kind,
        created_at=datetime.now(UTC),
        code_version=code_version,
        log_position=position,
        kek_versions=versions,
        encrypted_to=key_id(recipient) if recipient is not None else None,
        files=written,
    )
    write_private_file(directory / MANIFEST, msgspec.json.format(msgspec.json.encode(manifest)))
    return manifest


def backup_sqlite(
    files: Mapping[str, Path],
    directory: Path,
    recipient: X25519PublicKey | None,
    code_version: str,
    say: Say,
    *,
    working: Path | None = None,
) -> Manifest:
    """Every store file of an embedded deployment, of one moment, while it serves (module
    docstring); ``files``: store → its SQLite file. Each file's plain copy is made in
    ``working`` (the data directory; by default the event store's directory), which holds the
    same data already, never in ``directory``: a backup cut short (killed, the machine lost)
    leaves no clear copy of the record among the backups. Copies left by such a backup are
    removed first (``remove_stale_working_copies``)."""
    working = working if working is not None else files["events"].parent
    _empty_target(directory)
    for stale in remove_stale_working_copies(working):
        say(f"removed the working copy of a backup that did not finish: {stale}")
    with _working_directory(working) as work, ExitStack() as stack:
        sources = {store: stack.enter_context(_reader(path)) for store, path in files.items()}
        position, versions = _one_moment(files["events"], sources)
        say(f"the stores as of log position {position:,}")
        written = []
        for store, source in sources.items():
            name = f"{store}.sqlite"
            plain = work / name
            _online_copy(source, plain, store, files[store].stat().st_size, say)
            source.execute("COMMIT")
            size, digest = _store_file(plain, directory, name, recipient)
            plain.unlink()
            written.append(BackupFile(name, store, size, digest))
            say(f"{store}: {size:,} bytes written")
    return _finish(directory, "sqlite", code_version, position, versions, recipient, written)


@contextmanager
def _working_directory(parent: Path) -> Iterator[Path]:
    """A new private directory in ``parent`` for one backup's plain copies, locked while it is
    in use (the lock goes with the process however it ends, so a sweep can tell a live backup's
    directory from a dead one's) and removed afterwards. SIGKILL or a lost machine still
    leaves it: the next backup, or the next start of a process, removes it."""
    private_directory(parent)
    while True:
        work = Path(tempfile.mkdtemp(prefix=WORKING_PREFIX, dir=parent))
        lock = os.open(work, os.O_RDONLY)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.fstat(lock).st_nlink > 0:
            break
        # A sweep in another process took it for a dead backup's between its making and its
        # lock, and removed it: make another.
        os.close(lock)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock)


def remove_stale_working_copies(parent: Path) -> list[Path]:
    """Every working directory in ``parent`` of a backup that did not finish (killed or cut
    short: no process holds its lock), removed; those removed. A running backup's is kept."""
    removed: list[Path] = []
    try:
        candidates = sorted(parent.glob(f"{WORKING_PREFIX}*"))
    except OSError:
        return removed
    for candidate in candidates:
        if not candidate.is_dir() or candidate.is_symlink():
            continue
        try:
            lock = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue  # a backup running now
                raise
            shutil.rmtree(candidate, ignore_errors=True)
            if not candidate.exists():
                removed.append(candidate)
        finally:
            os.close(lock)
    return removed


def unencrypted_leftovers(directory: Path, expected: set[str]) -> list[Path]:
    """What in a backup directory is, or may be, a clear copy of a store: every file in the
    working directory a backup of an earlier version made there (``.copying-*``: killed while
    it copied, it left its plain copy, whose SQLite header may not be written yet), and every
    SQLite file but those named in ``expected`` (the files of a backup made ``--unencrypted``)."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.is_dir() and not path.is_symlink() and "copying-" in path.name:
            found += sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink())
            continue
        if path.name in expected or not path.is_file() or path.is_symlink():
            continue
        try:
            with path.open("rb") as handle:
                head = handle.read(len(_SQLITE_HEADER))
        except OSError:
            continue
        if head == _SQLITE_HEADER:
            found.append(path)
    return found


@contextmanager
def _reader(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.exists():
        raise BackupRefused(f"the store file {path} does not exist: nothing to back up here")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _one_moment(
    events_file: Path, sources: Mapping[str, sqlite3.Connection]
) -> tuple[int, list[int]]:
    """A read transaction on every source, all begun while the event store's writers wait;
    the log position and the KEK versions in use, as of that moment."""
    lock = sqlite3.connect(events_file, isolation_level=None, timeout=30)
    try:
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise BackupRefused(
                f"the event store {events_file} stayed locked by a writer for 30 s ({e}); "
                "nothing was written: try again"
            ) from None
        try:
            for source in sources.values():
                source.execute("BEGIN")
                source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            lock.execute("ROLLBACK")
    finally:
        lock.close()
    events = sources["events"]
    (position,) = events.execute(
        f"SELECT COALESCE(MAX(rowid), 0) FROM {_EVENTS['sqlite']}"  # noqa: S608
    ).fetchone()
    keys = KEY_TABLES["sqlite"][0]
    versions = [
        int(v)
        for (v,) in sources["keys"].execute(f"SELECT DISTINCT kek_version FROM {keys}")  # noqa: S608
    ]
    return int(position), sorted(versions)


def _online_copy(source: sqlite3.Connection, target: Path, store: str, size: int, say: Say) -> None:
    """SQLite's online backup API, from the source's open read transaction (so of its moment,
    whatever is written meanwhile), a step at a time; progress for a large store."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    os.close(fd)
    told = [0]

    def progress(status: int, remaining: int, total: int) -> None:
        share = (total - remaining) * 10 // max(total, 1)
        if size >= LARGE and share > told[0]:
            told[0] = share
            say(f"{store}: {share * 10}% of {total:,} pages copied")

    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=PAGES_PER_STEP, progress=progress)
    finally:
        copy.close()


def backup_postgres(
    url: str,
    directory: Path,
    recipient: X25519PublicKey | None,
    code_version: str,
    say: Say,
) -> Manifest:
    """One ``pg_dump`` (custom format) of the database, of one exported snapshot whose log
    position and KEK versions the manifest names; encrypted as ``pg_dump`` writes it (its
    output streamed through the encryption: no clear dump is ever on disk)."""
    _empty_target(directory)
    name = "database.dump"
    with psycopg.connect(url, autocommit=True, **connect_timeout(url)) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = _one(conn, "SELECT pg_export_snapshot()")
        position = int(
            _one(
                conn,
                f"SELECT COALESCE(MAX({_POSITION['postgres']}), 0) "  # noqa: S608
                f"FROM {_EVENTS['postgres']}",
            )
        )
        keys = KEY_TABLES["postgres"][0]
        rows = conn.execute(f"SELECT DISTINCT kek_version FROM {keys}").fetchall()  # noqa: S608
        versions = sorted(int(r[0]) for r in rows)
        say(f"pg_dump of the database as of log position {position:,}")
        size, digest = _store_dump(
            [
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-owner",
                f"--dbname={url}",
            ],
            directory,
            name,
            recipient,
        )
        conn.execute("COMMIT")
    say(f"database: {size:,} bytes written")
    written = [BackupFile(name, "database", size, digest)]
    return _finish(directory, "postgres", code_version, position, versions, recipient, written)


def _store_dump(
    command: list[str], directory: Path, name: str, recipient: X25519PublicKey | None
) -> tuple[int, str]:
    """``command``'s output (``pg_dump`` to its stdout) into ``directory/name`` as
    ``_store_file`` writes a file: encrypted on its way, never in clear on disk. Refused, and
    the file removed, if ``command`` fails."""
    target = directory / name
    with tempfile.TemporaryFile() as errors:
        try:
            dump = subprocess.Popen(  # noqa: S603
                command, stdout=subprocess.PIPE, stderr=errors, env=_libpq_env()
            )
        except FileNotFoundError:
            raise BackupRefused(
                f"{command[0]} is not installed here; install the PostgreSQL client of the "
                "server's version"
            ) from None
        try:
            assert dump.stdout is not None
            with dump.stdout:
                stored = _store_file(dump.stdout, directory, name, recipient)
            code = dump.wait()
        except BaseException:
            dump.kill()
            dump.wait()
            target.unlink(missing_ok=True)
            raise
        if code != 0:
            target.unlink(missing_ok=True)
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip()
            raise BackupRefused(f"{command[0]} failed: {said}")
    return stored


def _one(conn: psycopg.Connection[tuple[Any, ...]], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    if row is None:
        raise BackupRefused(f"the database answered nothing to {sql!r}")
    return row[0]


def _libpq_env() -> dict[str, str]:
    # pg_dump and pg_restore are libpq's: without a timeout (in the URL, or this variable, which
    # the URL's overrides) they wait on a host that never answers for good. It bounds the
    # connect, not the dump.
    env = dict(os.environ)
    for bound in connect_timeout().values():  # (none where the operator set one)
        env["PGCONNECT_TIMEOUT"] = str(bound)
    return env


def _run(command: list[str], what: str, stdin: BinaryIO | None = None) -> None:
    try:
        done = subprocess.run(  # noqa: S603
            command, stdin=stdin, capture_output=True, check=False, env=_libpq_env()
        )
    except FileNotFoundError:
        raise BackupRefused(
            f"{what} is not installed here; install the PostgreSQL client of the server's version"
        ) from None
    if done.returncode != 0:
        raise BackupRefused(f"{what} failed: {done.stderr.decode(errors='replace').strip()}")


# --- checking --------------------------------------------------------------------------------


def read_manifest(directory: Path) -> Manifest:
    """The backup's manifest, every file checked against it (size, then SHA-256): a backup cut
    short, damaged or altered is refused here, before anything is written. So is a directory
    that holds a plain copy of a store it should not (``unencrypted_leftovers``), first."""
    try:
        manifest: Manifest | None = msgspec.json.decode(
            (directory / MANIFEST).read_bytes(), type=Manifest
        )
    except FileNotFoundError:
        manifest = None
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise BackupRefused(f"{directory / MANIFEST} cannot be read ({e})") from None
    plain = (
        {f.name for f in manifest.files} if manifest and manifest.encrypted_to is None else set()
    )
    if leftovers := unencrypted_leftovers(directory, plain):
        listed = ", ".join(str(p) for p in leftovers[:5])
        raise BackupRefused(
            f"WARNING: {directory} holds an UNENCRYPTED copy (whole or in part) of a store of the "
            f"record ({listed}), left by a backup that did not finish: anyone who can read it "
            "reads the record in clear. Delete it now (`rm -r` the file, or the .copying-* "
            "directory it is in), then take a new backup"
        )
    if manifest is None:
        raise BackupRefused(
            f"{directory} holds no {MANIFEST}: it is not a backup, or one that did not finish"
        )
    for described in manifest.files:
        path = directory / described.name
        if not path.is_file():
            raise BackupRefused(f"the backup lacks {described.name}, which its manifest lists")
        size = path.stat().st_size
        if size != described.size:
            raise BackupRefused(
                f"{described.name} is {size:,} bytes, but the manifest says {described.size:,}: "
                "the backup was cut short or damaged; use another one"
            )
        if _sha256(path) != described.sha256:
            raise BackupRefused(
                f"{described.name} does not match its checksum in the manifest: the backup was "
                "damaged or altered; use another one"
            )
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_kek(manifest: Manifest, keyring: KeyringFile) -> None:
    """The KEK file must hold, not destroyed, every version the backup's keys are wrapped
    under; otherwise the restore is refused, saying which and why."""
    if not manifest.kek_versions:
        return
    if not keyring.exists():
        raise BackupRefused(
            f"the backup's subject keys are wrapped under KEK version(s) "
            f"{_listed(manifest.kek_versions)}, and the KEK file {keyring.path} does not exist: "
            "restore the KEK from your escrow first (README, 'Backup and restore')"
        )
    ring = keyring.reload()
    for version in manifest.kek_versions:
        found = ring.get(version)
        if found is None:
            raise BackupRefused(
                f"the backup needs KEK version {version}, which the KEK file {keyring.path} does "
                "not hold: restore a copy of the KEK file made after that version was created"
            )
        if found.destroyed:
            when = f"{found.destroyed_at:%Y-%m-%d}" if found.destroyed_at else "at an unknown date"
            raise BackupRefused(
                f"the backup needs KEK version {version}, which was destroyed {when} once the "
                f"backup window had passed: the backup of {manifest.created_at:%Y-%m-%d} is older "
                "than the window and its personal data can no longer be read, by design. "
                "Restore a backup made within the window"
            )


def _listed(versions: list[int]) -> str:
    return ", ".join(map(str, versions))


# --- restoring -------------------------------------------------------------------------------


def _plain(
    directory: Path, described: BackupFile, manifest: Manifest, identity: X25519PrivateKey | None
) -> Iterator[bytes]:
    path = directory / described.name
    with path.open("rb") as handle:
        if manifest.encrypted_to is None:
            while block := handle.read(1 << 20):
                yield block
            return
        if identity is None:
            raise BackupRefused("this backup is encrypted: give the key it is for (--identity)")
        yield from decrypt(handle, identity, described.name)


def check_opens(directory: Path, manifest: Manifest, identity: X25519PrivateKey | None) -> int:
    """Every file of the backup decrypted (every chunk authenticated) and thrown away: what a
    restore would read, without writing anything. Returns the bytes it would restore."""
    check_identity(manifest, identity)
    total = 0
    try:
        for described in manifest.files:
            total += sum(len(b) for b in _plain(directory, described, manifest, identity))
    except BackupDamaged as e:
        raise BackupRefused(e.message) from None
    return total


def check_identity(manifest: Manifest, identity: X25519PrivateKey | None) -> None:
    if manifest.encrypted_to is None:
        return
    if identity is None:
        raise BackupRefused(
            f"this backup is encrypted to key {manifest.encrypted_to}: give its private key "
            "(--identity KEYFILE)"
        )
    if key_id(identity.public_key()) != manifest.encrypted_to:
        raise BackupRefused(
            f"the identity key is {key_id(identity.public_key())}, but the backup is encrypted "
            f"to key {manifest.encrypted_to}: give that key's private key"
        )


def restore_sqlite(
    directory: Path,
    manifest: Manifest,
    identity: X25519PrivateKey | None,
    files: Mapping[str, Path],
    data_dir: Path,
    kept: set[Path],
    say: Say,
) -> None:
    """Every store file of the backup into place: decrypted and checked (SQLite's integrity
    check) in a directory beside the data directory, then renamed into it. The data directory
    must hold no file but ``kept`` (the KEK, the erasure ledger, … put back first)."""
    if manifest.kind != "sqlite":
        raise BackupRefused(f"this is a {manifest.kind} backup; this deployment is embedded")
    check_identity(manifest, identity)
    _empty_data_dir(data_dir, files, kept)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restoring-", dir=data_dir.parent))
    try:
        for described in manifest.files:
            if described.store not in files:
                raise BackupRefused(
                    f"the backup holds a store this code does not know: {described.store}"
                )
            target = work / described.name
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as out:
                for block in _plain(directory, described, manifest, identity):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            _integrity(target, described.name)
            if described.store == "events":
                count = _events_decode(target)
                say(f"{described.store}: decrypted and checked, all {count:,} events decode")
            else:
                say(f"{described.store}: decrypted and checked")
        private_directory(data_dir)
        for described in manifest.files:
            destination = files[described.store]
            destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.replace(work / described.name, destination)
    except BackupDamaged as e:
        raise BackupRefused(f"{e.message}; nothing was restored") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _empty_data_dir(data_dir: Path, files: Mapping[str, Path], kept: set[Path]) -> None:
    # A store's companions too: SQLite ties no write-ahead log to its database, so one left
    # beside a store file kept outside the data directory would be replayed into the restored one.
    present = [
        q
        for p in files.values()
        for q in (p, *(p.with_name(p.name + s) for s in ("-wal", "-shm", "-journal")))
        if q.exists()
    ]
    if data_dir.exists():
        allowed = {p.resolve() for p in kept} | {
            p.with_name(p.name + ".lock").resolve() for p in kept
        }
        present += [p for p in data_dir.iterdir() if p.resolve() not in allowed]
    if present:
        listed = ", ".join(sorted({p.name for p in present})[:5])
        raise BackupRefused(
            f"the data directory {data_dir} is not empty ({listed}): a restore goes into an "
            "empty one (the KEK, the erasure ledger and the other secrets kept apart may be "
            "there), so that nothing of a live record is overwritten. Move it aside, or point "
            "RODEDRAAD_DATA_DIR at a new directory; nothing was changed"
        )


def _integrity(path: Path, name: str) -> None:
    conn = sqlite3.connect(path)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as e:
        raise BackupRefused(f"{name} is not a sound SQLite database ({e})") from None
    finally:
        conn.close()
    if result is None or result[0] != "ok":
        raise BackupRefused(f"{name} fails SQLite's integrity check: {result}")


def _events_decode(path: Path) -> int:
    """Every event of the event store file ``path`` decoded, as the service would decode it
    (without keys: its sealed fields stay shut); how many. A backup made from a store with a
    damaged or altered event has checksums that match: it is refused here, naming the event,
    before anything is put in place, not by the first process that reads it. (One event at a
    time: measured faster here than ``decode_shut``'s batches, for this check.)"""
    mapper = MsgspecMapper(MsgspecTranscoder())
    conn = sqlite3.connect(path)
    count = 0
    try:
        rows = conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {_EVENTS['sqlite']} ORDER BY rowid"
        )
        for position, originator_id, version, topic, state in rows:
            try:
                mapper.to_domain_event(
                    StoredEvent(
                        originator_id=UUID(str(originator_id)),
                        originator_version=version,
                        topic=topic,
                        state=state,
                    )
                )
            # (Whatever stops it: a field that is not what its class says, a topic no class
            # has, an id that is no UUID, an upcaster that fails; each is a refusal.)
            except Exception as e:  # noqa: BLE001
                lines = str(e).strip().splitlines()
                raise BackupRefused(
                    f"the event at log position {position:,} in the backup does not decode "
                    f"({type(e).__name__}: {lines[0] if lines else ''}): the backup was made "
                    "from a store whose event was damaged or altered (its checksums match). "
                    "Restore another backup, one made before the damage; nothing was restored"
                ) from None
            count += 1
    except sqlite3.DatabaseError as e:
        raise BackupRefused(f"the backup's event store cannot be read ({e})") from None
    finally:
        conn.close()
    return count


def restore_postgres(
    directory: Path,
    manifest: Manifest,
    identity: X25519PrivateKey | None,
    url: str,
    say: Say,
) -> None:
    """The dump into the configured database, which must hold no table, by ``pg_restore`` in
    one transaction: all of it, or (on any error) nothing."""
    if manifest.kind != "postgres":
        raise BackupRefused(f"this is a {manifest.kind} backup; this deployment uses PostgreSQL")
    check_identity(manifest, identity)
    with psycopg.connect(url, autocommit=True, **connect_timeout(url)) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema')"
        ).fetchone()
    if tables is None or tables[0]:
        raise BackupRefused(
            f"the database holds {tables[0] if tables else '?'} table(s): a restore goes into an "
            "empty database (createdb a new one and point RODEDRAAD_DATABASE_URL at it), so that "
            "nothing of a live record is overwritten; nothing was changed"
        )
    [described] = manifest.files
    with tempfile.TemporaryDirectory(prefix=".restoring-") as work:
        plain = Path(work) / described.name
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            with os.fdopen(fd, "wb") as out:
                for block in _plain(directory, described, manifest, identity):
                    out.write(block)
        except BackupDamaged as e:
            raise BackupRefused(f"{e.message}; nothing was restored") from None
        say("pg_restore in one transaction")
        _run(
            [
                "pg_restore",
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                f"--dbname={url}",
                str(plain),
            ],
            "pg_restore",
        )
