"""What a stored idempotency row answers: only a complete answer is replayed."""

import pytest

from api.idempotency import IdempotencyConflict, _interpret


def _same(_fingerprint: str) -> bool:
    return True


def test_a_complete_answer_is_replayed_as_stored() -> None:
    answer = _interpret(("k", "fp", 201, b'{"version":1}', '"1"', "/v1/x"), _same)
    assert answer.status == 201
    assert answer.body == b'{"version":1}'


@pytest.mark.parametrize("body", [None, b"", "not bytes"])
def test_an_answer_without_a_body_is_not_replayed(body: object) -> None:
    with pytest.raises(IdempotencyConflict, match="in progress or was interrupted"):
        _interpret(("k", "fp", 201, body, None, None), _same)


def test_another_request_under_the_key_is_refused() -> None:
    with pytest.raises(IdempotencyConflict, match="different request"):
        _interpret(("k", "fp", 201, b"{}", None, None), lambda _fp: False)
