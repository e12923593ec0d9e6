"""Optimistic concurrency (``If-Match``), races between writers, and ``Idempotency-Key``.

No update is ever lost and nothing is recorded twice: a stale ``If-Match`` gets 412 with the
current ETag; of two commands racing on one version exactly one is recorded; a retried command
with the same key returns the first answer.
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
import pytest
from litestar.testing import TestClient

from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    accepted_trajectory,
    active_trajectory,
    assert_answer,
    assert_problem,
    at,
    bearer,
    etag,
    events_of,
    recorded,
    referral,
    register_client,
    trajectory_with_plan,
)


def goal(name: str, hours: float = 3) -> dict[str, Any]:
    return {"occurred_at": at(hours), "goal_id": name, "description": f"Goal {name}"}


def new_key() -> str:
    return f"key-{uuid4()}"


# --- If-Match -----------------------------------------------------------------------------------


def test_a_command_with_a_stale_if_match_is_refused_with_the_current_etag_and_records_nothing(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        f"{trajectory.path}/goals",
        json=goal("goal-1"),
        headers={**module_auth, "If-Match": etag(1)},
    )

    problem = assert_problem(response, 412, rule="if-match-current-version")
    assert response.headers["etag"] == etag(2)
    assert "2" in problem["detail"]
    assert recorded(module_container) == before
    assert trajectory.state()["goals"] == []


def test_a_command_with_the_current_if_match_is_recorded(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)

    trajectory.post("/goals", goal("goal-1"), headers={**module_auth, "If-Match": etag(2)})

    assert [g["id"] for g in trajectory.state()["goals"]] == ["goal-1"]


@pytest.mark.parametrize("if_match", ['W/"2"', "*", "2"], ids=["weak", "any", "unquoted"])
def test_a_command_accepts_if_match_as_a_weak_etag_or_any_version(
    if_match: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)

    trajectory.post("/goals", goal("goal-1"), headers={**module_auth, "If-Match": if_match})


@pytest.mark.parametrize(
    "if_match",
    ["abc", '"two"', '"1", "2"', "", '"-1"', '"9999999999999"'],
    ids=["word", "quoted-word", "list", "empty", "negative", "too-long"],
)
def test_a_malformed_if_match_is_invalid_and_names_the_header(
    if_match: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        f"{trajectory.path}/goals",
        json=goal("goal-1"),
        headers={**module_auth, "If-Match": if_match},
    )

    assert_problem(response, 422, field="If-Match")
    assert recorded(module_container) == before


def test_a_client_command_with_a_stale_if_match_is_refused_too(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(1), "representative_ref": "rep-1"})

    response = module_http.post(
        f"{client.path}/representatives",
        json={"occurred_at": at(2), "representative_ref": "rep-2"},
        headers={**module_auth, "If-Match": etag(1)},
    )

    assert_problem(response, 412, rule="if-match-current-version")
    assert response.headers["etag"] == etag(2)
    assert client.state()["version"] == 2


# --- races --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_app(
    module_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
) -> Iterator[tuple[Container, TestClient]]:  # type: ignore[type-arg]
    """Another API process on the same database."""
    other = Container.build(module_app[0], inline_projections=True)
    try:
        with TestClient(app=other.http_app()) as client:
            yield other, client
    finally:
        other.close()


def hold_loads_until_both_loaded(
    monkeypatch: pytest.MonkeyPatch, raced: str, *containers: Container
) -> threading.Barrier:
    """Each command, once it has loaded the raced record, waits until the other one has too.

    Both then decide on the same version, and both try to record the next one. Only loads of
    the raced record count: an embedded scheduler run (or a seal) in the same process loads
    other records meanwhile, and counting those paired it with one command and left the other
    waiting alone (a 500 after the barrier's timeout, seen in CI).
    """
    barrier = threading.Barrier(2, timeout=10)
    for container in containers:
        load = container.care_record._load

        def held(cls: Any, aggregate_id: Any, load: Callable[..., Any] = load) -> Any:
            aggregate = load(cls, aggregate_id)
            if str(aggregate_id) == raced:
                barrier.wait()
            return aggregate

        monkeypatch.setattr(container.care_record, "_load", held)
    return barrier


def at_once(*requests: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda request: request(), requests))


def test_of_two_commands_racing_on_one_version_exactly_one_is_recorded(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    second_app: tuple[Container, TestClient],  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_container, other_http = second_app
    _, trajectory = accepted_trajectory(module_http, module_auth)
    hold_loads_until_both_loaded(monkeypatch, trajectory.id, module_container, other_container)

    answers = at_once(
        lambda: module_http.post(
            f"{trajectory.path}/goals", json=goal("goal-a"), headers=module_auth
        ),
        lambda: other_http.post(
            f"{trajectory.path}/goals", json=goal("goal-b"), headers=module_auth
        ),
    )
    monkeypatch.undo()

    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200)
    lost = next(a for a in answers if a.status_code == 409)
    assert_answer(won, 200, 3)
    assert_problem(lost, 409, rule="lost-race")
    trajectory.version = 3
    trajectory.seen(won.json())
    assert len(trajectory.state()["goals"]) == 1
    assert len(events_of(module_container, trajectory.id)) == 3


def test_of_two_commands_with_the_same_if_match_at_once_exactly_one_is_recorded(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "If-Match": etag(2)}

    answers = at_once(
        lambda: module_http.post(f"{trajectory.path}/goals", json=goal("goal-a"), headers=headers),
        lambda: module_http.post(f"{trajectory.path}/goals", json=goal("goal-b"), headers=headers),
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([200, 409], [200, 412]), [a.text for a in answers]
    assert len(events_of(module_container, trajectory.id)) == 3


def test_many_concurrent_commands_lose_nothing_and_record_nothing_twice(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    names = [f"goal-{n}" for n in range(8)]

    answers = dict(
        zip(
            names,
            at_once(
                *(
                    lambda name=name: module_http.post(
                        f"{trajectory.path}/goals", json=goal(name), headers=module_auth
                    )
                    for name in names
                )
            ),
            strict=True,
        )
    )

    recorded_goals = {name for name, a in answers.items() if a.status_code == 200}
    for answer in answers.values():
        if answer.status_code != 200:
            assert_problem(answer, 409, rule="lost-race")
    assert recorded_goals, "at least one command wins"
    versions = sorted(a.json()["version"] for a in answers.values() if a.status_code == 200)
    assert versions == list(range(3, 3 + len(recorded_goals)))
    trajectory.version = 2 + len(recorded_goals)
    trajectory.position = max(a.json()["position"] for a in answers.values() if a.is_success)
    assert {g["id"] for g in trajectory.state()["goals"]} == recorded_goals
    assert len(events_of(module_container, trajectory.id)) == trajectory.version


# --- Idempotency-Key ----------------------------------------------------------------------------


def test_a_replayed_command_returns_the_first_answer_and_records_nothing(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    first = module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)
    assert_answer(first, 200, 3)
    assert "idempotent-replayed" not in first.headers
    before = recorded(module_container)

    again = module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)

    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert recorded(module_container) == before
    trajectory.version = 3
    trajectory.seen(first.json())
    assert len(trajectory.state()["goals"]) == 1


def test_a_replayed_command_without_an_item_id_records_no_second_item(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    body = {"occurred_at": at(3), "description": "Back to school"}

    first = module_http.post(f"{trajectory.path}/goals", json=body, headers=headers)
    again = module_http.post(f"{trajectory.path}/goals", json=body, headers=headers)

    assert again.json()["item_id"] == first.json()["item_id"]
    trajectory.version = 3
    trajectory.seen(first.json())
    assert [g["id"] for g in trajectory.state()["goals"]] == [first.json()["item_id"]]


def test_a_replayed_referral_answers_the_same_trajectory_and_opens_no_second_one(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client = register_client(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    first = module_http.post("/v1/trajectories", json=referral(client.id), headers=headers)
    assert_answer(first, 201, 1)
    before = recorded(module_container)

    again = module_http.post("/v1/trajectories", json=referral(client.id), headers=headers)

    assert again.status_code == 201
    assert again.content == first.content
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert recorded(module_container) == before


def test_a_replayed_client_registration_registers_no_second_client(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    headers = {**module_auth, "Idempotency-Key": new_key()}
    body = {"occurred_at": at(), "name": "Lotte"}
    first = module_http.post("/v1/clients", json=body, headers=headers)
    before = recorded(module_container)

    again = module_http.post("/v1/clients", json=body, headers=headers)

    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["location"] == first.headers["location"]
    assert recorded(module_container) == before


def test_a_replay_returns_the_first_answer_even_after_the_record_moved_on(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key(), "If-Match": etag(2)}
    first = module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)
    trajectory.version = 3
    trajectory.post("/goals", goal("goal-2"))

    again = module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)

    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["etag"] == etag(3)
    assert trajectory.state()["version"] == 4


def test_an_idempotency_key_reused_for_another_body_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)
    before = recorded(module_container)

    response = module_http.post(f"{trajectory.path}/goals", json=goal("goal-2"), headers=headers)

    assert_problem(response, 422, rule="idempotency-key-for-one-request", field="Idempotency-Key")
    assert recorded(module_container) == before


def test_an_idempotency_key_reused_on_another_endpoint_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)

    response = module_http.post(
        f"{trajectory.path}/blocks",
        json={"occurred_at": at(4), "reasons": ["funding"]},
        headers=headers,
    )

    assert_problem(response, 422, rule="idempotency-key-for-one-request")


def test_a_refused_command_leaves_its_key_free_for_the_retry_once_the_cause_is_fixed(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory = trajectory_with_plan(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    closure = {"occurred_at": at(6), "reason": "done", "follow_up_by": "org-next"}
    refused = module_http.post(f"{trajectory.path}/closure", json=closure, headers=headers)
    assert_problem(refused, 409, rule="trajectory-ends-with-end-consultation")
    assert trajectory.state()["version"] == 4
    trajectory.post("/consultation-waivers", {"occurred_at": at(5), "kind": "end", "reason": "r"})

    retried = module_http.post(f"{trajectory.path}/closure", json=closure, headers=headers)

    assert_answer(retried, 200, 6)
    assert "idempotent-replayed" not in retried.headers
    again = module_http.post(f"{trajectory.path}/closure", json=closure, headers=headers)
    assert again.content == retried.content
    assert again.headers["idempotent-replayed"] == "true"


def test_a_command_refused_twice_with_one_key_is_run_twice_not_replayed(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    block = {"occurred_at": at(3), "reasons": ["funding"]}  # only an active trajectory blocks
    before = recorded(module_container)

    answers = [
        module_http.post(f"{trajectory.path}/blocks", json=block, headers=headers) for _ in "12"
    ]

    for answer in answers:
        assert_problem(answer, 409, rule="trajectory-state-machine")
        assert "idempotent-replayed" not in answer.headers
    assert recorded(module_container) == before


def test_an_idempotency_key_belongs_to_its_user(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    key = new_key()
    body = {"occurred_at": at(3), "description": "Back to school"}
    colleague = bearer(module_token(user="user-bo"))

    mine = module_http.post(
        f"{trajectory.path}/goals", json=body, headers={**module_auth, "Idempotency-Key": key}
    )
    theirs = module_http.post(
        f"{trajectory.path}/goals", json=body, headers={**colleague, "Idempotency-Key": key}
    )

    assert_answer(mine, 200, 3)
    assert_answer(theirs, 200, 4)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["item_id"] != theirs.json()["item_id"]


@pytest.mark.parametrize(
    "key",
    ["", " ", "k" * 201, "key with spaces", "ключ"],
    ids=["empty", "blank", "long", "spaces", "cyrillic"],
)
def test_a_malformed_idempotency_key_is_invalid_and_names_the_header(
    key: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        f"{trajectory.path}/goals",
        json=goal("goal-1"),
        headers={**module_auth, "Idempotency-Key": key.encode()},
    )

    assert_problem(response, 422, field="Idempotency-Key")
    assert recorded(module_container) == before


def test_a_retry_while_the_first_request_is_still_running_is_refused_as_busy(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, trajectory = active_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    body = goal("goal-1")
    entered, release = threading.Event(), threading.Event()
    load = module_container.care_record._load

    def slow_load(cls: Any, aggregate_id: Any) -> Any:
        entered.set()
        release.wait(timeout=10)
        return load(cls, aggregate_id)

    monkeypatch.setattr(module_container.care_record, "_load", slow_load)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            module_http.post, f"{trajectory.path}/goals", json=body, headers=headers
        )
        assert entered.wait(timeout=10)

        busy = module_http.post(f"{trajectory.path}/goals", json=body, headers=headers)

        release.set()
        first_answer = first.result(timeout=10)
    monkeypatch.undo()

    assert_problem(busy, 409, rule="idempotency-key-busy")
    assert_answer(first_answer, 200, 4)
    replay = module_http.post(f"{trajectory.path}/goals", json=body, headers=headers)
    assert replay.content == first_answer.content
    assert replay.headers["idempotent-replayed"] == "true"
    trajectory.version = 4
    trajectory.seen(first_answer.json())
    assert len(trajectory.state()["goals"]) == 1


def test_a_replay_of_a_command_recorded_on_another_app_instance_is_answered_there_too(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    second_app: tuple[Container, TestClient],  # type: ignore[type-arg]
    module_container: Container,
) -> None:
    _, other_http = second_app
    _, trajectory = accepted_trajectory(module_http, module_auth)
    headers = {**module_auth, "Idempotency-Key": new_key()}
    first = module_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)
    before = recorded(module_container)

    again = other_http.post(f"{trajectory.path}/goals", json=goal("goal-1"), headers=headers)

    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert recorded(module_container) == before
