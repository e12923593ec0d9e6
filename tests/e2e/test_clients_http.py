"""``/v1/clients``: registration, representatives, consents, through HTTP."""

from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from domain.client import Client
from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    COORDINATOR,
    NEXT_ORGANISATION,
    Record,
    assert_answer,
    assert_problem,
    at,
    bearer,
    etag,
    on,
    recorded,
    register_client,
)


def test_registering_a_client_answers_201_with_the_id_version_and_location(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    response = module_http.post(
        "/v1/clients",
        json={"occurred_at": at(), "name": "Lotte", "contact": "lotte@example.org"},
        headers=module_auth,
    )

    answer = assert_answer(response, 201, 1)
    assert response.headers["location"] == f"/v1/clients/{answer['id']}"
    state = module_http.get(response.headers["location"], headers=module_auth)
    assert state.status_code == 200
    assert state.headers["etag"] == etag(1)
    client = state.json()
    assert client["id"] == answer["id"]
    assert client["version"] == 1
    assert client["registering_organisation"] == COORDINATOR
    assert (client["name"], client["contact"]) == ("Lotte", "lotte@example.org")
    assert (client["representatives"], client["consents"]) == ([], [])


def test_a_client_may_be_registered_under_a_pseudonym_only(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    state = client.state()
    assert state["name"] is None
    assert state["contact"] is None


def test_appointing_a_representative_adds_them_to_the_client(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    answer = client.post(
        "/representatives",
        {
            "occurred_at": at(1),
            "representative_ref": "rep-mother",
            "name": "Mother",
            "contact": "0470 00 00 00",
        },
    )

    assert answer["item_id"] == "rep-mother"
    assert client.state()["representatives"] == [
        {"ref": "rep-mother", "name": "Mother", "excluded": False}
    ]


def test_a_representative_is_appointed_once(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(1), "representative_ref": "rep-mother"})

    client.refused(
        "/representatives",
        {"occurred_at": at(2), "representative_ref": "rep-mother"},
        status=409,
        rule="rule-conflict",
    )


def test_excluding_a_representative_marks_them_excluded(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(1), "representative_ref": "rep-uncle"})

    client.post(
        "/representatives/rep-uncle/exclusion",
        {"occurred_at": at(2), "reason": "the client opts out"},
    )

    assert client.state()["representatives"] == [
        {"ref": "rep-uncle", "name": None, "excluded": True}
    ]
    client.refused(
        "/representatives/rep-uncle/exclusion",
        {"occurred_at": at(3)},
        status=409,
        rule="rule-conflict",
    )


def test_excluding_a_representative_who_was_never_appointed_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    problem = client.refused(
        "/representatives/rep-nobody/exclusion",
        {"occurred_at": at(1)},
        status=404,
        rule="item-not-found",
    )
    assert problem["field"] == "representative_ref"


def test_granting_a_consent_records_to_whom_what_why_and_until_when(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    answer = client.post(
        "/consents",
        {
            "occurred_at": at(1),
            "consent_id": "consent-plan",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan", "contact_details"],
            "purpose": "continuity of the plan",
            "until": on(365),
        },
    )

    assert answer["item_id"] == "consent-plan"
    assert client.state()["consents"] == [
        {
            "id": "consent-plan",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan", "contact_details"],
            "purpose": "continuity of the plan",
            "granted_on": at(1)[:10],
            "until": on(365),
            "revoked": False,
            "trajectory_id": None,  # names one only for the purpose continuation
        }
    ]


def test_a_consent_without_an_id_gets_one(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    answer = client.post(
        "/consents",
        {"occurred_at": at(1), "to_party": NEXT_ORGANISATION, "scopes": ["plan"], "purpose": "p"},
    )

    assert answer["item_id"].startswith("consent-")
    assert [c["id"] for c in client.state()["consents"]] == [answer["item_id"]]


def test_revoking_a_consent_takes_effect_at_once_and_only_once(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    client.post(
        "/consents",
        {
            "occurred_at": at(1),
            "consent_id": "consent-plan",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "continuity",
        },
    )

    client.post("/consents/consent-plan/revocation", {"occurred_at": at(2), "reason": "moved"})

    assert client.state()["consents"][0]["revoked"] is True
    client.refused(
        "/consents/consent-plan/revocation",
        {"occurred_at": at(3)},
        status=409,
        rule="rule-conflict",
    )


def test_revoking_a_consent_that_was_never_granted_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    problem = client.refused(
        "/consents/consent-nothing/revocation",
        {"occurred_at": at(1)},
        status=404,
        rule="item-not-found",
    )
    assert problem["field"] == "consent_id"


def test_a_consent_cannot_end_before_it_is_given(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    problem = client.refused(
        "/consents",
        {
            "occurred_at": at(48),
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "p",
            "until": on(0),
        },
        status=422,
        rule="invalid-value",
    )
    assert problem["field"] == "until"


def test_an_unknown_client_is_not_found(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    before = recorded(module_container)
    unknown = uuid4()

    assert_problem(
        module_http.get(f"/v1/clients/{unknown}", headers=module_auth), 404, rule="client-not-found"
    )
    assert_problem(
        module_http.post(
            f"/v1/clients/{unknown}/representatives",
            json={"occurred_at": at(), "representative_ref": "rep-1"},
            headers=module_auth,
        ),
        404,
        rule="client-not-found",
    )
    assert recorded(module_container) == before


def test_a_trajectory_id_is_not_a_client_id(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    response = module_http.post(
        "/v1/trajectories",
        json={
            "occurred_at": at(),
            "client_id": client.id,
            "question": "q",
            "sector": "education",
            "region": "ghent",
        },
        headers=module_auth,
    )
    trajectory = Record(module_http, module_auth, "trajectories", response.json()["id"])

    assert_problem(
        module_http.get(f"/v1/clients/{trajectory.id}", headers=module_auth),
        404,
        rule="client-not-found",
    )
    assert_problem(
        module_http.get(f"/v1/trajectories/{client.id}", headers=module_auth),
        404,
        rule="trajectory-not-found",
    )


def test_erasing_a_client_makes_their_personal_data_unreadable_and_keeps_the_record(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    client = register_client(module_http, module_auth, name="Lotte", contact="lotte@example.org")
    client.post("/representatives", {"occurred_at": at(1), "representative_ref": "rep-mother"})
    officer = bearer(module_token(user="user-dpo", roles=("data_protection_officer",)))

    client.post("/erasure", {"occurred_at": at(2), "legal_basis": "gdpr_request"}, headers=officer)

    state = client.state()
    assert state["erased"] is True
    assert "Lotte" not in str(state)
    assert "lotte@example.org" not in str(state)
    assert [r["ref"] for r in state["representatives"]] == ["rep-mother"]


@pytest.mark.parametrize(
    "roles", [("coordinator",), ("admin",), ("admin", "coordinator", "auditor")], ids=str
)
def test_a_client_is_erased_by_the_data_protection_officer_only(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    roles: tuple[str, ...],
) -> None:
    """Erasure is irreversible: one named role of the deployment, carried explicitly (#10)."""
    client = register_client(module_http, module_auth, name="Lotte")

    problem = client.refused(
        "/erasure",
        {"occurred_at": at(1), "legal_basis": "gdpr_request"},
        status=403,
        rule="access-policy",
        headers=bearer(module_token(user="user-x", roles=roles)),
    )

    assert "data_protection_officer" in problem["detail"]
    assert client.state()["name"] == "Lotte"


def test_an_erasure_records_who_erased_and_on_which_legal_ground(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    module_container: Container,
) -> None:
    client = register_client(module_http, module_auth, name="Lotte")
    officer = bearer(module_token(user="dpo-1", org="org-dpo", roles=("data_protection_officer",)))

    client.post(
        "/erasure", {"occurred_at": at(2), "legal_basis": "retention_ended"}, headers=officer
    )

    erased = module_container.care_record.client(UUID(client.id))
    event = list(module_container.care_record.events.get(UUID(client.id)))[-1]
    assert erased.erased_at is not None
    assert isinstance(event, Client.Erased)
    assert event.legal_basis == "retention_ended"
    assert (event.actor.user_id, event.actor.organisation, event.actor.role) == (
        "dpo-1",
        "org-dpo",
        "data_protection_officer",
    )


def test_an_erasure_names_its_legal_basis(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
) -> None:
    client = register_client(module_http, module_auth)

    response = module_http.post(
        f"{client.path}/erasure",
        json={"occurred_at": at(1), "legal_basis": "because"},
        headers=bearer(module_token(user="user-dpo", roles=("data_protection_officer",))),
    )

    assert assert_problem(response, 422)["field"] == "legal_basis"
