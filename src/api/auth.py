"""Bearer tokens: who is asking, for which organisation, in which roles and region.

Embedded mode signs and verifies HS256 tokens with a local secret generated on first start.
Production verifies RS256 tokens from a configured issuer against a PEM public key or a JWKS
endpoint. Either way the actor on every event comes from the token, never from a request body.
"""

import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import msgspec
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from application.files import private_file, write_private_file
from domain.common import Actor

REQUIRED_CLAIMS = ("sub", "roles", "exp")
#: An OpenID Connect ID token's own (Core §2); who the person is for us is checked after.
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
#: An organisation's token names its organisation and region; a person's names neither.
ORGANISATION_CLAIMS = ("org", "region")
#: Issue #19: the person whose plan it is, as the client or as their representative. Their
#: token carries the subject and exactly this one role; the identity link decides whose record.
PERSON_ROLES = frozenset({"client", "representative"})
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
MAX_CLAIM_LENGTH = 200
#: How far the issuer's clock and ours may differ: a token issued (``iat``) or valid from
#: (``nbf``) up to this many seconds ahead of our clock is taken, and one is taken up to this
#: many seconds after its ``exp`` (as JWT libraries' ``leeway``). An identity provider's clock a
#: little ahead would otherwise refuse its users right after they signed in.
CLOCK_LEEWAY_SECONDS = 30
#: The longest a token may be valid (``exp - iat``, or ``exp`` from now without ``iat``): the
#: longest ``rodedraad token --hours`` issues (a century). It refuses absurd expiries, not
#: long-lived tokens: lower it only together with the command's bound.
MAX_TOKEN_LIFETIME_SECONDS = 100 * 365 * 24 * 3600
#: What a malformed JWT is refused with (the parser's own words name its internals).
NOT_A_JWT = (
    "the bearer token is not a well-formed JWT: it must be three base64url parts separated by "
    "dots (a JSON header, JSON claims and a signature); send the token exactly as issued"
)


def _lacks(claim: str) -> str:
    """A token without ``claim``, said the same whether PyJWT or this module finds it."""
    return f"the bearer token lacks the {claim!r} claim"


def _is_name(value: object) -> bool:
    """A claim that names someone or something: text, printable, not blank, not too long (it is
    recorded on events and in read models, where a control character has no place)."""
    return (
        isinstance(value, str)
        and bool(value.strip())
        and len(value) <= MAX_CLAIM_LENGTH
        and value.isprintable()
    )


class Principal(msgspec.Struct, frozen=True):
    """The authenticated user, as the token names them."""

    user_id: str
    organisation: str
    roles: tuple[str, ...]
    region: str

    def acting_as(self, role: str) -> "Principal":
        """The same user in one of its roles only: access is decided per role (DESIGN §7)."""
        return msgspec.structs.replace(self, roles=(role,))

    def actor(self, on_behalf_of: str | None = None) -> Actor:
        """The actor an event records; for a principal acting in one role, that role."""
        return Actor(
            user_id=self.user_id,
            organisation=self.organisation,
            role=self.roles[0] if self.roles else "",
            on_behalf_of=on_behalf_of,
        )


class TokenError(Exception):
    """A token we cannot accept; the message says why (never echoes the token)."""


@dataclass(frozen=True)
class TokenVerifier:  # frozen: the cache below is its only state, filled as tokens verify
    """Verifies bearer tokens with one key and algorithm (HS256 locally, RS256 in production)."""

    key: Any
    algorithm: str
    issuer: str | None = None
    audience: str | None = None
    jwks_client: jwt.PyJWKClient | None = None
    #: Claims the signature check already insists on.
    required: tuple[str, ...] = REQUIRED_CLAIMS
    _verified: dict[str, tuple[Principal, float]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def verify(self, token: str) -> Principal:
        """Verify a token, remembering verified ones until they expire (a client sends the
        same token on every request; its signature need not be checked each time)."""
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        return self.principal(self.claims(token))

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature, issuer, audience and times are checked (the
        pages' OpenID Connect sign-in also checks the ID token's nonce among them)."""
        try:
            key = (
                self.jwks_client.get_signing_key_from_jwt(token).key
                if self.jwks_client
                else self.key
            )
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                # The times are checked below, once their types are: PyJWT reads ``exp: true``
                # as 1 (expired) and a numeric string as a number.
                options={
                    "require": list(self.required),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as e:
            raise TokenError(_refusal(e)) from None
        _check_times(claims, time.time())
        return claims

    def principal(self, claims: dict[str, Any]) -> tuple[Principal, float]:
        """Who verified claims name, and until when: one set of rules for an API token, a
        page's session and an identity provider's ID token."""
        for claim in REQUIRED_CLAIMS:
            if claim not in claims:
                raise TokenError(_lacks(claim))
        roles = claims["roles"]
        if not isinstance(roles, list) or not all(_is_name(r) for r in roles):
            raise TokenError(
                "the bearer token's roles claim must be a list of role names (a JSON array, "
                'also for one role: ["coordinator"])'
            )
        if not roles:
            raise TokenError("the bearer token names no role; get a token with at least one")
        if PERSON_ROLES & set(roles):
            return self._person(claims, roles)
        for claim in ORGANISATION_CLAIMS:
            if claim not in claims:
                raise TokenError(_lacks(claim))
        for claim in ("sub", "org", "region"):
            if not _is_name(claims[claim]):
                raise TokenError(
                    f"the bearer token's {claim} claim must be a non-empty string of at most "
                    f"{MAX_CLAIM_LENGTH} printable characters"
                )
        principal = Principal(
            user_id=claims["sub"],
            organisation=claims["org"],
            roles=tuple(roles),
            region=claims["region"],
        )
        return principal, float(claims["exp"])

    @staticmethod
    def _person(claims: dict[str, Any], roles: list[str]) -> tuple[Principal, float]:
        """A person's token (issue #19): the subject and exactly one person's role, no
        organisation or region (a mixture would let an organisation's relation and a
        person's link act through one token)."""
        if len(roles) != 1:
            raise TokenError(
                "a token for the client or representative role carries exactly that one role"
            )
        mixed = [claim for claim in ORGANISATION_CLAIMS if claim in claims]
        if mixed:
            raise TokenError(
                f"a token for the {roles[0]} role names no organisation or region "
                f"(it has {', '.join(mixed)})"
            )
        if not _is_name(claims["sub"]):
            raise TokenError(
                "the bearer token's sub claim must be a non-empty string of at most "
                f"{MAX_CLAIM_LENGTH} printable characters"
            )
        principal = Principal(user_id=claims["sub"], organisation="", roles=(roles[0],), region="")
        return principal, float(claims["exp"])


def _check_times(claims: dict[str, Any], now: float) -> None:
    """``exp``, ``iat`` and ``nbf``: numbers (RFC 7519's NumericDate, never text or true or
    false), in force now give or take ``CLOCK_LEEWAY_SECONDS``, for at most
    ``MAX_TOKEN_LIFETIME_SECONDS``."""
    for claim in NUMERIC_DATE_CLAIMS:
        value = claims.get(claim)
        if claim in claims and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise TokenError(
                f"the bearer token is malformed: its {claim} claim must be a number (seconds "
                "since 1970-01-01 UTC), not text, true or false"
            )
    if "exp" in claims and claims["exp"] <= now - CLOCK_LEEWAY_SECONDS:
        raise TokenError("the bearer token has expired; get a new one")
    for claim, what in (("nbf", "not before"), ("iat", "issued at")):
        if claim in claims and claims[claim] > now + CLOCK_LEEWAY_SECONDS:
            raise TokenError(
                f"the bearer token is not valid yet: its {claim} ({what}) lies in the future; "
                "if it was just issued, the issuer's clock is more than "
                f"{CLOCK_LEEWAY_SECONDS} seconds ahead of this service's"
            )
    # (Compared, not subtracted: an ``exp`` too large for a float must not raise.)
    if "exp" in claims and claims["exp"] > claims.get("iat", now) + MAX_TOKEN_LIFETIME_SECONDS:
        raise TokenError(
            "the bearer token is valid for longer than a token may be (at most "
            f"{MAX_TOKEN_LIFETIME_SECONDS // (365 * 24 * 3600)} years); get one that expires sooner"
        )


def _refusal(error: jwt.PyJWTError) -> str:
    """Why PyJWT refused a token, in words a person can act on (never the parser's own)."""
    match error:
        case jwt.InvalidSignatureError():
            return (
                "the bearer token is not valid: its signature does not match the key this "
                "service trusts; get a token from this service's issuer"
            )
        case jwt.InvalidAlgorithmError():
            return (
                "the bearer token is not valid: it is not signed, or signed with an algorithm "
                "this service does not accept"
            )
        case jwt.InvalidIssuerError():
            return (
                "the bearer token is not valid: it was issued by another issuer (iss) than the "
                "one this service trusts"
            )
        case jwt.InvalidAudienceError():
            return "the bearer token is not valid: it is meant for another audience (aud)"
        case jwt.MissingRequiredClaimError():
            return _lacks(error.claim)
        case InvalidSubjectError():
            return "the bearer token's sub claim must be a string"
        case InvalidJTIError():
            return "the bearer token's jti claim must be a string"
        case jwt.PyJWKClientConnectionError():
            return (
                "the bearer token cannot be checked now: the issuer's published keys (JWKS) "
                "could not be fetched; try again later"
            )
        case jwt.PyJWKClientError():
            return (
                "the bearer token is not valid: its key id (kid) is not among the keys the "
                "issuer publishes (JWKS); get a new token"
            )
        case jwt.DecodeError():
            return NOT_A_JWT
    return "the bearer token is not valid; get a new one from this service's issuer"


@dataclass(frozen=True)
class LocalTokens:
    """Embedded mode: an HS256 secret kept in a file of its own, created on first start."""

    secret: bytes
    issuer: str = "rodedraad-local"

    @classmethod
    def from_file(cls, path: Path) -> "LocalTokens":
        if path.exists():
            private_file(path)  # one an older version left readable to all is tightened
        else:
            write_private_file(path, secrets.token_urlsafe(48).encode())
        return cls(secret=path.read_text().strip().encode())

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(key=self.secret, algorithm="HS256", issuer=self.issuer)

    def issue(
        self,
        *,
        user: str,
        organisation: str | None,
        roles: list[str],
        region: str | None,
        valid_for: timedelta = timedelta(hours=12),
    ) -> str:
        """A token; a person's (issue #19) names no organisation or region (``None``)."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": user,
            "roles": roles,
            "iss": self.issuer,
            "iat": now,
            "exp": now + valid_for,
        }
        if organisation is not None:
            claims["org"] = organisation
        if region is not None:
            claims["region"] = region
        return jwt.encode(claims, self.secret, algorithm="HS256")


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """401 for a missing or invalid bearer token on every ``/v1`` route."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                "send a bearer token: Authorization: Bearer <token> (rodedraad token prints one)"
            )
        verifier: TokenVerifier = connection.app.state.token_verifier
        try:
            principal = verifier.verify(token.strip())
        except TokenError as e:
            raise NotAuthorizedException(str(e)) from None
        if principal.roles and set(principal.roles) <= PERSON_ROLES:
            path = connection.scope["path"]
            if path != "/v1/me" and not path.startswith("/v1/me/"):
                # Defence in depth: the person's routes are /v1/me only, refused here before any
                # parameter is read or record looked up (so never a 404 or 422 that says more).
                raise PermissionDeniedException(
                    "a client's or representative's token opens only the person's own routes "
                    "under /v1/me; the organisations' routes need an organisation's token"
                )
        return AuthenticationResult(user=principal, auth=token)
