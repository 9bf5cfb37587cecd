"""The signed-in user's own notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from calendar_app import notifications
from calendar_app.api.auth import api_user
from calendar_app.api.errors import answer_locale
from calendar_app.api.schemas import NoticeSettingsUpdate, parse
from calendar_app.api.serialize import notification_json
from calendar_app.extensions import db_session
from calendar_app.models import Notification, User
from calendar_app.query_args import QueryArgs

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
def index() -> dict[str, Any]:
    query = QueryArgs(request.args, language=answer_locale())
    unread_only = query.choice("unread", ("true", "false")) == "true"
    query.check()
    session, user = db_session(), api_user()
    items = notifications.notifications_for(session, user, unread_only=unread_only)
    return {
        "items": [_json(n, user) for n in items],
        "unread": notifications.unread_count(session, user),
    }


@bp.post("/notifications/<int:notification_id>/read")
def read(notification_id: int) -> dict[str, Any]:
    user = api_user()
    return _json(notifications.mark_read(db_session(), user, notification_id), user)


@bp.post("/notifications/read")
def read_all() -> dict[str, Any]:
    session, user = db_session(), api_user()
    notifications.mark_all_read(session, user)
    return {"unread": notifications.unread_count(session, user)}


@bp.get("/notifications/settings")
def settings() -> dict[str, Any]:
    user = api_user()
    return _settings_json(user)


@bp.put("/notifications/settings")
def change_settings() -> dict[str, Any]:
    data = parse(NoticeSettingsUpdate)
    user = api_user()
    notifications.change_notice_settings(db_session(), user, dict(data.settings))
    return _settings_json(user)


def _json(note: Notification, user: User) -> dict[str, Any]:
    return notification_json(note, user.locale, current_app.config["CALENDAR"].TIMEZONE)


def _settings_json(user: User) -> dict[str, Any]:
    return {
        "items": [
            {"kind": s.kind, "label": s.label, "channel": s.channel, "urgent": s.urgent}
            for s in notifications.notice_settings(user, user.locale)
        ]
    }
