"""What a webhook channel sends and how it copes with a receiver that misbehaves (API.md "Webhook
deliveries"), against a real HTTP server on loopback. The dispatcher's clock is moved instead of
sleeping, so a retry that is not due yet is visibly not sent."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest

from tests.conftest import Clock, Team
from tests.support.postgres import free_port
from tests.support.receiver import Received, Receiver, Reply

# --- helpers -------------------------------------------------------------------------------

SECRET = "s3cret-signing-key"


def webhook(team: Team, url: str, name: str = "Konzern-X", secret: str = SECRET) -> dict[str, Any]:
    return team.channel(name, kind="webhook", network="x", config={"url": url, "secret": secret})


def replies(*answers: Reply) -> Callable[[Received], Reply]:
    """The receiver answers these in turn, then keeps giving the last one."""
    queue = list(answers)
    lock = threading.Lock()

    def reply(_request: Received) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


def delivery(team: Team, post: dict[str, Any]) -> dict[str, Any]:
    [only] = team.post(post["id"])["deliveries"]
    return only


def header(request: Received, name: str) -> str:
    return {k.lower(): v for k, v in request.headers.items()}[name.lower()]


# --- what a webhook request carries --------------------------------------------------------


def test_a_webhook_request_carries_the_post_and_is_signed_with_its_channels_secret(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    press = webhook(team, receiver.url + "/press", "Presse", secret="press-secret")
    jobs = webhook(team, receiver.url + "/jobs", "Karriere", secret="jobs-secret ÄÖÜ")
    post = team.scheduled(
        [press["id"], jobs["id"]],
        at=clock.now - timedelta(seconds=1),
        title="Tag der offenen Tür",
        body="Am Samstag öffnen wir die Türen 🎭 — „alle“ sind willkommen.",
    )
    make_dispatcher(team.app, clock=clock).run_pass()

    received = sorted(receiver.snapshot(), key=lambda r: r.path)
    assert [r.path for r in received] == ["/hook/jobs", "/hook/press"]
    for request, channel, secret in (
        (received[0], jobs, "jobs-secret ÄÖÜ"),
        (received[1], press, "press-secret"),
    ):
        sent = next(d for d in post["deliveries"] if d["channel_id"] == channel["id"])
        body = request.json
        assert body["post_id"] == post["id"]
        assert body["delivery_id"] == sent["id"]
        assert body["channel_id"] == channel["id"]
        assert body["title"] == "Tag der offenen Tür"
        assert body["body"] == post["body"]
        assert datetime.fromisoformat(body["publish_at"]) == datetime.fromisoformat(
            post["publish_at"]
        )
        assert header(request, "Content-Type").startswith("application/json")
        assert header(request, "Idempotency-Key") == str(sent["id"])
        expected = hmac.new(secret.encode(), request.raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(header(request, "X-Signature-SHA256").lower(), expected)
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize("status", [200, 201, 202, 299])
def test_any_2xx_is_success_and_is_sent_once(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, status: int
) -> None:
    receiver.reply = lambda _r: Reply(status)
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)
    for _ in range(3):
        clock.advance(minutes=10)
        dispatcher.run_pass()

    assert len(receiver.snapshot()) == 1
    sent = delivery(team, post)
    assert sent["status"] == "published"
    assert sent["published_at"] is not None
    assert team.post(post["id"])["status"] == "published"


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [500, 503])
def test_a_5xx_is_retried_with_the_same_idempotency_key_and_then_published(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, first: int
) -> None:
    team = any_team
    receiver.reply = replies(Reply(first), Reply(200))
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)

    dispatcher.run_pass()
    assert len(receiver.snapshot()) == 1
    assert delivery(team, post)["status"] not in ("published", "failed")
    said = delivery(team, post)["error"]
    assert said.startswith("attempt 1 failed: "), said
    assert said.endswith("; retrying"), said
    assert str(first) in said
    assert team.post(post["id"])["status"] not in ("published", "failed")

    clock.advance(minutes=1)
    dispatcher.run_pass()
    clock.advance(minutes=10)
    dispatcher.run_pass()

    key = str(post["deliveries"][0]["id"])
    assert [r.idempotency_key for r in receiver.snapshot()] == [key, key]
    assert len({r.raw for r in receiver.snapshot()}) == 1, "a retry sends the same request"
    assert delivery(team, post)["status"] == "published"
    assert delivery(team, post)["error"] is None
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize(
    ("status", "wait"),
    [
        pytest.param(429, 120, id="429 two minutes"),
        pytest.param(503, 120, id="503 two minutes"),
        pytest.param(429, 3600, id="429 an hour"),
    ],
)
def test_a_retry_waits_at_least_as_long_as_retry_after_asks(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, status: int, wait: int
) -> None:
    team = any_team
    receiver.reply = replies(Reply(status, headers={"Retry-After": str(wait)}), Reply(200))
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)

    dispatcher.run_pass()
    dispatcher.run_pass()  # the same instant: the retry is not due yet
    clock.advance(seconds=wait - 1)
    dispatcher.run_pass()  # still a second early
    assert len(receiver.snapshot()) == 1, "retried earlier than Retry-After asked"
    assert delivery(team, post)["status"] not in ("published", "failed")

    clock.advance(seconds=2)
    dispatcher.run_pass()
    assert len(receiver.snapshot()) == 2
    assert delivery(team, post)["status"] == "published"


@pytest.mark.parametrize(
    ("config_overrides", "attempts"),
    [
        pytest.param({}, 4, id="default 4 attempts"),
        pytest.param({"WEBHOOK_MAX_ATTEMPTS": 2}, 2, id="WEBHOOK_MAX_ATTEMPTS=2"),
        pytest.param({"WEBHOOK_MAX_ATTEMPTS": 1}, 1, id="WEBHOOK_MAX_ATTEMPTS=1"),
    ],
)
def test_a_receiver_that_keeps_failing_gets_a_bounded_number_of_tries_then_fails(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, attempts: int
) -> None:
    team = any_team
    receiver.reply = lambda _r: Reply(503, body=b"maintenance")
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)
    for _ in range(attempts + 3):
        dispatcher.run_pass()
        clock.advance(minutes=10)

    assert len(receiver.snapshot()) == attempts
    assert len(receiver.counts_by_key()) == 1
    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert failed["error"] == (
        f"gave up after {attempts} attempt{'s' if attempts > 1 else ''}: receiver answered "
        "HTTP 503 Service Unavailable"
    )
    assert team.post(post["id"])["status"] == "failed"


@pytest.mark.parametrize("status", [301, 307, 400, 401, 403, 404, 410, 422])
def test_an_answer_other_than_2xx_429_or_5xx_is_not_retried_and_fails_with_the_reason(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, status: int
) -> None:
    receiver.reply = lambda _r: Reply(status, body=b'{"error": "bad signature"}')
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)
    for _ in range(3):
        dispatcher.run_pass()
        clock.advance(hours=1)

    assert len(receiver.snapshot()) == 1
    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert failed["error"] == f"receiver answered HTTP {status} {HTTPStatus(status).phrase}"
    assert team.post(post["id"])["status"] == "failed"


def test_a_refused_connection_is_retried_a_bounded_number_of_times_then_failed(
    any_team: Team, make_dispatcher: Any, clock: Clock
) -> None:
    team = any_team
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, closed)["id"]], at=clock.now)

    for _attempt in range(1, 4):  # WEBHOOK_MAX_ATTEMPTS defaults to 4
        dispatcher.run_pass()
        assert delivery(team, post)["status"] not in ("published", "failed")
        clock.advance(minutes=10)
    dispatcher.run_pass()  # the fourth attempt is the last

    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert failed["error"]
    assert team.post(post["id"])["status"] == "failed"
    clock.advance(hours=1)
    dispatcher.run_pass()
    assert delivery(team, post) == failed


@pytest.mark.parametrize(
    "config_overrides", [{"WEBHOOK_TIMEOUT_SECONDS": 0.3, "WEBHOOK_MAX_ATTEMPTS": 2}]
)
def test_a_receiver_slower_than_the_timeout_is_retried_then_failed(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    team = any_team
    receiver.reply = lambda _r: Reply(200, delay=1.0)
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)
    for _ in range(4):
        dispatcher.run_pass()
        clock.advance(minutes=10)

    key = str(post["deliveries"][0]["id"])
    assert [r.idempotency_key for r in receiver.snapshot()] == [key, key]
    failed = delivery(team, post)
    assert failed["status"] == "failed"
    assert "time" in failed["error"].lower()


@pytest.mark.parametrize("config_overrides", [{"WEBHOOK_TIMEOUT_SECONDS": 0.3}])
def test_a_receiver_slow_once_gets_the_post_on_the_retry(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    receiver.reply = replies(Reply(200, delay=1.0), Reply(200))
    dispatcher = make_dispatcher(team.app, clock=clock)
    post = team.scheduled([webhook(team, receiver.url)["id"]], at=clock.now)
    for _ in range(3):
        dispatcher.run_pass()
        clock.advance(minutes=10)

    assert len(receiver.snapshot()) == 2
    assert len(receiver.counts_by_key()) == 1
    assert delivery(team, post)["status"] == "published"


# --- channels are independent --------------------------------------------------------------


def test_one_failing_channel_does_not_affect_another(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    team = any_team
    receiver.reply = lambda r: Reply(500) if r.path.endswith("/broken") else Reply(200)
    broken = webhook(team, receiver.url + "/broken", "Kaputt")
    working = webhook(team, receiver.url + "/working", "Heil")
    refused = webhook(team, f"http://127.0.0.1:{free_port()}/hook", "Weg")
    both = team.scheduled([broken["id"], working["id"], refused["id"]], at=clock.now)
    alone = team.scheduled([working["id"]], at=clock.now)
    dispatcher = make_dispatcher(team.app, clock=clock)

    dispatcher.run_pass()
    on_working = [r.json["post_id"] for r in receiver.snapshot() if r.path.endswith("/working")]
    assert sorted(on_working) == [both["id"], alone["id"]], "sent on the first pass"
    for _ in range(5):
        clock.advance(minutes=10)
        dispatcher.run_pass()

    counts = receiver.counts_by_key()
    for post in (both, alone):
        sent = next(d for d in post["deliveries"] if d["channel_id"] == working["id"])
        assert counts[str(sent["id"])] == 1
    statuses = {d["channel_id"]: d["status"] for d in team.post(both["id"])["deliveries"]}
    assert statuses == {broken["id"]: "failed", working["id"]: "published", refused["id"]: "failed"}
    assert team.post(both["id"])["status"] == "failed"
    assert team.post(alone["id"])["status"] == "published"
