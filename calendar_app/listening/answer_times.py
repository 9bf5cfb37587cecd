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
from dataclasses import dataclass
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class AnswerTimes:
    answered: int
    unanswered: int
    median: timedelta | None
    p90: timedelta | None


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
    rows = session.execute(
        select(
            InboxItem.channel_id,
            InboxItem.department_id,
            InboxItem.received_at,
            InboxItem.first_answer_at,
        ).where(visible_to(reader), InboxItem.received_at >= now - timedelta(days=days))
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
        days=days,
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


def answer_reports(session: Session, reader: User, *, now: datetime) -> list[AnswerReport]:
    return [answer_times(session, reader, now=now, days=days) for days in WINDOW_DAYS]
