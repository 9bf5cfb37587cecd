"""The crisis timeline for the debrief: what happened during one crisis, in order.

Built from the audit log (declaration, playbook, holds, missed deliveries, acknowledgements, the
lift request and its confirmation, releases and discards) and the deliveries (statements
published). Releases and discards of posts the crisis held count even after the lift: that
review is part of the crisis' work; it ends when the next crisis is declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session, selectinload

from calendar_app.errors import NotFound
from calendar_app.models import (
    MAX_ID,
    AuditEntry,
    Channel,
    Crisis,
    Delivery,
    Post,
    SpikeAlert,
    User,
)
from calendar_app.permissions import require_may_read_crisis_timeline
from calendar_app.timeutil import now_utc
from calendar_app.words import _l


class Moment(StrEnum):
    """What a line of the timeline records (in the order they sort when they share a time)."""

    ALERTED = "alerted"  # the early warning that the crisis was declared from
    DECLARED = "declared"
    PLAYBOOK = "playbook"
    HELD = "held"
    STATEMENT = "statement"
    MISSED = "missed"
    ACKNOWLEDGED = "acknowledged"
    LIFT_REQUESTED = "lift_requested"
    LIFTED = "lifted"
    RELEASED = "released"
    DISCARDED = "discarded"


_RANK = {moment: rank for rank, moment in enumerate(Moment)}
# The audit actions on the crisis itself, and what they are on the timeline.
_CRISIS_ACTIONS = {
    "declare_crisis": Moment.DECLARED,
    "declare_from_playbook": Moment.PLAYBOOK,
    "acknowledge": Moment.ACKNOWLEDGED,
    "request_lift": Moment.LIFT_REQUESTED,
    "lift_crisis": Moment.LIFTED,
}
_POST_ACTIONS = {
    "hold": Moment.HELD,
    "missed": Moment.MISSED,
    "release": Moment.RELEASED,
    "discard": Moment.DISCARDED,
}


@dataclass(frozen=True)
class Event:
    at: datetime
    moment: Moment
    actor: str | None = None  # who did it (None: the system)
    note: str | None = None  # the reason, the lift note, the statement's text
    post_id: int | None = None
    post_title: str | None = None
    channels: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)
    order: int = 0  # ties at one time keep the order they were recorded in


@dataclass
class Timeline:
    crisis: Crisis
    events: list[Event]

    @property
    def ends_at(self) -> datetime | None:
        return self.crisis.lifted_at


def get_crisis(session: Session, crisis_id: int) -> Crisis:
    crisis = session.get(Crisis, crisis_id) if 0 < crisis_id <= MAX_ID else None
    if crisis is None:
        raise NotFound(_l("crisis %(crisis_id)s does not exist", crisis_id=crisis_id))
    return crisis


def crisis_timeline(session: Session, reader: User, crisis_id: int) -> Timeline:
    """Everything that happened during crisis `crisis_id` and its review, oldest first."""
    require_may_read_crisis_timeline(reader)
    crisis = get_crisis(session, crisis_id)
    holds = _holds(session, crisis)
    events = [
        *_from_alert(session, crisis),
        *_from_crisis_entries(session, crisis),
        *_statements(session, crisis),
        *_from_post_entries(session, crisis, holds),
    ]
    # The declaration (and the early warning it came from) opens the timeline even where a hold
    # was stamped a moment before it.
    opening = (Moment.ALERTED, Moment.DECLARED)
    events.sort(key=lambda e: (e.moment not in opening, e.at, _RANK[e.moment], e.order))
    return Timeline(crisis, events)


def _window_end(crisis: Crisis) -> datetime:
    return crisis.lifted_at or now_utc()


def _next_declaration(session: Session, crisis: Crisis) -> datetime | None:
    return session.scalar(
        select(Crisis.declared_at)
        .where(Crisis.declared_at > crisis.declared_at)
        .order_by(Crisis.declared_at)
        .limit(1)
    )


def _actor_name(entry: AuditEntry) -> str | None:
    return entry.actor.name if entry.actor is not None else None


def _from_crisis_entries(session: Session, crisis: Crisis) -> list[Event]:
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == "crisis",
            AuditEntry.subject_id == crisis.id,
            AuditEntry.action.in_(list(_CRISIS_ACTIONS)),
        )
        .options(selectinload(AuditEntry.actor))
        .order_by(AuditEntry.id)
    ).all()
    channel_names = _channel_names(session)
    events = []
    for entry in entries:
        moment = _CRISIS_ACTIONS[entry.action]
        detail = dict(entry.detail or {})
        actor = _actor_name(entry)
        channels: tuple[str, ...] = ()
        if moment == Moment.DECLARED:
            scope = detail.get("channels")
            if isinstance(scope, list):
                channels = tuple(channel_names.get(int(i), f"#{i}") for i in scope)
            detail = {
                "all_channels": scope == "all",
                "topics": detail.get("topics") or [],
                "keywords": detail.get("keywords") or [],
                "held_posts": len(detail.get("held_posts") or []),
            }
        elif moment == Moment.PLAYBOOK:
            detail = {
                "playbook": detail.get("playbook"),
                "statements": len(detail.get("statements") or []),
                "alerted": detail.get("alerted", 0),
            }
        elif moment == Moment.ACKNOWLEDGED:
            actor = actor or detail.get("name")
            detail = {"role": detail.get("role") or "", "via": detail.get("via") or ""}
        elif moment == Moment.LIFTED:
            detail = {"requested_by": detail.get("requested_by")}
        else:
            detail = {}
        events.append(
            Event(
                entry.at,
                moment,
                actor,
                entry.reason,
                channels=channels,
                detail=detail,
                order=entry.id,
            )
        )
    return events


def _alert_of(session: Session, crisis: Crisis) -> SpikeAlert | None:
    return session.scalar(select(SpikeAlert).where(SpikeAlert.crisis_id == crisis.id).limit(1))


def _from_alert(session: Session, crisis: Crisis) -> list[Event]:
    """The early-warning alert the crisis was declared from: when it opened, with its numbers."""
    alert = _alert_of(session, crisis)
    if alert is None:
        return []
    channels = (alert.channel.name,) if alert.channel is not None else ()
    detail = {
        "observed": alert.observed,
        "baseline": alert.baseline,
        "window_minutes": alert.window_minutes,
    }
    return [Event(alert.opened_at, Moment.ALERTED, None, None, channels=channels, detail=detail)]


def _holds(session: Session, crisis: Crisis) -> list[AuditEntry]:
    """The audit entries of the posts this crisis held (one per post and moment), and those the
    early-warning alert it was declared from held before it."""
    alert = _alert_of(session, crisis)
    since = alert.opened_at if alert is not None else crisis.declared_at
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == "post",
            AuditEntry.action == "hold",
            AuditEntry.at >= since,
            AuditEntry.at <= _window_end(crisis),
        )
        .order_by(AuditEntry.id)
    ).all()
    return [
        e
        for e in entries
        if (e.detail or {}).get("crisis") == crisis.id
        or (alert is not None and (e.detail or {}).get("alert") == alert.id)
    ]


def _statements(session: Session, crisis: Crisis) -> list[Event]:
    """Crisis responses published while the crisis was in force."""
    rows = session.execute(
        select(Delivery.id, Delivery.published_at, Post.id, Post.title, Post.body, Channel.name)
        .join(Post, Delivery.post_id == Post.id)
        .join(Channel, Delivery.channel_id == Channel.id)
        .where(
            Post.crisis_response.is_(True),
            Delivery.published_at.is_not(None),
            Delivery.published_at >= crisis.declared_at,
            Delivery.published_at <= _window_end(crisis),
        )
        .order_by(Delivery.published_at, Delivery.id)
    ).all()
    return [
        Event(
            row.published_at,
            Moment.STATEMENT,
            note=row.body,
            post_id=row[2],
            post_title=row.title,
            channels=(row.name,),
            order=row.id,
        )
        for row in rows
    ]


def _from_post_entries(session: Session, crisis: Crisis, holds: list[AuditEntry]) -> list[Event]:
    """What the crisis held, missed deliveries and any release or discard while it was in force;
    after the lift, releases and discards of what it held or set aside (until the next crisis)."""
    since = AuditEntry.at >= crisis.declared_at
    next_declared = _next_declaration(session, crisis)
    until = AuditEntry.at < next_declared if next_declared is not None else true()
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == "post",
            AuditEntry.action.in_(["missed", "release", "discard"]),
            since,
            until,
        )
        .options(selectinload(AuditEntry.actor))
        .order_by(AuditEntry.id)
    ).all()
    end = _window_end(crisis)
    during = [e for e in entries if e.at <= end]
    concerned = {e.subject_id for e in holds} | {
        e.subject_id for e in during if e.action == "missed"
    }
    chosen = [e for e in entries if e.at <= end or e.subject_id in concerned]
    chosen = [e for e in chosen if e.action != "missed" or e.at <= end]
    chosen = sorted([*holds, *chosen], key=lambda e: e.id)
    posts = _posts(session, {e.subject_id for e in chosen if e.subject_id is not None})
    events = []
    for entry in chosen:
        post = posts.get(entry.subject_id or 0)
        events.append(
            Event(
                entry.at,
                _POST_ACTIONS[entry.action],
                _actor_name(entry),
                entry.reason,
                post_id=entry.subject_id,
                post_title=post.title if post else None,
                channels=_delivery_channels(post, entry.detail),
                order=entry.id,
            )
        )
    return events


def _posts(session: Session, ids: Iterable[int]) -> dict[int, Post]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = session.scalars(
        select(Post)
        .where(Post.id.in_(wanted))
        .options(selectinload(Post.deliveries).selectinload(Delivery.channel))
    ).all()
    return {p.id: p for p in found}


def _delivery_channels(post: Post | None, detail: dict[str, Any] | None) -> tuple[str, ...]:
    """The channels of the deliveries an entry names (`deliveries`: ids, or id -> status)."""
    if post is None:
        return ()
    named = (detail or {}).get("deliveries")
    ids: set[int] = set()
    if isinstance(named, dict):
        ids = {int(k) for k in named}
    elif isinstance(named, list):
        ids = {int(i) for i in named}
    chosen = [d for d in post.deliveries if not ids or d.id in ids]
    return tuple(d.channel.name for d in chosen)


def _channel_names(session: Session) -> dict[int, str]:
    return {c.id: c.name for c in session.scalars(select(Channel))}
