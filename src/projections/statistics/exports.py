"""Reading what an XES export needs, in one read transaction of the read models (issue #13).

The scope of an export is a region and a period of the statistics grid (``model.Period``): the
trajectories of the region **referred** in the period, with everything recorded of them so far.
Beside the units (``units.read_units``) and the organisations' kinds, the export needs to know
whose trajectories it holds, so the log of personal-data reads names every client
(``rm_trajectories``: trajectory → client); that mapping never enters the document. The
trajectories of an erased client are left out (and so are any the plan-state read model has not
caught up with yet).
"""

from dataclasses import dataclass
from uuid import UUID

from projections.organisations import organisation_kinds
from projections.statistics.model import Period
from projections.statistics.units import read_units
from projections.statistics.xes import ExportScope, XesExport, write_xes
from projections.store import ProjectionDatabase, Tx


@dataclass(frozen=True, slots=True)
class ExportedXes:
    """The export, and the (client, trajectory) pairs it holds, for the log of reads."""

    export: XesExport
    clients: tuple[tuple[UUID, UUID], ...]


def _clients_of(tx: Tx, region: str) -> dict[str, tuple[UUID, bool]]:
    """The region's trajectories: their client, and whether that client's data was erased."""
    rows = tx.fetchall(
        "SELECT id, client_id, erased FROM rm_trajectories WHERE region = ?", [region]
    )
    return {str(tid): (UUID(str(client)), bool(erased)) for tid, client, erased in rows}


@dataclass
class XesExports:
    """Makes exports from the read models; one instance per process."""

    read_models: ProjectionDatabase
    k: int

    def export(
        self,
        *,
        region: str,
        period: Period,
        authorisation_id: str,
        purpose: str,
        legal_basis: str,
    ) -> ExportedXes:
        scope = ExportScope(
            authorisation_id=authorisation_id,
            purpose=purpose,
            legal_basis=legal_basis,
            region=region,
            period=str(period),
            k=self.k,
        )
        with self.read_models.transaction() as tx:
            kinds = organisation_kinds(tx)
            clients = _clients_of(tx, region)
            # An erased client's trajectory is left out: the export is their personal data.
            units = [
                unit
                for unit in read_units(tx, regions={region}, referred_by=period.end)
                if unit.referred_on >= period.start
                and not clients.get(unit.trajectory_id, (None, True))[1]
            ]
        export = write_xes(units, kinds, scope, until=period.end)
        held = tuple(sorted((clients[tid][0], UUID(tid)) for tid in export.trajectory_ids))
        return ExportedXes(export, held)

    def close(self) -> None:
        self.read_models.close()
