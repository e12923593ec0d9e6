"""``/v1/organisations``: the organisation register through HTTP, on SQLite and PostgreSQL.

A coordinator registers an organisation provisionally on the spot, an admin confirms, corrects
and classifies; organisations the record names that nobody registered are listed as
``unclassified`` (issue #12).
"""

from typing import Any
from uuid import uuid4

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    assert_answer,
    assert_problem,
    at,
    bearer,
    etag,
    recorded,
    refer,
    register_client,
)

ORGANISATIONS = "/v1/organisations"
#: A valid Belgian enterprise number (04031707 mod 97 = 96, so the check digits are 01).
ENTERPRISE_NUMBER = "0403.170.701"


def new_identifier(prefix: str = "org") -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def admin(module_token: TokenFactory) -> dict[str, str]:
    return bearer(module_token(user="user-ad", org="rodedraad-operations", roles=("admin",)))


def register(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    identifier: str,
    **fields: Any,
) -> dict[str, Any]:
    response = http.post(
        ORGANISATIONS,
        json={"occurred_at": at(), "identifier": identifier, "name": "De Linde", **fields},
        headers=auth,
    )
    answer = assert_answer(response, 201, 1)
    assert response.headers["location"] == f"{ORGANISATIONS}/{identifier}"
    assert answer["item_id"] == identifier
    return answer


def read(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    identifier: str,
) -> dict[str, Any]:
    response = http.get(f"{ORGANISATIONS}/{identifier}", headers=auth)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def listed(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    **filters: str,
) -> dict[str, dict[str, Any]]:
    response = http.get(ORGANISATIONS, params={"limit": 1000, **filters}, headers=auth)
    assert response.status_code == 200, response.text
    return {item["identifier"]: item for item in response.json()["items"]}


# --- registering ----------------------------------------------------------------------------------


def test_a_coordinator_registers_an_organisation_provisionally_on_the_spot(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    school = new_identifier("school")

    register(module_http, module_auth, school, kind="school", region="west-flanders")

    found = read(module_http, module_auth, school)
    assert (found["status"], found["kind"], found["name"]) == ("provisional", "school", "De Linde")
    assert found["region"] == "west-flanders"
    assert found["version"] == 1


def test_an_admin_registers_an_organisation_confirmed(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    clb = new_identifier("clb")

    register(
        module_http,
        admin,
        clb,
        kind="pupil_guidance_centre",
        public_identifiers={"enterprise_number": ENTERPRISE_NUMBER},
    )

    found = read(module_http, admin, clb)
    assert found["status"] == "confirmed"
    assert found["public_identifiers"] == {"enterprise_number": "0403170701"}


def test_an_organisation_registered_without_a_kind_is_unclassified(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    identifier = new_identifier()

    register(module_http, module_auth, identifier)

    assert read(module_http, module_auth, identifier)["kind"] == "unclassified"


def test_an_identifier_is_registered_once(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
    module_container: Container,
) -> None:
    identifier = new_identifier()
    register(module_http, module_auth, identifier)
    before = recorded(module_container)

    response = module_http.post(
        ORGANISATIONS,
        json={"occurred_at": at(), "identifier": identifier, "name": "Other name"},
        headers=admin,
    )

    problem = assert_problem(response, 409, rule="organisation-registered-once", field="identifier")
    assert "correct" in problem["detail"]
    assert recorded(module_container) == before


def test_an_enterprise_number_that_fails_its_check_digits_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(
        ORGANISATIONS,
        json={
            "occurred_at": at(),
            "identifier": new_identifier(),
            "name": "Typo",
            "public_identifiers": {"enterprise_number": "0403.170.702"},
        },
        headers=admin,
    )

    assert_problem(
        response, 422, rule="invalid-value", field="public_identifiers.enterprise_number"
    )
    assert recorded(module_container) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("agb", "1234567"), ("ura", "1234567a"), ("kvk", "123456789"), ("enterprise_number", "12")],
)
def test_a_public_identifier_of_the_wrong_shape_is_refused(
    field: str,
    value: str,
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    response = module_http.post(
        ORGANISATIONS,
        json={
            "occurred_at": at(),
            "identifier": new_identifier(),
            "name": "Shape",
            "public_identifiers": {field: value},
        },
        headers=admin,
    )

    assert_problem(response, 422, rule="request-schema")


def test_an_identifier_with_a_space_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    response = module_http.post(
        ORGANISATIONS,
        json={"occurred_at": at(), "identifier": "school de linde", "name": "De Linde"},
        headers=admin,
    )

    assert_problem(response, 422, rule="request-schema", field="identifier")


def test_a_professional_may_not_register_an_organisation(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    professional = bearer(module_token(org="org-provider", roles=("professional",)))

    response = module_http.post(
        ORGANISATIONS,
        json={"occurred_at": at(), "identifier": new_identifier(), "name": "Nope"},
        headers=professional,
    )

    assert_problem(response, 403, rule="access-policy")


def test_the_register_is_kept_by_no_one_on_a_clients_behalf(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.post(
        ORGANISATIONS,
        json={"occurred_at": at(), "identifier": new_identifier(), "name": "Behalf"},
        headers={**module_auth, "X-On-Behalf-Of": "rep-mother"},
    )

    assert_problem(response, 422, field="X-On-Behalf-Of")


# --- confirming and correcting --------------------------------------------------------------------


def test_an_admin_confirms_a_provisional_registration(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, module_auth, identifier)

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/confirm",
        json={"occurred_at": at(1)},
        headers={**admin, "If-Match": etag(1)},
    )

    assert_answer(response, 200, 2)
    assert read(module_http, admin, identifier)["status"] == "confirmed"


def test_a_confirmed_organisation_is_not_confirmed_again(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, admin, identifier)

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/confirm", json={"occurred_at": at(1)}, headers=admin
    )

    assert_problem(response, 409, rule="organisation-confirmed-once")


def test_an_admin_corrects_the_name_and_classifies_in_one_request(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, module_auth, identifier)

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/correct",
        json={
            "occurred_at": at(1),
            "name": "OCMW Brugge",
            "kind": "public_social_welfare_centre",
            "public_identifiers": {"enterprise_number": "BE0403170701"},
        },
        headers=admin,
    )

    assert_answer(response, 200, 3)  # corrected, then classified
    found = read(module_http, admin, identifier)
    assert (found["name"], found["kind"]) == ("OCMW Brugge", "public_social_welfare_centre")
    assert found["public_identifiers"] == {"enterprise_number": "0403170701"}
    assert found["status"] == "provisional"  # correcting is not confirming


def test_a_correction_that_changes_nothing_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, admin, identifier, kind="gp")

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/correct",
        json={"occurred_at": at(1), "name": "De Linde", "kind": "gp"},
        headers=admin,
    )

    assert_problem(response, 409, rule="correction-changes-something")


def test_a_stale_version_of_an_organisation_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, admin, identifier)
    module_http.post(
        f"{ORGANISATIONS}/{identifier}/correct",
        json={"occurred_at": at(1), "name": "New name"},
        headers=admin,
    )

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/correct",
        json={"occurred_at": at(2), "region": "limburg"},
        headers={**admin, "If-Match": etag(1)},
    )

    assert_problem(response, 412, rule="if-match-current-version")


@pytest.mark.parametrize("command", ["confirm", "correct"])
def test_a_coordinator_neither_confirms_nor_corrects(
    command: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    identifier = new_identifier()
    register(module_http, module_auth, identifier)
    before = recorded(module_container)

    response = module_http.post(
        f"{ORGANISATIONS}/{identifier}/{command}",
        json={"occurred_at": at(1), **({"kind": "school"} if command == "correct" else {})},
        headers=module_auth,
    )

    problem = assert_problem(response, 403, rule="access-policy")
    assert "admin" in problem["detail"]
    assert recorded(module_container) == before


def test_confirming_an_organisation_nobody_registered_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    response = module_http.post(
        f"{ORGANISATIONS}/{new_identifier()}/confirm", json={"occurred_at": at(1)}, headers=admin
    )

    problem = assert_problem(response, 404, rule="organisation-not-found")
    assert "register it first" in problem["detail"]


# --- reading --------------------------------------------------------------------------------------


def test_organisations_the_record_names_unregistered_are_listed_as_unclassified(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
) -> None:
    school = new_identifier("school")
    client = register_client(module_http, module_auth)
    refer(module_http, module_auth, client.id, referrer_organisation=school)

    unclassified = listed(module_http, admin, kind="unclassified")

    assert unclassified[school]["status"] == "unregistered"
    assert (unclassified[school]["name"], unclassified[school]["version"]) == (None, 0)
    assert "org-coordinating" in listed(module_http, admin, status="unregistered")


def test_registering_an_organisation_the_record_already_names_classifies_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
) -> None:
    school = new_identifier("school")
    client = register_client(module_http, module_auth)
    refer(module_http, module_auth, client.id, referrer_organisation=school)
    first_seen = read(module_http, admin, school)["first_seen_at"]

    register(module_http, admin, school, kind="school")

    found = read(module_http, admin, school)
    assert (found["kind"], found["status"]) == ("school", "confirmed")
    assert found["first_seen_at"] == first_seen
    assert school not in listed(module_http, admin, kind="unclassified")


def test_the_list_is_filtered_by_kind_status_and_region(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    admin: dict[str, str],
) -> None:
    hospital = new_identifier("hospital")
    gp = new_identifier("gp")
    register(module_http, admin, hospital, kind="hospital", region="limburg")
    register(module_http, module_auth, gp, kind="gp", region="limburg")

    assert hospital in listed(module_http, admin, kind="hospital", region="limburg")
    assert gp not in listed(module_http, admin, kind="hospital")
    assert gp in listed(module_http, admin, status="provisional", region="limburg")
    assert hospital not in listed(module_http, admin, region="west-flanders")


def test_the_list_is_read_page_by_page(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    for _ in range(3):
        register(module_http, admin, new_identifier("paged"), kind="network")

    first = module_http.get(ORGANISATIONS, params={"limit": 2}, headers=admin).json()
    second = module_http.get(
        ORGANISATIONS, params={"limit": 2, "after": first["next_after"]}, headers=admin
    ).json()

    assert len(first["items"]) == 2
    assert first["next_after"] == first["items"][-1]["identifier"]
    assert second["items"][0]["identifier"] > first["next_after"]


@pytest.mark.parametrize(
    "role", ["coordinator", "professional", "auditor", "learning_network", "admin"]
)
def test_any_known_role_reads_the_register(
    role: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    admin: dict[str, str],
) -> None:
    identifier = new_identifier()
    register(module_http, admin, identifier)

    response = module_http.get(
        f"{ORGANISATIONS}/{identifier}", headers=bearer(module_token(roles=(role,)))
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == etag(1)


def test_a_token_without_a_known_role_does_not_read_the_register(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    response = module_http.get(ORGANISATIONS, headers=bearer(module_token(roles=("visitor",))))

    assert_problem(response, 403, rule="access-policy")


def test_an_organisation_neither_registered_nor_named_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    admin: dict[str, str],
) -> None:
    response = module_http.get(f"{ORGANISATIONS}/{new_identifier()}", headers=admin)

    assert_problem(response, 404, rule="organisation-not-found")


def test_a_token_with_both_roles_registers_as_the_coordinator_and_confirms_as_the_admin(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    both = bearer(module_token(roles=("coordinator", "admin")))
    identifier = new_identifier()

    register(module_http, both, identifier)
    provisional = read(module_http, both, identifier)["status"]
    module_http.post(
        f"{ORGANISATIONS}/{identifier}/confirm", json={"occurred_at": at(1)}, headers=both
    )

    assert provisional == "provisional"
    assert read(module_http, both, identifier)["status"] == "confirmed"
