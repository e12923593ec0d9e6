"""What the HTTP layer needs from the composition root, in one object."""

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from api.access import AccessPolicy
from api.auth import LocalTokens, TokenVerifier
from api.idempotency import IdempotencyStore
from api.oidc import OidcClient
from application.access_log import AccessLog
from application.audit_export import AuditExports
from application.care_record import CareRecord, FindingOutbox
from application.identities import IdentityLinks
from domain.deadlines import DeadlinePolicy
from domain.minors import Jurisdiction
from domain.network_cadence import Cadence
from projections.plan_state.queries import PlanStateQueries
from projections.queries import ReadModelQueries
from projections.statistics.exports import XesExports
from projections.statistics.store import ReleaseStore


@dataclass(frozen=True, slots=True)
class Retention:
    """Seed 004: the plan and dossier at least 10 years after the end of service, the log 5."""

    plan_years: int = 10
    log_years: int = 5


@dataclass(frozen=True)
class UiConfig:
    """What the pages need beyond the API's services: the local sign-in (None: off), the sign-in
    with the identity provider (None: off), and the key the CSRF tokens are signed with."""

    local_sign_in: LocalTokens | None = None
    oidc: OidcClient | None = None
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


class QueryRunner(Protocol):
    async def close(self) -> None: ...


#: One question ``/health`` asks: ``None`` when all is well, else why the service is degraded
#: (a sentence an operator can act on; never personal data).
HealthCheck = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class ApiServices:
    """What the HTTP layer needs, built by the composition root."""

    care_record: CareRecord
    idempotency: IdempotencyStore
    token_verifier: TokenVerifier
    queries: ReadModelQueries
    query_runner: QueryRunner
    policy: AccessPolicy
    access_log: AccessLog
    retention: Retention
    max_body_bytes: int = 256 * 1024
    #: Issue #22: the benchmark's null command is routed (``RODEDRAAD_BENCHMARK_NULL_COMMAND``).
    benchmark_null_command: bool = False
    #: What ``/health`` asks besides the projections' positions (KEK rotation, workers, …).
    health_checks: Sequence[HealthCheck] = ()
    #: The statistics releases learning networks read (issue #12).
    releases: ReleaseStore | None = None
    #: The XES exports for process mining (issue #13).
    exports: XesExports | None = None
    #: Where shared findings wait for their region's batch (issue #14 point 2).
    findings: FindingOutbox | None = None
    #: A learning network's meetings a year, from the policy file (issue #14 point 3).
    cadence: Cadence = field(default_factory=Cadence)
    #: A hot standby's read models (``RODEDRAAD_READ_DATABASE_URL``): plan-state documents,
    #: timelines, the board, the list and the learning networks come from there (and the
    #: statistics releases, ``standby_releases``); who may read them is decided on ``queries``
    #: (the primary), so a lagging standby never grants access that was revoked.
    standby: ReadModelQueries | None = None
    standby_runner: QueryRunner | None = None
    #: The statistics releases as the standby holds them: their reads come from there.
    standby_releases: ReleaseStore | None = None
    #: The deadline policy the scheduler uses: the as-of answer evaluates it at T (issue #15).
    deadline_policy: DeadlinePolicy | None = None
    #: The auditors' signed, encrypted export of one trajectory (issue #16 point 4).
    audit_exports: AuditExports | None = None
    #: Issue #19: the identity links a person's token is found by, and whose minors' rules apply.
    identities: IdentityLinks | None = None
    jurisdiction: Jurisdiction = Jurisdiction.BE
    #: Issue #23: the pages' local sign-in (off unless configured) and CSRF key.
    ui: UiConfig = field(default_factory=UiConfig)

    @property
    def standby_plan_state(self) -> PlanStateQueries | None:
        return None if self.standby is None else self.standby.plan_state
