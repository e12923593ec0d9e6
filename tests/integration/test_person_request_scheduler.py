"""A person's GDPR request (issue #19 point 5): the scheduler records the reminder a week before
the month is up and the month passing without a decision, each once, on SQLite and PostgreSQL;
a decided request is left alone."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from application.commands import DecideRequestAt, FileRequest, RegisterClient
from domain.client import Client
from domain.person_requests import RequestDeadline, RequestKind, RequestOutcome
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.integration.databases import BACKENDS
from tests.integration.scheduler_support import NewSettings, empty_databases, scheduler_for
from tests.support import context, said

#: In the past of the real clock: a live record takes no fact dated in the future.
NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    new: NewSettings
    with empty_databases(request, tmp_path) as new:
        settings: Settings = new()
        built = Container.build(settings, inline_projections=True)
        yield built
        built.close()


def client_with_request(container: Container, filed: datetime) -> tuple[UUID, str]:
    record = container.care_record
    ctx = context(filed - timedelta(days=1), now=NOW)
    client_id = record.register_client(ctx, said(RegisterClient, ctx, name="Sam")).id
    ctx = context(filed, now=NOW)
    answer = record.change_client(
        ctx, client_id, None, said(FileRequest, ctx, kind=RequestKind.ACCESS_COPY).identified()
    )
    assert answer.item_id is not None
    return client_id, answer.item_id


def deadlines_of(container: Container, client_id: UUID) -> list[str]:
    return [
        e.deadline.value
        for e in container.care_record.repository.event_store.get(client_id)
        if isinstance(e, Client.RequestDeadlineRecorded)
    ]


def test_the_month_passing_without_a_decision_is_recorded_once(container: Container) -> None:
    client_id, _ = client_with_request(container, NOW - timedelta(days=40))
    scheduler = scheduler_for(container)
    (found,) = [r for r in scheduler.run_once(NOW).person_requests if r.client_id == client_id]
    assert (found.deadline, found.recorded) == (RequestDeadline.PASSED, True)
    assert scheduler.run_once(NOW).person_requests == []
    assert deadlines_of(container, client_id) == ["passed"]
    client = container.care_record.client(client_id)
    assert all(r.deadline_passed for r in client.requests.values())


def test_a_week_before_the_month_is_up_the_deciders_are_reminded(container: Container) -> None:
    client_id, _ = client_with_request(container, NOW - timedelta(days=25))
    scheduler = scheduler_for(container)
    report = scheduler.run_once(NOW)
    assert [(r.deadline, r.recorded) for r in report.person_requests] == [
        (RequestDeadline.REMINDER, True)
    ]
    assert scheduler.run_once(NOW + timedelta(days=1)).person_requests == []
    assert deadlines_of(container, client_id) == ["reminder"]


def test_a_decided_request_is_not_reminded(container: Container) -> None:
    client_id, request_id = client_with_request(container, NOW - timedelta(days=40))
    ctx = context(NOW - timedelta(days=20), now=NOW)
    container.care_record.change_client(
        ctx,
        client_id,
        None,
        said(
            DecideRequestAt,
            ctx,
            request_id=request_id,
            outcome=RequestOutcome.GRANTED,
            legal_ground="GDPR art. 15",
        ),
    )
    assert scheduler_for(container).run_once(NOW).person_requests == []
    assert deadlines_of(container, client_id) == []
