"""How fast the scheduler publishes: throughput against a plain loop of the same POSTs, a burst
due at one moment, lateness over a spread, and the scheduler's peak memory."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import select

from bench.world import (
    BODY,
    Databases,
    Receiver,
    Schedulers,
    make_webhooks,
    plan,
    seed_background,
)
from calendar_app.db import Database
from calendar_app.models import Delivery, Post
from calendar_app.publishers.webhook import USER_AGENT
from calendar_app.timeutil import iso_utc, now_utc
from config import Config

CHANNELS = 2  # every post goes to two webhook channels: two deliveries per post
CONCURRENCY = Config().DISPATCH_CONCURRENCY
# Seconds per post for create + submit + approve, learnt from the runs (a first guess).
_seed_seconds_per_post = [0.01]


def raw_rate(receiver: Receiver, count: int) -> float:
    """The same POSTs (same JSON shape and size, same headers, same httpx.Client settings)
    sent by a plain loop on DISPATCH_CONCURRENCY threads; deliveries per second as the
    receiver saw them arrive (first to last)."""
    receiver.reset()
    client = httpx.Client(
        timeout=10,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
    )

    def send(i: int) -> None:
        raw = json.dumps(
            {
                "post_id": 100_000 + i,
                "delivery_id": 100_000 + i,
                "channel_id": 1 + i % CHANNELS,
                "title": "",
                "body": f"{BODY}{i}",
                "publish_at": iso_utc(now_utc()),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(100_000 + i),
            "X-Signature-SHA256": hmac.new(b"bench-secret", raw, hashlib.sha256).hexdigest(),
        }
        response = client.post(receiver.url(f"hook/{i % CHANNELS}"), content=raw, headers=headers)
        response.raise_for_status()

    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, range(count)))
    finally:
        client.close()
    assert receiver.wait_for(count, timeout=30)
    times = sorted(a[0] for a in receiver.arrivals())
    return (len(times) - 1) / (times[-1] - times[0])


@dataclass
class DispatchRun:
    count: int
    rate: float  # deliveries per second, first to last arrival
    burst_seconds: float  # from the moment all were due (and committed) to the last arrival
    late_p50: float = 0.0  # published_at - publish_at
    late_p99: float = 0.0
    peak_rss_kib: list[int] = field(default_factory=list)
    idle_rss_kib: list[int] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)


def dispatch_run(
    dbs: Databases,
    receiver: Receiver,
    *,
    engine: str,
    processes: int,
    count: int,
    background: int = 0,
    spread: float = 0.0,
    timeout: float = 300.0,
    **settings: object,
) -> DispatchRun:
    """`count` deliveries planned through the real rules, due at one moment (or spread over
    `spread` seconds), committed before they fall due, sent by `processes` running
    `calendar-app scheduler` processes with the default settings unless `settings` says
    otherwise."""
    url, team = dbs.fresh(engine)
    db = Database(url)
    workdir = dbs.tmp / f"run-{time.monotonic_ns()}"
    workdir.mkdir()
    schedulers = Schedulers(url, workdir, WEBHOOK_TIMEOUT_SECONDS=10, **settings)
    try:
        channels = make_webhooks(db, team, receiver, CHANNELS)
        if background:
            seed_background(db, team, channels[0], background)
        receiver.reset()
        schedulers.start(processes)
        # Warm-up: every process has imported, connected and ticked at least once.
        plan(db, team, channels, 2 * processes, at=now_utc())
        assert receiver.wait_for(2 * CHANNELS * processes, timeout=60), "schedulers did not start"
        time.sleep(1.5)
        idle_rss = schedulers.peak_rss_kib()
        receiver.reset()

        posts = count // CHANNELS
        lead = 2.0 + 1.5 * posts * _seed_seconds_per_post[0]
        due = now_utc() + timedelta(seconds=lead)
        started = time.monotonic()
        plan(db, team, channels, posts, at=due, spread=spread)
        _seed_seconds_per_post[0] = (time.monotonic() - started) / posts
        committed = time.time()
        assert receiver.wait_for(count, timeout=timeout + spread), (
            f"only {receiver.count()} of {count} deliveries arrived"
        )
        peak_rss = schedulers.peak_rss_kib()
        time.sleep(0.3)  # a duplicate would arrive now
        times = sorted(a[0] for a in receiver.arrivals())
        assert len(times) == count, f"{len(times)} arrivals for {count} deliveries"
        run = DispatchRun(
            count=count,
            rate=(count - 1) / (times[-1] - times[0]),
            burst_seconds=times[-1] - max(due.timestamp(), committed),
            peak_rss_kib=peak_rss,
            idle_rss_kib=idle_rss,
        )
        # Outcomes are recorded just after the sends: give the last group commit a moment.
        deadline = time.monotonic() + 10
        while True:
            with db.transaction() as session:
                rows = session.execute(
                    select(Delivery.published_at, Post.publish_at)
                    .join(Post, Delivery.post_id == Post.id)
                    .where(Post.publish_at >= due)
                ).all()
            run.lateness = [(p - a).total_seconds() for p, a in rows if p is not None]
            if len(run.lateness) == count or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(run.lateness) == count, "a delivery was not recorded as published"
        return run
    finally:
        schedulers.stop()
        db.dispose()
