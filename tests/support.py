"""Builders shared by the tests."""

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from application.care_record import CareRecord, CommandResult
from application.commands import ClientCommand, Command, TrajectoryCommand
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


# --- running the record's use cases with typed commands ------------------------------------------

C = TypeVar("C", bound=Command)


def said(command: type[C], ctx: CommandContext, **fields: Any) -> C:
    """``command`` with ``fields``, happening when ``ctx`` says (the API takes ``occurred_at``
    from the body; the context carries the same moment)."""
    return command(occurred_at=ctx.occurred_at, **fields)


def on_trajectory(
    app: CareRecord,
    ctx: CommandContext,
    trajectory_id: UUID,
    expected_version: int | None,
    command: type[TrajectoryCommand],
    **fields: Any,
) -> CommandResult:
    """Run a command on one trajectory, as the API's handler does."""
    return app.change_trajectory(ctx, trajectory_id, expected_version, said(command, ctx, **fields))


def on_client(
    app: CareRecord,
    ctx: CommandContext,
    client_id: UUID,
    expected_version: int | None,
    command: type[ClientCommand],
    **fields: Any,
) -> CommandResult:
    """Run a command on one client's record, as the API's handler does."""
    return app.change_client(ctx, client_id, expected_version, said(command, ctx, **fields))
