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

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from domain.trajectory import Trajectory


def _replayed(
    events: Iterable[Trajectory.Event], start: Trajectory | None = None
) -> Iterator[tuple[Trajectory, Any]]:
    """The trajectory as the facts so far made it, with the next fact, which is applied (with
    the domain's own ``apply``; the version skips facts left out) once the caller resumes; a
    last pair ``(trajectory, None)`` gives the result. Nothing is yielded without a referral,
    or ``start``: the trajectory as a snapshot holds it, the facts being those after it."""
    trajectory: Trajectory | None = start
    for event in events:
        if isinstance(event, Trajectory.Referred):
            trajectory = cast(Trajectory, event.mutate(None))
        elif trajectory is not None:
            yield trajectory, event
            event.apply(trajectory)
            trajectory.__dict__["_version"] = event.originator_version
            trajectory.__dict__["_modified_on"] = event.timestamp
    if trajectory is not None:
        yield trajectory, None


def fold(events: Iterable[Trajectory.Event], start: Trajectory | None = None) -> Trajectory | None:
    """The trajectory these facts make, applied in the record's order with the domain's own
    ``apply`` (after ``start``, a snapshot's trajectory, if given); ``None`` without its
    referral."""
    last = None
    for last in _replayed(events, start):  # noqa: B007 - the last pair holds the result
        pass
    return None if last is None else last[0]


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
    #: When the fact says it occurred (the rule's message names only what it conflicts with).
    occurred_at: datetime
    rule: str
    message: str


def ordering_violations(events: Iterable[Trajectory.Event]) -> list[OrderingViolation]:
    """Replay a trajectory's history and report each fact that breaks an ordering rule, as the
    write side would have refused it had the rule existed; the history itself is kept."""
    found: list[OrderingViolation] = []
    for trajectory, event in _replayed(events):
        if event is None:
            break
        conflict = trajectory.ordering_conflict(type(event), event.occurred_at, vars(event))
        if conflict is not None:
            found.append(
                OrderingViolation(
                    version=event.originator_version,
                    event=type(event).__qualname__.removeprefix("Trajectory."),
                    occurred_at=event.occurred_at,
                    rule=conflict.rule,
                    message=conflict.message,
                )
            )
    return found
