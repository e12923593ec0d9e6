"""The XES export (IEEE 1849) of a region's trajectories, for process-mining tools (issue #13).

An export is **pseudonymised personal data** (GDPR art. 4(5)), not anonymous data: it is made
only under an export authorisation in force (``domain.export_authorisation``), names it, and is
logged as a read of the personal data of every client whose trajectory it holds. What it keeps
of a trajectory is what ``traces.annotated`` derives from its statistics unit, and no more:

- **case id**: an HMAC-SHA256 of the trajectory id under a secret drawn for this export alone and
  thrown away (never stored, never logged): two exports cannot be linked to each other or to
  the record;
- **time**: whole weeks since the trajectory's referral, written as ``time:timestamp`` on a
  fixed epoch (``EPOCH``, Monday 1970-01-05, plus the weeks) because tools expect a timestamp;
  the seconds count the step's place in its trace, only so that tools sorting by time keep the
  order. No calendar date of the record occurs;
- **organisations** as their kinds (``org:group``) and the roles at a consultation
  (``org:role``); no identifier, no name, no free text;
- **variants** (the sequence of activities) followed by fewer than ``k`` trajectories are left
  out, and the log says how many traces that was.

Pure: the caller reads the units and the organisation kinds (``exports``).
"""

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree as ET

from projections.statistics.traces import Kinds, Step, annotated, variant
from projections.statistics.units import UnitRecord

#: Week 0 of every trace: a Monday, far from any date of a care record.
EPOCH = datetime(1970, 1, 5, tzinfo=UTC)
XES_NAMESPACE = "http://www.xes-standard.org/"
_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)
NOTICE = (
    "Pseudonymised personal data (GDPR art. 4(5)), not anonymous: process it only for the "
    "purpose and on the legal basis named here, keep it safe and delete it when done. An "
    "erasure in the record cannot reach this copy."
)
TIME_NOTE = (
    "time:timestamp is not a calendar date: 1970-01-05 stands for the trajectory's referral, "
    "each week after it for a whole week since the referral; the seconds only keep the order "
    "of the steps"
)


@dataclass(frozen=True, slots=True)
class ExportScope:
    """What the export covers and under which authorisation (written into the log)."""

    authorisation_id: str
    purpose: str
    legal_basis: str
    region: str
    period: str
    k: int


@dataclass(frozen=True, slots=True)
class XesExport:
    """The document, the trajectories it holds (for the log of reads) and what was left out."""

    document: bytes
    trajectory_ids: tuple[str, ...]
    traces_left_out: int


def _pseudonym(secret: bytes, trajectory_id: str) -> str:
    return hmac.new(secret, trajectory_id.encode(), hashlib.sha256).hexdigest()[:32]


def _attribute(parent: ET.Element, kind: str, key: str, value: str) -> None:
    ET.SubElement(parent, kind, key=key, value=value)


def timestamp(step: Step, position: int) -> str:
    """``EPOCH`` plus the step's weeks, plus its place in the trace in seconds."""
    moment = EPOCH + timedelta(weeks=step.week, seconds=position)
    return moment.isoformat(timespec="milliseconds")


def _header(log: ET.Element, scope: ExportScope, kept: int, left_out: int) -> None:
    for name, prefix, uri in _EXTENSIONS:
        ET.SubElement(log, "extension", name=name, prefix=prefix, uri=uri)
    trace_global = ET.SubElement(log, "global", scope="trace")
    _attribute(trace_global, "string", "concept:name", "__INVALID__")
    event_global = ET.SubElement(log, "global", scope="event")
    _attribute(event_global, "string", "concept:name", "__INVALID__")
    _attribute(event_global, "date", "time:timestamp", EPOCH.isoformat(timespec="milliseconds"))
    ET.SubElement(log, "classifier", name="Activity", keys="concept:name")
    _attribute(log, "string", "concept:name", f"rodedraad {scope.region} {scope.period}")
    for key, value in (
        ("rodedraad:notice", NOTICE),
        ("rodedraad:authorisation", scope.authorisation_id),
        ("rodedraad:purpose", scope.purpose),
        ("rodedraad:legal_basis", scope.legal_basis),
        ("rodedraad:region", scope.region),
        ("rodedraad:period", scope.period),
        ("rodedraad:time", TIME_NOTE),
    ):
        _attribute(log, "string", key, value)
    _attribute(log, "int", "rodedraad:k", str(scope.k))
    _attribute(log, "int", "rodedraad:traces", str(kept))
    _attribute(log, "int", "rodedraad:traces_left_out", str(left_out))


def write_xes(
    units: Iterable[UnitRecord], kinds: Kinds, scope: ExportScope, until: date | None = None
) -> XesExport:
    """The XES document of ``units``, rare variants (< k) left out, in a random order.

    ``until``: the period's last day. Steps after it are left out, as the release's process
    map leaves them out (``tables.dynamics``), so no directly-follows count of the export is
    above the one the release counts for the same region and period."""
    secret = secrets.token_bytes(32)  # this export's alone; dropped when this returns
    traced = [(unit.trajectory_id, annotated(unit, kinds, until)) for unit in units]
    counts = Counter(variant(tuple(step for step, _ in steps)) for _, steps in traced)
    kept = [
        (_pseudonym(secret, tid), tid, steps)
        for tid, steps in traced
        if counts[variant(tuple(step for step, _ in steps))] >= scope.k
    ]
    kept.sort()  # by pseudonym: the order says nothing about the record's
    log = ET.Element(
        "log", {"xes.version": "1849-2016", "xes.features": "", "xmlns": XES_NAMESPACE}
    )
    _header(log, scope, len(kept), len(traced) - len(kept))
    for case_id, _, steps in kept:
        trace = ET.SubElement(log, "trace")
        _attribute(trace, "string", "concept:name", case_id)
        for position, (step, annotation) in enumerate(steps):
            event = ET.SubElement(trace, "event")
            _attribute(event, "string", "concept:name", step.activity)
            _attribute(event, "string", "lifecycle:transition", "complete")
            _attribute(event, "date", "time:timestamp", timestamp(step, position))
            _attribute(event, "int", "rodedraad:week", str(step.week))
            if annotation.kinds:
                _attribute(event, "string", "org:group", "+".join(annotation.kinds))
            if annotation.roles:
                _attribute(event, "string", "org:role", "+".join(annotation.roles))
    ET.indent(log, space=" ")
    document = ET.tostring(log, encoding="UTF-8", xml_declaration=True)
    return XesExport(
        document=document,
        trajectory_ids=tuple(sorted(tid for _, tid, _ in kept)),
        traces_left_out=len(traced) - len(kept),
    )
