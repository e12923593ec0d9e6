"""Signing in to the pages (issue #23 point 2): a session cookie holding a bearer token the API's
own ``TokenVerifier`` checks, so a page acts as exactly the principal a token would; a CSRF
token on every form that changes something.

Embedded mode has a local sign-in for trying it out: off by default
(``RODEDRAAD_UI_LOCAL_SIGN_IN=true``), answering clients on this machine only, and refused at
start when a production issuer is configured (``rodedraad.settings``). Signing in with the
identity provider is ``api.oidc``; its sessions are tokens of its own, checked here the same
way.
"""

import hashlib
import hmac
import secrets
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.auth import Principal, TokenError, TokenVerifier

SESSION_COOKIE = "rd_session"
CSRF_COOKIE = "rd_csrf"
FLOW_COOKIE = "rd_oidc"
CSRF_FIELD = "csrf"
#: A session lasts a working day; the cookie and the token inside it expire together.
SESSION_HOURS = 10
LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})


def cookie(
    name: str,
    value: str,
    max_age: int | None,
    *,
    path: str = "/ui",
    samesite: Literal["strict", "lax"] = "strict",
) -> Cookie:
    """Every cookie of the pages: HttpOnly, Secure, SameSite=Strict, for ``/ui`` only (but for
    the one in ``flow_cookie``)."""
    return Cookie(
        key=name,
        value=value,
        path=path,
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite=samesite,
    )


def flow_cookie(value: str, max_age: int) -> Cookie:
    """The one exception: the identity provider's sign-in flow (state, nonce, PKCE verifier)
    must come back with the browser on the provider's redirect to the callback, a navigation
    from another site, on which browsers never send a ``SameSite=Strict`` cookie. So it is
    ``Lax`` (sent on a top-level GET from elsewhere, never on another site's POST or
    sub-request), lives ten minutes, and is sent to ``/ui/sign-in`` only."""
    return cookie(FLOW_COOKIE, value, max_age, path="/ui/sign-in", samesite="lax")


def session_cookie(token: str) -> Cookie:
    return cookie(SESSION_COOKIE, token, SESSION_HOURS * 3600)


def ended_session() -> Cookie:
    return cookie(SESSION_COOKIE, "", 0)


def csrf_token(secret: bytes, nonce: str) -> str:
    """The form's token: the cookie's nonce signed with the server's key (a signed double
    submit: a page on another site can neither read the cookie nor forge the signature)."""
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret, nonce), submitted)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def is_local(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    client = connection.client
    return client is not None and client.host in LOCAL_CLIENTS


class UiSession(AbstractAuthenticationMiddleware):
    """The principal of a page request, from its session cookie, or None (the page then asks
    to sign in). Never raises: a page answers with a page, not a problem document."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = connection.cookies.get(SESSION_COOKIE)
        oidc = connection.app.state.ui_services.ui.oidc
        # A session from the identity provider's sign-in is a token of the pages' own.
        verifier: TokenVerifier = (
            oidc.session_verifier if oidc is not None else connection.app.state.token_verifier
        )
        principal: Principal | None = None
        if token:
            try:
                principal = verifier.verify(token)
            except TokenError:
                principal = None
        return AuthenticationResult(user=principal, auth=token if principal else None)
