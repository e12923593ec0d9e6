"""Issue #16 on each backend: a change to the stored events shows, and so does a truncation
into the sealed part of the log.

The tampering is done as an insider would: straight in the SQLite file, or in PostgreSQL's
rows, past the application. ``rodedraad audit verify`` then names the first position that
does not match and exits 1.
"""

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from application.access_log import PersonalDataRead
from application.care_record import CareRecord
from application.commands import EraseClient
from application.commit_times import CommitTimes, CommitTimesSQLiteRecorder
from application.event_chain import (
    COMMIT_TIMES,
    GENESIS_TABLE,
    HASH_COLUMN,
    PER_POSITION_TABLE,
    link,
)
from application.migrations import RECORDS_TABLE, migrate
from application.personal_fields import committed_fields
from application.pg_recorder import LockedInsertRecorder
from application.seals import SEALS, Seal, Seals
from application.signing import SigningKey, SigningKeyFile
from rodedraad.settings import Settings
from rodedraad.wiring import (
    build_access_log,
    build_care_record,
    build_deadline_scheduler,
    build_leader_lock,
    build_policy,
    build_projection_worker,
    seal_job,
    stores_of,
)
from scheduler.runner import BackgroundDeadlines
from tests.integration.conftest import Rodedraad
from tests.integration.stories import Story
from tests.support import context, said


@contextmanager
def _raw(settings: Settings) -> Iterator[tuple[Any, str, str, str]]:
    """A connection past the application: (connection, events table, position column, mark)."""
    database = settings.database
    if database.is_postgres:
        with psycopg.connect(database.url, autocommit=True) as conn:
            yield conn, f"{CareRecord.name}_events", "notification_id", "%s"
        return
    conn = sqlite3.connect(database.sqlite_path, isolation_level=None)
    try:
        yield conn, "stored_events", "rowid", "?"
    finally:
        conn.close()


def _execute(settings: Settings, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    with _raw(settings) as (conn, events, position, mark):
        cursor = conn.execute(sql.format(events=events, position=position, mark=mark), params)
        return list(cursor.fetchall()) if cursor.description else []


#: The migration that drops the client snapshots taken before consents kept their moment.
CLIENT_SNAPSHOTS_MIGRATION = "0013_client_snapshots_without_consent_moments"


def _recorded(settings: Settings, clients: int = 3, *, remake_writer: bool = False) -> Story:
    record = build_care_record(settings)
    try:
        if remake_writer:  # PostgreSQL: the locked-insert function of the recorder's class
            record.recorder.create_table()  # type: ignore[attr-defined]
        story = Story(record, clients=clients)
        for thread in story.threads:
            story._refer(thread, 1, 0, None)
        return story
    finally:
        record.close()


def _positions(settings: Settings) -> list[int]:
    return [int(r[0]) for r in _execute(settings, "SELECT {position} FROM {events} ORDER BY 1")]


def _state(settings: Settings, position: int) -> bytes:
    rows = _execute(settings, "SELECT state FROM {events} WHERE {position} = {mark}", (position,))
    return bytes(rows[0][0])


def _set_state(settings: Settings, position: int, state: bytes) -> None:
    _execute(
        settings, "UPDATE {events} SET state = {mark} WHERE {position} = {mark}", (state, position)
    )


def _named(out: str) -> range:
    """The positions ``audit verify`` names: one position, or a commit's range of them."""
    one = re.search(r"MISMATCH at position (\d+):", out)
    if one:
        return range(int(one[1]), int(one[1]) + 1)
    commit = re.search(r"MISMATCH in the commit of positions (\d+) to (\d+):", out)
    assert commit, out
    return range(int(commit[1]), int(commit[2]) + 1)


def _commit_of(settings: Settings, position: int) -> tuple[int, int]:
    """(first, last) position of the commit that wrote ``position``."""
    rows = _execute(
        settings,
        f"SELECT first_position, last_position FROM {COMMIT_TIMES} "
        "WHERE last_position >= {mark} ORDER BY last_position LIMIT 1",
        (position,),
    )
    return int(rows[0][0]), int(rows[0][1])


def test_a_fresh_store_verifies(own_settings: Settings, rodedraad: Rodedraad) -> None:
    _recorded(own_settings)

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 0, out
    assert f"all {len(_positions(own_settings))} event(s) match the chain" in out


def test_a_changed_byte_in_an_events_stored_state_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    target = _positions(own_settings)[4]
    state = bytearray(_state(own_settings, target))
    state[len(state) // 2] ^= 0x01
    _set_state(own_settings, target, bytes(state))

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert target in _named(out)
    assert list(_named(out)) == list(range(*_range_of(own_settings, target)))


def _range_of(settings: Settings, position: int) -> tuple[int, int]:
    """The positions of the commit that wrote ``position``, as ``range`` arguments."""
    first, last = _commit_of(settings, position)
    return first, last + 1


@pytest.mark.parametrize("with_its_commit", [False, True], ids=["event-alone", "whole-commit"])
def test_a_removed_event_is_named(
    own_settings: Settings, rodedraad: Rodedraad, with_its_commit: bool
) -> None:
    """Removed alone, its commit is named; a whole commit removed (its events and its row),
    the commit after it, whose hash no longer follows from the events before it."""
    _recorded(own_settings)
    positions = _positions(own_settings)
    first, last = _commit_of(own_settings, positions[len(positions) // 2])
    if with_its_commit:
        _execute(
            own_settings, f"DELETE FROM {COMMIT_TIMES} WHERE last_position = {{mark}}", (last,)
        )
        _execute(
            own_settings,
            "DELETE FROM {events} WHERE {position} >= {mark} AND {position} <= {mark}",
            (first, last),
        )
        expected = _range_of(own_settings, last + 1)
    else:
        _execute(own_settings, "DELETE FROM {events} WHERE {position} = {mark}", (first,))
        expected = (first, last + 1) if first < last else (last, last + 1)

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert list(_named(out)) == list(range(*expected)), out


def test_two_events_states_swapped_are_named_at_the_first(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    first, second = _positions(own_settings)[2], _positions(own_settings)[6]
    a, b = _state(own_settings, first), _state(own_settings, second)
    _set_state(own_settings, first, b)
    _set_state(own_settings, second, a)

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert first in _named(out)


def test_one_trajectory_is_verified_on_its_own(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    changed, untouched = story.threads[0].trajectories[-1], story.threads[1].trajectories[-1]
    key: Any = changed if own_settings.database.is_postgres else changed.hex
    target = int(
        _execute(
            own_settings,
            "SELECT {position} FROM {events} WHERE originator_id = {mark} "
            "ORDER BY originator_version LIMIT 1",
            (key,),
        )[0][0]
    )
    state = bytearray(_state(own_settings, target))
    state[-1] ^= 0xFF
    _set_state(own_settings, target, bytes(state))

    code, out, _ = rodedraad(own_settings, "audit", "verify", "--trajectory", str(untouched))
    assert code == 0, out
    code, out, _ = rodedraad(own_settings, "audit", "verify", "--trajectory", str(changed))
    assert code == 1
    assert list(_named(out)) == list(range(*_range_of(own_settings, target)))


def _erase(settings: Settings, client: Any) -> None:
    record = build_care_record(settings)
    try:
        record.erase_client(
            context(), client, None, said(EraseClient, context(), legal_basis="gdpr_request")
        )
    finally:
        record.close()


def test_an_erased_clients_events_still_verify(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    _erase(own_settings, story.threads[0].client_id)

    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    code, out, _ = rodedraad(
        own_settings, "audit", "verify", "--trajectory", str(story.threads[0].trajectories[-1])
    )
    assert code == 0, out


def _group_commit(settings: Settings, events: int) -> list[int]:
    """One commit of several events (as the group commit writes a batch): their positions."""
    record = build_care_record(settings)
    try:
        record.recorder.create_table()  # type: ignore[attr-defined]  # the writer as patched
        stored = [
            StoredEvent(
                originator_id=uuid4(),
                originator_version=1,
                topic="tests.chain:GroupCommitted",
                state=f'{{"n": {n}}}'.encode(),
            )
            for n in range(events)
        ]
        positions = record.recorder.insert_events(stored)
        assert positions is not None
        return list(positions)
    finally:
        record.close()


def _commit_rows(settings: Settings, first: int, last: int) -> list[tuple[int, int]]:
    rows = _execute(
        settings,
        f"SELECT first_position, last_position FROM {COMMIT_TIMES} WHERE last_position >= {{mark}} "
        "AND last_position <= {mark} ORDER BY last_position",
        (first, last),
    )
    return [(int(a), int(b)) for a, b in rows]


def _take_seals(settings: Settings, most: int) -> list[Seal]:
    """Seals over everything chained, at most ``most`` positions each (the key made first)."""
    key = SigningKeyFile(settings.signing.key_file, create_on_first_need=False).create()
    record = build_care_record(settings)
    try:
        return Seals(record.recorder).take(key, datetime.now(UTC), most=most)
    finally:
        record.close()


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_change_inside_a_group_commit_names_the_commit(
    own_settings: Settings, rodedraad: Rodedraad, where: str
) -> None:
    _recorded(own_settings, clients=1)
    group = _group_commit(own_settings, 5)
    _recorded(own_settings, clients=1)
    assert _commit_rows(own_settings, group[0], group[-1]) == [(group[0], group[-1])]
    target = {"first": group[0], "middle": group[2], "last": group[-1]}[where]
    _set_state(own_settings, target, b'{"n": 99}')

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert f"MISMATCH in the commit of positions {group[0]} to {group[-1]}:" in out


@pytest.mark.parametrize("where", ["first", "last"])
def test_an_event_removed_from_a_group_commit_names_the_commit(
    own_settings: Settings, rodedraad: Rodedraad, where: str
) -> None:
    group = _group_commit(own_settings, 4)
    _recorded(own_settings, clients=1)
    target = group[0] if where == "first" else group[-1]
    _execute(own_settings, "DELETE FROM {events} WHERE {position} = {mark}", (target,))

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert f"MISMATCH in the commit of positions {group[0]} to {group[-1]}:" in out


def test_a_changed_or_emptied_commit_hash_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    positions = _positions(own_settings)
    _, last = _commit_of(own_settings, positions[len(positions) // 2])
    (stored,), *_ = _execute(
        own_settings,
        f"SELECT {HASH_COLUMN} FROM {COMMIT_TIMES} WHERE last_position = {{mark}}",
        (last,),
    )
    changed = bytearray(stored)
    changed[0] ^= 0x01
    update = f"UPDATE {COMMIT_TIMES} SET {HASH_COLUMN} = {{mark}} WHERE last_position = {{mark}}"
    _execute(own_settings, update, (bytes(changed), last))
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 1
    assert last in _named(out)

    # Emptied instead: the next commit's hash still covers its events; the last commit's
    # emptied leaves its events outside the chain.
    _execute(own_settings, update, (None, last))
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    _execute(own_settings, update, (None, positions[-1]))
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 1
    assert "an event the chain does not cover" in out


def test_a_bulk_commit_keeps_the_hash_every_few_events(
    own_settings: Settings, rodedraad: Rodedraad, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit of more than ``CHECKPOINT_EVERY`` events is stamped in rows of at most that
    many, each with the chain's hash at its last; a change is named by its row's range, and
    seals that end inside a commit hold."""
    monkeypatch.setattr("application.event_chain.CHECKPOINT_EVERY", 3)
    monkeypatch.setattr("application.pg_recorder.CHECKPOINT_EVERY", 3)
    _recorded(own_settings, clients=1)
    group = _group_commit(own_settings, 8)
    _recorded(own_settings, clients=1)
    rows = _commit_rows(own_settings, group[0], group[-1])
    assert rows == [(group[0], group[2]), (group[3], group[5]), (group[6], group[7])]
    stamps = _execute(
        own_settings,
        f"SELECT DISTINCT committed_at FROM {COMMIT_TIMES} WHERE last_position >= {{mark}} "
        "AND last_position <= {mark}",
        (group[0], group[-1]),
    )
    assert len(stamps) == 1, "one commit, one stamp"
    taken = _take_seals(own_settings, most=5)
    assert any(s.last_position not in {last for _, last in rows} for s in taken)
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(taken)} seal(s) hold" in out

    _set_state(own_settings, group[4], b'{"n": 99}')
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 1
    assert f"MISMATCH in the commit of positions {group[3]} to {group[5]}:" in out


def test_a_store_made_before_the_chain_is_chained_by_migrate_and_verifies(
    own_settings: Settings, rodedraad: Rodedraad, monkeypatch: pytest.MonkeyPatch
) -> None:
    _recorded(own_settings)
    group = _group_commit(own_settings, 7)  # a bulk commit: split in rows of 3, 3 and 1
    last = _positions(own_settings)[-1]
    monkeypatch.setattr("application.event_chain.CHECKPOINT_EVERY", 3)
    # As a version before issue #16 left it: no chain, migration not run.
    _execute(own_settings, f"UPDATE {COMMIT_TIMES} SET {HASH_COLUMN} = NULL")
    _execute(own_settings, f"DELETE FROM {GENESIS_TABLE}")
    _execute(
        own_settings, f"DELETE FROM {RECORDS_TABLE} WHERE name = {{mark}}", ("0006_event_chain",)
    )

    code, out, err = rodedraad(own_settings, "migrate")
    assert code == 0, out + err
    assert f"chained after the fact, up to position {last}" in out + err
    assert _commit_rows(own_settings, group[0], group[-1]) == [
        (group[0], group[2]),
        (group[3], group[5]),
        (group[6], group[6]),
    ]

    _recorded(own_settings, clients=1)  # and the writer chains on from there
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"positions up to {last} were chained by the migration" in out


def test_a_store_with_a_row_per_position_keeps_its_hashes_per_commit_after_migrate(
    own_settings: Settings, rodedraad: Rodedraad, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As migrations 0006 to 0009 left a store: the chain in a table of a row per position,
    none in the commit rows. ``migrate`` moves each commit's last hash into its row (a bulk
    commit's split in rows of at most ``CHECKPOINT_EVERY`` events, each with the hash the
    old table holds at its last) and drops the table; the chain verifies and the writer
    chains on from there."""
    _recorded(own_settings)
    group = _group_commit(own_settings, 8)
    _recorded(own_settings, clients=1)
    blob = "BYTEA" if own_settings.database.is_postgres else "BLOB"
    _execute(
        own_settings,
        f"CREATE TABLE {PER_POSITION_TABLE} (position BIGINT PRIMARY KEY, hash {blob} NOT NULL)",
    )
    rows = _execute(
        own_settings,
        "SELECT {position}, originator_id, originator_version, topic, state FROM {events} "
        "ORDER BY {position}",
    )
    previous, old = bytes(32), {}
    for position, originator_id, version, topic, state in rows:
        originator = UUID(str(originator_id))
        previous = link(previous, int(position), originator, int(version), topic, bytes(state))
        old[int(position)] = previous
        _execute(
            own_settings,
            f"INSERT INTO {PER_POSITION_TABLE} (position, hash) VALUES ({{mark}}, {{mark}})",
            (int(position), previous),
        )
    commits = len(_execute(own_settings, f"SELECT last_position FROM {COMMIT_TIMES}"))
    _execute(own_settings, f"UPDATE {COMMIT_TIMES} SET {HASH_COLUMN} = NULL")
    monkeypatch.setattr("application.event_chain.CHECKPOINT_EVERY", 3)
    for name in (
        "0010_chain_per_commit",
        "0011_chain_per_commit_writer",
        "0012_drop_per_position_chain",
    ):
        _execute(own_settings, f"DELETE FROM {RECORDS_TABLE} WHERE name = {{mark}}", (name,))

    code, out, err = rodedraad(own_settings, "migrate")
    assert code == 0, out + err
    assert f"{commits + 2} commit row(s) carry the chain's hash at their last position" in out + err

    kept = {
        int(last): bytes(h)
        for last, h in _execute(
            own_settings, f"SELECT last_position, {HASH_COLUMN} FROM {COMMIT_TIMES}"
        )
    }
    assert kept == {last: old[last] for last in kept}
    assert _commit_rows(own_settings, group[0], group[-1]) == [
        (group[0], group[2]),
        (group[3], group[5]),
        (group[6], group[7]),
    ]
    with pytest.raises(Exception, match=PER_POSITION_TABLE):
        _execute(own_settings, f"SELECT 1 FROM {PER_POSITION_TABLE}")
    _recorded(own_settings, clients=1)
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(_positions(own_settings))} event(s) match the chain" in out


def test_the_chain_stays_consistent_with_several_writers(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    records = [build_care_record(own_settings) for _ in range(4)]
    errors: list[BaseException] = []

    def write(record: CareRecord) -> None:
        try:
            story = Story(record, clients=3)
            for thread in story.threads:
                story._refer(thread, 1, 0, None)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=write, args=(r,)) for r in records]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for record in records:
            record.close()

    assert not errors
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(_positions(own_settings))} event(s) match the chain" in out


def test_writers_taking_turns_chain_on_from_each_others_entries(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """A writer remembers the end of the chain it wrote last; when another writer (another
    process) wrote after it, its next insert follows that writer's entries, not its own."""
    first, second = build_care_record(own_settings), build_care_record(own_settings)
    try:
        for record in (first, second, first, second, first):
            story = Story(record, clients=1)
            story._refer(story.threads[0], 1, 0, None)
    finally:
        first.close()
        second.close()

    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(_positions(own_settings))} event(s) match the chain" in out


def test_events_an_older_writer_left_unchained_are_chained_by_the_next_insert(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """During an upgrade a process of the older version may still write: its events get no
    chain entry; the next insert of this version chains them first, in log order."""
    _recorded(own_settings, clients=1)
    LockedInsertRecorder.chained = CommitTimesSQLiteRecorder.chained = False
    try:
        _recorded(own_settings, clients=1, remake_writer=True)  # the older version's writer
    finally:
        LockedInsertRecorder.chained = CommitTimesSQLiteRecorder.chained = True
    (chained_to,) = _execute(
        own_settings,
        f"SELECT MAX(last_position) FROM {COMMIT_TIMES} WHERE {HASH_COLUMN} IS NOT NULL",
    )[0]
    assert chained_to < _positions(own_settings)[-1]

    _recorded(own_settings, clients=1, remake_writer=True)

    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(_positions(own_settings))} event(s) match the chain" in out


# --- seals (issue #16, second step) -------------------------------------------------------------


def _seal(settings: Settings, rodedraad: Rodedraad) -> str:
    """``rodedraad audit seal``, the signing key made first (PostgreSQL makes it on purpose)."""
    SigningKeyFile(settings.signing.key_file, create_on_first_need=False).create()
    code, out, err = rodedraad(settings, "audit", "seal")
    assert code == 0, out + err
    return out


def test_a_seal_covers_the_log_and_leaves_no_unsealed_tail(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    last = _positions(own_settings)[-1]

    out = _seal(own_settings, rodedraad)
    assert f"\nrodedraad-seal/2 1 0 {last} {len(_positions(own_settings))} " in f"\n{out}"
    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 0, out
    assert "all 1 seal(s) hold" in out
    assert "unsealed tail: none" in out
    code, again, _ = rodedraad(own_settings, "audit", "seal")
    assert code == 0
    assert "nothing to seal: every chained position is sealed already" in again


def test_a_long_range_is_sealed_in_several_bounded_seals(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    positions = _positions(own_settings)
    taken = _take_seals(own_settings, most=4)

    assert [s.entries for s in taken] == [4] * (len(positions) // 4) + (
        [len(positions) % 4] if len(positions) % 4 else []
    )
    assert [s.after_position for s in taken[1:]] == [s.last_position for s in taken[:-1]]
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"all {len(taken)} seal(s) hold, over {len(positions)} position(s)" in out


@pytest.mark.parametrize(
    ("column", "key_at_hand", "named"),
    [
        ("root", True, "its signature does not match"),
        ("signature", True, "its signature does not match"),
        ("root", False, "its Merkle root does not match the chain entries of its range"),
    ],
    ids=["root", "signature", "root-no-public-key"],
)
def test_a_rewritten_seal_is_named(
    own_settings: Settings, rodedraad: Rodedraad, column: str, key_at_hand: bool, named: str
) -> None:
    """The root is signed, so a changed root fails the signature; with no public key at hand
    it still fails against the chain entries it sealed."""
    _recorded(own_settings)
    _seal(own_settings, rodedraad)
    _recorded(own_settings, clients=1)
    _seal(own_settings, rodedraad)
    value = bytearray(
        _execute(own_settings, f"SELECT {column} FROM {SEALS} WHERE number = 2")[0][0]
    )
    value[5] ^= 0x01
    first = _execute(own_settings, f"SELECT after_position FROM {SEALS} WHERE number = 2")[0][0] + 1
    _execute(
        own_settings, f"UPDATE {SEALS} SET {column} = {{mark}} WHERE number = 2", (bytes(value),)
    )

    if not key_at_hand:
        own_settings.signing.key_file.unlink()

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert f"SEAL MISMATCH at seal 2 (position {first}): {named}" in out


def test_an_auditors_public_key_wins_over_the_deployments(
    own_settings: Settings, rodedraad: Rodedraad, tmp_path: Path
) -> None:
    _recorded(own_settings, clients=1)
    _seal(own_settings, rodedraad)
    deployments = tmp_path / "deployment.pem"
    deployments.write_text(
        SigningKeyFile(own_settings.signing.key_file, create_on_first_need=False)
        .load()
        .public_key_pem()
    )
    another = tmp_path / "another.pem"
    another.write_text(SigningKey.generate().public_key_pem())

    code, out, _ = rodedraad(own_settings, "audit", "verify", "--public-key", str(deployments))
    assert code == 0, out
    code, out, _ = rodedraad(own_settings, "audit", "verify", "--public-key", str(another))
    assert code == 1
    assert "SEAL MISMATCH at seal 1" in out
    assert "signature does not match" in out


def _truncate(settings: Settings, count: int) -> list[int]:
    """Whole commits removed from the end of the log, events and rows, as an insider would:
    at least ``count`` events."""
    first, _ = _commit_of(settings, _positions(settings)[-count])
    removed = [p for p in _positions(settings) if p >= first]
    _execute(settings, "DELETE FROM {events} WHERE {position} >= {mark}", (first,))
    _execute(settings, f"DELETE FROM {COMMIT_TIMES} WHERE last_position >= {{mark}}", (first,))
    return removed


def test_the_unsealed_tail_is_reported_and_its_truncation_cannot_be_told(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    _seal(own_settings, rodedraad)
    sealed = len(_positions(own_settings))
    _recorded(own_settings, clients=1)
    tail = _positions(own_settings)[sealed:]

    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"unsealed tail: {len(tail)} position(s) from position {tail[0]}, committed since" in out

    _truncate(own_settings, len(tail))
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, "the limit seals leave: a cut-off tail leaves no trace"
    assert "unsealed tail: none" in out


def test_a_truncation_into_a_sealed_range_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    _recorded(own_settings)
    _seal(own_settings, rodedraad)
    _recorded(own_settings, clients=1)
    _seal(own_settings, rodedraad)
    first_of_second = (
        int(_execute(own_settings, f"SELECT after_position FROM {SEALS} WHERE number = 2")[0][0])
        + 1
    )
    _truncate(own_settings, 3)

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert f"SEAL MISMATCH at seal 2 (position {first_of_second}): it sealed" in out
    assert "entries were removed" in out


def test_an_erased_clients_events_still_verify_with_seals(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    _seal(own_settings, rodedraad)
    _erase(own_settings, story.threads[0].client_id)
    _seal(own_settings, rodedraad)

    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert "all 2 seal(s) hold" in out
    trajectory = story.threads[0].trajectories[-1]
    code, out, _ = rodedraad(own_settings, "audit", "verify", "--trajectory", str(trajectory))
    assert code == 0, out
    assert "event(s) proved included in the seals that cover them, 0 not sealed yet" in out


def test_a_trajectorys_events_are_proved_against_a_rewritten_seal(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    _seal(own_settings, rodedraad)
    _execute(own_settings, f"UPDATE {SEALS} SET entries = entries + 1 WHERE number = 1")

    trajectory = story.threads[0].trajectories[-1]
    code, out, _ = rodedraad(own_settings, "audit", "verify", "--trajectory", str(trajectory))

    assert code == 1
    assert "SEAL MISMATCH at seal 1" in out


def _personal_data_read() -> PersonalDataRead:
    return PersonalDataRead(
        at=datetime.now(UTC),
        user_id="u-1",
        organisation="org-a",
        role="coordinator",
        client_id=uuid4(),
        trajectory_id=None,
        endpoint="GET /v1/clients/{id}",
        request_id=uuid4().hex,
    )


def test_the_scheduler_seals_the_chain_when_a_seal_is_due(own_settings: Settings) -> None:
    SigningKeyFile(own_settings.signing.key_file, create_on_first_need=False).create()
    _recorded(own_settings, clients=1)
    record = build_care_record(own_settings)
    policy = build_policy(own_settings)
    worker = build_projection_worker(own_settings, record, policy=policy)
    scheduler = build_deadline_scheduler(own_settings, record, policy, worker=worker)
    read_log = build_access_log(own_settings)
    take_seal = seal_job(own_settings, record, read_log)
    background = BackgroundDeadlines(
        scheduler, build_leader_lock(own_settings), interval=300, take_seal=take_seal
    )
    seals = Seals(record.recorder)
    try:
        background.tick()
        assert [s.last_position for s in seals.all()] == [_positions(own_settings)[-1]]
        _recorded(own_settings, clients=1)
        background.tick()
        assert len(seals.all()) == 1, "not due yet: the last seal is not an interval old"
        due = datetime.now(UTC) + timedelta(minutes=own_settings.seal_interval_minutes + 1)
        assert len(take_seal(due)) == 1
        assert [s.last_position for s in seals.all()][-1] == _positions(own_settings)[-1]
        assert take_seal(due + timedelta(hours=2)) == [], "nothing new: no seal"
        read_log.record(_personal_data_read())
        (only_reads,) = take_seal(due + timedelta(hours=4))
        assert only_reads.entries == 0, "only the read log moved: a seal over no event"
        assert only_reads.read_log is not None
        assert only_reads.read_log.position == read_log.head().position
    finally:
        background.lock.release()
        scheduler.database.close()
        read_log.close()
        record.close()


# --- snapshots against the events they summarise (issue #16, third step) --------------------------


def _snapshotted(settings: Settings, *aggregates: Any) -> None:
    record = build_care_record(settings)
    try:
        for aggregate in aggregates:
            record.take_snapshot(aggregate)
    finally:
        record.close()


def _snapshots(settings: Settings) -> str:
    return (
        "stored_snapshots" if not settings.database.is_postgres else f"{CareRecord.name}_snapshots"
    )


def test_snapshots_that_match_their_events_verify(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """Clients' snapshots too, whose personal fields are sealed under their keys."""
    story = _recorded(own_settings)
    _snapshotted(own_settings, *(t.trajectories[-1] for t in story.threads))
    _snapshotted(own_settings, *(t.client_id for t in story.threads))

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 0, out
    assert f"snapshots: all {2 * len(story.threads)} match the events they summarise" in out


def test_the_migration_drops_the_clients_snapshots_and_keeps_the_trajectories(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    """A client snapshot taken before a consent kept its moment held its day only: read from
    it, a handover an hour before a consent given later that day was covered (a review's
    finding). Migration 0013 drops every client snapshot; the clients read from their events."""
    story = _recorded(own_settings)
    clients = [t.client_id for t in story.threads]
    trajectories = [t.trajectories[-1] for t in story.threads]
    _snapshotted(own_settings, *trajectories, *clients)
    _execute(
        own_settings,
        f"DELETE FROM {RECORDS_TABLE} WHERE name = {{mark}}",
        (CLIENT_SNAPSHOTS_MIGRATION,),
    )

    applied = migrate(stores_of(own_settings))

    assert [a.label for a in applied] == [f"events/{CLIENT_SNAPSHOTS_MIGRATION}"]
    kept = {
        UUID(str(row[0])) if own_settings.database.is_postgres else UUID(hex=row[0])
        for row in _execute(own_settings, f"SELECT originator_id FROM {_snapshots(own_settings)}")
    }
    assert kept == set(trajectories)
    record = build_care_record(own_settings)
    try:
        consents = list(record.client(clients[0]).consents.values())
    finally:
        record.close()
    assert consents  # (the story's clients have given consents)
    assert all(c.granted_at is not None for c in consents)
    code, out, _ = rodedraad(own_settings, "audit", "verify")
    assert code == 0, out
    assert f"snapshots: all {len(trajectories)} match the events they summarise" in out


def test_a_changed_byte_in_a_snapshot_is_named(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    trajectory = story.threads[1].trajectories[-1]
    _snapshotted(own_settings, trajectory)
    key: Any = trajectory if own_settings.database.is_postgres else trajectory.hex
    table = _snapshots(own_settings)
    (state, version), *_ = _execute(
        own_settings,
        f"SELECT state, originator_version FROM {table} WHERE originator_id = {{mark}}",
        (key,),
    )
    changed = bytearray(state)
    changed[len(changed) // 2] ^= 0x01
    _execute(
        own_settings,
        f"UPDATE {table} SET state = {{mark}} WHERE originator_id = {{mark}}",
        (bytes(changed), key),
    )

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 1
    assert f"SNAPSHOT MISMATCH: the snapshot of {trajectory} at v{version}:" in out
    code, out, _ = rodedraad(own_settings, "audit", "verify", "--trajectory", str(trajectory))
    assert code == 1
    assert f"SNAPSHOT MISMATCH: the snapshot of {trajectory} at v{version}:" in out


def test_an_erased_clients_dropped_snapshots_leave_the_others_verified(
    own_settings: Settings, rodedraad: Rodedraad
) -> None:
    story = _recorded(own_settings)
    _snapshotted(own_settings, *(t.trajectories[-1] for t in story.threads))
    _seal(own_settings, rodedraad)
    _erase(own_settings, story.threads[0].client_id)

    code, out, _ = rodedraad(own_settings, "audit", "verify")

    assert code == 0, out
    assert f"snapshots: all {len(story.threads) - 1} match the events they summarise" in out
    assert "all 1 seal(s) hold" in out


def test_postgresql_seals_only_with_a_key_made_on_purpose(
    pg_settings: Settings, rodedraad: Rodedraad
) -> None:
    """No process makes the signing key on PostgreSQL: sealing says how to make it, and the
    scheduler's job seals nothing (and fails no other job) until then."""
    _recorded(pg_settings, clients=1)

    code, _, err = rodedraad(pg_settings, "audit", "seal")
    assert code == 2
    assert "rodedraad keys public --create" in err
    record = build_care_record(pg_settings)
    read_log = build_access_log(pg_settings)
    try:
        assert seal_job(pg_settings, record, read_log)(datetime.now(UTC)) == []
        assert Seals(record.recorder).all() == []
    finally:
        read_log.close()
        record.close()


@pytest.mark.parametrize(
    ("change", "unchanged"),
    [
        ("state = CAST(state AS TEXT)", True),
        ("state = CAST(state AS TEXT) || ' '", False),
        ("state = CAST(X'FF' || state AS TEXT)", False),
        ("topic = CAST(X'FF' || topic AS TEXT)", False),
    ],
    ids=["only-its-storage-class", "text-appended", "no-utf-8", "topic-no-utf-8"],
)
def test_a_state_changed_to_text_past_the_application_is_checked_not_a_crash(
    sqlite_settings: Settings, rodedraad: Rodedraad, change: str, unchanged: bool
) -> None:
    """Found by an outside probe: ``UPDATE … SET state = CAST(state AS TEXT)`` (or any edit by
    SQLite's string functions) made ``audit verify`` die with a traceback and every auditor
    route answer 500. The bytes are read as stored: the same bytes verify (and the audit
    export reads their sealed fields), others are named, a topic's as a state's."""
    story = _recorded(sqlite_settings)
    trajectory = story.trajectory_ids[0]
    record = build_care_record(sqlite_settings)
    try:
        before = CommitTimes(record.recorder).stored_events(trajectory)
    finally:
        record.close()
    target = before[0].position
    _execute(sqlite_settings, f"UPDATE {{events}} SET {change} WHERE rowid = {{mark}}", (target,))
    column = change.split(" ", 1)[0]
    assert _execute(
        sqlite_settings,
        f"SELECT typeof({column}) FROM {{events}} WHERE rowid = {{mark}}",
        (target,),
    ) == [("text",)]

    code, out, err = rodedraad(sqlite_settings, "audit", "verify")

    assert "Traceback" not in out + err
    if unchanged:
        assert code == 0, out + err
        record = build_care_record(sqlite_settings)
        try:
            after = CommitTimes(record.recorder).stored_events(trajectory)
            fields = committed_fields(record, [trajectory])  # (what an audit export reads)
        finally:
            record.close()
        assert after[0].stored.state == before[0].stored.state
        assert {f.version for f in fields} >= {1}
    else:
        assert code == 1, out + err
        assert target in _named(out)


def test_a_public_key_that_cannot_be_read_is_said_before_the_log_is_read(
    sqlite_settings: Settings, rodedraad: Rodedraad, tmp_path: Path
) -> None:
    """Found by an outside probe: ``--public-key /nonexistent`` was refused only after the
    whole log and the read log were checked (hours on a large store)."""
    _recorded(sqlite_settings)
    for key in (tmp_path / "missing.pem", tmp_path / "garbage.pem"):
        if key.name == "garbage.pem":
            key.write_text("not a key")

        code, out, err = rodedraad(sqlite_settings, "audit", "verify", "--public-key", str(key))

        assert code == 2, out + err
        assert str(key) in err
        assert "match the chain" not in out
        assert "read log" not in out
