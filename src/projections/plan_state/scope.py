"""Which trajectories a view of the plan state covers: the board and the list share it."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.common import Sector


@dataclass(frozen=True, slots=True)
class Scope:
    """An organisation's trajectories (those it is a party to), a region's, a sector's; each
    ``None`` means any."""

    organisation: str | None = None
    region: str | None = None
    sector: Sector | None = None


def scoped(scope: Scope) -> tuple[list[str], list[Any]]:
    """``FROM … WHERE …`` the trajectories ``t`` in ``scope``, and its parameters; the caller
    adds its own conditions (``AND …``). An organisation's view starts from its own rows ``p``
    in the parties table (its index), not from every trajectory of the register."""
    if scope.organisation is not None:
        sql = [
            "FROM rm_trajectory_parties p JOIN rm_trajectories t ON t.id = p.trajectory_id "
            "WHERE p.organisation = ?"
        ]
        params: list[Any] = [scope.organisation]
    else:
        sql, params = ["FROM rm_trajectories t WHERE 1 = 1"], []
    return _region_and_sector(scope, sql, params)


def _region_and_sector(
    scope: Scope, sql: list[str], params: list[Any]
) -> tuple[list[str], list[Any]]:
    """``sql`` and ``params`` with the scope's region and sector conditions on ``t`` added."""
    if scope.region is not None:
        sql.append("AND t.region = ?")
        params.append(scope.region)
    if scope.sector is not None:
        sql.append("AND t.sector = ?")
        params.append(scope.sector.value)
    return sql, params


def among(scope: Scope, trajectory_ids: Sequence[str], dialect: str) -> tuple[str, list[Any]]:
    """``SELECT`` the ids of ``trajectory_ids`` that are in ``scope``: the same conditions as
    ``scoped``, asked from the ids by primary key (a page of a standby's board or list checked
    on the primary, ``plan_state.standby``), so its cost is the page's, not the scope's. An
    organisation's rows are found on the parties table's key (organisation, trajectory id):
    every plan of it is a look-up per id."""
    params: list[Any]
    if dialect == "postgres":  # one statement text, whatever the page's size
        ids, params = "= ANY(?::text[])", [list(trajectory_ids)]
    else:
        ids, params = f"IN ({', '.join('?' * len(trajectory_ids))})", list(trajectory_ids)
    if scope.organisation is not None:
        sql = [
            "SELECT t.id FROM rm_trajectory_parties p JOIN rm_trajectories t "
            f"ON t.id = p.trajectory_id WHERE p.organisation = ? AND p.trajectory_id {ids}"
        ]
        params.insert(0, scope.organisation)
    else:
        sql = [f"SELECT t.id FROM rm_trajectories t WHERE t.id {ids}"]
    sql, params = _region_and_sector(scope, sql, params)
    return " ".join(sql), params
