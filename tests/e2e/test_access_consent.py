"""Consent, role agreements and representatives decide access on the record, request by request.

A consent that is revoked, or an agreement that ends, closes the door on the very next request;
a handover needs a consent in force that covers the receiving party; a representative the client
excluded can neither sign nor read the plan.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import bearer, recorded

A = "org-a"  # registers the clients, refers and coordinates
B = "org-b"
C = "org-c"
REGION = "west-flanders"
CONTACT = "contact-4f1e9a@example.org"
QUESTION = "Support at home for the Q7 family"

#: Two days ago: recent enough that no deadline of the scheduler falls due meanwhile.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def at(hours: float) -> str:
    return (BASE + timedelta(hours=hours)).isoformat()


def day(days: int) -> str:
    return (BASE + timedelta(days=days)).date().isoformat()


class Api:
    """The app as organisations A, B and C see it."""

    def __init__(
        self,
        http: TestClient,  # type: ignore[type-arg]
        token: TokenFactory,
        container: Container,
    ) -> None:
        self.http = http
        self.token = token
        self.container = container

    def auth(self, org: str = A, role: str = "coordinator") -> dict[str, str]:
        return bearer(self.token(user=f"{role}@{org}", org=org, roles=(role,), region=REGION))

    def post(
        self, path: str, body: dict[str, Any], org: str = A, role: str = "coordinator"
    ) -> httpx.Response:
        return self.http.post(
            path, json={"occurred_at": at(2), **body}, headers=self.auth(org, role)
        )

    def ok(self, path: str, body: dict[str, Any], org: str = A, role: str = "coordinator") -> Any:
        response = self.post(path, body, org, role)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(
        self, path: str, org: str = A, role: str = "coordinator", **headers: str
    ) -> httpx.Response:
        return self.http.get(path, headers={**self.auth(org, role), **headers})

    def refused(
        self,
        path: str,
        body: dict[str, Any],
        status: int,
        rule: str,
        org: str = A,
        role: str = "coordinator",
    ) -> None:
        """Refused with this status and rule, and nothing recorded."""
        before = recorded(self.container)
        response = self.post(path, body, org, role)
        assert (response.status_code, response.json().get("rule")) == (status, rule), response.text
        assert recorded(self.container) == before

    # --- records ---

    def client(self, org: str = A) -> str:
        answer = self.ok(
            "/v1/clients", {"occurred_at": at(-1), "name": "Q7", "contact": CONTACT}, org
        )
        client: str = answer["id"]
        return client

    def trajectory(self, client: str, org: str = A) -> str:
        """Referred by ``org``, accepted, started, with a goal: a plan in the making."""
        answer = self.ok(
            "/v1/trajectories",
            {
                "occurred_at": at(0),
                "client_id": client,
                "question": QUESTION,
                "sector": "youth_care",
                "region": REGION,
            },
            org,
        )
        trajectory: str = answer["id"]
        path = f"/v1/trajectories/{trajectory}"
        self.ok(f"{path}/acceptance", {"occurred_at": at(1)}, org)
        self.ok(f"{path}/consultations", consultation("start"), org)
        self.ok(f"{path}/goals", {"goal_id": "goal-home", "description": "Safe at home"}, org)
        return trajectory

    def consent(
        self,
        client: str,
        to: str,
        scopes: list[str],
        org: str = A,
        purpose: str = "continuity",
        trajectory: str | None = None,
    ) -> str:
        body = {"occurred_at": at(0), "to_party": to, "scopes": scopes, "purpose": purpose}
        if trajectory is not None:
            body["trajectory_id"] = trajectory
        answer = self.ok(f"/v1/clients/{client}/consents", body, org)
        consent: str = answer["item_id"]
        return consent


def consultation(kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": at(1.5),
        "kind": kind,
        "participants": [{"organisation": A, "role": "planmaker"}],
        "client_involvement": "present",
    }
    if kind != "end":
        body["next_consultation_on"] = day(90)
    return body


@pytest.fixture
def api(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_container: Container,
) -> Api:
    return Api(module_http, module_token, module_container)


ALL_SCOPES = ["plan", "dossier", "contact_details"]


def test_revoking_a_consent_takes_effect_on_the_very_next_request(api: Api) -> None:
    client = api.client()
    trajectory = api.trajectory(client)
    consent = api.consent(client, B, ALL_SCOPES)
    path = f"/v1/trajectories/{trajectory}"
    assert api.get(path, B).status_code == 200
    assert api.get(f"{path}/timeline", B).status_code == 200
    assert api.get(f"/v1/clients/{client}", B).json()["contact"] == CONTACT
    # A consent lets B see; it gives B no say over the trajectory (issue #10).
    api.refused(f"{path}/goals", {"description": "Sleeps well"}, 403, "access-policy", org=B)

    api.ok(f"/v1/clients/{client}/consents/{consent}/revocation", {"reason": "withdrawn"})

    plan = api.get(path, B)
    assert (plan.status_code, plan.json()["rule"]) == (404, "trajectory-not-found")
    assert api.get(f"{path}/timeline", B).status_code == 404
    assert api.get(f"/v1/clients/{client}", B).status_code == 404
    api.refused(f"{path}/goals", {"description": "Eats well"}, 404, "trajectory-not-found", org=B)
    api.refused(
        f"/v1/clients/{client}/consents",
        {"to_party": C, "scopes": ["plan"], "purpose": "continuity"},
        404,
        "client-not-found",
        org=B,
    )
    # The organisation that coordinates goes on as before.
    assert api.get(path).status_code == 200


def test_a_handover_needs_a_consent_in_force_that_covers_the_receiving_party(api: Api) -> None:
    client = api.client()
    trajectory = api.trajectory(client)
    handovers = f"/v1/trajectories/{trajectory}/handovers"
    hand_over = {"to_party": B, "scopes": ["plan"], "transfers_coordination": False}

    api.refused(handovers, hand_over, 409, "handover-needs-consent")

    consent = api.consent(client, B, ["plan"])
    api.refused(
        handovers, {**hand_over, "scopes": ["plan", "dossier"]}, 409, "handover-needs-consent"
    )
    api.refused(handovers, {**hand_over, "to_party": C}, 409, "handover-needs-consent")
    api.ok(handovers, hand_over)

    api.ok(f"/v1/clients/{client}/consents/{consent}/revocation", {"reason": "withdrawn"})
    api.refused(handovers, hand_over, 409, "handover-needs-consent")
    assert api.get(f"/v1/trajectories/{trajectory}").json()["handovers"] == 1


def test_an_excluded_representative_can_neither_sign_nor_read_the_plan(api: Api) -> None:
    client = api.client()
    trajectory = api.trajectory(client)
    path = f"/v1/trajectories/{trajectory}"
    for ref in ("rep-uncle", "rep-mother"):
        api.ok(
            f"/v1/clients/{client}/representatives",
            {"representative_ref": ref, "name": "Q7 relative"},
        )
    api.ok(
        f"/v1/clients/{client}/representatives/rep-uncle/exclusion",
        {"reason": "the client opts out"},
    )

    api.refused(
        f"{path}/plan-signatures",
        {"signatory": "representative", "representative_ref": "rep-uncle"},
        409,
        "plan-signed-by-client-or-representative",
    )
    for read in (path, f"{path}/timeline"):
        excluded = api.get(read, **{"X-On-Behalf-Of": "rep-uncle"})
        assert (excluded.status_code, excluded.json()["rule"]) == (
            403,
            "representative-excluded",
        ), read
        assert QUESTION not in excluded.text
        assert api.get(read, **{"X-On-Behalf-Of": "rep-mother"}).status_code == 200, read

    api.ok(
        f"{path}/plan-signatures",
        {"signatory": "representative", "representative_ref": "rep-mother"},
    )
    plan = api.get(path, **{"X-On-Behalf-Of": "rep-mother"}).json()["plan"]
    assert plan["representative_ref"] == "rep-mother"


def test_an_organisation_named_in_a_pending_agreement_is_party_while_it_is_in_force(
    api: Api,
) -> None:
    trajectory = api.trajectory(api.client())
    path = f"/v1/trajectories/{trajectory}"
    agreement = api.ok(
        f"{path}/role-agreements", {"assignments": [{"party": C, "role": "provider"}]}
    )["item_id"]
    assert api.get(path, C, "professional").status_code == 404

    api.ok(f"{path}/role-agreements/{agreement}/acceptances", {}, C, "professional")

    assert api.get(path, C, "professional").status_code == 200
    api.ok(f"{path}/consultations", consultation("ad_hoc"), C, "professional")

    api.ok(f"{path}/role-agreements/{agreement}/end", {"reason": "support ended"})

    assert api.get(path, C, "professional").status_code == 404
    api.refused(
        f"{path}/consultations",
        consultation("ad_hoc"),
        404,
        "trajectory-not-found",
        C,
        "professional",
    )


def test_a_consent_for_contact_details_only_does_not_open_the_plan(api: Api) -> None:
    """Issue #4: a consent opens a trajectory when it *covers* it; the plan is not covered by a
    consent that names only the contact details."""
    client = api.client()
    trajectory = api.trajectory(client)
    api.consent(client, B, ["contact_details"])

    plan = api.get(f"/v1/trajectories/{trajectory}", B)

    assert plan.status_code in (403, 404), plan.text
    assert QUESTION not in plan.text


def test_a_consent_for_the_plan_only_does_not_show_the_contact_details(api: Api) -> None:
    """A consent names what passes (plan, dossier, contact details): the contact details do not
    pass under a consent for the plan."""
    client = api.client()
    api.trajectory(client)
    api.consent(client, B, ["plan"])

    answer = api.get(f"/v1/clients/{client}", B)

    assert CONTACT not in answer.text


def test_continuing_a_trajectory_the_caller_cannot_see_is_refused_as_not_found(
    api: Api,
) -> None:
    """The referral loads the earlier trajectory too: the access policy must decide on it as on
    any record, or an organisation links to (and learns the state of) a trajectory it may not
    see."""
    client = api.client()  # registered by A
    first = api.ok(
        "/v1/trajectories",
        {"occurred_at": at(0), "client_id": client, "question": QUESTION}
        | {"sector": "youth_care", "region": REGION},
    )["id"]
    api.consent(client, B, ["plan"])  # naming B to coordinate passes it the plan (004)
    api.ok(f"/v1/trajectories/{first}/acceptance", {"coordinating_organisation": B})
    # B coordinates an open trajectory of the client, so B acts for the client and refers it
    # again: A is no party to this second trajectory.
    earlier = api.trajectory(client, org=B)
    path = f"/v1/trajectories/{earlier}"
    api.ok(f"{path}/consultations", {**consultation("end"), "occurred_at": at(3)}, B)
    api.ok(f"{path}/closure", {"occurred_at": at(4), "reason": "done", "follow_up_by": B}, B)
    assert api.get(path).status_code == 404  # A may not see it

    api.refused(
        "/v1/trajectories",
        {
            "client_id": client,
            "question": "Again",
            "sector": "youth_care",
            "region": REGION,
            "continues_from": earlier,
        },
        404,
        "trajectory-not-found",
    )


def test_a_consent_past_its_end_date_opens_nothing(api: Api) -> None:
    client = api.client()
    trajectory = api.trajectory(client)
    granted = BASE - timedelta(hours=1)
    api.ok(
        f"/v1/clients/{client}/consents",
        {
            "occurred_at": granted.isoformat(),
            "to_party": B,
            "scopes": ALL_SCOPES,
            "purpose": "continuity",
            "until": granted.date().isoformat(),
        },
    )

    assert api.get(f"/v1/trajectories/{trajectory}", B).status_code == 404
    assert api.get(f"/v1/clients/{client}", B).status_code == 404
    api.refused(
        f"/v1/trajectories/{trajectory}/handovers",
        {
            "occurred_at": datetime.now(UTC).isoformat(),  # after the consent ended
            "to_party": B,
            "scopes": ["plan"],
            "transfers_coordination": False,
        },
        409,
        "handover-needs-consent",
    )


def test_a_request_on_behalf_of_an_excluded_representative_cannot_sign_the_plan(
    api: Api,
) -> None:
    """README: a request made on behalf of an excluded representative (``X-On-Behalf-Of``) may
    not read the plan, "and that representative cannot sign it" -- not in the client's name
    either."""
    client = api.client()
    trajectory = api.trajectory(client)
    api.ok(f"/v1/clients/{client}/representatives", {"representative_ref": "rep-uncle"})
    api.ok(f"/v1/clients/{client}/representatives/rep-uncle/exclusion", {"reason": "opts out"})
    before = recorded(api.container)

    response = api.http.post(
        f"/v1/trajectories/{trajectory}/plan-signatures",
        json={"occurred_at": at(2), "signatory": "client"},
        headers={**api.auth(), "X-On-Behalf-Of": "rep-uncle"},
    )

    assert response.status_code in (403, 409), response.text
    assert recorded(api.container) == before


# --- continuing a trajectory at another organisation (issue #17 point 3) ------------------------


def closed_at_a(api: Api) -> tuple[str, str]:
    """A client of A with a trajectory A coordinated and closed (its plan: goal-home)."""
    client = api.client()
    trajectory = api.trajectory(client)
    path = f"/v1/trajectories/{trajectory}"
    api.ok(f"{path}/consultations", {**consultation("end"), "occurred_at": at(3)})
    api.ok(f"{path}/closure", {"occurred_at": at(4), "reason": "moved", "follow_up_by": B})
    return client, trajectory


def continuation(client: str, earlier: str, **more: Any) -> dict[str, Any]:
    return {
        "occurred_at": at(5),
        "client_id": client,
        "question": "Support at home, in the new town",
        "sector": "youth_care",
        "region": REGION,
        "continues_from": earlier,
        **more,
    }


def test_a_continuation_consent_lets_the_receiving_organisation_open_the_continuation_itself(
    api: Api,
) -> None:
    """The natural flow: the client gives B a consent (scope plan, purpose continuation); B reads
    the plan it continues, opens the continuation at B, accepts it and coordinates."""
    client, earlier = closed_at_a(api)
    assert api.get(f"/v1/trajectories/{earlier}", B).status_code == 404  # before the consent
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)

    old_plan = api.get(f"/v1/trajectories/{earlier}", B)
    assert old_plan.status_code == 200, old_plan.text
    assert [g["id"] for g in old_plan.json()["goals"]] == ["goal-home"]
    opened = api.post("/v1/trajectories", continuation(client, earlier), B)
    assert opened.status_code == 201, opened.text
    later = opened.json()["id"]
    api.ok(f"/v1/trajectories/{later}/acceptance", {"occurred_at": at(6)}, B)

    state = api.get(f"/v1/trajectories/{later}", B).json()
    assert state["continued_from"] == earlier
    assert state["referrer_organisation"] == B
    assert state["coordinating_organisation"] == B
    assert [g["id"] for g in state["goals"]] == ["goal-home"]
    continued = api.get(f"/v1/trajectories/{earlier}", A).json()
    assert continued["continued_by"] == [later]


def continuation_consent_at(api: Api, client: str, earlier: str, hours: float) -> None:
    """The client's consent that B continues ``earlier``, given at ``at(hours)``."""
    api.ok(
        f"/v1/clients/{client}/consents",
        {
            "occurred_at": at(hours),
            "to_party": B,
            "scopes": ["plan"],
            "purpose": "continuation",
            "trajectory_id": earlier,
        },
    )


def test_a_continuation_dated_before_the_consent_to_it_is_refused(api: Api) -> None:
    """004, issue #17: the consent comes before the plan passes. The access policy lets B in by
    today's date; a continuation dated an hour before the client's consent (even the same day)
    passed at a moment no consent covered. At or after that moment it is taken."""
    client, earlier = closed_at_a(api)
    continuation_consent_at(api, client, earlier, hours=6)

    api.refused(
        "/v1/trajectories", continuation(client, earlier), 409, "continuation-needs-consent", B
    )
    refused = api.post("/v1/trajectories", continuation(client, earlier), B).json()
    assert "lies before the client's consent to it" in refused["detail"]
    assert "at or after that moment" in refused["detail"]
    opened = api.post("/v1/trajectories", continuation(client, earlier, occurred_at=at(7)), B)
    assert opened.status_code == 201, opened.text
    assert api.get(f"/v1/trajectories/{earlier}", A).json()["continued_by"] == [opened.json()["id"]]


def test_a_continuation_by_the_organisation_that_manages_the_client_is_not_held_to_a_consent(
    api: Api,
) -> None:
    """A registered the client and acts for it: B's continuation consent, given later, does not
    bear on A's continuation."""
    client, earlier = closed_at_a(api)
    continuation_consent_at(api, client, earlier, hours=6)

    opened = api.post("/v1/trajectories", continuation(client, earlier), A)

    assert opened.status_code == 201, opened.text


def test_a_continuation_consent_opens_no_continuation_for_another_organisation(api: Api) -> None:
    client, earlier = closed_at_a(api)
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)

    api.refused(
        "/v1/trajectories",
        continuation(client, earlier, referrer_organisation=C),
        404,  # for another referrer it is a referral, and the client is no record B sees
        "client-not-found",
        B,
    )


def test_a_continuation_consent_lets_its_holder_refer_nothing_but_a_continuation(
    api: Api,
) -> None:
    client, earlier = closed_at_a(api)
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)
    fresh = continuation(client, earlier)
    del fresh["continues_from"]

    api.refused("/v1/trajectories", fresh, 404, "client-not-found", B)


def named(purpose: str, trajectory: str) -> str | None:
    """The trajectory a consent names: one for the purpose continuation, and only then."""
    return trajectory if purpose == "continuation" else None


@pytest.mark.parametrize(
    ("scopes", "purpose"),
    [
        (["plan"], "continuity"),
        (["dossier"], "continuation"),
        (["contact_details"], "continuation"),
    ],
)
def test_no_other_consent_lets_an_organisation_open_a_continuation(
    api: Api, scopes: list[str], purpose: str
) -> None:
    client, earlier = closed_at_a(api)
    api.consent(client, B, scopes, purpose=purpose, trajectory=named(purpose, earlier))

    before = recorded(api.container)
    response = api.post("/v1/trajectories", continuation(client, earlier), B)

    assert response.status_code in (403, 404), response.text
    assert recorded(api.container) == before


def test_a_continuation_consent_for_another_organisation_leaves_the_trajectory_unseen(
    api: Api,
) -> None:
    client, earlier = closed_at_a(api)
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)

    assert api.get(f"/v1/trajectories/{earlier}", C).status_code == 404
    api.refused("/v1/trajectories", continuation(client, earlier), 404, "client-not-found", C)


def test_a_continuation_consent_opens_only_the_trajectory_it_names(api: Api) -> None:
    """ "That trajectory": B reads and continues the one the consent names; the client's record
    and its other trajectories stay 404 to B, and continuing another one is refused."""
    client, earlier = closed_at_a(api)
    other = api.trajectory(client)
    path = f"/v1/trajectories/{other}"
    api.ok(f"{path}/consultations", {**consultation("end"), "occurred_at": at(3)})
    api.ok(f"{path}/closure", {"occurred_at": at(4), "reason": "done", "follow_up_by": A})
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)

    assert api.get(f"/v1/trajectories/{earlier}", B).status_code == 200
    assert api.get(f"/v1/trajectories/{other}", B).status_code == 404
    assert api.get(f"/v1/clients/{client}", B).status_code == 404
    api.refused("/v1/trajectories", continuation(client, other), 404, "trajectory-not-found", B)


def test_a_continuation_consent_names_one_of_this_clients_own_trajectories(api: Api) -> None:
    """An outside probe recorded, on client A's record, a continuation consent naming client B's
    trajectory: a stray consent on the wrong person's record, revocable by a person who never
    saw it. Refused as a trajectory that does not exist, in the same words (nothing tells that
    B's trajectory exists), as the person's own route /v1/me/consents refuses it."""
    client = api.client()
    other_client, theirs = closed_at_a(api)
    body = {"to_party": B, "scopes": ["plan"], "purpose": "continuation"}

    answers = []
    for trajectory in (theirs, str(uuid4()), client):
        api.refused(
            f"/v1/clients/{client}/consents",
            {**body, "trajectory_id": trajectory},
            404,
            "trajectory-not-found",
        )
        answer = api.post(f"/v1/clients/{client}/consents", {**body, "trajectory_id": trajectory})
        answers.append(answer.json()["detail"].replace(trajectory, "<id>"))
    assert len(set(answers)) == 1, answers
    # The client's own trajectory is taken, and so is B's on B's own record.
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=api.trajectory(client))
    api.consent(other_client, B, ["plan"], purpose="continuation", trajectory=theirs)


def test_a_continuation_consent_exports_the_plan_it_names_not_the_clients_other_consents(
    api: Api,
) -> None:
    """The FHIR bundle of the trajectory B may read holds the client's consents, which are the
    client's record (404 to B): to B they are left out, as the plan state leaves them out."""
    client, earlier = closed_at_a(api)
    api.consent(client, C, ["plan", "dossier"], purpose="mental health care")
    api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)

    as_a = api.get(f"/v1/trajectories/{earlier}/fhir")
    as_b = api.get(f"/v1/trajectories/{earlier}/fhir", B)

    assert as_b.status_code == 200, as_b.text
    assert "mental health care" in as_a.text  # the client's manager exports them
    kinds = {e["resource"]["resourceType"] for e in as_b.json()["entry"]}
    assert "CarePlan" in kinds
    assert "Consent" not in kinds
    assert "mental health care" not in as_b.text


def test_a_consent_for_the_purpose_continuation_names_the_trajectory_it_continues(
    api: Api,
) -> None:
    client, _ = closed_at_a(api)
    body = {"to_party": B, "scopes": ["plan"], "purpose": "continuation"}

    api.refused(f"/v1/clients/{client}/consents", body, 422, "invalid-value")


def test_a_consent_naming_a_trajectory_of_another_region_is_no_consent_to_an_auditor(
    api: Api,
) -> None:
    """Found by an outside probe: an auditor of the region of the client's later trajectory
    read the continuation consent naming the earlier one, in another region, with its id and
    purpose, in the client's record and in the later trajectory's as-of answer."""
    client, earlier = closed_at_a(api)
    consent = api.consent(client, B, ["plan"], purpose="continuation", trajectory=earlier)
    later = api.ok(
        "/v1/trajectories",
        {"client_id": client, "question": QUESTION, "sector": "youth_care", "region": "east"},
    )["id"]

    def auditor(region: str) -> dict[str, str]:
        return bearer(
            api.token(user=f"aude-{region}", org="inspection", roles=("auditor",), region=region)
        )

    def consents(region: str) -> list[str]:
        read = api.http.get(f"/v1/clients/{client}", headers=auditor(region))
        assert read.status_code == 200, read.text
        return [c["id"] for c in read.json()["consents"]]

    assert consents(REGION) == [consent]
    assert consents("east") == []
    as_of = api.http.get(
        f"/v1/audit/trajectories/{later}/as-of",
        params={"occurred": at(6)},
        headers=auditor("east"),
    )
    assert as_of.status_code == 200, as_of.text
    assert as_of.json()["consents_in_force"] == []
    assert earlier not in as_of.text
    assert consent in api.get(f"/v1/clients/{client}").text  # (the client's manager reads it)
