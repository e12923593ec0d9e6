"""Issue #15 over HTTP, on both backends: the trajectory as of a moment on either time axis,
who agreed what and when, and the auditor's access decided from the record itself."""

import time
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    COORDINATOR,
    NEXT_ORGANISATION,
    PROVIDER,
    accepted_trajectory,
    active_trajectory,
    assert_problem,
    at,
    bearer,
    on,
    refer,
    register_client,
    start_consultation,
)

AGREEMENT = {
    "occurred_at": at(3),
    "agreement_id": "agreement-care",
    "assignments": [
        {"party": COORDINATOR, "role": "planmaker", "responsibilities": "the plan"},
        {"party": PROVIDER, "role": "provider", "responsibilities": "home support"},
    ],
}


def _auditor(token: TokenFactory, region: str = "west-flanders") -> dict[str, str]:
    return bearer(
        token(user="user-audrey", org="org-inspection", roles=("auditor",), region=region)
    )


def test_an_auditor_reads_the_history_right_after_the_referral(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    client = register_client(http, auth)
    trajectory = refer(http, auth, client.id)
    response = http.get(f"/v1/audit/trajectories/{trajectory.id}/history", headers=_auditor(token))
    assert response.status_code == 200, response.text
    assert [e["event"] for e in response.json()["events"]] == ["Referred"]


def test_an_auditor_of_another_region_finds_no_such_trajectory(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    _, trajectory = active_trajectory(http, auth)
    elsewhere = _auditor(token, region="limburg")
    for suffix, params in (("history", {}), ("agreements", {}), ("as-of", {"occurred": at(10)})):
        response = http.get(
            f"/v1/audit/trajectories/{trajectory.id}/{suffix}", params=params, headers=elsewhere
        )
        assert_problem(response, 404)


def test_an_acceptance_before_its_proposal_is_refused_naming_the_rule(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> None:
    _, trajectory = active_trajectory(http, auth)
    trajectory.post("/role-agreements", AGREEMENT)
    trajectory.refused(
        "/role-agreements/agreement-care/acceptances",
        {"occurred_at": at(2.5)},
        status=422,
        rule="fact-not-before-what-it-concerns",
    )


def test_the_two_time_axes_show_a_late_fact_and_say_so(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    _, trajectory = active_trajectory(http, auth)  # started at hour 2
    trajectory.post("/goals", {"occurred_at": at(20), "goal_id": "g-later", "description": "B"})
    time.sleep(0.01)
    before_late = datetime.now(UTC)
    time.sleep(0.01)
    # Recorded now, happened at hour 10: a late fact.
    trajectory.post("/goals", {"occurred_at": at(10), "goal_id": "g-late", "description": "A"})
    auditor = _auditor(token)
    path = f"/v1/audit/trajectories/{trajectory.id}/as-of"

    as_known_now = http.get(path, params={"occurred": at(12)}, headers=auditor)
    assert as_known_now.status_code == 200, as_known_now.text
    assert [g["id"] for g in as_known_now.json()["state"]["goals"]] == ["g-late"]

    as_recorded = http.get(path, params={"recorded": before_late.isoformat()}, headers=auditor)
    assert as_recorded.status_code == 200, as_recorded.text
    body = as_recorded.json()
    assert [g["id"] for g in body["state"]["goals"]] == ["g-later"]
    assert [f["event"] for f in body["recorded_later"]] == ["GoalSet"]
    assert body["commit_times_exact"] is True

    both = http.get(
        path, params={"occurred": at(12), "recorded": before_late.isoformat()}, headers=auditor
    )
    assert both.json()["state"]["goals"] == []
    assert [f["version"] for f in both.json()["recorded_later"]] == [5]


def test_a_moment_without_a_time_zone_or_without_any_moment_is_a_client_error(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    _, trajectory = active_trajectory(http, auth)
    path = f"/v1/audit/trajectories/{trajectory.id}/as-of"
    for params in ({}, {"occurred": "2026-03-12T00:00:00"}, {"recorded": "12 March"}):
        response = http.get(path, params=params, headers=_auditor(token))
        assert 400 <= response.status_code < 500, response.text
    # A valid ISO moment whose time in UTC falls outside the years 1-9999 (a fuzzer's pick).
    for axis in ("occurred", "recorded"):
        for moment in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
            response = http.get(path, params={axis: moment}, headers=_auditor(token))
            assert response.status_code == 422, response.text
            assert "UTC" in response.json()["detail"], response.text


def test_a_moment_in_the_future_is_refused_not_answered_as_a_prediction(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    """Found by an outside probe: as of 2028 the answer showed the follow-up contact "due" (not
    met, its date passed), a deadline that had not passed, and an export signed it. A moment
    up to now (and the few minutes of clock skew commands take) is answered."""
    _, trajectory = active_trajectory(http, auth)
    path = f"/v1/audit/trajectories/{trajectory.id}/as-of"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for axis in ("occurred", "recorded"):
        for moment in (later, "2028-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            response = http.get(path, params={axis: moment}, headers=_auditor(token))
            problem = assert_problem(response, 422)
            assert "lies in the future" in problem["detail"], moment
        now = datetime.now(UTC).isoformat()
        assert http.get(path, params={axis: now}, headers=_auditor(token)).status_code == 200


def test_the_agreements_view_lists_every_acceptance_with_actor_and_both_times(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    _, trajectory = active_trajectory(http, auth)
    trajectory.post("/role-agreements", AGREEMENT)
    trajectory.post("/role-agreements/agreement-care/acceptances", {"occurred_at": at(4)})
    provider = bearer(token(user="user-pieter", org=PROVIDER, roles=("professional",)))
    trajectory.post(
        "/role-agreements/agreement-care/acceptances", {"occurred_at": at(5)}, headers=provider
    )
    response = http.get(
        f"/v1/audit/trajectories/{trajectory.id}/agreements", headers=_auditor(token)
    )
    assert response.status_code == 200, response.text
    (agreement,) = response.json()["role_agreements"]
    assert agreement["proposed"]["actor"]["organisation"] == COORDINATOR
    answers = [
        (a["party"], a["answer"], a["at"]["actor"]["user_id"], a["at"]["actor"]["role"])
        for a in agreement["answers"]
    ]
    assert answers == [
        (COORDINATOR, "accepted", "user-an", "coordinator"),
        (PROVIDER, "accepted", "user-pieter", "professional"),
    ]
    for answer in agreement["answers"]:
        assert answer["at"]["occurred_at"] < answer["at"]["recorded_at"]
    assert datetime.fromisoformat(agreement["in_force_from"]) == datetime.fromisoformat(at(5))


def _standing(http: TestClient, trajectory_id: object, moment: str, auditor: dict[str, str]) -> str:  # type: ignore[type-arg]
    response = http.get(
        f"/v1/audit/trajectories/{trajectory_id}/as-of",
        params={"occurred": moment},
        headers=auditor,
    )
    assert response.status_code == 200, response.text
    (start,) = [d for d in response.json()["deadlines"] if d["rule"] == "start_consultation"]
    return str(start["standing"])


def test_the_start_consultations_deadline_stands_as_it_did_at_each_moment(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    """Accepted at hour 1, due a month later: open before the start consultation, met once it
    was held in time; held 40 days on in another trajectory: due, then met late."""
    auditor = _auditor(token)
    _, in_time = active_trajectory(http, auth)  # the start consultation at hour 2
    _, late = accepted_trajectory(http, auth)
    late.post("/consultations", start_consultation(hours=40 * 24))

    assert _standing(http, in_time.id, at(1.5), auditor) == "open"
    assert _standing(http, in_time.id, at(3), auditor) == "met"
    assert _standing(http, late.id, at(24), auditor) == "open"
    assert _standing(http, late.id, at(35 * 24), auditor) == "due"
    assert _standing(http, late.id, at(41 * 24), auditor) == "met_late"


def test_the_auditor_sees_the_moment_a_consent_was_given_beside_its_day(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    """004: the views decide by the consent's moment (a handover, the consents in force), so
    they show it: ``granted_at`` beside ``granted_on`` in the as-of answer's consents, and
    ``consent_granted_at`` beside ``consent_granted_on`` in the agreements' consents used."""
    client, trajectory = active_trajectory(http, auth)
    day = on(5)
    given_at = datetime.fromisoformat(f"{day}T14:00:00+00:00")
    client.post(
        "/consents",
        {
            "occurred_at": f"{day}T16:00:00+02:00",  # 14:00 UTC, in the caller's own offset
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "continuity of the plan",
        },
    )
    trajectory.post(
        "/handovers", {"occurred_at": f"{day}T15:00:00Z", "to_party": NEXT_ORGANISATION}
    )
    auditor = _auditor(token)
    path = f"/v1/audit/trajectories/{trajectory.id}"

    agreements = http.get(f"{path}/agreements", headers=auditor)
    assert agreements.status_code == 200, agreements.text
    (used,) = agreements.json()["consents_used"]
    assert used["covered"] is True
    assert used["consent_granted_on"] == day
    assert datetime.fromisoformat(used["consent_granted_at"]) == given_at
    as_of = http.get(f"{path}/as-of", params={"occurred": f"{day}T15:00:00Z"}, headers=auditor)
    assert as_of.status_code == 200, as_of.text
    (consent,) = as_of.json()["consents_in_force"]
    assert consent["granted_on"] == day
    assert datetime.fromisoformat(consent["granted_at"]) == given_at


def test_a_consent_given_later_that_day_is_not_yet_in_force_as_of_an_earlier_moment(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    token: TokenFactory,
) -> None:
    """004: the as-of answer decides the consents in force by the consent's moment, as a
    handover is held against it: a consent given at 14:00 was not in force at 13:00 that same
    day (by calendar day it was listed), and is from 14:00 on."""
    client, trajectory = active_trajectory(http, auth)
    day = on(5)
    client.post(
        "/consents",
        {
            "occurred_at": f"{day}T14:00:00Z",
            "to_party": NEXT_ORGANISATION,
            "scopes": ["plan"],
            "purpose": "continuity of the plan",
        },
    )
    auditor = _auditor(token)
    path = f"/v1/audit/trajectories/{trajectory.id}/as-of"

    def in_force(moment: str) -> list[str]:
        response = http.get(path, params={"occurred": moment}, headers=auditor)
        assert response.status_code == 200, response.text
        return [c["to_party"] for c in response.json()["consents_in_force"]]

    assert in_force(f"{day}T13:00:00Z") == []
    assert in_force(f"{day}T14:00:00Z") == [NEXT_ORGANISATION]
    assert in_force(f"{day}T23:59:59Z") == [NEXT_ORGANISATION]
