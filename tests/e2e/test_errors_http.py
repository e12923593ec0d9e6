"""No input, however malformed, gives a 500: every refusal is a problem the caller can act on.

The edges, case by case: the ends of the calendar, dates in the future or before the referral,
nesting depth, text length, the body size limit, unknown routes and methods, header bytes that
are not ASCII. ``test_fuzz_http.py`` throws random input at the app.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.catalog import CASES, Target
from tests.e2e.conftest import token_factory
from tests.e2e.steps import (
    assert_handled,
    assert_problem,
    at,
    bearer,
    events_of,
    recorded,
    register_client,
    trajectory_with_plan,
)


@pytest.fixture
def private_target(
    private_http: TestClient,  # type: ignore[type-arg]
    private_auth: dict[str, str],
) -> Target:
    """A target in an app of its own: what the test records cannot trip up other tests."""
    client, trajectory = trajectory_with_plan(private_http, private_auth)
    return Target(client.id, trajectory.id)


# --- the edges ----------------------------------------------------------------------------------


#: The ends of the calendar, with the one that overflows in UTC last (it may leave a record
#: behind that the read models cannot take, and the others should be tried before that).
CALENDAR_ENDS = [
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59+23:59",
    "9999-12-31T23:59:59-23:59",
    "1970-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
]


def test_no_moment_at_the_ends_of_the_calendar_gives_a_server_error_anywhere(
    private_target: Target,
    private_http: TestClient,  # type: ignore[type-arg]
    private_auth: dict[str, str],
) -> None:
    answers = {
        (occurred_at, route): private_http.post(
            private_target.path(route),
            json={**private_target.body(route), "occurred_at": occurred_at},
            headers=private_auth,
        )
        for occurred_at in CALENDAR_ENDS
        for route in sorted(CASES)
    }

    server_errors = [asked for asked, answer in answers.items() if answer.status_code >= 500]
    assert server_errors == [], "\n".join(map(str, server_errors))
    for answer in answers.values():
        assert_handled(answer)


TRAJECTORY_COMMANDS = [r for r in sorted(CASES) if CASES[r].owner == "trajectory"]


@pytest.mark.parametrize("route", TRAJECTORY_COMMANDS)
def test_a_trajectory_command_dated_in_the_future_is_refused_for_its_date(
    route: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {**target.body(route), "occurred_at": tomorrow}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_problem(response, 422, rule="occurred-at-not-in-future", field="occurred_at")


@pytest.mark.parametrize("route", TRAJECTORY_COMMANDS)
def test_a_trajectory_command_dated_before_the_referral_is_refused_for_its_date(
    route: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = {**target.body(route), "occurred_at": at(-24)}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_problem(response, 422, rule="occurred-at-not-before-referral", field="occurred_at")


YEAR_ONE_EAST = "0001-01-01T00:00:00+01:00"  # 31 December of year 0 in UTC: no Python date


def test_a_referral_dated_in_year_one_east_of_greenwich_is_refused_and_not_recorded(
    private_target: Target,
    private_http: TestClient,  # type: ignore[type-arg]
    private_auth: dict[str, str],
    private_container: Container,
) -> None:
    before = recorded(private_container)
    body = {**private_target.body("/v1/trajectories"), "occurred_at": YEAR_ONE_EAST}

    response = private_http.post("/v1/trajectories", json=body, headers=private_auth)

    assert_problem(response, 422, field="occurred_at")
    assert recorded(private_container) == before
    # The app goes on answering: nothing it could not take was left in the record.
    assert_handled(
        private_http.post("/v1/clients", json={"occurred_at": at()}, headers=private_auth)
    )


@pytest.mark.parametrize(
    ("route", "fields"),
    [
        ("/v1/trajectories/{trajectory_id:uuid}/handovers", {}),
        ("/v1/clients/{client_id:uuid}/consents", {}),
        ("/v1/clients/{client_id:uuid}/consents", {"until": "2030-01-01"}),
    ],
    ids=["handover", "consent", "consent-until"],
)
def test_a_command_dated_in_year_one_east_of_greenwich_is_refused_and_not_recorded(
    route: str,
    fields: dict[str, Any],
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    body = {**target.body(route), **fields, "occurred_at": YEAR_ONE_EAST}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_problem(response, 422, field="occurred_at")
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", [r for r in sorted(CASES) if "_on" in str(CASES[r].fields)])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_day_at_the_ends_of_the_calendar_is_answered_without_a_server_error(
    route: str,
    day: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    body = target.body(route)
    body.update({k: day for k in body if k.endswith("_on")})

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_handled(response)


def test_a_consent_until_the_end_of_the_calendar_is_answered_without_a_server_error(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    route = "/v1/clients/{client_id:uuid}/consents"
    for until in ("0001-01-01", "9999-12-31"):
        body = {**target.body(route), "until": until}

        response = module_http.post(target.path(route), json=body, headers=module_auth)

        assert_handled(response)


@pytest.mark.parametrize("depth", [100, 1_000, 50_000])
def test_a_body_nested_too_deeply_is_invalid_not_a_server_error(
    depth: int,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    nested = b"[" * depth + b"]" * depth
    body = b'{"occurred_at": "' + at(5).encode() + b'", "decisions": ' + nested + b"}"

    response = module_http.post(
        target.path("/v1/trajectories/{trajectory_id:uuid}/consultations"),
        content=body,
        headers={**module_auth, "Content-Type": "application/json"},
    )

    assert_problem(response, 422)
    assert recorded(module_container) == before


@pytest.mark.parametrize("route", ["/v1/trajectories", "/v1/clients/{client_id:uuid}/consents"])
def test_a_text_far_longer_than_allowed_is_invalid_and_names_the_field(
    route: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    name = "question" if route == "/v1/trajectories" else "purpose"
    body = {**target.body(route), name: "x" * 200_000}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    problem = assert_problem(response, 422)
    assert problem.get("field") == name or name in problem["detail"]
    assert recorded(module_container) == before


@pytest.mark.parametrize(
    ("route", "field", "longest"),
    [
        ("/v1/trajectories/{trajectory_id:uuid}/consultations", "person_ref", 200),
        ("/v1/trajectories/{trajectory_id:uuid}/role-agreements", "responsibilities", 4000),
    ],
)
def test_a_nested_text_one_longer_than_allowed_is_invalid_and_names_the_field(
    route: str,
    field: str,
    longest: int,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    """Review of #10: a participant's person reference and a role's responsibilities were
    unbounded (up to the body size)."""
    before = recorded(module_container)
    body = target.body(route)
    listed = "participants" if field == "person_ref" else "assignments"
    body[listed] = [{**body[listed][0], field: "x" * (longest + 1)}]

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema")
    assert field in (problem.get("field") or "")
    assert recorded(module_container) == before


REFUSED = "refused-but-never-echoed"


def _with_refused_value(route: str, target: Target) -> dict[str, Any]:
    body = target.body(route)
    if "participants" in body:
        body["participants"] = [{**body["participants"][0], "role": REFUSED}]
    else:
        body["scopes"] = ["plan", REFUSED]
    return body


@pytest.mark.parametrize(
    ("route", "field", "one_allowed"),
    [
        ("/v1/trajectories/{trajectory_id:uuid}/consultations", "participants[0].role", "buddy"),
        ("/v1/clients/{client_id:uuid}/consents", "scopes[1]", "contact_details"),
    ],
)
def test_a_value_not_among_a_fields_choices_is_not_echoed_and_the_choices_are_named(
    route: str,
    field: str,
    one_allowed: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """Review of #10: msgspec's "Invalid enum value 'x'" echoed the refused value."""
    body = _with_refused_value(route, target)

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field=field)
    assert REFUSED not in response.text
    assert one_allowed in problem["detail"]


def test_a_filter_value_not_among_its_choices_is_not_echoed_and_the_choices_are_named(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get(f"/v1/trajectories?status={REFUSED}", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field="status")
    assert REFUSED not in response.text
    assert "closed" in problem["detail"]


def test_a_body_over_the_size_limit_is_too_large(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    route = "/v1/trajectories/{trajectory_id:uuid}/goals"
    body = {**target.body(route), "description": "x" * (256 * 1024)}

    response = module_http.post(target.path(route), json=body, headers=module_auth)

    assert_problem(response, 413, rule="body-size")
    assert recorded(module_container) == before


def test_a_body_just_under_the_size_limit_is_read(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    route = "/v1/trajectories/{trajectory_id:uuid}/goals"
    body = {**target.body(route), "description": "x" * 4000}
    padding = 256 * 1024 - len(json.dumps(body)) - 40
    content = json.dumps(body)[:-1] + " " * padding + "}"
    assert len(content.encode()) <= 256 * 1024

    response = module_http.post(
        target.path(route),
        content=content.encode(),
        headers={**module_auth, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text


def test_the_body_size_limit_is_the_configured_one(
    module_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
) -> None:
    settings = module_app[0]
    small = replace(settings, http=replace(settings.http, max_body_bytes=2048))
    container = Container.build(small, inline_projections=True)
    auth = bearer(token_factory(settings)())
    try:
        with TestClient(app=container.http_app()) as http:
            client = register_client(http, auth)
            body = {"occurred_at": at(1), "to_party": "org-next", "scopes": ["plan"]}

            response = http.post(
                f"/v1/clients/{client.id}/consents",
                json={**body, "purpose": "x" * 3000},
                headers=auth,
            )

            assert_problem(response, 413, rule="body-size")
    finally:
        container.close()


def test_an_unknown_route_is_a_not_found_problem(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    assert_problem(module_http.get("/v1/nothing-here", headers=module_auth), 404)
    assert_problem(
        module_http.post(
            f"/v1/trajectories/{uuid4()}/teleportations", json={}, headers=module_auth
        ),
        404,
    )


def test_a_trajectory_id_that_is_not_a_uuid_is_a_not_found_problem(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    assert_problem(module_http.get("/v1/trajectories/not-a-uuid", headers=module_auth), 404)
    assert_problem(
        module_http.post(
            "/v1/trajectories/../../etc/passwd/acceptance",
            json={"occurred_at": at()},
            headers=module_auth,
        ),
        404,
    )


def test_a_method_the_resource_does_not_have_is_a_problem(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.delete(f"/v1/trajectories/{target.trajectory_id}", headers=module_auth)

    assert_problem(response, 405)


def test_reading_a_trajectory_that_does_not_exist_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get(f"/v1/trajectories/{uuid4()}", headers=module_auth)

    assert_problem(response, 404, rule="trajectory-not-found")


def test_a_problem_names_the_request_path_it_answers(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    path = f"/v1/trajectories/{uuid4()}/acceptance"

    problem = assert_problem(
        module_http.post(path, json={"occurred_at": at()}, headers=module_auth), 404
    )

    assert problem["instance"] == path


def raw_post(
    http: TestClient,  # type: ignore[type-arg]
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """POST through the app's ASGI interface with header bytes exactly as given.

    The test client re-encodes header values as UTF-8; a real client sends its bytes as is.
    """
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with http.portal() as portal:
        portal.call(http.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], list(start["headers"])


@pytest.mark.parametrize(
    "header", [b"if-match", b"idempotency-key", b"x-on-behalf-of", b"x-correlation-id"]
)
@pytest.mark.parametrize("value", [b"\xe9t\xe9", b"\xc3\xa9t\xc3\xa9", b"\xa0", b"\xff"])
def test_a_header_that_is_not_ascii_is_answered_with_headers_in_visible_ascii(
    header: bytes,
    value: bytes,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    route = "/v1/trajectories/{trajectory_id:uuid}/goals"
    authorization = module_auth["Authorization"].encode()

    status, headers = raw_post(
        module_http,
        target.path(route),
        [(b"authorization", authorization), (header, value)],
        json.dumps(target.body(route)).encode(),
    )

    assert status < 500
    unreadable = [(k, v) for k, v in headers if not all(0x20 <= c < 0x7F for c in v)]
    assert unreadable == []


@pytest.mark.parametrize(
    ("header", "sent"),
    [
        ("X-Correlation-ID", "a\tb"),
        ("X-Correlation-ID", "x" * 8000),
        # Issue #20 point 3: an X-Request-ID stands in only if it looks like an id.
        ("X-Request-ID", "drop me; please"),
        ("X-Request-ID", "a" * 101),
        ("X-Request-ID", "-leading-dash"),
    ],
    ids=["tab", "8000-characters", "request-id-words", "request-id-101", "request-id-dash"],
)
def test_a_correlation_id_the_logs_refuse_is_never_recorded_in_an_event(
    header: str,
    sent: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    """Review of #10 (S2): the event records the correlation id the logs and the answer carry
    (the request id in place of one they refuse), never the header as sent."""
    client = register_client(module_http, module_auth)

    answer = module_http.post(
        f"{client.path}/representatives",
        json={"occurred_at": at(1), "representative_ref": "rep-1"},
        headers={**module_auth, header: sent},
    )

    assert answer.status_code == 200, answer.text
    recorded_id = events_of(module_container, client.id)[-1].correlation_id
    assert recorded_id == answer.headers["x-correlation-id"] == answer.headers["x-request-id"]


def test_a_correlation_id_the_caller_sends_is_recorded_in_the_event(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client = register_client(module_http, module_auth)

    module_http.post(
        f"{client.path}/representatives",
        json={"occurred_at": at(1), "representative_ref": "rep-1"},
        headers={**module_auth, "X-Correlation-ID": "case-2026-0042"},
    )

    assert events_of(module_container, client.id)[-1].correlation_id == "case-2026-0042"


def test_a_request_id_a_proxy_sends_is_taken_as_the_correlation_id_never_as_the_cause(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    """Issue #20 point 3: an incoming ``X-Request-ID`` joins our logs to the proxy's, as the
    correlation id; the request id, and so the event's causation id, stays ours."""
    client = register_client(module_http, module_auth)
    sent = "3f1c9e0a-7b2d-4c55-9a1e-0d2f6b7c8e90"

    answer = module_http.post(
        f"{client.path}/representatives",
        json={"occurred_at": at(1), "representative_ref": "rep-1"},
        headers={**module_auth, "X-Request-ID": sent},
    )

    assert answer.status_code == 200, answer.text
    event = events_of(module_container, client.id)[-1]
    assert event.correlation_id == answer.headers["x-correlation-id"] == sent
    assert answer.headers["x-request-id"] != sent
    assert event.causation_id == answer.headers["x-request-id"]


def test_every_problem_names_the_request_id(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    unknown = "/v1/trajectories/00000000-0000-4000-8000-000000000000"
    answers = [
        module_http.get("/v1/board"),  # 401: no token
        module_http.get(unknown, headers=module_auth),  # 404: no such trajectory
        module_http.get("/v1/no-such-route", headers=module_auth),  # 404: no such route
        module_http.post("/v1/clients", content=b"{", headers=module_auth),  # 400
        module_http.post("/v1/clients", json={"occurred_at": "soon"}, headers=module_auth),  # 422
    ]

    assert [a.status_code for a in answers] == [401, 404, 404, 400, 422]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [answer.json()["request_id"]] == answer.headers.get_list("x-request-id"), (
            answer.text,
            answer.headers,
        )


@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_json_body_sent_as_another_media_type_is_refused_and_records_nothing(
    media_type: str,
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    """A probe's finding: a body sent as ``text/plain`` was read as JSON and recorded."""
    before = recorded(module_container)
    body = json.dumps(
        {"occurred_at": at(5), "to_party": "org-next", "scopes": ["plan"], "purpose": "care"}
    )

    response = module_http.post(
        target.path("/v1/clients/{client_id:uuid}/consents"),
        content=body.encode(),
        headers={**module_auth, "Content-Type": media_type},
    )

    problem = assert_problem(response, 415, rule="media-type")
    assert "application/json" in problem["detail"]
    assert recorded(module_container) == before


def test_a_json_body_with_a_charset_or_a_json_suffix_is_taken(
    target: Target,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    # (an empty header is no media type: read as JSON, as a request without one)
    for media_type in ("application/json; charset=utf-8", "application/problem+json", ""):
        response = module_http.post(
            target.path("/v1/clients/{client_id:uuid}/consents"),
            content=json.dumps(
                {"occurred_at": at(5), "to_party": "org-b", "scopes": ["plan"], "purpose": "care"}
            ).encode(),
            headers={**module_auth, "Content-Type": media_type},
        )

        assert response.status_code == 200, response.text
        assert response.json()["item_id"]
