"""How fast the scheduler posts to a network channel, against a plain loop of the same requests
made with the same client (the channel kind's own publisher, on DISPATCH_CONCURRENCY threads).

Both are read back from the network's server, not from our tables: the rate is the number of
posts over the time from the first post's creation to the last's, as the server recorded them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography.fernet import Fernet

from bench.world import BODY, Databases, Schedulers, plan
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.models import User
from calendar_app.networks.base import Message
from calendar_app.networks.bluesky import BlueskyPublisher
from calendar_app.networks.mastodon import MastodonPublisher, parse_time
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.timeutil import now_utc
from config import Config
from tests.support.bluesky import POST, BlueskyServer
from tests.support.mastodon import MastodonServer

CONCURRENCY = Config().DISPATCH_CONCURRENCY
TIMEOUT = 10.0


class Network(Protocol):
    kind: str

    def new_account(self) -> Any: ...

    def config(self, account: Any) -> dict[str, Any]: ...

    def publisher(self) -> Any: ...

    def created_times(self, account: Any) -> list[datetime]:
        """When the server says each of the account's posts was made."""
        ...

    def stop(self) -> None: ...


class MastodonNetwork:
    kind = "mastodon"

    def __init__(self, workdir: Path) -> None:
        self.server = MastodonServer(workdir).start()
        self.numbers = iter(range(1_000_000))
        self.http = httpx.Client(timeout=30)

    def new_account(self) -> Any:
        return self.server.new_account(f"bench{next(self.numbers)}")

    def config(self, account: Any) -> dict[str, Any]:
        return {"base_url": self.server.base_url, "access_token": account.access_token}

    def publisher(self) -> MastodonPublisher:
        return MastodonPublisher(
            timeout=TIMEOUT, policy=OutboundPolicy(allowed_hosts=frozenset(LOOPBACK))
        )

    def created_times(self, account: Any) -> list[datetime]:
        times: list[datetime] = []
        params: dict[str, Any] = {"limit": 40}
        while True:
            page = self.http.get(
                f"{self.server.base_url}/api/v1/accounts/{account.id}/statuses", params=params
            ).json()
            if not page:
                return times
            times += [t for s in page if (t := parse_time(s["created_at"])) is not None]
            params["max_id"] = page[-1]["id"]

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


class BlueskyNetwork:
    kind = "bluesky"

    def __init__(self, workdir: Path) -> None:
        self.server = BlueskyServer(workdir).start()
        self.numbers = iter(range(1_000_000))

    def new_account(self) -> Any:
        return self.server.new_account(f"bench{next(self.numbers)}")

    def config(self, account: Any) -> dict[str, Any]:
        return {
            "service": self.server.url,
            "handle": account.handle,
            "app_password": account.app_password,
        }

    def publisher(self) -> BlueskyPublisher:
        return BlueskyPublisher(timeout=TIMEOUT, policy=OutboundPolicy(allowed_hosts=LOOPBACK))

    def created_times(self, account: Any) -> list[datetime]:
        """The records' own `createdAt` (written by the sender when it sent)."""
        times: list[datetime] = []
        params: dict[str, Any] = {"repo": account.did, "collection": POST, "limit": 100}
        while True:
            page = self.server.xrpc("GET", "com.atproto.repo.listRecords", params=params).json()
            times += [parse_time(r["value"]["createdAt"]) for r in page["records"]]
            if not page.get("cursor") or not page["records"]:
                return [t for t in times if t is not None]
            params["cursor"] = page["cursor"]

    def stop(self) -> None:
        self.server.stop()


LOOPBACK = frozenset({"127.0.0.1", "localhost"})
NETWORKS: dict[str, Callable[[Path], Network]] = {
    "mastodon": MastodonNetwork,
    "bluesky": BlueskyNetwork,
}


def rate(times: list[datetime]) -> float:
    ordered = sorted(times)
    return (len(ordered) - 1) / (ordered[-1] - ordered[0]).total_seconds()


def wait_for(network: Network, account: Any, count: int, timeout: float) -> list[datetime]:
    deadline = time.monotonic() + timeout
    while True:
        times = network.created_times(account)
        if len(times) >= count or time.monotonic() > deadline:
            return times
        time.sleep(0.25)


def plain_rate(network: Network, count: int) -> float:
    """The same requests, sent by a plain loop on DISPATCH_CONCURRENCY threads with the
    channel kind's own publisher (the same client the scheduler uses)."""
    account = network.new_account()
    config = network.config(account)
    publisher = network.publisher()
    now = now_utc()

    def send(i: int) -> None:
        message = Message(
            post_id=100_000 + i,
            delivery_id=100_000 + i,
            channel_id=1,
            title="",
            body=f"{BODY}{i}",
            publish_at=now,
            post_created_at=now,
        )
        outcome = publisher.send(message, config, deadline=time.monotonic() + TIMEOUT)
        assert outcome.status == "published", outcome

    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, range(count)))
    finally:
        publisher.close()
    times = wait_for(network, account, count, timeout=30)
    assert len(times) == count, f"{len(times)} posts on the server for {count} sent"
    return rate(times)


@dataclass
class NetworkRun:
    count: int
    rate: float
    duplicates: int


def dispatch_rate(dbs: Databases, network: Network, *, engine: str, count: int) -> NetworkRun:
    """`count` posts to one network channel, planned through the real rules, due at one moment,
    sent by one `calendar-app scheduler` process."""
    url, team = dbs.fresh(engine)
    db = Database(url)
    key = Fernet.generate_key().decode()
    workdir = dbs.tmp / f"net-{time.monotonic_ns()}"
    workdir.mkdir()
    schedulers = Schedulers(url, workdir, WEBHOOK_TIMEOUT_SECONDS=TIMEOUT, CHANNEL_SECRETS_KEY=key)
    account = network.new_account()
    try:
        with db.transaction() as session:
            admin = session.get(User, team.admin_id)
            channel = create_channel(
                session,
                admin,
                name=f"{network.kind} bench",
                kind=network.kind,
                network=network.kind,
                config=network.config(account),
                secrets=ChannelSecrets(key),
            )
            channel_id = channel.id
        schedulers.start(1)
        plan(db, team, [channel_id], count, at=now_utc() + timedelta(seconds=3 + count / 200))
        times = wait_for(network, account, count, timeout=120 + count / 5)
        time.sleep(1.0)  # a second post of any delivery would show now
        times = network.created_times(account)
        assert len(times) >= count, f"only {len(times)} of {count} posts on the server"
        return NetworkRun(count, rate(times), len(times) - count)
    finally:
        schedulers.stop()
        db.dispose()


def network_runs(
    dbs: Databases, kind: str, *, count: int, reps: int
) -> tuple[list[float], list[float], int]:
    """Dispatch rates, plain-loop rates (alternating, in one run) and duplicates seen."""
    network = NETWORKS[kind](Path(tempfile.mkdtemp(dir=dbs.tmp)))
    dispatched, plain, duplicates = [], [], 0
    try:
        for _ in range(reps):
            plain.append(plain_rate(network, count))
            run = dispatch_rate(dbs, network, engine="sqlite", count=count)
            dispatched.append(run.rate)
            duplicates += run.duplicates
    finally:
        network.stop()
    return dispatched, plain, duplicates
