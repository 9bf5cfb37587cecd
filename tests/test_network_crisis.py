"""A crisis declared mid-stream on a mix of webhook, Mastodon and Bluesky channels: once the
declaration has returned, nothing more appears on either network (read back from the servers,
not from our tables) nor at the webhook receiver."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Team
from tests.support.bluesky import BlueskyServer
from tests.support.mastodon import MastodonServer
from tests.support.receiver import Receiver, Reply
from tests.test_bluesky import bluesky_channel
from tests.test_mastodon import mastodon, mastodon_channel, mastodon_server  # noqa: F401

POSTS = 10


def seen_on_networks(
    masto: MastodonServer, masto_account: Any, sky: BlueskyServer, sky_account: Any
) -> tuple[set[str], set[str]]:
    return (
        {s["id"] for s in masto.statuses(masto_account)},
        {p["uri"] for p in sky.posts(sky_account)},
    )


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 2}])
def test_nothing_appears_on_any_network_after_the_declaration_returned(
    any_team: Team,
    mastodon: MastodonServer,  # noqa: F811
    bluesky_server: BlueskyServer,
    receiver: Receiver,
    make_dispatcher: Any,
) -> None:
    masto_account = mastodon.new_account(f"krise{time.monotonic_ns()}")
    sky_account = bluesky_server.new_account(f"krise{time.monotonic_ns() % 10**9}")
    mastodon.fault(status=200, effect="latency", delay_ms=300, count=None)
    receiver.reply = lambda _r: Reply(delay=0.3)
    channels = [
        mastodon_channel(any_team, mastodon, masto_account)["id"],
        bluesky_channel(any_team, bluesky_server, sky_account)["id"],
        any_team.channel(
            "Hook", kind="webhook", network="x", config={"url": receiver.url, "secret": "k"}
        )["id"],
    ]
    due = datetime.now(UTC) - timedelta(seconds=1)
    posts = [
        any_team.scheduled(channels, at=due, body=f"Sommerfest, Teil {n}") for n in range(POSTS)
    ]
    dispatcher = make_dispatcher(any_team.app)
    with ThreadPoolExecutor(max_workers=1) as pool:
        passing = pool.submit(dispatcher.run_pass)
        until = time.monotonic() + 30
        while len(receiver.snapshot()) < 2 and time.monotonic() < until:
            time.sleep(0.02)
        declared = any_team.head.post("/crisis", json={"reason": "Shitstorm"})
        returned_at = time.monotonic()
        at_return = seen_on_networks(mastodon, masto_account, bluesky_server, sky_account)
        passing.result(timeout=90)

    assert declared.status_code == 201, declared.get_json()
    assert declared.get_json()["still_open"] == []
    time.sleep(0.5)  # a send that slipped through would show by now
    assert seen_on_networks(mastodon, masto_account, bluesky_server, sky_account) == at_return
    assert [r for r in receiver.snapshot() if r.at > returned_at] == []
    on_mastodon, on_bluesky = at_return
    assert len(on_mastodon) < POSTS
    assert len(on_bluesky) < POSTS
    statuses = [any_team.post(p["id"])["status"] for p in posts]
    assert "held" in statuses
    # Every delivery that is published is on its network, and nothing is there twice.
    published = [
        d for p in posts for d in any_team.post(p["id"])["deliveries"] if d["status"] == "published"
    ]
    remote = {d["remote_id"] for d in published if d["remote_id"]}
    assert remote <= on_mastodon | on_bluesky
    assert len(on_mastodon) + len(on_bluesky) == len(remote)
