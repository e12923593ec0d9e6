"""HTTP fixtures: the real app from the composition root, through Litestar's test client."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.conftest import PG_ADMIN_URL, settings_for
from tests.e2e.catalog import Target
from tests.e2e.steps import bearer, trajectory_with_plan

TokenFactory = Callable[..., str]
#: ``person(subject, "client")`` → the headers of a person's token (issue #19).
Person = Callable[[str, str], dict[str, str]]
App = tuple[Settings, Container, TestClient]  # type: ignore[type-arg]


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


# --- apps on a database of their own ---------------------------------------------------------
#
# ``module_*``: the tests that ask the same question of every endpoint (hundreds of requests)
# share one app per module and backend, so the suite stays fast; each test still makes its own
# clients and trajectories. ``private_*``: one app per test, for tests that throw input at the
# app that may leave a record behind which later requests trip over. Both get a database of
# their own on PostgreSQL too, so nothing they record reaches other tests.


@contextmanager
def private_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (skips or fails like ``postgres_url``)."""
    request.getfixturevalue("postgres_url")
    name = f"rodedraad_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def app_on_own_database(
    request: pytest.FixtureRequest, data_dir: Path
) -> Iterator[tuple[Settings, Container, TestClient]]:  # type: ignore[type-arg]
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'rodedraad.sqlite'}"
        else:
            url = stack.enter_context(private_database(request))
        settings = settings_for(url, data_dir)
        container = Container.build(settings, inline_projections=True)
        stack.callback(container.close)
        client = stack.enter_context(TestClient(app=container.http_app()))
        yield settings, container, client


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def module_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Container, TestClient]]:  # type: ignore[type-arg]
    with app_on_own_database(request, tmp_path_factory.mktemp("rodedraad")) as app:
        yield app


@pytest.fixture(scope="module")
def module_container(module_app: tuple[Settings, Container, TestClient]) -> Container:  # type: ignore[type-arg]
    return module_app[1]


@pytest.fixture(scope="module")
def module_http(module_app: tuple[Settings, Container, TestClient]) -> TestClient:  # type: ignore[type-arg]
    return module_app[2]


@pytest.fixture(scope="module")
def module_token(module_app: tuple[Settings, Container, TestClient]) -> TokenFactory:  # type: ignore[type-arg]
    return token_factory(module_app[0])


@pytest.fixture(scope="module")
def module_auth(module_token: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {module_token()}"}


@pytest.fixture(scope="module")
def target(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> Target:
    """A client and their trajectory with a plan in the making, in the module's app."""
    client, trajectory = trajectory_with_plan(module_http, module_auth)
    return Target(client.id, trajectory.id)


@pytest.fixture(params=BACKENDS)
def private_app(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Settings, Container, TestClient]]:  # type: ignore[type-arg]
    with app_on_own_database(request, tmp_path) as app:
        yield app


@pytest.fixture
def private_container(private_app: tuple[Settings, Container, TestClient]) -> Container:  # type: ignore[type-arg]
    return private_app[1]


@pytest.fixture
def private_http(private_app: tuple[Settings, Container, TestClient]) -> TestClient:  # type: ignore[type-arg]
    return private_app[2]


@pytest.fixture
def private_auth(private_app: tuple[Settings, Container, TestClient]) -> dict[str, str]:  # type: ignore[type-arg]
    return {"Authorization": f"Bearer {token_factory(private_app[0])()}"}


# --- the person whose plan it is (issue #19) ------------------------------------------------


@pytest.fixture(scope="module")
def person(module_app: App) -> Person:
    """``person(subject, "client")`` → the headers of a person's token: subject and role only."""
    tokens = LocalTokens.from_file(module_app[0].auth.secret_file)

    def issue(subject: str, role: str) -> dict[str, str]:
        return bearer(tokens.issue(user=subject, organisation=None, roles=[role], region=None))

    return issue


@pytest.fixture
def dutch(any_settings: Settings) -> Iterator[tuple[TestClient, TokenFactory, Person]]:  # type: ignore[type-arg]
    """An app of a deployment under Dutch law (``RODEDRAAD_JURISDICTION=NL``)."""
    settings = replace(any_settings, person=replace(any_settings.person, jurisdiction="NL"))
    container = Container.build(settings, inline_projections=True)
    tokens = LocalTokens.from_file(settings.auth.secret_file)

    def issue(subject: str, role: str) -> dict[str, str]:
        return bearer(tokens.issue(user=subject, organisation=None, roles=[role], region=None))

    try:
        with TestClient(app=container.http_app()) as http:
            yield http, token_factory(settings), issue
    finally:
        container.close()
