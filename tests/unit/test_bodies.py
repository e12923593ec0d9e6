"""How ``api.bodies`` says a strictly refused body: as the other schema problems say theirs."""

from datetime import date, datetime

import msgspec
import pytest

from api.bodies import _integral, _refused


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    occurred_at: datetime
    due_on: date | None = None
    counts: tuple[int, ...] = ()


def _told(body: dict[str, object]) -> tuple[str, str | None]:
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert(_integral(body), type=_Body, strict=True)
    refused = _refused(str(raised.value))
    extra = refused.extra if isinstance(refused.extra, list) else []
    return refused.detail, (extra[0]["key"] if extra else None)


def test_a_moment_or_a_day_sent_as_a_number_is_told_how_to_write_it() -> None:
    assert _told({"occurred_at": 1_700_000_000}) == (
        'occurred_at must be text such as "2026-10-01T12:00:00+02:00"',
        "occurred_at",
    )
    assert _told({"occurred_at": "2026-10-01T12:00:00+02:00", "due_on": 5}) == (
        'due_on must be text such as "2026-10-01"',
        "due_on",
    )


def test_another_type_keeps_msgspecs_words_with_the_field_apart() -> None:
    assert _told({"occurred_at": "2026-10-01T12:00:00+02:00", "counts": ["3"]}) == (
        "Expected `int`, got `str`",
        "counts[0]",
    )


def test_an_integral_number_written_with_a_fraction_is_an_integer() -> None:
    body = {"occurred_at": "2026-10-01T12:00:00+02:00", "counts": [1.0, 2]}
    assert msgspec.convert(_integral(body), type=_Body, strict=True).counts == (1, 2)
    assert _told({"occurred_at": "2026-10-01T12:00:00+02:00", "counts": [1.5]}) == (
        "Expected `int`, got `float`",
        "counts[0]",
    )
