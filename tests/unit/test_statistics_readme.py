"""The README says what every statistics table and category means (issue #12, point 6)."""

from pathlib import Path

from projections.statistics.tables import TABLES

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_describes_every_table_and_category() -> None:
    missing = [
        f"{spec.name}/{category}"
        for spec in TABLES
        for category in (spec.name, *spec.categories)
        if f"`{category}`" not in README
    ]
    assert missing == []
