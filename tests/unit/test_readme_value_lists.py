"""The README's value lists say what the commands take: each row holds its enum's values."""

import re
from enum import StrEnum
from pathlib import Path

import pytest

from domain.client import PersonRole
from domain.common import (
    ClientInvolvement,
    ConsentScope,
    ConsultationKind,
    EscalationLevel,
    PdcaPhase,
    ReasonCategory,
    Role,
    Sector,
    Signatory,
)
from domain.person_requests import RequestKind, RequestOutcome

README = Path(__file__).parents[2] / "README.md"

#: The start of each row's first cell, and the enum the commands decode its field into.
ROWS: dict[str, type[StrEnum]] = {
    "| `sector` |": Sector,
    "| a consultation's `kind` |": ConsultationKind,
    "| a consultation's `client_involvement` |": ClientInvolvement,
    "| a participant's or a role assignment's `role` |": Role,
    "| a block's `reasons`, an escalation's `reason` |": ReasonCategory,
    "| an escalation's `level`": EscalationLevel,
    "| a plan signature's `signatory` |": Signatory,
    "| a consent's `scopes` |": ConsentScope,
    "| an evaluation's `pdca_phase` (002) |": PdcaPhase,
    "| an identity link's `as_role` |": PersonRole,
    "| a person's request's `kind`": RequestKind,
    "| a request's decision's `outcome` |": RequestOutcome,
}


@pytest.mark.parametrize("start", sorted(ROWS))
def test_a_value_list_in_the_readme_holds_exactly_its_values(start: str) -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith(start)]
    assert len(rows) == 1, f"the README has {len(rows)} rows starting {start!r}"
    values_cell = rows[0].rstrip(" |").rsplit(" | ", 1)[1]
    # Only the values themselves: `representative_ref` in a remark is a field, not a value.
    listed = [v for v in re.findall(r"`([a-z_]+)`", values_cell) if v != "representative_ref"]

    assert sorted(listed) == sorted(member.value for member in ROWS[start])
