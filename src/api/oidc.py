"""Signing in to the pages with the identity provider (issue #23 point 2): the OpenID Connect
authorization code flow with state, nonce and PKCE (S256), for a confidential client.

``start`` sends the browser to the provider's authorization endpoint (from its discovery
document) with a fresh state, nonce and code challenge; the three, and the page to return to,
travel in a short-lived signed cookie (``rd_oidc``) bound to this browser. ``finish`` checks the
state against that cookie, exchanges the code with the verifier and the client secret, and
validates the ID token: its signature from the provider's JWKS, ``iss``, ``aud`` (the client id),
``exp`` and the nonce. The claims then go through the same rules as an API token's
(``TokenVerifier.principal``): the user acts as exactly the principal the API would see.

The session that follows is a token of our own (HS256 under a key derived from the client
secret, so every process that shares the secret accepts it), checked on every page like the
local sign-in's. Nothing here logs a code, a token or a claim.
"""

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
import jwt

from api.auth import ID_TOKEN_CLAIMS, LocalTokens, Principal, TokenError, TokenVerifier

#: Time to sign in at the provider; the flow cookie and its signed content expire together.
FLOW_MINUTES = 10
FLOW_ISSUER = "rodedraad-ui-sign-in"
SESSION_ISSUER = "rodedraad-ui"
#: The provider's answers are small; a larger one is not a provider we talk to.
MAX_ANSWER_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 10


class SignInFailed(Exception):
    """The sign-in could not be completed; ``reason`` names the page's message (a label),
    ``detail`` what the provider or the check said (never a token or a code)."""

    def __init__(self, reason: str, detail: str = "", status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = _printable(detail)
        self.status = status


@dataclass(frozen=True)
class Flow:
    """What one sign-in needs to remember between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str
    next_page: str


@dataclass(frozen=True)
class Provider:
    """The parts of the provider's discovery document the code flow uses."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    #: ``client_secret_basic`` unless the provider supports only ``client_secret_post``.
    basic_auth: bool
    #: Its ID tokens: RS256 from its JWKS, its issuer, our client id as the audience.
    id_tokens: TokenVerifier


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def derived_key(secret: bytes, purpose: str) -> bytes:
    """A key of the pages' own for one purpose (sessions, sign-in flows, forms), derived from a
    deployment secret, so every process derives the same one and no purpose shares another's."""
    return hmac.new(secret, f"rodedraad-ui-{purpose}".encode(), hashlib.sha256).digest()


class OidcClient:
    """One relying party: this deployment's pages at one provider."""

    def __init__(self, *, issuer: str, client_id: str, client_secret: str, redirect_url: str):
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_url = redirect_url
        secret = client_secret.encode()
        self._flow_key = derived_key(secret, "oidc-flow")
        #: The pages' sessions after this sign-in, and the CSRF key of their forms.
        self.sessions = LocalTokens(
            secret=derived_key(secret, "session"),
            issuer=SESSION_ISSUER,
        )
        self.session_verifier = self.sessions.verifier()
        self.csrf_secret = derived_key(secret, "csrf")
        self._provider: Provider | None = None

    def __repr__(self) -> str:  # never the secret
        return f"OidcClient(issuer={self.issuer!r}, client_id={self.client_id!r})"

    async def start(self, next_page: str) -> tuple[str, str]:
        """→ (the provider's authorization URL, the flow cookie's value)."""
        provider = await self._discovered()
        flow = Flow(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(64),  # 86 characters: RFC 7636 asks 43 to 128
            next_page=next_page,
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_url,
                "scope": "openid",
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": code_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if urlsplit(provider.authorization_endpoint).query else "?"
        return f"{provider.authorization_endpoint}{separator}{query}", self._seal(flow)

    async def finish(
        self, params: dict[str, str], flow_cookie: str | None
    ) -> tuple[Flow, Principal]:
        """The callback: → (the flow, the principal the ID token names). Raises
        ``SignInFailed`` with a reason a person can act on."""
        flow = self._open(flow_cookie)
        state = params.get("state", "")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise SignInFailed("sign_in_state", "the state parameter does not match")
        if "error" in params:
            described = params.get("error_description", "")
            raise SignInFailed(
                "sign_in_provider_error",
                f"{params['error']}: {described}" if described else params["error"],
                status=403,
            )
        code = params.get("code")
        if not code:
            raise SignInFailed("sign_in_provider_error", "the callback carries no code")
        provider = await self._discovered()
        id_token = await self._exchange(provider, code, flow.verifier)
        principal, _ = await self._validate(provider, id_token, flow.nonce)
        return flow, principal

    def session(self, principal: Principal, valid_for: timedelta) -> str:
        """A session token for the pages, naming the principal as its ID token did."""
        person = not principal.organisation
        return self.sessions.issue(
            user=principal.user_id,
            organisation=None if person else principal.organisation,
            roles=list(principal.roles),
            region=None if person else principal.region,
            valid_for=valid_for,
        )

    def _seal(self, flow: Flow) -> str:
        claims = {
            "iss": FLOW_ISSUER,
            "exp": datetime.now(UTC) + timedelta(minutes=FLOW_MINUTES),
            "state": flow.state,
            "nonce": flow.nonce,
            "verifier": flow.verifier,
            "next": flow.next_page,
        }
        return jwt.encode(claims, self._flow_key, algorithm="HS256")

    def _open(self, cookie: str | None) -> Flow:
        if not cookie:
            raise SignInFailed("sign_in_no_flow", "no sign-in is under way in this browser")
        try:
            claims = jwt.decode(
                cookie,
                self._flow_key,
                algorithms=["HS256"],
                issuer=FLOW_ISSUER,
                options={"require": ["exp", "iss", "state", "nonce", "verifier", "next"]},
            )
        except jwt.ExpiredSignatureError:
            raise SignInFailed(
                "sign_in_expired", f"more than {FLOW_MINUTES} minutes went by"
            ) from None
        except jwt.PyJWTError:
            raise SignInFailed("sign_in_no_flow", "the sign-in cookie is not ours") from None
        return Flow(
            state=str(claims["state"]),
            nonce=str(claims["nonce"]),
            verifier=str(claims["verifier"]),
            next_page=str(claims["next"]),
        )

    async def _discovered(self) -> Provider:
        """The discovery document, fetched once (OpenID Connect Discovery 1.0 §4); its issuer
        must be the one configured (§4.3), or a look-alike could speak for the provider."""
        if self._provider is not None:
            return self._provider
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        status, document = await anyio.to_thread.run_sync(_request, url, None, None)
        if status != 200:
            raise SignInFailed(
                "sign_in_unreachable", f"its discovery document answered {status}", status=502
            )
        if document.get("issuer") != self.issuer:
            raise SignInFailed(
                "sign_in_unreachable",
                "its discovery document names another issuer than RODEDRAAD_OIDC_ISSUER",
                status=502,
            )
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or not _safe_endpoint(value):
                raise SignInFailed(
                    "sign_in_unreachable",
                    f"its discovery document lacks {name} as an https:// URL (http:// only to "
                    "this machine)",
                    status=502,
                )
            endpoints[name] = value
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise SignInFailed(
                "sign_in_unreachable", "the provider does not support PKCE with S256", status=502
            )
        auth_methods = document.get("token_endpoint_auth_methods_supported")
        basic = not (
            isinstance(auth_methods, list)
            and "client_secret_basic" not in auth_methods
            and "client_secret_post" in auth_methods
        )
        self._provider = Provider(
            basic_auth=basic,
            id_tokens=TokenVerifier(
                key=None,
                algorithm="RS256",
                issuer=self.issuer,
                audience=self.client_id,
                jwks_client=jwt.PyJWKClient(endpoints["jwks_uri"], timeout=TIMEOUT_SECONDS),
                required=ID_TOKEN_CLAIMS,
            ),
            **endpoints,
        )
        return self._provider

    async def _exchange(self, provider: Provider, code: str, verifier: str) -> str:
        """The code and the PKCE verifier for an ID token (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "code_verifier": verifier,
        }
        authorization = None
        if provider.basic_auth:  # RFC 6749 §2.3.1: each part form-encoded first
            pair = f"{_form(self.client_id)}:{_form(self._client_secret)}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            fields.update(client_id=self.client_id, client_secret=self._client_secret)
        status, answer = await anyio.to_thread.run_sync(
            _request, provider.token_endpoint, urlencode(fields).encode(), authorization
        )
        if status != 200:
            error = answer.get("error")
            if isinstance(error, str):
                described = answer.get("error_description")
                raise SignInFailed(
                    "sign_in_code_refused",
                    f"{error}: {described}" if isinstance(described, str) else error,
                )
            raise SignInFailed(
                "sign_in_unreachable", f"its token endpoint answered {status}", status=502
            )
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed(
                "sign_in_unreachable", "its token endpoint gave no ID token", status=502
            )
        return id_token

    async def _validate(
        self, provider: Provider, id_token: str, nonce: str
    ) -> tuple[Principal, float]:
        """OpenID Connect Core §3.1.3.7: signature (the provider's JWKS), iss, aud, exp; azp
        when there are several audiences; the nonce this browser sent (§3.1.3.7 item 11)."""
        verifier = provider.id_tokens
        try:
            claims = await anyio.to_thread.run_sync(verifier.claims, id_token)
        except TokenError as e:
            raise SignInFailed(
                "sign_in_token_invalid", str(e).replace("bearer token", "ID token"), status=401
            ) from None
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise SignInFailed(
                "sign_in_token_invalid", "the ID token was issued to another client", status=401
            )
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise SignInFailed(
                "sign_in_token_invalid",
                "the ID token's nonce is not the one this sign-in sent",
                status=401,
            )
        try:
            return verifier.principal(claims)
        except TokenError as e:
            raise SignInFailed(
                "sign_in_claims", str(e).replace("bearer token", "ID token"), status=403
            ) from None


def _form(value: str) -> str:
    return urlencode({"": value})[1:]


def _safe_endpoint(url: str) -> bool:
    """The rule the settings apply to the issuer, for the endpoints its discovery document
    names: the code, the client secret and the ID token travel to them, so https, or http only
    to this machine (a provider run beside the service for a trial)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")
    )


def _request(url: str, body: bytes | None, authorization: str | None) -> tuple[int, dict[str, Any]]:
    """GET (or POST a form) and read a JSON object: → (status, the object or {})."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (https/http only, checked)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status, raw = answer.status, answer.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read(MAX_ANSWER_BYTES)
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise SignInFailed(
            "sign_in_unreachable", f"{urlsplit(url).netloc}: {reason}", status=502
        ) from None
    try:
        document = json.loads(raw)
    except ValueError:
        document = {}
    return status, document if isinstance(document, dict) else {}


def _printable(text: str) -> str:
    """A provider's words shown on a page: printable, and not a page long."""
    return "".join(c for c in text if c.isprintable())[:300]
