"""The stored measurements: per delivery, per post, the latest of each, and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calendar_app.errors import NotFound
from calendar_app.evaluation.reading import MESSAGES
from calendar_app.models import (
    MAX_ID,
    Channel,
    Delivery,
    Post,
    ResultPoint,
    ResultState,
    ResultWatch,
)
from calendar_app.timeutil import iso_utc
from calendar_app.words import _l

METRICS = ("likes", "shares", "replies", "quotes", "reach", "clicks")
# What people did with a post: the sum that ranks posts and that "interactions" KPIs count.
INTERACTIONS = ("likes", "shares", "replies", "quotes")


def interactions(point: ResultPoint | None) -> int | None:
    """Likes, shares, replies and quotes together; None when the point has no numbers."""
    if point is None or point.state != ResultState.OK:
        return None
    return sum(getattr(point, m) or 0 for m in INTERACTIONS)


def point_json(point: ResultPoint) -> dict[str, Any]:
    body: dict[str, Any] = {
        "measured_at": iso_utc(point.measured_at),
        "source": point.source,
        "state": point.state,
        **{m: getattr(point, m) for m in METRICS},
        "interactions": interactions(point),
    }
    if point.state != ResultState.OK:
        body["message"] = MESSAGES.get(ResultState(point.state), point.state)
    return body


def get_delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id) if 0 < delivery_id <= MAX_ID else None
    if delivery is None:
        raise NotFound(_l("delivery %(delivery_id)s does not exist", delivery_id=delivery_id))
    return delivery


def points_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[ResultPoint]]:
    found: dict[int, list[ResultPoint]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    for point in session.scalars(
        select(ResultPoint)
        .where(ResultPoint.delivery_id.in_(delivery_ids))
        .order_by(ResultPoint.measured_at, ResultPoint.id)
    ):
        found[point.delivery_id].append(point)
    return found


def latest_points(
    session: Session, delivery_ids: Iterable[int] | None = None
) -> dict[int, ResultPoint]:
    """The newest measurement of each delivery (of those given, or of all)."""
    newest = select(ResultPoint.delivery_id, func.max(ResultPoint.id).label("point_id")).group_by(
        ResultPoint.delivery_id
    )
    ids = None if delivery_ids is None else list(delivery_ids)
    if ids is not None:
        if not ids:
            return {}
        newest = newest.where(ResultPoint.delivery_id.in_(ids))
    sub = newest.subquery()
    return {
        point.delivery_id: point
        for point in session.scalars(
            select(ResultPoint).join(sub, sub.c.point_id == ResultPoint.id)
        )
    }


@dataclass
class DeliveryResults:
    delivery: Delivery
    points: list[ResultPoint]
    watch: ResultWatch | None

    @property
    def latest(self) -> ResultPoint | None:
        return self.points[-1] if self.points else None

    def as_json(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "delivery_id": self.delivery.id,
            "post_id": self.delivery.post_id,
            "channel_id": self.delivery.channel_id,
            "published_at": iso_utc(self.delivery.published_at),
            "url": self.delivery.url,
            "state": latest.state if latest else "not_measured",
            "message": (
                MESSAGES.get(ResultState(latest.state)) if latest and latest.state != "ok" else None
            ),
            "next_measurement_at": iso_utc(self.watch.next_due_at) if self.watch else None,
            "latest": point_json(latest) if latest else None,
            "points": [point_json(p) for p in self.points],
        }


def delivery_results(session: Session, delivery: Delivery) -> DeliveryResults:
    return DeliveryResults(
        delivery,
        points_of(session, [delivery.id])[delivery.id],
        session.get(ResultWatch, delivery.id),
    )


def post_results(session: Session, post: Post) -> dict[str, Any]:
    ids = [d.id for d in post.deliveries]
    points = points_of(session, ids)
    per_delivery = [
        DeliveryResults(d, points[d.id], session.get(ResultWatch, d.id)).as_json()
        for d in post.deliveries
    ]
    totals: dict[str, int | None] = {}
    for metric in (*METRICS, "interactions"):
        values = [
            r["latest"][metric]
            for r in per_delivery
            if r["latest"] and r["latest"]["state"] == "ok"
        ]
        numbers = [v for v in values if v is not None]
        totals[metric] = sum(numbers) if numbers else None
    return {"post_id": post.id, "totals": totals, "deliveries": per_delivery}


CSV_COLUMNS = (
    "delivery_id", "post_id", "channel_id", "channel", "published_at", "measured_at",
    "source", "state", *METRICS,
)  # fmt: skip


def series_csv(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    channel_id: int | None = None,
    campaign_id: int | None = None,
) -> str:
    """Every stored point (optionally of one channel or campaign, measured in [start, end))."""
    query = (
        select(ResultPoint, Delivery.post_id, Delivery.published_at, Channel.name)
        .join(Delivery, Delivery.id == ResultPoint.delivery_id)
        .join(Channel, Channel.id == ResultPoint.channel_id)
        .order_by(ResultPoint.delivery_id, ResultPoint.measured_at, ResultPoint.id)
    )
    if start is not None:
        query = query.where(ResultPoint.measured_at >= start)
    if end is not None:
        query = query.where(ResultPoint.measured_at < end)
    if channel_id is not None:
        query = query.where(ResultPoint.channel_id == channel_id)
    if campaign_id is not None:
        query = query.join(Post, Post.id == Delivery.post_id).where(Post.campaign_id == campaign_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for point, post_id, published_at, channel in session.execute(query):
        writer.writerow(
            [
                point.delivery_id, post_id, point.channel_id, _safe(channel),
                iso_utc(published_at), iso_utc(point.measured_at), point.source, point.state,
                *["" if getattr(point, m) is None else getattr(point, m) for m in METRICS],
            ]
        )  # fmt: skip
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
