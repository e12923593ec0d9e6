"""A learning network's missed cadence is recorded exactly once per period, however often and
however many schedulers run (issue #14 point 3), on SQLite and PostgreSQL, as the trajectory
deadlines are; and the cadence board shows it."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar.testing import TestClient

from application.commands import EstablishLearningNetwork
from domain.learning_network import LearningNetwork, NetworkLevel, network_id
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_care_record, build_deadline_scheduler
from tests.e2e.conftest import token_factory
from tests.e2e.steps import bearer
from tests.integration.databases import BACKENDS
from tests.integration.scheduler_support import NewSettings, empty_databases, scheduler_for
from tests.support import context, said

REGION = "west-flanders"
ESTABLISHED = datetime(2024, 3, 1, 10, tzinfo=UTC)
#: In the past of the real clock: a live record takes no fact dated in the future.
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    new: NewSettings
    with empty_databases(request, tmp_path) as new:
        yield new()


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = Container.build(settings, inline_projections=True)
    ctx = context(ESTABLISHED, now=NOW)
    built.care_record.establish_learning_network(
        ctx,
        said(
            EstablishLearningNetwork,
            ctx,
            level=NetworkLevel.MESO,
            region=REGION,
            coordinating_organisation="org-chair",
        ),
    )
    yield built
    built.close()


def cadence_events(container: Container) -> list[str]:
    events = container.care_record.repository.event_store.get(network_id(NetworkLevel.MESO, REGION))
    return sorted(
        f"{type(e).__name__}:{getattr(e, 'year', '')}{getattr(e, 'quarter', '')}"
        f":{e.meeting_kind.value}"
        for e in events
        if isinstance(e, LearningNetwork.CadenceMissed | LearningNetwork.CadenceReminderIssued)
    )


def test_missed_cadence_is_recorded_once_however_many_schedulers_run(
    settings: Settings, container: Container
) -> None:
    other = build_care_record(settings)
    schedulers = [
        scheduler_for(container),
        build_deadline_scheduler(settings, other, container.policy),
    ]
    dry = schedulers[0].run_once(NOW, dry_run=True)
    assert len(dry.network_cadence) == 6
    assert cadence_events(container) == []

    threads = [
        threading.Thread(target=s.run_once, args=(NOW,)) for s in schedulers for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    schedulers[0].run_once(NOW)
    try:
        container.care_record.forget_cached([network_id(NetworkLevel.MESO, REGION)])
        assert cadence_events(container) == [
            "CadenceMissed:2025:learning_network",
            "CadenceMissed:2025:sector_consultation",
            "CadenceReminderIssued:2025Q1:learning_network",
            "CadenceReminderIssued:2025Q2:learning_network",
            "CadenceReminderIssued:2025Q3:learning_network",
            "CadenceReminderIssued:2025Q4:learning_network",
        ]
        assert schedulers[0].run_once(NOW).network_cadence == []
    finally:
        schedulers[1].database.close()
        other.close()


def test_the_cadence_board_shows_what_was_recorded_and_what_is_due(
    settings: Settings, container: Container
) -> None:
    scheduler_for(container).run_once(NOW)
    token = token_factory(settings)
    with TestClient(container.http_app()) as http:
        board = http.get(
            "/v1/learning-networks/cadence",
            headers=bearer(token(org="org-chair", roles=("learning_network",), region=REGION)),
        )
        assert board.status_code == 200, board.text
        (row,) = board.json()
        assert row["region"] == REGION
        assert row["live_from"] == 2025
        assert row["cadence_missed"] == ["learning_network:2025", "sector_consultation:2025"]
        assert row["cadence_reminders"] == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
        assert {o["meeting_kind"]: o["required"] for o in row["this_year"]} == {
            "learning_network": 4,
            "sector_consultation": 1,
        }
        elsewhere = http.get(
            "/v1/learning-networks/cadence",
            headers=bearer(token(org="org-x", roles=("learning_network",), region="limburg")),
        )
        assert elsewhere.json() == []
        refused = http.get(
            "/v1/learning-networks/cadence",
            headers=bearer(token(org="org-x", roles=("coordinator",), region=REGION)),
        )
        assert refused.status_code == 403
