"""A learning network's cadence per calendar year (issue #14 point 3, seed 001): live from the
first full year after its establishment; a year short of a kind of meeting is missed once, a
quarter without a meeting of the region's network is reminded once; the numbers are the
policy's."""

from datetime import UTC, date, datetime

from domain.learning_network import LearningNetwork, MeetingKind, NetworkLevel
from domain.network_cadence import (
    Cadence,
    CadenceFact,
    CadenceFactKind,
    cadence_due,
    first_live_year,
)
from scheduler.policy import default_policy_text, load_policy
from tests.support import context

ESTABLISHED = datetime(2025, 5, 12, 10, tzinfo=UTC)
POLICY = Cadence(learning_network=4, sector_consultation=1, forum=1)


def keys(facts: list[CadenceFact]) -> list[str]:
    return [f.key for f in facts]


def test_the_rule_is_live_from_the_first_full_year_after_establishment() -> None:
    assert first_live_year(ESTABLISHED) == 2026
    assert first_live_year(datetime(2026, 1, 1, tzinfo=UTC)) == 2026
    assert first_live_year(datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)) == 2027


def test_nothing_is_due_before_the_first_live_year_ends_its_first_quarter() -> None:
    assert cadence_due("meso", ESTABLISHED, [], datetime(2026, 3, 31, tzinfo=UTC), POLICY) == []


def test_a_quarter_without_a_meeting_of_the_regions_network_is_reminded() -> None:
    met = [("learning_network", date(2026, 2, 3))]
    due = cadence_due("meso", ESTABLISHED, met, datetime(2026, 7, 2, tzinfo=UTC), POLICY)
    assert keys(due) == ["reminder:learning_network:2026Q2"]


def test_a_year_that_ends_short_is_missed_per_kind_of_meeting() -> None:
    met = [("learning_network", date(2026, m, 10)) for m in (2, 5, 8)]
    due = cadence_due("meso", ESTABLISHED, met, datetime(2027, 1, 2, tzinfo=UTC), POLICY)
    missed = [f for f in due if f.fact == CadenceFactKind.MISSED]
    assert [(f.meeting_kind, f.period, f.required, f.held) for f in missed] == [
        ("learning_network", "2026", 4, 3),
        ("sector_consultation", "2026", 1, 0),
    ]
    assert keys([f for f in due if f.fact == CadenceFactKind.REMINDER]) == [
        "reminder:learning_network:2026Q4"
    ]


def test_a_year_that_met_the_cadence_owes_nothing() -> None:
    met = [("learning_network", date(2026, m, 10)) for m in (2, 5, 8, 11)]
    met.append(("sector_consultation", date(2026, 6, 1)))
    assert cadence_due("meso", ESTABLISHED, met, datetime(2027, 1, 2, tzinfo=UTC), POLICY) == []


def test_the_forum_owes_one_forum_meeting_a_year_and_gets_no_quarterly_reminder() -> None:
    due = cadence_due("macro", ESTABLISHED, [], datetime(2027, 1, 2, tzinfo=UTC), POLICY)
    assert keys(due) == ["missed:forum:2026"]


def test_the_numbers_are_the_policy_files() -> None:
    defaults = load_policy(default_policy_text(), "default policy")
    assert defaults.cadence == POLICY
    policy = load_policy(
        "[learning_network]\nsessions_per_year = 6\nsector_consultations_per_year = 2\n",
        base=defaults,
    )
    assert policy.cadence == Cadence(learning_network=6, sector_consultation=2, forum=1)


def _network(level: NetworkLevel = NetworkLevel.MESO) -> LearningNetwork:
    ctx = context(ESTABLISHED, now=datetime(2027, 1, 2, tzinfo=UTC))
    return LearningNetwork.establish(
        ctx,
        level=level,
        region="west-flanders" if level == NetworkLevel.MESO else None,
        coordinating_organisation="org-chair",
    )


def test_a_network_records_each_cadence_fact_once() -> None:
    network = _network()
    now = datetime(2027, 1, 2, tzinfo=UTC)
    due = network.cadence_due(now, POLICY)
    assert len(due) == 2 + 4  # two kinds short in 2026, four quarters without a meeting
    ctx = context(now, now=now)
    assert all(network.record_cadence(ctx, fact) for fact in due)
    assert not any(network.record_cadence(ctx, fact) for fact in due)
    assert network.cadence_due(now, POLICY) == []
    kinds = [type(e).__name__ for e in network.collect_events()]
    assert kinds.count("CadenceMissed") == 2
    assert kinds.count("CadenceReminderIssued") == 4


def test_a_closed_network_owes_nothing() -> None:
    network = _network()
    network.close(
        context(datetime(2026, 3, 1, tzinfo=UTC), now=datetime(2027, 1, 2, tzinfo=UTC)),
        reason="merged",
    )
    assert network.cadence_due(datetime(2027, 1, 2, tzinfo=UTC), POLICY) == []


def test_meetings_held_count_for_the_year_they_were_held_in() -> None:
    network = _network()
    now = datetime(2027, 1, 2, tzinfo=UTC)
    ctx = context(datetime(2026, 12, 20, tzinfo=UTC), now=now)
    network.hold_meeting(
        ctx,
        meeting_id="m-1",
        kind=MeetingKind.SECTOR_CONSULTATION,
        held_on=date(2026, 12, 20),
        members_present=["org-chair"],
        themes_discussed=[],
        releases_consulted=[],
        conclusions=[],
        known_release=lambda n: False,
    )
    assert "missed:sector_consultation:2026" not in keys(network.cadence_due(now, POLICY))
    assert "reminder:learning_network:2026Q4" not in keys(network.cadence_due(now, POLICY))
