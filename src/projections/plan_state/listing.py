"""The trajectory list: newest referral first, filtered, a page at a time behind a cursor."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.common import Sector
from domain.trajectory import Status
from projections.plan_state.scope import Scope, scoped
from projections.store import iso


class InvalidCursor(ValueError):
    """A pagination cursor this API did not give out."""


class TrajectorySummary(msgspec.Struct):
    id: UUID
    version: int
    status: Status
    sector: Sector
    region: str
    referrer_organisation: str
    coordinating_organisation: str | None
    referred_at: datetime


class TrajectoryPage(msgspec.Struct):
    items: list[TrajectorySummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ListFilter(Scope):
    status: Status | None = None
    limit: int = 50
    cursor: str | None = None


def encode_cursor(referred_at: str, trajectory_id: str) -> str:
    return base64.urlsafe_b64encode(f"{referred_at}|{trajectory_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The position a cursor names; only a cursor exactly as ``encode_cursor`` wrote it.

    Parsing alone is lenient (base64 skips stray characters, ``fromisoformat`` took a NUL after
    the offset), and what it let through reached the SQL: a NUL made PostgreSQL fail (issue
    #10). Re-encoding what was parsed and comparing refuses every cursor this API did not give
    out, on both databases alike.
    """
    refused = InvalidCursor("cursor is not one this API gave out; start without it")
    try:
        referred_at, trajectory_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        canonical = encode_cursor(
            str(iso(datetime.fromisoformat(referred_at))), str(UUID(trajectory_id))
        )
    except (ValueError, binascii.Error, UnicodeError, OverflowError):
        raise refused from None
    if canonical != cursor:
        raise refused
    return referred_at, trajectory_id


def list_query(f: ListFilter) -> tuple[str, list[Any]]:
    """The list's SQL and its parameters: one row more than the page, to tell if more follow.
    Raises ``InvalidCursor``."""
    # An organisation's list walks its own index (organisation, referred_at, id) on the
    # parties table, newest first, instead of sorting all of its trajectories.
    by_party = f.organisation is not None
    order = "p.referred_at DESC, p.trajectory_id DESC" if by_party else "referred_at DESC, id DESC"
    source, params = scoped(f)
    sql = [
        "SELECT t.id, t.version, t.status, t.sector, t.region, t.referrer_organisation, "
        "t.coordinating_organisation, t.referred_at",
        *source,
    ]
    if f.status is not None:
        sql.append("AND t.status = ?")
        params.append(f.status.value)
    if f.cursor:
        referred_at, last_id = decode_cursor(f.cursor)
        column, key = (
            ("p.referred_at", "p.trajectory_id") if by_party else ("t.referred_at", "t.id")
        )
        sql.append(f"AND ({column} < ? OR ({column} = ? AND {key} < ?))")
        params += [referred_at, referred_at, last_id]
    sql.append(f"ORDER BY {order} LIMIT ?")
    params.append(f.limit + 1)
    return " ".join(sql), params


def list_page(rows: list[tuple[Any, ...]], f: ListFilter) -> TrajectoryPage:
    """The page ``list_query``'s rows make, and the cursor to the next if there is one."""
    items = [
        TrajectorySummary(
            id=UUID(r[0]),
            version=int(r[1]),
            status=Status(r[2]),
            sector=Sector(r[3]),
            region=r[4],
            referrer_organisation=r[5],
            coordinating_organisation=r[6],
            referred_at=datetime.fromisoformat(r[7]),
        )
        for r in rows[: f.limit]
    ]
    next_cursor = (
        encode_cursor(rows[f.limit - 1][7], rows[f.limit - 1][0]) if len(rows) > f.limit else None
    )
    return TrajectoryPage(items=items, next_cursor=next_cursor)
