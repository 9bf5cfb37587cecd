"""The plan as an iCal feed at a secret, revocable address per user (Outlook, Google Calendar,
Apple Calendar subscribe to it): one event per delivery, updated when the plan changes."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from calendar_app import audit
from calendar_app.models import CalendarFeed, Delivery, DeliveryStatus, Post, PostStatus, User
from calendar_app.plain_text import one_line, printable, shortened
from calendar_app.timeutil import now_utc

PRODID = "-//calendar_app//Editorial calendar//EN"
EVENT_MINUTES = 15
# What a subscriber sees: a window around today, at most MAX_EVENTS events (the earliest first),
# each with at most TEXT_SHOWN characters of its text (the event links to the whole post). A
# calendar program fetches the feed every 15 minutes: it must stay small however long the plan.
# Characters are counted as people see them, and a cut never splits an emoji or a flag.
DAYS_BACK = 30
DAYS_AHEAD = 180
MAX_EVENTS = 2000
TEXT_SHOWN = 1000
# A post without a title is named by the start of its text; a summary is one line of this length.
TITLE_FROM_TEXT = 60
SUMMARY_SHOWN = 200
# SEQUENCE counts seconds since this instant: it grows with every change and fits 32 bits.
SEQUENCE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TENTATIVE = (PostStatus.DRAFT, PostStatus.IN_REVIEW)


# --- the secret address -------------------------------------------------------------------------


def feed_of(session: Session, user: User) -> CalendarFeed | None:
    return session.get(CalendarFeed, user.id)


def renew_feed(session: Session, user: User) -> CalendarFeed:
    """A new secret address; the old one (if any) answers 404 from now on."""
    feed = feed_of(session, user)
    if feed is None:
        feed = CalendarFeed(user_id=user.id)
        session.add(feed)
    feed.token = secrets.token_urlsafe(32)
    feed.created_at = now_utc()
    feed.last_fetched_at = None
    session.flush()
    audit.record(session, user, "renew_feed", user)
    return feed


def revoke_feed(session: Session, user: User) -> None:
    feed = feed_of(session, user)
    if feed is None:
        return
    session.delete(feed)
    session.flush()
    audit.record(session, user, "revoke_feed", user)


def feed_for_token(session: Session, token: str) -> CalendarFeed | None:
    """The feed behind an address, if it is current and its user may still sign in."""
    if not 20 <= len(token) <= 64:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if feed is None or not feed.user.active:
        return None
    return feed


# --- the calendar -------------------------------------------------------------------------------


def planned_deliveries(
    session: Session, since: datetime, until: datetime, limit: int | None = None
) -> Sequence[Delivery]:
    """Deliveries of posts planned from `since` to before `until`, the earliest `limit` of them
    (default MAX_EVENTS)."""
    return session.scalars(
        select(Delivery)
        .join(Post, Post.id == Delivery.post_id)
        .where(
            Post.publish_at >= since,
            Post.publish_at < until,
            Post.status != PostStatus.DISCARDED,
            Delivery.status != DeliveryStatus.DISCARDED,
        )
        .options(
            selectinload(Delivery.post).selectinload(Post.department),
            selectinload(Delivery.post).selectinload(Post.campaign),
            selectinload(Delivery.channel),
        )
        .order_by(Post.publish_at, Delivery.id)
        .limit(limit or MAX_EVENTS)
    ).all()


def delivery_time(delivery: Delivery) -> datetime:
    """When it went out, or when it is due (a released post may be due later than planned)."""
    return delivery.published_at or delivery.due_at or delivery.post.publish_at


def last_modified(delivery: Delivery) -> datetime:
    """The event's change stamp: it moves forward with every change of the post or the delivery,
    by at least a second (models.py, "the change stamp")."""
    return datetime.fromtimestamp(max(delivery.post.changed, delivery.changed), UTC)


def sequence(delivery: Delivery) -> int:
    return max(0, int((last_modified(delivery) - SEQUENCE_EPOCH).total_seconds()))


def summary(delivery: Delivery) -> str:
    """One line, "channel: title"; a post without a title is named by its text's start."""
    post = delivery.post
    title = one_line(post.title) or shortened(one_line(post.body), TITLE_FROM_TEXT)
    # printable: a row stored before control characters were refused at input must not break
    # the file (a calendar program drops the whole feed over one bad line).
    return shortened(printable(f"{delivery.channel.name}: {title}"), SUMMARY_SHOWN)


def event_for(
    delivery: Delivery,
    *,
    stamp: datetime,
    status_line: Callable[[str], str],
    link: Callable[[Post], str],
) -> Event:
    post = delivery.post
    start = delivery_time(delivery).astimezone(UTC)
    details = [shortened(delivery.text, TEXT_SHOWN), "", status_line(post.status)]
    if post.department:
        details.append(post.department.name)
    if post.campaign:
        details.append(post.campaign.name)
    details.append(link(post))
    event = Event()
    event.add("uid", f"delivery-{delivery.id}@calendar-app")
    event.add("summary", summary(delivery))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=EVENT_MINUTES))
    event.add("dtstamp", stamp)
    event.add("last-modified", last_modified(delivery).astimezone(UTC))
    event.add("sequence", sequence(delivery))
    event.add("description", printable("\n".join(details)))
    event.add("url", link(post))
    event.add("status", "TENTATIVE" if post.status in TENTATIVE else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a planned post does not make anyone busy
    return event


def feed_calendar(
    session: Session,
    *,
    name: str,
    timezone: str,
    status_line: Callable[[str], str],
    link: Callable[[Post], str],
    now: datetime | None = None,
) -> bytes:
    stamp = (now or now_utc()).astimezone(UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")
    window = (stamp - timedelta(days=DAYS_BACK), stamp + timedelta(days=DAYS_AHEAD))
    for delivery in planned_deliveries(session, *window):
        calendar.add_component(event_for(delivery, stamp=stamp, status_line=status_line, link=link))
    return calendar.to_ical()
