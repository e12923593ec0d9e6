"""Auditors and administrators: reads of personal data, the record's history, retention.

Auditors answer "who saw a client's data" and "what did the record say" from the access log
and the event store itself; they change nothing. Administrators and the data protection officer
see what passed its retention period (seed 004: plan and dossier 10 years after the end of
service, the logbook 5 years); only the data protection officer erases it (``POST
/v1/clients/{id}/erasure``), and neither sees case data.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromQuery, QueryParameter
from litestar.types import Guard

from api.access import AUDITORS, RETENTION_READERS
from api.audit_access import audited_record, in_calendar, read_as_of
from api.audit_views import agreements_of
from api.audit_views import as_of_answer as _as_of_answer
from api.audit_views import event_fields as _fields
from api.audit_views import event_name as _name
from api.common import Caller, Id, Services
from api.problems import refused_field
from api.schemas import (
    Agreements,
    AsOfInExport,
    ClientDue,
    History,
    HistoryEntry,
    RetentionReport,
    TrajectoryAsOfAnswer,
    UserIdFilter,
)
from api.services import ApiServices
from application.access_log import PersonalDataRead
from application.audit_export import FORMAT, AuditExport
from application.audit_record import AuditRecord, facts_of
from application.commit_times import PositionedEvent
from application.sealed_files import SealedFileError, public_key_from_text
from domain.errors import ClientNotFound, TrajectoryNotFound

#: At most this many as-of questions per export.
MAX_AS_OF = 20
#: The recipient's X25519 public key: its PEM, or the base64 line between the PEM lines.
Recipient = Annotated[
    str,
    QueryParameter(
        min_length=40,
        max_length=400,
        description="Your X25519 public key (`openssl pkey -pubout`): the base64 line of its PEM "
        "file, or the whole PEM; the export is encrypted to it",
    ),
]
AsOfQuestions = Annotated[
    list[str] | None,
    QueryParameter(
        max_items=MAX_AS_OF,
        description="An as-of question to answer in the export, repeated: occurred:T, "
        "recorded:T, or occurred:T,recorded:T (T with a time zone offset)",
    ),
]


def _moments(question: str, number: int) -> tuple[datetime | None, datetime | None]:
    """``occurred:T``, ``recorded:T`` or both, comma-separated → (occurred, recorded). A
    refusal names the question by its place among the ``as_of`` asked (``number``, from 1),
    never by its text (README, errors)."""
    which = f"as_of question {number}"
    moments: dict[str, datetime] = {}
    for part in question.split(","):
        axis, _, text = part.strip().partition(":")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if axis not in ("occurred", "recorded") or axis in moments or moment is None:
            told = (
                f"{which}: write occurred:T, recorded:T or occurred:T,recorded:T, "
                "e.g. occurred:2026-10-01T12:00:00+02:00"
            )
            raise refused_field("as_of", told)
        if moment.tzinfo is None:
            told = f"{which}: {axis} needs a time zone offset, e.g. +01:00 or Z"
            raise refused_field("as_of", told)
        moments[axis] = in_calendar(f"{which}: {axis}", moment)
    return moments.get("occurred"), moments.get("recorded")


def _auditors_first(action: str) -> Guard:
    """The role before the input: a guard runs before the parameters are read, so another
    role is told 403, never what the route takes (an outside probe got a 422 for an export's
    recipient, a review the same for a malformed moment or limit on the other audit routes)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        services: ApiServices = connection.app.state["ui_services"]
        services.policy.require_role(connection.user, action, AUDITORS)

    return guard


class AuditController(Controller):
    tags = ["audit and retention"]

    @get(
        "/v1/audit/personal-data-reads",
        summary="Who read which client's personal data",
        guards=[_auditors_first("read the access log")],
    )
    async def personal_data_reads(
        self,
        request: Caller,
        services: Services,
        client_id: FromQuery[UUID | None] = None,
        user_id: UserIdFilter = None,
        since: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500,
    ) -> list[PersonalDataRead]:
        """Auditors only, for the clients of their region (those with a trajectory there), and
        of those only the reads of the client itself or of a trajectory in the region (issue
        #10 review, B2: a client's trajectory in another region is not theirs to audit);
        newest first. A client of another region does not exist for them (404)."""
        acting = services.policy.require_role(request.user, "read the access log", AUDITORS)
        if since is not None and since.tzinfo is None:  # (as the as-of moments: never guessed)
            told = "since needs a time zone offset, e.g. 2026-10-01T12:00:00+02:00 or Z"
            raise refused_field("since", told)
        if since is not None:  # the log compares moments in UTC (as text, on SQLite)
            try:
                since = since.astimezone(UTC)
            except OverflowError:
                told = "since lies outside the years 1 to 9999 once taken to UTC"
                raise refused_field("since", told) from None
        in_region = await services.queries.plan_state.clients_in_region(acting.region)
        trajectories = await services.queries.plan_state.trajectories_in_region(acting.region)
        if client_id is not None:
            if client_id not in in_region:
                raise services.policy.hidden(
                    acting, "read the access log", ClientNotFound(f"no client with id {client_id}")
                )
            in_region = {client_id}
        return await anyio.to_thread.run_sync(
            lambda: services.access_log.query(
                client_ids=in_region,
                trajectory_ids=trajectories,
                user_id=user_id,
                since=since,
                limit=limit,
            )
        )

    @get(
        "/v1/audit/trajectories/{trajectory_id:uuid}/history",
        summary="The record itself",
        guards=[_auditors_first("read a trajectory's history")],
    )
    async def history(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
    ) -> History:
        """Every event of the trajectory from the event store, with both times and the actor:
        who agreed what and when, as recorded. Auditors of the trajectory's region only, decided
        from the record itself (issue #15: a read model may not have the referral yet)."""
        facts = await _audited_facts(services, request, trajectory_id, "history")
        return History(
            trajectory_id=trajectory_id,
            events=[
                HistoryEntry(
                    version=e.originator_version,
                    event=_name(e),
                    occurred_at=e.occurred_at,
                    recorded_at=e.timestamp,
                    actor=msgspec.to_builtins(e.actor),
                    fields=_fields(e),
                )
                for e, _ in facts
            ],
        )

    @get(
        "/v1/audit/trajectories/{trajectory_id:uuid}/as-of",
        summary="The trajectory as of a moment, on either time axis",
        guards=[_auditors_first("read a trajectory's as-of")],
    )
    async def as_of(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
        occurred: FromQuery[datetime | None] = None,
        recorded: FromQuery[datetime | None] = None,
    ) -> TrajectoryAsOfAnswer:
        """``occurred=T``: what the state was at T as we know it now (every fact that happened
        by T, including facts recorded later); ``recorded=T``: what the record showed at T (the
        versions committed by T); both: what the record showed at ``recorded`` of the state at
        ``occurred``. Everything time-dependent is evaluated at the occurred moment if given,
        else the recorded one. Auditors of the trajectory's region only."""
        return await read_as_of(services, request, trajectory_id, occurred, recorded)

    @get(
        "/v1/audit/trajectories/{trajectory_id:uuid}/agreements",
        summary="Who agreed what, and when",
        guards=[_auditors_first("read a trajectory's agreements")],
    )
    async def agreements(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
    ) -> Agreements:
        """Every role agreement (proposed by whom and when, each party's answer with the acting
        user, organisation, role and both times, in force from and to), every plan signature,
        every consent a handover used (which consent covered which party and scope at that
        moment), every escalation decision. Auditors of the trajectory's region only."""
        facts = await _audited_facts(services, request, trajectory_id, "agreements")
        client_id = facts[0][0].client_id
        client = await anyio.to_thread.run_sync(
            lambda: AuditRecord(services.care_record).facts(client_id)
        )
        return agreements_of(trajectory_id, facts_of(facts), [e for e, _ in client])

    @get(
        "/v1/audit/trajectories/{trajectory_id:uuid}/export",
        summary="The trajectory's record as one signed file, encrypted to your key",
        media_type="application/octet-stream",
        guards=[_auditors_first("read a trajectory's export")],
    )
    async def export(
        self,
        trajectory_id: Id,
        request: Caller,
        services: Services,
        recipient: Recipient,
        as_of: AsOfQuestions = None,
        include_contact: FromQuery[bool] = False,
    ) -> Response[bytes]:
        """For an offline check (``rodedraad audit verify-export``): the trajectory's stored
        events and its client's, each with its chain entries and inclusion proof into a signed
        seal (the record is sealed first), each sealed field's plaintext and salt, the
        agreements view and the as-of answers asked; signed with the deployment's key and
        encrypted to ``recipient``. Names and contact details only with
        ``include_contact=true``. Auditors of the trajectory's region only; logged as a read
        of the client's personal data, with what the export held."""
        try:
            key = public_key_from_text(recipient)
        except SealedFileError as e:
            raise ValidationException(
                e.message, extra=[{"key": "recipient", "message": "not an X25519 public key"}]
            ) from None
        questions = [(q, *_moments(q, n)) for n, q in enumerate(as_of or [], 1)]
        exports = services.audit_exports
        if exports is None:  # pragma: no cover - every deployment has one
            raise RuntimeError("this deployment makes no audit exports")
        purpose = (
            f"audit export: trajectory and client events with plaintexts, "
            f"contact details {'included' if include_contact else 'withheld'}, "
            f"{len(questions)} as-of answer(s)"
        )
        record = await audited_record(services, request, trajectory_id, "export", purpose)
        referral = record.referral
        acting = request.user

        def make() -> bytes:
            now = datetime.now(UTC)
            evidence = exports.evidence(
                [trajectory_id, referral.client_id],
                include_contact=include_contact,
                now=now,
                about=trajectory_id,
            )
            audit = AuditRecord(services.care_record, services.deadline_policy)
            facts = record.facts()
            client = audit.facts(referral.client_id)
            answers = []
            for asked, occurred, recorded in questions:
                try:
                    answer = audit.as_of(
                        trajectory_id, occurred=occurred, recorded=recorded, record=record
                    )
                except TrajectoryNotFound as missing:
                    answers.append(AsOfInExport(asked, None, str(missing)))
                    continue
                answers.append(
                    AsOfInExport(asked, _as_of_answer(trajectory_id, occurred, recorded, answer))
                )
            document = AuditExport(
                format=FORMAT,
                trajectory_id=trajectory_id,
                client_id=referral.client_id,
                exported_at=now,
                exported_by=f"{acting.user_id} ({acting.organisation})",
                include_contact=include_contact,
                events=evidence.events,
                seals=evidence.seals,
                fields=evidence.fields,
                agreements=agreements_of(trajectory_id, facts_of(facts), [e for e, _ in client]),
                as_of=answers,
            )
            return exports.finish(document, key)

        sealed = await anyio.to_thread.run_sync(make)
        return Response(
            sealed,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="rodedraad-audit-{trajectory_id}.export"'
                ),
                "Cache-Control": "no-store",
            },
        )

    @get("/v1/admin/retention", summary="What passed its retention period")
    async def retention(self, request: Caller, services: Services) -> RetentionReport:
        """Administrators and the data protection officer (who erases): pseudonymous client ids
        and counts, never case data."""
        services.policy.require_role(request.user, "list retention", RETENTION_READERS)
        now = datetime.now(UTC)
        rules = services.retention
        plan_cutoff = now - timedelta(days=round(365.25 * rules.plan_years))
        log_cutoff = now - timedelta(days=round(365.25 * rules.log_years))
        due = await services.queries.plan_state.retention_due(plan_cutoff)
        log_due = await anyio.to_thread.run_sync(services.access_log.count_before, log_cutoff)
        return RetentionReport(
            as_of=now,
            plan_years=rules.plan_years,
            log_years=rules.log_years,
            clients_due=[ClientDue(client_id=c, service_ended=at) for c, at in due],
            log_entries_due=log_due,
        )


async def _audited_facts(
    services: Any, request: Caller, trajectory_id: UUID, what: str
) -> list[tuple[Any, PositionedEvent]]:
    """The trajectory's facts, every one opened, for an auditor (``audited_record``)."""
    record = await audited_record(services, request, trajectory_id, what)
    return await anyio.to_thread.run_sync(record.facts)
