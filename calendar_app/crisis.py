"""The crisis rules in one place: declare, hold, lift, release, discard.

The queue lock is what serialises a declaration against every claim and every start of a send:
claims and starts take it shared (several schedulers at once), a declaration or a lift
exclusively (PostgreSQL: an advisory lock, plus FOR UPDATE on the queue_state row they change).
On SQLite every transaction begins IMMEDIATE, which serialises the same way. So a claim either
committed before the declaration (its deliveries are "in flight" and the declaration waits for
them) or sees the crisis and holds what is in scope.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, select, true, update
from sqlalchemy.orm import Session

from calendar_app import audit, holds, interleave, post_news
from calendar_app.blackouts import blackout_blocking_release
from calendar_app.channels import channels_by_ids
from calendar_app.db import READ_ONLY
from calendar_app.errors import Conflict, InvalidInput
from calendar_app.listening import alerts
from calendar_app.models import (
    Crisis,
    Delivery,
    DeliveryStatus,
    Post,
    PostStatus,
    QueueState,
    User,
)
from calendar_app.permissions import (
    require_may_declare_crisis,
    require_may_discard,
    require_reviewer,
)
from calendar_app.planning import derived_status, lock_post, settle_post_status, status_word
from calendar_app.timeutil import check_aware, iso_utc, now_utc
from calendar_app.words import Text, _l

QUEUE_STATE_ID = 1
# A delivery in one of these states waits for a person's decision: release or discard.
REVIEWABLE = (
    DeliveryStatus.HELD,
    DeliveryStatus.MISSED,
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.FAILED,
)


def current_crisis(
    session: Session, *, lock: Literal["share", "update"] | None = None
) -> Crisis | None:
    """The crisis in force, read after taking the queue lock the caller needs."""
    if lock is not None:
        holds.lock_queue(session, exclusive=lock == "update")
    stmt = select(QueueState.active_crisis_id).where(QueueState.id == QUEUE_STATE_ID)
    if lock == "update":
        stmt = stmt.with_for_update()
    crisis_id = session.execute(stmt).scalar_one()
    return session.get(Crisis, crisis_id) if crisis_id is not None else None


def _set_active(session: Session, crisis_id: int | None) -> None:
    session.execute(
        update(QueueState).where(QueueState.id == QUEUE_STATE_ID).values(active_crisis_id=crisis_id)
    )


def in_scope(crisis: Crisis) -> ColumnElement[bool]:
    """Deliveries on the crisis' channels."""
    if crisis.all_channels:
        return true()
    return Delivery.channel_id.in_([c.id for c in crisis.channels])


def must_hold(crisis: Crisis | None) -> ColumnElement[bool] | None:
    """Deliveries that may not go out while `crisis` is in force (None: no crisis, none).

    Its channels, and on every channel what carries a held topic or keyword (holds.py);
    approved responses to this crisis are exempt.
    """
    if crisis is None:
        return None
    covered = in_scope(crisis) | holds.crisis_topic_or_keyword_hold(crisis)
    return covered & holds.not_answering(crisis.id)


def hold_due_deliveries(
    session: Session,
    crisis: Crisis,
    now: datetime,
    *,
    delivery_ids: Sequence[int] | None = None,
    skip_locked: bool = True,
) -> list[int]:
    """Hold every delivery in scope that is due and not on the wire (scheduled, or claimed by a
    scheduler but not started); return the ids of the posts concerned.

    Each held post is in the audit log (`hold`, by the system, naming the crisis), so the crisis
    timeline keeps it even after a later crisis holds the post again. A claim already committed
    loses its delivery here: the start of its send is conditional on `claimed`.
    `skip_locked=False` waits for rows a person is changing (the lift must see them all).
    """
    conditions = [Delivery.due_at <= now, must_hold(crisis)]
    if delivery_ids is not None:
        conditions.append(Delivery.id.in_(delivery_ids))
    rows = holds.hold(session, conditions, now, crisis_id=crisis.id, skip_locked=skip_locked)
    return record_set_aside(session, rows, "hold", crisis=crisis.id)


def record_set_aside(
    session: Session, rows: Sequence[Row[tuple[int, int]]], action: str, **detail: Any
) -> list[int]:
    """After deliveries were taken out of the queue (held, missed): settle their posts' status
    and write one audit entry per post, by the system. `rows` are (delivery id, post id);
    returns the ids of the posts concerned."""
    by_post: dict[int, list[int]] = defaultdict(list)
    for delivery_id, post_id in rows:
        by_post[post_id].append(delivery_id)
    post_ids = sorted(by_post)
    if not post_ids:
        return []
    settle_post_status(session, post_ids)
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(post_ids)))}
    for post_id in post_ids:
        audit.record(
            session, None, action, posts[post_id], **detail, deliveries=sorted(by_post[post_id])
        )
    return post_ids


@dataclass
class Declaration:
    crisis: Crisis
    in_flight_ids: list[int]


def declare_crisis(
    session: Session,
    actor: User,
    *,
    reason: str,
    channel_ids: Sequence[int] | None = None,
    topics: Sequence[str] = (),
    keywords: Sequence[str] = (),
    alert_id: int | None = None,
) -> Declaration:
    """Put a crisis in force. The caller commits, then calls `wait_for_in_flight`.

    `alert_id`: declared from an early-warning alert, which it decides; what the alert held is
    held by the crisis from now on."""
    require_may_declare_crisis(actor)
    if not reason.strip():
        raise InvalidInput(_l("a crisis needs a reason"), {"reason": _l("must not be empty")})
    channels = channels_by_ids(session, channel_ids) if channel_ids is not None else []
    hold_topics = holds.normalise_tags(topics, "topics")
    hold_keywords = holds.normalise_keywords(keywords)
    active = current_crisis(session, lock="update")
    if active is not None:
        raise Conflict(
            _l(
                "a crisis is already in force since %(since)s (declared by %(who)s: "
                "%(reason)s); lift it first",
                since=active.declared_at.isoformat(),
                who=active.declared_by.email,
                reason=active.reason,
            )
        )
    now = now_utc()
    crisis = Crisis(
        reason=reason.strip(),
        declared_at=now,
        declared_by=actor,
        all_channels=channel_ids is None,
        channels=channels,
        hold_topics=hold_topics,
        hold_keywords=hold_keywords,
    )
    session.add(crisis)
    session.flush()
    _set_active(session, crisis.id)
    # Claims that committed before this point are in flight; no later claim can start in scope.
    in_flight = list(
        session.scalars(
            select(Delivery.id).where(
                Delivery.status == DeliveryStatus.PUBLISHING,
                in_scope(crisis) | holds.crisis_topic_or_keyword_hold(crisis),
            )
        )
    )
    held_posts = hold_due_deliveries(session, crisis, now)
    if alert_id is not None:
        alerts.turn_into_crisis(
            session, actor, alerts.alert_for_declaration(session, alert_id), crisis.id
        )
    audit.record(
        session,
        actor,
        "declare_crisis",
        crisis,
        reason=crisis.reason,
        channels="all" if crisis.all_channels else [c.id for c in channels],
        topics=hold_topics,
        keywords=hold_keywords,
        in_flight=in_flight,
        held_posts=held_posts,
        alert=alert_id,
    )
    return Declaration(crisis, in_flight)


def wait_for_in_flight(
    session: Session,
    delivery_ids: Sequence[int],
    *,
    timeout: float,
    grace: float = 1.0,
    poll: float = 0.02,
) -> list[Delivery]:
    """Wait (outside the declaring transaction) for the requests that were already on the wire.

    Only those: nothing else in scope can start any more, so there is no queue to wait for.
    Each request ends by its own deadline (`send_deadline`); the wait ends when every one has
    been recorded, or has passed its deadline (plus `grace` to record it), or at `timeout`.
    The polls only read (on SQLite without the write lock, so the senders can record what they
    sent). Returns the deliveries as they ended; one still `publishing` is reported as still
    open.
    """
    if not delivery_ids:
        return []
    give_up = time.monotonic() + timeout
    look = select(Delivery.status, Delivery.send_deadline).where(Delivery.id.in_(delivery_ids))
    with session.get_bind().connect().execution_options(**{READ_ONLY: True}) as reader:
        while time.monotonic() < give_up:
            still_open = [
                deadline
                for status, deadline in reader.execute(look)
                if status == DeliveryStatus.PUBLISHING
            ]
            interleave.reached("declare.polled")
            reader.rollback()
            now = now_utc()
            if all(d is not None and d + timedelta(seconds=grace) <= now for d in still_open):
                break
            time.sleep(poll)
    session.rollback()  # and so every delivery read before is read again
    return list(
        session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids)).order_by(Delivery.id))
    )


@dataclass
class LiftResult:
    crisis: Crisis
    lifted: bool  # False: requested, waiting for a second person's confirmation


def lift_crisis(
    session: Session, actor: User, *, note: str, confirmations_required: int
) -> LiftResult:
    """Lift the crisis, or request the lift where a second person must confirm.

    Held posts stay held: lifting never publishes anything by itself.
    """
    require_reviewer(actor, _l("lift a crisis"))
    if not note.strip():
        raise InvalidInput(_l("lifting a crisis needs a note"), {"note": _l("must not be empty")})
    crisis = current_crisis(session, lock="update")
    interleave.reached("lift.locked")
    if crisis is None:
        raise Conflict(_l("no crisis is in force"))
    if confirmations_required <= 1:
        _lift(session, crisis, actor, note.strip())
        return LiftResult(crisis, lifted=True)
    if crisis.lift_requested_by is not None:
        raise Conflict(
            _l(
                "%(who)s already asked to lift this crisis; another head or an admin must "
                "confirm it",
                who=crisis.lift_requested_by.email,
            )
        )
    crisis.lift_requested_by = actor
    crisis.lift_requested_at = now_utc()
    crisis.lift_note = note.strip()
    session.flush()
    audit.record(session, actor, "request_lift", crisis, reason=crisis.lift_note)
    post_news.tell_lift_waiting(session, crisis, actor)
    return LiftResult(crisis, lifted=False)


def confirm_lift(session: Session, actor: User) -> Crisis:
    require_reviewer(actor, _l("confirm lifting a crisis"))
    crisis = current_crisis(session, lock="update")
    interleave.reached("lift.locked")
    if crisis is None:
        raise Conflict(_l("no crisis is in force"))
    if crisis.lift_requested_by_id is None:
        raise Conflict(_l("nobody has asked to lift this crisis yet"))
    if crisis.lift_requested_by_id == actor.id:
        raise Conflict(_l("the lift must be confirmed by someone other than who requested it"))
    _lift(session, crisis, actor, crisis.lift_note or "")
    return crisis


def _lift(session: Session, crisis: Crisis, actor: User, note: str) -> None:
    """End the crisis. First, in the same transaction, hold everything in scope that fell due
    while it was in force and no scheduler has looked at yet (an outage, a long pass): after
    the lift a claim would no longer know that it fell due during the crisis."""
    now = now_utc()
    held_at_lift = hold_due_deliveries(session, crisis, now, skip_locked=False)
    crisis.lift_note = note
    crisis.lifted_at = now
    crisis.lifted_by = actor
    _set_active(session, None)
    session.flush()
    still_held = session.scalar(
        select(Delivery.id).where(Delivery.status == DeliveryStatus.HELD).limit(1)
    )
    audit.record(
        session,
        actor,
        "lift_crisis",
        crisis,
        reason=note,
        requested_by=crisis.lift_requested_by.email if crisis.lift_requested_by else None,
        deliveries_still_held=still_held is not None,
        held_at_lift=held_at_lift,
    )


def release_post(
    session: Session, actor: User, post: Post, *, publish_at: datetime | None = None
) -> Post:
    """A head's decision after review: send the held (missed, failed, unknown) deliveries again.

    Runs on the post's locked deliveries: a second head who released or discarded it meanwhile
    is named in the 409, and nothing is released twice.
    """
    require_reviewer(actor, _l("release held posts"))
    deliveries = lock_post(session, post)
    waiting = [d for d in deliveries if d.status in REVIEWABLE]
    if not waiting:
        raise Conflict(_nothing_to_release(session, post, deliveries))
    now = now_utc()
    when = check_aware(publish_at) if publish_at is not None else now
    crisis = current_crisis(session)
    if crisis is not None and when <= now and not holds.answers_crisis(post, crisis.id):
        blocked = _covered_by(session, crisis, waiting)
        if blocked:
            raise Conflict(
                _l(
                    "a crisis is still in force on %(channels)s: releasing now would only hold "
                    "the post again. Lift the crisis first, or release it at a later time.",
                    channels=", ".join(d.channel.name for d in blocked),
                ),
                {"publish_at": _l("must be later while the crisis is in force")},
            )
    _refuse_release_into_blackout(session, post, waiting, when)
    _refuse_release_into_storm(session, post, waiting, when, now)
    previous = {d.id: d.status for d in waiting}
    for delivery in waiting:
        delivery.status = DeliveryStatus.SCHEDULED
        delivery.due_at = when
        delivery.attempts = 0
        delivery.error = None
        delivery.claim_token = None
        delivery.lease_until = None
        delivery.started_at = None
        delivery.send_deadline = None
        delivery.withdrawn_at = None
    if publish_at is not None:
        post.publish_at = when
    session.flush()
    settle_post_status(session, [post.id])
    audit.record(
        session,
        actor,
        "release",
        post,
        publish_at=when.isoformat(),
        deliveries={str(k): v for k, v in previous.items()},
    )
    post_news.tell_author(session, post, actor, "released", when=when)
    return post


def _nothing_to_release(session: Session, post: Post, deliveries: Sequence[Delivery]) -> Text:
    """Why a release found nothing waiting: usually another head decided first."""
    decided = audit.last_entry(session, post, ("release", "discard"))
    if post.status == PostStatus.DISCARDED:
        return _l(
            "post %(post)s was discarded by %(who_and_when)s: nothing to release",
            post=post.id,
            who_and_when=audit.who_and_when(decided),
        )
    if (
        decided is not None
        and decided.action == "release"
        and any(
            d.status
            in (DeliveryStatus.SCHEDULED, DeliveryStatus.CLAIMED, DeliveryStatus.PUBLISHING)
            for d in deliveries
        )
    ):
        return _l(
            "post %(post)s was already released by %(who_and_when)s; it is %(status)s now",
            post=post.id,
            who_and_when=audit.who_and_when(decided),
            status=status_word(post.status),
        )
    return _l(
        "post %(post)s has nothing to release: only held, missed, failed or unknown "
        "deliveries can be released (post status: %(status)s)",
        post=post.id,
        status=status_word(post.status),
    )


def _refuse_release_into_blackout(
    session: Session, post: Post, deliveries: Sequence[Delivery], when: datetime
) -> None:
    if holds.answers_crisis(post, holds.active_crisis_id(session)):
        return
    blackout = blackout_blocking_release(session, deliveries, when)
    if blackout is not None:
        raise Conflict(
            _l(
                "the blackout “%(name)s” lasts until %(until)s: releasing into it would only "
                "hold the post again. Release it for a time after it.",
                name=blackout.name,
                until=iso_utc(blackout.ends_at),
            ),
            {"publish_at": _l("must be outside the blackout")},
        )


def _refuse_release_into_storm(
    session: Session, post: Post, deliveries: Sequence[Delivery], when: datetime, now: datetime
) -> None:
    """An early-warning alert nobody has decided yet would only hold the post again."""
    if holds.answers_crisis(post, holds.active_crisis_id(session)):
        return
    for alert in alerts.alerts_holding(session, now):
        assert alert.hold_until is not None
        if when < alert.hold_until and any(
            alert.channel_id is None or d.channel_id == alert.channel_id for d in deliveries
        ):
            raise Conflict(
                _l(
                    "an early warning holds %(channels)s until %(until)s: dismiss it or declare "
                    "a crisis first, or release the post for a later time.",
                    channels=alert.channel.name if alert.channel else _l("all channels"),
                    until=iso_utc(alert.hold_until),
                ),
                {"publish_at": _l("must be after the early warning's hold")},
            )


def discard_post(session: Session, actor: User, post: Post, *, reason: str | None = None) -> Post:
    """Withdraw a post: nothing of it leaves the app any more. Twice is harmless.

    Runs on the post's locked deliveries. What waits (scheduled, claimed by a scheduler but
    not started, held, ...) is discarded at once. A request already on the wire cannot be
    called back: it is marked withdrawn, and if it does not succeed it ends `discarded`, never
    retried; if it does, that channel shows `published`.
    """
    deliveries = lock_post(session, post)
    require_may_discard(actor, post)
    if post.status == PostStatus.DISCARDED:
        return post
    now = now_utc()
    discarded, sending = [], []
    for delivery in deliveries:
        if delivery.status == DeliveryStatus.PUBLISHING:
            delivery.withdrawn_at = now
            sending.append(delivery.id)
        elif delivery.status not in (DeliveryStatus.PUBLISHED, DeliveryStatus.DISCARDED):
            delivery.status = DeliveryStatus.DISCARDED
            delivery.due_at = None
            delivery.claim_token = None
            delivery.lease_until = None
            discarded.append(delivery.id)
    previous_status = post.status
    post.status = derived_status(
        DeliveryStatus.DISCARDED
        if d.status == DeliveryStatus.PUBLISHING and d.withdrawn_at is not None
        else d.status
        for d in deliveries
    )
    session.flush()
    audit.record(
        session,
        actor,
        "discard",
        post,
        reason=reason,
        previous_status=previous_status,
        deliveries=discarded,
        still_sending=sending,
    )
    post_news.tell_author(session, post, actor, "discarded", reason=reason)
    return post


def _covered_by(session: Session, crisis: Crisis, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """Those of `deliveries` the crisis would hold: its channels, held topics and keywords."""
    hold = must_hold(crisis)
    assert hold is not None
    covered = set(
        session.scalars(
            select(Delivery.id).where(Delivery.id.in_([d.id for d in deliveries]), hold)
        )
    )
    return [d for d in deliveries if d.id in covered]


# --- what a declaration would stop ---------------------------------------------------------------

PREVIEW_HOURS = 72


@dataclass
class ImpactPreview:
    """The approved deliveries a declaration with this scope would hold in the next hours."""

    deliveries: list[Delivery]
    hours: int

    @property
    def posts(self) -> int:
        return len({d.post_id for d in self.deliveries})

    @property
    def channels(self) -> int:
        return len({d.channel_id for d in self.deliveries})

    @property
    def summary(self) -> str:
        return (
            f"{self.posts} posts on {self.channels} channels in the next {self.hours} hours "
            "will be held"
        )


def impact_preview(
    session: Session,
    *,
    channel_ids: Sequence[int] | None,
    topics: Sequence[str] = (),
    keywords: Sequence[str] = (),
    hours: int = PREVIEW_HOURS,
    now: datetime | None = None,
) -> ImpactPreview:
    """What a declaration with this scope would hold: approved deliveries due before
    `now + hours` (and those overdue but not yet sent), crisis responses excepted.

    It asks `must_hold` of a crisis that is never saved, so the preview and the real hold are
    one rule.
    """
    now = check_aware(now) if now is not None else now_utc()
    if not 1 <= hours <= 24 * 31:
        raise InvalidInput(_l("preview between 1 hour and 31 days"), {"hours": _l("1 to 744")})
    scope = Crisis(
        all_channels=channel_ids is None,
        channels=channels_by_ids(session, channel_ids) if channel_ids is not None else [],
        hold_topics=holds.normalise_tags(topics, "topics"),
        hold_keywords=holds.normalise_keywords(keywords),
    )
    deliveries = session.scalars(
        select(Delivery)
        .join(Post, Delivery.post_id == Post.id)
        .where(
            Delivery.status == DeliveryStatus.SCHEDULED,
            Delivery.due_at.is_not(None),
            Delivery.due_at <= now + timedelta(hours=hours),
            must_hold(scope),
        )
        .order_by(Delivery.due_at, Delivery.id)
    ).all()
    return ImpactPreview(list(deliveries), hours)


def held_deliveries(session: Session) -> Sequence[Delivery]:
    return session.scalars(
        select(Delivery)
        .where(Delivery.status.in_(REVIEWABLE))
        .order_by(Delivery.due_at, Delivery.id)
    ).all()
