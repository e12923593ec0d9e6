"""The XES export (issue #13), read back as a process-mining analyst would: with pm4py.

Its directly-follows counts are those ``traces.trace`` gives over the variants it keeps; a
variant followed by fewer than k trajectories is not in it; and nothing of the record's that
could point back to a person or an organisation occurs in its bytes.
"""

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from uuid import uuid4

import pm4py
import pytest

from domain.deadlines import Fact
from projections.statistics import traces
from projections.statistics import units as u
from projections.statistics.traces import Step, trace
from projections.statistics.xes import EPOCH, ExportScope, write_xes

K = 3
REFERRED = date(2026, 2, 9)
KINDS = {"org-de-linde": "school", "org-het-anker": "provider"}
SCOPE = ExportScope(
    authorisation_id="8f0c2f4e-0000-4000-8000-000000000001",
    purpose="Where trajectories block",
    legal_basis="scientific_research",
    region="west-flanders",
    period="2026Q1",
    k=K,
)


def day(n: int) -> date:
    return REFERRED + timedelta(days=n)


def common_unit() -> u.UnitRecord:
    """Referred, accepted, a start consultation with a school and a provider, blocked and
    unblocked, the plan signed, closed: the path most trajectories follow here."""
    return u.UnitRecord(
        trajectory_id=str(uuid4()),
        region="west-flanders",
        sector="youth_care",
        referred_on=REFERRED,
        facts=(Fact("accepted", day(1)), Fact("closed", day(120))),
        details=(
            u.Consulted(
                day(8),
                "start",
                "present",
                ("org-de-linde", "org-het-anker"),
                3,
                ("planmaker", "provider"),
            ),
            u.Blocked(day(20), ("waiting_list",)),
            u.Unblocked(day(40)),
            u.Signed(day(45), "client"),
            u.Consulted(day(120), "end", "present", ("org-het-anker",), 2, ("planmaker",)),
        ),
    )


def rare_unit() -> u.UnitRecord:
    """Referred, accepted, escalated to the policy level: a path only one trajectory took."""
    return u.UnitRecord(
        trajectory_id=str(uuid4()),
        region="west-flanders",
        sector="mental_health",
        referred_on=REFERRED,
        facts=(Fact("accepted", day(2)),),
        details=(u.EscalationRaised(day(30), "esc-7", "policy", "funding"),),
    )


def read_back(document: bytes, tmp_path: Path) -> object:
    path = tmp_path / "export.xes"
    path.write_bytes(document)
    return pm4py.read_xes(str(path))


def test_a_trace_counts_whole_weeks_since_the_referral_in_the_order_things_happened() -> None:
    steps = trace(common_unit())

    assert steps == (
        Step(traces.REFERRAL, 0),
        Step(traces.ACCEPTED, 0),
        Step("consultation:start", 1),
        Step(traces.BLOCKED, 2),
        Step(traces.UNBLOCKED, 5),
        Step(traces.PLAN_SIGNED, 6),
        Step("consultation:end", 17),
        Step(traces.CLOSED, 17),  # the closure comes last on its day
    )


def test_on_one_day_a_waiver_comes_before_the_other_steps_and_an_evaluation_after_them() -> None:
    unit = u.UnitRecord(
        trajectory_id=str(uuid4()),
        region="west-flanders",
        sector="youth_care",
        referred_on=REFERRED,
        # Stored apart from the steps they share a day with: facts after details.
        facts=(Fact("evaluated", day(60)), Fact("waived:three_month", day(60))),
        details=(
            u.Consulted(day(60), "ad_hoc", "present", ("org-het-anker",), 2, ("planmaker",)),
            u.Signed(day(60), "client"),
        ),
    )

    assert [step.activity for step in trace(unit)] == [
        traces.REFERRAL,
        "consultation_waived:three_month",
        "consultation:ad_hoc",
        traces.PLAN_SIGNED,
        traces.EVALUATED,
    ]


def test_pm4py_reads_the_directly_follows_counts_of_the_kept_variants(tmp_path: Path) -> None:
    units = [common_unit() for _ in range(K)] + [rare_unit()]

    export = write_xes(units, KINDS, SCOPE)
    log = read_back(export.document, tmp_path)
    dfg, starts, ends = pm4py.discover_dfg(log)

    kept = [trace(unit) for unit in units[:K]]
    assert dict(dfg) == traces.directly_follows(kept)
    assert starts == {traces.REFERRAL: K}
    assert ends == {traces.CLOSED: K}
    assert export.traces_left_out == 1


def test_a_variant_fewer_than_k_trajectories_follow_is_left_out_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    units = [common_unit() for _ in range(K)] + [rare_unit()]

    export = write_xes(units, KINDS, SCOPE)
    log = read_back(export.document, tmp_path)

    assert traces.ESCALATION_RAISED not in set(log["concept:name"])  # type: ignore[index]
    assert log["case:concept:name"].nunique() == K  # type: ignore[index]
    assert units[-1].trajectory_id not in export.trajectory_ids
    assert b'key="rodedraad:traces_left_out" value="1"' in export.document
    assert SCOPE.authorisation_id.encode() in export.document
    assert b"Pseudonymised personal data" in export.document


def test_no_date_organisation_or_trajectory_id_of_the_record_occurs_in_the_export() -> None:
    units = [common_unit() for _ in range(K)]

    document = write_xes(units, KINDS, SCOPE).document

    for unit in units:
        assert unit.trajectory_id.encode() not in document
        assert unit.trajectory_id.replace("-", "").encode() not in document
    for n in range(200):
        assert day(n).isoformat().encode() not in document
    for organisation in KINDS:
        assert organisation.encode() not in document
    assert b"provider+school" in document  # the organisations as their kinds


def test_case_ids_differ_between_two_exports_of_the_same_trajectories() -> None:
    units = [common_unit() for _ in range(K)]

    first = write_xes(units, KINDS, SCOPE).document
    second = write_xes(units, KINDS, SCOPE).document

    assert first != second  # a fresh secret each time: two exports cannot be linked


def test_timestamps_stand_on_the_fixed_epoch(tmp_path: Path) -> None:
    log = read_back(write_xes([common_unit() for _ in range(K)], KINDS, SCOPE).document, tmp_path)

    closed = log[log["concept:name"] == traces.CLOSED]  # type: ignore[index]
    moment = closed["time:timestamp"].iloc[0].to_pydatetime()
    assert (moment - EPOCH) // timedelta(weeks=1) == 17


@pytest.mark.parametrize("k", [1, 5])
def test_k_decides_what_is_kept(k: int) -> None:
    units = [common_unit() for _ in range(3)] + [rare_unit()]
    export = write_xes(units, KINDS, replace(SCOPE, k=k))

    assert len(export.trajectory_ids) == (4 if k == 1 else 0)
