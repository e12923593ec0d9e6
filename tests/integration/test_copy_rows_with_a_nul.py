"""Rows copied into a read model on PostgreSQL: a NUL in their text is stored as U+FFFD, however
many rows there are, and the transaction goes on.

From ``COPY_AS_THEY_ARE`` rows on, ``PostgresTx.insert_rows`` sends rows as they are in a
savepoint and sends them again without NULs only if psycopg refused one (issue #22); below it,
it replaces first. Both ways must store the same rows and leave the transaction usable.
"""

import uuid

import psycopg
import pytest

from application.sql import COPY_AS_THEY_ARE
from projections import deadlines, timeline
from projections.plan_state import projection as plan_state
from projections.store import PostgresProjectionDatabase
from projections.worker import all_projections
from scheduler.policy import read_policy

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("count", [3, COPY_AS_THEY_ARE, COPY_AS_THEY_ARE * 3])
@pytest.mark.parametrize("nul_at", [None, 0, -1])
def test_rows_with_and_without_a_nul_are_all_stored(
    postgres_url: str, count: int, nul_at: int | None, binary: bool
) -> None:
    """In text form and, given the columns' types, in binary form."""
    table = f"t_copy_{count}_{'none' if nul_at is None else abs(nul_at)}_{int(binary)}"
    rows = [(i, f"text {i}", None if i % 2 else "x") for i in range(count)]
    if nul_at is not None:
        i = range(count)[nul_at]
        rows[nul_at] = (i, f"text\x00{i}", "y\x00")
    database = PostgresProjectionDatabase(postgres_url)
    try:
        with database.transaction() as tx:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
            tx.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT)")
            tx.insert_rows(
                table, ("n", "a", "b"), rows, ("int4", "text", "text") if binary else None
            )
            # The transaction goes on after a refused copy (its savepoint rolled back only).
            tx.execute(f"INSERT INTO {table} (n, a) VALUES (?, ?)", (count, "after"))
        with database.transaction() as tx:
            stored = tx.fetchall(f"SELECT n, a, b FROM {table} ORDER BY n")
            tx.execute(f"DROP TABLE {table}")
    finally:
        database.close()
    expected = [
        (n, a.replace("\x00", "\ufffd"), b and b.replace("\x00", "\ufffd")) for n, a, b in rows
    ]
    assert stored == [*expected, (count, "after", None)]


@pytest.mark.parametrize("binary", [False, True])
def test_an_integer_beyond_32_bits_is_refused_in_either_form_never_stored_wrapped(
    postgres_url: str, binary: bool
) -> None:
    table = f"t_copy_wide_{int(binary)}"
    rows = [(i, f"text {i}", None) for i in range(COPY_AS_THEY_ARE)]
    rows[-1] = (2**31, "too wide", None)
    database = PostgresProjectionDatabase(postgres_url)
    try:
        with database.transaction() as tx:
            tx.execute(f"DROP TABLE IF EXISTS {table}")
            tx.execute(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT)")
        with pytest.raises(psycopg.errors.NumericValueOutOfRange), database.transaction() as tx:
            tx.insert_rows(
                table, ("n", "a", "b"), rows, ("int4", "text", "text") if binary else None
            )
        with database.transaction() as tx:
            stored = tx.fetchall(f"SELECT count(*) FROM {table}")
            tx.execute(f"DROP TABLE {table}")
    finally:
        database.close()
    assert stored == [(0,)]


def test_copy_refuses_a_nul_before_sending_it(postgres_url: str) -> None:
    """What the savepoint relies on: psycopg raises ``DataError`` for text with a NUL."""
    with psycopg.connect(postgres_url) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE t_nul (a TEXT)")
        with pytest.raises(psycopg.DataError), cursor.copy("COPY t_nul (a) FROM STDIN") as copy:
            copy.write_row(("a\x00b",))


#: Each rebuild table copied in binary form: (projection, table, its columns, their types).
BINARY_COPIES = [
    ("plan_state", "rm_trajectories", plan_state._COLUMNS, plan_state._TYPES),
    ("plan_state", "rm_trajectory_parties", plan_state._PARTY_COLUMNS, plan_state._PARTY_TYPES),
    ("timeline", "rm_timeline", timeline._COLUMNS, timeline._TYPES),
    ("deadlines", "rm_deadlines", deadlines._DEADLINE_COLUMNS, deadlines._DEADLINE_TYPES),
    ("deadlines", "rm_deadline_facts", deadlines._FACT_COLUMNS, deadlines._FACT_TYPES),
]
_NAMES = {"text": "text", "integer": "int4", "bigint": "int8", "bytea": "bytea"}


@pytest.mark.parametrize(("name", "table", "columns", "types"), BINARY_COPIES)
def test_the_types_a_projection_copies_with_are_its_tables(
    postgres_url: str, name: str, table: str, columns: tuple[str, ...], types: tuple[str, ...]
) -> None:
    """A binary copy whose types do not match the table is refused as a ``DataError`` and
    silently sent again in text form (slower): the declared types must be the DDL's."""
    projection = next(p for p in all_projections(read_policy(None), keys=None) if p.name == name)  # type: ignore[arg-type]
    suffix = f"_types_{uuid.uuid4().hex[:6]}"
    database = PostgresProjectionDatabase(postgres_url)
    try:
        with database.transaction() as tx:
            for statement in projection.ddl(suffix, suffix.lstrip("_")):
                tx.execute(statement)
            found = dict(
                tx.fetchall(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = ?",
                    (f"{table}{suffix}",),
                )
            )
            for dropped in projection.tables:
                tx.execute(f"DROP TABLE {dropped}{suffix}")
    finally:
        database.close()
    assert len(columns) == len(types)
    assert {c: _NAMES[found[c]] for c in columns} == dict(zip(columns, types, strict=True))
