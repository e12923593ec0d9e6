"""``/v1/me``: the person whose plan it is, as a user (issue #19).

**Which client, as whom** is decided in one place, ``PersonRecords.of``: the token's subject is
keyed with the deployment's pepper and looked up among the identity links (``application.
identities``), in the one role the token carries (``client`` or ``representative``); the link,
never the token, says whose record it is. A link counts while it is in force, its client is not
erased, its representative not excluded, and the jurisdiction's minors' rules
(``domain.minors``) let that role exercise the client's rights. No link that counts: 403.

Everything below reads the record itself (not a read model), so a revocation, an exclusion or
an erasure takes effect on the very next request. A trajectory of another person answers 404.

What the person sees (README, "For the person whose plan it is"): the plan's state, goals,
agreed actions, signatures, consultations' dates and kinds, roles in force, deadlines, open
escalations' level and category (never a child-protection ("safety") escalation to a
representative) and the thread to the trajectory it continues. Free texts professionals wrote
(escalation and block descriptions, consultation decisions, reasons) are not shown.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from api.access import AccessGrant, AccessPolicy, Forbidden
from api.auth import PERSON_ROLES, Principal
from api.common import Caller, Id, Services, read_entry
from api.services import ApiServices
from application.identities import FoundLink
from domain.client import Client, PersonRole
from domain.common import ReasonCategory
from domain.errors import TrajectoryNotFound
from domain.minors import Exerciser, rights_of
from domain.trajectory import Status, Trajectory

# --- which client, as whom ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One record the person may read: the client, as whom, and who exercises the rights."""

    client: Client
    as_role: PersonRole
    link_id: str
    representative_ref: str | None
    exerciser: Exerciser

    def reader(self, principal: Principal) -> Principal:
        """The person as the read log names them: by their identity link, never by the
        identity provider's subject (personal data the read log would keep past an erasure)."""
        return msgspec.structs.replace(principal, user_id=f"identity-link:{self.link_id}")


@dataclass(frozen=True)
class PersonRecords:
    """Resolves a person's token to the records it may read (module docstring)."""

    services: ApiServices
    today: Callable[[], date]

    @classmethod
    def of_services(cls, services: ApiServices) -> "PersonRecords":
        """The resolver of a request, on the day the access policy's clock says."""
        policy: AccessPolicy = services.policy
        return cls(services, lambda: policy.clock().date())

    def of(self, principal: Principal) -> list[PersonRecord]:
        role = principal.roles[0] if len(principal.roles) == 1 else ""
        if role not in PERSON_ROLES:
            raise Forbidden(
                "the /v1/me routes are the person's own: use a token for the client or "
                "representative role"
            )
        identities = self.services.identities
        if identities is None:
            raise Forbidden("this service keeps no identity links")
        as_role = PersonRole(role)
        today = self.today()
        records = []
        for found in identities.find(principal.user_id, as_role):
            exerciser = rights_of(
                self.services.jurisdiction,
                as_client=as_role == PersonRole.CLIENT,
                birth_year=found.client.known_birth_year,
                assessment=found.client.capacity_assessment,
                on=today,
            )
            if exerciser is not None:
                records.append(self._record(found, as_role, exerciser))
        if not records:
            raise Forbidden(
                "no identity link in force names you in this role (or the rules for minors "
                "leave the rights with someone else): ask the coordinator of your trajectory to "
                "link your identity after checking it in person"
            )
        return records

    @staticmethod
    def _record(found: FoundLink, as_role: PersonRole, exerciser: Exerciser) -> PersonRecord:
        return PersonRecord(
            client=found.client,
            as_role=as_role,
            link_id=found.link_id,
            representative_ref=found.link.representative_ref,
            exerciser=exerciser,
        )

    def trajectory(
        self, principal: Principal, trajectory_id: UUID
    ) -> tuple[PersonRecord, Trajectory]:
        """One trajectory of one of the person's records; 404 for any other."""
        for record in self.of(principal):
            for trajectory in self.services.care_record.trajectories_of(record.client.id):
                if trajectory.id == trajectory_id:
                    return record, trajectory
        raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")


# --- labels -----------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "client": "cliënt",
        "representative": "vertegenwoordiger",
        "referred": "aangemeld",
        "accepted": "aanvaard",
        "declined": "geweigerd",
        "active": "lopend",
        "blocked": "geblokkeerd",
        "closed": "afgesloten",
        "party": "partij in het traject",
        "consent": "uw toestemming",
        "audit": "toezicht in de regio",
        "parents": "de ouders",
        "together": "u samen met de ouders",
        "start": "startoverleg",
        "three_month": "driemaandelijks overleg",
        "ad_hoc": "overleg op vraag",
        "end": "eindoverleg",
        "mdo": "multidisciplinair overleg",
        "plan_meeting": "handelingsplanbespreking",
    },
    "en": {
        "client": "client",
        "representative": "representative",
        "referred": "referred",
        "accepted": "accepted",
        "declined": "declined",
        "active": "active",
        "blocked": "blocked",
        "closed": "closed",
        "party": "party to the trajectory",
        "consent": "your consent",
        "audit": "the region's oversight",
        "parents": "the parents",
        "together": "you together with the parents",
        "start": "start meeting",
        "three_month": "three-monthly meeting",
        "ad_hoc": "meeting on request",
        "end": "closing meeting",
        "mdo": "multidisciplinary meeting",
        "plan_meeting": "plan meeting",
    },
}


def language(request: Caller, lang: str | None) -> str:
    """Dutch by default; English with ``?lang=en`` or ``Accept-Language: en`` (the parameter
    wins over the header)."""
    if lang is not None:
        return "en" if lang.lower().startswith("en") else "nl"
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "nl"


def label(lang: str, key: str) -> str:
    return LABELS[lang].get(key, key)


# --- what the person sees ----------------------------------------------------------------------


class Labelled(msgspec.Struct, frozen=True):
    code: str
    label: str


class MyRecord(msgspec.Struct, frozen=True):
    client_id: UUID
    #: As whom the person reads it: the client, or their representative.
    acting_as: Labelled
    representative_ref: str | None
    #: Who exercises the client's rights under the deployment's minors' rules.
    rights_exercised_by: Labelled
    link_id: str


class Me(msgspec.Struct, frozen=True):
    records: list[MyRecord]


class MyTrajectory(msgspec.Struct, frozen=True):
    trajectory_id: UUID
    client_id: UUID
    status: Labelled
    sector: str
    region: str
    coordinating_organisation: str | None
    referred_at: datetime
    closed_at: datetime | None
    continued_from: UUID | None


class MyGoal(msgspec.Struct, frozen=True):
    goal_id: str
    description: str
    set_at: datetime
    closed_at: datetime | None


class MyAction(msgspec.Struct, frozen=True):
    action_id: str
    description: str
    owner: str
    due_on: date | None
    goal_id: str | None


class MySignature(msgspec.Struct, frozen=True):
    version: int
    signed_at: datetime
    signatory: Labelled
    valid_until: date


class MyConsultation(msgspec.Struct, frozen=True):
    kind: Labelled
    held_at: datetime


class MyRole(msgspec.Struct, frozen=True):
    organisation: str
    role: str


class MyEscalation(msgspec.Struct, frozen=True):
    level: str
    reason: str
    raised_at: datetime
    resolved_at: datetime | None


class MyText(msgspec.Struct, frozen=True):
    """A free text a professional wrote and marked ``visible_to_client``."""

    kind: str
    at: datetime
    lines: list[str]
    escalation_id: str | None = None


class MyPlan(msgspec.Struct, frozen=True):
    trajectory: MyTrajectory
    goals: list[MyGoal]
    actions: list[MyAction]
    signature: MySignature | None
    consultations: list[MyConsultation]
    roles_in_force: list[MyRole]
    next_consultation_on: date | None
    next_evaluation_on: date | None
    escalations: list[MyEscalation]
    blocked_for: list[str]
    #: The thread across trajectories: earlier trajectories this one continues, newest first.
    thread: list[MyTrajectory]
    #: Free texts professionals marked ``visible_to_client`` (none by default), and the
    #: person's own input ahead of consultations (kind ``your_input``).
    texts: list[MyText]
    #: Where the minor and a parent sign together (NL, 12-15): who signed so far; the plan is
    #: in force once the other signs too.
    signed_in_part_by: Labelled | None = None


class MyAccess(msgspec.Struct, frozen=True):
    """One organisation (or the region's auditors) that reads one of the person's
    trajectories: ``grant`` as the access policy computed it, with the relation labelled."""

    client_id: UUID
    trajectory_id: UUID
    relation: Labelled
    grant: AccessGrant


class MyRead(msgspec.Struct, frozen=True):
    """A read of the person's data: which organisation, in which role, when, and the purpose
    derived from the relation used; never the professional's own identity."""

    at: datetime
    organisation: str | None
    role: str
    purpose: str
    trajectory_id: UUID | None


def shown_status(trajectory: Trajectory, hidden: set[ReasonCategory]) -> str:
    """The status as the person reads it (``Trajectory.status_shown_without``)."""
    return trajectory.status_shown_without(hidden).value


def my_trajectory(trajectory: Trajectory, lang: str, hidden: set[ReasonCategory]) -> MyTrajectory:
    status = shown_status(trajectory, hidden)
    return MyTrajectory(
        trajectory_id=trajectory.id,
        client_id=trajectory.client_id,
        status=Labelled(status, label(lang, status)),
        sector=trajectory.sector.value,
        region=trajectory.region,
        coordinating_organisation=trajectory.coordinating_organisation,
        referred_at=trajectory.referred_at,
        closed_at=trajectory.closed_at,
        continued_from=trajectory.continued_from,
    )


def by_the_reader(record: PersonRecord, role: str, representative_ref: str | None) -> bool:
    """Whether a person's statement or request (given as ``role``, for a representative with
    ``representative_ref``) is the reader's own: the client's, read as the client, or this
    representative's. What a child said is not shown to the parent who exercises the rights
    later (it may be about them), nor one parent's words to the other."""
    if record.as_role == PersonRole.CLIENT:
        return role == PersonRole.CLIENT
    return role == PersonRole.REPRESENTATIVE and representative_ref == record.representative_ref


def visible_texts(events: Iterable[object], record: PersonRecord) -> list[MyText]:
    """The free texts of a trajectory's events that professionals marked visible to the
    client (escalation and block descriptions, consultation decisions), and the reader's own
    input; a representative is never shown an escalation, nor a block, of a hidden category."""
    hidden = hidden_reasons(record)
    texts: list[MyText] = []
    for event in events:
        if isinstance(event, Trajectory.ConsultationInputGiven):
            # The person's own word ahead of a consultation (issue #19 point 5): theirs to see,
            # and only theirs (``by_the_reader``).
            if by_the_reader(record, event.given_by.value, event.representative_ref):
                texts.append(MyText("your_input", event.occurred_at, [event.statement]))
            continue
        if not getattr(event, "visible_to_client", False):
            continue
        if isinstance(event, Trajectory.EscalationRaised) and event.reason not in hidden:
            texts.append(
                MyText("escalation", event.occurred_at, [event.description], event.escalation_id)
            )
        elif isinstance(event, Trajectory.Blocked) and hidden.isdisjoint(event.reasons):
            texts.append(MyText("block", event.occurred_at, [event.description]))
        elif isinstance(event, Trajectory.ConsultationHeld):
            texts.append(MyText("consultation", event.occurred_at, list(event.decisions)))
    return texts


def hidden_reasons(record: PersonRecord) -> set[ReasonCategory]:
    """004 / issue #19: a representative never sees a child-protection escalation (the
    category ``safety``): it may be about them; nor a block's reason or text naming it."""
    return set() if record.as_role == PersonRole.CLIENT else {ReasonCategory.SAFETY}


def my_plan(
    trajectory: Trajectory,
    record: PersonRecord,
    thread: list[Trajectory],
    lang: str,
    texts: list[MyText],
) -> MyPlan:
    plan = trajectory.plan
    hidden = hidden_reasons(record)
    return MyPlan(
        trajectory=my_trajectory(trajectory, lang, hidden),
        goals=[
            MyGoal(goal_id=k, description=g.description, set_at=g.set_at, closed_at=g.closed_at)
            for k, g in trajectory.goals.items()
        ],
        actions=[
            MyAction(
                action_id=k,
                description=a.description,
                owner=a.owner,
                due_on=a.due_on,
                goal_id=a.goal_id,
            )
            for k, a in trajectory.actions.items()
        ],
        signature=None
        if plan is None
        else MySignature(
            version=plan.version,
            signed_at=plan.signed_at,
            signatory=Labelled(plan.signatory.value, label(lang, plan.signatory.value)),
            valid_until=plan.valid_until,
        ),
        consultations=[
            MyConsultation(kind=Labelled(k.value, label(lang, k.value)), held_at=at)
            for k, at in sorted(trajectory.milestones.items(), key=lambda item: item[1])
        ],
        roles_in_force=sorted(
            {
                MyRole(organisation=a.party, role=a.role.value)
                for agreement in trajectory.role_agreements.values()
                if agreement.in_force
                for a in agreement.assignments
            },
            key=lambda r: (r.organisation, r.role),
        ),
        next_consultation_on=trajectory.next_consultation_on,
        next_evaluation_on=trajectory.next_evaluation_on,
        escalations=[
            MyEscalation(
                level=e.level.value,
                reason=e.reason.value,
                raised_at=e.raised_at,
                resolved_at=e.resolved_at,
            )
            for e in trajectory.escalations.values()
            if e.reason not in hidden
        ],
        # (Only while blocked: a trajectory closed while blocked keeps its last block.)
        blocked_for=[r.value for r in trajectory.current_block.reasons if r not in hidden]
        if trajectory.current_block is not None and trajectory.status == Status.BLOCKED
        else [],
        thread=[my_trajectory(t, lang, hidden) for t in thread],
        texts=texts,
        signed_in_part_by=None
        if trajectory.partial_signature is None
        else Labelled(
            trajectory.partial_signature.signatory.value,
            label(lang, trajectory.partial_signature.signatory.value),
        ),
    )


def thread_of(trajectory: Trajectory, trajectories: list[Trajectory]) -> list[Trajectory]:
    """The earlier trajectories ``trajectory`` continues (000: the thread through them)."""
    by_id = {t.id: t for t in trajectories}
    thread: list[Trajectory] = []
    previous = trajectory.continued_from
    while previous is not None and previous in by_id and len(thread) < len(by_id):
        thread.append(by_id[previous])
        previous = by_id[previous].continued_from
    return thread


def plan_of(
    services: ApiServices, record: PersonRecord, trajectory: Trajectory, lang: str
) -> MyPlan:
    """The plan as the person sees it, read from the record: its thread and the texts shown."""
    care_record = services.care_record
    siblings = care_record.trajectories_of(record.client.id)
    texts = visible_texts(care_record.events.get(trajectory.id), record)
    return my_plan(trajectory, record, thread_of(trajectory, siblings), lang, texts)


def my_access(
    record: PersonRecord, trajectory: Trajectory, grant: AccessGrant, lang: str
) -> MyAccess:
    return MyAccess(
        client_id=record.client.id,
        trajectory_id=trajectory.id,
        relation=Labelled(grant.relation, label(lang, grant.relation)),
        grant=grant,
    )


Lang = Annotated[
    str | None,
    QueryParameter(description="nl (default) or en; wins over Accept-Language", max_length=8),
]


class MeController(Controller):
    """The person's own routes (issue #19 points 1, 3 and 4)."""

    path = "/v1/me"
    tags = ["me"]

    @staticmethod
    def _records(services: ApiServices) -> PersonRecords:
        return PersonRecords.of_services(services)

    @get("/", sync_to_thread=True, summary="Whose record, as whom")
    def me(self, request: Caller, services: Services, lang: Lang = None) -> Me:
        tongue = language(request, lang)
        return Me(
            records=[
                MyRecord(
                    client_id=r.client.id,
                    acting_as=Labelled(r.as_role.value, label(tongue, r.as_role.value)),
                    representative_ref=r.representative_ref,
                    rights_exercised_by=Labelled(
                        r.exerciser.value, label(tongue, r.exerciser.value)
                    ),
                    link_id=r.link_id,
                )
                for r in self._records(services).of(request.user)
            ]
        )

    @get("/trajectories", sync_to_thread=True, summary="The person's trajectories")
    def trajectories(
        self, request: Caller, services: Services, lang: Lang = None
    ) -> list[MyTrajectory]:
        tongue = language(request, lang)
        care_record = services.care_record
        return [
            my_trajectory(t, tongue, hidden_reasons(r))
            for r in self._records(services).of(request.user)
            for t in sorted(care_record.trajectories_of(r.client.id), key=lambda t: t.referred_at)
        ]

    @get(
        "/trajectories/{trajectory_id:uuid}",
        sync_to_thread=True,
        summary="One of the person's trajectories: plan state and thread",
    )
    def trajectory(
        self, trajectory_id: Id, request: Caller, services: Services, lang: Lang = None
    ) -> MyPlan:
        """The plan as the person sees it (module docstring); the read is logged."""
        record, trajectory = self._records(services).trajectory(request.user, trajectory_id)
        services.access_log.record(
            read_entry(request, record.reader(request.user), record.client.id, trajectory.id)
        )
        return plan_of(services, record, trajectory, language(request, lang))

    @get("/access", sync_to_thread=True, summary="Who has access to my plan, and why")
    def access(self, request: Caller, services: Services, lang: Lang = None) -> list[MyAccess]:
        """Computed by the access policy itself (``AccessPolicy.trajectory_access``), per
        trajectory: the parties and why, the consents (scope, purpose, until; revocable), the
        ones the person cannot revoke with the legal reason."""
        tongue = language(request, lang)
        policy = services.policy
        return [
            my_access(record, trajectory, grant, tongue)
            for record in self._records(services).of(request.user)
            for trajectory in services.care_record.trajectories_of(record.client.id)
            for grant in policy.trajectory_access(trajectory, record.client)
        ]

    @get("/reads", sync_to_thread=True, summary="Who read my personal data")
    def reads(
        self,
        request: Caller,
        services: Services,
        lang: Lang = None,  # (codes, no labels: taken as every /v1/me route takes it)
    ) -> list[MyRead]:
        """From the personal-data read log, newest first: organisation, role, date and the
        purpose derived from the relation used; never the reader's own identity."""
        policy = services.policy
        found: list[MyRead] = []
        for record in self._records(services).of(request.user):
            client = record.client
            trajectories = {t.id: t for t in services.care_record.trajectories_of(client.id)}
            own = f"identity-link:{record.link_id}"
            # A representative is told of the reads through links for them (an earlier link
            # of theirs, revoked), not the client's nor another representative's
            # (``by_the_reader``); the client is told of every person's read of their data.
            theirs = {
                f"identity-link:{link_id}"
                for link_id, link in client.identity_links.items()
                if link.as_role == PersonRole.REPRESENTATIVE
                and link.representative_ref == record.representative_ref
            }
            for entry in services.access_log.query(client_ids=[client.id]):
                if entry.user_id == own:
                    purpose = "own"
                elif entry.role in PERSON_ROLES:
                    if record.as_role != PersonRole.CLIENT and entry.user_id not in theirs:
                        continue
                    purpose = entry.role  # (through another link than the one signed in)
                else:
                    trajectory = (
                        trajectories.get(entry.trajectory_id) if entry.trajectory_id else None
                    )
                    purpose = policy.read_purpose(
                        entry.organisation, entry.role, trajectory, client, entry.at.date()
                    )
                found.append(
                    MyRead(
                        at=entry.at,
                        organisation=entry.organisation or None,
                        role=entry.role,
                        purpose=purpose,
                        trajectory_id=entry.trajectory_id,
                    )
                )
        return sorted(found, key=lambda r: r.at, reverse=True)
