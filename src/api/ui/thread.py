"""A trajectory's thread as lanes on a time axis (issue #23): the geometry only, worked out from
the plan state and the timeline read models the API serves; ``thread.svg`` draws it (escaped).

Lanes, top to bottom: status (blocked periods shaded, with their reasons), consultations, the
role agreements in force per party, the plan in force and its signatures, escalations by level,
handovers, missed deadlines. The trajectory it continues from and those that continue it are
links at the ends.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

import msgspec

from api.ui.labels import Translate
from domain.common import EscalationLevel
from projections.timeline import Timeline
from projections.views import TrajectoryView

WIDTH = 960
LEFT = 190  # the lanes' labels
RIGHT = 20
ROW = 26
TOP = 34  # the axis


#: Okabe-Ito colours (they stay apart for every common colour blindness), one per kind of mark;
#: in print the blocked hatching and the shapes (bars, dots, rings) still tell them apart. Every
#: label on a bar is black on a fill it has at least 4.5:1 contrast with (WCAG AA).
PALETTE = {
    "status": "#E4E4E4",
    "blocked": "url(#hatch)",
    "event": "#000000",
    "consultation": "#0072B2",
    "waived": "#FFFFFF",
    "agreement": "#009E73",
    "plan": "#56B4E9",
    "signature": "#0072B2",
    "escalation": "#E69F00",
    "handover": "#CC79A7",
    "missed": "#D55E00",
    "late": "#F0E442",
}


@dataclass(frozen=True, slots=True)
class Mark:
    """A bar (``x1`` set) or a point on a row; ``label`` is drawn, ``title`` is the tooltip."""

    x: float
    kind: str  # css class: status, blocked, consultation, agreement, plan, signature, ...
    label: str
    title: str
    x1: float | None = None


@dataclass(slots=True)
class Row:
    label: str
    marks: list[Mark] = field(default_factory=list)
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Thread:
    width: int
    height: int
    left: int
    rows: list[Row]
    ticks: list[Tick]
    continued_from: UUID | None
    continued_by: list[UUID]
    summary: str  # the picture in one sentence, for a screen reader
    palette: dict[str, str] = field(default_factory=lambda: dict(PALETTE))


def _moment(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), tzinfo=UTC)


def build(
    view: TrajectoryView,
    timeline: Timeline | None,
    now: datetime,
    label: Translate,
    value: Translate,
) -> Thread:
    entries = timeline.entries if timeline else []
    start = min([view.referred_at, *(e.occurred_at for e in entries)])
    end = view.closed_at or now
    end = max([end, *(e.occurred_at for e in entries)])
    span = max((end - start).total_seconds(), 86400.0)
    plot = WIDTH - LEFT - RIGHT

    def x(moment: date | datetime) -> float:
        seconds = (_moment(moment) - start).total_seconds()
        return round(LEFT + max(0.0, min(1.0, seconds / span)) * plot, 1)

    def day(moment: date | datetime) -> str:
        return _moment(moment).date().isoformat()

    facts: list[tuple[datetime, str, dict[str, Any]]] = [
        (e.occurred_at, e.kind, msgspec.json.decode(e.detail)) for e in entries
    ]

    status = Row(label("lane_status"))
    status.marks.append(
        Mark(x(start), "status", value(view.status), f"{value(view.status)}", x1=x(end))
    )
    blocked_at: tuple[datetime, list[str]] | None = None
    for at, kind, detail in facts:
        if kind == "blocked":
            blocked_at = (at, [value(r) for r in detail.get("reasons", [])])
        elif kind == "unblocked" and blocked_at is not None:
            status.marks.append(_blocked(x, day, blocked_at, at, label))
            blocked_at = None
        elif kind in ("accepted", "declined", "closed"):
            status.marks.append(Mark(x(at), "event", value(kind), f"{value(kind)} {day(at)}"))
    if blocked_at is not None:
        status.marks.append(_blocked(x, day, blocked_at, end, label))

    consultations = Row(label("lane_consultations"))
    for at, kind, detail in facts:
        if kind == "consultation_held":
            name = value(detail.get("kind", ""))
            who = ", ".join(detail.get("participants", []))
            consultations.marks.append(
                Mark(x(at), "consultation", name, f"{name} {day(at)}: {who}")
            )
        elif kind == "consultation_waived":
            name = value(detail.get("kind", ""))
            consultations.marks.append(
                Mark(x(at), "waived", name, f"{name} {label('waived')} {day(at)}")
            )

    agreement_rows = _agreements(view, facts, x, day, end, label)

    plan = Row(label("lane_plan"))
    if view.plan is not None:
        until = min(_moment(view.plan.valid_until), end)
        plan.marks.append(
            Mark(
                x(view.plan.signed_at),
                "plan",
                f"v{view.plan.version} {label('in_force')}",
                f"v{view.plan.version} {label('in_force')} {day(view.plan.signed_at)} - "
                f"{label('valid_until')} {view.plan.valid_until.isoformat()}",
                x1=x(until),
            )
        )
    for at, kind, detail in facts:
        if kind == "plan_signed":
            who = value(detail.get("signatory", ""))
            plan.marks.append(
                Mark(
                    x(at),
                    "signature",
                    "",
                    f"v{detail.get('plan_version')} {label('signed_on')} {day(at)} "
                    f"{label('by')} {who}",
                )
            )

    escalation_rows = _escalations(facts, x, day, end, label, value)

    handovers = Row(label("lane_handovers"))
    for at, kind, detail in facts:
        if kind == "handed_over":
            text = f"{detail.get('from_party', '')} → {detail.get('to_party', '')}"
            handovers.marks.append(Mark(x(at), "handover", text, f"{text} {day(at)}"))

    deadlines = Row(label("lane_deadlines"))
    for at, kind, detail in facts:
        if kind in ("deadline_missed", "deadline_met_late"):
            word = label("missed") if kind == "deadline_missed" else label("met_late")
            text = f"{detail.get('rule', '')} {word}"
            deadlines.marks.append(
                Mark(
                    x(at),
                    "missed" if kind == "deadline_missed" else "late",
                    "",
                    f"{text} ({label('due')} {detail.get('due_on', '')})",
                )
            )

    rows = [status, consultations, *agreement_rows, plan, *escalation_rows, handovers, deadlines]
    for i, row in enumerate(rows):
        row.y = TOP + 10 + i * ROW
    ticks = _ticks(start, end, x)
    blocked = sum(1 for m in status.marks if m.kind == "blocked")
    summary = (
        f"{label('thread')} {day(start)} - {day(end)}: {len(facts)} {label('events')}, "
        f"{blocked} x {value('blocked')}"
    )
    return Thread(
        width=WIDTH,
        height=int(TOP + 20 + len(rows) * ROW),
        left=LEFT,
        rows=rows,
        ticks=ticks,
        continued_from=view.continued_from,
        continued_by=list(view.continued_by),
        summary=summary,
    )


def _blocked(
    x: Any, day: Any, since: tuple[datetime, list[str]], until: datetime, label: Translate
) -> Mark:
    at, reasons = since
    why = ", ".join(reasons)
    return Mark(x(at), "blocked", why, f"{why}: {day(at)} - {day(until)}", x1=x(until))


def _agreements(
    view: TrajectoryView,
    facts: list[tuple[datetime, str, dict[str, Any]]],
    x: Any,
    day: Any,
    end: datetime,
    label: Translate,
) -> list[Row]:
    """One row per party: the periods an agreement naming it was in force (every named party
    accepted, until it ended), labelled with the party's role in it."""
    roles = {
        a.id: {assignment.party: str(assignment.role) for assignment in a.assignments}
        for a in view.role_agreements
    }
    pending: dict[str, set[str]] = {}
    since: dict[str, datetime] = {}
    bars: dict[str, list[Mark]] = {}
    for at, kind, detail in facts:
        agreement = str(detail.get("agreement_id", ""))
        if kind == "role_agreement_proposed":
            pending[agreement] = set(detail.get("parties", []))
        elif kind == "role_agreement_accepted" and agreement in pending:
            pending[agreement].discard(str(detail.get("party", "")))
            if not pending[agreement]:
                since[agreement] = at
        elif kind == "role_agreement_ended" and agreement in since:
            _agreement_bars(bars, roles.get(agreement, {}), since.pop(agreement), at, x, day)
    for agreement, at in since.items():
        _agreement_bars(bars, roles.get(agreement, {}), at, end, x, day)
    return [
        Row(f"{label('lane_agreements')}: {party}", marks) for party, marks in sorted(bars.items())
    ]


def _agreement_bars(
    bars: dict[str, list[Mark]],
    roles: dict[str, str],
    start: datetime,
    until: datetime,
    x: Any,
    day: Any,
) -> None:
    for party, role in roles.items():
        bars.setdefault(party, []).append(
            Mark(
                x(start),
                "agreement",
                role,
                f"{party}: {role}, {day(start)} - {day(until)}",
                x1=x(until),
            )
        )


def _escalations(
    facts: list[tuple[datetime, str, dict[str, Any]]],
    x: Any,
    day: Any,
    end: datetime,
    label: Translate,
    value: Translate,
) -> list[Row]:
    """One row per level that an escalation reached: how long it stood at that level."""
    at_level: dict[str, tuple[str, datetime, str]] = {}  # id → (level, since, reason)
    rows = {
        level.value: Row(f"{label('lane_escalations')}: {value(level.value)}")
        for level in EscalationLevel
    }

    def close(escalation: str, until: datetime) -> None:
        level, since, reason = at_level.pop(escalation)
        rows[level].marks.append(
            Mark(
                x(since),
                "escalation",
                reason,
                f"{value(level)}: {reason}, {day(since)} - {day(until)}",
                x1=x(until),
            )
        )

    for at, kind, detail in facts:
        escalation = str(detail.get("escalation_id", ""))
        if kind == "escalation_raised":
            at_level[escalation] = (str(detail.get("level")), at, value(detail.get("reason", "")))
        elif kind == "escalation_level_changed" and escalation in at_level:
            reason = at_level[escalation][2]
            close(escalation, at)
            at_level[escalation] = (str(detail.get("to_level")), at, reason)
        elif kind == "escalation_resolved" and escalation in at_level:
            close(escalation, at)
    for escalation in list(at_level):
        close(escalation, end)
    return [row for row in rows.values() if row.marks]


def _ticks(start: datetime, end: datetime, x: Any) -> list[Tick]:
    """The first of each month in view (every other one past a year), as the axis."""
    ticks = []
    month = date(start.year, start.month, 1)
    step = 1 if (end - start).days <= 400 else 3
    while _moment(month) <= end:
        if _moment(month) >= start:
            ticks.append(Tick(x(month), month.strftime("%Y-%m")))
        total = month.month - 1 + step
        month = date(month.year + total // 12, total % 12 + 1, 1)
    return ticks
