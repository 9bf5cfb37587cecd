"""One dispatch pass: expire dead leases, claim due deliveries, put them on the wire as senders
become free, record outcomes.

A claim takes a batch, but only as many deliveries as there are free senders are started at a
time (plus, while the channels answer fast, one ready behind each sender, which must leave within
a quarter of a second of its start's commit or goes back unsent), each by the start step in
claims.py, which checks the crisis once more in a transaction a declaration serialises against.
So a claimed delivery waits for a sender as `claimed`, not on the wire, and a declaration holds
it. Every request has a total deadline, and its lease covers that deadline, not a wait in a
queue.

Outcomes that come in together are recorded in one transaction (a group commit), together with
the start of the next deliveries; nothing is held open while a message is on the wire. A pass
keeps claiming until nothing more is due, so a burst of deliveries due at the same minute
drains in one pass.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from calendar_app import claims, interleave, post_media
from calendar_app.channels import tell_channel_keepers
from calendar_app.db import Database
from calendar_app.models import Channel, Delivery, Post, PostMedia
from calendar_app.networks.base import MediaFile
from calendar_app.publishers import Message, Outcome, build_publishers
from calendar_app.timeutil import now_utc
from calendar_app.words import _l, _n
from config import Config

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
# At most this many started deliveries wait behind each sender (Dispatcher._ready_behind).
READY_PER_SENDER = 4


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
    # Claimed but not started: held at the start, or taken back meanwhile by a person.
    not_started: list[int] = field(default_factory=list)
    held_posts: list[int] = field(default_factory=list)
    missed_posts: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return len(self.published) + len(self.retried) + len(self.failed) + len(self.lost)


@dataclass(frozen=True)
class DeliveryMessage:
    """What a delivery sends, and through which kind of channel with which settings."""

    kind: str
    config: dict
    message: Message


def delivery_messages(
    session: Session, delivery_ids: Sequence[int], media_dir: Path | None = None
) -> list[DeliveryMessage]:
    """What these deliveries send, in the order of their ids: the one way a delivery's message
    is made, for sending it and for looking for it on the network (unknown_checks). With
    `media_dir`, the posts' images too (looking for a post on its network needs none)."""
    if not delivery_ids:
        return []
    rows = session.execute(
        select(Delivery.id, Delivery.body_override, Post, Channel)
        .join(Post, Delivery.post_id == Post.id)
        .join(Channel, Delivery.channel_id == Channel.id)
        .where(Delivery.id.in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    images = _images(session, media_dir, {post.id for _, _, post, _ in rows}) if media_dir else {}
    return [
        DeliveryMessage(
            kind=channel.kind,
            config=dict(channel.config),
            message=Message(
                post_id=post.id,
                delivery_id=delivery_id,
                channel_id=channel.id,
                title=post.title,
                body=body_override or post.body,
                publish_at=post.publish_at,
                post_created_at=post.created_at,
                in_reply_to=post.in_reply_to,
                media=images.get(post.id, ()),
            ),
        )
        for delivery_id, body_override, post, channel in rows
    ]


def _images(
    session: Session, media_dir: Path, post_ids: set[int]
) -> dict[int, tuple[MediaFile, ...]]:
    """The posts' images, in order, with their alt text: read with the text, so what was
    approved is what is sent."""
    by_post: dict[int, list[MediaFile]] = {}
    if not post_ids:
        return {}
    rows = session.scalars(
        select(PostMedia)
        .where(PostMedia.post_id.in_(post_ids))
        .order_by(PostMedia.post_id, PostMedia.position)
    )
    for row in rows:
        by_post.setdefault(row.post_id, []).append(
            post_media.media_file(media_dir, row.media, row.alt)
        )
    return {post_id: tuple(files) for post_id, files in by_post.items()}


@dataclass(frozen=True)
class _Job:
    claim: claims.Claim
    kind: str
    config: dict
    message: Message


@dataclass
class _Step:
    """What one transaction of the pass did: outcomes recorded, deliveries put on the wire."""

    labels: list[tuple[claims.Claim, str]] = field(default_factory=list)
    jobs: list[_Job] = field(default_factory=list)
    held_posts: list[int] = field(default_factory=list)
    # time.monotonic() just before the start step: the requests' deadlines count from here,
    # so they end before the deadline recorded on the rows (counted from later).
    started_at: float = 0.0


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
        self.concurrency = config.DISPATCH_CONCURRENCY
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="publish")
        self._stopping = threading.Event()
        # One request's total deadline; its lease adds the time to record the outcome.
        self.send_seconds = config.WEBHOOK_TIMEOUT_SECONDS
        self.record_seconds = max(5.0, config.WEBHOOK_TIMEOUT_SECONDS)
        # How long a claimed delivery may wait for a free sender before it goes back.
        self.claim_lease_seconds = float(config.CLAIM_LEASE_SECONDS)
        # What the claimed deliveries of the batch under way will send, by delivery id.
        self._waiting: dict[int, _Job] = {}
        # A started delivery waiting behind a busy sender must leave within this (_ready_behind).
        self.leave_within = min(0.25, self.send_seconds / 10)
        self._recent_send: float | None = None  # how long sends take lately (moving average)

    def run_pass(self) -> PassReport:
        report = PassReport()
        with self.db.transaction() as session:
            report.expired = claims.expire_leases(session, self.clock())
        while not self._stopping.is_set():
            result = self._claim()
            report.held_posts.extend(result.held_post_ids)
            report.missed_posts.extend(result.missed_post_ids)
            if not result.claims:
                break
            for claim, label in self._work_through(result.claims, report):
                getattr(report, label).append(claim.delivery_id)
            if len(result.claims) < self.config.DISPATCH_BATCH_SIZE:
                break
        if report.claimed or report.held_posts or report.missed_posts or report.expired:
            log.info(
                "dispatch pass worker=%s published=%d retried=%d failed=%d lost=%d "
                "not_started=%d held_posts=%d missed_posts=%d expired=%d",
                self.worker,
                len(report.published),
                len(report.retried),
                len(report.failed),
                len(report.lost),
                len(report.not_started),
                len(report.held_posts),
                len(report.missed_posts),
                len(report.expired),
            )
        return report

    def _claim(self) -> claims.ClaimResult:
        """Claim a batch and read what each claimed delivery will send. The text read here is
        the text sent: a change of the post takes the claim back (edit_post), so a send whose
        start succeeds still has it."""
        with self.db.transaction() as session:
            result = claims.claim_due(
                session,
                now=self.clock(),
                limit=self.config.DISPATCH_BATCH_SIZE,
                worker=self.worker,
                lease_seconds=self.claim_lease_seconds,
                missed_after=timedelta(minutes=self.config.MISSED_AFTER_MINUTES),
            )
            self._waiting = {
                job.claim.delivery_id: job for job in self._jobs(session, result.claims)
            }
            return result

    def _work_through(
        self, claimed: Sequence[claims.Claim], report: PassReport
    ) -> list[tuple[claims.Claim, str]]:
        """Start claimed deliveries as senders become free; record outcomes as they come in.

        Each round is one transaction: record what finished, give back what must wait (shutting
        down), start as many as there are free senders. A started delivery goes to a sender that
        is idle, so it is on the wire at once, never waiting in the pool's queue.
        """
        waiting = deque(claimed)
        on_wire: dict[Future[Outcome | None], claims.Claim] = {}
        finished: list[tuple[claims.Claim, Outcome | None]] = []
        labels: list[tuple[claims.Claim, str]] = []
        while waiting or on_wire or finished:
            give_back: list[claims.Claim] = []
            if self._stopping.is_set():
                give_back, waiting = list(waiting), deque()
            free = self.concurrency + self._ready_behind() - len(on_wire)
            to_start = [waiting.popleft() for _ in range(min(free, len(waiting)))]
            if to_start:
                interleave.reached("start.before")
            step = self._step(finished, to_start, give_back)
            labels.extend(step.labels)
            report.held_posts.extend(step.held_posts)
            started = {job.claim.delivery_id for job in step.jobs}
            report.not_started.extend(
                c.delivery_id for c in to_start if c.delivery_id not in started
            )
            deadline = step.started_at + self.send_seconds
            # Leaving in time counts from the start's commit, not from before its transaction:
            # a slow commit (a stalled disk) must not send every started delivery back unsent.
            leave_by = time.monotonic() + self.leave_within
            for job in step.jobs:
                on_wire[self.pool.submit(self._send, job, deadline, leave_by)] = job.claim
            finished = []
            if on_wire:
                done, _ = wait(on_wire, return_when=FIRST_COMPLETED)
                finished = sorted(
                    ((on_wire.pop(f), f.result()) for f in done), key=lambda f: f[0].delivery_id
                )
        return labels

    def _ready_behind(self) -> int:
        """How many started deliveries may wait behind the senders: while the channels answer
        fast, as many as the senders get through in half of `leave_within` (at most
        READY_PER_SENDER each), so a sender goes on at once instead of waiting for the next
        start step; none while they are slow. A waiting one must leave within `leave_within`
        of its start or goes back unsent, so a declaration waits for it no longer than that,
        plus its request."""
        recent = self._recent_send
        if recent is None or recent >= self.leave_within / 2:
            return 0
        per_sender = int(self.leave_within / 2 / max(recent, 1e-4))
        return self.concurrency * min(READY_PER_SENDER, per_sender)

    def _send(self, job: _Job, deadline: float, leave_by: float) -> Outcome | None:
        """Publish one delivery by `deadline` (time.monotonic()); None when it never left
        (shutting down, or it could not leave by `leave_by`): it is given back."""
        interleave.reached("send.before")
        began = time.monotonic()
        if self._stopping.is_set() or began >= min(deadline, leave_by):
            return None
        publisher = self.publishers.get(job.kind)
        if publisher is None:
            return Outcome.failed(f"no publisher for channel kind {job.kind!r}")
        try:
            return publisher.send(job.message, job.config, deadline=deadline)
        except Exception as exc:  # a bug in a publisher must not take the pass down
            log.exception("publisher crashed: delivery=%s", job.claim.delivery_id)
            return Outcome.failed(f"internal error while sending: {exc!r}")
        finally:
            took = time.monotonic() - began
            recent = self._recent_send
            self._recent_send = took if recent is None else 0.8 * recent + 0.2 * took

    def _step(
        self,
        finished: list[tuple[claims.Claim, Outcome | None]],
        to_start: list[claims.Claim],
        give_back: list[claims.Claim],
    ) -> _Step:
        """One transaction: record outcomes, give back, start. Retried while the database is
        away: the messages are out (or not), and losing that knowledge would turn the
        deliveries `unknown` for nothing. Past the lease another scheduler marks them
        `unknown`, and the fenced update refuses us."""
        if not (finished or to_start or give_back):
            return _Step()
        give_up = time.monotonic() + self.record_seconds
        pause = 0.2
        while True:
            try:
                return self._step_once(finished, to_start, give_back)
            except OperationalError as exc:
                if time.monotonic() + pause > give_up or self._stopping.is_set():
                    for claim, outcome in finished:
                        log.error(
                            "outcome not recorded, database unavailable: delivery=%s "
                            "outcome=%s error=%s",
                            claim.delivery_id,
                            "released" if outcome is None else outcome.status,
                            exc.orig,
                        )
                    # What was not started stays claimed and goes back when its lease ends.
                    return _Step(labels=[(claim, "lost") for claim, _ in finished])
                log.warning(
                    "database unavailable while recording: deliveries=%s retry_in=%.1fs",
                    [claim.delivery_id for claim, _ in finished],
                    pause,
                )
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _step_once(
        self,
        finished: list[tuple[claims.Claim, Outcome | None]],
        to_start: list[claims.Claim],
        give_back: list[claims.Claim],
    ) -> _Step:
        now = self.clock()
        step = _Step()
        with self.db.transaction() as session:
            # Every lock of the step up front, in the one order (claims.lock_in_order): a
            # declaration queued for queue_state, or a person holding a post's deliveries,
            # would otherwise close a cycle with what this step locks piecemeal.
            crisis = claims.lock_in_order(
                session, [*to_start, *(c for c, _ in finished), *give_back], queue=bool(to_start)
            )
            if to_start:
                step.started_at = time.monotonic()
                started = claims.start_sending(
                    session,
                    to_start,
                    crisis=crisis,
                    now=now,
                    send_seconds=self.send_seconds,
                    record_seconds=self.record_seconds,
                )
                step.held_posts = started.held_post_ids
                step.jobs = [self._waiting[s.claim.delivery_id] for s in started.started]
            results = self._record_outcomes(session, finished, now)
            claims.release_claims(session, give_back)
        interleave.reached("record.committed")
        for claim, outcome, label, ok in results:
            log.info(
                "delivery=%s outcome=%s attempt=%d recorded=%s detail=%s",
                claim.delivery_id,
                label,
                claim.attempts,
                ok,
                None if outcome is None else outcome.detail,
            )
        step.labels = [(claim, label if ok else "lost") for claim, _, label, ok in results]
        step.labels.extend((claim, "released") for claim in give_back)
        return step

    def _record_outcomes(
        self, session: Session, finished: list[tuple[claims.Claim, Outcome | None]], now: datetime
    ) -> list[tuple[claims.Claim, Outcome | None, str, bool]]:
        published = [c for c, o in finished if o is not None and o.status == "published"]
        remote = {
            c.delivery_id: (o.remote_id, o.url)
            for c, o in finished
            if o is not None and o.status == "published" and (o.remote_id or o.url)
        }
        recorded = claims.record_published_together(session, published, now, remote)
        return [
            (claim, outcome, "published", claim.delivery_id in recorded)
            if outcome is not None and outcome.status == "published"
            else (claim, outcome, *self._record_outcome(session, claim, outcome, now))
            for claim, outcome in finished
        ]

    def _jobs(self, session: Session, claimed: list[claims.Claim]) -> list[_Job]:
        """What each claimed delivery sends."""
        by_id = {c.delivery_id: c for c in claimed}
        return [
            _Job(by_id[out.message.delivery_id], out.kind, out.config, out.message)
            for out in delivery_messages(session, list(by_id), self.config.media_dir)
        ]

    def _record_outcome(
        self, session: Session, claim: claims.Claim, outcome: Outcome | None, now: datetime
    ) -> tuple[str, bool]:
        if outcome is None:  # never left: back to the queue (or discarded if withdrawn)
            return "released", claims.give_back(session, claim)
        if outcome.status == "retry" and claim.attempts < self.config.WEBHOOK_MAX_ATTEMPTS:
            delay = retry_delay(
                claim.attempts, self.config.WEBHOOK_BACKOFF_SECONDS, outcome.retry_after
            )
            reason = _l(
                "attempt %(attempt)s failed: %(reason)s; retrying",
                attempt=claim.attempts,
                reason=outcome.detail,
            )
            return "retried", claims.record_retry(
                session, claim, reason, now + timedelta(seconds=delay)
            )
        reason = outcome.detail or _l("failed")
        if outcome.status == "retry":
            reason = _n(
                "gave up after %(count)s attempt: %(reason)s",
                "gave up after %(count)s attempts: %(reason)s",
                claim.attempts,
                reason=reason,
            )
        recorded = claims.record_failed(session, claim, reason)
        if recorded and outcome.tell_owners:
            tell_channel_keepers(session, claim.channel_id, claim.post_id, reason)
        return "failed", recorded

    def stop(self) -> None:
        """Start nothing more; sends already on the wire finish and are recorded, claims that
        have not started go back to the queue."""
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self.pool.shutdown(wait=True)
        for publisher in self.publishers.values():
            publisher.close()
