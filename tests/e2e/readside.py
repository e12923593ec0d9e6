"""Apps and steps for the read-side HTTP tests.

Each app runs on a database of its own (a fresh SQLite directory or a fresh PostgreSQL
database), so the read models it serves hold only what its tests recorded, and nothing another
test recorded can stop its projections. The scheduler stays off (``embedded_workers`` false):
a missed deadline is recorded only where a test records one, so the board shows exactly what
the test built. Moments are counted back from the wall clock, because the board measures how
long a trajectory has been stuck against it.
"""

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar.testing import TestClient

from application.care_record import CommandResult
from domain.common import Actor, CommandContext
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory, token_factory
from tests.e2e.steps import PARTICIPANTS, Record, assert_answer, bearer
from tests.integration.databases import fresh_settings, require_backend

COORDINATOR = "org-coordinating"
PROVIDER = "org-provider"


@dataclass
class App:
    settings: Settings
    container: Container
    http: TestClient  # type: ignore[type-arg]
    token: TokenFactory

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token())


@contextmanager
def app_of_its_own(backend: str, data_dir: Path, *, inline: bool) -> Iterator[App]:
    """The real app on an empty log; ``inline`` projections, or none until a worker starts."""
    with fresh_settings(backend, data_dir) as settings:
        settings = dataclasses.replace(settings, embedded_workers=False)
        with app_on(settings, inline=inline) as built:
            yield built


@contextmanager
def app_on(
    settings: Settings, *, inline: bool = True, base_url: str = "http://testserver.local"
) -> Iterator[App]:
    """The real app these settings build, behind a test client at ``base_url`` (https for the
    pages, whose cookies are ``Secure``)."""
    container = Container.build(settings, inline_projections=inline)
    try:
        with TestClient(app=container.http_app(), base_url=base_url) as http:
            yield App(settings, container, http, token_factory(settings))
    finally:
        container.close()


@contextmanager
def app_for_backend(request: Any, data_dir: Path, *, inline: bool) -> Iterator[App]:
    """``app_of_its_own`` on the backend a parametrised fixture names (skips PostgreSQL without
    a server, fails in CI)."""
    require_backend(request, request.param)
    with app_of_its_own(request.param, data_dir, inline=inline) as built:
        yield built


class Moments:
    """Moments and days counted back from now (UTC)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def ago(self, days: float) -> str:
        return self.moment(days).isoformat()

    def moment(self, days_ago: float) -> datetime:
        return self.now - timedelta(days=days_ago)

    def day(self, days_from_today: int) -> str:
        return self.date(days_from_today).isoformat()

    def date(self, days_from_today: int) -> date:
        return self.now.date() + timedelta(days=days_from_today)


class Trajectories:
    """The trajectories one test builds over HTTP, all in a region of their own."""

    def __init__(self, app: App, moments: Moments | None = None) -> None:
        self.app = app
        self.when = moments or Moments()
        self.region = f"region-{uuid.uuid4().hex[:10]}"

    def client(self) -> str:
        response = self.app.http.post(
            "/v1/clients", json={"occurred_at": self.when.ago(400)}, headers=self.app.auth
        )
        return str(assert_answer(response, 201, 1)["id"])

    def referred(
        self,
        days_ago: float = 300,
        *,
        sector: str = "youth_care",
        region: str | None = None,
        client_id: str | None = None,
        continues_from: str | None = None,
    ) -> Record:
        body: dict[str, Any] = {
            "occurred_at": self.when.ago(days_ago),
            "client_id": client_id or self.client(),
            "question": "Support at home and at school",
            "sector": sector,
            "region": region or self.region,
        }
        if continues_from is not None:
            body["continues_from"] = continues_from
        response = self.app.http.post("/v1/trajectories", json=body, headers=self.app.auth)
        answer = assert_answer(response, 201, 2 if continues_from else 1)
        trajectory = Record(
            self.app.http, self.app.auth, "trajectories", answer["id"], answer["version"]
        )
        trajectory.seen(answer)
        return trajectory

    def accepted(self, days_ago: float = 290, **referral: Any) -> Record:
        trajectory = self.referred(**referral)
        trajectory.post("/acceptance", {"occurred_at": self.when.ago(days_ago)})
        return trajectory

    def active(self, started_days_ago: float, next_consultation_in: int, **referral: Any) -> Record:
        """Accepted, and started ``started_days_ago`` with the next consultation planned on
        today + ``next_consultation_in`` days (negative: in the past, i.e. overdue)."""
        trajectory = self.accepted(started_days_ago + 1, **referral)
        self.consult(trajectory, "start", started_days_ago, next_consultation_in)
        return trajectory

    def consult(
        self, trajectory: Record, kind: str, days_ago: float, next_in: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "occurred_at": self.when.ago(days_ago),
            "kind": kind,
            "participants": PARTICIPANTS,
            "client_involvement": "present",
            "decisions": ["go on"],
        }
        if next_in is not None:
            body["next_consultation_on"] = self.when.day(next_in)
        elif kind != "end":
            body["no_next_reason"] = "nothing more to plan"
        return trajectory.post("/consultations", body)

    def block(self, trajectory: Record, days_ago: float, *reasons: str) -> None:
        trajectory.post(
            "/blocks",
            {"occurred_at": self.when.ago(days_ago), "reasons": list(reasons or ["waiting_list"])},
        )

    def unblock(self, trajectory: Record, days_ago: float) -> None:
        trajectory.post(
            "/unblocking", {"occurred_at": self.when.ago(days_ago), "resolution": "a place"}
        )

    def escalate(
        self,
        trajectory: Record,
        days_ago: float,
        reason: str = "capacity",
        escalation_id: str = "esc-1",
        level: str = "team",
    ) -> None:
        trajectory.post(
            "/escalations",
            {
                "occurred_at": self.when.ago(days_ago),
                "escalation_id": escalation_id,
                "level": level,
                "reason": reason,
            },
        )

    def resolve(self, trajectory: Record, days_ago: float, escalation_id: str = "esc-1") -> None:
        trajectory.post(
            f"/escalations/{escalation_id}/resolution",
            {"occurred_at": self.when.ago(days_ago), "resolution": "a place was found"},
        )

    def agreement(
        self, trajectory: Record, days_ago: float, agreement_id: str, *assignments: tuple[str, str]
    ) -> None:
        trajectory.post(
            "/role-agreements",
            {
                "occurred_at": self.when.ago(days_ago),
                "agreement_id": agreement_id,
                "assignments": [{"party": party, "role": role} for party, role in assignments],
            },
        )

    def accept_agreement(
        self, trajectory: Record, days_ago: float, agreement_id: str, organisation: str
    ) -> None:
        trajectory.post(
            f"/role-agreements/{agreement_id}/acceptances",
            {"occurred_at": self.when.ago(days_ago)},
            headers=self.as_organisation(organisation),
        )

    def _as_scheduler(self, days_ago: float) -> CommandContext:
        return CommandContext(
            actor=Actor(user_id="scheduler", organisation="rodedraad", role="scheduler"),
            occurred_at=self.when.moment(days_ago),
            correlation_id="scheduler-test",
            causation_id=None,
            now=datetime.now(UTC),
        )

    def _recorded(self, trajectory: Record, result: CommandResult | None) -> None:
        assert result is not None
        trajectory.version += 1
        trajectory.position = max(trajectory.position, result.position or 0)

    def missed_deadline(self, trajectory: Record, rule: str, due_in: int) -> None:
        """What the scheduler records when a deadline passed (here: the day after it)."""
        record = self.app.container.care_record
        result = record.record_deadline(
            self._as_scheduler(-due_in - 1),
            UUID(trajectory.id),
            kind="missed",
            rule=rule,
            due_on=self.when.date(due_in),
            expected="what the rule expects",
        )
        self._recorded(trajectory, result)

    def met_late(self, trajectory: Record, rule: str, due_in: int, met_in: int) -> None:
        """What the scheduler records when a missed deadline was met after all."""
        record = self.app.container.care_record
        result = record.record_deadline(
            self._as_scheduler(-met_in),
            UUID(trajectory.id),
            kind="met_late",
            rule=rule,
            due_on=self.when.date(due_in),
            met_on=self.when.date(met_in),
        )
        self._recorded(trajectory, result)

    def as_organisation(self, organisation: str) -> dict[str, str]:
        """Headers of a coordinator of ``organisation``."""
        return bearer(self.app.token(user=f"user-of-{organisation}", org=organisation))

    def board(self, by: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """``GET /v1/board`` in this test's region (``region=None``: all regions), as seen by
        a coordinator of ``by`` (default: the coordinating organisation)."""
        query = {"region": self.region, **params}
        response = self.app.http.get(
            "/v1/board",
            params={k: v for k, v in query.items() if v is not None},
            headers=self.as_organisation(by) if by else self.app.auth,
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["trajectories"]
        return rows
