"""``/v1/exports``: export authorisations and the XES export for process mining (issue #13).

An export is pseudonymised personal data, so it needs a purpose and a legal basis: the
``data_protection_officer`` records an **export authorisation** for one user of one
organisation and one region, until a day, and may revoke it. ``GET /v1/exports/xes`` answers
only a caller whose token's user and organisation hold an authorisation in force for the region
asked for (read from the record, so a revocation counts from the very next request); a role in
a token is never enough. Every export is logged as a read of the personal data of each client
it holds, with the authorisation and its purpose (``application.access_log``).

The period asked for must be one this deployment has released statistics for (the README's
"so that a release of the same period exists to compare with"): a period of the other grid, one
not ended yet, or one whose release is still to come is refused with 422, saying what to ask
for instead. So every export is of a closed period, whose release's disclosure review covered
the same trajectories (the export itself keeps only variants k trajectories follow).
"""

from datetime import UTC, date, datetime
from typing import Annotated

import anyio.to_thread
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter

from api.access import EXPORT_AUTHORISATION_READERS
from api.commands import Answer, Runner
from api.common import Caller, Id, Services, read_entry
from api.problems import refused_field
from api.schemas import ExportAuthorisationView
from application.commands import (
    REF_MAX_LENGTH,
    REF_PATTERN,
    GrantExportAuthorisation,
    RevokeExportAuthorisation,
)
from domain.export_authorisation import ExportAuthorisation, authorisation_for
from projections.statistics.model import Period
from projections.statistics.store import ReleaseStore

ENDPOINT = "/v1/exports/xes"
#: The region an export covers (required).
Region = Annotated[
    str,
    QueryParameter(
        pattern=REF_PATTERN,
        min_length=1,
        max_length=REF_MAX_LENGTH,
        description="The region whose trajectories the export holds",
    ),
]
#: The period whose referrals the export holds (required): one this deployment has released.
ExportPeriod = Annotated[
    str,
    QueryParameter(
        pattern=r"^2\d{3}(Q[1-4])?$",
        description="The trajectories referred in this year (2025) or quarter (2025Q3): a "
        "period this deployment has released statistics for (GET /v1/statistics/releases)",
    ),
]


#: Why the period must be a released one, said in every refusal of it.
_WHY_RELEASED = (
    "an export covers only a period this deployment has released statistics for, so that the "
    "release exists to compare it with"
)
_LISTED = "GET /v1/statistics/releases lists them"


def check_released(store: ReleaseStore, wanted: Period, today: date) -> None:
    """Refuse (422, ``period``) a period no release of this deployment covers, saying what to
    ask for instead; the refused period itself is never repeated (README, errors)."""
    if store.releases(wanted):
        return
    released = [Period.parse(r.period) for r in store.releases()]  # newest first
    if today <= wanted.end:
        told = f"the period asked for ends on {wanted.end.isoformat()}, so it is not released"
    elif released and all(p.kind != wanted.kind for p in released):
        told = (
            f"the period asked for is a {wanted.kind}, and this deployment releases "
            f"{released[0].kind}s (RODEDRAAD_STATISTICS_GRID), never both"
        )
    else:
        told = "no statistics release covers the period asked for yet"
    if released:
        told += f": {_WHY_RELEASED}. Ask for a released {released[0].kind}, such as "
        told += f"{released[0]} ({_LISTED})"
    else:
        told += f": {_WHY_RELEASED}, and it has released none yet. Ask once one is released"
    raise refused_field("period", told)


def _view(authorisation: ExportAuthorisation, now: datetime) -> ExportAuthorisationView:
    return ExportAuthorisationView(
        id=authorisation.id,
        version=authorisation.version,
        user_id=authorisation.user_id,
        organisation=authorisation.organisation,
        purpose=authorisation.purpose,
        legal_basis=authorisation.legal_basis.value,
        region=authorisation.region,
        until=authorisation.until,
        status=authorisation.status_on(now.astimezone(UTC).date()).value,
        granted_at=authorisation.granted_at,
        granted_by=authorisation.granted_by,
        revoked_on=authorisation.revoked_on,
    )


class ExportController(Controller):
    path = "/v1/exports"
    tags = ["exports"]

    @post("/authorisations", sync_to_thread=True, summary="Record an export authorisation")
    def grant(self, data: JSONBody[GrantExportAuthorisation], intake: Runner) -> Answer:
        """The data protection officer authorises one user of one organisation to export one
        region's pseudonymised event data, for a purpose, on a legal basis, until a day still
        to come. Answered 201 with the authorisation's id."""
        return intake.grant_export_authorisation(data)

    @get("/authorisations", sync_to_thread=True, summary="The export authorisations")
    def authorisations(self, request: Caller, services: Services) -> list[ExportAuthorisationView]:
        """Every authorisation ever recorded, oldest first, each ``in_force``, ``revoked`` or
        ``expired`` today (data protection officer only)."""
        services.policy.require_role(
            request.user, "read the export authorisations", EXPORT_AUTHORISATION_READERS
        )
        now = services.policy.clock()
        return [_view(a, now) for a in services.care_record.export_authorisations()]

    @get(
        "/authorisations/{authorisation_id:uuid}",
        sync_to_thread=True,
        summary="One export authorisation",
    )
    def authorisation(
        self, authorisation_id: Id, request: Caller, services: Services
    ) -> Response[ExportAuthorisationView]:
        services.policy.require_role(
            request.user, "read the export authorisations", EXPORT_AUTHORISATION_READERS
        )
        found = services.care_record.export_authorisation(authorisation_id)
        view = _view(found, services.policy.clock())
        return Response(view, headers={"ETag": f'"{found.version}"'})

    @post(
        "/authorisations/{authorisation_id:uuid}/revoke",
        sync_to_thread=True,
        status_code=200,
        summary="Revoke an export authorisation",
    )
    def revoke(
        self,
        authorisation_id: Id,
        data: JSONBody[RevokeExportAuthorisation],
        runner: Runner,
    ) -> Answer:
        """From the very next request on, no export is made under it."""
        return runner.revoke_export_authorisation(authorisation_id, data)

    @get(
        "/xes",
        summary="A region's trajectories as an XES event log (IEEE 1849), for process mining",
        media_type="application/xml",
    )
    async def xes(
        self, request: Caller, services: Services, region: Region, period: ExportPeriod
    ) -> Response[bytes]:
        """Pseudonymised personal data: only under an export authorisation in force for your
        user, your organisation and ``region``. One trace per trajectory referred in
        ``period``, its case id keyed by a secret thrown away after the export; times in whole
        weeks since the referral on a fixed epoch (1970-01-05); organisations as their kinds;
        variants followed by fewer than k trajectories left out (the log says how many).
        Every client whose trajectory it holds is logged as read. ``period`` must be one this
        deployment has released statistics for (422 otherwise, saying which to ask for)."""
        principal = request.user
        exports = services.exports
        if exports is None:  # pragma: no cover - every deployment has one
            raise RuntimeError("this deployment makes no exports")
        wanted = Period.parse(period)

        def make() -> bytes:
            today = services.policy.clock().astimezone(UTC).date()
            held = authorisation_for(
                services.care_record.export_authorisations(),
                user_id=principal.user_id,
                organisation=principal.organisation,
                region=region,
                day=today,
            )
            if services.releases is None:  # pragma: no cover - every deployment has one
                raise RuntimeError("this deployment keeps no statistics releases")
            check_released(services.releases, wanted, today)
            made = exports.export(
                region=region,
                period=wanted,
                authorisation_id=str(held.id),
                purpose=held.purpose,
                legal_basis=held.legal_basis.value,
            )
            services.access_log.record_many(
                [
                    read_entry(
                        request,
                        principal,
                        client_id,
                        trajectory_id,
                        authorisation=str(held.id),
                        purpose=held.purpose,
                    )
                    for client_id, trajectory_id in made.clients
                ]
            )
            return made.export.document

        document = await anyio.to_thread.run_sync(make)
        return Response(
            document,
            media_type="application/xml",
            headers={
                "Content-Disposition": f'attachment; filename="rodedraad-{region}-{wanted}.xes"',
                "Cache-Control": "no-store",
            },
        )
