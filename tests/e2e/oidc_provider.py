"""An OpenID provider the tests run themselves (issue #23: none outside is reachable).

Small but strict where the pages' sign-in relies on it: discovery, an authorization endpoint
that signs in one configured test user without asking (and checks the client, the redirect URI
and the PKCE challenge), a token endpoint that checks the client secret (HTTP Basic), the
redirect URI, the PKCE verifier (S256) and that a code is redeemed once, and a JWKS with an RSA
key generated when the provider starts. Knobs let a test make it misbehave the ways a real
provider, or someone in between, could: another nonce, another signing key, an expired token,
an error instead of a code.

It serves plain HTTP on 127.0.0.1 from a thread of its own (``http.server``).
"""

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "test-key-1"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    """An authorization code's context, as the authorization endpoint recorded it."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    claims: dict[str, Any]
    redeemed: bool = False


@dataclass
class OpenIdProvider:
    client_id: str
    client_secret: str
    redirect_uri: str
    #: Who the authorization endpoint signs in (claims the ID token carries besides the
    #: protocol's own): the same claims an API token carries.
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "oidc-user",
            "org": "org-coordinating",
            "roles": ["coordinator"],
            "region": "west-flanders",
        }
    )
    key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key)
    # Misbehaviour, one knob each:
    nonce_instead: str | None = None
    signing_key_instead: rsa.RSAPrivateKey | None = None
    token_lifetime: timedelta = timedelta(minutes=5)
    #: How far the provider's clock runs ahead of ours (its ID tokens' ``iat`` and ``exp``).
    clock_ahead: timedelta = timedelta(0)
    error_instead_of_code: str | None = None
    #: Answer the authorization request with a page of the provider's own that moves on to the
    #: callback (as a login page does once the person signs in), instead of an HTTP redirect:
    #: the way back is then a navigation a page on the provider's site starts, as in real life.
    page_instead_of_redirect: bool = False
    #: What the token endpoint was sent, in order (form fields and whether the secret matched).
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    issuer: str = ""

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """Auto-consent: → (status, headers, body). Refuses, as a provider must, a request it
        cannot send back safely (unknown client, unregistered redirect URI) with a 400 page."""
        if query.get("client_id") != self.client_id:
            return 400, {}, "unknown client_id"
        if query.get("redirect_uri") != self.redirect_uri:
            return 400, {}, "redirect_uri is not registered"
        back: dict[str, str] = {"state": query["state"]} if "state" in query else {}
        if self.error_instead_of_code:
            back |= {"error": self.error_instead_of_code, "error_description": "the user said no"}
        elif query.get("response_type") != "code" or "openid" not in query.get("scope", ""):
            back["error"] = "unsupported_response_type"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            back |= {"error": "invalid_request", "error_description": "PKCE S256 required"}
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=query["redirect_uri"],
                nonce=query.get("nonce"),
                challenge=query["code_challenge"],
                claims=dict(self.user),
            )
            back["code"] = code
        location = f"{self.redirect_uri}?{urlencode(back)}"
        if self.page_instead_of_redirect:
            url = html.escape(location)
            page = f'<!DOCTYPE html><meta http-equiv="refresh" content="0; url={url}">'
            return 200, {"Content-Type": "text/html"}, page
        return 302, {"Location": location}, ""

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """RFC 6749 §4.1.3 with RFC 7636 §4.6: → (status, JSON answer)."""
        client_ok = self._client_authenticated(authorization)
        self.token_requests.append({**form, "client_authenticated": client_ok})
        if not client_ok:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.get(form.get("code", ""))
        if grant is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        if grant.redeemed:
            return 400, {"error": "invalid_grant", "error_description": "code already used"}
        grant.redeemed = True  # once, whatever follows (RFC 6749 §4.1.2)
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(computed, grant.challenge):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }

    def id_token(self, grant: Grant) -> str:
        now = datetime.now(UTC) + self.clock_ahead
        claims: dict[str, Any] = {
            **grant.claims,
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + self.token_lifetime,
        }
        nonce = self.nonce_instead or grant.nonce
        if nonce is not None:
            claims["nonce"] = nonce
        key = self.signing_key_instead or self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})

    def _client_authenticated(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return unquote_plus(user) == self.client_id and hmac.compare_digest(
            unquote_plus(password), self.client_secret
        )


class _Handler(BaseHTTPRequestHandler):
    provider: OpenIdProvider

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/.well-known/openid-configuration":
            self._json(200, self.provider.discovery())
        elif parts.path == "/jwks":
            self._json(200, self.provider.jwks())
        elif parts.path == "/authorize":
            status, headers, body = self.provider.authorize(query)
            media = headers.pop("Content-Type", "text/plain")
            self._send(status, headers, body.encode(), media)
        else:
            self._send(404, {}, b"not found", "text/plain")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self._send(404, {}, b"not found", "text/plain")
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        status, answer = self.provider.token(self.headers.get("Authorization", ""), form)
        self._json(status, answer)

    def _json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self._send(status, {"Cache-Control": "no-store"}, body, "application/json")

    def _send(self, status: int, headers: dict[str, str], body: bytes, media: str) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Type": media}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: codes are in the paths
        pass


@contextmanager
def running(provider: OpenIdProvider, name: str = "127.0.0.1") -> Iterator[OpenIdProvider]:
    """The provider on a free port of 127.0.0.1 until the block ends, its issuer URL naming
    the machine ``name`` (``localhost``: another site than ``127.0.0.1`` to a browser)."""
    handler = type("Handler", (_Handler,), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    provider.issuer = f"http://{name}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
