"""The workload's learning networks: each region's network and the deployment's forum (issue #14).

Beside the trajectories, seed 001 works at the meso and macro levels: per region a learning
network that meets every quarter (and holds a sector consultation of the mandated providers once
or twice a year), and one forum for the deployment that meets yearly. This module writes what
they record over the workload's years as a *script*, the commands the forum and the networks'
coordinating organisations would send, in the order they happen, as API request bodies:

- the forum is established first, and admits the regions' coordinating organisations;
- each region's network is established by the forum in the workload's first two months, with a
  CAW (general welfare work) coordinating it; members join from the region's organisations of
  the register (a few leave and others join over the years) — none for the region whose
  organisations nobody registered (``UNREGISTERED_REGION``): its coordinator meets alone;
- themes are proposed each quarter, scheduled for the quarter's meeting, discussed there and most
  closed with a conclusion; a meeting every quarter, a sector consultation once or twice a year;
- a policy signal or two a year, resting on the themes discussed: most answered, some closed,
  some escalated to the forum, which answers them;
- each January the lessons of the past year, followed by an improvement trajectory measured
  every three to five months (002's instruments).

About 30 commands per region per year (a few hundred over six years), the forum fewer. The script
is a pure function of ``(seed, as_of, years)`` and every date lies before ``as_of``; meetings cite
no statistics release (the workload publishes none: signals rest on themes).
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from application import commands
from application.care_record import CareRecord, CommandResult
from benchmarks.workload import (
    _ZONE,
    REGIONS,
    SECTORS,
    UNREGISTERED_REGION,
    BatchLoader,
    default_as_of,
    providers,
    referrers,
)
from domain.common import Actor, CommandContext
from domain.learning_network import NetworkLevel, network_id

#: The organisation that coordinates the deployment's forum (it needs no registration).
FORUM_COORDINATOR = "forum-flanders"


def network_coordinator(region_code: str) -> str:
    """The CAW of the region coordinates its learning network."""
    return f"caw-{region_code}"


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """How a command on a learning network goes over HTTP: its request schema, and (for a
    command on an item its path names) the typed command the API makes of the two."""

    schema: type[commands.Command]
    addressed: type[commands.Command] | None = None


#: Keyed by the route name of ``api.learning_networks``.
NETWORK_COMMANDS: dict[str, NetworkSpec] = {
    "establish_learning_network": NetworkSpec(commands.EstablishLearningNetwork),
    "admit_network_member": NetworkSpec(commands.AdmitNetworkMember),
    "record_network_member_left": NetworkSpec(
        commands.RecordNetworkMemberLeft, commands.RecordNetworkMemberLeftAt
    ),
    "propose_theme": NetworkSpec(commands.ProposeTheme),
    "schedule_theme": NetworkSpec(commands.ScheduleTheme, commands.ScheduleThemeAt),
    "close_theme": NetworkSpec(commands.CloseTheme, commands.CloseThemeAt),
    "hold_network_meeting": NetworkSpec(commands.HoldNetworkMeeting),
    "raise_policy_signal": NetworkSpec(commands.RaisePolicySignal),
    "answer_policy_signal": NetworkSpec(commands.AnswerPolicySignal, commands.AnswerPolicySignalAt),
    "close_policy_signal": NetworkSpec(commands.ClosePolicySignal, commands.ClosePolicySignalAt),
    "escalate_policy_signal": NetworkSpec(
        commands.EscalatePolicySignal, commands.EscalatePolicySignalAt
    ),
    "publish_lessons": NetworkSpec(commands.PublishLessons),
    "start_improvement_trajectory": NetworkSpec(commands.StartImprovementTrajectory),
    "measure_improvement_trajectory": NetworkSpec(
        commands.MeasureImprovementTrajectory, commands.MeasureImprovementTrajectoryAt
    ),
}


@dataclass(frozen=True, slots=True)
class NetworkStep:
    """One command on a network: who sends it in which role, when, on which network (a region,
    or ``None`` for the forum), and the request body."""

    command: str
    organisation: str
    role: str  # "forum" or "learning_network"
    occurred_at: datetime
    region: str | None
    body: dict[str, Any]
    #: Path parameters besides the network's id (``theme_id``, ``signal_id``, …).
    path: dict[str, str] = field(default_factory=dict)

    @property
    def network(self) -> Any:
        level = NetworkLevel.MACRO if self.region is None else NetworkLevel.MESO
        return network_id(level, self.region)


# --- vocabulary --------------------------------------------------------------------------------

_THEMES = (
    ("Waiting lists for residential youth care", "statistics"),
    ("Handover from youth care to adult services at 18", "member_experience"),
    ("School absence while care is being arranged", "member_experience"),
    ("Respite for exhausted family carers", "member_experience"),
    ("Debt counselling that starts too late", "member_experience"),
    ("Admission criteria that exclude double diagnoses", "member_experience"),
    ("Housing first for young adults", "statistics"),
    ("The GP's place in the cooperation consultation", "member_experience"),
    ("Crisis places that are never free on Fridays", "member_experience"),
    ("Personal budgets that take two years", "statistics"),
)
_CONCLUSIONS = (
    "Agreed a shared intake form for the region",
    "Each provider names a contact person for the network",
    "Raised with policy as a blocking structure",
    "Solved within the region; no further action",
    "Taken up in the yearly lessons",
)
_SIGNALS = (
    ("waiting_list", "Residential places wait more than a year; trajectories stall meanwhile"),
    ("admission_criteria", "Criteria exclude clients with more than one diagnosis"),
    ("funding", "Coordination time is nowhere funded"),
    ("regulation", "Consent rules block the handover of the plan between sectors"),
    ("cooperation", "Adult services do not join consultations before the 18th birthday"),
)
_ADDRESSEES = ("Flemish Agency for Youth Welfare", "VAPH", "the province", "the municipality")
_IMPROVEMENTS = (
    "One intake form for the region",
    "A transition consultation at 17",
    "A respite pool of volunteers",
    "A crisis place rota across providers",
)
_AUDIENCES = ("practitioners", "organisations", "clients_and_families", "policy", "public")
_PHASES = ("clarify", "design", "try_out", "embed")
_RUNGS = ("informed", "consulted", "advising", "co_producing", "co_deciding")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=_ZONE)


class _Network:
    """Collects one network's steps, keeping the state the next ones depend on (who is a
    member, which themes are open, which signals are open); a step outside the network's time
    (before its establishment, on or after ``as_of``) is left out with its consequences."""

    def __init__(self, region: str | None, organisation: str, role: str, as_of: date) -> None:
        self.region = region
        self.organisation = organisation
        self.role = role
        self.as_of = as_of
        self.established: date | None = None
        #: Member organisations, with the day each joined (the coordinator from the start).
        self.members: dict[str, date] = {organisation: date.min}
        self.open_themes: list[str] = []
        self.discussed: list[str] = []
        self.steps: list[tuple[datetime, int, NetworkStep]] = []

    def joined_before(self, day: date) -> list[str]:
        """The members besides the coordinator who joined before ``day``."""
        return [m for m, joined in self.members.items() if date.min < joined < day]

    def add(self, day: date, hour: int, command: str, body: dict[str, Any], **path: str) -> bool:
        """The step, when it lies in the network's time; whether it was added."""
        if day >= self.as_of or (self.established is not None and day <= self.established):
            return False
        moment = _at(day, hour, len(self.steps) % 60)
        step = NetworkStep(
            command,
            self.organisation,
            self.role,
            moment,
            self.region,
            {"occurred_at": moment.isoformat(), **body},
            path,
        )
        self.steps.append((moment, len(self.steps), step))
        return True


def _region_network(
    rng: random.Random, network: _Network, code: str, first: date, forum: _Network
) -> None:
    """A region's network over the years: see the module's docstring."""
    region = network.region
    established = first + timedelta(days=rng.randint(1, 60))
    # The forum establishes the region's network (a forum token, issue #14 point 4).
    forum.add(
        established,
        9,
        "establish_learning_network",
        {
            "level": "meso",
            "region": region,
            "coordinating_organisation": network.organisation,
        },
    )
    network.established = established - timedelta(days=1)  # the establishment's own day counts
    candidates = [] if code == UNREGISTERED_REGION else _member_candidates(rng, code)
    outside = list(candidates)

    def admit(day: date) -> None:
        organisation, expertise, role = outside.pop(0)
        if network.add(
            day,
            9,
            "admit_network_member",
            {"organisation": organisation, "expertise": expertise, "role": role},
        ):
            network.members[organisation] = day

    for _ in range(min(len(outside), rng.randint(5, 7))):
        admit(established + timedelta(days=rng.randint(1, 20)))

    theme_number = signal_number = improvement_number = 0
    for year in range(established.year, network.as_of.year + 1):
        january = date(year, 1, 1)
        # Membership changes in the first days of the year, before any meeting.
        left = january + timedelta(days=rng.randint(2, 8))
        if year > established.year and rng.random() < 0.4 and len(network.joined_before(left)) > 1:
            leaving = rng.choice(network.joined_before(left))
            if network.add(
                left,
                9,
                "record_network_member_left",
                {"reason": "Reorganisation of the organisation's services"},
                organisation=leaving,
            ):
                del network.members[leaving]
                if outside:
                    admit(january + timedelta(days=rng.randint(9, 14)))
        # Last year's lessons, and the improvement trajectory they propose.
        if year > established.year:
            published = january + timedelta(days=rng.randint(15, 30))
            proposal = rng.choice(_IMPROVEMENTS)
            lessons = network.add(
                published,
                15,
                "publish_lessons",
                {
                    "year": year - 1,
                    "what_worked": ["Themes came in from every sector"],
                    "what_did_not": ["Adult services joined too rarely"],
                    "improvement_paths": [proposal],
                    "action_proposals": [
                        {"proposal_id": f"ap-{year - 1}", "description": proposal}
                    ],
                    "audiences": rng.sample(_AUDIENCES, rng.randint(2, 4)),
                },
            )
            if lessons:
                improvement_number += 1
                improvement_id = f"imp-{improvement_number}"
                started = published + timedelta(days=rng.randint(7, 30))
                if network.add(
                    started,
                    11,
                    "start_improvement_trajectory",
                    {
                        "improvement_id": improvement_id,
                        "title": proposal,
                        "action_proposal": proposal,
                        "theme_id": rng.choice(network.discussed) if network.discussed else None,
                    },
                ):
                    measured = started
                    for m in range(rng.randint(2, 3)):
                        measured += timedelta(days=rng.randint(90, 150))
                        network.add(
                            measured,
                            14,
                            "measure_improvement_trajectory",
                            {
                                "measured_on": measured.isoformat(),
                                "pdca_phase": _PHASES[min(m + 1, 3)],
                                "participation": rng.choice(_RUNGS),
                                "confidence": rng.randint(2, 5),
                                "reach": {
                                    "clients": {"direct": {"now": rng.randint(5, 40)}},
                                    "professionals": {
                                        "direct": {"now": rng.randint(10, 60)},
                                        "indirect": {"expected": rng.randint(50, 200)},
                                    },
                                },
                            },
                            improvement_id=improvement_id,
                        )
        for quarter in range(4):
            start = date(year, 3 * quarter + 1, 1)
            # Themes come in during the quarter's first weeks …
            for _ in range(rng.randint(1, 2)):
                theme_number += 1
                title, source = _THEMES[rng.randrange(len(_THEMES))]
                theme_id = f"theme-{theme_number}"
                if network.add(
                    start + timedelta(days=rng.randint(0, 14)),
                    10,
                    "propose_theme",
                    {
                        "theme_id": theme_id,
                        "title": title,
                        "description": f"{title}: seen by several members this quarter",
                        "source_kind": source,
                    },
                ):
                    network.open_themes.append(theme_id)
            # … are scheduled for the quarter's meeting, discussed there, most closed.
            held = start + timedelta(days=rng.randint(20, 80))
            discussed = network.open_themes[-3:]
            for theme_id in discussed:
                network.add(
                    held - timedelta(days=rng.randint(3, 5)),
                    11,
                    "schedule_theme",
                    {"scheduled_for": held.isoformat()},
                    theme_id=theme_id,
                )
            joined = network.joined_before(held)
            present = [network.organisation, *rng.sample(joined, max(0, len(joined) - 1))]
            if not network.add(
                held,
                17,
                "hold_network_meeting",
                {
                    "meeting_id": f"meeting-{year}-q{quarter + 1}",
                    "kind": "learning_network",
                    "held_on": held.isoformat(),
                    "members_present": present,
                    "themes_discussed": discussed,
                    "conclusions": [rng.choice(_CONCLUSIONS)],
                },
            ):
                continue
            network.discussed += [t for t in discussed if t not in network.discussed]
            for theme_id in discussed:
                if rng.random() < 0.6:
                    network.add(
                        held + timedelta(days=rng.randint(1, 6)),
                        10,
                        "close_theme",
                        {"conclusion": rng.choice(_CONCLUSIONS)},
                        theme_id=theme_id,
                    )
                    network.open_themes.remove(theme_id)
            # Now and then a blocking structure, signalled to policy on what was discussed.
            if discussed and rng.random() < 0.4:
                signal_number += 1
                _signal(rng, network, forum, f"signal-{signal_number}", held, discussed)
        # The sector consultation of the mandated providers, once or twice a year.
        for half in range(rng.randint(1, 2)):
            held = date(year, 6 * half + 4, 1) + timedelta(days=rng.randint(0, 50))
            providers_present = [
                network.organisation,
                *[m for m in network.joined_before(held) if m.split("-")[0] in _SECTOR_CODES],
            ]
            network.add(
                held,
                16,
                "hold_network_meeting",
                {
                    "meeting_id": f"sector-{year}-{half + 1}",
                    "kind": "sector_consultation",
                    "held_on": held.isoformat(),
                    "members_present": providers_present,
                    "conclusions": ["Capacity and waiting lists reviewed with the providers"],
                },
            )


_SECTOR_CODES = {code for _, code, _ in SECTORS}


def _member_candidates(rng: random.Random, code: str) -> list[tuple[str, str, str]]:
    """The region's registered organisations that may join, in the order they would."""
    found = [
        (org, "care and support in the sector", "provider" if n == 0 else "practitioner")
        for _, sector_code, _ in SECTORS
        for n, org in enumerate(providers(code, sector_code)[:2])
    ]
    found += [
        (org, "signals from daily practice", "practitioner")
        for org in referrers(code)
        if org != network_coordinator(code)
    ]
    rng.shuffle(found)
    # A provider's client council brings the clients' experience (never a client as member).
    first_provider = next(i for i, f in enumerate(found) if f[2] == "provider")
    org = found.pop(first_provider)[0]
    return [(org, "the client council's experience", "client_representative"), *found]


def _signal(
    rng: random.Random,
    network: _Network,
    forum: _Network,
    signal_id: str,
    held: date,
    themes: list[str],
) -> None:
    category, description = rng.choice(_SIGNALS)
    raised = held + timedelta(days=rng.randint(7, 20))
    if not network.add(
        raised,
        12,
        "raise_policy_signal",
        {
            "signal_id": signal_id,
            "category": category,
            "description": description,
            "evidence": {"themes": themes[: rng.randint(1, len(themes))]},
            "addressed_to": rng.choice(_ADDRESSEES),
        },
    ):
        return
    # What became of it: (who records, days after the step before, command, body, signal id).
    answered = (network, (30, 120), "answer_policy_signal", _ANSWER, signal_id)
    received = f"{network.region}:{signal_id}"
    fates: list[list[tuple[_Network, tuple[int, int], str, dict[str, str], str]]] = [
        [answered],
        [answered, (network, (30, 90), "close_policy_signal", _IMPLEMENTED, signal_id)],
        [
            (network, (20, 60), "escalate_policy_signal", _TO_THE_FORUM, signal_id),
            (forum, (30, 120), "answer_policy_signal", _FORUM_ANSWER, received),
        ],
        [(network, (10, 60), "close_policy_signal", _SOLVED, signal_id)],
        [],  # still open
    ]
    day = raised
    for recorder, (least, most), command, body, item in rng.choices(
        fates, weights=(33, 22, 25, 10, 10)
    )[0]:
        day += timedelta(days=rng.randint(least, most))
        if not recorder.add(day, 13, command, body, signal_id=item):
            return


_ANSWER = {"answer": "Taken up in the next policy round", "answered_by": "the addressee"}
_IMPLEMENTED = {"reason": "The answer is implemented"}
_TO_THE_FORUM = {"reason": "The region cannot move it: it needs a decision at the forum"}
_FORUM_ANSWER = {"answer": "On the agenda of the policy round", "answered_by": "the forum"}
_SOLVED = {"reason": "Solved within the region after all"}


def _forum_years(rng: random.Random, forum: _Network, first: date) -> None:
    """The forum's own work: its members, a yearly forum meeting on themes of its own (from
    the signals it received), its lessons."""
    for region, code in REGIONS:
        organisation = network_coordinator(code)
        joined = first + timedelta(days=rng.randint(1, 5))
        if code != UNREGISTERED_REGION and forum.add(
            joined,
            10,
            "admit_network_member",
            {
                "organisation": organisation,
                "expertise": f"the learning network of {region}",
                "role": "practitioner",
            },
        ):
            forum.members[organisation] = joined
    for year in range(first.year, forum.as_of.year + 1):
        if year > first.year:
            forum.add(
                date(year, 2, 1) + timedelta(days=rng.randint(0, 20)),
                15,
                "publish_lessons",
                {
                    "year": year - 1,
                    "what_worked": ["Signals reached the policy makers within a quarter"],
                    "what_did_not": ["Funding questions stayed open"],
                    "improvement_paths": ["A yearly policy round on the regions' signals"],
                    "audiences": ["policy", "public"],
                },
            )
        theme_id = f"forum-theme-{year}"
        title = rng.choice(_SIGNALS)[1]
        if not forum.add(
            date(year, 9, 1) + timedelta(days=rng.randint(0, 20)),
            10,
            "propose_theme",
            {
                "theme_id": theme_id,
                "title": title,
                "description": "Signalled by more than one region",
                "source_kind": "signal",
            },
        ):
            continue
        held = date(year, 10, 1) + timedelta(days=rng.randint(0, 50))
        if forum.add(
            held,
            15,
            "hold_network_meeting",
            {
                "meeting_id": f"forum-{year}",
                "kind": "forum",
                "held_on": held.isoformat(),
                "members_present": [forum.organisation, *forum.joined_before(held)],
                "themes_discussed": [theme_id],
                "conclusions": ["Asked the administration for a proposal"],
            },
        ):
            forum.add(
                held + timedelta(days=rng.randint(5, 30)),
                10,
                "close_theme",
                {"conclusion": "A proposal is on the way"},
                theme_id=theme_id,
            )


def network_script(seed: int, as_of: date | None = None, years: int = 6) -> list[NetworkStep]:
    """The forum's and every region's network steps of ``seed`` over ``years`` up to ``as_of``,
    in the order they happen (the forum's establishment first)."""
    day = as_of or default_as_of()
    first = day - timedelta(days=365 * years)
    forum = _Network(None, FORUM_COORDINATOR, "forum", day)
    forum_established = first - timedelta(days=30)
    forum.add(
        forum_established,
        9,
        "establish_learning_network",
        {"level": "macro", "coordinating_organisation": FORUM_COORDINATOR},
    )
    forum.established = forum_established
    rng = random.Random(f"rodedraad:{seed}:forum")  # noqa: S311 - reproducible, not secret
    _forum_years(rng, forum, forum_established)
    networks = [forum]
    for region, code in REGIONS:
        network = _Network(region, network_coordinator(code), "learning_network", day)
        region_rng = random.Random(f"rodedraad:{seed}:network:{region}")  # noqa: S311
        _region_network(region_rng, network, code, first, forum)
        networks.append(network)
    steps = sorted(
        ((moment, n, i, step) for n, net in enumerate(networks) for moment, i, step in net.steps),
        key=lambda s: (s[0], s[1], s[2]),
    )
    return [step for *_, step in steps]


# --- running a step through the application ----------------------------------------------------


def decode_network_step(step: NetworkStep) -> commands.Command:
    """The typed command the API makes of a step (same schema, same validation)."""
    spec = NETWORK_COMMANDS[step.command]
    command = msgspec.convert(step.body, spec.schema)
    if spec.addressed is not None:
        return spec.addressed.at(command, **step.path)
    return command


def no_release(number: int) -> bool:
    """The workload publishes no statistics release: none is known."""
    return False


def run_network_step(
    app: CareRecord, step: NetworkStep, *, correlation_id: str = "benchmark-networks"
) -> CommandResult:
    """Run one step through ``CareRecord``'s use case, as the API's handler would."""
    command = decode_network_step(step)
    ctx = CommandContext(
        actor=Actor(
            user_id=f"u-{step.organisation}", organisation=step.organisation, role=step.role
        ),
        occurred_at=command.occurred_at,
        correlation_id=correlation_id,
        causation_id=None,
        now=datetime.now(UTC),
    )
    if isinstance(command, commands.EstablishLearningNetwork):
        return app.establish_learning_network(ctx, command)
    if isinstance(command, commands.EscalatePolicySignalAt):
        return app.escalate_policy_signal(ctx, step.network, None, command)
    assert isinstance(command, commands.NetworkCommand)
    return app.change_network(ctx, step.network, None, command, no_release)


def load_networks(loader: BatchLoader, steps: Iterable[NetworkStep]) -> int:
    """Record the networks' steps through the loader's batching record, as its trajectories
    are (the same use cases, every rule checked), in one transaction; the events recorded.
    After the organisations are registered: members are organisations of the register."""
    for step in steps:
        run_network_step(loader.app, step, correlation_id="load-networks")
    return loader.app.flush()
