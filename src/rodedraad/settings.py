"""Settings: one frozen object read from ``RODEDRAAD_*`` environment variables, failing fast.

``env.example`` at the repository root lists every variable with its default; a test keeps the
two equal.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlsplit

from application.unavailable import POOL_WAIT_SECONDS
from projections.statistics.model import GRIDS, Grid


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    #: ``sqlite:///path/to/file.sqlite`` (embedded) or ``postgresql://user:pw@host:port/db``.
    url: str
    #: Aggregates kept in memory per process (LRU). A cached trajectory costs ≈ 8 KiB (measured
    #: over the benchmark's workload); at 5,000 the embedded server went over 150 MB.
    aggregate_cache: int = 2000

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's infrastructure factory reads."""
        # The mapper (msgspec, sealing) is built by CareRecord. Aggregates are cached and
        # fast-forwarded from the store, so a command reads only the events it has not seen.
        # Tables are made by the event store's migrations (application.migrations), not by
        # eventsourcing whenever a process starts.
        env: dict[str, str] = {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache)}
        if self.is_postgres:
            parts = urlsplit(self.url)
            env.update(
                # eventsourcing's PostgreSQL module with the table-lock insert in one round trip
                # and schema creation under a lock (application/pg_recorder.py).
                PERSISTENCE_MODULE="application.pg_recorder:RodeDraadPostgresFactory",
                POSTGRES_DBNAME=parts.path.lstrip("/") or "rodedraad",
                POSTGRES_HOST=parts.hostname or "127.0.0.1",
                POSTGRES_PORT=str(parts.port or 5432),
                POSTGRES_USER=unquote(parts.username or "postgres"),
                POSTGRES_PASSWORD=unquote(parts.password or ""),
                POSTGRES_POOL_SIZE="4",
                POSTGRES_MAX_OVERFLOW="12",
                # Its pool's wait for a connection, bounded as on our own pools (30 s unless
                # set).
                POSTGRES_CONNECT_TIMEOUT=str(POOL_WAIT_SECONDS),
                CREATE_TABLE="n",
            )
        else:
            env.update(
                # eventsourcing's SQLite module, stamping each commit (application/commit_times.py)
                PERSISTENCE_MODULE="application.commit_times:RodeDraadSQLiteFactory",
                SQLITE_DBNAME=str(self.sqlite_path),
                SQLITE_LOCK_TIMEOUT="10",
                CREATE_TABLE="n",
            )
        return env


@dataclass(frozen=True, slots=True)
class AuthSettings:
    #: Embedded mode: HS256 with a secret generated on first start into ``secret_file``.
    secret_file: Path
    #: Production: verify RS256 tokens from this issuer against a PEM key or a JWKS URL.
    issuer: str | None = None
    audience: str | None = None
    public_key_file: Path | None = None
    jwks_url: str | None = None

    @property
    def uses_issuer(self) -> bool:
        return self.public_key_file is not None or self.jwks_url is not None


#: Where the identity provider sends the browser back to (the redirect URL's path).
OIDC_CALLBACK_PATH = "/ui/sign-in/callback"


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Issue #23: the pages' sign-in with the identity provider (OpenID Connect code flow with
    state, nonce and PKCE). Off unless a client id is configured."""

    #: The provider: its discovery document is ``<issuer>/.well-known/openid-configuration``.
    issuer: str
    client_id: str
    #: The client secret, in a file of its own (never in the repository or the environment).
    client_secret_file: Path
    #: This deployment's callback as the provider knows it: ``https://<host>/ui/sign-in/callback``.
    redirect_url: str


@dataclass(frozen=True, slots=True)
class KekSettings:
    """The key-encryption key that wraps every subject key (README, 'Key-encryption key')."""

    #: The keyring file: never in the database; back it up and escrow it apart from the data.
    file: Path
    #: A new KEK version every this many days; the live subject keys are re-wrapped under it.
    rotation_days: int = 90
    #: A retired version is destroyed this long after its retirement: keep data backups no
    #: longer than this, or the oldest ones can no longer be restored.
    backup_window_days: int = 35


@dataclass(frozen=True, slots=True)
class SigningSettings:
    """The deployment's own Ed25519 key: it signs what the deployment exports (statistics
    releases for a macro merge, issue #12; later exports too). Kept outside the database like the
    KEK, so that a copy of the data cannot speak for the deployment."""

    #: PEM (PKCS#8) private key, 0600. Embedded mode makes one on first need; a PostgreSQL
    #: deployment makes it once, on purpose (``rodedraad keys public --create``).
    key_file: Path
    #: The name this deployment signs as: it tells a macro release's readers whose regions
    #: came from where.
    deployment: str = "local"


@dataclass(frozen=True, slots=True)
class PersonSettings:
    """The person as a user (issue #19)."""

    #: The pepper of the identity links' keyed hash (HMAC-SHA256 of the identity provider's
    #: subject): 0600, outside the database like the KEK, made on first need; every API process
    #: of a deployment must share it. None: ``<data dir>/identity-pepper``.
    pepper_file: Path | None = None
    #: Whose minors' rules apply (``domain.minors``): BE or NL.
    jurisdiction: str = "BE"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 256 * 1024
    #: Issue #22: ``POST /v1/benchmark/null-command``, a command answered without the domain or
    #: the store, the benchmark's floor of the HTTP layer. Off unless the benchmark asks for it,
    #: and refused at start together with a production token issuer.
    benchmark_null_command: bool = False


@dataclass(frozen=True, slots=True)
class StatisticsSettings:
    """Statistics releases for learning networks (issue #12)."""

    #: No released count, and no statistic from a group, below k (never below ``MIN_K``).
    k: int = 10
    #: A period is released this many days after it ended, so late-recorded facts are in.
    lag_days: int = 30
    #: The audit holds the laws every unit keeps (rule set 3; README, "Disclosure control"):
    #: the default, since without them a reader can narrow withheld counts (holes 2, 5, 6).
    laws: bool = True
    #: The periods released: quarters or years, never both (README, "One grid, not two").
    grid: Grid = "years"
    #: How many regions of a release are audited at once, each in a process of its own with its
    #: model in memory; None: one per core.
    audit_processes: int | None = None

    #: Below five, a learning network of a region's professionals could recognise families.
    MIN_K = 5


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseSettings
    auth: AuthSettings
    kek: KekSettings
    signing: SigningSettings
    http: HttpSettings = field(default_factory=HttpSettings)
    statistics: StatisticsSettings = field(default_factory=StatisticsSettings)
    data_dir: Path = Path("var")
    person: PersonSettings = field(default_factory=PersonSettings)
    #: Run projection workers and the scheduler inside ``serve``: yes on SQLite.
    embedded_workers: bool = True
    #: The operator's deadline policy (amends the shipped defaults); None: the defaults only.
    policy_file: Path | None = None
    scheduler_interval_seconds: int = 300
    #: The scheduler seals the event chain this often (issue #16): what a truncation of the
    #: log could remove unnoticed is at most this much (plus one scheduler interval).
    seal_interval_minutes: int = 60
    #: A projection worker beats its heartbeat this often; ``/health`` says degraded when no
    #: worker beat for 3 times as long, or a lagging projection stood still for twice as long.
    heartbeat_seconds: int = 5
    #: Seed 004: plan and dossier 10 years after the end of service, the logbook 5 years.
    retention_plan_years: int = 10
    retention_log_years: int = 5
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    #: Every process runs pending migrations at start; False: they refuse to start while one
    #: is pending, and an operator runs ``rodedraad migrate`` (production releases).
    migrate_on_start: bool = True
    #: Issue #23: the pages' local sign-in for trying them out (embedded mode, this machine's
    #: clients only); refused at start together with a production token issuer.
    ui_local_sign_in: bool = False
    #: Issue #23: the pages' sign-in with the identity provider; None: off.
    oidc: OidcSettings | None = None
    #: The erasure ledger kept apart from the backups (issue #21): one line per erasure, ids and
    #: times only; every restore re-applies what it holds. Keep it (and copies) off the data disk.
    erasure_ledger_file: Path = Path("var/erasure-ledger.jsonl")
    #: Prometheus metrics on a listener of their own (host, port); None: no listener. Never the
    #: API's port: metrics are for the operator's network, not the public one.
    metrics_address: tuple[str, int] | None = None
    #: A PostgreSQL hot standby the plan states, timelines, board, list, learning networks and
    #: statistics releases are read from; commands and every access decision stay on
    #: ``database`` (README, "Read replicas").
    read_database_url: str | None = None

    def simulation_copy(self, directory: Path) -> "Settings":
        """These settings for an embedded store of its own in ``directory``: its events, keys
        and KEK, its token secret, no production token issuer (issue #11: simulations)."""
        return replace(
            self,
            database=replace(self.database, url=f"sqlite:///{directory / 'rodedraad.sqlite'}"),
            auth=AuthSettings(secret_file=directory / "jwt-secret"),
            oidc=None,
            kek=replace(self.kek, file=directory / "kek.json"),
            # A simulation never signs as the deployment: nothing it computes may pass for real.
            signing=replace(self.signing, key_file=directory / "signing-key.pem"),
            data_dir=directory,
            embedded_workers=True,
            # Erasures in a simulation never reach the live record's ledger (nor the reverse).
            erasure_ledger_file=directory / "erasure-ledger.jsonl",
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"RODEDRAAD_{name}", default).strip() or default

        def optional(name: str) -> str | None:
            return env.get(f"RODEDRAAD_{name}", "").strip() or None

        def integer(name: str, default: int) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(
                    f"RODEDRAAD_{name} must be a whole number, not {raw!r}"
                ) from None
            if value <= 0:
                raise SettingsError(f"RODEDRAAD_{name} must be positive, not {value}")
            return value

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            value = get(name, default).lower()
            if value not in allowed:
                raise SettingsError(
                    f"RODEDRAAD_{name} must be one of {', '.join(allowed)}, not {value!r}"
                )
            return value

        def flag(name: str, default: bool) -> bool:
            return choice(name, str(default).lower(), ("true", "false")) == "true"

        data_dir = Path(get("DATA_DIR", "var"))
        url = get("DATABASE_URL", f"sqlite:///{data_dir / 'rodedraad.sqlite'}")
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise SettingsError(
                "RODEDRAAD_DATABASE_URL must start with sqlite:/// or postgresql://, "
                f"not {url.split(':', 1)[0]!r}"
            )
        public_key = optional("JWT_PUBLIC_KEY_FILE")
        auth = AuthSettings(
            secret_file=Path(get("JWT_SECRET_FILE", str(data_dir / "jwt-secret"))),
            issuer=optional("JWT_ISSUER"),
            audience=optional("JWT_AUDIENCE"),
            public_key_file=Path(public_key) if public_key else None,
            jwks_url=optional("JWT_JWKS_URL"),
        )
        if auth.uses_issuer and not auth.issuer:
            raise SettingsError("RODEDRAAD_JWT_ISSUER is required with a public key or JWKS URL")
        database = DatabaseSettings(url=url, aggregate_cache=integer("AGGREGATE_CACHE_SIZE", 2000))
        k = integer("STATISTICS_K", 10)
        if k < StatisticsSettings.MIN_K:
            raise SettingsError(
                f"RODEDRAAD_STATISTICS_K must be at least {StatisticsSettings.MIN_K}, not {k}: "
                "smaller groups let a region's professionals recognise the families in them"
            )
        deployment = get("DEPLOYMENT_NAME", "local")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", deployment):
            raise SettingsError(
                "RODEDRAAD_DEPLOYMENT_NAME must be letters, digits, '.', '_' or '-' "
                f"(at most 64), not {deployment!r}"
            )
        workers = choice("EMBEDDED_WORKERS", "auto", ("auto", "true", "false"))
        ui_local_sign_in = flag("UI_LOCAL_SIGN_IN", False)
        if ui_local_sign_in and auth.uses_issuer:
            raise SettingsError(
                "RODEDRAAD_UI_LOCAL_SIGN_IN=true is refused while a production token issuer is "
                "configured (RODEDRAAD_JWT_PUBLIC_KEY_FILE or RODEDRAAD_JWT_JWKS_URL): sign in "
                "with the identity provider instead"
            )
        oidc = _oidc(optional, auth.issuer)
        if ui_local_sign_in and oidc is not None:
            raise SettingsError(
                "RODEDRAAD_UI_LOCAL_SIGN_IN=true is refused while the identity provider's "
                "sign-in is configured (RODEDRAAD_OIDC_CLIENT_ID): use one or the other"
            )
        read_url = optional("READ_DATABASE_URL")
        if read_url is not None and not (
            database.is_postgres and read_url.startswith(("postgresql://", "postgres://"))
        ):
            raise SettingsError(
                "RODEDRAAD_READ_DATABASE_URL names a PostgreSQL hot standby of "
                "RODEDRAAD_DATABASE_URL, which must be PostgreSQL too"
            )
        http = HttpSettings(
            host=get("HOST", "127.0.0.1"),
            port=integer("PORT", 8000),
            max_body_bytes=integer("MAX_BODY_BYTES", 256 * 1024),
            benchmark_null_command=flag("BENCHMARK_NULL_COMMAND", False),
        )
        if http.benchmark_null_command and auth.uses_issuer:
            raise SettingsError(
                "RODEDRAAD_BENCHMARK_NULL_COMMAND=true is refused while a production token issuer "
                "is configured (RODEDRAAD_JWT_PUBLIC_KEY_FILE or RODEDRAAD_JWT_JWKS_URL): the "
                "null command is the benchmark's, never a deployment's"
            )
        metrics_address = _address("METRICS_ADDRESS", optional("METRICS_ADDRESS"))
        if metrics_address is not None and metrics_address[1] == http.port:
            raise SettingsError(
                f"RODEDRAAD_METRICS_ADDRESS must not use the API's port ({http.port}): metrics "
                "get a listener of their own, off the public one"
            )
        return cls(
            database=database,
            auth=auth,
            kek=KekSettings(
                file=Path(get("KEK_FILE", str(data_dir / "kek.json"))),
                rotation_days=integer("KEK_ROTATION_DAYS", 90),
                backup_window_days=integer("BACKUP_WINDOW_DAYS", 35),
            ),
            signing=SigningSettings(
                key_file=Path(get("SIGNING_KEY_FILE", str(data_dir / "signing-key.pem"))),
                deployment=deployment,
            ),
            http=http,
            statistics=StatisticsSettings(
                k=k,
                lag_days=integer("STATISTICS_LAG_DAYS", 30),
                laws=flag("STATISTICS_LAWS", True),
                grid=cast(Grid, choice("STATISTICS_GRID", "years", GRIDS)),
                audit_processes=(
                    integer("STATISTICS_AUDIT_PROCESSES", 1)
                    if optional("STATISTICS_AUDIT_PROCESSES") is not None
                    else None
                ),
            ),
            data_dir=data_dir,
            embedded_workers=(
                workers == "true" or (workers == "auto" and not database.is_postgres)
            ),
            policy_file=Path(policy) if (policy := optional("POLICY_FILE")) else None,
            scheduler_interval_seconds=integer("SCHEDULER_INTERVAL_SECONDS", 300),
            seal_interval_minutes=integer("SEAL_INTERVAL_MINUTES", 60),
            heartbeat_seconds=integer("HEARTBEAT_SECONDS", 5),
            retention_plan_years=integer("RETENTION_PLAN_YEARS", 10),
            retention_log_years=integer("RETENTION_LOG_YEARS", 5),
            log_format=choice("LOG_FORMAT", "auto", ("auto", "json", "console")),
            log_level=choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            migrate_on_start=flag("MIGRATE_ON_START", True),
            ui_local_sign_in=ui_local_sign_in,
            oidc=oidc,
            erasure_ledger_file=Path(
                get("ERASURE_LEDGER_FILE", str(data_dir / "erasure-ledger.jsonl"))
            ),
            person=PersonSettings(
                pepper_file=Path(get("IDENTITY_PEPPER_FILE", str(data_dir / "identity-pepper"))),
                jurisdiction=choice("JURISDICTION", "be", ("be", "nl")).upper(),
            ),
            metrics_address=metrics_address,
            read_database_url=read_url,
        )


def _address(name: str, value: str | None) -> tuple[str, int] | None:
    """``host:port`` (``[::1]:9100`` for IPv6) → (host, port); None stays None."""
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            f"RODEDRAAD_{name} must be host:port, such as 127.0.0.1:9100, not {value!r}"
        )
    return host, int(port)


def _oidc(optional: Callable[[str], str | None], jwt_issuer: str | None) -> OidcSettings | None:
    """The identity provider's sign-in when ``RODEDRAAD_OIDC_CLIENT_ID`` is set; then the rest
    is required, and the URLs must be HTTPS (plain HTTP only to this machine, for trying out)."""
    client_id = optional("OIDC_CLIENT_ID")
    if client_id is None:
        return None
    issuer = optional("OIDC_ISSUER") or jwt_issuer
    secret_file = optional("OIDC_CLIENT_SECRET_FILE")
    redirect_url = optional("OIDC_REDIRECT_URL")
    missing = [
        name
        for name, value in (
            ("RODEDRAAD_OIDC_ISSUER (or RODEDRAAD_JWT_ISSUER)", issuer),
            ("RODEDRAAD_OIDC_CLIENT_SECRET_FILE", secret_file),
            ("RODEDRAAD_OIDC_REDIRECT_URL", redirect_url),
        )
        if value is None
    ]
    if missing or issuer is None or secret_file is None or redirect_url is None:
        raise SettingsError(
            f"RODEDRAAD_OIDC_CLIENT_ID is set, so the pages sign in with the identity provider; "
            f"that needs {', '.join(missing)} too"
        )
    for name, url in (("OIDC_ISSUER", issuer), ("OIDC_REDIRECT_URL", redirect_url)):
        parts = urlsplit(url)
        local = parts.hostname in ("127.0.0.1", "::1", "localhost")
        secure = parts.scheme == "https" or (parts.scheme == "http" and local)
        if not parts.hostname or not secure:
            raise SettingsError(
                f"RODEDRAAD_{name} must be an https:// URL (http:// only to this machine), "
                f"not {url!r}"
            )
    if urlsplit(redirect_url).path != OIDC_CALLBACK_PATH or urlsplit(redirect_url).query:
        raise SettingsError(
            f"RODEDRAAD_OIDC_REDIRECT_URL must end in {OIDC_CALLBACK_PATH} (the pages' callback), "
            f"not {redirect_url!r}"
        )
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret_file=Path(secret_file),
        redirect_url=redirect_url,
    )
