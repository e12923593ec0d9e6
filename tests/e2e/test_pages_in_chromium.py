"""The pages in a real browser (issue #23 point 5): headless Chromium from the system packages
against a real ``rodedraad serve`` with the demo data set, signing in through the local
sign-in form; every page passes axe-core's WCAG 2.1 AA rules with zero violations; a client's
name with markup is text; another organisation's trajectory is the 404 page. The screenshots the
README shows are taken here (``docs/screenshots/``).

``make test`` installs Chromium (``apt-get``) and axe-core (npm) when they are missing
(``make browser``); without them these tests skip, and fail in CI (``CI=true``).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth import LocalTokens
from rodedraad.settings import Settings
from tests.e2e.chromium import AXE, Tab, chromium, chromium_binary
from tests.e2e.oidc_provider import OpenIdProvider, running
from tests.e2e.test_pages_http import MAP_REGION, PUBLISHED_EDGES, dynamics_release
from tests.e2e.test_readme_walkthrough import ROOT, free_port, serving

SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this run's screenshots go: ``docs/screenshots`` (what the README shows) only when
    ``RODEDRAAD_SCREENSHOTS=update`` asks for it, so a test run leaves the checkout as it was."""
    if os.environ.get("RODEDRAAD_SCREENSHOTS") == "update":
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


MARKUP_NAME = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> Eva & Co'
REGION = "west-flanders"


@pytest.fixture(scope="module")
def axe() -> str:
    if chromium_binary() is None or not AXE.exists():
        message = "the browser tests need chromium and axe-core: run `make browser`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


@pytest.fixture(scope="module")
def site(axe: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server with the demo data set and the local sign-in on; one trajectory whose client's
    name holds markup, referred by an organisation of its own. → (base URL, its id)."""
    data = tmp_path_factory.mktemp("browser")
    # Quarters: at this small size, a trend of several periods in every month of the year (on
    # years, two at most, and one in January).
    grid = {"RODEDRAAD_STATISTICS_GRID": "quarters"}
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks", "demo", "--size", "300", "--data-dir", str(data)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, **grid},
    )
    url = f"sqlite:///{data / 'rodedraad.sqlite'}"
    with serving(data, url, RODEDRAAD_UI_LOCAL_SIGN_IN="true", **grid) as (base, _):
        token = LocalTokens.from_file(data / "jwt-secret").issue(
            user="pat", organisation="org-pictures", roles=["coordinator"], region=REGION
        )
        client = _post(base, token, "/v1/clients", {"name": MARKUP_NAME})
        trajectory = _post(
            base,
            token,
            "/v1/trajectories",
            {
                "client_id": client["id"],
                "question": "Help at home <em>soon</em>",
                "sector": "youth_care",
                "region": REGION,
            },
        )
        environment = {"RODEDRAAD_DATA_DIR": str(data), "RODEDRAAD_DATABASE_URL": url}
        dynamics_release(Settings.from_env(environment))
        yield base, trajectory["id"]


def _post(base: str, token: str, path: str, body: dict[str, object]) -> dict[str, str]:
    body = {"occurred_at": "2026-01-05T09:00:00+01:00", **body}
    request = urllib.request.Request(  # noqa: S310
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310
        found: dict[str, str] = json.load(answer)
        return found


@pytest.fixture(scope="module")
def tab(site: tuple[str, str]) -> Iterator[Tab]:
    with chromium() as opened:
        yield opened


def sign_in(
    tab: Tab,
    base: str,
    organisation: str,
    role: str,
    then: str = "/ui/board",
    region: str = REGION,
) -> int:
    """Through the local sign-in form, as a person would; → the status of the page after it."""
    tab.open(f"{base}{then}")  # no session yet, or another's: the form, or the page
    tab.open(f"{base}/ui/sign-in?next={then}")
    return tab.submit(
        "form[action^='/ui/sign-in']",
        {"user": "tester", "organisation": organisation, "role": role, "region": region},
    )


def assert_accessible(tab: Tab, axe: str) -> None:
    violations = tab.axe_violations(axe)
    assert violations == [], json.dumps(violations, indent=1)


def test_the_board_after_signing_in_longest_stuck_first_accessible_by_keyboard(
    tab: Tab, site: tuple[str, str], axe: str, shots: Path
) -> None:
    base, _ = site
    assert tab.open(f"{base}/ui/board") == 200
    assert tab.evaluate("location.pathname") == "/ui/sign-in"  # asked to sign in first
    assert sign_in(tab, base, "region-audit", "auditor") == 200
    assert tab.evaluate("location.pathname") == "/ui/board"
    assert "tester" in tab.evaluate("document.querySelector('.who').textContent")
    days = tab.evaluate(
        "[...document.querySelectorAll('table.board tbody tr td.num')].map(c => +c.textContent)"
    )
    assert len(days) >= 3
    assert days == sorted(days, reverse=True)
    assert tab.press_tab() == "A Naar de inhoud"  # the skip link first, then the header's links
    assert tab.press_tab() == "A Rode Draad"
    assert_accessible(tab, axe)
    tab.screenshot(shots / "board.png")


def test_a_blocked_trajectorys_thread_hatches_the_block(
    tab: Tab, site: tuple[str, str], axe: str, shots: Path
) -> None:
    base, _ = site
    sign_in(tab, base, "region-audit", "auditor", region="east-flanders")  # the demo's block
    tab.open(f"{base}/ui/board?reason=waiting_list")
    link = tab.evaluate(
        "[...document.querySelectorAll('table.board tbody tr')]"
        ".find(r => r.querySelector('.status-blocked')).querySelector('a').href"
    )
    assert tab.open(link) == 200
    hatched = tab.evaluate(
        "document.querySelectorAll('.thread svg rect[fill=\"url(#hatch)\"]').length"
    )
    assert hatched >= 1
    assert "wachtlijst" in tab.evaluate("document.querySelector('.thread svg').textContent")
    assert_accessible(tab, axe)
    tab.screenshot(shots / "trajectory.png")
    as_of = tab.evaluate("document.querySelector('a[href*=\"/as-of\"]').href")
    assert tab.open(as_of) == 200
    assert tab.evaluate("document.querySelector('input[type=range]').value") == "0"
    assert_accessible(tab, axe)
    tab.screenshot(shots / "as-of.png")


def test_a_client_name_with_markup_is_shown_as_text_and_never_run(
    tab: Tab, site: tuple[str, str], axe: str
) -> None:
    base, marked = site
    sign_in(tab, base, "region-audit", "auditor")
    assert tab.open(f"{base}/ui/trajectories/{marked}") == 200
    assert tab.evaluate("document.querySelector('.client-name').textContent") == MARKUP_NAME
    assert tab.evaluate("document.querySelector('.question').textContent") == (
        "Help at home <em>soon</em>"
    )
    assert tab.evaluate("typeof window.pwned") == "undefined"
    assert tab.evaluate("document.querySelectorAll('main script, main img, main em').length") == 0
    assert_accessible(tab, axe)


def test_another_organisations_trajectory_is_the_404_page(
    tab: Tab, site: tuple[str, str], axe: str
) -> None:
    base, marked = site
    sign_in(tab, base, "yc-wvl-1", "coordinator")
    assert tab.open(f"{base}/ui/trajectories/{marked}") == 404
    assert tab.evaluate("document.querySelector('h1').textContent").startswith("Niet gevonden")
    assert "Help at home" not in tab.evaluate("document.body.textContent")
    assert_accessible(tab, axe)


def test_the_pages_in_english(tab: Tab, site: tuple[str, str], axe: str) -> None:
    base, _ = site
    sign_in(tab, base, "yc-wvl-1", "coordinator")
    assert tab.open(f"{base}/ui/board?lang=en") == 200
    assert tab.evaluate("document.documentElement.lang") == "en"
    assert tab.evaluate("document.querySelector('h1').textContent") == "Board"
    assert_accessible(tab, axe)


def test_a_learning_networks_process_map(
    tab: Tab, site: tuple[str, str], axe: str, shots: Path
) -> None:
    base, _ = site
    sign_in(tab, base, "network-org", "learning_network", "/ui/statistics", region=MAP_REGION)
    assert tab.evaluate("location.pathname") == "/ui/statistics"
    link = tab.evaluate(f"document.querySelector('a[href*=\"region={MAP_REGION}\"]').href")
    assert tab.open(link) == 200
    drawn = tab.evaluate("document.querySelectorAll('.thread svg g.edge').length")
    assert drawn == len(PUBLISHED_EDGES)
    assert_accessible(tab, axe)
    tab.screenshot(shots / "process-map.png")


def test_a_learning_networks_trend_names_what_is_withheld(
    tab: Tab, site: tuple[str, str], axe: str, shots: Path
) -> None:
    """The demo's own releases of the network's region: a period's share blocked is a bar when
    published, and the word for withheld (no bar) when not; the rule is chosen by keyboard."""
    base, _ = site
    sign_in(tab, base, "network-org", "learning_network", "/ui/statistics/trend")
    assert tab.evaluate("location.pathname") == "/ui/statistics/trend"
    periods = tab.evaluate(
        "[...document.querySelectorAll('.thread svg g.period.blocked')].map(g => "
        "[g.querySelector('title').textContent, g.querySelectorAll('rect.bar').length])"
    )
    assert len(periods) >= 2
    for title, bars in periods:
        assert (bars == 1) != ("afgeschermd" in title or "niet in de release" in title), title
    assert tab.evaluate("document.querySelector('select#rule').options.length") >= 1
    assert tab.evaluate("document.querySelectorAll('table.board tbody tr').length") == len(periods)
    assert_accessible(tab, axe)
    tab.screenshot(shots / "trend.png")
    assert tab.open(f"{base}/ui/statistics/trend?region={MAP_REGION}") == 403  # not its region


def test_the_sign_in_page_is_accessible(
    tab: Tab, site: tuple[str, str], axe: str, shots: Path
) -> None:
    base, _ = site
    assert tab.open(f"{base}/ui/sign-in") == 200
    assert_accessible(tab, axe)
    tab.screenshot(shots / "sign-in.png")


@pytest.fixture(scope="module")
def provider_site(
    axe: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, OpenIdProvider, str]]:
    """A server whose pages sign in at an OpenID provider the test runs, named ``localhost``
    while the pages are ``127.0.0.1``: to the browser another site, so the way back from the
    provider is a cross-site navigation as in production. One trajectory of another
    organisation. → (base URL, the provider, that trajectory's id)."""
    data = tmp_path_factory.mktemp("browser-oidc")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/ui/sign-in/callback"
    secret = data / "oidc-client-secret"
    secret.write_text("browser-secret")
    provider = OpenIdProvider("rodedraad-pages", "browser-secret", callback)
    provider.page_instead_of_redirect = True
    with (
        running(provider, name="localhost"),
        serving(
            data,
            f"sqlite:///{data / 'rodedraad.sqlite'}",
            RODEDRAAD_PORT=str(port),
            RODEDRAAD_OIDC_CLIENT_ID="rodedraad-pages",
            RODEDRAAD_OIDC_ISSUER=provider.issuer,
            RODEDRAAD_OIDC_CLIENT_SECRET_FILE=str(secret),
            RODEDRAAD_OIDC_REDIRECT_URL=callback,
        ) as (base, _),
    ):
        token = LocalTokens.from_file(data / "jwt-secret").issue(
            user="eli", organisation="org-elsewhere", roles=["coordinator"], region=REGION
        )
        client = _post(base, token, "/v1/clients", {"name": "Someone Elsewhere"})
        body = {"client_id": client["id"], "question": "Q", "sector": "youth_care"}
        body["region"] = REGION
        foreign = _post(base, token, "/v1/trajectories", body)
        yield base, provider, foreign["id"]


def arrive(tab: Tab, path: str, timeout: float = 15) -> None:
    """Wait until the tab has moved on (a meta refresh) to ``path`` and loaded it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if tab.evaluate("location.pathname + ' ' + document.readyState") == f"{path} complete":
                return
        except RuntimeError:  # between two documents
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the tab did not arrive at {path}")
        time.sleep(0.1)


def test_signing_in_through_the_identity_provider(
    provider_site: tuple[str, OpenIdProvider, str], axe: str
) -> None:
    """Board → sign-in → the provider (another site) → back → the board, signed in as the ID
    token says; the session cookie Strict and still sent after the cross-site way back; the
    same access rules; a refusal is an accessible page."""
    base, provider, foreign = provider_site
    with chromium() as tab:
        tab.open(f"{base}/ui/board?region={REGION}")
        arrive(tab, "/ui/board")
        who = tab.evaluate("document.querySelector('.who').textContent")
        assert "oidc-user" in who
        assert "org-coordinating" in who
        assert "coordinator" in who
        cookies = {c["name"]: c for c in tab.send("Network.getAllCookies")["cookies"]}
        assert cookies["rd_session"]["sameSite"] == "Strict"
        assert cookies["rd_session"]["httpOnly"] is True
        assert "rd_oidc" not in cookies  # spent
        assert_accessible(tab, axe)
        assert tab.open(f"{base}/ui/trajectories/{foreign}") == 404

        tab.send("Network.clearBrowserCookies")
        provider.error_instead_of_code = "access_denied"
        try:
            tab.open(f"{base}/ui/sign-in")
            arrive(tab, "/ui/sign-in/callback")
        finally:
            provider.error_instead_of_code = None
        page = tab.evaluate("document.body.textContent")
        assert "De identiteitsprovider heeft u niet aangemeld" in page
        assert "access_denied" in page
        assert tab.evaluate("document.querySelector('a[href=\"/ui/sign-in\"]') !== null")
        assert_accessible(tab, axe)


def test_the_screenshots_are_where_the_readme_shows_them() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in (
        "board.png",
        "trajectory.png",
        "as-of.png",
        "process-map.png",
        "trend.png",
        "sign-in.png",
    ):
        assert f"docs/screenshots/{name}" in readme
        assert (SCREENSHOTS / name).exists()
