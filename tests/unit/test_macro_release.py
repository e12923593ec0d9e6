"""A macro release merges deployments' exported releases and applies the rules again, with the
largest k of its inputs, knowing only what the inputs published."""

import msgspec
import pytest

from projections.statistics.document import CellDocument, ReleaseDocument, TableDocument
from projections.statistics.merge import MergeRefused, merge, merge_with_audit
from projections.statistics.model import AuditedCell
from tests.unit.statistics_documents import COMPUTED_AT, count, referrals, release


def _merge(*documents: ReleaseDocument) -> ReleaseDocument:
    return merge(documents, deployment="flanders-forum", number=1, computed_at=COMPUTED_AT)


def _cell(document: ReleaseDocument, region: str, sector: str, category: str) -> CellDocument:
    (table,) = document.tables
    return next(
        c for c in table.cells if (c.region, c.sector, c.category) == (region, sector, category)
    )


def test_the_macro_release_holds_every_region_of_its_inputs_and_names_them() -> None:
    west = release("west", {"west-1": referrals("west-1", total=40, youth=15, disability=25)})
    east = release(
        "east", {"east-1": referrals("east-1", total=30, youth=12, disability=18)}, number=4
    )
    merged = _merge(west, east)
    assert merged.regions == ["east-1", "west-1"]
    assert merged.merged_from == ["east#4", "west#1"]
    assert merged.deadline_policies == {"east-1": "policy-east-1", "west-1": "policy-west-1"}
    assert _cell(merged, "west-1", "youth", "referrals").value == 15


def test_a_count_below_the_larger_k_of_another_deployment_is_withheld_again() -> None:
    west = release("west", {"west-1": referrals("west-1", total=60, youth=12, disability=48)})
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)}, k=15)
    merged = _merge(west, east)
    assert merged.k == 15
    youth = _cell(merged, "west-1", "youth", "referrals")
    assert (youth.value, youth.withheld) == (None, "suppressed")


def test_the_regions_total_cannot_give_away_a_sector_withheld_again() -> None:
    """k 10 → 15 withholds youth (12); the total (100) minus the other sectors would say 12
    again, so the merge withholds the smallest of them too (disability, 30): a reader then
    knows only that youth and disability make 42."""
    cells = referrals("west-1", total=100, youth=12, disability=30, mental_health=58)
    west = release("west", {"west-1": cells})
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)}, k=15)
    merged, audit = merge_with_audit(
        [west, east], deployment="forum", number=1, computed_at=COMPUTED_AT
    )
    assert _cell(merged, "west-1", "disability", "referrals").withheld == "suppressed"
    assert _cell(merged, "west-1", "mental_health", "referrals").value == 58
    assert _cell(merged, "west-1", "*", "referrals").value == 100
    youth = next(f for f in audit if f.key.region == "west-1" and f.key.sector == "youth")
    assert (youth.low, youth.high) == (0, 42)
    assert all(finding.protected for finding in audit)


def test_a_cell_withheld_to_protect_another_keeps_its_own_interval_open() -> None:
    """Youth (12) withheld again takes disability (48) with it; 48 within 0…60 would be
    narrowed below its interval (33.6…62.4) by the total, so the total goes as well."""
    west = release("west", {"west-1": referrals("west-1", total=60, youth=12, disability=48)}, k=15)
    merged, audit = merge_with_audit([west], deployment="forum", number=1, computed_at=COMPUTED_AT)
    assert _cell(merged, "west-1", "disability", "referrals").withheld == "suppressed"
    assert _cell(merged, "west-1", "*", "referrals").withheld == "suppressed"
    assert all(finding.protected for finding in audit)


def test_cells_withheld_by_a_deployment_stay_withheld_for_its_reason() -> None:
    cells = [
        *referrals("west-1", total=40, youth=None, disability=None),
        count("west-1", "*", "blocked", 11),
    ]
    merged = _merge(release("west", {"west-1": cells}))
    youth = _cell(merged, "west-1", "youth", "referrals")
    assert (youth.value, youth.withheld) == (None, "suppressed")


def test_a_count_that_is_all_of_its_published_group_is_withheld() -> None:
    cells = [
        count("west-1", "*", "blocked", 12),
        count("west-1", "*", "blocked/waiting_list", 12, group="blocked"),
    ]
    merged = _merge(release("west", {"west-1": cells}))
    assert _cell(merged, "west-1", "*", "blocked/waiting_list").withheld == "suppressed"
    assert merged.tables[0].withheld_by_rule.get("all_or_none", 0) >= 1


@pytest.mark.parametrize(
    ("part", "withheld"), [(29, "suppressed"), (21, "suppressed"), (20, None), (15, None)]
)
def test_a_count_that_is_all_but_fewer_than_k_of_its_published_group_is_withheld(
    part: int, withheld: str | None
) -> None:
    """Merged at k = 10: 29 of 30 blocks waiting lists says one was not, 21 of 30 says 9 were
    not; 20 of 30 leaves 10, which a cell of its own could publish. Below the input's k (5)
    those parts passed."""
    cells = [
        count("west-1", "*", "blocked", 30),
        count("west-1", "*", "blocked/waiting_list", part, group="blocked"),
    ]
    west = release("west", {"west-1": cells}, k=5)
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)})
    merged = _merge(west, east)
    assert merged.k == 10
    assert _cell(merged, "west-1", "*", "blocked/waiting_list").withheld == withheld


def test_a_median_of_a_group_withheld_again_is_withheld() -> None:
    cells = [
        count("west-1", "*", "accepted", 12),
        CellDocument(
            region="west-1",
            sector="*",
            category="days_to_acceptance",
            kind="quantile",
            value=21,
            quantile=0.5,
            group="accepted",
        ),
    ]
    west = release("west", {"west-1": cells})
    east = release("east", {"east-1": [count("east-1", "*", "accepted", 50)]}, k=15)
    merged = _merge(west, east)
    assert _cell(merged, "west-1", "*", "days_to_acceptance").withheld == "suppressed"


def test_a_rate_is_recomputed_from_the_published_counts_only() -> None:
    cells = [
        count("west-1", "*", "referrals", 40),
        count("west-1", "*", "accepted", 12),
        CellDocument(
            region="west-1",
            sector="*",
            category="accepted_share",
            kind="rate",
            value=0.3,
            group="referrals",
            numerator="accepted",
        ),
    ]
    west = release("west", {"west-1": cells})
    east = release("east", {"east-1": [count("east-1", "*", "accepted", 50)]}, k=15)
    merged = _merge(west, east)
    assert _cell(merged, "west-1", "*", "accepted_share").withheld == "rate_part_withheld"


def test_each_table_says_what_each_rule_withheld_and_what_share_it_publishes() -> None:
    cells = referrals("west-1", total=100, youth=12, disability=30, mental_health=58)
    (table,) = _merge(release("west", {"west-1": cells}, k=15)).tables
    assert table.withheld_by_rule == {"below_k": 1, "secondary": 1}
    assert table.published_share == pytest.approx(2 / 4)


def test_a_region_released_by_two_deployments_is_refused_naming_both() -> None:
    west = release("west", {"kortrijk": referrals("kortrijk", total=40)})
    east = release("east", {"kortrijk": referrals("kortrijk", total=41)}, number=2)
    with pytest.raises(MergeRefused, match=r"'kortrijk'.*'west'.*'east'"):
        _merge(west, east)


def test_releases_of_different_periods_are_refused_naming_each() -> None:
    west = release("west", {"west-1": referrals("west-1", total=40)}, period="2026Q3")
    east = release("east", {"east-1": referrals("east-1", total=40)}, period="2026Q2")
    with pytest.raises(MergeRefused, match=r"different periods.*2026Q3.*2026Q2"):
        _merge(west, east)


def test_releases_under_different_rule_sets_are_refused() -> None:
    west = release("west", {"west-1": referrals("west-1", total=40)}, rule_set="2026.1")
    east = release("east", {"east-1": referrals("east-1", total=40)}, rule_set="2027.1")
    with pytest.raises(MergeRefused, match="different rule-sets"):
        _merge(west, east)


def test_a_process_map_released_under_a_smaller_k_is_left_out_of_the_merge() -> None:
    def with_map(document: ReleaseDocument, region: str) -> ReleaseDocument:
        edges = [
            count(region, "*", "node:referral", 40),
            count(region, "*", "edge:referral>accepted", 25, group="node:referral"),
            count(region, "*", "edge:referral>declined", 15, group="node:referral"),
        ]
        table = TableDocument(name="dynamics", cells=edges, withheld_by_rule={}, published_share=1)
        return msgspec.structs.replace(document, tables=[*document.tables, table])

    west = with_map(release("west", {"west-1": referrals("west-1", total=40)}), "west-1")
    east = with_map(release("east", {"east-1": referrals("east-1", total=80)}, k=15), "east-1")

    merged = _merge(west, east)

    dynamics = next(table for table in merged.tables if table.name == "dynamics")
    assert {cell.region for cell in dynamics.cells} == {"east-1"}
    assert [cell.value for cell in dynamics.cells] == [25, 15, 40]


def _participation(region: str, **parts: float) -> list[CellDocument]:
    """A region's consultations and the client's involvement in them (a partition: each
    consultation has one involvement), all sectors only."""
    return [count(region, "*", category, value) for category, value in parts.items()]


def test_a_part_withheld_again_is_not_given_away_by_its_whole_and_the_other_parts() -> None:
    """A deployment at k = 5 publishes 50 consultations: 35 with the client present, 10
    consulted beforehand, 5 not involved. Merged with one at k = 10, the 5 is withheld again;
    with the 50, the 35 and the 10 published, every reader knows it is 5 (each consultation has
    one involvement, a law of the tables whatever the rule set): one of them must go too."""
    cells = _participation(
        "west-1",
        consultations=50,
        **{"client:present": 35, "client:consulted_beforehand": 10, "client:not_involved": 5},
    )
    west = msgspec.structs.replace(
        release("west", {"west-1": []}, k=5),
        tables=[TableDocument("participation", cells, withheld_by_rule={}, published_share=1.0)],
    )
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)})
    merged = _merge(west, east)
    (table,) = [t for t in merged.tables if t.name == "participation"]
    by_category = {c.category: c for c in table.cells}
    assert by_category["client:not_involved"].withheld == "suppressed"
    published = [
        c.category
        for c in table.cells
        if c.category != "client:not_involved" and c.value is not None
    ]
    assert len(published) < 3, f"{published} published: the withheld 5 follows from them"
    # The smallest of the cells the bound rests on goes: the 10; the 5 and the 10 then make 15.
    assert published == ["client:present", "consultations"]


def _tables(
    deployment: str, k: int, tables: dict[str, list[CellDocument]], regions: list[str]
) -> ReleaseDocument:
    return msgspec.structs.replace(
        release(deployment, {region: [] for region in regions}, k=k),
        tables=[
            TableDocument(name, cells, withheld_by_rule={}, published_share=1.0)
            for name, cells in tables.items()
        ],
    )


def test_a_law_across_tables_is_held_too() -> None:
    """Every signed plan has one signatory: the procedures table's 29 signed plans less the
    participation table's 20 signed by the client are the 9 signed by a representative, whom
    the larger k withholds again; the merge withholds the 20 too (the smaller of the two cells
    that say it), and the audit finds both open over their intervals."""
    west = _tables(
        "west",
        5,
        {
            "procedures": [count("west-1", "*", "plan_signed", 29)],
            "participation": [
                count("west-1", "*", "signatory:client", 20),
                count("west-1", "*", "signatory:representative", 9),
            ],
        },
        ["west-1"],
    )
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)})
    merged, audit = merge_with_audit(
        [west, east], deployment="forum", number=1, computed_at=COMPUTED_AT
    )
    cells = {
        (t.name, c.category): c for t in merged.tables for c in t.cells if c.region == "west-1"
    }
    assert cells[("participation", "signatory:representative")].withheld == "suppressed"
    assert cells[("participation", "signatory:client")].withheld == "suppressed"
    assert cells[("procedures", "plan_signed")].value == 29
    representative = next(f for f in audit if f.key.category == "signatory:representative")
    assert (representative.low, representative.high) == (0, 29)
    assert all(finding.protected for finding in audit)


def _short_partition(present: int, consulted: int) -> tuple[ReleaseDocument, list[AuditedCell]]:
    """50 consultations of which the release lists fewer involvements (``present`` +
    ``consulted``) than the whole: a partition short, as no release of ours is, merged at
    k = 10 from k = 5."""
    cells = [
        count("west-1", "*", "consultations", 50),
        count("west-1", "*", "client:present", present),
        count("west-1", "*", "client:consulted_beforehand", consulted),
    ]
    west = _tables("west", 5, {"participation": cells}, ["west-1"])
    east = release("east", {"east-1": referrals("east-1", total=80, youth=40, disability=40)})
    merged, audit = merge_with_audit(
        [west, east], deployment="forum", number=1, computed_at=COMPUTED_AT
    )
    return merged, list(audit)


def test_a_relation_the_published_cells_contradict_is_no_law_of_theirs() -> None:
    """The parts listed (30 + 8) fall short of their whole (50): "the parts make the whole" is
    no law of that release, and the merge neither refuses it nor takes the 8 withheld again
    to be the 20 it would say. The other way round still holds (the whole holds its parts),
    so a reader knows the 8 is at most 50 - 30: open over its interval (3 to 13)."""
    merged, audit = _short_partition(present=30, consulted=8)
    (table,) = [t for t in merged.tables if t.name == "participation"]
    by_category = {c.category: c for c in table.cells}
    assert by_category["client:consulted_beforehand"].withheld == "suppressed"
    assert (by_category["consultations"].value, by_category["client:present"].value) == (50, 30)
    (finding,) = audit
    assert (finding.low, finding.high) == (0, 20)
    assert finding.protected


def test_the_half_of_a_contradicted_relation_that_holds_still_protects() -> None:
    """With 38 present, the whole less the present leaves the 8 at most 12, short of its 13:
    the merge withholds the 38 too (the smaller of the two it rests on)."""
    merged, audit = _short_partition(present=38, consulted=8)
    (table,) = [t for t in merged.tables if t.name == "participation"]
    by_category = {c.category: c for c in table.cells}
    assert by_category["client:present"].withheld == "suppressed"
    assert by_category["consultations"].value == 50
    assert all(finding.protected for finding in audit)


def test_a_count_no_count_could_be_is_refused_plainly() -> None:
    west = release("west", {"west-1": referrals("west-1", total=40, youth=-3)})
    with pytest.raises(MergeRefused, match="which no count is"):
        _merge(west)


def test_a_region_with_a_count_withheld_again_loses_its_process_map() -> None:
    """A map lists only its published edges, so the merge cannot hold the laws over it as a
    reader does: where it withholds a count again (here one saying "all" of its group, which
    this hand-made input published), the region's map is left out (as that of an input at a
    smaller k), and another region's map passes as it was released."""
    west = _tables(
        "west",
        12,
        {
            "flow": [
                count("west-1", "*", "referrals", 40),
                count("west-1", "*", "accepted", 40, group="referrals"),
            ],
            "dynamics": [count("west-1", "*", "node:referral", 40)],
        },
        ["west-1"],
    )
    east = _tables(
        "east",
        12,
        {
            "flow": [count("east-1", "*", "referrals", 60)],
            "dynamics": [count("east-1", "*", "node:referral", 60)],
        },
        ["east-1"],
    )
    merged = _merge(west, east)
    cells = {(t.name, c.region, c.category): c for t in merged.tables for c in t.cells}
    assert cells[("flow", "west-1", "accepted")].withheld == "suppressed"
    (dynamics,) = [t for t in merged.tables if t.name == "dynamics"]
    assert [(c.region, c.value) for c in dynamics.cells] == [("east-1", 60)]
