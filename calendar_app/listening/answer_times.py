"""Time to first answer: how long people wait for us, per department and per channel.

An item counts as answered at its `first_answer_at`: when the first reply to it was written in
the inbox (not when it went out: a reply waiting for approval is the team's answer already, the
approval is the four-eyes rule), or when it was closed as answered elsewhere (by phone, by
e-mail: "close, answered"). Closing without an answer is no answer: such an item counts as
unanswered, like an open one. The time to first answer runs from when it was said on the
network (`received_at`) to that moment.

Over a window (the last 7 or 30 days, by when the items were said): the median and the 90th
percentile (nearest rank) of the answered items, and how many are answered and unanswered.
Each reader sees the figures of the items they may see (inbox.visible_to).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.listening.inbox import visible_to
from calendar_app.models import Channel, Department, InboxItem, User

WINDOW_DAYS = (7, 30)
# The definition, as the API and the page state it.
ANSWERED = (
    "An item counts as answered when the first reply to it was written in the inbox, or when "
    "it was closed as answered elsewhere; the time runs from when it was said on the network. "
    "Items closed without an answer and open items count as unanswered."
)


def _minutes(wait: timedelta | None) -> float | None:
    return round(wait.total_seconds() / 60, 1) if wait is not None else None


@dataclass(frozen=True)
class AnswerTimes:
    answered: int
    unanswered: int
    median: timedelta | None
    p90: timedelta | None

    def as_json(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "unanswered": self.unanswered,
            "median_minutes": _minutes(self.median),
            "p90_minutes": _minutes(self.p90),
        }


@dataclass(frozen=True)
class Group:
    id: int | None  # None: items routed to no department
    name: str
    times: AnswerTimes


@dataclass(frozen=True)
class AnswerReport:
    days: int
    overall: AnswerTimes
    departments: list[Group]
    channels: list[Group]

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "overall": self.overall.as_json(),
            "departments": [
                {"department_id": g.id, "name": g.name, **g.times.as_json()}
                for g in self.departments
            ],
            "channels": [
                {"channel_id": g.id, "name": g.name, **g.times.as_json()} for g in self.channels
            ],
        }


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted `values` (one of them, never an interpolation)."""
    rank = max(1, math.ceil(share * len(values)))
    return values[rank - 1]


def _times(answered: list[float], unanswered: int) -> AnswerTimes:
    if not answered:
        return AnswerTimes(0, unanswered, None, None)
    return AnswerTimes(
        answered=len(answered),
        unanswered=unanswered,
        median=timedelta(seconds=statistics.median(answered)),
        p90=timedelta(seconds=percentile(answered, 0.9)),
    )


def _group(waits: list[timedelta | None]) -> AnswerTimes:
    answered = sorted(w.total_seconds() for w in waits if w is not None)
    return _times(answered, sum(1 for w in waits if w is None))


def answer_times(session: Session, reader: User, *, now: datetime, days: int) -> AnswerReport:
    """The last `days` days up to `now`."""
    return answers_between(session, reader, now - timedelta(days=days), now)


def answers_between(session: Session, reader: User, start: datetime, end: datetime) -> AnswerReport:
    """The items said from `start` up to `end`, as `reader` may see them."""
    rows = session.execute(
        select(
            InboxItem.channel_id,
            InboxItem.department_id,
            InboxItem.received_at,
            InboxItem.first_answer_at,
        ).where(visible_to(reader), InboxItem.received_at >= start, InboxItem.received_at < end)
    ).all()
    everything: list[timedelta | None] = []
    by_department: dict[int | None, list[timedelta | None]] = {}
    by_channel: dict[int, list[timedelta | None]] = {}
    for channel_id, department_id, received_at, answered_at in rows:
        wait = max(answered_at - received_at, timedelta(0)) if answered_at else None
        everything.append(wait)
        by_department.setdefault(department_id, []).append(wait)
        by_channel.setdefault(channel_id, []).append(wait)
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    return AnswerReport(
        days=round((end - start) / timedelta(days=1)),
        overall=_group(everything),
        departments=sorted(
            (
                Group(d, departments.get(d, "") if d is not None else "", _group(w))
                for d, w in by_department.items()
            ),
            key=lambda g: (g.id is None, g.name.casefold()),
        ),
        channels=sorted(
            (Group(c, channels.get(c, ""), _group(w)) for c, w in by_channel.items()),
            key=lambda g: g.name.casefold(),
        ),
    )


@dataclass(frozen=True)
class Waiting:
    """One item: when it was said on the network and when we first answered (None: not yet)."""

    received_at: datetime
    answered_at: datetime | None

    @property
    def wait(self) -> timedelta | None:
        if self.answered_at is None:
            return None
        return max(self.answered_at - self.received_at, timedelta(0))


def items_on_channels(
    session: Session, channel_ids: Collection[int], start: datetime, end: datetime
) -> list[Waiting]:
    """The items said on these channels from `start` up to `end` (all of them: figures, not
    texts, so no reader's view is applied)."""
    if not channel_ids:
        return []
    return [
        Waiting(received_at, answered_at)
        for received_at, answered_at in session.execute(
            select(InboxItem.received_at, InboxItem.first_answer_at).where(
                InboxItem.channel_id.in_(sorted(channel_ids)),
                InboxItem.received_at >= start,
                InboxItem.received_at < end,
            )
        )
    ]


def times_of(items: list[Waiting]) -> AnswerTimes:
    return _group([item.wait for item in items])


def share_answered_within(items: list[Waiting], limit: timedelta, now: datetime) -> float | None:
    """The share of items answered within `limit`, of the items answered or whose `limit` ran
    out by `now`: an item said ten minutes ago and not answered yet is not late (yet). None
    when no item counts."""
    counted = [
        item for item in items if item.answered_at is not None or item.received_at + limit <= now
    ]
    if not counted:
        return None
    in_time = sum(1 for item in counted if item.wait is not None and item.wait <= limit)
    return in_time / len(counted)


def answer_reports(session: Session, reader: User, *, now: datetime) -> list[AnswerReport]:
    return [answer_times(session, reader, now=now, days=days) for days in WINDOW_DAYS]
