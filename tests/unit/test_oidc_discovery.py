"""The identity provider's discovery document may not send the code, the client secret or the
ID token anywhere the issuer itself could not be: https, or http only to this machine."""

from typing import Any

import anyio
import pytest

from api import oidc
from api.oidc import OidcClient, SignInFailed

ISSUER = "https://idp.example.org/realms/care"


def _document(**endpoints: str) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/certs",
        "code_challenge_methods_supported": ["S256"],
        **endpoints,
    }


def _discover(monkeypatch: pytest.MonkeyPatch, document: dict[str, Any]) -> oidc.Provider:
    monkeypatch.setattr(oidc, "_request", lambda url, body, authorization: (200, document))
    client = OidcClient(
        issuer=ISSUER,
        client_id="rodedraad",
        client_secret="s3cret",
        redirect_url="https://rodedraad.example.org/ui/sign-in/callback",
    )
    return anyio.run(client._discovered)


def test_https_endpoints_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _discover(monkeypatch, _document())
    assert provider.token_endpoint == f"{ISSUER}/token"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("token_endpoint", "http://idp.example.org/realms/care/token"),
        ("jwks_uri", "http://idp.example.org/realms/care/certs"),
        ("authorization_endpoint", "ftp://idp.example.org/auth"),
        ("token_endpoint", "https:///token"),
    ],
)
def test_an_endpoint_that_is_not_https_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, url: str
) -> None:
    with pytest.raises(SignInFailed) as refused:
        _discover(monkeypatch, _document(**{name: url}))
    assert refused.value.status == 502
    assert name in refused.value.detail
    assert "https://" in refused.value.detail


def test_http_to_this_machine_is_allowed_for_a_trial_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = _discover(monkeypatch, _document(token_endpoint="http://127.0.0.1:8080/token"))
    assert provider.token_endpoint == "http://127.0.0.1:8080/token"
