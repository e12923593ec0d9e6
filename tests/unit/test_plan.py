"""The support plan (004): goals, actions, the signature that puts it in force, evaluation."""

from collections.abc import Callable
from datetime import date

import pytest

from domain.common import PdcaPhase, ReasonCategory, Signatory, add_months
from domain.errors import (
    EvaluationIntervalTooLong,
    InvalidValue,
    ItemNotFound,
    PlanNotInForce,
    TransitionNotAllowed,
)
from domain.trajectory import (
    EVALUATION_INTERVAL_MONTHS,
    PLAN_VALIDITY_MONTHS,
    AgreedAction,
    Trajectory,
)
from tests.unit.builders import (
    PROVIDER,
    accepted,
    active,
    at,
    ctx,
    day_of,
    last_event,
    new_events,
    on,
    set_goal,
    sign,
    signed,
)


def _with_goal() -> Trajectory:
    trajectory = active()
    set_goal(trajectory, day=6)
    return trajectory


def _evaluate(trajectory: Trajectory, day: int, next_evaluation_on: date | None = None) -> None:
    trajectory.evaluate(
        ctx(day),
        results="Sam gaat drie dagen per week naar school",
        blocking=(ReasonCategory.WAITING_LIST,),
        pdca_phase=PdcaPhase.TRY_OUT,
        new_agreements=("vervoer regelen", "  "),
        next_evaluation_on=next_evaluation_on,
    )


# --- goals --------------------------------------------------------------------------------------


def test_a_goal_is_set_with_its_description() -> None:
    trajectory = active()

    trajectory.set_goal(ctx(6), goal_id="goal-school", description="  Sam gaat naar school ")

    goal = trajectory.goals["goal-school"]
    assert goal.description == "Sam gaat naar school"
    assert goal.set_at == at(6)
    assert goal.closed_at is None


def test_a_goal_may_be_set_before_the_start_consultation() -> None:
    trajectory = accepted()

    set_goal(trajectory, day=2)

    assert "goal-school" in trajectory.goals


def test_a_goal_needs_a_description() -> None:
    trajectory = active()

    with pytest.raises(InvalidValue) as refused:
        trajectory.set_goal(ctx(6), goal_id="goal-school", description=" ")

    assert refused.value.field == "description"


@pytest.mark.parametrize("goal_id", ["goal-school", ""], ids=["already used", "empty"])
def test_a_goal_needs_an_id_of_its_own(goal_id: str) -> None:
    trajectory = _with_goal()

    with pytest.raises(InvalidValue) as refused:
        trajectory.set_goal(ctx(7), goal_id=goal_id, description="Sam sport")

    assert refused.value.field == "goal_id"


def test_a_revised_goal_has_the_new_description() -> None:
    trajectory = _with_goal()

    trajectory.revise_goal(
        ctx(30), goal_id="goal-school", description="Sam gaat voltijds", reason=" loopt vlot "
    )

    assert trajectory.goals["goal-school"].description == "Sam gaat voltijds"
    event = last_event(trajectory, Trajectory.GoalRevised)
    assert (event.goal_id, event.reason) == ("goal-school", "loopt vlot")


def test_a_revised_goal_needs_a_description() -> None:
    trajectory = _with_goal()

    with pytest.raises(InvalidValue):
        trajectory.revise_goal(ctx(30), goal_id="goal-school", description="", reason="")


def test_a_closed_goal_records_its_outcome() -> None:
    trajectory = _with_goal()

    trajectory.close_goal(ctx(50), goal_id="goal-school", outcome="bereikt")

    goal = trajectory.goals["goal-school"]
    assert (goal.closed_at, goal.outcome) == (at(50), "bereikt")


def test_closing_a_goal_needs_an_outcome() -> None:
    trajectory = _with_goal()

    with pytest.raises(InvalidValue) as refused:
        trajectory.close_goal(ctx(50), goal_id="goal-school", outcome=" ")

    assert refused.value.field == "outcome"


def test_a_goal_is_closed_once() -> None:
    trajectory = _with_goal()
    trajectory.close_goal(ctx(50), goal_id="goal-school", outcome="bereikt")

    with pytest.raises(TransitionNotAllowed):
        trajectory.close_goal(ctx(51), goal_id="goal-school", outcome="nogmaals")


def test_a_closed_goal_is_not_revised_but_replaced_by_a_new_goal() -> None:
    trajectory = _with_goal()
    trajectory.close_goal(ctx(50), goal_id="goal-school", outcome="niet haalbaar")

    with pytest.raises(TransitionNotAllowed):
        trajectory.revise_goal(ctx(51), goal_id="goal-school", description="anders", reason="")


@pytest.mark.parametrize(
    "command",
    [
        lambda t: t.revise_goal(ctx(30), goal_id="goal-x", description="x", reason=""),
        lambda t: t.close_goal(ctx(30), goal_id="goal-x", outcome="x"),
    ],
    ids=["revise", "close"],
)
def test_a_goal_the_trajectory_does_not_hold_is_not_found(
    command: Callable[[Trajectory], None],
) -> None:
    trajectory = _with_goal()

    with pytest.raises(ItemNotFound) as refused:
        command(trajectory)

    assert refused.value.field == "goal_id"


# --- actions ------------------------------------------------------------------------------------


def test_an_action_is_agreed_with_an_owner_and_a_due_date() -> None:
    trajectory = _with_goal()

    trajectory.agree_action(
        ctx(10),
        action_id="act-1",
        description=" school bellen ",
        owner=PROVIDER.organisation,
        due_on=on(17),
        goal_id="goal-school",
    )

    assert trajectory.actions["act-1"] == AgreedAction(
        description="school bellen",
        owner=PROVIDER.organisation,
        due_on=on(17),
        goal_id="goal-school",
    )


def test_an_action_may_be_due_on_the_day_it_is_agreed() -> None:
    trajectory = _with_goal()

    trajectory.agree_action(
        ctx(10), action_id="act-1", description="bellen", owner="org-x", due_on=on(10), goal_id=None
    )

    assert trajectory.actions["act-1"].due_on == on(10)


def test_an_action_is_not_due_before_it_was_agreed() -> None:
    trajectory = _with_goal()

    with pytest.raises(InvalidValue) as refused:
        trajectory.agree_action(
            ctx(10),
            action_id="act-1",
            description="bellen",
            owner="org-x",
            due_on=on(9),
            goal_id=None,
        )

    assert refused.value.field == "due_on"


def test_an_action_needs_no_due_date_or_goal() -> None:
    trajectory = _with_goal()

    trajectory.agree_action(
        ctx(10), action_id="act-1", description="bellen", owner="org-x", due_on=None, goal_id=None
    )

    action = trajectory.actions["act-1"]
    assert (action.due_on, action.goal_id) == (None, None)


def test_an_action_serves_a_goal_of_the_trajectory() -> None:
    trajectory = _with_goal()

    with pytest.raises(ItemNotFound) as refused:
        trajectory.agree_action(
            ctx(10),
            action_id="act-1",
            description="bellen",
            owner="org-x",
            due_on=None,
            goal_id="g-x",
        )

    assert refused.value.field == "goal_id"


@pytest.mark.parametrize("field", ["description", "owner"])
def test_an_action_says_what_and_who(field: str) -> None:
    trajectory = _with_goal()
    details = {"description": "bellen", "owner": "org-x"} | {field: "  "}

    with pytest.raises(InvalidValue) as refused:
        trajectory.agree_action(ctx(10), action_id="act-1", due_on=None, goal_id=None, **details)

    assert refused.value.field == field


def test_an_action_needs_an_id_of_its_own() -> None:
    trajectory = _with_goal()
    trajectory.agree_action(
        ctx(10), action_id="act-1", description="bellen", owner="org-x", due_on=None, goal_id=None
    )

    with pytest.raises(InvalidValue) as refused:
        trajectory.agree_action(
            ctx(11),
            action_id="act-1",
            description="mailen",
            owner="org-x",
            due_on=None,
            goal_id=None,
        )

    assert refused.value.field == "action_id"


# --- signing ------------------------------------------------------------------------------------


def test_the_plan_is_in_force_from_the_signature_of_the_client() -> None:
    trajectory = _with_goal()

    sign(trajectory, day=10)

    plan = trajectory.plan
    assert plan is not None
    assert (plan.version, plan.signed_at, plan.signatory) == (1, at(10), Signatory.CLIENT)
    assert trajectory.plan_in_force_on(on(10))


def test_a_plan_is_not_in_force_before_it_is_signed() -> None:
    trajectory = _with_goal()

    assert trajectory.plan is None
    assert not trajectory.plan_in_force_on(on(10))


def test_a_signed_plan_is_valid_for_thirty_six_months() -> None:
    trajectory = signed(day=10)

    assert PLAN_VALIDITY_MONTHS == 36
    assert trajectory.plan is not None
    assert trajectory.plan.valid_until == date(2026, 1, 26) == add_months(on(10), 36)
    assert trajectory.plan_in_force_on(date(2026, 1, 26))
    assert not trajectory.plan_in_force_on(date(2026, 1, 27))


def test_a_signed_plan_is_next_evaluated_within_twelve_months() -> None:
    trajectory = signed(day=10)

    assert EVALUATION_INTERVAL_MONTHS == 12
    assert trajectory.next_evaluation_on == date(2024, 1, 26)
    assert last_event(trajectory, Trajectory.PlanSigned).next_evaluation_on == date(2024, 1, 26)


def test_a_plan_signed_on_29_february_is_valid_until_28_february_three_years_on() -> None:
    trajectory = _with_goal()

    sign(trajectory, day=day_of(date(2024, 2, 29)))

    assert trajectory.plan is not None
    assert trajectory.plan.valid_until == date(2027, 2, 28)
    assert trajectory.next_evaluation_on == date(2025, 2, 28)


def test_a_plan_needs_an_open_goal_before_it_is_signed() -> None:
    trajectory = active()
    before = len(new_events(trajectory))

    with pytest.raises(PlanNotInForce):
        sign(trajectory, day=10)

    assert len(new_events(trajectory)) == before


def test_a_plan_whose_goals_are_all_closed_is_not_signed() -> None:
    trajectory = _with_goal()
    trajectory.close_goal(ctx(8), goal_id="goal-school", outcome="bereikt")

    with pytest.raises(PlanNotInForce):
        sign(trajectory, day=10)


def test_a_representative_signs_for_the_client_under_their_reference() -> None:
    trajectory = _with_goal()

    trajectory.sign_plan(ctx(10), signatory=Signatory.REPRESENTATIVE, representative_ref="rep-1")

    assert trajectory.plan is not None
    assert trajectory.plan.signatory == Signatory.REPRESENTATIVE
    assert trajectory.plan.representative_ref == "rep-1"


@pytest.mark.parametrize("representative_ref", [None, ""], ids=["none", "empty"])
def test_a_representative_who_signs_is_named(representative_ref: str | None) -> None:
    trajectory = _with_goal()

    with pytest.raises(InvalidValue) as refused:
        trajectory.sign_plan(
            ctx(10), signatory=Signatory.REPRESENTATIVE, representative_ref=representative_ref
        )

    assert refused.value.field == "representative_ref"


def test_a_plan_signed_by_the_client_names_no_representative() -> None:
    trajectory = _with_goal()

    trajectory.sign_plan(ctx(10), signatory=Signatory.CLIENT, representative_ref="rep-1")

    assert trajectory.plan is not None
    assert trajectory.plan.representative_ref is None
    assert last_event(trajectory, Trajectory.PlanSigned).representative_ref is None


def test_a_renewed_signature_is_the_next_version_of_the_plan() -> None:
    trajectory = signed(day=10)

    sign(trajectory, day=400)

    assert trajectory.plan is not None
    assert trajectory.plan.version == 2
    assert trajectory.plan.valid_until == add_months(on(400), 36)


# --- evaluation -------------------------------------------------------------------------------


def test_an_evaluation_records_results_what_blocks_and_the_pdca_phase() -> None:
    trajectory = signed(day=10)

    _evaluate(trajectory, day=200)

    event = last_event(trajectory, Trajectory.Evaluated)
    assert event.results == "Sam gaat drie dagen per week naar school"
    assert event.blocking == (ReasonCategory.WAITING_LIST,)
    assert event.pdca_phase == PdcaPhase.TRY_OUT
    assert event.new_agreements == ("vervoer regelen",)
    assert trajectory.last_evaluated_at == at(200)


def test_the_next_evaluation_is_a_year_after_an_evaluation_unless_set_sooner() -> None:
    trajectory = signed(day=10)

    _evaluate(trajectory, day=200)

    assert trajectory.next_evaluation_on == add_months(on(200), 12)


def test_an_evaluation_may_set_the_next_one_sooner() -> None:
    trajectory = signed(day=10)

    _evaluate(trajectory, day=200, next_evaluation_on=on(290))

    assert trajectory.next_evaluation_on == on(290)


def test_the_next_evaluation_may_be_exactly_a_year_later() -> None:
    trajectory = signed(day=10)

    _evaluate(trajectory, day=200, next_evaluation_on=add_months(on(200), 12))

    assert trajectory.next_evaluation_on == add_months(on(200), 12)


def test_the_next_evaluation_is_at_most_a_year_later() -> None:
    trajectory = signed(day=10)
    a_year_and_a_day = date.fromordinal(add_months(on(200), 12).toordinal() + 1)

    with pytest.raises(EvaluationIntervalTooLong) as refused:
        _evaluate(trajectory, day=200, next_evaluation_on=a_year_and_a_day)

    assert refused.value.field == "next_evaluation_on"


@pytest.mark.parametrize("days_later", [0, -1], ids=["same day", "day before"])
def test_the_next_evaluation_lies_after_the_evaluation(days_later: int) -> None:
    trajectory = signed(day=10)

    with pytest.raises(InvalidValue) as refused:
        _evaluate(trajectory, day=200, next_evaluation_on=on(200 + days_later))

    assert refused.value.field == "next_evaluation_on"


def test_an_evaluation_needs_a_signed_plan() -> None:
    trajectory = _with_goal()

    with pytest.raises(PlanNotInForce):
        _evaluate(trajectory, day=200)


def test_an_evaluation_needs_results() -> None:
    trajectory = signed(day=10)

    with pytest.raises(InvalidValue) as refused:
        trajectory.evaluate(
            ctx(200),
            results=" ",
            blocking=(),
            pdca_phase=None,
            new_agreements=(),
            next_evaluation_on=None,
        )

    assert refused.value.field == "results"


def test_a_plan_may_be_evaluated_on_its_last_valid_day() -> None:
    trajectory = signed(day=10)

    _evaluate(trajectory, day=day_of(date(2026, 1, 26)))

    assert trajectory.last_evaluated_at == at(day_of(date(2026, 1, 26)))


def test_a_plan_older_than_three_years_is_not_evaluated_but_renewed() -> None:
    trajectory = signed(day=10)

    with pytest.raises(PlanNotInForce, match="expired"):
        _evaluate(trajectory, day=day_of(date(2026, 1, 27)))


def test_a_renewed_plan_starts_a_new_cycle_of_evaluations() -> None:
    trajectory = signed(day=10)
    renewal_day = day_of(date(2026, 2, 1))
    sign(trajectory, day=renewal_day)

    _evaluate(trajectory, day=renewal_day + 30)

    assert trajectory.last_evaluated_at == at(renewal_day + 30)


# --- calendar arithmetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 12, 31), 12, date(2025, 12, 31)),
        (date(2024, 2, 29), 36, date(2027, 2, 28)),
        (date(2024, 5, 10), 0, date(2024, 5, 10)),
    ],
)
def test_months_are_added_to_the_same_day_or_the_last_day_of_a_shorter_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected
