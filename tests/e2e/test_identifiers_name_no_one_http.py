"""An identifier a caller chooses names no one (found by an outside probe).

Only a client's names, contact details and free texts are sealed with the client's key; the ids
of the items of their record (goals, consents, representatives, escalations …) are kept in the
clear, in the events and the read models, and so outlive an erasure. The probe recorded
``erik-erasmus-stops-drinking``, ``maria-verstraeten-0470123456`` and ``erik-abuse-by-stepfather``
for Erik Erasmus and read them all back after his erasure. An id holding a part of a name
recorded for the client, or a contact, account or identification number, is now refused.
"""

from typing import Any

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import Person, TokenFactory
from tests.e2e.steps import (
    SCHOOL,
    Record,
    assert_problem,
    at,
    bearer,
    recorded,
    refer,
    register_client,
    start_consultation,
)
from tests.e2e.test_person_http import link, subject


@pytest.fixture
def erik(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> tuple[Record, Record]:
    client = register_client(module_http, module_auth, name="Erik Erasmus")
    trajectory = refer(module_http, module_auth, client.id, referrer_organisation=SCHOOL)
    trajectory.post("/acceptance", {"occurred_at": at(1)})
    trajectory.post("/consultations", start_consultation())
    client.post(
        "/representatives",
        {"occurred_at": at(2), "representative_ref": "rep-1", "name": "Maria Verstraeten"},
    )
    return client, trajectory


CHOSEN = [
    ("trajectory", "/goals", "goal_id", "erik-erasmus-stops-drinking", {"description": "x"}),
    ("trajectory", "/goals", "goal_id", "goal-with-maria", {"description": "x"}),
    (
        "trajectory",
        "/escalations",
        "escalation_id",
        "call-0470123456",
        {"level": "organisation", "reason": "safety", "description": "x"},
    ),
    (
        "client",
        "/consents",
        "consent_id",
        "ERIK-consent",
        {"to_party": "org-next", "scopes": ["plan"], "purpose": "x"},
    ),
    ("client", "/representatives", "representative_ref", "jan.peeters@example.org", {}),
    (
        "client",
        "/representatives",
        "representative_ref",
        "rep-verstraeten",
        {"name": "Ann Verstraeten"},
    ),
    ("trajectory", "/actions", "owner", "mama-maria", {"description": "x"}),
]


@pytest.mark.parametrize(
    ("on", "path", "field", "chosen", "body"),
    CHOSEN,
    ids=[
        "client's name",
        "representative's name",
        "phone",
        "case",
        "e-mail",
        "name given",
        "an action's owner",
    ],
)
def test_an_identifier_that_names_someone_is_refused_without_echoing_it(
    on: str,
    path: str,
    field: str,
    chosen: str,
    body: dict[str, Any],
    erik: tuple[Record, Record],
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    record = erik[0] if on == "client" else erik[1]
    before = recorded(module_container)

    response = module_http.post(
        f"{record.path}{path}",
        json={"occurred_at": at(3), field: chosen, **body},
        headers=module_auth,
    )

    problem = assert_problem(response, 422, rule="identifier-names-no-one", field=field)
    assert problem["detail"].startswith(f"{field} contains "), problem
    assert "may name no one" in problem["detail"]
    assert chosen not in response.text
    assert recorded(module_container) == before


@pytest.mark.parametrize("chosen", ["goal-school", "eval-2026-05", "goal-3", "school-exchange-2"])
def test_an_identifier_that_says_what_the_item_is_is_taken(
    chosen: str,
    erik: tuple[Record, Record],
) -> None:
    """A date names no one, nor a word that is no part of a recorded name."""
    answer = erik[1].post("/goals", {"occurred_at": at(3), "goal_id": chosen, "description": "x"})

    assert answer["item_id"] == chosen


@pytest.mark.parametrize("owner", ["org-kompas", "mother", "school-de-linde"])
def test_an_action_owned_by_an_organisation_or_a_role_is_taken(
    owner: str, erik: tuple[Record, Record]
) -> None:
    answer = erik[1].post("/actions", {"occurred_at": at(3), "description": "x", "owner": owner})

    assert answer["item_id"].startswith("action-")


def test_an_identifier_left_out_is_made_and_names_no_one(erik: tuple[Record, Record]) -> None:
    answer = erik[1].post("/goals", {"occurred_at": at(3), "description": "Erik gaat naar school"})

    assert answer["item_id"].startswith("goal-")
    assert "erik" not in answer["item_id"]


def test_a_caller_who_does_not_read_the_names_cannot_learn_them_by_trying_ids(
    erik: tuple[Record, Record],
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    """Found in review: a refusal for a name would tell a party that may not read the client's
    name (the referring school, without a consent for contact details) whether "erik" is part
    of it. For such a caller only numbers and addresses are refused."""
    school = bearer(module_token(user="juf", org=SCHOOL))
    goals = f"{erik[1].path}/goals"
    assert module_http.get(f"/v1/clients/{erik[0].id}", headers=school).status_code == 404

    named = module_http.post(
        goals,
        json={"occurred_at": at(3), "goal_id": "erik-reads", "description": "x"},
        headers=school,
    )
    numbered = module_http.post(
        goals,
        json={"occurred_at": at(3), "goal_id": "call-0470123456", "description": "x"},
        headers=school,
    )

    assert named.status_code == 200, named.text
    assert_problem(numbered, 422, rule="identifier-names-no-one", field="goal_id")


def test_a_person_chooses_no_id_naming_themselves_or_the_client(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    person: Person,
) -> None:
    """Found by an outside probe: on ``/v1/me`` a person's ids were checked for numbers only, so
    ``noor-vermeulen`` outlived Noor's erasure as a request's id. A person knows their own name
    and the client's: those are refused. Another representative's name is not checked (a
    refusal would tell a birth parent a foster parent's name)."""
    client = register_client(module_http, module_auth, name="Noor Vermeulen")
    trajectory = refer(module_http, module_auth, client.id, referrer_organisation=SCHOOL)
    trajectory.post("/acceptance", {"occurred_at": at(1)})
    for ref, name in (("rep-1", "Ann Claes"), ("rep-2", "Bert Wouters")):
        client.post(
            "/representatives", {"occurred_at": at(2), "representative_ref": ref, "name": name}
        )
    child, parent = subject(), subject()
    link(client, child)
    link(client, parent, "representative", representative_ref="rep-1")
    before = recorded(module_container)

    def request(who: dict[str, str], request_id: str) -> Any:
        return module_http.post(
            "/v1/me/requests",
            json={"occurred_at": at(3), "kind": "access_copy", "request_id": request_id},
            headers=who,
        )

    for who, chosen in (
        (person(child, "client"), "noor-copy"),
        (person(child, "client"), "vermeulen"),
        (person(parent, "representative"), "copy-for-noor"),
        (person(parent, "representative"), "ann-asks"),
    ):
        answer = request(who, chosen)
        problem = assert_problem(answer, 422, rule="identifier-names-no-one", field="request_id")
        assert chosen not in answer.text, problem
    assert recorded(module_container) == before
    other = request(person(parent, "representative"), "wouters-knows")
    assert other.status_code == 200, other.text
