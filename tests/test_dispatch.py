"""The dispatcher's own rules, beside the guarantees the crisis and webhook tests pin: how long a
retry waits, how many started deliveries may wait behind the senders, what a pass tells the
operators in its log, and what it does when the database goes away while it records."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from calendar_app import claims, crisis, dispatch, interleave
from calendar_app.dispatch import MAX_BACKOFF_SECONDS, READY_PER_SENDER, Dispatcher, retry_delay
from calendar_app.extensions import get_db
from calendar_app.models import Channel, Delivery
from calendar_app.publishers import Outcome
from calendar_app.timeutil import now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply
from tests.test_crisis_halt import (
    delivery_status,
    due_posts,
    first_delivery,
    sent_by_a_scheduler_that_vanishes,
    wait_for_requests,
    webhook,
)
from tests.test_media import picture, uploaded

# --- how long a retry waits ----------------------------------------------------------------


@pytest.fixture
def jitter(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Which end of the jitter's range `random.uniform` gives: "low" or "high"."""
    end = {"at": "high"}
    monkeypatch.setattr(
        dispatch.random, "uniform", lambda low, high: low if end["at"] == "low" else high
    )
    return end


@pytest.mark.parametrize(
    ("attempt", "longest"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (8, 256.0), (9, MAX_BACKOFF_SECONDS), (30, 300.0)],
)
def test_a_retry_waits_between_half_and_all_of_a_doubling_backoff_of_at_most_five_minutes(
    jitter: dict[str, str], attempt: int, longest: float
) -> None:
    assert retry_delay(attempt, base=2.0) == longest
    jitter["at"] = "low"
    assert retry_delay(attempt, base=2.0) == longest / 2


def test_the_jitter_spreads_retries_over_the_upper_half_of_the_backoff() -> None:
    delays = [retry_delay(3, base=2.0) for _ in range(400)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 4.5, "spread, not one fixed wait"
    assert max(delays) > 7.5, "spread, not one fixed wait"


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [(None, 8.0), (0.0, 8.0), (7.9, 8.0), (8.5, 8.5), (3600.0, 3600.0)],
)
def test_a_retry_never_comes_sooner_than_the_receiver_asked_however_long_that_is(
    jitter: dict[str, str], retry_after: float | None, waits: float
) -> None:
    assert retry_delay(3, base=2.0, retry_after=retry_after) == waits


# --- how many started deliveries wait behind the senders -----------------------------------


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 3}])
@pytest.mark.parametrize(
    ("recent_send", "behind"),
    [
        (None, 0),  # nothing sent yet: no idea how fast the channels are
        (0.2, 0),  # slow channels: a start waits for a free sender
        (0.125, 0),  # a send takes half of `leave_within`: still too slow
        (0.1, 3),  # one fits in half of `leave_within`: one each
        (0.05, 6),  # two sends fit in half of `leave_within`
        (0.001, 3 * READY_PER_SENDER),  # fast: as many as allowed, no more
        (0.0, 3 * READY_PER_SENDER),
    ],
)
def test_while_channels_answer_fast_a_few_started_deliveries_wait_behind_each_sender(
    any_team: Team, make_dispatcher: Any, recent_send: float | None, behind: int
) -> None:
    dispatcher = make_dispatcher(any_team.app)
    assert dispatcher.leave_within == 0.2  # a tenth of the 2 s request deadline, under 0.25
    dispatcher.leave_within = 0.25
    dispatcher._recent_send = recent_send
    assert dispatcher._ready_behind() == behind


@pytest.mark.parametrize(
    ("request_seconds", "leave_within", "record_seconds"),
    [(1.0, 0.1, 5.0), (2.0, 0.2, 5.0), (10.0, 0.25, 10.0)],
)
def test_a_started_delivery_leaves_within_a_tenth_of_its_deadline_and_at_most_a_quarter_second(
    any_team: Team, request_seconds: float, leave_within: float, record_seconds: float
) -> None:
    """And its outcome has the request's deadline to be recorded, at least 5 s."""
    config = replace(any_team.app.config["CALENDAR"], WEBHOOK_TIMEOUT_SECONDS=request_seconds)
    dispatcher = Dispatcher(get_db(any_team.app), config)
    try:
        assert dispatcher.send_seconds == request_seconds
        assert dispatcher.leave_within == leave_within
        assert dispatcher.record_seconds == record_seconds
    finally:
        dispatcher.close()


def test_how_fast_sends_are_lately_is_a_moving_average_of_the_sends(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """A fifth of each new send's time: one slow answer does not make the channels slow."""
    receiver.reply = lambda _r: Reply(delay=0.5)
    channel = webhook(any_team, receiver)
    due_posts(any_team, channel, 1)
    dispatcher = make_dispatcher(any_team.app)
    dispatcher.run_pass()
    first = dispatcher._recent_send
    assert 0.5 <= first < 1.5, "the first send is the average"

    due_posts(any_team, channel, 1)
    dispatcher._recent_send = 10.0
    dispatcher.run_pass()
    assert 8.1 <= dispatcher._recent_send < 8.1 + 0.2 * 1.0


# --- what a pass tells the operators -------------------------------------------------------


def pass_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("dispatch pass")]


def pass_line_of_nothing_sent(**counts: int) -> str:
    """The pass's log line of planer-1 when it sent nothing, with these counts."""
    said = ("held_posts", "missed_posts", "expired")
    return (
        "dispatch pass worker=planer-1 published=0 retried=0 failed=0 lost=0 not_started=0 "
        + " ".join(f"{name}={counts.get(name, 0)}" for name in said)
    )


def test_a_pass_that_sent_something_says_what_it_did_in_one_log_line(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    due_posts(any_team, webhook(any_team, receiver), 2)
    make_dispatcher(any_team.app, worker="planer-1").run_pass()
    assert pass_lines(caplog) == [
        "dispatch pass worker=planer-1 published=2 retried=0 failed=0 lost=0 not_started=0 "
        "held_posts=0 missed_posts=0 expired=0"
    ]


def test_a_pass_with_nothing_due_says_nothing(
    any_team: Team, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    report = make_dispatcher(any_team.app).run_pass()
    assert report.claimed == 0
    assert pass_lines(caplog) == []


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_each_outcome_is_logged_and_one_the_database_refused_counts_as_lost(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """One line per delivery: what came back, the attempt, whether the database took it, and
    the reason. A send whose lease ran out while it was on the wire (another scheduler made it
    `unknown`) is not recorded over that: the pass counts it lost, and the line says so."""
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    due = now_utc() - timedelta(seconds=30)
    went_out, busy, too_slow = (
        first_delivery(any_team.scheduled([webhook(any_team, receiver, name)["id"]], at=due + lag))
        for name, lag in (
            ("ok", timedelta(0)),
            ("busy", timedelta(seconds=1)),
            ("slow", timedelta(seconds=2)),
        )
    )

    def reply(request: Any) -> Reply:
        if request.path.endswith("/busy"):
            return Reply(503)
        if request.path.endswith("/slow"):  # its lease ends while it is on the wire
            with get_db(any_team.app).transaction() as session:
                assert claims.expire_leases(session, now_utc() + timedelta(hours=1)) == [too_slow]
        return Reply()

    receiver.reply = reply
    dispatcher = make_dispatcher(any_team.app)
    dispatcher._recent_send = 10.0  # slow lately: none waits behind the sender, one at a time
    report = dispatcher.run_pass()

    assert (report.published, report.retried, report.lost) == ([went_out], [busy], [too_slow])
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("delivery=")] == [
        f"delivery={went_out} outcome=published attempt=1 recorded=True detail=None",
        f"delivery={busy} outcome=retried attempt=1 recorded=True "
        "detail=receiver answered HTTP 503 Service Unavailable",
        f"delivery={too_slow} outcome=published attempt=1 recorded=False detail=None",
    ]
    assert delivery_status(any_team, too_slow) == "unknown"


def test_a_pass_that_only_set_aside_a_missed_post_says_so(
    any_team: Team, make_dispatcher: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    due_posts(any_team, any_team.channel(), 1)
    clock.advance(minutes=31)

    report = make_dispatcher(any_team.app, clock=clock, worker="planer-1").run_pass()

    assert (report.claimed, len(report.missed_posts)) == (0, 1)
    assert pass_lines(caplog) == [pass_line_of_nothing_sent(missed_posts=1)]


def test_a_pass_that_only_held_a_post_for_the_crisis_says_so(
    any_team: Team, make_dispatcher: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    channel = any_team.channel()
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    post = any_team.scheduled([channel["id"]], at=clock.now + timedelta(minutes=5))
    clock.advance(minutes=6)

    report = make_dispatcher(any_team.app, clock=clock, worker="planer-1").run_pass()

    assert (report.claimed, report.held_posts) == (0, [post["id"]])
    assert pass_lines(caplog) == [pass_line_of_nothing_sent(held_posts=1)]


def test_a_pass_that_only_found_a_vanished_senders_lease_ended_says_so(
    any_team: Team, make_dispatcher: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Another scheduler put a delivery on the wire and vanished: the pass that finds its lease
    ended makes it `unknown` and says so, though it sent nothing itself."""
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    [post] = due_posts(any_team, any_team.channel(), 1)
    sent_by_a_scheduler_that_vanishes(any_team, clock)
    clock.advance(seconds=16)

    report = make_dispatcher(any_team.app, clock=clock, worker="planer-1").run_pass()

    assert (report.claimed, report.expired) == (0, [first_delivery(post)])
    assert pass_lines(caplog) == [pass_line_of_nothing_sent(expired=1)]


@pytest.mark.parametrize(
    "config_overrides", [{"DISPATCH_BATCH_SIZE": 2, "DISPATCH_CONCURRENCY": 1}]
)
def test_a_pass_claims_batch_after_batch_while_a_whole_batch_was_due(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Batches of two, five due: two, two (a whole batch again, so there may be more), one.
    While the first is on the wire, only its batch is claimed, in this scheduler's name; the
    rest waits in the queue for whichever scheduler is free."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply() if let_go.wait(30) else Reply(500)
    posts = due_posts(any_team, webhook(any_team, receiver), 5)
    dispatcher = make_dispatcher(any_team.app, worker="planer-1")
    dispatcher._recent_send = 10.0  # slow lately: none waits behind the sender
    passing = background(dispatcher.run_pass)
    try:
        wait_for_requests(receiver, 1, passing)
        with get_db(any_team.app).transaction() as session:
            rows = [session.get_one(Delivery, first_delivery(p)) for p in posts]
            claimed = [(r.status, r.claimed_by) for r in rows]
    finally:
        let_go.set()
    report = passing.result(timeout=30)

    assert claimed == [
        ("publishing", "planer-1"),
        ("claimed", "planer-1"),
        *[("scheduled", None)] * 3,
    ]

    assert sorted(report.published) == sorted(first_delivery(p) for p in posts)
    assert sorted(receiver.counts_by_key().values()) == [1] * 5


# --- the database away while a pass records ------------------------------------------------


@contextmanager
def commits_fail_while(team: Team, away: Callable[[], bool]) -> Iterator[None]:
    """Every commit's answer is lost (the server closed the connection) while `away()`."""
    engine = get_db(team.app).engine

    def database_away(_connection: Any) -> None:
        if away():
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed"))

    event.listen(engine, "commit", database_away)
    try:
        yield
    finally:
        event.remove(engine, "commit", database_away)


def test_an_outcome_the_database_cannot_take_is_retried_with_growing_pauses_then_reported_lost(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The request went out and was answered; every commit of its outcome fails. The pass tries
    again after 0.2, 0.4 and 0.8 s, gives up when the next pause would end past the time it has
    to record (`record_seconds`), and reports the delivery lost, saying so in the log. The
    delivery stays `publishing` until its lease ends: then a pass marks it `unknown` for a person
    to check. It is never sent a second time."""
    caplog.set_level(logging.INFO, logger="calendar_app.dispatch")
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    delivery_id = first_delivery(post)
    dispatcher = make_dispatcher(any_team.app)
    dispatcher.record_seconds = 2.5
    away = {"since": False}

    def went_away() -> None:
        away["since"] = True

    with (
        commits_fail_while(any_team, lambda: away["since"]),
        interleave.at("send.before", went_away),
    ):
        report = dispatcher.run_pass()

    assert report.lost == [delivery_id]
    assert report.published == []
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [m for m in messages if "database unavailable" in m[1]] == [
        ("WARNING", f"database unavailable while recording: deliveries=[{delivery_id}] "
                    f"retry_in={pause}s")
        for pause in ("0.2", "0.4", "0.8")
    ] + [
        ("ERROR", f"outcome not recorded, database unavailable: delivery={delivery_id} "
                  "outcome=published error=server closed")
    ]  # fmt: skip
    assert len(receiver.snapshot()) == 1
    assert delivery_status(any_team, delivery_id) == "publishing"


def test_a_database_back_within_the_time_to_record_loses_nothing(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    engine = get_db(any_team.app).engine
    failures = {"left": 0}

    def database_away(_connection: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed"))

    def goes_away_twice() -> None:
        failures["left"] = 2

    event.listen(engine, "commit", database_away)
    started = time.monotonic()
    try:
        with interleave.at("send.before", goes_away_twice):
            report = make_dispatcher(any_team.app).run_pass()
    finally:
        event.remove(engine, "commit", database_away)

    assert time.monotonic() - started >= 0.6, "waited 0.2 and 0.4 s between the tries"
    assert report.published == [first_delivery(post)]
    assert report.lost == []
    assert any_team.post(post["id"])["status"] == "published"


# --- a channel the scheduler cannot send to ------------------------------------------------


def stored_channel(team: Team, channel_id: int, **values: Any) -> None:
    """Change a channel's row behind the API's back (what another version of the app wrote)."""
    with get_db(team.app).transaction() as session:
        session.execute(update(Channel).where(Channel.id == channel_id).values(**values))


def test_a_channel_of_a_kind_this_scheduler_does_not_know_fails_with_the_reason_and_others_go_out(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """A newer version of the app, sharing the database, added a kind of channel."""
    unknown = webhook(any_team, receiver, "Neu")
    [strange] = due_posts(any_team, unknown, 1)
    [usual] = due_posts(any_team, webhook(any_team, receiver), 1)
    stored_channel(any_team, unknown["id"], kind="fax")

    report = make_dispatcher(any_team.app).run_pass()

    assert (report.failed, report.published) == ([first_delivery(strange)], [first_delivery(usual)])
    failed = any_team.post(strange["id"])["deliveries"][0]
    assert (failed["status"], failed["error"]) == ("failed", "no publisher for channel kind 'fax'")


def test_a_publisher_that_crashes_fails_its_delivery_and_the_log_names_it(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = webhook(any_team, receiver, "Kaputt")
    [post] = due_posts(any_team, broken, 1)
    stored_channel(any_team, broken["id"], config={"secret": "s3cret"})  # no url at all

    report = make_dispatcher(any_team.app).run_pass()

    delivery_id = first_delivery(post)
    assert report.failed == [delivery_id]
    failed = any_team.post(post["id"])["deliveries"][0]
    assert failed["error"] == "internal error while sending: KeyError('url')"
    [crash] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert crash.getMessage() == f"publisher crashed: delivery={delivery_id}"
    assert crash.exc_info is not None


# --- a sender goes on as soon as it is free ------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 2}])
def test_a_sender_that_is_free_takes_the_next_delivery_while_the_other_still_waits_for_its_answer(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Two senders, channels that have answered slowly lately; one channel now answers at once,
    the other only when the test lets go. The free sender starts the next delivery at once, and
    no more than that: a delivery is started only when a sender is free for it, so the last one
    stays `claimed` (a declaration would hold it) and leaves when a sender is free, never sent
    back unsent."""
    let_go = threading.Event()
    receiver.reply = lambda r: (
        Reply() if r.path.endswith("/fast") or let_go.wait(30) else Reply(500)
    )
    slow, fast = webhook(any_team, receiver, "slow"), webhook(any_team, receiver, "fast")
    due = now_utc() - timedelta(seconds=30)
    first, second, third, fourth = (
        any_team.scheduled([channel["id"]], at=due, body=f"Teil {i}")
        for i, channel in enumerate((slow, fast, slow, slow))
    )
    dispatcher = make_dispatcher(any_team.app)
    dispatcher._recent_send = 10.0  # the channels have answered slowly lately: none waits behind
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 3, passing)  # the first, the fast second, and the third at once

    assert delivery_status(any_team, first_delivery(fourth)) == "claimed"
    let_go.set()
    report = passing.result(timeout=30)
    assert report.released == []
    assert sorted(report.published) == sorted(
        first_delivery(p) for p in (first, second, third, fourth)
    )
    assert sorted(receiver.counts_by_key().values()) == [1, 1, 1, 1]


def test_a_scheduler_shutting_down_while_the_database_is_away_gives_up_at_once_and_says_so(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The delivery was started, then the scheduler is told to stop before the request left:
    it gives the delivery back, and that cannot be recorded. It does not wait for the database
    while shutting down: the delivery stays started, and its lease's end sends it back."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    delivery_id = first_delivery(post)
    dispatcher = make_dispatcher(any_team.app)
    away = {"since": False}

    def shutting_down_and_database_gone() -> None:
        dispatcher.stop()
        away["since"] = True

    with (
        commits_fail_while(any_team, lambda: away["since"]),
        interleave.at("send.before", shutting_down_and_database_gone),
    ):
        report = dispatcher.run_pass()

    assert report.lost == [delivery_id]
    assert receiver.snapshot() == []
    assert [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()] == [
        f"outcome not recorded, database unavailable: delivery={delivery_id} outcome=released "
        "error=server closed"
    ]
    assert delivery_status(any_team, delivery_id) == "publishing"


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_a_scheduler_shutting_down_gives_back_what_waits_for_a_sender_as_if_never_claimed(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """One sender, two due: the first on the wire, the second claimed and waiting for the
    sender, when the scheduler is told to stop. The first is recorded as it comes back; the
    second goes back to the queue unsent, its claim and its attempt forgotten, for the next
    scheduler to send."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply() if let_go.wait(30) else Reply(500)
    first, second = (first_delivery(p) for p in due_posts(any_team, webhook(any_team, receiver), 2))
    dispatcher = make_dispatcher(any_team.app)
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 1, passing)
    assert delivery_status(any_team, second) == "claimed"
    dispatcher.stop()
    let_go.set()
    report = passing.result(timeout=30)

    assert (report.published, report.released) == ([first], [second])
    with get_db(any_team.app).transaction() as session:
        row = session.get_one(Delivery, second)
        assert (row.status, row.attempts, row.claim_token, row.lease_until) == (
            "scheduled",
            0,
            None,
            None,
        )
    make_dispatcher(any_team.app).run_pass()
    assert receiver.counts_by_key() == {str(first): 1, str(second): 1}


# --- the start step reads the crisis in force itself -----------------------------------------


def test_a_start_step_holds_what_the_crisis_covers_though_the_declarations_hold_missed_it(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The declaration's hold skips rows a person has locked. A delivery it missed was claimed
    before the declaration: the pass's start step reads the crisis in force under the queue's
    lock and holds the delivery itself, never putting it on the wire."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    monkeypatch.setattr(crisis, "hold_due_deliveries", lambda *_a, **_k: [])
    declared: list[Any] = []

    def head_declares() -> None:
        declared.append(any_team.head.post("/crisis", json={"reason": "Sturm"}))

    with interleave.at("start.before", head_declares):
        report = make_dispatcher(any_team.app).run_pass()

    [declaration] = declared
    assert declaration.status_code == 201, declaration.get_json()
    assert (report.published, report.not_started) == ([], [first_delivery(post)])
    assert receiver.snapshot() == []
    with get_db(any_team.app).transaction() as session:
        row = session.get_one(Delivery, first_delivery(post))
        assert (row.status, row.held_by_crisis_id) == ("held", declaration.get_json()["id"])
    assert any_team.post(post["id"])["status"] == "held"


# --- what a delivery sends, and what comes back from a network --------------------------------


def test_what_deliveries_send_comes_in_the_order_of_their_ids_with_images_only_for_sending(
    any_team: Team,
) -> None:
    """The one way a delivery's message is made: for a send, with the post's images and their
    alt text; for looking a post up on its network (no images needed), without reading them.
    In the order of the deliveries' ids, however the rows lie (the first one changed last)."""
    channel = any_team.channel()
    image = uploaded(any_team, picture())
    first = first_delivery(
        any_team.draft([channel["id"]], media=[{"id": image["id"], "alt": "Das Hafenfest"}])
    )
    second = first_delivery(any_team.draft([channel["id"]]))
    db = get_db(any_team.app)
    with db.transaction() as session:  # PostgreSQL: its row now lies after the second's
        session.execute(update(Delivery).where(Delivery.id == first).values(body_override="Neu"))
    media_dir = any_team.app.config["CALENDAR"].media_dir
    with db.transaction() as session:
        looked_up = dispatch.delivery_messages(session, [second, first])
        sending = dispatch.delivery_messages(session, [second, first], media_dir)
        written = session.get_one(Delivery, first).post.created_at

    for made in (looked_up, sending):
        assert [m.message.delivery_id for m in made] == [first, second]
        assert made[0].message.body == "Neu"
        # When the post was written: Bluesky's record key, the same on every attempt.
        assert made[0].message.post_created_at == written
    assert [m.message.media for m in looked_up] == [(), ()]
    assert [(f.alt, f.mime_type) for f in sending[0].message.media] == [
        ("Das Hafenfest", "image/png")
    ]
    assert sending[1].message.media == ()


class AnswersWith:
    """A network that answers every post the same way (a server that leaves a field out)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def send(self, message: Any, config: Any, *, deadline: float) -> Outcome:
        return self.outcome

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("remote_id", "url"), [("109", None), (None, "https://social.example/@k/1")]
)
def test_a_network_that_gives_only_the_posts_id_or_only_its_address_has_it_recorded(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, remote_id: str | None, url: str | None
) -> None:
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    dispatcher.publishers["webhook"] = AnswersWith(Outcome.published(remote_id, url))

    assert dispatcher.run_pass().published == [first_delivery(post)]

    with get_db(any_team.app).transaction() as session:
        row = session.get_one(Delivery, first_delivery(post))
        assert (row.status, row.remote_id, row.url) == ("published", remote_id, url)
