"""Values shared by the aggregates: who acted, when, and the closed vocabularies.

Enumerations are stored as their string values; a value once stored is never renamed
(events are a stored contract). New values may be added.
"""

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from domain.errors import InvalidValue, ItemNotFound, OccurredInFuture

#: What a personal text reads as once the client's data is erased (crypto-shredding).
ERASED = "[erased]"

#: No care record reaches back further than this; earlier dates are typing errors.
EARLIEST_YEAR = 1900

#: Clocks of callers drift; an ``occurred_at`` this far ahead of our clock is still "now".
CLOCK_SKEW = timedelta(minutes=5)


class Actor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who recorded a fact: taken from the bearer token, never from a request body."""

    user_id: str
    organisation: str
    role: str
    #: Someone the actor acts for, e.g. the representative a coordinator records a signature of.
    on_behalf_of: str | None = None


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What every command brings besides its own data.

    ``now`` is the recording clock, supplied by the application so the domain reads no clock.
    """

    actor: Actor
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None
    now: datetime
    #: Decides, for each recorded aggregate the command is about to change or rely on, who acts:
    #: returns the actor to record (in the one role that may act on it) or raises a refusal.
    #: The caller supplies it (the API: its access policy, per request); ``None`` for the
    #: record's own processes (the scheduler) and for tests of the rules.
    authorise: Callable[[Any], Actor] | None = None
    #: Whether the acting caller reads the names recorded for a client (the API: its access
    #: policy's rule for contact details). An identifier the caller chooses is checked against
    #: those names only then, so that trying ids cannot tell anyone a name they may not read
    #: (``Client.check_identifier``). ``None``: the record's own processes and tests, checked.
    sees_names: Callable[[Any], bool] | None = None

    def authorised(self, aggregate: Any) -> "CommandContext":
        """This context with the actor the caller's access policy lets act on ``aggregate``."""
        if self.authorise is None:
            return self
        return dataclasses.replace(self, actor=self.authorise(aggregate))

    def __post_init__(self) -> None:
        """The actor is recorded on every event and named in the read models: whoever issued
        the token, its names are identifiers, never control characters (issue #10)."""
        for name in ("user_id", "organisation", "role"):
            if _CONTROL.search(getattr(self.actor, name)):
                raise InvalidValue(
                    f"the token's {name} holds a control character; "
                    "ask for a token that names the actor in printable text",
                    field="actor",
                )

    def event_fields(self) -> dict[str, Any]:
        """The fields every event carries (DESIGN §3 "Every event carries")."""
        return {
            "actor": self.actor,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }

    def check_occurred_at(self) -> None:
        """``occurred_at`` is when it happened in the world: given, aware and not in the future."""
        if self.occurred_at.tzinfo is None:
            raise InvalidValue("occurred_at needs a time zone offset", field="occurred_at")
        try:
            earliest = self.occurred_at.astimezone(UTC).year < EARLIEST_YEAR
        except OverflowError:  # (past the year 9999 or before the year 1, once in UTC)
            raise InvalidValue(
                "occurred_at lies outside the years 1 to 9999 once taken to UTC: not a date of "
                "this record",
                field="occurred_at",
            ) from None
        if earliest:
            raise InvalidValue(
                f"occurred_at lies before {EARLIEST_YEAR}: not a date of this record",
                field="occurred_at",
            )
        if self.occurred_at > self.now + CLOCK_SKEW:
            raise OccurredInFuture(
                "occurred_at lies in the future: the server's time is "
                f"{self.now.isoformat(timespec='seconds')} (a clock up to "
                f"{CLOCK_SKEW.seconds // 60} minutes ahead is taken); record facts once they "
                "have happened",
                field="occurred_at",
            )

    @property
    def occurred_on(self) -> date:
        return self.occurred_at.astimezone(UTC).date()


class Sector(StrEnum):
    YOUTH_CARE = "youth_care"  # jeugdhulp
    DISABILITY_CARE = "disability_care"  # VAPH / handicap
    PRIMARY_CARE = "primary_care"  # eerste lijn
    MENTAL_HEALTH = "mental_health"  # GGZ
    EDUCATION = "education"  # onderwijs
    OTHER = "other"


class ConsultationKind(StrEnum):
    """Kinds of *samenwerkingsoverleg*, MDO, *handelingsplanbespreking*, *intervisie*."""

    START = "start"
    THREE_MONTH = "three_month"
    AD_HOC = "ad_hoc"
    END = "end"
    MDO = "mdo"
    PLAN_MEETING = "plan_meeting"
    INTERVISION = "intervision"


#: Kinds a trajectory holds at most once, and that a reasoned waiver may replace (001).
MILESTONE_KINDS = frozenset(
    {ConsultationKind.START, ConsultationKind.THREE_MONTH, ConsultationKind.END}
)


class ClientInvolvement(StrEnum):
    PRESENT = "present"
    CONSULTED_BEFOREHAND = "consulted_beforehand"
    NOT_INVOLVED = "not_involved"


class Role(StrEnum):
    """Roles a party can take; the sources' many names for coordination map here."""

    PLANMAKER = "planmaker"
    TRAJECTORY_GUIDE = "trajectory_guide"  # trajectbegeleider
    PROCESS_GUIDE = "process_guide"  # procesbegeleider
    CARE_COORDINATOR = "care_coordinator"  # zorgcoördinator
    PROCESS_KEEPER = "process_keeper"  # proceskeeper: follows up the plan after the end
    KEY_WORKER = "key_worker"  # aandachtsbegeleider
    BUDDY = "buddy"
    PROVIDER = "provider"  # delivers part of the support
    INFORMAL_CARER = "informal_carer"  # mantelzorger


class ReasonCategory(StrEnum):
    """Why trajectories block or escalate; the blocking structures of 001 first."""

    REGULATION = "regulation"
    WAITING_LIST = "waiting_list"
    ADMISSION_CRITERIA = "admission_criteria"
    FUNDING = "funding"
    CAPACITY = "capacity"
    COOPERATION = "cooperation"
    CLIENT_SITUATION = "client_situation"
    NETWORK_BREAKDOWN = "network_breakdown"
    SAFETY = "safety"
    OTHER = "other"


class EscalationLevel(StrEnum):
    """Where an escalation is taken up: micro (team, organisation), meso (network), macro."""

    TEAM = "team"
    ORGANISATION = "organisation"
    NETWORK = "network"  # lerend netwerk, region
    POLICY = "policy"  # forum, policy

    @property
    def rank(self) -> int:
        return list(EscalationLevel).index(self)


class PdcaPhase(StrEnum):
    """002's four phases: verhelderen, ontwerpen, uitproberen, verankeren."""

    CLARIFY = "clarify"
    DESIGN = "design"
    TRY_OUT = "try_out"
    EMBED = "embed"


class Signatory(StrEnum):
    CLIENT = "client"
    REPRESENTATIVE = "representative"


class ConsentScope(StrEnum):
    PLAN = "plan"
    DOSSIER = "dossier"
    CONTACT_DETAILS = "contact_details"


def require_text(value: str, field: str) -> str:
    """A free-text field that must say something."""
    stripped = value.strip()
    if not stripped:
        raise InvalidValue(f"{field} must not be empty", field=field)
    return stripped


#: C0 control characters and DEL: part of no name. (PostgreSQL text cannot even hold a NUL, so
#: one in a recorded identifier would stop a read model that stores it, issue #10.)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def require_identifier(value: str, field: str) -> str:
    """An identifier that names an organisation, a region or a party: it says something and
    holds no control character. The API already takes only ``Ref``s; this keeps the record
    itself clean whoever calls the domain."""
    stripped = require_text(value, field)
    if _CONTROL.search(stripped):
        raise InvalidValue(f"{field} must not contain control characters", field=field)
    return stripped


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if day.day <= 28:  # every month has it (most days: one date made, no loop)
        return date(year, month, day.day)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")  # pragma: no cover


V = TypeVar("V")


def held(items: Mapping[str, V], item_id: str, *, kind: str, where: str, field: str) -> V:
    """The item (goal, agreement, consent, …) the record holds under ``item_id``, or a 404
    naming it: "goal 'g-1' is not part of this trajectory"."""
    try:
        return items[item_id]
    except KeyError:
        raise ItemNotFound(f"{kind} {item_id!r} is {where}", field=field) from None
