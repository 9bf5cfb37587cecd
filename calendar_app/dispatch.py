"""One dispatch pass: expire dead leases, claim due deliveries, publish them, record outcomes.

Every claim and every outcome is its own short transaction; nothing is held open while a
message is on the wire. A pass keeps claiming until nothing more is due, so a burst of
deliveries due at the same minute drains in one pass.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from calendar_app import claims
from calendar_app.db import Database
from calendar_app.models import Channel, Delivery, Post
from calendar_app.publishers import Message, Outcome, build_publishers
from calendar_app.timeutil import now_utc
from config import Config

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0


def retry_delay(attempt: int, base: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, capped; never sooner than the receiver asked for
    (Retry-After), however long that is: asking again earlier would only be refused again."""
    delay = min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempt - 1))
    delay = delay * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass
class PassReport:
    published: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    held_posts: list[int] = field(default_factory=list)
    missed_posts: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return len(self.published) + len(self.retried) + len(self.failed) + len(self.lost)


@dataclass(frozen=True)
class _Job:
    claim: claims.Claim
    kind: str
    config: dict
    message: Message


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Dispatcher:
    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        worker: str | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.db = db
        self.config = config
        self.worker = worker or default_worker_name()
        self.clock = clock
        self.publishers = build_publishers(webhook_timeout=config.WEBHOOK_TIMEOUT_SECONDS)
        self.pool = ThreadPoolExecutor(
            max_workers=config.DISPATCH_CONCURRENCY, thread_name_prefix="publish"
        )
        self._stopping = threading.Event()
        # Enough for one send plus recording it, so a live sender never loses its lease.
        self.lease_seconds = max(config.CLAIM_LEASE_SECONDS, config.WEBHOOK_TIMEOUT_SECONDS * 2 + 5)

    def run_pass(self) -> PassReport:
        report = PassReport()
        with self.db.transaction() as session:
            report.expired = claims.expire_leases(session, self.clock())
        while not self._stopping.is_set():
            jobs, result = self._claim()
            report.held_posts.extend(result.held_post_ids)
            report.missed_posts.extend(result.missed_post_ids)
            if not jobs:
                break
            for job, outcome in zip(jobs, self.pool.map(self._send_and_record, jobs), strict=True):
                getattr(report, outcome).append(job.claim.delivery_id)
            if len(jobs) < self.config.DISPATCH_BATCH_SIZE:
                break
        if report.claimed or report.held_posts or report.missed_posts or report.expired:
            log.info(
                "dispatch pass worker=%s published=%d retried=%d failed=%d lost=%d "
                "held_posts=%d missed_posts=%d expired=%d",
                self.worker,
                len(report.published),
                len(report.retried),
                len(report.failed),
                len(report.lost),
                len(report.held_posts),
                len(report.missed_posts),
                len(report.expired),
            )
        return report

    def _claim(self) -> tuple[list[_Job], claims.ClaimResult]:
        with self.db.transaction() as session:
            result = claims.claim_due(
                session,
                now=self.clock(),
                limit=self.config.DISPATCH_BATCH_SIZE,
                worker=self.worker,
                lease_seconds=self.lease_seconds,
                missed_after=timedelta(minutes=self.config.MISSED_AFTER_MINUTES),
            )
            if not result.claims:
                return [], result
            by_id = {c.delivery_id: c for c in result.claims}
            rows = session.execute(
                select(Delivery.id, Delivery.body_override, Post, Channel)
                .join(Post, Delivery.post_id == Post.id)
                .join(Channel, Delivery.channel_id == Channel.id)
                .where(Delivery.id.in_(by_id))
                .order_by(Delivery.id)
            ).all()
            jobs = [
                _Job(
                    claim=by_id[delivery_id],
                    kind=channel.kind,
                    config=dict(channel.config),
                    message=Message(
                        post_id=post.id,
                        delivery_id=delivery_id,
                        channel_id=channel.id,
                        title=post.title,
                        body=body_override or post.body,
                        publish_at=post.publish_at,
                    ),
                )
                for delivery_id, body_override, post, channel in rows
            ]
            return jobs, result

    def _send_and_record(self, job: _Job) -> str:
        if self._stopping.is_set():  # shutting down: what has not started goes back, unsent
            with self.db.transaction() as session:
                claims.release_claim(session, job.claim)
            return "released"
        publisher = self.publishers.get(job.kind)
        if publisher is None:
            outcome = Outcome.failed(f"no publisher for channel kind {job.kind!r}")
        else:
            try:
                outcome = publisher.send(job.message, job.config)
            except Exception as exc:  # a bug in a publisher must not take the pass down
                log.exception("publisher crashed: delivery=%s", job.claim.delivery_id)
                outcome = Outcome.failed(f"internal error while sending: {exc!r}")
        return self._record(job.claim, outcome)

    def _record(self, claim: claims.Claim, outcome: Outcome) -> str:
        """Record what happened, retrying while the database is away: the message is out (or
        not), and losing that knowledge would turn the delivery `unknown` for nothing. Past the
        lease another scheduler marks it `unknown`, and the fenced update refuses us."""
        deadline = time.monotonic() + self.lease_seconds
        pause = 0.2
        while True:
            try:
                return self._record_once(claim, outcome)
            except OperationalError as exc:
                if time.monotonic() + pause > deadline or self._stopping.is_set():
                    log.error(
                        "outcome not recorded, database unavailable: delivery=%s outcome=%s "
                        "error=%s",
                        claim.delivery_id,
                        outcome.status,
                        exc.orig,
                    )
                    return "lost"
                log.warning(
                    "database unavailable while recording: delivery=%s retry_in=%.1fs",
                    claim.delivery_id,
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _record_once(self, claim: claims.Claim, outcome: Outcome) -> str:
        now = self.clock()
        with self.db.transaction() as session:
            if outcome.status == "published":
                ok, label = claims.record_published(session, claim, now), "published"
            elif outcome.status == "retry" and claim.attempts < self.config.WEBHOOK_MAX_ATTEMPTS:
                delay = retry_delay(
                    claim.attempts, self.config.WEBHOOK_BACKOFF_SECONDS, outcome.retry_after
                )
                reason = f"attempt {claim.attempts} failed: {outcome.detail}; retrying"
                ok = claims.record_retry(session, claim, reason, now + timedelta(seconds=delay))
                label = "retried"
            else:
                reason = outcome.detail or "failed"
                if outcome.status == "retry":
                    reason = f"gave up after {claim.attempts} attempts: {reason}"
                ok, label = claims.record_failed(session, claim, reason), "failed"
        log.info(
            "delivery=%s outcome=%s attempt=%d recorded=%s detail=%s",
            claim.delivery_id,
            label,
            claim.attempts,
            ok,
            outcome.detail,
        )
        return label if ok else "lost"

    def stop(self) -> None:
        """Claim nothing more; sends already under way finish and are recorded."""
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        for publisher in self.publishers.values():
            publisher.close()
