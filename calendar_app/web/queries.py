"""Read-only queries the pages need beyond those of the rules modules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload

from calendar_app.models import (
    AuditEntry,
    Campaign,
    Channel,
    Crisis,
    Delivery,
    DeliveryStatus,
    Department,
    Post,
    PostStatus,
    User,
)
from calendar_app.planning import list_posts, post_filters
from calendar_app.search import search_posts
from calendar_app.timeutil import local


@dataclass
class CalendarDay:
    day: date
    posts: list[CalendarEntry]


def day_start(day: date, timezone: str) -> datetime:
    """Midnight on the team's wall clock (a DST day is 23 or 25 hours long)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))


def calendar_days(session: Session, first: date, days: int, timezone: str) -> list[CalendarDay]:
    """Posts from `first` for `days` days, grouped by their day in the team's time zone."""
    posts = calendar_entries(
        session,
        start=day_start(first, timezone),
        end=day_start(first + timedelta(days=days), timezone),
    )
    by_day: dict[date, list[CalendarEntry]] = defaultdict(list)
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


AUDIT_PAGE_SIZE = 50
SYSTEM_ACTOR = "system"  # the "who" filter's value for what the scheduler and the rules did


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log shows: who (a person's id, or SYSTEM_ACTOR), which action, which
    post, and a period [start, end)."""

    actor: int | str | None = None
    action: str | None = None
    post_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    older: int | None  # `before` for the next page of older entries; None: this is the last


def audit_entries(
    session: Session,
    wanted: AuditFilter = AuditFilter(),
    *,
    before: int | None = None,
    limit: int = AUDIT_PAGE_SIZE,
) -> AuditPage:
    """Newest first, one page at a time. The log only grows, so a page ends at an entry's id
    (`before`): the next page starts after it, however many entries were written meanwhile."""
    query = select(AuditEntry).options(joinedload(AuditEntry.actor))
    if wanted.actor == SYSTEM_ACTOR:
        query = query.where(AuditEntry.actor_id.is_(None))
    elif wanted.actor is not None:
        query = query.where(AuditEntry.actor_id == wanted.actor)
    if wanted.action is not None:
        query = query.where(AuditEntry.action == wanted.action)
    if wanted.post_id is not None:
        query = query.where(
            AuditEntry.subject_type == "post", AuditEntry.subject_id == wanted.post_id
        )
    if wanted.start is not None:
        query = query.where(AuditEntry.at >= wanted.start)
    if wanted.end is not None:
        query = query.where(AuditEntry.at < wanted.end)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).all()
    entries = rows[:limit]
    return AuditPage(entries, entries[-1].id if len(rows) > limit else None)


def audit_actors(session: Session) -> Sequence[User]:
    """Everyone who has an entry in the log (the "who" filter's choices)."""
    return session.scalars(
        select(User)
        .where(User.id.in_(select(AuditEntry.actor_id).where(AuditEntry.actor_id.is_not(None))))
        .order_by(User.name)
    ).all()


def past_crises(session: Session, limit: int = 5) -> Sequence[Crisis]:
    return session.scalars(
        select(Crisis)
        .where(Crisis.lifted_at.is_not(None))
        .order_by(Crisis.declared_at.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class CalendarEntry:
    """One post as the calendar shows it."""

    id: int
    title: str
    opening: str  # the first 200 characters of the body, for a post without a title
    status: str
    publish_at: datetime
    crisis_response: bool
    department: str
    department_color: str | None
    campaign: str
    channels: list[str]
    networks: list[str]  # each channel's network (channel_rules.NETWORKS), in the same order


def calendar_entries(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    channel_id: int | None = None,
    department_id: int | None = None,
    campaign_id: int | None = None,
    status: str | None = None,
) -> list[CalendarEntry]:
    """What the calendar shows in a range, with its filters: only the columns it needs, read as
    rows (a busy team's month is hundreds of posts, read again at every turn of the page)."""
    conditions = post_filters(
        start=start,
        end=end,
        channel_id=channel_id,
        department_id=department_id,
        campaign_id=campaign_id,
        status=status,
    )
    return _entries(session, conditions)


def search_entries(session: Session, text: str) -> list[CalendarEntry]:
    """The posts that match a search (search.py), best first, as the calendar shows them."""
    ranked = search_posts(session, text)
    place = {post_id: n for n, post_id in enumerate(ranked)}
    entries = _entries(session, [Post.id.in_(ranked)])
    return sorted(entries, key=lambda entry: place[entry.id])


def _entries(session: Session, conditions: list[ColumnElement[bool]]) -> list[CalendarEntry]:
    channels: dict[int, list[str]] = defaultdict(list)
    networks: dict[int, list[str]] = defaultdict(list)
    for post_id, name, network in session.execute(
        select(Delivery.post_id, Channel.name, Channel.network)
        .join(Channel, Delivery.channel_id == Channel.id)
        .where(Delivery.post_id.in_(select(Post.id).where(*conditions)))
        .order_by(Delivery.id)
    ):
        channels[post_id].append(name)
        networks[post_id].append(network)
    rows = session.execute(
        select(
            Post.id,
            Post.title,
            func.substr(Post.body, 1, 200),
            Post.status,
            Post.publish_at,
            Post.crisis_response,
            Department.name,
            Department.color,
            Campaign.name,
        )
        .outerjoin(Department, Post.department_id == Department.id)
        .outerjoin(Campaign, Post.campaign_id == Campaign.id)
        .where(*conditions)
        .order_by(Post.publish_at, Post.id)
    )
    return [
        CalendarEntry(
            id=post_id,
            title=title,
            opening=opening,
            status=post_status,
            publish_at=publish_at,
            crisis_response=crisis_response,
            department=department or "",
            department_color=color,
            campaign=campaign or "",
            channels=channels[post_id],
            networks=networks[post_id],
        )
        for (
            post_id,
            title,
            opening,
            post_status,
            publish_at,
            crisis_response,
            department,
            color,
            campaign,
        ) in rows
    ]


def active_channels(session: Session) -> Sequence[Channel]:
    return session.scalars(
        select(Channel).where(Channel.active.is_(True)).order_by(Channel.name)
    ).all()


def departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.name)).all()


def posts_in_review(session: Session) -> Sequence[Post]:
    return list_posts(session, status=PostStatus.IN_REVIEW)


def count_in_review(session: Session) -> int:
    return len(posts_in_review(session))


def post_history(session: Session, post: Post) -> Sequence[AuditEntry]:
    """The post's decisions, oldest first (a head's comment when sending it back is here)."""
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_type == "post", AuditEntry.subject_id == post.id)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()


@dataclass
class HeldPost:
    """A post waiting for review, with the deliveries that wait."""

    post: Post
    deliveries: list[Delivery]

    @property
    def original_time(self) -> datetime:
        return min(d.due_at or self.post.publish_at for d in self.deliveries)


def held_posts(deliveries: Sequence[Delivery]) -> list[HeldPost]:
    """Held, missed, failed and unknown deliveries grouped by their post, in order of due time."""
    by_post: dict[int, HeldPost] = {}
    for delivery in deliveries:
        entry = by_post.setdefault(delivery.post_id, HeldPost(delivery.post, []))
        entry.deliveries.append(delivery)
    return sorted(by_post.values(), key=lambda held: (held.original_time, held.post.id))
