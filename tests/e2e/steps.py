"""Steps the HTTP tests share: world times, bodies, and a record that checks every answer.

Every answer to a command is checked the same way: the status, the new version (one more than
before), ``ETag: "<version>"`` and the record's id. ``Record`` keeps the version it expects, so
a test reads as the story it tells.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from litestar.testing import TestClient

from projections.statistics.model import Period
from projections.statistics.releases import RULE_SET_VERSION
from projections.statistics.store import AuditSummary, CellRow, ReleaseDescription, TableSummary
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_release_store

PROBLEM_JSON = "application/problem+json"

#: The world clock of the stories: sixty days ago, so every step lies in the past.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)

COORDINATOR = "org-coordinating"
PROVIDER = "org-provider"
BUDDY = "org-buddy"
NEXT_ORGANISATION = "org-next"
SCHOOL = "school-de-linde"

PARTICIPANTS = [
    {"organisation": COORDINATOR, "role": "planmaker"},
    {"organisation": PROVIDER, "role": "provider"},
    {"organisation": "network", "role": "informal_carer", "person_ref": "person-mother"},
]


def at(hours: float = 0) -> str:
    """A moment of the story, ``hours`` after T0, as the API takes it (with an offset)."""
    return (T0 + timedelta(hours=hours)).isoformat()


def on(days: int) -> str:
    """A calendar day of the story, ``days`` after T0."""
    return (T0 + timedelta(days=days)).date().isoformat()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def etag(version: int) -> str:
    return f'"{version}"'


def recorded(container: Container) -> int:
    """The position of the last event recorded anywhere: unchanged means nothing was recorded."""
    return container.care_record.recorder.max_notification_id() or 0


def save_release(container: Container, region: str, cells: list[CellRow] | None = None) -> int:
    """A release of ``region`` in the store, as the release step saves one (with one ``flow``
    table of ``cells``); its number. Who may read it, or cite it, is what the tests ask."""
    rows = cells or []
    table = TableSummary("flow", len(rows), 0, {"below_k": len(rows)} if rows else {})
    return save_table(container.settings, region, table, rows, recorded(container))


def save_table(
    settings: Settings, region: str, table: TableSummary, rows: list[CellRow], position: int
) -> int:
    """A release of ``region`` with one table of ``rows``, saved as the release step saves one;
    its number."""
    return save_period_release(settings, region, "2025", [(table, rows)], position)


def save_period_release(
    settings: Settings,
    region: str,
    period: str,
    tables: list[tuple[TableSummary, list[CellRow]]],
    position: int,
) -> int:
    """A release of ``region`` for ``period`` with these tables' rows, saved as the release
    step saves one (revising the period's latest, if any); its number."""
    store = build_release_store(settings)
    try:
        number = store.next_number()
        latest = next(iter(store.releases(Period.parse(period))), None)
        store.save(
            ReleaseDescription(
                number=number,
                period=period,
                revises=None if latest is None else latest.number,
                computed_at=datetime.now(UTC),
                log_position=position,
                rule_set=RULE_SET_VERSION,
                k=10,
                deployment="local",
                deadline_policies={region: "0" * 16},
                regions=[region],
                tables=[table for table, _ in tables],
                audit=AuditSummary(sum(len(rows) for _, rows in tables), [], 1.0),
            ),
            {(table.name, region): rows for table, rows in tables if rows},
            {},
        )
    finally:
        store.close()
    return number


def events_of(container: Container, aggregate_id: str) -> list[Any]:
    return list(container.care_record.events.get(UUID(aggregate_id)))


def assert_problem(
    response: httpx.Response,
    status: int,
    *,
    rule: str | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem with this status (and rule and field, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["type"]
    if rule is not None:
        assert problem.get("rule") == rule, problem
    if field is not None:
        assert problem.get("field") == field, problem
    return problem


def assert_handled(response: httpx.Response) -> None:
    """Whatever was asked, the answer is no server error, and a refusal is a problem."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON), response.text
        assert response.json()["status"] == response.status_code


def assert_names(problem: dict[str, Any], name: str) -> None:
    """The problem names the culprit, in ``field`` or in ``detail``."""
    assert problem.get("field") == name or name in problem["detail"], problem


def assert_answer(response: httpx.Response, status: int, version: int) -> dict[str, Any]:
    """A command's answer: the status, the new version in the body and as the ETag."""
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    assert answer["version"] == version, answer
    assert response.headers["etag"] == etag(version)
    return answer


class Record:
    """A trajectory or client seen through HTTP, with the version the test expects it at."""

    def __init__(
        self,
        http: TestClient,  # type: ignore[type-arg]
        auth: dict[str, str],
        kind: str,
        record_id: str,
        version: int = 1,
    ) -> None:
        self.http = http
        self.auth = auth
        self.kind = kind
        self.id = record_id
        self.version = version
        #: The log position the last command reached: a read waits for it (read-your-writes).
        self.position = 0

    @property
    def path(self) -> str:
        return f"/v1/{self.kind}/{self.id}"

    def post(
        self,
        suffix: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A command that succeeds: 200, version + 1, ETag, the same id."""
        response = self.http.post(self.path + suffix, json=body, headers=headers or self.auth)
        answer = assert_answer(response, 200, self.version + 1)
        assert answer["id"] == self.id
        self.version += 1
        self.seen(answer)
        return answer

    def seen(self, answer: dict[str, Any]) -> None:
        """Remember the log position a command reached, so the next read reflects it."""
        self.position = max(self.position, answer.get("position") or 0)

    def refused(
        self,
        suffix: str,
        body: dict[str, Any],
        *,
        status: int,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A command the record refuses: a problem, and the version stays where it was."""
        response = self.http.post(self.path + suffix, json=body, headers=headers or self.auth)
        problem = assert_problem(response, status, rule=rule)
        assert self.state()["version"] == self.version
        return problem

    def state(self) -> dict[str, Any]:
        """``GET`` the current state: 200, at the expected version, with its ETag."""
        headers = {**self.auth, "X-Min-Position": str(self.position)} if self.position else None
        response = self.http.get(self.path, headers=headers or self.auth)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        assert state["id"] == self.id
        assert state["version"] == self.version, state
        assert response.headers["etag"] == etag(self.version)
        return state


# --- bodies -------------------------------------------------------------------------------------


def referral(client_id: str, hours: float = 0, **extra: Any) -> dict[str, Any]:
    return {
        "occurred_at": at(hours),
        "client_id": client_id,
        "question": "Support at home and at school after a crisis admission",
        "sector": "youth_care",
        "region": "west-flanders",
        **extra,
    }


def start_consultation(hours: float = 2) -> dict[str, Any]:
    return {
        "occurred_at": at(hours),
        "kind": "start",
        "participants": PARTICIPANTS,
        "client_involvement": "present",
        "decisions": ["An coordinates", "the provider starts home support"],
        "next_consultation_on": on(90),
    }


# --- records set up in one go -------------------------------------------------------------------


def register_client(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    **personal: Any,
) -> Record:
    response = http.post("/v1/clients", json={"occurred_at": at(-1), **personal}, headers=auth)
    answer = assert_answer(response, 201, 1)
    client = Record(http, auth, "clients", answer["id"])
    client.seen(answer)
    return client


def refer(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    client_id: str,
    **extra: Any,
) -> Record:
    response = http.post("/v1/trajectories", json=referral(client_id, **extra), headers=auth)
    answer = assert_answer(response, 201, 1)
    assert response.headers["location"] == f"/v1/trajectories/{answer['id']}"
    trajectory = Record(http, auth, "trajectories", answer["id"])
    trajectory.seen(answer)
    return trajectory


def accepted_trajectory(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> tuple[Record, Record]:
    """A client and their trajectory, referred by a school and accepted (version 2)."""
    client = register_client(http, auth)
    trajectory = refer(http, auth, client.id, referrer_organisation=SCHOOL)
    trajectory.post("/acceptance", {"occurred_at": at(1)})
    return client, trajectory


def active_trajectory(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> tuple[Record, Record]:
    """A client and their trajectory after the start consultation (version 3)."""
    client, trajectory = accepted_trajectory(http, auth)
    trajectory.post("/consultations", start_consultation())
    return client, trajectory


def trajectory_with_plan(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
) -> tuple[Record, Record]:
    """An active trajectory with one open goal, ready for a signature (version 4)."""
    client, trajectory = active_trajectory(http, auth)
    trajectory.post(
        "/goals",
        {"occurred_at": at(3), "goal_id": "goal-school", "description": "Back to school"},
    )
    return client, trajectory


def trajectory_in_region(
    http: TestClient,  # type: ignore[type-arg]
    auth: dict[str, str],
    region: str,
    when: datetime,
    *,
    blocked: bool = False,
    sector: str = "youth_care",
    accept: bool = True,
    question: str = "Support at home",
    block: str = "No place in day care",
) -> str:
    """A client referred ``when`` (by a school) in ``region`` and accepted; ``blocked``: then
    started and blocked for a waiting list. For the statistics and the exports."""

    def moment(days: int = 0, hours: int = 0) -> str:
        return (when + timedelta(days=days, hours=hours)).isoformat()

    client = http.post("/v1/clients", json={"occurred_at": moment()}, headers=auth)
    assert client.status_code == 201, client.text
    referred = http.post(
        "/v1/trajectories",
        json={
            "occurred_at": moment(hours=1),
            "client_id": client.json()["id"],
            "question": question,
            "sector": sector,
            "region": region,
            "referrer_organisation": SCHOOL,
        },
        headers=auth,
    )
    assert referred.status_code == 201, referred.text
    trajectory = str(referred.json()["id"])
    if not accept:
        return trajectory
    path = f"/v1/trajectories/{trajectory}"
    accepted = http.post(f"{path}/acceptance", json={"occurred_at": moment(hours=2)}, headers=auth)
    assert accepted.status_code == 200, accepted.text
    if blocked:
        started = http.post(
            f"{path}/consultations",
            json={
                "occurred_at": moment(2),
                "kind": "start",
                "participants": [{"organisation": COORDINATOR, "role": "planmaker"}],
                "client_involvement": "present",
                "decisions": ["Start"],
                "next_consultation_on": (when + timedelta(days=60)).date().isoformat(),
            },
            headers=auth,
        )
        assert started.status_code == 200, started.text
        blocking = http.post(
            f"{path}/blocks",
            json={"occurred_at": moment(3), "reasons": ["waiting_list"], "description": block},
            headers=auth,
        )
        assert blocking.status_code == 200, blocking.text
    return trajectory
