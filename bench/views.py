"""The calendar as its users load it: server time for one month of the calendar feed (JSON for
the calendar widget), the agenda page (HTML, 42 days) and the API's list of posts for a month,
each next to the app's /api/v1/health in the same run. Flask test client: the time measured is
the app's (routing, queries, serialisation, templates), without a network or WSGI server."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import timedelta

from flask.testing import FlaskClient

from bench.world import PASSWORD, Databases, Receiver, make_webhooks, seed_background
from calendar_app import create_app, keep_startup_out_of_collections
from calendar_app.extensions import get_db
from calendar_app.timeutil import local, now_utc
from config import Config

ENDPOINTS = ("feed", "agenda", "api", "health")


@dataclass
class ViewRun:
    stored_posts: int
    month_posts: int = 0
    ms: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})


def _log_in(client: FlaskClient, email: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the login page has no CSRF token"
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert response.status_code in (302, 303), response.status_code
    assert client.get("/calendar/events?start=2026-01-01T00:00&end=2026-01-02T00:00").is_json


def view_run(
    dbs: Databases, receiver: Receiver, *, engine: str, stored: int, requests: int
) -> ViewRun:
    url, team = dbs.fresh(engine)
    workdir = dbs.tmp / f"views-{time.monotonic_ns()}"
    workdir.mkdir()
    app = create_app(
        dc_replace(
            Config(),
            ENV="testing",
            SECRET_KEY=secrets.token_hex(16),
            DATABASE_URL=url,
            INSTANCE_PATH=workdir,
        )
    )
    logging.getLogger("calendar_app").setLevel(logging.WARNING)
    keep_startup_out_of_collections()  # as `calendar-app serve` does
    db = get_db(app)
    run = ViewRun(stored)
    try:
        [channel] = make_webhooks(db, team, receiver, 1)
        seed_background(db, team, channel, stored)
        client = app.test_client()
        _log_in(client, team.planner_email)
        first = local(now_utc(), app.config["CALENDAR"].TIMEZONE).date().replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        auth = {"Authorization": f"Bearer {team.head_token}"}
        paths = {
            "feed": f"/calendar/events?start={first}T00:00&end={after}T00:00",
            "agenda": f"/agenda?von={first}",
            "api": f"/api/v1/posts?from={first}T00:00:00%2B00:00&to={after}T00:00:00%2B00:00",
            "health": "/api/v1/health",
        }
        for warm in range(2):  # caches, first queries, template compilation
            for name, path in paths.items():
                response = client.get(path, headers=auth if name == "api" else {})
                assert response.status_code == 200, (name, response.status_code)
                if name == "feed" and warm == 0:
                    run.month_posts = len(response.get_json())
        for _ in range(requests):
            for name, path in paths.items():  # interleaved: the same noise for all
                started = time.perf_counter()
                response = client.get(path, headers=auth if name == "api" else {})
                run.ms[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        return run
    finally:
        db.dispose()
