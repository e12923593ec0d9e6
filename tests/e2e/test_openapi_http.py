"""The OpenAPI document and the interactive page describe every ``/v1`` route of the app."""

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.e2e.catalog import CASES, openapi_path


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
