"""``/v1/me``: what the person decides, and what they take along (issue #19 points 5 and 6).

**Who acts.** The person's identity link decides whose record it is (``api.person.
PersonRecords``), as for every ``/v1/me`` route; the command then runs as any other use case
of the record (``CareRecord.change_client`` / ``change_trajectory``), with the person as the
actor: role ``client`` or ``representative``, the representative's reference as
``on_behalf_of``, and as user the identity link's id (``identity-link:<id>``), never the
identity provider's subject (personal data, sealed on the link). The context's guard lets the
command touch that client's record and its trajectories only.

**What they decide**: their own consents (grant, revoke: the organisation that manages the
client keeps doing it on their behalf), the plan's signature (the minors' rules applied: NL
12-15 needs the minor's and a parent's, ``domain.minors.needs_both_signatures``), their input
ahead of a consultation (001), and GDPR requests (``domain.person_requests``).

**What they take along**: ``GET /v1/me/trajectories/{id}/plan``, the plan as a printable HTML
page (labels in Dutch, English with ``?lang=en``), built from the same ``MyPlan`` the JSON
route answers, every text escaped; ``GET /v1/me/trajectories/{id}/fhir``, the FHIR bundle of
issue #18 (``application.fhir``) with the person's own name and contact. Both logged as a
personal-data read, like the JSON route.
"""

import base64
import hashlib
import html
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.enums import MediaType
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, QueryParameter

from api.commands import CommandRunner, Runner
from api.common import Caller, Id, Services, read_entry
from api.person import (
    Labelled,
    Lang,
    MyPlan,
    PersonRecord,
    PersonRecords,
    by_the_reader,
    hidden_reasons,
    language,
    plan_of,
)
from api.schemas import CommandAnswer, RefInPath
from api.services import ApiServices
from api.ui import pages as ui_pages
from application import fhir
from application.care_record import CommandResult
from application.commands import (
    ClientCommand,
    FileRequest,
    GiveConsultationInput,
    GrantConsent,
    RevokeConsent,
    RevokeConsentAt,
    SignMyPlan,
    SignMyPlanAs,
    TrajectoryCommand,
)
from domain.client import Client, PersonRole
from domain.common import Actor, CommandContext
from domain.errors import ClientNotFound, ItemNotFound, TrajectoryNotFound
from domain.minors import needs_both_signatures
from domain.person_requests import PersonRequest
from domain.trajectory import Trajectory

Answer = Response[CommandAnswer]
#: Which of the person's records a client-level decision is about, when they act for several.
ClientChoice = Annotated[
    UUID | None,
    QueryParameter(description="the client, when you act for more than one (a parent of two)"),
]

#: Dutch (default) and English labels of the person's requests and the printable plan.
REQUEST_LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "access_copy": "kopie van mijn gegevens",
        "rectification": "verbetering van een gegeven",
        "erasure": "wissen van mijn gegevens",
        "granted": "toegekend",
        "partly_granted": "gedeeltelijk toegekend",
        "refused": "geweigerd",
        "open": "in behandeling",
        "closed_by_erasure": "afgesloten: uw gegevens zijn gewist",
    },
    "en": {
        "access_copy": "copy of my data",
        "rectification": "correction of a field",
        "erasure": "erasure of my data",
        "granted": "granted",
        "partly_granted": "partly granted",
        "refused": "refused",
        "open": "being decided",
        "closed_by_erasure": "closed: your data were erased",
    },
}


def request_label(lang: str, key: str) -> str:
    return REQUEST_LABELS[lang].get(key, key)


class MyRequest(msgspec.Struct, frozen=True):
    """One of the person's requests: what, when it is due, and the decision with its ground."""

    client_id: UUID
    request_id: str
    kind: Labelled
    field_name: str | None
    details: str
    filed_at: datetime
    answer_due_on: date
    status: Labelled
    legal_ground: str | None
    decided_at: datetime | None
    #: ``coordinator`` or ``data_protection_officer``: who decided, never their name.
    decided_by_role: str | None
    deadline_passed: bool


def my_request(client_id: UUID, request_id: str, request: PersonRequest, lang: str) -> MyRequest:
    status = request.status
    return MyRequest(
        client_id=client_id,
        request_id=request_id,
        kind=Labelled(request.kind.value, request_label(lang, request.kind.value)),
        field_name=request.field_name,
        details=request.details,
        filed_at=request.filed_at,
        answer_due_on=request.answer_due_on,
        status=Labelled(status, request_label(lang, status)),
        legal_ground=request.legal_ground,
        decided_at=request.decided_at,
        decided_by_role=request.decided_by_role,
        deadline_passed=request.deadline_passed,
    )


def filed_by_the_reader(services: Services, record: PersonRecord) -> frozenset[str]:
    """The ids of the client's requests the reader filed (``api.person.by_the_reader``): a
    request's details are the words of who filed it, as its decision answers them."""
    return frozenset(
        event.request_id
        for event in services.care_record.events.get(record.client.id)
        if isinstance(event, Client.RequestFiled)
        and by_the_reader(record, event.actor.role, event.actor.on_behalf_of)
    )


# --- running a command as the person ------------------------------------------------------------


def person_actor(record: PersonRecord) -> Actor:
    """The actor the person's commands record (module docstring)."""
    return Actor(
        user_id=f"identity-link:{record.link_id}",
        organisation="",
        role=record.as_role.value,
        on_behalf_of=record.representative_ref,
    )


def run_as_person(
    runner: CommandRunner,
    record: PersonRecord,
    command: ClientCommand | TrajectoryCommand,
    use_case: Callable[[CommandContext, int | None], CommandResult],
) -> Answer:
    """Run one of the person's use cases on their own record (module docstring), with the
    command headers every command route honours (``If-Match``, ``Idempotency-Key``)."""
    actor = person_actor(record)
    client_id = record.client.id

    def authorise(aggregate: object) -> Actor:
        if isinstance(aggregate, Client) and aggregate.id == client_id:
            return actor
        if isinstance(aggregate, Trajectory) and aggregate.client_id == client_id:
            return actor
        raise ClientNotFound("that record is not yours")

    # (A person's chosen ids are checked against the names they know, their own and the
    # client's (``Client.names_known_to``), never against another recorded name: a
    # representative trying ids could otherwise learn another representative's name.)
    return runner.run_as(
        command, command.action, use_case, actor, authorise, sees_names=lambda _client: False
    )


def on_my_client(runner: CommandRunner, record: PersonRecord, command: ClientCommand) -> Answer:
    """A command on the person's client record."""
    care_record, client_id = runner.care_record, record.client.id
    return run_as_person(
        runner,
        record,
        command,
        lambda ctx, version: care_record.change_client(ctx, client_id, version, command),
    )


def on_my_trajectory(
    runner: CommandRunner, record: PersonRecord, trajectory_id: UUID, command: TrajectoryCommand
) -> Answer:
    """A command on one of the person's trajectories (``PersonRecords.trajectory`` found it)."""
    care_record = runner.care_record
    return run_as_person(
        runner,
        record,
        command,
        lambda ctx, version: care_record.change_trajectory(ctx, trajectory_id, version, command),
    )


def one_record(records: list[PersonRecord], client_id: UUID | None) -> PersonRecord:
    """The record a client-level decision is about: the only one, or the one ``client_id``
    names (a parent representing several children names the child)."""
    if client_id is not None:
        for record in records:
            if record.client.id == client_id:
                return record
        raise ClientNotFound(f"no client with id {client_id}")
    if len(records) > 1:
        raise ValidationException(
            "you act for more than one client: name the client with ?client_id=",
            extra=[{"key": "client_id", "message": "required when you act for several clients"}],
        )
    return records[0]


class MyDecisionsController(Controller):
    """The person's own decisions and copies (issue #19 points 5 and 6)."""

    path = "/v1/me"
    tags = ["me"]

    @staticmethod
    def _records(services: ApiServices) -> PersonRecords:
        return PersonRecords.of_services(services)

    # --- consents -------------------------------------------------------------------------------

    @post("/consents", sync_to_thread=True, status_code=200, summary="Grant a consent of my own")
    def grant_consent(
        self,
        data: JSONBody[GrantConsent],
        request: Caller,
        services: Services,
        runner: Runner,
        client_id: ClientChoice = None,
    ) -> Answer:
        """004: to whom, what, why and until when; recorded with the person as the actor. A
        continuation consent names one of the person's own trajectories."""
        record = one_record(self._records(services).of(request.user), client_id)
        care_record = services.care_record
        if data.trajectory_id is not None and data.trajectory_id not in {
            t.id for t in care_record.trajectories_of(record.client.id)
        }:
            raise TrajectoryNotFound(f"no trajectory with id {data.trajectory_id}")
        return on_my_client(runner, record, data)

    @post(
        "/consents/{consent_id:str}/revocation",
        sync_to_thread=True,
        status_code=200,
        summary="Revoke a consent: the organisation's next read is refused",
    )
    def revoke_consent(
        self,
        consent_id: RefInPath,
        data: JSONBody[RevokeConsent],
        request: Caller,
        services: Services,
        runner: Runner,
        client_id: ClientChoice = None,
    ) -> Answer:
        """Any consent of the person's record, whoever recorded it; it takes effect at once."""
        records = self._records(services).of(request.user)
        holding = [r for r in records if consent_id in r.client.consents]
        if not holding:
            raise ItemNotFound(
                f"consent {consent_id!r} is not recorded for you", field="consent_id"
            )
        record = one_record(holding, client_id)
        command = RevokeConsentAt.at(data, consent_id=consent_id)
        return on_my_client(runner, record, command)

    # --- the plan and the consultations -----------------------------------------------------------

    @post(
        "/trajectories/{trajectory_id:uuid}/plan-signatures",
        sync_to_thread=True,
        status_code=200,
        summary="Sign my plan",
    )
    def sign_plan(
        self,
        trajectory_id: Id,
        data: JSONBody[SignMyPlan],
        request: Caller,
        services: Services,
        runner: Runner,
    ) -> Answer:
        """004: in force from the signature. Where the minor and a parent decide together
        (NL, 12-15) the first signature is recorded in part and the plan comes into force
        with the other's."""
        record, _ = self._records(services).trajectory(request.user, trajectory_id)
        command = SignMyPlanAs.at(data, together=needs_both_signatures(record.exerciser))
        return on_my_trajectory(runner, record, trajectory_id, command)

    @post(
        "/trajectories/{trajectory_id:uuid}/consultation-input",
        sync_to_thread=True,
        status_code=200,
        summary="Say what I want said at the next consultation",
    )
    def consultation_input(
        self,
        trajectory_id: Id,
        data: JSONBody[GiveConsultationInput],
        request: Caller,
        services: Services,
        runner: Runner,
    ) -> Answer:
        """001: the client is present or asked beforehand; this is the person's own word."""
        record, _ = self._records(services).trajectory(request.user, trajectory_id)
        return on_my_trajectory(runner, record, trajectory_id, data)

    # --- requests -------------------------------------------------------------------------------

    @post("/requests", sync_to_thread=True, status_code=200, summary="File a GDPR request")
    def file_request(
        self,
        data: JSONBody[FileRequest],
        request: Caller,
        services: Services,
        runner: Runner,
        client_id: ClientChoice = None,
    ) -> Answer:
        """A copy of my data, a correction of a named field, or erasure: decided within a
        month by the coordinating organisation or the data protection officer."""
        record = one_record(self._records(services).of(request.user), client_id)
        return on_my_client(runner, record, data)

    @get("/requests", sync_to_thread=True, summary="My requests and their decisions")
    def requests(self, request: Caller, services: Services, lang: Lang = None) -> list[MyRequest]:
        """The requests the person filed themselves (a child's are not the parent's to read,
        ``api.person.by_the_reader``), oldest first."""
        tongue = language(request, lang)
        mine: list[MyRequest] = []
        for record in self._records(services).of(request.user):
            own = filed_by_the_reader(services, record)
            mine.extend(
                my_request(record.client.id, request_id, found, tongue)
                for request_id, found in record.client.requests.items()
                if request_id in own
            )
        return sorted(mine, key=lambda r: r.filed_at)

    # --- take it along --------------------------------------------------------------------------

    @get(
        "/trajectories/{trajectory_id:uuid}/plan",
        sync_to_thread=True,
        media_type=MediaType.HTML,
        summary="My plan, printable (HTML)",
    )
    def printable_plan(
        self, trajectory_id: Id, request: Caller, services: Services, lang: Lang = None
    ) -> Response[str]:
        """The plan as ``GET /v1/me/trajectories/{id}`` shows it, as a page to print or keep;
        logged as a personal-data read. A copy handed out is beyond any later erasure."""
        record, trajectory = self._records(services).trajectory(request.user, trajectory_id)
        services.access_log.record(
            read_entry(request, record.reader(request.user), record.client.id, trajectory.id)
        )
        tongue = language(request, lang)
        plan = plan_of(services, record, trajectory, tongue)
        return Response(
            content=printable(plan, tongue, datetime.now(UTC)),
            media_type=MediaType.HTML,
            headers=PAGE_HEADERS,
        )

    @get(
        "/trajectories/{trajectory_id:uuid}/fhir",
        sync_to_thread=True,
        media_type=fhir.MEDIA_TYPE,
        summary="My plan as an HL7 FHIR R4 Bundle, to take to another care system",
    )
    def fhir_bundle(
        self, trajectory_id: Id, request: Caller, services: Services
    ) -> Response[dict[str, Any]]:
        """The same bundle an organisation exports (``application.fhir``, README "FHIR
        export"), with the client's name and contact: the person's own. Logged as a read. It
        holds goals, actions, signatures, consultations' dates and kinds, role agreements and
        consents, and none of the free texts professionals wrote (as ``/v1/me`` shows)."""
        record, trajectory = self._records(services).trajectory(request.user, trajectory_id)
        services.access_log.record(
            read_entry(request, record.reader(request.user), record.client.id, trajectory.id)
        )
        policy = services.policy
        document = fhir.trajectory_bundle(
            services.care_record,
            trajectory.id,
            personal_details=lambda _client: True,
            now=policy.clock(),
            client_record=lambda _client: True,  # the person's own record
            hidden_reasons=hidden_reasons(record),  # (a representative: no safety block)
            # (A representative reads their own name, not another's: a foster parent's.)
            named_representatives=None
            if record.as_role == PersonRole.CLIENT
            else [record.representative_ref or ""],
        )
        return Response(document, media_type=fhir.MEDIA_TYPE, headers={"Cache-Control": "no-store"})


# --- the printable plan ---------------------------------------------------------------------------

PAGE_LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Mijn handelingsplan",
        "status": "Stand van het traject",
        "coordinator": "Coördinerende organisatie",
        "goals": "Doelen",
        "actions": "Afspraken",
        "owner": "wie",
        "due": "tegen",
        "signature": "Ondertekening",
        "signed": "ondertekend op {on} door {by}, geldig tot {until}",
        "unsigned": "nog niet ondertekend",
        "consultations": "Overleggen",
        "roles": "Wie doet wat",
        "next_consultation": "Volgend overleg",
        "next_evaluation": "Volgende evaluatie",
        "texts": "Wat de begeleiders voor u noteerden",
        "printed": "Afgedrukt op {on}. Een afgedrukte kopie valt buiten een latere wissing.",
        "closed": "afgesloten",
        "none": "geen",
    },
    "en": {
        "title": "My support plan",
        "status": "Status of the trajectory",
        "coordinator": "Coordinating organisation",
        "goals": "Goals",
        "actions": "Agreed actions",
        "owner": "who",
        "due": "by",
        "signature": "Signature",
        "signed": "signed on {on} by {by}, valid until {until}",
        "unsigned": "not signed yet",
        "consultations": "Consultations",
        "roles": "Who does what",
        "next_consultation": "Next consultation",
        "next_evaluation": "Next evaluation",
        "texts": "What the professionals wrote for you",
        "printed": "Printed on {on}. A printed copy is beyond any later erasure.",
        "closed": "closed",
        "none": "none",
    },
}


#: The printable plan's one style, inline (a page kept offline needs no other file).
PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:42em;margin:2em auto}@media print{a{display:none}}"
)
#: What the page may load or run: its own style, by its hash, and nothing else, so no text a
#: professional wrote could ever run or fetch anything, even were it not escaped.
PAGE_HEADERS = {
    **ui_pages.PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src "
        f"'sha256-{base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()}'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def printable(plan: MyPlan, lang: str, printed_at: datetime) -> str:
    """The plan as a self-contained HTML page; every value escaped (``html.escape``)."""
    words = PAGE_LABELS[lang]

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    def section(title: str, items: list[str]) -> str:
        body = "".join(f"<li>{i}</li>" for i in items) or f"<li>{e(words['none'])}</li>"
        return f"<h2>{e(title)}</h2><ul>{body}</ul>"

    t = plan.trajectory
    goals = [
        e(g.description) + (f" ({e(words['closed'])})" if g.closed_at else "") for g in plan.goals
    ]
    actions = [
        f"{e(a.description)} — {e(words['owner'])}: {e(a.owner)}"
        + (f", {e(words['due'])} {e(a.due_on.isoformat())}" if a.due_on else "")
        for a in plan.actions
    ]
    signature = (
        words["signed"].format(
            on=plan.signature.signed_at.date().isoformat(),
            by=plan.signature.signatory.label,
            until=plan.signature.valid_until.isoformat(),
        )
        if plan.signature
        else words["unsigned"]
    )
    consultations = [
        f"{e(c.held_at.date().isoformat())}: {e(c.kind.label)}" for c in plan.consultations
    ]
    roles = [f"{e(r.organisation)}: {e(r.role)}" for r in plan.roles_in_force]
    texts = [e(" ".join(t.lines)) for t in plan.texts]
    dates = [
        f"{e(words['next_consultation'])}: {e(plan.next_consultation_on or words['none'])}",
        f"{e(words['next_evaluation'])}: {e(plan.next_evaluation_on or words['none'])}",
    ]
    return (
        f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(words['title'])}</title>"
        f"<style>{PAGE_STYLE}</style></head><body>"
        f"<h1>{e(words['title'])}</h1>"
        f"<p>{e(words['status'])}: {e(t.status.label)}<br>"
        f"{e(words['coordinator'])}: {e(t.coordinating_organisation or words['none'])}</p>"
        + section(words["goals"], goals)
        + section(words["actions"], actions)
        + f"<h2>{e(words['signature'])}</h2><p>{e(signature)}</p>"
        + section(words["consultations"], consultations)
        + section(words["roles"], roles)
        + f"<p>{'<br>'.join(dates)}</p>"
        + section(words["texts"], texts)
        + f"<footer><p>{e(words['printed'].format(on=printed_at.date().isoformat()))}</p>"
        "</footer></body></html>"
    )
