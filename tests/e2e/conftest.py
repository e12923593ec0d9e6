"""HTTP fixtures: the real app from the composition root, through Litestar's test client."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.conftest import settings_for

TokenFactory = Callable[..., str]


@pytest.fixture
def container(any_settings: Settings) -> Iterator[Container]:
    built = Container.build(any_settings, inline_projections=True)
    yield built
    built.close()


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=container.http_app()) as client:
        yield client


def token_factory(settings: Settings) -> TokenFactory:
    """``issue(org="org-b")`` → a bearer token signed with this instance's local secret."""
    tokens = LocalTokens.from_file(settings.auth.secret_file)

    def issue(
        user: str = "user-an",
        org: str = "org-coordinating",
        roles: tuple[str, ...] = ("coordinator",),
        region: str = "west-flanders",
    ) -> str:
        return tokens.issue(user=user, organisation=org, roles=list(roles), region=region)

    return issue


@pytest.fixture
def token(any_settings: Settings) -> TokenFactory:
    """``token(org="org-b")`` → a bearer token signed with this instance's local secret."""
    return token_factory(any_settings)


@pytest.fixture
def auth(token: TokenFactory) -> dict[str, str]:
    """Headers of the default coordinator."""
    return {"Authorization": f"Bearer {token()}"}


# --- one app per test module -------------------------------------------------------------------
#
# The tests that ask the same question of every endpoint (hundreds of requests) share one app per
# module and backend, so the suite stays fast. Each test still makes its own clients and
# trajectories (fresh ids), so the tests stay independent of each other.


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("rodedraad")
    if request.param == "sqlite":
        return settings_for(f"sqlite:///{data_dir / 'rodedraad.sqlite'}", data_dir)
    url: str = request.getfixturevalue("postgres_url")
    return settings_for(url, data_dir)


@pytest.fixture(scope="module")
def module_container(module_settings: Settings) -> Iterator[Container]:
    built = Container.build(module_settings, inline_projections=True)
    yield built
    built.close()


@pytest.fixture(scope="module")
def module_http(module_container: Container) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=module_container.http_app()) as client:
        yield client


@pytest.fixture(scope="module")
def module_token(module_settings: Settings) -> TokenFactory:
    return token_factory(module_settings)


@pytest.fixture(scope="module")
def module_auth(module_token: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {module_token()}"}
