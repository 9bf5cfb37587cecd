"""One dispatch pass: expire dead leases, claim due deliveries, publish them, record outcomes.

Every claim is its own short transaction, and outcomes that come in together are recorded in
one (a group commit); nothing is held open while a message is on the wire. A pass keeps
claiming until nothing more is due, so a burst of deliveries due at the same minute drains in
one pass.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

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
        self.publishers = build_publishers(config)
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
            for claim, label in self._publish(jobs):
                getattr(report, label).append(claim.delivery_id)
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

    def _publish(self, jobs: list[_Job]) -> list[tuple[claims.Claim, str]]:
        """Send the claimed deliveries on the pool and record the outcomes as they come in.

        Outcomes that arrive together are recorded in one transaction (a group commit): on
        SQLite every transaction takes the one write lock, and a commit per delivery made the
        database, not the network, the limit. Nothing waits for a slow send to record the rest.
        """
        pending = {self.pool.submit(self._send, job): job for job in jobs}
        recorded: list[tuple[claims.Claim, str]] = []
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            finished = [(pending.pop(future).claim, future.result()) for future in done]
            recorded.extend(self._record(sorted(finished, key=lambda f: f[0].delivery_id)))
        return recorded

    def _send(self, job: _Job) -> Outcome | None:
        """Publish one delivery; None when shutting down before it started (it goes back)."""
        if self._stopping.is_set():
            return None
        publisher = self.publishers.get(job.kind)
        if publisher is None:
            return Outcome.failed(f"no publisher for channel kind {job.kind!r}")
        try:
            return publisher.send(
                job.message,
                job.config,
                deadline=time.monotonic() + self.config.WEBHOOK_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # a bug in a publisher must not take the pass down
            log.exception("publisher crashed: delivery=%s", job.claim.delivery_id)
            return Outcome.failed(f"internal error while sending: {exc!r}")

    def _record(
        self, finished: list[tuple[claims.Claim, Outcome | None]]
    ) -> list[tuple[claims.Claim, str]]:
        """Record what happened, retrying while the database is away: the messages are out (or
        not), and losing that knowledge would turn the deliveries `unknown` for nothing. Past
        the lease another scheduler marks them `unknown`, and the fenced update refuses us."""
        deadline = time.monotonic() + self.lease_seconds
        pause = 0.2
        while True:
            try:
                return self._record_once(finished)
            except OperationalError as exc:
                if time.monotonic() + pause > deadline or self._stopping.is_set():
                    for claim, outcome in finished:
                        log.error(
                            "outcome not recorded, database unavailable: delivery=%s "
                            "outcome=%s error=%s",
                            claim.delivery_id,
                            "released" if outcome is None else outcome.status,
                            exc.orig,
                        )
                    return [(claim, "lost") for claim, _ in finished]
                log.warning(
                    "database unavailable while recording: deliveries=%s retry_in=%.1fs",
                    [claim.delivery_id for claim, _ in finished],
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _record_once(
        self, finished: list[tuple[claims.Claim, Outcome | None]]
    ) -> list[tuple[claims.Claim, str]]:
        now = self.clock()
        published = [c for c, o in finished if o is not None and o.status == "published"]
        with self.db.transaction() as session:
            recorded = claims.record_published_together(session, published, now)
            results = [
                (claim, outcome, "published", claim.delivery_id in recorded)
                if outcome is not None and outcome.status == "published"
                else (claim, outcome, *self._record_outcome(session, claim, outcome, now))
                for claim, outcome in finished
            ]
        for claim, outcome, label, ok in results:
            log.info(
                "delivery=%s outcome=%s attempt=%d recorded=%s detail=%s",
                claim.delivery_id,
                label,
                claim.attempts,
                ok,
                None if outcome is None else outcome.detail,
            )
        return [(claim, label if ok else "lost") for claim, _, label, ok in results]

    def _record_outcome(
        self, session: Session, claim: claims.Claim, outcome: Outcome | None, now: datetime
    ) -> tuple[str, bool]:
        if outcome is None:  # shutting down: what has not started goes back, unsent
            return "released", claims.release_claim(session, claim)
        if outcome.status == "retry" and claim.attempts < self.config.WEBHOOK_MAX_ATTEMPTS:
            delay = retry_delay(
                claim.attempts, self.config.WEBHOOK_BACKOFF_SECONDS, outcome.retry_after
            )
            reason = f"attempt {claim.attempts} failed: {outcome.detail}; retrying"
            return "retried", claims.record_retry(
                session, claim, reason, now + timedelta(seconds=delay)
            )
        reason = outcome.detail or "failed"
        if outcome.status == "retry":
            reason = f"gave up after {claim.attempts} attempts: {reason}"
        return "failed", claims.record_failed(session, claim, reason)

    def stop(self) -> None:
        """Claim nothing more; sends already under way finish and are recorded."""
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        for publisher in self.publishers.values():
            publisher.close()
