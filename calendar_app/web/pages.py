"""The pages: calendar, one post, crisis, outbox, audit log. Thin: they read and render."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, render_template, request
from flask_login import current_user

from calendar_app import crisis, planning
from calendar_app.extensions import db_session
from calendar_app.models import User
from calendar_app.permissions import require_reviewer
from calendar_app.timeutil import local, now_utc
from calendar_app.web import queries
from calendar_app.web.formatting import team_timezone

DAYS_BEFORE_TODAY = 7
DAYS_SHOWN = 42


def signed_in_user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def first_day_shown(today: date) -> date:
    """`?von=2026-03-01` moves the window; without it, the last week and what comes."""
    raw = request.args.get("von")
    if not raw:
        return today - timedelta(days=DAYS_BEFORE_TODAY)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, f"von={raw!r} ist kein Datum; erwartet wird z. B. 2026-03-01.")


def calendar() -> str:
    timezone = team_timezone()
    today = local(now_utc(), timezone).date()
    first = first_day_shown(today)
    return render_template(
        "calendar.html",
        days=queries.calendar_days(db_session(), first, DAYS_SHOWN, timezone),
        today=today,
        first=first,
        last=first + timedelta(days=DAYS_SHOWN - 1),
        earlier=first - timedelta(days=DAYS_SHOWN),
        later=first + timedelta(days=DAYS_SHOWN),
    )


def post(post_id: int) -> str:
    return render_template("post.html", post=planning.get_post(db_session(), post_id))


def crisis_status() -> str:
    session = db_session()
    return render_template(
        "crisis.html",
        crisis=crisis.current_crisis(session),
        waiting=crisis.held_deliveries(session),
        past=queries.past_crises(session),
    )


def outbox() -> str:
    return render_template("outbox.html", deliveries=queries.published_deliveries(db_session()))


def audit_log() -> str:
    require_reviewer(signed_in_user(), "read the audit log")
    return render_template("audit.html", entries=queries.audit_entries(db_session()))
