"""The evaluation as its readers load it: a campaign of `posts` published posts (one delivery
each, over the last 30 days) with `points` result measurements between them, its page (HTML) and
its API answer, and the report over those 30 days (HTML and API), each next to the app's
/api/v1/health in the same run; one PDF of the report, timed once. Flask test client: the time
is the app's (queries, charts, templates), without a network or WSGI server."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import insert

from bench.world import PASSWORD, Databases, Receiver, make_webhooks
from calendar_app import create_app, keep_startup_out_of_collections
from calendar_app.extensions import get_db
from calendar_app.models import Campaign, Delivery, Post, PostStatus, ResultPoint
from calendar_app.timeutil import local, now_utc
from config import Config

ENDPOINTS = ("campaign_page", "campaign_api", "report_page", "report_api", "health")
BODY = "Unsere Auszubildenden erzählen, wie ihr erster Monat war."
CHUNK = 5000


@dataclass
class EvaluationRun:
    posts: int
    points: int
    ms: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    pdf_ms: float = 0.0
    pdf_bytes: int = 0


def _log_in(client: FlaskClient, email: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the login page has no CSRF token"
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    assert response.status_code in (302, 303), response.status_code


def seed_campaign(db: object, team: object, channel_id: int, posts: int, points: int) -> int:
    """A campaign over the last 30 days with `posts` published posts and `points` measurements
    spread evenly over their deliveries. Bulk INSERTs: none of this is what is measured."""
    now = now_utc()
    start = now - timedelta(days=30)
    with db.transaction() as session:  # type: ignore[attr-defined]
        campaign = Campaign(
            name="Bench-Kampagne",
            goal="awareness",
            kpis=[
                {"name": "Reichweite", "target": 2_000_000},
                {"name": "Interaktionen", "target": 500_000},
                {"name": "Bewerbungen", "target": 400},
            ],
            starts_on=start.date(),
            ends_on=now.date(),
            created_by_id=team.head_id,  # type: ignore[attr-defined]
        )
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    step = timedelta(days=30) / max(posts, 1)
    per_delivery = max(1, points // max(posts, 1))
    for first in range(0, posts, CHUNK):
        rows = []
        for i in range(first, min(posts, first + CHUNK)):
            when = start + step * i
            rows.append(
                {
                    "title": f"Beitrag {i}", "body": BODY, "status": PostStatus.PUBLISHED,
                    "publish_at": when, "author_id": team.planner_id,  # type: ignore[attr-defined]
                    "approved_by_id": team.head_id,  # type: ignore[attr-defined]
                    "approved_at": when - timedelta(days=1), "crisis_response": False,
                    "campaign_id": campaign_id, "created_at": when, "updated_at": when,
                }
            )  # fmt: skip
        with db.transaction() as session:  # type: ignore[attr-defined]
            post_ids = session.scalars(insert(Post).returning(Post.id), rows).all()
            delivery_ids = session.scalars(
                insert(Delivery).returning(Delivery.id),
                [
                    {"post_id": pid, "channel_id": channel_id, "status": "published",
                     "due_at": row["publish_at"], "attempts": 1, "published_at": row["publish_at"]}
                    for pid, row in zip(post_ids, rows, strict=True)
                ],
            ).all()  # fmt: skip
            series = []
            for number, (delivery_id, row) in enumerate(zip(delivery_ids, rows, strict=True)):
                for k in range(per_delivery):
                    likes = (number * 7 + k * 3) % 90
                    series.append(
                        {"delivery_id": delivery_id, "channel_id": channel_id,
                         "measured_at": row["publish_at"] + timedelta(hours=k + 1),
                         "source": "webhook", "state": "ok", "likes": likes,
                         "shares": likes // 4, "replies": k, "quotes": 0,
                         "reach": 200 + likes * 10, "recorded_at": now}
                    )  # fmt: skip
            session.execute(insert(ResultPoint), series)
    return campaign_id


def evaluation_run(
    dbs: Databases, receiver: Receiver, *, posts: int, points: int, requests: int
) -> EvaluationRun:
    url, team = dbs.fresh("sqlite")
    workdir = dbs.tmp / f"evaluation-{time.monotonic_ns()}"
    workdir.mkdir()
    app = create_app(
        dc_replace(
            Config(), ENV="testing", SECRET_KEY=secrets.token_hex(16), DATABASE_URL=url,
            INSTANCE_PATH=workdir,
        )
    )  # fmt: skip
    logging.getLogger("calendar_app").setLevel(logging.WARNING)
    keep_startup_out_of_collections()
    db = get_db(app)
    run = EvaluationRun(posts, points)
    try:
        [channel] = make_webhooks(db, team, receiver, 1)
        campaign_id = seed_campaign(db, team, channel, posts, points)
        client = app.test_client()
        _log_in(client, "head@bench.example")
        today = local(now_utc(), app.config["CALENDAR"].TIMEZONE).date()
        period = f"from={today - timedelta(days=30)}&to={today}"
        auth = {"Authorization": f"Bearer {team.head_token}"}
        paths = {
            "campaign_page": f"/campaigns/{campaign_id}",
            "campaign_api": f"/api/v1/campaigns/{campaign_id}/evaluation",
            "report_page": f"/reports/monthly?{period}",
            "report_api": f"/api/v1/reports/monthly?{period}",
            "health": "/api/v1/health",
        }
        for _ in range(2):  # caches, first queries, template compilation
            for name, path in paths.items():
                response = client.get(path, headers=auth if "api" in name else {})
                assert response.status_code == 200, (name, response.status_code)
        for _ in range(requests):
            for name, path in paths.items():  # interleaved: the same noise for all
                started = time.perf_counter()
                response = client.get(path, headers=auth if "api" in name else {})
                run.ms[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        started = time.perf_counter()
        pdf = client.get(f"/reports/monthly.pdf?{period}")
        run.pdf_ms = (time.perf_counter() - started) * 1000
        assert pdf.status_code == 200
        run.pdf_bytes = len(pdf.data)
        return run
    finally:
        db.dispose()
