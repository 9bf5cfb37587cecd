"""The crisis timeline page, and its standalone HTML export for the debrief."""

from __future__ import annotations

from flask import Response, render_template

from calendar_app import timeline
from calendar_app.extensions import db_session
from calendar_app.timeutil import now_utc
from calendar_app.web.formatting import team_timezone
from calendar_app.web.pages import signed_in_user


def timeline_page(crisis_id: int) -> str:
    found = timeline.crisis_timeline(db_session(), signed_in_user(), crisis_id)
    return render_template("timeline.html", timeline=found, timezone=team_timezone())


def timeline_export(crisis_id: int) -> Response:
    """One HTML file with its own styles and no scripts, to hand out or print for the debrief."""
    found = timeline.crisis_timeline(db_session(), signed_in_user(), crisis_id)
    html = render_template(
        "timeline_export.html",
        timeline=found,
        timezone=team_timezone(),
        exported_at=now_utc(),
        exported_by=signed_in_user().name,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="crisis-{found.crisis.id}-timeline.html"'
    )
    return response
