"""A realistic, seeded workload: care trajectories that follow the procedures of the sources.

Each trajectory is a *script*: the commands a coordinator and the parties would send, in the
order they happen, as API request bodies. The same script can be

- run through ``CareRecord``'s use cases one command per transaction (:func:`run_step`), as the
  API does;
- loaded in bulk (:class:`BatchLoader`): the same use cases, but a batch of trajectories is
  recorded in one transaction, their events interleaved in time as a region's log would be;
- sent as HTTP requests (:func:`http_request`) to a running server.

A script is a pure function of ``(seed, index, as_of)``: trajectory 7 of seed 1 is the same
whatever else is generated, so loading streams (nothing but one batch is held in memory) and a
run is reproducible. Every date lies before ``as_of`` (yesterday by default), so nothing
happens in the future; trajectories still under way on ``as_of`` are cut there and stay open.

What a trajectory does (see DESIGN.md §3 and the rules in ``domain/``):
referral (a few declined), acceptance, a start consultation, consultations every two to four
months each planning the next (the second is the three-month one), a role agreement among 2-6
parties that each accept, goals with actions, a plan signed by the client or their
representative after the three-month consultation and renewed before its three years run out,
yearly evaluations, escalations in about a third (a third of those re-levelled, most resolved),
blocks in a sixth (most unblocked), handovers covered by a consent of the client in a fifth,
and, for those that ended, an end consultation, closing goals, a closure naming who follows up
the plan (most) and a follow-up contact months later.
"""

import heapq
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from eventsourcing.domain import Aggregate

from application import commands
from application.care_record import CareRecord, CommandResult
from domain.common import Actor, CommandContext, add_months
from domain.organisation import OrganisationKind
from domain.record import Record
from rodedraad.settings import Settings
from rodedraad.wiring import build_key_store

#: Named sizes, in trajectories.
SIZES: dict[str, int] = {"tiny": 25, "small": 1_000, "medium": 10_000, "large": 100_000}

#: (region, short code) — the geographic units statistics are cut by.
REGIONS: tuple[tuple[str, str], ...] = (
    ("west-flanders", "wvl"),
    ("east-flanders", "ovl"),
    ("antwerp", "ant"),
    ("limburg", "lim"),
    ("flemish-brabant", "vbr"),
    ("brussels", "bru"),
)
#: (sector, short code, weight).
SECTORS: tuple[tuple[str, str, int], ...] = (
    ("youth_care", "yc", 35),
    ("disability_care", "dc", 20),
    ("primary_care", "pc", 20),
    ("mental_health", "mh", 15),
    ("education", "ed", 10),
)
PROVIDERS_PER_SECTOR = 3
REFERRER_KINDS = ("school", "gp", "caw", "hospital")

_ZONE: tzinfo
try:
    _ZONE = ZoneInfo("Europe/Brussels")
except (KeyError, ValueError, OSError):  # pragma: no cover - no tz database on this machine
    _ZONE = UTC


def providers(region_code: str, sector_code: str) -> list[str]:
    return [f"{sector_code}-{region_code}-{n}" for n in range(1, PROVIDERS_PER_SECTOR + 1)]


def referrers(region_code: str) -> list[str]:
    return [f"{kind}-{region_code}" for kind in REFERRER_KINDS]


def region_organisations(region_code: str) -> list[str]:
    found = [org for _, code, _ in SECTORS for org in providers(region_code, code)]
    return found + referrers(region_code)


#: What each kind of referrer is in the organisation register (a CAW, general welfare work, is
#: none of the register's kinds).
REFERRER_KINDS_IN_REGISTER = {
    "school": OrganisationKind.SCHOOL,
    "gp": OrganisationKind.GP,
    "caw": OrganisationKind.OTHER,
    "hospital": OrganisationKind.HOSPITAL,
}
#: The region whose organisations nobody registered: the record names them all the same, so
#: they count as ``unclassified`` (issue #12: releases count it as a category of its own).
UNREGISTERED_REGION = "bru"


def organisation_registrations(occurred_at: datetime) -> list[commands.RegisterOrganisation]:
    """An admin's registrations of the workload's organisations, with their kinds and regions;
    those of ``UNREGISTERED_REGION`` left out."""
    found = []
    for region, region_code in REGIONS:
        if region_code == UNREGISTERED_REGION:
            continue
        kinds = dict.fromkeys(region_organisations(region_code), OrganisationKind.PROVIDER)
        kinds |= {
            f"{kind}-{region_code}": in_register
            for kind, in_register in REFERRER_KINDS_IN_REGISTER.items()
        }
        found += [
            commands.RegisterOrganisation(
                occurred_at=occurred_at, identifier=org, name=org, kind=kind, region=region
            )
            for org, kind in kinds.items()
        ]
    return found


def organisations_registered_on(as_of: date | None = None, years: int = 6) -> datetime:
    """A moment before the first trajectory a workload of ``years`` up to ``as_of`` generates."""
    first = (as_of or default_as_of()) - timedelta(days=366 * (years + 1))
    return datetime(first.year, first.month, first.day, 9, tzinfo=UTC)


def register_organisations(app: CareRecord, occurred_at: datetime) -> int:
    """Record ``organisation_registrations`` as an admin would; the number registered."""
    admin = Actor(user_id="u-admin", organisation="rodedraad-ops", role="admin")
    registrations = organisation_registrations(occurred_at)
    for registration in registrations:
        ctx = CommandContext(
            actor=admin,
            occurred_at=occurred_at,
            correlation_id="load-organisations",
            causation_id=None,
            now=datetime.now(UTC),
        )
        app.register_organisation(ctx, registration, provisional=False)
    return len(registrations)


def all_organisations() -> list[str]:
    """Every organisation a script can act for (one token each over HTTP)."""
    return [org for _, code in REGIONS for org in region_organisations(code)]


def actor(organisation: str) -> Actor:
    """The user who acts for ``organisation`` (one coordinator per organisation)."""
    return Actor(user_id=f"u-{organisation}", organisation=organisation, role="coordinator")


def default_as_of() -> date:
    """Yesterday (UTC): every generated fact lies before it, so none is in the future."""
    return datetime.now(UTC).date() - timedelta(days=1)


# --- commands --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How a command goes over HTTP: its request schema, route and the record it targets, and
    (for a command on an item its path names) the typed command the API makes of the two."""

    schema: type[commands.Command]
    route: str
    target: str  # "client" or "trajectory"
    addressed: type[commands.Command] | None = None


_T = "/v1/trajectories/{id}"
#: Keyed by the ``CareRecord`` method that runs the command.
COMMANDS: dict[str, CommandSpec] = {
    "register_client": CommandSpec(commands.RegisterClient, "/v1/clients", "client"),
    "appoint_representative": CommandSpec(
        commands.AppointRepresentative, "/v1/clients/{id}/representatives", "client"
    ),
    "grant_consent": CommandSpec(commands.GrantConsent, "/v1/clients/{id}/consents", "client"),
    "refer": CommandSpec(commands.Refer, "/v1/trajectories", "trajectory"),
    "accept": CommandSpec(commands.Accept, f"{_T}/acceptance", "trajectory"),
    "decline": CommandSpec(commands.Decline, f"{_T}/declination", "trajectory"),
    "hold_consultation": CommandSpec(
        commands.HoldConsultation, f"{_T}/consultations", "trajectory"
    ),
    "propose_role_agreement": CommandSpec(
        commands.ProposeRoleAgreement, f"{_T}/role-agreements", "trajectory"
    ),
    "accept_role_agreement": CommandSpec(
        commands.AnswerRoleAgreement,
        f"{_T}/role-agreements/{{agreement_id}}/acceptances",
        "trajectory",
        commands.AcceptRoleAgreementAt,
    ),
    "set_goal": CommandSpec(commands.SetGoal, f"{_T}/goals", "trajectory"),
    "revise_goal": CommandSpec(
        commands.ReviseGoal,
        f"{_T}/goals/{{goal_id}}/revisions",
        "trajectory",
        commands.ReviseGoalAt,
    ),
    "close_goal": CommandSpec(
        commands.CloseGoal, f"{_T}/goals/{{goal_id}}/closure", "trajectory", commands.CloseGoalAt
    ),
    "agree_action": CommandSpec(commands.AgreeAction, f"{_T}/actions", "trajectory"),
    "sign_plan": CommandSpec(commands.SignPlan, f"{_T}/plan-signatures", "trajectory"),
    "evaluate": CommandSpec(commands.Evaluate, f"{_T}/evaluations", "trajectory"),
    "raise_escalation": CommandSpec(commands.RaiseEscalation, f"{_T}/escalations", "trajectory"),
    "change_escalation_level": CommandSpec(
        commands.ChangeEscalationLevel,
        f"{_T}/escalations/{{escalation_id}}/level-changes",
        "trajectory",
        commands.ChangeEscalationLevelAt,
    ),
    "resolve_escalation": CommandSpec(
        commands.ResolveEscalation,
        f"{_T}/escalations/{{escalation_id}}/resolution",
        "trajectory",
        commands.ResolveEscalationAt,
    ),
    "block": CommandSpec(commands.BlockTrajectory, f"{_T}/blocks", "trajectory"),
    "unblock": CommandSpec(commands.UnblockTrajectory, f"{_T}/unblocking", "trajectory"),
    "hand_over": CommandSpec(commands.HandOver, f"{_T}/handovers", "trajectory"),
    "close_trajectory": CommandSpec(commands.CloseTrajectory, f"{_T}/closure", "trajectory"),
    "record_follow_up_contact": CommandSpec(
        commands.RecordFollowUpContact, f"{_T}/follow-up-contacts", "trajectory"
    ),
}


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a script: who sends it, when it happened, and the request body."""

    command: str
    organisation: str
    occurred_at: datetime
    body: dict[str, Any]
    #: Path parameters besides the record's id (``agreement_id``, ``goal_id``, ``escalation_id``).
    path: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrajectoryScript:
    index: int
    region: str
    sector: str
    coordinator: str
    #: ``closed``, ``open`` (still under way on ``as_of``) or ``declined``.
    outcome: str
    steps: tuple[Step, ...]


# --- vocabulary --------------------------------------------------------------------------------

_FIRST = ("Lotte", "Jonas", "Amira", "Noah", "Fien", "Milan", "Yara", "Lucas", "Nora", "Elias")
_LAST = ("Peeters", "Janssens", "Maes", "Claes", "Willems", "Wouters", "Mertens", "El Amrani")
_QUESTIONS = (
    "Support at home after a crisis placement",
    "Daytime activity and housing for a young adult with a disability",
    "School refusal and worries at home",
    "Care at home after a hospital stay; the family carer is exhausted",
    "Debt, housing and mental health problems at the same time",
    "Transition from youth care to adult services",
)
_CRITERIA = ("under 18", "lives at home", "18 to 25", "registered with VAPH", "has a GP")
_DECISIONS = (
    "Contact the housing service",
    "Start the application for a personal budget",
    "Ask the school for a care meeting",
    "Plan a home visit with the family carer",
    "Put the question to the regional network",
    "Check the waiting list position",
)
_GOALS = (
    "Stable housing within six months",
    "Back to school three days a week",
    "A daytime activity that suits",
    "The family carer gets respite",
    "Debts under control with a budget plan",
    "A network of people around the client",
)
_ROLES_OTHER = ("provider", "key_worker", "buddy", "process_guide")
_REASONS = (
    ("waiting_list", 30),
    ("capacity", 20),
    ("funding", 12),
    ("admission_criteria", 10),
    ("regulation", 8),
    ("cooperation", 8),
    ("client_situation", 7),
    ("network_breakdown", 5),
)
_PHRASES = (
    "Discussed with all parties",
    "Agreed in the consultation",
    "Confirmed by phone",
    "See the minutes of the consultation",
)


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=_ZONE)


# --- the generator -----------------------------------------------------------------------------


class _Script:
    """Collects a trajectory's steps, then orders them in time and cuts them at ``as_of``."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self._steps: list[tuple[datetime, int, Step]] = []

    def add(
        self,
        day: date,
        hour: int,
        minute: int,
        command: str,
        organisation: str,
        body: dict[str, Any],
        **path: str,
    ) -> None:
        moment = _at(day, hour, minute)
        step = Step(
            command, organisation, moment, {"occurred_at": moment.isoformat(), **body}, path
        )
        self._steps.append((moment, len(self._steps), step))

    def steps(self) -> tuple[Step, ...]:
        ordered = sorted(self._steps, key=lambda s: (s[0], s[1]))
        return tuple(step for moment, _, step in ordered if moment.date() < self.as_of)


def script(seed: int, index: int, as_of: date, years: int = 6) -> TrajectoryScript:
    """Trajectory ``index`` of ``seed``: referral some time in the last ``years`` years."""
    rng = random.Random(f"rodedraad:{seed}:{index}")  # noqa: S311 - reproducible, not secret
    region, code = rng.choice(REGIONS)
    sector, sector_code, _ = rng.choices(SECTORS, weights=[w for *_, w in SECTORS])[0]
    coordinator = rng.choice(providers(code, sector_code))
    local = [o for o in region_organisations(code) if o != coordinator]
    referrer = rng.choice(referrers(code))
    s = _Script(as_of)

    referral = as_of - timedelta(days=rng.randint(10, years * 365))
    s.add(
        referral - timedelta(days=rng.randint(0, 3)),
        9,
        0,
        "register_client",
        coordinator,
        {"name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"},
    )
    has_representative = rng.random() < 0.25
    if has_representative:
        s.add(
            referral,
            9,
            30,
            "appoint_representative",
            coordinator,
            {"representative_ref": "rep-1", "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"},
        )
    s.add(
        referral,
        10,
        0,
        "refer",
        coordinator,
        {
            "question": rng.choice(_QUESTIONS),
            "sector": sector,
            "region": region,
            "client_criteria": rng.sample(_CRITERIA, rng.randint(1, 3)),
            "referrer_engagement": "The referrer stays involved in the consultations",
            "referrer_organisation": referrer,
        },
    )

    def done(outcome: str) -> TrajectoryScript:
        return TrajectoryScript(index, region, sector, coordinator, outcome, s.steps())

    if rng.random() < 0.03:
        s.add(
            referral + timedelta(days=rng.randint(2, 14)),
            11,
            0,
            "decline",
            coordinator,
            {"reason": "The question fits another service better"},
        )
        return done("declined")

    accepted = referral + timedelta(days=rng.randint(1, 21))
    s.add(accepted, 11, 0, "accept", coordinator, {})
    start = accepted + timedelta(days=rng.randint(3, 21))
    duration = int(min(6 * 365, max(100, rng.lognormvariate(math.log(420), 0.65))))
    end = start + timedelta(days=duration)
    closes = end < as_of  # the end consultation is held: everything is settled before it

    # A handover passes coordination on (after a consent of the client that covers it).
    handover: tuple[date, str, bool] | None = None
    if rng.random() < 0.2 and duration > 120:
        day = start + timedelta(days=rng.randint(60, duration - 30))
        handover = (day, rng.choice(local), rng.random() < 0.8)

    def coordinator_on(day: date) -> str:
        if handover is not None and handover[2] and day > handover[0]:
            return handover[1]
        return coordinator

    parties = [coordinator, *rng.sample(local, rng.randint(1, 5))]

    def participants(day: date) -> list[dict[str, Any]]:
        present = [coordinator_on(day), *rng.sample(parties[1:], rng.randint(1, len(parties) - 1))]
        found = [
            {"organisation": o, "role": "planmaker" if i == 0 else "provider"}
            for i, o in enumerate(dict.fromkeys(present))
        ]
        if rng.random() < 0.4:
            found.append(
                {"organisation": "client-network", "role": "informal_carer", "person_ref": "nw-1"}
            )
        return found

    # Consultations: every two to three months (now and then a longer gap), each planning the
    # next (003); the second is the three-month one, held within three months of acceptance.
    dates = [start]
    following = max(start + timedelta(days=45), accepted + timedelta(days=rng.randint(70, 89)))
    while following < end - timedelta(days=14):
        dates.append(following)
        gap = rng.randint(91, 130) if rng.random() < 0.1 else rng.randint(50, 88)
        following = following + timedelta(days=gap)
    for i, day in enumerate(dates):
        planned = dates[i + 1] if i + 1 < len(dates) else end
        if rng.random() < 0.1:  # the next meeting slips: planned earlier than it takes place
            planned = max(day + timedelta(days=1), planned - timedelta(days=rng.randint(7, 45)))
        kind = "start" if i == 0 else "three_month" if i == 1 else None
        if kind is None:
            kind = _weighted(rng, (("mdo", 45), ("ad_hoc", 30), ("intervision", 25)))
        s.add(
            day,
            14,
            0,
            "hold_consultation",
            coordinator_on(day),
            {
                "kind": kind,
                "participants": participants(day),
                "client_involvement": _weighted(
                    rng,
                    (("present", 60), ("consulted_beforehand", 30), ("not_involved", 10)),
                ),
                "decisions": rng.sample(_DECISIONS, rng.randint(1, 3)),
                "next_consultation_on": planned.isoformat(),
            },
        )

    # The role agreement among the parties, each accepting it (001, 003).
    s.add(
        start,
        15,
        0,
        "propose_role_agreement",
        coordinator,
        {
            "agreement_id": "ra-1",
            "assignments": [
                {
                    "party": party,
                    "role": "planmaker" if i == 0 else rng.choice(_ROLES_OTHER),
                    "responsibilities": rng.choice(_DECISIONS),
                }
                for i, party in enumerate(parties)
            ],
        },
    )
    for i, party in enumerate(parties):
        delay = 0 if i == 0 else rng.randint(0, 14)
        s.add(
            start + timedelta(days=delay),
            15 if delay == 0 else 9,
            5 + i,
            "accept_role_agreement",
            party,
            {},
            agreement_id="ra-1",
        )

    # Goals and actions ("wie doet wat"); the first goal stays open for the plan's renewals.
    goals = rng.randint(1, 4)
    for g in range(1, goals + 1):
        day = start + timedelta(days=0 if g == 1 else rng.randint(1, 30))
        s.add(
            day,
            15,
            30 + g,
            "set_goal",
            coordinator,
            {"goal_id": f"goal-{g}", "description": rng.choice(_GOALS)},
        )
        for a in range(1, rng.randint(1, 2) + 1):
            s.add(
                day,
                15,
                40 + 2 * g + a,
                "agree_action",
                coordinator,
                {
                    "action_id": f"action-{g}-{a}",
                    "description": rng.choice(_DECISIONS),
                    "owner": rng.choice(parties),
                    "due_on": (day + timedelta(days=rng.randint(14, 180))).isoformat(),
                    "goal_id": f"goal-{g}",
                },
            )
    if rng.random() < 0.2 and duration > 90:
        day = start + timedelta(days=rng.randint(31, duration - 30))
        s.add(
            day,
            11,
            30,
            "revise_goal",
            coordinator_on(day),
            {"description": rng.choice(_GOALS), "reason": "Adjusted after the consultation"},
            goal_id="goal-1",
        )
    closed_goals: set[int] = set()
    for g in range(2, goals + 1):
        if rng.random() < 0.3 and duration > 120:
            closed_goals.add(g)
            day = start + timedelta(days=rng.randint(60, duration - 20))
            s.add(
                day,
                12,
                g,
                "close_goal",
                coordinator_on(day),
                {"outcome": "Achieved"},
                goal_id=f"goal-{g}",
            )

    # The plan: signed after the three-month consultation, evaluated yearly, renewed within 3 years.
    signed = (dates[1] if len(dates) > 1 else start + timedelta(days=45)) + timedelta(
        days=rng.randint(0, 10)
    )
    signatory = "representative" if has_representative and rng.random() < 0.5 else "client"
    sign_body = {
        "signatory": signatory,
        "representative_ref": "rep-1" if signatory == "representative" else None,
    }
    last_day = end - timedelta(days=7)
    if signed < last_day:
        s.add(signed, 16, 0, "sign_plan", coordinator_on(signed), sign_body)
        evaluation = add_months(signed, 12) - timedelta(days=rng.randint(0, 45))
        while True:
            renewal = add_months(signed, 34) + timedelta(days=rng.randint(0, 25))
            while evaluation < min(last_day, renewal):
                next_on = evaluation + timedelta(days=rng.randint(300, 360))
                s.add(
                    evaluation,
                    13,
                    0,
                    "evaluate",
                    coordinator_on(evaluation),
                    {
                        "results": rng.choice(_PHRASES),
                        "blocking": [_weighted(rng, _REASONS)] if rng.random() < 0.3 else [],
                        "pdca_phase": rng.choice(("clarify", "design", "try_out", "embed")),
                        "new_agreements": rng.sample(_DECISIONS, rng.randint(0, 2)),
                        "next_evaluation_on": next_on.isoformat(),
                    },
                )
                evaluation = next_on - timedelta(days=rng.randint(0, 30))
            if renewal >= last_day:
                break
            s.add(renewal, 16, 0, "sign_plan", coordinator_on(renewal), sign_body)
            signed = renewal

    # Escalations (with those of blocks below, in about a third): some re-levelled, most
    # resolved, most within the 30 days the policy asks (all before a closure).
    if rng.random() < 0.25 and duration > 40:
        for e in range(1, (2 if rng.random() < 0.2 else 1) + 1):
            raised = start + timedelta(days=rng.randint(10, duration - 10))
            late = rng.random() < 0.25
            resolved: date | None = raised + timedelta(
                days=rng.randint(31, 120) if late else rng.randint(5, 30)
            )
            if rng.random() < 0.2:
                resolved = None
            if closes and (resolved is None or resolved >= end - timedelta(days=1)):
                resolved = max(raised + timedelta(days=1), end - timedelta(days=1))
            eid = f"esc-{e}"
            s.add(
                raised,
                10,
                30 + e,
                "raise_escalation",
                coordinator_on(raised),
                {
                    "escalation_id": eid,
                    "level": "team" if rng.random() < 0.6 else "organisation",
                    "reason": _weighted(rng, _REASONS),
                    "description": "The agreed support does not start",
                },
            )
            relevel = raised + timedelta(days=rng.randint(5, 40))
            if rng.random() < 0.35 and (resolved is None or relevel < resolved):
                s.add(
                    relevel,
                    10,
                    45 + e,
                    "change_escalation_level",
                    coordinator_on(relevel),
                    {
                        "to_level": "network" if rng.random() < 0.7 else "policy",
                        "reason": "Not solvable within the organisation",
                    },
                    escalation_id=eid,
                )
            if resolved is not None:
                s.add(
                    resolved,
                    11,
                    15 + e,
                    "resolve_escalation",
                    coordinator_on(resolved),
                    {"resolution": rng.choice(_PHRASES)},
                    escalation_id=eid,
                )

    # Blocks in a sixth: most unblocked (all before a closure).
    if rng.random() < 1 / 6 and duration > 60:
        blocked = start + timedelta(days=rng.randint(20, duration - 20))
        unblocked: date | None = blocked + timedelta(days=rng.randint(7, 150))
        if rng.random() < 0.15:
            unblocked = None
        if closes and (unblocked is None or unblocked >= end - timedelta(days=1)):
            unblocked = max(blocked + timedelta(days=1), end - timedelta(days=2))
        reasons = list(dict.fromkeys(_weighted(rng, _REASONS) for _ in range(rng.randint(1, 2))))
        s.add(
            blocked,
            9,
            30,
            "block",
            coordinator_on(blocked),
            {"reasons": reasons, "description": "No place available"},
        )
        if unblocked is not None:
            s.add(
                unblocked,
                9,
                45,
                "unblock",
                coordinator_on(unblocked),
                {"resolution": "A place became available"},
            )
        if unblocked is None or unblocked - blocked > timedelta(days=14):
            # A block older than 14 days is escalated (DESIGN §4); resolved when it lifts.
            raised = blocked + timedelta(days=rng.randint(3, 13))
            s.add(
                raised,
                10,
                40,
                "raise_escalation",
                coordinator_on(raised),
                {
                    "escalation_id": "esc-block",
                    "level": "organisation",
                    "reason": reasons[0],
                    "description": "The trajectory is stuck",
                },
            )
            if unblocked is not None:
                s.add(
                    unblocked,
                    10,
                    0,
                    "resolve_escalation",
                    coordinator_on(unblocked),
                    {"resolution": "The block is lifted"},
                    escalation_id="esc-block",
                )

    # A handover, covered by a consent of the client granted some days before (004).
    if handover is not None:
        day, to_party, transfers = handover
        granted = day - timedelta(days=rng.randint(1, 10))
        s.add(
            granted,
            9,
            15,
            "grant_consent",
            coordinator_on(granted),
            {
                "consent_id": "consent-1",
                "to_party": to_party,
                "scopes": ["plan", "dossier"],
                "purpose": "Handover of the plan and the coordination",
                "until": (day + timedelta(days=730)).isoformat() if rng.random() < 0.5 else None,
            },
        )
        s.add(
            day,
            13,
            0,
            "hand_over",
            coordinator_on(day),
            {
                "to_party": to_party,
                "scopes": ["plan"] if rng.random() < 0.5 else ["plan", "dossier"],
                "transfers_coordination": transfers,
            },
        )

    # The end: an end consultation, goals closed, the closure naming who follows up (000).
    final = coordinator_on(end)
    s.add(
        end,
        14,
        0,
        "hold_consultation",
        final,
        {
            "kind": "end",
            "participants": participants(end),
            "client_involvement": "present",
            "decisions": ["Close the trajectory"],
            "next_consultation_on": None,
        },
    )
    for g in range(1, goals + 1):
        if g not in closed_goals and rng.random() < 0.6:
            s.add(
                end,
                14,
                30 + g,
                "close_goal",
                final,
                {"outcome": rng.choice(_PHRASES)},
                goal_id=f"goal-{g}",
            )
    closed = end + timedelta(days=rng.randint(0, 7))
    follow_up_by = rng.choice([final, *parties[1:]]) if rng.random() < 0.85 else None
    s.add(
        closed,
        16,
        30,
        "close_trajectory",
        final,
        {
            "reason": "The goals of the plan are reached",
            "follow_up_by": follow_up_by,
            "no_follow_up_reason": None if follow_up_by else "The client wants no follow-up",
        },
    )
    if rng.random() < 0.8:  # most within the six months the procedure asks
        contact = closed + timedelta(days=rng.randint(120, 180))
        s.add(
            contact,
            10,
            0,
            "record_follow_up_contact",
            follow_up_by or final,
            {"contacted_party": follow_up_by or final, "outcome": "The plan is still followed"},
        )
    return done("closed" if closes else "open")


def generate(
    seed: int, count: int, *, start: int = 0, as_of: date | None = None, years: int = 6
) -> Iterator[TrajectoryScript]:
    """Scripts ``start`` … ``start + count - 1`` of ``seed``, generated one at a time."""
    day = as_of or default_as_of()
    for index in range(start, start + count):
        yield script(seed, index, day, years)


# --- running a script through the application ------------------------------------------------


@dataclass(slots=True)
class Ids:
    """The ids the server gives a script's client and trajectory as it runs."""

    client: UUID | None = None
    trajectory: UUID | None = None


def decode(step: Step, ids: Ids) -> commands.Command:
    """The typed command the API makes of a step (same schema, same validation)."""
    body = step.body
    if step.command == "refer":
        body = {**body, "client_id": str(ids.client)}
    spec = COMMANDS[step.command]
    command = msgspec.convert(body, spec.schema)
    if spec.addressed is not None:
        return spec.addressed.at(command, **step.path)
    return command


def run_step(
    app: CareRecord, step: Step, ids: Ids, *, correlation_id: str = "benchmark"
) -> CommandResult:
    """Run one step through ``CareRecord``'s use case, as the API's handler would."""
    command = decode(step, ids)
    ctx = CommandContext(
        actor=actor(step.organisation),
        occurred_at=command.occurred_at,
        correlation_id=correlation_id,
        causation_id=None,
        now=datetime.now(UTC),
    )
    if isinstance(command, commands.RegisterClient):
        result = app.register_client(ctx, command)
        ids.client = result.id
        return result
    if isinstance(command, commands.Refer):
        result = app.refer(ctx, command)
        ids.trajectory = result.id
        return result
    if isinstance(command, commands.ClientCommand):
        assert ids.client is not None
        return app.change_client(ctx, ids.client, None, command)
    assert isinstance(command, commands.TrajectoryCommand)
    assert ids.trajectory is not None
    return app.change_trajectory(ctx, ids.trajectory, None, command)


def http_request(step: Step, ids: Ids) -> tuple[str, dict[str, Any]]:
    """The route and JSON body of a step (after its script's earlier steps have run)."""
    spec = COMMANDS[step.command]
    target = ids.client if spec.target == "client" else ids.trajectory
    path = spec.route.format(id=target, **step.path)
    body = step.body
    if step.command == "refer":
        body = {**body, "client_id": str(ids.client)}
    return path, body


def record_answer(step: Step, ids: Ids, answer_id: str) -> None:
    """Remember the id a creating command answered with."""
    if step.command == "register_client":
        ids.client = UUID(answer_id)
    elif step.command == "refer":
        ids.trajectory = UUID(answer_id)


# --- bulk loading ----------------------------------------------------------------------------


class _BatchingCareRecord(CareRecord):
    """``CareRecord`` whose use cases keep their changes in memory until :meth:`flush`.

    The use cases run unchanged (the same rules, the same client checks); only where an
    aggregate is loaded from and saved to differs, so a batch of trajectories is recorded in
    one transaction.
    """

    name = CareRecord.name  # the same event store tables as the application

    def __init__(self, settings: Settings) -> None:
        if not settings.database.is_postgres:
            settings.database.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        # The application's own key store: what is loaded is sealed with keys the server finds.
        super().__init__(env=settings.database.eventsourcing_env(), keys=build_key_store(settings))
        self._pending: dict[UUID, Aggregate] = {}

    def _load(self, cls: Any, aggregate_id: UUID) -> Any:
        pending = self._pending.get(aggregate_id)
        if pending is not None and isinstance(pending, cls):
            return pending
        return super()._load(cls, aggregate_id)

    def _check_writable(self, aggregate: Record) -> None:
        """A record of this batch: new (its key is made as it is recorded) or already checked."""
        if aggregate.id not in self._pending:
            super()._check_writable(aggregate)

    def _holds(self, aggregate_id: UUID) -> bool:
        """A record of this batch counts as held (a network established earlier in the batch)."""
        return aggregate_id in self._pending or super()._holds(aggregate_id)

    def _save_all(self, *aggregates: Aggregate, item_id: str | None = None) -> CommandResult:
        for aggregate in aggregates:
            self._pending[aggregate.id] = aggregate
        first = aggregates[0]
        return CommandResult(id=first.id, version=first.version, position=None, item_id=item_id)

    def flush(self) -> int:
        """Record the batch, its aggregates' events interleaved by when they happened."""
        streams = [a.collect_events() for a in self._pending.values()]
        intervals = {
            a.id: self.snapshotting_intervals.get(type(a), 0) for a in self._pending.values()
        }
        self._pending.clear()
        events = list(heapq.merge(*streams, key=lambda e: e.occurred_at))  # type: ignore[attr-defined]
        if not events:
            return 0
        self.save(*events)
        for event in events:  # snapshots, of the kinds and at the intervals the application takes
            interval = intervals[event.originator_id]
            if interval and event.originator_version % interval == 0:
                self.take_snapshot(event.originator_id, version=event.originator_version)
        return len(events)


@dataclass(slots=True)
class LoadStats:
    trajectories: int = 0
    commands: int = 0
    events: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class BatchLoader:
    """Loads scripts through the use cases, ``batch_size`` trajectories per transaction."""

    def __init__(self, settings: Settings, batch_size: int = 250) -> None:
        self.app = _BatchingCareRecord(settings)
        self.batch_size = batch_size

    def load(
        self,
        scripts: Iterable[TrajectoryScript],
        progress: Callable[[LoadStats], None] | None = None,
        *,
        organisations_registered_on: datetime | None = None,
    ) -> LoadStats:
        """``organisations_registered_on``: register the workload's organisations first, on
        that moment (``organisation_registrations``)."""
        stats = LoadStats()
        started = time.perf_counter()
        if organisations_registered_on is not None:
            register_organisations(self.app, organisations_registered_on)
            stats.events += self.app.flush()
        in_batch = 0
        for trajectory in scripts:
            ids = Ids()
            for step in trajectory.steps:
                run_step(self.app, step, ids, correlation_id=f"load-{trajectory.index}")
            stats.trajectories += 1
            stats.commands += len(trajectory.steps)
            stats.outcomes[trajectory.outcome] = stats.outcomes.get(trajectory.outcome, 0) + 1
            in_batch += 1
            if in_batch >= self.batch_size:
                stats.events += self.app.flush()
                in_batch = 0
                stats.seconds = time.perf_counter() - started
                if progress is not None:
                    progress(stats)
        stats.events += self.app.flush()
        stats.seconds = time.perf_counter() - started
        return stats

    def close(self) -> None:
        self.app.close()
