"""A trajectory as an HL7 FHIR R4 ``Bundle`` (type ``collection``), for the care systems around
it (issue #18; seed 000: "a shareable digital plan").

Built from the trajectory's **events**, folded here one by one, so the bundle holds the exact
history a read model keeps only in part: every status with its period (a block is ``onhold``),
each role agreement's parties from the moment it came into force to its end, each signature with
the plan version it signed. The client's consents and representatives come from the client's
record. Plain dicts encoded by msgspec: no FHIR library at run time (tests parse every bundle
with ``fhir.resources``' R4B models).

Every ``reference`` in the bundle is a ``urn:uuid:`` of an entry of the same bundle; ids that
are not UUIDs in the record (a goal's, an organisation's) become ``uuid5`` under the
trajectory, so one trajectory exports the same ``fullUrl`` s every time. A thing outside the
bundle (the plan an earlier trajectory continued, a consultation's participant organisation in
``Encounter.participant``) is a logical reference: an ``identifier`` and no ``reference``.
No ``meta.profile`` is claimed (README "FHIR export": no profile's StructureDefinitions ship here
to validate against).
"""

import contextlib
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid5

import msgspec

from application.care_record import CareRecord
from domain.client import Client, Consent
from domain.common import ReasonCategory, Signatory
from domain.errors import TrajectoryNotFound
from domain.organisation import Organisation, OrganisationNotFound
from domain.trajectory import Status, Trajectory

#: The base of this product's FHIR URIs (README "FHIR export" lists each).
BASE = "https://rodedraad.example/fhir"
CLIENT_SYSTEM = f"{BASE}/NamingSystem/client-id"
TRAJECTORY_SYSTEM = f"{BASE}/NamingSystem/trajectory-id"
ORGANISATION_SYSTEM = f"{BASE}/NamingSystem/organisation"
REPRESENTATIVE_SYSTEM = f"{BASE}/NamingSystem/representative-ref"
PLAN_VERSION_SYSTEM = f"{BASE}/NamingSystem/plan-version"
GOAL_SYSTEM = f"{BASE}/NamingSystem/goal-id"
CONSENT_SYSTEM = f"{BASE}/NamingSystem/consent-id"
SECTOR = f"{BASE}/CodeSystem/sector"
ROLE = f"{BASE}/CodeSystem/role"
CONSULTATION_KIND = f"{BASE}/CodeSystem/consultation-kind"
CLIENT_INVOLVEMENT = f"{BASE}/CodeSystem/client-involvement"
CONSENT_SCOPE = f"{BASE}/CodeSystem/consent-scope"
ORGANISATION_KIND = f"{BASE}/CodeSystem/organisation-kind"
TRAJECTORY_STATUS = f"{BASE}/CodeSystem/trajectory-status"
CLIENT_INVOLVEMENT_EXTENSION = f"{BASE}/StructureDefinition/client-involvement"
CONSENT_PURPOSE_EXTENSION = f"{BASE}/StructureDefinition/consent-purpose"
ERASED_EXTENSION = f"{BASE}/StructureDefinition/personal-data-erased"
#: The public identifiers of the organisation register, as the Belgian and Dutch systems name
#: them (HL7 Belgium's CBE naming system; Nictiz's AGB, URA and KvK).
PUBLIC_IDENTIFIER_SYSTEMS = {
    "enterprise_number": "https://www.ehealth.fgov.be/standards/fhir/core/NamingSystem/cbe",
    "agb": "http://fhir.nl/fhir/NamingSystem/agb-z",
    "ura": "http://fhir.nl/fhir/NamingSystem/ura",
    "kvk": "http://fhir.nl/fhir/NamingSystem/kvk",
}
HL7 = "http://terminology.hl7.org/CodeSystem"
MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"

#: ``EpisodeOfCare.status`` of each trajectory status (HL7 ``episode-of-care-status``).
EPISODE_STATUS = {
    Status.REFERRED: "planned",
    Status.ACCEPTED: "planned",
    Status.ACTIVE: "active",
    Status.BLOCKED: "onhold",
    Status.CLOSED: "finished",
    Status.DECLINED: "cancelled",
}
#: HL7 ``goal-achievement`` codes an outcome may be written as; any other outcome is text only.
ACHIEVEMENT_CODES = frozenset(
    {
        "in-progress",
        "improving",
        "worsening",
        "no-change",
        "achieved",
        "sustaining",
        "not-achieved",
        "no-progress",
        "not-attainable",
    }
)

Resource = dict[str, Any]


def _pruned(value: Any) -> Any:
    """FHIR JSON has no empty arrays or objects: an element without a value is left out."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {}, None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _ref(uid: UUID) -> Resource:
    return {"reference": f"urn:uuid:{uid}"}


def _coding(system: str, code: str, display: str | None = None) -> Resource:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _date_time(value: datetime | date) -> str:
    """A FHIR ``dateTime``: an instant (in UTC) for a moment, the day for a date."""
    return _instant(value) if isinstance(value, datetime) else value.isoformat()


def _period(start: datetime | date | None, end: datetime | date | None) -> Resource:
    period: Resource = {}
    for key, value in (("start", start), ("end", end)):
        if value is not None:
            period[key] = _date_time(value)
    return period


class _Ids:
    """The ``urn:uuid`` of each entry: the record's own UUIDs, and ``uuid5`` for the rest."""

    def __init__(self, trajectory_id: UUID) -> None:
        self.trajectory_id = trajectory_id

    def of(self, kind: str, key: str = "") -> UUID:
        return uuid5(self.trajectory_id, f"{kind}/{key}")


class _Fold:
    """What the bundle needs from the trajectory's events, in the order they were recorded."""

    def __init__(self, hidden: Collection[ReasonCategory] = ()) -> None:
        #: Block reasons the reader may not learn of: a block for these alone is no block to
        #: them (``Trajectory.status_shown_without``), in the status and its history alike.
        self.hidden = frozenset(hidden)
        self.status_periods: list[tuple[Status, datetime]] = []
        #: agreement id → when it came into force (its last party accepted)
        self.in_force_since: dict[str, datetime] = {}
        self.signatures: list[Trajectory.PlanSigned] = []
        self.consultations: list[Trajectory.ConsultationHeld] = []
        self.goal_revised: set[str] = set()
        self.continued: Trajectory.ContinuedFrom | None = None

    def take(self, trajectory_id: UUID, events: Iterable[Any]) -> Trajectory:
        """The trajectory folded from its events by the domain's own ``apply``; noting on the
        way what the folded state forgets."""
        trajectory: Any = None
        for event in events:
            if trajectory is None and not isinstance(event, Trajectory.Referred):
                break
            trajectory = event.mutate(trajectory)
            self._note(trajectory, event)
        if not isinstance(trajectory, Trajectory):
            raise TrajectoryNotFound(f"no trajectory with id {trajectory_id}")
        return trajectory

    def _note(self, trajectory: Trajectory, event: Trajectory.Event) -> None:
        status = trajectory.status_shown_without(self.hidden)
        if not self.status_periods or self.status_periods[-1][0] != status:
            self.status_periods.append((status, event.occurred_at))
        if isinstance(event, Trajectory.RoleAgreementAccepted):
            agreement = trajectory.role_agreements[event.agreement_id]
            if agreement.in_force and event.agreement_id not in self.in_force_since:
                self.in_force_since[event.agreement_id] = event.occurred_at
        elif isinstance(event, Trajectory.PlanSigned):
            self.signatures.append(event)
        elif isinstance(event, Trajectory.ConsultationHeld):
            self.consultations.append(event)
        elif isinstance(event, Trajectory.GoalRevised):
            self.goal_revised.add(event.goal_id)
        elif isinstance(event, Trajectory.ContinuedFrom):
            self.continued = event


class _Bundle:
    """One export: the entries, and the organisations they name (added once, at the end)."""

    def __init__(
        self,
        record: CareRecord,
        trajectory: Trajectory,
        fold: _Fold,
        client: Client,
        *,
        personal_details: bool,
        now: datetime,
        client_record: bool = True,
        named_representatives: Collection[str] | None = None,
    ) -> None:
        self.record = record
        #: The representatives whose names the reader reads (``None``: every one, with the
        #: personal details): a parent reads their own, not a foster parent's.
        self.named_representatives = named_representatives
        self.trajectory = trajectory
        self.fold = fold
        self.client = client
        self.personal_details = personal_details and client.erased_at is None
        self.client_record = client_record
        self.now = now
        self.ids = _Ids(trajectory.id)
        self.entries: list[Resource] = []
        self.organisations: dict[str, UUID] = {}
        self.representatives: set[UUID] = set()
        self.patient = client.id
        self.episode = trajectory.id
        self.care_plan = self.ids.of("CarePlan")
        self.care_team = self.ids.of("CareTeam")

    def add(self, uid: UUID, resource: Resource) -> None:
        self.entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": resource})

    def organisation(self, identifier: str) -> Resource:
        if identifier not in self.organisations:
            self.organisations[identifier] = self.ids.of("Organization", identifier)
        return _ref(self.organisations[identifier])

    # --- the resources --------------------------------------------------------------------------

    def patient_resource(self) -> Resource:
        client = self.client
        patient: Resource = {
            "resourceType": "Patient",
            "identifier": [{"system": CLIENT_SYSTEM, "value": str(client.id)}],
            "managingOrganization": self.organisation(client.registering_organisation),
        }
        if client.erased_at is not None:
            erased_on = _instant(client.erased_at)
            patient["meta"] = {
                "security": [
                    {
                        "system": f"{HL7}/v3-ObservationValue",
                        "code": "REDACTED",
                        "display": "redacted",
                    }
                ]
            }
            patient["extension"] = [{"url": ERASED_EXTENSION, "valueDateTime": erased_on}]
            patient["text"] = {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">The personal data of this '
                f"client were erased on {erased_on}.</div>",
            }
        elif self.personal_details:
            if client.personal.name:
                patient["name"] = [{"text": client.personal.name}]
            if client.personal.contact:
                patient["telecom"] = [{"system": "other", "value": client.personal.contact}]
        return patient

    @property
    def status(self) -> Status:
        """The trajectory's status as the reader is shown it (the fold's hidden reasons)."""
        return self.trajectory.status_shown_without(self.fold.hidden)

    def episode_resource(self) -> Resource:
        trajectory, periods = self.trajectory, list[tuple[Status, datetime]]()
        for status, since in self.fold.status_periods:  # referred and accepted are both planned
            if not periods or EPISODE_STATUS[periods[-1][0]] != EPISODE_STATUS[status]:
                periods.append((status, since))
        history = [
            {
                "status": EPISODE_STATUS[status],
                "period": _period(since, periods[i + 1][1] if i + 1 < len(periods) else None),
            }
            for i, (status, since) in enumerate(periods)
        ]
        coordinator = trajectory.coordinating_organisation or trajectory.referrer_organisation
        self.organisation(trajectory.referrer_organisation)  # an entry, though no element names it
        return {
            "resourceType": "EpisodeOfCare",
            "identifier": [{"system": TRAJECTORY_SYSTEM, "value": str(trajectory.id)}],
            "status": history[-1]["status"],
            "statusHistory": history[:-1],
            "type": [_coding(SECTOR, trajectory.sector.value)],
            "patient": _ref(self.patient),
            "managingOrganization": self.organisation(coordinator),
            "period": _period(trajectory.referred_at, trajectory.closed_at),
            "referralRequest": [
                {
                    "identifier": {"system": TRAJECTORY_SYSTEM, "value": str(trajectory.id)},
                    "display": f"referral by {trajectory.referrer_organisation}",
                }
            ],
            "team": [_ref(self.care_team)],
            "extension": [
                {
                    "url": f"{BASE}/StructureDefinition/trajectory-status",
                    "valueCoding": {"system": TRAJECTORY_STATUS, "code": self.status.value},
                }
            ],
        }

    def care_plan_status(self) -> str:
        """Draft until signed; active while the signed plan is in force; completed once the
        trajectory is closed or the plan's validity ended (004: at most three years); revoked
        when the referral was declined."""
        trajectory = self.trajectory
        if trajectory.status == Status.DECLINED:
            return "revoked"
        if trajectory.status == Status.CLOSED:
            return "completed"
        if trajectory.plan is None:
            return "draft"
        return (
            "active"
            if trajectory.plan_in_force_on(self.now.astimezone(UTC).date())
            else "completed"
        )

    def care_plan_resource(self) -> Resource:
        trajectory = self.trajectory
        plan: Resource = {
            "resourceType": "CarePlan",
            "identifier": [{"system": TRAJECTORY_SYSTEM, "value": str(trajectory.id)}],
            "status": self.care_plan_status(),
            "intent": "plan",
            "subject": _ref(self.patient),
            "careTeam": [_ref(self.care_team)],
            "goal": [_ref(self.ids.of("Goal", g)) for g in trajectory.goals],
            "activity": [
                {
                    "detail": {
                        "kind": "Task",
                        "status": "not-started"
                        if self.care_plan_status() in {"draft", "active"}
                        else "unknown",
                        "description": action.description,
                        "performer": [{"display": action.owner}],
                        **(
                            {"goal": [_ref(self.ids.of("Goal", action.goal_id))]}
                            if action.goal_id
                            else {}
                        ),
                        **(
                            {"scheduledPeriod": {"end": action.due_on.isoformat()}}
                            if action.due_on
                            else {}
                        ),
                    }
                }
                for action in trajectory.actions.values()
            ],
        }
        coordinator = trajectory.coordinating_organisation
        if coordinator is not None:
            plan["author"] = self.organisation(coordinator)
        if trajectory.plan is not None:
            first = self.fold.signatures[0] if self.fold.signatures else None
            plan["period"] = _period(
                first.occurred_at if first else trajectory.plan.signed_at,
                trajectory.plan.valid_until,
            )
        continued = self.fold.continued
        if continued is not None:
            earlier = {
                "identifier": {
                    "system": TRAJECTORY_SYSTEM,
                    "value": str(continued.previous_trajectory_id),
                },
                "display": "the plan of the trajectory this one continues",
            }
            plan["basedOn"] = [earlier]
            plan["replaces"] = [earlier]
        return plan

    def goal_resources(self) -> None:
        for goal_id, goal in self.trajectory.goals.items():
            resource: Resource = {
                "resourceType": "Goal",
                "identifier": [{"system": GOAL_SYSTEM, "value": goal_id}],
                "lifecycleStatus": "active" if goal.closed_at is None else "completed",
                "description": {"text": goal.description},
                "subject": _ref(self.patient),
                "startDate": goal.set_at.astimezone(UTC).date().isoformat(),
            }
            if goal_id in self.fold.goal_revised:
                resource["statusReason"] = "revised"
            if goal.carried_from is not None:  # issue #17: carried from the plan it continues
                version = goal.carried_from.plan_version
                resource["note"] = [
                    {
                        "text": f"carried from trajectory {goal.carried_from.trajectory_id}"
                        + (f", plan version {version}" if version is not None else "")
                    }
                ]
            if goal.closed_at is None:
                resource["achievementStatus"] = _coding(
                    f"{HL7}/goal-achievement", "in-progress", "In Progress"
                )
            else:
                resource["statusDate"] = goal.closed_at.astimezone(UTC).date().isoformat()
                outcome = goal.outcome or ""
                code = outcome.strip().lower()
                resource["achievementStatus"] = (
                    {**_coding(f"{HL7}/goal-achievement", code), "text": outcome}
                    if code in ACHIEVEMENT_CODES
                    else {"text": outcome}
                )
            self.add(self.ids.of("Goal", goal_id), resource)

    def care_team_resource(self) -> Resource:
        trajectory = self.trajectory
        participants = []
        for agreement_id, since in self.fold.in_force_since.items():
            agreement = trajectory.role_agreements[agreement_id]
            for assignment in agreement.assignments:
                participants.append(
                    {
                        "role": [_coding(ROLE, assignment.role.value)],
                        "member": self.organisation(assignment.party),
                        "period": _period(since, agreement.ended_at),
                    }
                )
        return {
            "resourceType": "CareTeam",
            "identifier": [{"system": TRAJECTORY_SYSTEM, "value": str(trajectory.id)}],
            "status": "inactive"
            if trajectory.status in {Status.CLOSED, Status.DECLINED}
            else "active",
            "subject": _ref(self.patient),
            "period": _period(trajectory.referred_at, trajectory.closed_at),
            "participant": participants,
        } | (
            {"managingOrganization": [self.organisation(trajectory.coordinating_organisation)]}
            if trajectory.coordinating_organisation
            else {}
        )

    def consent_resources(self) -> None:
        if not self.client_record:  # the client's record: not the reader's to see
            return
        today = self.now.astimezone(UTC).date()
        for consent_id, consent in self.client.consents.items():
            if not consent.reaches(self.trajectory.id):  # a continuation consent of another
                continue
            self.add(
                self.ids.of("Consent", consent_id),
                self.consent_resource(consent_id, consent, today),
            )

    def consent_resource(self, consent_id: str, consent: Consent, today: date) -> Resource:
        # 004: the consent starts at the moment it was given (a handover is held against it),
        # an instant like the record's other moments; its day only where the record kept no
        # more (a consent read from a snapshot taken before the moment was kept).
        given: date | datetime = consent.granted_at or consent.granted_on
        ends: date | datetime | None = consent.until
        if consent.revoked_at is not None:
            ends = consent.revoked_at
        in_force = consent.revoked_at is None and (consent.until is None or today <= consent.until)
        return {
            "resourceType": "Consent",
            "identifier": [{"system": CONSENT_SYSTEM, "value": consent_id}],
            "status": "active" if in_force else "inactive",
            "scope": _coding(f"{HL7}/consentscope", "patient-privacy", "Privacy Consent"),
            "category": [_coding(f"{HL7}/v3-ActCode", "INFA", "information access")],
            "patient": _ref(self.patient),
            "dateTime": _date_time(given),
            "organization": [self.organisation(self.client.registering_organisation)],
            "policyRule": _coding(f"{HL7}/v3-ActCode", "OPTIN", "opt-in"),
            "extension": [{"url": CONSENT_PURPOSE_EXTENSION, "valueString": consent.purpose}],
            "provision": {
                "type": "permit",
                "period": _period(given, ends),
                "actor": [
                    {
                        "role": _coding(
                            f"{HL7}/v3-ParticipationType", "IRCP", "information recipient"
                        ),
                        "reference": self.organisation(consent.to_party),
                    }
                ],
                "action": [_coding(f"{HL7}/consentaction", "access", "Access")],
                "code": [_coding(CONSENT_SCOPE, scope.value) for scope in consent.scopes],
            },
        }

    def representative(self, ref: str) -> UUID:
        uid = self.ids.of("RelatedPerson", ref)
        if uid not in self.representatives:
            self.representatives.add(uid)
            person: Resource = {
                "resourceType": "RelatedPerson",
                "identifier": [{"system": REPRESENTATIVE_SYSTEM, "value": ref}],
                "patient": _ref(self.patient),
                "relationship": [_coding(f"{HL7}/v3-RoleCode", "GUARD", "guardian")],
            }
            found = self.client.representatives.get(ref)
            named = self.named_representatives is None or ref in self.named_representatives
            if found is not None and self.personal_details and named and found.personal.name:
                person["name"] = [{"text": found.personal.name}]
            self.add(uid, person)
        return uid

    def provenance_resources(self) -> None:
        for signed in self.fold.signatures:
            if signed.signatory == Signatory.REPRESENTATIVE and signed.representative_ref:
                signer = _ref(self.representative(signed.representative_ref))
                agent: Resource = {
                    "type": _coding(f"{HL7}/provenance-participant-type", "attester", "Attester"),
                    "who": signer,
                    "onBehalfOf": _ref(self.patient),
                }
            else:
                signer = _ref(self.patient)
                agent = {
                    "type": _coding(f"{HL7}/provenance-participant-type", "attester", "Attester"),
                    "who": signer,
                }
            version = str(signed.plan_version)
            self.add(
                self.ids.of("Provenance", version),
                {
                    "resourceType": "Provenance",
                    "target": [
                        {
                            **_ref(self.care_plan),
                            "identifier": {
                                "system": PLAN_VERSION_SYSTEM,
                                "value": f"{self.trajectory.id}/{version}",
                            },
                            "display": f"plan version {version}",
                        }
                    ],
                    "occurredDateTime": _instant(signed.occurred_at),
                    "recorded": _instant(signed.occurred_at),
                    "activity": _coding(f"{HL7}/v3-ParticipationType", "LA", "legal authenticator"),
                    "agent": [
                        agent,
                        {
                            "type": _coding(
                                f"{HL7}/provenance-participant-type", "enterer", "Enterer"
                            ),
                            "who": self.organisation(signed.actor.organisation),
                        },
                    ],
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                    "display": "Author's Signature",
                                }
                            ],
                            "when": _instant(signed.occurred_at),
                            "who": signer,
                        }
                    ],
                },
            )

    def encounter_resources(self) -> None:
        """R4 takes no Organization as ``Encounter.participant``: each participant names its
        organisation by identifier, and that organisation is an entry of the bundle too."""
        for n, held in enumerate(self.fold.consultations, start=1):
            for p in held.participants:
                self.organisation(p.organisation)
            self.add(
                self.ids.of("Encounter", str(n)),
                {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {
                        "system": f"{HL7}/v3-ActCode",
                        "code": "AMB",
                        "display": "ambulatory",
                    },
                    "type": [_coding(CONSULTATION_KIND, held.kind.value)],
                    "subject": _ref(self.patient),
                    "episodeOfCare": [_ref(self.episode)],
                    "period": _period(held.occurred_at, held.occurred_at),
                    "participant": [
                        {
                            "type": [_coding(ROLE, p.role.value)],
                            "individual": {
                                "identifier": {
                                    "system": ORGANISATION_SYSTEM,
                                    "value": p.organisation,
                                },
                                "display": p.organisation,
                            },
                        }
                        for p in held.participants
                    ],
                    "extension": [
                        {
                            "url": CLIENT_INVOLVEMENT_EXTENSION,
                            "valueCoding": {
                                "system": CLIENT_INVOLVEMENT,
                                "code": held.client_involvement.value,
                            },
                        }
                    ],
                },
            )

    def organisation_resources(self) -> None:
        for identifier, uid in sorted(self.organisations.items()):
            resource: Resource = {
                "resourceType": "Organization",
                "identifier": [{"system": ORGANISATION_SYSTEM, "value": identifier}],
            }
            registered: Organisation | None = None
            with contextlib.suppress(OrganisationNotFound):
                registered = self.record.organisation(identifier)
            if registered is not None:
                resource["name"] = registered.name
                resource["active"] = True
                resource["type"] = [_coding(ORGANISATION_KIND, registered.kind.value)]
                public = msgspec.structs.asdict(registered.public_identifiers)
                resource["identifier"] += [
                    {"system": PUBLIC_IDENTIFIER_SYSTEMS[name], "value": value}
                    for name, value in public.items()
                    if value
                ]
            self.add(uid, resource)

    def build(self) -> Resource:
        self.add(self.patient, self.patient_resource())
        self.add(self.episode, self.episode_resource())
        plan = self.care_plan_resource()
        self.add(self.care_plan, plan)
        self.goal_resources()
        team = self.care_team_resource()
        self.add(self.care_team, team)
        self.consent_resources()
        self.provenance_resources()
        self.encounter_resources()
        self.organisation_resources()
        return {
            "resourceType": "Bundle",
            "id": str(uuid5(self.trajectory.id, f"Bundle/{self.trajectory.version}")),
            "meta": {"lastUpdated": _instant(self.trajectory.modified_on)},
            "identifier": {"system": TRAJECTORY_SYSTEM, "value": str(self.trajectory.id)},
            "type": "collection",
            "timestamp": _instant(self.now),
            "entry": _pruned(self.entries),
        }


def trajectory_bundle(
    record: CareRecord,
    trajectory_id: UUID,
    *,
    personal_details: Callable[[Client], bool],
    now: datetime,
    client_record: Callable[[Client], bool],
    hidden_reasons: Collection[ReasonCategory] = (),
    named_representatives: Collection[str] | None = None,
) -> Resource:
    """The trajectory's ``Bundle``. ``personal_details`` decides, on the
    client's record, whether the caller sees the name and contact (the rule of the client read
    route); an erased client's bundle never holds them, and says the data were erased.
    ``client_record`` decides whether the caller reads the client's record at all (the client
    read route's rule): the client's consents are in the bundle only then (a reader of the
    trajectory alone, such as a continuation consent's holder, reads the plan, not them).
    ``hidden_reasons``: block reasons the reader may not learn of (a representative, ``safety``:
    ``api.person.hidden_reasons``); a block for them alone is no block in the bundle.
    ``named_representatives``: the representatives whose names the reader reads (``None``:
    all of them, where ``personal_details`` lets the names in)."""
    fold = _Fold(hidden_reasons)
    trajectory = fold.take(trajectory_id, record.repository.event_store.get(trajectory_id))
    client = record.client(trajectory.client_id)
    bundle = _Bundle(
        record,
        trajectory,
        fold,
        client,
        personal_details=personal_details(client),
        now=now,
        client_record=client_record(client),
        named_representatives=named_representatives,
    )
    return bundle.build()
