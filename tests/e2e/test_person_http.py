"""The person whose plan it is, as a user (issue #19), over HTTP on both backends: identity
links, the person's tokens, what they see under ``/v1/me``, who has access and who read."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from rodedraad.wiring import build_access_log
from tests.e2e.catalog import CASES
from tests.e2e.conftest import App, Person, TokenFactory
from tests.e2e.steps import (
    Record,
    at,
    bearer,
    referral,
    register_client,
    start_consultation,
    trajectory_with_plan,
)

COORDINATING = "org-coordinating"


def link(client: Record, subject: str, as_role: str = "client", **extra: Any) -> str:
    answer = client.post(
        "/identity-links",
        {"occurred_at": at(4), "subject": subject, "as_role": as_role, **extra},
    )
    link_id: str = answer["item_id"]
    return link_id


def subject() -> str:
    return f"idp|{uuid4().hex}"


def linked_plan(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> tuple[Record, Record, str]:
    """A client with a plan in the making, linked to a new subject as the client."""
    client, trajectory = trajectory_with_plan(http, auth)
    sub = subject()
    link(client, sub)
    return client, trajectory, sub


def family(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> tuple[Record, Record, str, str]:
    """A client with a plan in the making, a parent appointed as representative, and both
    linked: → client, trajectory, the client's subject, the parent's subject."""
    client, trajectory = trajectory_with_plan(http, auth)
    client.post("/representatives", {"occurred_at": at(3), "representative_ref": "rep-parent"})
    child, parent = subject(), subject()
    link(client, child)
    link(client, parent, "representative", representative_ref="rep-parent")
    return client, trajectory, child, parent


def test_a_linked_client_reads_whose_record_it_is_and_their_plan(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, trajectory, sub = linked_plan(module_http, module_auth)
    me = module_http.get("/v1/me", headers=person(sub, "client"))
    assert me.status_code == 200, me.text
    (record,) = me.json()["records"]
    assert record["client_id"] == client.id
    assert record["acting_as"] == {"code": "client", "label": "cliënt"}
    mine = module_http.get("/v1/me/trajectories", headers=person(sub, "client")).json()
    assert [t["trajectory_id"] for t in mine] == [trajectory.id]
    plan = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=person(sub, "client"))
    assert plan.status_code == 200, plan.text
    assert [g["description"] for g in plan.json()["goals"]] == ["Back to school"]
    assert plan.json()["trajectory"]["status"] == {"code": "active", "label": "lopend"}
    english = module_http.get(
        f"/v1/me/trajectories/{trajectory.id}",
        headers={**person(sub, "client"), "Accept-Language": "en"},
    )
    assert english.json()["trajectory"]["status"]["label"] == "active"
    assert [c["kind"]["label"] for c in english.json()["consultations"]] == ["start meeting"]


def test_another_persons_trajectory_does_not_exist_for_the_person(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, _, sub = linked_plan(module_http, module_auth)
    _, someone_elses, _ = linked_plan(module_http, module_auth)
    answer = module_http.get(
        f"/v1/me/trajectories/{someone_elses.id}", headers=person(sub, "client")
    )
    assert answer.status_code == 404, answer.text
    mine = module_http.get("/v1/me/trajectories", headers=person(sub, "client")).json()
    assert someone_elses.id not in {t["trajectory_id"] for t in mine}


def test_a_subject_without_a_link_in_that_role_reaches_nothing(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _, _, sub = linked_plan(module_http, module_auth)
    assert module_http.get("/v1/me", headers=person(subject(), "client")).status_code == 403
    # The link is as the client: the same subject as a representative is nobody.
    assert module_http.get("/v1/me", headers=person(sub, "representative")).status_code == 403


@pytest.mark.parametrize("role", ["client", "representative"])
def test_a_person_token_may_use_no_route_of_the_organisations(
    module_app: App,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
    role: str,
) -> None:
    """Every route outside ``/v1/me``: 403, on the person's own records as on others', before
    any parameter is read (never a 422 or a 404 that would say more)."""
    client, trajectory, child, parent = family(module_http, module_auth)
    headers = person(child if role == "client" else parent, role)
    ids = {"client_id": client.id, "trajectory_id": trajectory.id}
    asked = 0
    for route in module_app[2].app.routes:
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/me"):
            continue
        path = route.path
        for name, value in ids.items():
            path = path.replace(f"{{{name}:uuid}}", value)
        path = path.replace(":uuid}", "}").replace(":str}", "}").replace(":int}", "}")
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            filler = str(uuid4()) if "id" in path[start:end] else "1"
            path = path[:start] + filler + path[end + 1 :]
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            case = CASES.get(route.path)
            body = case.body(client.id, hours=5) if case else {"occurred_at": at(5)}
            answer = module_http.request(
                method, path, json=body if method == "POST" else None, headers=headers
            )
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["rule"] == "access-policy", answer.text
            asked += 1
    assert asked > 50


def test_an_excluded_representatives_link_stops_working_on_the_next_request(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, _trajectory = trajectory_with_plan(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(3), "representative_ref": "rep-mother"})
    sub = subject()
    link(client, sub, "representative", representative_ref="rep-mother")
    assert module_http.get("/v1/me", headers=person(sub, "representative")).status_code == 200
    client.post("/representatives/rep-mother/exclusion", {"occurred_at": at(5), "reason": "no"})
    assert module_http.get("/v1/me", headers=person(sub, "representative")).status_code == 403


def test_a_revoked_link_stops_working(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, _, sub = linked_plan(module_http, module_auth)
    link_id = link(client, subject())  # another one, kept
    assert module_http.get("/v1/me", headers=person(sub, "client")).status_code == 200
    mine = module_http.get("/v1/me", headers=person(sub, "client")).json()["records"][0]
    client.post(f"/identity-links/{mine['link_id']}/revocation", {"occurred_at": at(5)})
    assert module_http.get("/v1/me", headers=person(sub, "client")).status_code == 403
    assert link_id != mine["link_id"]


def test_an_erased_clients_link_stops_working(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    client, _, sub = linked_plan(module_http, module_auth)
    assert module_http.get("/v1/me", headers=person(sub, "client")).status_code == 200
    officer = bearer(module_token(roles=("data_protection_officer",)))
    erased = module_http.post(
        f"/v1/clients/{client.id}/erasure",
        json={"occurred_at": at(6), "legal_basis": "gdpr_request"},
        headers=officer,
    )
    assert erased.status_code == 200, erased.text
    assert module_http.get("/v1/me", headers=person(sub, "client")).status_code == 403


def test_who_has_access_lists_exactly_the_organisations_that_read_the_plan(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    client, trajectory, sub = linked_plan(module_http, module_auth)
    for party, scopes in (("org-consented", ["plan"]), ("org-contact-only", ["contact_details"])):
        client.post(
            "/consents",
            {"occurred_at": at(4), "to_party": party, "scopes": scopes, "purpose": "school"},
        )
    client.post(
        "/consents",
        {
            "occurred_at": at(4),
            "consent_id": f"c-{uuid4().hex[:8]}",
            "to_party": "org-gone",
            "scopes": ["plan"],
            "purpose": "advice",
        },
    )
    revoked = client.post(
        "/consents",
        {"occurred_at": at(4), "to_party": "org-revoked", "scopes": ["dossier"], "purpose": "x"},
    )["item_id"]
    client.post(f"/consents/{revoked}/revocation", {"occurred_at": at(5)})
    access = module_http.get("/v1/me/access", headers=person(sub, "client"))
    assert access.status_code == 200, access.text
    grants = [a["grant"] for a in access.json()]
    listed = {g["organisation"] for g in grants if g["organisation"]}
    consent = next(g for g in grants if g["organisation"] == "org-consented")
    assert consent["revocable"] is True
    assert (consent["scopes"], consent["purpose"]) == (["plan"], "school")
    coordinator = next(g for g in grants if g["organisation"] == COORDINATING)
    assert not coordinator["revocable"]
    assert "coordinating_organisation" in coordinator["reasons"]
    assert coordinator["legal_reason"]
    auditors = [g for g in grants if g["relation"] == "audit"]
    assert [g["region"] for g in auditors] == ["west-flanders"]
    sample = {"org-contact-only", "org-revoked", "org-unrelated", "org-school-elsewhere"}
    for organisation in listed | sample:
        read = module_http.get(
            f"/v1/trajectories/{trajectory.id}", headers=bearer(module_token(org=organisation))
        )
        expected = 200 if organisation in listed else 404
        assert read.status_code == expected, (organisation, read.text)
    auditor = bearer(module_token(org="org-audit", roles=("auditor",)))
    assert module_http.get(f"/v1/trajectories/{trajectory.id}", headers=auditor).status_code == 200


def test_the_person_sees_who_read_their_data_without_the_readers_identity(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, _, sub = linked_plan(module_http, module_auth)
    assert module_http.get(f"/v1/clients/{client.id}", headers=module_auth).status_code == 200
    reads = module_http.get("/v1/me/reads", headers=person(sub, "client"))
    assert reads.status_code == 200, reads.text
    (read,) = [r for r in reads.json() if r["organisation"] == COORDINATING]
    assert (read["role"], read["purpose"]) == ("coordinator", "party")
    assert "user-an" not in reads.text
    assert "user_id" not in read


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["client", "coordinator"]},
        {"roles": ["client"], "org": "org-coordinating"},
        {"roles": ["representative"], "region": "west-flanders"},
        {"roles": ["client", "representative"]},
    ],
    ids=["mixed-roles", "with-org", "with-region", "both-person-roles"],
)
def test_a_persons_token_with_an_organisations_claims_is_refused(
    module_app: App,
    module_http: TestClient,  # type: ignore[type-arg]
    claims: dict[str, Any],
) -> None:
    tokens = LocalTokens.from_file(module_app[0].auth.secret_file)
    token = tokens.issue(
        user="idp|mixed",
        organisation=claims.get("org"),
        roles=claims["roles"],
        region=claims.get("region"),
    )
    assert module_http.get("/v1/me", headers=bearer(token)).status_code == 401


def test_in_belgium_a_capable_minor_reads_their_plan_and_the_parent_no_longer_does(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, _trajectory, child, parent = family(module_http, module_auth)
    client.post("/birth-year", {"occurred_at": at(4), "birth_year": datetime.now(UTC).year - 13})
    assert module_http.get("/v1/me", headers=person(child, "client")).status_code == 403
    as_parent = module_http.get("/v1/me", headers=person(parent, "representative"))
    assert as_parent.json()["records"][0]["rights_exercised_by"]["code"] == "parents"
    client.post(
        "/capacity-assessments",
        {"occurred_at": at(5), "capable": True, "assessed_on": at(5)[:10]},
    )
    assert module_http.get("/v1/me", headers=person(child, "client")).status_code == 200
    assert module_http.get("/v1/me", headers=person(parent, "representative")).status_code == 403


def test_a_link_names_an_appointed_representative_only(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """A link names an appointed representative: an unknown reference is refused."""
    client = register_client(module_http, module_auth)
    client.refused(
        "/identity-links",
        {
            "occurred_at": at(4),
            "subject": subject(),
            "as_role": "representative",
            "representative_ref": "rep-nobody",
        },
        status=422,
    )


@pytest.mark.parametrize("bad", ["idp|a\x00b", "idp|a\nb", "idp|\x1b[31m", "idp|a\x7f"])
def test_a_subject_with_a_control_character_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    bad: str,
) -> None:
    """No token can carry it (the API refuses such a token), so it could never sign in; and the
    record keeps no control character in what names someone."""
    client = register_client(module_http, module_auth)
    client.refused(
        "/identity-links", {"occurred_at": at(4), "subject": bad, "as_role": "client"}, status=422
    )


def test_free_texts_are_shown_only_when_marked_visible_and_never_a_safety_escalation_to_a_parent(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    _client, trajectory, own, parent = family(module_http, module_auth)
    for reason, visible, text in (
        ("waiting_list", False, "Internal note about the waiting list"),
        ("capacity", True, "We look for a place in day care"),
        ("safety", True, "Concerns about the situation at home"),
    ):
        trajectory.post(
            "/escalations",
            {
                "occurred_at": at(5),
                "level": "team",
                "reason": reason,
                "description": text,
                "visible_to_client": visible,
            },
        )

    def texts(headers: dict[str, str]) -> list[str]:
        answer = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=headers)
        assert answer.status_code == 200, answer.text
        return [line for t in answer.json()["texts"] for line in t["lines"]]

    assert texts(person(own, "client")) == [
        "We look for a place in day care",
        "Concerns about the situation at home",
    ]
    assert texts(person(parent, "representative")) == ["We look for a place in day care"]
    seen = module_http.get(
        f"/v1/me/trajectories/{trajectory.id}", headers=person(parent, "representative")
    ).json()
    assert "safety" not in {e["reason"] for e in seen["escalations"]}


def test_a_block_for_safety_is_not_shown_to_a_parent_neither_its_reason_nor_its_text(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """004 / issue #19: a child-protection concern may be about the representative; a block
    that names it tells them as much as an escalation would."""
    _client, trajectory, own, parent = family(module_http, module_auth)
    trajectory.post(
        "/blocks",
        {
            "occurred_at": at(5),
            "reasons": ["safety", "waiting_list"],
            "description": "Concerns about the situation at home; no place yet",
            "visible_to_client": True,
        },
    )

    def seen(headers: dict[str, str]) -> dict[str, Any]:
        answer = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=headers)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    as_client = seen(person(own, "client"))
    assert as_client["blocked_for"] == ["safety", "waiting_list"]
    assert [t["kind"] for t in as_client["texts"]] == ["block"]
    as_parent = seen(person(parent, "representative"))
    assert as_parent["blocked_for"] == ["waiting_list"]
    assert as_parent["texts"] == []


def test_a_block_for_safety_alone_does_not_show_as_a_block_to_a_parent(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """ "Blocked" with no reason given would tell the parent what the hidden reason is."""
    _client, trajectory, own, parent = family(module_http, module_auth)
    trajectory.post(
        "/blocks",
        {"occurred_at": at(5), "reasons": ["safety"], "description": "Concerns at home"},
    )

    def seen(headers: dict[str, str]) -> tuple[str, list[str], set[str]]:
        plan = module_http.get(f"/v1/me/trajectories/{trajectory.id}", headers=headers)
        listed = module_http.get("/v1/me/trajectories", headers=headers)
        assert plan.status_code == listed.status_code == 200, (plan.text, listed.text)
        statuses = {
            t["status"]["code"] for t in listed.json() if t["trajectory_id"] == trajectory.id
        }
        return plan.json()["trajectory"]["status"]["code"], plan.json()["blocked_for"], statuses

    assert seen(person(own, "client")) == ("blocked", ["safety"], {"blocked"})
    assert seen(person(parent, "representative")) == ("active", [], {"active"})


def test_a_parent_relinked_is_told_of_the_reads_through_their_earlier_link(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Found in review: a representative's reads through a revoked link of theirs were dropped."""
    client, trajectory, _child, parent = family(module_http, module_auth)
    plan = f"/v1/me/trajectories/{trajectory.id}"
    assert module_http.get(plan, headers=person(parent, "representative")).status_code == 200
    (first,) = [
        r["link_id"]
        for r in module_http.get("/v1/me", headers=person(parent, "representative")).json()[
            "records"
        ]
    ]
    client.post(f"/identity-links/{first}/revocation", {"occurred_at": at(5)})
    again = subject()
    link(client, again, "representative", representative_ref="rep-parent")
    as_parent = person(again, "representative")
    assert module_http.get(plan, headers=as_parent).status_code == 200

    reads = module_http.get("/v1/me/reads", headers=as_parent).json()

    assert sorted(r["purpose"] for r in reads if r["role"] == "representative") == [
        "own",
        "representative",
    ]


def test_a_parents_fhir_bundle_names_them_and_not_another_representative(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Found in review: the person's bundle named every representative who signed, so a birth
    parent read a foster parent's name. The client reads them all."""
    client, trajectory, child, parent = family(module_http, module_auth)
    client.post(
        "/representatives",
        {"occurred_at": at(3), "representative_ref": "rep-foster", "name": "Roos Pleegzorg"},
    )
    trajectory.post(
        "/plan-signatures",
        {"occurred_at": at(4), "signatory": "representative", "representative_ref": "rep-foster"},
    )

    def names(headers: dict[str, str]) -> list[str]:
        bundle = module_http.get(f"/v1/me/trajectories/{trajectory.id}/fhir", headers=headers)
        assert bundle.status_code == 200, bundle.text
        return [
            name["text"]
            for e in bundle.json()["entry"]
            if e["resource"]["resourceType"] == "RelatedPerson"
            for name in e["resource"].get("name", [])
        ]

    assert names(person(child, "client")) == ["Roos Pleegzorg"]
    assert names(person(parent, "representative")) == []


def test_the_client_is_told_of_a_parents_reads_and_a_parent_not_of_the_childs(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Found in review: every read by a person was "own" to whoever asked, so a parent saw when
    the child read her plan. The client reads who read their data, a parent included; a
    parent reads their own reads and the organisations'."""
    _client, trajectory, child, parent = family(module_http, module_auth)
    as_child, as_parent = person(child, "client"), person(parent, "representative")
    plan = f"/v1/me/trajectories/{trajectory.id}"
    assert module_http.get(plan, headers=as_child).status_code == 200
    assert module_http.get(plan, headers=as_parent).status_code == 200

    def purposes(headers: dict[str, str]) -> list[str]:
        reads = module_http.get("/v1/me/reads", headers=headers)
        assert reads.status_code == 200, reads.text
        return sorted(
            r["purpose"] for r in reads.json() if r["role"] in ("client", "representative")
        )

    assert purposes(as_child) == ["own", "representative"]
    assert purposes(as_parent) == ["own"]


def test_a_block_for_safety_alone_is_no_block_in_a_parents_fhir_bundle_either(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """Found by an outside probe: the bundle said ``onhold``, ``blocked`` and since when, while
    the plan said active. A block for safety and another reason still shows: its other reason
    is the parent's to read."""
    _client, trajectory, own, parent = family(module_http, module_auth)
    trajectory.post(
        "/blocks",
        {"occurred_at": at(5), "reasons": ["safety"], "description": "Concerns at home"},
    )
    trajectory.post("/unblocking", {"occurred_at": at(6), "resolution": "Talked it through"})
    trajectory.post("/blocks", {"occurred_at": at(7), "reasons": ["safety"], "description": "x"})

    def episode(headers: dict[str, str]) -> tuple[str, list[str], str]:
        response = module_http.get(f"/v1/me/trajectories/{trajectory.id}/fhir", headers=headers)
        assert response.status_code == 200, response.text
        care = next(
            e["resource"]
            for e in response.json()["entry"]
            if e["resource"]["resourceType"] == "EpisodeOfCare"
        )
        history = [h["status"] for h in care.get("statusHistory", [])]
        return care["status"], history, care["extension"][0]["valueCoding"]["code"]

    assert episode(person(own, "client")) == (
        "onhold",
        ["planned", "active", "onhold", "active"],
        "blocked",
    )
    assert episode(person(parent, "representative")) == ("active", ["planned"], "active")

    trajectory.post("/unblocking", {"occurred_at": at(8), "resolution": "Talked it through"})
    trajectory.post(
        "/blocks",
        {"occurred_at": at(9), "reasons": ["safety", "waiting_list"], "description": "Both"},
    )
    assert episode(person(parent, "representative")) == ("onhold", ["planned", "active"], "blocked")


@pytest.mark.parametrize(
    ("age", "child_reads", "parent_reads", "by"),
    [(10, 403, 200, "parents"), (13, 200, 200, "together"), (16, 200, 403, "client")],
)
def test_in_the_netherlands_the_age_bands_decide_who_reads_the_plan(
    dutch: tuple[TestClient, TokenFactory, Person],  # type: ignore[type-arg]
    age: int,
    child_reads: int,
    parent_reads: int,
    by: str,
) -> None:
    http, token, person = dutch
    client, _trajectory, child, parent = family(http, bearer(token()))
    client.post("/birth-year", {"occurred_at": at(4), "birth_year": datetime.now(UTC).year - age})
    # A capacity assessment changes nothing under the WGBO's age bands.
    client.post(
        "/capacity-assessments", {"occurred_at": at(5), "capable": True, "assessed_on": at(5)[:10]}
    )
    as_child = http.get("/v1/me", headers=person(child, "client"))
    as_parent = http.get("/v1/me", headers=person(parent, "representative"))
    assert (as_child.status_code, as_parent.status_code) == (child_reads, parent_reads)
    reader = as_child if child_reads == 200 else as_parent
    assert reader.json()["records"][0]["rights_exercised_by"]["code"] == by


def test_the_person_sees_the_thread_to_the_trajectory_their_plan_continues(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    client, first, sub = linked_plan(module_http, module_auth)
    first.post("/consultations", {**start_consultation(4), "kind": "end"})
    first.post("/closure", {"occurred_at": at(5), "reason": "done", "follow_up_by": COORDINATING})
    answer = module_http.post(
        "/v1/trajectories",
        json=referral(client.id, hours=6, continues_from=first.id),
        headers=module_auth,
    )
    assert answer.status_code == 201, answer.text
    second = answer.json()
    plan = module_http.get(f"/v1/me/trajectories/{second['id']}", headers=person(sub, "client"))
    assert plan.status_code == 200, plan.text
    assert [t["trajectory_id"] for t in plan.json()["thread"]] == [first.id]
    assert plan.json()["trajectory"]["continued_from"] == first.id
    listed = module_http.get("/v1/me/trajectories", headers=person(sub, "client")).json()
    assert [t["trajectory_id"] for t in listed] == [first.id, second["id"]]


def test_a_continuation_consent_is_listed_on_the_trajectory_it_names_only(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_token: TokenFactory,
    person: Person,
) -> None:
    """Issue #17: a consent for the purpose continuation opens the trajectory it names, and
    the person's list of who has access says so per trajectory."""
    client, named, sub = linked_plan(module_http, module_auth)
    other = module_http.post(
        "/v1/trajectories", json=referral(client.id, hours=2), headers=module_auth
    )
    assert other.status_code == 201, other.text
    client.post(
        "/consents",
        {
            "occurred_at": at(4),
            "to_party": "org-next",
            "scopes": ["plan"],
            "purpose": "continuation",
            "trajectory_id": named.id,
        },
    )
    access = module_http.get("/v1/me/access", headers=person(sub, "client")).json()
    holding = {a["trajectory_id"] for a in access if a["grant"]["organisation"] == "org-next"}
    assert holding == {named.id}
    next_org = bearer(module_token(org="org-next"))
    assert module_http.get(f"/v1/trajectories/{named.id}", headers=next_org).status_code == 200
    unnamed = module_http.get(f"/v1/trajectories/{other.json()['id']}", headers=next_org)
    assert unnamed.status_code == 404


def test_the_read_log_names_the_person_by_their_link_never_by_the_providers_subject(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_app: App,
    person: Person,
) -> None:
    """The subject is personal data sealed under the client's key (and erased with it); the
    read log outlives an erasure, so it must never hold the subject in the clear."""
    client, trajectory, sub = linked_plan(module_http, module_auth)
    mine = person(sub, "client")
    for path in ("", "/plan", "/fhir"):
        read = module_http.get(f"/v1/me/trajectories/{trajectory.id}{path}", headers=mine)
        assert read.status_code == 200, (path, read.text)
    log = build_access_log(module_app[0])
    try:
        own = [e for e in log.query(client_ids=[UUID(client.id)]) if e.role == "client"]
    finally:
        log.close()
    assert len(own) == 3
    assert all(entry.user_id.startswith("identity-link:") for entry in own), own
    assert not [entry for entry in own if sub in entry.user_id]


def test_a_parent_linked_to_a_second_child_finds_both_on_the_next_request(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    person: Person,
) -> None:
    """A process remembers where it found a subject; a link recorded since is found as well."""
    first, _, _, parent = family(module_http, module_auth)
    me = module_http.get("/v1/me", headers=person(parent, "representative"))
    assert [r["client_id"] for r in me.json()["records"]] == [first.id]
    second, _ = trajectory_with_plan(module_http, module_auth)
    second.post("/representatives", {"occurred_at": at(3), "representative_ref": "rep-parent"})
    link(second, parent, "representative", representative_ref="rep-parent")
    me = module_http.get("/v1/me", headers=person(parent, "representative"))
    assert sorted(r["client_id"] for r in me.json()["records"]) == sorted([first.id, second.id])
