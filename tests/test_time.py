"""Guarantee 5: stored in UTC, shown in the team's time zone, correct across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendar_app.timeutil import iso_utc, local, parse_aware


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-01T09:00:00+01:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("2026-07-01T09:00:00+02:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
        ("2026-07-01T07:00:00Z", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_times_with_an_offset_are_stored_as_utc(text: str, utc: datetime) -> None:
    assert parse_aware(text) == utc
    assert parse_aware(text).tzinfo == UTC


@pytest.mark.parametrize("text", ["2026-12-01T09:00:00", "2026-12-01", "tomorrow", ""])
def test_a_time_without_an_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"offset|ISO"):
        parse_aware(text)


def test_wall_clock_across_the_autumn_dst_change_in_berlin() -> None:
    # 2026-10-25 03:00 CEST becomes 02:00 CET: 00:30 UTC and 01:30 UTC are both "02:30".
    before = local(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "Europe/Berlin")
    after = local(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Europe/Berlin")
    assert (before.hour, before.minute, before.utcoffset().total_seconds()) == (2, 30, 7200)
    assert (after.hour, after.minute, after.utcoffset().total_seconds()) == (2, 30, 3600)


def test_wall_clock_across_the_spring_dst_change_in_berlin() -> None:
    # 2026-03-29 02:00 CET jumps to 03:00 CEST.
    assert local(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "Europe/Berlin").hour == 1
    assert local(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/Berlin").hour == 3


def test_api_times_are_utc_with_z() -> None:
    assert iso_utc(parse_aware("2026-12-01T09:00:00+01:00")) == "2026-12-01T08:00:00Z"
