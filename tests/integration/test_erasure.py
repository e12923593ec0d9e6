"""Erasure (crypto-shredding) leaves no trace of the client's name or contact details anywhere.

One client with a unique name and contact details, written into every free-text field the API
takes (the referral, consultations, role agreements, goals, actions, evaluations, escalations,
blocks, closing, consents, representatives), with enough events that the client and a
trajectory are snapshotted. Sealed at rest, the name and contact details are in no file or dump
even before the erasure. After an administrator erases the client through the API, they are
found:

- not in any byte of any file of the SQLite data directory (events, snapshots, read models, keys,
  idempotency, access log, and their -wal and -shm files), or in a ``pg_dump`` on PostgreSQL;
- in any answer of the API; while the record keeps its structure: who agreed what and when;
- in the logs of the whole run;
- after every projection is rebuilt from the log (which gives the same read models).

The erased record takes no new facts (409 ``client-erased``), and only an administrator erases.
"""

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

import httpx
import pytest
import structlog
from litestar.testing import TestClient

from domain.client import Client
from domain.common import ERASED
from domain.trajectory import Trajectory
from rodedraad.logs import PERSONAL_FIELDS, REDACTED, configure_logging, redact_personal_fields
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import token_factory
from tests.e2e.steps import bearer, recorded
from tests.integration import raw_files
from tests.integration.databases import (
    BACKENDS,
    fresh_postgres_database,
    read_models,
    require_backend,
    rows,
)

ORG = "org-kompas"
PARTNER = "org-partner"  # holds a consent, takes a role, receives a handover
REGION = "west-flanders"
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


def at(hours: float) -> str:
    return (BASE + timedelta(hours=hours)).isoformat()


def day(days: int) -> str:
    return (BASE + timedelta(days=days)).date().isoformat()


@dataclass(frozen=True)
class Person:
    """Unique strings no other test writes: whatever holds them holds this client's data."""

    name: str
    contact: str
    representative: str
    representative_contact: str

    @classmethod
    def new(cls) -> "Person":
        return cls(
            name=f"Zyx{uuid4().hex}",
            contact=f"+32 4{uuid4().int % 10**8:08d} {uuid4().hex[:10]}",
            representative=f"Wvq{uuid4().hex}",
            representative_contact=f"{uuid4().hex[:16]}@post.example",
        )

    def strings(self) -> list[str]:
        return [self.name, self.contact, self.representative, self.representative_contact]

    def found_in(self, text: str) -> list[str]:
        return [s for s in self.strings() if s in text]

    def found_in_bytes(self, data: bytes) -> list[str]:
        """Plain, and as PostgreSQL prints ``bytea`` (hex)."""
        return [
            s for s in self.strings() if s.encode() in data or s.encode().hex().encode() in data
        ]


# --- an app on a database of its own ---------------------------------------------------------


@dataclass
class App:
    settings: Settings
    container: Container
    http: TestClient  # type: ignore[type-arg]
    data_dir: Path
    database: str | None  # PostgreSQL: the database's name

    def auth(self, role: str = "coordinator", org: str = ORG) -> dict[str, str]:
        issue = token_factory(self.settings)
        return bearer(issue(user=f"{role}-user", org=org, roles=(role,), region=REGION))


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """No scheduler in the background: the log holds only what the test records."""
    require_backend(request, request.param)
    data_dir = tmp_path / "data"
    with database_url(request.param, data_dir) as url:
        settings = Settings.from_env(
            {
                "RODEDRAAD_DATABASE_URL": url,
                "RODEDRAAD_DATA_DIR": str(data_dir),
                "RODEDRAAD_EMBEDDED_WORKERS": "false",
            }
        )
        container = Container.build(settings, inline_projections=True)
        try:
            with TestClient(app=container.http_app()) as http:
                database = url.rsplit("/", 1)[1] if request.param == "postgres" else None
                yield App(settings, container, http, data_dir, database)
        finally:
            container.close()


@contextmanager
def database_url(backend: str, data_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'rodedraad.sqlite'}"
        return
    with fresh_postgres_database() as url:
        yield url


# --- the logs of the whole run ----------------------------------------------------------------


def _uncache_loggers() -> None:
    """Module-level structlog proxies may have cached a logger bound to an old stderr."""
    for module in list(sys.modules.values()):
        for value in list(vars(module).values()) if module else ():
            if isinstance(value, structlog._config.BoundLoggerLazyProxy):
                vars(value).pop("bind", None)


class JsonLogs:
    """The app's own logging set-up (JSON lines on stderr), captured for one test."""

    def __init__(self, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
        self.capfd = capfd
        self.caplog = caplog
        self.logged: list[str] = []

    def start(self) -> None:
        """In the test itself: pytest gives the test a stderr of its own, apart from set-up."""
        configure_logging(level="debug", fmt="json")
        # Caching would bind module loggers to this test's captured stderr beyond the test.
        structlog.configure(cache_logger_on_first_use=False)
        _uncache_loggers()

    def text(self) -> str:
        """Everything logged since ``start``: structlog's lines and the standard library's."""
        out, err = self.capfd.readouterr()
        self.logged.append(out + err)
        return "".join(self.logged) + self.caplog.text


@pytest.fixture
def json_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[JsonLogs]:
    saved = structlog.get_config()
    handlers = list(logging.getLogger().handlers)
    try:
        yield JsonLogs(capfd, caplog)
    finally:
        structlog.configure(**saved)
        _uncache_loggers()
        for handler in logging.getLogger().handlers:  # basicConfig's, if it added one
            if type(handler) is logging.StreamHandler and handler not in handlers:
                logging.getLogger().removeHandler(handler)


# --- the story ---------------------------------------------------------------------------------


class Story:
    """Records through the API, keeping every answer."""

    def __init__(self, app: App, person: Person) -> None:
        self.app = app
        self.person = person
        self.coordinator = app.auth()
        self.partner = app.auth("professional", PARTNER)
        self.hour = 0.0
        self.answers: list[httpx.Response] = []

    def when(self) -> str:
        self.hour += 0.25
        return at(self.hour)

    def post(self, path: str, body: dict[str, Any], auth: dict[str, str] | None = None) -> Any:
        response = self.app.http.post(
            path,
            json={"occurred_at": self.when(), **body},
            headers={**(auth or self.coordinator), "Idempotency-Key": uuid4().hex},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, auth: dict[str, str] | None = None) -> Any:
        response = self.app.http.get(path, headers=auth or self.coordinator)
        assert response.status_code == 200, response.text
        self.answers.append(response)
        return response.json()

    def text(self, what: str) -> str:
        return f"{what} of {self.person.name} ({self.person.contact})"

    # --- records ---

    def client(self) -> str:
        p = self.person
        client: str = self.post("/v1/clients", {"name": p.name, "contact": p.contact})["id"]
        c = f"/v1/clients/{client}"
        for ref in ("rep-mother", "rep-uncle"):
            self.post(
                f"{c}/representatives",
                {
                    "representative_ref": ref,
                    "name": p.representative,
                    "contact": p.representative_contact,
                },
            )
        self.post(f"{c}/representatives/rep-uncle/exclusion", {"reason": self.text("opts out")})
        self.post(
            f"{c}/consents",
            {
                "consent_id": "consent-partner",
                "to_party": PARTNER,
                "scopes": ["plan", "dossier", "contact_details"],
                "purpose": self.text("continuity"),
            },
        )
        for n in range(23):  # 50 events or more: the client is snapshotted
            consent = f"consent-{n}"
            self.post(
                f"{c}/consents",
                {
                    "consent_id": consent,
                    "to_party": f"org-{n}",
                    "scopes": ["plan"],
                    "purpose": self.text("purpose"),
                },
            )
            self.post(f"{c}/consents/{consent}/revocation", {"reason": self.text("revoked")})
        return client

    def refer(self, client: str, **extra: Any) -> str:
        answer = self.post(
            "/v1/trajectories",
            {
                "client_id": client,
                "question": self.text("question"),
                "client_criteria": [self.text("criterion")],
                "referrer_engagement": self.text("engagement"),
                "sector": "youth_care",
                "region": REGION,
                **extra,
            },
        )
        trajectory: str = answer["id"]
        return trajectory

    def consultation(self, t: str, kind: str, **extra: Any) -> None:
        body: dict[str, Any] = {
            "kind": kind,
            "participants": [{"organisation": ORG, "role": "planmaker"}],
            "client_involvement": "present",
            "decisions": [self.text("decision")],
        }
        if kind != "end" and "no_next_reason" not in extra:
            body["next_consultation_on"] = day(100)
        self.post(f"/v1/trajectories/{t}/consultations", {**body, **extra})

    def long_trajectory(self, client: str) -> str:
        """Every command with free text, and over 55 events: snapshotted."""
        t = self.refer(client)
        p = f"/v1/trajectories/{t}"
        self.post(f"{p}/acceptance", {})
        self.consultation(t, "start")
        self.post(
            f"{p}/role-agreements",
            {
                "agreement_id": "roles",
                "assignments": [
                    {"party": ORG, "role": "planmaker", "responsibilities": self.text("plan")},
                    {"party": PARTNER, "role": "provider", "responsibilities": self.text("care")},
                ],
            },
        )
        self.post(f"{p}/role-agreements/roles/acceptances", {})
        self.post(f"{p}/role-agreements/roles/acceptances", {}, self.partner)
        self.post(f"{p}/goals", {"goal_id": "school", "description": self.text("school")})
        self.post(f"{p}/goals", {"goal_id": "home", "description": self.text("home")})
        self.post(f"{p}/goals/home/closure", {"outcome": self.text("outcome")})
        self.post(
            f"{p}/actions",
            {"description": self.text("action"), "owner": PARTNER, "goal_id": "school"},
        )
        self.post(f"{p}/plan-signatures", {"signatory": "client"})
        self.post(
            f"{p}/plan-signatures",
            {"signatory": "representative", "representative_ref": "rep-mother"},
        )
        self.post(
            f"{p}/evaluations",
            {"results": self.text("results"), "new_agreements": [self.text("agreement")]},
            self.partner,
        )
        self.post(
            f"{p}/escalations",
            {
                "escalation_id": "esc",
                "level": "team",
                "reason": "waiting_list",
                "description": self.text("escalation"),
            },
        )
        self.post(
            f"{p}/escalations/esc/level-changes",
            {"to_level": "network", "reason": self.text("level")},
        )
        self.post(f"{p}/escalations/esc/resolution", {"resolution": self.text("resolution")})
        self.post(f"{p}/blocks", {"reasons": ["funding"], "description": self.text("block")})
        self.post(f"{p}/unblocking", {"resolution": self.text("unblocked")})
        self.post(
            f"{p}/consultation-waivers", {"kind": "three_month", "reason": self.text("waived")}
        )
        self.post(
            f"{p}/handovers",
            {"to_party": PARTNER, "scopes": ["plan"], "transfers_coordination": False},
        )
        for n in range(30):  # 55 events or more: the trajectory is snapshotted
            self.post(
                f"{p}/goals/school/revisions",
                {"description": self.text(f"school {n}"), "reason": self.text("revised")},
            )
        self.consultation(t, "mdo", decisions=[self.text("mdo")])
        self.consultation(t, "end")
        self.post(f"{p}/closure", {"reason": self.text("closed"), "follow_up_by": PARTNER})
        self.post(
            f"{p}/follow-up-contacts",
            {"contacted_party": PARTNER, "outcome": self.text("follow-up")},
            self.partner,
        )
        self.post(f"{p}/role-agreements/roles/end", {"reason": self.text("ended")})
        return t

    def closed_without_follow_up(self, client: str) -> str:
        t = self.refer(client)
        p = f"/v1/trajectories/{t}"
        self.post(f"{p}/acceptance", {})
        self.consultation(t, "start", no_next_reason=self.text("no next"))
        self.consultation(t, "end")
        self.post(
            f"{p}/closure",
            {"reason": self.text("closed"), "no_follow_up_reason": self.text("nobody")},
        )
        return t

    def declined(self, client: str) -> str:
        t = self.refer(client)
        self.post(f"/v1/trajectories/{t}/declination", {"reason": self.text("declined")})
        return t

    def continued(self, client: str, earlier: str) -> str:
        """Still active after the erasure; carries the earlier trajectory's open goal."""
        t = self.refer(client, continues_from=earlier)
        p = f"/v1/trajectories/{t}"
        self.post(f"{p}/acceptance", {})
        self.consultation(t, "start")
        self.post(
            f"{p}/role-agreements",
            {"agreement_id": "declined", "assignments": [{"party": PARTNER, "role": "buddy"}]},
        )
        self.post(
            f"{p}/role-agreements/declined/declination",
            {"reason": self.text("no capacity")},
            self.partner,
        )
        self.post(
            f"{p}/role-agreements",
            {"agreement_id": "open", "assignments": [{"party": ORG, "role": "key_worker"}]},
        )
        return t


def before_erasure_versions(story: Story, client: str, trajectory: str) -> tuple[int, int]:
    record = story.app.container.care_record
    return record.client(UUID(client)).version, record.trajectory(UUID(trajectory)).version


# --- what the API shows ---------------------------------------------------------------------


@dataclass
class Views:
    plan_states: dict[str, Any]
    timelines: dict[str, Any]
    histories: dict[str, Any]
    client: Any


def views(story: Story, client: str, trajectories: list[str]) -> Views:
    auditor = story.app.auth("auditor")
    return Views(
        plan_states={t: story.get(f"/v1/trajectories/{t}") for t in trajectories},
        timelines={t: story.get(f"/v1/trajectories/{t}/timeline") for t in trajectories},
        histories={
            t: story.get(f"/v1/audit/trajectories/{t}/history", auditor) for t in trajectories
        },
        client=story.get(f"/v1/clients/{client}"),
    )


#: Plan-state fields without free text: the structure erasure keeps.
STRUCTURE = (
    "id",
    "version",
    "client_id",
    "status",
    "sector",
    "region",
    "referrer_organisation",
    "coordinating_organisation",
    "parties",
    "referred_at",
    "consultations_held",
    "milestones",
    "next_consultation_on",
    "plan",
    "next_evaluation_on",
    "escalations",
    "blocked_since",
    "block_reasons",
    "handovers",
    "missed_deadlines",
    "closed_at",
    "follow_up_by",
    "continued_from",
)


def assert_structure_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {k: after[k] for k in STRUCTURE} == {k: before[k] for k in STRUCTURE}
    assert after["personal_data_erased"] is True
    assert before["personal_data_erased"] is False
    assert after["question"] == ERASED
    assert [(r["party"], r["role"]) for r in after["roles_in_force"]] == [
        (r["party"], r["role"]) for r in before["roles_in_force"]
    ]
    assert all(r["responsibilities"] == ERASED for r in after["roles_in_force"])

    def without(items: list[dict[str, Any]], *text: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k not in text} for item in items]

    assert without(after["role_agreements"], "assignments") == without(
        before["role_agreements"], "assignments"
    )
    assert without(after["goals"], "description", "outcome") == without(
        before["goals"], "description", "outcome"
    )
    assert all(g["description"] == ERASED for g in after["goals"])
    assert all(g["outcome"] in (None, ERASED) for g in after["goals"])
    assert without(after["actions"], "description") == without(before["actions"], "description")
    assert all(a["description"] == ERASED for a in after["actions"])


def personal_paths(event_name: str) -> dict[str, str]:
    """Field → sub-field ('' for the field itself) that the event seals."""
    for aggregate in (Trajectory, Client):
        cls = getattr(aggregate, event_name, None)
        if isinstance(cls, type):
            paths: tuple[str, ...] = getattr(cls, "personal_fields", ())
            return dict(p.partition("[].")[::2] for p in paths)
    raise AssertionError(f"no event {event_name}")


def assert_history_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Who agreed what and when, as recorded; only the free text reads as erased."""
    assert len(after["events"]) == len(before["events"])
    for old, new in zip(before["events"], after["events"], strict=True):
        for key in ("version", "event", "occurred_at", "recorded_at", "actor"):
            assert new[key] == old[key], (key, old, new)
        sealed = personal_paths(old["event"])
        for field, value in old["fields"].items():
            if field not in sealed:
                assert new["fields"][field] == value, (old["event"], field)
            elif sealed[field]:  # a field of each item: the rest of the item stays
                sub = sealed[field]
                assert [{**i, sub: None} for i in new["fields"][field]] == [
                    {**i, sub: None} for i in value
                ]
                assert [None if i[sub] is None else ERASED for i in value] == [
                    i[sub] for i in new["fields"][field]
                ]
            else:
                assert new["fields"][field] in (ERASED, [], {}, None), (old["event"], field)
                assert (new["fields"][field] is None) == (value is None)


# --- where the bytes are ------------------------------------------------------------------------


SQLITE_FILES = (
    "rodedraad.sqlite",  # events and snapshots
    "readmodels.sqlite",
    "keys.sqlite",
    "idempotency.sqlite",
    "access-log.sqlite",
)


class Searched(Protocol):
    def found_in_bytes(self, data: bytes) -> list[str]: ...


@dataclass(frozen=True)
class StoredInClear:
    """Text the record keeps in clear (ids, organisations): proves the search finds things."""

    text: str

    def found_in_bytes(self, data: bytes) -> list[str]:
        return [self.text] if self.text.encode() in data else []


def files_holding(person: Searched, root: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and (hits := person.found_in_bytes(path.read_bytes())):
            found[str(path.relative_to(root))] = hits
    return found


def dump_holding(person: Searched, app: App) -> list[str]:
    if app.database is None:
        return []
    dump = subprocess.run(  # noqa: S603 - fixed arguments, our own test database
        ["pg_dump", "--no-password", "-h", "127.0.0.1", "-U", "postgres", app.database],  # noqa: S607
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return person.found_in_bytes(dump)


def anywhere(person: Searched, app: App) -> dict[str, list[str]]:
    found = files_holding(person, app.data_dir)
    if hits := dump_holding(person, app):
        found["pg_dump"] = hits
    return found


# --- the tests ----------------------------------------------------------------------------------


def test_erasure_leaves_no_trace_of_the_client_and_keeps_who_agreed_what_and_when(
    app: App, json_logs: JsonLogs
) -> None:
    json_logs.start()
    person = Person.new()
    story = Story(app, person)
    client = story.client()
    long = story.long_trajectory(client)
    trajectories = [
        long,
        story.closed_without_follow_up(client),
        story.declined(client),
        story.continued(client, long),
    ]
    record = app.container.care_record
    assert record.snapshots is not None
    assert before_erasure_versions(story, client, long) >= (50, 55)
    for aggregate in (client, long):
        assert list(record.snapshots.get(UUID(aggregate))), "expected a snapshot"
    # Refused requests that carry the name must not echo it either.
    refusals = [
        app.http.post(
            f"/v1/trajectories/{long}/goals",
            json={"occurred_at": at(1), "description": person.name, "comment": person.name},
            headers=story.coordinator,
        ),
        app.http.post(
            "/v1/clients",
            json={"occurred_at": at(1), "name": person.name * 10, "contact": person.contact},
            headers=story.coordinator,
        ),
        app.http.post(
            f"/v1/trajectories/{trajectories[3]}/goals",
            json={"occurred_at": at(1), "description": person.name},
            headers=app.auth("coordinator", "org-stranger"),
        ),
    ]
    assert [r.status_code for r in refusals] == [422, 422, 404]
    assert [person.found_in(r.text) for r in refusals] == [[], [], []]
    before = views(story, client, trajectories)
    assert before.client["name"] == person.name  # the views show the data until the erasure
    assert person.name in before.plan_states[long]["question"]
    # Sealed before the erasure too (events, read models, keys): the search finds the ids.
    assert anywhere(person, app) == {}
    assert anywhere(StoredInClear(long), app), "the search finds what is stored in clear"
    if app.database is None:  # every file of the embedded mode is searched
        assert set(SQLITE_FILES) <= {path.name for path in app.data_dir.iterdir()}
    position = recorded(app.container)

    erased = app.http.post(
        f"/v1/clients/{client}/erasure",
        json={"occurred_at": at(24 * 9), "legal_basis": "gdpr_request"},
        headers=app.auth("data_protection_officer"),
    )

    assert erased.status_code == 200, erased.text
    # The erasure itself, on the client, and the partner's consent it ended (the rest revoked).
    assert recorded(app.container) == position + 2
    story.answers = [erased]
    after = views(story, client, trajectories)
    for t in trajectories:
        assert_structure_kept(before.plan_states[t], after.plan_states[t])
        assert after.timelines[t] == before.timelines[t]
        assert_history_kept(before.histories[t], after.histories[t])
    assert after.client["erased"] is True
    assert (after.client["name"], after.client["contact"]) == (ERASED, ERASED)
    assert {r["name"] for r in after.client["representatives"]} == {ERASED}
    assert {c["purpose"] for c in after.client["consents"]} == {ERASED}
    assert {c["revoked"] for c in after.client["consents"]} == {True}  # none in force
    assert not list(record.snapshots.get(UUID(client)))
    assert not list(record.snapshots.get(UUID(long)))
    for path in ("/v1/trajectories", "/v1/board"):
        story.get(path)
        story.get(path, app.auth("auditor"))
    reads = story.get(f"/v1/audit/personal-data-reads?client_id={client}", app.auth("auditor"))
    assert len(reads) == 2 * (1 + 2 * len(trajectories))  # who read what stays on record
    story.get("/v1/admin/retention", app.auth("admin"))

    # The erased record takes no new facts, and is erased once, by the data protection officer.
    active = f"/v1/trajectories/{trajectories[3]}"
    coordinator, officer = story.coordinator, app.auth("data_protection_officer")
    refused: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"{active}/goals", {"description": "new"}, coordinator),
        (f"{active}/role-agreements/open/acceptances", {}, coordinator),
        (f"/v1/trajectories/{long}/role-agreements/roles/end", {"reason": "x"}, coordinator),
        (
            f"/v1/clients/{client}/consents",
            {"to_party": "org-x", "scopes": ["plan"], "purpose": "p"},
            coordinator,
        ),
        (
            "/v1/trajectories",
            {"client_id": client, "question": "q", "sector": "youth_care", "region": REGION},
            coordinator,
        ),
        # (the erasure ended it: there is nothing left to revoke, and no reason to seal)
        (f"/v1/clients/{client}/consents/consent-partner/revocation", {"reason": "x"}, coordinator),
        (f"/v1/clients/{client}/erasure", {"legal_basis": "gdpr_request"}, officer),  # again
    ]
    for path, body, auth in refused:
        response = app.http.post(path, json={"occurred_at": at(24 * 9 + 1), **body}, headers=auth)
        story.answers.append(response)
        assert (response.status_code, response.json()["rule"]) == (409, "client-erased"), path
    by_coordinator = app.http.post(
        f"/v1/clients/{client}/erasure",
        json={"occurred_at": at(24 * 9 + 1), "legal_basis": "gdpr_request"},
        headers=story.coordinator,
    )
    assert (by_coordinator.status_code, by_coordinator.json()["rule"]) == (403, "access-policy")
    story.answers.append(by_coordinator)
    assert recorded(app.container) == position + 2

    # The erasure, the views (3 per trajectory, and the client), lists, boards, audit, refusals.
    assert len(story.answers) == 1 + (3 * len(trajectories) + 1) + 6 + len(refused) + 1
    leaks = [
        (r.request.url.path, found) for r in story.answers if (found := person.found_in(r.text))
    ]
    assert leaks == []
    assert anywhere(person, app) == {}

    # Rebuilt from the log, the read models are the same, and still hold none of it.
    worker = app.container.worker
    live = read_models(worker.database, worker.projections)
    for projection in worker.projections:
        worker.rebuild(projection.name)
    assert read_models(worker.database, worker.projections) == live
    assert views(story, client, trajectories) == after
    assert anywhere(person, app) == {}

    logs = json_logs.text()
    assert '"event": "request"' in logs  # the capture sees the app's logs
    assert '"event": "access refused"' in logs
    assert person.found_in(logs) == []

    app.container.close()  # SQLite: the last checkpoint of every file
    assert anywhere(person, app) == {}


def test_the_read_models_hold_no_personal_text_in_clear_on_disk_or_in_the_log(app: App) -> None:
    """Issue #10, point 8: the free text of the plan state is sealed; the timeline and the
    deadlines hold structured facts only. Searched in the raw files: on SQLite the read models'
    file and its write-ahead log, on PostgreSQL the database's files and the WAL."""
    url = app.settings.database.url
    mark = raw_files.wal_mark(url) if app.database is not None else None
    person = Person.new()
    story = Story(app, person)
    trajectory = story.long_trajectory(story.client())
    files = (
        raw_files.postgres_files(url, mark)
        if mark is not None
        else [p for p in raw_files.sqlite_files(app.data_dir) if "readmodels" in p.name]
    )
    worker = app.container.worker
    structured = {
        table: rows(worker.database, f"SELECT * FROM {table}")
        for table in ("rm_timeline", "rm_deadline_facts", "rm_deadlines", "rm_trajectory_parties")
    }

    assert raw_files.files_holding(files, [s.encode() for s in person.strings()]) == {}
    assert raw_files.files_holding(files, [trajectory.encode()]), "the search finds the id"
    assert all(table_rows for table_rows in structured.values())
    assert person.found_in(repr(structured)) == []
    opened = read_models(worker.database, worker.projections)["rm_trajectories"]
    assert person.name in repr(opened)  # sealed, not lost


def test_text_about_a_person_in_a_consultations_participants_does_not_survive_erasure(
    app: App,
) -> None:
    """A participant's role is one of the roles (free text is refused), and the reference to a
    person of the network is sealed: a name typed there is erased with the client's data."""
    person = Person.new()
    story = Story(app, person)
    client = story.post("/v1/clients", {"name": person.name})["id"]
    t = story.refer(client)
    story.post(f"/v1/trajectories/{t}/acceptance", {})
    refused = app.http.post(
        f"/v1/trajectories/{t}/consultations",
        json={
            "occurred_at": "2026-01-01T10:00:00Z",
            "kind": "start",
            "client_involvement": "present",
            "participants": [{"organisation": "network", "role": f"aunt of {person.name}"}],
            "next_consultation_on": "2026-03-01",
        },
        headers=app.auth("coordinator"),
    )
    assert refused.status_code == 422
    story.consultation(
        t,
        "start",
        participants=[
            {"organisation": "network", "role": "informal_carer", "person_ref": person.name}
        ],
    )
    story.post(
        f"/v1/clients/{client}/erasure",
        {"legal_basis": "gdpr_request"},
        app.auth("data_protection_officer"),
    )

    history = story.get(f"/v1/audit/trajectories/{t}/history", app.auth("auditor"))

    assert (person.found_in(str(history)), anywhere(person, app)) == ([], {})


def test_the_log_processor_redacts_every_personal_field(json_logs: JsonLogs) -> None:
    json_logs.start()
    person = Person.new()
    event = {
        "event": "something happened",
        "name": person.name,
        "contact": person.contact,
        "question": person.name,
        "description": person.name,
        "personal": {"name": person.name},
        "client_id": "c-1",
        "route": "/v1/clients/{client_id}",
    }

    redacted = redact_personal_fields(None, "info", dict(event))

    assert redacted == {
        **event,
        "name": REDACTED,
        "contact": REDACTED,
        "question": REDACTED,
        "description": REDACTED,
        "personal": REDACTED,
    }
    structlog.get_logger("rodedraad.test").info(
        "logged", name=person.name, contact=person.contact, client_id="c-1"
    )
    logs = json_logs.text()
    assert '"client_id": "c-1"' in logs
    assert REDACTED in logs
    assert person.found_in(logs) == []


def test_every_field_the_record_seals_is_redacted_in_the_logs() -> None:
    sealed = {
        path.partition("[].")[2] or path.partition("[].")[0]
        for aggregate in (Trajectory, Client)
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, aggregate.Event)
        for path in value.personal_fields
    }

    assert sealed - PERSONAL_FIELDS == set()
