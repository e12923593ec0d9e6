"""Several application instances write to one trajectory at the same time: no update is lost.

Each writer is its own ``CareRecord`` (as separate API processes would be) in its own thread; a
writer that loses a race gets ``ConcurrentWrite`` and retries, as the API's client would. At the
end every goal is recorded exactly once and the versions run on without a gap or a double.
"""

import threading
from collections.abc import Iterator
from uuid import UUID

import pytest

from application.care_record import CareRecord, ConcurrentWrite
from application.commands import Accept, HoldConsultation, Refer, RegisterClient, SetGoal
from domain.common import ClientInvolvement, ConsultationKind, Sector
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.support import on_trajectory, said
from tests.unit.builders import PARTICIPANTS, REFERRER, ctx, on

WRITERS = 4
GOALS_PER_WRITER = 5


@pytest.fixture
def writers(any_settings: Settings) -> Iterator[list[CareRecord]]:
    apps = [build_care_record(any_settings) for _ in range(WRITERS + 1)]
    yield apps
    for app in apps:
        app.close()


def _started(app: CareRecord) -> UUID:
    client_id = app.register_client(ctx(0), said(RegisterClient, ctx(0))).id
    trajectory_id = app.refer(
        ctx(0),
        said(
            Refer,
            ctx(0),
            referrer_organisation=REFERRER.organisation,
            client_id=client_id,
            question="Wie helpt Sam?",
            client_criteria=(),
            referrer_engagement="",
            sector=Sector.YOUTH_CARE,
            region="elz-gent",
        ),
    ).id
    on_trajectory(app, ctx(1), trajectory_id, None, Accept, coordinating_organisation=None)
    on_trajectory(
        app,
        ctx(5),
        trajectory_id,
        None,
        HoldConsultation,
        kind=ConsultationKind.START,
        participants=PARTICIPANTS,
        client_involvement=ClientInvolvement.PRESENT,
        decisions=(),
        next_consultation_on=on(35),
        no_next_reason=None,
    )
    return trajectory_id


def test_concurrent_writers_lose_no_update_and_record_none_twice(
    writers: list[CareRecord],
) -> None:
    setup, *racers = writers
    trajectory_id = _started(setup)
    start_version = setup.trajectory(trajectory_id).version
    lost_races = [0] * WRITERS
    failures: list[BaseException] = []
    go = threading.Barrier(WRITERS)

    def write(index: int, app: CareRecord) -> None:
        try:
            go.wait()
            for n in range(GOALS_PER_WRITER):
                while True:
                    try:
                        on_trajectory(
                            app,
                            ctx(7),
                            trajectory_id,
                            None,
                            SetGoal,
                            goal_id=f"goal-{index}-{n}",
                            description=f"doel {n} van schrijver {index}",
                        )
                        break
                    except ConcurrentWrite:
                        lost_races[index] += 1
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            failures.append(error)

    threads = [
        threading.Thread(target=write, args=(index, app)) for index, app in enumerate(racers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert not any(thread.is_alive() for thread in threads)
    versions = [e.originator_version for e in setup.events.get(trajectory_id)]
    expected_total = start_version + WRITERS * GOALS_PER_WRITER
    assert versions == list(range(1, expected_total + 1))
    goals = set(setup.trajectory(trajectory_id).goals)
    assert goals == {f"goal-{i}-{n}" for i in range(WRITERS) for n in range(GOALS_PER_WRITER)}


def test_threads_of_one_application_share_transactions_and_each_keeps_its_own_outcome(
    writers: list[CareRecord],
) -> None:
    """The API's case: one ``CareRecord``, commands from many threads, grouped into shared
    transactions (group commit). Two threads race on one trajectory, the others each have their
    own: every command that succeeds answers the position of its own event, no update is lost,
    and a race is refused as ``ConcurrentWrite``, never recorded twice."""
    app, *_ = writers
    shared = _started(app)
    own = [_started(app) for _ in range(6)]
    answers: list[tuple[UUID, int, int | None]] = []
    lost_races = [0]
    failures: list[BaseException] = []
    go = threading.Barrier(len(own) + 2)

    def write(trajectory_id: UUID, name: str) -> None:
        try:
            go.wait()
            for n in range(GOALS_PER_WRITER):
                while True:
                    try:
                        result = on_trajectory(
                            app,
                            ctx(7),
                            trajectory_id,
                            None,
                            SetGoal,
                            goal_id=f"{name}-{n}",
                            description="doel",
                        )
                        answers.append((result.id, result.version, result.position))
                        break
                    except ConcurrentWrite:
                        lost_races[0] += 1
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            failures.append(error)

    jobs = [(shared, "a"), (shared, "b"), *((t, f"own{i}") for i, t in enumerate(own))]
    threads = [threading.Thread(target=write, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert len(answers) == len(jobs) * GOALS_PER_WRITER
    by_position = {
        n.id: (UUID(str(n.originator_id)), n.originator_version)
        for n in app.recorder.select_notifications(start=1, limit=10_000)
    }
    for trajectory_id, version, position in answers:
        assert position is not None
        assert by_position[position] == (trajectory_id, version)
    assert set(app.trajectory(shared).goals) == {f"{w}-{n}" for w in "ab" for n in range(5)}
    for i, trajectory_id in enumerate(own):
        assert set(app.trajectory(trajectory_id).goals) == {f"own{i}-{n}" for n in range(5)}
    assert app.group_commit.commands == len(answers) + 7 * 4  # and the set-up's commands
