"""The management report: one page a head can send upward each month. Goals and results per
campaign, the team's cadence, crises with their timelines and what they held, what the team
did per department and channel. The same figures serve the HTML page, its PDF and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calendar_app.evaluation.cadence import Week, weekly_cadence
from calendar_app.evaluation.campaign import CampaignEvaluation, evaluate_campaign
from calendar_app.evaluation.team import TeamView, team_view
from calendar_app.listening.answer_times import AnswerReport, answers_between
from calendar_app.models import Campaign, Crisis, Delivery, DeliveryStatus, Post, User
from calendar_app.permissions import require_may_read_crisis_timeline
from calendar_app.timeline import Moment, Timeline, crisis_timeline
from calendar_app.timeutil import iso_utc, local, now_utc

# The best posts a campaign shows in the report.
REPORT_TOP = 5


def month_bounds(month: str, timezone: str) -> tuple[date, date]:
    """`2026-11` -> the first day of that month and of the next (the team's calendar)."""
    year, number = (int(part) for part in month.split("-", 1))
    first = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    return first, following


def last_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def _instant(day: date, timezone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@dataclass
class CrisisSummary:
    timeline: Timeline
    held: int  # posts it held (one per post and hold, as the timeline lists them)

    def as_json(self) -> dict[str, Any]:
        crisis = self.timeline.crisis
        return {
            "id": crisis.id,
            "reason": crisis.reason,
            "declared_at": iso_utc(crisis.declared_at),
            "lifted_at": iso_utc(crisis.lifted_at),
            "held_posts": self.held,
            "timeline": [
                {
                    "at": iso_utc(e.at),
                    "moment": str(e.moment),
                    "actor": e.actor,
                    "post_id": e.post_id,
                    "note": e.note,
                }
                for e in self.timeline.events
            ],
        }


@dataclass
class MonthlyReport:
    first_day: date
    next_first_day: date
    timezone: str
    campaigns: list[CampaignEvaluation]
    cadence: list[Week]
    team: TeamView
    answers: AnswerReport
    crises: list[CrisisSummary]

    @property
    def last_day(self) -> date:
        return self.next_first_day - timedelta(days=1)

    @property
    def whole_month(self) -> bool:
        return self.first_day.day == 1 and month_bounds(self.period, self.timezone)[1] == (
            self.next_first_day
        )

    @property
    def period(self) -> str:
        return f"{self.first_day.year}-{self.first_day.month:02d}"

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.period if self.whole_month else None,
            "from": self.first_day.isoformat(),
            "to": (self.next_first_day - timedelta(days=1)).isoformat(),
            "timezone": self.timezone,
            "campaigns": [c.as_json(top=REPORT_TOP) for c in self.campaigns],
            "cadence": [w.as_json() for w in self.cadence],
            "team": self.team.as_json(),
            "answer_times": self.answers.as_json(),
            "crises": [c.as_json() for c in self.crises],
        }


def _cadence(session: Session, start: datetime, end: datetime, timezone: str) -> list[Week]:
    planned = session.scalars(
        select(Post.publish_at)
        .join(Delivery, Delivery.post_id == Post.id)
        .where(
            Post.publish_at >= start,
            Post.publish_at < end,
            Delivery.status != DeliveryStatus.DISCARDED,
        )
    )
    published = session.scalars(
        select(Delivery.published_at).where(
            Delivery.status == DeliveryStatus.PUBLISHED,
            Delivery.published_at >= start,
            Delivery.published_at < end,
        )
    )
    last_day = local(end - timedelta(microseconds=1), timezone).date()
    return weekly_cadence(
        planned, published, local(start, timezone).date(), last_day, timezone, widen=False
    )


def monthly_report(
    session: Session, reader: User, first: date, following: date, timezone: str
) -> MonthlyReport:
    """The report over the days `first` up to (not including) `following`: usually a month."""
    require_may_read_crisis_timeline(reader)
    start, end = _instant(first, timezone), _instant(following, timezone)
    running = session.scalars(
        select(Campaign)
        .where(Campaign.starts_on < following, Campaign.ends_on >= first)
        .order_by(Campaign.starts_on, Campaign.name)
    ).all()
    crises = session.scalars(
        select(Crisis)
        .where(
            Crisis.declared_at < end,
            or_(Crisis.lifted_at.is_(None), Crisis.lifted_at >= start),
        )
        .order_by(Crisis.declared_at)
    ).all()
    summaries = []
    for crisis in crises:
        timeline = crisis_timeline(session, reader, crisis.id)
        held = sum(1 for e in timeline.events if e.moment == Moment.HELD)
        summaries.append(CrisisSummary(timeline, held))
    return MonthlyReport(
        first,
        following,
        timezone,
        [evaluate_campaign(session, c, timezone, top=REPORT_TOP) for c in running],
        _cadence(session, start, end, timezone),
        team_view(session, start, end),
        answers_between(session, reader, start, min(end, now_utc())),
        summaries,
    )
