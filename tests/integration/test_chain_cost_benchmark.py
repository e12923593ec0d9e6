"""The chain-cost benchmark (issue #16) compares what it says it compares: two stores, one
written with the hash chain and one without, windows alternating between them."""

import sqlite3

import psycopg
import pytest
from benchmarks import chain_cost

from application.event_chain import COMMIT_TIMES, HASH_COLUMN

_COUNTS = f"SELECT COUNT(*), COUNT({HASH_COLUMN}) FROM {COMMIT_TIMES}"


def _commits(store: chain_cost._Store) -> tuple[int, int]:
    """(commits, commits carrying the chain's hash) of the store."""
    url = store.target.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            commits, chained = conn.execute(_COUNTS).fetchone()
            return int(commits), int(chained)
    with psycopg.connect(url) as conn:
        row = conn.execute(_COUNTS).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Short, but not so short that one stalled commit on a loaded CI machine (a store's first
    # command, a checkpoint's fsync) leaves a window without a finished command: CI once saw a
    # window of 0.4 s at one client end with none, and a paired ratio of 0.
    monkeypatch.setattr(chain_cost, "WARMUP_SECONDS", 0.5)
    monkeypatch.setattr(chain_cost, "WINDOW_SECONDS", 1.5)
    monkeypatch.setattr(chain_cost, "IN_DATABASE_CALLS", 50)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_only_the_store_with_the_chain_chains(
    backend: str, short_windows: None, request: pytest.FixtureRequest
) -> None:
    if backend == "postgres":
        request.getfixturevalue("postgres_url")  # skips locally without a server
    with chain_cost._pair(backend, seed=1) as stores:
        for on in (False, True):
            per_second, cpu_us = chain_cost._window(stores[on], backend, concurrency=2)
            assert per_second > 0
            assert cpu_us > 0
        commits, chained = _commits(stores[False])
        assert commits > 0
        assert chained == 0
        commits, chained = _commits(stores[True])
        assert commits > 0
        assert chained == commits


@pytest.mark.postgres
def test_paired_windows_and_the_in_database_figure(postgres_url: str, short_windows: None) -> None:
    result = chain_cost._measure("postgres", concurrency=1, pairs=2, seed=1)
    assert len(result["paired_ratios"]) == 2
    assert len(result["with_chain_per_second"]) == len(result["without_chain_per_second"]) == 2
    assert all(r > 0 for r in result["paired_ratios"])
    in_database = result["in_database_per_call"]
    # Both stores' functions timed and their WAL counted. (The chain adds 32 bytes to each
    # commit's row now, less than a checkpoint's page images add to either side: no ordering
    # of the two is asserted.)
    for side in ("with_chain", "without_chain"):
        assert in_database[side]["p25_us"] > 0
        assert in_database[side]["wal_bytes"] > 0


def test_the_control_pairs_two_stores_without_the_chain(
    short_windows: None,
) -> None:
    """The A/A control: both stores written without the chain, measured the same way."""
    with chain_cost._pair("sqlite", seed=1, control=True) as stores:
        for on in (False, True):
            chain_cost._window(stores[on], "sqlite", concurrency=2)
            commits, chained = _commits(stores[on])
            assert commits > 0
            assert chained == 0
