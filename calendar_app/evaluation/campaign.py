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
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from calendar_app.evaluation.cadence import Week, weekly_cadence
from calendar_app.evaluation.series import INTERACTIONS, METRICS
from calendar_app.holds import fold
from calendar_app.listening.answer_times import (
    AnswerTimes,
    Waiting,
    items_on_channels,
    share_answered_within,
    times_of,
)
from calendar_app.models import (
    Campaign,
    Channel,
    Delivery,
    DeliveryStatus,
    Post,
    ResultPoint,
    ResultState,
)
from calendar_app.timeutil import iso_utc, now_utc

# The first match wins: response times before replies ("Antworten im Kundenservice < 2 h").
_RESPONSE_TIME = re.compile(
    r"antwortzeit|reaktionszeit|response time|first answer|erste antwort|kundenservice|"
    r"customer service|<\s*\d+\s*(h|std|min)"
)
# The time within which an answer counts: "< 2 h", "≤ 30 min", "within 4 hours",
# "innerhalb von 4 Stunden", "binnen 1 Std".
_ANSWER_LIMIT = re.compile(
    r"(?:<=?|≤|within|innerhalb(?:\s+von)?|binnen)\s*(\d+(?:[.,]\d+)?)\s*"
    r"(min|h|std|stunde|hour)"
)
# Response-time metrics: the share of the inbox's items answered within a KPI's time (in
# percent), and the median time to first answer (in the KPI's unit: hours unless minutes).
ANSWERED_WITHIN = "answered_within"
ANSWER_TIME = "answer_time"
LOWER_IS_BETTER = {ANSWER_TIME}
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
# The most posts a ranking lists (the API's `top` is at most this).
RANKED_TOP = 10_000


def _words(kpi: dict[str, Any]) -> str:
    return fold(f"{kpi.get('name', '')} {kpi.get('unit') or ''}")


def answer_limit(kpi: dict[str, Any]) -> timedelta | None:
    """The time a response-time KPI allows for an answer ("< 2 h"), if it names one."""
    match = _ANSWER_LIMIT.search(_words(kpi))
    if match is None:
        return None
    amount = float(match.group(1).replace(",", "."))
    if match.group(2) == "min":
        return timedelta(minutes=amount)
    return timedelta(hours=amount)


def _in_minutes(kpi: dict[str, Any]) -> bool:
    return (kpi.get("unit") or "").strip().casefold().startswith("min")


def kpi_metric(kpi: dict[str, Any]) -> str | None:
    """The metric a KPI is measured by, or None when the app cannot measure it."""
    words = _words(kpi)
    if _RESPONSE_TIME.search(words) or _ANSWER_LIMIT.search(words):
        if answer_limit(kpi) is not None:
            return ANSWERED_WITHIN
        unit = (kpi.get("unit") or "").strip().casefold()
        if unit in ("%", "percent", "prozent"):
            return None  # a share of answers in no named time: nothing to measure it by
        return ANSWER_TIME
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
    # None: no numbers (not measurable, or nothing measured yet). Response times: a percentage
    # or hours/minutes with one decimal.
    measured: float | None

    @property
    def share(self) -> float | None:
        """How much of the target is reached; for a time (lower is better) the target over what
        was measured, so an answer in half the time reaches 200 %."""
        if self.measured is None or not self.target:
            return None
        if self.metric in LOWER_IS_BETTER:
            return self.target / self.measured if self.measured else None
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
class CampaignEvaluation:
    campaign: Campaign
    kpis: list[KpiResult]
    ranked: list[RankedPost]
    weeks: list[Week]
    totals: dict[str, int | None]
    # Deliveries whose latest measurement has no numbers, by why (e.g. {"unauthorized": 2}).
    unavailable: dict[str, int] = field(default_factory=dict)
    # The inbox on the campaign's channels over the campaign's days so far.
    answers: AnswerTimes | None = None

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
            "answer_times": None if self.answers is None else self.answers.as_json(),
        }


def _latest_points(campaign: Campaign) -> Subquery:
    """The newest measurement of each of the campaign's deliveries."""
    newest = (
        select(func.max(ResultPoint.id).label("point_id"))
        .join(Delivery, Delivery.id == ResultPoint.delivery_id)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.campaign_id == campaign.id)
        .group_by(ResultPoint.delivery_id)
        .subquery()
    )
    interactions = sum(func.coalesce(getattr(ResultPoint, m), 0) for m in INTERACTIONS)
    return (
        select(
            ResultPoint.delivery_id,
            ResultPoint.state,
            interactions.label("interactions"),
            *(getattr(ResultPoint, m) for m in METRICS),
        )
        .join(newest, newest.c.point_id == ResultPoint.id)
        .subquery()
    )


def _totals(session: Session, latest: Subquery) -> tuple[dict[str, int | None], dict[str, int]]:
    """The sums over each delivery's newest measurement with numbers, and how many deliveries
    have none, by why. A sum is None when no measurement had that number (not zero)."""
    sums: dict[str, int | None] = dict.fromkeys(("interactions", *METRICS))
    unavailable: dict[str, int] = {}
    for state, count, interactions, *numbers in session.execute(
        select(
            latest.c.state,
            func.count(),
            func.sum(latest.c.interactions),
            *(func.sum(latest.c[m]) for m in METRICS),
        ).group_by(latest.c.state)
    ):
        if state != ResultState.OK:
            unavailable[state] = count
            continue
        sums["interactions"] = interactions
        sums.update(zip(METRICS, numbers, strict=True))
    return sums, unavailable


def _ranked(session: Session, campaign: Campaign, latest: Subquery, top: int) -> list[RankedPost]:
    """The campaign's `top` posts by interactions (posts without numbers last)."""
    measured = select(latest).where(latest.c.state == ResultState.OK).subquery()
    interactions = func.sum(measured.c.interactions)
    rows = session.execute(
        select(
            Post.id,
            Post.title,
            Post.body,
            Post.publish_at,
            interactions,
            func.sum(measured.c.likes),
            func.sum(measured.c.shares),
            func.sum(measured.c.replies),
        )
        .join(Delivery, Delivery.post_id == Post.id)
        .outerjoin(measured, measured.c.delivery_id == Delivery.id)
        .where(Post.campaign_id == campaign.id)
        .group_by(Post.id, Post.title, Post.body, Post.publish_at)
        .order_by(interactions.is_(None), interactions.desc(), Post.publish_at, Post.id)
        .limit(top)
    ).all()
    channels: dict[int, list[str]] = defaultdict(list)
    for post_id, name in session.execute(
        select(Delivery.post_id, Channel.name)
        .join(Channel, Channel.id == Delivery.channel_id)
        .where(Delivery.post_id.in_([row[0] for row in rows]))
        .order_by(Delivery.id)
    ):
        channels[post_id].append(name)
    return [
        RankedPost(
            post_id=post_id,
            title=title or body[:80],
            publish_at=publish_at,
            channels=channels[post_id],
            interactions=total,
            likes=likes,
            shares=shares,
            replies=replies,
        )
        for post_id, title, body, publish_at, total, likes, shares, replies in rows
    ]


def evaluate_campaign(
    session: Session,
    campaign: Campaign,
    timezone: str,
    *,
    top: int = RANKED_TOP,
    now: datetime | None = None,
) -> CampaignEvaluation:
    """The campaign against its targets; `ranked` holds its best `top` posts. The sums and the
    ranking are counted by the database (a campaign may have thousands of deliveries)."""
    now = now or now_utc()
    latest = _latest_points(campaign)
    sums, unavailable = _totals(session, latest)
    sums["posts"] = session.scalar(
        select(func.count(func.distinct(Delivery.post_id)))
        .join(Post, Post.id == Delivery.post_id)
        .where(
            Post.campaign_id == campaign.id,
            Delivery.status == DeliveryStatus.PUBLISHED,
            Delivery.published_at.is_not(None),
        )
    )
    planned, published = [], []
    for publish_at, status, published_at in session.execute(
        select(Post.publish_at, Delivery.status, Delivery.published_at)
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.campaign_id == campaign.id)
    ):
        if status != DeliveryStatus.DISCARDED:
            planned.append(publish_at)
        if status == DeliveryStatus.PUBLISHED and published_at is not None:
            published.append(published_at)
    items = _inbox_items(session, campaign, timezone, now)
    kpis = []
    for kpi in campaign.kpis:
        metric = kpi_metric(kpi)
        if metric in (ANSWERED_WITHIN, ANSWER_TIME):
            measured = _answer_figure(kpi, metric, items, now)
        else:
            measured = None if metric is None else sums.get(metric)
        kpis.append(KpiResult(kpi["name"], kpi["target"], kpi.get("unit"), metric, measured))
    return CampaignEvaluation(
        campaign,
        kpis,
        _ranked(session, campaign, latest, top),
        weekly_cadence(planned, published, campaign.starts_on, campaign.ends_on, timezone),
        sums,
        unavailable,
        times_of(items),
    )


def _inbox_items(
    session: Session, campaign: Campaign, timezone: str, now: datetime
) -> list[Waiting]:
    """What people said on the campaign's channels during the campaign (up to now)."""
    channel_ids = session.scalars(
        select(Delivery.channel_id)
        .distinct()
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.campaign_id == campaign.id)
    ).all()
    zone = ZoneInfo(timezone)
    start = datetime.combine(campaign.starts_on, time(), zone).astimezone(UTC)
    end = datetime.combine(campaign.ends_on + timedelta(days=1), time(), zone).astimezone(UTC)
    return items_on_channels(session, channel_ids, start, min(end, now))


def _answer_figure(
    kpi: dict[str, Any], metric: str, items: list[Waiting], now: datetime
) -> float | None:
    if metric == ANSWERED_WITHIN:
        limit = answer_limit(kpi)
        assert limit is not None
        share = share_answered_within(items, limit, now)
        return None if share is None else round(share * 100, 1)
    median = times_of(items).median
    if median is None:
        return None
    unit = timedelta(minutes=1) if _in_minutes(kpi) else timedelta(hours=1)
    return round(median / unit, 1)
