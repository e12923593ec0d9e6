"""How often a learning network meets, per calendar year (issue #14 point 3).

Seed 001: a region's learning network (*lerend netwerk*) meets at least four times a year, with a
sector consultation (*sectoroverleg*) of the mandated providers once or twice a year; the forum
(macro) at least once a year. The numbers are the policy file's (``[learning_network]``).

The rule is live per calendar year from the **first full year after the network's
establishment** (a network established on 1 January at midnight UTC is live that very year). A
network that ends a live year short of a kind of meeting gets a **missed-cadence** fact for that
year and kind, once; a region's network that lets a quarter of a live year pass without any
meeting gets a **reminder** for that quarter, once (the forum meets once a year: no quarterly
reminder). The scheduler asks ``cadence_due`` and records what it answers through the network's
idempotent ``record_cadence_*`` methods, as it records a trajectory's deadlines.

Pure: the clock and the meetings are passed in.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum

import msgspec


class CadenceFactKind(StrEnum):
    MISSED = "missed"
    REMINDER = "reminder"


class Cadence(msgspec.Struct, frozen=True):
    """Meetings a year, per kind of meeting (``MeetingKind`` values), from the policy file."""

    learning_network: int = 4
    sector_consultation: int = 1
    forum: int = 1

    def per_year(self, kind: str) -> int:
        required: int = getattr(self, kind)
        return required


class CadenceFact(msgspec.Struct, frozen=True):
    """Something the scheduler records on a network: a year short of a kind of meeting, or a
    quarter without a meeting."""

    fact: CadenceFactKind
    #: The kind of meeting (a reminder: ``learning_network``, the region's own meetings).
    meeting_kind: str
    #: ``2027`` (a year) or ``2027Q2`` (a quarter).
    period: str
    required: int
    held: int

    @property
    def key(self) -> str:
        """What makes it once: one fact per kind, meeting kind and period."""
        return f"{self.fact.value}:{self.meeting_kind}:{self.period}"


#: Which kinds of meeting each level owes, and whether it gets quarterly reminders.
OWED = {"meso": ("learning_network", "sector_consultation"), "macro": ("forum",)}
QUARTERLY = {"meso": "learning_network"}


def first_live_year(established_at: datetime) -> int:
    """The first full calendar year after the establishment."""
    moment = established_at.astimezone(UTC)
    full = (moment.month, moment.day, moment.hour, moment.minute, moment.second) == (1, 1, 0, 0, 0)
    return moment.year if full and moment.microsecond == 0 else moment.year + 1


def _quarter(day: date) -> int:
    return (day.month - 1) // 3 + 1


def cadence_due(
    level: str,
    established_at: datetime,
    meetings: Iterable[tuple[str, date]],
    now: datetime,
    cadence: Cadence,
) -> list[CadenceFact]:
    """Every cadence fact due at ``now``: per ended live year and kind of meeting owed, a missed
    fact when fewer were held than required; per ended quarter of a live year (a region's
    network only), a reminder when no meeting was held in it."""
    today = now.astimezone(UTC).date()
    live = first_live_year(established_at)
    held = [(kind, day) for kind, day in meetings]
    due: list[CadenceFact] = []
    for year in range(live, today.year):
        for kind in OWED[level]:
            required = cadence.per_year(kind)
            count = sum(1 for k, d in held if k == kind and d.year == year)
            if count < required:
                due.append(CadenceFact(CadenceFactKind.MISSED, kind, str(year), required, count))
    reminded = QUARTERLY.get(level)
    if reminded is not None and cadence.per_year(reminded) > 0:
        current = (today.year, _quarter(today))
        for year in range(live, today.year + 1):
            for quarter in range(1, 5):
                if (year, quarter) >= current:
                    break
                count = sum(1 for _, d in held if (d.year, _quarter(d)) == (year, quarter))
                if count == 0:
                    due.append(
                        CadenceFact(CadenceFactKind.REMINDER, reminded, f"{year}Q{quarter}", 1, 0)
                    )
    return due
