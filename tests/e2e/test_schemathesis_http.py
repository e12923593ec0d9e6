"""Schemathesis walks every operation of the served OpenAPI document (issue #10).

Valid requests (positive) and requests with one part made invalid (negative) are generated from
the document itself and sent, as a coordinator (and as the roles a coordinator is refused as,
on their routes), to the in-process app through the test client (no network), on both
databases. Every answer must be no server error, carry a documented
status and content type, and match the documented schema: the document is the contract that
clients are generated from, so it must tell them the truth.

The path parameters of valid requests name a real client, trajectory, goal, role agreement,
escalation, consent and representative, so the run reaches the rules behind the 404s. The run
is bounded (``EXAMPLES`` per operation and mode) and derandomised, with no example database:
the same requests every run, about 3,000 in all (and the routes of the roles a coordinator
is refused at, run as those roles).
"""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from litestar.testing import TestClient
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import LocalTokens
from rodedraad.settings import Settings
from rodedraad.wiring import Container, signing_key_file
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import at, bearer, on, trajectory_with_plan

#: Examples per operation and generation mode: ~38 operations x 2 modes x 2 databases.
EXAMPLES = 20

#: Besides "no server error", which allows the documented 503 of read-your-writes (a generated
#: ``min_position`` is mostly one the log has not reached).
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: Parameters whose values mean more than a schema can say: refused with the request-schema rule
#: for what they name, not their shape.
BEYOND_SCHEMA = {"cursor", "as_of", "recipient", "occurred", "recorded"}

RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def known_ids(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> dict[str, str]:
    """Records and items that exist, for the path parameters of valid requests."""
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    client.post(
        "/representatives",
        {"occurred_at": at(4), "representative_ref": "rep-mother", "name": "M"},
    )
    client.post(
        "/consents",
        {
            "occurred_at": at(4),
            "consent_id": "consent-plan",
            "to_party": "org-next",
            "scopes": ["plan"],
            "purpose": "continuity of the plan",
        },
    )
    trajectory.post(
        "/role-agreements",
        {
            "occurred_at": at(4),
            "agreement_id": "roles-1",
            "assignments": [{"party": "org-provider", "role": "provider"}],
        },
    )
    trajectory.post(
        "/escalations",
        {"occurred_at": at(4), "escalation_id": "esc-1", "level": "team", "reason": "capacity"},
    )
    trajectory.post(
        "/actions",
        {"occurred_at": at(4), "description": "Weekly check-in", "owner": "org-coordinating"},
    )
    registered = module_http.post(
        "/v1/organisations",
        json={"occurred_at": at(4), "identifier": "school-registered", "name": "De Linde"},
        headers=module_auth,
    )
    assert registered.status_code == 201, registered.text
    assert on(1)
    return {
        "client_id": client.id,
        "trajectory_id": trajectory.id,
        "goal_id": "goal-school",
        "agreement_id": "roles-1",
        "escalation_id": "esc-1",
        "consent_id": "consent-plan",
        "representative_ref": "rep-mother",
        "identifier": "school-registered",
    }


@pytest.fixture(scope="module")
def schema(module_http: TestClient) -> Any:  # type: ignore[type-arg]
    document = module_http.get("/schema/openapi.json").json()
    return schemathesis.openapi.from_dict(document)


def send(http: TestClient, case: Any) -> httpx.Response:  # type: ignore[type-arg]
    """The request Schemathesis built, through the app's own test client."""
    request = case.as_transport_kwargs(base_url=str(http.base_url))
    body: dict[str, Any] = {}
    if "json" in request:
        body["json"] = request["json"]
    elif request.get("data") is not None:
        body["content"] = request["data"]
    headers = {k: v.encode("latin-1") for k, v in (request.get("headers") or {}).items()}
    return http.request(
        request["method"],
        request["url"],
        params=request.get("params"),
        headers=headers,
        **body,
    )


def is_read_your_writes(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.json().get("rule") == "read-your-writes"


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def failures_of(
    mode: GenerationMode,
    schema: Any,
    known_ids: dict[str, str],
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    prefixes: tuple[str, ...] = ("/",),
    given_query: dict[str, str] | None = None,
) -> dict[str, str]:
    """Each operation under ``prefixes`` run as ``auth`` → what failed, by operation; a query
    parameter in ``given_query`` is given, not generated, where an operation takes it."""
    failures: dict[str, str] = {}
    for operation in operations(schema):
        if not operation.path.startswith(prefixes):
            continue
        raw = operation.definition.raw
        if mode == GenerationMode.NEGATIVE and not (raw.get("parameters") or "requestBody" in raw):
            continue  # nothing in the request to make invalid
        names = set(re.findall(r"\{(\w+)\}", operation.path))
        fixed = {k: v for k, v in known_ids.items() if k in names}
        waits = {"max_wait_ms": 20} if "max_wait_ms" in str(raw) else {}
        waits |= {k: v for k, v in (given_query or {}).items() if f"'{k}'" in str(raw)}
        strategy = operation.as_strategy(
            mode,
            path_parameters=fixed if mode == GenerationMode.POSITIVE else None,
            headers={"Authorization": auth["Authorization"]},
            query=waits or None,
        )

        @RUN
        @given(case=strategy)
        def answers_as_documented(case: Any) -> None:
            response = send(http, case)
            assert response.status_code < 500 or is_read_your_writes(response), response.text
            case.validate_response(response, checks=CHECKS)
            if mode == GenerationMode.POSITIVE and response.status_code == 422:
                # A request the document allows is not refused for its shape (an unknown
                # field, an item's pattern): only where the value means more than a schema
                # can say (a cursor this API gave out, a moment, a key).
                problem = response.json()
                assert (
                    problem.get("rule") != "request-schema" or problem.get("field") in BEYOND_SCHEMA
                ), response.text

        try:
            answers_as_documented()
        except (AssertionError, BaseExceptionGroup) as failure:  # each operation's failures
            failures[operation.label] = str(failure)
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_openapi_document_says(
    mode: GenerationMode,
    schema: Any,
    known_ids: dict[str, str],
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    failures = failures_of(mode, schema, known_ids, module_http, module_auth)

    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_auditors_and_the_persons_operations_answer_as_their_document_says(
    mode: GenerationMode,
    schema: Any,
    known_ids: dict[str, str],
    module_app: tuple[Settings, Container, TestClient],  # type: ignore[type-arg]
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    """A coordinator is refused at the door of the audit and ``/v1/me`` routes (403), so the
    run above never reaches their query parameters (an export's ``as_of`` once answered 500
    to a moment with no date in UTC): run them as an auditor of the region and as the linked
    client themself."""
    signing_key_file(module_app[0]).create()  # PostgreSQL makes none on first need
    subject = f"idp|{mode.value}"
    linked = module_http.post(
        f"/v1/clients/{known_ids['client_id']}/identity-links",
        json={"occurred_at": at(5), "subject": subject, "as_role": "client"},
        headers=module_auth,
    )
    assert linked.status_code == 200, linked.text
    tokens = LocalTokens.from_file(module_app[0].auth.secret_file)
    person = bearer(tokens.issue(user=subject, organisation=None, roles=["client"], region=None))
    auditor = bearer(module_token(org="org-inspection", roles=("auditor",)))
    # An export needs a key to encrypt to, which no generator makes: its as_of is what runs.
    key = (
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    recipient = {"recipient": key.decode().splitlines()[1]}

    failures = {
        **failures_of(mode, schema, known_ids, module_http, auditor, ("/v1/audit",), recipient),
        **failures_of(mode, schema, known_ids, module_http, person, ("/v1/me",)),
    }

    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ["learning_network", "forum"])
def test_the_learning_networks_operations_answer_as_their_document_says(
    mode: GenerationMode,
    role: str,
    schema: Any,
    known_ids: dict[str, str],
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    """A coordinator is refused at the statistics routes and most learning-network routes
    (403), so the run above never reaches their query and path parameters: run them as a
    region's learning network and as the forum, which may also establish networks. The lists'
    query parameters reach their reads (200); the item routes mostly answer 404, a generated
    id naming no network or release. (A probe of every operation as these roles, an admin and
    an auditor, 40 random examples each way on both databases, found nothing, 2026-12-05.)"""
    member = bearer(module_token(user="lena", org="network-org", roles=(role,)))

    failures = failures_of(
        mode, schema, known_ids, module_http, member, ("/v1/statistics", "/v1/learning-networks")
    )

    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
