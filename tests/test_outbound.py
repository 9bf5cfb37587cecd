"""Outbound requests: where a webhook may go (no SSRF into the app's own network) and how long a
request may take (a total deadline that a trickling receiver cannot stretch). All against a
real HTTP server on loopback."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app import create_app
from calendar_app.channels import create_channel
from calendar_app.extensions import get_db
from calendar_app.models import User
from calendar_app.outbound import OutboundPolicy, is_public
from calendar_app.publishers import Message
from calendar_app.publishers.webhook import WebhookPublisher
from tests.conftest import Clock, SeededDatabase, Team, make_config
from tests.support.receiver import Receiver, Reply

PRODUCTION = OutboundPolicy(allow_private=False)
DEVELOPMENT = OutboundPolicy(allow_private=True)
MESSAGE = Message(1, 2, 3, "Titel", "Text", datetime(2026, 1, 1, tzinfo=UTC))
SECRET = "s3cret"


def send(url: str, policy: OutboundPolicy, *, within: float = 2.0, timeout: float = 10.0) -> Any:
    publisher = WebhookPublisher(timeout=timeout, policy=policy)
    try:
        return publisher.send(
            MESSAGE, {"url": url, "secret": SECRET}, deadline=time.monotonic() + within
        )
    finally:
        publisher.close()


# --- where a request may go --------------------------------------------------------------------

REFUSED_HOSTS = ["127.0.0.1", "[::1]", "169.254.169.254", "10.20.30.40", "localhost"]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_production_refuses_internal_addresses_when_sending(receiver: Receiver, host: str) -> None:
    outcome = send(f"http://{host}:{receiver.port}/hook", PRODUCTION)
    assert outcome.status == "failed", outcome  # final: never retried
    assert "WEBHOOK_ALLOWED_HOSTS" in (outcome.detail or "")
    assert receiver.snapshot() == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "::1", "169.254.169.254", "fd00:ec2::254", "10.0.0.1", "172.16.0.1",
        "192.168.1.1", "100.64.0.1", "fc00::1", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0",  # noqa: S104
        "::", "240.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
        "2002:7f00:1::",
    ],
)  # fmt: skip
def test_these_addresses_are_not_public(address: str) -> None:
    import ipaddress

    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses_are_public() -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address("93.184.215.14"))
    assert is_public(ipaddress.ip_address("2a00:1450:4001:80e::200e"))


@pytest.mark.parametrize(
    ("listed", "host"),
    [("127.0.0.1", "127.0.0.1"), ("127.0.0.0/8", "127.0.0.1"), ("localhost", "localhost")],
)
def test_a_listed_host_is_allowed_in_production(receiver: Receiver, listed: str, host: str) -> None:
    policy = OutboundPolicy(allow_private=False, allowed_hosts=frozenset({listed}))
    outcome = send(f"http://{host}:{receiver.port}/hook", policy)
    assert outcome.status == "published", outcome
    assert len(receiver.snapshot()) == 1


def test_development_allows_loopback_but_not_metadata(receiver: Receiver) -> None:
    assert send(receiver.url, DEVELOPMENT).status == "published"
    assert DEVELOPMENT.check_host("169.254.169.254") is not None


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.reply = lambda r: (
        Reply(302, headers={"Location": "/elsewhere"}) if r.path == "/hook" else Reply(200)
    )
    outcome = send(receiver.url, DEVELOPMENT)
    assert outcome.status == "failed"
    assert outcome.detail == "receiver answered HTTP 302 Found"
    assert [r.path for r in receiver.snapshot()] == ["/hook"]


@pytest.mark.parametrize("config_overrides", [{"ENV": "production", "SECRET_KEY": "k" * 40}])
@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_production_refuses_an_internal_webhook_url_when_it_is_saved(team: Team, host: str) -> None:
    response = team.admin.post(
        "/channels",
        json={
            "name": "Intern",
            "kind": "webhook",
            "config": {"url": f"http://{host}:8080/hook", "secret": SECRET},
        },
    )
    assert response.status_code == 422, response.get_json()
    assert "WEBHOOK_ALLOWED_HOSTS" in response.get_json()["fields"]["config.url"]


PRODUCTION_WITH_LIST = {
    "ENV": "production",
    "SECRET_KEY": "k" * 40,
    "WEBHOOK_ALLOWED_HOSTS": frozenset({"10.0.0.0/8"}),
}


@pytest.mark.parametrize("config_overrides", [PRODUCTION_WITH_LIST])
def test_a_listed_network_may_be_saved_in_production(team: Team) -> None:
    channel = team.channel(
        "Intern", kind="webhook", config={"url": "http://10.1.2.3/hook", "secret": SECRET}
    )
    assert channel["kind"] == "webhook"


def test_a_channel_saved_before_is_still_refused_when_the_queue_sends(
    sqlite_db: SeededDatabase, tmp_path: Path, receiver: Receiver, make_dispatcher: Any
) -> None:
    """The check that counts is at send time: a URL saved earlier (or a name that resolved
    elsewhere then) reaches nothing internal in production."""
    config = make_config(sqlite_db.url, tmp_path, ENV="production", SECRET_KEY="k" * 40)
    app = create_app(config)
    try:
        with get_db(app).transaction() as session:
            admin = session.scalar(select(User).where(User.email == "admin@example.org"))
            assert admin is not None
            channel_id = create_channel(
                session, admin, name="Alt", kind="webhook",
                config={"url": f"http://localhost:{receiver.port}/hook", "secret": SECRET},
            ).id  # fmt: skip
        team = Team(app, app.test_client(), sqlite_db.cast.tokens, sqlite_db.cast.ids)
        clock = Clock()
        post = team.scheduled([channel_id], at=clock.now)
        make_dispatcher(app, clock=clock).run_pass()
        delivery = team.post(post["id"])["deliveries"][0]
        assert delivery["status"] == "failed"
        assert "WEBHOOK_ALLOWED_HOSTS" in delivery["error"]
        assert receiver.snapshot() == []
    finally:
        get_db(app).dispose()


def test_the_error_stored_never_contains_the_answer_body(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    receiver.reply = lambda _r: Reply(400, body=b'{"debug": "db password hunter2"}')
    channel = team.channel("Hook", kind="webhook", config={"url": receiver.url, "secret": SECRET})
    post = team.scheduled([channel["id"]], at=clock.now)
    make_dispatcher(team.app, clock=clock).run_pass()
    delivery = team.post(post["id"])["deliveries"][0]
    assert delivery["status"] == "failed"
    assert delivery["error"] == "receiver answered HTTP 400 Bad Request"


def test_a_server_error_is_named_by_its_code_and_phrase(receiver: Receiver) -> None:
    receiver.reply = lambda _r: Reply(503, body=b"stack trace of an internal service")
    outcome = send(receiver.url, DEVELOPMENT)
    assert outcome.status == "retry"
    assert outcome.detail == "receiver answered HTTP 503 Service Unavailable"


# --- how long a request may take ---------------------------------------------------------------


def test_a_trickling_receiver_is_cut_off_at_the_deadline(receiver: Receiver) -> None:
    # Every single read gets its byte well within the 10 s timeout; only the total deadline
    # stops the request (20 bytes at 0.3 s would take 6 s).
    receiver.reply = lambda _r: Reply(200, body=b"x" * 20, trickle=0.3)
    started = time.monotonic()
    outcome = send(receiver.url, DEVELOPMENT, within=1.0, timeout=10.0)
    took = time.monotonic() - started
    assert outcome.status == "retry"
    assert "timed out" in (outcome.detail or "")
    assert took <= 1.0 + 0.35, f"took {took:.2f} s"


def test_a_request_is_not_started_once_its_deadline_has_passed(receiver: Receiver) -> None:
    outcome = send(receiver.url, DEVELOPMENT, within=-0.001)
    assert outcome.status == "retry"
    assert "not started" in (outcome.detail or "")
    time.sleep(0.1)
    assert receiver.snapshot() == []


def test_connections_are_kept_alive_between_sends(receiver: Receiver) -> None:
    publisher = WebhookPublisher(timeout=5.0, policy=DEVELOPMENT)
    try:
        for _ in range(3):
            outcome = publisher.send(
                MESSAGE,
                {"url": receiver.url, "secret": SECRET},
                deadline=time.monotonic() + 2.0,
            )
            assert outcome.status == "published"
    finally:
        publisher.close()
    assert len({r.client_port for r in receiver.snapshot()}) == 1


def test_a_forked_process_still_resolves_names(receiver: Receiver) -> None:
    """A process forked after a send (a forking server with the app loaded first) must resolve
    names on its own: the pool it inherits has no threads left."""
    assert send(receiver.url, DEVELOPMENT).status == "published"  # the resolver's threads run
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code only
        try:
            os._exit(0 if send(receiver.url, DEVELOPMENT).status == "published" else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(receiver.snapshot()) == 2


def test_the_allowed_hosts_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import Config, ConfigError

    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", " hooks.intern.example, 10.0.0.0/8 ,[::1]")
    listed = Config.from_env().WEBHOOK_ALLOWED_HOSTS
    assert listed == {"hooks.intern.example", "10.0.0.0/8", "::1"}
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "http://hooks.intern.example/")
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOWED_HOSTS"):
        Config.from_env()
    assert not replace(Config(), ENV="production").WEBHOOK_ALLOWED_HOSTS
