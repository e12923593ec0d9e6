"""The demo data set is dense enough for the pictures (issue #23, "done when"): after the demo
loader ``make demo`` runs (at its default size), a region's process map of a published release
draws at least ten transitions, and at least one transition that occurred is withheld, and so
not drawn. Slow (the demo loads 2,000 trajectories and makes its releases under the laws: about
4 minutes alone on two cores, 6 beside a test run).
"""

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from benchmarks.demo import densest_map
from litestar.testing import TestClient

from projections.statistics.dynamics import DYNAMICS
from projections.statistics.model import Period
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_policy, build_release_store, build_releases
from tests.e2e.conftest import token_factory
from tests.e2e.test_readme_walkthrough import ROOT

BASE = "https://testserver.local"
EDGE_TITLE = re.compile(r"<g class=\"edge\"><title>([^<]+?) → ([^<]+?): \d+")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo loaded as ``make demo`` loads it, into a data dir of its own."""
    data = tmp_path_factory.mktemp("demo")
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks", "demo", "--data-dir", str(data)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("RODEDRAAD_")},
    )
    return Settings.from_env({"RODEDRAAD_DATA_DIR": str(data)})


@pytest.fixture(scope="module")
def http(demo: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    container = Container.build(dataclasses.replace(demo, embedded_workers=False))
    try:
        with TestClient(app=container.http_app(), base_url=BASE) as client:
            yield client
    finally:
        container.close()


def occurred_edges(settings: Settings, number: int, region: str) -> set[tuple[str, str]]:
    """The transitions that occurred in the release's period and region, as counted before
    disclosure control (from the read models the release was computed from)."""
    store = build_release_store(settings)
    try:
        release = store.release(number)
    finally:
        store.close()
    assert release is not None
    releases = build_releases(settings, build_policy(settings))
    try:
        population, _ = releases.population(Period.parse(release.period))
    finally:
        releases.store.close()
        releases.read_models.close()
    found = set()
    for key in population.counts:
        if key.table != DYNAMICS or key.region != region or not key.category.startswith("edge:"):
            continue
        if population.value(key) > 0:
            source, _, target = key.category.removeprefix("edge:").partition(">")
            found.add((source, target))
    return found


def test_the_demos_process_map_draws_ten_transitions_and_withholds_one(
    demo: Settings,
    http: TestClient,  # type: ignore[type-arg]
) -> None:
    shown = densest_map(demo)
    assert shown is not None, "the demo made no statistics release drawing a transition"
    number, region = shown
    token = token_factory(demo)(
        user="lena", org="network-org", roles=("learning_network",), region=region
    )
    answer = http.get(
        f"/ui/statistics/releases/{number}/process-map?region={region}",
        headers={"Cookie": f"rd_session={token}"},
    )
    assert answer.status_code == 200, answer.text
    drawn = set(EDGE_TITLE.findall(answer.text))
    assert answer.text.count('<g class="edge">') == len(drawn) >= 10
    occurred = occurred_edges(demo, number, region)
    assert drawn <= occurred  # every drawn transition occurred
    withheld = occurred - drawn
    assert len(withheld) >= 1  # and some that occurred are not drawn: suppressed
    table = answer.text.split("<caption>")[1]
    for source, target in withheld:
        assert f"<td>{source}</td><td>{target}</td>" not in table
