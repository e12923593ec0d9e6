"""The authorisation matrix: every ``/v1`` endpoint, role and relation, on SQLite and PostgreSQL.

``EXPECTED`` is the one table of who may do what (README, "Security and privacy"). Its rows are
the app's own routes: a test compares them with the running app, so a new endpoint fails here
until its row says who may use it. Each row has a cell per caller, and each cell an outcome per
relation of the caller's organisation to the target:

- ``party``: the organisation registered the client, referred the trajectory and coordinates
  it (for a professional: its organisation is named in a role agreement in force, and nothing
  else);
- ``consent``: a consent of the client in force names the organisation, which is no party;
- ``neither``: no relation at all;
- ``revoked``: the client's consent to the organisation was granted and then revoked.

The targets are built once per module and backend: one client related to each organisation as
above, with an active trajectory (agreement in force, a goal, a signed plan, an open
escalation), a referred one and a closed one. A refused command must record nothing (the log
position stays where it was). An allowed command gets a target prepared for it (a fresh goal to
close, a fresh trajectory to accept), so every allowed cell really succeeds.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest
import structlog.testing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from litestar.testing import TestClient

from api.auth import LocalTokens
from projections.statistics.store import CellRow
from rodedraad.wiring import Container, signing_key_file
from tests.e2e.conftest import TokenFactory
from tests.e2e.steps import bearer, recorded, save_release

#: An auditor's X25519 public key an audit export is encrypted to (its PEM's base64 line).
RECIPIENT = base64.b64encode(
    X25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()

# --- who is asking --------------------------------------------------------------------------------

PARTY = "org-party"  # registers the clients, refers and coordinates the trajectories
AGREED = "org-agreed"  # a party only through a role agreement in force (the professional's)
CONSENTED = "org-consented"  # holds the client's consent, no party
UNRELATED = "org-unrelated"
REVOKED = "org-revoked"  # held the client's consent until it was revoked
OTHER = "org-other"  # named where a caller must not be (pending agreements, extra consents)
REGION = "west-flanders"
ELSEWHERE = "limburg"

RELATIONS = ("party", "consent", "neither", "revoked")
CALLERS = (
    "coordinator",
    "professional",
    "auditor",
    "auditor_elsewhere",
    "learning_network",
    "forum",
    "admin",
    "data_protection_officer",
    "no_role",
)
ROLE_OF = {
    "coordinator": "coordinator",
    "professional": "professional",
    "auditor": "auditor",
    "auditor_elsewhere": "auditor",
    "learning_network": "learning_network",
    "forum": "forum",
    "admin": "admin",
    "data_protection_officer": "data_protection_officer",
    "no_role": "visitor",
}


def organisation_of(caller: str, relation: str) -> str:
    if relation == "party":
        return AGREED if caller == "professional" else PARTY
    return {"consent": CONSENTED, "neither": UNRELATED, "revoked": REVOKED}[relation]


# --- who may do what ------------------------------------------------------------------------------
#
# A cell holds one outcome per relation (party, consent, neither, revoked):
#   2 = allowed (2xx; for the list and the board: and the target trajectory is in the answer)
#   0 = allowed, but the target trajectory is not in the answer (list and board only)
#   3 = 403 (the role may not, or the relation sees the record but does not allow the action)
#   4 = 404 (no relation: the record does not exist for you)
#
# A consent lets its holder see (issue #10): never record on a trajectory, manage the client's
# consents and representatives, or refer the client (3 in the consent column of commands).

T = "/v1/trajectories/{trajectory_id:uuid}"
C = "/v1/clients/{client_id:uuid}"
R = "/v1/organisations/{identifier:str}"

# Columns: coordinator, professional, auditor, auditor elsewhere, learning network, forum, admin,
# data protection officer, no known role.
COORDINATOR_ONLY = ("2344", "3333", "3333", "3333", "3333", "3333", "3333", "3333", "3333")
PROFESSIONAL_TOO = ("2344", "2344", "3333", "3333", "3333", "3333", "3333", "3333", "3333")
#: Answering a role agreement: the party it names answers, whatever else it is to the trajectory.
ANSWERING = ("2244", "2344", "3333", "3333", "3333", "3333", "3333", "3333", "3333")
CASE_READ = ("2244", "2244", "2222", "4444", "3333", "3333", "3333", "3333", "3333")
OWN_LIST = ("2000", "2000", "2222", "0000", "3333", "3333", "3333", "3333", "3333")
AUDITORS_OF_THE_REGION = ("3333", "3333", "2222", "4444", "3333", "3333", "3333", "3333", "3333")
ERASERS = ("3333", "3333", "3333", "3333", "3333", "3333", "3333", "2222", "3333")
RETENTION = ("3333", "3333", "3333", "3333", "3333", "3333", "2222", "2222", "3333")
#: The organisation register is no case data: no relation counts, only the role (issue #12).
REGISTER_READERS = ("2222", "2222", "2222", "2222", "2222", "2222", "2222", "2222", "3333")
REGISTRARS = ("2222", "3333", "3333", "3333", "3333", "3333", "2222", "3333", "3333")
#: Statistics releases: released aggregates only, so no relation counts, only the role; each
#: reader sees its regions' cells (a test of its own checks which, tests/e2e/test_statistics_http).
STATISTICS_READERS = ("3333", "3333", "2222", "2222", "2222", "2222", "3333", "3333", "3333")
#: A release's dynamics of one region (process map, paths, early factors; issue #13): the
#: region is asked for, so an auditor of another region is refused it.
REGION_STATISTICS_READERS = (
    "3333", "3333", "2222", "3333", "2222", "2222", "3333", "3333", "3333"
)  # fmt: skip
REGISTER_KEEPERS = ("3333", "3333", "3333", "3333", "3333", "3333", "2222", "3333", "3333")
#: Export authorisations (issue #13): recorded, listed and revoked by the data protection officer.
EXPORT_OFFICER = ("3333", "3333", "3333", "3333", "3333", "3333", "3333", "2222", "3333")
#: The XES export: only the one user the officer authorised (the learning network's, of the
#: party organisation), whatever the roles; the officer's own role is not enough either.
XES_EXPORTERS = ("3333", "3333", "3333", "3333", "2333", "3333", "3333", "3333", "3333")
E = "/v1/exports/authorisations/{authorisation_id:uuid}"
#: Learning networks (issue #14). The party's organisation coordinates the region's network and
#: is its only member besides; the forum or an admin establishes and closes networks.
NL = "/v1/learning-networks/{network_id:uuid}"
NETWORK_FOUNDERS = ("3333", "3333", "3333", "3333", "3333", "2222", "2222", "3333", "3333")
#: The forum and admins list every network, a learning network or an auditor its region's.
NETWORK_LISTS = ("3333", "3333", "2222", "2222", "2222", "2222", "2222", "3333", "3333")
#: A region's network: read by its region's learning networks and auditors, the forum, admins.
NETWORK_READERS = ("3333", "3333", "2222", "4444", "2222", "2222", "2222", "3333", "3333")
#: Recorded by the network's members (the forum reads a region's network, records nothing).
NETWORK_MEMBERS = ("3333", "3333", "3333", "3333", "2333", "3333", "3333", "3333", "3333")
#: Themes and signals: members, and any coordinator of the region.
NETWORK_PROPOSERS = ("2222", "3333", "3333", "3333", "2333", "3333", "3333", "3333", "3333")

#: ``/v1/me`` (issue #19): the person's own routes; an organisation's role never uses them.
NO_ORGANISATION = ("3333",) * 9
#: A person's GDPR request: decided by the client's managers or the data protection officer,
#: who also list the open ones (a coordinator those of its clients, the officer all).
REQUEST_DECIDERS = ("2344", "3333", "3333", "3333", "3333", "3333", "3333", "2222", "3333")
REQUEST_QUEUE = ("2222", "3333", "3333", "3333", "3333", "3333", "3333", "2222", "3333")

EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {
    # --- clients: managed by the registering organisation (or an open trajectory's coordinator) ---
    ("POST", "/v1/clients"): (
        "2222",
        "3333",
        "3333",
        "3333",
        "3333",
        "3333",
        "3333",
        "3333",
        "3333",
    ),
    # A professional's organisation that is party to a trajectory only through a role
    # agreement neither registered the client nor holds its consent: no name, no contact.
    # An auditor sees the clients of its region; a client with no trajectory there is not.
    ("GET", C): ("2244", "4244", "2222", "4444", "3333", "3333", "3333", "3333", "3333"),
    ("POST", f"{C}/representatives"): COORDINATOR_ONLY,
    ("POST", f"{C}/representatives/{{representative_ref:str}}/exclusion"): COORDINATOR_ONLY,
    ("POST", f"{C}/consents"): COORDINATOR_ONLY,
    ("POST", f"{C}/consents/{{consent_id:str}}/revocation"): COORDINATOR_ONLY,
    ("POST", f"{C}/erasure"): ERASERS,
    # --- the person as a user (issue #19): recorded by the client's managers ---
    ("POST", f"{C}/identity-links"): COORDINATOR_ONLY,
    ("POST", f"{C}/identity-links/{{link_id:str}}/revocation"): COORDINATOR_ONLY,
    ("POST", f"{C}/birth-year"): COORDINATOR_ONLY,
    ("POST", f"{C}/capacity-assessments"): COORDINATOR_ONLY,
    # ... and /v1/me is the person's own: no organisation's role reads it.
    ("GET", "/v1/me"): NO_ORGANISATION,
    ("GET", "/v1/me/trajectories"): NO_ORGANISATION,
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}"): NO_ORGANISATION,
    ("GET", "/v1/me/access"): NO_ORGANISATION,
    ("GET", "/v1/me/reads"): NO_ORGANISATION,
    ("POST", "/v1/me/consents"): NO_ORGANISATION,
    ("POST", "/v1/me/consents/{consent_id:str}/revocation"): NO_ORGANISATION,
    ("POST", "/v1/me/trajectories/{trajectory_id:uuid}/plan-signatures"): NO_ORGANISATION,
    ("POST", "/v1/me/trajectories/{trajectory_id:uuid}/consultation-input"): NO_ORGANISATION,
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}/plan"): NO_ORGANISATION,
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}/fhir"): NO_ORGANISATION,
    ("POST", "/v1/me/requests"): NO_ORGANISATION,
    ("GET", "/v1/me/requests"): NO_ORGANISATION,
    # ... a person's GDPR request is decided by the client's managers or the officer.
    ("POST", f"{C}/requests/{{request_id:str}}/decision"): REQUEST_DECIDERS,
    ("GET", "/v1/requests"): REQUEST_QUEUE,
    # --- trajectories: intake and reads ---
    ("POST", "/v1/trajectories"): COORDINATOR_ONLY,
    ("GET", "/v1/trajectories"): OWN_LIST,
    ("GET", "/v1/board"): OWN_LIST,
    ("GET", T): CASE_READ,
    ("GET", f"{T}/timeline"): CASE_READ,
    ("GET", f"{T}/fhir"): CASE_READ,
    ("POST", f"{T}/acceptance"): COORDINATOR_ONLY,
    ("POST", f"{T}/declination"): COORDINATOR_ONLY,
    # --- consultations and role agreements ---
    ("POST", f"{T}/consultations"): PROFESSIONAL_TOO,
    ("POST", f"{T}/consultation-waivers"): COORDINATOR_ONLY,
    ("POST", f"{T}/role-agreements"): COORDINATOR_ONLY,
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/acceptances"): ANSWERING,
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/declination"): ANSWERING,
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/end"): COORDINATOR_ONLY,
    # --- the plan ---
    ("POST", f"{T}/goals"): COORDINATOR_ONLY,
    ("POST", f"{T}/goals/{{goal_id:str}}/revisions"): COORDINATOR_ONLY,
    ("POST", f"{T}/goals/{{goal_id:str}}/closure"): COORDINATOR_ONLY,
    ("POST", f"{T}/actions"): PROFESSIONAL_TOO,
    ("POST", f"{T}/plan-signatures"): COORDINATOR_ONLY,
    ("POST", f"{T}/evaluations"): PROFESSIONAL_TOO,
    # --- escalations, blocks, handover, the end ---
    ("POST", f"{T}/escalations"): COORDINATOR_ONLY,
    ("POST", f"{T}/escalations/{{escalation_id:str}}/level-changes"): COORDINATOR_ONLY,
    ("POST", f"{T}/escalations/{{escalation_id:str}}/resolution"): COORDINATOR_ONLY,
    ("POST", f"{T}/blocks"): COORDINATOR_ONLY,
    ("POST", f"{T}/unblocking"): COORDINATOR_ONLY,
    ("POST", f"{T}/handovers"): COORDINATOR_ONLY,
    ("POST", f"{T}/follow-up-contacts"): PROFESSIONAL_TOO,
    ("POST", f"{T}/closure"): COORDINATOR_ONLY,
    # A finding shared with the region's network (issue #14 point 2): the trajectory's
    # coordinator only; the network never sees who.
    ("POST", f"{T}/findings/share"): COORDINATOR_ONLY,
    # --- audit and retention ---
    # Who read the client's data: the auditors of a region where the client has a trajectory.
    ("GET", "/v1/audit/personal-data-reads"): AUDITORS_OF_THE_REGION,
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/history"): AUDITORS_OF_THE_REGION,
    # issue #15: the trajectory as of a moment, and who agreed what and when
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/as-of"): AUDITORS_OF_THE_REGION,
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/agreements"): AUDITORS_OF_THE_REGION,
    # issue #16: the trajectory's record as one signed file, encrypted to the auditor's key
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/export"): AUDITORS_OF_THE_REGION,
    ("GET", "/v1/admin/retention"): RETENTION,
    # --- the organisation register: a coordinator registers provisionally, an admin keeps it ---
    ("POST", "/v1/organisations"): REGISTRARS,
    ("GET", "/v1/organisations"): REGISTER_READERS,
    ("GET", f"{R}"): REGISTER_READERS,
    ("POST", f"{R}/confirm"): REGISTER_KEEPERS,
    ("POST", f"{R}/correct"): REGISTER_KEEPERS,
    # --- statistics releases (issue #12) ---
    ("GET", "/v1/statistics/releases"): STATISTICS_READERS,
    ("GET", "/v1/statistics/releases/{number:int}"): STATISTICS_READERS,
    ("GET", "/v1/statistics/releases/{number:int}/tables/{name:str}"): STATISTICS_READERS,
    ("GET", "/v1/statistics/releases/{number:int}/process-map"): REGION_STATISTICS_READERS,
    ("GET", "/v1/statistics/releases/{number:int}/paths"): REGION_STATISTICS_READERS,
    ("GET", "/v1/statistics/releases/{number:int}/early-factors"): REGION_STATISTICS_READERS,
    # --- exports for process mining (issue #13) ---
    ("POST", "/v1/exports/authorisations"): EXPORT_OFFICER,
    ("GET", "/v1/exports/authorisations"): EXPORT_OFFICER,
    ("GET", E): EXPORT_OFFICER,
    ("POST", f"{E}/revoke"): EXPORT_OFFICER,
    ("GET", "/v1/exports/xes"): XES_EXPORTERS,
    # --- learning networks (issue #14) ---
    ("POST", "/v1/learning-networks"): NETWORK_FOUNDERS,
    ("GET", "/v1/learning-networks"): NETWORK_LISTS,
    ("GET", "/v1/learning-networks/signals"): NETWORK_LISTS,
    # The cadence board (issue #14 point 3): read as the list of networks is.
    ("GET", "/v1/learning-networks/cadence"): NETWORK_LISTS,
    ("GET", NL): NETWORK_READERS,
    ("POST", f"{NL}/members"): NETWORK_MEMBERS,
    ("POST", f"{NL}/members/{{organisation:str}}/departure"): NETWORK_MEMBERS,
    ("POST", f"{NL}/themes"): NETWORK_PROPOSERS,
    ("POST", f"{NL}/themes/{{theme_id:str}}/scheduling"): NETWORK_MEMBERS,
    ("POST", f"{NL}/themes/{{theme_id:str}}/closure"): NETWORK_MEMBERS,
    ("POST", f"{NL}/meetings"): NETWORK_MEMBERS,
    ("POST", f"{NL}/signals"): NETWORK_PROPOSERS,
    ("POST", f"{NL}/signals/{{signal_id:str}}/answer"): NETWORK_MEMBERS,
    ("POST", f"{NL}/signals/{{signal_id:str}}/closure"): NETWORK_MEMBERS,
    ("POST", f"{NL}/signals/{{signal_id:str}}/escalation"): NETWORK_MEMBERS,
    ("POST", f"{NL}/lessons"): NETWORK_MEMBERS,
    ("POST", f"{NL}/improvement-trajectories"): NETWORK_MEMBERS,
    ("POST", f"{NL}/improvement-trajectories/{{improvement_id:str}}/measurements"): (
        NETWORK_MEMBERS
    ),
    ("POST", f"{NL}/closure"): NETWORK_FOUNDERS,
}

# --- the world the cells are asked about ----------------------------------------------------------

#: Noon two days ago: recent enough that no deadline of the scheduler falls due meanwhile, and
#: early enough in its day that the facts hours after it fall on the same day (at a time of day
#: after 22:00 a meeting two hours later was dated the next day, after the command recording it).
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


def at(hours: float) -> str:
    return (BASE + timedelta(hours=hours)).isoformat()


def day(days: int) -> str:
    return (BASE + timedelta(days=days)).date().isoformat()


#: Hexadecimal digits read as letters: an id made of ten random hex digits is one in about a
#: thousand times "0" and nine digits, a phone number the record refuses in an identifier.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def new(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10].translate(_LETTERS)}"


CONSULTATION = {
    "participants": [{"organisation": PARTY, "role": "planmaker"}],
    "client_involvement": "present",
}
#: A learning network's meeting: on the day of the probes (after the network's establishment).
MEETING = {
    "kind": "learning_network",
    "held_on": (BASE + timedelta(hours=2)).date().isoformat(),
    "members_present": [PARTY],
}
SIGNAL = {"category": "waiting_list", "description": "Places lack", "addressed_to": "agency"}


class World:
    """One client related to every caller's organisation as its relation says, and its
    trajectories in the states the commands need; built through the API by the party."""

    def __init__(
        self,
        http: TestClient,  # type: ignore[type-arg]
        token: TokenFactory,
        container: Container,
    ) -> None:
        self.http = http
        self.token = token
        self.container = container
        signing_key_file(container.settings).create()  # audit exports are signed (issue #16)
        self._auth: dict[tuple[str, str, str], dict[str, str]] = {}
        self.coordinator = self.auth(PARTY, "coordinator")
        self.client = self.new_client()
        self.spare_client = self.new_client()  # aimed at by the refused erasures
        self.representative = self.appoint(self.client)
        self.other_consent = self.grant(self.client, OTHER)
        self.identity_link = self.link(self.client)
        self.open_request = self.file_request(self.client)
        self.active = self.trajectory("active", agreement=True)
        goal = self.post(f"/v1/trajectories/{self.active}/goals", {"description": "School"})
        self.goal: str = goal["item_id"]
        self.post(f"/v1/trajectories/{self.active}/plan-signatures", {"signatory": "client"})
        self.escalation = self.raise_escalation(self.active)
        self.pending = self.propose(self.active, OTHER)
        self.referred = self.trajectory("referred")
        self.closed = self.trajectory("closed", agreement=True)
        self.organisation = self.register_organisation()
        self.release = self.statistics_release()
        self.export_authorisation = self.authorise_export()
        self.network = self.establish_network(REGION)
        self.forum = self.post(
            "/v1/learning-networks",
            {"level": "macro", "coordinating_organisation": OTHER},
            auth=self.auth(OTHER, "forum"),
        )["id"]
        self.member = self.admit_member()
        self.theme = self.propose_theme()
        self.signal = self.raise_signal()
        self.improvement = self.start_improvement()

    # --- plumbing ---

    def auth(self, organisation: str, role: str, region: str = REGION) -> dict[str, str]:
        key = (organisation, role, region)
        if key not in self._auth:
            self._auth[key] = bearer(
                self.token(
                    user=f"{role}@{organisation}", org=organisation, roles=(role,), region=region
                )
            )
        return self._auth[key]

    def caller(self, caller: str, relation: str) -> dict[str, str]:
        region = ELSEWHERE if caller == "auditor_elsewhere" else REGION
        return self.auth(organisation_of(caller, relation), ROLE_OF[caller], region)

    def post(
        self, path: str, body: dict[str, Any], auth: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.http.post(
            path, json={"occurred_at": at(1), **body}, headers=auth or self.coordinator
        )
        assert response.status_code in (200, 201), (path, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    # --- records ---

    def new_client(self) -> str:
        client: str = self.post("/v1/clients", {"name": "Matrix", "occurred_at": at(-1)})["id"]
        self.grant(client, CONSENTED, scopes=["plan", "dossier", "contact_details"])
        revoked = self.grant(client, REVOKED, scopes=["plan", "dossier", "contact_details"])
        self.post(f"/v1/clients/{client}/consents/{revoked}/revocation", {"reason": "moved"})
        return client

    def grant(self, client: str, party: str, scopes: list[str] | None = None) -> str:
        consent = new("consent")
        self.post(
            f"/v1/clients/{client}/consents",
            {
                "occurred_at": at(0),
                "consent_id": consent,
                "to_party": party,
                "scopes": scopes or ["plan"],
                "purpose": "continuity of care",
            },
        )
        return consent

    def link(self, client: str) -> str:
        """An identity link of the client (issue #19), recorded by the party's coordinator."""
        link = new("link")
        self.post(
            f"/v1/clients/{client}/identity-links",
            {"occurred_at": at(0), "link_id": link, "subject": new("idp"), "as_role": "client"},
        )
        return link

    def file_request(self, client: str) -> str:
        """A GDPR request the client files through ``/v1/me`` (issue #19), left open."""
        subject = new("idp")
        self.post(
            f"/v1/clients/{client}/identity-links",
            {"occurred_at": at(0), "subject": subject, "as_role": "client"},
        )
        tokens = LocalTokens.from_file(self.container.settings.auth.secret_file)
        person = bearer(
            tokens.issue(user=subject, organisation=None, roles=["client"], region=None)
        )
        request_id: str = self.post(
            "/v1/me/requests", {"kind": "access_copy", "occurred_at": at(0)}, auth=person
        )["item_id"]
        return request_id

    def appoint(self, client: str) -> str:
        ref = new("rep")
        self.post(f"/v1/clients/{client}/representatives", {"representative_ref": ref})
        return ref

    def trajectory(self, state: str, *, agreement: bool = False) -> str:
        """A trajectory of the client, referred and coordinated by the party, in ``state``."""
        trajectory: str = self.post(
            "/v1/trajectories",
            {
                "occurred_at": at(0),
                "client_id": self.client,
                "question": "Support at home",
                "sector": "youth_care",
                "region": REGION,
            },
        )["id"]
        if state == "referred":
            return trajectory
        path = f"/v1/trajectories/{trajectory}"
        self.post(f"{path}/acceptance", {})
        self.post(
            f"{path}/consultations",
            {**CONSULTATION, "kind": "start", "next_consultation_on": day(90)},
        )
        if agreement:  # the professional's organisation becomes a party
            agreement_id = self.propose(trajectory, PARTY, AGREED)
            self.post(f"{path}/role-agreements/{agreement_id}/acceptances", {})
            self.post(
                f"{path}/role-agreements/{agreement_id}/acceptances",
                {},
                auth=self.auth(AGREED, "professional"),
            )
        if state in ("ending", "closed"):
            self.post(f"{path}/consultations", {**CONSULTATION, "kind": "end"})
        if state == "closed":
            self.post(f"{path}/closure", {"reason": "goals reached", "follow_up_by": PARTY})
        if state == "blocked":
            self.post(f"{path}/blocks", {"reasons": ["waiting_list"]})
        return trajectory

    def propose(self, trajectory: str, *parties: str) -> str:
        answer = self.post(
            f"/v1/trajectories/{trajectory}/role-agreements",
            {"assignments": [{"party": p, "role": "provider"} for p in parties]},
        )
        agreement: str = answer["item_id"]
        return agreement

    def register_organisation(self) -> str:
        """An organisation the party's coordinator registered provisionally."""
        identifier = new("school")
        self.post("/v1/organisations", {"identifier": identifier, "name": "De Linde"})
        return identifier

    def statistics_release(self) -> int:
        """A release in the store (its numbers are not what is asked here: who may read it is)."""
        return save_release(
            self.container, REGION, [CellRow("*", "blocked", "count", None, "suppressed")]
        )

    def authorise_export(self) -> str:
        """The officer authorises the learning network's user of the party for the region."""
        answer = self.post(
            "/v1/exports/authorisations",
            {
                "occurred_at": datetime.now(UTC).isoformat(),
                "user_id": f"learning_network@{PARTY}",
                "organisation": PARTY,
                "purpose": "process map of the region",
                "legal_basis": "public_task",
                "region": REGION,
                "until": day(30),
            },
            auth=self.auth("org-dpo", "data_protection_officer"),
        )
        authorisation: str = answer["id"]
        return authorisation

    # --- learning networks ---

    def establish_network(self, region: str) -> str:
        """A region's network, coordinated by the party (established by an admin)."""
        answer = self.post(
            "/v1/learning-networks",
            {"level": "meso", "region": region, "coordinating_organisation": PARTY},
            auth=self.auth("org-ops", "admin"),
        )
        network: str = answer["id"]
        return network

    def on_network(self, suffix: str, body: dict[str, Any]) -> dict[str, Any]:
        """Recorded by the party's learning network (the coordinating organisation)."""
        return self.post(
            f"/v1/learning-networks/{self.network}{suffix}",
            body,
            auth=self.auth(PARTY, "learning_network"),
        )

    def admit_member(self) -> str:
        organisation = self.register_organisation()
        self.on_network(
            "/members", {"organisation": organisation, "expertise": "school", "role": "other"}
        )
        return organisation

    def propose_theme(self) -> str:
        answer = self.on_network("/themes", {"title": "Waiting lists", "description": "Lack"})
        theme: str = answer["item_id"]
        return theme

    def discussed_theme(self) -> str:
        theme = self.propose_theme()
        self.on_network("/meetings", {**MEETING, "themes_discussed": [theme]})
        return theme

    def raise_signal(self) -> str:
        answer = self.on_network("/signals", {**SIGNAL, "evidence": {"themes": [self.theme]}})
        signal: str = answer["item_id"]
        return signal

    def start_improvement(self) -> str:
        answer = self.on_network(
            "/improvement-trajectories", {"title": "Intake", "action_proposal": "One form"}
        )
        improvement: str = answer["item_id"]
        return improvement

    def raise_escalation(self, trajectory: str) -> str:
        answer = self.post(
            f"/v1/trajectories/{trajectory}/escalations", {"level": "team", "reason": "capacity"}
        )
        escalation: str = answer["item_id"]
        return escalation


# --- how each endpoint is asked -------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: dict[str, Any] | None = None
    #: List and board: the trajectory whose presence in the answer the cell decides (2 or 0).
    lists: str | None = None
    #: The rule of a 403 where it is not the access policy's (an export's authorisation).
    forbidden_by: str = "access-policy"

    def refused_by(self, expected: str) -> str:
        """The rule a refusal names: the access policy (403), or the record is not found."""
        if expected == "3":
            return self.forbidden_by
        if self.path.startswith("/v1/learning-networks"):
            return "learning-network-not-found"
        on_client = (
            self.path.startswith("/v1/clients/")
            or self.path == "/v1/trajectories"
            or "client_id=" in self.path
        )
        return "client-not-found" if on_client else "trajectory-not-found"


#: (world, the caller's organisation, whether the cell expects success) → the request to send.
Prober = Callable[[World, str, bool], Probe]


def on(trajectory: str, suffix: str, body: dict[str, Any]) -> Probe:
    return Probe("POST", f"/v1/trajectories/{trajectory}{suffix}", body)


def network(w: "World", suffix: str, body: dict[str, Any]) -> Probe:
    return Probe("POST", f"/v1/learning-networks/{w.network}{suffix}", body)


def answering(
    w: World, organisation: str, allowed: bool, suffix: str, body: dict[str, Any]
) -> Probe:
    """Answering a role agreement: allowed callers get a pending one that names them (and
    another party, so it stays pending); the refused ones aim at one that names neither."""
    if not allowed:
        return on(w.active, f"/role-agreements/{w.pending}{suffix}", body)
    trajectory = w.trajectory("active", agreement=True)
    agreement = w.propose(trajectory, organisation, OTHER)
    return on(trajectory, f"/role-agreements/{agreement}{suffix}", body)


def fresh_escalation(w: World, allowed: bool) -> str:
    return w.raise_escalation(w.active) if allowed else w.escalation


def fresh_goal(w: World, allowed: bool) -> str:
    if not allowed:
        return w.goal
    goal: str = w.post(f"/v1/trajectories/{w.active}/goals", {"description": "Sport"})["item_id"]
    return goal


def blocked(w: World, allowed: bool) -> str:
    return w.trajectory("blocked") if allowed else w.active


REFERRAL = {"question": "Support at home", "sector": "youth_care", "region": REGION}

PROBES: dict[tuple[str, str], Prober] = {
    ("POST", "/v1/clients"): lambda w, o, a: Probe("POST", "/v1/clients", {"name": "Lotte"}),
    ("GET", C): lambda w, o, a: Probe("GET", f"/v1/clients/{w.client}"),
    ("POST", f"{C}/representatives"): lambda w, o, a: Probe(
        "POST", f"/v1/clients/{w.client}/representatives", {"representative_ref": new("rep")}
    ),
    ("POST", f"{C}/representatives/{{representative_ref:str}}/exclusion"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/representatives/"
        f"{w.appoint(w.client) if a else w.representative}/exclusion",
        {"reason": "the client opts out"},
    ),
    ("POST", f"{C}/consents"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/consents",
        {"to_party": OTHER, "scopes": ["plan"], "purpose": "continuity"},
    ),
    ("POST", f"{C}/consents/{{consent_id:str}}/revocation"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/consents/"
        f"{w.grant(w.client, OTHER) if a else w.other_consent}/revocation",
        {"reason": "changed their mind"},
    ),
    ("POST", f"{C}/erasure"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.new_client() if a else w.spare_client}/erasure",
        {"legal_basis": "gdpr_request"},
    ),
    ("POST", f"{C}/identity-links"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/identity-links",
        {"subject": new("idp"), "as_role": "client"},
    ),
    ("POST", f"{C}/identity-links/{{link_id:str}}/revocation"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/identity-links/"
        f"{w.link(w.client) if a else w.identity_link}/revocation",
        {"reason": "wrong person"},
    ),
    ("POST", f"{C}/birth-year"): lambda w, o, a: Probe(
        "POST", f"/v1/clients/{w.client}/birth-year", {"birth_year": 1990}
    ),
    ("POST", f"{C}/capacity-assessments"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/capacity-assessments",
        {"capable": True, "assessed_on": day(-1)},
    ),
    ("GET", "/v1/me"): lambda w, o, a: Probe("GET", "/v1/me"),
    ("GET", "/v1/me/trajectories"): lambda w, o, a: Probe("GET", "/v1/me/trajectories"),
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}"): lambda w, o, a: Probe(
        "GET", f"/v1/me/trajectories/{w.active}"
    ),
    ("GET", "/v1/me/access"): lambda w, o, a: Probe("GET", "/v1/me/access"),
    ("GET", "/v1/me/reads"): lambda w, o, a: Probe("GET", "/v1/me/reads"),
    ("POST", "/v1/me/consents"): lambda w, o, a: Probe(
        "POST", "/v1/me/consents", {"to_party": OTHER, "scopes": ["plan"], "purpose": "x"}
    ),
    ("POST", "/v1/me/consents/{consent_id:str}/revocation"): lambda w, o, a: Probe(
        "POST", f"/v1/me/consents/{w.other_consent}/revocation", {}
    ),
    ("POST", "/v1/me/trajectories/{trajectory_id:uuid}/plan-signatures"): lambda w, o, a: Probe(
        "POST", f"/v1/me/trajectories/{w.active}/plan-signatures", {}
    ),
    ("POST", "/v1/me/trajectories/{trajectory_id:uuid}/consultation-input"): (
        lambda w, o, a: Probe(
            "POST", f"/v1/me/trajectories/{w.active}/consultation-input", {"statement": "x"}
        )
    ),
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}/plan"): lambda w, o, a: Probe(
        "GET", f"/v1/me/trajectories/{w.active}/plan"
    ),
    ("GET", "/v1/me/trajectories/{trajectory_id:uuid}/fhir"): lambda w, o, a: Probe(
        "GET", f"/v1/me/trajectories/{w.active}/fhir"
    ),
    ("POST", "/v1/me/requests"): lambda w, o, a: Probe(
        "POST", "/v1/me/requests", {"kind": "access_copy"}
    ),
    ("GET", "/v1/me/requests"): lambda w, o, a: Probe("GET", "/v1/me/requests"),
    ("POST", f"{C}/requests/{{request_id:str}}/decision"): lambda w, o, a: Probe(
        "POST",
        f"/v1/clients/{w.client}/requests/"
        f"{w.file_request(w.client) if a else w.open_request}/decision",
        {"outcome": "granted", "legal_ground": "GDPR art. 15"},
    ),
    ("GET", "/v1/requests"): lambda w, o, a: Probe("GET", "/v1/requests"),
    ("POST", "/v1/trajectories"): lambda w, o, a: Probe(
        "POST", "/v1/trajectories", {"client_id": w.client, **REFERRAL}
    ),
    ("GET", "/v1/trajectories"): lambda w, o, a: Probe(
        "GET", "/v1/trajectories?limit=500", lists=w.active
    ),
    ("GET", "/v1/board"): lambda w, o, a: Probe("GET", "/v1/board?limit=500", lists=w.active),
    ("GET", T): lambda w, o, a: Probe("GET", f"/v1/trajectories/{w.active}"),
    ("GET", f"{T}/timeline"): lambda w, o, a: Probe("GET", f"/v1/trajectories/{w.active}/timeline"),
    ("GET", f"{T}/fhir"): lambda w, o, a: Probe("GET", f"/v1/trajectories/{w.active}/fhir"),
    ("POST", f"{T}/acceptance"): lambda w, o, a: on(
        w.trajectory("referred") if a else w.referred, "/acceptance", {}
    ),
    ("POST", f"{T}/declination"): lambda w, o, a: on(
        w.trajectory("referred") if a else w.referred, "/declination", {"reason": "full"}
    ),
    ("POST", f"{T}/consultations"): lambda w, o, a: on(
        w.active,
        "/consultations",
        {**CONSULTATION, "kind": "ad_hoc", "next_consultation_on": day(60)},
    ),
    ("POST", f"{T}/consultation-waivers"): lambda w, o, a: on(
        w.trajectory("active") if a else w.active,
        "/consultation-waivers",
        {"kind": "three_month", "reason": "covered by the MDO"},
    ),
    ("POST", f"{T}/role-agreements"): lambda w, o, a: on(
        w.active, "/role-agreements", {"assignments": [{"party": OTHER, "role": "buddy"}]}
    ),
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/acceptances"): lambda w, o, a: answering(
        w, o, a, "/acceptances", {}
    ),
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/declination"): lambda w, o, a: answering(
        w, o, a, "/declination", {"reason": "no time"}
    ),
    ("POST", f"{T}/role-agreements/{{agreement_id:str}}/end"): lambda w, o, a: on(
        w.active,
        f"/role-agreements/{w.propose(w.active, OTHER) if a else w.pending}/end",
        {"reason": "no longer needed"},
    ),
    ("POST", f"{T}/goals"): lambda w, o, a: on(
        w.active, "/goals", {"goal_id": new("goal"), "description": "Sleeps well"}
    ),
    ("POST", f"{T}/goals/{{goal_id:str}}/revisions"): lambda w, o, a: on(
        w.active, f"/goals/{w.goal}/revisions", {"description": "School three days a week"}
    ),
    ("POST", f"{T}/goals/{{goal_id:str}}/closure"): lambda w, o, a: on(
        w.active, f"/goals/{fresh_goal(w, a)}/closure", {"outcome": "reached"}
    ),
    ("POST", f"{T}/actions"): lambda w, o, a: on(
        w.active, "/actions", {"description": "Home visit", "owner": OTHER, "due_on": day(30)}
    ),
    ("POST", f"{T}/plan-signatures"): lambda w, o, a: on(
        w.active, "/plan-signatures", {"signatory": "client"}
    ),
    ("POST", f"{T}/evaluations"): lambda w, o, a: on(
        w.active, "/evaluations", {"results": "going well"}
    ),
    ("POST", f"{T}/escalations"): lambda w, o, a: on(
        w.active, "/escalations", {"level": "team", "reason": "waiting_list"}
    ),
    ("POST", f"{T}/escalations/{{escalation_id:str}}/level-changes"): lambda w, o, a: on(
        w.active,
        f"/escalations/{fresh_escalation(w, a)}/level-changes",
        {"to_level": "network", "reason": "stuck"},
    ),
    ("POST", f"{T}/escalations/{{escalation_id:str}}/resolution"): lambda w, o, a: on(
        w.active,
        f"/escalations/{fresh_escalation(w, a)}/resolution",
        {"resolution": "a place was found"},
    ),
    ("POST", f"{T}/blocks"): lambda w, o, a: on(
        w.trajectory("active") if a else w.active, "/blocks", {"reasons": ["funding"]}
    ),
    ("POST", f"{T}/unblocking"): lambda w, o, a: on(
        blocked(w, a), "/unblocking", {"resolution": "funded"}
    ),
    ("POST", f"{T}/handovers"): lambda w, o, a: on(
        w.active,
        "/handovers",
        {"to_party": CONSENTED, "scopes": ["plan"], "transfers_coordination": False},
    ),
    ("POST", f"{T}/follow-up-contacts"): lambda w, o, a: on(
        w.closed, "/follow-up-contacts", {"contacted_party": PARTY, "outcome": "followed up"}
    ),
    ("POST", f"{T}/closure"): lambda w, o, a: on(
        w.trajectory("ending") if a else w.active,
        "/closure",
        {"reason": "goals reached", "follow_up_by": PARTY},
    ),
    ("POST", f"{T}/findings/share"): lambda w, o, a: on(
        w.active,
        "/findings/share",
        {
            "network_id": str(w.network),
            "title": "Waiting lists",
            "text": "Residential places are scarce in the region.",
            "names_no_one": True,
        },
    ),
    ("GET", "/v1/audit/personal-data-reads"): lambda w, o, a: Probe(
        "GET", f"/v1/audit/personal-data-reads?client_id={w.client}"
    ),
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/history"): lambda w, o, a: Probe(
        "GET", f"/v1/audit/trajectories/{w.active}/history"
    ),
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/as-of"): lambda w, o, a: Probe(
        "GET",
        f"/v1/audit/trajectories/{w.active}/as-of"
        f"?occurred={datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",  # (never in the future: 422)
    ),
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/agreements"): lambda w, o, a: Probe(
        "GET", f"/v1/audit/trajectories/{w.active}/agreements"
    ),
    ("GET", "/v1/audit/trajectories/{trajectory_id:uuid}/export"): lambda w, o, a: Probe(
        "GET", f"/v1/audit/trajectories/{w.active}/export?recipient={quote(RECIPIENT)}"
    ),
    ("GET", "/v1/admin/retention"): lambda w, o, a: Probe("GET", "/v1/admin/retention"),
    ("POST", "/v1/organisations"): lambda w, o, a: Probe(
        "POST", "/v1/organisations", {"identifier": new("org"), "name": "Het Anker"}
    ),
    ("GET", "/v1/organisations"): lambda w, o, a: Probe("GET", "/v1/organisations"),
    ("GET", R): lambda w, o, a: Probe("GET", f"/v1/organisations/{w.organisation}"),
    ("POST", f"{R}/confirm"): lambda w, o, a: Probe(
        "POST", f"/v1/organisations/{w.register_organisation() if a else w.organisation}/confirm"
    ),
    ("POST", f"{R}/correct"): lambda w, o, a: Probe(
        "POST", f"/v1/organisations/{w.organisation}/correct", {"name": new("De Linde")}
    ),
    ("GET", "/v1/statistics/releases"): lambda w, o, a: Probe("GET", "/v1/statistics/releases"),
    ("GET", "/v1/statistics/releases/{number:int}"): lambda w, o, a: Probe(
        "GET", f"/v1/statistics/releases/{w.release}"
    ),
    ("GET", "/v1/statistics/releases/{number:int}/tables/{name:str}"): lambda w, o, a: Probe(
        "GET", f"/v1/statistics/releases/{w.release}/tables/flow"
    ),
    ("GET", "/v1/statistics/releases/{number:int}/process-map"): lambda w, o, a: Probe(
        "GET", f"/v1/statistics/releases/{w.release}/process-map?region={REGION}"
    ),
    ("GET", "/v1/statistics/releases/{number:int}/paths"): lambda w, o, a: Probe(
        "GET", f"/v1/statistics/releases/{w.release}/paths?region={REGION}"
    ),
    ("GET", "/v1/statistics/releases/{number:int}/early-factors"): lambda w, o, a: Probe(
        "GET", f"/v1/statistics/releases/{w.release}/early-factors?region={REGION}"
    ),
    ("POST", "/v1/exports/authorisations"): lambda w, o, a: Probe(
        "POST",
        "/v1/exports/authorisations",
        {
            "occurred_at": datetime.now(UTC).isoformat(),
            "user_id": "someone",
            "organisation": o,
            "purpose": "matrix",
            "legal_basis": "scientific_research",
            "region": REGION,
            "until": day(30),
        },
    ),
    ("GET", "/v1/exports/authorisations"): lambda w, o, a: Probe(
        "GET", "/v1/exports/authorisations"
    ),
    ("GET", E): lambda w, o, a: Probe(
        "GET", f"/v1/exports/authorisations/{w.export_authorisation}"
    ),
    ("POST", f"{E}/revoke"): lambda w, o, a: Probe(
        "POST",
        f"/v1/exports/authorisations/{w.authorise_export() if a else w.export_authorisation}"
        "/revoke",
        {"occurred_at": datetime.now(UTC).isoformat()},
    ),
    ("GET", "/v1/exports/xes"): lambda w, o, a: Probe(
        "GET",
        f"/v1/exports/xes?region={REGION}&period=2025",  # released: ``World.release``
        forbidden_by="export-needs-authorisation",
    ),
    ("POST", "/v1/learning-networks"): lambda w, o, a: Probe(
        "POST",
        "/v1/learning-networks",
        {"level": "meso", "region": new("region"), "coordinating_organisation": o},
    ),
    ("GET", "/v1/learning-networks"): lambda w, o, a: Probe("GET", "/v1/learning-networks"),
    ("GET", "/v1/learning-networks/cadence"): lambda w, o, a: Probe(
        "GET", "/v1/learning-networks/cadence"
    ),
    ("GET", "/v1/learning-networks/signals"): lambda w, o, a: Probe(
        "GET", "/v1/learning-networks/signals"
    ),
    ("GET", NL): lambda w, o, a: Probe("GET", f"/v1/learning-networks/{w.network}"),
    ("POST", f"{NL}/members"): lambda w, o, a: network(
        w,
        "/members",
        {
            "organisation": w.register_organisation() if a else w.organisation,
            "expertise": "school",
            "role": "practitioner",
        },
    ),
    ("POST", f"{NL}/members/{{organisation:str}}/departure"): lambda w, o, a: network(
        w, f"/members/{w.admit_member() if a else w.member}/departure", {"reason": "moved"}
    ),
    ("POST", f"{NL}/themes"): lambda w, o, a: network(
        w, "/themes", {"title": "Funding", "description": "Modules lack"}
    ),
    ("POST", f"{NL}/themes/{{theme_id:str}}/scheduling"): lambda w, o, a: network(
        w, f"/themes/{w.theme}/scheduling", {"scheduled_for": day(30)}
    ),
    ("POST", f"{NL}/themes/{{theme_id:str}}/closure"): lambda w, o, a: network(
        w,
        f"/themes/{w.discussed_theme() if a else w.theme}/closure",
        {"conclusion": "signalled"},
    ),
    ("POST", f"{NL}/meetings"): lambda w, o, a: network(w, "/meetings", MEETING),
    ("POST", f"{NL}/signals"): lambda w, o, a: network(
        w, "/signals", {**SIGNAL, "evidence": {"themes": [w.theme]}}
    ),
    ("POST", f"{NL}/signals/{{signal_id:str}}/answer"): lambda w, o, a: network(
        w,
        f"/signals/{w.raise_signal() if a else w.signal}/answer",
        {"answer": "next year", "answered_by": "agency"},
    ),
    ("POST", f"{NL}/signals/{{signal_id:str}}/closure"): lambda w, o, a: network(
        w, f"/signals/{w.raise_signal() if a else w.signal}/closure", {"reason": "funded"}
    ),
    ("POST", f"{NL}/signals/{{signal_id:str}}/escalation"): lambda w, o, a: network(
        w, f"/signals/{w.raise_signal() if a else w.signal}/escalation", {"reason": "a decree"}
    ),
    ("POST", f"{NL}/lessons"): lambda w, o, a: network(
        w, "/lessons", {"year": BASE.year, "what_worked": ["a planmaker"], "audiences": ["policy"]}
    ),
    ("POST", f"{NL}/improvement-trajectories"): lambda w, o, a: network(
        w, "/improvement-trajectories", {"title": "Intake", "action_proposal": "One form"}
    ),
    ("POST", f"{NL}/improvement-trajectories/{{improvement_id:str}}/measurements"): (
        lambda w, o, a: network(
            w,
            f"/improvement-trajectories/{w.start_improvement() if a else w.improvement}"
            "/measurements",
            {
                "measured_on": MEETING["held_on"],
                "pdca_phase": "clarify",
                "participation": "consulted",
                "confidence": 2,
            },
        )
    ),
    ("POST", f"{NL}/closure"): lambda w, o, a: Probe(
        "POST",
        f"/v1/learning-networks/{w.establish_network(new('region')) if a else w.network}/closure",
        {"reason": "merged"},
    ),
}

LABEL = {"2": "allowed", "0": "allowed (not listed)", "3": "403", "4": "404"}


def ask(w: World, endpoint: tuple[str, str], caller: str, relation: str, expected: str) -> str:
    """Send one cell's request; '' if the answer is the expected one, else what went wrong."""
    probe = PROBES[endpoint](w, organisation_of(caller, relation), expected in "20")
    headers = w.caller(caller, relation)
    before = recorded(w.container)
    if probe.method == "GET":
        response = w.http.get(probe.path, headers=headers)
    else:
        response = w.http.post(
            probe.path, json={"occurred_at": at(2), **(probe.body or {})}, headers=headers
        )
    changed = recorded(w.container) != before
    status = response.status_code
    if expected in "20":
        if status not in (200, 201):
            return f"got {status} {response.text[:200]}"
        if probe.method == "POST" and not changed:
            return f"got {status} but nothing was recorded"
        if probe.lists is not None:
            items = response.json().get("items") or response.json().get("trajectories") or []
            listed = probe.lists in {item["id"] for item in items}
            if listed != (expected == "2"):
                return "the trajectory is " + ("listed" if listed else "not listed")
        return ""
    wrong = []
    if status != int(f"40{expected}"):
        wrong.append(f"got {status} {response.text[:200]}")
    elif not response.headers["content-type"].startswith("application/problem+json"):
        wrong.append("not a problem+json answer")
    elif response.json()["rule"] != (rule := probe.refused_by(expected)):
        wrong.append(f"refused by {response.json()['rule']}, not {rule}")
    if changed:
        wrong.append("and something was recorded")
    return "; ".join(wrong)


def v1_routes(http: TestClient) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {
        (method, route.path)
        for route in http.app.routes
        if route.path.startswith("/v1")
        for method in getattr(route, "methods", ())
        if method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    }


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(
    module_http: TestClient,  # type: ignore[type-arg]
    module_token: TokenFactory,
    module_container: Container,
) -> World:
    return World(module_http, module_token, module_container)


def test_every_v1_route_of_the_app_has_a_row_in_the_matrix(
    module_http: TestClient,  # type: ignore[type-arg]
) -> None:
    routes = v1_routes(module_http)

    assert routes - set(EXPECTED) == set(), "say in EXPECTED who may use the new endpoints"
    assert set(EXPECTED) - routes == set(), "EXPECTED names endpoints the app does not have"
    assert set(PROBES) == set(EXPECTED), "say in PROBES how each endpoint is asked"
    assert all(len(row) == len(CALLERS) for row in EXPECTED.values())
    assert all(len(cell) == len(RELATIONS) for row in EXPECTED.values() for cell in row)


@pytest.mark.parametrize("endpoint", sorted(EXPECTED), ids=lambda e: f"{e[0]} {e[1]}")
def test_each_role_and_relation_gets_what_the_matrix_says(
    world: World, endpoint: tuple[str, str]
) -> None:
    wrong = [
        f"{caller:18} {relation:8} expected {LABEL[expected]}: {found}"
        for caller, cells in zip(CALLERS, EXPECTED[endpoint], strict=True)
        for relation, expected in zip(RELATIONS, cells, strict=True)
        if (found := ask(world, endpoint, caller, relation, expected))
    ]

    assert wrong == [], f"{endpoint[0]} {endpoint[1]}:\n" + "\n".join(wrong)


def hidden_cells() -> list[tuple[tuple[str, str], str, str]]:
    """Per endpoint, the first caller and relation the matrix answers with 404."""
    found = []
    for endpoint, row in sorted(EXPECTED.items()):
        cells = [
            (caller, relation)
            for caller, cell in zip(CALLERS, row, strict=True)
            for relation, expected in zip(RELATIONS, cell, strict=True)
            if expected == "4"
        ]
        if cells:
            found.append((endpoint, *cells[0]))
    return found


def aimed_elsewhere(w: World, probe: Probe, missing: str) -> Probe:
    """The same request about a record that does not exist."""
    path, body = probe.path, dict(probe.body or {})
    for record in (w.client, w.active, w.referred, w.closed, w.network):
        path = path.replace(record, missing)
        body = {k: missing if v == record else v for k, v in body.items()}
    assert missing in path or missing in body.values(), probe
    return Probe(probe.method, path, body)


def send(w: World, probe: Probe, headers: dict[str, str]) -> Any:
    if probe.method == "GET":
        return w.http.get(probe.path, headers=headers)
    return w.http.post(
        probe.path, json={"occurred_at": at(2), **(probe.body or {})}, headers=headers
    )


def test_a_hidden_record_is_answered_exactly_like_a_missing_one(world: World) -> None:
    """404 so that existence does not leak: same status, rule, title and wording."""
    different = []
    for endpoint, caller, relation in hidden_cells():
        probe = PROBES[endpoint](world, organisation_of(caller, relation), False)
        missing = str(uuid4())
        headers = world.caller(caller, relation)
        hidden = send(world, probe, headers).json()
        absent = send(world, aimed_elsewhere(world, probe, missing), headers).json()
        for problem, record_id in ((hidden, None), (absent, missing)):
            problem.pop("request_id", None)  # each request's own id (issue #20), never the same
            for record in (
                record_id,
                world.client,
                world.active,
                world.referred,
                world.closed,
                world.network,
            ):
                if record:
                    problem["detail"] = problem["detail"].replace(record, "<id>")
                    problem["instance"] = problem["instance"].replace(record, "<id>")
        if hidden != absent:
            different.append(f"{endpoint}: {hidden} != {absent}")

    assert different == [], "\n".join(different)


def test_if_match_does_not_reveal_a_record_the_caller_may_not_see(world: World) -> None:
    """A stale ``If-Match`` from an unrelated caller is still 404, not 412 with the current
    version as ``ETag``: the precondition is checked after access, or existence leaks."""
    leaks = []
    for endpoint, caller, relation in hidden_cells():
        if endpoint[0] != "POST":
            continue
        probe = PROBES[endpoint](world, organisation_of(caller, relation), False)
        response = send(world, probe, {**world.caller(caller, relation), "If-Match": '"1"'})
        if response.status_code != 404 or "etag" in response.headers:
            leaks.append(
                f"{endpoint[1]}: {response.status_code} ETag {response.headers.get('etag')}"
            )

    assert leaks == [], "412 instead of 404 for a hidden record:\n" + "\n".join(leaks)


def test_the_list_and_board_refuse_to_look_beyond_the_callers_scope(world: World) -> None:
    coordinator = world.caller("coordinator", "party")
    auditor = world.caller("auditor", "party")
    for path in ("/v1/trajectories", "/v1/board"):
        other = world.http.get(f"{path}?organisation={OTHER}", headers=coordinator)
        assert (other.status_code, other.json()["rule"]) == (403, "access-policy"), path
        elsewhere = world.http.get(f"{path}?region={ELSEWHERE}", headers=auditor)
        assert (elsewhere.status_code, elsewhere.json()["rule"]) == (403, "access-policy"), path
        own = world.http.get(f"{path}?organisation={PARTY}&region={REGION}", headers=coordinator)
        assert own.status_code == 200, path


def test_a_refusal_is_logged_with_role_organisation_action_and_reason_only(world: World) -> None:
    with structlog.testing.capture_logs() as logs:
        hidden = world.http.get(
            f"/v1/trajectories/{world.active}", headers=world.caller("coordinator", "neither")
        )
        forbidden = world.http.post(
            f"/v1/trajectories/{world.active}/goals",
            json={"occurred_at": at(2), "description": "Matrix"},
            headers=world.caller("professional", "party"),
        )

    assert (hidden.status_code, forbidden.status_code) == (404, 403)
    refusals = [entry for entry in logs if entry["event"] == "access refused"]
    assert [(e["action"], e["reason"], e["organisation"], e["roles"]) for e in refusals] == [
        ("read", "no relation", UNRELATED, ["coordinator"]),
        ("set_goal", "role", AGREED, ["professional"]),
    ]
    assert all(
        set(e) == {"event", "log_level", "action", "reason", "roles", "organisation"}
        for e in refusals
    )
    assert "Matrix" not in repr(logs)
