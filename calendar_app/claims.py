"""Claiming due deliveries: the one place that decides who sends what.

A claim is one transaction that reads the crisis in force (with the lock a declaration conflicts
with), holds what the crisis covers, and takes the rest with a conditional UPDATE. On PostgreSQL
the rows are picked `FOR UPDATE SKIP LOCKED` inside a CTE, so several schedulers never take the
same row and the LIMIT is honoured. A delivery found long after its time (an outage, a long
crisis) is never sent late blindly: the same claim sets it aside as `missed` for a head's review.
A claim is a lease with a fencing token: only the holder of
the current token can record an outcome, and a lease that runs out turns the delivery `unknown`
(a human decides; it is never re-sent blindly).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from calendar_app.blackouts import blackouts_in_force, hold_for_blackouts, must_hold_for_blackouts
from calendar_app.crisis import current_crisis, hold_due_deliveries, must_hold, record_set_aside
from calendar_app.models import Delivery, DeliveryStatus
from calendar_app.planning import settle_post_status

log = logging.getLogger(__name__)

LEASE_EXPIRED = (
    "the sender stopped while publishing (its lease expired): it may or may not have gone out. "
    "Check the channel, then release or discard."
)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    post_id: int
    channel_id: int
    token: str
    attempts: int


@dataclass
class ClaimResult:
    claims: list[Claim] = field(default_factory=list)
    held_post_ids: list[int] = field(default_factory=list)
    missed_post_ids: list[int] = field(default_factory=list)


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    worker: str,
    lease_seconds: float,
    missed_after: timedelta | None = None,
) -> ClaimResult:
    """Hold what a crisis or a blackout date covers, set aside what is too late, and claim the
    rest that is due.

    `missed_after`: a delivery due longer ago than this is `missed`, not sent (None: never).
    """
    crisis = current_crisis(session, lock="share")
    held = hold_due_deliveries(session, crisis, now) if crisis is not None else []
    blackouts = blackouts_in_force(session, now)
    if blackouts:
        held = sorted({*held, *hold_for_blackouts(session, blackouts, now)})
    missed = set_aside_missed(session, now, missed_after) if missed_after is not None else []

    conditions = [Delivery.status == DeliveryStatus.SCHEDULED, Delivery.due_at <= now]
    if missed_after is not None:
        conditions.append(Delivery.due_at >= now - missed_after)  # belt and braces
    if (hold := must_hold(crisis)) is not None:
        conditions.append(~hold)  # belt and braces: never claim what the crisis covers
    if (quiet := must_hold_for_blackouts(blackouts)) is not None:
        conditions.append(~quiet)
    due = (
        select(Delivery.id)
        .where(*conditions)
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    token = uuid.uuid4().hex
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(due.c.id)), Delivery.status == DeliveryStatus.SCHEDULED)
        .values(
            status=DeliveryStatus.PUBLISHING,
            claim_token=token,
            claimed_by=worker,
            claimed_at=now,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.post_id, Delivery.channel_id, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    claims = [Claim(r.id, r.post_id, r.channel_id, token, r.attempts) for r in rows]
    return ClaimResult(sorted(claims, key=lambda c: c.delivery_id), held, missed)


def set_aside_missed(session: Session, now: datetime, missed_after: timedelta) -> list[int]:
    """Deliveries due longer ago than `missed_after` become `missed` (never sent late blindly);
    their original time stays in `due_at`. Returns the ids of the posts concerned."""
    minutes = int(missed_after.total_seconds() // 60)
    late = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.SCHEDULED,
            Delivery.due_at < now - missed_after,
        )
        .with_for_update(skip_locked=True)
        .cte("late")
    )
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(late.c.id)), Delivery.status == DeliveryStatus.SCHEDULED)
        .values(
            status=DeliveryStatus.MISSED,
            held_at=now,
            held_by_crisis_id=None,
            error=(
                f"not sent: its time had passed by more than {minutes} minutes when the "
                "scheduler found it. Release it (now or at a new time) or discard it."
            ),
        )
        .returning(Delivery.id, Delivery.post_id)
        .execution_options(synchronize_session=False)
    ).all()
    post_ids = record_set_aside(session, rows, "missed")
    if not post_ids:
        return []
    log.warning("deliveries too late to send, now missed: ids=%s", [r.id for r in rows])
    return post_ids


def expire_leases(session: Session, now: datetime) -> list[int]:
    """Mark deliveries whose sender vanished mid-send as `unknown`; return their ids."""
    expired = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PUBLISHING, Delivery.lease_until < now)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(expired.c.id)))
        .values(status=DeliveryStatus.UNKNOWN, error=LEASE_EXPIRED, claim_token=None)
        .returning(Delivery.id, Delivery.post_id)
        .execution_options(synchronize_session=False)
    ).all()
    if rows:
        log.warning("lease expired, deliveries now unknown: ids=%s", [r.id for r in rows])
    settle_post_status(session, {r.post_id for r in rows})
    return [r.id for r in rows]


def _fenced(claim: Claim, **values: object) -> object:
    return (
        update(Delivery)
        .where(
            Delivery.id == claim.delivery_id,
            Delivery.claim_token == claim.token,
            Delivery.status == DeliveryStatus.PUBLISHING,
        )
        .values(claim_token=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )


def record_published_together(session: Session, claims: list[Claim], now: datetime) -> set[int]:
    """Record several sends as published with one fenced UPDATE per claim token (a pass's
    claims share one) and one status update of their posts; returns the delivery ids recorded.
    A delivery whose claim was lost meanwhile is left as the other party recorded it."""
    by_token: dict[str, list[int]] = defaultdict(list)
    for claim in claims:
        by_token[claim.token].append(claim.delivery_id)
    recorded: set[int] = set()
    for token, delivery_ids in by_token.items():
        recorded.update(
            session.scalars(
                update(Delivery)
                .where(
                    Delivery.id.in_(delivery_ids),
                    Delivery.claim_token == token,
                    Delivery.status == DeliveryStatus.PUBLISHING,
                )
                .values(
                    status=DeliveryStatus.PUBLISHED,
                    published_at=now,
                    error=None,
                    claim_token=None,
                    lease_until=None,
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
        )
    for claim in claims:
        if claim.delivery_id not in recorded:
            _log_lost(claim, DeliveryStatus.PUBLISHED)
    settle_post_status(session, {c.post_id for c in claims if c.delivery_id in recorded})
    return recorded


def record_retry(session: Session, claim: Claim, reason: str, retry_at: datetime) -> bool:
    """Back to the queue for another try at `retry_at` (held then if a crisis has begun)."""
    return _record(session, claim, status=DeliveryStatus.SCHEDULED, due_at=retry_at, error=reason)


def record_failed(session: Session, claim: Claim, reason: str) -> bool:
    return _record(session, claim, status=DeliveryStatus.FAILED, error=reason)


def release_claim(session: Session, claim: Claim) -> bool:
    """Give back a claimed delivery that was never started (the scheduler is shutting down)."""
    return _record(session, claim, status=DeliveryStatus.SCHEDULED, attempts=Delivery.attempts - 1)


def _record(session: Session, claim: Claim, **values: object) -> bool:
    """Write an outcome only if this claim still holds the delivery (the fencing token)."""
    result = session.execute(_fenced(claim, **values))  # type: ignore[call-overload]
    if result.rowcount != 1:
        _log_lost(claim, values.get("status"))
        return False
    settle_post_status(session, [claim.post_id])
    return True


def _log_lost(claim: Claim, status: object) -> None:
    log.warning(
        "claim lost, outcome not recorded: delivery=%s token=%s outcome=%s",
        claim.delivery_id,
        claim.token,
        status,
    )
