"""The minors' rules (issue #19 point 2), for both jurisdictions, with and without a capacity
assessment, and at the age boundaries a year of birth leaves uncertain."""

from datetime import date

import pytest

from domain.errors import InvalidValue
from domain.minors import (
    CapacityAssessment,
    Exerciser,
    Jurisdiction,
    check_birth_year,
    client_exercises,
    is_minor,
    needs_both_signatures,
    parent_exercises,
    possible_age,
    rights_of,
    who_exercises,
)

TODAY = date(2026, 3, 1)
CAPABLE = CapacityAssessment(capable=True, assessed_on=date(2026, 1, 10), author="user-an")
NOT_CAPABLE = CapacityAssessment(capable=False, assessed_on=date(2026, 1, 10), author="user-an")


def born_aged(age: int) -> int:
    """The year of birth of a client whose higher possible age today is ``age``."""
    return TODAY.year - age


def test_a_year_of_birth_counts_the_older_of_the_two_possible_ages() -> None:
    assert possible_age(2014, date(2026, 1, 1)) == 12
    assert possible_age(2014, date(2026, 12, 31)) == 12


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_a_client_of_age_exercises_their_rights_alone(jurisdiction: Jurisdiction) -> None:
    assert who_exercises(jurisdiction, born_aged(18), None, TODAY) == Exerciser.CLIENT
    assert who_exercises(jurisdiction, born_aged(40), NOT_CAPABLE, TODAY) == Exerciser.CLIENT


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_without_a_year_of_birth_the_client_counts_as_of_age(jurisdiction: Jurisdiction) -> None:
    assert who_exercises(jurisdiction, None, None, TODAY) == Exerciser.CLIENT
    assert not is_minor(None, TODAY)


@pytest.mark.parametrize("age", [0, 11, 12, 15, 16, 17])
def test_in_belgium_a_minor_without_assessment_is_represented_by_the_parents(age: int) -> None:
    exerciser = who_exercises(Jurisdiction.BE, born_aged(age), None, TODAY)
    assert exerciser == Exerciser.PARENTS
    assert parent_exercises(exerciser)
    assert not client_exercises(exerciser)


@pytest.mark.parametrize("age", [8, 12, 17])
def test_in_belgium_a_minor_judged_capable_exercises_their_rights_and_the_parent_loses_them(
    age: int,
) -> None:
    exerciser = who_exercises(Jurisdiction.BE, born_aged(age), CAPABLE, TODAY)
    assert exerciser == Exerciser.CLIENT
    assert client_exercises(exerciser)
    assert not parent_exercises(exerciser)


def test_in_belgium_a_judgement_of_incapacity_leaves_the_rights_with_the_parents() -> None:
    assert who_exercises(Jurisdiction.BE, born_aged(15), NOT_CAPABLE, TODAY) == Exerciser.PARENTS


def test_in_belgium_an_assessment_counts_from_its_date() -> None:
    later = CapacityAssessment(capable=True, assessed_on=date(2026, 6, 1), author="user-an")
    assert who_exercises(Jurisdiction.BE, born_aged(14), later, TODAY) == Exerciser.PARENTS


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (0, Exerciser.PARENTS),
        (11, Exerciser.PARENTS),
        (12, Exerciser.TOGETHER),
        (15, Exerciser.TOGETHER),
        (16, Exerciser.CLIENT),
        (17, Exerciser.CLIENT),
    ],
)
@pytest.mark.parametrize("assessment", [None, CAPABLE, NOT_CAPABLE])
def test_in_the_netherlands_the_wgbo_age_bands_decide_whatever_the_assessment(
    age: int, expected: Exerciser, assessment: CapacityAssessment | None
) -> None:
    assert who_exercises(Jurisdiction.NL, born_aged(age), assessment, TODAY) == expected


def test_in_the_netherlands_from_12_both_sign_and_both_see() -> None:
    together = who_exercises(Jurisdiction.NL, born_aged(13), None, TODAY)
    assert needs_both_signatures(together)
    assert client_exercises(together)
    assert parent_exercises(together)
    assert not needs_both_signatures(who_exercises(Jurisdiction.NL, born_aged(16), None, TODAY))


def test_a_child_who_may_already_be_twelve_is_not_kept_out_of_their_own_plan() -> None:
    """Born in 2014: on 1 January 2026 still 11 or already 12 — counted as 12 (the rule that
    protects the minor: their own rights start at the earliest day they may hold them)."""
    exerciser = who_exercises(Jurisdiction.NL, 2014, None, date(2026, 1, 1))
    assert exerciser == Exerciser.TOGETHER


def test_a_year_of_birth_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidValue):
        check_birth_year(2027, TODAY)
    assert check_birth_year(2010, TODAY) == 2010


@pytest.mark.parametrize(
    ("jurisdiction", "age", "assessment", "client", "parent"),
    [
        (Jurisdiction.BE, 10, None, None, Exerciser.PARENTS),
        (Jurisdiction.BE, 10, CAPABLE, Exerciser.CLIENT, None),
        (Jurisdiction.BE, 17, NOT_CAPABLE, None, Exerciser.PARENTS),
        (Jurisdiction.NL, 11, CAPABLE, None, Exerciser.PARENTS),
        (Jurisdiction.NL, 12, None, Exerciser.TOGETHER, Exerciser.TOGETHER),
        (Jurisdiction.NL, 15, None, Exerciser.TOGETHER, Exerciser.TOGETHER),
        (Jurisdiction.NL, 16, None, Exerciser.CLIENT, None),
    ],
)
def test_who_may_act_the_client_or_the_parent_representative(
    jurisdiction: Jurisdiction,
    age: int,
    assessment: CapacityAssessment | None,
    client: Exerciser | None,
    parent: Exerciser | None,
) -> None:
    for as_client, expected in ((True, client), (False, parent)):
        exerciser = rights_of(
            jurisdiction,
            as_client=as_client,
            birth_year=born_aged(age),
            assessment=assessment,
            on=TODAY,
        )
        assert exerciser == expected


@pytest.mark.parametrize("jurisdiction", list(Jurisdiction))
def test_a_representative_of_a_client_of_age_keeps_what_the_client_appointed_them_for(
    jurisdiction: Jurisdiction,
) -> None:
    for birth_year in (born_aged(30), None):
        assert (
            rights_of(
                jurisdiction, as_client=False, birth_year=birth_year, assessment=None, on=TODAY
            )
            == Exerciser.CLIENT
        )
