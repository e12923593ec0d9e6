"""No control character reaches the SQL or the record through an identifier (issue #10).

PostgreSQL text cannot hold a NUL: a filter or a cursor with one answered 500 there and an empty
page on SQLite, and a party recorded with one stopped the read models for good. Identifiers in
paths, filters and bodies are ``Ref``s, refused with a 422 that names them, on both databases
alike. (A trailing newline is a control character too; Python's ``$`` let it through.)
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.catalog import ITEM_IDS, Target, item_routes
from tests.e2e.steps import assert_problem, at, recorded

POISON = ["\x00", "a\x00b", "west-flanders\n", "a\tb", "a\x1fb", "a\x7fb"]


@pytest.mark.parametrize("value", POISON, ids=repr)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/trajectories", "region"),
        ("/v1/trajectories", "organisation"),
        ("/v1/board", "region"),
        ("/v1/board", "organisation"),
    ],
)
def test_a_list_filter_with_a_control_character_is_invalid_and_names_it(
    path: str,
    name: str,
    value: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get(path, params={name: value}, headers=module_auth)

    assert_problem(response, 422, rule="request-schema", field=name)


@pytest.mark.parametrize("value", POISON, ids=repr)
@pytest.mark.parametrize("route", item_routes())
def test_an_item_id_in_a_path_with_a_control_character_is_invalid_and_names_it(
    route: str,
    value: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    name = next(n for n in ITEM_IDS if f"{{{n}:" in route)
    path = target.path(route).replace(ITEM_IDS[name], quote(value, safe=""))

    response = module_http.post(path, json=target.body(route), headers=module_auth)

    assert_problem(response, 422, rule="request-schema", field=name)


@pytest.mark.parametrize("value", POISON, ids=repr)
@pytest.mark.parametrize(
    ("route", "field", "body"),
    [
        (
            "/v1/trajectories/{trajectory_id:uuid}/consultations",
            "participants[0].organisation",
            lambda party: {
                "occurred_at": at(5),
                "kind": "ad_hoc",
                "client_involvement": "present",
                "participants": [{"organisation": party, "role": "provider"}],
                "no_next_reason": "the plan runs",
            },
        ),
        (
            "/v1/trajectories/{trajectory_id:uuid}/role-agreements",
            "assignments[0].party",
            lambda party: {
                "occurred_at": at(5),
                "assignments": [{"party": party, "role": "provider"}],
            },
        ),
    ],
    ids=["participant", "assignment"],
)
def test_a_party_named_with_a_control_character_is_invalid_and_not_recorded(
    route: str,
    field: str,
    body: Callable[[str], dict[str, Any]],
    value: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(target.path(route), json=body(value), headers=module_auth)

    assert_problem(response, 422, rule="request-schema", field=field)
    assert recorded(module_container) == before


def test_a_region_with_a_trailing_newline_is_invalid_and_not_recorded(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    body = {**target.body("/v1/trajectories"), "region": "west-flanders\n"}

    response = module_http.post("/v1/trajectories", json=body, headers=module_auth)

    assert_problem(response, 422, rule="request-schema", field="region")
    assert recorded(module_container) == before
