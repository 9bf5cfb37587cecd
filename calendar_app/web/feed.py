"""JSON for the calendar in the page (FullCalendar): the events feed and drag-and-drop moves.

Times travel as the team's wall clock without an offset (`2026-03-03T09:00:00`) and the calendar
runs in UTC mode, so it shows the team's clock whatever the browser's time zone is.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_babel import gettext as _

from calendar_app import blackouts, plan_csv, planning
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.models import PostStatus
from calendar_app.web import queries
from calendar_app.web.formatting import (
    colour_or_default,
    post_path_prefix,
    status_badge,
    status_label,
    team_time,
    team_timezone,
    team_wall_clock,
)
from calendar_app.web.i18n import page_locale
from calendar_app.web.pages import signed_in_user
from calendar_app.web.query import page_query, plan_filters, required_range, wall_clock_range

ATTENTION = (PostStatus.HELD, PostStatus.MISSED, PostStatus.UNKNOWN, PostStatus.FAILED)
WALL_CLOCK = "%Y-%m-%dT%H:%M:%S"


def event(entry: queries.CalendarEntry, *, post_url: str) -> dict[str, Any]:
    colour = colour_or_default(entry.department_color)
    attention = entry.status in ATTENTION
    return {
        "id": str(entry.id),
        "title": entry.title or entry.opening[:80],
        "start": team_time(entry.publish_at).strftime(WALL_CLOCK),
        "url": post_url.format(entry.id),
        "backgroundColor": colour,
        "borderColor": "#c92a2a" if attention else colour,
        "textColor": "#ffffff",
        "editable": entry.status in planning.MOVABLE,
        "classNames": [f"status-{entry.status}"] + (["needs-attention"] if attention else []),
        "extendedProps": {
            "status": entry.status,
            "statusLabel": status_label(entry.status),
            "statusBadge": status_badge(entry.status),
            "department": entry.department,
            "campaign": entry.campaign,
            "channels": entry.channels,
            "networks": entry.networks,
            "crisisResponse": entry.crisis_response,
        },
    }


def events() -> list[dict[str, Any]]:
    query = page_query()
    filters = plan_filters(query)
    start, end = required_range(query)
    entries = queries.calendar_entries(db_session(), start=start, end=end, **filters)
    post_url = post_path_prefix() + "{}"
    return [event(entry, post_url=post_url) for entry in entries]


def export_csv() -> Response:
    """What the calendar shows with its filters (and its range, when given) as a CSV file."""
    query = page_query()
    filters = plan_filters(query)
    start, end = wall_clock_range(query)
    query.check()
    posts = planning.list_posts(db_session(), start=start, end=end, **filters)
    # The byte order mark tells spreadsheet programs that the file is UTF-8 (umlauts).
    text = "\ufeff" + plan_csv.export_csv(posts, team_timezone())
    return Response(
        text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="redaktionsplan.csv"'},
    )


def blackout_warning_texts(post: Any) -> list[str]:
    """What a post planned into a blackout date will meet, in the reader's language."""
    return [
        _(
            "This time falls in the blackout “%(name)s” on %(channels)s: the post will be "
            "held there until a head releases it.",
            name=overlap.blackout.name,
            channels=", ".join(overlap.channel_names),
        )
        for overlap in blackouts.blackouts_hit_by(db_session(), post)
    ]


def reschedule(post_id: int) -> tuple[dict[str, Any], int]:
    """A post dragged to a new time. An approved post goes back to draft for a new approval."""
    session = db_session()
    data = request.get_json(silent=True) or {}
    try:
        publish_at = team_wall_clock(str(data.get("publish_at", "")))
    except ValueError:
        return {"error": _("publish_at must be a time such as 2026-03-03T09:00")}, 400
    try:
        post = planning.get_post(session, post_id)
        was_approved = post.status == PostStatus.SCHEDULED
        planning.move_post(
            session,
            signed_in_user(),
            post,
            publish_at,
            confirmed=data.get("confirm") is True,
        )
    except planning.NotMovable:
        session.rollback()
        return {"error": _("Held, published or discarded posts cannot be moved.")}, 409
    except planning.NeedsConfirmation:
        session.rollback()
        # Moving an approved post undoes its approval: the planner says so first.
        message = _(
            "This post is approved. Moving it makes it a draft again: it needs a new "
            "approval, and its author is told. Move it?"
        )
        return {"error": message, "message": message, "needs_confirmation": True}, 409
    except RuleError as exc:
        session.rollback()
        message, fields = exc.said(page_locale())
        return {"error": message, "fields": fields}, exc.status_code
    message = (
        _("Moved. It was approved, so it needs a new approval now.")
        if was_approved
        else _("Moved.")
    )
    answer: dict[str, Any] = {"id": post.id, "status": post.status, "message": message}
    if warnings := blackout_warning_texts(post):
        answer["warnings"] = warnings
    return answer, 200
