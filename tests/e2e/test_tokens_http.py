"""Bearer tokens: who is asking. A token we cannot trust is 401; the actor comes from the token."""

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from api.auth import LocalTokens
from rodedraad.settings import Settings
from rodedraad.wiring import Container
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import (
    accepted_trajectory,
    assert_names,
    assert_problem,
    at,
    bearer,
    events_of,
    recorded,
    register_client,
)


def claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "user-an",
        "org": "org-coordinating",
        "roles": ["coordinator"],
        "region": "west-flanders",
        "iss": "rodedraad-local",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def secret(module_app: tuple[Settings, Container, TestClient]) -> bytes:  # type: ignore[type-arg]
    """The secret this instance signs its local tokens with."""
    return LocalTokens.from_file(module_app[0].auth.secret_file).secret


def signed(secret: bytes, **changes: Any) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")


def refused_tokens(secret: bytes) -> dict[str, str]:
    """Tokens that must not get in, by why."""
    past = datetime.now(UTC) - timedelta(hours=2)
    unsigned = jwt.encode(claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    return {
        "expired": signed(secret, iat=past, exp=past + timedelta(hours=1)),
        "another-secret": signed(b"not-the-secret-of-this-instance-0123456789abcdef"),
        "no-org": signed(secret, org=None),
        "empty-org": signed(secret, org="  "),
        "no-sub": signed(secret, sub=None),
        "no-roles": signed(secret, roles=None),
        "roles-not-strings": signed(secret, roles=[1, 2]),
        "no-region": signed(secret, region=None),
        "no-expiry": signed(secret, exp=None),
        "another-issuer": signed(secret, iss="someone-else"),
        "not-yet-valid": signed(secret, nbf=datetime.now(UTC) + timedelta(hours=1)),
        "unsigned": unsigned,
        "tampered": signed(secret)[:-4] + "AAAA",
        "not-a-jwt": "hello",
        # Registered claims have registered types (RFC 7519: NumericDate is a number).
        "expiry-as-text": signed(secret, exp="9999999999"),
        "issued-at-as-text": signed(secret, iat="1700000000"),
        "expiry-as-boolean": signed(secret, exp=True),
        "no-role-at-all": signed(secret, roles=[]),
        "blank-role": signed(secret, roles=["coordinator", " "]),
        "control-character-in-sub": signed(secret, sub="user\x00an"),
        "control-character-in-org": signed(secret, org="org\ncoordinating"),
        "sub-too-long": signed(secret, sub="u" * 201),
        # The outside probe: a bare string was taken as a list of one role (or a role named
        # "coordinator auditor": 403 instead of 401).
        "roles-as-text": signed(secret, roles="coordinator"),
        "roles-as-text-with-two": signed(secret, roles="coordinator auditor"),
        "expiry-as-nan": signed(secret, exp=float("nan")),
        "valid-from-in-two-minutes": signed(secret, nbf=datetime.now(UTC) + timedelta(minutes=2)),
        "issued-in-two-minutes": signed(secret, iat=datetime.now(UTC) + timedelta(minutes=2)),
        "expired-two-minutes-ago": signed(secret, exp=datetime.now(UTC) - timedelta(minutes=2)),
        "expiry-in-200-years": signed(secret, exp=datetime.now(UTC) + timedelta(days=200 * 365)),
    }


REFUSED = [
    "expired",
    "another-secret",
    "no-org",
    "empty-org",
    "no-sub",
    "no-roles",
    "roles-not-strings",
    "no-region",
    "no-expiry",
    "another-issuer",
    "not-yet-valid",
    "unsigned",
    "tampered",
    "not-a-jwt",
    "expiry-as-text",
    "issued-at-as-text",
    "expiry-as-boolean",
    "no-role-at-all",
    "blank-role",
    "control-character-in-sub",
    "control-character-in-org",
    "sub-too-long",
    "roles-as-text",
    "roles-as-text-with-two",
    "expiry-as-nan",
    "valid-from-in-two-minutes",
    "issued-in-two-minutes",
    "expired-two-minutes-ago",
    "expiry-in-200-years",
]


@pytest.mark.parametrize("why", REFUSED)
def test_a_command_with_a_token_we_cannot_trust_is_not_authenticated(
    why: str,
    module_http: TestClient,  # type: ignore[type-arg]
    secret: bytes,
    module_container: Container,
) -> None:
    before = recorded(module_container)

    response = module_http.post(
        "/v1/clients", json={"occurred_at": at()}, headers=bearer(refused_tokens(secret)[why])
    )

    assert_problem(response, 401, rule="bearer-token")
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert recorded(module_container) == before


@pytest.mark.parametrize("why", ["no-role-at-all", "expiry-as-text"])
def test_a_read_with_a_token_we_cannot_trust_is_not_authenticated(
    why: str,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    secret: bytes,
) -> None:
    """A token naming no role is not an identity we can decide on: 401, not 403 (#10)."""
    client = register_client(module_http, module_auth)

    response = module_http.get(client.path, headers=bearer(refused_tokens(secret)[why]))

    assert_problem(response, 401, rule="bearer-token")


def test_an_expired_token_is_refused_as_expired(
    module_http: TestClient,  # type: ignore[type-arg]
    secret: bytes,
) -> None:
    response = module_http.post(
        "/v1/clients",
        json={"occurred_at": at()},
        headers=bearer(refused_tokens(secret)["expired"]),
    )

    assert "expired" in assert_problem(response, 401)["detail"]


@pytest.mark.parametrize(
    ("claim", "seconds"),
    [("iat", 3), ("nbf", 3), ("exp", -10)],
    ids=["issued-3s-ahead", "valid-from-3s-ahead", "expired-10s-ago"],
)
def test_a_token_from_a_clock_a_little_off_is_authenticated(
    claim: str,
    seconds: int,
    module_http: TestClient,  # type: ignore[type-arg]
    secret: bytes,
) -> None:
    """The outside probe: a token issued 3 seconds ahead of our clock answered 401 "The token
    is not yet valid (iat)": an identity provider's clock a little ahead refused its users."""
    token = signed(secret, **{claim: datetime.now(UTC) + timedelta(seconds=seconds)})

    response = module_http.post("/v1/clients", json={"occurred_at": at()}, headers=bearer(token))

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("why", "said"),
    [
        ("expiry-as-boolean", "malformed: its exp claim must be a number"),
        ("issued-at-as-text", "malformed: its iat claim must be a number"),
        ("roles-as-text", "roles claim must be a list of role names"),
        ("not-a-jwt", "the bearer token is not a well-formed JWT"),
        ("tampered", "its signature does not match the key this service trusts"),
        ("unsigned", "not signed, or signed with an algorithm this service does not accept"),
        ("another-issuer", "issued by another issuer (iss)"),
        ("issued-in-two-minutes", "not valid yet: its iat (issued at) lies in the future"),
        ("expiry-in-200-years", "valid for longer than a token may be"),
    ],
)
def test_a_refused_token_is_told_why_in_plain_words(
    why: str,
    said: str,
    module_http: TestClient,  # type: ignore[type-arg]
    secret: bytes,
) -> None:
    """The outside probe: ``exp: true`` was told it had expired, and a token that is no JWT
    was told the parser's words ("Invalid header string: Expecting value: …")."""
    response = module_http.post(
        "/v1/clients", json={"occurred_at": at()}, headers=bearer(refused_tokens(secret)[why])
    )

    detail = assert_problem(response, 401, rule="bearer-token")["detail"]
    assert said in detail
    assert "expired" not in detail
    for library_words in ("Invalid header", "Expecting value", "char 0", "Signature verif"):
        assert library_words not in detail


def test_a_refusal_of_a_token_never_echoes_the_token(
    module_http: TestClient,  # type: ignore[type-arg]
    secret: bytes,
) -> None:
    untrusted = refused_tokens(secret)["another-secret"]

    response = module_http.post(
        "/v1/clients", json={"occurred_at": at()}, headers=bearer(untrusted)
    )

    assert untrusted not in response.text
    assert untrusted.split(".")[1] not in response.text


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Token abc", "bearer", "Basic dXNlcjpwdw=="],
    ids=["empty", "scheme-only", "scheme-and-space", "other-scheme", "lowercase-only", "basic"],
)
def test_an_authorization_header_without_a_bearer_token_is_not_authenticated(
    authorization: str,
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    response = module_http.post(
        "/v1/clients", json={"occurred_at": at()}, headers={"Authorization": authorization}
    )

    assert_problem(response, 401, rule="bearer-token")


def test_reading_a_trajectory_needs_a_token(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    secret: bytes,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)

    assert_problem(module_http.get(trajectory.path), 401, rule="bearer-token")
    assert_problem(
        module_http.get(trajectory.path, headers=bearer(refused_tokens(secret)["expired"])), 401
    )


def test_reading_a_client_needs_a_token(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
) -> None:
    client = register_client(module_http, module_auth)

    assert_problem(module_http.get(client.path), 401, rule="bearer-token")


def test_a_lowercase_bearer_scheme_is_accepted(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
) -> None:
    response = module_http.post(
        "/v1/clients",
        json={"occurred_at": at()},
        headers={"Authorization": f"bearer {module_token()}"},
    )

    assert response.status_code == 201, response.text


def test_health_and_the_schema_need_no_token(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    assert module_http.get("/health").status_code == 200
    assert module_http.get("/schema/openapi.json").status_code == 200


def test_the_actor_recorded_on_every_event_comes_from_the_token(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_container: Container,
) -> None:
    headers = bearer(
        module_token(user="user-pia", org="org-provider", roles=("coordinator", "planmaker"))
    )
    _, trajectory = accepted_trajectory(module_http, headers)

    for event in events_of(module_container, trajectory.id):
        assert event.actor.user_id == "user-pia"
        assert event.actor.organisation == "org-provider"
        assert event.actor.role == "coordinator"
        assert event.actor.on_behalf_of is None


def test_a_command_recorded_on_behalf_of_someone_names_them_beside_the_actor(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client, trajectory = accepted_trajectory(module_http, module_auth)
    client.post("/representatives", {"occurred_at": at(2), "representative_ref": "rep-mother"})

    trajectory.post(
        "/goals",
        {"occurred_at": at(3), "description": "Back to school"},
        headers={**module_auth, "X-On-Behalf-Of": "rep-mother"},
    )

    last = events_of(module_container, trajectory.id)[-1]
    assert last.actor.user_id == "user-an"
    assert last.actor.on_behalf_of == "rep-mother"


@pytest.mark.parametrize(
    "actor",
    [
        {"user_id": "user-mallory", "organisation": "org-evil", "role": "coordinator"},
        "user-mallory",
    ],
    ids=["object", "string"],
)
def test_a_body_that_names_an_actor_is_invalid_and_records_nothing(
    actor: Any,
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    _, trajectory = accepted_trajectory(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        f"{trajectory.path}/goals",
        json={"occurred_at": at(3), "description": "Back to school", "actor": actor},
        headers=module_auth,
    )

    assert_names(assert_problem(response, 422), "actor")
    assert recorded(module_container) == before
    assert all(e.actor.user_id == "user-an" for e in events_of(module_container, trajectory.id))


def test_a_referral_cannot_smuggle_an_actor_into_a_new_trajectory(
    module_http: TestClient,  # type: ignore[type-arg]
    module_auth: dict[str, str],
    module_container: Container,
) -> None:
    client = register_client(module_http, module_auth)
    before = recorded(module_container)

    response = module_http.post(
        "/v1/trajectories",
        json={
            "occurred_at": at(),
            "client_id": client.id,
            "question": "q",
            "sector": "education",
            "region": "ghent",
            "actor": {"user_id": "user-mallory"},
        },
        headers=module_auth,
    )

    assert_names(assert_problem(response, 422), "actor")
    assert recorded(module_container) == before
