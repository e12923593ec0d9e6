"""The pages (issue #23): the coordinators' board and a trajectory's plan state and thread,
server-rendered with Jinja2 (autoescaping every template, SVG included) and plain SVG.

Every page asks the API's own read functions (``api.read_access``, ``AccessPolicy``): the same
policy decides, another organisation's trajectory is the 404 page, and every view of a plan
state is recorded in the log of personal-data reads like the API's read. Pages carry a
Content-Security-Policy without inline script or style and ``Cache-Control: no-store``.
No ``from __future__ import annotations``: Litestar introspects these handlers.
"""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
import msgspec
import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Controller, Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.params import FromQuery, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from api.access import CASE_READERS, STATISTICS_READERS
from api.audit_access import read_as_of
from api.auth import Principal, TokenError
from api.common import Caller, Id, RequestedBoard, Services
from api.oidc import FLOW_MINUTES, SignInFailed
from api.problems import EXCEPTION_HANDLERS
from api.read_access import read_board, read_plan_state
from api.release_access import read_process_map, read_releases, read_trend
from api.schemas import RefFilter, ReleaseNumber, ReleaseRegion
from api.ui import process_map, thread, trend
from api.ui.labels import language, words
from api.ui.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    FLOW_COOKIE,
    SESSION_HOURS,
    UiSession,
    cookie,
    csrf_token,
    csrf_valid,
    ended_session,
    flow_cookie,
    is_local,
    new_nonce,
    session_cookie,
)
from domain.common import ReasonCategory, Sector
from domain.errors import NotFound
from projections.views import TrajectoryView, client_view

HERE = Path(__file__).parent
log = structlog.get_logger("rodedraad.ui")

#: No script at all yet; styles only from the app's own CSS file; nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: The roles the local sign-in offers (a token for any of them is what ``rodedraad token`` makes).
SIGN_IN_ROLES = ("coordinator", "professional", "auditor", "learning_network", "forum")

Lang = Annotated[str | None, QueryParameter(name="lang", required=False, max_length=2)]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Autoescape on for every template, ``.svg`` included: ``select_autoescape``'s defaults
    would leave an SVG template unescaped (issue #23 point 3)."""
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment))


class SignInRequired(Exception):
    """A page asked for without a valid session: the answer is the sign-in page."""


class CsrfRefused(Exception):
    """A form that changes something came without its CSRF token (or with another's)."""


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.scope.get("user") is None:
        raise SignInRequired()


def render(
    request: Request[Any, Any, Any],
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
) -> Template:
    """A page with what every page shows: who is signed in (user, organisation, role), the
    sign-out form with its CSRF token, the language switch; and the pages' headers."""
    lang = language(request.query_params.get("lang"))
    label, value = words(lang)
    nonce = request.cookies.get(CSRF_COOKIE)
    set_cookies = list(cookies or [])
    if not nonce:
        nonce = new_nonce()
        set_cookies.append(cookie(CSRF_COOKIE, nonce, None))
    services = request.app.state.ui_services
    user: Principal | None = request.scope.get("user")
    other = "en" if lang == "nl" else "nl"
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    query["lang"] = other
    return Template(
        template_name=name,
        context={
            **context,
            "t": label,
            "v": value,
            "lang": lang,
            "q": "" if lang == "nl" else "?lang=en",
            "amp_q": "" if lang == "nl" else "&lang=en",
            "user": user,
            "reads_cases": bool(user and CASE_READERS & set(user.roles)),
            "reads_statistics": bool(user and STATISTICS_READERS & set(user.roles)),
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(services.ui.csrf_secret, nonce),
            "switch_language": f"{request.url.path}?{urlencode(query)}",
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
        cookies=set_cookies,
        media_type="image/svg+xml" if name.endswith(".svg") else "text/html",
    )


def _problem_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The API's own mapping decides the status and the message; the page shows them."""
    if isinstance(exc, SignInRequired):
        lang = language(request.query_params.get("lang"))
        back = urlencode({"next": request.url.path, **({"lang": lang} if lang != "nl" else {})})
        return Redirect(f"/ui/sign-in?{back}", status_code=303, headers=PAGE_HEADERS)
    if isinstance(exc, CsrfRefused):
        return render(
            request,
            "error.html",
            {"status": 403, "title": "CSRF", "detail": "csrf"},
            status_code=403,
        )
    handler = next(
        EXCEPTION_HANDLERS[cls] for cls in type(exc).__mro__ if cls in EXCEPTION_HANDLERS
    )
    answer = handler(request, exc)
    problem = msgspec.json.decode(answer.content)
    status = int(answer.status_code)
    return render(
        request,
        "error.html",
        {"status": status, "title": problem.get("title", ""), "detail": problem.get("detail", "")},
        status_code=status,
    )


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A form's fields, after its CSRF token is checked against the cookie's nonce."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    secret = request.app.state.ui_services.ui.csrf_secret
    if not csrf_valid(secret, request.cookies.get(CSRF_COOKIE), fields.get(CSRF_FIELD)):
        raise CsrfRefused()
    return fields


def _next_page(target: str | None) -> str:
    """Back where the sign-in was asked for, and only to a page of this app."""
    if target and target.startswith("/ui/") and "//" not in target and "\\" not in target:
        return target
    return "/ui/board"


class SignInController(Controller):
    path = "/ui"

    @get("/", include_in_schema=False)
    async def home(self) -> Redirect:
        return Redirect("/ui/board", status_code=303)

    @get("/sign-in", include_in_schema=False)
    async def sign_in_page(
        self, request: Request[Any, Any, Any], services: Services
    ) -> Response[Any]:
        """Off to the identity provider when it is configured; else the local sign-in form, or
        a 404 page where it does not answer."""
        oidc = services.ui.oidc
        if oidc is not None:
            back = _next_page(request.query_params.get("next"))
            if language(request.query_params.get("lang")) != "nl":  # back in the same language
                back += f"{'&' if '?' in back else '?'}lang=en"
            try:
                url, flow = await oidc.start(back)
            except SignInFailed as e:
                return _sign_in_failed(request, e)
            return Redirect(
                url,
                status_code=303,
                headers=PAGE_HEADERS,
                cookies=[flow_cookie(flow, FLOW_MINUTES * 60)],
            )
        if services.ui.local_sign_in is None or not is_local(request):
            return render(request, "sign_in.html", {"available": False}, status_code=404)
        return render(
            request,
            "sign_in.html",
            {
                "available": True,
                "roles": SIGN_IN_ROLES,
                "next": _next_page(request.query_params.get("next")),
                "error": None,
            },
        )

    @post("/sign-in", include_in_schema=False, status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], services: Services) -> Response[Any]:
        """A session for the principal named in the form, as a token the API verifies."""
        tokens = services.ui.local_sign_in
        if tokens is None or not is_local(request):
            return render(request, "sign_in.html", {"available": False}, status_code=404)
        fields = await _form(request)
        role = fields.get("role", "")
        try:
            if role not in SIGN_IN_ROLES:  # (the pages serve no other: a session of none)
                raise TokenError(f"choose one of the roles: {', '.join(SIGN_IN_ROLES)}")
            token = tokens.issue(
                user=fields.get("user", "").strip(),
                organisation=fields.get("organisation", "").strip(),
                roles=[role],
                region=fields.get("region", "").strip(),
            )
            services.token_verifier.verify(token)
        except TokenError as e:
            return render(
                request,
                "sign_in.html",
                {
                    "available": True,
                    "roles": SIGN_IN_ROLES,
                    "next": _next_page(fields.get("next")),
                    "error": str(e).replace("bearer token", "sign-in"),
                },
                status_code=422,
            )
        return Redirect(
            _next_page(fields.get("next")),
            status_code=303,
            headers=PAGE_HEADERS,
            cookies=[session_cookie(token)],
        )

    @get("/sign-in/callback", include_in_schema=False)
    async def signed_in_by_provider(
        self, request: Request[Any, Any, Any], services: Services
    ) -> Template:
        """Where the identity provider sends the browser back: the state checked, the code
        exchanged, the ID token validated (``api.ui.oidc``); the flow cookie is spent either way.

        The session cookie is ``SameSite=Strict``, and a browser withholds such a cookie from
        every request of a navigation that began on another site, redirects included: a 303 to
        the board from here would arrive without it. So this answers a page of our own that
        moves on to the board itself (a same-site navigation) and links to it."""
        oidc = services.ui.oidc
        if oidc is None:
            return render(request, "sign_in.html", {"available": False}, status_code=404)
        spent = flow_cookie("", 0)
        params = {k: str(v) for k, v in request.query_params.items()}
        try:
            flow, principal = await oidc.finish(params, request.cookies.get(FLOW_COOKIE))
        except SignInFailed as e:
            return _sign_in_failed(request, e, spent)
        token = oidc.session(principal, timedelta(hours=SESSION_HOURS))
        return render(
            request,
            "signed_in.html",
            {"next": flow.next_page},
            cookies=[session_cookie(token), spent],
        )

    @get("/signed-out", include_in_schema=False)
    async def signed_out(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, "signed_out.html", {})

    @post("/sign-out", include_in_schema=False, status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any], services: Services) -> Response[Any]:
        """The session ends here; with the identity provider a page says so (``/ui/sign-in``
        would send the browser straight back to the provider, which may sign it in again)."""
        await _form(request)
        target = "/ui/signed-out" if services.ui.oidc is not None else "/ui/sign-in"
        return Redirect(target, status_code=303, headers=PAGE_HEADERS, cookies=[ended_session()])


def _sign_in_failed(
    request: Request[Any, Any, Any], failure: SignInFailed, *cookies: Cookie
) -> Template:
    """A sign-in that did not succeed: what went wrong, in words, and the way to try again;
    the log says which check refused it (never who, nor the provider's words)."""
    log.info("ui.sign_in_refused", reason=failure.reason, status=failure.status)
    return render(
        request,
        "sign_in_failed.html",
        {"reason": failure.reason, "detail": failure.detail},
        status_code=failure.status,
        cookies=list(cookies),
    )


class PageController(Controller):
    path = "/ui"
    guards = [signed_in]

    @get("/board", include_in_schema=False)
    async def board(
        self,
        request: Caller,
        services: Services,
        board_filter: RequestedBoard,
        lang: Lang = None,
    ) -> Template:
        """The board the API's ``/v1/board`` answers, in the same scope, longest stuck first."""
        board = await read_board(services, request, board_filter)
        return render(
            request,
            "board.html",
            {
                "board": board,
                "sectors": list(Sector),
                "reasons": list(ReasonCategory),
                "chosen": board_filter,
            },
        )

    @get("/trajectories/{trajectory_id:uuid}", include_in_schema=False)
    async def trajectory(
        self, trajectory_id: Id, request: Caller, services: Services, lang: Lang = None
    ) -> Template:
        """The plan state and its thread; the client's name only where the client read route
        would show it."""
        return render(
            request, "trajectory.html", await _trajectory(services, request, trajectory_id)
        )

    @get("/trajectories/{trajectory_id:uuid}/thread.svg", include_in_schema=False)
    async def thread_svg(
        self, trajectory_id: Id, request: Caller, services: Services, lang: Lang = None
    ) -> Template:
        """The thread alone, as an SVG document (for printing or a report)."""
        return render(request, "thread.svg", await _trajectory(services, request, trajectory_id))


async def _trajectory(services: Any, request: Caller, trajectory_id: Any) -> dict[str, Any]:
    read = await read_plan_state(services, request, trajectory_id)  # access decided, read logged
    view = msgspec.json.decode(read.document, type=TrajectoryView)
    timeline = await (services.standby or services.queries).timeline.of_trajectory(trajectory_id)
    policy = services.policy

    def client_name() -> str | None:
        try:
            client = services.care_record.client(read.client_id)
        except NotFound:
            return None
        shown = client_view(
            client, contact_details=policy.sees_contact_details(read.acting, client)
        )
        return None if shown.erased else shown.name

    name = await anyio.to_thread.run_sync(client_name)
    label, value = words(language(request.query_params.get("lang")))
    return {
        "view": view,
        "client_name": name,
        "thread": thread.build(view, timeline, datetime.now(UTC), label, value),
    }


class StatisticsPages(Controller):
    """A learning network's (and the forum's, an auditor's) statistics: the releases and a
    region's process map, as the API's statistics routes answer them."""

    path = "/ui/statistics"
    guards = [signed_in]

    @get("/", include_in_schema=False)
    async def releases(self, request: Caller, services: Services, lang: Lang = None) -> Template:
        found = [r for r in await read_releases(services, request, None) if r.regions]
        regions = sorted({region for r in found for region in r.regions})
        return render(request, "statistics.html", {"releases": found, "regions": regions})

    @get("/trend", include_in_schema=False)
    async def trend(
        self,
        request: Caller,
        services: Services,
        region: RefFilter = None,
        rule: RefFilter = None,
        lang: Lang = None,
    ) -> Template:
        """A region's blocks and deadlines kept per period (the caller's own region unless
        another is named): published numbers of its releases only, withheld ones in words."""
        chosen = region or request.user.region
        found = await read_trend(services, request, chosen)
        return render(
            request,
            "trend.html",
            {"region": chosen, "trend": trend.layout(found, rule), "outcomes": trend.OUTCOMES},
        )

    @get("/releases/{number:int}/process-map", include_in_schema=False)
    async def process_map(
        self,
        number: ReleaseNumber,
        region: ReleaseRegion,
        request: Caller,
        services: Services,
        lang: Lang = None,
    ) -> Template:
        """Published nodes and edges only: the API's own answer, drawn."""
        view = await read_process_map(services, request, number, region)
        return render(request, "process_map.html", {"view": view, "map": process_map.layout(view)})


#: How far back the as-of slider reaches at most (days before today).
MAX_SHIFT = 36500


class AuditPages(Controller):
    """An auditor's view of a trajectory as of a day (issue #23): the API's as-of answer on the
    occurred axis (the state at the end of that day, as known now), with a slider over the
    trajectory's days; auditors of its region only, each view logged."""

    path = "/ui/audit"
    guards = [signed_in]

    @get("/trajectories/{trajectory_id:uuid}/as-of", include_in_schema=False)
    async def as_of(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
        day: FromQuery[date | None] = None,
        shift: Annotated[int | None, QueryParameter(ge=-MAX_SHIFT, le=0)] = None,
        lang: Lang = None,
    ) -> Template:
        """``day``, or ``shift`` days from today (the slider), or today."""
        today = datetime.now(UTC).date()
        chosen = day or (today + timedelta(days=shift) if shift is not None else today)
        # The end of the day; today (and a later day, which has not happened: the page's
        # steps may reach past today) as of now, which the page then shows.
        chosen = min(chosen, today)
        moment = (
            datetime.now(UTC)
            if chosen == today
            else datetime.combine(chosen, time(23, 59, 59), tzinfo=UTC)
        )
        answer = await read_as_of(services, request, trajectory_id, moment, None)
        state: TrajectoryView = answer.state
        first = state.referred_at.astimezone(UTC).date()
        return render(
            request,
            "as_of.html",
            {
                "answer": answer,
                "view": state,
                "day": chosen,
                "first": first,
                "today": today,
                "shift": (chosen - today).days,
                "earliest": -min(MAX_SHIFT, (today - first).days),
                # In whole days from ``chosen``: a step from 9999-12-31 is no date to compute.
                "steps": [
                    (label, (chosen - today).days + d)
                    for label, d in (("-30", -30), ("-7", -7), ("+7", 7), ("+30", 30))
                    if (first - chosen).days <= d <= (today - chosen).days
                ],
            },
        )


def ui_router() -> Router:
    """The pages under ``/ui``, with their session middleware and their error pages; the
    static CSS under ``/ui/static``."""
    handlers: dict[Any, Any] = {
        **dict.fromkeys(EXCEPTION_HANDLERS, _problem_page),
        SignInRequired: _problem_page,
        CsrfRefused: _problem_page,
    }
    return Router(
        path="/",
        route_handlers=[
            SignInController,
            PageController,
            StatisticsPages,
            AuditPages,
            create_static_files_router(
                path="/ui/static", directories=[HERE / "static"], include_in_schema=False
            ),
        ],
        middleware=[DefineMiddleware(UiSession, exclude=["^/ui/static"])],
        exception_handlers=handlers,
        include_in_schema=False,
    )
