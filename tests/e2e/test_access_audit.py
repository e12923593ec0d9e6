"""Reads of personal data are recorded for auditors; retention lists what passed its period.

Every ``GET /v1/clients/{id}``, plan state and history read is written to an append-only log:
who (user, organisation, role), which client and trajectory, when and through which endpoint.
Administrators see which clients' trajectories all ended longer ago than the retention period
(seed 004: ten years) and erase them; an erased client is no longer listed.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import bearer

ORG = "org-reads"
REGION = "west-flanders"
NOW = datetime.now(UTC).replace(microsecond=0)


class Api:
    def __init__(self, http: TestClient, token: TokenFactory) -> None:  # type: ignore[type-arg]
        self.http = http
        self.token = token

    def auth(self, role: str, user: str | None = None, org: str = ORG) -> dict[str, str]:
        return bearer(self.token(user=user or f"{role}-1", org=org, roles=(role,), region=REGION))

    def ok(self, path: str, body: dict[str, Any], role: str = "coordinator") -> Any:
        response = self.http.post(path, json=body, headers=self.auth(role))
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, role: str, user: str | None = None) -> httpx.Response:
        return self.http.get(path, headers=self.auth(role, user))

    def closed_trajectory(self, ended: datetime, *, close: bool = True) -> tuple[str, str]:
        """A client and their trajectory that ran for a month and closed at ``ended``."""
        start = ended - timedelta(days=30)

        def when(days: float) -> str:
            return (start + timedelta(days=days)).isoformat()

        client = self.ok("/v1/clients", {"occurred_at": when(-1), "name": "R"})["id"]
        trajectory = self.ok(
            "/v1/trajectories",
            {
                "occurred_at": when(0),
                "client_id": client,
                "question": "Support",
                "sector": "disability_care",
                "region": REGION,
            },
        )["id"]
        path = f"/v1/trajectories/{trajectory}"
        self.ok(f"{path}/acceptance", {"occurred_at": when(1)})
        meeting = {
            "participants": [{"organisation": ORG, "role": "planmaker"}],
            "client_involvement": "present",
        }
        self.ok(
            f"{path}/consultations",
            {
                **meeting,
                "occurred_at": when(2),
                "kind": "start",
                "next_consultation_on": (start + timedelta(days=60)).date().isoformat(),
            },
        )
        if close:
            self.ok(f"{path}/consultations", {**meeting, "occurred_at": when(29), "kind": "end"})
            self.ok(
                f"{path}/closure",
                {"occurred_at": ended.isoformat(), "reason": "done", "no_follow_up_reason": "none"},
            )
        return client, trajectory


@pytest.fixture
def api(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> Api:
    return Api(module_http, module_token)


def test_reads_of_personal_data_are_listed_for_the_auditor(api: Api) -> None:
    client, trajectory = api.closed_trajectory(NOW - timedelta(days=3))
    started = datetime.now(UTC)
    assert api.get(f"/v1/clients/{client}", "coordinator", "an").status_code == 200
    assert api.get(f"/v1/trajectories/{trajectory}", "coordinator", "an").status_code == 200
    assert api.get(f"/v1/trajectories/{trajectory}", "professional", "piet").status_code == 200
    history = api.get(f"/v1/audit/trajectories/{trajectory}/history", "auditor", "audrey")
    assert history.status_code == 200
    # Refused and anonymous reads are no reads of personal data.
    assert api.http.get(f"/v1/clients/{client}").status_code == 401
    refused = api.http.get(
        f"/v1/clients/{client}", headers=api.auth("coordinator", "eve", org="org-elsewhere")
    )
    assert refused.status_code == 404

    answer = api.get(f"/v1/audit/personal-data-reads?client_id={client}", "auditor", "ann")

    assert answer.status_code == 200
    reads = answer.json()
    assert [(r["user_id"], r["organisation"], r["role"], r["trajectory_id"]) for r in reads] == [
        ("audrey", ORG, "auditor", trajectory),
        ("piet", ORG, "professional", trajectory),
        ("an", ORG, "coordinator", trajectory),
        ("an", ORG, "coordinator", None),
    ]
    assert [r["endpoint"].split(" ")[0] for r in reads] == ["GET"] * 4
    assert "/v1/audit/trajectories/" in reads[0]["endpoint"]
    assert reads[2]["endpoint"].startswith("GET /v1/trajectories/")
    assert reads[3]["endpoint"].startswith("GET /v1/clients/")
    ended = datetime.now(UTC)
    for read in reads:
        assert read["client_id"] == client
        assert read["request_id"]
        assert started - timedelta(seconds=1) <= datetime.fromisoformat(read["at"]) <= ended
    by_user = api.get("/v1/audit/personal-data-reads?user_id=piet", "auditor").json()
    assert {(r["user_id"], r["client_id"]) for r in by_user} == {("piet", client)}


@pytest.mark.parametrize("role", ["coordinator", "professional", "admin", "learning_network"])
def test_only_auditors_see_who_read_personal_data(api: Api, role: str) -> None:
    answer = api.get("/v1/audit/personal-data-reads", role)

    assert (answer.status_code, answer.json()["rule"]) == (403, "access-policy")


def test_retention_lists_clients_whose_service_ended_longer_ago_than_the_period(
    api: Api,
) -> None:
    long_ago = NOW - timedelta(days=round(365.25 * 11))
    old_client, _ = api.closed_trajectory(long_ago)
    recent_client, _ = api.closed_trajectory(NOW - timedelta(days=2))
    mixed_client, _ = api.closed_trajectory(long_ago)
    still_open = api.ok(
        "/v1/trajectories",
        {
            "occurred_at": (NOW - timedelta(days=1)).isoformat(),
            "client_id": mixed_client,
            "question": "Support again",
            "sector": "disability_care",
            "region": REGION,
        },
    )
    assert still_open["id"]

    report = api.get("/v1/admin/retention", "admin")

    assert report.status_code == 200, report.text
    due = {entry["client_id"]: entry["service_ended"] for entry in report.json()["clients_due"]}
    assert old_client in due
    assert datetime.fromisoformat(due[old_client]) == long_ago
    assert recent_client not in due
    assert mixed_client not in due
    assert report.json()["plan_years"] == 10
    assert report.json()["log_years"] == 5

    api.ok(
        f"/v1/clients/{old_client}/erasure",
        {"occurred_at": NOW.isoformat(), "legal_basis": "retention_ended"},
        role="data_protection_officer",
    )

    after = api.get("/v1/admin/retention", "admin").json()
    assert old_client not in {entry["client_id"] for entry in after["clients_due"]}


def test_retention_is_for_administrators_and_the_data_protection_officer_only(api: Api) -> None:
    for role in ("coordinator", "auditor", "professional", "learning_network"):
        answer = api.get("/v1/admin/retention", role)
        assert (answer.status_code, answer.json()["rule"]) == (403, "access-policy"), role


def test_since_without_a_time_zone_is_refused_not_guessed(api: Api) -> None:
    """Found by an outside probe: ``since`` without an offset was taken (the as-of moments are
    refused without one): which moment it names depends on where the reader sits."""
    path = "/v1/audit/personal-data-reads"
    naive = api.get(f"{path}?since=2026-10-01T12:00:00", "auditor")
    aware = api.get(f"{path}?since=2026-10-01T12:00:00Z", "auditor")

    assert naive.status_code == 422, naive.text
    assert "since needs a time zone offset" in naive.json()["detail"]
    assert aware.status_code == 200, aware.text


def test_since_names_the_same_moment_whatever_its_offset(api: Api) -> None:
    """Review: the log compared ``since`` with its UTC moments as text on SQLite, so
    ``T+14:00`` missed (or took in) up to fourteen hours of reads."""
    client, _ = api.closed_trajectory(NOW - timedelta(days=3))
    read_at = datetime.now(UTC)
    assert api.get(f"/v1/clients/{client}", "coordinator", "zoe").status_code == 200

    def reads(since: datetime) -> int:
        answer = api.http.get(
            "/v1/audit/personal-data-reads",
            params={"client_id": client, "user_id": "zoe", "since": since.isoformat()},
            headers=api.auth("auditor"),
        )
        assert answer.status_code == 200, answer.text
        return len(answer.json())

    east, west = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))
    before, after = read_at - timedelta(minutes=1), read_at + timedelta(minutes=1)
    assert [reads(before.astimezone(east)), reads(before.astimezone(west))] == [1, 1]
    assert [reads(after.astimezone(east)), reads(after.astimezone(west))] == [0, 0]


@pytest.mark.parametrize(
    "query",
    [
        "/v1/audit/personal-data-reads?limit=0&since=garbage",
        "/v1/audit/trajectories/{t}/as-of?occurred=garbage",
        "/v1/audit/trajectories/{t}/history?zz_unknown=1",
        "/v1/audit/trajectories/{t}/agreements?zz_unknown=1",
        "/v1/audit/trajectories/{t}/export?recipient=x",
    ],
    ids=["reads", "as-of", "history", "agreements", "export"],
)
def test_another_role_is_refused_before_its_input_is_read(api: Api, query: str) -> None:
    """Review: another role with a malformed moment or limit was told 422, what the route
    takes, before 403; a guard decides the role first on every audit route."""
    _, trajectory = api.closed_trajectory(NOW - timedelta(days=3))
    path = query.format(t=trajectory)

    refused = api.get(path, "coordinator")
    as_auditor = api.get(path, "auditor")

    assert (refused.status_code, refused.json()["rule"]) == (403, "access-policy")
    assert as_auditor.status_code == 422, as_auditor.text
