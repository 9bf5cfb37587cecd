"""The cadence: deliveries planned and published per week of the team's calendar (weeks start on
Monday at midnight on the team's clock, so a week changes its length in UTC when the clocks
change). One counting for the campaign page and the management report."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendar_app.timeutil import check_aware, local


@dataclass
class Week:
    starts_on: date  # the Monday
    planned: int
    published: int

    def as_json(self) -> dict[str, Any]:
        year, number, _ = self.starts_on.isocalendar()
        return {
            "week": f"{year}-W{number:02d}",
            "starts_on": self.starts_on.isoformat(),
            "planned": self.planned,
            "published": self.published,
        }


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(moment: datetime, timezone: str) -> date:
    """The Monday of the team's week `moment` falls in."""
    return monday_of(local(moment, timezone).date())


def _start(monday: date, timezone: str) -> datetime:
    return datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(timezone)).astimezone(
        UTC
    )


def weekly_cadence(
    planned: Iterable[datetime],
    published: Iterable[datetime],
    first: date,
    last: date,
    timezone: str,
    *,
    widen: bool = True,
) -> list[Week]:
    """Counts per week from the week of `first` to the week of `last`. With `widen`, weeks
    before or after that hold a planned or published delivery are added (a campaign whose posts
    went out after its end); without it, moments outside are not counted.

    Each moment is placed by bisecting the weeks' starts in UTC, so thousands of moments cost
    one time-zone conversion per week, not one per moment."""
    planned, published = list(planned), list(published)
    first, last = monday_of(first), monday_of(last)
    if widen and (planned or published):
        moments = [*planned, *published]
        first = min(first, week_of(min(moments), timezone))
        last = max(last, week_of(max(moments), timezone))
    mondays = []
    monday = first
    while monday <= last:
        mondays.append(monday)
        monday += timedelta(days=7)
    starts = [_start(m, timezone) for m in mondays]
    end = _start(last + timedelta(days=7), timezone)

    def counts(moments: list[datetime]) -> list[int]:
        tally = [0] * len(mondays)
        for moment in moments:
            moment = check_aware(moment)
            if moment < starts[0] or moment >= end:
                continue
            tally[bisect_right(starts, moment) - 1] += 1
        return tally

    planned_counts, published_counts = counts(planned), counts(published)
    return [
        Week(monday, planned_counts[i], published_counts[i]) for i, monday in enumerate(mondays)
    ]
