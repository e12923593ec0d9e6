"""A query parameter a route does not take is refused, not ignored (found by an outside probe).

A filter misspelt (``?regoin=``) was dropped in silence: the list then looked filtered while it
held every region the caller may see, and an auditor's ``personal-data-reads?clientid=…`` looked
like one client's reads while it held everyone's. A parameter given twice counted its last value
only. The README said all along that an unknown parameter is refused (``422``).
"""

import re
import uuid

import pytest
from litestar.testing import TestClient

from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import assert_problem, trajectory_with_plan


def _auditor(module_token: TokenFactory) -> dict[str, str]:
    token = module_token(user="ann", org="audit-office", roles=("auditor",))
    return {"Authorization": f"Bearer {token}"}


def test_a_misspelt_filter_is_refused_naming_the_parameters_the_route_takes(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get("/v1/trajectories?regoin=west-flanders", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema")
    assert problem["detail"] == (
        "the query names a parameter this route does not take; it takes cursor, limit, "
        "max_wait_ms, min_position, organisation, region, sector, status (the OpenAPI document, "
        "/schema/openapi.json, lists each route's)"
    )
    assert "regoin" not in response.text  # (a name no route takes is never said back)


def test_a_parameter_another_route_takes_is_named(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get("/v1/board?status=active", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field="status")
    assert problem["detail"].startswith("status is not a query parameter of this route; it takes")


def test_an_auditors_misspelt_client_filter_answers_no_ones_reads(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    client_id = trajectory_with_plan(module_http, module_auth)[0].id  # (its reads are logged)
    auditor = _auditor(module_token)

    misspelt = module_http.get(
        f"/v1/audit/personal-data-reads?clientid={client_id}", headers=auditor
    )
    spelt = module_http.get(f"/v1/audit/personal-data-reads?client_id={client_id}", headers=auditor)

    assert_problem(misspelt, 422, rule="request-schema")
    assert client_id not in misspelt.text
    assert spelt.status_code == 200, spelt.text


@pytest.mark.parametrize("name", ["region", "limit", "min_position"])
def test_a_parameter_given_twice_that_takes_one_value_is_refused(
    name: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get(f"/v1/trajectories?{name}=1&{name}=2", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field=name)
    assert problem["detail"] == f"{name} is given more than once; give it once (it takes one value)"


@pytest.mark.parametrize(
    "query", ["%3Cb%3EJan%3C%2Fb%3E=1", "0470123456", "jan-peeters", "85073003328"]
)
def test_a_parameter_name_no_route_takes_is_not_echoed(
    query: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """A bare ``?value`` is a likely slip, and a value may be anything: a phone number, a name."""
    response = module_http.get(f"/v1/board?{query}", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema")
    assert problem["detail"].startswith("the query names a parameter this route does not take")
    assert "field" not in problem
    for shown in ("Jan", "<b>", "0470123456", "peeters", "85073003328"):
        assert shown not in response.text


def test_every_route_of_the_api_refuses_a_parameter_it_does_not_document(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    """Every operation of the OpenAPI document, its path filled in: the check comes before the
    record is looked up, so an id no record has is enough. The audit routes decide the role
    before they read their input (a guard), so they are asked by a role they serve."""
    auditor = _auditor(module_token)
    paths = module_http.get("/schema/openapi.json").json()["paths"]
    fill = {"number": "1", "name": "flow"}
    asked = []
    for path, item in paths.items():
        if not path.startswith("/v1/"):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), str(uuid.uuid4())), path)
        for method in item.keys() & {"get", "post"}:
            documented = {
                p["name"] for p in item[method].get("parameters", []) if p["in"] == "query"
            }
            assert "zz_unknown" not in documented
            response = module_http.request(
                method.upper(),
                f"{url}?zz_unknown=1",
                headers=auditor if path.startswith("/v1/audit/") else module_auth,
                json={},
            )
            asked.append(f"{method} {path}")
            problem = assert_problem(response, 422, rule="request-schema")
            assert problem["detail"].startswith("the query names a parameter"), path
    assert len(asked) > 80  # (the walk found the API's operations)


def test_the_pages_and_the_health_check_keep_their_own_query(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    """``/ui`` pages read their query themselves (``lang``, ``next``); ``/health`` takes any."""
    assert module_http.get("/health?probe=1").status_code == 200
    plain = module_http.get("/ui/sign-in?lang=en", follow_redirects=False)
    more = module_http.get("/ui/sign-in?lang=en&next=/ui/board&probe=1", follow_redirects=False)
    assert more.status_code == plain.status_code, more.text
    assert "<h1>Sign in</h1>" in more.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1e3", "limit"),
        ("limit=10.0", "limit"),
        ("limit=%2010", "limit"),
        ("min_position=0x10", "min_position"),
    ],
)
def test_an_integer_parameter_is_written_in_digits(
    query: str,
    field: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """A probe's finding: ``limit=1e3`` was read as a thousand."""
    response = module_http.get(f"/v1/trajectories?{query}", headers=module_auth)

    problem = assert_problem(response, 422, rule="request-schema", field=field)
    assert problem["detail"] == f"{field} must be a whole number written in digits, such as 100"


@pytest.mark.parametrize("occurred", ["1700000000", "-1", "1.5e9"])
def test_a_moment_parameter_is_written_as_text_not_a_unix_time(
    occurred: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    """A probe's finding: an auditor's ``as-of?occurred=1700000000`` was read as a Unix time."""
    trajectory = trajectory_with_plan(module_http, module_auth)[1]
    path = f"/v1/audit/trajectories/{trajectory.id}/as-of"

    refused = module_http.get(f"{path}?occurred={occurred}", headers=_auditor(module_token))
    taken = module_http.get(f"{path}?occurred=2026-01-01T00:00:00Z", headers=_auditor(module_token))

    problem = assert_problem(refused, 422, rule="request-schema", field="occurred")
    assert "written as text with an offset" in problem["detail"]
    assert taken.status_code != 422, taken.text


def test_well_written_numbers_and_moments_are_taken(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.get("/v1/trajectories?limit=5&min_position=1", headers=module_auth)

    assert response.status_code == 200, response.text
