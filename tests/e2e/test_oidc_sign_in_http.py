"""Signing in to the pages with the identity provider (issue #23 point 2): the OpenID Connect
code flow with state, nonce and PKCE against a provider the test runs (``oidc_provider``).

The browser's side is played by hand: the app through its test client over https (its cookies
are ``Secure``), the provider over real HTTP with httpx, and the app talks to the provider over
real HTTP too (discovery, token endpoint, JWKS). Every refusal is a page that says what to do,
and sets no session.
"""

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import anyio
import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.oidc import OidcClient, SignInFailed
from rodedraad.settings import OidcSettings, Settings, SettingsError
from rodedraad.wiring import build_oidc_client
from tests.e2e.oidc_provider import OpenIdProvider, new_rsa_key, running
from tests.e2e.readside import COORDINATOR, App, Trajectories, app_on
from tests.integration.databases import fresh_settings

Browser = TestClient[Litestar]
BASE = "https://testserver.local"
CALLBACK = f"{BASE}/ui/sign-in/callback"
CLIENT_ID = "rodedraad-pages"
CLIENT_SECRET = "s3cret:with/odd+characters"


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIdProvider]:
    with running(OpenIdProvider(CLIENT_ID, CLIENT_SECRET, CALLBACK)) as started:
        yield started


@pytest.fixture(autouse=True)
def well_behaved(provider: OpenIdProvider) -> Iterator[None]:
    """Every test starts with a provider that behaves and a browser without cookies."""
    user = dict(provider.user)
    yield
    provider.user = user
    provider.nonce_instead = None
    provider.signing_key_instead = None
    provider.token_lifetime = timedelta(minutes=5)
    provider.clock_ahead = timedelta(0)
    provider.error_instead_of_code = None


@pytest.fixture(scope="module")
def app(provider: OpenIdProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The real app on SQLite with the pages signing in at ``provider``: the client secret in a
    file of its own, as in production."""
    data_dir = tmp_path_factory.mktemp("oidc")
    secret_file = data_dir / "oidc-client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    with fresh_settings("sqlite", data_dir) as settings:
        settings = dataclasses.replace(
            settings,
            embedded_workers=False,
            oidc=OidcSettings(
                issuer=provider.issuer,
                client_id=CLIENT_ID,
                client_secret_file=secret_file,
                redirect_url=CALLBACK,
            ),
        )
        with app_on(settings, base_url=BASE) as built:
            yield built


@pytest.fixture
def browser(app: App) -> Browser:
    app.http.cookies.clear()
    return app.http


def leave_for_provider(browser: Browser, next_page: str = "/ui/board", lang: str = "nl") -> str:
    """``/ui/sign-in`` → the provider's authorization URL (the flow cookie now set)."""
    query = urlencode({"next": next_page, "lang": lang})
    answer = browser.get(f"/ui/sign-in?{query}", follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def at_provider(authorization_url: str) -> str:
    """The provider signs the test user in and sends the browser back: → the callback URL."""
    answer = httpx.get(authorization_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(CALLBACK + "?")
    return back


def come_back(browser: Browser, callback_url: str) -> httpx.Response:
    parts = urlsplit(callback_url)
    return browser.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def sign_in(browser: Browser, next_page: str = "/ui/board") -> httpx.Response:
    return come_back(browser, at_provider(leave_for_provider(browser, next_page)))


def with_query(url: str, **changed: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changed
    return parts._replace(query=urlencode(query)).geturl()


def set_cookies(answer: httpx.Response) -> dict[str, str]:
    """Each cookie the answer sets, by name → its Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in answer.headers.get_list("set-cookie")}


def assert_refused(answer: httpx.Response, status: int, words: str) -> None:
    """A page (never a 500, never a problem document) that says what happened, with the way
    to start again, and no session."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text
    assert 'href="/ui/sign-in"' in answer.text
    assert "rd_session" not in set_cookies(answer)


def test_the_code_flow_signs_in_and_the_header_shows_user_organisation_and_role(
    browser: Browser,
    provider: OpenIdProvider,
) -> None:
    authorization_url = leave_for_provider(browser, "/ui/board?region=west-flanders")
    query = parse_qs(urlsplit(authorization_url).query)
    assert authorization_url.startswith(f"{provider.issuer}/authorize?")
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["openid"]
    assert {"state", "nonce", "code_challenge"} <= set(query)

    back = come_back(browser, at_provider(authorization_url))
    assert back.status_code == 200, back.text
    assert 'http-equiv="refresh" content="0; url=/ui/board?region=west-flanders"' in back.text
    cookies = set_cookies(back)
    session = cookies["rd_session"].lower()
    assert "httponly" in session
    assert "secure" in session
    assert "samesite=strict" in session
    assert "max-age=0" in cookies["rd_oidc"].lower()  # the flow is spent

    # the token endpoint was sent the code with the PKCE verifier, authenticated as the client
    exchange = provider.token_requests[-1]
    assert exchange["client_authenticated"] is True
    assert exchange["redirect_uri"] == CALLBACK
    assert len(exchange["code_verifier"]) >= 43

    board = browser.get("/ui/board?lang=en")
    assert board.status_code == 200
    assert "Signed in as <strong>oidc-user</strong> · org-coordinating" in board.text
    assert "in the role <strong>coordinator</strong> · west-flanders" in board.text


def test_a_page_asked_for_in_english_comes_back_in_english(browser: Browser) -> None:
    asked = browser.get("/ui/board?lang=en", follow_redirects=False)
    assert asked.headers["location"] == "/ui/sign-in?next=%2Fui%2Fboard&lang=en"
    back = come_back(browser, at_provider(leave_for_provider(browser, "/ui/board", "en")))
    assert 'content="0; url=/ui/board?lang=en"' in back.text


def test_the_flow_cookie_is_lax_because_the_provider_sends_the_browser_back_cross_site(
    browser: Browser,
) -> None:
    answer = browser.get("/ui/sign-in", follow_redirects=False)
    flow = set_cookies(answer)["rd_oidc"].lower()
    assert "samesite=lax" in flow
    assert "httponly" in flow
    assert "secure" in flow
    assert "path=/ui/sign-in" in flow
    assert "max-age=600" in flow


def test_an_answer_with_another_state_is_refused(browser: Browser) -> None:
    callback = at_provider(leave_for_provider(browser))
    answer = come_back(browser, with_query(callback, state="forged-state"))
    assert_refused(answer, 400, "hoort niet bij de aanmelding die deze browser begon")


def test_a_callback_in_a_browser_that_started_no_sign_in_is_refused(
    browser: Browser,
) -> None:
    callback = at_provider(leave_for_provider(browser))
    browser.cookies.clear()  # the code and state arrive in another browser (login CSRF)
    assert_refused(come_back(browser, callback), 400, "Deze browser is geen aanmelding bezig")


@pytest.mark.parametrize(
    ("misbehave", "said"),
    [
        pytest.param(
            {"nonce_instead": "a-nonce-from-another-sign-in"},
            "nonce is not the one this sign-in sent",
            id="another-nonce",
        ),
        pytest.param(
            {"signing_key_instead": new_rsa_key()},  # the same key id, another key
            "its signature does not match the key this service trusts",
            id="signed-by-another-key",
        ),
        pytest.param(
            {"token_lifetime": timedelta(minutes=-2)},
            "the ID token has expired",
            id="expired",
        ),
        pytest.param(
            {"clock_ahead": timedelta(minutes=2)},
            "the ID token is not valid yet: its iat (issued at) lies in the future",
            id="clock-far-ahead",
        ),
    ],
)
def test_an_id_token_that_does_not_hold_signs_no_one_in(
    browser: Browser, provider: OpenIdProvider, misbehave: dict[str, Any], said: str
) -> None:
    for knob, value in misbehave.items():
        setattr(provider, knob, value)
    answer = sign_in(browser)
    assert_refused(answer, 401, "klopt niet; u bent niet aangemeld")
    assert said in answer.text


def test_a_provider_whose_clock_is_a_little_ahead_signs_in(
    browser: Browser, provider: OpenIdProvider
) -> None:
    """The outside probe: a provider's clock seconds ahead of ours refused its users right
    after they signed in ("The token is not yet valid (iat)")."""
    provider.clock_ahead = timedelta(seconds=5)

    back = sign_in(browser)

    assert back.status_code == 200, back.text
    assert "rd_session" in set_cookies(back)


def test_a_code_redeemed_with_another_sign_ins_verifier_is_refused_by_the_provider(
    browser: Browser,
    provider: OpenIdProvider,
) -> None:
    """PKCE: a code obtained in one sign-in, slipped into another browser's sign-in (with that
    browser's own state), is redeemed with that browser's verifier, which does not match."""
    stolen = parse_qs(urlsplit(at_provider(leave_for_provider(browser))).query)["code"][0]
    browser.cookies.clear()
    own = at_provider(leave_for_provider(browser))
    answer = come_back(browser, with_query(own, code=stolen))
    assert_refused(answer, 400, "weigerde de aanmeldcode")
    assert "PKCE verification failed" in answer.text


def test_the_provider_refuses_a_token_request_without_the_verifier(
    provider: OpenIdProvider,
) -> None:
    """The provider the other tests rely on does check the verifier (so they prove something)."""
    callback = at_provider(
        f"{provider.issuer}/authorize?"
        + urlencode(
            {
                "client_id": CLIENT_ID,
                "redirect_uri": CALLBACK,
                "response_type": "code",
                "scope": "openid",
                "state": "s",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
            }
        )
    )
    code = parse_qs(urlsplit(callback).query)["code"][0]
    answer = httpx.post(
        f"{provider.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=(quote_plus(CLIENT_ID), quote_plus(CLIENT_SECRET)),  # RFC 6749 §2.3.1
    )
    assert answer.status_code == 400
    assert answer.json()["error_description"] == "PKCE verification failed"


def test_a_code_used_once_is_refused_the_second_time(
    browser: Browser,
) -> None:
    callback = at_provider(leave_for_provider(browser))
    assert come_back(browser, callback).status_code == 200
    # the same callback again: its flow is spent
    assert_refused(come_back(browser, callback), 400, "of ze is al gebruikt")
    # the same code in a new sign-in of this browser, with its fresh state: the provider says no
    fresh = at_provider(leave_for_provider(browser))
    replay = with_query(fresh, code=parse_qs(urlsplit(callback).query)["code"][0])
    answer = come_back(browser, replay)
    assert_refused(answer, 400, "weigerde de aanmeldcode")
    assert "code already used" in answer.text


def test_the_providers_error_is_a_page_that_says_what_to_do(
    browser: Browser,
    provider: OpenIdProvider,
) -> None:
    provider.error_instead_of_code = "access_denied"
    answer = sign_in(browser)
    assert_refused(answer, 403, "De identiteitsprovider heeft u niet aangemeld")
    assert "access_denied: the user said no" in answer.text


@pytest.mark.parametrize("claim", ["org", "roles", "region"])
def test_an_account_without_the_claims_is_told_to_ask_its_administrator(
    browser: Browser, provider: OpenIdProvider, claim: str
) -> None:
    provider.user = {k: v for k, v in provider.user.items() if k != claim}
    answer = sign_in(browser)
    assert_refused(answer, 403, "Vraag uw beheerder die toe te voegen")
    assert f"lacks the &#39;{claim}&#39; claim" in answer.text


def test_the_session_sees_only_what_the_api_lets_its_organisation_see(
    app: App,
    browser: Browser,
    provider: OpenIdProvider,
) -> None:
    ours = Trajectories(app).referred()  # referred by org-coordinating
    provider.user = {**provider.user, "org": "org-elsewhere", "sub": "oidc-other"}
    assert sign_in(browser).status_code == 200
    elsewhere = browser.get(f"/ui/trajectories/{ours.id}")
    assert elsewhere.status_code == 404
    assert "Niet gevonden" in elsewhere.text

    browser.cookies.clear()
    provider.user = {**provider.user, "org": COORDINATOR, "sub": "oidc-user"}
    assert sign_in(browser).status_code == 200
    own = browser.get(f"/ui/trajectories/{ours.id}")
    assert own.status_code == 200
    assert "Support at home and at school" in own.text


def test_signing_out_ends_the_session_and_says_so(
    browser: Browser,
) -> None:
    assert sign_in(browser).status_code == 200
    board = browser.get("/ui/board")
    csrf = board.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = browser.post("/ui/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/ui/signed-out"
    assert "U bent afgemeld" in browser.get("/ui/signed-out").text
    again = browser.get("/ui/board", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/ui/sign-in")


def test_an_unreachable_provider_is_a_page_not_a_500(tmp_path: Path) -> None:
    client = OidcClient(
        issuer="http://127.0.0.1:9",  # discard: nothing listens
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=CALLBACK,
    )
    with pytest.raises(SignInFailed) as refused:
        anyio.run(client.start, "/ui/board")
    assert refused.value.reason == "sign_in_unreachable"
    assert refused.value.status == 502


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"RODEDRAAD_DATA_DIR": str(tmp_path), **env})


OIDC_ENV = {
    "RODEDRAAD_OIDC_CLIENT_ID": CLIENT_ID,
    "RODEDRAAD_OIDC_ISSUER": "https://id.example.org/realms/care",
    "RODEDRAAD_OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc",
    "RODEDRAAD_OIDC_REDIRECT_URL": "https://rodedraad.example.org/ui/sign-in/callback",
}


def test_the_identity_providers_sign_in_is_off_unless_configured(tmp_path: Path) -> None:
    assert settings(tmp_path).oidc is None
    configured = settings(tmp_path, **OIDC_ENV).oidc
    assert configured is not None
    assert configured.client_id == CLIENT_ID


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"RODEDRAAD_OIDC_REDIRECT_URL": ""}, "needs RODEDRAAD_OIDC_REDIRECT_URL"),
        ({"RODEDRAAD_OIDC_CLIENT_SECRET_FILE": ""}, "needs RODEDRAAD_OIDC_CLIENT_SECRET_FILE"),
        ({"RODEDRAAD_OIDC_ISSUER": "http://id.example.org"}, "must be an https:// URL"),
        (
            {"RODEDRAAD_OIDC_REDIRECT_URL": "https://rodedraad.example.org/elsewhere"},
            "must end in /ui/sign-in/callback",
        ),
        ({"RODEDRAAD_UI_LOCAL_SIGN_IN": "true"}, "use one or the other"),
    ],
)
def test_an_incomplete_or_unsafe_configuration_is_refused_at_start(
    tmp_path: Path, changed: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(tmp_path, **(OIDC_ENV | changed))


def test_a_client_secret_file_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    configured = settings(tmp_path, **OIDC_ENV).oidc
    assert configured is not None
    missing = dataclasses.replace(configured, client_secret_file=tmp_path / "absent")
    with pytest.raises(SettingsError, match="RODEDRAAD_OIDC_CLIENT_SECRET_FILE cannot be read"):
        build_oidc_client(missing)
    (tmp_path / "empty").write_text("\n")
    empty = dataclasses.replace(configured, client_secret_file=tmp_path / "empty")
    with pytest.raises(SettingsError, match="is empty"):
        build_oidc_client(empty)
