"""My calendar feed's secret address: see it, create or renew it, switch it off (rules:
calendar_app/ical.py; the page "Subscribe" does the same in the browser)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from calendar_app import ical
from calendar_app.api.auth import api_user
from calendar_app.extensions import db_session
from calendar_app.models import CalendarFeed
from calendar_app.timeutil import iso_utc
from calendar_app.web.subscriptions import feed_url

bp = Blueprint("feed", __name__)


def feed_json(feed: CalendarFeed | None) -> dict[str, Any]:
    if feed is None:
        return {"url": None, "created_at": None, "last_fetched_at": None}
    return {
        "url": feed_url(feed.token),
        "created_at": iso_utc(feed.created_at),
        "last_fetched_at": iso_utc(feed.last_fetched_at),
    }


@bp.get("/me/feed")
def show() -> dict[str, Any]:
    return feed_json(ical.feed_of(db_session(), api_user()))


@bp.post("/me/feed")
def renew() -> tuple[dict[str, Any], int]:
    return feed_json(ical.renew_feed(db_session(), api_user())), 201


@bp.delete("/me/feed")
def switch_off() -> tuple[str, int]:
    ical.revoke_feed(db_session(), api_user())
    return "", 204
