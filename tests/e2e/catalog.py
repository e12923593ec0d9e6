"""Every command endpoint of the API, with a valid body and ways to get that body wrong.

``test_commands_http.test_every_command_route_of_the_app_is_in_the_catalog`` compares this
catalog with the routes of the running app, so a new endpoint cannot go untested: it fails
until it is described here, and then every per-endpoint test covers it.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from tests.e2e.steps import PARTICIPANTS, PROVIDER, at, on

#: Stands for the client id in a referral's body; replaced when the body is sent.
CLIENT = "<client-id>"
#: Stands for a new organisation identifier (each registration its own); replaced when sent.
NEW_ORGANISATION = "<new-organisation>"

ITEM_IDS = {
    "agreement_id": "agreement-unknown",
    "goal_id": "goal-unknown",
    "escalation_id": "escalation-unknown",
    "representative_ref": "rep-unknown",
    "consent_id": "consent-unknown",
    "link_id": "link-unknown",
    "request_id": "request-unknown",
    "theme_id": "theme-unknown",
    "signal_id": "signal-unknown",
    "improvement_id": "improvement-unknown",
    "organisation": "org-unknown",
}


@dataclass(frozen=True)
class Case:
    """One command endpoint."""

    #: What the command changes: a ``trajectory``, a ``client``, an ``organisation`` of the
    #: register, an ``export-authorisation``, a ``learning-network``, or nothing yet (``new``).
    owner: str
    #: A body the schema accepts (``occurred_at`` is added).
    fields: dict[str, Any] = field(default_factory=dict)
    #: A required field to leave out.
    required: str = "occurred_at"
    #: A field and a value of the wrong type, even for lenient decoding.
    wrong: tuple[str, Any] = ("occurred_at", ["yesterday"])
    #: The roles of a token that may send this command.
    roles: tuple[str, ...] = ("coordinator",)

    def body(self, client_id: str, hours: float = 1) -> dict[str, Any]:
        fresh = {CLIENT: client_id, NEW_ORGANISATION: f"org-{uuid4().hex[:10]}"}
        fields = {k: fresh.get(v, v) if isinstance(v, str) else v for k, v in self.fields.items()}
        return {"occurred_at": at(hours), **fields}


T = "/v1/trajectories/{trajectory_id:uuid}"
C = "/v1/clients/{client_id:uuid}"
R = "/v1/organisations/{identifier:str}"  # the register
E = "/v1/exports/authorisations/{authorisation_id:uuid}"
N = "/v1/learning-networks/{network_id:uuid}"
#: Who records for a learning network (issue #14): its members and the forum.
MEMBERS = ("learning_network",)

M = "/v1/me"

CASES: dict[str, Case] = {
    # --- the person's own decisions (issue #19): their token, never an organisation's ---
    f"{M}/consents": Case(
        "person",
        {"to_party": "org-next", "scopes": ["plan"], "purpose": "continuity"},
        "purpose",
        ("until", "soon"),
    ),
    f"{M}/consents/{{consent_id:str}}/revocation": Case(
        "person", {"reason": "moved"}, wrong=("reason", 1)
    ),
    f"{M}/trajectories/{{trajectory_id:uuid}}/plan-signatures": Case("person"),
    f"{M}/trajectories/{{trajectory_id:uuid}}/consultation-input": Case(
        "person", {"statement": "Ik wil erbij zijn"}, "statement", ("statement", 5)
    ),
    f"{M}/requests": Case("person", {"kind": "access_copy"}, "kind", ("kind", 5)),
    f"{C}/requests/{{request_id:str}}/decision": Case(
        "client", {"outcome": "granted", "legal_ground": "art. 15"}, "legal_ground", ("outcome", 5)
    ),
    # --- clients ---
    "/v1/clients": Case("new", {"name": "Lotte"}, wrong=("name", 5)),
    f"{C}/representatives": Case(
        "client", {"representative_ref": "rep-mother"}, "representative_ref", ("name", ["M"])
    ),
    f"{C}/representatives/{{representative_ref:str}}/exclusion": Case(
        "client", {"reason": "opts out"}, wrong=("reason", 1)
    ),
    f"{C}/consents": Case(
        "client",
        {"to_party": "org-next", "scopes": ["plan"], "purpose": "continuity"},
        "purpose",
        ("until", "soon"),
    ),
    f"{C}/consents/{{consent_id:str}}/revocation": Case(
        "client", {"reason": "moved"}, wrong=("reason", {"why": "moved"})
    ),
    # --- the person as a user (issue #19) ---
    f"{C}/identity-links": Case(
        "client", {"subject": "idp-sam", "as_role": "client"}, "subject", ("as_role", "parent")
    ),
    f"{C}/identity-links/{{link_id:str}}/revocation": Case(
        "client", {"reason": "wrong person"}, wrong=("reason", 1)
    ),
    f"{C}/birth-year": Case("client", {"birth_year": 2012}, "birth_year", ("birth_year", ["2012"])),
    f"{C}/capacity-assessments": Case(
        "client",
        {"capable": True, "assessed_on": "2020-01-01"},
        "capable",
        ("assessed_on", "soon"),
    ),
    f"{C}/erasure": Case(
        "client",
        {"legal_basis": "gdpr_request"},
        "legal_basis",
        ("legal_basis", 1),
        roles=("data_protection_officer",),
    ),
    # --- the organisation register ---
    "/v1/organisations": Case(
        "new", {"identifier": NEW_ORGANISATION, "name": "De Linde"}, "identifier", ("name", 5)
    ),
    f"{R}/confirm": Case("organisation", roles=("admin",)),
    f"{R}/correct": Case(
        "organisation", {"name": "Basisschool De Linde"}, wrong=("kind", 3), roles=("admin",)
    ),
    # --- export authorisations (issue #13) ---
    "/v1/exports/authorisations": Case(
        "new",
        {
            "user_id": "user-ana",
            "organisation": "org-research",
            "purpose": "process map",
            "legal_basis": "public_task",
            "region": "west-flanders",
            "until": (datetime.now(UTC).date() + timedelta(days=365)).isoformat(),
        },
        "legal_basis",
        ("until", "soon"),
        roles=("data_protection_officer",),
    ),
    f"{E}/revoke": Case(
        "export-authorisation",
        {"reason": "project ended"},
        wrong=("reason", 1),
        roles=("data_protection_officer",),
    ),
    # --- learning networks (issue #14) ---
    "/v1/learning-networks": Case(
        "new",
        {"level": "meso", "region": "west-flanders", "coordinating_organisation": "org-chair"},
        "coordinating_organisation",
        ("level", "regional"),
        roles=("forum",),
    ),
    f"{N}/members": Case(
        "learning-network",
        {"organisation": "org-school", "expertise": "education", "role": "practitioner"},
        "organisation",
        ("role", "client"),
        roles=MEMBERS,
    ),
    f"{N}/members/{{organisation:str}}/departure": Case(
        "learning-network", {"reason": "moved"}, wrong=("reason", 1), roles=MEMBERS
    ),
    f"{N}/themes": Case(
        "learning-network",
        {"title": "Waiting lists", "description": "Places lack", "source_kind": "statistics"},
        "title",
        ("source_kind", "a case"),
        roles=MEMBERS,
    ),
    f"{N}/themes/{{theme_id:str}}/scheduling": Case(
        "learning-network",
        {"scheduled_for": on(30)},
        "scheduled_for",
        ("scheduled_for", "soon"),
        roles=MEMBERS,
    ),
    f"{N}/themes/{{theme_id:str}}/closure": Case(
        "learning-network", {"conclusion": "signalled"}, "conclusion", ("conclusion", 1), MEMBERS
    ),
    f"{N}/meetings": Case(
        "learning-network",
        {"kind": "learning_network", "held_on": on(0), "members_present": ["org-chair"]},
        "members_present",
        ("releases_consulted", "one"),
        roles=MEMBERS,
    ),
    f"{N}/signals": Case(
        "learning-network",
        {
            "category": "waiting_list",
            "description": "Places lack",
            "evidence": {"releases": [1]},
            "addressed_to": "the agency",
        },
        "evidence",
        ("category", "queues"),
        roles=MEMBERS,
    ),
    f"{N}/signals/{{signal_id:str}}/answer": Case(
        "learning-network",
        {"answer": "next year", "answered_by": "the agency"},
        "answer",
        ("answered_by", ["x"]),
        roles=MEMBERS,
    ),
    f"{N}/signals/{{signal_id:str}}/closure": Case(
        "learning-network", {"reason": "funded"}, "reason", ("reason", 2), MEMBERS
    ),
    f"{N}/signals/{{signal_id:str}}/escalation": Case(
        "learning-network", {"reason": "a decree"}, "reason", ("reason", []), MEMBERS
    ),
    f"{N}/lessons": Case(
        "learning-network",
        {"year": 2026, "what_worked": ["a planmaker"], "audiences": ["policy"]},
        "audiences",
        ("year", "this year"),
        roles=MEMBERS,
    ),
    f"{N}/improvement-trajectories": Case(
        "learning-network",
        {"title": "One intake form", "action_proposal": "One intake form"},
        "action_proposal",
        ("theme_id", 3),
        roles=MEMBERS,
    ),
    f"{N}/improvement-trajectories/{{improvement_id:str}}/measurements": Case(
        "learning-network",
        {
            "measured_on": on(0),
            "pdca_phase": "design",
            "participation": "advising",
            "confidence": 3,
        },
        "confidence",
        ("confidence", "high"),
        roles=MEMBERS,
    ),
    f"{N}/closure": Case(
        "learning-network", {"reason": "merged"}, "reason", ("reason", 5), roles=("forum",)
    ),
    # --- trajectories: intake ---
    "/v1/trajectories": Case(
        "new",
        {
            "client_id": CLIENT,
            "question": "Support at home",
            "sector": "youth_care",
            "region": "west-flanders",
        },
        "question",
        ("question", ["Support"]),
    ),
    f"{T}/acceptance": Case("trajectory", {}, wrong=("coordinating_organisation", 42)),
    f"{T}/declination": Case("trajectory", {"reason": "full"}, "reason", ("reason", {"a": 1})),
    # --- consultations ---
    f"{T}/consultations": Case(
        "trajectory",
        {
            "kind": "three_month",
            "participants": PARTICIPANTS,
            "client_involvement": "present",
            "next_consultation_on": on(180),
        },
        "participants",
        ("participants", "everyone"),
    ),
    f"{T}/consultation-waivers": Case(
        "trajectory", {"kind": "three_month", "reason": "covered"}, "reason", ("kind", 3)
    ),
    # --- role agreements ---
    f"{T}/role-agreements": Case(
        "trajectory",
        {"assignments": [{"party": PROVIDER, "role": "provider"}]},
        "assignments",
        ("assignments", PROVIDER),
    ),
    f"{T}/role-agreements/{{agreement_id:str}}/acceptances": Case("trajectory"),
    f"{T}/role-agreements/{{agreement_id:str}}/declination": Case(
        "trajectory", {"reason": "no time"}, "reason", ("reason", True)
    ),
    f"{T}/role-agreements/{{agreement_id:str}}/end": Case(
        "trajectory", {"reason": "done"}, "reason", ("reason", 1.5)
    ),
    # --- the plan ---
    f"{T}/goals": Case(
        "trajectory", {"description": "Back to school"}, "description", ("goal_id", 5)
    ),
    f"{T}/goals/{{goal_id:str}}/revisions": Case(
        "trajectory", {"description": "Two days a week"}, "description", ("reason", [])
    ),
    f"{T}/goals/{{goal_id:str}}/closure": Case(
        "trajectory", {"outcome": "reached"}, "outcome", ("outcome", None)
    ),
    f"{T}/actions": Case(
        "trajectory",
        {"description": "Intake", "owner": PROVIDER, "due_on": on(90)},
        "owner",
        ("due_on", "next week"),
    ),
    f"{T}/plan-signatures": Case(
        "trajectory", {"signatory": "client"}, "signatory", ("representative_ref", 12)
    ),
    f"{T}/evaluations": Case(
        "trajectory", {"results": "works"}, "results", ("blocking", "waiting_list")
    ),
    # --- escalations and blocks ---
    f"{T}/escalations": Case(
        "trajectory", {"level": "team", "reason": "waiting_list"}, "level", ("level", ["team"])
    ),
    f"{T}/escalations/{{escalation_id:str}}/level-changes": Case(
        "trajectory", {"to_level": "network", "reason": "stuck"}, "to_level", ("to_level", 2)
    ),
    f"{T}/escalations/{{escalation_id:str}}/resolution": Case(
        "trajectory", {"resolution": "a place"}, "resolution", ("resolution", ["a place"])
    ),
    f"{T}/blocks": Case(
        "trajectory", {"reasons": ["waiting_list"]}, "reasons", ("reasons", "waiting_list")
    ),
    f"{T}/unblocking": Case(
        "trajectory", {"resolution": "funded"}, "resolution", ("resolution", 0)
    ),
    # --- handover and the end ---
    f"{T}/handovers": Case(
        "trajectory", {"to_party": "org-next"}, "to_party", ("transfers_coordination", {"y": 1})
    ),
    f"{T}/follow-up-contacts": Case(
        "trajectory",
        {"contacted_party": "org-next", "outcome": "followed up"},
        "outcome",
        ("contacted_party", ["org-next"]),
    ),
    f"{T}/closure": Case(
        "trajectory",
        {"reason": "goals reached", "follow_up_by": "org-next"},
        "reason",
        ("follow_up_by", ["org-next"]),
    ),
    f"{T}/findings/share": Case(
        "trajectory",
        {
            "network_id": "00000000-0000-0000-0000-000000000000",
            "title": "Waiting lists",
            "text": "Residential places are scarce in the region.",
            "names_no_one": True,
        },
        "text",
        ("names_no_one", "yes"),
    ),
}

_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def fill(route: str, record_id: str) -> str:
    """The route with the record's id and item ids filled in."""
    return _PARAMETER.sub(
        lambda m: record_id if m[2] == "uuid" else ITEM_IDS.get(m[1], "item-unknown"), route
    )


def openapi_path(route: str) -> str:
    """``/v1/trajectories/{trajectory_id:uuid}`` → ``/v1/trajectories/{trajectory_id}``."""
    return _PARAMETER.sub(lambda m: "{" + m[1] + "}", route)


def item_routes() -> list[str]:
    """Routes that name an item (goal, agreement, ...) of an existing record."""
    return [r for r in CASES if any(f"{{{name}:" in r for name in ITEM_IDS)]


@dataclass(frozen=True)
class Target:
    """A client and their trajectory with a plan in the making, to aim any command at."""

    client_id: str
    trajectory_id: str

    def path(self, route: str) -> str:
        owner = CASES[route].owner
        return fill(route, self.client_id if owner == "client" else self.trajectory_id)

    def body(self, route: str) -> dict[str, Any]:
        return CASES[route].body(self.client_id, hours=5)
