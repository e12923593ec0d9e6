"""What the person decides and takes along (issue #19 points 5 and 6), over HTTP on both
backends: their own consents, the plan's signature (minors' rules applied), their input ahead
of a consultation, GDPR requests decided within the month, and the printable plan."""

import base64
import hashlib
import re
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import Person, TokenFactory
from tests.e2e.steps import at, bearer
from tests.e2e.test_idempotency_keys_http import on_idempotency_table
from tests.e2e.test_person_http import family, linked_plan


def test_a_consent_the_person_grants_opens_the_plan_and_their_revocation_closes_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    _client, trajectory, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    school = bearer(module_token(org="org-school"))
    plan = f"/v1/trajectories/{trajectory.id}"
    assert module_http.get(plan, headers=school).status_code == 404
    granted = module_http.post(
        "/v1/me/consents",
        json={"occurred_at": at(5), "to_party": "org-school", "scopes": ["plan"], "purpose": "les"},
        headers=me,
    )
    assert granted.status_code == 200, granted.text
    consent_id = granted.json()["item_id"]
    assert module_http.get(plan, headers=school).status_code == 200
    access = module_http.get("/v1/me/access", headers=me).json()
    assert consent_id in {a["grant"].get("consent_id") for a in access}
    revoked = module_http.post(
        f"/v1/me/consents/{consent_id}/revocation", json={"occurred_at": at(6)}, headers=me
    )
    assert revoked.status_code == 200, revoked.text
    assert module_http.get(plan, headers=school).status_code == 404


def test_the_person_revokes_a_consent_the_organisation_recorded_for_them(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    client, trajectory, sub = linked_plan(module_http, module_auth)
    consent_id = client.post(
        "/consents",
        {"occurred_at": at(4), "to_party": "org-advice", "scopes": ["dossier"], "purpose": "x"},
    )["item_id"]
    advice = bearer(module_token(org="org-advice"))
    assert module_http.get(f"/v1/trajectories/{trajectory.id}", headers=advice).status_code == 200
    answer = module_http.post(
        f"/v1/me/consents/{consent_id}/revocation",
        json={"occurred_at": at(5), "reason": "not any more"},
        headers=person(sub, "client"),
    )
    assert answer.status_code == 200, answer.text
    assert module_http.get(f"/v1/trajectories/{trajectory.id}", headers=advice).status_code == 404


def test_a_consent_of_another_person_is_not_the_persons_to_revoke(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, _, sub = linked_plan(module_http, module_auth)
    other, _, _ = linked_plan(module_http, module_auth)
    consent_id = other.post(
        "/consents",
        {"occurred_at": at(4), "to_party": "org-x", "scopes": ["plan"], "purpose": "x"},
    )["item_id"]
    answer = module_http.post(
        f"/v1/me/consents/{consent_id}/revocation",
        json={"occurred_at": at(5)},
        headers=person(sub, "client"),
    )
    assert answer.status_code == 404, answer.text


def test_the_client_signs_their_plan_and_it_is_in_force(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, trajectory, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    signed = module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/plan-signatures",
        json={"occurred_at": at(5)},
        headers=me,
    )
    assert signed.status_code == 200, signed.text
    plan = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=me).json()
    assert plan["signature"]["signatory"]["code"] == "client"
    assert plan["signature"]["version"] == 1


def test_a_parent_signs_as_the_representative_their_link_names(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, trajectory, _child, parent = family(module_http, module_auth)
    signed = module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/plan-signatures",
        json={"occurred_at": at(5)},
        headers=person(parent, "representative"),
    )
    assert signed.status_code == 200, signed.text
    state = module_http.get(f"/v1/trajectories/{trajectory.id}", headers=module_auth).json()
    assert state["plan"]["signatory"] == "representative"
    assert state["plan"]["representative_ref"] == "rep-parent"


def test_a_parent_the_minors_rules_exclude_cannot_sign(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Belgium: a minor judged capable exercises their rights; the parent no longer signs."""
    client, trajectory, _child, parent = family(module_http, module_auth)
    client.post("/birth-year", {"occurred_at": at(4), "birth_year": datetime.now(UTC).year - 14})
    client.post(
        "/capacity-assessments", {"occurred_at": at(4), "capable": True, "assessed_on": at(4)[:10]}
    )
    refused = module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/plan-signatures",
        json={"occurred_at": at(5)},
        headers=person(parent, "representative"),
    )
    assert refused.status_code == 403, refused.text
    assert "rules for minors" in refused.json()["detail"]


@pytest.mark.parametrize("role", ["client", "representative"])
def test_another_persons_trajectory_does_not_exist_for_the_persons_decisions_and_copies(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
    role: str,
) -> None:
    _, _, child, parent = family(module_http, module_auth)
    _, someone_elses, _ = linked_plan(module_http, module_auth)
    headers = person(child if role == "client" else parent, role)
    for path, body in (("plan-signatures", {}), ("consultation-input", {"statement": "hi"})):
        url = f"/v1/me/trajectories/{someone_elses.id}/{path}"
        answer = module_http.post(url, json={"occurred_at": at(5), **body}, headers=headers)
        assert answer.status_code == 404, (path, answer.text)
    for copy in ("plan", "fhir"):
        page = module_http.get(f"/v1/me/trajectories/{someone_elses.id}/{copy}", headers=headers)
        assert page.status_code == 404, (copy, page.text)
    assert someone_elses.state()["plan"] is None  # nothing was recorded on it


def test_in_the_netherlands_a_plan_of_a_minor_of_13_is_in_force_with_both_signatures(
    dutch: tuple[TestClient, TokenFactory, Person],  # type: ignore[type-arg]
) -> None:
    http, token, person = dutch
    client, trajectory, child, parent = family(http, bearer(token()))
    client.post("/birth-year", {"occurred_at": at(4), "birth_year": datetime.now(UTC).year - 13})
    sign = f"/v1/me/trajectories/{trajectory.id}/plan-signatures"
    mine = f"/v1/me/trajectories/{trajectory.id}"
    first = http.post(sign, json={"occurred_at": at(5)}, headers=person(child, "client"))
    assert first.status_code == 200, first.text
    plan = http.get(mine, headers=person(child, "client")).json()
    assert plan["signature"] is None
    assert plan["signed_in_part_by"]["code"] == "client"
    again = http.post(sign, json={"occurred_at": at(5)}, headers=person(child, "client"))
    assert again.status_code == 409, again.text
    second = http.post(sign, json={"occurred_at": at(6)}, headers=person(parent, "representative"))
    assert second.status_code == 200, second.text
    plan = http.get(mine, headers=person(child, "client")).json()
    assert plan["signature"]["version"] == 1
    assert plan["signed_in_part_by"] is None


def test_in_the_netherlands_a_plan_of_a_minor_of_16_is_in_force_with_their_signature_alone(
    dutch: tuple[TestClient, TokenFactory, Person],  # type: ignore[type-arg]
) -> None:
    http, token, person = dutch
    client, trajectory, child, _parent = family(http, bearer(token()))
    client.post("/birth-year", {"occurred_at": at(4), "birth_year": datetime.now(UTC).year - 16})
    signed = http.post(
        f"/v1/me/trajectories/{trajectory.id}/plan-signatures",
        json={"occurred_at": at(5)},
        headers=person(child, "client"),
    )
    assert signed.status_code == 200, signed.text
    plan = http.get(f"/v1/me/trajectories/{trajectory.id}", headers=person(child, "client"))
    assert plan.json()["signature"]["signatory"]["code"] == "client"


def test_the_persons_input_ahead_of_a_consultation_is_recorded_and_shown_to_them(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, trajectory, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    given = module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/consultation-input",
        json={"occurred_at": at(5), "statement": "Ik wil woensdag vrij", "for_kind": "ad_hoc"},
        headers=me,
    )
    assert given.status_code == 200, given.text
    texts = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=me).json()["texts"]
    assert [(t["kind"], t["lines"]) for t in texts] == [("your_input", ["Ik wil woensdag vrij"])]
    # The professionals read it in the plan state, and its facts (not its words) on the timeline.
    wait = {**module_auth, "X-Min-Position": str(given.json()["position"])}
    state = module_http.get(f"/v1/trajectories/{trajectory.id}", headers=wait).json()
    (said,) = state["client_inputs"]
    assert (said["statement"], said["for_kind"], said["given_by"]) == (
        "Ik wil woensdag vrij",
        "ad_hoc",
        "client",
    )
    timeline = module_http.get(f"/v1/trajectories/{trajectory.id}/timeline", headers=wait).json()
    (entry,) = [e for e in timeline["entries"] if e["kind"] == "consultation_input_given"]
    assert "Ik wil" not in str(entry)


def test_each_person_reads_their_own_input_and_requests_and_not_the_others(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Found by an outside probe: a child's input and request, in her own words, were shown to
    the parent exercising the rights later, labelled as the parent's own input."""
    _, trajectory, child, parent = family(module_http, module_auth)
    as_child, as_parent = person(child, "client"), person(parent, "representative")
    plan = f"/v1/me/trajectories/{trajectory.id}"
    for headers, statement in ((as_child, "Thuis is het moeilijk"), (as_parent, "Graag woensdag")):
        given = module_http.post(
            f"{plan}/consultation-input",
            json={"occurred_at": at(5), "statement": statement},
            headers=headers,
        )
        assert given.status_code == 200, given.text
    filed = module_http.post(
        "/v1/me/requests",
        json={"occurred_at": at(5), "kind": "access_copy", "details": "Alles over mij"},
        headers=as_child,
    )
    assert filed.status_code == 200, filed.text

    def seen(headers: dict[str, str]) -> tuple[list[tuple[str, list[str]]], list[str], str]:
        texts = module_http.get(plan, headers=headers).json()["texts"]
        requests = module_http.get("/v1/me/requests", headers=headers).json()
        page = module_http.get(f"{plan}/plan", headers=headers).text
        return [(t["kind"], t["lines"]) for t in texts], [r["details"] for r in requests], page

    texts, requests, page = seen(as_child)
    assert texts == [("your_input", ["Thuis is het moeilijk"])]
    assert requests == ["Alles over mij"]
    assert "Graag woensdag" not in page
    texts, requests, page = seen(as_parent)
    assert texts == [("your_input", ["Graag woensdag"])]
    assert requests == []
    assert "Thuis is het moeilijk" not in page
    assert "Alles over mij" not in page


def test_an_organisation_records_no_input_in_the_persons_name(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    _, trajectory, _ = linked_plan(module_http, module_auth)
    answer = module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/consultation-input",
        json={"occurred_at": at(5), "statement": "x"},
        headers=module_auth,
    )
    assert answer.status_code == 403, answer.text


def test_an_erasure_request_is_decided_with_its_legal_ground_shown_to_the_person(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    client, _, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    filed = module_http.post(
        "/v1/me/requests",
        json={"occurred_at": at(5), "kind": "erasure", "details": "Wis alles"},
        headers=me,
    )
    assert filed.status_code == 200, filed.text
    request_id = filed.json()["item_id"]
    officer = bearer(module_token(roles=("data_protection_officer",)))
    queue = module_http.get("/v1/requests", headers=officer)
    assert queue.status_code == 200, queue.text
    (mine,) = [r for r in queue.json() if r["request_id"] == request_id]
    assert mine["kind"] == "erasure"
    assert mine["answer_due_on"] > at(5)[:10]
    elsewhere = bearer(module_token(org="org-elsewhere"))
    assert request_id not in {
        r["request_id"] for r in module_http.get("/v1/requests", headers=elsewhere).json()
    }
    assert request_id in {
        r["request_id"] for r in module_http.get("/v1/requests", headers=module_auth).json()
    }
    ground = "Zorgdossier 10 jaar bewaard (seed 004; AVG art. 17(3)(b))"
    decided = module_http.post(
        f"/v1/clients/{client.id}/requests/{request_id}/decision",
        json={"occurred_at": at(6), "outcome": "refused", "legal_ground": ground},
        headers=officer,
    )
    assert decided.status_code == 200, decided.text
    (seen,) = module_http.get("/v1/me/requests", headers=me).json()
    assert seen["status"] == {"code": "refused", "label": "geweigerd"}
    assert (seen["legal_ground"], seen["decided_by_role"]) == (ground, "data_protection_officer")
    assert request_id not in {
        r["request_id"] for r in module_http.get("/v1/requests", headers=officer).json()
    }
    again = module_http.post(
        f"/v1/clients/{client.id}/requests/{request_id}/decision",
        json={"occurred_at": at(7), "outcome": "granted", "legal_ground": "x"},
        headers=officer,
    )
    assert again.status_code == 409, again.text


def test_the_officers_erasure_settles_the_persons_open_requests(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    """Outside probe: after the erasure no decision can be recorded (409 ``client-erased``),
    so the requests stayed open in the queue for ever. The erasure settles them."""
    client, _, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    filed = [
        module_http.post(
            "/v1/me/requests",
            json={"occurred_at": at(5), "kind": kind, "details": "Wis alles"},
            headers=me,
        )
        for kind in ("erasure", "access_copy")
    ]
    assert [f.status_code for f in filed] == [200, 200], [f.text for f in filed]
    ids = {f.json()["item_id"] for f in filed}
    officer = bearer(module_token(roles=("data_protection_officer",)))
    listed = {r["request_id"] for r in module_http.get("/v1/requests", headers=officer).json()}
    assert ids <= listed

    erased = module_http.post(
        f"/v1/clients/{client.id}/erasure",
        json={"occurred_at": at(7), "legal_basis": "gdpr_request"},
        headers=officer,
    )
    assert erased.status_code == 200, erased.text

    queue = module_http.get("/v1/requests", headers=officer)
    assert queue.status_code == 200, queue.text
    assert not ids & {r["request_id"] for r in queue.json()}
    assert not [r for r in queue.json() if r["client_id"] == str(client.id)]
    late = module_http.post(
        f"/v1/clients/{client.id}/requests/{sorted(ids)[0]}/decision",
        json={"occurred_at": at(8), "outcome": "granted", "legal_ground": "x"},
        headers=officer,
    )
    assert late.status_code == 409, late.text  # settled by the erasure: nothing to decide


def test_a_rectification_names_the_field(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, _, sub = linked_plan(module_http, module_auth)
    answer = module_http.post(
        "/v1/me/requests",
        json={"occurred_at": at(5), "kind": "rectification", "details": "fout"},
        headers=person(sub, "client"),
    )
    assert answer.status_code == 422, answer.text
    assert "field_name" in answer.text


def test_a_coordinator_of_another_organisation_does_not_decide_the_request(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    client, _, sub = linked_plan(module_http, module_auth)
    request_id = module_http.post(
        "/v1/me/requests",
        json={"occurred_at": at(5), "kind": "access_copy"},
        headers=person(sub, "client"),
    ).json()["item_id"]
    answer = module_http.post(
        f"/v1/clients/{client.id}/requests/{request_id}/decision",
        json={"occurred_at": at(6), "outcome": "granted", "legal_ground": "art. 15"},
        headers=bearer(module_token(org="org-elsewhere")),
    )
    assert answer.status_code == 404, answer.text


def test_the_printable_plan_is_escaped_html_and_logged_as_a_read(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, trajectory, sub = linked_plan(module_http, module_auth)
    trajectory.post(
        "/goals", {"occurred_at": at(4), "goal_id": "goal-tag", "description": "<b>Zwemmen</b>"}
    )
    me = person(sub, "client")
    page = module_http.get(f"/v1/me/trajectories/{trajectory.id}/plan", headers=me)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Mijn handelingsplan" in page.text
    assert "Back to school" in page.text
    assert "&lt;b&gt;Zwemmen&lt;/b&gt;" in page.text
    assert "<b>Zwemmen" not in page.text
    # (Found by an outside probe: no policy. Its one inline style is allowed by its hash.)
    policy = page.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; ")
    assert "unsafe-inline" not in policy
    (style,) = re.findall(r"<style>(.*?)</style>", page.text)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    reads = module_http.get("/v1/me/reads", headers=me).json()
    assert any(r["purpose"] == "own" and r["trajectory_id"] == trajectory.id for r in reads)
    # (Found by an outside probe: every /v1/me route takes ?lang=, this one refused it.)
    english = module_http.get("/v1/me/reads?lang=en", headers=me)
    assert english.status_code == 200, english.text


def test_the_person_takes_their_plan_along_as_a_fhir_bundle_logged_as_a_read(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, trajectory, sub = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    module_http.post(
        f"/v1/me/trajectories/{trajectory.id}/plan-signatures",
        json={"occurred_at": at(5)},
        headers=me,
    )
    answer = module_http.get(f"/v1/me/trajectories/{trajectory.id}/fhir", headers=me)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "CarePlan", "Goal", "Provenance"} <= kinds
    (patient,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert client.id in str(patient["identifier"])
    reads = module_http.get("/v1/me/reads", headers=me).json()
    assert any(r["trajectory_id"] == trajectory.id and r["purpose"] == "own" for r in reads)


@pytest.mark.parametrize("role", ["coordinator", "auditor", "data_protection_officer"])
def test_no_organisations_role_uses_the_persons_decisions(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    role: str,
) -> None:
    _, trajectory, _ = linked_plan(module_http, module_auth)
    headers = bearer(module_token(roles=(role,)))
    for path, body in (
        ("/v1/me/consents", {"to_party": "org-x", "scopes": ["plan"], "purpose": "x"}),
        (f"/v1/me/trajectories/{trajectory.id}/plan-signatures", {}),
        ("/v1/me/requests", {"kind": "access_copy"}),
    ):
        answer = module_http.post(path, json={"occurred_at": at(5), **body}, headers=headers)
        assert answer.status_code == 403, (path, answer.text)


def test_a_retried_request_with_the_same_idempotency_key_is_filed_once(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
    person: Person,
) -> None:
    _, _, sub = linked_plan(module_http, module_auth)
    headers = {**person(sub, "client"), "Idempotency-Key": "my-copy-request-1"}
    body = {"occurred_at": at(5), "kind": "access_copy"}
    first = module_http.post("/v1/me/requests", json=body, headers=headers)
    again = module_http.post("/v1/me/requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["item_id"] == again.json()["item_id"]
    mine = module_http.get("/v1/me/requests", headers=person(sub, "client")).json()
    assert len(mine) == 1
    # The key is kept scoped to its sender, by the keyed hash of the subject: the subject
    # stands for a national identity and never lies in the clear in the table of keys.
    keys = [k for (k,) in on_idempotency_table(module_container, "SELECT key FROM {table}")]
    assert any(k.endswith("my-copy-request-1") for k in keys), keys
    assert not any(sub in k for k in keys), keys


def test_a_continuation_consent_names_one_of_the_persons_own_trajectories(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, own, sub = linked_plan(module_http, module_auth)
    _, someone_elses, _ = linked_plan(module_http, module_auth)
    me = person(sub, "client")
    body = {"occurred_at": at(5), "to_party": "org-next", "scopes": ["plan"]}
    body["purpose"] = "continuation"
    refused = module_http.post(
        "/v1/me/consents", json={**body, "trajectory_id": someone_elses.id}, headers=me
    )
    assert refused.status_code == 404, refused.text
    granted = module_http.post(
        "/v1/me/consents", json={**body, "trajectory_id": own.id}, headers=me
    )
    assert granted.status_code == 200, granted.text
