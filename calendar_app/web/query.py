"""The pages' query strings, read one way (calendar_app/query_args.py): a bad value is a 400 page
that names the parameter, in the reader's language."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask_babel import lazy_gettext as _l

from calendar_app.models import PostStatus
from calendar_app.query_args import QueryArgs
from calendar_app.web.formatting import team_timezone

# The calendar's filters, as its form and its links name them.
FILTER_NAMES = ("channel", "department", "campaign", "status")
# ... and as the rules name them.
RULE_NAMES = {"channel": "channel_id", "department": "department_id", "campaign": "campaign_id"}


def page_query() -> QueryArgs:
    return QueryArgs(request.args, language=None)


def plan_filters(query: QueryArgs) -> dict[str, int | str | None]:
    """The calendar's filters (channel, department, campaign, status) as the rules name them."""
    filters: dict[str, int | str | None] = {
        rule_name: query.id(name) for name, rule_name in RULE_NAMES.items()
    }
    filters["status"] = query.choice("status", PostStatus)
    return filters


def wall_clock_range(query: QueryArgs) -> tuple[datetime | None, datetime | None]:
    """`start` and `end` on the team's clock, as the calendar widget asks for a range."""
    timezone = team_timezone()
    return query.wall_clock("start", timezone), query.wall_clock("end", timezone)


def required_range(query: QueryArgs) -> tuple[datetime, datetime]:
    """`start` and `end`, both needed (the calendar widget always sends them); this reads the
    last parameters of the request, so it refuses the request if any was bad."""
    start, end = wall_clock_range(query)
    for name, value in (("start", start), ("end", end)):
        if value is None and name not in query.problems:
            query.refuse(name, _l("is missing"))
    query.check()
    assert start is not None
    assert end is not None
    return start, end
