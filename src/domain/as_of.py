"""A trajectory as of a moment, on either time axis, folded by the domain's own ``apply``.

- *occurred*: the facts whose ``occurred_at`` is at or before T, in the record's order. The
  ordering rules (``Trajectory.ordering_conflict``) make this well defined: a fact never predates
  what it depends on, so the facts up to T hold everything each of them needs, and a status
  never changes back in world time.
- *recorded*: a prefix of the record's versions (which prefix: the commit times, chosen by the
  application); folded here exactly as the write side folds them.

Histories recorded before the ordering rules existed may break them; ``ordering_violations``
reports where (the record is never changed).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from domain.trajectory import Trajectory


def fold(events: Iterable[Trajectory.Event]) -> Trajectory | None:
    """The trajectory these facts make, applied in the record's order with the domain's own
    ``apply`` (the version skips the facts left out); ``None`` without its referral."""
    trajectory: Trajectory | None = None
    for event in events:
        if isinstance(event, Trajectory.Referred):
            trajectory = cast(Trajectory, event.mutate(None))
            continue
        if trajectory is None:
            continue
        event.apply(trajectory)
        trajectory.__dict__["_version"] = event.originator_version
        trajectory.__dict__["_modified_on"] = event.timestamp
    return trajectory


def occurred_by(events: Iterable[Trajectory.Event], moment: datetime) -> list[Trajectory.Event]:
    """The facts that happened at or before ``moment`` (world time), in the record's order."""
    return [e for e in events if e.occurred_at <= moment]


def recorded_after(
    events: Sequence[Trajectory.Event], included: Iterable[Trajectory.Event]
) -> list[Trajectory.Event]:
    """The facts of ``events`` not in ``included``: on the other axis, known only later."""
    kept = {e.originator_version for e in included}
    return [e for e in events if e.originator_version not in kept]


@dataclass(frozen=True, slots=True)
class OrderingViolation:
    """A recorded fact that breaks an ordering rule of issue #15 (recorded before it)."""

    version: int
    event: str
    rule: str
    message: str


def ordering_violations(events: Iterable[Trajectory.Event]) -> list[OrderingViolation]:
    """Replay a trajectory's history and report each fact that breaks an ordering rule, as the
    write side would have refused it had the rule existed; the history itself is kept."""
    found: list[OrderingViolation] = []
    trajectory: Trajectory | None = None
    for event in events:
        if isinstance(event, Trajectory.Referred):
            trajectory = cast(Trajectory, event.mutate(None))
            continue
        if trajectory is None:
            continue
        fields: dict[str, Any] = vars(event)
        conflict = trajectory.ordering_conflict(type(event), event.occurred_at, fields)
        if conflict is not None:
            found.append(
                OrderingViolation(
                    version=event.originator_version,
                    event=type(event).__qualname__.removeprefix("Trajectory."),
                    rule=conflict.rule,
                    message=conflict.message,
                )
            )
        trajectory = cast(Trajectory, event.mutate(trajectory))
    return found
