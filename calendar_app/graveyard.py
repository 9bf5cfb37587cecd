"""Graveyard alerts: channels that went silent or have nothing planned, told to their owners.

A channel is *silent* when nothing was published on it for `silent_after_days` (a new channel
gets that long from its creation), and has *nothing planned* when no post (draft, in review or
scheduled) is due on it within the next `plan_ahead_days`. Drafts count: the alert is about an
empty calendar, not about approvals.

The periodic check tells the channel's owner and deputy once per problem: an open
`GraveyardAlert` row remembers what they were told; when the problem is gone the row is closed,
so a relapse is told again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from calendar_app import audit
from calendar_app.channels import ownership_complete
from calendar_app.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    GraveyardAlert,
    Post,
    PostStatus,
    Role,
    User,
)
from calendar_app.notifications import notify
from calendar_app.words import _l, _n

SILENT = "silent"
NOTHING_PLANNED = "nothing_planned"
PLANNED_STATUSES = (PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.SCHEDULED)
# PostgreSQL: checks in several scheduler processes take turns (SQLite: BEGIN IMMEDIATE does).
_CHECK_LOCK_KEY = 0x6772_6176  # "grav"


@dataclass
class ChannelHealth:
    channel: Channel
    last_published_at: datetime | None
    next_planned_at: datetime | None
    # problem kind -> what is wrong, in words
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ownership_complete(self) -> bool:
        return ownership_complete(self.channel)


def _days(delta: timedelta) -> int:
    return max(0, delta.days)


def _last_published(session: Session) -> dict[int, datetime]:
    rows = session.execute(
        select(Delivery.channel_id, func.max(Delivery.published_at))
        .where(Delivery.status == DeliveryStatus.PUBLISHED)
        .group_by(Delivery.channel_id)
    )
    return {channel_id: at for channel_id, at in rows if at is not None}


def _next_planned(session: Session, now: datetime) -> dict[int, datetime]:
    rows = session.execute(
        select(Delivery.channel_id, func.min(Post.publish_at))
        .join(Post, Delivery.post_id == Post.id)
        .where(
            Delivery.status == DeliveryStatus.SCHEDULED,
            Post.status.in_(PLANNED_STATUSES),
            Post.publish_at >= now,
        )
        .group_by(Delivery.channel_id)
    )
    return {channel_id: at for channel_id, at in rows if at is not None}


def _problems(
    channel: Channel, last: datetime | None, upcoming: datetime | None, now: datetime
) -> dict[str, str]:
    problems = {}
    silent_since = last or channel.created_at
    if now - silent_since >= timedelta(days=channel.silent_after_days):
        if last is None:
            problems[SILENT] = _n(
                "nothing published on %(channel)s since it was created %(count)s day ago (alert "
                "after %(silent_after_days)s days)",
                "nothing published on %(channel)s since it was created %(count)s days ago (alert "
                "after %(silent_after_days)s days)",
                _days(now - channel.created_at),
                channel=channel.name,
                silent_after_days=channel.silent_after_days,
            )
        else:
            problems[SILENT] = _n(
                "nothing published on %(channel)s for %(count)s day (alert after "
                "%(silent_after_days)s days)",
                "nothing published on %(channel)s for %(count)s days (alert after "
                "%(silent_after_days)s days)",
                _days(now - last),
                channel=channel.name,
                silent_after_days=channel.silent_after_days,
            )
    horizon = now + timedelta(days=channel.plan_ahead_days)
    if upcoming is None or upcoming >= horizon:
        problems[NOTHING_PLANNED] = _l(
            "nothing planned on %(channel)s for the next %(plan_ahead_days)s days",
            channel=channel.name,
            plan_ahead_days=channel.plan_ahead_days,
        )
    return problems


def channel_health(session: Session, now: datetime) -> list[ChannelHealth]:
    """Every active channel: when it last published, what comes next, and what is wrong."""
    last = _last_published(session)
    upcoming = _next_planned(session, now)
    channels = session.scalars(
        select(Channel).where(Channel.active.is_(True)).order_by(Channel.name)
    ).all()
    return [
        ChannelHealth(
            channel=c,
            last_published_at=last.get(c.id),
            next_planned_at=upcoming.get(c.id),
            problems=_problems(c, last.get(c.id), upcoming.get(c.id), now),
        )
        for c in channels
    ]


def find_graveyard_channels(session: Session, now: datetime) -> list[ChannelHealth]:
    """The channels that are silent or have nothing planned, each with its problems in words."""
    return [health for health in channel_health(session, now) if health.problems]


def _recipients(session: Session, channel: Channel) -> list[User]:
    """Owner and deputy; a channel nobody answers for goes to the admins, so it is not lost."""
    people = [p for p in (channel.owner, channel.deputy) if p is not None and p.active]
    if people:
        return people
    return list(session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True))))


def _open_alerts(session: Session) -> dict[tuple[int, str], GraveyardAlert]:
    alerts = session.scalars(select(GraveyardAlert).where(GraveyardAlert.resolved_at.is_(None)))
    return {(a.channel_id, a.problem): a for a in alerts}


def check_graveyards(session: Session, now: datetime) -> list[GraveyardAlert]:
    """Tell owners and deputies about new problems (once each); close the ones that are over."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHECK_LOCK_KEY})
    open_alerts = _open_alerts(session)
    found: set[tuple[int, str]] = set()
    raised = []
    for health in find_graveyard_channels(session, now):
        channel = health.channel
        for problem, words in health.problems.items():
            found.add((channel.id, problem))
            if (channel.id, problem) in open_alerts:
                continue  # told already; the problem lasts
            alert = GraveyardAlert(channel=channel, problem=problem, alerted_at=now)
            session.add(alert)
            raised.append(alert)
            notify(
                session,
                _recipients(session, channel),
                kind=f"graveyard_{problem}",
                subject=_l("Channel at risk: %(channel)s", channel=channel.name),
                text=_l(
                    "This channel is at risk: %(problem)s. Plan something for it, or hand it over.",
                    problem=words,
                ),
                link="/dashboard",
            )
            audit.record(session, None, "graveyard_alert", channel, reason=words, problem=problem)
    for key, alert in open_alerts.items():
        if key not in found:
            alert.resolved_at = now
    session.flush()
    return raised


def alerts_of(session: Session, channel_ids: Sequence[int]) -> list[GraveyardAlert]:
    return list(
        session.scalars(
            select(GraveyardAlert)
            .where(GraveyardAlert.channel_id.in_(channel_ids))
            .order_by(GraveyardAlert.id)
        )
    )
