"""Listening: how fast the listener stores what waits on a Mastodon server, and how soon a burst
of angry mentions opens an alert and holds what falls due on its channel.

Throughput: a mastodon-mock server holds `count` mentions of our account; the listener (passes
of `listen_once` into a fresh SQLite database, until nothing new comes) against a plain loop
that reads the same notification pages with the same client (`MastodonPublisher._call`, the
same page size and cursor) and keeps nothing. Items per second of both, measured in one run.

Burst: a calm channel with a post due two seconds after the burst starts; the scheduler's jobs
back to back (listen, detect, dispatch), without waiting for their intervals; the time from the
burst's first mention to the alert, and to the first hold. The post must be held, never posted
(read back from the server). In production the listener and the detector run every
LISTEN_INTERVAL_SECONDS and every minute: add up to those.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bench.world import Databases, plan
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.dispatch import Dispatcher
from calendar_app.listening.detector import detect_once
from calendar_app.listening.listener import listen_once
from calendar_app.listening.mastodon import PAGE_SIZE
from calendar_app.models import Delivery, DeliveryStatus, InboxItem, User
from calendar_app.networks.mastodon import MastodonPublisher
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.timeutil import now_utc
from config import Config
from tests.support.mastodon import MastodonAccount, MastodonServer

WRITERS = 8
BURST = 120


@dataclass(frozen=True)
class ListenRun:
    count: int
    stored: int
    rate: float  # items stored per second
    plain_rate: float  # items read per second by the plain loop
    passes: int


@dataclass(frozen=True)
class BurstRun:
    to_alert: float  # seconds from the burst's first mention to the alert
    to_hold: float  # ... to the first delivery held
    held: bool
    posted: int  # statuses of ours on the server (0: the post did not go out)


def _config(url: str, key: str) -> Config:
    return replace(
        Config(),
        ENV="testing",
        SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=url,
        CHANNEL_SECRETS_KEY=key,
    )


def _mention_all(server: MastodonServer, ours: MastodonAccount, count: int, tag: str) -> None:
    """`count` mentions of `ours`, written by WRITERS accounts at once."""
    writers = [server.new_account(f"{tag}fan{i}") for i in range(WRITERS)]
    with httpx.Client(timeout=30) as http:

        def say(i: int) -> None:
            who = writers[i % WRITERS]
            http.post(
                f"{server.base_url}/api/v1/statuses",
                json={"status": f"@{ours.username} Frage {i} zur Rechnung", "visibility": "public"},
                headers={"Authorization": f"Bearer {who.access_token}"},
            ).raise_for_status()

        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            list(pool.map(say, range(count)))


def _channel(db: Database, admin_id: int, server: MastodonServer, ours: Any, key: str) -> int:
    with db.transaction() as session:
        return create_channel(
            session,
            session.get(User, admin_id),
            name=f"Mastodon {ours.username}",
            kind="mastodon",
            network="mastodon",
            config={"base_url": server.base_url, "access_token": ours.access_token},
            secrets=ChannelSecrets(key),
        ).id


def listener_run(dbs: Databases, workdir: Path, count: int) -> ListenRun:
    server = MastodonServer(workdir).start()
    try:
        ours = server.new_account("werke")
        _mention_all(server, ours, count, "t")
        url, team = dbs.fresh("sqlite")
        key = Fernet.generate_key().decode()
        db = Database(url)
        dispatcher = Dispatcher(db, _config(url, key))
        try:
            _channel(db, team.admin_id, server, ours, key)
            publisher = dispatcher.publishers["mastodon"]
            assert isinstance(publisher, MastodonPublisher)
            config = {"base_url": server.base_url, "access_token": ours.access_token}

            started = time.perf_counter()
            newest, read = "0", 0
            while True:  # the plain loop: the same pages, the same client, nothing kept
                answer = publisher._call(
                    "GET", config, "/api/v1/notifications",
                    deadline=time.monotonic() + 30,
                    params={"types[]": ["mention", "quote"], "limit": PAGE_SIZE, "min_id": newest},
                )  # fmt: skip
                page = answer.body if isinstance(answer.body, list) else []
                if not page:
                    break
                read += len(page)
                newest = max((str(n["id"]) for n in page), key=lambda i: (len(i), i))
            plain = read / (time.perf_counter() - started)

            started = time.perf_counter()
            passes = 0
            while True:
                passes += 1
                report = listen_once(db, dispatcher.publishers)
                assert not report.errors, report.errors
                if not report.stored:
                    break
            elapsed = time.perf_counter() - started
            with db.transaction() as session:
                stored = session.scalar(select(func.count()).select_from(InboxItem)) or 0
            return ListenRun(count, stored, stored / elapsed, plain, passes)
        finally:
            dispatcher.close()
            db.dispose()
    finally:
        server.stop()


def burst_run(dbs: Databases, workdir: Path) -> BurstRun:
    server = MastodonServer(workdir).start()
    try:
        ours = server.new_account("werke")
        url, team = dbs.fresh("sqlite")
        key = Fernet.generate_key().decode()
        db = Database(url)
        dispatcher = Dispatcher(db, _config(url, key))
        try:
            channel_id = _channel(db, team.admin_id, server, ours, key)
            listen_once(db, dispatcher.publishers)  # a calm evening: nothing waits
            start = now_utc()
            plan(db, team, [channel_id], 1, at=start + timedelta(seconds=2))
            begun = time.perf_counter()
            _mention_all(server, ours, BURST, "b")
            to_alert = to_hold = None
            deadline = begun + 120
            while (to_alert is None or to_hold is None) and time.perf_counter() < deadline:
                listen_once(db, dispatcher.publishers)
                if detect_once(db, dispatcher.config, now_utc()) and to_alert is None:
                    to_alert = time.perf_counter() - begun
                dispatcher.run_pass()
                with db.transaction() as session:
                    held = session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.status == DeliveryStatus.HELD)
                    )
                if held and to_hold is None:
                    to_hold = time.perf_counter() - begun
            posted = len(
                httpx.get(
                    f"{server.base_url}/api/v1/accounts/{ours.id}/statuses", timeout=30
                ).json()
            )
            return BurstRun(
                to_alert if to_alert is not None else float("nan"),
                to_hold if to_hold is not None else float("nan"),
                to_hold is not None,
                posted,
            )
        finally:
            dispatcher.close()
            db.dispose()
    finally:
        server.stop()
