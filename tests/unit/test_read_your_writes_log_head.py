"""Read your writes: a ``min_position`` past the event log's head is refused (422), not waited
for (503 "retry shortly" for ever); the head is read only when the read model is behind."""

from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from api.common import LogHeadSeen, PositionNotWritten, ReadModelBehind, ReadYourWrites

#: What the read model has processed, and the log's head.
PROCESSED = 5
HEAD = 7


def _queries() -> Any:
    async def positions() -> dict[str, int]:
        return {"plan_state": PROCESSED}

    return SimpleNamespace(tracking=SimpleNamespace(positions=positions))


def _wait(wanted: int, log_head: Any) -> None:
    consistency = ReadYourWrites(_queries(), wanted, 0, log_head=log_head)
    anyio.run(consistency.reached, "plan_state")


def _unread() -> int:
    raise AssertionError("the head is read only when the read model is behind")


def test_a_position_past_the_log_s_head_is_refused_naming_the_head_not_the_value() -> None:
    with pytest.raises(PositionNotWritten) as refused:
        _wait(123_456_789, lambda: HEAD)

    told = refused.value.message
    assert f"at position {HEAD}" in told
    assert "123456789" not in told


def test_a_position_written_but_not_yet_processed_is_waited_for() -> None:
    with pytest.raises(ReadModelBehind) as behind:
        _wait(HEAD, lambda: HEAD)

    assert "retry shortly" in behind.value.message


def test_a_position_processed_already_reads_no_head() -> None:
    _wait(PROCESSED, _unread)


def test_the_head_is_read_again_only_for_a_position_past_the_highest_seen() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(HEAD)
        return HEAD

    heads = LogHeadSeen(read)
    with pytest.raises(ReadModelBehind):
        _wait(HEAD, heads.past(HEAD))  # (read once: nothing seen yet)
    for wanted in (PROCESSED + 1, HEAD):  # (at or below the head seen: not read again)
        assert heads.past(wanted) is None
        with pytest.raises(ReadModelBehind):
            _wait(wanted, heads.past(wanted))
    with pytest.raises(PositionNotWritten):
        _wait(HEAD + 1, heads.past(HEAD + 1))  # (past it: read again, and refused)

    assert reads == [HEAD, HEAD]
    assert heads.past(None) is None
