"""The pages (issue #23) over HTTP: the board and a trajectory's thread render what the API
would answer, to whom it would answer it; markup in a client's name is text; the pages' headers,
cookies and CSRF protection; the local sign-in only for this machine's clients.

Pages are asked for with the session cookie a sign-in sets (a bearer token the API verifies),
over https: the cookie is ``Secure``.
"""

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from projections.statistics.store import CellRow, TableSummary
from rodedraad.settings import Settings, SettingsError
from rodedraad.wiring import build_access_log
from tests.e2e.readside import COORDINATOR, PROVIDER, App, Trajectories, app_on
from tests.e2e.steps import Record, save_period_release, save_table
from tests.integration.databases import BACKENDS, fresh_settings, require_backend

BASE = "https://testserver.local"
MARKUP_NAME = '<script>alert("x")</script> Ann & <b>Bo</b>'


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The real app with the local sign-in switched on, on a database of its own."""
    require_backend(request, request.param)
    with fresh_settings(request.param, tmp_path_factory.mktemp("pages")) as settings:
        settings = dataclasses.replace(settings, embedded_workers=False, ui_local_sign_in=True)
        with app_on(settings, base_url=BASE) as built:
            yield built


@dataclasses.dataclass
class Story:
    blocked: Record
    quiet: Record
    region: str


@pytest.fixture(scope="module")
def story(app: App) -> Story:
    """A blocked, escalated trajectory with an agreement in force and a missed deadline, whose
    client's name holds markup; and one stuck for a shorter while."""
    build = Trajectories(app)
    response = app.http.post(
        "/v1/clients",
        json={"occurred_at": build.when.ago(400), "name": MARKUP_NAME},
        headers=app.auth,
    )
    assert response.status_code == 201, response.text
    blocked = build.active(
        started_days_ago=120, next_consultation_in=20, client_id=response.json()["id"]
    )
    build.agreement(blocked, 110, "ra-1", (COORDINATOR, "planmaker"), (PROVIDER, "provider"))
    build.accept_agreement(blocked, 109, "ra-1", COORDINATOR)
    build.accept_agreement(blocked, 108, "ra-1", PROVIDER)
    build.block(blocked, 60, "waiting_list", "funding")
    build.escalate(blocked, 50, level="organisation")
    build.missed_deadline(blocked, "evaluation", due_in=-30)
    quiet = build.active(started_days_ago=30, next_consultation_in=-5)
    return Story(blocked, quiet, build.region)


def page(
    app: App, path: str, *, user: str = "user-an", org: str = COORDINATOR, **kw: Any
) -> httpx.Response:
    token = app.token(user=user, org=org)
    return app.http.get(path, headers={"Cookie": f"rd_session={token}"}, **kw)


def test_the_board_lists_the_stuck_trajectories_longest_stuck_first_linking_to_each(
    app: App, story: Story
) -> None:
    answer = page(app, f"/ui/board?region={story.region}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    links = re.findall(r'href="/ui/trajectories/([0-9a-f-]{36})"', answer.text)
    assert links == [story.blocked.id, story.quiet.id]
    assert "Overzichtsbord" in answer.text
    assert "wachtlijst" in answer.text  # the block's reason, in Dutch


def test_the_board_in_english_with_lang_en(app: App, story: Story) -> None:
    answer = page(app, f"/ui/board?region={story.region}&lang=en")
    assert '<html lang="en">' in answer.text
    assert "Board" in answer.text
    assert "waiting list" in answer.text
    assert f'href="/ui/trajectories/{story.blocked.id}?lang=en"' in answer.text


def test_the_board_takes_the_api_filters(app: App, story: Story) -> None:
    answer = page(app, f"/ui/board?region={story.region}&reason=funding")
    links = re.findall(r'href="/ui/trajectories/([0-9a-f-]{36})"', answer.text)
    assert links == [story.blocked.id]


def test_the_trajectory_page_shows_plan_state_and_thread(app: App, story: Story) -> None:
    answer = page(app, f"/ui/trajectories/{story.blocked.id}")
    assert answer.status_code == 200
    text = answer.text
    assert "Support at home and at school" in text  # the question, from the plan state
    svg = text[text.index("<svg") : text.index("</svg>")]
    # the lanes: status with the block hatched, its reasons; the agreement per party; the
    # escalation at its level; the missed deadline
    assert 'fill="url(#hatch)"' in svg
    assert "wachtlijst, financiering" in svg
    assert f"Rolafspraak: {COORDINATOR}" in svg
    assert f"Rolafspraak: {PROVIDER}" in svg
    assert "Escalatie: organisatie" in svg
    assert "evaluation gemist" in svg


def test_a_client_name_with_markup_is_text_in_the_page_and_in_the_svg(
    app: App, story: Story
) -> None:
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Ann &amp; &lt;b&gt;Bo&lt;/b&gt;"
    html = page(app, f"/ui/trajectories/{story.blocked.id}")
    assert escaped in html.text
    assert "<script" not in html.text
    assert "<b>" not in html.text
    svg = page(app, f"/ui/trajectories/{story.blocked.id}/thread.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert escaped in svg.text
    assert "<script" not in svg.text


def test_another_organisations_trajectory_is_the_404_page(app: App, story: Story) -> None:
    answer = page(app, f"/ui/trajectories/{story.blocked.id}", user="eve", org="org-elsewhere")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Niet gevonden" in answer.text
    assert "Support at home" not in answer.text
    svg = page(app, f"/ui/trajectories/{story.blocked.id}/thread.svg", user="eve", org="org-x")
    assert svg.status_code == 404


def test_every_view_of_a_trajectory_page_is_logged_like_an_api_read(app: App, story: Story) -> None:
    page(app, f"/ui/trajectories/{story.blocked.id}", user="user-logged")
    page(app, f"/ui/trajectories/{story.blocked.id}", user="user-logged", org="org-other")
    log = build_access_log(app.settings)
    try:
        entries = log.query(user_id="user-logged")
    finally:
        log.close()
    assert [(str(e.trajectory_id), e.endpoint, e.organisation) for e in entries] == [
        (story.blocked.id, "GET /ui/trajectories/{trajectory_id}", COORDINATOR)
    ]


def test_pages_forbid_inline_script_and_are_not_cached(app: App, story: Story) -> None:
    for path in ("/ui/board", f"/ui/trajectories/{story.blocked.id}", "/ui/sign-in"):
        answer = page(app, path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["cache-control"] == "no-store"
        assert "style=" not in answer.text
        assert "<script" not in answer.text


def test_the_stylesheet_is_served_by_the_app(app: App) -> None:
    answer = app.http.get("/ui/static/ui.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in answer.text


def test_a_page_without_a_session_asks_to_sign_in(app: App, story: Story) -> None:
    answer = app.http.get(f"/ui/trajectories/{story.blocked.id}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/ui/sign-in?next=%2Fui%2Ftrajectories%2F{story.blocked.id}"
    )
    forged = app.http.get(
        "/ui/board", headers={"Cookie": "rd_session=not-a-token"}, follow_redirects=False
    )
    assert forged.status_code == 303


class FromThisMachine:
    """The app as a client on this machine reaches it (the test client says ``testclient``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50123)}
        await self.app(scope, receive, send)


@pytest.fixture
def local(app: App) -> Iterator[httpx.Client]:
    """A client on this machine, on the app's own event loop (its database pool lives there)."""
    client = TestClient(app=FromThisMachine(app.http.app), base_url=BASE)  # type: ignore[arg-type]
    client.blocking_portal = app.http.blocking_portal
    return client


def _csrf(answer: httpx.Response) -> tuple[str, str]:
    """The CSRF nonce cookie a page set and the token its forms carry."""
    nonce = answer.cookies["rd_csrf"]
    token = re.search(r'name="csrf" value="([0-9a-f]{64})"', answer.text)
    assert token is not None
    return nonce, token.group(1)


def test_local_sign_in_sets_a_strict_secure_httponly_session_and_the_page_names_who(
    app: App, local: httpx.Client, story: Story
) -> None:
    form = local.get("/ui/sign-in")
    assert form.status_code == 200
    nonce, token = _csrf(form)
    csrf_cookie = form.headers["set-cookie"].lower()
    assert "httponly" in csrf_cookie
    assert "secure" in csrf_cookie
    assert "samesite=strict" in csrf_cookie
    answer = local.post(
        "/ui/sign-in",
        data={
            "csrf": token,
            "user": "user-bo",
            "organisation": COORDINATOR,
            "role": "coordinator",
            "region": story.region,
            "next": "/ui/board",
        },
        headers={"Cookie": f"rd_csrf={nonce}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/board"
    session = answer.headers["set-cookie"]
    assert session.startswith("rd_session=")
    flags = session.lower()
    assert "httponly" in flags
    assert "secure" in flags
    assert "samesite=strict" in flags
    board = local.get("/ui/board", headers={"Cookie": f"rd_session={answer.cookies['rd_session']}"})
    assert "user-bo" in board.text
    assert COORDINATOR in board.text
    assert "coordinator" in board.text
    assert story.blocked.id in board.text


def test_a_form_without_its_csrf_token_is_refused(app: App, local: httpx.Client) -> None:
    form = local.get("/ui/sign-in")
    nonce, token = _csrf(form)
    fields = {"user": "u", "organisation": COORDINATOR, "role": "coordinator", "region": "r"}
    without = local.post(
        "/ui/sign-in", data=fields, headers={"Cookie": f"rd_csrf={nonce}"}, follow_redirects=False
    )
    assert without.status_code == 403
    assert "rd_session" not in without.headers.get("set-cookie", "")
    other_nonce = local.post(
        "/ui/sign-in",
        data={**fields, "csrf": token},
        headers={"Cookie": "rd_csrf=another-nonce"},
        follow_redirects=False,
    )
    assert other_nonce.status_code == 403
    session = app.token()
    sign_out = app.http.post(
        "/ui/sign-out", data={}, headers={"Cookie": f"rd_session={session}; rd_csrf={nonce}"}
    )
    assert sign_out.status_code == 403


def test_the_local_sign_in_makes_a_session_only_for_a_role_the_pages_serve(
    app: App, local: httpx.Client
) -> None:
    """Found by an outside probe: ``root``, ``client`` or ``auditor,coordinator`` got a session
    (that every page then refused); the form offers the roles the pages serve."""
    nonce, token = _csrf(local.get("/ui/sign-in"))
    for role in ("root", "client", "data_protection_officer", "auditor,coordinator", ""):
        answer = local.post(
            "/ui/sign-in",
            data={
                "csrf": token,
                "user": "u",
                "organisation": COORDINATOR,
                "role": role,
                "region": "west-flanders",
            },
            headers={"Cookie": f"rd_csrf={nonce}"},
            follow_redirects=False,
        )
        assert answer.status_code == 422, role
        assert "rd_session" not in answer.headers.get("set-cookie", ""), role
        assert "choose one of the roles" in answer.text, role


def test_sign_out_with_its_token_ends_the_session(app: App) -> None:
    form = page(app, "/ui/board")
    nonce, token = _csrf(form)
    answer = app.http.post(
        "/ui/sign-out",
        data={"csrf": token},
        headers={"Cookie": f"rd_session={app.token()}; rd_csrf={nonce}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["set-cookie"].startswith('rd_session=""') or "max-age=0" in (
        answer.headers["set-cookie"].lower()
    )


def test_the_local_sign_in_does_not_answer_another_machine(app: App) -> None:
    assert app.http.get("/ui/sign-in").status_code == 404
    form = app.http.post("/ui/sign-in", data={"user": "u", "role": "coordinator"})
    assert form.status_code == 404
    assert "rd_session" not in form.headers.get("set-cookie", "")


def test_the_identity_providers_callback_is_the_404_page_where_it_is_not_configured(
    app: App,
) -> None:
    answer = app.http.get("/ui/sign-in/callback?code=c&state=s")
    assert answer.status_code == 404
    assert "rd_session" not in answer.headers.get("set-cookie", "")


def test_the_local_sign_in_is_off_by_default_and_refused_with_a_production_issuer(
    tmp_path: Any,
) -> None:
    assert Settings.from_env({"RODEDRAAD_DATA_DIR": str(tmp_path)}).ui_local_sign_in is False
    with pytest.raises(SettingsError, match="UI_LOCAL_SIGN_IN"):
        Settings.from_env(
            {
                "RODEDRAAD_DATA_DIR": str(tmp_path),
                "RODEDRAAD_UI_LOCAL_SIGN_IN": "true",
                "RODEDRAAD_JWT_JWKS_URL": "https://idp.example/jwks",
                "RODEDRAAD_JWT_ISSUER": "https://idp.example",
            }
        )


# --- a learning network's process map ---------------------------------------------------------

MAP_REGION = "region-map"
#: A trace's steps as the dynamics table names them; ten published edges and one withheld.
PUBLISHED_EDGES = {
    ("start", "referred"): 40,
    ("referred", "accepted"): 38,
    ("accepted", "consultation_held"): 35,
    ("consultation_held", "role_agreement_proposed"): 30,
    ("role_agreement_proposed", "plan_signed"): 25,
    ("plan_signed", "evaluated"): 22,
    ("evaluated", "blocked"): 12,
    ("blocked", "unblocked"): 11,
    ("unblocked", "evaluated"): 11,
    ("evaluated", "closed"): 15,
    ("closed", "end"): 15,
}
WITHHELD_EDGE = ("referred", "declined")


def dynamics_release(settings: Settings) -> int:
    """A release of ``MAP_REGION`` with a dynamics table: published nodes and edges, one edge
    and one node withheld (as disclosure control leaves them: no value), a median gap."""
    nodes: dict[str, int] = {}
    for (source, _), count in PUBLISHED_EDGES.items():
        nodes[source] = nodes.get(source, 0) + count
    cells = [
        CellRow("*", f"node:{activity}", "count", float(count))
        for activity, count in nodes.items()
        if activity not in ("start", "unblocked")
    ]
    cells.append(CellRow("*", "node:unblocked", "count", None, withheld="suppressed"))
    cells += [
        CellRow("*", f"edge:{a}>{b}", "count", float(count))
        for (a, b), count in PUBLISHED_EDGES.items()
    ]
    a, b = WITHHELD_EDGE
    cells.append(CellRow("*", f"edge:{a}>{b}", "count", None, withheld="suppressed"))
    cells.append(CellRow("*", "weeks:plan_signed>evaluated", "quantile", 91.0, quantile=0.5))
    summary = TableSummary("dynamics", len(cells), len(cells) - 2, {"suppressed": 2})
    return save_table(settings, MAP_REGION, summary, cells, position=1)


@pytest.fixture(scope="module")
def release(app: App) -> int:
    return dynamics_release(app.settings)


def network_page(app: App, path: str, region: str = MAP_REGION) -> httpx.Response:
    token = app.token(user="lena", org="network-org", roles=("learning_network",), region=region)
    return app.http.get(path, headers={"Cookie": f"rd_session={token}"})


def test_the_process_map_draws_the_published_edges_only(app: App, release: int) -> None:
    answer = network_page(app, f"/ui/statistics/releases/{release}/process-map?region={MAP_REGION}")
    assert answer.status_code == 200
    svg = answer.text[answer.text.index("<svg") : answer.text.index("</svg>")]
    assert svg.count('marker-end="url(#arrowhead)"') == len(PUBLISHED_EDGES) >= 10
    for (a, b), count in PUBLISHED_EDGES.items():
        assert f"<title>{a} → {b}: {count}" in svg
    assert "<title>referred → declined" not in svg  # withheld: never drawn
    assert "declined" not in answer.text.split("<caption>")[1]  # nor in the table
    assert "<title>unblocked</title>" in svg  # a box without its withheld number
    assert "plan_signed → evaluated: 22, mediaan 13.0 weken" in svg


def test_the_statistics_page_lists_the_releases_of_the_networks_region(
    app: App, release: int
) -> None:
    answer = network_page(app, "/ui/statistics")
    assert answer.status_code == 200
    assert (
        f'href="/ui/statistics/releases/{release}/process-map?region={MAP_REGION}"' in answer.text
    )


def test_a_region_not_yours_and_a_coordinator_get_the_refusal_page(app: App, release: int) -> None:
    path = f"/ui/statistics/releases/{release}/process-map?region={MAP_REGION}"
    other = network_page(app, path, region="region-elsewhere")
    assert other.status_code == 403
    assert "<svg" not in other.text
    coordinator = page(app, path)
    assert coordinator.status_code == 403
    assert coordinator.headers["content-type"].startswith("text/html")


# --- a learning network's trend of blocks and deadlines kept ---------------------------------

TREND_REGION = "region-trend"
OTHER_REGION = "region-other"
FLOW = TableSummary("flow", 3, 3, {})
PROCEDURES = TableSummary("procedures", 4, 3, {"suppressed": 1})


def flow(active: float, blocked: float | None, share: float | None) -> list[CellRow]:
    withheld = None if blocked is not None else "suppressed"
    return [
        CellRow("*", "active", "count", active),
        CellRow("*", "blocked", "count", blocked, withheld=withheld, group="active"),
        CellRow(
            "*",
            "share_blocked",
            "rate",
            share,
            withheld=None if share is not None else "rate_part_withheld",
            group="active",
            numerator="blocked",
        ),
        CellRow("youth_care", "blocked", "count", 7.0, group="active"),  # a sector: not drawn
    ]


def deadlines(due: float, met: float, late: float) -> list[CellRow]:
    rule = "deadline:planned_consultation"
    return [
        CellRow("*", f"{rule}/due", "count", due),
        CellRow("*", f"{rule}/met", "count", met, group=f"{rule}/due"),
        CellRow("*", f"{rule}/met_late", "count", late, group=f"{rule}/due"),
        CellRow("*", f"{rule}/missed", "count", None, withheld="suppressed", group=f"{rule}/due"),
    ]


@pytest.fixture(scope="module")
def trend_releases(app: App) -> list[int]:
    """Three periods of ``TREND_REGION`` (2025Q2 revised: its newest release counts), one of
    ``OTHER_REGION``."""
    numbers = []
    for period, cells in (
        ("2025Q1", (flow(120, 18, 0.15), deadlines(60, 41, 12))),
        ("2025Q2", (flow(130, 19, 0.146), deadlines(70, 49, 11))),  # revised below
        ("2025Q2", (flow(130, None, None), deadlines(70, 55, 15))),
        ("2024", (flow(300, 40, 0.133), deadlines(200, 150, 30))),
    ):
        tables = [(FLOW, cells[0]), (PROCEDURES, cells[1])]
        numbers.append(save_period_release(app.settings, TREND_REGION, period, tables, position=1))
    other = [(FLOW, flow(90, 30, 0.333)), (PROCEDURES, deadlines(50, 20, 10))]
    numbers.append(save_period_release(app.settings, OTHER_REGION, "2025Q1", other, position=1))
    return numbers


def test_the_trend_draws_each_periods_published_numbers_and_names_the_withheld(
    app: App, trend_releases: list[int]
) -> None:
    answer = network_page(app, "/ui/statistics/trend", region=TREND_REGION)
    assert answer.status_code == 200
    svg = answer.text[answer.text.index("<svg") : answer.text.index("</svg>")]
    periods = re.findall(r'<g class="period blocked"><title>([^:]+):', svg)
    assert periods == ["2024", "2025Q1", "2025Q2"]  # a year after its quarters
    assert svg.count('<rect class="bar" ') == 2  # 2024 and 2025Q1; 2025Q2's share withheld
    assert "15 % (18 / 120 lopend)" in svg
    assert "2025Q2: aandeel geblokkeerd afgeschermd" in svg
    assert ">55 gehaald" in svg  # the revision's numbers, not the revised release's 49
    assert ">49 gehaald" not in svg
    assert svg.count("gemist: afgeschermd") == 3  # withheld: in words, never a bar
    assert 'class="bar missed"' not in svg
    assert "0 gemist" not in svg
    assert "33 %" not in answer.text  # another region's numbers
    english = network_page(app, "/ui/statistics/trend?lang=en", region=TREND_REGION)
    assert "missed: withheld" in english.text


def test_a_network_of_another_region_sees_nothing_of_the_trend(
    app: App, trend_releases: list[int]
) -> None:
    path = f"/ui/statistics/trend?region={TREND_REGION}"
    other = network_page(app, path, region=OTHER_REGION)
    assert other.status_code == 403
    assert "<svg" not in other.text
    assert "15 %" not in other.text
    own = network_page(app, "/ui/statistics/trend", region=OTHER_REGION)
    assert own.status_code == 200
    assert "33 %" in own.text
    assert "2025Q2" not in own.text
    assert "15 %" not in own.text
    assert page(app, path).status_code == 403  # a coordinator reads no statistics


# --- an auditor's as-of view ---------------------------------------------------------------------


def auditor_page(app: App, path: str, region: str, user: str = "aud") -> httpx.Response:
    token = app.token(user=user, org="audit-office", roles=("auditor",), region=region)
    return app.http.get(path, headers={"Cookie": f"rd_session={token}"})


def test_the_as_of_view_shows_the_state_of_the_day_the_slider_chose(app: App, story: Story) -> None:
    path = f"/ui/audit/trajectories/{story.blocked.id}/as-of"
    before_block = auditor_page(app, f"{path}?shift=-70", story.region)
    assert before_block.status_code == 200
    assert 'class="badge status-active"' in before_block.text
    assert 'type="range" min="-300" max="0" step="1" value="-70"' in before_block.text
    now = auditor_page(app, path, story.region)
    assert 'class="badge status-blocked"' in now.text
    assert "wachtlijst" in now.text
    chosen = auditor_page(app, f"{path}?day={story_day(70)}", story.region)
    assert 'class="badge status-active"' in chosen.text


def test_a_day_at_the_calendars_end_is_shown_or_refused_never_a_server_error(
    app: App, story: Story
) -> None:
    """The page's ±7/±30-day steps are dates too: from 9999-12-31 or 0001-01-01 they would
    leave the calendar."""
    path = f"/ui/audit/trajectories/{story.blocked.id}/as-of"
    for day in ("9999-12-31", "9999-12-20", "0001-01-01", "0001-01-10"):
        answer = auditor_page(app, f"{path}?day={day}", story.region)
        assert answer.status_code < 500, (day, answer.text[:300])
    last = auditor_page(app, f"{path}?day=9999-12-31", story.region)
    assert last.status_code == 200
    assert 'class="badge status-blocked"' in last.text


def story_day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def test_the_as_of_view_is_for_the_regions_auditors_and_logged(app: App, story: Story) -> None:
    path = f"/ui/audit/trajectories/{story.blocked.id}/as-of"
    assert auditor_page(app, path, "region-elsewhere").status_code == 404
    assert page(app, path).status_code == 403
    auditor_page(app, path, story.region, user="aud-logged")
    log = build_access_log(app.settings)
    try:
        entries = log.query(user_id="aud-logged")
    finally:
        log.close()
    assert [(str(e.trajectory_id), e.endpoint) for e in entries] == [
        (story.blocked.id, "GET /ui/audit/trajectories/{trajectory_id}/as-of")
    ]
