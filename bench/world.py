"""What the benchmarks run against: a database with a small team and webhook channels, a real
receiver process on loopback, `calendar-app scheduler` processes, and the ways to fill the
queue (through the real rules for what is measured, bulk INSERTs for background history)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

from calendar_app import planning
from calendar_app.accounts import create_token, create_user
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.migrate import upgrade
from calendar_app.models import Delivery, DeliveryStatus, Post, PostStatus, User
from calendar_app.timeutil import now_utc
from tests.support.postgres import PostgresServer, find_bin_dir

PASSWORD = secrets.token_urlsafe(16)  # the users of a throwaway database
CLI = str(Path(sys.executable).parent / "calendar-app")
ROOT = Path(__file__).resolve().parent.parent
BODY = "Wir laden ein zum Tag der offenen Tür im Heizkraftwerk Nordhafen. " * 2


class Receiver:
    """`bench.receiver` in a child process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver"], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(timeout=30)

    def url(self, path: str = "hook") -> str:
        return f"{self.base}/{path}"

    def reset(self) -> None:
        self.http.post(self.base + "/reset")

    def count(self) -> int:
        return self.http.get(self.base + "/stats?since=999999999").json()["count"]

    def arrivals(self) -> list[tuple[float, str]]:
        return [tuple(a) for a in self.http.get(self.base + "/stats?since=0").json()["arrivals"]]

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return True
            time.sleep(0.1)
        return self.count() >= count

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Team:
    admin_id: int
    planner_id: int
    head_id: int
    head_token: str
    planner_email: str = "planner@bench.example"


class Databases:
    """Fresh databases: SQLite files in a temporary folder, and one PostgreSQL server (started
    on first use) with a template database that has the team in it."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="calendar-bench-"))
        self.pg: PostgresServer | None = None
        self.numbers = iter(range(1_000_000))
        self._sqlite_template: tuple[Path, Team] | None = None
        self._pg_team: Team | None = None

    def fresh(self, engine: str) -> tuple[str, Team]:
        n = next(self.numbers)
        if engine == "sqlite":
            if self._sqlite_template is None:
                path = self.tmp / "template.db"
                upgrade(f"sqlite:///{path}")
                self._sqlite_template = (path, seed_team(f"sqlite:///{path}"))
            template, team = self._sqlite_template
            path = self.tmp / f"bench-{n}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}", team
        if self.pg is None:
            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise RuntimeError("PostgreSQL is not installed (make system-deps)")
            self.pg = PostgresServer(bin_dir).start()
            self.pg.create_database("bench_template")
            upgrade(self.pg.url("bench_template"))
            self._pg_team = seed_team(self.pg.url("bench_template"))
        assert self._pg_team is not None
        return self.pg.create_database(f"bench_{n}", template="bench_template"), self._pg_team

    def close(self) -> None:
        if self.pg is not None:
            self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def seed_team(url: str) -> Team:
    db = Database(url)
    try:
        with db.transaction() as session:
            users = {
                role: create_user(
                    session, f"{role}@bench.example", role=role, password=PASSWORD, name=role
                )
                for role in ("admin", "planner", "head")
            }
            token = create_token(session, users["head"], "bench")
            return Team(users["admin"].id, users["planner"].id, users["head"].id, token)
    finally:
        db.dispose()


def make_webhooks(db: Database, team: Team, receiver: Receiver, count: int) -> list[int]:
    with db.transaction() as session:
        admin = session.get(User, team.admin_id)
        return [
            create_channel(
                session,
                admin,
                name=f"Kanal {i}",
                kind="webhook",
                config={"url": receiver.url(f"hook/{i}"), "secret": "bench-secret"},
            ).id
            for i in range(count)
        ]


def plan(
    db: Database, team: Team, channel_ids: list[int], count: int, *, at: datetime, spread: float = 0
) -> list[int]:
    """`count` posts created, submitted and approved through the real rules, due at `at` (or
    spread evenly over the `spread` seconds after it), committed in one transaction so they all
    appear in the queue at once. Returns the post ids."""
    ids = []
    with db.transaction() as session:
        planner = session.get(User, team.planner_id)
        head = session.get(User, team.head_id)
        for i in range(count):
            when = at + timedelta(seconds=spread * i / max(count, 1))
            post = planning.create_post(
                session, planner, body=f"{BODY}{i}", channel_ids=channel_ids, publish_at=when
            )
            planning.submit_post(session, planner, post)
            planning.approve_post(session, head, post, allow_self_approval=False)
            ids.append(post.id)
    return ids


def seed_background(
    db: Database,
    team: Team,
    channel_id: int,
    count: int,
    *,
    spread_days: float = 365,
    future_only: bool = False,
) -> None:
    """History and future plans that are not due: `count` posts (one delivery each) spread
    evenly over `spread_days` around now (or from tomorrow on: `future_only`); the past ones
    published, the future ones scheduled (approved, waiting in the queue).
    Bulk INSERTs through SQLAlchemy Core: fast, and none of it is what a benchmark measures."""
    now = now_utc()
    start = now + timedelta(days=1) if future_only else now - timedelta(days=spread_days / 2)
    step = timedelta(days=spread_days) / max(count, 1)
    chunk = 5000
    for first in range(0, count, chunk):
        posts, when_by_index = [], []
        for i in range(first, min(count, first + chunk)):
            when = start + step * i
            # Nothing is due: the future is scheduled, the past is published.
            status = PostStatus.PUBLISHED if when < now else PostStatus.SCHEDULED
            posts.append(
                {
                    "title": f"Hintergrund {i}",
                    "body": BODY,
                    "status": status,
                    "publish_at": when,
                    "author_id": team.planner_id,
                    "approved_by_id": team.head_id,
                    "approved_at": when - timedelta(days=1),
                    "crisis_response": False,
                    "created_at": when - timedelta(days=2),
                    "updated_at": when - timedelta(days=1),
                }
            )
            when_by_index.append((when, status))
        with db.transaction() as session:
            post_ids = session.scalars(insert(Post).returning(Post.id), posts).all()
            # insert ... returning with executemany keeps the order of the parameters
            session.execute(
                insert(Delivery),
                [
                    {
                        "post_id": post_id,
                        "channel_id": channel_id,
                        "status": status,
                        "due_at": when,
                        "attempts": 1 if status == PostStatus.PUBLISHED else 0,
                        "published_at": when if status == PostStatus.PUBLISHED else None,
                    }
                    for post_id, (when, status) in zip(post_ids, when_by_index, strict=True)
                ],
            )


def delivery_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return dict(rows.all())


def due_count(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_([DeliveryStatus.SCHEDULED, DeliveryStatus.PUBLISHING]))
            .where(Delivery.due_at <= now_utc())
        )


class Schedulers:
    """`calendar-app scheduler` processes against one database."""

    def __init__(self, url: str, workdir: Path, **settings: Any) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CALENDAR_")}
        # Production refuses loopback targets; the benchmark's receiver is one.
        self.env.update(
            DATABASE_URL=url, CALENDAR_INSTANCE_PATH=str(workdir), WEBHOOK_ALLOWED_HOSTS="127.0.0.1"
        )
        for name in ("SECRET_KEY", "DISPATCH_BATCH_SIZE", "DISPATCH_CONCURRENCY"):
            self.env.pop(name, None)
        self.env.update({k: str(v) for k, v in settings.items()})
        # Production mode: the schedulers refuse to start without a key for channel secrets.
        self.env.setdefault("CHANNEL_SECRETS_KEY", Fernet.generate_key().decode())
        self.log = workdir / "schedulers.log"
        self.processes: list[subprocess.Popen] = []

    def start(self, count: int) -> None:
        with self.log.open("a") as log:
            for _ in range(count):
                self.processes.append(
                    subprocess.Popen(
                        [CLI, "scheduler"], env=self.env, stdout=log, stderr=subprocess.STDOUT
                    )
                )

    def peak_rss_kib(self) -> list[int]:
        """VmHWM of each process still running (its peak resident set so far)."""
        peaks = []
        for process in self.processes:
            status = Path(f"/proc/{process.pid}/status")
            if process.poll() is None and status.exists():
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]))
        return peaks

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def dump(obj: Any) -> str:
    return json.dumps(obj, default=str)
