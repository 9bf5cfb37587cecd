"""A plan as CSV: one row per post, for spreadsheets and for moving plans between calendars.

Columns: title, body, publish_at (ISO 8601 with the offset of the team's time zone), channels (by
name, separated by `|`), department (name), campaign (name), crisis_response (true/false), status,
overrides (a JSON object: channel name -> that channel's own text; empty when there is none).

A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) is written with a leading apostrophe, which the import removes again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence

from calendar_app.models import Post
from calendar_app.timeutil import local

COLUMNS = (
    "title",
    "body",
    "publish_at",
    "channels",
    "department",
    "campaign",
    "crisis_response",
    "status",
    "overrides",
)
CHANNEL_SEPARATOR = "|"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


def guard_formula(cell: str) -> str:
    return FORMULA_GUARD + cell if cell.startswith(FORMULA_STARTS) else cell


def unguard_formula(cell: str) -> str:
    if cell.startswith(FORMULA_GUARD) and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def post_row(post: Post, timezone: str) -> list[str]:
    overrides = {d.channel.name: d.body_override for d in post.deliveries if d.body_override}
    return [
        post.title,
        post.body,
        local(post.publish_at, timezone).isoformat(),
        CHANNEL_SEPARATOR.join(d.channel.name for d in post.deliveries),
        post.department.name if post.department else "",
        post.campaign.name if post.campaign else "",
        "true" if post.crisis_response else "false",
        str(post.status),
        json.dumps(overrides, ensure_ascii=False) if overrides else "",
    ]


def rows(posts: Iterable[Post], timezone: str) -> Iterator[Sequence[str]]:
    yield COLUMNS
    for post in posts:
        yield [guard_formula(cell) for cell in post_row(post, timezone)]


def export_csv(posts: Iterable[Post], timezone: str) -> str:
    """The posts as CSV text (RFC 4180: comma, double quotes, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows(posts, timezone))
    return buffer.getvalue()
