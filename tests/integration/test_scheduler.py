"""The deadline scheduler end to end: the log, the read models, the HTTP reads and the CLI.

Each test runs on a database of its own (an empty log), on SQLite and on PostgreSQL, through the
composition root (``Container.build(..., inline_projections=True)`` and
``build_deadline_scheduler``) or through ``rodedraad scheduler run-once``. Every moment lies in
the past of the real clock, as a live record requires (simulations in the future run on a copy:
``test_simulating_deadlines.py``). The three simulated years are in
``test_scheduler_simulation.py``.
"""

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from application.commands import EraseClient
from application.kek import KeyringFile
from rodedraad.settings import Settings
from rodedraad.wiring import (
    Container,
    build_care_record,
    build_leader_lock,
    build_projection_database,
)
from scheduler.runner import (
    SCHEDULER_ACTOR,
    BackgroundDeadlines,
    DeadlineScheduler,
    FileLeaderLock,
    PostgresLeaderLock,
    RunReport,
)
from tests.integration.conftest import Rodedraad
from tests.integration.databases import BACKENDS
from tests.integration.scheduler_support import (
    START,
    Care,
    NewSettings,
    T,
    assert_each_once,
    deadline_events,
    empty_databases,
    keys,
    log_events,
    moment,
    scheduler_for,
)
from tests.support import COORDINATOR, context, said


@pytest.fixture(params=BACKENDS)
def new_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewSettings]:
    with empty_databases(request, tmp_path) as new:
        yield new


@pytest.fixture
def settings(new_settings: NewSettings) -> Settings:
    return new_settings()


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = Container.build(settings, inline_projections=True)
    yield built
    built.close()


def d(text: str) -> date:
    return date.fromisoformat(text)


def m(text: str) -> datetime:
    """A scheduler run's moment: 09:00 UTC on that day."""
    return moment(text, 9)


# --- a trajectory left without its start consultation ---------------------------------------------


def test_a_missed_start_consultation_is_recorded_once_and_shows_in_timeline_and_board(
    container: Container,
) -> None:
    care = Care(container.care_record)
    tid = care.start("sam", "2023-01-16")  # the start consultation is due on 16 February
    scheduler = scheduler_for(container)
    token = LocalTokens.from_file(container.settings.auth.secret_file).issue(
        user="user-an",
        organisation=COORDINATOR.organisation,
        roles=["coordinator"],
        region="elz-gent",
    )
    headers = {"Authorization": f"Bearer {token}"}

    before = scheduler.run_once(moment("2023-02-16", 9))
    assert [(f.rule, f.kind) for f in before.fired] == [("start_consultation", "reminder")]

    report = scheduler.run_once(moment("2023-02-20", 9))
    assert [(f.kind, f.rule, f.due_on, f.recorded) for f in report.fired] == [
        ("missed", "start_consultation", date(2023, 2, 16), True)
    ]
    missed = [e for e in deadline_events(container.care_record) if e.kind == "missed"]
    assert [(e.rule, e.due_on, e.occurred_at) for e in missed] == [
        ("start_consultation", date(2023, 2, 16), moment("2023-02-20", 9))
    ]
    events = [e for e in log_events(container.care_record) if isinstance(e, T.DeadlineMissed)]
    assert events[0].expected == "the start consultation after acceptance"

    with TestClient(app=container.http_app()) as http:
        timeline = http.get(f"/v1/trajectories/{tid}/timeline", headers=headers)
        assert timeline.status_code == 200, timeline.text
        entries = [e for e in timeline.json()["entries"] if e["kind"] == "deadline_missed"]
        assert [e["detail"] for e in entries] == [
            {"rule": "start_consultation", "due_on": "2023-02-16"}
        ]
        assert entries[0]["actor"]["user_id"] == SCHEDULER_ACTOR.user_id

        board = http.get("/v1/board", headers=headers)
        assert board.status_code == 200, board.text
        rows = {row["id"]: row for row in board.json()["trajectories"]}
        assert str(tid) in rows
        assert "missed deadline start_consultation, due 2023-02-16" in rows[str(tid)]["overdue"]
        assert rows[str(tid)]["missed_deadlines"] == 1

        # Again at the same moment and at later ones: nothing new for this deadline.
        for later in ("2023-02-20", "2023-02-21", "2023-03-15"):
            again = scheduler.run_once(moment(later, 9))
            assert not [f for f in again.fired if f.rule == "start_consultation"]
        start_events = [
            e for e in deadline_events(container.care_record) if e.rule == "start_consultation"
        ]
        assert [e.kind for e in start_events] == ["reminder", "missed"]

        # Held late: met late, recorded once; the board no longer lists it as missed.
        care.hold("sam", "2023-03-20", START, next_on="2023-04-17")
        late = scheduler.run_once(moment("2023-03-21", 9))
        assert [(f.kind, f.rule, f.met_on, f.recorded) for f in late.fired] == [
            ("met_late", "start_consultation", date(2023, 3, 20), True)
        ]
        assert scheduler.run_once(moment("2023-03-21", 9)).fired == []
        start_events = [
            e for e in deadline_events(container.care_record) if e.rule == "start_consultation"
        ]
        assert [(e.kind, e.met_on) for e in start_events] == [
            ("reminder", None),
            ("missed", None),
            ("met_late", date(2023, 3, 20)),
        ]
        assert container.care_record.trajectory(tid).open_missed_deadlines == []

        timeline = http.get(f"/v1/trajectories/{tid}/timeline", headers=headers).json()
        assert [e["detail"] for e in timeline["entries"] if e["kind"] == "deadline_met_late"] == [
            {"rule": "start_consultation", "due_on": "2023-02-16", "met_on": "2023-03-20"}
        ]
        board = http.get("/v1/board", headers=headers).json()
        overdue = [o for r in board["trajectories"] if r["id"] == str(tid) for o in r["overdue"]]
        assert not [o for o in overdue if o.startswith("missed deadline")]


# --- an erased client's trajectory ---------------------------------------------------------------


def test_the_deadlines_of_an_erased_clients_trajectory_are_no_longer_due(
    container: Container,
) -> None:
    """Outside probe: an erased client's record takes no new facts, so the scheduler found the
    trajectory's deadlines due on every run, was refused (``client-erased``) and warned, for
    good. The erasure drops them from the deadlines read model; others still fire."""
    care = Care(container.care_record)
    erased = care.start("sam", "2023-01-16")  # the start consultation is due on 16 February
    care.start("kim", "2023-01-16")
    client_id = container.care_record.trajectory(erased).client_id
    ctx = context(occurred_at=moment("2023-02-01", 10))
    container.care_record.erase_client(
        ctx, client_id, None, said(EraseClient, ctx, legal_basis="gdpr_request")
    )
    scheduler = scheduler_for(container)

    for day in ("2023-02-16", "2023-02-20", "2023-02-21", "2023-06-01"):
        report = scheduler.run_once(m(day))
        assert [f for f in report.fired if f.trajectory_id == erased] == []
    recorded = deadline_events(container.care_record, care.ids)
    assert [(e.trajectory, e.kind) for e in recorded if e.rule == "start_consultation"] == [
        ("kim", "reminder"),
        ("kim", "missed"),
    ]


# --- a catch-up run at a past moment on a live record ---------------------------------------------


def _block_met_late(container: Container) -> UUID:
    """Blocked on 1 October, escalated on 10 November: ``block_escalation`` (due 15 October)
    met late, as the live scheduler recorded on 11 November."""
    care = Care(container.care_record)
    tid = care.start("sam", "2023-09-01")
    care.hold("sam", "2023-09-15", START, next_on="2023-12-15")
    care.block("sam", "2023-10-01")
    care.escalate("sam", "2023-11-10", "esc-1")
    live = scheduler_for(container).run_once(m("2023-11-11"))
    assert ("met_late", "block_escalation", d("2023-10-15"), d("2023-11-10"), True) in [
        (f.kind, f.rule, f.due_on, f.met_on, f.recorded) for f in live.fired
    ]
    return tid


def _block_events(container: Container) -> list[str]:
    return [e.kind for e in deadline_events(container.care_record) if e.rule == "block_escalation"]


def test_a_catch_up_run_in_the_past_does_not_record_missed_what_was_met_late(
    container: Container,
) -> None:
    """Issue (outside probe): ``run-once --now`` before the late meeting found the deadline
    unmet then and recorded it missed after its late meeting: two standings for one deadline."""
    tid = _block_met_late(container)
    assert _block_events(container) == ["met_late"]

    catch_up = scheduler_for(container).run_once(m("2023-10-20"))

    assert [f for f in catch_up.fired if f.rule == "block_escalation" and f.recorded] == []
    assert _block_events(container) == ["met_late"]
    # Asked directly, the record takes no miss for it either: a no-op, not an error.
    recorded = container.care_record.record_deadline(
        context(occurred_at=m("2023-10-20"), actor=SCHEDULER_ACTOR),
        tid,
        kind="missed",
        rule="block_escalation",
        due_on=d("2023-10-15"),
        expected="an escalation",
    )
    assert recorded is None
    assert _block_events(container) == ["met_late"]
    missed = container.care_record.trajectory(tid).missed_deadlines
    assert not [key for key in missed if key.startswith("block_escalation@")]


def test_a_stored_miss_after_the_late_meeting_gives_way_to_it_in_the_views(
    container: Container,
) -> None:
    """A store written before the record refused it holds the miss after the late meeting
    (stored events do not change): the trajectory, the board row and its count agree with
    the audit's standing (met late), not listing it as missed."""
    tid = _block_met_late(container)
    trajectory = container.care_record.trajectory(tid)
    trajectory.trigger_event(
        T.DeadlineMissed,
        **context(occurred_at=m("2023-10-20"), actor=SCHEDULER_ACTOR).event_fields(),
        rule="block_escalation",
        due_on=d("2023-10-15"),
        expected="an escalation",
    )
    container.care_record._save_all(trajectory)
    assert _block_events(container) == ["met_late", "missed"]
    token = LocalTokens.from_file(container.settings.auth.secret_file).issue(
        user="user-an",
        organisation=COORDINATOR.organisation,
        roles=["coordinator"],
        region="elz-gent",
    )
    headers = {"Authorization": f"Bearer {token}"}

    with TestClient(app=container.http_app()) as http:
        view = http.get(f"/v1/trajectories/{tid}", headers=headers)
        assert view.status_code == 200, view.text
        missed = view.json()["missed_deadlines"]
        assert "block_escalation@2023-10-15" not in missed
        board = http.get("/v1/board", headers=headers).json()
        (row,) = [r for r in board["trajectories"] if r["id"] == str(tid)]
        listed = [o for o in row["overdue"] if o.startswith("missed deadline")]
        assert row["missed_deadlines"] == len(missed) == len(listed)
        again = scheduler_for(container).run_once(m("2023-10-20"))
        assert not [f for f in again.fired if f.rule == "block_escalation"]


# --- two schedulers at once -----------------------------------------------------------------------

TRAJECTORIES = 12
NOW = m("2022-08-01")
#: Accepted 2022-01-10 and nothing since: start, trial and plan-after-admission missed by August.
DUE = {
    ("start_consultation", d("2022-02-10")),
    ("trial_period_evaluation", d("2022-04-10")),
    ("plan_after_admission", d("2022-07-10")),
}


def test_two_schedulers_at_once_record_every_deadline_exactly_once(
    settings: Settings, container: Container
) -> None:
    care = Care(container.care_record)
    for n in range(TRAJECTORIES):
        care.start(f"t{n}", "2022-01-10")
    apps = [build_care_record(settings) for _ in range(2)]
    both_found = threading.Barrier(2, timeout=30)

    def found_what_is_due(now: datetime) -> list[Any]:
        # Called after the scheduler read what is due and before it records: both read first.
        both_found.wait()
        return []

    schedulers = [
        DeadlineScheduler(
            care_record=app,
            database=build_projection_database(settings),
            policy=container.policy,
            wait_for_read_model=5.0,
        )
        for app in apps
    ]
    for scheduler in schedulers:
        scheduler.network_cadence_due = found_what_is_due  # type: ignore[method-assign]
    reports: list[RunReport] = []
    failures: list[BaseException] = []

    def run(scheduler: DeadlineScheduler) -> None:
        try:
            reports.append(scheduler.run_once(NOW))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for scheduler in schedulers:
            scheduler.database.close()
        for app in apps:
            app.close()
    assert failures == []
    assert len(reports) == 2
    expected = {(str(tid), rule, due) for tid in care.ids.values() for rule, due in DUE}
    for report in reports:  # both saw every deadline due ...
        assert {(str(f.trajectory_id), f.rule, f.due_on) for f in report.fired} == expected
    # ... and between them recorded each exactly once.
    assert sum(report.recorded for report in reports) == len(expected)
    events = deadline_events(container.care_record)
    assert_each_once(events)
    assert keys(events, "missed") == expected
    assert len(events) == len(expected)
    container.worker.catch_up()
    assert scheduler_for(container).run_once(NOW).fired == []


# --- the leader lock ------------------------------------------------------------------------------


def test_only_one_scheduler_holds_the_leader_lock_at_a_time(settings: Settings) -> None:
    first, second = build_leader_lock(settings), build_leader_lock(settings)
    expected = PostgresLeaderLock if settings.database.is_postgres else FileLeaderLock
    assert isinstance(first, expected)
    assert isinstance(second, expected)
    try:
        assert first.acquire()
        assert first.acquire()  # still the leader
        assert not second.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_file_leader_locks_on_the_same_file_exclude_each_other(tmp_path: Path) -> None:
    first = FileLeaderLock(tmp_path / "locks" / "scheduler.lock")
    second = FileLeaderLock(tmp_path / "locks" / "scheduler.lock")
    other = FileLeaderLock(tmp_path / "elsewhere.lock")
    try:
        assert first.acquire()
        assert not second.acquire()
        assert other.acquire()  # another data directory, another leader
        first.release()
        assert second.acquire()
    finally:
        for lock in (first, second, other):
            lock.release()


@pytest.mark.postgres
def test_postgres_leader_locks_exclude_each_other(postgres_url: str) -> None:
    first, second = PostgresLeaderLock(postgres_url), PostgresLeaderLock(postgres_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
        second._conn.close()  # type: ignore[union-attr]  # the leader's process dies
        assert first.acquire()
    finally:
        first.release()
        second.release()


def test_a_background_scheduler_that_does_not_lead_records_nothing(
    settings: Settings, container: Container
) -> None:
    Care(container.care_record).start("sam", "2023-01-16")
    leader = build_leader_lock(settings)
    background = BackgroundDeadlines(
        scheduler_for(container), build_leader_lock(settings), interval=3600
    )
    try:
        assert leader.acquire()
        background.tick()
        assert deadline_events(container.care_record) == []
        leader.release()
        background.tick()  # now it leads, and runs at the real clock
        assert "start_consultation" in {e.rule for e in deadline_events(container.care_record)}
    finally:
        background.lock.release()
        leader.release()


def test_a_background_scheduler_lets_go_of_the_lock_once_its_run_is_done(
    settings: Settings, container: Container
) -> None:
    background = BackgroundDeadlines(
        scheduler_for(container), build_leader_lock(settings), interval=3600
    )
    one_off = build_leader_lock(settings)
    try:
        background.tick()
        assert one_off.acquire(), "a one-off job gets the lock between two runs"
    finally:
        one_off.release()
        background.lock.release()


# --- the command line -----------------------------------------------------------------------------


@dataclass
class Cli:
    settings: Settings
    rodedraad: Rodedraad

    def __call__(self, *args: str, policy: Path | None = None) -> tuple[int, Any, str]:
        """``rodedraad scheduler run-once ARGS`` → (exit code, the printed report, stderr)."""
        if policy is None:
            self.rodedraad.monkeypatch.delenv("RODEDRAAD_POLICY_FILE", raising=False)
        else:
            self.rodedraad.monkeypatch.setenv("RODEDRAAD_POLICY_FILE", str(policy))
        code, out, err = self.rodedraad(self.settings, "scheduler", "run-once", *args)
        # An embedded scheduler started by the same test process (as `serve` runs one) logs to
        # standard output too, from its own thread, e.g. the statistics releases it makes: in
        # one process its lines land between the report's. Two processes keep them apart.
        report = "".join(line for line in out.splitlines(keepends=True) if not _LOG.match(line))
        return code, json.loads(report) if code == 0 else out, err


#: A line of the console log format (``rodedraad.logs``): a timestamp, then the level.
_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


@pytest.fixture
def cli(settings: Settings, rodedraad: Rodedraad) -> Cli:
    return Cli(settings, rodedraad)


def fired(report: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    return {
        (f["trajectory_id"], f["rule"], f["due_on"], f["recorded"])
        for f in report["fired"]
        if f["kind"] == "missed"
    }


@pytest.mark.parametrize(
    ("now", "problem"),
    [
        ("yesterday", "'yesterday' is not an ISO 8601 moment"),
        ("2023-13-01T09:00:00Z", "is not an ISO 8601 moment"),
        ("2023-06-01T09:00:00", "needs a time zone"),
    ],
)
def test_run_once_refuses_a_bad_now_naming_the_problem(cli: Cli, now: str, problem: str) -> None:
    code, _, err = cli("--now", now)
    assert code == 2
    assert problem in err


def test_run_once_refuses_a_future_now_on_a_live_record_and_offers_a_dry_run_or_a_copy(
    cli: Cli, container: Container
) -> None:
    Care(container.care_record).start("sam", "2023-01-16")
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    code, _, err = cli("--now", future)
    assert code == 2
    assert "this store is a live record: it takes no fact dated in the future" in err
    assert "--dry-run" in err
    assert "rodedraad simulate copy DIR" in err
    code, report, _ = cli("--now", future, "--dry-run")
    assert code == 0
    assert report["dry_run"] is True
    assert report["fired"]
    assert deadline_events(container.care_record) == []


def test_run_once_dry_run_lists_what_would_fire_and_records_nothing(
    cli: Cli, container: Container
) -> None:
    tid = Care(container.care_record).start("sam", "2023-01-16")
    size = len(log_events(container.care_record))
    code, report, _ = cli("--now", "2023-07-20T09:00:00Z", "--dry-run")
    assert code == 0
    assert report["dry_run"] is True
    assert report["now"] == "2023-07-20T09:00:00Z"
    assert fired(report) == {
        (str(tid), "start_consultation", "2023-02-16", False),
        (str(tid), "trial_period_evaluation", "2023-04-16", False),
        (str(tid), "plan_after_admission", "2023-07-16", False),
    }
    assert len(log_events(container.care_record)) == size
    # And for real: recorded, printed as recorded; a second run finds nothing left.
    code, report, _ = cli("--now", "2023-07-20T09:00:00Z")
    assert code == 0
    assert report["dry_run"] is False
    assert {f[3] for f in fired(report)} == {True}
    assert len(deadline_events(container.care_record)) == 3
    code, report, _ = cli("--now", "2023-07-20T09:00:00Z")
    assert code == 0
    assert report["fired"] == []


def test_run_once_gives_up_with_exit_3_when_a_run_holds_the_lock_past_its_wait(
    cli: Cli, settings: Settings, container: Container
) -> None:
    Care(container.care_record).start("sam", "2023-01-16")
    running = build_leader_lock(settings)
    assert running.acquire()
    try:
        code, _, err = cli("--now", "2023-07-20T09:00:00Z", "--wait", "0.3")
        assert code == 3
        assert "waiting up to 0.3 s" in err
        assert "held the lock for 0.3 s; try again later, or wait longer with --wait" in err
        code, report, _ = cli("--now", "2023-07-20T09:00:00Z", "--dry-run")  # reading is fine
        assert code == 0
        assert report["fired"]
    finally:
        running.release()
    assert deadline_events(container.care_record) == []


def test_run_once_records_beside_the_embedded_server_and_its_scheduler(
    cli: Cli, container: Container
) -> None:
    """Issue #11: ``serve`` used to hold the scheduler's lock for its whole life."""
    Care(container.care_record).start("sam", "2023-01-16")
    container.start_scheduler()  # as `serve` does: its first run is now, at the real date
    code, report, _ = cli("--now", "2023-07-20T09:00:00Z")
    assert code == 0
    assert report["dry_run"] is False
    assert container.background_scheduler is not None
    container.background_scheduler.shutdown()  # lets its run finish
    events = deadline_events(container.care_record)
    assert_each_once(events)  # whichever run recorded a deadline first, the other did not
    assert {"start_consultation", "plan_after_admission"} <= {e.rule for e in events}


def test_keys_rotate_takes_its_turn_with_the_scheduler_runs(
    rodedraad: Rodedraad, settings: Settings, container: Container
) -> None:
    keyring = KeyringFile(settings.kek.file)
    running = build_leader_lock(settings)
    assert running.acquire()
    try:
        code, _, err = rodedraad(settings, "keys", "rotate", "--wait", "0.3")
        assert code == 3
        assert "held the lock for 0.3 s" in err
        assert keyring.reload().current.version == 1
    finally:
        running.release()
    code, _, err = rodedraad(settings, "keys", "rotate", "--wait", "0.3")
    assert code == 0, err
    assert keyring.reload().current.version == 2


GENT_TEN_DAYS = """
[[overrides]]
region = "elz-gent"
[overrides.rules.start_consultation]
due_after = "10 days"
"""


def deadlines_version(settings: Settings) -> int:
    database = build_projection_database(settings)
    try:
        with database.transaction() as tx:
            return int(
                tx.fetchall("SELECT version FROM rm_tracking WHERE name = 'deadlines'")[0][0]
            )
    finally:
        database.close()


def test_a_policy_override_changes_when_a_deadline_fires_for_its_region_only(
    cli: Cli, settings: Settings, container: Container, tmp_path: Path
) -> None:
    care = Care(container.care_record)
    gent = care.start("gent", "2023-01-16", "elz-gent")
    brugge = care.start("brugge", "2023-01-16", "elz-brugge")
    container.close()
    eleven_days = "2023-01-27T09:00:00Z"

    code, report, _ = cli("--now", eleven_days, "--dry-run")
    assert code == 0
    assert fired(report) == set()
    default_version = deadlines_version(settings)

    policy = tmp_path / "policy.toml"
    policy.write_text(GENT_TEN_DAYS)
    code, report, _ = cli("--now", eleven_days, "--dry-run", policy=policy)
    assert code == 0
    assert fired(report) == {(str(gent), "start_consultation", "2023-01-26", False)}
    assert deadlines_version(settings) != default_version  # rebuilt for the new policy

    code, report, _ = cli("--now", "2023-02-17T09:00:00Z", policy=policy)
    assert code == 0
    assert fired(report) == {
        (str(gent), "start_consultation", "2023-01-26", True),
        (str(brugge), "start_consultation", "2023-02-16", True),
    }

    # Back to the defaults: rebuilt again.
    code, report, _ = cli("--now", "2023-02-17T09:00:00Z", "--dry-run")
    assert code == 0
    assert deadlines_version(settings) == default_version


def test_an_invalid_policy_file_stops_run_once_naming_the_rule_and_field(
    cli: Cli, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[rules.start_consultation]\nstarts = "referral"\n')
    code, _, err = cli("--now", "2023-07-20T09:00:00Z", "--dry-run", policy=policy)
    assert code == 2
    assert "start_consultation" in err
    assert "starts" in err
    assert "referral" in err
