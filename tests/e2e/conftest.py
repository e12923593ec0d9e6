"""HTTP fixtures: the real app from the composition root, through Litestar's test client."""

from collections.abc import Callable, Iterator

import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from rodedraad.settings import Settings
from rodedraad.wiring import Container

TokenFactory = Callable[..., str]


@pytest.fixture
def container(any_settings: Settings) -> Iterator[Container]:
    built = Container.build(any_settings)
    yield built
    built.close()


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=container.http_app()) as client:
        yield client


@pytest.fixture
def token(any_settings: Settings) -> TokenFactory:
    """``token(org="org-b")`` → a bearer token signed with this instance's local secret."""
    tokens = LocalTokens.from_file(any_settings.auth.secret_file)

    def issue(
        user: str = "user-an",
        org: str = "org-coordinating",
        roles: tuple[str, ...] = ("coordinator",),
        region: str = "west-flanders",
    ) -> str:
        return tokens.issue(user=user, organisation=org, roles=list(roles), region=region)

    return issue


@pytest.fixture
def auth(token: TokenFactory) -> dict[str, str]:
    """Headers of the default coordinator."""
    return {"Authorization": f"Bearer {token()}"}
