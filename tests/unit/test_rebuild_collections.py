"""The one-pass rebuild raises the garbage collector's thresholds while it runs (issue #22):
they are the process's, so they are put back when the last pass ends, also when a pass fails
and when passes overlap in threads."""

import gc
import threading

import pytest

from projections.worker import _fewer_collections


@pytest.fixture
def thresholds() -> tuple[int, int, int]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_a_failing_pass_puts_the_thresholds_back(thresholds: tuple[int, int, int]) -> None:
    seen: list[tuple[int, int, int]] = []

    def failing_pass() -> None:
        with _fewer_collections(50_000):
            seen.append(gc.get_threshold())
            raise RuntimeError("the pass failed")

    with pytest.raises(RuntimeError):
        failing_pass()

    assert seen == [(50_000, 10, 10)]
    assert gc.get_threshold() == thresholds


def test_overlapping_passes_put_them_back_when_the_last_ends(
    thresholds: tuple[int, int, int],
) -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def first() -> None:
        with _fewer_collections(50_000):
            first_in.set()
            second_in.wait(5)
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with _fewer_collections(50_000):
        second_in.set()
        first_out.wait(5)
        seen.append(gc.get_threshold())  # the first ended, this one still runs
    thread.join(5)

    assert seen == [(50_000, 10, 10)]
    assert gc.get_threshold() == thresholds
