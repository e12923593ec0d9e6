"""The outside attack's access probes (issue #10), kept as regressions.

Each test is one hole the attack found, asked the way it was found: a consent holder granting
itself more, a consent holder referring the client elsewhere, an auditor reading another
region's read log, an ``X-On-Behalf-Of`` nobody appointed, a token whose second role lends its
relation to the first, an idempotency key reused by a namesake at another organisation, and a
plain handover that handed over coordination. The matrix (``test_access_matrix``) asks every
endpoint the same questions in general; these ask them exactly as the attack did.
"""

from typing import Any

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    COORDINATOR,
    NEXT_ORGANISATION,
    SCHOOL,
    Record,
    assert_problem,
    at,
    bearer,
    events_of,
    recorded,
    refer,
    register_client,
    start_consultation,
    trajectory_with_plan,
)

REGION = "west-flanders"
HOLDER = "org-holder"  # holds a consent of the client, and nothing else
STRANGER = "org-stranger"
EVIL = "org-evil"  # named to coordinate by someone who may not


@pytest.fixture(scope="module")
def who(module_token: TokenFactory) -> Any:
    """``who(org, *roles, region=...)`` → the Authorization header of such a user."""

    def auth(
        organisation: str, *roles: str, region: str = REGION, user: str = ""
    ) -> dict[str, str]:
        return bearer(
            module_token(
                user=user or f"{'+'.join(roles)}@{organisation}",
                org=organisation,
                roles=roles or ("coordinator",),
                region=region,
            )
        )

    return auth


def grant(client: Record, to_party: str, *scopes: str, hours: float = 2) -> str:
    answer = client.post(
        "/consents",
        {
            "occurred_at": at(hours),
            "to_party": to_party,
            "scopes": list(scopes),
            "purpose": "continuity of care",
        },
    )
    consent: str = answer["item_id"]
    return consent


def post(
    http: TestClient,  # type: ignore[type-arg]
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> Any:
    return http.post(path, json={"occurred_at": at(5), **body}, headers=headers)


# --- 1. a consent never lets its holder manage the client -------------------------------------


def test_a_consent_holder_grants_no_consent_to_itself_or_anyone_else(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    grant(client, HOLDER, "contact_details")
    other = grant(client, NEXT_ORGANISATION, "plan")
    holder = who(HOLDER, "coordinator")
    before = recorded(module_container)

    attempts = [
        (f"{client.path}/consents", {"to_party": HOLDER, "scopes": ["plan", "dossier"]}),
        (f"{client.path}/consents", {"to_party": STRANGER, "scopes": ["plan"]}),
        (f"{client.path}/consents/{other}/revocation", {"reason": "not wanted"}),
        (f"{client.path}/representatives", {"representative_ref": "rep-holder"}),
        (f"{client.path}/representatives/rep-x/exclusion", {"reason": "x"}),
    ]
    for path, body in attempts:
        body = {"purpose": "p", **body} if path.endswith("/consents") else body
        assert_problem(post(module_http, path, body, holder), 403, rule="access-policy")

    assert recorded(module_container) == before
    assert module_http.get(trajectory.path, headers=holder).status_code == 404
    assert module_http.get(trajectory.path, headers=who(STRANGER)).status_code == 404


def test_a_consent_holder_does_not_refer_the_client_elsewhere(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    client = register_client(module_http, module_auth)
    grant(client, HOLDER, "plan", "dossier", "contact_details")
    before = recorded(module_container)

    response = post(
        module_http,
        "/v1/trajectories",
        {
            "client_id": client.id,
            "question": "Somewhere else",
            "sector": "youth_care",
            "region": REGION,
            "referrer_organisation": HOLDER,
        },
        who(HOLDER, "coordinator"),
    )

    assert_problem(response, 403, rule="access-policy")
    assert recorded(module_container) == before


def test_a_consent_holder_sees_a_trajectory_but_does_not_record_on_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    """Consent lets information pass (004); it gives no say over the trajectory: no handover to
    itself with coordination, no block, no closing."""
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    grant(client, HOLDER, "plan")
    holder = who(HOLDER, "coordinator")
    before = recorded(module_container)

    handover = post(
        module_http,
        f"{trajectory.path}/handovers",
        {"to_party": HOLDER, "transfers_coordination": True},
        holder,
    )
    block = post(module_http, f"{trajectory.path}/blocks", {"reasons": ["funding"]}, holder)

    assert module_http.get(trajectory.path, headers=holder).status_code == 200
    assert_problem(handover, 403, rule="access-policy")
    assert_problem(block, 403, rule="access-policy")
    assert recorded(module_container) == before


def test_the_coordinator_of_an_open_trajectory_acts_for_the_client_until_it_closes(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    who: Any,
) -> None:
    """The registering organisation and the coordinating organisation of an open trajectory
    manage the client's consents, acting for the client; closing ends that."""
    client = register_client(module_http, module_auth, name="Noor")
    trajectory = refer(module_http, module_auth, client.id)
    named = grant(client, NEXT_ORGANISATION, "plan", hours=0.5)  # naming it needs consent
    trajectory.post(
        "/acceptance", {"occurred_at": at(1), "coordinating_organisation": NEXT_ORGANISATION}
    )
    client.post(f"/consents/{named}/revocation", {"occurred_at": at(1.5), "reason": "done"})
    coordinator = who(NEXT_ORGANISATION, "coordinator")
    trajectory.auth = coordinator
    consent = {"to_party": "org-school", "scopes": ["plan"], "purpose": "school support"}

    granted = post(module_http, f"{client.path}/consents", consent, coordinator)
    seen = module_http.get(client.path, headers=coordinator)
    trajectory.post("/consultations", start_consultation())
    trajectory.post(
        "/consultation-waivers", {"occurred_at": at(6), "kind": "end", "reason": "moved"}
    )
    trajectory.post(
        "/closure", {"occurred_at": at(7), "reason": "moved", "no_follow_up_reason": "moved"}
    )
    after_closing = post(module_http, f"{client.path}/consents", consent, coordinator)

    assert granted.status_code == 200, granted.text
    assert seen.status_code == 200, seen.text
    assert seen.json()["name"] is None  # managing is not a consent to the contact details
    assert_problem(after_closing, 404, rule="client-not-found")


# --- 1b. the referral is answered by the organisation that recorded it (review of #10, B1) -------


def test_a_referrer_neither_accepts_naming_a_coordinator_nor_declines(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    """As the review found it: the school the registering organisation named as referrer
    accepted naming ``org-evil``, which then granted itself consents and read the client."""
    client = register_client(module_http, module_auth)
    trajectory = refer(module_http, module_auth, client.id, referrer_organisation=SCHOOL)
    school, evil = who(SCHOOL, "coordinator"), who(EVIL, "coordinator")
    before = recorded(module_container)

    accepted = post(
        module_http,
        f"{trajectory.path}/acceptance",
        {"coordinating_organisation": EVIL},
        school,
    )
    declined = post(module_http, f"{trajectory.path}/declination", {"reason": "no"}, school)
    consent = {"to_party": EVIL, "scopes": ["plan", "dossier", "contact_details"]}
    granted = post(module_http, f"{client.path}/consents", {"purpose": "p", **consent}, evil)

    assert_problem(accepted, 403, rule="not-a-party")
    assert_problem(declined, 403, rule="not-a-party")
    assert_problem(granted, 404, rule="client-not-found")
    assert_problem(module_http.get(client.path, headers=evil), 404)
    assert recorded(module_container) == before


def test_the_intake_organisation_names_no_coordinator_the_client_did_not_consent_to(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    client = register_client(module_http, module_auth)
    trajectory = refer(module_http, module_auth, client.id, referrer_organisation=SCHOOL)
    grant(client, EVIL, "contact_details")  # a consent, but not to pass it the plan
    before = recorded(module_container)

    accepted = post(
        module_http,
        f"{trajectory.path}/acceptance",
        {"coordinating_organisation": EVIL},
        module_auth,
    )
    consent = {"to_party": EVIL, "scopes": ["plan"], "purpose": "p"}
    granted = post(module_http, f"{client.path}/consents", consent, who(EVIL, "coordinator"))

    assert_problem(accepted, 409, rule="coordination-needs-consent")
    assert_problem(granted, 403, rule="access-policy")
    assert recorded(module_container) == before


# --- 3. the read log: an auditor's own region only ------------------------------------------------


def test_an_auditor_reads_who_saw_the_clients_of_its_own_region_only(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    who: Any,
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    assert module_http.get(trajectory.path, headers=module_auth).status_code == 200
    here, elsewhere = who("org-audit", "auditor"), who("org-audit", "auditor", region="limburg")
    log = "/v1/audit/personal-data-reads"

    own = module_http.get(f"{log}?client_id={client.id}", headers=here)
    other = module_http.get(f"{log}?client_id={client.id}", headers=elsewhere)
    unfiltered = module_http.get(f"{log}?limit=5000", headers=elsewhere)

    assert own.status_code == 200
    assert {entry["client_id"] for entry in own.json()} == {client.id}
    assert_problem(other, 404, rule="client-not-found")
    assert unfiltered.status_code == 200
    assert client.id not in {entry["client_id"] for entry in unfiltered.json()}


def test_an_auditor_reads_no_reads_of_its_clients_trajectories_in_another_region(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    who: Any,
) -> None:
    """Review of #10 (B2): a client with a trajectory here and one in Limburg; who read the
    Limburg one is for Limburg's auditor, while the client's own reads stay visible here."""
    client = register_client(module_http, module_auth)
    here = refer(module_http, module_auth, client.id)
    there = refer(module_http, module_auth, client.id, region="limburg")
    for path in (here.path, f"{there.path}?min_position={there.position}", client.path):
        assert module_http.get(path, headers=module_auth).status_code == 200
    log = f"/v1/audit/personal-data-reads?client_id={client.id}"

    own = module_http.get(log, headers=who("org-audit", "auditor")).json()
    limburg = module_http.get(log, headers=who("org-audit", "auditor", region="limburg")).json()

    assert {entry["trajectory_id"] for entry in own} == {here.id, None}
    assert {entry["trajectory_id"] for entry in limburg} == {there.id, None}


# --- 4. X-On-Behalf-Of: an appointed representative, named exactly ------------------------------


@pytest.fixture(scope="module")
def represented(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> tuple[Record, Record]:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(3), "representative_ref": "rep-1"})
    client.post("/representatives", {"occurred_at": at(3), "representative_ref": "rep-2"})
    client.post(
        "/representatives/rep-2/exclusion", {"occurred_at": at(4), "reason": "client opts out"}
    )
    return client, trajectory


NOT_APPOINTED = ["rep-1\t", "REP-1", " rep-1", "rep-never", "r" * 5000, "rep-1\x7f"]


def short(named: str) -> str:
    return repr(named if len(named) < 20 else f"{named[:8]}…({len(named)})")


@pytest.mark.parametrize("named", NOT_APPOINTED, ids=short)
def test_a_command_on_behalf_of_anyone_but_an_appointed_representative_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    represented: tuple[Record, Record],
    named: str,
) -> None:
    client, trajectory = represented
    before = recorded(module_container)

    goal = post(
        module_http,
        f"{trajectory.path}/goals",
        {"description": "Sleeps well"},
        {**module_auth, "X-On-Behalf-Of": named},
    )
    consent = post(
        module_http,
        f"{client.path}/consents",
        {"to_party": STRANGER, "scopes": ["plan"], "purpose": "p"},
        {**module_auth, "X-On-Behalf-Of": named},
    )

    assert_problem(goal, 422, field="X-On-Behalf-Of")
    assert_problem(consent, 422, field="X-On-Behalf-Of")
    assert recorded(module_container) == before


@pytest.mark.parametrize("named", NOT_APPOINTED, ids=short)
def test_a_read_on_behalf_of_anyone_but_an_appointed_representative_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    represented: tuple[Record, Record],
    named: str,
) -> None:
    client, trajectory = represented
    headers = {**module_auth, "X-On-Behalf-Of": named}

    for path in (trajectory.path, f"{trajectory.path}/timeline", client.path):
        assert_problem(module_http.get(path, headers=headers), 422, field="X-On-Behalf-Of")


def test_an_excluded_representative_neither_reads_nor_acts(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    represented: tuple[Record, Record],
) -> None:
    _, trajectory = represented
    headers = {**module_auth, "X-On-Behalf-Of": "rep-2"}
    before = recorded(module_container)

    goal = post(module_http, f"{trajectory.path}/goals", {"description": "x"}, headers)

    assert_problem(goal, 403, rule="representative-excluded")
    assert_problem(module_http.get(trajectory.path, headers=headers), 403)
    assert recorded(module_container) == before


def test_the_appointed_representative_acted_for_is_recorded_as_named(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    represented: tuple[Record, Record],
) -> None:
    _, trajectory = represented

    answer = post(
        module_http,
        f"{trajectory.path}/goals",
        {"description": "Sleeps well"},
        {**module_auth, "X-On-Behalf-Of": "rep-1"},
    )

    assert answer.status_code == 200, answer.text
    assert events_of(module_container, trajectory.id)[-1].actor.on_behalf_of == "rep-1"


# --- 5. a token's roles: each with its own relation ---------------------------------------------


def test_an_auditors_region_does_not_let_the_same_tokens_coordinator_record(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
) -> None:
    _, trajectory = trajectory_with_plan(module_http, module_auth)
    both = who(STRANGER, "coordinator", "auditor", user="mixed-1")
    before = recorded(module_container)

    read = module_http.get(trajectory.path, headers=both)
    goal = post(module_http, f"{trajectory.path}/goals", {"description": "x"}, both)
    block = post(module_http, f"{trajectory.path}/blocks", {"reasons": ["funding"]}, both)

    assert read.status_code == 200  # the auditor reads its region
    assert_problem(goal, 404)  # the coordinator has no relation: nothing to record on
    assert_problem(block, 404)
    assert recorded(module_container) == before
    reads = module_http.get(
        "/v1/audit/personal-data-reads?user_id=mixed-1", headers=who("org-a", "auditor")
    ).json()
    assert [entry["role"] for entry in reads] == ["auditor"]  # the role that read


@pytest.mark.parametrize(
    "roles",
    [
        ("auditor", "coordinator"),
        ("professional", "coordinator"),
        ("learning_network", "coordinator"),
    ],
)
def test_the_role_that_acted_is_the_one_recorded(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    who: Any,
    roles: tuple[str, ...],
) -> None:
    _, trajectory = trajectory_with_plan(module_http, module_auth)

    answer = post(
        module_http, f"{trajectory.path}/goals", {"description": "x"}, who(COORDINATOR, *roles)
    )

    assert answer.status_code == 200, answer.text
    assert events_of(module_container, trajectory.id)[-1].actor.role == "coordinator"


# --- 6. idempotency keys: one user at one organisation ------------------------------------------


def test_a_namesake_at_another_organisation_does_not_replay_an_idempotent_answer(
    module_http: TestClient,  # type: ignore[type-arg]
    who: Any,
) -> None:
    key = {"Idempotency-Key": "register-once-0001"}
    body = {"occurred_at": at(1), "name": "Lotte"}

    first = module_http.post(
        "/v1/clients", json=body, headers={**who("org-a", user="user-same"), **key}
    )
    second = module_http.post(
        "/v1/clients", json=body, headers={**who("org-b", user="user-same"), **key}
    )
    again = module_http.post(
        "/v1/clients", json=body, headers={**who("org-a", user="user-same"), **key}
    )

    assert (first.status_code, second.status_code, again.status_code) == (201, 201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in second.headers


# --- 9. a handover hands over coordination only when asked, and never once closed ----------------


def test_a_plain_handover_leaves_coordination_where_it_was(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    grant(client, NEXT_ORGANISATION, "plan")

    trajectory.post("/handovers", {"occurred_at": at(5), "to_party": NEXT_ORGANISATION})

    state = trajectory.state()
    assert state["handovers"] == 1
    assert state["coordinating_organisation"] == COORDINATOR
    assert NEXT_ORGANISATION not in state["parties"]


def test_coordination_of_a_closed_trajectory_is_not_handed_over(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    grant(client, NEXT_ORGANISATION, "plan")
    trajectory.post(
        "/consultation-waivers", {"occurred_at": at(4), "kind": "end", "reason": "moved"}
    )
    trajectory.post(
        "/closure", {"occurred_at": at(5), "reason": "moved", "follow_up_by": NEXT_ORGANISATION}
    )

    trajectory.refused(
        "/handovers",
        {"occurred_at": at(6), "to_party": NEXT_ORGANISATION, "transfers_coordination": True},
        status=409,
        rule="trajectory-state-machine",
    )
    trajectory.post("/handovers", {"occurred_at": at(6), "to_party": NEXT_ORGANISATION})
    assert trajectory.state()["coordinating_organisation"] == COORDINATOR
