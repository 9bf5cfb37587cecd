"""Blackout dates: planned quiet periods during which nothing planned goes out on their channels.

A blackout is planned ahead by a head or an admin (a day of mourning, the anniversary of an
incident), announced to everyone when it is created and reminded once shortly before it begins.
While it lasts, the claim of due deliveries holds what falls due on its channels (in the same
transaction, like a crisis), and a head reviews and releases or discards what it held.
Approved crisis responses still go out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.orm import Session, selectinload

from calendar_app import audit, holds, interleave, notifications
from calendar_app.channels import channels_by_ids
from calendar_app.db import Database
from calendar_app.errors import InvalidInput, NotFound, listed
from calendar_app.models import (
    MAX_ID,
    Blackout,
    Delivery,
    Post,
    QueueState,
    User,
)
from calendar_app.permissions import require_may_plan_blackouts
from calendar_app.planning import settle_post_status
from calendar_app.timeutil import check_aware, now_utc
from calendar_app.words import Text, _l, joined
from config import Config

MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 2000
BLACKOUT_LINK = "/blackouts"


@dataclass(frozen=True)
class Announcing:
    """How blackouts are announced: the team's clock, and how long ahead the reminder goes."""

    zone: str
    remind_before: timedelta

    @classmethod
    def from_config(cls, config: Config) -> Announcing:
        return cls(config.TIMEZONE, timedelta(hours=config.BLACKOUT_REMINDER_HOURS))


# --- planning them -------------------------------------------------------------------------------


def get_blackout(session: Session, blackout_id: int) -> Blackout:
    blackout = session.get(Blackout, blackout_id) if 0 < blackout_id <= MAX_ID else None
    if blackout is None:
        raise NotFound(_l("blackout %(blackout_id)s does not exist", blackout_id=blackout_id))
    return blackout


def list_blackouts(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> Sequence[Blackout]:
    """Blackouts that overlap [start, end), by start time."""
    stmt = select(Blackout).options(selectinload(Blackout.channels))
    if start is not None:
        stmt = stmt.where(Blackout.ends_at > start)
    if end is not None:
        stmt = stmt.where(Blackout.starts_at < end)
    return session.scalars(stmt.order_by(Blackout.starts_at, Blackout.id)).all()


def _check(name: str, starts_at: datetime, ends_at: datetime) -> None:
    problems = {}
    if not name.strip():
        problems["name"] = _l("must not be empty")
    elif len(name.strip()) > MAX_NAME_LENGTH:
        problems["name"] = _l("is longer than %(max)s characters", max=MAX_NAME_LENGTH)
    if ends_at <= starts_at:
        problems["ends_at"] = _l("must be after starts_at")
    if problems:
        raise InvalidInput(
            _l("the blackout date is not complete: %(problems)s", problems=listed(problems)),
            problems,
        )


def _serialise_with_claims(session: Session) -> None:
    """Take the queue lock a claim of due deliveries conflicts with, so a blackout that starts
    at once is seen by every claim that begins after this transaction commits."""
    holds.lock_queue(session, exclusive=True)
    session.execute(select(QueueState.id).where(QueueState.id == 1).with_for_update())


def create_blackout(
    session: Session,
    actor: User,
    *,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    channel_ids: Sequence[int] | None = None,
    announcing: Announcing,
) -> Blackout:
    """Plan a quiet period and announce it to everyone; `channel_ids` None means all channels."""
    require_may_plan_blackouts(actor)
    starts_at, ends_at = check_aware(starts_at), check_aware(ends_at)
    _check(name, starts_at, ends_at)
    channels = list(channels_by_ids(session, channel_ids)) if channel_ids is not None else []
    _serialise_with_claims(session)
    now = now_utc()
    blackout = Blackout(
        name=name.strip(),
        reason=reason.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        all_channels=channel_ids is None,
        channels=channels,
        created_by=actor,
        # Starting within the reminder window: the announcement is the reminder.
        reminded_at=now if starts_at - announcing.remind_before <= now else None,
    )
    session.add(blackout)
    session.flush()
    audit.record(
        session, actor, "create_blackout", blackout, reason=blackout.reason, **_facts(blackout)
    )
    _tell_everyone(
        session, blackout, _l("Blackout planned: %(name)s", name=blackout.name), announcing.zone
    )
    return blackout


def edit_blackout(
    session: Session, actor: User, blackout: Blackout, changes: Mapping[str, Any]
) -> Blackout:
    """Change a blackout; a new start time re-arms the reminder."""
    require_may_plan_blackouts(actor)
    name = changes.get("name", blackout.name)
    starts_at = check_aware(changes.get("starts_at", blackout.starts_at))
    ends_at = check_aware(changes.get("ends_at", blackout.ends_at))
    _check(name, starts_at, ends_at)
    if "channel_ids" in changes:
        ids = changes["channel_ids"]
        blackout.channels = list(channels_by_ids(session, ids)) if ids is not None else []
        blackout.all_channels = ids is None
    _serialise_with_claims(session)
    if starts_at != blackout.starts_at:
        blackout.reminded_at = None
    blackout.name = name.strip()
    blackout.reason = str(changes.get("reason", blackout.reason)).strip()
    blackout.starts_at, blackout.ends_at = starts_at, ends_at
    session.flush()
    audit.record(
        session, actor, "edit_blackout", blackout, reason=blackout.reason, **_facts(blackout)
    )
    return blackout


def delete_blackout(session: Session, actor: User, blackout: Blackout) -> None:
    """Cancel a blackout. What it already held stays held for a head's review."""
    require_may_plan_blackouts(actor)
    _serialise_with_claims(session)
    audit.record(
        session, actor, "delete_blackout", blackout, reason=blackout.reason, **_facts(blackout)
    )
    session.delete(blackout)
    session.flush()


def _facts(blackout: Blackout) -> dict[str, Any]:
    return {
        "name": blackout.name,
        "starts_at": blackout.starts_at.isoformat(),
        "ends_at": blackout.ends_at.isoformat(),
        "channels": "all" if blackout.all_channels else [c.id for c in blackout.channels],
    }


# --- telling people ------------------------------------------------------------------------------


def _describe(blackout: Blackout, zone: str) -> Text:
    tz = ZoneInfo(zone)
    channels = (
        _l("all channels")
        if blackout.all_channels
        else ", ".join(c.name for c in blackout.channels)
    )
    start = blackout.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    end = blackout.ends_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    text = _l(
        "From %(start)s to %(end)s (%(zone)s) nothing planned goes out on %(channels)s.",
        start=start,
        end=end,
        zone=zone,
        channels=channels,
    )
    return joined([text, blackout.reason], " ") if blackout.reason else text


def _tell_everyone(session: Session, blackout: Blackout, subject: Text, zone: str) -> None:
    people = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    text = _describe(blackout, zone)
    notifications.notify(
        session, people, kind="blackout", subject=subject, text=text, link=BLACKOUT_LINK
    )
    notifications.announce(session, subject=subject, text=text, link=BLACKOUT_LINK)


def remind_upcoming(session: Session, now: datetime, announcing: Announcing) -> list[int]:
    """Remind everyone of blackouts that begin within `remind_before`, once each.

    The conditional UPDATE makes "once" hold with several schedulers: only the one that turns
    `reminded_at` from NULL sends the reminder.
    """
    upcoming = session.scalars(
        select(Blackout.id).where(
            Blackout.reminded_at.is_(None),
            Blackout.starts_at <= now + announcing.remind_before,
            Blackout.ends_at > now,
        )
    ).all()
    interleave.reached("remind.read")
    reminded = []
    for blackout_id in upcoming:
        taken = session.execute(
            update(Blackout)
            .where(Blackout.id == blackout_id, Blackout.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            continue
        blackout = session.get_one(Blackout, blackout_id)
        session.refresh(blackout)
        _tell_everyone(
            session,
            blackout,
            _l("Reminder: blackout %(name)s begins soon", name=blackout.name),
            announcing.zone,
        )
        reminded.append(blackout_id)
    return reminded


def send_reminders(db: Database, config: Config, now: datetime | None = None) -> list[int]:
    """The scheduler's job: one transaction that reminds of what begins soon."""
    with db.transaction() as session:
        return remind_upcoming(session, now or now_utc(), Announcing.from_config(config))


# --- holding what falls due in one ---------------------------------------------------------------


def _on_channels(blackout: Blackout) -> ColumnElement[bool]:
    if blackout.all_channels:
        return true()
    ids = [c.id for c in blackout.channels]
    return Delivery.channel_id.in_(ids) if ids else false()


def blackouts_in_force(session: Session, now: datetime) -> Sequence[Blackout]:
    return session.scalars(
        select(Blackout)
        .where(Blackout.starts_at <= now, Blackout.ends_at > now)
        .options(selectinload(Blackout.channels))
        .order_by(Blackout.starts_at, Blackout.id)
    ).all()


# A blackout that ended while no scheduler ran still holds what fell due in it, this long after.
LOOKBACK = timedelta(days=7)


def blackouts_to_hold(session: Session, now: datetime) -> Sequence[Blackout]:
    """Blackouts in force, and those that ended lately: what fell due in one is held even when
    no scheduler looked while it lasted (an outage, a long pass)."""
    return session.scalars(
        select(Blackout)
        .where(Blackout.starts_at <= now, Blackout.ends_at > now - LOOKBACK)
        .options(selectinload(Blackout.channels))
        .order_by(Blackout.starts_at, Blackout.id)
    ).all()


def _held_by(blackout: Blackout, now: datetime) -> ColumnElement[bool]:
    """Due deliveries a blackout holds: while it lasts, everything due on its channels; after
    it ended, what fell due while it lasted."""
    covered = _on_channels(blackout)
    if blackout.ends_at > now:
        return covered
    return covered & (Delivery.due_at >= blackout.starts_at) & (Delivery.due_at < blackout.ends_at)


def must_hold_for_blackouts(
    blackouts: Sequence[Blackout], now: datetime, crisis_id: int | None
) -> ColumnElement[bool] | None:
    """Deliveries that may not go out because of these blackouts (None: no blackout, none).
    Crisis responses to the crisis in force (`crisis_id`) still go out."""
    if not blackouts:
        return None
    return or_(*(_held_by(b, now) for b in blackouts)) & holds.not_answering(crisis_id)


def hold_for_blackouts(
    session: Session,
    blackouts: Sequence[Blackout],
    now: datetime,
    crisis_id: int | None,
    *,
    delivery_ids: Sequence[int] | None = None,
) -> list[int]:
    """Hold every due delivery a blackout covers; return the ids of the posts concerned.

    Called by the claim and by the start of a send, in their transactions, after the crisis has
    held what it covers. Claimed deliveries (not on the wire yet) are held too.
    """
    post_ids: set[int] = set()
    for blackout in blackouts:
        conditions = [
            Delivery.due_at <= now,
            _held_by(blackout, now),
            holds.not_answering(crisis_id),
        ]
        if delivery_ids is not None:
            conditions.append(Delivery.id.in_(delivery_ids))
        rows = holds.hold(session, conditions, now, blackout_id=blackout.id)
        post_ids |= {row.post_id for row in rows}
    settle_post_status(session, post_ids)
    return sorted(post_ids)


def blackout_blocking_release(
    session: Session, deliveries: Sequence[Delivery], when: datetime
) -> Blackout | None:
    """A blackout in force at `when` on one of these deliveries' channels, if any."""
    for blackout in blackouts_in_force(session, when):
        scope = {c.id for c in blackout.channels}
        if blackout.all_channels or any(d.channel_id in scope for d in deliveries):
            return blackout
    return None


# --- warning the planner -------------------------------------------------------------------------


@dataclass(frozen=True)
class Overlap:
    """A post planned into a blackout: which one, and on which of the post's channels."""

    blackout: Blackout
    channel_names: list[str]

    def message(self) -> str:
        return (
            f"publish_at falls in the blackout “{self.blackout.name}” on "
            f"{', '.join(self.channel_names)}: the post will be held there until a head "
            "releases it"
        )


def blackouts_hit_by(session: Session, post: Post) -> list[Overlap]:
    """The blackouts a post's time falls in on one of its channels (it would be held)."""
    if holds.answers_crisis(post, holds.active_crisis_id(session)):
        return []
    by_id = {d.channel_id: d.channel.name for d in post.deliveries}
    overlaps = []
    for blackout in session.scalars(
        select(Blackout)
        .where(Blackout.starts_at <= post.publish_at, Blackout.ends_at > post.publish_at)
        .options(selectinload(Blackout.channels))
        .order_by(Blackout.starts_at, Blackout.id)
    ):
        ids = set(by_id) if blackout.all_channels else {c.id for c in blackout.channels}
        hit = sorted(by_id[i] for i in ids & set(by_id))
        if hit:
            overlaps.append(Overlap(blackout, hit))
    return overlaps


def warnings_for(session: Session, post: Post) -> list[str]:
    return [overlap.message() for overlap in blackouts_hit_by(session, post)]
