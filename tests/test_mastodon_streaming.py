"""Mastodon streaming against a real server on loopback (mastodon_mock from PyPI serves the
streaming API as Server-Sent Events): what a second account writes arrives by the stream long
before the poll interval; without streaming, polling delivers; a dropped stream catches up from
the stored cursor, once; two processes streaming store each item once; the early warning counts
streamed items."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from calendar_app.extensions import get_db
from calendar_app.listening.detector import detect_once
from calendar_app.listening.listener import listen_once
from calendar_app.listening.mastodon import NOTIFICATIONS
from calendar_app.listening.streaming import StreamReader, Streams
from calendar_app.models import InboxItem
from calendar_app.networks.mastodon import MastodonPublisher
from calendar_app.outbound import OutboundPolicy
from calendar_app.publishers import channel_secrets
from calendar_app.scheduler import start_background
from tests.conftest import Team
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.proxy import CuttableProxy
from tests.test_inbox import items, listening_channel, say

_names = itertools.count(1)


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    # Polling would come far too late: what arrives in these tests came by the stream (or by
    # the catch-up a reconnected stream does), unless a test polls itself.
    return {"LISTEN_INTERVAL_SECONDS": 3600.0, "SPIKE_MIN_MENTIONS": 2}


@pytest.fixture(scope="module")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon_streaming")).start()
    yield server
    server.stop()


@pytest.fixture
def ours(mastodon_server: MastodonServer) -> MastodonAccount:
    return mastodon_server.new_account(f"netzwerk{next(_names)}")


@pytest.fixture
def customer(mastodon_server: MastodonServer) -> MastodonAccount:
    return mastodon_server.new_account(f"kunde{next(_names)}")


@pytest.fixture
def make_streams(make_dispatcher: Any) -> Iterator[Callable[[Team], Streams]]:
    made: list[Streams] = []

    def make(team: Team) -> Streams:
        streams = Streams(get_db(team.app), make_dispatcher(team.app).publishers, retry_seconds=0.1)
        made.append(streams)
        return streams

    yield make
    for streams in made:
        streams.stop()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what or condition}")


def stored_count(team: Team) -> int:
    with get_db(team.app).transaction() as session:
        return session.scalar(select(func.count()).select_from(InboxItem)) or 0


def live_reader(streams: Streams, channel_id: int, source: str = NOTIFICATIONS) -> StreamReader:
    streams.sync()
    wait_for(lambda: streams.live(channel_id, source), what=f"{source} streamed")
    reader = streams.reader(channel_id, source)
    assert reader is not None
    return reader


def test_a_mention_arrives_by_the_stream_long_before_the_poll_interval(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
) -> None:
    channel_id = listening_channel(team, mastodon_server, ours)
    tag = f"leitungswasser{next(_names)}"
    team.admin.put(f"/channels/{channel_id}/hashtags", json={"tags": [tag]})
    scheduler, dispatcher = start_background(team.app)  # the streams start with the scheduler
    try:
        streams = team.app.extensions["calendar_streams"]
        for source in (NOTIFICATIONS, f"tag:{tag}"):
            wait_for(lambda s=source: streams.live(channel_id, s), what=f"{source} streamed")
        said = time.monotonic()
        say(mastodon_server, customer, f"@{ours.username} Kein Wasser in der Südstadt!")
        say(mastodon_server, customer, f"Seit heute früh braun: #{tag.title()}")
        wait_for(lambda: stored_count(team) == 2, what="both items stored")
        arrived = time.monotonic() - said
    finally:
        dispatcher.stop()
        scheduler.shutdown(wait=True)
        dispatcher.close()
    assert not any(streams.reader(channel_id, s) for s in (NOTIFICATIONS, f"tag:{tag}"))

    assert arrived < 5  # the poll interval is an hour
    by_kind = {i["kind"]: i for i in items(team)}
    assert by_kind["mention"]["text"] == f"@{ours.username} Kein Wasser in der Südstadt!"
    assert by_kind["mention"]["author"]["handle"].startswith(f"@{customer.username}@")
    assert by_kind["hashtag"]["text"] == f"Seit heute früh braun: #{tag.title()}"


def test_with_streaming_switched_off_on_the_server_polling_still_delivers(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_streams: Callable[[Team], Streams],
) -> None:
    # What a server with streaming switched off answers (mastodon_mock's `[streaming] enabled =
    # false` answers the same; a server of its own would cost seconds to start).
    mastodon_server.fault(status=404, method="GET", path="/api/v1/streaming/*", count=None)
    try:
        channel_id = listening_channel(team, mastodon_server, ours)
        streams = make_streams(team)
        streams.sync()
        reader = wait_for(lambda: streams.reader(channel_id, NOTIFICATIONS))
        wait_for(lambda: reader.state.off, what="the reader finds no stream")
        say(mastodon_server, customer, f"@{ours.username} Ist die Hotline erreichbar?")

        report = listen_once(get_db(team.app), streams.publishers, live=streams.live)
    finally:
        mastodon_server.clear_faults()

    assert not streams.live(channel_id, NOTIFICATIONS)
    assert report.errors == {}
    assert len(report.stored) == 1
    assert items(team)[0]["text"] == f"@{ours.username} Ist die Hotline erreichbar?"


def test_a_dropped_stream_catches_up_from_the_cursor_and_stores_each_item_once(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_streams: Callable[[Team], Streams],
) -> None:
    proxy = CuttableProxy(mastodon_server.base_url).start()
    try:
        channel = team.channel(
            "Mastodon über den Umweg",
            kind="mastodon",
            network="mastodon",
            config={"base_url": proxy.base_url, "access_token": ours.access_token},
        )
        streams = make_streams(team)
        reader = live_reader(streams, channel["id"])
        say(mastodon_server, customer, f"@{ours.username} Erste Frage")
        wait_for(lambda: stored_count(team) == 1, what="the first mention")

        proxy.cut()  # the connection drops; nothing can reach the server for a moment
        wait_for(lambda: not reader.live, what="the reader notices")
        say(mastodon_server, customer, f"@{ours.username} Zweite Frage, während der Stille")
        time.sleep(0.2)
        assert stored_count(team) == 1
        proxy.mend()
        wait_for(lambda: reader.live and reader.state.connections == 2, what="reconnected")
        wait_for(lambda: stored_count(team) == 2, what="the catch-up")
        say(mastodon_server, customer, f"@{ours.username} Dritte Frage")
        wait_for(lambda: stored_count(team) == 3, what="the stream again")
    finally:
        proxy.stop()

    texts = sorted(i["text"].split(" ", 1)[1] for i in items(team))
    assert texts == ["Dritte Frage", "Erste Frage", "Zweite Frage, während der Stille"]
    assert reader.state.stored == 3
    # Polling afterwards finds nothing new: the stream moved the cursor as polling does.
    assert listen_once(get_db(team.app), streams.publishers).stored == []


def test_two_processes_streaming_store_each_item_once(
    any_team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_streams: Callable[[Team], Streams],
) -> None:
    channel_id = listening_channel(any_team, mastodon_server, ours)
    readers = [live_reader(make_streams(any_team), channel_id) for _ in range(2)]
    for i in range(3):
        say(mastodon_server, customer, f"@{ours.username} Frage {i}")

    wait_for(lambda: all(r.state.events >= 3 for r in readers), what="both readers heard all")
    assert stored_count(any_team) == 3
    assert sum(r.state.stored for r in readers) == 3


def test_the_early_warning_counts_streamed_mentions(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_streams: Callable[[Team], Streams],
) -> None:
    channel_id = listening_channel(team, mastodon_server, ours)
    live_reader(make_streams(team), channel_id)
    for i in range(6):  # no history: three times SPIKE_MIN_MENTIONS (2)
        say(mastodon_server, customer, f"@{ours.username} Skandal! ({i})")
    wait_for(lambda: stored_count(team) == 6, what="six streamed mentions")

    from calendar_app.timeutil import now_utc

    opened = detect_once(get_db(team.app), team.app.config["CALENDAR"], now_utc())

    assert opened
    alerts = team.head.get("/alerts?status=open").get_json()["items"]
    assert channel_id in [a["channel_id"] for a in alerts]


def test_streams_obey_the_outbound_policy(
    team: Team, mastodon_server: MastodonServer, ours: MastodonAccount
) -> None:
    channel_id = listening_channel(team, mastodon_server, ours)
    production = MastodonPublisher(  # no private addresses, as in production
        policy=OutboundPolicy(), secrets=channel_secrets(team.app.config["CALENDAR"])
    )
    streams = Streams(get_db(team.app), {"mastodon": production}, retry_seconds=0.1)
    try:
        streams.sync()
        reader = wait_for(lambda: streams.reader(channel_id, NOTIFICATIONS))
        wait_for(lambda: reader.state.error, what="the reader's refusal")
    finally:
        streams.stop()
        production.close()

    assert "refused to connect to 127.0.0.1" in (reader.state.error or "")
    assert reader.state.connections == 0
    assert stored_count(team) == 0
