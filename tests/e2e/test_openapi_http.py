"""The OpenAPI document and the interactive page describe every ``/v1`` route of the app."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from api.common import expected_version
from tests.e2e.catalog import CASES, openapi_path
from tests.e2e.steps import at


@pytest.fixture(scope="module")
def document(module_http: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    response = module_http.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    assert "json" in response.headers["content-type"]
    found: dict[str, Any] = response.json()
    return found


def operations(http: TestClient) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    """Every ``/v1`` route and method of the running app, as OpenAPI names them."""
    return {
        (openapi_path(route.path), method.lower())
        for route in http.app.routes
        if route.path.startswith("/v1")
        for method in getattr(route, "methods", ())
        if method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    }


def test_the_openapi_document_is_served_without_a_token(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Rode Draad"


def test_the_openapi_document_lists_every_v1_route_and_method_of_the_app(
    document: dict[str, Any],
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        if path.startswith("/v1")
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }

    assert documented == operations(module_http)


def test_every_command_documents_its_request_body_and_required_fields(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    for route in CASES:
        operation = document["paths"][openapi_path(route)]["post"]
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = schemas[reference.rsplit("/", 1)[1]]
        assert "occurred_at" in schema["required"], route
        assert CASES[route].required in schema["required"], route


def test_every_command_on_a_record_documents_if_match_and_idempotency_key(
    document: dict[str, Any],
) -> None:
    for route, case in CASES.items():
        operation = document["paths"][openapi_path(route)]["post"]
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, route
        if case.owner != "new":
            assert "If-Match" in headers, route


def test_the_interactive_schema_page_is_html(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    response = module_http.get("/schema")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Rode Draad" in response.text


# --- every status a route can answer (issue #10) -----------------------------------------------

PROBLEM_REF = "#/components/schemas/Problem"


def answered(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


def problems(document: dict[str, Any], path: str, method: str) -> set[int]:
    """The statuses an operation documents as ``application/problem+json`` ``Problem``s."""
    return {
        int(status)
        for status, response in answered(document, path, method).items()
        if response.get("content", {}).get("application/problem+json", {}).get("schema")
        == {"$ref": PROBLEM_REF}
    }


def every_operation(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_v1_route_documents_the_token_and_access_problems(
    document: dict[str, Any],
) -> None:
    missing = {
        (path, method): {401, 403} - problems(document, path, method)
        for path, method in every_operation(document)
        if path.startswith("/v1/")
    }

    assert {k: v for k, v in missing.items() if v} == {}


def test_every_route_documents_that_its_database_may_be_unavailable(
    document: dict[str, Any],
) -> None:
    without = [op for op in every_operation(document) if 503 not in problems(document, *op)]

    assert without == []


def test_every_v1_route_documents_that_the_keys_of_personal_data_may_not_open(
    document: dict[str, Any],
) -> None:
    """Review of #10: the 503 the operator must fix by restoring the KEK is documented."""
    without = [
        (path, method)
        for path, method in every_operation(document)
        if path.startswith("/v1/")
        and "kek-unavailable" not in answered(document, path, method)["503"]["description"]
    ]

    assert without == []


@pytest.mark.parametrize("route", sorted(CASES))
def test_every_command_documents_the_problems_of_a_command(
    route: str, document: dict[str, Any]
) -> None:
    case = CASES[route]
    expected = {400, 409, 413, 415, 422}  # unparseable, conflicting, too large, not JSON, invalid
    if case.owner != "new":
        expected |= {404, 412}  # the record it changes, and If-Match on it
    if route == "/v1/trajectories":
        expected.add(404)  # the client it refers

    assert expected <= problems(document, openapi_path(route), "post")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/trajectories/{trajectory_id}",
        "/v1/trajectories/{trajectory_id}/timeline",
        "/v1/trajectories/{trajectory_id}/fhir",
        "/v1/clients/{client_id}",
        "/v1/audit/trajectories/{trajectory_id}/history",
        "/v1/audit/trajectories/{trajectory_id}/as-of",
        "/v1/audit/trajectories/{trajectory_id}/agreements",
        "/v1/learning-networks/{network_id}",
    ],
)
def test_every_read_of_one_record_documents_that_it_may_find_none(
    path: str, document: dict[str, Any]
) -> None:
    assert {404, 422} <= problems(document, path, "get")


def test_every_read_that_waits_for_a_position_documents_read_your_writes(
    document: dict[str, Any],
) -> None:
    waiting = [
        (path, method)
        for path, method in every_operation(document)
        if any(
            p["name"] == "min_position"
            for p in document["paths"][path][method].get("parameters", [])
        )
    ]

    # plan state, timeline, board, list; an organisation, the register; a learning network, the
    # networks, the signals overview, the cadence board
    assert len(waiting) == 10
    for path, method in waiting:
        assert "read-your-writes" in answered(document, path, method)["503"]["description"]


def test_no_route_without_a_body_documents_a_bad_request(document: dict[str, Any]) -> None:
    bodiless = [
        (path, method)
        for path, method in every_operation(document)
        if "requestBody" not in document["paths"][path][method]
    ]

    assert bodiless
    assert [op for op in bodiless if "400" in answered(document, *op)] == []


def test_every_problem_a_route_documents_is_problem_json(document: dict[str, Any]) -> None:
    not_problems = [
        (path, method, status)
        for path, method in every_operation(document)
        for status in answered(document, path, method)
        if int(status) >= 400 and int(status) not in problems(document, path, method)
    ]

    assert not_problems == []


def described_fields(document: dict[str, Any]) -> dict[str, str]:
    """Every property of every schema that carries a description: ``Schema.field`` → text."""
    found: dict[str, str] = {}
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            texts = [spec.get("description")] + [
                option.get("description") for option in spec.get("oneOf", [])
            ]
            text = next((t for t in texts if t), None)
            if text:
                found[f"{name.rsplit('.', 1)[-1]}.{field}"] = text
    return found


@pytest.mark.parametrize(
    "field",
    [
        "BoardRow.days_blocked",
        "BoardRow.days_stuck",
        "TrajectoryView.continued_from",
        "TrajectoryView.continued_by",
        "TrajectoryView.client_criteria",
        "TrajectoryView.referrer_engagement",
        "GoalView.carried_from",
        "ActionView.carried_from",
        "CarriedFromView.signed_here",
        "CarriedFromView.as_of",
        "Refer.continues_from",
        "GrantConsent.trajectory_id",
        "ConsentView.trajectory_id",
    ],
)
def test_a_newcomer_finds_the_thread_across_trajectories_described_in_the_openapi(
    document: dict[str, Any], field: str
) -> None:
    """Issue #17: what the README says of continuations and the board, the schema says too."""
    assert field in described_fields(document), sorted(described_fields(document))[:40]


def _anywhere(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _anywhere(value)
    elif isinstance(node, list):
        for value in node:
            yield from _anywhere(value)


def test_the_document_says_what_a_request_may_hold_as_the_api_takes_it(
    document: dict[str, Any],
) -> None:
    """Where Litestar's rendering said less than the API enforces, a client generated from the
    document sent requests the API refused for their shape (found from outside by
    schemathesis' positive-data check; ``test_schemathesis_http`` now holds it)."""
    schemas = document["components"]["schemas"]
    # Every command body refuses unknown fields, and says so.
    for route in CASES:
        operation = document["paths"][openapi_path(route)]["post"]
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert schemas[reference.rsplit("/", 1)[1]]["additionalProperties"] is False, route
    # A tuple's items are of its one type (Litestar had ``oneOf: [X, {}]``: anything).
    assert not [node for node in _anywhere(document) if {} in node.get("oneOf", [])]
    # ... with what constrains each item.
    assert schemas["Refer"]["properties"]["client_criteria"]["items"]["minLength"] == 1
    refs = schemas["HoldNetworkMeeting"]["properties"]["members_present"]["items"]
    assert re.fullmatch(refs["pattern"], "org-kompas")
    assert not re.fullmatch(refs["pattern"], "two words")
    # The headers' patterns are the ones the API checks.
    parameters = {
        p["name"]: p["schema"]
        for p in document["paths"]["/v1/trajectories/{trajectory_id}/acceptance"]["post"][
            "parameters"
        ]
    }
    if_match, key = parameters["If-Match"]["pattern"], parameters["Idempotency-Key"]["pattern"]
    for etag in ('"7"', 'W/"7"', "7", "*"):
        assert re.fullmatch(if_match, etag), etag
        assert expected_version(etag) == (None if etag == "*" else 7)
    assert not re.fullmatch(if_match, "seven")
    assert re.fullmatch(key, "retry-1")
    assert not re.fullmatch(key, "two words")
    assert not re.fullmatch(key, "k" * 201)
    # ``/health`` needs no token, and says so.
    assert document["paths"]["/health"]["get"]["security"] == []


def test_a_header_the_pattern_refuses_the_api_refuses(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = module_http.post("/v1/clients", json={"occurred_at": at(0)}, headers=module_auth)
    assert client.status_code == 201, client.text
    for header, value in (("If-Match", "seven"), ("Idempotency-Key", "two words")):
        response = module_http.post(
            f"/v1/clients/{client.json()['id']}/representatives",
            json={"occurred_at": at(1), "representative_ref": "rep-mother", "name": "M"},
            headers={**module_auth, header: value},
        )
        assert response.status_code == 422, (header, response.text)
        assert response.json()["field"] == header
    assert module_http.get("/health").status_code == 200
