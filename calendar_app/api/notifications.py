"""The signed-in user's own notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from calendar_app import notifications
from calendar_app.api.auth import api_user
from calendar_app.api.serialize import notification_json
from calendar_app.extensions import db_session
from calendar_app.query_args import QueryArgs

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
def index() -> dict[str, Any]:
    query = QueryArgs(request.args)
    unread_only = query.choice("unread", ("true", "false")) == "true"
    query.check()
    session, user = db_session(), api_user()
    items = notifications.notifications_for(session, user, unread_only=unread_only)
    return {
        "items": [notification_json(n) for n in items],
        "unread": notifications.unread_count(session, user),
    }


@bp.post("/notifications/<int:notification_id>/read")
def read(notification_id: int) -> dict[str, Any]:
    return notification_json(notifications.mark_read(db_session(), api_user(), notification_id))


@bp.post("/notifications/read")
def read_all() -> dict[str, Any]:
    session, user = db_session(), api_user()
    notifications.mark_all_read(session, user)
    return {"unread": notifications.unread_count(session, user)}
