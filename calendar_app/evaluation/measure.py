"""The results job: each published network delivery is measured on a schedule that thins out
with age, 1 h, 24 h, 7 days and 30 days after it was published.

Every measurement is a new row (`ResultPoint`): the numbers form a time series. A job that runs
late (the scheduler was down for two days) measures once and goes on with the next point still
ahead, rather than catching up on points whose moment has passed.

Safe with several schedulers: a due `ResultWatch` is claimed with a conditional update (a token
and a lease, on a row still due and not claimed), the network is asked outside any transaction,
and the point is written only by the holder of that token, in the transaction that moves the
watch on. Two jobs at once measure each point once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from calendar_app.db import Database
from calendar_app.evaluation.reading import MESSAGES, Reading, read_results
from calendar_app.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    ResultPoint,
    ResultState,
    ResultWatch,
)
from calendar_app.networks.base import NetworkError
from calendar_app.timeutil import now_utc

log = logging.getLogger(__name__)

# After publication: when a delivery is measured.
SCHEDULE = (timedelta(hours=1), timedelta(hours=24), timedelta(days=7), timedelta(days=30))
# Kinds whose numbers are read from the network (webhook channels send theirs: inbound.py).
MEASURED_KINDS = ("mastodon", "bluesky")
# How long one measurement may hold a watch; past it another scheduler may take it.
LEASE = timedelta(minutes=2)
# The network could not be asked (down, timed out): asked again this much later.
RETRY_AFTER = timedelta(minutes=10)
BATCH = 50


def next_step(published_at: datetime, now: datetime, done: int) -> tuple[int, datetime | None]:
    """After `done` points, the number of the next point still ahead of `now` and when it is
    due (None: the schedule is over). Points whose moment passed unmeasured are skipped."""
    step = done
    while step < len(SCHEDULE) and published_at + SCHEDULE[step] <= now:
        step += 1
    if step >= len(SCHEDULE):
        return len(SCHEDULE), None
    return step, published_at + SCHEDULE[step]


def _insert(session: Session) -> Any:
    return (sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert)(
        ResultWatch
    )


def watch_new_deliveries(session: Session, limit: int = 500) -> int:
    """A watch for each published network delivery that has none yet (harmless twice)."""
    rows = session.execute(
        select(Delivery.id, Delivery.published_at)
        .join(Channel, Channel.id == Delivery.channel_id)
        .outerjoin(ResultWatch, ResultWatch.delivery_id == Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PUBLISHED,
            Delivery.published_at.is_not(None),
            Delivery.remote_id.is_not(None),
            Channel.kind.in_(MEASURED_KINDS),
            ResultWatch.delivery_id.is_(None),
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    values = [
        {"delivery_id": delivery_id, "step": 0, "next_due_at": published_at + SCHEDULE[0]}
        for delivery_id, published_at in rows
    ]
    session.execute(_insert(session).values(values).on_conflict_do_nothing())
    return len(values)


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    channel_id: int
    token: str
    step: int
    published_at: datetime
    kind: str
    config: dict[str, Any]
    remote_id: str


@dataclass
class MeasureReport:
    measured: list[int] = field(default_factory=list)  # delivery ids with a new point
    postponed: list[int] = field(default_factory=list)  # the network could not be asked


def _due(now: datetime) -> list[Any]:
    return [
        ResultWatch.next_due_at.is_not(None),
        ResultWatch.next_due_at <= now,
        or_(ResultWatch.claim_token.is_(None), ResultWatch.lease_until < now),
    ]


def _claim(session: Session, now: datetime, limit: int) -> list[_Job]:
    candidates = session.execute(
        select(ResultWatch.delivery_id)
        .where(*_due(now))
        .order_by(ResultWatch.next_due_at)
        .limit(limit)
    ).scalars()
    jobs = []
    for delivery_id in list(candidates):
        token = uuid.uuid4().hex
        taken = session.execute(
            update(ResultWatch)
            .where(ResultWatch.delivery_id == delivery_id, *_due(now))
            .values(claim_token=token, lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            continue  # another scheduler took it
        row = session.execute(
            select(
                ResultWatch.step,
                Delivery.channel_id,
                Delivery.published_at,
                Delivery.remote_id,
                Channel.kind,
                Channel.config,
            )
            .join(Delivery, Delivery.id == ResultWatch.delivery_id)
            .join(Channel, Channel.id == Delivery.channel_id)
            .where(ResultWatch.delivery_id == delivery_id)
        ).one()
        step, channel_id, published_at, remote_id, kind, config = row
        jobs.append(
            _Job(delivery_id, channel_id, token, step, published_at, kind, config, remote_id)
        )
    return jobs


def _record(session: Session, job: _Job, reading: Reading, now: datetime) -> bool:
    """The point and the next due time, by the claim's holder only."""
    step, due = next_step(job.published_at, now, job.step + 1)
    moved = session.execute(
        update(ResultWatch)
        .where(ResultWatch.delivery_id == job.delivery_id, ResultWatch.claim_token == job.token)
        .values(
            step=step,
            next_due_at=due,
            claim_token=None,
            lease_until=None,
            last_state=reading.state,
            last_error=MESSAGES.get(ResultState(reading.state)),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    session.add(
        ResultPoint(
            delivery_id=job.delivery_id,
            channel_id=job.channel_id,
            measured_at=now,
            source="network",
            state=reading.state,
            likes=reading.likes,
            shares=reading.shares,
            replies=reading.replies,
            quotes=reading.quotes,
            reach=reading.reach,
            clicks=reading.clicks,
        )
    )
    session.flush()
    return True


def _postpone(session: Session, job: _Job, now: datetime, reason: str) -> None:
    session.execute(
        update(ResultWatch)
        .where(ResultWatch.delivery_id == job.delivery_id, ResultWatch.claim_token == job.token)
        .values(
            claim_token=None, lease_until=None, next_due_at=now + RETRY_AFTER, last_error=reason
        )
        .execution_options(synchronize_session=False)
    )


def measure_results(
    db: Database,
    publishers: dict[str, Any],
    *,
    now: datetime | None = None,
    limit: int = BATCH,
) -> MeasureReport:
    """One pass of the results job: watch what was newly published, measure what is due."""
    now = now or now_utc()
    report = MeasureReport()
    with db.transaction() as session:
        watch_new_deliveries(session)
    with db.transaction() as session:
        jobs = _claim(session, now, limit)
    for job in jobs:
        publisher = publishers.get(job.kind)
        try:
            if publisher is None:
                raise NetworkError(f"no publisher for channel kind {job.kind!r}")
            reading = read_results(publisher, job.kind, job.config, job.remote_id, job.channel_id)
        except NetworkError as exc:
            with db.transaction() as session:
                _postpone(session, job, now, exc.reason)
            report.postponed.append(job.delivery_id)
            log.info("results of delivery %s postponed: %s", job.delivery_id, exc.reason)
            continue
        with db.transaction() as session:
            if _record(session, job, reading, now):
                report.measured.append(job.delivery_id)
    return report


def due_watches(session: Session, now: datetime) -> int:
    """How many measurements are due (for the health of the job)."""
    return len(session.scalars(select(ResultWatch.delivery_id).where(*_due(now))).all())


__all__ = [
    "SCHEDULE",
    "MeasureReport",
    "due_watches",
    "measure_results",
    "next_step",
    "watch_new_deliveries",
]
