"""One trajectory walked through HTTP, from the referral to the follow-up contact after closing.

Every trajectory endpoint is used. Each answer is checked for its status, a version exactly one
higher than before, ``ETag: "<version>"``, and ``GET /v1/trajectories/{id}`` reflecting it.
"""

from litestar.testing import TestClient

from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    BUDDY,
    COORDINATOR,
    NEXT_ORGANISATION,
    PARTICIPANTS,
    PROVIDER,
    SCHOOL,
    Record,
    accepted_trajectory,
    active_trajectory,
    assert_answer,
    assert_problem,
    at,
    bearer,
    on,
    recorded,
    refer,
    referral,
    register_client,
    start_consultation,
    trajectory_with_plan,
)


def test_a_trajectory_walks_from_referral_to_closing_and_the_follow_up_contact(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_auth: dict[str, str],
) -> None:
    provider = bearer(module_token(user="user-pia", org=PROVIDER, roles=("professional",)))
    buddy = bearer(module_token(user="user-bo", org=BUDDY, roles=("professional",)))
    next_coordinator = bearer(module_token(user="user-noor", org=NEXT_ORGANISATION))
    client = register_client(module_http, module_auth, name="Lotte", contact="lotte@example.org")

    # Aanmelding: a school refers, the coordinating organisation records it.
    trajectory = refer(
        module_http,
        module_auth,
        client.id,
        referrer_organisation=SCHOOL,
        referrer_engagement="The school stays involved in the plan",
        client_criteria=["16 years old", "lives at home"],
    )
    state = trajectory.state()
    assert state["status"] == "referred"
    assert state["client_id"] == client.id
    assert state["referrer_organisation"] == SCHOOL
    assert state["sector"] == "youth_care"
    assert state["region"] == "west-flanders"
    assert state["coordinating_organisation"] is None

    trajectory.post("/acceptance", {"occurred_at": at(1)})
    state = trajectory.state()
    assert state["status"] == "accepted"
    assert state["coordinating_organisation"] == COORDINATOR
    assert state["parties"] == sorted([COORDINATOR, SCHOOL])

    # 001: the trajectory starts with the start consultation, which plans the next (003).
    trajectory.post("/consultations", start_consultation(hours=2))
    state = trajectory.state()
    assert state["status"] == "active"
    assert state["consultations_held"] == 1
    assert "start" in state["milestones"]
    assert state["next_consultation_on"] == on(90)

    # Wie neemt wat op: in force only once every named party accepted.
    answer = trajectory.post(
        "/role-agreements",
        {
            "occurred_at": at(3),
            "agreement_id": "agreement-care",
            "assignments": [
                {"party": COORDINATOR, "role": "planmaker", "responsibilities": "the plan"},
                {"party": PROVIDER, "role": "provider", "responsibilities": "home support"},
            ],
        },
    )
    assert answer["item_id"] == "agreement-care"
    trajectory.post("/role-agreements/agreement-care/acceptances", {"occurred_at": at(4)})
    (agreement,) = trajectory.state()["role_agreements"]
    assert agreement["accepted_by"] == [COORDINATOR]
    assert agreement["in_force"] is False
    trajectory.post(
        "/role-agreements/agreement-care/acceptances", {"occurred_at": at(5)}, headers=provider
    )
    state = trajectory.state()
    (agreement,) = state["role_agreements"]
    assert agreement["accepted_by"] == [COORDINATOR, PROVIDER]
    assert agreement["in_force"] is True
    assert PROVIDER in state["parties"]

    # A buddy is proposed and declines.
    answer = trajectory.post(
        "/role-agreements",
        {"occurred_at": at(6), "assignments": [{"party": BUDDY, "role": "buddy"}]},
    )
    buddy_agreement = answer["item_id"]
    assert buddy_agreement.startswith("agreement-")
    trajectory.post(
        f"/role-agreements/{buddy_agreement}/declination",
        {"occurred_at": at(7), "reason": "No buddy free this year"},
        headers=buddy,
    )
    agreements = {a["id"]: a for a in trajectory.state()["role_agreements"]}
    assert agreements[buddy_agreement]["declined_by"] == BUDDY
    assert agreements[buddy_agreement]["in_force"] is False
    assert BUDDY not in trajectory.state()["parties"]

    # The plan: goals, a revision, a closed goal, an action.
    answer = trajectory.post(
        "/goals",
        {"occurred_at": at(8), "goal_id": "goal-school", "description": "Back to school"},
    )
    assert answer["item_id"] == "goal-school"
    trajectory.post(
        "/goals/goal-school/revisions",
        {
            "occurred_at": at(9),
            "description": "Back to school two days a week",
            "reason": "a full week is too much to start with",
        },
    )
    answer = trajectory.post("/goals", {"occurred_at": at(10), "description": "Sleep at home"})
    home_goal = answer["item_id"]
    assert home_goal.startswith("goal-")
    trajectory.post(
        f"/goals/{home_goal}/closure", {"occurred_at": at(11), "outcome": "Sleeps at home"}
    )
    answer = trajectory.post(
        "/actions",
        {
            "occurred_at": at(12),
            "action_id": "action-intake",
            "description": "Intake with the school's pupil guidance centre",
            "owner": PROVIDER,
            "due_on": on(20),
            "goal_id": "goal-school",
        },
    )
    assert answer["item_id"] == "action-intake"
    state = trajectory.state()
    goals = {g["id"]: g for g in state["goals"]}
    assert goals["goal-school"] == {
        "id": "goal-school",
        "description": "Back to school two days a week",
        "closed": False,
        "outcome": None,
        "carried_from": None,
    }
    assert goals[home_goal]["closed"] is True
    assert goals[home_goal]["outcome"] == "Sleeps at home"
    assert state["actions"] == [
        {
            "id": "action-intake",
            "description": "Intake with the school's pupil guidance centre",
            "owner": PROVIDER,
            "due_on": on(20),
            "goal_id": "goal-school",
            "carried_from": None,
        }
    ]

    # 004: in force from the client's signature; then the representative signs a renewal.
    trajectory.post("/plan-signatures", {"occurred_at": at(13), "signatory": "client"})
    plan = trajectory.state()["plan"]
    assert plan["version"] == 1
    assert plan["signatory"] == "client"
    client.post(
        "/representatives",
        {"occurred_at": at(14), "representative_ref": "rep-mother", "name": "Mother"},
    )
    trajectory.post(
        "/plan-signatures",
        {"occurred_at": at(15), "signatory": "representative", "representative_ref": "rep-mother"},
    )
    plan = trajectory.state()["plan"]
    assert plan["version"] == 2
    assert plan["signatory"] == "representative"
    assert plan["representative_ref"] == "rep-mother"
    # A representative the client excluded can neither sign nor see the plan.
    client.post("/representatives", {"occurred_at": at(16), "representative_ref": "rep-uncle"})
    client.post(
        "/representatives/rep-uncle/exclusion",
        {"occurred_at": at(17), "reason": "the client does not want him involved"},
    )
    trajectory.refused(
        "/plan-signatures",
        {"occurred_at": at(18), "signatory": "representative", "representative_ref": "rep-uncle"},
        status=409,
        rule="plan-signed-by-client-or-representative",
    )

    trajectory.post(
        "/evaluations",
        {
            "occurred_at": at(19),
            "results": "School two days a week works",
            "blocking": ["waiting_list"],
            "pdca_phase": "try_out",
            "new_agreements": ["three days from next month"],
            "next_evaluation_on": on(200),
        },
    )
    assert trajectory.state()["next_evaluation_on"] == on(200)

    # Escalation: raised, taken to the network, resolved.
    answer = trajectory.post(
        "/escalations",
        {
            "occurred_at": at(20),
            "level": "team",
            "reason": "waiting_list",
            "description": "No place in day care",
        },
    )
    escalation_id = answer["item_id"]
    trajectory.post(
        f"/escalations/{escalation_id}/level-changes",
        {"occurred_at": at(21), "to_level": "network", "reason": "the team found no place"},
    )
    (escalation,) = trajectory.state()["escalations"]
    assert escalation["id"] == escalation_id
    assert escalation["level"] == "network"
    assert escalation["resolved_at"] is None
    trajectory.post(
        f"/escalations/{escalation_id}/resolution",
        {"occurred_at": at(22), "resolution": "A place in the region next door"},
    )
    (escalation,) = trajectory.state()["escalations"]
    assert escalation["resolved_at"] is not None

    # Vastgelopen: blocked, and unblocked.
    trajectory.post(
        "/blocks",
        {"occurred_at": at(23), "reasons": ["waiting_list", "funding"], "description": "stuck"},
    )
    state = trajectory.state()
    assert state["status"] == "blocked"
    assert state["block_reasons"] == ["waiting_list", "funding"]
    assert state["blocked_since"] is not None
    trajectory.post("/unblocking", {"occurred_at": at(24), "resolution": "funding granted"})
    state = trajectory.state()
    assert state["status"] == "active"
    assert state["blocked_since"] is None
    assert state["block_reasons"] == []

    trajectory.post(
        "/consultation-waivers",
        {"occurred_at": at(25), "kind": "three_month", "reason": "the evaluation covered it"},
    )
    assert "three_month" in trajectory.state()["milestones"]

    # Overdracht: refused without the client's consent, passes with it.
    handover = {
        "occurred_at": at(27),
        "to_party": NEXT_ORGANISATION,
        "scopes": ["plan"],
        "transfers_coordination": True,
    }
    trajectory.refused("/handovers", handover, status=409, rule="handover-needs-consent")
    answer = client.post(
        "/consents",
        {
            "occurred_at": at(26),
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan", "dossier"],
            "purpose": "continuity of the plan",
            "until": on(400),
        },
    )
    consent_id = answer["item_id"]
    trajectory.post("/handovers", handover)
    state = trajectory.state()
    assert state["handovers"] == 1
    assert state["coordinating_organisation"] == NEXT_ORGANISATION

    # From here the organisation the plan passed to coordinates, and records.
    trajectory.auth = next_coordinator

    # 001: the end consultation; 000: closing names who follows up the plan.
    trajectory.post(
        "/consultations",
        {
            "occurred_at": at(28),
            "kind": "end",
            "participants": PARTICIPANTS,
            "client_involvement": "consulted_beforehand",
        },
    )
    state = trajectory.state()
    assert "end" in state["milestones"]
    assert state["consultations_held"] == 2
    trajectory.post(
        "/role-agreements/agreement-care/end",
        {"occurred_at": at(29), "reason": "the trajectory ends"},
    )
    agreements = {a["id"]: a for a in trajectory.state()["role_agreements"]}
    assert agreements["agreement-care"]["ended_at"] is not None
    assert agreements["agreement-care"]["in_force"] is False
    trajectory.post(
        "/closure",
        {"occurred_at": at(30), "reason": "goals reached", "follow_up_by": NEXT_ORGANISATION},
    )
    state = trajectory.state()
    assert state["status"] == "closed"
    assert state["closed_at"] is not None
    assert state["follow_up_by"] == NEXT_ORGANISATION

    trajectory.post(
        "/follow-up-contacts",
        {
            "occurred_at": at(31),
            "contacted_party": NEXT_ORGANISATION,
            "outcome": "The plan is still followed up",
        },
    )
    assert trajectory.state()["status"] == "closed"
    assert trajectory.version == 27

    # The thread goes on: a new referral continues the closed trajectory. The trajectory is
    # closed, so its last coordinator no longer acts for the client: the organisation that
    # registered the client refers the continuation.
    refused = module_http.post(
        "/v1/trajectories",
        json=referral(client.id, hours=32, continues_from=trajectory.id),
        headers=next_coordinator,
    )
    assert assert_problem(refused, 403, rule="access-policy")
    response = module_http.post(
        "/v1/trajectories",
        json=referral(client.id, hours=32, continues_from=trajectory.id),
        headers=module_auth,
    )
    answer = assert_answer(response, 201, 2)  # Referred, ContinuedFrom
    continued = Record(module_http, module_auth, "trajectories", answer["id"], version=2)
    continued.seen(answer)
    assert continued.state()["continued_from"] == trajectory.id
    trajectory.version += 1  # ContinuedBy: the closed one names its continuation (issue #17)
    assert trajectory.state()["continued_by"] == [continued.id]

    # A second referral of the same client, declined.
    declined = refer(module_http, module_auth, client.id, hours=33)
    declined.post("/declination", {"occurred_at": at(34), "reason": "One trajectory at a time"})
    assert declined.state()["status"] == "declined"

    # The client withdraws the consent the handover relied on.
    client.post("/consents/" + consent_id + "/revocation", {"occurred_at": at(35)})

    # The client's record carries the representatives and the consent the walk relied on.
    client_state = client.state()
    assert client_state["representatives"] == [
        {"ref": "rep-mother", "name": "Mother", "excluded": False},
        {"ref": "rep-uncle", "name": None, "excluded": True},
    ]
    assert [(c["id"], c["revoked"]) for c in client_state["consents"]] == [(consent_id, True)]


def test_a_new_referral_continues_the_thread_of_a_closed_trajectory(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, first = trajectory_with_plan(module_http, module_auth)
    first.post(
        "/consultation-waivers", {"occurred_at": at(4), "kind": "end", "reason": "moved away"}
    )
    first.post(
        "/closure",
        {"occurred_at": at(5), "reason": "moved", "no_follow_up_reason": "left the region"},
    )

    response = module_http.post(
        "/v1/trajectories",
        json=referral(client.id, hours=6, continues_from=first.id),
        headers=module_auth,
    )

    # Referred, then ContinuedFrom: the new trajectory starts at version 2.
    answer = assert_answer(response, 201, 2)
    assert response.headers["location"] == f"/v1/trajectories/{answer['id']}"
    second = Record(module_http, module_auth, "trajectories", answer["id"], version=2)
    second.seen(answer)
    state = second.state()
    assert state["continued_from"] == first.id
    assert state["status"] == "referred"
    first.version += 1  # ContinuedBy (issue #17)
    assert first.state()["status"] == "closed"
    assert first.state()["continued_by"] == [second.id]


def test_a_closed_trajectory_is_continued_by_one_live_continuation_at_most(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client, first = trajectory_with_plan(module_http, module_auth)
    first.post(
        "/consultation-waivers", {"occurred_at": at(4), "kind": "end", "reason": "moved away"}
    )
    first.post(
        "/closure",
        {"occurred_at": at(5), "reason": "moved", "no_follow_up_reason": "left the region"},
    )

    def continued(earlier: Record, hours: float = 6) -> Record:
        body = referral(client.id, hours=hours, continues_from=earlier.id)
        answer = assert_answer(
            module_http.post("/v1/trajectories", json=body, headers=module_auth), 201, 2
        )
        earlier.version += 1  # ContinuedBy
        earlier.seen(answer)
        later = Record(module_http, module_auth, "trajectories", answer["id"], version=2)
        later.seen(answer)
        return later

    def refused() -> str:
        before = recorded(module_container)
        body = referral(client.id, hours=11, continues_from=first.id)
        response = module_http.post("/v1/trajectories", json=body, headers=module_auth)
        problem = assert_problem(
            response, 409, rule="trajectory-already-continued", field="continues_from"
        )
        assert recorded(module_container) == before
        return str(problem["detail"])

    # Continued: the same request again (a retry without Idempotency-Key) makes no second copy
    # of the plan; the refusal names the trajectory that continues it.
    second = continued(first)
    assert second.id in refused()
    assert first.state()["continued_by"] == [second.id]

    # The receiving organisation declines the referral: the client still needs care.
    second.post("/declination", {"occurred_at": at(7), "reason": "No place"})
    third = continued(first)
    assert first.state()["continued_by"] == [second.id, third.id]
    assert third.id in refused()

    # The continuation closes: the plan lives on there, so the thread goes on from it.
    third.post("/acceptance", {"occurred_at": at(8)})
    third.post("/consultations", start_consultation(hours=8.5))
    third.post("/consultation-waivers", {"occurred_at": at(9), "kind": "end", "reason": "moved"})
    third.post(
        "/closure",
        {"occurred_at": at(10), "reason": "moved", "no_follow_up_reason": "left the region"},
    )
    assert f"continue from trajectory {third.id} instead" in refused()
    assert continued(third, hours=11).state()["continued_from"] == third.id


def test_only_a_closed_trajectory_of_the_same_client_can_be_continued(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client, running = trajectory_with_plan(module_http, module_auth)
    other_client = register_client(module_http, module_auth)
    before = recorded(module_container)

    for body in (
        referral(client.id, hours=6, continues_from=running.id),
        referral(other_client.id, hours=6, continues_from=running.id),
    ):
        response = module_http.post("/v1/trajectories", json=body, headers=module_auth)
        assert response.status_code == 409, response.text
        assert response.json()["rule"] == "continuation-of-closed-trajectory"

    assert recorded(module_container) == before


def test_a_referral_can_be_declined_and_then_not_accepted(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)
    trajectory = refer(module_http, module_auth, client.id)

    trajectory.post("/declination", {"occurred_at": at(1), "reason": "Not our region"})

    assert trajectory.state()["status"] == "declined"
    trajectory.refused(
        "/acceptance", {"occurred_at": at(2)}, status=409, rule="trajectory-state-machine"
    )


def test_a_role_agreement_is_in_force_only_when_every_named_party_accepted(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_auth: dict[str, str],
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    provider = bearer(module_token(user="user-pia", org=PROVIDER, roles=("professional",)))
    trajectory.post(
        "/role-agreements",
        {
            "occurred_at": at(2),
            "agreement_id": "agreement-1",
            "assignments": [
                {"party": COORDINATOR, "role": "care_coordinator"},
                {"party": PROVIDER, "role": "provider"},
            ],
        },
    )

    trajectory.post("/role-agreements/agreement-1/acceptances", {"occurred_at": at(3)})
    assert trajectory.state()["role_agreements"][0]["in_force"] is False
    trajectory.post(
        "/role-agreements/agreement-1/acceptances", {"occurred_at": at(4)}, headers=provider
    )
    assert trajectory.state()["role_agreements"][0]["in_force"] is True


def test_an_organisation_not_named_in_a_role_agreement_cannot_accept_it(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_auth: dict[str, str],
) -> None:
    """The school referred, so it is a party to the trajectory, but not to this agreement."""
    _, trajectory = accepted_trajectory(module_http, module_auth)
    trajectory.post(
        "/role-agreements",
        {
            "occurred_at": at(2),
            "agreement_id": "agreement-1",
            "assignments": [{"party": PROVIDER, "role": "provider"}],
        },
    )

    trajectory.refused(
        "/role-agreements/agreement-1/acceptances",
        {"occurred_at": at(3)},
        headers=bearer(module_token(user="user-sam", org=SCHOOL)),
        status=403,
        rule="not-a-party",
    )


def test_a_representative_the_client_excluded_cannot_sign_the_plan(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(4), "representative_ref": "rep-uncle"})
    client.post("/representatives/rep-uncle/exclusion", {"occurred_at": at(5)})

    trajectory.refused(
        "/plan-signatures",
        {"occurred_at": at(6), "signatory": "representative", "representative_ref": "rep-uncle"},
        status=409,
        rule="plan-signed-by-client-or-representative",
    )
    assert trajectory.state()["plan"] is None


def test_a_handover_without_the_clients_consent_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    # A consent for another organisation, and a revoked one for this one, cover nothing.
    client.post(
        "/consents",
        {"occurred_at": at(4), "to_party": "org-other", "scopes": ["plan"], "purpose": "care"},
    )
    answer = client.post(
        "/consents",
        {
            "occurred_at": at(4),
            "consent_id": "consent-next",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "care",
        },
    )
    assert answer["item_id"] == "consent-next"
    client.post("/consents/consent-next/revocation", {"occurred_at": at(5), "reason": "changed"})

    problem = trajectory.refused(
        "/handovers",
        {"occurred_at": at(6), "to_party": NEXT_ORGANISATION},
        status=409,
        rule="handover-needs-consent",
    )
    assert NEXT_ORGANISATION in problem["detail"]
    assert trajectory.state()["handovers"] == 0


def test_a_handover_an_hour_before_the_consent_of_that_same_day_is_refused(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """004: the consent comes before the information passes. By calendar day, a handover at
    13:00 was taken under a consent given at 14:00 that day (and shown ``covered``)."""
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    day = on(2)
    client.post(
        "/consents",
        {
            "occurred_at": f"{day}T14:00:00Z",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "continuity of the plan",
        },
    )

    problem = trajectory.refused(
        "/handovers",
        {"occurred_at": f"{day}T13:00:00Z", "to_party": NEXT_ORGANISATION},
        status=409,
        rule="handover-needs-consent",
    )
    assert "given after that moment" in problem["detail"]
    assert trajectory.state()["handovers"] == 0
    trajectory.post(
        "/handovers", {"occurred_at": f"{day}T14:00:00Z", "to_party": NEXT_ORGANISATION}
    )
    assert trajectory.state()["handovers"] == 1


def test_a_handover_right_after_the_consent_is_covered_whatever_the_callers_time_zone(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """Consent at 00:30 Brussels time, handover a minute later: the consent covers it.

    Both moments fall on the same local day but on the day before in UTC; the consent's
    day and the handover's day must be reckoned in the same way.
    """
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    day = on(2)  # after the referral, in the past
    client.post(
        "/consents",
        {
            "occurred_at": f"{day}T00:30:00+01:00",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "continuity of the plan",
        },
    )

    trajectory.post(
        "/handovers",
        {"occurred_at": f"{day}T00:31:00+01:00", "to_party": NEXT_ORGANISATION},
    )
    assert trajectory.state()["handovers"] == 1


def test_a_change_to_the_level_an_escalation_is_at_names_to_level(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """Found by an outside probe: the problem named ``level``, a field the body has not."""
    _, trajectory = active_trajectory(module_http, module_auth)
    trajectory.post(
        "/escalations",
        {"occurred_at": at(3), "escalation_id": "esc-1", "level": "team", "reason": "capacity"},
    )

    problem = trajectory.refused(
        "/escalations/esc-1/level-changes",
        {"occurred_at": at(4), "to_level": "team", "reason": "still no place"},
        status=422,
        rule="invalid-value",
    )
    assert problem["field"] == "to_level"


def test_closing_names_who_follows_up_or_why_no_one_does_not_both(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """000. Found by an outside probe: both were taken, and the reason silently dropped."""
    _, trajectory = active_trajectory(module_http, module_auth)
    trajectory.post("/consultation-waivers", {"occurred_at": at(3), "kind": "end", "reason": "x"})

    problem = trajectory.refused(
        "/closure",
        {
            "occurred_at": at(4),
            "reason": "moved",
            "follow_up_by": NEXT_ORGANISATION,
            "no_follow_up_reason": "left the region",
        },
        status=422,
        rule="closure-names-who-follows-up",
    )
    assert problem["field"] == "no_follow_up_reason"
    assert trajectory.state()["status"] == "active"


def test_the_clients_signature_names_no_representative(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    """Found by an outside probe: the representative_ref was dropped without a word."""
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(4), "representative_ref": "rep-mother"})

    problem = trajectory.refused(
        "/plan-signatures",
        {"occurred_at": at(5), "signatory": "client", "representative_ref": "rep-mother"},
        status=422,
        rule="invalid-value",
    )
    assert problem["field"] == "representative_ref"
    assert "signatory 'representative'" in problem["detail"]
    assert trajectory.state()["plan"] is None
