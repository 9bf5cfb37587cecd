"""Bluesky channels against a real PDS on loopback (the reference @atproto/pds from npm, with a
local PLC directory and its rate limits on): what arrives is read back from the PDS through its
XRPC API, never from our own tables."""

from __future__ import annotations

import itertools
import json
import os
import struct
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from atproto_client.models.string_formats import TID_RE
from atproto_core.uri import AtUri
from sqlalchemy import select, update

from calendar_app.dispatch import delivery_messages
from calendar_app.extensions import get_db
from calendar_app.models import Channel, Delivery, DeliveryStatus, Notification
from calendar_app.networks.base import REVOKED, MediaFile, Message, NetworkError, Outcome
from calendar_app.networks.bluesky import (
    COLLISION,
    BlueskyPublisher,
    check_firehose,
    handle_of,
    post_url,
    record_key,
    reply_of,
    service_url,
    tid,
)
from calendar_app.networks.mastodon import parse_time
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.publishers import channel_secrets
from calendar_app.unknown_checks import NOT_FOUND, check_unknown_deliveries
from tests.conftest import Clock, Team
from tests.support.bluesky import BlueskyAccount, BlueskyServer, counting
from tests.support.postgres import free_port
from tests.support.proxy import AnsweringProxy
from tests.support.secrets import unreadable_secret
from tests.support.web import csrf_token, signed_in

_names = itertools.count(1)


@pytest.fixture
def account(bluesky_server: BlueskyServer) -> BlueskyAccount:
    """A fresh account per test: one test's records never meet another's (every test's
    deliveries start at id 1)."""
    return bluesky_server.new_account(f"presse{next(_names)}")


def bluesky_channel(
    team: Team, server: BlueskyServer, account: BlueskyAccount, name: str = "Bluesky", **config: Any
) -> dict[str, Any]:
    settings = {"service": server.url, "handle": account.handle}
    settings["app_password"] = account.app_password
    return team.channel(name, kind="bluesky", network="bluesky", config={**settings, **config})


def delivery(team: Team, post: dict[str, Any]) -> dict[str, Any]:
    [only] = team.post(post["id"])["deliveries"]
    return only


def message_of(team: Team, delivery_id: int) -> Message:
    with get_db(team.app).transaction() as session:
        [out] = delivery_messages(session, [delivery_id])
    return out.message


def publisher(team: Team) -> BlueskyPublisher:
    config = team.app.config["CALENDAR"]
    return BlueskyPublisher(
        timeout=10, policy=OutboundPolicy.from_config(config), secrets=channel_secrets(config)
    )


def rkey_of(uri: str) -> str:
    return AtUri.from_str(uri).rkey


# --- the record key ------------------------------------------------------------------------------


def test_the_record_key_is_a_valid_tid_and_distinct_per_delivery() -> None:
    written = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    ids = [1, 2, 999_999, 1_000_000, 1_000_001, 2_000_000, 1_023_999_999]
    keys = [record_key(Message(1, i, 1, "", "", written, post_created_at=written)) for i in ids]
    assert all(TID_RE.match(k) for k in keys), keys
    assert len(set(keys)) == len(keys)
    # Microseconds: the post's second, plus the delivery id below a million; clock id above it.
    second = int(written.replace(microsecond=0).timestamp())
    assert keys[0] == tid(second * 1_000_000 + 1, 0)
    assert keys[3] == tid(second * 1_000_000, 1)
    # Another installation: the same delivery id, a post written at another second.
    other = written + timedelta(seconds=1)
    assert record_key(Message(1, 1, 1, "", "", other, post_created_at=other)) != keys[0]


@pytest.mark.parametrize(("microseconds", "clock_id"), [(2**53, 0), (-1, 0), (0, 1024), (0, -1)])
def test_a_tid_holds_53_bits_of_microseconds_and_a_clock_id_below_1024(
    microseconds: int, clock_id: int
) -> None:
    with pytest.raises(
        ValueError, match=r"^a TID holds 53 bits of microseconds and a clock id below 1024$"
    ):
        tid(microseconds, clock_id)


def test_the_largest_tid_is_13_characters_of_the_sortable_alphabet() -> None:
    assert tid(2**53 - 1, 1023) == "b" + "z" * 12  # 63 bits: the first character holds 3
    assert tid(0, 0) == "2" * 13
    assert TID_RE.match(tid(2**53 - 1, 1023))


def test_a_record_key_without_the_posts_writing_time_takes_its_planned_time_as_utc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A time without a zone is UTC, whatever the server's own zone; one with a zone is that
    instant."""
    planned = datetime(2026, 12, 1, 9, 30, 15)  # no zone: UTC
    second = int(planned.replace(tzinfo=UTC).timestamp())
    expected = tid(second * 1_000_000 + 7, 0)
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert record_key(Message(1, 7, 1, "", "", planned)) == expected
    finally:
        monkeypatch.undo()
        time.tzset()
    in_berlin = planned.replace(hour=10, tzinfo=timezone(timedelta(hours=1)))
    assert record_key(Message(1, 7, 1, "", "", in_berlin)) == expected


def test_the_clock_id_takes_the_delivery_ids_millions_round_1024() -> None:
    written = datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC)
    second = int(written.timestamp())
    for delivery_id, clock_id in ((1_023_000_002, 1023), (1_024_000_002, 0), (1_025_000_002, 1)):
        key = record_key(Message(1, delivery_id, 1, "", "", written, post_created_at=written))
        assert key == tid(second * 1_000_000 + 2, clock_id)


def test_a_channels_service_handle_and_post_address() -> None:
    assert service_url({}) == "https://bsky.social"
    assert service_url({"service": " https://pds.example/ "}) == "https://pds.example"
    assert service_url({"service": "https://PDS.BOX/"}) == "https://PDS.BOX"
    assert handle_of({"handle": " @Presse.Example "}) == "presse.example"
    assert post_url("presse.example", "3kabc") == (
        "https://bsky.app/profile/presse.example/post/3kabc"
    )


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"handle": "presse.example", "app_password": "p" * 500}, {}),
        (
            {"service": "", "handle": " ", "app_password": " "},
            {
                "config.service": "must be the server's URL, e.g. https://bsky.social",
                "config.handle": "is required for a Bluesky channel (e.g. name.bsky.social)",
                "config.app_password": "is required for a Bluesky channel",
            },
        ),
        (
            {"handle": "presse", "app_password": "p" * 501},
            {
                "config.handle": "must be a handle like name.bsky.social",
                "config.app_password": "must be at most 500 characters",
            },
        ),
        *(
            (
                {"handle": handle, "app_password": "p"},
                {"config.handle": "must be a handle like name.bsky.social"},
            )
            for handle in (
                "presse..example",
                "pres_se.example",
                "presse.exämple",
                "a." * 127,
                "-.example",
            )
        ),
        ({"handle": "@presse-team.example", "app_password": "p"}, {}),
        # 253 characters, the most a handle has
        ({"handle": ".".join(("a" * 63, "b" * 63, "c" * 63, "d" * 61)), "app_password": "p"}, {}),
        (
            {"handle": "a.example", "app_password": "p", "firehose": " "},
            {"config.firehose": "must be the stream's address, e.g. wss://bsky.network"},
        ),
        (
            {"handle": "a.example", "app_password": "p", "zone": 1, "extra": 2},
            {"config": "unknown field(s): extra, zone"},
        ),
    ],
)
def test_a_bluesky_channels_settings_are_checked_field_by_field(
    config: dict[str, Any], problems: dict[str, str]
) -> None:
    found = BlueskyPublisher.check_config(config)
    assert {field: str(problem) for field, problem in found.items()} == problems


def test_a_bluesky_channels_servers_are_checked_against_the_outbound_policy() -> None:
    """In production (no private addresses) a PDS or firehose on the office network is refused
    when the channel is saved, in the policy's words."""
    policy = OutboundPolicy()
    config = {
        "service": "https://10.1.2.3", "handle": "a.example", "app_password": "p",
        "firehose": "wss://10.1.2.4",
    }  # fmt: skip
    assert BlueskyPublisher.check_config(config, policy) == {
        "config.service": policy.check_host("10.1.2.3"),
        "config.firehose": policy.check_host("10.1.2.4"),
    }
    assert policy.check_host("10.1.2.3")
    assert BlueskyPublisher.check_config(config, OutboundPolicy(allow_private=True)) == {}


@pytest.mark.parametrize(
    ("firehose", "problem"),
    [
        ("wss://relay.example", None),
        ("https://relay.example/xrpc/", None),
        ("ws://127.0.0.1:2583", None),
        (None, "must be the stream's address, e.g. wss://bsky.network"),
        ("ftp://relay.example", "must be an http(s):// or ws(s):// address"),
        ("wss:///xrpc", "must be an http(s):// or ws(s):// address"),
        ("wss://relay.example/other", "must be the server's address only, e.g. wss://bsky.network"),
        (
            "wss://relay.example?cursor=1",
            "must be the server's address only, e.g. wss://bsky.network",
        ),
        ("wss://relay.example#x", "must be the server's address only, e.g. wss://bsky.network"),
        ("wss://relay.example/X", "must be the server's address only, e.g. wss://bsky.network"),
    ],
)
def test_a_firehose_is_a_servers_address_only(firehose: Any, problem: str | None) -> None:
    assert check_firehose(firehose) == problem


def test_a_reply_answers_into_its_thread_or_fails_without_one() -> None:
    root, parent = (
        {"uri": "at://did:plc:a/p/1", "cid": "c1"},
        {"uri": "at://did:plc:b/p/2", "cid": 2},
    )
    assert reply_of(json.dumps({"root": root, "parent": parent, "extra": 1})) == {
        "root": root,
        "parent": {"uri": "at://did:plc:b/p/2", "cid": "2"},
    }
    for broken in (json.dumps({"root": root}), "not json", json.dumps([root, parent])):
        with pytest.raises(NetworkError) as refused:
            reply_of(broken)
        assert refused.value.final
        assert str(refused.value.reason) == (
            "the reply lacks its thread on Bluesky (the root and parent post it answers)"
        )


# --- publishing ----------------------------------------------------------------------------------


def test_a_post_appears_on_the_pds_with_facets_and_its_delivery_keeps_uri_and_url(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    friend = bluesky_server.new_account(f"freunde{next(_names)}")
    channel = bluesky_channel(team, bluesky_server, account)
    text = (
        f"Tür auf 🎭 für alle „Gäste“ — Programm: https://stadtwerke.example/tag?x=1 "
        f"mit @niemand.test und @{friend.handle}"
    )
    post = team.scheduled([channel["id"]], at=clock.now, body=text)
    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert report.published == [post["deliveries"][0]["id"]]
    [record] = bluesky_server.posts(account)
    value = record["value"]
    assert value["text"] == text
    assert value["createdAt"].endswith("Z")
    raw = text.encode()
    spans = {
        raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in value["facets"]
    }
    assert (
        spans["https://stadtwerke.example/tag?x=1"]["uri"] == "https://stadtwerke.example/tag?x=1"
    )
    assert spans[f"@{friend.handle}"] == {
        "$type": "app.bsky.richtext.facet#mention", "did": friend.did,
    }  # fmt: skip
    assert "@niemand.test" not in spans  # unknown: plain text, and the next one still linked
    assert {f["$type"] for f in value["facets"]} == {"app.bsky.richtext.facet"}
    rkey = rkey_of(record["uri"])
    assert rkey == record_key(message_of(team, post["deliveries"][0]["id"]))
    sent = delivery(team, post)
    assert sent["status"] == "published"
    assert sent["remote_id"] == record["uri"]
    assert sent["url"] == f"https://bsky.app/profile/{account.handle}/post/{rkey}"
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize(
    ("status", "headers", "said", "waits"),
    [
        (500, {}, "Bluesky answered HTTP 500 Internal Server Error", None),
        (
            429,
            {"ratelimit-reset": "RESET"},
            "Bluesky answered HTTP 429 Too Many Requests (rate limit)",
            120,
        ),
    ],
)
def test_a_mention_the_pds_cannot_resolve_now_is_tried_again_never_posted_unlinked(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    status: int, headers: dict[str, str], said: str, waits: int | None,
) -> None:  # fmt: skip
    """The PDS answers the mention's look-up 500 (overloaded) or 429 (its limit, reset in two
    minutes): the post is tried again then, not posted with the mention as plain text."""
    friend = bluesky_server.new_account(f"freunde{next(_names)}")
    if "ratelimit-reset" in headers:
        headers = {"ratelimit-reset": str(int(time.time()) + 120)}
    proxy = AnsweringProxy(bluesky_server.url).start()
    proxy.answers["/xrpc/com.atproto.identity.resolveHandle"] = (
        status, headers, {"error": "Busy", "message": "try later"},
    )  # fmt: skip
    try:
        channel = bluesky_channel(team, bluesky_server, account, service=proxy.base_url)
        outcome = send_once(team, channel, f"Danke, @{friend.handle}!")
    finally:
        proxy.stop()

    assert (outcome.status, outcome.detail) == ("retry", said)
    if waits is None:
        assert outcome.retry_after is None
    else:
        assert outcome.retry_after is not None
        assert waits - 5 <= outcome.retry_after <= waits
    assert [path.split("?")[0] for path in proxy.answered] == [
        "/xrpc/com.atproto.identity.resolveHandle"
    ]
    assert bluesky_server.posts(account) == []


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (401, ("failed", REVOKED, True)),
        (403, ("failed", REVOKED, True)),
        (429, ("retry", "Bluesky answered HTTP 429 Too Many Requests (rate limit)", False)),
    ],
)
def test_a_write_refused_for_the_account_or_its_limit_is_not_looked_up(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    status: int, outcome: tuple[str, str, bool],
) -> None:  # fmt: skip
    """Only a write refused otherwise may have been written by an earlier attempt (the PDS
    refuses a taken key): after 401, 403 or 429 there is nothing to look for, and a look-up
    would spend the same account's limit."""
    proxy = AnsweringProxy(bluesky_server.url).start()
    proxy.answers["/xrpc/com.atproto.repo.createRecord"] = (
        status, {}, {"error": "Refused", "message": "not now"},
    )  # fmt: skip
    try:
        channel = bluesky_channel(team, bluesky_server, account, service=proxy.base_url)
        sent = send_once(team, channel, "Abgelehnt.")
    finally:
        proxy.stop()

    assert (sent.status, sent.detail, sent.tell_owners) == outcome
    assert not [path for path in proxy.seen if "getRecord" in path]
    assert bluesky_server.posts(account) == []


def test_a_second_attempt_of_the_same_delivery_makes_no_second_record(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Nur einmal, bitte.")
    sent_id = post["deliveries"][0]["id"]
    # A first attempt that reached the PDS, whose answer we never saw (the sender died).
    first = publisher(team)
    try:
        outcome = first.send(
            message_of(team, sent_id), channel_config(team, channel), deadline=deadline()
        )
    finally:
        first.close()
    assert outcome.status == "published"
    make_dispatcher(team.app, clock=clock).run_pass()

    [record] = bluesky_server.posts(account)
    assert record["uri"] == outcome.remote_id
    sent = delivery(team, post)
    assert (sent["status"], sent["remote_id"], sent["url"]) == (
        "published", outcome.remote_id, outcome.url,
    )  # fmt: skip


def test_another_post_under_the_delivery_key_is_a_collision_and_is_never_overwritten(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Unser Text.")
    rkey = record_key(message_of(team, post["deliveries"][0]["id"]))
    bluesky_server.write_post(account, "Ein anderer Text.", rkey=rkey)
    make_dispatcher(team.app, clock=clock).run_pass()

    failed = delivery(team, post)
    assert (failed["status"], failed["error"]) == ("failed", COLLISION)
    [record] = bluesky_server.posts(account)
    assert record["value"]["text"] == "Ein anderer Text."


def channel_config(team: Team, channel: dict[str, Any]) -> dict[str, Any]:
    """The channel's stored config (the app password sealed), as dispatch reads it."""
    with get_db(team.app).transaction() as session:
        return dict(session.get(Channel, channel["id"]).config)  # type: ignore[union-attr]


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def test_images_are_uploaded_as_blobs_with_alt_text_and_aspect_ratio(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, tmp_path: Path
) -> None:
    """Three images, one of them a single pixel wide and one a single pixel high: each keeps
    its alt text and its own aspect ratio, and they go up in the channel's one session."""
    channel = bluesky_channel(team, bluesky_server, account)
    media = tuple(
        png_file(tmp_path / f"{name}.png", width, height, alt=f"Das {name}")
        for name, width, height in (("Plakat", 4, 3), ("Band", 1, 2), ("Leiste", 2, 1))
    )
    sender = publisher(team)
    sign_ins = counting(sender.atproto, "sign_in")
    outcome = send_once(team, channel, "Mit Bildern.", media, sender=sender)

    assert outcome.status == "published", outcome.detail
    [record] = bluesky_server.posts(account)
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [(shown["alt"], shown["aspectRatio"]) for shown in embed["images"]] == [
        ("Das Plakat", {"width": 4, "height": 3}),
        ("Das Band", {"width": 1, "height": 2}),
        ("Das Leiste", {"width": 2, "height": 1}),
    ]
    assert [shown["image"]["mimeType"] for shown in embed["images"]] == ["image/png"] * 3
    assert [shown["image"]["size"] for shown in embed["images"]] == [m.size for m in media]
    assert sign_ins() == 1


def test_an_image_that_cannot_be_read_fails_at_once_naming_it(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, tmp_path: Path
) -> None:
    channel = bluesky_channel(team, bluesky_server, account)
    image = png_file(tmp_path / "weg.png", 4, 3, alt="Weg")
    image.path.unlink()  # removed from the media folder after it was attached
    outcome = send_once(team, channel, "Ohne Bild.", (image,))

    assert (outcome.status, outcome.detail) == (
        "failed",
        "the image weg.png cannot be read: No such file or directory",
    )
    assert bluesky_server.posts(account) == []


def test_an_image_the_pds_refuses_fails_with_its_words_and_posts_nothing(
    team: Team, tmp_path: Path
) -> None:
    """A PDS that takes blobs of at most 1,000 bytes answers a larger one 413 in its own words."""
    (tmp_path / "pds").mkdir()
    server = BlueskyServer(tmp_path / "pds", blob_upload_limit=1000).start()
    try:
        account = server.new_account("grenze")
        channel = bluesky_channel(team, server, account)
        image = png_file(tmp_path / "gross.png", 40, 40, alt="Zu groß", noisy=True)
        assert image.size > 1000
        outcome = send_once(team, channel, "Zu groß.", (image,))
        assert (outcome.status, outcome.detail, outcome.tell_owners) == (
            "failed",
            "Bluesky refused the image: request entity too large",
            False,
        )
        assert server.posts(account) == []
    finally:
        server.stop()


def send_once(
    team: Team, channel: dict[str, Any], body: str, media: tuple[MediaFile, ...] = (),
    *, sender: BlueskyPublisher | None = None,
) -> Outcome:  # fmt: skip
    """One message (delivery 77, written now) sent straight through a publisher of its own, or
    `sender`, which is closed after."""
    sender = sender or publisher(team)
    now = datetime.now(UTC)
    message = Message(
        post_id=1, delivery_id=77, channel_id=channel["id"], title="", body=body,
        publish_at=now, post_created_at=now, media=media,
    )  # fmt: skip
    try:
        return sender.send(message, channel_config(team, channel), deadline=deadline())
    finally:
        sender.close()


def png_file(path: Path, width: int, height: int, *, alt: str, noisy: bool = False) -> MediaFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png(width, height, noisy=noisy))
    return MediaFile(path, "image/png", alt, width, height, path.stat().st_size)


def _png(width: int, height: int, *, noisy: bool = False) -> bytes:
    """An RGB PNG: one orange, or (`noisy`) random pixels that do not compress."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    def pixels() -> bytes:
        return os.urandom(3 * width) if noisy else b"\xff\x80\x00" * width

    rows = b"".join(b"\x00" + pixels() for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --- signing in ----------------------------------------------------------------------------------


def test_one_sign_in_serves_many_posts_and_an_expired_token_is_refreshed(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    """The PDS allows 30 sign-ins per account in 5 minutes: 36 posts with a sign-in each would
    be refused. One sign-in serves them all, though 8 senders start at once, and a post the PDS
    took is not looked up again; a token the PDS refuses is refreshed, not replaced by a new
    sign-in."""
    channel = bluesky_channel(team, bluesky_server, account)
    dispatcher = make_dispatcher(team.app, clock=clock)
    sender = dispatcher.publishers["bluesky"]
    sign_ins = counting(sender.atproto, "sign_in")
    asked: list[str] = []
    original = sender.atproto.request

    def watching(method: str, service: str, nsid: str, **kwargs: Any) -> Any:
        asked.append(nsid)
        return original(method, service, nsid, **kwargs)

    sender.atproto.request = watching
    posts = [team.scheduled([channel["id"]], at=clock.now, body=f"Beitrag {n}") for n in range(36)]
    for _ in range(3):
        dispatcher.run_pass()
    assert [delivery(team, p)["status"] for p in posts] == ["published"] * 36
    assert len(bluesky_server.posts(account)) == 36
    assert sign_ins() == 1
    assert Counter(asked) == {
        "com.atproto.server.createSession": 1,
        "com.atproto.repo.createRecord": 36,
    }

    # The access token expires (here: the PDS no longer accepts it).
    [key] = sender.atproto._sessions
    sender.atproto._sessions[key] = type(sender.atproto._sessions[key])(
        **{**sender.atproto._sessions[key].__dict__, "access": "abgelaufen"}
    )
    asked.clear()
    later = team.scheduled([channel["id"]], at=clock.now, body="Nach dem Ablauf.")
    dispatcher.run_pass()
    assert delivery(team, later)["status"] == "published"
    assert asked == [
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert sign_ins() == 1


def test_two_channels_post_as_their_own_accounts_through_one_publisher(
    team: Team, bluesky_server: BlueskyServer, make_dispatcher: Any, clock: Clock
) -> None:
    """Press office and customer service on one PDS: each channel's posts, in one pass of one
    scheduler, appear on its own account and never on the other's."""
    press = bluesky_server.new_account(f"presse{next(_names)}")
    service = bluesky_server.new_account(f"kundendienst{next(_names)}")
    press_post = team.scheduled(
        [bluesky_channel(team, bluesky_server, press, name="Presse")["id"]],
        at=clock.now, body="Aus der Pressestelle.",
    )  # fmt: skip
    service_post = team.scheduled(
        [bluesky_channel(team, bluesky_server, service, name="Kundendienst")["id"]],
        at=clock.now, body="Aus dem Kundendienst.",
    )  # fmt: skip
    make_dispatcher(team.app, clock=clock).run_pass()

    assert [delivery(team, p)["status"] for p in (press_post, service_post)] == ["published"] * 2
    assert [r["value"]["text"] for r in bluesky_server.posts(press)] == ["Aus der Pressestelle."]
    assert [r["value"]["text"] for r in bluesky_server.posts(service)] == ["Aus dem Kundendienst."]


def test_a_wrong_app_password_fails_tells_owner_and_deputy_and_posts_nothing(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = bluesky_channel(team, bluesky_server, account, app_password="aaaa-bbbb-cccc-dddd")
    keepers = {"owner_id": team.ids["head"], "deputy_id": team.ids["planner2"]}
    assert team.admin.patch(f"/channels/{channel['id']}", json=keepers).status_code == 200
    post = team.scheduled([channel["id"]], at=clock.now, body="Geht nicht.")
    make_dispatcher(team.app, clock=clock).run_pass()

    failed = delivery(team, post)
    assert (failed["status"], failed["error"], failed["attempts"]) == ("failed", REVOKED, 1)
    assert bluesky_server.posts(account) == []
    assert _told(team, "channel_reconnect") == {team.ids["head"], team.ids["planner2"]}


@unreadable_secret("app password")
def test_a_scheduler_that_cannot_read_the_app_password_fails_at_once_asking_nothing(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    secrets: ChannelSecrets | None, said: str,
) -> None:  # fmt: skip
    """A scheduler started without CHANNEL_SECRETS_KEY, or with a key that did not seal the
    stored app password: the post fails saying so, not retried, and the PDS is never asked."""
    channel = bluesky_channel(team, bluesky_server, account)
    sender = BlueskyPublisher(
        timeout=10, policy=OutboundPolicy(allow_private=True), secrets=secrets
    )
    sign_ins = counting(sender.atproto, "sign_in")
    sent = send_once(team, channel, "Ohne Schlüssel.", sender=sender)
    assert (sent.status, sent.detail, sent.tell_owners) == ("failed", said, False)
    assert sign_ins() == 0
    assert bluesky_server.posts(account) == []


def test_a_rate_limited_sign_in_is_retried_when_the_limit_resets(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    for _ in range(30):  # someone else used up the account's sign-ins
        bluesky_server.sign_in(account)
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Später, bitte.")
    make_dispatcher(team.app, clock=clock).run_pass()

    waiting = delivery(team, post)
    assert waiting["status"] == "scheduled"
    assert "429" in waiting["error"]
    due = datetime.fromisoformat(waiting["due_at"])
    # The PDS's limit window is 5 minutes, counted from the first of those sign-ins.
    assert timedelta(minutes=4) < due - clock.now <= timedelta(minutes=5, seconds=10)
    assert bluesky_server.posts(account) == []


def test_a_refused_post_fails_with_the_networks_own_message(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount
) -> None:
    channel = bluesky_channel(team, bluesky_server, account)
    now = datetime.now(UTC)
    # Longer than Bluesky's 300 graphemes (the planning rules refuse it before; the PDS too).
    message = Message(1, 5, channel["id"], "", "x" * 301, now, post_created_at=now)
    sender = publisher(team)
    try:
        outcome = sender.send(message, channel_config(team, channel), deadline=deadline())
    finally:
        sender.close()
    assert outcome.status == "failed"
    assert outcome.detail is not None
    assert outcome.detail.startswith("Bluesky refused the post: ")
    assert "300" in outcome.detail
    assert not outcome.tell_owners
    assert bluesky_server.posts(account) == []


def _told(team: Team, kind: str) -> set[int]:
    with get_db(team.app).transaction() as session:
        return set(
            session.scalars(select(Notification.user_id).where(Notification.kind == kind)).all()
        )


def test_the_channel_answer_never_shows_the_app_password(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount
) -> None:
    channel = bluesky_channel(team, bluesky_server, account)
    assert channel["config"] == {"service": bluesky_server.url, "handle": account.handle}
    listed = team.admin.get("/channels").get_json()["items"]
    assert account.app_password not in str(listed)
    assert account.app_password not in str(channel_config(team, channel))  # sealed at rest


def test_the_channel_config_is_checked(team: Team) -> None:
    answer = team.admin.post(
        "/channels",
        json={
            "name": "Bluesky",
            "kind": "bluesky",
            "network": "bluesky",
            "config": {"service": "ftp://pds.example", "handle": "kein handle", "extra": 1},
        },
    )
    assert answer.status_code == 422
    fields = answer.get_json()["fields"]
    assert set(fields) >= {
        "config.service", "config.handle", "config.app_password", "config",
    }  # fmt: skip


# --- checking a connection -----------------------------------------------------------------------


def test_the_check_signs_in_and_names_the_account(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount
) -> None:
    channel = bluesky_channel(team, bluesky_server, account)
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.status_code == 200
    assert answer.get_json() == {"ok": True, "account": f"@{account.handle}"}

    bluesky_server.revoke_app_passwords(account)
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.get_json() == {"ok": False, "error": REVOKED}


def test_only_admins_check(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount
) -> None:
    channel = bluesky_channel(team, bluesky_server, account)
    assert team.head.post(f"/channels/{channel['id']}/check").status_code == 403
    assert team.planner.post(f"/channels/{channel['id']}/check").status_code == 403


def test_an_admin_adds_a_bluesky_channel_on_the_channels_page_and_checks_it(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount
) -> None:
    browser = signed_in(team, "admin")
    added = browser.post(
        "/admin/channels/bluesky",
        data={
            "name": "Stadtwerke auf Bluesky",
            "service": bluesky_server.url,
            "handle": f"@{account.handle}",
            "app_password": account.app_password,
            "firehose": bluesky_server.url,
            "csrf_token": csrf_token(browser, "/admin/channels"),
        },
    )
    assert added.status_code == 302
    page = browser.get("/admin/channels").get_data(as_text=True)
    assert "<title>Kanäle · calendar_app</title>" in page  # nothing but words in the title
    assert "Stadtwerke auf Bluesky" in page
    assert account.app_password not in page
    [channel] = [
        c for c in team.admin.get("/channels").get_json()["items"] if c["kind"] == "bluesky"
    ]
    assert channel["network"] == "bluesky"
    assert channel["config"]["firehose"] == bluesky_server.url  # where the listener reads

    checked = browser.post(
        f"/admin/channels/{channel['id']}/check",
        data={"csrf_token": csrf_token(browser, "/admin/channels")},
        follow_redirects=True,
    )
    assert f"@{account.handle}" in checked.get_data(as_text=True)


def test_the_channels_page_refuses_a_bluesky_channel_without_an_app_password(team: Team) -> None:
    browser = signed_in(team, "admin")
    refused = browser.post(
        "/admin/channels/bluesky",
        data={
            "name": "Ohne Passwort",
            "service": "",
            "handle": "stadtwerke.bsky.social",
            "app_password": "",
            "csrf_token": csrf_token(browser, "/admin/channels"),
        },
    )
    assert refused.status_code == 422
    assert team.admin.get("/channels").get_json()["items"] == []


# --- a sender that dies mid-send: the delivery is looked for on the PDS --------------------------


def _died_mid_send(team: Team, delivery_id: int, started_at: datetime) -> None:
    """The state a sender leaves behind when it dies on the wire: `publishing`, lease run out."""
    with get_db(team.app).transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(
                status=DeliveryStatus.PUBLISHING,
                claim_token="d" * 32,
                claimed_by="a scheduler that died",
                started_at=started_at,
                send_deadline=started_at + timedelta(seconds=2),
                lease_until=started_at + timedelta(seconds=7),
                attempts=1,
            )
        )


def gone_unknown(team: Team, sent_id: int, clock: Clock, make_dispatcher: Any) -> Any:
    """The delivery as a sender that died on the wire leaves it, and the next pass that finds
    its lease run out (`unknown`); returns that pass's dispatcher."""
    _died_mid_send(team, sent_id, started_at=clock.now - timedelta(seconds=30))
    dispatcher = make_dispatcher(team.app, clock=clock)
    assert dispatcher.run_pass().expired == [sent_id]
    return dispatcher


def test_a_crash_after_the_write_ends_published_after_the_check_never_twice(
    any_team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    make_dispatcher: Any, clock: Clock,
) -> None:  # fmt: skip
    team = any_team
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Ist das rausgegangen?")
    sent_id = post["deliveries"][0]["id"]
    _died_mid_send(team, sent_id, started_at=clock.now - timedelta(seconds=30))
    # What the dead sender's request did on the PDS before it died:
    dead = publisher(team)
    try:
        written = dead.send(
            message_of(team, sent_id), channel_config(team, channel), deadline=deadline()
        )
    finally:
        dead.close()
    assert written.status == "published"
    dispatcher = make_dispatcher(team.app, clock=clock)
    assert dispatcher.run_pass().expired == [sent_id]
    assert delivery(team, post)["status"] == "unknown"

    sign_ins = counting(dispatcher.publishers["bluesky"].atproto, "sign_in")
    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.published == [sent_id]
    found = delivery(team, post)
    assert (found["status"], found["remote_id"], found["url"], found["error"]) == (
        "published", written.remote_id, written.url, None,
    )  # fmt: skip
    [record] = bluesky_server.posts(account)
    assert parse_time(found["published_at"]) == parse_time(record["value"]["createdAt"])
    assert team.post(post["id"])["status"] == "published"
    clock.advance(minutes=10)
    team.scheduled([channel["id"]], at=clock.now, body="Danach.")
    dispatcher.run_pass()
    # Looked for, never sent again; the check's sign-in serves the channel's next post.
    texts = [record["value"]["text"] for record in bluesky_server.posts(account)]
    assert sorted(texts) == ["Danach.", "Ist das rausgegangen?"]
    assert sign_ins() == 1


def test_an_unknown_delivery_not_on_the_pds_stays_for_the_heads_review(
    any_team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    make_dispatcher: Any, clock: Clock,
) -> None:  # fmt: skip
    team = any_team
    channel = bluesky_channel(team, bluesky_server, account)
    text = "Nie angekommen."
    post = team.scheduled([channel["id"]], at=clock.now, body=text)
    sent_id = post["deliveries"][0]["id"]
    # The same text under another key is another post, not this delivery's.
    bluesky_server.write_post(account, text)
    dispatcher = gone_unknown(team, sent_id, clock, make_dispatcher)

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.not_found == [sent_id]
    left = delivery(team, post)
    assert (left["status"], left["error"]) == ("unknown", NOT_FOUND)
    assert team.post(post["id"])["status"] == "unknown"
    again = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert again.not_found == []
    assert len(bluesky_server.posts(account)) == 1


def test_an_unknown_delivery_whose_key_holds_another_post_is_left_to_the_heads_saying_so(
    any_team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount,
    make_dispatcher: Any, clock: Clock,
) -> None:  # fmt: skip
    team = any_team
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Unser Text.")
    sent_id = post["deliveries"][0]["id"]
    rkey = record_key(message_of(team, sent_id))
    bluesky_server.write_post(account, "Ein anderer Text.", rkey=rkey)
    dispatcher = gone_unknown(team, sent_id, clock, make_dispatcher)

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert (report.not_found, report.postponed) == ([sent_id], [])
    left = delivery(team, post)
    assert (left["status"], left["error"]) == (
        "unknown", f"{NOT_FOUND} (could not look: {COLLISION})",
    )  # fmt: skip
    [record] = bluesky_server.posts(account)
    assert record["value"]["text"] == "Ein anderer Text."  # nothing overwritten


def test_an_unknown_check_of_a_deactivated_account_is_tried_again_later_saying_why(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A deactivated account still signs in, but its PDS no longer serves its repo and sends the
    look-up on to an AppView it does not have (502): nobody can tell yet; the check waits."""
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Abgeschaltet?")
    sent_id = post["deliveries"][0]["id"]
    dispatcher = gone_unknown(team, sent_id, clock, make_dispatcher)
    bluesky_server.deactivate(account)

    with caplog.at_level("INFO", logger="calendar_app.unknown_checks"):
        report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert (report.postponed, report.not_found) == ([sent_id], [])
    assert delivery(team, post)["status"] == "unknown"
    assert "Bluesky answered HTTP 502 Bad Gateway" in caplog.text


def test_an_unknown_check_the_pds_refuses_in_its_words_is_left_to_the_heads(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    """A PDS that refuses the look-up (400, in its own words) will not answer it later either."""
    proxy = AnsweringProxy(bluesky_server.url).start()
    try:
        channel = bluesky_channel(team, bluesky_server, account, service=proxy.base_url)
        post = team.scheduled([channel["id"]], at=clock.now, body="Nachsehen, bitte.")
        sent_id = post["deliveries"][0]["id"]
        dispatcher = gone_unknown(team, sent_id, clock, make_dispatcher)
        proxy.answers["/xrpc/com.atproto.repo.getRecord"] = (
            400, {}, {"error": "InvalidRequest", "message": "Could not find repo"},
        )  # fmt: skip
        report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    finally:
        proxy.stop()
    assert report.not_found == [sent_id]
    left = delivery(team, post)
    assert (left["status"], left["error"]) == (
        "unknown",
        f"{NOT_FOUND} (could not look: Bluesky refused the look-up: Could not find repo)",
    )


def test_an_unknown_check_while_the_pds_is_unreachable_is_tried_again_later(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = bluesky_channel(team, bluesky_server, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Später prüfen.")
    sent_id = post["deliveries"][0]["id"]
    _died_mid_send(team, sent_id, started_at=clock.now - timedelta(seconds=30))
    dead = publisher(team)
    try:
        written = dead.send(
            message_of(team, sent_id), channel_config(team, channel), deadline=deadline()
        )
    finally:
        dead.close()
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    stored = channel_config(team, channel)
    _set_config(team, channel["id"], {**stored, "service": f"http://127.0.0.1:{free_port()}"})

    first = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert first.postponed == [sent_id]
    assert delivery(team, post)["status"] == "unknown"
    _set_config(team, channel["id"], stored)  # the PDS is back
    later = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert later.published == [sent_id]
    assert delivery(team, post)["remote_id"] == written.remote_id


def _set_config(team: Team, channel_id: int, config: dict[str, Any]) -> None:
    with get_db(team.app).transaction() as session:
        session.execute(update(Channel).where(Channel.id == channel_id).values(config=config))


# --- the crisis override --------------------------------------------------------------------------


def test_a_crisis_holds_bluesky_deliveries_and_nothing_reaches_the_pds(
    team: Team, bluesky_server: BlueskyServer, account: BlueskyAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = bluesky_channel(team, bluesky_server, account)
    posts = [team.scheduled([channel["id"]], at=clock.now, body=f"Beitrag {n}") for n in range(3)]
    declared = team.head.post("/crisis", json={"reason": "Shitstorm"})
    assert declared.status_code == 201, declared.get_json()
    make_dispatcher(team.app, clock=clock).run_pass()

    assert [team.post(p["id"])["status"] for p in posts] == ["held"] * 3
    assert bluesky_server.posts(account) == []
