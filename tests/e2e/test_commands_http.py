"""Every command endpoint refuses bad requests the same way: a problem, never a 500.

The endpoints come from ``tests/e2e/catalog.py``, which a test here keeps equal to the app's
routes. For each one: no token → 401; a body that cannot be parsed (not JSON, not UTF-8) → 400;
an unknown field, a wrong type or a missing field → 422 naming it; an unknown record → 404.
Nothing is recorded by any of them.
"""

from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.catalog import CASES, ITEM_IDS, fill, item_routes, openapi_path
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    SCHOOL,
    assert_names,
    assert_problem,
    at,
    bearer,
    recorded,
    referral,
    register_client,
    trajectory_with_plan,
)

ROUTES = sorted(CASES)
#: The person's own routes answer a record of another person 404 too, but only to a person's
#: token (tests/e2e/test_person_decisions_http.py); an organisation's is refused first (403).
WITH_A_RECORD = [r for r in ROUTES if CASES[r].owner not in ("new", "person")]


def command_routes(http: TestClient) -> set[str]:  # type: ignore[type-arg]
    """The ``POST`` routes under ``/v1`` of the running app."""
    return {
        route.path
        for route in http.app.routes
        if route.path.startswith("/v1/") and "POST" in getattr(route, "methods", ())
    }


def test_every_command_route_of_the_app_is_in_the_catalog(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    routes = command_routes(module_http)

    assert routes - set(CASES) == set(), "describe the new endpoints in tests/e2e/catalog.py"
    assert set(CASES) - routes == set(), "the catalog names endpoints the app does not have"


def test_every_command_route_is_documented_as_a_post_in_the_openapi_document(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    paths = module_http.get("/schema/openapi.json").json()["paths"]

    undocumented = [r for r in ROUTES if "post" not in paths.get(openapi_path(r), {})]
    assert undocumented == []


def send(
    http: TestClient,  # type: ignore[type-arg]
    route: str,
    headers: dict[str, str],
    **request: Any,
) -> Any:
    return http.post(fill(route, str(uuid4())), headers=headers, **request)


@pytest.mark.parametrize("route", ROUTES)
def test_a_command_without_a_bearer_token_is_not_authenticated(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = send(module_http, route, {}, json=CASES[route].body(str(uuid4())))

    assert_problem(response, 401, rule="bearer-token")
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        b'{"occurred_at": ',
        b"occurred_at=yesterday&x=1",
        b"\xff\xfe\x00",
        b'{"occurred_at": "2026-01-01T00:00:00+00:00", "reason": "caf\xe9"}',
    ],
    ids=["truncated", "form", "binary", "latin-1-in-a-string"],
)
def test_a_command_whose_body_cannot_be_parsed_is_a_bad_request(
    route: str,
    body: bytes,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = send(
        module_http,
        route,
        {**module_auth, "Content-Type": "application/json"},
        content=body,
    )

    problem = assert_problem(response, 400, rule="request-json")
    assert "caf" not in problem["detail"]  # the body is never echoed
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_command_with_an_unknown_field_is_invalid_and_names_it(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    body = {**CASES[route].body(str(uuid4())), "priority": "urgent"}

    response = send(module_http, route, module_auth, json=body)

    assert_names(assert_problem(response, 422), "priority")
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_command_with_a_field_of_the_wrong_type_is_invalid_and_names_it(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    name, value = CASES[route].wrong
    body = {**CASES[route].body(str(uuid4())), name: value}

    response = send(module_http, route, module_auth, json=body)

    assert_names(assert_problem(response, 422), name)
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_command_missing_a_required_field_is_invalid_and_names_it(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    case = CASES[route]
    body = case.body(str(uuid4()))
    del body[case.required]

    response = send(module_http, route, module_auth, json=body)

    assert_names(assert_problem(response, 422), case.required)
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_command_without_occurred_at_is_invalid_and_names_it(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = CASES[route].body(str(uuid4()))
    del body["occurred_at"]

    response = send(module_http, route, module_auth, json=body)

    assert_names(assert_problem(response, 422), "occurred_at")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "occurred_at",
    ["2025-03-01T10:00:00", "2025-02-30T10:00:00+01:00", 1_700_000_000, -1],
    # (A number was taken as a Unix time, -1 as 1969: Litestar converts bodies leniently;
    # ``api.bodies`` holds them to their schema's types.)
    ids=["no-offset", "no-such-day", "unix-time", "minus-one"],
)
def test_a_command_with_an_occurred_at_that_is_not_a_moment_is_invalid(
    route: str,
    occurred_at: str | int,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = {**CASES[route].body(str(uuid4())), "occurred_at": occurred_at}

    response = send(module_http, route, module_auth, json=body)

    problem = assert_problem(response, 422)
    assert_names(problem, "occurred_at")
    if isinstance(occurred_at, int):
        assert problem["detail"] == 'occurred_at must be text such as "2026-10-01T12:00:00+02:00"'


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b""],
    ids=["array", "null", "empty"],
)
def test_a_command_whose_body_is_not_an_object_is_invalid(
    route: str,
    body: bytes,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = send(
        module_http,
        route,
        {**module_auth, "Content-Type": "application/json"},
        content=body,
    )

    problem = assert_problem(response, 422)
    # Says what is wrong in words a person can act on (the empty body said "'data'").
    assert problem["detail"] == (
        "the request has no body: send the command as a JSON object"
        if body == b""
        else f"Expected `object`, got `{'array' if body == b'[]' else 'null'}`"
    )


@pytest.mark.parametrize(
    "name",
    [
        "Jan\x00Peeters",
        "Jan\nPeeters",
        "Jan Peeters\n",
        "Jan\tP",
        "Jan\x85Peeters",  # (C1: next line)
        "Jan\u2028Peeters",  # (line separator)
        "Jan\u202ePeeters",  # (right-to-left override: shows another name than stored)
    ],
)
def test_a_name_is_one_line_of_printable_text(
    name: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """A NUL or a line break in a person's name is the sending system's error (found by an
    outside walk: it was recorded); letters of any script, and joiners, are names."""
    refused = module_http.post(
        "/v1/clients", json={"occurred_at": at(0), "name": name}, headers=module_auth
    )
    assert_names(assert_problem(refused, 422), "name")
    assert refused.json()["detail"] == (
        "name must be one line that holds at least one visible character (not only spaces or "
        "invisible marks), with no control characters, line breaks or bidirectional overrides"
    )
    for kept in ("Ёлка Ångström", "Jan\u200dPeeters", "\u05d3\u05e0\u05d4\u200f"):
        taken = module_http.post(
            "/v1/clients", json={"occurred_at": at(0), "name": kept}, headers=module_auth
        )
        assert taken.status_code == 201, taken.text


@pytest.mark.parametrize("route", WITH_A_RECORD)
def test_a_command_on_a_record_that_does_not_exist_is_not_found(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_container: Container,
) -> None:
    before = recorded(module_container)
    case = CASES[route]
    headers = bearer(module_token(roles=case.roles))

    response = send(module_http, route, headers, json=case.body(str(uuid4())))

    assert_problem(response, 404, rule=f"{case.owner}-not-found")
    assert recorded(module_container) == before


def test_a_referral_of_a_client_who_does_not_exist_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(
        "/v1/trajectories", json=referral(str(uuid4())), headers=module_auth
    )

    assert_problem(response, 404, rule="client-not-found")
    assert recorded(module_container) == before


def test_a_referral_continuing_a_trajectory_that_does_not_exist_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client = register_client(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        "/v1/trajectories",
        json=referral(client.id, continues_from=str(uuid4())),
        headers=module_auth,
    )

    assert_problem(response, 404, rule="trajectory-not-found")
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", [r for r in item_routes() if CASES[r].owner == "trajectory"])
def test_a_command_on_an_item_the_trajectory_does_not_hold_is_not_found(
    route: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    suffix = fill(route, trajectory.id).removeprefix(trajectory.path)

    problem = trajectory.refused(
        suffix, CASES[route].body(client.id, hours=5), status=404, rule="item-not-found"
    )

    assert any(problem["field"] == name for name in ITEM_IDS)


def test_an_organisation_not_named_in_a_role_agreement_cannot_decline_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    """The school referred, so it is a party to the trajectory, but not to this agreement."""
    _, trajectory = trajectory_with_plan(module_http, module_auth)
    trajectory.post(
        "/role-agreements",
        {
            "occurred_at": at(4),
            "agreement_id": "agreement-1",
            "assignments": [{"party": "org-provider", "role": "provider"}],
        },
    )

    trajectory.refused(
        "/role-agreements/agreement-1/declination",
        {"occurred_at": at(5), "reason": "not us"},
        headers=bearer(module_token(user="user-x", org=SCHOOL)),
        status=403,
        rule="not-a-party",
    )
