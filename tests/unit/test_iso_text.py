"""``projections.store.iso`` writes exactly what ``isoformat`` wrote (issue #22 made it faster).

Read models store and compare moments as this text, and a rebuild's rows must be the same as
the live worker's and as older versions': for any moment, in any time zone, with or without
microseconds, ``iso`` is ``astimezone(UTC).isoformat(timespec="microseconds")``.
"""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.store import iso

_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)


@settings(max_examples=500)
@given(
    # hypothesis takes naive bounds and adds the zone itself
    st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=_ZONES,
    ),
    st.booleans(),
)
def test_iso_is_isoformat_in_utc(moment: datetime, whole_seconds: bool) -> None:
    if whole_seconds:
        moment = moment.replace(microsecond=0)
    assert iso(moment) == moment.astimezone(UTC).isoformat(timespec="microseconds")


def test_iso_of_known_moments() -> None:
    assert iso(datetime(2024, 3, 1, 10, 11, 12, 120000, tzinfo=UTC)) == (
        "2024-03-01T10:11:12.120000+00:00"
    )
    assert iso(datetime(2024, 3, 1, 10, 11, 12, tzinfo=UTC)) == "2024-03-01T10:11:12.000000+00:00"
    assert iso(datetime(2024, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-02-29T23:00:00.000000+00:00"
    )
    assert iso(None) is None
