"""Mastodon channels against a real Mastodon REST API on loopback (mastodon_mock from PyPI):
what arrives is read back from the server through its API, never from our own tables."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from calendar_app import media
from calendar_app.channel_rules import rules_for
from calendar_app.extensions import get_db
from calendar_app.models import Channel, Delivery, DeliveryStatus, Notification
from calendar_app.networks.base import MAX_ERROR_CHARS, THE_POST, Answer, Message, Outcome
from calendar_app.networks.mastodon import (
    REVOKED,
    MastodonPublisher,
    account_name,
    announced_limits,
    base_url,
    error_message,
    parse_time,
    rate_limit_wait,
    refused,
)
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.unknown_checks import NOT_FOUND, check_unknown_deliveries
from calendar_app.words import _l
from tests.conftest import Clock, Team
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.receiver import Receiver, Reply
from tests.support.secrets import unreadable_secret
from tests.support.web import csrf_token, signed_in

_usernames = itertools.count(1)


@pytest.fixture(scope="session")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon")).start()
    yield server
    server.stop()


@pytest.fixture
def mastodon(mastodon_server: MastodonServer) -> Iterator[MastodonServer]:
    yield mastodon_server
    mastodon_server.clear_faults()


@pytest.fixture
def account(mastodon: MastodonServer) -> MastodonAccount:
    """A fresh account per test: statuses and idempotency keys of one test never meet
    another's (every test's deliveries start at id 1)."""
    return mastodon.new_account(f"presse{next(_usernames)}")


def mastodon_channel(
    team: Team, server: MastodonServer, account: MastodonAccount, name: str = "Mastodon"
) -> dict[str, Any]:
    return team.channel(
        name,
        kind="mastodon",
        network="mastodon",
        config={"base_url": server.base_url, "access_token": account.access_token},
    )


def delivery(team: Team, post: dict[str, Any]) -> dict[str, Any]:
    [only] = team.post(post["id"])["deliveries"]
    return only


# --- publishing --------------------------------------------------------------------------------


def test_a_post_appears_on_the_server_and_its_delivery_keeps_id_and_url(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = mastodon_channel(team, mastodon, account)
    text = "Am Samstag öffnen wir die Türen 🎭 — <alle> & „jeder“ sind willkommen."
    post = team.scheduled([channel["id"]], at=clock.now, body=text)
    report = make_dispatcher(team.app, clock=clock).run_pass()

    assert report.published == [post["deliveries"][0]["id"]]
    [status] = mastodon.statuses(account)
    assert mastodon.source_text(status["id"]) == text
    assert status["visibility"] == "public"
    sent = delivery(team, post)
    assert sent["status"] == "published"
    assert sent["remote_id"] == status["id"]
    assert sent["url"] == status["url"]
    assert team.post(post["id"])["status"] == "published"
    page = signed_in(team, "head").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert f'href="{status["url"]}"' in page


def test_the_idempotency_key_is_the_delivery_id_so_a_second_attempt_makes_no_second_status(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = mastodon_channel(team, mastodon, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Nur einmal, bitte.")
    sent_id = post["deliveries"][0]["id"]
    # A first attempt that reached the server, whose answer we never saw (the sender died).
    first = mastodon.post_status(account, "Nur einmal, bitte.", key=str(sent_id))
    make_dispatcher(team.app, clock=clock).run_pass()

    [status] = mastodon.statuses(account)
    assert status["id"] == first["id"]
    assert delivery(team, post)["remote_id"] == first["id"]


# --- what the server answers -------------------------------------------------------------------


def test_429_is_retried_at_the_time_the_rate_limit_resets(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    reset = datetime.now(UTC) + timedelta(minutes=7)
    mastodon.fault(
        status=429,
        effect="ratelimit",
        headers={"X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z")},
    )
    channel = mastodon_channel(team, mastodon, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Später, bitte.")
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()

    waiting = delivery(team, post)
    assert waiting["status"] == "scheduled"
    assert "429" in waiting["error"]
    due = datetime.fromisoformat(waiting["due_at"])
    assert abs((due - reset).total_seconds()) < 10  # the dispatcher's clock runs with ours
    assert mastodon.statuses(account) == []

    clock.advance(minutes=6)
    dispatcher.run_pass()
    assert mastodon.statuses(account) == []  # not before the reset
    clock.advance(minutes=2)
    dispatcher.run_pass()
    assert len(mastodon.statuses(account)) == 1
    assert delivery(team, post)["status"] == "published"


def test_503_is_retried_and_then_published(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    mastodon.fault(status=503)
    channel = mastodon_channel(team, mastodon, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Trotz Störung.")
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    waiting = delivery(team, post)
    assert waiting["status"] == "scheduled"
    assert "503 Service Unavailable" in waiting["error"]

    clock.advance(minutes=1)
    dispatcher.run_pass()
    assert delivery(team, post)["status"] == "published"
    assert len(mastodon.statuses(account)) == 1


def test_401_fails_at_once_and_tells_the_channels_owner_and_deputy(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    mastodon.fault(status=401, body={"error": "The access token is invalid"})
    channel = mastodon_channel(team, mastodon, account)
    keepers = {"owner_id": team.ids["head"], "deputy_id": team.ids["planner2"]}
    assert team.admin.patch(f"/channels/{channel['id']}", json=keepers).status_code == 200
    post = team.scheduled([channel["id"]], at=clock.now, body="Geht nicht.")
    make_dispatcher(team.app, clock=clock).run_pass()

    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert failed["error"] == REVOKED
    assert failed["attempts"] == 1
    told = _told(team, "channel_reconnect")
    assert told == {team.ids["head"], team.ids["planner2"]}
    [note] = [
        n
        for n in team.head.get("/notifications").get_json()["items"]
        if n["kind"] == "channel_reconnect"
    ]
    assert (note["link"], note["text"]) == (
        f"/posts/{post['id']}",
        "Ein Beitrag konnte auf Mastodon nicht veröffentlicht werden: das Token wurde widerrufen "
        "oder hat keine Schreibrechte; verbinden Sie den Kanal neu. Bis der Kanal mit einem neuen "
        "Zugriffstoken oder App-Passwort neu verbunden ist (ein Admin legt ihn damit erneut an), "
        "scheitert jeder Beitrag für ihn.",
    )


def test_a_revoked_token_fails_the_delivery_and_nothing_is_posted(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = mastodon_channel(team, mastodon, account)
    keepers = {"owner_id": team.ids["head"], "deputy_id": team.ids["head2"]}
    assert team.admin.patch(f"/channels/{channel['id']}", json=keepers).status_code == 200
    mastodon.revoke(account.access_token)
    post = team.scheduled([channel["id"]], at=clock.now, body="Widerrufen.")
    make_dispatcher(team.app, clock=clock).run_pass()

    failed = delivery(team, post)
    assert (failed["status"], failed["error"]) == ("failed", REVOKED)
    assert mastodon.statuses(account) == []
    assert _told(team, "channel_reconnect") == {team.ids["head"], team.ids["head2"]}


def test_422_fails_with_the_networks_own_message(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    mastodon.fault(status=422, body={"error": "Validation failed: Text has a forbidden word"})
    channel = mastodon_channel(team, mastodon, account)
    post = team.scheduled([channel["id"]], at=clock.now, body="Ein Wort.")
    make_dispatcher(team.app, clock=clock).run_pass()

    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert (
        failed["error"] == "Mastodon refused the post: Validation failed: Text has a forbidden word"
    )
    assert _told(team, "channel_reconnect") == set()


def _told(team: Team, kind: str) -> set[int]:
    with get_db(team.app).transaction() as session:
        return set(
            session.scalars(select(Notification.user_id).where(Notification.kind == kind)).all()
        )


def test_the_channel_answer_never_shows_the_token(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, tmp_path: Path
) -> None:
    channel = mastodon_channel(team, mastodon, account)
    assert channel["config"] == {"base_url": mastodon.base_url}
    listed = team.admin.get("/channels").get_json()["items"]
    assert account.access_token not in str(listed)


# --- checking a connection -----------------------------------------------------------------------


def test_the_check_signs_in_and_names_the_account(
    team: Team, mastodon: MastodonServer, account: MastodonAccount
) -> None:
    channel = mastodon_channel(team, mastodon, account)
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.status_code == 200
    host = mastodon.base_url.removeprefix("http://")
    assert answer.get_json() == {"ok": True, "account": f"@{account.username}@{host}"}

    mastodon.fault(status=403, path="/api/v1/accounts/verify_credentials", method="GET")
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.get_json() == {"ok": False, "error": REVOKED}  # a token without the scope
    mastodon.fault(status=503, path="/api/v1/accounts/verify_credentials", method="GET")
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.get_json() == {
        "ok": False,
        "error": "Mastodon answered HTTP 503 Service Unavailable",
    }

    mastodon.revoke(account.access_token)
    answer = team.admin.post(f"/channels/{channel['id']}/check")
    assert answer.get_json() == {"ok": False, "error": REVOKED}


def test_only_admins_check_and_only_network_channels(
    team: Team, mastodon: MastodonServer, account: MastodonAccount
) -> None:
    channel = mastodon_channel(team, mastodon, account)
    assert team.head.post(f"/channels/{channel['id']}/check").status_code == 403
    outbox = team.channel("Outbox")
    answer = team.admin.post(f"/channels/{outbox['id']}/check")
    assert answer.status_code == 422
    assert "kind" in answer.get_json()["fields"]
    assert team.admin.post("/channels/999999/check").status_code == 404


def test_an_admin_adds_a_mastodon_channel_on_the_channels_page_and_checks_it(
    team: Team, mastodon: MastodonServer, account: MastodonAccount
) -> None:
    browser = signed_in(team, "admin")
    added = browser.post(
        "/admin/channels/mastodon",
        data={
            "name": "Stadtwerke auf Mastodon",
            "base_url": mastodon.base_url,
            "access_token": account.access_token,
            "csrf_token": csrf_token(browser, "/admin/channels"),
        },
    )
    assert added.status_code == 302
    page = browser.get("/admin/channels").get_data(as_text=True)
    assert "Stadtwerke auf Mastodon" in page
    assert account.access_token not in page
    [channel] = [
        c for c in team.admin.get("/channels").get_json()["items"] if c["kind"] == "mastodon"
    ]
    assert channel["network"] == "mastodon"

    checked = browser.post(
        f"/admin/channels/{channel['id']}/check",
        data={"csrf_token": csrf_token(browser, "/admin/channels")},
        follow_redirects=True,
    )
    assert f"@{account.username}@" in checked.get_data(as_text=True)

    mastodon.revoke(account.access_token)  # the admin's page says why, in German
    checked = browser.post(
        f"/admin/channels/{channel['id']}/check",
        data={"csrf_token": csrf_token(browser, "/admin/channels")},
        follow_redirects=True,
    )
    assert (
        "Stadtwerke auf Mastodon kann sich nicht anmelden: das Token wurde widerrufen oder hat "
        "keine Schreibrechte; verbinden Sie den Kanal neu"
    ) in checked.get_data(as_text=True)


def test_the_channels_page_refuses_a_mastodon_channel_without_a_token(team: Team) -> None:
    browser = signed_in(team, "admin")
    refused = browser.post(
        "/admin/channels/mastodon",
        data={
            "name": "Ohne Token",
            "base_url": "https://social.example",
            "access_token": "",
            "csrf_token": csrf_token(browser, "/admin/channels"),
        },
    )
    assert refused.status_code == 422
    assert team.admin.get("/channels").get_json()["items"] == []


# --- unknown deliveries are looked for on the network --------------------------------------------


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


def sent_by_a_sender_that_died(
    team: Team,
    server: MastodonServer,
    account: MastodonAccount,
    clock: Clock,
    text: str,
    *,
    on_server: bool = True,
) -> tuple[dict[str, Any], int, dict[str, Any] | None]:
    """A post whose one delivery a sender started 30 s ago and died with; `on_server`: its
    request had made the status before (with the delivery's Idempotency-Key). Returns the post,
    the delivery's id and the status."""
    post = team.scheduled([mastodon_channel(team, server, account)["id"]], at=clock.now, body=text)
    sent_id = post["deliveries"][0]["id"]
    _died_mid_send(team, sent_id, started_at=clock.now - timedelta(seconds=30))
    status = server.post_status(account, text, key=str(sent_id)) if on_server else None
    return post, sent_id, status


@pytest.mark.parametrize("newer", [0, 101], ids=["newest", "behind-a-hundred"])
def test_an_unknown_delivery_found_on_the_server_becomes_published_with_its_url(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock, newer: int,
) -> None:  # fmt: skip
    """Also when a busy account posted a hundred statuses since: the search reads the
    account's statuses 40 to a page, older page after older page."""
    post, sent_id, status = sent_by_a_sender_that_died(
        team, mastodon, account, clock, "Ist das rausgegangen?"
    )
    for n in range(newer):
        mastodon.post_status(account, f"Später, Nummer {n}")
    dispatcher = make_dispatcher(team.app, clock=clock)
    assert dispatcher.run_pass().expired == [sent_id]
    assert delivery(team, post)["status"] == "unknown"

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.published == [sent_id]
    found = delivery(team, post)
    assert (found["status"], found["remote_id"], found["url"]) == (
        "published", status["id"], status["url"],
    )  # fmt: skip
    assert found["error"] is None
    assert parse_time(found["published_at"]) == parse_time(status["created_at"])  # the server's
    assert team.post(post["id"])["status"] == "published"
    if not newer:
        assert len(mastodon.statuses(account)) == 1  # looked for, never sent again


def test_an_unknown_delivery_not_on_the_server_stays_for_the_heads_review(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock,
) -> None:  # fmt: skip
    channel = mastodon_channel(team, mastodon, account)
    text = "Nie angekommen."
    post = team.scheduled([channel["id"]], at=clock.now, body=text)
    sent_id = post["deliveries"][0]["id"]
    # The same text posted long before this send started is another post, not this one.
    mastodon.post_status(account, text)
    _died_mid_send(team, sent_id, started_at=clock.now + timedelta(minutes=5))
    dispatcher = make_dispatcher(team.app, clock=clock)
    clock.advance(minutes=6)
    assert dispatcher.run_pass().expired == [sent_id]

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.not_found == [sent_id]
    left = delivery(team, post)
    assert (left["status"], left["error"]) == ("unknown", NOT_FOUND)
    assert team.post(post["id"])["status"] == "unknown"
    # Checked once: the next tick leaves it to the head.
    again = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert again.not_found == []
    assert len(mastodon.statuses(account)) == 1


@pytest.mark.parametrize("listed", ["url-and-uri", "uri-only"])
def test_a_found_status_is_linked_by_its_url_else_its_uri(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock, listed: str,
) -> None:  # fmt: skip
    """A status's `url` is its page for people; a server that gives none has its `uri`."""
    post, sent_id, status = sent_by_a_sender_that_died(
        team, mastodon, account, clock, "Wo steht das?"
    )
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    shown = {"id": status["id"], "created_at": status["created_at"], "uri": "tag:uri,1"}
    if listed == "url-and-uri":
        shown["url"] = "https://social.example/@presse/1"
    path = f"/api/v1/accounts/{account.id}/statuses"
    mastodon.fault(status=200, path=path, method="GET", body=[shown])

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.published == [sent_id]
    assert delivery(team, post)["url"] == shown.get("url", "tag:uri,1")


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (401, str(REVOKED)),
        (403, str(REVOKED)),
        (400, "Mastodon answered HTTP 400 Bad Request"),
        (499, "Mastodon answered HTTP 499"),
    ],
)
def test_an_unknown_check_the_server_refuses_for_good_is_left_to_the_heads_with_why(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock, status: int, why: str,
) -> None:  # fmt: skip
    """Signing in is refused in a way asking again will not change (a revoked token, a 4xx):
    the delivery is left to the heads at once, saying why nobody could look."""
    post, sent_id, _ = sent_by_a_sender_that_died(
        team, mastodon, account, clock, "Nicht nachsehbar.", on_server=False
    )
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    mastodon.fault(status=status, path="/api/v1/accounts/verify_credentials", method="GET")

    report = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert report.not_found == [sent_id]
    left = delivery(team, post)
    assert (left["status"], left["error"]) == ("unknown", f"{NOT_FOUND} (could not look: {why})")


@pytest.mark.parametrize(
    ("failing", "status", "body", "said"),
    [
        ("verify_credentials", 503, None, "Mastodon answered HTTP 503 Service Unavailable"),
        ("verify_credentials", 500, None, "Mastodon answered HTTP 500 Internal Server Error"),
        ("statuses", 503, None, "Mastodon answered HTTP 503 Service Unavailable"),
        ("statuses", 200, {"statuses": []}, "Mastodon answered HTTP 200 OK"),  # not a list
    ],
    ids=["sign-in", "sign-in-500", "listing", "listing-not-a-list"],
)
def test_an_unknown_check_while_the_server_is_down_is_tried_again_later(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock, caplog: pytest.LogCaptureFixture, failing: str, status: int, body: Any,
    said: str,
) -> None:  # fmt: skip
    """The server cannot tell (signing in or listing the account's statuses fails): the
    delivery stays unknown, the log says why, and the next check finds it."""
    caplog.set_level(logging.INFO, logger="calendar_app.unknown_checks")
    post, sent_id, found = sent_by_a_sender_that_died(
        team, mastodon, account, clock, "Später prüfen."
    )
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    path = {
        "verify_credentials": "/api/v1/accounts/verify_credentials",
        "statuses": f"/api/v1/accounts/{account.id}/statuses",
    }[failing]
    mastodon.fault(status=status, path=path, method="GET", body=body)

    first = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert first.postponed == [sent_id]
    assert delivery(team, post)["status"] == "unknown"
    assert [
        r.getMessage() for r in caplog.records if "unknown delivery checked" in r.getMessage()
    ] == [
        f"unknown delivery checked on the network: delivery={sent_id} result=postponed "
        f"recorded=True detail={said}"
    ]
    later = check_unknown_deliveries(get_db(team.app), dispatcher.publishers, now=clock.now)
    assert later.published == [sent_id]
    assert delivery(team, post)["remote_id"] == found["id"]


@unreadable_secret("token")
def test_a_scheduler_that_cannot_read_the_token_fails_the_post_at_once(
    team: Team, mastodon: MastodonServer, account: MastodonAccount,
    secrets: ChannelSecrets | None, said: str,
) -> None:  # fmt: skip
    """A scheduler started without CHANNEL_SECRETS_KEY, or with a key that did not seal the
    stored token: the post fails saying so (asking again will not help), nothing is posted."""
    channel = mastodon_channel(team, mastodon, account)
    with get_db(team.app).transaction() as session:
        stored = dict(session.get(Channel, channel["id"]).config)  # type: ignore[union-attr]
    sender = MastodonPublisher(
        timeout=10, policy=OutboundPolicy(allow_private=True), secrets=secrets
    )
    now = datetime.now(UTC)
    message = Message(1, 77, channel["id"], "", "Ohne Schlüssel.", now, post_created_at=now)
    try:
        sent = sender.send(message, stored, deadline=time.monotonic() + 10)
    finally:
        sender.close()
    assert (sent.status, sent.detail, sent.tell_owners) == ("failed", said, False)
    assert mastodon.statuses(account) == []


@pytest.mark.parametrize(
    ("status", "body", "kept"),
    [
        (
            200,
            {"id": "9", "url": "https://m.example/@presse/9", "uri": "https://m.example/s/9"},
            ("published", "9", "https://m.example/@presse/9"),
        ),
        (
            200,
            {"id": "9", "uri": "https://m.example/s/9"},
            ("published", "9", "https://m.example/s/9"),
        ),
        (200, ["not", "a", "status"], ("published", None, None)),
        (300, {"id": "9"}, ("failed", None, None)),
    ],
    ids=["url", "uri only", "not an object", "300"],
)
def test_the_delivery_keeps_what_the_servers_answer_to_the_post_says(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, make_dispatcher: Any,
    clock: Clock, status: int, body: Any, kept: tuple[str, str | None, str | None],
) -> None:  # fmt: skip
    """A 2xx took the post: its id, and its `url`, else its `uri` (a server's answer that is
    not a status still took it). A 3xx is not a post."""
    channel = mastodon_channel(team, mastodon, account)
    mastodon.fault(status=status, body=body)
    post = team.scheduled([channel["id"]], at=clock.now, body="Wie war die Antwort?")
    make_dispatcher(team.app, clock=clock).run_pass()
    sent = delivery(team, post)
    assert (sent["status"], sent["remote_id"], sent["url"]) == kept
    if status == 300:
        assert sent["error"] == "Mastodon answered HTTP 300 Multiple Choices"


# --- the crisis override -------------------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 4}])
def test_a_crisis_declared_mid_stream_stops_mastodon_and_webhooks_alike(
    team: Team, mastodon: MastodonServer, account: MastodonAccount, receiver: Receiver,
    make_dispatcher: Any,
) -> None:  # fmt: skip
    """Slow channels of both kinds, many posts due: once the declaration has returned, nothing
    more appears on the Mastodon server (read back from it) nor at the webhook receiver."""
    mastodon.fault(status=200, effect="latency", delay_ms=400, count=None)
    receiver.reply = lambda _r: Reply(delay=0.4)
    masto = mastodon_channel(team, mastodon, account)
    hook = team.channel(
        "Hook", kind="webhook", network="x", config={"url": receiver.url, "secret": "k"}
    )
    due = datetime.now(UTC) - timedelta(seconds=1)
    posts = [
        team.scheduled([masto["id"], hook["id"]], at=due, body=f"Beitrag {n}") for n in range(8)
    ]
    dispatcher = make_dispatcher(team.app)
    with ThreadPoolExecutor(max_workers=1) as pool:
        passing = pool.submit(dispatcher.run_pass)
        until = time.monotonic() + 20
        while not receiver.snapshot() and time.monotonic() < until:
            time.sleep(0.02)
        declared = team.head.post("/crisis", json={"reason": "Shitstorm"})
        returned_at = time.monotonic()
        on_server = {s["id"] for s in mastodon.statuses(account)}
        passing.result(timeout=60)

    assert declared.status_code == 201, declared.get_json()
    assert declared.get_json()["still_open"] == []
    assert {s["id"] for s in mastodon.statuses(account)} == on_server
    assert [r for r in receiver.snapshot() if r.at > returned_at] == []
    assert len(on_server) < len(posts)  # the crisis held the rest
    held = [p for p in posts if team.post(p["id"])["status"] == "held"]
    assert held


# --- what the server's answers say, read without a server ----------------------------------------

MASTODON_DEFAULTS = media.ImageLimits.of(rules_for("mastodon"))


def test_the_image_limits_a_server_announces_replace_mastodons_defaults() -> None:
    """Of the defaults only what the server does not announce stays (the longest side)."""
    announced = {
        "configuration": {
            "media_attachments": {
                "image_size_limit": 8_000_000,
                "image_matrix_limit": 16_777_216,
                "supported_mime_types": ["video/mp4", "image/webp", "image/png"],
            }
        }
    }
    defaults = replace(MASTODON_DEFAULTS, max_side=4096)
    assert announced_limits(announced, defaults) == media.ImageLimits(
        max_bytes=8_000_000,
        max_side=4096,
        max_pixels=16_777_216,
        types=("image/png", "image/webp"),  # ours, in our order, that the server takes
    )
    smallest = {
        "configuration": {"media_attachments": {"image_size_limit": 1, "image_matrix_limit": 1}}
    }
    assert announced_limits(smallest, defaults) == replace(defaults, max_bytes=1, max_pixels=1)


@pytest.mark.parametrize(
    "instance",
    [
        {},
        {"configuration": "none"},
        {"configuration": {}},
        {"configuration": {"media_attachments": ["image/png"]}},
        {
            "configuration": {
                "media_attachments": {
                    "image_size_limit": 0,
                    "image_matrix_limit": 0,
                    "supported_mime_types": ["video/mp4"],
                }
            }
        },
        {
            "configuration": {
                "media_attachments": {
                    "image_size_limit": -1,
                    "image_matrix_limit": -1,
                }
            }
        },
        {
            "configuration": {
                "media_attachments": {
                    "image_size_limit": "8000000",
                    "image_matrix_limit": None,
                    "supported_mime_types": "image/png",
                }
            }
        },
    ],
    ids=[
        "nothing",
        "odd-configuration",
        "no-attachments",
        "odd-attachments",
        "zero",
        "negative",
        "strings",
    ],
)
def test_what_a_server_does_not_announce_usably_keeps_mastodons_defaults(
    instance: dict[str, Any],
) -> None:
    assert announced_limits(instance, MASTODON_DEFAULTS) == MASTODON_DEFAULTS


NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("2026-12-01T12:00:00.000Z", NOON),
        ("2026-12-01T13:00:00+01:00", NOON),
        (" 2026-12-01T12:00:00 ", NOON),  # no zone: UTC
        (1_796_126_400, NOON),
        (1_796_126_400.5, NOON + timedelta(milliseconds=500)),
        (" 1796126400 ", NOON),
        ("tomorrow", None),
        (None, None),
        ([], None),
    ],
)
def test_times_are_read_as_mastodon_writes_them(value: Any, read: datetime | None) -> None:
    assert parse_time(value) == read


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Reset": "2026-12-01T12:00:30.000Z", "Retry-After": "5"}, 30.0),
        ({"X-RateLimit-Reset": "2026-12-01T11:59:00.000Z"}, 0.0),  # already reset
        ({"X-RateLimit-Reset": "soon", "Retry-After": "5"}, 5.0),
        ({"Retry-After": "12"}, 12.0),
        ({}, None),
    ],
)
def test_a_rate_limit_waits_until_it_resets_else_as_long_as_asked(
    headers: dict[str, str], wait: float | None
) -> None:
    assert rate_limit_wait(httpx.Headers(headers), now=NOON) == wait


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"error": "Validation  failed:\n Text is too long"},
            "Validation failed: Text is too long",
        ),
        ({"error": "x" * (MAX_ERROR_CHARS + 20)}, "x" * MAX_ERROR_CHARS),
        ({"error": "   "}, None),
        ({"error": 422}, None),
        ({"message": "Validation failed"}, None),
        ("Validation failed", None),
    ],
)
def test_mastodons_own_words_are_its_error_on_one_line_and_not_too_long(
    body: Any, words: str | None
) -> None:
    assert error_message(body) == words


@pytest.mark.parametrize(
    ("base", "acct", "name"),
    [
        (" https://social.example/ ", "presse", "@presse@social.example"),
        ("http://127.0.0.1:3000", "presse", "@presse@127.0.0.1:3000"),
        ("https://social.example", "presse@other.example", "@presse@other.example"),
    ],
)
def test_an_account_is_named_with_its_server(base: str, acct: str, name: str) -> None:
    assert account_name({"base_url": base}, acct) == name


def test_a_mastodon_channels_server_is_checked_in_words_and_against_the_outbound_policy() -> None:
    token = {"access_token": "t"}
    assert MastodonPublisher.check_config({"base_url": "https://social.example/web", **token}) == {
        "config.base_url": "must be the server's address only, e.g. https://social.example"
    }
    policy = OutboundPolicy()  # production: no private addresses
    assert MastodonPublisher.check_config({"base_url": "https://10.1.2.3", **token}, policy) == {
        "config.base_url": policy.check_host("10.1.2.3")
    }
    assert policy.check_host("10.1.2.3")


@pytest.mark.parametrize(
    ("configured", "used"),
    [
        (" https://social.example/ ", "https://social.example"),
        ("https://SOCIAL.BOX/", "https://SOCIAL.BOX"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ],
)
def test_a_servers_address_is_used_without_its_spaces_and_last_slash(
    configured: str, used: str
) -> None:
    assert base_url({"base_url": configured}) == used


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"base_url": "https://social.example", "access_token": "t" * 500}, {}),
        (
            {},
            {
                "config.base_url": "is required for a Mastodon channel (the server's URL)",
                "config.access_token": "is required for a Mastodon channel",
            },
        ),
        (
            {"base_url": "  ", "access_token": " "},
            {
                "config.base_url": "is required for a Mastodon channel (the server's URL)",
                "config.access_token": "is required for a Mastodon channel",
            },
        ),
        (
            {"base_url": "ftp://social.example", "access_token": "t" * 501},
            {
                "config.base_url": "must be an http:// or https:// URL",
                "config.access_token": "must be at most 500 characters",
            },
        ),
        (
            {"base_url": "https://social.example", "access_token": "t", "z": 1, "handle": "x"},
            {"config": "unknown field(s): handle, z"},
        ),
    ],
    ids=["fine", "nothing", "blank", "wrong", "unknown"],
)
def test_a_mastodon_channels_settings_are_checked_field_by_field(
    config: dict[str, Any], problems: dict[str, str]
) -> None:
    found = MastodonPublisher.check_config(config)
    assert {field: str(problem) for field, problem in found.items()} == problems


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (403, None, Outcome.failed(REVOKED, tell_owners=True)),
        (404, None, Outcome.failed("Mastodon answered HTTP 404 Not Found")),
        (422, {}, Outcome.failed("Mastodon answered HTTP 422 Unprocessable Entity")),
        (
            422,
            {"error": "Validation failed: Text is too long"},
            Outcome.failed("Mastodon refused the post: Validation failed: Text is too long"),
        ),
        (502, None, Outcome.retry("Mastodon answered HTTP 502 Bad Gateway")),
    ],
)
def test_each_refusal_becomes_its_outcome(status: int, body: Any, outcome: Outcome) -> None:
    said = refused(Answer(status, httpx.Headers(), body), THE_POST)
    assert replace(said, detail=str(said.detail)) == replace(outcome, detail=str(outcome.detail))


def test_a_refused_image_is_named_by_its_position() -> None:
    said = refused(Answer(500, httpx.Headers({"Retry-After": "7"}), None), _l("image 2"))
    assert (said.status, str(said.detail), said.retry_after) == (
        "retry",
        "Mastodon answered HTTP 500 Internal Server Error to image 2",
        7.0,
    )
