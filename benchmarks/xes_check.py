"""The XES export checked against the event store itself (issue #13, "done when").

``check(settings, region, period, release)`` asks the service for an export of one region and
period, as an authorised user would (the data protection officer records the authorisation
first), reads it back with pm4py, and compares it with what it should say, worked out here
**from the stored events directly** — not through the statistics units or ``traces.py``, whose
output it checks:

- its directly-follows counts equal those of the trajectories of the scope (referred in the
  period, in the region, steps up to the period's last day), over the variants at least k of
  them follow;
- every edge the release publishes for the region is at least the export's count;
- no calendar date other than the export's fixed epoch, no organisation identifier or name, no
  trajectory or client id and no free text of the store occurs in its bytes.

The event-to-activity mapping below is a second, deliberately separate reading of the trace
rules (``traces.py``'s module docstring): by day; on one day the referral, a continuation, the
decision on the referral, a waiver, the other steps in log order, an evaluation, the closure,
a follow-up contact.
"""

import dataclasses
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pm4py
from litestar.testing import TestClient

from api.auth import LocalTokens
from domain.client import Client
from domain.organisation import Organisation
from domain.trajectory import Trajectory
from projections.statistics.model import Period
from projections.statistics.xes import EPOCH
from rodedraad.settings import Settings
from rodedraad.wiring import Container, build_care_record, build_projection_worker

_RANKS = {"referral": 0, "continued_from": 1, "accepted": 2, "declined": 2}
_LATE = {"evaluated": 6, "closed": 9, "follow_up_contacted": 10}
#: Free text is any personal string field of these length or more with a space in it.
_TEXT = 12
_DATE = re.compile(rb"(19|20)\d\d-[01]\d-[0-3]\d")


def _on_the_epoch(found: bytes) -> bool:
    """Whether a date in the export is one of its own: the fixed epoch plus whole weeks
    (``xes.EPOCH``), decades before any date of the record."""
    day = date.fromisoformat(found.decode())
    return day.year < 2000 and day >= EPOCH.date() and (day - EPOCH.date()).days % 7 == 0


def _activity(event: Any) -> str | None:
    match event:
        case Trajectory.Referred():
            return "referral"
        case Trajectory.Accepted():
            return "accepted"
        case Trajectory.Declined():
            return "declined"
        case Trajectory.ContinuedFrom():
            return "continued_from"
        case Trajectory.ConsultationHeld():
            return f"consultation:{event.kind.value}"
        case Trajectory.ConsultationWaived():
            return f"consultation_waived:{event.kind.value}"
        case Trajectory.PlanSigned():
            return "plan_signed"
        case Trajectory.Evaluated():
            return "evaluated"
        case Trajectory.Blocked():
            return "blocked"
        case Trajectory.Unblocked():
            return "unblocked"
        case Trajectory.EscalationRaised():
            return "escalation_raised"
        case Trajectory.EscalationLevelChanged():
            return "escalation_level_changed"
        case Trajectory.EscalationResolved():
            return "escalation_resolved"
        case Trajectory.RoleAgreementProposed():
            return "role_agreement_proposed"
        case Trajectory.RoleAgreementAccepted():
            return "role_agreement_accepted"
        case Trajectory.RoleAgreementDeclined():
            return "role_agreement_declined"
        case Trajectory.RoleAgreementEnded():
            return "role_agreement_ended"
        case Trajectory.HandedOver():
            return "handover"
        case Trajectory.FollowUpContacted():
            return "follow_up_contacted"
        case Trajectory.Closed():
            return "closed"
    return None


def _rank(activity: str) -> int:
    if activity.startswith("consultation_waived:"):
        return 4
    return _RANKS.get(activity, _LATE.get(activity, 5))


def _events(settings: Settings) -> Iterator[tuple[int, Any]]:
    care_record = build_care_record(settings)
    try:
        start = 0
        while True:
            page = care_record.recorder.select_notifications(start, 2_000)
            for notification in page:
                yield notification.id, care_record.mapper.to_domain_event(notification)
            if len(page) < 2_000:
                return
            start = page[-1].id + 1
    finally:
        care_record.close()


class _Store(msgspec.Struct):
    """What the check gathers from the events: every trajectory's dated steps and region, the
    ids, organisations and free text an export must not contain."""

    steps: dict[UUID, list[tuple[date, int, int, str]]] = msgspec.field(default_factory=dict)
    region: dict[UUID, str] = msgspec.field(default_factory=dict)
    referred: dict[UUID, date] = msgspec.field(default_factory=dict)
    client: dict[UUID, UUID] = msgspec.field(default_factory=dict)
    erased: set[UUID] = msgspec.field(default_factory=set)
    ids: set[str] = msgspec.field(default_factory=set)
    organisations: set[str] = msgspec.field(default_factory=set)
    texts: set[str] = msgspec.field(default_factory=set)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _strings(getattr(value, name))


def _gather(settings: Settings) -> _Store:
    store = _Store()
    for position, event in _events(settings):
        store.ids.add(str(event.originator_id))
        if isinstance(event, Client.Erased):
            store.erased.add(event.originator_id)
            continue
        if isinstance(event, Organisation.Event):
            # Its identifier, name and public identifiers (kind and region are not secret).
            for field in ("identifier", "name", "public_identifiers"):
                store.organisations.update(_strings(getattr(event, field, None)))
            continue
        if not isinstance(event, Trajectory.Event):
            continue
        trajectory = event.originator_id
        for name in getattr(event, "personal_fields", ()):
            for text in _strings(getattr(event, name, None)):
                if len(text) >= _TEXT and " " in text:
                    store.texts.add(text)
        if isinstance(event, Trajectory.Referred):
            store.region[trajectory] = event.region
            store.referred[trajectory] = event.occurred_at.astimezone(UTC).date()
            store.ids.add(str(event.client_id))
            store.client[trajectory] = event.client_id
            store.organisations.add(event.referrer_organisation)
        activity = _activity(event)
        if activity is not None:
            on = event.occurred_at.astimezone(UTC).date()
            store.steps.setdefault(trajectory, []).append((on, _rank(activity), position, activity))
    return store


def _catch_up(settings: Settings) -> None:
    """Every read model up to the log: the export leaves out trajectories the plan-state read
    model has not seen yet (and those of erased clients), so the check waits for it."""
    care_record = build_care_record(settings)
    try:
        worker = build_projection_worker(settings, care_record)
        try:
            worker.ensure_ready()
            worker.catch_up()
        finally:
            worker.database.close()
    finally:
        care_record.close()


def expected_dfg(store: _Store, region: str, period: Period, k: int) -> Counter[tuple[str, str]]:
    """The directly-follows counts the export must hold, from the events alone (an erased
    client's trajectories are never exported)."""
    variants: dict[tuple[str, ...], int] = Counter()
    scope = [
        trajectory
        for trajectory, where in store.region.items()
        if where == region
        and period.contains(store.referred[trajectory])
        and store.client[trajectory] not in store.erased
    ]
    traces = {}
    for trajectory in scope:
        steps = sorted(s for s in store.steps.get(trajectory, []) if s[0] <= period.end)
        traces[trajectory] = tuple(activity for *_, activity in steps)
        variants[traces[trajectory]] += 1
    dfg: Counter[tuple[str, str]] = Counter()
    for activities in traces.values():
        if variants[activities] >= k:
            dfg.update(pairwise(activities))
    return dfg


def check(settings: Settings, region: str, period: Period, release: int) -> dict[str, Any]:
    """Export, read back, compare; a dict of what was found (raises ``AssertionError`` when a
    check fails)."""
    _catch_up(settings)
    store = _gather(settings)
    tokens = LocalTokens.from_file(settings.auth.secret_file)

    def bearer(role: str, organisation: str, user: str) -> dict[str, str]:
        token = tokens.issue(user=user, organisation=organisation, roles=[role], region=region)
        return {"Authorization": f"Bearer {token}"}

    dpo = bearer("data_protection_officer", "rodedraad-dpo", "dpo-1")
    researcher = bearer("learning_network", "kenniscentrum", "researcher-1")
    # No embedded scheduler: it would make the releases still due while this measures.
    container = Container.build(dataclasses.replace(settings, embedded_workers=False))
    try:
        with TestClient(app=container.http_app()) as client:
            granted = client.post(
                "/v1/exports/authorisations",
                headers=dpo,
                json={
                    "user_id": "researcher-1",
                    "organisation": "kenniscentrum",
                    "purpose": "Where trajectories block: a benchmark's check",
                    "legal_basis": "scientific_research",
                    "region": region,
                    "until": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
            )
            assert granted.status_code == 201, granted.text
            exported = client.get(
                "/v1/exports/xes",
                params={"region": region, "period": str(period)},
                headers=researcher,
            )
            assert exported.status_code == 200, exported.text
            forum = bearer("forum", "forum", "forum-1")
            mapped = client.get(
                f"/v1/statistics/releases/{release}/process-map",
                params={"region": region},
                headers=forum,
            )
            assert mapped.status_code == 200, mapped.text
    finally:
        container.close()
    document = exported.content
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "export.xes"
        path.write_bytes(document)
        log = pm4py.read_xes(str(path))
    # pm4py reads a log without traces as an empty frame, which it cannot mine.
    dfg = pm4py.discover_dfg(log)[0] if len(log) else {}
    kept = log["case:concept:name"].nunique() if len(log) else 0
    k = settings.statistics.k
    expected = expected_dfg(store, region, period, k)
    assert dict(dfg) == dict(expected), "the export's directly-follows counts differ"
    published = {(edge["source"], edge["target"]): edge["count"] for edge in mapped.json()["edges"]}
    above = {e: (n, published[e]) for e, n in dfg.items() if e in published and n > published[e]}
    assert not above, f"export edges above the release's: {above}"
    dates = {m.group(0) for m in _DATE.finditer(document) if not _on_the_epoch(m.group(0))}
    assert not dates, f"calendar dates in the export: {sorted(dates)[:5]}"
    leaked = [
        (kind, value)
        for kind, values in (
            ("id", store.ids),
            ("organisation", store.organisations),
            ("free text", store.texts),
        )
        for value in values
        if len(value) >= 4 and value.encode() in document
    ]
    assert not leaked, f"found in the export: {Counter(kind for kind, _ in leaked)}"
    return {
        "region": region,
        "period": str(period),
        "bytes": len(document),
        "traces_kept": int(kept),
        "traces_in_scope": sum(
            1
            for t, where in store.region.items()
            if where == region and period.contains(store.referred[t])
        ),
        "edges": len(dfg),
        "edges_published_in_release": len(published),
        "edges_compared_with_release": sum(1 for e in dfg if e in published),
        "searched": {
            "ids": len(store.ids),
            "organisations": len(store.organisations),
            "free_texts": len(store.texts),
        },
    }
