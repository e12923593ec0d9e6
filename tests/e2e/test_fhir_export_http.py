"""``GET /v1/trajectories/{id}/fhir`` (issue #18): a trajectory as an HL7 FHIR R4 Bundle.

Every export is parsed with ``fhir.resources``' R4B models (a test dependency only) and every
reference must resolve inside the bundle; then the mapping itself is asserted: the CarePlan's
status through signing and closing, a representative's signature, consents after a revocation,
the care team after a role agreement ends, an erased client, the access and the log.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from application.fhir import CLIENT_SYSTEM, ROLE
from rodedraad.wiring import build_access_log
from tests.e2e.readside import COORDINATOR, PROVIDER, App, Trajectories, app_for_backend
from tests.e2e.steps import Record, bearer
from tests.integration.databases import BACKENDS

SCHOOL = "org-school"


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with app_for_backend(request, tmp_path_factory.mktemp("fhir"), inline=True) as built:
        yield built


@pytest.fixture
def build(app: App) -> Trajectories:
    return Trajectories(app)


def references_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)


def empty_elements(value: Any, path: str = "") -> Iterator[str]:
    """FHIR JSON allows no empty array or object (the R4B models accept them)."""
    if value in ([], {}):
        yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from empty_elements(item, f"{path}/{key}")


def check_bundle(document: dict[str, Any]) -> dict[str, Any]:
    """Parsed by the R4B models, every reference resolving to an entry, no empty element: the
    bundle as JSON."""
    Bundle.model_validate(document)
    assert list(empty_elements(document)) == []
    assert document["type"] == "collection"
    urls = [entry["fullUrl"] for entry in document["entry"]]
    assert len(urls) == len(set(urls))
    assert set(references_in(document["entry"])) <= set(urls)
    return document


def export(app: App, trajectory: Record, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = app.http.get(f"{trajectory.path}/fhir", headers=headers or app.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return check_bundle(response.json())


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def one(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources(bundle, kind)
    assert len(found) == 1, (kind, found)
    return found[0]


def url_of(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    return next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is resource)


def record(
    app: App, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    response = app.http.post(path, json=body, headers=headers or app.auth)
    assert response.status_code in {200, 201}, response.text


def signed(build: Trajectories, trajectory: Record, days_ago: float, **signatory: str) -> None:
    trajectory.post(
        "/goals",
        {"occurred_at": build.when.ago(days_ago + 1), "goal_id": "g-school", "description": "x"},
    )
    trajectory.post(
        "/plan-signatures",
        {"occurred_at": build.when.ago(days_ago), "signatory": "client", **signatory},
    )


def test_the_care_plan_is_draft_before_signing_active_after_and_completed_after_closing(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(200, 30)
    assert one(export(app, trajectory), "CarePlan")["status"] == "draft"

    signed(build, trajectory, 150)
    bundle = export(app, trajectory)
    plan = one(bundle, "CarePlan")
    assert plan["status"] == "active"
    assert plan["intent"] == "plan"
    assert plan["period"]["start"].startswith(build.when.ago(150)[:10])
    assert [url_of(bundle, g) for g in resources(bundle, "Goal")] == [
        g["reference"] for g in plan["goal"]
    ]
    provenance = one(bundle, "Provenance")
    assert provenance["target"][0]["display"] == "plan version 1"
    assert provenance["agent"][0]["who"]["reference"] == url_of(bundle, one(bundle, "Patient"))
    assert "onBehalfOf" not in provenance["agent"][0]

    build.consult(trajectory, "end", 10, None)
    trajectory.post(
        "/closure",
        {"occurred_at": build.when.ago(9), "reason": "done", "follow_up_by": COORDINATOR},
    )
    closed = export(app, trajectory)
    assert one(closed, "CarePlan")["status"] == "completed"
    episode = one(closed, "EpisodeOfCare")
    assert episode["status"] == "finished"
    assert [h["status"] for h in episode["statusHistory"]] == ["planned", "active"]


def test_a_declined_referral_exports_a_revoked_plan_and_a_cancelled_episode(
    app: App, build: Trajectories
) -> None:
    trajectory = build.referred(50)
    trajectory.post("/declination", {"occurred_at": build.when.ago(40), "reason": "no place"})

    bundle = export(app, trajectory)

    assert one(bundle, "CarePlan")["status"] == "revoked"
    episode = one(bundle, "EpisodeOfCare")
    assert episode["status"] == "cancelled"
    assert episode["period"]["start"][:10] == build.when.ago(50)[:10]


def test_a_continued_plan_is_named_by_the_plan_that_replaces_it(
    app: App, build: Trajectories
) -> None:
    client = build.client()
    earlier = build.accepted(client_id=client)
    build.consult(earlier, "start", 200, 30)
    signed(build, earlier, 150)
    build.consult(earlier, "end", 60, None)
    earlier.post(
        "/closure",
        {"occurred_at": build.when.ago(59), "reason": "moved", "follow_up_by": COORDINATOR},
    )

    later = build.referred(50, client_id=client, continues_from=earlier.id)
    bundle = export(app, later)

    plan = one(bundle, "CarePlan")
    assert plan["replaces"] == plan["basedOn"]
    assert plan["replaces"][0]["identifier"]["value"] == earlier.id
    assert "reference" not in plan["replaces"][0]
    (goal,) = resources(bundle, "Goal")
    assert goal["note"][0]["text"] == f"carried from trajectory {earlier.id}, plan version 1"


def test_a_block_is_an_onhold_period_of_the_episode(app: App, build: Trajectories) -> None:
    trajectory = build.active(100, 30)
    build.block(trajectory, 60)
    build.unblock(trajectory, 40)

    episode = one(export(app, trajectory), "EpisodeOfCare")

    assert episode["status"] == "active"
    history = episode["statusHistory"]
    assert [h["status"] for h in history] == ["planned", "active", "onhold"]
    assert history[-1]["period"]["start"][:10] == build.when.ago(60)[:10]
    assert history[-1]["period"]["end"][:10] == build.when.ago(40)[:10]


def test_a_representatives_signature_is_on_behalf_of_the_client(
    app: App, build: Trajectories
) -> None:
    client = build.client()
    record(
        app,
        f"/v1/clients/{client}/representatives",
        {"occurred_at": build.when.ago(300), "representative_ref": "rep-mother"},
    )
    trajectory = build.accepted(client_id=client)
    build.consult(trajectory, "start", 200, 30)
    signed(build, trajectory, 100, signatory="representative", representative_ref="rep-mother")

    bundle = export(app, trajectory)

    agent = one(bundle, "Provenance")["agent"][0]
    person = one(bundle, "RelatedPerson")
    assert person["identifier"][0]["value"] == "rep-mother"
    assert agent["who"]["reference"] == url_of(bundle, person)
    assert agent["onBehalfOf"]["reference"] == url_of(bundle, one(bundle, "Patient"))


def test_a_revoked_consent_is_inactive_and_ends_at_its_revocation(
    app: App, build: Trajectories
) -> None:
    client = build.client()
    consents = f"/v1/clients/{client}/consents"
    for consent_id in ("c-school", "c-provider"):
        record(
            app,
            consents,
            {
                "occurred_at": build.when.ago(100),
                "consent_id": consent_id,
                "to_party": SCHOOL if consent_id == "c-school" else PROVIDER,
                "scopes": ["plan"],
                "purpose": "working on the plan together",
            },
        )
    record(
        app,
        f"{consents}/c-school/revocation",
        {"occurred_at": build.when.ago(20), "reason": "changed school"},
    )
    trajectory = build.accepted(client_id=client)

    bundle = export(app, trajectory)

    by_id = {c["identifier"][0]["value"]: c for c in resources(bundle, "Consent")}
    revoked, kept = by_id["c-school"], by_id["c-provider"]
    assert (revoked["status"], kept["status"]) == ("inactive", "active")
    assert revoked["provision"]["period"]["end"][:10] == build.when.ago(20)[:10]
    assert "end" not in kept["provision"]["period"]
    organisations = {
        url_of(bundle, o): o["identifier"][0]["value"] for o in resources(bundle, "Organization")
    }
    assert organisations[revoked["provision"]["actor"][0]["reference"]["reference"]] == SCHOOL
    assert organisations[kept["provision"]["actor"][0]["reference"]["reference"]] == PROVIDER


def test_a_consent_starts_at_the_moment_it_was_given_not_at_its_day(
    app: App, build: Trajectories
) -> None:
    """004: a handover is held against the consent's moment, so the export says when the consent
    was given (an instant, UTC), not just its day: ``dateTime`` and ``provision.period.start``."""
    client = build.client()
    given = build.when.moment(100).replace(hour=14, minute=0, second=0, microsecond=0)
    record(
        app,
        f"/v1/clients/{client}/consents",
        {
            "occurred_at": given.astimezone(timezone(timedelta(hours=2))).isoformat(),
            "consent_id": "c-provider",
            "to_party": PROVIDER,
            "scopes": ["plan"],
            "purpose": "working on the plan together",
        },
    )
    trajectory = build.accepted(client_id=client)

    consent = one(export(app, trajectory), "Consent")

    assert consent["dateTime"] == given.astimezone(UTC).isoformat()
    assert consent["provision"]["period"]["start"] == consent["dateTime"]
    assert datetime.fromisoformat(consent["dateTime"]) == given


def test_the_erasure_ends_the_clients_consents_so_their_holder_reads_no_more(
    app: App, build: Trajectories
) -> None:
    """Outside probe: after the erasure the school's consent stayed active for good (the erased
    record takes no revocation), so the school kept reading the plan and its export. The
    erasure ends it: the school's next read answers 404, the export shows it inactive."""
    client = build.client()
    record(
        app,
        f"/v1/clients/{client}/consents",
        {
            "occurred_at": build.when.ago(100),
            "consent_id": "c-school",
            "to_party": SCHOOL,
            "scopes": ["plan"],
            "purpose": "working on the plan together",
        },
    )
    trajectory = build.accepted(client_id=client)
    school = bearer(app.token(user="user-sofie", org=SCHOOL, roles=("coordinator",)))
    assert app.http.get(trajectory.path, headers=school).status_code == 200
    export(app, trajectory, school)

    record(
        app,
        f"/v1/clients/{client}/erasure",
        {"occurred_at": build.when.ago(0), "legal_basis": "gdpr_request"},
        bearer(app.token(roles=("data_protection_officer",))),
    )

    for path in (trajectory.path, f"{trajectory.path}/fhir"):
        refused = app.http.get(path, headers=school)
        assert refused.status_code == 404, (path, refused.text)
    consents = app.http.get(f"/v1/clients/{client}", headers=app.auth).json()["consents"]
    assert [(c["id"], c["revoked"]) for c in consents] == [("c-school", True)]
    ended = one(export(app, trajectory), "Consent")
    assert ended["status"] == "inactive"
    assert ended["provision"]["period"]["end"][:10] == build.when.ago(0)[:10]


def test_the_care_team_shows_when_a_role_agreement_ended(app: App, build: Trajectories) -> None:
    trajectory = build.active(100, 30)
    build.agreement(trajectory, 90, "a-1", (PROVIDER, "provider"))
    build.accept_agreement(trajectory, 85, "a-1", PROVIDER)
    trajectory.post(
        "/role-agreements/a-1/end", {"occurred_at": build.when.ago(30), "reason": "done"}
    )
    build.agreement(trajectory, 80, "a-2", (SCHOOL, "key_worker"))  # never accepted

    bundle = export(app, trajectory)

    (participant,) = one(bundle, "CareTeam")["participant"]
    assert participant["role"][0]["coding"][0] == {"system": ROLE, "code": "provider"}
    assert participant["period"]["start"][:10] == build.when.ago(85)[:10]
    assert participant["period"]["end"][:10] == build.when.ago(30)[:10]


def test_the_name_is_shown_only_to_who_may_see_it_and_never_after_an_erasure(
    app: App, build: Trajectories
) -> None:
    response = app.http.post(
        "/v1/clients",
        json={"occurred_at": build.when.ago(400), "name": "Zoë Q18", "contact": "0470 00 00 18"},
        headers=app.auth,
    )
    client = response.json()["id"]
    trajectory = build.active(100, 30, client_id=client)
    # The provider is made party, but has no consent covering contact details.
    build.agreement(trajectory, 90, "a-1", (PROVIDER, "provider"))
    build.accept_agreement(trajectory, 85, "a-1", PROVIDER)
    trajectory.post(
        "/goals",
        {"occurred_at": build.when.ago(80), "goal_id": "g-1", "description": "Zoë rides a bike"},
    )

    patient = one(export(app, trajectory), "Patient")
    assert patient["name"] == [{"text": "Zoë Q18"}]
    assert patient["identifier"] == [{"system": CLIENT_SYSTEM, "value": client}]
    provider = bearer(app.token(user="user-pia", org=PROVIDER, roles=("professional",)))
    assert "name" not in one(export(app, trajectory, provider), "Patient")

    record(
        app,
        f"/v1/clients/{client}/erasure",
        {"occurred_at": build.when.ago(0), "legal_basis": "gdpr_request"},
        bearer(app.token(roles=("data_protection_officer",))),
    )
    response = app.http.get(f"{trajectory.path}/fhir", headers=app.auth)

    assert response.status_code == 200, response.text
    assert "Zoë" not in response.text
    assert "0470 00 00 18" not in response.text  # (a bare "0470" may be part of a uuid)
    erased = one(check_bundle(response.json()), "Patient")
    assert "name" not in erased
    assert "telecom" not in erased
    assert erased["meta"]["security"][0]["code"] == "REDACTED"
    assert one(response.json(), "Goal")["description"] == {"text": "[erased]"}


def test_another_organisation_gets_404_and_every_export_is_logged(
    app: App, build: Trajectories
) -> None:
    trajectory = build.accepted()
    stranger = bearer(app.token(user="user-x", org="org-elsewhere", roles=("coordinator",)))

    refused = app.http.get(f"{trajectory.path}/fhir", headers=stranger)
    assert refused.status_code == 404, refused.text
    export(app, trajectory, bearer(app.token(user="user-fhir")))

    entries = log_entries_of(app, "user-fhir")
    assert [(str(e.trajectory_id), e.endpoint) for e in entries] == [
        (trajectory.id, "GET /v1/trajectories/{trajectory_id}/fhir")
    ]
    assert not log_entries_of(app, "user-x")


def log_entries_of(app: App, user_id: str) -> list[Any]:
    log = build_access_log(app.settings)
    try:
        return list(log.query(user_id=user_id))
    finally:
        log.close()
