"""Bearer tokens: local HS256 in embedded mode, RS256 from an issuer in production."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import LocalTokens, TokenError
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
        valid_for=timedelta(seconds=-1),
    )
    with pytest.raises(TokenError, match="expired"):
        tokens.verifier().verify(token)
