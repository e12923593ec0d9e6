"""Builders shared by the tests."""

from datetime import UTC, datetime, timedelta

from domain.common import Actor, CommandContext

COORDINATOR = Actor(user_id="user-an", organisation="org-coordinating", role="coordinator")


def context(
    occurred_at: datetime | None = None,
    actor: Actor = COORDINATOR,
    now: datetime | None = None,
) -> CommandContext:
    """A command context; by default the fact happened an hour ago."""
    now = now or datetime.now(UTC)
    return CommandContext(
        actor=actor,
        occurred_at=occurred_at or now - timedelta(hours=1),
        correlation_id="test-correlation",
        causation_id=None,
        now=now,
    )
