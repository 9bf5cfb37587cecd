"""The periods the evaluation is asked about, read from a query string on the team's calendar."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_app.errors import InvalidInput
from calendar_app.evaluation.report import last_month, month_bounds
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import local, now_utc
from calendar_app.words import _l

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DEFAULT_TEAM_DAYS = 28
MAX_REPORT_DAYS = 366


def today(timezone: str) -> date:
    return local(now_utc(), timezone).date()


def team_period(args: Mapping[str, str], timezone: str) -> tuple[datetime, datetime, date, date]:
    """`from` and `to` (days, both included; default the last four weeks) as instants."""
    query = QueryArgs(args)
    first, last = query.date("from"), query.date("to")
    query.check()
    last = last or today(timezone)
    first = first or last - timedelta(days=DEFAULT_TEAM_DAYS - 1)
    if first > last:
        raise InvalidInput(_l("from is after to"), {"from": _l("must not be after to")})
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end, first, last


def report_period(args: Mapping[str, str], timezone: str) -> tuple[date, date]:
    """`month=2026-11`, or `from` and `to` (days, both included); the last full month by
    default. Returns the first day and the day after the last."""
    if args.get("from") or args.get("to"):
        _, _, first, last = team_period(args, timezone)
        if (last - first).days > MAX_REPORT_DAYS:
            raise InvalidInput(
                _l(
                    "a report covers at most %(max_report_days)s days",
                    max_report_days=MAX_REPORT_DAYS,
                ),
                {"to": _l("too far from from")},
            )
        return first, last + timedelta(days=1)
    month = (args.get("month") or "").strip() or last_month(today(timezone))
    match = MONTH.match(month)
    if match is None or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidInput(_l("month must be like 2026-11"), {"month": _l("must be like 2026-11")})
    return month_bounds(month, timezone)
