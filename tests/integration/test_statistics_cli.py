"""``rodedraad statistics release`` and ``export`` beside the record (issue #12)."""

from application.care_record import CareRecord
from application.signing import PublicKey
from projections.statistics.document import decode_signed, verify_release
from projections.statistics.model import Period
from rodedraad.settings import Settings
from tests.integration.conftest import Rodedraad
from tests.integration.stories import Story, story_start, tell


def _first_full_year() -> Period:
    return Period(story_start().year + 1)


def test_a_period_is_released_from_the_command_line_and_exported_signed(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    tell(Story(record, clients=12), steps=400, seed=3)
    year = _first_full_year()

    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", str(year))
    assert code == 0, err
    assert out.startswith(f"release 1: {year} at log position ")

    code, again, err = rodedraad(own_settings, "statistics", "release", "--period", str(year))
    assert code == 0, err
    assert again == ""
    assert "already says all there is to say" in err

    # Embedded mode makes the signing key on first need; a PostgreSQL deployment once, on purpose.
    code, public, err = rodedraad(own_settings, "keys", "public", "--create")
    assert code == 0, err
    code, exported, err = rodedraad(own_settings, "statistics", "export", "1")
    assert code == 0, err
    document = verify_release(
        decode_signed(exported.encode()), [PublicKey.from_pem(public, source="keys public")]
    )
    assert (document.number, document.period) == (1, str(year))
    assert {table.name for table in document.tables} == {
        "flow",
        "procedures",
        "participation",
        "blocks",
        "continuity",
        "dynamics",
    }


def test_a_period_not_yet_past_its_lag_is_refused_with_a_reason(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    code, out, err = rodedraad(own_settings, "statistics", "release", "--period", "2999")
    assert code == 1
    assert out == ""
    assert "can be released from 3000-01-30 on" in err


def test_a_period_off_the_grid_is_refused(own_settings: Settings, rodedraad: Rodedraad) -> None:
    code, _, err = rodedraad(own_settings, "statistics", "release", "--period", "2026-03")
    assert code == 2
    assert "is not a year (2026) or a quarter (2026Q3)" in err


def test_exporting_a_release_that_does_not_exist_says_so(
    own_settings: Settings, record: CareRecord, rodedraad: Rodedraad
) -> None:
    code, out, err = rodedraad(own_settings, "statistics", "export", "7")
    assert code == 1
    assert out == ""
    assert "no statistics release numbered 7" in err
