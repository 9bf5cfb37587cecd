"""Read-only queries the pages need beyond those of the rules modules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from calendar_app.models import AuditEntry, Crisis, Delivery, DeliveryStatus, Post
from calendar_app.planning import list_posts
from calendar_app.timeutil import local


@dataclass
class CalendarDay:
    day: date
    posts: list[Post]


def day_start(day: date, timezone: str) -> datetime:
    """Midnight on the team's wall clock (a DST day is 23 or 25 hours long)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))


def calendar_days(session: Session, first: date, days: int, timezone: str) -> list[CalendarDay]:
    """Posts from `first` for `days` days, grouped by their day in the team's time zone."""
    posts = list_posts(
        session,
        start=day_start(first, timezone),
        end=day_start(first + timedelta(days=days), timezone),
    )
    by_day: dict[date, list[Post]] = defaultdict(list)
    for post in posts:
        by_day[local(post.publish_at, timezone).date()].append(post)
    return [CalendarDay(day, by_day[day]) for day in sorted(by_day)]


def published_deliveries(session: Session, limit: int = 200) -> Sequence[Delivery]:
    """What went out where and when, newest first."""
    return session.scalars(
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.PUBLISHED)
        .options(joinedload(Delivery.post), joinedload(Delivery.channel))
        .order_by(Delivery.published_at.desc(), Delivery.id.desc())
        .limit(limit)
    ).all()


def audit_entries(session: Session, limit: int = 300) -> Sequence[AuditEntry]:
    return session.scalars(
        select(AuditEntry)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    ).all()


def past_crises(session: Session, limit: int = 5) -> Sequence[Crisis]:
    return session.scalars(
        select(Crisis)
        .where(Crisis.lifted_at.is_not(None))
        .order_by(Crisis.declared_at.desc())
        .limit(limit)
    ).all()
