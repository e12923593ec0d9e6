"""Issue #16 on each backend: the personal-data read log is chained, so a read deleted or
changed by an insider shows in ``rodedraad audit verify``, and retention's prune does not.

The tampering is done past the application: straight in the SQLite file, or in PostgreSQL's
row.
"""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from application.access_log import AccessLog, PersonalDataRead
from application.migrations import RECORDS_TABLE
from application.read_log_chain import BOUNDARIES, FIELDS, link
from application.seals import SEALS, Seals
from application.signing import SigningKeyFile
from rodedraad.settings import Settings
from rodedraad.wiring import build_access_log, build_care_record, stores_of
from tests.integration.conftest import Rodedraad
from tests.integration.stories import Story

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


@contextmanager
def _raw(settings: Settings) -> Iterator[tuple[Any, str, str, str]]:
    """A connection past the application: (connection, reads table, boundaries table, mark)."""
    if settings.database.is_postgres:
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            yield conn, "rodedraad_personal_data_reads", BOUNDARIES["postgres"], "%s"
        return
    conn = sqlite3.connect(stores_of(settings).files["access_log"], isolation_level=None)
    try:
        yield conn, "personal_data_reads", BOUNDARIES["sqlite"], "?"
    finally:
        conn.close()


def _execute(settings: Settings, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    with _raw(settings) as (conn, reads, boundaries, mark):
        cursor = conn.execute(sql.format(reads=reads, boundaries=boundaries, mark=mark), params)
        return list(cursor.fetchall()) if cursor.description else []


def _read(at: datetime, user: str = "u-1") -> PersonalDataRead:
    return PersonalDataRead(
        at=at,
        user_id=user,
        organisation="org-a",
        role="coordinator",
        client_id=uuid4(),
        trajectory_id=uuid4(),
        endpoint="GET /v1/trajectories/{id}",
        request_id=uuid4().hex,
    )


@contextmanager
def _access_log(settings: Settings) -> Iterator[AccessLog]:
    build_care_record(settings).close()  # the stores migrated, as every process does at start
    log = build_access_log(settings)
    try:
        yield log
    finally:
        log.close()


def _logged(settings: Settings, reads: int = 8) -> None:
    """``reads`` reads a day apart, the first two in one export (``record_many``)."""
    entries = [_read(START + timedelta(days=d), user=f"u-{d % 3}") for d in range(reads)]
    with _access_log(settings) as log:
        log.record_many(entries[:2])
        for entry in entries[2:]:
            log.record(entry)


def _verify(rodedraad: Rodedraad, settings: Settings) -> tuple[int, str]:
    code, out, _ = rodedraad(settings, "audit", "verify")
    return code, out


def test_a_read_log_as_written_verifies(own_settings: Settings, rodedraad: Rodedraad) -> None:
    _logged(own_settings)

    code, out = _verify(rodedraad, own_settings)

    assert code == 0, out
    assert "read log: all 8 entr(y/ies) match the chain" in out


def test_a_changed_byte_in_a_read_log_entry_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _execute(own_settings, "UPDATE {reads} SET user_id = 'u-X' WHERE position = 5")

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 5:" in out
    assert "(4 entr(y/ies) before it match)" in out


def test_a_rewritten_hash_of_a_read_log_entry_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _execute(
        own_settings, "UPDATE {reads} SET chain_hash = {mark} WHERE position = 6", (bytes(32),)
    )

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 6:" in out


def test_a_changed_moment_of_a_read_is_named(own_settings: Settings, rodedraad: Rodedraad) -> None:
    _logged(own_settings)
    later = START + timedelta(days=30)
    value: Any = later if own_settings.database.is_postgres else later.isoformat()
    _execute(own_settings, "UPDATE {reads} SET at = {mark} WHERE position = 3", (value,))

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 3:" in out


def test_an_insider_deleting_one_of_their_reads_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE position = 4")

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 4: the entry at position 4 is missing" in out


def test_a_read_written_past_the_chain_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    moment: Any = START if own_settings.database.is_postgres else START.isoformat()
    _execute(
        own_settings,
        "INSERT INTO {reads} (at, user_id, organisation, role, client_id, endpoint, request_id) "
        "VALUES ({mark}, 'u-1', 'org-a', 'coordinator', {mark}, 'GET /x', 'r')",
        (moment, str(uuid4())),
    )

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "1 entr(y/ies) without a chain position or hash" in out


def _prune(settings: Settings, before: datetime) -> int:
    with _access_log(settings) as log:
        return log.purge_before(before)


def test_a_prune_for_retention_keeps_a_boundary_and_the_log_still_verifies(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)

    removed = _prune(own_settings, START + timedelta(days=3))

    assert removed == 3
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: entries up to position 3 removed by retention" in out
    assert "read log: all 5 entr(y/ies) match the chain" in out
    # New reads go on after the prune, chained to what is left.
    with _access_log(own_settings) as log:
        log.record(_read(START + timedelta(days=20)))
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "all 6 entr(y/ies)" in out


def test_a_prune_of_everything_leaves_a_boundary_the_next_read_follows(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings, reads=3)
    assert _prune(own_settings, START + timedelta(days=100)) == 3
    with _access_log(own_settings) as log:
        log.record(_read(START + timedelta(days=200)))

    code, out = _verify(rodedraad, own_settings)

    assert code == 0, out
    assert [tuple(r) for r in _execute(own_settings, "SELECT position FROM {reads}")] == [(4,)]


def test_a_prune_that_kept_no_boundary_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _prune(own_settings, START + timedelta(days=3))
    _execute(own_settings, "DELETE FROM {boundaries} WHERE kind = 'prune'")

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 1: the log should go on at position 1" in out


def test_entries_removed_from_the_start_without_a_prune_are_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE position <= 2")

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: MISMATCH at entry 1:" in out


@pytest.mark.parametrize("forged", ["hash", "position"])
def test_a_forged_prune_boundary_is_named(
    own_settings: Settings, rodedraad: Rodedraad, forged: str
) -> None:
    """A boundary whose hash is not the removed entry's, or that claims more (or fewer)
    entries removed than were."""
    _logged(own_settings)
    _prune(own_settings, START + timedelta(days=3))
    if forged == "hash":
        _execute(own_settings, "UPDATE {boundaries} SET hash = {mark}", (bytes(32),))
        expected = "read log: MISMATCH at entry 4:"
    else:
        _execute(own_settings, "UPDATE {boundaries} SET up_to_position = 2 WHERE kind = 'prune'")
        expected = "read log: MISMATCH at entry 3: the log should go on at position 3"

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert expected in out


def test_reads_written_before_the_chain_are_chained_by_migrate(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings, reads=5)
    # As a version before the chain left it: no positions, no hashes, migration not run.
    _execute(own_settings, "UPDATE {reads} SET position = NULL, chain_hash = NULL")
    _execute(own_settings, "DELETE FROM {boundaries}")
    _execute(
        own_settings,
        f"DELETE FROM {RECORDS_TABLE} WHERE name = {{mark}}",
        ("0003_read_log_chain",),
    )

    code, out, _ = rodedraad(own_settings, "migrate")
    assert code == 0, out

    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: entries up to position 5 were chained by the migration" in out
    assert "read log: all 5 entr(y/ies) match the chain" in out


def test_concurrent_readers_logging_at_once_get_one_unbroken_chain(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """Two processes' logs (two pools on PostgreSQL) appending at the same time."""
    build_care_record(own_settings).close()
    logs = [build_access_log(own_settings) for _ in range(2)]

    def log_reads(log: AccessLog, user: str) -> None:
        for i in range(25):
            log.record(_read(START + timedelta(minutes=i), user=user))

    try:
        threads = [
            threading.Thread(target=log_reads, args=(log, f"u-{n}")) for n, log in enumerate(logs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for log in logs:
            log.close()

    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: all 50 entr(y/ies) match the chain" in out


def test_the_retention_command_prunes_reads_older_than_the_log_period(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    now = datetime.now(UTC)
    with _access_log(own_settings) as log:
        for age_days in (6 * 366, 5 * 366, 30, 1):  # the default period is 5 years
            log.record(_read(now - timedelta(days=age_days)))

    code, out, _ = rodedraad(own_settings, "retention", "purge-log")

    assert code == 0, out
    assert "read log: 2 entr(y/ies)" in out
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: entries up to position 2 removed by retention" in out


# --- the seals sign the read log's head (version 2 seals) --------------------------------------

_COLUMNS = ", ".join(FIELDS)


def _sealed(rodedraad: Rodedraad, settings: Settings) -> str:
    """``rodedraad audit seal`` with the deployment's key (made on the first call)."""
    key = SigningKeyFile(settings.signing.key_file, create_on_first_need=False)
    if not key.exists():
        key.create()
    code, out, err = rodedraad(settings, "audit", "seal")
    assert code == 0, err
    return out


def _in_event_store(settings: Settings, sql: str, params: Sequence[Any]) -> None:
    """A statement straight in the event store (where the seals are), past the application."""
    if settings.database.is_postgres:
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            conn.execute(sql.format(mark="%s"), params)
        return
    conn = sqlite3.connect(settings.database.sqlite_path, isolation_level=None)
    try:
        conn.execute(sql.format(mark="?"), params)
    finally:
        conn.close()


def _rechain(settings: Settings) -> None:
    """What an insider with write access does after deleting entries: number what is left
    1, 2, 3, … again and recompute every hash, so the chain alone verifies."""
    rows = _execute(settings, f"SELECT position, {_COLUMNS} FROM {{reads}} ORDER BY position")
    previous = bytes(32)
    for new, (old, *fields) in enumerate(rows, 1):
        previous = link(previous, new, fields)
        _execute(
            settings,
            "UPDATE {reads} SET position = {mark}, chain_hash = {mark} WHERE position = {mark}",
            (new, previous, old),
        )


def test_an_insider_who_deletes_their_reads_and_rechains_the_rest_is_caught_by_the_seal(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _sealed(rodedraad, own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE user_id = 'u-1'")
    _rechain(own_settings)

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: all 5 entr(y/ies) match the chain" in out, "the chain alone is fooled"
    assert "read log: SEAL MISMATCH at seal 1 (read-log entry 8):" in out
    assert "is gone and no prune removed it" in out


def test_an_insider_who_rechains_and_fills_up_to_the_sealed_position_is_caught(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """Deleting a read and appending a harmless one keeps the sealed position there, but not
    its hash."""
    _logged(own_settings)
    _sealed(rodedraad, own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE position = 3")
    _rechain(own_settings)
    with _access_log(own_settings) as log:
        log.record(_read(START + timedelta(days=30)))

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: SEAL MISMATCH at seal 1 (read-log entry 8): the entry at position 8 " in out


def test_reads_removed_from_the_end_before_the_last_seal_are_caught(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _sealed(rodedraad, own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE position >= 7")

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: all 6 entr(y/ies) match the chain" in out
    assert "read log: SEAL MISMATCH at seal 1 (read-log entry 8):" in out


def test_reads_after_the_last_seal_are_reported_as_the_unsealed_tail(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings)
    _sealed(rodedraad, own_settings)
    with _access_log(own_settings) as log:
        log.record_many([_read(START + timedelta(days=40)), _read(START + timedelta(days=41))])

    code, out = _verify(rodedraad, own_settings)

    assert code == 0, out
    assert "read log: the heads signed by 1 seal(s) hold, up to entry 8" in out
    assert "read log: unsealed tail: 2 entr(y/ies) from entry 9, written since 2026-02-14" in out
    # Cut off, they cannot be told from the record: only the tail's size was reported.
    _execute(own_settings, "DELETE FROM {reads} WHERE position > 8")
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: unsealed tail: none, every entry is sealed" in out


def test_a_seal_is_taken_when_only_the_read_log_moved(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _logged(own_settings, reads=2)
    first = _sealed(rodedraad, own_settings)
    assert "nothing to seal" in _sealed(rodedraad, own_settings)
    with _access_log(own_settings) as log:
        log.record(_read(START + timedelta(days=3)))

    second = _sealed(rodedraad, own_settings)

    # No event in the log: both seals cover no event position, each the read log's head.
    assert "\nrodedraad-seal/2 1 0 0 0 " in f"\n{first}"
    assert "\nrodedraad-seal/2 2 0 0 0 " in f"\n{second}"
    head = bytes(_execute(own_settings, "SELECT chain_hash FROM {reads} WHERE position = 3")[0][0])
    assert f" 3 {head.hex()} " in second
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: the heads signed by 2 seal(s) hold, up to entry 3" in out


def test_a_rewritten_read_log_head_in_a_seal_breaks_its_signature(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """Moving the sealed head back over the deleted reads needs the signing key."""
    _logged(own_settings)
    _sealed(rodedraad, own_settings)
    _execute(own_settings, "DELETE FROM {reads} WHERE position >= 7")
    head = bytes(_execute(own_settings, "SELECT chain_hash FROM {reads} WHERE position = 6")[0][0])
    _in_event_store(
        own_settings,
        f"UPDATE {SEALS} SET read_log_position = {{mark}}, read_log_hash = {{mark}}",
        (6, head),
    )

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "SEAL MISMATCH at seal 1" in out
    assert "its signature does not match key" in out


def test_a_prune_of_sealed_reads_past_their_retention_still_verifies(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    now = datetime.now(UTC)
    with _access_log(own_settings) as log:
        for age_days in (7 * 366, 6 * 366, 30, 1):  # the default period is 5 years
            log.record(_read(now - timedelta(days=age_days)))
    _sealed(rodedraad, own_settings)  # head: entry 4
    with _access_log(own_settings) as log:
        log.record(_read(now))
    _sealed(rodedraad, own_settings)  # head: entry 5

    # A seal whose head is older than the period, pruned with it.
    with _access_log(own_settings) as log:
        log.record(_read(now - timedelta(days=6 * 366)))  # a writer's slow clock, entry 6
    assert _prune(own_settings, now - timedelta(days=5 * 366)) == 2

    code, out = _verify(rodedraad, own_settings)

    assert code == 0, out
    assert "read log: the heads signed by 2 seal(s) hold, up to entry 5" in out
    assert "read log: unsealed tail: 1 entr(y/ies) from entry 6" in out


def test_a_prune_that_removes_sealed_reads_inside_their_retention_is_caught(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """An insider who hides recent reads by pruning them (the prune keeps a boundary, so the
    chain alone verifies) is caught by the sealed head's moment."""
    now = datetime.now(UTC)
    with _access_log(own_settings) as log:
        for age_days in (30, 20, 10):
            log.record(_read(now - timedelta(days=age_days)))
    _sealed(rodedraad, own_settings)
    with _access_log(own_settings) as log:
        log.record(_read(now))
    assert _prune(own_settings, now - timedelta(days=5)) == 3

    code, out = _verify(rodedraad, own_settings)

    assert code == 1
    assert "read log: all 1 entr(y/ies) match the chain" in out
    assert "read log: SEAL MISMATCH at seal 1 (read-log entry 3): a prune" in out
    assert "before its retention period ended" in out


def test_a_seal_taken_before_the_read_log_was_sealed_still_verifies(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """A version 1 seal (taken without the read log, as before migration 0009) keeps its line
    and its signature, and covers no read log; later seals do."""
    _logged(own_settings, reads=2)
    key = SigningKeyFile(own_settings.signing.key_file, create_on_first_need=False)
    key.create()
    record = build_care_record(own_settings)
    try:
        Story(record, clients=1)  # events for the old seal to cover
        (old,) = Seals(record.recorder).take(key.load(), datetime.now(UTC))
    finally:
        record.close()
    assert old.read_log is None
    assert old.payload().startswith(b"rodedraad-seal/1 1 ")

    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "read log: no seal has signed its head yet" in out
    assert "read log: unsealed tail: 2 entr(y/ies) from entry 1" in out

    assert "\nrodedraad-seal/2 2 " in f"\n{_sealed(rodedraad, own_settings)}"
    code, out = _verify(rodedraad, own_settings)
    assert code == 0, out
    assert "all 2 seal(s) hold" in out
    assert "read log: the heads signed by 1 seal(s) hold, up to entry 2" in out
