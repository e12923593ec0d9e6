"""The read models' queries the API asks, gathered on one runner.

Each read model's module owns its tables and its queries (``plan_state``, ``timeline``,
``tracking``, ``organisations``, ``learning_networks``); this only puts one query object of each
on the runner of the database at hand (``read_sqlite`` or ``read_postgres``). Nothing here
names a table.
"""

from dataclasses import dataclass

from projections.learning_networks import LearningNetworkQueries
from projections.organisations import OrganisationQueries
from projections.plan_state.queries import PlanStateQueries
from projections.runner import Runner
from projections.timeline import TimelineQueries
from projections.tracking import TrackingQueries


@dataclass(frozen=True, slots=True)
class ReadModelQueries:
    """One query object per read model, all on one runner."""

    plan_state: PlanStateQueries
    timeline: TimelineQueries
    tracking: TrackingQueries
    organisations: OrganisationQueries
    learning_networks: LearningNetworkQueries

    @classmethod
    def on(cls, runner: Runner) -> "ReadModelQueries":
        return cls(
            PlanStateQueries(runner),
            TimelineQueries(runner),
            TrackingQueries(runner),
            OrganisationQueries(runner),
            LearningNetworkQueries(runner),
        )
