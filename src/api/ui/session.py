"""Signing in to the pages (issue #23 point 2): a session cookie holding a bearer token the API's
own ``TokenVerifier`` checks, so a page acts as exactly the principal a token would; a CSRF
token on every form that changes something.

Embedded mode has a local sign-in for trying it out: off by default
(``RODEDRAAD_UI_LOCAL_SIGN_IN=true``), answering clients on this machine only, and refused at
start when a production issuer is configured (``rodedraad.settings``). Signing in with the
identity provider (OpenID Connect code flow with PKCE) is not built yet.
"""

import hashlib
import hmac
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.auth import Principal, TokenError, TokenVerifier

SESSION_COOKIE = "rd_session"
CSRF_COOKIE = "rd_csrf"
CSRF_FIELD = "csrf"
#: A session lasts a working day; the cookie and the token inside it expire together.
SESSION_HOURS = 10
LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})


def cookie(name: str, value: str, max_age: int | None) -> Cookie:
    """Every cookie of the pages: HttpOnly, Secure, SameSite=Strict, for ``/ui`` only."""
    return Cookie(
        key=name,
        value=value,
        path="/ui",
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite="strict",
    )


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
        verifier: TokenVerifier = connection.app.state.token_verifier
        principal: Principal | None = None
        if token:
            try:
                principal = verifier.verify(token)
            except TokenError:
                principal = None
        return AuthenticationResult(user=principal, auth=token if principal else None)
