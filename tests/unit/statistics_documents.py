"""Exported releases for the macro-release tests: a deployment's flow table, per region."""

from datetime import UTC, datetime

from projections.statistics.document import CellDocument, ReleaseDocument, TableDocument

COMPUTED_AT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def count(
    region: str,
    sector: str,
    category: str,
    value: float | None,
    withheld: str | None = None,
    group: str | None = None,
) -> CellDocument:
    return CellDocument(
        region=region,
        sector=sector,
        category=category,
        kind="count",
        value=value,
        withheld=withheld if value is None else None,
        group=group,
    )


def release(
    deployment: str,
    regions: dict[str, list[CellDocument]],
    *,
    number: int = 1,
    k: int = 10,
    period: str = "2026Q3",
    rule_set: str = "2026.1",
) -> ReleaseDocument:
    cells = [cell for region_cells in regions.values() for cell in region_cells]
    return ReleaseDocument(
        deployment=deployment,
        number=number,
        period=period,
        computed_at=COMPUTED_AT,
        log_position=4_812,
        rule_set=rule_set,
        k=k,
        deadline_policies={region: f"policy-{region}" for region in regions},
        regions=sorted(regions),
        tables=[TableDocument(name="flow", cells=cells, withheld_by_rule={}, published_share=1.0)],
    )


def referrals(region: str, **by_sector: float | None) -> list[CellDocument]:
    """A region's referrals: ``total`` is the ``*`` cell, the rest its sectors."""
    return [
        count(region, "*" if sector == "total" else sector, "referrals", value)
        for sector, value in by_sector.items()
    ]
