"""The team view: per department and channel over a period, what was planned, published, held,
missed and discarded, and what the inbox answered; and channels whose results fall while their
cadence holds (the posts go out as planned, but fewer people react: the content needs a look,
not the schedule).

Planned, published and discarded come from the deliveries (by the post's planned time in the
period). Held and missed come from the audit log: a delivery a crisis held and a head later
released still counts as held once, because the hold happened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calendar_app.evaluation.series import INTERACTIONS
from calendar_app.models import (
    AuditEntry,
    Channel,
    Delivery,
    DeliveryStatus,
    Department,
    InboxItem,
    Post,
    ResultPoint,
    ResultState,
)
from calendar_app.timeutil import iso_utc

# A channel's results "fall" when its interactions per post in the second half of the period
# are below this share of the first half's, while it published at least CADENCE_HOLDS as many.
FALLING_BELOW = 0.7
CADENCE_HOLDS = 0.8


@dataclass
class Row:
    department: str | None  # None: posts of no department
    channel: str
    channel_id: int | None
    planned: int = 0
    published: int = 0
    held: int = 0
    missed: int = 0
    discarded: int = 0
    answered: int = 0  # inbox items received in the period and answered (first_answer_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "channel": self.channel,
            "channel_id": self.channel_id,
            "planned": self.planned,
            "published": self.published,
            "held": self.held,
            "missed": self.missed,
            "discarded": self.discarded,
            "inbox_answered": self.answered,
        }


@dataclass
class FallingChannel:
    channel_id: int
    channel: str
    published_before: int
    published_after: int
    per_post_before: float
    per_post_after: float

    def as_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "channel": self.channel,
            "published_first_half": self.published_before,
            "published_second_half": self.published_after,
            "interactions_per_post_first_half": round(self.per_post_before, 2),
            "interactions_per_post_second_half": round(self.per_post_after, 2),
        }


@dataclass
class TeamView:
    start: datetime
    end: datetime
    rows: list[Row]
    falling: list[FallingChannel] = field(default_factory=list)

    @property
    def totals(self) -> Row:
        total = Row(None, "", None)
        for row in self.rows:
            for name in ("planned", "published", "held", "missed", "discarded", "answered"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total

    def as_json(self) -> dict[str, Any]:
        totals = self.totals.as_json()
        for key in ("department", "channel", "channel_id"):
            totals.pop(key)
        return {
            "from": iso_utc(self.start),
            "to": iso_utc(self.end),
            "rows": [r.as_json() for r in self.rows],
            "totals": totals,
            "falling_results": [f.as_json() for f in self.falling],
        }


def team_view(session: Session, start: datetime, end: datetime) -> TeamView:
    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    rows: dict[tuple[str, int | None], Row] = {}

    def row(department_id: int | None, channel_id: int | None) -> Row:
        department = departments.get(department_id) if department_id else None
        key = (department or "", channel_id)
        if key not in rows:
            name = channels.get(channel_id, "") if channel_id else ""
            rows[key] = Row(department, name, channel_id)
        return rows[key]

    in_period = (Post.publish_at >= start, Post.publish_at < end)
    for department_id, channel_id, status, count in session.execute(
        select(Post.department_id, Delivery.channel_id, Delivery.status, func.count())
        .join(Post, Post.id == Delivery.post_id)
        .where(*in_period)
        .group_by(Post.department_id, Delivery.channel_id, Delivery.status)
    ):
        target = row(department_id, channel_id)
        target.planned += count
        if status == DeliveryStatus.PUBLISHED:
            target.published += count
        elif status == DeliveryStatus.DISCARDED:
            target.discarded += count

    # Held and missed: from the audit log, each delivery once per kind.
    set_aside: dict[str, set[int]] = {"hold": set(), "missed": set()}
    for action, detail in session.execute(
        select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.subject_type == "post",
            AuditEntry.action.in_(tuple(set_aside)),
            AuditEntry.at >= start,
            AuditEntry.at < end,
        )
    ):
        set_aside[action].update(int(i) for i in (detail or {}).get("deliveries", []))
    wanted = set_aside["hold"] | set_aside["missed"]
    if wanted:
        for delivery_id, department_id, channel_id in session.execute(
            select(Delivery.id, Post.department_id, Delivery.channel_id)
            .join(Post, Post.id == Delivery.post_id)
            .where(Delivery.id.in_(sorted(wanted)))
        ):
            target = row(department_id, channel_id)
            target.held += delivery_id in set_aside["hold"]
            target.missed += delivery_id in set_aside["missed"]

    for department_id, channel_id, count in session.execute(
        select(InboxItem.department_id, InboxItem.channel_id, func.count())
        .where(
            # Answered as the inbox's time to first answer counts it: a reply was written, or
            # the item was closed as answered elsewhere (closed unanswered is no answer).
            InboxItem.first_answer_at.is_not(None),
            InboxItem.received_at >= start,
            InboxItem.received_at < end,
        )
        .group_by(InboxItem.department_id, InboxItem.channel_id)
    ):
        row(department_id, channel_id).answered += count

    ordered = sorted(
        rows.values(), key=lambda r: (r.department is None, r.department or "", r.channel)
    )
    return TeamView(start, end, ordered, falling_channels(session, start, end, channels))


def falling_channels(
    session: Session, start: datetime, end: datetime, channels: dict[int, str]
) -> list[FallingChannel]:
    """Channels whose interactions per published post fell from the first half of the period to
    the second while they published about as often."""
    middle = start + (end - start) / 2
    newest = (
        select(func.max(ResultPoint.id).label("point_id"))
        .join(Delivery, Delivery.id == ResultPoint.delivery_id)
        .where(Delivery.published_at >= start, Delivery.published_at < end)
        .group_by(ResultPoint.delivery_id)
        .subquery()
    )
    halves: dict[int, list[list[int]]] = defaultdict(lambda: [[], []])
    interactions = [getattr(ResultPoint, m) for m in INTERACTIONS]
    for channel_id, state, published_at, *numbers in session.execute(
        select(ResultPoint.channel_id, ResultPoint.state, Delivery.published_at, *interactions)
        .join(newest, newest.c.point_id == ResultPoint.id)
        .join(Delivery, Delivery.id == ResultPoint.delivery_id)
    ):
        if state != ResultState.OK:
            continue
        value = sum(n or 0 for n in numbers)
        halves[channel_id][0 if published_at < middle else 1].append(value)
    published: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for channel_id, published_at in session.execute(
        select(Delivery.channel_id, Delivery.published_at).where(
            Delivery.status == DeliveryStatus.PUBLISHED,
            Delivery.published_at >= start,
            Delivery.published_at < end,
        )
    ):
        published[channel_id][0 if published_at < middle else 1] += 1
    falling = []
    for channel_id, (before, after) in sorted(halves.items()):
        if not before or not after:
            continue
        count_before, count_after = published[channel_id]
        per_before, per_after = sum(before) / len(before), sum(after) / len(after)
        if (
            per_before > 0
            and per_after < per_before * FALLING_BELOW
            and count_after >= count_before * CADENCE_HOLDS
        ):
            falling.append(
                FallingChannel(channel_id, channels.get(channel_id, ""), count_before, count_after,
                               per_before, per_after)
            )  # fmt: skip
    return falling
