"""Time in one place: stored in UTC, shown in the team's time zone.

`now_utc()` is the single clock of the code base, so tests can control time in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    return datetime.now(UTC)


class NaiveTimeError(ValueError):
    """A time without an offset reached a place that needs to know which instant it means."""


def check_aware(value: datetime) -> datetime:
    """Refuse naive datetimes; return the same instant in UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveTimeError("time has no offset, e.g. 2026-12-01T09:00:00+01:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            "time is out of range: in UTC it must fall within the years 1-9999"
        ) from None


def parse_aware(text: str) -> datetime:
    """Parse an ISO 8601 time that carries an offset (`Z` counts); return it in UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("not an ISO 8601 time; use e.g. 2026-12-01T09:00:00+01:00") from None
    try:
        return check_aware(value)  # may also refuse a time whose UTC instant is out of range
    except NaiveTimeError:
        raise ValueError(
            "time has no offset; use e.g. 2026-12-01T09:00:00+01:00 or ...Z for UTC"
        ) from None


def iso_utc(value: datetime | None) -> str | None:
    """The API's time format: UTC with a `Z`."""
    if value is None:
        return None
    return check_aware(value).isoformat().replace("+00:00", "Z")


def local(value: datetime, timezone: str) -> datetime:
    """The same instant on the team's wall clock (DST handled by zoneinfo)."""
    return check_aware(value).astimezone(ZoneInfo(timezone))
