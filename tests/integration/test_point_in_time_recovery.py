"""A point-in-time recovery to a moment before an erasure, then ``rodedraad erasures reapply``:
the client is erased again before the service could answer a request (issue #21).

The test makes a PostgreSQL cluster of its own (``initdb`` as the ``postgres`` OS user, in a
temporary directory, on a free port, with WAL archiving), never touching the shared test server:
a base backup, two clients registered, the moment noted (an LSN), one client erased, the WAL
archived; the cluster stopped and the base backup recovered to the noted moment. The recovered
database holds the client unerased with its keys (the recovery did go back); the ledger file,
kept apart, brings the erasure back.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from application.commands import EraseClient
from application.erasure_ledger import ErasureLedgerFile
from rodedraad import cli
from rodedraad.wiring import build_care_record
from tests.integration import raw_files
from tests.integration.backups import (
    OFFICER,
    ctx,
    deployment_on,
    pg_dump_of,
    register,
    wrapped_keys,
)
from tests.support import said

BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.geteuid() != 0
        or not (BIN / "initdb").exists()
        or not Path("/usr/sbin/runuser").exists(),
        reason="needs root, runuser and PostgreSQL 15's server binaries to make a cluster",
    ),
]


def as_postgres(*command: str) -> None:
    subprocess.run(  # noqa: S603
        ["/usr/sbin/runuser", "-u", "postgres", "--", *command], check=True, capture_output=True
    )


@pytest.fixture
def cluster() -> Iterator[Path]:
    """A directory of the ``postgres`` OS user for the cluster (a test's own ``tmp_path`` lies
    under directories only root may enter), removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="rodedraad-pitr-"))
    shutil.chown(directory, "postgres", "postgres")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(data: Path, log: Path) -> Iterator[None]:
    as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start")
    try:
        yield
    finally:
        as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


def test_a_point_in_time_recovery_before_an_erasure_is_erased_again(
    cluster: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, archive, recovered = cluster / "data", cluster / "archive", cluster / "recovered"
    as_postgres("mkdir", str(archive))
    as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N")
    port = free_port()
    settings = (
        f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{cluster}'\n"
        "wal_level = replica\narchive_mode = on\nfsync = off\n"
        f"archive_command = 'cp %p {archive}/%f'\n"
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(settings)
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    url = f"postgresql://postgres@127.0.0.1:{port}/rodedraad"
    name = f"Zyx{uuid4().hex}"
    with running(data, cluster / "first.log"):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE rodedraad")
        with deployment_on(url, tmp_path / "live", tmp_path / "apart", monkeypatch) as live:
            record = build_care_record(live)  # migrated: the tables are in the base backup
            as_postgres(
                str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(port), "-U",
                "postgres", "-D", str(recovered), "-X", "none", "-c", "fast",
            )  # fmt: skip
            try:
                erased = register(record, name)
                kept = register(record, "Kept Client")
                wrapped = wrapped_keys(live, erased)
                with psycopg.connect(admin, autocommit=True) as conn:
                    target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
                record.erase_client(
                    ctx(OFFICER), erased, None, said(EraseClient, ctx(), legal_basis="gdpr_request")
                )
            finally:
                record.close()
            with psycopg.connect(admin, autocommit=True) as conn:
                segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
                conn.execute("SELECT pg_switch_wal()")
            assert target is not None
            assert segment is not None
            deadline = time.monotonic() + 30
            while not (archive / str(segment[0])).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert (archive / str(segment[0])).exists(), "the erasure's WAL was archived"
    assert [
        e.client for e in ErasureLedgerFile(tmp_path / "apart" / "erasure-ledger.jsonl").entries()
    ] == [erased]

    recovery = (
        f"restore_command = 'cp {archive}/%f %p'\nrecovery_target_lsn = '{target[0]}'\n"
        "recovery_target_action = 'promote'\narchive_mode = off\n"
    )
    with (recovered / "postgresql.conf").open("a") as conf:
        conf.write(recovery)
    as_postgres("touch", str(recovered / "recovery.signal"))
    with running(recovered, cluster / "recovered.log"):
        _wait_for_promotion(admin)
        with deployment_on(url, tmp_path / "after", tmp_path / "apart", monkeypatch) as after:
            assert wrapped_keys(after, erased) == wrapped, "recovered to before the erasure"
            assert cli.main(["erasures", "reapply"]) == 0
            found = raw_files.files_holding(
                [pg_dump_of(url, tmp_path / "recovered.sql")], [name.encode(), *wrapped]
            )
            assert found == {}, "the erased client's keys or name are in the recovered database"
            record = build_care_record(after)
            try:
                assert record.client(erased).erased_at is not None
                assert record.keys.key_for(erased) is None
                assert record.client(kept).personal.name == "Kept Client"
            finally:
                record.close()


def _wait_for_promotion(admin: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and row[0] is False:
                    return
        except psycopg.OperationalError:
            pass
        time.sleep(0.2)
    raise AssertionError("the recovered cluster was not promoted within 30 s")
