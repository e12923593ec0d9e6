"""A period released again on a store like a deployment's (issue #12, found by an outside walk):
on the demo data set, `rodedraad statistics release --period 2025` after one client was
registered refused, its audit saying a cell "can be narrowed … by what is published already",
and so did a revision with a late fact in one region. Run as an operator runs it: the demo
loaded by its command, facts recorded through the API, the release by the command line.
Slow: the demo at 300 trajectories loads in about a minute, the revision takes half of one.
"""

import dataclasses
import os
import subprocess
import sys
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
    container = Container.build(dataclasses.replace(settings, embedded_workers=False))
    try:
        with TestClient(app=container.http_app()) as http:
            token = token_factory(settings)(org="yc-wvl-1", region=LATE_REGION)
            answer = http.post(path, json=body, headers=bearer(token))
            assert answer.status_code == 201, answer.text
            return str(answer.json()["id"])
    finally:
        container.close()


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

    # A trajectory of 2025 recorded late, in one region: a revision, the other regions said
    # again as they were, the region with the late fact protected and audited anew.
    _recorded(
        settings,
        "/v1/trajectories",
        {
            "client_id": client,
            "occurred_at": "2025-03-02T10:00:00+01:00",
            "question": "Support at home",
            "sector": "youth_care",
            "region": LATE_REGION,
            "referrer_organisation": "yc-wvl-1",
            "referrer_engagement": "The referrer stays involved",
            "client_criteria": ["under 18"],
        },
    )
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
