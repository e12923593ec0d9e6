"""The command routes are rows of a table (``api.trajectories.COMMANDS``, ``api.clients``): each
row must make a command the runner can run, from its body and the items its path names."""

import msgspec
import pytest

from api import clients, trajectories
from api.commands import CommandRoute
from application.commands import ClientCommand, EraseClient, TrajectoryCommand

ROUTES = [
    *((route, TrajectoryCommand) for route in trajectories.COMMANDS),
    *((route, ClientCommand) for route in clients.COMMANDS),
    (clients.ERASURE, EraseClient),
]


def _fields(cls: type[msgspec.Struct]) -> set[str]:
    return {f.name for f in msgspec.structs.fields(cls)}


def _items(route: CommandRoute) -> set[str]:
    return {part[1:].split(":")[0] for part in route.path.split("/") if part.startswith("{")}


@pytest.mark.parametrize(("route", "kind"), ROUTES, ids=[r.name for r, _ in ROUTES])
def test_a_route_makes_a_command_from_its_body_and_path(
    route: CommandRoute, kind: type[msgspec.Struct]
) -> None:
    command = route.at or route.body
    assert issubclass(command, kind)
    # The command is the body plus exactly the items the path names: nothing left unfilled,
    # nothing a caller could set twice.
    assert _fields(command) == _fields(route.body) | _items(route)
    assert not _fields(route.body) & _items(route)


def test_every_route_has_its_own_name_and_path() -> None:
    routes = [route for route, _ in ROUTES]
    assert len({r.name for r in routes}) == len(routes)
    assert len({r.path for r in routes}) == len(routes)
