"""The results job's cost per channel and day: one Mastodon channel on a real mastodon-mock whose
account published `per_day` posts a day for the last `days` days (the statuses made on the
server through its API, the deliveries inserted as published with their remote ids, their
result watches made by the app's own `watch_new_deliveries`), then one day of the job: a clock
moved through 24 hours in 1-minute steps, `measure_results` called at each step.

Counted: the HTTP requests the publisher's client sends (an httpx request hook on it, by path),
the measurements written (`ResultPoint` rows), the wall time inside `measure_results` (summed
over the passes). The day's posts are inserted when the clock passes their publication, outside
the timed calls. Before the day, one catch-up (the job at the minute before the day, until
nothing is due) brings the history's watches to where a job that had been running all along
would have left them; it is reported on its own line, not in the day's figures.

In steady state a day holds, for each of the 4 points (1 h, 24 h, 7 d, 30 d), the measurements of
one day's posts: `per_day` x 4 measurements, 2 requests each for Mastodon (verify_credentials and
GET status). The expected figures are counted from the generated publication times, not assumed.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

from bench.networks import LOOPBACK, TIMEOUT
from bench.world import BODY, Databases
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.evaluation.measure import SCHEDULE, due_watches, measure_results
from calendar_app.evaluation.measure import watch_new_deliveries as app_watch_new_deliveries
from calendar_app.models import Delivery, Post, PostStatus, ResultPoint, ResultWatch, User
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.publishers import build_publishers
from config import Config
from tests.support.mastodon import MastodonServer

STEP = timedelta(minutes=1)
DAY = timedelta(days=1)
CHUNK = 2000


@dataclass
class ResultsCostRun:
    per_day: int
    days: int
    passes: int = 0
    requests: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    measured: int = 0
    postponed: int = 0
    job_seconds: list[float] = field(default_factory=list)  # one per pass
    busy_passes: int = 0  # passes that measured something
    busy_seconds: float = 0.0  # their time inside the job
    expected_measured: int = 0
    expected_by_point: Counter[str] = field(default_factory=Counter)
    catchup_requests: int = 0
    catchup_measured: int = 0
    catchup_seconds: float = 0.0
    watches: int = 0

    @property
    def expected_requests(self) -> int:
        return self.expected_measured * 2  # Mastodon: verify_credentials + GET status


def _publication_times(start: datetime, per_day: int, days: int) -> list[datetime]:
    """`per_day` slots a day, whole minutes, from `days` days before `start` to the end of the
    simulated day (the last day's posts are published while the job runs)."""
    slots = [timedelta(minutes=int((i + 0.5) * 1440 / per_day)) for i in range(per_day)]
    return [start + d * DAY + slot for d in range(-days, 1) for slot in slots]


def _make_statuses(server: MastodonServer, token: str, count: int) -> list[str]:
    ids = []
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        for i in range(count):
            answer = http.post(
                f"{server.base_url}/api/v1/statuses",
                json={"status": f"{BODY} #{i}", "visibility": "public"},
            )
            answer.raise_for_status()
            ids.append(str(answer.json()["id"]))
    return ids


def _insert_published(
    db: Database, team: Any, channel_id: int, rows: list[tuple[datetime, str]]
) -> None:
    """Posts and their deliveries, as published at their time with their remote ids."""
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        posts = [
            {"title": "", "body": BODY, "status": PostStatus.PUBLISHED, "publish_at": when,
             "author_id": team.planner_id, "approved_by_id": team.head_id,
             "approved_at": when - DAY, "crisis_response": False, "created_at": when - DAY,
             "updated_at": when}
            for when, _ in chunk
        ]  # fmt: skip
        with db.transaction() as session:
            post_ids = session.scalars(insert(Post).returning(Post.id), posts).all()
            session.execute(
                insert(Delivery),
                [
                    {"post_id": pid, "channel_id": channel_id, "status": "published",
                     "due_at": when, "attempts": 1, "published_at": when, "remote_id": remote}
                    for pid, (when, remote) in zip(post_ids, chunk, strict=True)
                ],
            )  # fmt: skip


def _expected(run: ResultsCostRun, times: list[datetime], start: datetime, passes: int) -> None:
    """The points whose moment falls on one of the day's ticks (due <= tick, after the
    catch-up at start - 1 min)."""
    last = start + (passes - 1) * STEP
    names = ("1 h", "24 h", "7 d", "30 d")
    for published in times:
        for name, after in zip(names, SCHEDULE, strict=True):
            if start <= published + after <= last:
                run.expected_by_point[name] += 1
                run.expected_measured += 1


def results_cost_run(
    dbs: Databases, *, per_day: int, days: int, minutes: int = 1440
) -> ResultsCostRun:
    run = ResultsCostRun(per_day, days)
    logging.getLogger("calendar_app").setLevel(logging.WARNING)
    url, team = dbs.fresh("sqlite")
    db = Database(url)
    key = Fernet.generate_key().decode()
    config = dc_replace(
        Config(), CHANNEL_SECRETS_KEY=key, WEBHOOK_ALLOWED_HOSTS=LOOPBACK,
        WEBHOOK_TIMEOUT_SECONDS=TIMEOUT,
    )  # fmt: skip
    publishers = build_publishers(config)
    server = MastodonServer(Path(tempfile.mkdtemp(dir=dbs.tmp))).start()
    try:
        account = server.new_account("resultsbench")
        with db.transaction() as session:
            channel_id = create_channel(
                session, session.get(User, team.admin_id), name="Mastodon results",
                kind="mastodon", network="mastodon",
                config={"base_url": server.base_url, "access_token": account.access_token},
                secrets=ChannelSecrets(key),
            ).id  # fmt: skip
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        start = now.replace(hour=0, minute=0)
        times = _publication_times(start, per_day, days)
        remote_ids = _make_statuses(server, account.access_token, len(times))
        posts = list(zip(times, remote_ids, strict=True))
        history = [p for p in posts if p[0] < start]
        today = [p for p in posts if p[0] >= start]
        _insert_published(db, team, channel_id, history)
        with db.transaction() as session:
            while app_watch_new_deliveries(session):
                pass
        with db.transaction() as session:
            run.watches = session.scalar(select(func.count()).select_from(ResultWatch)) or 0
        _expected(run, times, start, minutes)

        client = publishers["mastodon"].client  # type: ignore[attr-defined]
        sent: Counter[str] = Counter()

        def count(request: httpx.Request) -> None:
            path = request.url.path
            if path.endswith("/verify_credentials"):
                sent["verify_credentials"] += 1
            elif path.startswith("/api/v1/statuses/"):
                sent["GET status"] += 1
            else:
                sent[f"{request.method} {path}"] += 1

        client.event_hooks["request"].append(count)

        # The catch-up: the job at the minute before the day, until nothing is due.
        before = start - STEP
        while True:
            started = time.perf_counter()
            report = measure_results(db, publishers, now=before)
            run.catchup_seconds += time.perf_counter() - started
            run.catchup_measured += len(report.measured)
            with db.transaction() as session:
                if not report.measured or not due_watches(session, before):
                    break
        run.catchup_requests = sum(sent.values())
        sent.clear()
        with db.transaction() as session:
            points_before = session.scalar(select(func.count()).select_from(ResultPoint)) or 0

        # The day: one pass a minute.
        waiting = list(today)
        for minute in range(minutes):
            tick = start + minute * STEP
            published = [p for p in waiting if p[0] <= tick]
            if published:  # the day's posts appear as they are published (not timed)
                _insert_published(db, team, channel_id, published)
                waiting = waiting[len(published) :]
            started = time.perf_counter()
            report = measure_results(db, publishers, now=tick)
            run.job_seconds.append(time.perf_counter() - started)
            run.passes += 1
            run.measured += len(report.measured)
            run.postponed += len(report.postponed)
            if report.measured or report.postponed:
                run.busy_passes += 1
                run.busy_seconds += run.job_seconds[-1]
        run.requests = sum(sent.values())
        run.by_path = Counter(sent)
        with db.transaction() as session:
            written = session.scalar(select(func.count()).select_from(ResultPoint)) or 0
        assert written - points_before == run.measured, (written, points_before, run.measured)
        return run
    finally:
        for publisher in publishers.values():
            close = getattr(publisher, "close", None)
            if close is not None:
                close()
        server.stop()
        db.dispose()


def pass_ms(run: ResultsCostRun) -> tuple[float, float]:
    values = [s * 1000 for s in run.job_seconds]
    return statistics.median(values), max(values)
