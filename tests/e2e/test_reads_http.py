"""The read endpoints: plan state, escalation timeline, the trajectory list, and health.

They answer from the read models (inline projections here, so each answer reflects every
command before it). Each test builds its own trajectories, in a region of its own.
"""

import base64
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest

from tests.e2e.readside import COORDINATOR, PROVIDER, App, Trajectories, app_of_its_own
from tests.e2e.steps import Record, assert_problem, etag, recorded
from tests.integration.databases import BACKENDS, require_backend

BUDDY = "org-buddy"


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    require_backend(request, request.param)
    with app_of_its_own(request.param, tmp_path_factory.mktemp("reads"), inline=True) as built:
        yield built


@pytest.fixture
def build(app: App) -> Trajectories:
    return Trajectories(app)


def plan_state(app: App, trajectory: Record) -> dict[str, Any]:
    response = app.http.get(trajectory.path, headers=app.auth)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == etag(trajectory.version)
    state: dict[str, Any] = response.json()
    assert state["version"] == trajectory.version
    return state


def timeline(app: App, trajectory: Record) -> list[dict[str, Any]]:
    response = app.http.get(f"{trajectory.path}/timeline", headers=app.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["trajectory_id"] == trajectory.id
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def listed(app: App, headers: dict[str, str] | None = None, **params: Any) -> dict[str, Any]:
    response = app.http.get("/v1/trajectories", params=params, headers=headers or app.auth)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


# --- plan state ---------------------------------------------------------------------------------


def test_the_plan_state_answers_with_its_version_as_etag_after_every_command(
    app: App, build: Trajectories
) -> None:
    trajectory = build.referred()
    assert plan_state(app, trajectory)["status"] == "referred"
    trajectory.post("/acceptance", {"occurred_at": build.when.ago(290)})
    assert plan_state(app, trajectory)["status"] == "accepted"
    build.consult(trajectory, "start", 280, 10)

    state = plan_state(app, trajectory)

    assert state["status"] == "active"
    assert state["version"] == 3
    assert state["region"] == build.region
    assert state["coordinating_organisation"] == COORDINATOR


def test_roles_in_force_come_only_from_agreements_every_named_party_accepted(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=50, next_consultation_in=10)
    build.agreement(trajectory, 40, "agreed", (COORDINATOR, "planmaker"), (PROVIDER, "provider"))
    build.accept_agreement(trajectory, 40, "agreed", COORDINATOR)
    build.accept_agreement(trajectory, 39, "agreed", PROVIDER)
    build.agreement(trajectory, 30, "half", (COORDINATOR, "key_worker"), (BUDDY, "buddy"))
    build.accept_agreement(trajectory, 30, "half", COORDINATOR)

    state = plan_state(app, trajectory)

    assert state["roles_in_force"] == [
        {"party": COORDINATOR, "role": "planmaker", "responsibilities": ""},
        {"party": PROVIDER, "role": "provider", "responsibilities": ""},
    ]
    agreements = {a["id"]: a for a in state["role_agreements"]}
    assert agreements["agreed"]["in_force"] is True
    assert agreements["half"]["in_force"] is False
    assert agreements["half"]["accepted_by"] == [COORDINATOR]
    assert PROVIDER in state["parties"]
    assert BUDDY not in state["parties"]

    build.accept_agreement(trajectory, 29, "half", BUDDY)

    state = plan_state(app, trajectory)
    assert {"party": BUDDY, "role": "buddy", "responsibilities": ""} in state["roles_in_force"]
    assert BUDDY in state["parties"]


def test_the_plan_state_shows_the_signed_plan_and_who_signed_for_whom(
    app: App, build: Trajectories
) -> None:
    client_id = build.client()
    appointed = app.http.post(
        f"/v1/clients/{client_id}/representatives",
        json={"occurred_at": build.when.ago(399), "representative_ref": "rep-mother"},
        headers=app.auth,
    )
    assert appointed.status_code == 200, appointed.text
    trajectory = build.referred(client_id=client_id)
    trajectory.post("/acceptance", {"occurred_at": build.when.ago(100)})
    build.consult(trajectory, "start", 99, 30)
    trajectory.post(
        "/goals", {"occurred_at": build.when.ago(98), "goal_id": "g-1", "description": "school"}
    )
    trajectory.post(
        "/actions",
        {
            "occurred_at": build.when.ago(98),
            "action_id": "a-1",
            "description": "intake",
            "owner": PROVIDER,
            "due_on": build.when.day(20),
            "goal_id": "g-1",
        },
    )
    trajectory.post(
        "/plan-signatures",
        {
            "occurred_at": build.when.ago(97),
            "signatory": "representative",
            "representative_ref": "rep-mother",
        },
        headers={**app.auth, "X-On-Behalf-Of": "rep-mother"},
    )

    state = plan_state(app, trajectory)

    signed_on = date.fromisoformat(build.when.day(-97))
    assert state["plan"]["version"] == 1
    assert state["plan"]["signatory"] == "representative"
    assert state["plan"]["representative_ref"] == "rep-mother"
    assert state["plan"]["valid_until"] == signed_on.replace(year=signed_on.year + 3).isoformat()
    assert state["next_evaluation_on"] == signed_on.replace(year=signed_on.year + 1).isoformat()
    assert state["goals"] == [
        {"id": "g-1", "description": "school", "closed": False, "outcome": None}
        | {"carried_from": None}  # set here, not carried by a continuation
    ]
    assert state["actions"] == [
        {
            "id": "a-1",
            "description": "intake",
            "owner": PROVIDER,
            "due_on": build.when.day(20),
            "goal_id": "g-1",
            "carried_from": None,
        }
    ]
    [signed] = [e for e in timeline(app, trajectory) if e["kind"] == "plan_signed"]
    assert signed["actor"]["on_behalf_of"] == "rep-mother"
    assert signed["actor"]["organisation"] == COORDINATOR
    assert signed["detail"]["signatory"] == "representative"
    assert signed["detail"]["representative_ref"] == "rep-mother"


def test_the_plan_state_shows_the_next_consultation_and_the_open_escalations(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=50, next_consultation_in=10)
    build.escalate(trajectory, 40, reason="capacity", escalation_id="esc-a")
    build.escalate(trajectory, 30, reason="funding", escalation_id="esc-b", level="network")
    build.resolve(trajectory, 20, escalation_id="esc-a")
    build.consult(trajectory, "ad_hoc", 5, 21)

    state = plan_state(app, trajectory)

    assert state["next_consultation_on"] == build.when.day(21)
    assert state["consultations_held"] == 2
    escalations = {e["id"]: e for e in state["escalations"]}
    assert escalations["esc-a"]["resolved_at"] is not None
    assert escalations["esc-b"]["resolved_at"] is None
    assert escalations["esc-b"]["level"] == "network"
    assert escalations["esc-b"]["reason"] == "funding"
    assert [e["id"] for e in state["escalations"] if e["resolved_at"] is None] == ["esc-b"]


def test_a_continued_trajectory_names_the_trajectory_it_continues(
    app: App, build: Trajectories
) -> None:
    client_id = build.client()
    first = build.referred(300, client_id=client_id)
    first.post("/acceptance", {"occurred_at": build.when.ago(290)})
    build.consult(first, "start", 280, 30)
    build.consult(first, "end", 100, None)
    first.post(
        "/closure",
        {"occurred_at": build.when.ago(99), "reason": "moved", "follow_up_by": PROVIDER},
    )

    second = build.referred(50, client_id=client_id, continues_from=first.id)
    first.version += 1  # ContinuedBy, recorded on the earlier one (issue #17)

    assert plan_state(app, second)["continued_from"] == first.id
    assert plan_state(app, first)["continued_from"] is None
    assert plan_state(app, first)["status"] == "closed"
    kinds = [e["kind"] for e in timeline(app, second)]
    assert kinds == ["referred", "continued_from"]
    assert timeline(app, second)[1]["detail"]["previous_trajectory_id"] == first.id


def closed_with_a_plan(build: Trajectories, client_id: str) -> Record:
    """A trajectory of ``client_id`` with a signed plan: goal "school" (open, with an action),
    goal "flat" (reached, with an action) and an action of no goal; then closed."""
    first = build.referred(300, client_id=client_id)
    first.post("/acceptance", {"occurred_at": build.when.ago(290)})
    build.consult(first, "start", 280, 30)
    for goal_id, text in (("school", "Goes to school four days a week"), ("flat", "A flat")):
        first.post(
            "/goals", {"occurred_at": build.when.ago(270), "goal_id": goal_id, "description": text}
        )
    for action_id, goal_id in (("check-in", "school"), ("viewing", "flat"), ("budget", None)):
        first.post(
            "/actions",
            {"occurred_at": build.when.ago(269), "action_id": action_id, "goal_id": goal_id}
            | {"description": f"{action_id} weekly", "owner": PROVIDER},
        )
    first.post("/plan-signatures", {"occurred_at": build.when.ago(268), "signatory": "client"})
    first.post("/goals/flat/closure", {"occurred_at": build.when.ago(120), "outcome": "moved"})
    build.consult(first, "end", 100, None)
    first.post(
        "/closure",
        {"occurred_at": build.when.ago(99), "reason": "moved", "follow_up_by": PROVIDER},
    )
    return first


def continued(build: Trajectories) -> tuple[Record, Record]:
    """``closed_with_a_plan``, and a trajectory referred 50 days ago that continues it (the
    earlier one's version counts its ``ContinuedBy``)."""
    client_id = build.client()
    first = closed_with_a_plan(build, client_id)
    second = build.referred(50, client_id=client_id, continues_from=first.id)
    first.version += 1  # the continuation is recorded on the earlier trajectory too
    first.position = second.position
    return first, second


def test_a_continuation_carries_the_open_goals_and_their_actions_marked_as_carried(
    app: App, build: Trajectories
) -> None:
    """Issue #17 point 1 (seed 000: the plan outlives the trajectory): the open goals and the
    actions of open goals (or of none) come into the new plan state, each marked with the
    trajectory it was carried from and as of when; the reached goal and its action do not."""
    first, second = continued(build)
    state = plan_state(app, second)

    carried = {"trajectory_id": first.id, "plan_version": 1, "signed_here": False}
    assert [(g["id"], g["description"], g["closed"]) for g in state["goals"]] == [
        ("school", "Goes to school four days a week", False)
    ]
    assert [a["id"] for a in state["actions"]] == ["check-in", "budget"]
    for item in [*state["goals"], *state["actions"]]:
        assert {k: item["carried_from"][k] for k in carried} == carried
        assert item["carried_from"]["as_of"].startswith(build.when.day(-50))
    assert state["actions"][0] | {"carried_from": None} == {
        "id": "check-in",
        "description": "check-in weekly",
        "owner": PROVIDER,
        "due_on": None,
        "goal_id": "school",
        "carried_from": None,
    }
    assert state["plan"] is None  # not in force here until it is signed here


def test_a_carried_plan_is_in_force_once_signed_in_the_continuing_trajectory(
    app: App, build: Trajectories
) -> None:
    _, second = continued(build)
    second.post("/acceptance", {"occurred_at": build.when.ago(49)})

    second.post("/plan-signatures", {"occurred_at": build.when.ago(48), "signatory": "client"})
    state = plan_state(app, second)

    assert state["plan"]["version"] == 1
    assert [g["carried_from"]["signed_here"] for g in state["goals"]] == [True]
    assert [a["carried_from"]["signed_here"] for a in state["actions"]] == [True, True]


def test_the_continued_trajectory_names_the_trajectory_that_continues_it(
    app: App, build: Trajectories
) -> None:
    """Issue #17 point 2: the thread runs both ways, in the plan state and in the timeline."""
    first, second = continued(build)

    assert plan_state(app, first)["continued_by"] == [second.id]
    assert plan_state(app, first)["status"] == "closed"
    assert plan_state(app, second)["continued_by"] == []
    last = timeline(app, first)[-1]
    assert last["kind"] == "continued_by"
    assert last["detail"] == {"next_trajectory_id": second.id, "organisation": COORDINATOR}


def test_a_continuation_dated_before_the_earlier_trajectory_closed_is_refused(
    app: App, build: Trajectories
) -> None:
    """The closed trajectory records that it is continued, at the continuation's moment: then
    it must have been closed (000 continues a closed one), even when the referral is recorded
    later; nothing of the referral is recorded."""
    client_id = build.client()
    first = closed_with_a_plan(build, client_id)  # closed 99 days ago
    before = recorded(app.container)

    response = app.http.post(
        "/v1/trajectories",
        json={
            "occurred_at": build.when.ago(150),
            "client_id": client_id,
            "question": "Support at home",
            "sector": "youth_care",
            "region": build.region,
            "continues_from": first.id,
        },
        headers=app.auth,
    )

    assert_problem(response, 422, rule="fact-within-its-status")
    assert recorded(app.container) == before


def test_the_plan_state_shows_the_referrals_client_criteria_and_the_referrers_engagement(
    app: App, build: Trajectories
) -> None:
    """Issue #17 point 4 (seed 001: both are part of the intake): a coordinator reads back what
    the referral asked."""
    response = app.http.post(
        "/v1/trajectories",
        json={
            "occurred_at": build.when.ago(10),
            "client_id": build.client(),
            "question": "Support at home",
            "sector": "youth_care",
            "region": build.region,
            "client_criteria": ["under 18", "lives at home"],
            "referrer_engagement": "The school stays involved in the consultations",
        },
        headers=app.auth,
    )
    assert response.status_code == 201, response.text
    trajectory = Record(app.http, app.auth, "trajectories", response.json()["id"], 1)
    trajectory.seen(response.json())

    state = plan_state(app, trajectory)

    assert state["client_criteria"] == ["under 18", "lives at home"]
    assert state["referrer_engagement"] == "The school stays involved in the consultations"


def test_the_plan_state_of_an_unknown_trajectory_is_404(app: App) -> None:
    unknown = "/v1/trajectories/00000000-0000-4000-8000-000000000000"
    assert_problem(app.http.get(unknown, headers=app.auth), 404)
    assert_problem(app.http.get(f"{unknown}/timeline", headers=app.auth), 404)


def test_the_read_endpoints_want_a_bearer_token(app: App, build: Trajectories) -> None:
    trajectory = build.referred()

    for path in (trajectory.path, f"{trajectory.path}/timeline", "/v1/board", "/v1/trajectories"):
        assert_problem(app.http.get(path), 401)


# --- timeline -----------------------------------------------------------------------------------


def test_the_timeline_is_in_the_order_things_happened_even_when_recorded_late(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=60, next_consultation_in=30)
    build.block(trajectory, 30, "waiting_list")
    build.unblock(trajectory, 15)
    build.escalate(trajectory, 40, reason="capacity")  # happened before the block, recorded after

    entries = timeline(app, trajectory)

    kinds = [e["kind"] for e in entries]
    assert kinds == [
        "referred",
        "accepted",
        "consultation_held",
        "escalation_raised",
        "blocked",
        "unblocked",
    ]
    occurred = [datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert occurred == sorted(occurred)
    recorded = {e["kind"]: datetime.fromisoformat(e["recorded_at"]) for e in entries}
    assert recorded["escalation_raised"] > recorded["unblocked"] > recorded["blocked"]
    assert [e["version"] for e in entries] == [1, 2, 3, 6, 4, 5]


def test_each_timeline_entry_names_who_recorded_it_and_when(app: App, build: Trajectories) -> None:
    trajectory = build.accepted()
    build.agreement(trajectory, 280, "ra", (COORDINATOR, "planmaker"), (PROVIDER, "provider"))
    build.accept_agreement(trajectory, 279, "ra", PROVIDER)

    entries = timeline(app, trajectory)

    accepted_by_provider = entries[-1]
    assert accepted_by_provider["kind"] == "role_agreement_accepted"
    assert accepted_by_provider["actor"] == {
        "user_id": f"user-of-{PROVIDER}",
        "organisation": PROVIDER,
        "role": "coordinator",
        "on_behalf_of": None,
    }
    assert accepted_by_provider["detail"] == {"agreement_id": "ra", "party": PROVIDER}
    for entry in entries:
        assert entry["actor"]["user_id"]
        assert entry["actor"]["organisation"]
        recorded_at = datetime.fromisoformat(entry["recorded_at"])
        assert recorded_at >= datetime.fromisoformat(entry["occurred_at"])
        assert recorded_at.utcoffset() is not None


def test_an_unblocked_entry_says_how_many_days_the_trajectory_was_blocked(
    app: App, build: Trajectories
) -> None:
    trajectory = build.active(started_days_ago=100, next_consultation_in=30)
    build.block(trajectory, 80, "funding", "capacity")
    build.unblock(trajectory, 65)
    build.block(trajectory, 40, "safety")
    build.unblock(trajectory, 38)

    entries = [e for e in timeline(app, trajectory) if e["kind"] in ("blocked", "unblocked")]

    assert [(e["kind"], e["blocked_days"]) for e in entries] == [
        ("blocked", None),
        ("unblocked", 15),
        ("blocked", None),
        ("unblocked", 2),
    ]
    assert entries[0]["detail"] == {"reasons": ["funding", "capacity"]}


def test_the_timeline_tells_escalation_levels_handovers_and_evaluations(
    app: App, build: Trajectories
) -> None:
    client_id = build.client()
    consent = app.http.post(
        f"/v1/clients/{client_id}/consents",
        json={
            "occurred_at": build.when.ago(399),
            "consent_id": "c-1",
            "to_party": "org-next",
            "scopes": ["plan"],
            "purpose": "handover",
        },
        headers=app.auth,
    )
    assert consent.status_code == 200, consent.text
    trajectory = build.referred(client_id=client_id)
    trajectory.post("/acceptance", {"occurred_at": build.when.ago(200)})
    build.consult(trajectory, "start", 199, 30)
    trajectory.post("/goals", {"occurred_at": build.when.ago(198), "description": "school"})
    trajectory.post("/plan-signatures", {"occurred_at": build.when.ago(197), "signatory": "client"})
    build.escalate(trajectory, 150, escalation_id="e-1", level="team")
    trajectory.post(
        "/escalations/e-1/level-changes",
        {"occurred_at": build.when.ago(140), "to_level": "network", "reason": "stuck"},
    )
    trajectory.post(
        "/evaluations",
        {"occurred_at": build.when.ago(100), "results": "half way", "pdca_phase": "try_out"},
    )
    trajectory.post(
        "/handovers",
        {"occurred_at": build.when.ago(50), "to_party": "org-next", "transfers_coordination": True},
    )

    entries = {e["kind"]: e for e in timeline(app, trajectory)}

    assert "goal_set" not in entries
    assert entries["escalation_level_changed"]["detail"] == {
        "escalation_id": "e-1",
        "from_level": "team",
        "to_level": "network",
    }
    assert entries["evaluated"]["detail"]["pdca_phase"] == "try_out"
    assert entries["handed_over"]["detail"]["from_party"] == COORDINATOR
    assert entries["handed_over"]["detail"]["to_party"] == "org-next"
    assert plan_state(app, trajectory)["coordinating_organisation"] == "org-next"


# --- the list -----------------------------------------------------------------------------------


def test_the_list_filters_by_status_region_sector_and_organisation(
    app: App, build: Trajectories
) -> None:
    partner = f"org-partner-{build.region}"
    referred = build.referred(days_ago=10)
    active = build.active(started_days_ago=50, next_consultation_in=10)
    with_partner = build.active(started_days_ago=40, next_consultation_in=10, sector="education")
    build.agreement(with_partner, 30, "ra", (COORDINATOR, "planmaker"), (partner, "provider"))
    build.accept_agreement(with_partner, 30, "ra", COORDINATOR)
    build.accept_agreement(with_partner, 29, "ra", partner)
    elsewhere = build.active(started_days_ago=50, next_consultation_in=10, region="other")

    def ids(by: str | None = None, **params: Any) -> set[str]:
        headers = build.as_organisation(by) if by else None
        page = listed(app, headers, region=build.region, **params)
        return {item["id"] for item in page["items"]}

    assert ids() == {referred.id, active.id, with_partner.id}
    assert ids(status="referred") == {referred.id}
    assert ids(status="active") == {active.id, with_partner.id}
    assert ids(sector="education") == {with_partner.id}
    assert ids(by=partner) == {with_partner.id}
    assert ids(by=partner, organisation=partner, status="active") == {with_partner.id}
    assert ids(organisation=COORDINATOR) == {referred.id, active.id, with_partner.id}
    assert ids(by=f"org-nobody-{build.region}") == set()
    assert elsewhere.id not in ids()
    [item] = listed(app, build.as_organisation(partner), organisation=partner)["items"]
    assert item["id"] == with_partner.id
    assert item["version"] == with_partner.version
    assert item["sector"] == "education"
    assert item["region"] == build.region


def test_the_list_pages_through_every_trajectory_once_newest_referral_first(
    app: App, build: Trajectories
) -> None:
    # Seven referrals, three of them at the very same moment: the cursor must break the tie.
    made = [build.referred(days_ago=d) for d in (30, 20, 20, 20, 10, 5, 1)]

    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"region": build.region, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = listed(app, **params)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [item["id"] for p in pages for item in p]
    assert sorted(seen) == sorted(t.id for t in made)
    keys = [(item["referred_at"], item["id"]) for p in pages for item in p]
    assert keys == sorted(keys, reverse=True)


def test_a_page_exactly_full_says_there_is_no_next_page(app: App, build: Trajectories) -> None:
    for days in (3, 2):
        build.referred(days_ago=days)

    page = listed(app, region=build.region, limit=2)

    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        base64.urlsafe_b64encode(b"yesterday|someone").decode(),
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00").decode(),
        # A NUL after the moment: PostgreSQL refused it with a 500 (issue #10).
        base64.urlsafe_b64encode(
            b"2026-01-01T00:00:00.000000+00:00\x00|1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        ).decode(),
        # Stray characters base64 skips, around a cursor otherwise as given out.
        "\x00"
        + base64.urlsafe_b64encode(
            b"2026-01-01T00:00:00.000000+00:00|1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        ).decode(),
    ],
    ids=["not-base64", "not-a-moment", "no-id", "nul-after-the-moment", "nul-before-the-cursor"],
)
def test_a_cursor_this_api_did_not_give_out_is_a_422_problem(app: App, cursor: str) -> None:
    response = app.http.get("/v1/trajectories", params={"cursor": cursor}, headers=app.auth)

    problem = assert_problem(response, 422, field="cursor")
    assert "cursor" in problem["detail"]


# --- health -------------------------------------------------------------------------------------


def test_health_shows_every_projection_at_the_head_of_the_log_once_caught_up(
    app: App, build: Trajectories
) -> None:
    build.active(started_days_ago=10, next_consultation_in=10)

    response = app.http.get("/health")

    assert response.status_code == 200, response.text
    health = response.json()
    head = health["log_position"]
    assert head == app.container.care_record.recorder.max_notification_id()
    assert set(health["projections"]) >= {"plan_state", "timeline"}
    for projection in health["projections"].values():
        assert projection == {"position": head, "lag": 0}


def test_health_shows_how_far_the_projections_lag_behind_the_log(
    app: App, build: Trajectories
) -> None:
    trajectory = build.referred()
    app.container.care_record.on_recorded = None  # the projections stop following for a while
    try:
        trajectory.post("/acceptance", {"occurred_at": build.when.ago(1)})
    finally:
        app.container.care_record.on_recorded = app.container.worker.catch_up_quietly

    behind = app.http.get("/health").json()
    app.container.worker.catch_up()
    caught_up = app.http.get("/health").json()

    assert behind["log_position"] == caught_up["log_position"]
    for name in ("plan_state", "timeline"):
        assert behind["projections"][name] == {
            "position": behind["log_position"] - 1,
            "lag": 1,
        }
        assert caught_up["projections"][name] == {"position": caught_up["log_position"], "lag": 0}
