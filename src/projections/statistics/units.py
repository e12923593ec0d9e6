"""The statistics' units: one working row per trajectory, kept by ``StatisticsProjection``.

Statistics count trajectories (issue #12, point 2). What a period's tables need of a trajectory
is its region, sector and referral date, and its *dated facts*: the deadline facts the
deadlines read model also keeps (``domain.deadline_facts.facts_of``: a rule lives once, so the
procedures table judges deadlines exactly as the scheduler does) and the details statistics
need beyond them (``Detail``): who sat at each consultation and whether the client was there
(002), who signed (004), role agreements and their parties, block reasons, escalation levels,
handovers and continuations (000, 001).

``st_units`` is a **private working table**: no release and no API reads it; releases are
computed from it (``read_units`` → ``tables.population``) and keep aggregates only. It holds no
free text and no person: no client id, no ``person_ref``, no decision or reason text; parties
and organisations are identifiers of organisations (the timeline names them too). An erasure
therefore rewrites nothing here (``personal_tables`` is empty), and retention of the log
carries over through a rebuild like every other read model. ``ended_last_on`` is worked out
from the row's own dates (no deadline policy, nothing else): erasure and retention treat it as
they treat the facts it comes from, and a release leaves out in SQL the units whose record
ended long enough before its period (``tables.ended_last_from``).

Facts are kept in the order they happened (by date, then log order), so a fact recorded late
takes its place, and a rebuild in other batch sizes gives the same rows.
"""

import hashlib
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from application.codec import in_the_clear
from domain.deadline_facts import facts_of
from domain.deadlines import RULES_VERSION, DeadlinePolicy, DeadlineRule, Fact, instances
from domain.trajectory import Trajectory
from projections.store import Tx

T = Trajectory

#: Bump when what this module derives from events changes (the worker then rebuilds).
CODE_VERSION = 3  # 2: the referrer's organisation (issue #13, the factors known early)
# 3: ``ended_last_on``, so a release leaves out in SQL the units settled before its period, and
# each unit's deadlines under the policy (``Due``), so a release does not work them out again

#: Rows per round trip when reading and when looking up known trajectories.
PAGE = 5_000
_CHUNK = 500


class Consulted(msgspec.Struct, frozen=True, array_like=True, tag="consulted"):
    """A consultation held: its kind, the client's involvement (002), the organisations at the
    table, how many parties sat there (participants, not persons) and their roles."""

    on: date
    kind: str
    involvement: str
    organisations: tuple[str, ...]
    parties: int
    roles: tuple[str, ...]


class Signed(msgspec.Struct, frozen=True, array_like=True, tag="signed"):
    """The plan signed by the client or their representative (004)."""

    on: date
    signatory: str


class AgreementProposed(msgspec.Struct, frozen=True, array_like=True, tag="agreement_proposed"):
    on: date
    agreement: str
    parties: tuple[str, ...]


class AgreementAccepted(msgspec.Struct, frozen=True, array_like=True, tag="agreement_accepted"):
    on: date
    agreement: str
    party: str


class AgreementDeclined(msgspec.Struct, frozen=True, array_like=True, tag="agreement_declined"):
    on: date
    agreement: str
    party: str


class AgreementEnded(msgspec.Struct, frozen=True, array_like=True, tag="agreement_ended"):
    on: date
    agreement: str


class Blocked(msgspec.Struct, frozen=True, array_like=True, tag="blocked"):
    """Blocked for these reason categories (001's blocking structures)."""

    on: date
    reasons: tuple[str, ...]


class Unblocked(msgspec.Struct, frozen=True, array_like=True, tag="unblocked"):
    on: date


class EscalationRaised(msgspec.Struct, frozen=True, array_like=True, tag="escalation_raised"):
    on: date
    escalation: str
    level: str
    reason: str


class EscalationLevelChanged(
    msgspec.Struct, frozen=True, array_like=True, tag="escalation_level_changed"
):
    on: date
    escalation: str
    from_level: str
    to_level: str


class EscalationResolved(msgspec.Struct, frozen=True, array_like=True, tag="escalation_resolved"):
    on: date
    escalation: str


class HandedOver(msgspec.Struct, frozen=True, array_like=True, tag="handed_over"):
    """A handover (000, 004): whether coordination passed with it."""

    on: date
    transfers_coordination: bool


class Referred(msgspec.Struct, frozen=True, array_like=True, tag="referred"):
    """Who referred the trajectory: the referrer's organisation (001: whether the referrer
    stays engaged is one of the factors known early). Not an activity of its own: the
    referral is the unit's ``referred_on``."""

    on: date
    organisation: str


class ContinuedFrom(msgspec.Struct, frozen=True, array_like=True, tag="continued_from"):
    """This trajectory carries the plan of an earlier one (000's thread)."""

    on: date


Detail = (
    Consulted
    | Signed
    | AgreementProposed
    | AgreementAccepted
    | AgreementDeclined
    | AgreementEnded
    | Blocked
    | Unblocked
    | EscalationRaised
    | EscalationLevelChanged
    | EscalationResolved
    | HandedOver
    | ContinuedFrom
    | Referred
)


class Due(msgspec.Struct, frozen=True, array_like=True):
    """What the procedures table needs of one of a unit's deadlines
    (``domain.deadlines.Deadline``): its rule, the day it falls due and the day it was met."""

    rule: str
    due_on: date
    met_on: date | None


class UnitRecord(msgspec.Struct, frozen=True):
    """One trajectory as statistics see it: where it is counted and what happened when.

    ``facts`` are the deadline facts (``domain.deadlines.Fact``) and ``details`` the further
    facts statistics need, each in the order they happened. ``deadlines`` are those the facts
    give under the deadline policy whose fingerprint is ``policy``, as the projection worked
    them out (``None``: not worked out; a release under another policy works them out itself).
    """

    trajectory_id: str
    region: str
    sector: str
    referred_on: date
    facts: tuple[Fact, ...] = ()
    details: tuple[Detail, ...] = ()
    deadlines: tuple[Due, ...] | None = None
    policy: str = ""


def _on(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def details_of(event: Any) -> list[Detail]:
    """The statistics' own facts an event adds: structured values only, never free text and
    never a ``person_ref`` (participants are counted, and named by organisation)."""
    on = _on(event.occurred_at)
    match event:
        case T.ConsultationHeld():
            # As stored in the clear: organisations and roles (each ``person_ref`` is sealed,
            # and left shut, issue #22).
            participants = in_the_clear(event, "participants")
            return [
                Consulted(
                    on,
                    event.kind.value,
                    event.client_involvement.value,
                    tuple(sorted({p.organisation for p in participants})),
                    len(participants),
                    tuple(sorted({p.role.value for p in participants})),
                )
            ]
        case T.PlanSigned():
            return [Signed(on, event.signatory.value)]
        case T.RoleAgreementProposed():
            parties = tuple(sorted({a.party for a in event.assignments}))
            return [AgreementProposed(on, event.agreement_id, parties)]
        case T.RoleAgreementAccepted():
            return [AgreementAccepted(on, event.agreement_id, event.party)]
        case T.RoleAgreementDeclined():
            return [AgreementDeclined(on, event.agreement_id, event.party)]
        case T.RoleAgreementEnded():
            return [AgreementEnded(on, event.agreement_id)]
        case T.Blocked():
            return [Blocked(on, tuple(r.value for r in event.reasons))]
        case T.Unblocked():
            return [Unblocked(on)]
        case T.EscalationRaised():
            return [
                EscalationRaised(on, event.escalation_id, event.level.value, event.reason.value)
            ]
        case T.EscalationLevelChanged():
            return [
                EscalationLevelChanged(
                    on, event.escalation_id, event.from_level.value, event.to_level.value
                )
            ]
        case T.EscalationResolved():
            return [EscalationResolved(on, event.escalation_id)]
        case T.HandedOver():
            return [HandedOver(on, event.transfers_coordination)]
        case T.ContinuedFrom():
            return [ContinuedFrom(on)]
        case T.Referred():
            return [Referred(on, event.referrer_organisation)]
    return []


_FACTS = msgspec.json.Decoder(tuple[Fact, ...])
_DUE = msgspec.json.Decoder(tuple[Due, ...])
_DETAILS = msgspec.json.Decoder(tuple[Detail, ...])
_ENCODER = msgspec.json.Encoder()


def ended_last_on(
    referred_on: date, facts: Sequence[Fact], details: Sequence[Detail]
) -> date | None:
    """The last day an ended trajectory's record names (its referral, a fact, a fact's due
    day, a detail); ``None`` while it has not ended (no closed or declined fact). It holds no
    deadline policy: a release adds the policy's reach to it (``tables._settled_by``)."""
    if not any(fact.kind in ("closed", "declined") for fact in facts):
        return None
    return max(
        (
            referred_on,
            *(fact.on for fact in facts),
            *(fact.due for fact in facts if fact.due is not None),
            *(detail.on for detail in details),
        )
    )


class _Working(msgspec.Struct):
    region: str
    sector: str
    referred_on: date
    facts: list[Fact]
    details: list[Detail]


def worked_out_under(policy: DeadlinePolicy) -> str | None:
    """What a row's ``policy`` column names: the policy's fingerprint and the version of the
    code that works deadlines out (``domain.deadlines.RULES_VERSION``); None for a policy
    without a fingerprint (nothing is kept then)."""
    return f"{policy.fingerprint}/{RULES_VERSION}" if policy.fingerprint else None


def deadlines_of(facts: Sequence[Fact], rules: Sequence[DeadlineRule]) -> list[Due]:
    """The deadlines ``facts`` give under ``rules``, as a unit keeps them."""
    return [Due(d.rule, d.due_on, d.met_on) for d in instances(facts, rules)]


class StatisticsProjection:
    """``st_units``: one working row per trajectory, for the statistics releases."""

    name = "statistics"
    tables: tuple[str, ...] = ("st_units",)
    #: Dated, structured facts, rule names and organisation identifiers only: an erasure
    #: rewrites nothing.
    personal_tables: tuple[str, ...] = ()

    def __init__(self, policy: DeadlinePolicy) -> None:
        self.policy = policy
        # Each row keeps its deadlines under this policy: another policy rebuilds the rows (as
        # the deadlines read model does), and each row names the policy it was worked out
        # under, so a release under another one never takes them.
        # ``RULES_VERSION`` too: deadlines worked out by other code are worked out again.
        self.version = (CODE_VERSION * 1_000 + RULES_VERSION) * 10**6 + int(
            policy.fingerprint or "0", 16
        ) % 10**6
        self._rules: dict[tuple[str, str], list[DeadlineRule]] = {}

    def _deadlines(self, unit: "_Working") -> str | None:
        if not self.policy.fingerprint:
            return None  # a policy without a fingerprint cannot be named: nothing kept
        where = (unit.region, unit.sector)
        rules = self._rules.get(where)
        if rules is None:
            rules = self._rules[where] = self.policy.rules_for(*where)
        return _ENCODER.encode(deadlines_of(unit.facts, rules)).decode()

    def ddl(self, suffix: str, generation: str) -> list[str]:
        units = f"st_units{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {units} ("
            "trajectory_id TEXT PRIMARY KEY, region TEXT NOT NULL, sector TEXT NOT NULL, "
            "referred_on TEXT NOT NULL, facts TEXT NOT NULL, details TEXT NOT NULL, "
            # ``ended_last_on``: a date the facts already hold, so nothing an erasure takes;
            # ``deadlines``: rule names and dates worked out from the facts, under ``policy``.
            "ended_last_on TEXT, deadlines TEXT, policy TEXT NOT NULL)",
            # A release reads the units of its regions referred by the end of its period.
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_st_units_region "
            f"ON {units} (region, referred_on)",
        ]

    def apply(self, tx: Tx, batch: Sequence[tuple[int, Any]], suffix: str) -> None:
        created: dict[str, _Working] = {}
        facts: dict[str, list[Fact]] = {}
        details: dict[str, list[Detail]] = {}
        for _, event in batch:
            if not isinstance(event, Trajectory.Event):
                continue
            key = str(event.originator_id)
            if isinstance(event, T.Referred):
                created[key] = _Working(
                    event.region, event.sector.value, _on(event.occurred_at), [], []
                )
                continue
            new_facts, new_details = facts_of(event), details_of(event)
            if new_facts:
                facts.setdefault(key, []).extend(new_facts)
            if new_details:
                details.setdefault(key, []).extend(new_details)
        touched = sorted({*created, *facts, *details})
        if not touched:
            return
        known = self._known(tx, [tid for tid in touched if tid not in created], suffix)
        rows: list[tuple[str | None, ...]] = []
        new_rows: list[tuple[str | None, ...]] = []
        for tid in touched:
            unit = created.get(tid) or known[tid]
            # In the order they happened: a back-dated fact takes its place (stable sort).
            unit.facts = sorted([*unit.facts, *facts.get(tid, ())], key=lambda f: f.on)
            unit.details = sorted([*unit.details, *details.get(tid, ())], key=lambda d: d.on)
            last = ended_last_on(unit.referred_on, unit.facts, unit.details)
            (new_rows if tid in created else rows).append(
                (
                    tid,
                    unit.region,
                    unit.sector,
                    unit.referred_on.isoformat(),
                    _ENCODER.encode(unit.facts).decode(),
                    _ENCODER.encode(unit.details).decode(),
                    last.isoformat() if last is not None else None,
                    self._deadlines(unit),
                    worked_out_under(self.policy),
                )
            )
        columns = (
            "trajectory_id",
            "region",
            "sector",
            "referred_on",
            "facts",
            "details",
            "ended_last_on",
            "deadlines",
            "policy",
        )
        tx.insert_rows(f"st_units{suffix}", columns, new_rows)  # referred here: no row yet
        tx.executemany(
            f"INSERT INTO st_units{suffix} ({', '.join(columns)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trajectory_id) DO UPDATE SET "
            "facts = excluded.facts, details = excluded.details, "
            "ended_last_on = excluded.ended_last_on, deadlines = excluded.deadlines, "
            "policy = excluded.policy",
            rows,
        )

    @staticmethod
    def _known(tx: Tx, ids: list[str], suffix: str) -> dict[str, _Working]:
        known = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found = tx.fetchall(
                "SELECT trajectory_id, region, sector, referred_on, facts, details "
                f"FROM st_units{suffix} WHERE trajectory_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for tid, region, sector, referred_on, facts, details in found:
                known[tid] = _Working(
                    region,
                    sector,
                    date.fromisoformat(referred_on),
                    list(_FACTS.decode(facts)),
                    list(_DETAILS.decode(details)),
                )
        return known


class KnownUnits:
    """The units read before, each with a fingerprint of the row it was decoded from: reading
    them again gives the same ``UnitRecord`` object for a row that did not change, without
    decoding it (a release reads every unit of the store; most did not change since the
    last). Held by one process between its releases; never stored."""

    def __init__(self) -> None:
        self._units: dict[str, tuple[bytes, UnitRecord]] = {}

    def unit(self, row: Sequence[str | None]) -> UnitRecord:
        fingerprint = hashlib.blake2b(
            "\x1f".join(v if v is not None else "\x00" for v in row[1:]).encode(),
            digest_size=16,
        ).digest()
        tid = str(row[0])
        known = self._units.get(tid)
        if known is not None and known[0] == fingerprint:
            return known[1]
        unit = _decode(row)
        self._units[tid] = (fingerprint, unit)
        return unit


def _decode(row: Sequence[Any]) -> UnitRecord:
    tid, region, sector, referred_on, facts, details, deadlines, policy = row
    return UnitRecord(
        tid,
        region,
        sector,
        date.fromisoformat(referred_on),
        _FACTS.decode(facts),
        _DETAILS.decode(details),
        _DUE.decode(deadlines) if deadlines is not None else None,
        policy,
    )


def read_units(
    tx: Tx,
    regions: Collection[str] | None = None,
    referred_by: date | None = None,
    known: KnownUnits | None = None,
    ended_last_from: date | None = None,
) -> Iterator[UnitRecord]:
    """Every unit (of ``regions``, if given; referred on or before ``referred_by``, if given;
    not ended, or whose record names a day on or after ``ended_last_from``, if given), by
    trajectory id, a page at a time: a release of a large region never holds the rows in
    memory twice. With ``known``, a row read before and unchanged since is not decoded again."""
    decode = known.unit if known is not None else _decode
    where, params = [], []
    if regions is not None:
        if not regions:
            return
        where.append(f"region IN ({', '.join('?' * len(regions))})")
        params.extend(sorted(regions))
    if referred_by is not None:
        where.append("referred_on <= ?")
        params.append(referred_by.isoformat())
    if ended_last_from is not None:
        # ISO dates compare as text in their order, on both databases.
        where.append("(ended_last_on IS NULL OR ended_last_on >= ?)")
        params.append(ended_last_from.isoformat())
    after = ""
    while True:
        page = tx.fetchall(
            "SELECT trajectory_id, region, sector, referred_on, facts, details, deadlines, "
            "policy FROM st_units "
            f"WHERE {' AND '.join([*where, 'trajectory_id > ?'])} "
            f"ORDER BY trajectory_id LIMIT {PAGE}",
            [*params, after],
        )
        for row in page:
            yield decode(row)
        if len(page) < PAGE:
            return
        after = page[-1][0]


def regions_and_sectors(tx: Tx, referred_by: date) -> tuple[set[str], list[str]]:
    """The regions and sectors of every unit referred on or before ``referred_by``, the
    sectors in the order ``read_units`` first meets them (by trajectory id): a population
    built from fewer units (``ended_last_from``) still has the cells of every one of them."""
    found = tx.fetchall(
        "SELECT region, sector, min(trajectory_id) FROM st_units WHERE referred_on <= ? "
        "GROUP BY region, sector",
        [referred_by.isoformat()],
    )
    first: dict[str, str] = {}
    for _, sector, tid in found:
        if sector not in first or tid < first[sector]:
            first[sector] = tid
    return {region for region, _, _ in found}, sorted(first, key=first.__getitem__)


def earliest_referral(tx: Tx) -> date | None:
    """The day of the earliest referral on record: releases are due from its year on."""
    found = tx.fetchall("SELECT min(referred_on) FROM st_units")[0][0]
    return date.fromisoformat(found) if found else None
