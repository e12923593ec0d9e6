"""Rebuilding a projection while the API serves reads loses no answer (issue #3).

A rebuild builds the new copy beside the live one and switches over in one transaction, so
every read in the meantime answers completely, from the old copy or the new one, and the read
models after the rebuild are those before it. A rebuild by another process (``rodedraad
projections rebuild``) while commands are recorded ends with read models that equal the record.
"""

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
import structlog.testing

from rodedraad.wiring import build_projection_worker
from tests.e2e.readside import App, app_for_backend
from tests.integration.databases import BACKENDS, read_models
from tests.integration.stories import (
    REGIONS,
    Story,
    assert_read_models_equal_the_record,
    tell,
)

READERS = 6
#: Reads answered while rebuilding, at least: a rebuild is repeated until they were.
ANSWERS = 100
#: Commands recorded while another process rebuilds, at least.
COMMANDS = 20


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    with app_for_backend(request, tmp_path, inline=True) as built:
        yield built


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    """The app as ``rodedraad serve`` runs it embedded: a background worker follows the log."""
    with app_for_backend(request, tmp_path, inline=False) as built:
        built.container.start_projection_worker()
        yield built


def told(app: App) -> Story:
    """Four clients' threads of trajectories, recorded and projected before the rebuild."""
    story = Story(app.container.care_record, clients=4)
    tell(story, steps=70, seed=17)
    app.container.worker.catch_up()
    return story


@pytest.fixture
def story(app: App) -> Story:
    return told(app)


@dataclass
class Readers:
    """Threads that keep reading every read endpoint and check every answer is complete."""

    app: App
    check: Callable[[Any, str], None]
    paths: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    answers: int = 0
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _read(self, seed: int) -> None:
        chance = random.Random(seed)
        headers = self.app.auth
        while not self.stop.is_set():
            path = chance.choice(self.paths)
            try:
                response = self.app.http.get(path, headers=headers)
                self.check(response, path)
            except (AssertionError, ValueError, OSError) as error:
                self.failures.append(f"{path}: {error!r}")
            with self._lock:
                self.answers += 1

    def __enter__(self) -> "Readers":
        self._threads = [
            threading.Thread(target=self._read, args=(n,), daemon=True) for n in range(READERS)
        ]
        for thread in self._threads:
            thread.start()
        while self.answers < READERS:  # everyone is reading before anything is rebuilt
            time.sleep(0.005)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def read_paths(story: Story) -> list[str]:
    paths = ["/v1/board", "/v1/trajectories?limit=5"]
    paths += [f"/v1/board?region={region}" for region in REGIONS]
    for trajectory_id in story.trajectory_ids:
        paths += [f"/v1/trajectories/{trajectory_id}", f"/v1/trajectories/{trajectory_id}/timeline"]
    return paths


def test_rebuilding_while_serving_reads_answers_every_read_completely(
    app: App, story: Story
) -> None:
    worker = app.container.worker
    before = read_models(worker.database, worker.projections)
    expected: dict[str, Any] = {}
    for path in read_paths(story):
        response = app.http.get(path, headers=app.auth)
        assert response.status_code == 200, response.text
        expected[path] = response.json()

    def same_as_before(response: Any, path: str) -> None:
        assert response.status_code == 200, f"{response.status_code} {response.text}"
        answer = response.json()
        if path.startswith("/v1/board"):  # measured against the clock: compare what is stable
            answer, was = answer["trajectories"], expected[path]["trajectories"]
            assert [row["id"] for row in answer] == [row["id"] for row in was]
        else:
            assert answer == expected[path]

    with Readers(app, same_as_before, list(expected)) as readers:
        answers_before, rounds = readers.answers, 0
        while rounds < 2 or (readers.answers - answers_before < ANSWERS and rounds < 30):
            for projection in worker.projections:
                worker.rebuild(projection.name)
            rounds += 1
        answers_during = readers.answers - answers_before

    assert readers.failures == []
    assert answers_during >= ANSWERS
    assert read_models(worker.database, worker.projections) == before


def test_a_rebuild_by_another_process_while_commands_are_recorded_ends_equal_to_the_record(
    served: App,
) -> None:
    app = served
    story = told(app)
    record = app.container.care_record
    rebuilder = build_projection_worker(app.settings, record)  # as `projections rebuild` does
    rebuilder.batch_size = 7  # many transactions, so commands land between them
    writing_failures: list[BaseException] = []

    def complete(response: Any, path: str) -> None:
        assert response.status_code == 200, f"{response.status_code} {response.text}"
        answer = response.json()
        if "/timeline" in path:
            assert answer["entries"], path
        elif path.startswith("/v1/trajectories/"):
            assert answer["id"] == path.rsplit("/", 1)[1]
            assert answer["version"] >= 1

    def keep_writing(stop: threading.Event) -> None:
        chance = random.Random(29)
        try:
            while not stop.is_set():
                story.step(
                    chance.randrange(4), chance.randrange(10_000), chance.randrange(5), False
                )
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            writing_failures.append(error)

    stop_writing = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(stop_writing,), daemon=True)
    with Readers(app, complete, read_paths(story)) as readers:
        told_before, rounds = len(story.told), 0
        writer.start()
        while rounds < 1 or (len(story.told) - told_before < COMMANDS and rounds < 30):
            for projection in rebuilder.projections:
                rebuilder.rebuild(projection.name)
            rounds += 1
        told_during = len(story.told) - told_before
        stop_writing.set()
        writer.join(timeout=60)

    assert writing_failures == []
    assert told_during >= COMMANDS
    assert readers.failures == []
    # Check through a connection of its own: the serving worker's belongs to its thread.
    checker = build_projection_worker(app.settings, record)
    checker.catch_up()
    assert_read_models_equal_the_record(checker, story)
    checker.database.close()
    rebuilder.database.close()


def test_a_rebuild_in_the_serving_process_while_its_worker_follows_new_commands_ends_equal(
    served: App,
) -> None:
    """``ProjectionWorker.rebuild`` on the serving worker itself, from another thread, while
    its background thread follows the commands being recorded: both use the worker's one
    database connection, so they must take turns with it."""
    app = served
    story = told(app)
    worker = app.container.worker
    writing_failures: list[BaseException] = []

    def keep_writing(stop: threading.Event) -> None:
        chance = random.Random(31)
        try:
            while not stop.is_set():
                story.step(
                    chance.randrange(4), chance.randrange(10_000), chance.randrange(5), False
                )
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            writing_failures.append(error)

    stop_writing = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(stop_writing,), daemon=True)
    told_before, rounds = len(story.told), 0
    with structlog.testing.capture_logs() as logged:
        writer.start()
        try:
            while rounds < 1 or (len(story.told) - told_before < COMMANDS and rounds < 30):
                for projection in worker.projections:
                    worker.rebuild(projection.name)
                rounds += 1
        finally:
            stop_writing.set()
            writer.join(timeout=60)

    assert writing_failures == []
    assert [e for e in logged if e["log_level"] in ("error", "critical")] == []
    [following] = [t for t in app.container._threads if t.name == "projections"]
    assert following.is_alive(), "the background worker died"
    checker = build_projection_worker(app.settings, app.container.care_record)
    checker.catch_up()
    assert_read_models_equal_the_record(checker, story)
    checker.database.close()
