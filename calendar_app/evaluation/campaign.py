"""A campaign against its targets: each KPI against what was measured, the posts ranked by
result, and the cadence per week against the plan.

KPIs are free text ("Reichweite", "Interaktionen", "Bewerbungen"), so each is matched to a metric
by its words (name and unit). What the networks report can be measured: interactions (likes,
shares, replies, quotes, each on its own too), clicks and reach where a channel's receiver sends
them, and published posts. Everything else (applications, followers, response times) is shown
as "not measured", never as zero.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calendar_app.evaluation.series import INTERACTIONS, METRICS
from calendar_app.holds import fold
from calendar_app.models import (
    Campaign,
    Channel,
    Delivery,
    DeliveryStatus,
    Post,
    ResultPoint,
    ResultState,
)
from calendar_app.timeutil import iso_utc, local

# The first match wins: response times before replies ("Antworten im Kundenservice < 2 h").
_RESPONSE_TIME = re.compile(
    r"antwortzeit|reaktionszeit|response time|first answer|erste antwort|kundenservice|"
    r"customer service|<\s*\d+\s*(h|std|min)"
)
METRIC_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reach", ("reichweite", "reach", "impression", "aufruf", "views", "sichtkontakt")),
    ("interactions", ("interaktion", "interaction", "engagement")),
    ("likes", ("like", "favori", "favouri", "gefällt")),
    ("shares", ("share", "teilen", "geteilt", "boost", "repost")),
    ("replies", ("antwort", "kommentar", "reply", "replies", "comment")),
    ("quotes", ("zitat", "quote")),
    ("clicks", ("klick", "click")),
    ("posts", ("beiträge", "beitrag", "posts", "veröffentlich", "published")),
)
NOT_MEASURED_RESPONSE_TIME = "response_time"


def kpi_metric(kpi: dict[str, Any]) -> str | None:
    """The metric a KPI is measured by, or None when the app cannot measure it."""
    words = fold(f"{kpi.get('name', '')} {kpi.get('unit') or ''}")
    if _RESPONSE_TIME.search(words):
        return None
    for metric, stems in METRIC_WORDS:
        if any(stem in words for stem in stems):
            return metric
    return None


@dataclass
class KpiResult:
    name: str
    target: float
    unit: str | None
    metric: str | None  # None: not measured
    measured: int | None  # None: no numbers (not measurable, or nothing measured yet)

    @property
    def share(self) -> float | None:
        if self.measured is None or not self.target:
            return None
        return self.measured / self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "target": self.target,
            "unit": self.unit,
            "metric": self.metric,
            "measurable": self.metric is not None,
            "measured": self.measured,
            "share": None if self.share is None else round(self.share, 4),
        }


@dataclass
class RankedPost:
    post_id: int
    title: str
    publish_at: datetime
    channels: list[str]
    interactions: int | None
    likes: int | None
    shares: int | None
    replies: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "title": self.title,
            "publish_at": iso_utc(self.publish_at),
            "channels": self.channels,
            "interactions": self.interactions,
            "likes": self.likes,
            "shares": self.shares,
            "replies": self.replies,
        }


@dataclass
class Week:
    starts_on: date  # the Monday
    planned: int
    published: int

    def as_json(self) -> dict[str, Any]:
        return {
            "week": f"{self.starts_on.isocalendar()[0]}-W{self.starts_on.isocalendar()[1]:02d}",
            "starts_on": self.starts_on.isoformat(),
            "planned": self.planned,
            "published": self.published,
        }


@dataclass
class CampaignEvaluation:
    campaign: Campaign
    kpis: list[KpiResult]
    ranked: list[RankedPost]
    weeks: list[Week]
    totals: dict[str, int | None]
    # Deliveries whose latest measurement has no numbers, by why (e.g. {"unauthorized": 2}).
    unavailable: dict[str, int] = field(default_factory=dict)

    def as_json(self, top: int | None = None) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign.id,
            "name": self.campaign.name,
            "goal": self.campaign.goal,
            "starts_on": self.campaign.starts_on.isoformat(),
            "ends_on": self.campaign.ends_on.isoformat(),
            "kpis": [k.as_json() for k in self.kpis],
            "totals": self.totals,
            "unavailable": self.unavailable,
            "posts_ranked": [p.as_json() for p in self.ranked[:top]],
            "cadence": [w.as_json() for w in self.weeks],
        }


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def evaluate_campaign(session: Session, campaign: Campaign, timezone: str) -> CampaignEvaluation:
    deliveries = session.execute(
        select(
            Delivery.id,
            Delivery.post_id,
            Delivery.status,
            Delivery.published_at,
            Post.title,
            Post.body,
            Post.publish_at,
            Channel.name,
        )
        .join(Post, Post.id == Delivery.post_id)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Post.campaign_id == campaign.id)
        .order_by(Post.publish_at, Delivery.id)
    ).all()
    newest = (
        select(func.max(ResultPoint.id).label("point_id"))
        .join(Delivery, Delivery.id == ResultPoint.delivery_id)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.campaign_id == campaign.id)
        .group_by(ResultPoint.delivery_id)
        .subquery()
    )
    # The newest measurement of each delivery, as plain rows (no ORM objects: 10,000s of them).
    columns = (ResultPoint.state, *(getattr(ResultPoint, m) for m in METRICS))
    latest = {
        delivery_id: values
        for delivery_id, *values in session.execute(
            select(ResultPoint.delivery_id, *columns).join(
                newest, newest.c.point_id == ResultPoint.id
            )
        )
    }

    metrics = METRICS
    sums: dict[str, int | None] = dict.fromkeys((*metrics, "interactions"))
    unavailable: dict[str, int] = defaultdict(int)
    per_post: dict[int, dict[str, Any]] = {}
    planned: dict[date, int] = defaultdict(int)
    published_weeks: dict[date, int] = defaultdict(int)
    published_posts: set[int] = set()

    def add(target: dict[str, Any], key: str, value: int | None) -> None:
        if value is not None:
            target[key] = (target.get(key) or 0) + value

    for row in deliveries:
        delivery_id, post_id, status, published_at, title, body, publish_at, channel = row
        post = per_post.setdefault(
            post_id,
            {
                "title": title or body[:80],
                "publish_at": publish_at,
                "channels": [],
                "interactions": None,
                "likes": None,
                "shares": None,
                "replies": None,
            },
        )
        post["channels"].append(channel)
        if status != DeliveryStatus.DISCARDED:
            planned[_monday(local(publish_at, timezone).date())] += 1
        if status == DeliveryStatus.PUBLISHED and published_at is not None:
            published_weeks[_monday(local(published_at, timezone).date())] += 1
            published_posts.add(post_id)
        point = latest.get(delivery_id)
        if point is None:
            continue
        state, *numbers = point
        if state != ResultState.OK:
            unavailable[state] += 1
            continue
        values = dict(zip(METRICS, numbers, strict=True))
        for metric in metrics:
            add(sums, metric, values[metric])
        interactions = sum(values[m] or 0 for m in INTERACTIONS)
        add(sums, "interactions", interactions)
        add(post, "interactions", interactions)
        for metric in ("likes", "shares", "replies"):
            add(post, metric, values[metric])
    sums["posts"] = len(published_posts)

    kpis = []
    for kpi in campaign.kpis:
        metric = kpi_metric(kpi)
        kpis.append(
            KpiResult(
                name=kpi["name"],
                target=kpi["target"],
                unit=kpi.get("unit"),
                metric=metric,
                measured=None if metric is None else sums.get(metric),
            )
        )

    ranked = sorted(
        (RankedPost(post_id=pid, **values) for pid, values in per_post.items()),
        key=lambda p: (p.interactions is None, -(p.interactions or 0), p.publish_at),
    )
    first = _monday(campaign.starts_on)
    last = _monday(campaign.ends_on)
    for when in (*planned, *published_weeks):
        first, last = min(first, when), max(last, when)
    weeks = []
    monday = first
    while monday <= last:
        weeks.append(Week(monday, planned.get(monday, 0), published_weeks.get(monday, 0)))
        monday += timedelta(days=7)
    return CampaignEvaluation(campaign, kpis, ranked, weeks, sums, dict(unavailable))
