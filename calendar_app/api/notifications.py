"""The signed-in user's own notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from calendar_app import notifications
from calendar_app.api.auth import api_user
from calendar_app.api.serialize import notification_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
def index() -> dict[str, Any]:
    unread = request.args.get("unread", "false").lower()
    if unread not in ("true", "false"):
        raise InvalidInput("unread must be true or false", fields={"unread": "true or false"})
    session, user = db_session(), api_user()
    items = notifications.notifications_for(session, user, unread_only=unread == "true")
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
