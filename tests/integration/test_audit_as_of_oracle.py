"""Issue #15, done when: the answers as of a moment equal an oracle that is independent of
their implementation, on both backends.

Two stories are told at once, each in a thread of its own, through one CareRecord (so the
group commit carries several commands in one transaction), with late-recorded facts. After
every commit, while the writer still holds its lock (so no other commit can come between),
the test notes the moment and the live state of every trajectory that commit wrote. Then:

- ``recorded=T`` for every noted moment equals the live state noted then;
- ``occurred=T`` for moments through each trajectory's life equals a fresh fold of the facts
  up to T, read through eventsourcing's own event store (not the auditors' reader), each
  applied with the domain's ``apply`` in the record's order.
"""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import hypothesis
import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Recording
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from application.audit_record import AuditRecord
from domain.trajectory import Trajectory
from projections.views import TrajectoryView, trajectory_view
from rodedraad.wiring import build_care_record
from tests.integration.databases import (
    BACKENDS,
    emptied_afterwards,
    fresh_postgres_database,
    require_backend,
)
from tests.integration.stories import Story

STEP = st.tuples(
    st.integers(0, 1),  # whose trajectory
    st.integers(0, 10_000),  # which of the commands allowed now, and its details
    st.integers(0, 30),  # days that pass first
    st.integers(0, 3).map(lambda n: n == 0),  # recorded late: it happened on an earlier day
)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    require_backend(request, request.param)
    if request.param == "sqlite":
        yield "sqlite", None
        return
    with fresh_postgres_database() as url:
        yield "postgres", url


def _fresh_fold(events: list[Any], moment: datetime) -> Trajectory | None:
    """The oracle's own fold: the facts that happened by ``moment``, in the record's order."""
    trajectory: Trajectory | None = None
    for event in events:
        if event.occurred_at > moment:
            continue
        if isinstance(event, Trajectory.Referred):
            trajectory = cast(Trajectory, event.mutate(None))
        elif trajectory is not None:
            event.apply(trajectory)
            trajectory.__dict__["_version"] = event.originator_version
    return trajectory


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    first=st.lists(STEP, min_size=5, max_size=30), second=st.lists(STEP, min_size=5, max_size=30)
)
def test_the_record_as_of_any_moment_equals_what_was_live_then_and_a_fresh_fold(
    backend: tuple[str, str | None],
    tmp_path_factory: pytest.TempPathFactory,
    first: list[tuple[int, int, int, bool]],
    second: list[tuple[int, int, int, bool]],
) -> None:
    with emptied_afterwards(*backend, tmp_path_factory.mktemp("log")) as settings_:
        record = build_care_record(settings_)
        try:
            noted: list[tuple[datetime, UUID, int, TrajectoryView]] = []
            after = record.group_commit._after

            def note(processing: ProcessingEvent[Any], recordings: list[Recording[Any]]) -> None:
                moment = datetime.now(UTC)  # after the commit, before the next one
                for aggregate in processing.aggregates.values():
                    if isinstance(aggregate, Trajectory):
                        view = trajectory_view(aggregate)
                        noted.append((moment, aggregate.id, aggregate.version, view))
                after(processing, recordings)

            record.group_commit._after = note
            stories = [Story(record, clients=2), Story(record, clients=2)]

            def tell(story: Story, steps: list[tuple[int, int, int, bool]]) -> None:
                for slot, choice, advance, late in steps:
                    story.step(slot, choice, advance, late)

            writers = [
                threading.Thread(target=tell, args=(story, steps))
                for story, steps in zip(stories, (first, second), strict=True)
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            assert [s.refused for s in stories] == [[], []]
            hypothesis.event(f"commits noted: {len(noted) // 5 * 5}+")

            audit = AuditRecord(record)
            for moment, trajectory_id, version, live in noted:
                answer = audit.as_of(trajectory_id, occurred=None, recorded=moment)
                assert answer.exact
                assert answer.trajectory.version == version
                assert trajectory_view(answer.trajectory) == live

            for story in stories:
                for trajectory_id in story.trajectory_ids:
                    events = list(record.events.get(trajectory_id))
                    moments = sorted({e.occurred_at for e in events})
                    moments += [m + timedelta(hours=12) for m in moments]
                    for moment in moments:
                        expected = _fresh_fold(events, moment)
                        assert expected is not None
                        answer = audit.as_of(trajectory_id, occurred=moment, recorded=None)
                        assert trajectory_view(answer.trajectory) == trajectory_view(expected)
                        late = {f.event.originator_version for f in answer.recorded_later}
                        assert all(events[v - 1].occurred_at <= moment for v in late), (
                            "only facts that happened by T are reported as recorded later"
                        )
        finally:
            record.close()
