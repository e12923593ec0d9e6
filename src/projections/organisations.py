"""The organisation register as a read model: every organisation the record names, and what it is.

``rm_organisations`` holds one row per organisation identifier: the registered ones with their
name, kind, status, region and public identifiers (``domain.organisation``), and every
organisation the record names that nobody registered — a referrer, a coordinating organisation,
a participant, a role agreement's party, a handover's parties, a consent's party, the actor's
organisation — as kind ``unclassified`` and status ``unregistered``. That is how the
organisations recorded before the register existed are "migrated as kind unclassified" (issue
#12): the projection rebuilds from the log, so the store itself needs no migration, and an admin
finds them with ``?kind=unclassified`` and classifies them by registering them.

No personal data: organisations are not persons. Informal carers at a consultation are persons
of the client's network (their ``organisation`` names a network, not an organisation), so they
are left out; so are the record's own processes (the scheduler acts as the deployment itself).

The module owns the table: its DDL, its writer (``OrganisationsProjection``) and its queries, on
a write-side transaction (``organisation_kinds``, ``organisations``, ``organisation``: the
statistics release runs in one) and on the API's async runner (``OrganisationQueries``), the
same SQL for both.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from application.codec import in_the_clear
from domain.client import Client
from domain.common import Actor, Role
from domain.organisation import Organisation, OrganisationKind, PublicIdentifiers
from domain.trajectory import Trajectory
from projections.runner import Runner
from projections.store import Tx, iso

T = Trajectory

#: Roles of the record's own processes: their actor's organisation is the deployment itself.
SYSTEM_ROLES = frozenset({"scheduler"})


class RegisterStatus(StrEnum):
    """Where an organisation stands in the register."""

    PROVISIONAL = "provisional"  # registered by a coordinator, awaiting an admin
    CONFIRMED = "confirmed"  # registered or confirmed by an admin
    UNREGISTERED = "unregistered"  # named in the record, never registered (kind unclassified)


class OrganisationView(msgspec.Struct, kw_only=True):
    """One organisation of the register, or one the record names that nobody registered."""

    #: The identifier the whole record uses (a token's ``org``, a referrer, a party).
    identifier: str
    #: ``None`` while unregistered.
    name: str | None
    kind: OrganisationKind
    status: RegisterStatus
    region: str | None
    public_identifiers: PublicIdentifiers
    #: The register's version of it (for ``If-Match``); 0 while unregistered.
    version: int
    #: When the record first named it (registered or not).
    first_seen_at: datetime
    #: When it was last registered, confirmed, corrected or classified; ``None``: never.
    updated_at: datetime | None = None


class OrganisationList(msgspec.Struct):
    items: list[OrganisationView]
    #: Pass as ``after`` for the next page; ``None`` on the last page.
    next_after: str | None = None


class OrganisationFilter(msgspec.Struct, frozen=True, kw_only=True):
    kind: OrganisationKind | None = None
    status: RegisterStatus | None = None
    region: str | None = None
    #: Identifiers after this one (the list is ordered by identifier).
    after: str | None = None
    limit: int = 500


# --- which organisations an event names ----------------------------------------------------------


def named_organisations(event: Any) -> Iterable[str]:
    """The organisation identifiers an event of a trajectory or a client names."""
    actor: Actor = event.actor
    if actor.role not in SYSTEM_ROLES:
        yield actor.organisation
    if isinstance(event, T.Referred):
        yield event.referrer_organisation
    elif isinstance(event, T.Accepted):
        yield event.coordinating_organisation
    elif isinstance(event, T.ConsultationHeld):
        participants = in_the_clear(event, "participants")  # person_ref left shut (#22)
        yield from (p.organisation for p in participants if p.role != Role.INFORMAL_CARER)
    elif isinstance(event, T.RoleAgreementProposed):
        yield from (a.party for a in event.assignments if a.role != Role.INFORMAL_CARER)
    elif isinstance(event, T.RoleAgreementAccepted | T.RoleAgreementDeclined):
        yield event.party
    elif isinstance(event, T.HandedOver):
        yield from (event.from_party, event.to_party)
    elif isinstance(event, Client.ConsentGranted):
        yield event.to_party


# --- the writer ----------------------------------------------------------------------------------

_UNCLASSIFIED = OrganisationKind.UNCLASSIFIED.value
_COLUMNS = (
    "identifier, name, kind, status, region, enterprise_number, agb, ura, kvk, version, "
    "first_seen_at, updated_at"
)


class OrganisationsProjection:
    """``rm_organisations``: the register, and the organisations the record names unregistered."""

    name = "organisations"
    version = 1
    tables: tuple[str, ...] = ("rm_organisations",)
    #: Organisations are not persons: an erasure rewrites nothing here.
    personal_tables: tuple[str, ...] = ()

    def ddl(self, suffix: str, generation: str) -> list[str]:
        t = f"rm_organisations{suffix}"
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "identifier TEXT PRIMARY KEY, aggregate_id TEXT, name TEXT, kind TEXT NOT NULL, "
            "status TEXT NOT NULL, region TEXT, enterprise_number TEXT, agb TEXT, ura TEXT, "
            "kvk TEXT, version INTEGER NOT NULL, first_seen_at TEXT NOT NULL, updated_at TEXT)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS ix_{generation}_organisations_aggregate "
            f"ON {t} (aggregate_id)",
            f"CREATE INDEX IF NOT EXISTS ix_{generation}_organisations_kind "
            f"ON {t} (kind, identifier)",
        ]

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]], suffix: str) -> None:
        """In log order, whatever the batches: the organisations other events name are gathered
        (each once, kept if already there) and written before each event of the register and
        at the end, so a rebuild in other batches writes the very same rows."""
        table = f"rm_organisations{suffix}"
        seen: dict[str, str | None] = {}
        for _, event in events:
            if isinstance(event, Trajectory.Event | Client.Event):
                for identifier in named_organisations(event):
                    seen.setdefault(identifier, iso(event.timestamp))
            elif isinstance(event, Organisation.Event):
                self._write_seen(tx, table, seen)
                self._apply_register(tx, table, event)
        self._write_seen(tx, table, seen)

    @staticmethod
    def _write_seen(tx: Tx, table: str, seen: dict[str, str | None]) -> None:
        if seen:
            tx.executemany(
                f"INSERT INTO {table} (identifier, kind, status, version, first_seen_at) "
                "VALUES (?, ?, ?, 0, ?) ON CONFLICT (identifier) DO NOTHING",
                [
                    (identifier, _UNCLASSIFIED, RegisterStatus.UNREGISTERED.value, when)
                    for identifier, when in seen.items()
                ],
            )
            seen.clear()

    @staticmethod
    def _apply_register(tx: Tx, table: str, event: Organisation.Event) -> None:
        at, version = iso(event.timestamp), event.originator_version
        aggregate_id = event.originator_id
        if isinstance(event, Organisation.Registered):
            ids = event.public_identifiers
            status = (
                RegisterStatus.PROVISIONAL
                if isinstance(event, Organisation.RegisteredProvisionally)
                else RegisterStatus.CONFIRMED
            )
            tx.execute(
                f"INSERT INTO {table} (aggregate_id, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (identifier) DO UPDATE SET aggregate_id = excluded.aggregate_id, "
                "name = excluded.name, kind = excluded.kind, status = excluded.status, "
                "region = excluded.region, enterprise_number = excluded.enterprise_number, "
                "agb = excluded.agb, ura = excluded.ura, kvk = excluded.kvk, "
                "version = excluded.version, updated_at = excluded.updated_at",
                (
                    str(aggregate_id),
                    event.identifier,
                    event.name,
                    event.kind.value,
                    status.value,
                    event.region,
                    ids.enterprise_number,
                    ids.agb,
                    ids.ura,
                    ids.kvk,
                    version,
                    at,
                    at,
                ),
            )
            return
        assignments: list[tuple[str, Any]] = []
        if isinstance(event, Organisation.Confirmed):
            assignments.append(("status", RegisterStatus.CONFIRMED.value))
        elif isinstance(event, Organisation.Classified):
            assignments.append(("kind", event.kind.value))
        elif isinstance(event, Organisation.Corrected):
            if event.name is not None:
                assignments.append(("name", event.name))
            if event.region is not None:
                assignments.append(("region", event.region))
            if (corrected := event.public_identifiers) is not None:
                assignments += [
                    ("enterprise_number", corrected.enterprise_number),
                    ("agb", corrected.agb),
                    ("ura", corrected.ura),
                    ("kvk", corrected.kvk),
                ]
        assignments += [("version", version), ("updated_at", at)]
        columns = ", ".join(f"{column} = ?" for column, _ in assignments)  # names are ours
        tx.execute(
            f"UPDATE {table} SET {columns} WHERE aggregate_id = ?",
            [*(value for _, value in assignments), str(aggregate_id)],
        )


# --- queries: the same SQL on a transaction and on the API's runner -----------------------------

_KINDS_SQL = "SELECT identifier, kind FROM rm_organisations"
_ONE_SQL = f"SELECT {_COLUMNS} FROM rm_organisations WHERE identifier = ?"


def _list_sql(where: OrganisationFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("kind", "status", "region"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(str(value))
    if where.after is not None:
        clauses.append("identifier > ?")
        params.append(where.after)
    condition = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    params.append(where.limit + 1)
    return (
        f"SELECT {_COLUMNS} FROM rm_organisations {condition}ORDER BY identifier LIMIT ?",
        params,
    )


def _view(row: Sequence[Any]) -> OrganisationView:
    return OrganisationView(
        identifier=row[0],
        name=row[1],
        kind=OrganisationKind(row[2]),
        status=RegisterStatus(row[3]),
        region=row[4],
        public_identifiers=PublicIdentifiers(
            enterprise_number=row[5], agb=row[6], ura=row[7], kvk=row[8]
        ),
        version=int(row[9]),
        first_seen_at=datetime.fromisoformat(row[10]),
        updated_at=datetime.fromisoformat(row[11]) if row[11] else None,
    )


def _page(rows: Sequence[Sequence[Any]], limit: int) -> OrganisationList:
    items = [_view(row) for row in rows[:limit]]
    return OrganisationList(
        items=items, next_after=items[-1].identifier if len(rows) > limit else None
    )


def organisation_kinds(tx: Tx) -> dict[str, str]:
    """Identifier → kind of every organisation the record names (``unclassified`` for those
    nobody registered or classified): what the statistics release counts organisations by."""
    return dict(tx.fetchall(_KINDS_SQL))


def organisations(tx: Tx, where: OrganisationFilter) -> OrganisationList:
    """A page of the register on a write-side transaction (ordered by identifier)."""
    sql, params = _list_sql(where)
    return _page(tx.fetchall(sql, params), where.limit)


def organisation(tx: Tx, identifier: str) -> OrganisationView | None:
    rows = tx.fetchall(_ONE_SQL, (identifier,))
    return _view(rows[0]) if rows else None


class OrganisationQueries:
    """The register's queries on the API's async runner (``read_sqlite`` / ``read_postgres``)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def kinds(self) -> dict[str, str]:
        return dict(await self.runner.fetch(_KINDS_SQL, []))

    async def list(self, where: OrganisationFilter) -> OrganisationList:
        sql, params = _list_sql(where)
        return _page(await self.runner.fetch(sql, params), where.limit)

    async def one(self, identifier: str) -> OrganisationView | None:
        rows = await self.runner.fetch(_ONE_SQL, [identifier])
        return _view(rows[0]) if rows else None
