"""A refusal never echoes the value it refuses, and says what is taken instead (README, errors).

A year of birth is sealed personal data; a moment in the future, or a log position no write
ever answered, is refused for what it is, with what the server takes: the range of years, the
server's time, a position a command answered. A position past any the log can hold is refused
outright: answered 503 "retry shortly", a client retrying as told would loop for ever.
"""

from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from tests.e2e.steps import assert_problem, at, register_client

#: Past any position a 64-bit log can hold (what an outside probe sent).
HUGE = "99999999999999999999"


def test_a_year_of_birth_that_cannot_be_right_is_refused_without_echoing_it(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> None:
    client = register_client(http, auth)
    on = datetime.fromisoformat(at(4)).astimezone(UTC)
    refused_year = on.year + 4

    response = http.post(
        f"/v1/clients/{client.id}/birth-year",
        json={"occurred_at": at(4), "birth_year": refused_year},
        headers=auth,
    )

    problem = assert_problem(response, 422, field="birth_year")
    assert str(refused_year) not in response.text
    assert f"from {on.year - 130} to {on.year}" in problem["detail"], problem


def test_a_moment_in_the_future_is_refused_with_the_server_s_time_not_the_moment(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> None:
    client = register_client(http, auth)
    future = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0)
    sent = future.astimezone().isoformat()

    response = http.post(
        f"/v1/clients/{client.id}/birth-year",
        json={"occurred_at": sent, "birth_year": 2000},
        headers=auth,
    )

    problem = assert_problem(response, 422, field="occurred_at")
    assert "in the future" in problem["detail"]
    assert "server's time is" in problem["detail"]
    assert sent not in response.text
    assert future.date().isoformat() not in response.text


def test_a_min_position_past_any_the_log_can_hold_is_refused_not_waited_for(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> None:
    as_query = http.get("/v1/board", params={"min_position": HUGE}, headers=auth)
    as_header = http.get("/v1/board", headers={**auth, "X-Min-Position": HUGE})

    for response in (as_query, as_header):
        assert_problem(response, 422)
        assert "retry-after" not in response.headers
        assert HUGE not in response.text
