"""Every trajectory of the benchmark's small workload exports as a FHIR Bundle that parses
(issue #18): a thousand generated trajectories through every path of the procedures (declined,
blocked, escalated, handed over, continued, closed), each through the function the route uses.

Loaded in bulk into SQLite (the bundle is built from the events, which both backends hold the
same; the HTTP tests run both). About a minute on the CI machine.
"""

from datetime import UTC, datetime

from benchmarks.releases import load_workload
from benchmarks.workload import SIZES, default_as_of

from application.fhir import trajectory_bundle
from domain.trajectory import Trajectory
from rodedraad.settings import Settings
from rodedraad.wiring import build_care_record
from tests.e2e.test_fhir_export_http import check_bundle


def test_a_bundle_of_every_trajectory_of_the_small_workload_parses(
    sqlite_settings: Settings,
) -> None:
    loaded = load_workload(sqlite_settings, SIZES["small"], seed=7, as_of=default_as_of())
    record = build_care_record(sqlite_settings)
    try:
        ids = record._created(Trajectory.Referred)  # the record's own look-up by creation topic
        assert len(ids) == loaded["trajectories"] == SIZES["small"]
        kinds: set[str] = set()
        statuses: set[str] = set()
        for trajectory_id in ids:
            bundle = trajectory_bundle(
                record,
                trajectory_id,
                personal_details=lambda _: True,
                now=datetime.now(UTC),
                client_record=lambda _: True,
            )
            check_bundle(bundle)
            kinds |= {e["resource"]["resourceType"] for e in bundle["entry"]}
            statuses |= {
                e["resource"]["status"]
                for e in bundle["entry"]
                if e["resource"]["resourceType"] == "CarePlan"
            }
    finally:
        record.close()
    assert kinds >= {
        "Patient",
        "EpisodeOfCare",
        "CarePlan",
        "Goal",
        "CareTeam",
        "Provenance",
        "Encounter",
        "Organization",
    }
    assert statuses >= {"draft", "active", "completed", "revoked"}
