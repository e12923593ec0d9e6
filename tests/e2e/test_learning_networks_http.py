"""``/v1/learning-networks`` over HTTP, on SQLite and PostgreSQL (issue #14 points 1, 4, 5, 6):
a region's network and the forum established, members, themes, meetings citing releases,
signals taken to the forum, lessons, improvement trajectories measured over time, and who may
do what."""

from typing import Any

import pytest
from litestar.testing import TestClient

from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.catalog import CASES
from tests.e2e.conftest import TokenFactory, token_factory
from tests.e2e.steps import (
    T0,
    assert_handled,
    assert_problem,
    at,
    bearer,
    on,
    recorded,
    save_release,
)

REGION = "west-flanders"
CHAIR = "org-chair"  # coordinates the region's network
SCHOOL = "org-school"  # a member
STRANGER = "org-stranger"  # registered, no member
POLICY = "org-policy"  # coordinates the forum
COORDINATING = "org-coordinating"  # a case coordinator of the region


class Story:
    def __init__(self, http: TestClient, token: TokenFactory, container: Container) -> None:  # type: ignore[type-arg]
        self.http, self.token, self.container = http, token, container
        self.admin = self.auth("org-ops", "admin")
        self.forum = self.auth(POLICY, "forum")
        self.chair = self.auth(CHAIR, "learning_network")
        self.school = self.auth(SCHOOL, "learning_network")
        self.stranger = self.auth(STRANGER, "learning_network")
        self.coordinator = self.auth(COORDINATING, "coordinator")
        for organisation in (CHAIR, SCHOOL, STRANGER, POLICY):
            self.post(
                "/v1/organisations", {"identifier": organisation, "name": organisation}, self.admin
            )

    def auth(self, organisation: str, role: str, region: str = REGION) -> dict[str, str]:
        return bearer(
            self.token(
                user=f"{role}@{organisation}", org=organisation, roles=(role,), region=region
            )
        )

    def send(self, path: str, body: dict[str, Any], auth: dict[str, str], **headers: str) -> Any:
        return self.http.post(
            path, json={"occurred_at": at(1), **body}, headers={**auth, **headers}
        )

    def post(self, path: str, body: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
        response = self.send(path, body, auth)
        assert response.status_code in (200, 201), (path, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    def establish(self) -> str:
        answer = self.post(
            "/v1/learning-networks",
            {
                "occurred_at": at(0),
                "level": "meso",
                "region": REGION,
                "coordinating_organisation": CHAIR,
            },
            self.admin,
        )
        network: str = answer["id"]
        self.post(
            f"/v1/learning-networks/{network}/members",
            {"organisation": SCHOOL, "expertise": "education", "role": "practitioner"},
            self.chair,
        )
        return network

    def establish_forum(self) -> str:
        answer = self.post(
            "/v1/learning-networks",
            {"occurred_at": at(0), "level": "macro", "coordinating_organisation": POLICY},
            self.forum,
        )
        forum: str = answer["id"]
        return forum

    def release(self) -> int:
        return save_release(self.container, REGION)

    def theme(self, network: str, auth: dict[str, str] | None = None) -> str:
        answer = self.post(
            f"/v1/learning-networks/{network}/themes",
            {
                "title": "Waiting lists",
                "description": "Places for residential care lack",
                "source_kind": "member_experience",
            },
            auth or self.coordinator,
        )
        theme: str = answer["item_id"]
        return theme

    def meeting(self, network: str, themes: list[str], releases: list[int], **extra: Any) -> Any:
        return self.send(
            f"/v1/learning-networks/{network}/meetings",
            {
                "occurred_at": at(24 * 3),
                "kind": "learning_network",
                "held_on": on(3),
                "members_present": [CHAIR, SCHOOL],
                "themes_discussed": themes,
                "releases_consulted": releases,
                "conclusions": ["Signal it to the agency"],
                **extra,
            },
            self.chair,
        )

    def read(self, network: str, auth: dict[str, str] | None = None) -> Any:
        return self.http.get(f"/v1/learning-networks/{network}", headers=auth or self.chair)


@pytest.fixture
def story(private_app: tuple[Settings, Container, TestClient]) -> Story:  # type: ignore[type-arg]
    """On a database of its own: one forum per deployment, so each story is a deployment."""
    settings, container, http = private_app
    return Story(http, token_factory(settings), container)


def test_a_year_of_a_regions_network_reaches_its_state(story: Story) -> None:
    network = story.establish()
    forum = story.establish_forum()
    release = story.release()
    theme = story.theme(network)

    assert story.meeting(network, [theme], [release]).status_code == 200
    signal = story.post(
        f"/v1/learning-networks/{network}/signals",
        {
            "occurred_at": at(24 * 4),
            "category": "waiting_list",
            "description": "No residential places for months",
            "evidence": {"themes": [theme], "releases": [release]},
            "addressed_to": "the agency for youth care",
        },
        story.chair,
    )["item_id"]
    story.post(
        f"/v1/learning-networks/{network}/signals/{signal}/escalation",
        {"occurred_at": at(24 * 5), "reason": "needs a decree"},
        story.school,
    )
    improvement = story.post(
        f"/v1/learning-networks/{network}/improvement-trajectories",
        {
            "occurred_at": at(24 * 5),
            "title": "One intake form",
            "action_proposal": "One intake form",
            "theme_id": theme,
        },
        story.school,
    )["item_id"]
    for day, phase, confidence in ((6, "design", 3), (20, "try_out", 4)):
        story.post(
            f"/v1/learning-networks/{network}/improvement-trajectories/{improvement}/measurements",
            {
                "occurred_at": at(24 * day),
                "measured_on": on(day),
                "pdca_phase": phase,
                "participation": "advising",
                "confidence": confidence,
                "reach": {"clients": {"direct": {"now": 4, "expected": 20}}},
            },
            story.school,
        )
    story.post(
        f"/v1/learning-networks/{network}/lessons",
        {
            "occurred_at": at(24 * 21),
            "year": T0.year,
            "what_worked": ["A planmaker"],
            "action_proposals": [{"proposal_id": "ap-1", "description": "One intake form"}],
            "audiences": ["policy"],
        },
        story.chair,
    )

    response = story.read(network)
    assert response.status_code == 200, response.text
    state = response.json()
    assert response.headers["etag"] == f'"{state["version"]}"'
    assert [m["organisation"] for m in state["members"]] == [CHAIR, SCHOOL]
    assert [(t["theme_id"], t["status"], t["proposer_kind"]) for t in state["themes"]] == [
        (theme, "discussed", "region_coordinator")
    ]
    assert state["meetings"][0]["releases_consulted"] == [release]
    assert [(s["status"], s["days_open"]) for s in state["signals"]] == [("escalated", 1)]
    assert [m["confidence"] for m in state["improvement_trajectories"][0]["measurements"]] == [3, 4]
    assert [lesson["year"] for lesson in state["lessons"]] == [T0.year]
    assert COORDINATING not in response.text, "a theme's proposer is a kind, not an organisation"
    received = story.read(forum, story.forum).json()["signals"]
    assert [(s["signal_id"], s["from_region"], s["status"]) for s in received] == [
        (f"{REGION}:{signal}", REGION, "open")
    ]


def test_the_signals_overview_counts_open_signals_per_region_and_category(story: Story) -> None:
    network = story.establish()
    story.establish_forum()
    theme = story.theme(network)
    for n in range(2):
        story.post(
            f"/v1/learning-networks/{network}/signals",
            {
                "signal_id": f"s-{n}",
                "category": "funding",
                "description": "Modules lack",
                "evidence": {"themes": [theme]},
                "addressed_to": "minister",
            },
            story.coordinator,
        )
    story.post(
        f"/v1/learning-networks/{network}/signals/s-1/answer",
        {"answer": "Next year", "answered_by": "minister"},
        story.school,
    )

    overview = story.http.get("/v1/learning-networks/signals", headers=story.chair).json()

    assert overview["groups"] == [
        {
            "region": REGION,
            "category": "funding",
            "open": 1,
            "answered": 1,
            "escalated": 0,
            "closed": 0,
            "longest_open_days": overview["groups"][0]["longest_open_days"],
            "median_open_days": overview["groups"][0]["median_open_days"],
        }
    ]
    assert overview["groups"][0]["longest_open_days"] >= 59
    assert [(s["signal_id"], s["answered"]) for s in overview["signals"]] == [
        ("s-0", False),
        ("s-1", True),
    ]
    elsewhere = story.auth("org-lim", "learning_network", region="limburg")
    assert (
        story.http.get("/v1/learning-networks/signals", headers=elsewhere).json()["signals"] == []
    )


def test_one_network_per_region_and_one_forum(story: Story) -> None:
    network = story.establish()
    story.establish_forum()

    again = story.send(
        "/v1/learning-networks",
        {"level": "meso", "region": REGION, "coordinating_organisation": SCHOOL},
        story.forum,
    )
    forum_again = story.send(
        "/v1/learning-networks",
        {"level": "macro", "coordinating_organisation": SCHOOL},
        story.admin,
    )

    assert_problem(again, 409, rule="one-network-per-region-one-forum")
    assert network in again.json()["detail"]
    assert_problem(forum_again, 409, rule="one-network-per-region-one-forum")


def test_the_domains_rules_are_problems_not_errors(story: Story) -> None:
    network = story.establish()
    theme = story.theme(network)
    before = recorded(story.container)

    assert_problem(story.meeting(network, [theme], [999]), 422, rule="cites-existing-releases")
    assert_problem(
        story.meeting(network, [theme], [], members_present=[CHAIR, STRANGER]),
        422,
        rule="members-present-are-members",
    )
    no_evidence = story.send(
        f"/v1/learning-networks/{network}/signals",
        {"category": "other", "description": "d", "evidence": {}, "addressed_to": "x"},
        story.chair,
    )
    assert_problem(no_evidence, 422, rule="signal-cites-evidence")
    unregistered = story.send(
        f"/v1/learning-networks/{network}/members",
        {"organisation": "org-nobody", "expertise": "x", "role": "other"},
        story.chair,
    )
    assert_problem(unregistered, 422, rule="member-is-a-registered-organisation")
    client = story.send(
        f"/v1/learning-networks/{network}/members",
        {"organisation": STRANGER, "expertise": "x", "role": "client"},
        story.chair,
    )
    assert_problem(client, 422, rule="request-schema", field="role")
    closing = story.send(
        f"/v1/learning-networks/{network}/themes/{theme}/closure",
        {"conclusion": "done"},
        story.chair,
    )
    assert_problem(closing, 409, rule="theme-closed-after-discussion")
    assert recorded(story.container) == before


@pytest.mark.parametrize(
    ("path", "body", "field", "kind"),
    [
        (
            "themes",
            {"title": "Waits", "description": "Call 0470 12 34 56", "source_kind": "other"},
            "description",
            "a phone number",
        ),
        (
            "themes",
            {
                "title": "The child of fd8b1252-fe8c-4ede-b32b-471570b075b4 waits",
                "description": "Places lack",
            },
            "title",
            "an identifier of a record",
        ),
        (
            "signals",
            {
                "category": "funding",
                "description": "She has no funding: mail noor@example.be",
                "addressed_to": "the ministry",
            },
            "description",
            "an e-mail address",
        ),
    ],
)
def test_a_networks_texts_name_no_contact_number_or_record(
    story: Story, path: str, body: dict[str, Any], field: str, kind: str
) -> None:
    """Found by an outside probe: a coordinator posted a client's phone number and a trajectory's
    id as a theme, and a signal carried a contact to the forum. A network's texts are kept for
    good, outside every client's encryption: what identifies without a name is refused."""
    network = story.establish()
    if path == "signals":
        body = {**body, "evidence": {"themes": [story.theme(network)]}}
    before = recorded(story.container)
    answer = story.send(f"/v1/learning-networks/{network}/{path}", body, story.coordinator)
    problem = assert_problem(answer, 422, rule="network-text-names-no-one", field=field)
    assert kind in problem["detail"]
    assert "0470" not in answer.text
    assert "noor@" not in answer.text
    assert "fd8b1252" not in answer.text
    assert recorded(story.container) == before


def test_a_case_finding_reaches_the_network_only_from_its_trajectory(story: Story) -> None:
    """A theme sourced from a case finding, proposed directly, would skip the sharing's name
    check, its batch and its dating: refused, naming the route that shares it."""
    network = story.establish()
    before = recorded(story.container)
    direct = story.send(
        f"/v1/learning-networks/{network}/themes",
        {"title": "Waits", "description": "Places lack", "source_kind": "case_finding"},
        story.coordinator,
    )
    problem = assert_problem(
        direct, 422, rule="case-finding-shared-from-its-trajectory", field="source_kind"
    )
    assert "/findings/share" in problem["detail"]
    assert recorded(story.container) == before
    dated = story.send(
        f"/v1/learning-networks/{network}/themes",
        {"title": "Waits since March 2025", "description": "Places lack since 3 March"},
        story.coordinator,
    )
    assert dated.status_code == 200, dated.text


def test_a_closed_network_takes_nothing(story: Story) -> None:
    network = story.establish()
    story.post(f"/v1/learning-networks/{network}/closure", {"reason": "merged"}, story.forum)

    refused = story.send(
        f"/v1/learning-networks/{network}/themes", {"title": "t", "description": "d"}, story.chair
    )
    assert_problem(refused, 409, rule="closed-network-takes-nothing")
    assert story.read(network).json()["status"] == "closed"


def test_who_records_for_a_network(story: Story) -> None:
    network = story.establish()
    forum = story.establish_forum()
    theme = story.theme(network)
    body = {"scheduled_for": on(30)}
    path = f"/v1/learning-networks/{network}/themes/{theme}/scheduling"

    assert_problem(story.send(path, body, story.stranger), 403, rule="access-policy")
    assert_problem(story.send(path, body, story.forum), 403, rule="access-policy")
    elsewhere = story.auth(SCHOOL, "learning_network", region="limburg")
    assert_problem(story.send(path, body, elsewhere), 404, rule="learning-network-not-found")
    assert story.send(path, body, story.school).status_code == 200
    # the coordinating organisation admits members; a member does not
    admit = {"organisation": STRANGER, "expertise": "x", "role": "other"}
    assert_problem(story.send(f"/v1/learning-networks/{network}/members", admit, story.school), 403)
    # the forum records for the forum
    assert story.theme(forum, story.forum)


def test_the_forum_role_records_for_the_forum_only_as_a_member_of_it(story: Story) -> None:
    """An outside probe's forum token of an organisation that is no member of the forum recorded
    themes in it. Membership is the rule, as in a region: its members record for it (its
    coordinating organisation admits them); the forum role alone still establishes and closes."""
    forum = story.establish_forum()
    outsider = story.auth(STRANGER, "forum")
    theme = {"title": "Waiting lists", "description": "Too few places"}
    themes = f"/v1/learning-networks/{forum}/themes"

    refused = story.send(themes, theme, outsider)
    assert_problem(refused, 403, rule="access-policy")
    assert "no member of the forum" in refused.json()["detail"]
    admit = {"organisation": STRANGER, "expertise": "policy", "role": "policy_maker"}
    assert story.send(f"/v1/learning-networks/{forum}/members", admit, story.forum).is_success
    assert story.send(themes, theme, outsider).status_code == 200


def test_who_reads_a_network(story: Story) -> None:
    network = story.establish()
    forum = story.establish_forum()
    auditor = story.auth("org-audit", "auditor")
    elsewhere = story.auth("org-lim", "learning_network", region="limburg")

    assert story.read(network, auditor).status_code == 200
    assert story.read(network, story.forum).status_code == 200
    assert_problem(story.read(network, elsewhere), 404, rule="learning-network-not-found")
    assert_problem(story.read(forum, story.chair), 404, rule="learning-network-not-found")
    assert_problem(story.read(network, story.coordinator), 403, rule="access-policy")
    listed = story.http.get("/v1/learning-networks", headers=story.chair).json()
    assert [n["id"] for n in listed] == [network]
    assert {
        n["id"] for n in story.http.get("/v1/learning-networks", headers=story.forum).json()
    } == {network, forum}
    assert story.http.get("/v1/learning-networks", headers=elsewhere).json() == []


def test_a_stale_if_match_is_refused_and_a_retry_is_replayed(story: Story) -> None:
    network = story.establish()
    path = f"/v1/learning-networks/{network}/themes"
    body = {"title": "t", "description": "d"}

    assert_problem(story.send(path, body, story.chair, **{"If-Match": '"1"'}), 412)
    first = story.send(path, body, story.chair, **{"Idempotency-Key": "theme-once"})
    again = story.send(path, body, story.chair, **{"Idempotency-Key": "theme-once"})

    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json() == again.json()


#: The ends of the calendar, as moments and as days.
MOMENTS = ["0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59", "1970-01-01T00:00:00Z"]
DAYS = ["0001-01-01", "9999-12-31"]


def test_no_network_command_at_the_ends_of_the_calendar_gives_a_server_error(
    story: Story,
) -> None:
    """Every network command of the catalog, aimed at a network and items that exist, with
    moments and days at the ends of the calendar: refused or recorded, never a 500."""
    network = story.establish()
    story.establish_forum()
    theme = story.theme(network)
    signal = story.post(
        f"/v1/learning-networks/{network}/signals",
        {
            "category": "other",
            "description": "d",
            "evidence": {"themes": [theme]},
            "addressed_to": "x",
        },
        story.chair,
    )["item_id"]
    improvement = story.post(
        f"/v1/learning-networks/{network}/improvement-trajectories",
        {"title": "t", "action_proposal": "a"},
        story.chair,
    )["item_id"]
    items = {
        "theme_id": theme,
        "signal_id": signal,
        "improvement_id": improvement,
        "organisation": SCHOOL,
    }
    routes = [r for r, case in CASES.items() if case.owner == "learning-network"]
    answers = []
    for route in routes:
        path = route.replace("{network_id:uuid}", network)
        for name, value in items.items():
            path = path.replace(f"{{{name}:str}}", value)
        body = CASES[route].body("")
        for moment in MOMENTS:
            answers.append(story.send(path, {**body, "occurred_at": moment}, story.chair))
        for day in DAYS:
            dated = {k: day for k in body if k.endswith(("_on", "_for"))}
            if dated:
                answers.append(story.send(path, {**body, **dated}, story.chair))

    assert len(answers) > 3 * len(routes)
    for answer in answers:
        assert_handled(answer)
    assert story.read(network).status_code == 200


def test_no_network_command_is_recorded_on_a_clients_behalf(story: Story) -> None:
    network = story.establish()

    response = story.send(
        f"/v1/learning-networks/{network}/themes",
        {"title": "t", "description": "d"},
        story.chair,
        **{"X-On-Behalf-Of": "rep-mother"},
    )

    assert_problem(response, 422, field="X-On-Behalf-Of")
