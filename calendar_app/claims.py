"""Claiming due deliveries and putting them on the wire: the one place that decides who sends
what, and when a request may start.

Two steps, each one transaction that reads the crisis in force with the lock a declaration
conflicts with (PostgreSQL: FOR SHARE on queue_state against the declaration's FOR UPDATE;
SQLite: BEGIN IMMEDIATE):

1. **Claim** (`claim_due`): hold what a crisis or a blackout covers, set aside what is too late
   (`missed`: never sent late blindly), and take a batch of the rest: `scheduled` -> `claimed`,
   with a fencing token and a short lease for the wait for a free sender. On PostgreSQL the
   rows are picked `FOR UPDATE SKIP LOCKED` inside a CTE, so several schedulers never take the
   same row and the LIMIT is honoured. A claimed delivery is NOT on the wire: a person may
   still discard or edit it, and a declaration holds it.
2. **Start** (`start_sending`), when a sender is free: check the crisis, the holds, the
   blackouts, the post's own state and the claim's lease once more, hold what must be held,
   and turn the rest `claimed` -> `publishing` with a lease that covers the request's total
   deadline. Only then does the request leave. A declaration that commits first is seen here;
   one that commits after lists these deliveries as in flight and waits for them. So once a
   declaration has returned, no request in its scope starts, however long the queue.

Lock order, against deadlocks: queue_state first (a declaration queues for it exclusively, and
PostgreSQL then makes later share requests wait behind it), then deliveries, then posts.

Every outcome is written only by the holder of the current token (a fenced, conditional
update). A lease that runs out before the start gives the delivery back (`scheduled`: it never
left); one that runs out on the wire makes it `unknown` (a human decides; never re-sent
blindly). Everyone else who changes a delivery (a person, a hold, the expiry) clears the token,
so a token still on a row that has left `publishing` can only be its holder's own outcome.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from calendar_app import interleave
from calendar_app.blackouts import blackouts_to_hold, hold_for_blackouts, must_hold_for_blackouts
from calendar_app.crisis import current_crisis, hold_due_deliveries, must_hold, record_set_aside
from calendar_app.db import locks_rows
from calendar_app.listening.alerts import alerts_to_hold, hold_for_alerts, must_hold_for_alerts
from calendar_app.models import Crisis, Delivery, DeliveryStatus, Post, PostStatus
from calendar_app.planning import settle_post_status
from calendar_app.words import _l

log = logging.getLogger(__name__)

LEASE_EXPIRED = _l(
    "the sender stopped while publishing (its lease expired): it may or may not have gone out. "
    "Check the channel, then release or discard."
)
# Posts whose deliveries may go out: approved, and not withdrawn.
SENDABLE_POSTS = select(Post.id).where(
    Post.status.not_in([PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.DISCARDED])
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


@dataclass(frozen=True)
class Started:
    """A claim put on the wire: its request must have ended by `send_deadline`."""

    claim: Claim
    send_deadline: datetime


@dataclass
class StartResult:
    started: list[Started] = field(default_factory=list)
    # Claims that may not start: held (crisis, blackout), or taken back meanwhile (a person
    # discarded or edited the post, the lease ran out and another scheduler gave it back).
    not_started: list[Claim] = field(default_factory=list)
    held_post_ids: list[int] = field(default_factory=list)


def lock_in_order(session: Session, step: Sequence[Claim], *, queue: bool) -> Crisis | None:
    """Take the locks a step of the pass needs, in the one order every transaction follows:
    queue_state first (when the step starts sends; returns the crisis in force), then the
    deliveries by id, posts last (settle_post_status).

    The deliveries need locking up front only when the step touches two of one post: a person
    locks one post's deliveries by id, so only two rows of one post, taken in the other order
    by the step's statements, could close a cycle (other schedulers' claims are other rows)."""
    crisis = current_crisis(session, lock="share") if queue else None
    post_ids = [c.post_id for c in step]
    if len(set(post_ids)) < len(post_ids) and locks_rows(session):
        session.execute(
            select(Delivery.id)
            .where(Delivery.id.in_(sorted(c.delivery_id for c in step)))
            .order_by(Delivery.id)
            .with_for_update()
        )
    return crisis


def _hold_what_must_wait(
    session: Session, now: datetime, crisis: Crisis | None, delivery_ids: Sequence[int] | None
) -> tuple[list[int], list]:
    """The crisis in force (read by the caller with the lock a declaration conflicts with), the
    blackouts and the undecided early-warning alerts hold what they cover among the due
    deliveries not on the wire (or among `delivery_ids`). Returns the posts held and the SQL
    conditions of what may not go out."""
    crisis_id = crisis.id if crisis is not None else None
    held = (
        hold_due_deliveries(session, crisis, now, delivery_ids=delivery_ids)
        if crisis is not None
        else []
    )
    blackouts = blackouts_to_hold(session, now)
    if blackouts:
        from_blackouts = hold_for_blackouts(
            session, blackouts, now, crisis_id, delivery_ids=delivery_ids
        )
        held = sorted({*held, *from_blackouts})
    # An early-warning alert nobody has decided yet holds its channels like a crisis would (and
    # what fell due during a hold that ended while no scheduler looked).
    alerts = alerts_to_hold(session, now)
    if alerts:
        from_alerts = hold_for_alerts(session, alerts, now, crisis_id, delivery_ids=delivery_ids)
        held = sorted({*held, *from_alerts})
    barred = []
    if (hold := must_hold(crisis)) is not None:
        barred.append(~hold)
    if (quiet := must_hold_for_blackouts(blackouts, now, crisis_id)) is not None:
        barred.append(~quiet)
    if (storm := must_hold_for_alerts(alerts, now, crisis_id)) is not None:
        barred.append(~storm)
    return held, barred


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    worker: str,
    lease_seconds: float,
    missed_after: timedelta,
) -> ClaimResult:
    """Hold what a crisis or a blackout date covers, set aside what is too late, and claim the
    rest that is due (not on the wire yet: see `start_sending`).

    `missed_after`: a delivery due longer ago than this is `missed`, not sent.
    `lease_seconds`: how long a claimed delivery may wait for a free sender.
    """
    crisis = current_crisis(session, lock="share")
    held, barred = _hold_what_must_wait(session, now, crisis, None)
    missed = set_aside_missed(session, now, missed_after)
    interleave.reached("claim.set_aside")
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.SCHEDULED,
            Delivery.due_at <= now,
            # Too late, though the set-aside skipped it (a person held its row until now).
            Delivery.due_at >= now - missed_after,
            *barred,
        )
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
            status=DeliveryStatus.CLAIMED,
            claim_token=token,
            claimed_by=worker,
            claimed_at=now,
            lease_until=now + timedelta(seconds=lease_seconds),
            started_at=None,
            send_deadline=None,
            withdrawn_at=None,
            attempts=Delivery.attempts + 1,
        )
        .returning(Delivery.id, Delivery.post_id, Delivery.channel_id, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    interleave.reached("claim.locked")
    claims = [Claim(r.id, r.post_id, r.channel_id, token, r.attempts) for r in rows]
    return ClaimResult(sorted(claims, key=lambda c: c.delivery_id), held, missed)


def start_sending(
    session: Session,
    claims: Sequence[Claim],
    *,
    crisis: Crisis | None,
    now: datetime,
    send_seconds: float,
    record_seconds: float,
) -> StartResult:
    """Put claimed deliveries on the wire, or not: the last check before a request leaves.

    In one transaction that a declaration serialises against: hold what the crisis or a
    blackout covers now, then `claimed` -> `publishing` only where the claim still holds (same
    token, lease not run out), the post is still approved and not withdrawn, and nothing bars
    it. The lease then covers the request's deadline (`send_seconds`) plus the time to record
    its outcome (`record_seconds`). `crisis`: the crisis in force as read at the start of this
    transaction with the lock a declaration conflicts with (lock_in_order). The caller commits,
    then sends.
    """
    if not claims:
        return StartResult()
    ids = [c.delivery_id for c in claims]
    held, barred = _hold_what_must_wait(session, now, crisis, ids)
    deadline = now + timedelta(seconds=send_seconds)
    by_token: dict[str, list[int]] = defaultdict(list)
    for claim in claims:
        by_token[claim.token].append(claim.delivery_id)
    started_ids: set[int] = set()
    for token, delivery_ids in by_token.items():
        started_ids.update(
            session.scalars(
                update(Delivery)
                .where(
                    Delivery.id.in_(delivery_ids),
                    Delivery.claim_token == token,
                    Delivery.status == DeliveryStatus.CLAIMED,
                    Delivery.lease_until > now,
                    Delivery.post_id.in_(SENDABLE_POSTS),
                    *barred,
                )
                .values(
                    status=DeliveryStatus.PUBLISHING,
                    started_at=now,
                    send_deadline=deadline,
                    lease_until=deadline + timedelta(seconds=record_seconds),
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
        )
    if len(started_ids) < len(ids):
        # Started by an earlier attempt of this step whose commit answer was lost: our token
        # on a row on the wire, which nobody else can have put there.
        started_ids.update(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.id.in_(set(ids) - started_ids),
                    Delivery.claim_token.in_(list(by_token)),
                    Delivery.status == DeliveryStatus.PUBLISHING,
                )
            )
        )
    interleave.reached("start.locked")
    result = StartResult(held_post_ids=held)
    for claim in claims:
        if claim.delivery_id in started_ids:
            result.started.append(Started(claim, deadline))
        else:
            result.not_started.append(claim)
    if result.not_started:
        log.info(
            "claimed deliveries not started (held or taken back meanwhile): ids=%s",
            [c.delivery_id for c in result.not_started],
        )
    return result


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
            # Missed for its lateness alone, whatever held it before its release.
            held_by_crisis_id=None,
            held_by_blackout_id=None,
            held_by_alert_id=None,
            claim_token=None,
            **Delivery.error_values(
                _l(
                    "not sent: its time had passed by more than %(minutes)s minutes when the "
                    "scheduler found it. Release it (now or at a new time) or discard it.",
                    minutes=minutes,
                )
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
    """Leases that ran out. A claimed delivery that never started goes back to the queue (it
    never left, so sending it later is safe). One on the wire becomes `unknown`: its sender
    vanished mid-send, it may or may not have gone out, a human decides. Returns the ids of the
    deliveries now `unknown`."""
    given_back = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.CLAIMED, Delivery.lease_until < now)
        .with_for_update(skip_locked=True)
        .cte("given_back")
    )
    returned = session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(select(given_back.c.id)), Delivery.status == DeliveryStatus.CLAIMED)
        .values(
            status=DeliveryStatus.SCHEDULED,
            claim_token=None,
            lease_until=None,
            attempts=Delivery.attempts - 1,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    if returned:
        log.warning("claims ran out before their send started, back in the queue: ids=%s", returned)
    expired = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PUBLISHING, Delivery.lease_until < now)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(expired.c.id)), Delivery.status == DeliveryStatus.PUBLISHING)
        .values(
            status=DeliveryStatus.UNKNOWN, **Delivery.error_values(LEASE_EXPIRED), claim_token=None
        )
        .returning(Delivery.id, Delivery.post_id)
        .execution_options(synchronize_session=False)
    ).all()
    if rows:
        log.warning("lease expired, deliveries now unknown: ids=%s", [r.id for r in rows])
    settle_post_status(session, {r.post_id for r in rows})
    return [r.id for r in rows]


def _fenced(claim: Claim, status: object = None, **values: object) -> object:
    """An outcome, written only while this claim holds the delivery on the wire. The token
    stays on the row, so after a commit whose answer was lost the holder can tell that its
    outcome is the one recorded (`_recorded_before`)."""
    return (
        update(Delivery)
        .where(
            Delivery.id == claim.delivery_id,
            Delivery.claim_token == claim.token,
            Delivery.status == DeliveryStatus.PUBLISHING,
        )
        .values(lease_until=None, status=status, **values)
        .execution_options(synchronize_session=False)
    )


def _unless_withdrawn(then: DeliveryStatus) -> object:
    """A send that does not succeed ends `discarded` when the post was discarded meanwhile."""
    withdrawn = Delivery.withdrawn_at.is_not(None)
    return case((withdrawn, DeliveryStatus.DISCARDED.value), else_=then.value)


def _recorded_before(session: Session, claim: Claim) -> bool:
    """Our token on a row that has left the wire: our own outcome, committed by an earlier
    attempt whose answer was lost (everyone else clears the token)."""
    status = session.scalar(
        select(Delivery.status).where(
            Delivery.id == claim.delivery_id, Delivery.claim_token == claim.token
        )
    )
    return status is not None and status not in (DeliveryStatus.CLAIMED, DeliveryStatus.PUBLISHING)


def record_published_together(
    session: Session,
    claims: list[Claim],
    now: datetime,
    remote: dict[int, tuple[str | None, str | None]] | None = None,
) -> set[int]:
    """Record several sends as published with one fenced UPDATE per claim token (a pass's
    claims share one) and one status update of their posts; returns the delivery ids recorded.
    A delivery whose claim was lost meanwhile is left as the other party recorded it.
    `remote`: delivery id -> (id on the network, URL), stored with the deliveries recorded.
    The caller has taken the step's locks in order first (lock_in_order)."""
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
                    lease_until=None,
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
        )
    for delivery_id, (remote_id, url) in (remote or {}).items():
        if delivery_id in recorded:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(remote_id=remote_id, url=url)
                .execution_options(synchronize_session=False)
            )
    for claim in claims:
        if claim.delivery_id in recorded:
            continue
        if _recorded_before(session, claim):
            recorded.add(claim.delivery_id)
        else:
            _log_lost(claim, "published")
    # A post discarded while this send was on the wire shows that it went out after all.
    settle_post_status(
        session, {c.post_id for c in claims if c.delivery_id in recorded}, discarded_too=True
    )
    return recorded


def record_retry(session: Session, claim: Claim, reason: str, retry_at: datetime) -> bool:
    """Back to the queue for another try at `retry_at` (held then if a crisis has begun);
    `discarded` instead when the post was discarded while this send was on the wire."""
    return _record(
        session,
        claim,
        "retry",
        status=_unless_withdrawn(DeliveryStatus.SCHEDULED),
        due_at=case((Delivery.withdrawn_at.is_not(None), None), else_=retry_at),
        **Delivery.error_values(reason),
    )


def record_failed(session: Session, claim: Claim, reason: str) -> bool:
    return _record(
        session,
        claim,
        "failed",
        status=_unless_withdrawn(DeliveryStatus.FAILED),
        **Delivery.error_values(reason),
    )


def give_back(session: Session, claim: Claim) -> bool:
    """A send that was started but never left (shutting down, or its deadline passed before a
    thread took it): back to the queue, unsent, or `discarded` if withdrawn meanwhile."""
    return _record(
        session,
        claim,
        "given back",
        status=_unless_withdrawn(DeliveryStatus.SCHEDULED),
        attempts=Delivery.attempts - 1,
    )


def release_claims(session: Session, claims: Sequence[Claim]) -> list[int]:
    """Give back claims that were never started (the scheduler is shutting down). Conditional
    on the claim: what a person or a hold took meanwhile stays as they left it."""
    released: list[int] = []
    for claim in claims:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == claim.delivery_id,
                Delivery.claim_token == claim.token,
                Delivery.status == DeliveryStatus.CLAIMED,
            )
            .values(
                status=DeliveryStatus.SCHEDULED,
                claim_token=None,
                lease_until=None,
                attempts=Delivery.attempts - 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            released.append(claim.delivery_id)
    return released


def _record(session: Session, claim: Claim, outcome: str, **values: object) -> bool:
    """Write an outcome only if this claim still holds the delivery (the fencing token)."""
    result = session.execute(_fenced(claim, **values))  # type: ignore[call-overload]
    if result.rowcount != 1:
        if _recorded_before(session, claim):
            return True
        _log_lost(claim, outcome)
        return False
    settle_post_status(session, [claim.post_id])
    return True


def _log_lost(claim: Claim, outcome: str) -> None:
    log.warning(
        "claim lost, outcome not recorded: delivery=%s token=%s outcome=%s",
        claim.delivery_id,
        claim.token,
        outcome,
    )
