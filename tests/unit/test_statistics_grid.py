"""One grid of periods per deployment (README, "One grid, not two"): the periods that fall due
are of it alone, and a year and its quarters know each other as overlapping."""

from datetime import date

import pytest

from projections.statistics.model import Period, periods_ended_by


def test_a_year_and_its_quarters_overlap_and_nothing_else_does() -> None:
    year = Period(2025)
    assert year.overlapping() == tuple(Period(2025, q) for q in range(1, 5))
    assert Period(2025, 3).overlapping() == (year,)
    assert all(year.overlaps(p) for p in year.overlapping())
    assert not Period(2024).overlaps(Period(2025, 1))


def test_a_period_is_on_one_grid() -> None:
    assert Period(2025).on("years")
    assert not Period(2025).on("quarters")
    assert Period(2025, 2).on("quarters")
    assert not Period(2025, 2).on("years")
    with pytest.raises(ValueError, match="no grid 'Years'"):
        Period(2025).on("Years")  # type: ignore[arg-type]


def test_the_periods_falling_due_are_of_the_grid_alone() -> None:
    since = date(2024, 11, 5)
    today = date(2026, 1, 30)  # 2025 became publishable today; 2025Q4 too (30 days' lag)
    years = list(periods_ended_by(today, 30, since, "years"))
    quarters = list(periods_ended_by(today, 30, since, "quarters"))
    assert years == [Period(2024), Period(2025)]
    assert quarters == [
        *(Period(2024, q) for q in range(1, 5)),
        *(Period(2025, q) for q in range(1, 5)),
    ]
    assert list(periods_ended_by(date(2026, 1, 29), 30, since, "years")) == [Period(2024)]
