"""Builds the application objects from one ``Settings``; the tests use the same factory."""

from dataclasses import dataclass, field

import jwt
from litestar import Litestar

from api.app import ApiServices, create_app
from api.auth import LocalTokens, TokenVerifier
from api.idempotency import IdempotencyStore, PostgresIdempotencyStore, SqliteIdempotencyStore
from application.care_record import CareRecord
from rodedraad.settings import AuthSettings, Settings


def build_care_record(settings: Settings) -> CareRecord:
    """The write side on the configured database, creating the SQLite file on first start."""
    if not settings.database.is_postgres:
        settings.database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return CareRecord(env=settings.database.eventsourcing_env())


def build_token_verifier(auth: AuthSettings) -> TokenVerifier:
    """RS256 against the configured issuer in production; the local HS256 secret otherwise."""
    if auth.jwks_url:
        return TokenVerifier(
            key=None,
            algorithm="RS256",
            issuer=auth.issuer,
            audience=auth.audience,
            jwks_client=jwt.PyJWKClient(auth.jwks_url),
        )
    if auth.public_key_file:
        return TokenVerifier(
            key=auth.public_key_file.read_text(),
            algorithm="RS256",
            issuer=auth.issuer,
            audience=auth.audience,
        )
    return LocalTokens.from_file(auth.secret_file).verifier()


def build_idempotency_store(settings: Settings) -> IdempotencyStore:
    if settings.database.is_postgres:
        return PostgresIdempotencyStore(settings.database.url)
    return SqliteIdempotencyStore(settings.data_dir / "idempotency.sqlite")


@dataclass
class Container:
    """Everything one process runs, and how to close it."""

    settings: Settings
    care_record: CareRecord
    idempotency: IdempotencyStore
    token_verifier: TokenVerifier
    closed: bool = field(default=False)

    @classmethod
    def build(cls, settings: Settings) -> "Container":
        return cls(
            settings=settings,
            care_record=build_care_record(settings),
            idempotency=build_idempotency_store(settings),
            token_verifier=build_token_verifier(settings.auth),
        )

    def http_app(self) -> Litestar:
        services = ApiServices(
            care_record=self.care_record,
            idempotency=self.idempotency,
            token_verifier=self.token_verifier,
            max_body_bytes=self.settings.http.max_body_bytes,
        )
        return create_app(services, on_shutdown=[self.close])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.idempotency.close()
        self.care_record.close()
