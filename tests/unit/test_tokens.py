"""Bearer tokens: local HS256 in embedded mode, RS256 from an issuer in production."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import (
    CLOCK_LEEWAY_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    NOT_A_JWT,
    LocalTokens,
    TokenError,
)
from rodedraad.cli import main
from rodedraad.settings import Settings
from rodedraad.wiring import build_token_verifier


def _rsa_pair(tmp_path: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path / "issuer.pem"
    path.write_bytes(pem)
    return private, path


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "user-an",
        "org": "org-kompas",
        "roles": ["coordinator"],
        "region": "west-flanders",
        "iss": "https://login.example.org/",
        "aud": "rodedraad",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    claims.update(overrides)
    return claims


def test_the_local_secret_is_created_once_and_kept_private(tmp_path: Path) -> None:
    secret = tmp_path / "var" / "jwt-secret"
    first = LocalTokens.from_file(secret)
    assert secret.stat().st_mode & 0o777 == 0o600
    assert LocalTokens.from_file(secret).secret == first.secret


def test_a_local_token_names_user_organisation_roles_and_region(tmp_path: Path) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    token = tokens.issue(user="an", organisation="kompas", roles=["coordinator"], region="west")
    principal = tokens.verifier().verify(token)
    assert (principal.user_id, principal.organisation) == ("an", "kompas")
    assert (principal.roles, principal.region) == (("coordinator",), "west")
    assert principal.actor().role == "coordinator"


def test_production_verifies_rs256_tokens_of_the_configured_issuer(tmp_path: Path) -> None:
    private, public_path = _rsa_pair(tmp_path)
    settings = Settings.from_env(
        {
            "RODEDRAAD_JWT_ISSUER": "https://login.example.org/",
            "RODEDRAAD_JWT_AUDIENCE": "rodedraad",
            "RODEDRAAD_JWT_PUBLIC_KEY_FILE": str(public_path),
        }
    )
    verifier = build_token_verifier(settings.auth)
    token = jwt.encode(_claims(), private, algorithm="RS256")
    assert verifier.verify(token).organisation == "org-kompas"

    with pytest.raises(TokenError, match="not valid"):
        verifier.verify(
            jwt.encode(_claims(iss="https://evil.example/"), private, algorithm="RS256")
        )
    with pytest.raises(TokenError, match="not valid"):
        verifier.verify(
            jwt.encode(_claims(), "a-shared-secret-of-enough-length!!", algorithm="HS256")
        )


@pytest.mark.parametrize("missing", ["sub", "org", "roles", "region", "exp"])
def test_a_token_without_a_required_claim_is_refused(tmp_path: Path, missing: str) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    claims = _claims(iss=tokens.issuer)
    del claims["aud"], claims[missing]
    token = jwt.encode(claims, tokens.secret, algorithm="HS256")
    with pytest.raises(TokenError):
        tokens.verifier().verify(token)


def test_an_expired_token_is_refused_saying_so(tmp_path: Path) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    token = tokens.issue(
        user="an",
        organisation="kompas",
        roles=["coordinator"],
        region="west",
        valid_for=timedelta(seconds=-CLOCK_LEEWAY_SECONDS - 5),
    )
    with pytest.raises(TokenError, match="expired"):
        tokens.verifier().verify(token)


def _local(tmp_path: Path, **changes: Any) -> tuple[LocalTokens, str]:
    """A local token with ``changes`` to its claims (``None`` leaves a claim out)."""
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    now = int(time.time())
    claims = _claims(iss=tokens.issuer, iat=now, exp=now + 3600)
    claims.update(changes)
    del claims["aud"]
    claims = {name: value for name, value in claims.items() if value is not None}
    return tokens, jwt.encode(claims, tokens.secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("claim", "seconds"),
    [("iat", 3), ("nbf", 3), ("exp", -10)],
    ids=["issued-3s-ahead", "valid-from-3s-ahead", "expired-10s-ago"],
)
def test_a_token_from_a_clock_a_little_off_is_taken(
    tmp_path: Path, claim: str, seconds: int
) -> None:
    """The outside probe: an identity provider's clock a few seconds ahead of ours refused its
    users right after they signed in ("The token is not yet valid (iat)")."""
    tokens, token = _local(tmp_path, **{claim: int(time.time()) + seconds})
    assert tokens.verifier().verify(token).user_id == "user-an"


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_from_a_clock_far_ahead_is_not_valid_yet(tmp_path: Path, claim: str) -> None:
    tokens, token = _local(tmp_path, **{claim: int(time.time()) + CLOCK_LEEWAY_SECONDS + 60})
    with pytest.raises(TokenError, match=f"not valid yet: its {claim} .*clock") as refused:
        tokens.verifier().verify(token)
    assert "The token" not in str(refused.value)


@pytest.mark.parametrize(
    "roles",
    ["coordinator", "coordinator auditor", {"coordinator": True}, [1]],
    ids=["one-as-text", "two-as-text", "object", "number"],
)
def test_roles_are_a_list_also_for_one_role(tmp_path: Path, roles: object) -> None:
    """The outside probe: ``"roles": "coordinator"`` was taken as that role, and
    ``"coordinator auditor"`` as a role of that name (403 instead of 401)."""
    tokens, token = _local(tmp_path, roles=roles)
    with pytest.raises(TokenError, match="roles claim must be a list of role names"):
        tokens.verifier().verify(token)


def _with_claims_text(tokens: LocalTokens, claims_text: str) -> str:
    """A token signed with the local secret whose claims are exactly ``claims_text`` (JSON that
    ``jwt.encode`` would not write, such as a number out of float's range)."""
    return jwt.api_jws.encode(claims_text.encode(), tokens.secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", True),
        ("exp", False),
        ("exp", "9999999999"),
        ("exp", float("nan")),
        ("exp", float("inf")),
        ("iat", False),
        ("iat", "1700000000"),
        ("nbf", True),
        ("nbf", "0"),
    ],
    ids=repr,
)
def test_a_date_claim_that_is_no_number_is_malformed_not_expired(
    tmp_path: Path, claim: str, value: object
) -> None:
    """The outside probe: ``exp: true`` was refused as expired ("get a new one")."""
    tokens, token = _local(tmp_path, **{claim: value})
    with pytest.raises(TokenError, match=f"malformed: its {claim} claim must be a number") as e:
        tokens.verifier().verify(token)
    assert "expired" not in str(e.value)


@pytest.mark.parametrize(
    "token",
    [
        "hello",
        "a.b.c",
        "eyJ.eyJ.x",
        "e30.e30",
        base64.urlsafe_b64encode(b"[1]").decode().rstrip("=") + ".e30.x",
    ],
    ids=["one-word", "not-base64-json", "cut-off", "two-parts", "header-not-an-object"],
)
def test_a_token_that_is_no_jwt_is_refused_in_plain_words(tmp_path: Path, token: str) -> None:
    """The outside probe: the refusal repeated the parser ("Invalid header string: Expecting
    value: line 1 column 1 (char 0)")."""
    with pytest.raises(TokenError) as refused:
        LocalTokens.from_file(tmp_path / "jwt-secret").verifier().verify(token)
    assert str(refused.value) == NOT_A_JWT


def test_claims_that_are_not_json_are_refused_in_plain_words(tmp_path: Path) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    with pytest.raises(TokenError) as refused:
        tokens.verifier().verify(_with_claims_text(tokens, "{not json"))
    assert str(refused.value) == NOT_A_JWT


@pytest.mark.parametrize(
    ("sign", "said"),
    [
        (
            lambda tokens, claims: jwt.encode(claims, b"another-secret-" * 3, algorithm="HS256"),
            "its signature does not match the key this service trusts",
        ),
        (
            lambda tokens, claims: jwt.encode(claims, None, algorithm="none"),
            "not signed, or signed with an algorithm this service does not accept",
        ),
        (
            lambda tokens, claims: jwt.encode(
                {**claims, "iss": "someone-else"}, tokens.secret, algorithm="HS256"
            ),
            "issued by another issuer (iss)",
        ),
        (
            lambda tokens, claims: jwt.encode(
                {k: v for k, v in claims.items() if k != "sub"}, tokens.secret, algorithm="HS256"
            ),
            "lacks the 'sub' claim",
        ),
    ],
    ids=["another-key", "unsigned", "another-issuer", "no-sub"],
)
def test_a_token_that_does_not_hold_is_refused_saying_why_in_plain_words(
    tmp_path: Path, sign: Any, said: str
) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    now = int(time.time())
    claims = _claims(iss=tokens.issuer, iat=now, exp=now + 3600)
    del claims["aud"]
    with pytest.raises(TokenError) as refused:
        tokens.verifier().verify(sign(tokens, claims))
    assert said in str(refused.value)
    for library_words in ("Signature verification failed", "alg value", "Invalid issuer", "Token"):
        assert library_words not in str(refused.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) + 200 * 365 * 24 * 3600},
        {"exp": int(time.time()) + 200 * 365 * 24 * 3600, "iat": None},
        {"iat": int(time.time()) - MAX_TOKEN_LIFETIME_SECONDS - 60},
    ],
    ids=["200-years", "200-years-without-iat", "a-century-and-a-minute-since-issued"],
)
def test_a_token_valid_for_longer_than_a_token_may_be_is_refused(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    """The outside probe: an ``exp`` 200 years ahead was taken."""
    tokens, token = _local(tmp_path, **changes)
    with pytest.raises(TokenError, match="valid for longer than a token may be"):
        tokens.verifier().verify(token)


@pytest.mark.parametrize("issued", [True, False], ids=["with-iat", "without-iat"])
def test_an_exp_beyond_any_float_is_refused_not_a_traceback(tmp_path: Path, issued: bool) -> None:
    tokens = LocalTokens.from_file(tmp_path / "jwt-secret")
    now = int(time.time())
    claims = _claims(iss=tokens.issuer, iat=now)
    del claims["aud"], claims["exp"]
    if not issued:  # (``iat`` is optional: the lifetime is then counted from now)
        del claims["iat"]
    text = json.dumps(claims)[:-1] + ', "exp": ' + "9" * 400 + "}"
    with pytest.raises(TokenError, match="valid for longer than a token may be"):
        tokens.verifier().verify(_with_claims_text(tokens, text))


def test_the_longest_token_the_command_prints_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bound on a token's lifetime is the command's (``--hours`` up to a century), so no
    token ``rodedraad token`` prints is refused by the service."""
    monkeypatch.setenv("RODEDRAAD_DATA_DIR", str(tmp_path))
    century = str(MAX_TOKEN_LIFETIME_SECONDS // 3600)
    argv = ["token", "--user", "an", "--org", "k", "--role", "coordinator", "--region", "w"]
    assert main([*argv, "--hours", century]) == 0
    token = capsys.readouterr().out.strip()
    verifier = LocalTokens.from_file(tmp_path / "jwt-secret").verifier()
    assert verifier.verify(token).roles == ("coordinator",)
