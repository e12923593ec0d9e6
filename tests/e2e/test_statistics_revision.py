"""A period released again on a store like a deployment's (issue #12, found by an outside walk):
on the demo data set, `rodedraad statistics release --period 2025` after one client was
registered refused, its audit saying a cell "can be narrowed … by what is published already",
and so did a revision with a late fact in one region. Run as an operator runs it: the demo
loaded by its command, facts recorded through the API, the release by the command line.
Slow: the demo at 300 trajectories loads in about a minute, the revision takes half of one.

Since an outside probe (2026-12-07), one late trajectory no longer makes a revision: its
region's published counts would differ from release 1's by one, a group below k, so the region
is held back and nothing else changed (README, "A region a revision cannot revise is held
back"); k late trajectories there make one.
"""

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from litestar.testing import TestClient

from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_release_store
from tests.e2e.conftest import token_factory
from tests.e2e.steps import bearer
from tests.e2e.test_readme_walkthrough import ROOT

#: Regions and a demo small enough for a test; its 2025 still refused before the fixes.
SIZE = 300
LATE_REGION = "west-flanders"


def _environment(data: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("RODEDRAAD_")}
    return {**kept, "RODEDRAAD_DATA_DIR": str(data)}


def _rodedraad(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rodedraad.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_environment(data),
        check=False,
    )


def _recorded(settings: Settings, path: str, body: dict[str, object]) -> str:
    """Record one fact through the API (the read models follow when the command runs)."""
    return _late_trajectories(settings, 0, [(path, body)])[0]


def _late_trajectories(
    settings: Settings, count: int, before: Sequence[tuple[str, dict[str, object]]] = ()
) -> list[str]:
    """Record the facts ``before``, then ``count`` trajectories of 2025 in the late region,
    alike, each of a client of its own registered now, through the API in one process."""
    container = Container.build(dataclasses.replace(settings, embedded_workers=False))
    try:
        with TestClient(app=container.http_app()) as http:
            token = token_factory(settings)(org="yc-wvl-1", region=LATE_REGION)

            def post(path: str, body: dict[str, object]) -> str:
                answer = http.post(path, json=body, headers=bearer(token))
                assert answer.status_code == 201, answer.text
                return str(answer.json()["id"])

            ids = [post(path, body) for path, body in before]
            for n in range(count):
                client = post(
                    "/v1/clients",
                    {"occurred_at": "2026-11-02T09:00:00+01:00", "name": f"Late Client {n}"},
                )
                ids.append(post("/v1/trajectories", _late_trajectory(client)))
            return ids
    finally:
        container.close()


def _late_trajectory(client: str) -> dict[str, object]:
    return {
        "client_id": client,
        "occurred_at": "2025-03-02T10:00:00+01:00",
        "question": "Support at home",
        "sector": "youth_care",
        "region": LATE_REGION,
        "referrer_organisation": "yc-wvl-1",
        "referrer_engagement": "The referrer stays involved",
        "client_criteria": ["under 18"],
    }


def test_a_period_is_released_again_only_where_its_facts_changed(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks", "demo", "--size", str(SIZE), "--data-dir", str(data)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env=_environment(data),
    )
    settings = Settings.from_env({"RODEDRAAD_DATA_DIR": str(data)})
    store = build_release_store(settings)
    try:
        year = next(r for r in store.releases() if r.period == "2025")
        regions = year.regions
    finally:
        store.close()
    assert LATE_REGION in regions

    # A client registered after the release: no fact of 2025 changed.
    client = _recorded(
        settings, "/v1/clients", {"occurred_at": "2026-11-02T09:00:00+01:00", "name": "Jan Peeters"}
    )
    again = _rodedraad(data, "statistics", "release", "--period", "2025")
    assert again.returncode == 0, again.stderr
    assert f"release {year.number} of 2025 already says all there is to say" in again.stderr

    # A trajectory of 2025 recorded late, in one region: its counts would be one up from the
    # year's release, a group of one, so the region is held back and nothing else changed.
    _recorded(settings, "/v1/trajectories", _late_trajectory(client))
    held = _rodedraad(data, "statistics", "release", "--period", "2025")
    assert held.returncode == 0, held.stderr
    said = re.search(
        rf"release {year.number} of 2025 already says all a revision may: {LATE_REGION} would "
        rf"be held back at its figures \((\w+)/{LATE_REGION}/\S+ of this revision differs from "
        rf"what release {year.number} published by fewer than k=10, and not by none: the "
        r"difference would tell a group smaller than k\), and no other region's figures changed",
        held.stderr,
    )
    assert said is not None, held.stderr

    # Nine more, alike: ten late trajectories, k of them, a revision; the other regions said
    # again as they were, the region with the late facts protected and audited anew.
    _late_trajectories(settings, 9)
    revised = _rodedraad(data, "statistics", "release", "--period", "2025")
    assert revised.returncode == 0, revised.stderr
    assert f"revising release {year.number}" in revised.stdout + revised.stderr
    store = build_release_store(settings)
    try:
        latest = store.releases()[0]
        assert (latest.period, latest.revises) == ("2025", year.number)
        assert latest.audit.said_again == sorted(set(regions) - {LATE_REGION})
        before = store.cells(year.number, "flow")
        after = store.cells(latest.number, "flow")
    finally:
        store.close()
    for region in set(regions) - {LATE_REGION}:
        assert after[region] == before[region], f"{region} is said again as it was"
    # Every count published in both differs by none or by k at least (k = 10).
    was = {
        (c.sector, c.category): c.value
        for c in before[LATE_REGION]
        if c.kind == "count" and c.value is not None
    }
    now = {
        (c.sector, c.category): c.value
        for c in after[LATE_REGION]
        if c.kind == "count" and c.value is not None
    }
    moved = {
        cell: now[cell] - was[cell] for cell in was.keys() & now.keys() if now[cell] != was[cell]
    }
    assert moved
    assert all(abs(d) >= 10 for d in moved.values()), moved
