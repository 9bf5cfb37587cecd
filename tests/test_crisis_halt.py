"""The crisis halt and "people and machines never overwrite each other" (DESIGN.md guarantees 1,
2 and 5), each case with the exact interleaving forced, on SQLite and PostgreSQL.

The code marks the points where schedulers and people meet (calendar_app/interleave.py); a test
stops a scheduler or a person at one of them, lets the other party act, and then lets go. No
sleeps decide an order: where a test waits for a party to be blocked on a lock, PostgreSQL is
asked (pg_stat_activity), and SQLite serialises whole transactions, so the order is fixed anyway.

Each test names the case of the crisis-halt review it covers (1-9).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from calendar_app import claims, interleave
from calendar_app.dispatch import PassReport
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, Delivery
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Api, Clock, Team
from tests.support.receiver import Receiver, Reply

# --- helpers -------------------------------------------------------------------------------


class Paused:
    """A hook that stops the thread reaching a point (its `nth` time) until the test lets go."""

    def __init__(self, nth: int = 1) -> None:
        self.nth = nth
        self.calls = 0
        self.reached = threading.Event()
        self.go = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        if self.calls != self.nth:
            return
        self.reached.set()
        assert self.go.wait(30), "the test never let go"

    def wait(self) -> None:
        assert self.reached.wait(30), "the point was never reached"


def person(team: Team, who: str) -> Api:
    """One person's API calls from a client of their own (safe to use from another thread)."""
    return Api(team.app.test_client(), team.tokens[who])


@contextmanager
def discard_under_way(team: Team, post_id: int, background: Any) -> Iterator[Paused]:
    """A head's discard of the post, paused with the post's rows locked until the test lets go
    (`.go.set()`, or leaving the block); then the discard must have gone through."""
    person_locked = Paused()
    with interleave.at("person.locked", person_locked):
        discarding = background(person(team, "head").post, f"/posts/{post_id}/discard", json={})
        person_locked.wait()
        try:
            yield person_locked
        finally:
            person_locked.go.set()
        assert discarding.result(timeout=30).status_code == 200


def webhook(team: Team, receiver: Receiver, name: str = "Konzern-X") -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", network="x", config=config)


def wait_until_blocked(team: Team, waiting: int = 1) -> None:
    """Until `waiting` sessions wait for a lock (PostgreSQL). On SQLite a transaction holds the
    database's write lock from its first statement, so whoever came second runs after the first
    commits whatever the timing: nothing to wait for."""
    db = get_db(team.app)
    if db.is_sqlite:
        return
    deadline = time.monotonic() + 20
    with db.engine.connect() as connection:
        while time.monotonic() < deadline:
            blocked = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
            connection.rollback()
            if blocked >= waiting:
                return
            time.sleep(0.01)
    raise AssertionError("nobody ended up waiting for the lock")


def delivery_status(team: Team, delivery_id: int) -> str:
    with get_db(team.app).transaction() as session:
        return session.get_one(Delivery, delivery_id).status


def due_posts(team: Team, channel: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Posts due a little while ago: also for a `clock` the test made before them (making the
    team and the channel can take seconds on a busy machine)."""
    due = now_utc() - timedelta(seconds=30)
    return [
        team.scheduled([channel["id"]], at=due, body=f"Sommerfest am Hafen, Teil {i}")
        for i in range(count)
    ]


def sent_by_a_scheduler_that_vanishes(team: Team, clock: Clock) -> claims.Claim:
    """The one due delivery, claimed and put on the wire by a scheduler that then vanishes
    (its lease covers a 10 s request and 5 s to record it): nobody records its outcome."""
    db = get_db(team.app)
    with db.transaction() as session:
        [gone] = claims.claim_due(
            session,
            now=clock.now,
            limit=1,
            worker="vanished",
            lease_seconds=60,
            missed_after=timedelta(minutes=30),
        ).claims
    with db.transaction() as session:
        in_force = claims.lock_in_order(session, [gone], queue=True)
        started = claims.start_sending(
            session, [gone], crisis=in_force, now=clock.now, send_seconds=10, record_seconds=5
        )
        assert [s.claim for s in started.started] == [gone]
    return gone


def first_delivery(post: dict[str, Any]) -> int:
    return post["deliveries"][0]["id"]


def wait_for_requests(receiver: Receiver, count: int, passing: Future | None = None) -> None:
    deadline = time.monotonic() + 20
    while len(receiver.snapshot()) < count:
        if passing is not None and passing.done():
            passing.result()  # the pass ended early: show why
        assert time.monotonic() < deadline, f"fewer than {count} requests arrived"
        time.sleep(0.005)


# --- 1 and 8: after the declaration, nothing in scope starts; it waits only for the wire -----


# The request's own deadline is far beyond the declaration's bound: the slow request ends only
# when the test lets it go (with the suite's 2 s, a loaded machine let it time out first).
@pytest.mark.parametrize(
    "config_overrides",
    [{"DISPATCH_CONCURRENCY": 1, "DECLARE_WAIT_SECONDS": 1.0, "WEBHOOK_TIMEOUT_SECONDS": 20.0}],
)
def test_claimed_deliveries_waiting_for_a_sender_never_start_after_the_declaration(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 1: one request on the wire, four claimed behind it. The declaration stops waiting
    for the slow one at its bound and returns; the four never start."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply() if let_go.wait(30) else Reply(500)
    posts = due_posts(any_team, webhook(any_team, receiver), 5)
    dispatcher = make_dispatcher(any_team.app)
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 1, passing)

    declared = any_team.head.post("/crisis", json={"reason": "Shitstorm"})
    returned_at = time.monotonic()
    let_go.set()
    passing.result(timeout=30)

    assert declared.status_code == 201, declared.get_json()
    on_the_wire = int(receiver.snapshot()[0].idempotency_key)
    assert [d["id"] for d in declared.get_json()["in_flight"]] == [on_the_wire]
    assert declared.get_json()["still_open"] == [on_the_wire]
    assert [r for r in receiver.snapshot() if r.at > returned_at] == []
    assert len(receiver.snapshot()) == 1
    statuses = {delivery_status(any_team, first_delivery(p)) for p in posts}
    assert statuses == {"published", "held"}
    assert delivery_status(any_team, on_the_wire) == "published"


def test_a_declaration_between_the_claim_and_the_start_holds_what_was_claimed(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 1: the claim committed before the declaration, the start comes after it."""
    posts = due_posts(any_team, webhook(any_team, receiver), 3)
    dispatcher = make_dispatcher(any_team.app)
    before_start = Paused()
    with interleave.at("start.before", before_start):
        passing = background(dispatcher.run_pass)
        before_start.wait()
        declared = any_team.head.post("/crisis", json={"reason": "Shitstorm"})
        before_start.go.set()
        report: PassReport = passing.result(timeout=30)

    assert declared.status_code == 201
    assert declared.get_json()["in_flight"] == []
    assert receiver.snapshot() == []
    assert sorted(report.not_started) == sorted(first_delivery(p) for p in posts)
    assert {any_team.post(p["id"])["status"] for p in posts} == {"held"}


def test_a_declaration_during_the_start_waits_for_it_and_names_what_it_put_on_the_wire(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 1, the other order: the start step has its row `publishing`, not committed, when
    the head declares. The declaration waits for the step (the queue's lock), then finds the
    request on the wire and names it. Without the lock it read the row as merely claimed, held
    nothing (the row was taken by then) and told the head nothing was on the wire while the
    request left."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    start_locked = Paused()
    with interleave.at("start.locked", start_locked):
        passing = background(dispatcher.run_pass)
        start_locked.wait()
        declaring = background(person(any_team, "head").post, "/crisis", json={"reason": "Sturm"})
        wait_until_blocked(any_team)
        start_locked.go.set()
        declared = declaring.result(timeout=30)
        report: PassReport = passing.result(timeout=30)

    assert declared.status_code == 201, declared.get_json()
    assert [d["id"] for d in declared.get_json()["in_flight"]] == [first_delivery(post)]
    assert report.published == [first_delivery(post)]
    assert receiver.counts_by_key() == {str(first_delivery(post)): 1}


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 4}])
def test_the_declaration_waits_for_the_requests_on_the_wire_not_for_the_queue(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 8: slow channels, twenty due, four senders. The declaration lists and waits for
    the four on the wire, never for the sixteen behind them (`make bench` measures the time)."""
    receiver.reply = lambda _r: Reply(delay=0.5)
    posts = due_posts(any_team, webhook(any_team, receiver), 20)
    dispatcher = make_dispatcher(any_team.app)
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 4)

    declared = any_team.head.post("/crisis", json={"reason": "Shitstorm"})
    returned_at = time.monotonic()
    passing.result(timeout=60)

    in_flight = declared.get_json()["in_flight"]
    assert 1 <= len(in_flight) <= 4
    assert all(d["status"] == "published" for d in in_flight)
    assert declared.get_json()["still_open"] == []
    assert [r for r in receiver.snapshot() if r.at > returned_at] == []
    sent = {int(r.idempotency_key) for r in receiver.snapshot()}
    assert sent == {d["id"] for d in in_flight}
    held = [p for p in posts if any_team.post(p["id"])["status"] == "held"]
    assert len(held) == 20 - len(sent)


# --- 2: a discarded post never leaves the app again -----------------------------------------


def test_a_post_discarded_while_its_request_is_on_the_wire_is_never_retried(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """Case 2: discard during the send, the send fails with 503: it ends discarded."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply(503, headers={"Retry-After": "0"}) if let_go.wait(30) else 0
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app, clock=clock)
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 1, passing)

    discarded = any_team.head.post(f"/posts/{post['id']}/discard", json={})
    let_go.set()
    report = passing.result(timeout=30)

    assert discarded.status_code == 200, discarded.get_json()
    assert discarded.get_json()["status"] == "discarded"
    assert report.retried == [first_delivery(post)]
    assert delivery_status(any_team, first_delivery(post)) == "discarded"
    for _ in range(3):
        clock.advance(minutes=5)
        dispatcher.run_pass()
    assert len(receiver.snapshot()) == 1
    assert any_team.post(post["id"])["status"] == "discarded"


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_a_discard_during_a_send_records_what_it_withdrew_and_what_was_already_on_the_wire(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 2, for the debrief: one channel's request is on the wire, the other's delivery waits
    for the sender. The discard takes the waiting one back at once and names the one it could
    not call back; that one went out after all, and the post shows it. Discarding it again
    changes nothing: a post that is out never shows `discarded`."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply() if let_go.wait(30) else Reply(500)
    channels = [webhook(any_team, receiver, "x")["id"], webhook(any_team, receiver, "jobs")["id"]]
    post = any_team.scheduled(channels, at=now_utc() - timedelta(seconds=30))
    on_the_wire, waiting = sorted(d["id"] for d in post["deliveries"])
    passing = background(make_dispatcher(any_team.app).run_pass)
    wait_for_requests(receiver, 1, passing)

    discarded = any_team.head.post(f"/posts/{post['id']}/discard", json={"reason": "Falscher Ton"})
    let_go.set()
    report = passing.result(timeout=30)

    assert discarded.get_json()["status"] == "discarded"
    with get_db(any_team.app).transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "discard")).one()
        assert (entry.actor_id, entry.subject_id, entry.reason) == (
            any_team.ids["head"],
            post["id"],
            "Falscher Ton",
        )
        assert entry.detail == {
            "previous_status": "scheduled",
            "deliveries": [waiting],
            "still_sending": [on_the_wire],
        }
    assert (report.published, report.not_started) == ([on_the_wire], [waiting])
    assert any_team.post(post["id"])["status"] == "published", "it went out on one channel"
    again = any_team.head.post(f"/posts/{post['id']}/discard", json={})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["status"] == "published"
    assert [d["status"] for d in sorted(again.get_json()["deliveries"], key=lambda d: d["id"])] == [
        "published",
        "discarded",
    ]
    assert len(receiver.snapshot()) == 1


def test_a_send_given_back_at_shutdown_after_a_discard_ends_discarded(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """Case 2: started, discarded, then the scheduler shuts down before the request left."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app, clock=clock)
    before_send = Paused()
    with interleave.at("send.before", before_send):
        passing = background(dispatcher.run_pass)
        before_send.wait()
        assert any_team.head.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
        dispatcher.stop()
        before_send.go.set()
        report = passing.result(timeout=30)

    assert report.released == [first_delivery(post)]
    assert delivery_status(any_team, first_delivery(post)) == "discarded"
    clock.advance(minutes=5)
    make_dispatcher(any_team.app, clock=clock).run_pass()
    assert receiver.snapshot() == []


def test_a_discarded_post_whose_sender_vanished_mid_send_stays_discarded(
    any_team: Team, clock: Clock
) -> None:
    """Discarded while its request was on the wire; then its sender vanished, and the lease's
    end makes the delivery `unknown`. The post stays discarded: only an outcome that came back
    (it went out after all) changes a discarded post's status."""
    [post] = due_posts(any_team, any_team.channel(), 1)
    gone = sent_by_a_scheduler_that_vanishes(any_team, clock)
    assert any_team.head.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    with get_db(any_team.app).transaction() as session:
        assert claims.expire_leases(session, clock.now + timedelta(minutes=1)) == [gone.delivery_id]

    assert delivery_status(any_team, gone.delivery_id) == "unknown"
    assert any_team.post(post["id"])["status"] == "discarded"


# --- 3: people and a claim never overwrite each other ---------------------------------------


def test_a_discard_during_a_claim_takes_the_claimed_delivery_back(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 3: the claim holds the row; the discard waits for it, then wins over the start."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    claim_locked, before_start = Paused(), Paused()
    with interleave.at("claim.locked", claim_locked), interleave.at("start.before", before_start):
        passing = background(dispatcher.run_pass)
        claim_locked.wait()
        discarding = background(
            person(any_team, "head").post, f"/posts/{post['id']}/discard", json={}
        )
        wait_until_blocked(any_team)
        claim_locked.go.set()
        discarded = discarding.result(timeout=30)  # after the claim, before the start
        before_start.go.set()
        report = passing.result(timeout=30)

    assert discarded.status_code == 200, discarded.get_json()
    assert discarded.get_json()["status"] == "discarded"
    assert receiver.snapshot() == []
    assert delivery_status(any_team, first_delivery(post)) == "discarded"
    assert report.published == []


def test_a_claim_skips_a_post_a_person_is_discarding(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 3, the other order. On PostgreSQL the claim does not even wait (SKIP LOCKED): it
    returns at once with nothing while the discard is under way."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    with discard_under_way(any_team, post["id"], background) as person_locked:
        passing = background(dispatcher.run_pass)
        if not get_db(any_team.app).is_sqlite:
            assert passing.result(timeout=10).claimed == 0, "the claim waited or took the row"
        person_locked.go.set()
    passing.result(timeout=30)
    dispatcher.run_pass()
    assert receiver.snapshot() == []
    assert delivery_status(any_team, first_delivery(post)) == "discarded"


def test_an_edit_during_a_claim_takes_the_delivery_back_and_a_new_approval_sends_it_once(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """Case 3: edit vs claim. The post goes back to draft with its delivery disarmed, and the
    new approval sends the new text, once."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    claim_locked, before_start = Paused(), Paused()
    with interleave.at("claim.locked", claim_locked), interleave.at("start.before", before_start):
        passing = background(dispatcher.run_pass)
        claim_locked.wait()
        editing = background(
            person(any_team, "planner").patch,
            f"/posts/{post['id']}",
            json={"body": "Sommerfest verschoben"},
        )
        wait_until_blocked(any_team)
        claim_locked.go.set()
        edited = editing.result(timeout=30)  # after the claim, before the start
        before_start.go.set()
        passing.result(timeout=30)

    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"
    assert receiver.snapshot() == []
    assert delivery_status(any_team, first_delivery(post)) == "scheduled"
    with get_db(any_team.app).transaction() as session:  # the claim is forgotten, not emptied
        row = session.get_one(Delivery, first_delivery(post))
        assert (row.claim_token, row.lease_until, row.due_at) == (None, None, None)
    assert any_team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    assert any_team.head.post(f"/posts/{post['id']}/approve").status_code == 200
    dispatcher.run_pass()
    dispatcher.run_pass()
    assert [b["body"] for b in receiver.bodies()] == ["Sommerfest verschoben"]
    assert any_team.post(post["id"])["status"] == "published"


@pytest.fixture
def held_after_the_crisis(any_team: Team, receiver: Receiver, make_dispatcher: Any) -> dict:
    """A post held by a crisis that has since been lifted: it waits for a head's decision."""
    channel = webhook(any_team, receiver)
    any_team.head.post("/crisis", json={"reason": "Shitstorm"})
    [post] = due_posts(any_team, channel, 1)
    make_dispatcher(any_team.app).run_pass()
    assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
    assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
    assert any_team.post(post["id"])["status"] == "held"
    return post


def test_two_people_confirming_the_lift_at_once_lift_the_crisis_once(
    any_team: Team, background: Any
) -> None:
    """The second confirmation waits for the first (the queue's lock), then finds no crisis in
    force: one lift, one audit entry, and the second person is told why."""
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
    first_locked = Paused()
    with interleave.at("lift.locked", first_locked):
        first = background(person(any_team, "head2").post, "/crisis/lift/confirm")
        first_locked.wait()
        second = background(person(any_team, "admin").post, "/crisis/lift/confirm")
        wait_until_blocked(any_team)
        first_locked.go.set()
        confirmed, too_late = first.result(timeout=30), second.result(timeout=30)

    assert confirmed.status_code == 200, confirmed.get_json()
    assert too_late.status_code == 409, too_late.get_json()
    assert too_late.get_json()["error"] == "no crisis is in force"
    with get_db(any_team.app).transaction() as session:
        lifts = session.scalars(select(AuditEntry).where(AuditEntry.action == "lift_crisis"))
        assert [e.actor_id for e in lifts] == [any_team.ids["head2"]]


def test_two_heads_asking_to_lift_at_once_make_one_request_and_the_second_is_told_whose(
    any_team: Team, background: Any
) -> None:
    """The second request waits for the first (the queue's lock), then finds the lift asked for:
    it never replaces the first head's request and note."""
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    first_locked = Paused()
    with interleave.at("lift.locked", first_locked):
        first = background(person(any_team, "head").post, "/crisis/lift", json={"note": "ruhig"})
        first_locked.wait()
        second = background(person(any_team, "head2").post, "/crisis/lift", json={"note": "auch"})
        wait_until_blocked(any_team)
        first_locked.go.set()
        requested, too_late = first.result(timeout=30), second.result(timeout=30)

    assert requested.status_code == 202, requested.get_json()
    assert too_late.status_code == 409, too_late.get_json()
    assert too_late.get_json()["error"] == (
        "head@example.org already asked to lift this crisis; another head or an admin must "
        "confirm it"
    )
    shown = any_team.head.get("/crisis").get_json()
    assert (shown["lift_requested_by"], shown["lift_note"]) == ("head@example.org", "ruhig")


@pytest.mark.parametrize("first", ["discard", "release"])
def test_two_heads_release_and_discard_the_same_held_post(
    any_team: Team,
    receiver: Receiver,
    make_dispatcher: Any,
    background: Any,
    held_after_the_crisis: dict,
    first: str,
) -> None:
    """Case 3: the second head acts on what the first decided, never on a stale view."""
    post = held_after_the_crisis
    second = "release" if first == "discard" else "discard"
    person_locked = Paused()
    with interleave.at("person.locked", person_locked):
        acting_first = background(
            person(any_team, "head").post, f"/posts/{post['id']}/{first}", json={}
        )
        person_locked.wait()
        acting_second = background(
            person(any_team, "head2").post, f"/posts/{post['id']}/{second}", json={}
        )
        wait_until_blocked(any_team)
        person_locked.go.set()
        answer_first = acting_first.result(timeout=30)
        answer_second = acting_second.result(timeout=30)
    dispatcher = make_dispatcher(any_team.app)
    dispatcher.run_pass()

    assert answer_first.status_code == 200, answer_first.get_json()
    if first == "discard":
        assert answer_second.status_code == 409
        assert "discarded by head@example.org" in answer_second.get_json()["error"]
    else:  # a release and then a discard of the released post: both decisions stand in order
        assert answer_second.status_code == 200
    assert receiver.snapshot() == []
    assert any_team.post(post["id"])["status"] == "discarded"


def test_a_post_released_while_a_pass_is_under_way_goes_out_with_the_next_pass(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """Case 3, the state machine's sequence: a post held by a crisis (a response to the crisis
    went out meanwhile), the crisis lifted, and a head releases the held post while a pass has
    claimed another and is about to start it. The release falls due after that claim: the pass
    sends what it claimed, the next pass (a second later) the released post, each once. Nothing
    is lost, nothing waits for a person, nothing goes out twice."""
    channel = webhook(any_team, receiver, "karriere")
    dispatcher = make_dispatcher(any_team.app)
    # About the release, not about a sender too slow to take a request in time (a loaded
    # machine): every started send leaves.
    dispatcher.leave_within = 10.0
    planned = any_team.scheduled([channel["id"]], at=now_utc() - timedelta(minutes=4))
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    assert any_team.post(planned["id"])["status"] == "held"
    response = any_team.crisis_response([channel["id"]], at=now_utc() - timedelta(seconds=1))
    dispatcher.run_pass()
    assert any_team.post(response["id"])["status"] == "published", "a response goes out"
    assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
    assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
    assert any_team.post(planned["id"])["status"] == "held", "lifting never publishes"
    [later] = due_posts(any_team, channel, 1)

    released = []

    def release_now() -> None:
        if not released:
            answer = any_team.head.post(f"/posts/{planned['id']}/release", json={})
            released.append(answer)

    with interleave.at("start.before", release_now):
        report = dispatcher.run_pass()

    assert [answer.status_code for answer in released] == [200]
    assert report.published == [first_delivery(later)], "the pass sends what it had claimed"
    with get_db(any_team.app).transaction() as session:
        waiting = session.get_one(Delivery, first_delivery(planned))
        assert (waiting.status, waiting.attempts) == ("scheduled", 0)
        assert waiting.due_at is not None
        assert waiting.due_at <= now_utc(), "due: the next pass's"
    dispatcher.run_pass()
    assert receiver.counts_by_key() == {
        str(first_delivery(post)): 1 for post in (response, later, planned)
    }
    assert any_team.post(planned["id"])["status"] == "published"


# --- 4: a lease covers the send itself ------------------------------------------------------


@pytest.mark.parametrize(
    "config_overrides",
    [{"DISPATCH_CONCURRENCY": 1, "CLAIM_LEASE_SECONDS": 5, "WEBHOOK_TIMEOUT_SECONDS": 60.0}],
)
def test_a_claim_that_ran_out_while_waiting_for_a_sender_never_starts(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """Case 4: the second delivery waits behind the first longer than its claim's lease;
    another scheduler gives it back and sends it; the first scheduler must not send it too."""
    posts = due_posts(any_team, webhook(any_team, receiver), 2)
    slow = make_dispatcher(any_team.app, clock=clock, worker="slow")
    second_start = Paused(nth=2)
    with interleave.at("start.before", second_start):
        passing = background(slow.run_pass)
        second_start.wait()
        clock.advance(seconds=10)  # the claim's lease (5 s) has run out, the send's has not
        other = make_dispatcher(any_team.app, clock=clock, worker="other").run_pass()
        second_start.go.set()
        report = passing.result(timeout=30)

    second = first_delivery(posts[1])
    assert other.published == [second]
    assert report.published == [first_delivery(posts[0])]
    assert report.not_started == [second]
    assert sorted(receiver.counts_by_key().values()) == [1, 1]
    assert {any_team.post(p["id"])["status"] for p in posts} == {"published"}


@pytest.mark.parametrize("config_overrides", [{"WEBHOOK_TIMEOUT_SECONDS": 0.3}])
def test_a_request_never_starts_once_its_deadline_has_passed(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """Case 4: the sender thread was held up past the request's deadline (the lease counts
    from it): the request does not leave, the delivery goes back, the next pass sends it once."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app, clock=clock)
    before_send = Paused()
    with interleave.at("send.before", before_send):
        passing = background(dispatcher.run_pass)
        before_send.wait()
        time.sleep(0.4)  # the deadline is a time: let it pass
        before_send.go.set()
        report = passing.result(timeout=30)
    assert report.released == [first_delivery(post)]
    assert receiver.snapshot() == []
    assert delivery_status(any_team, first_delivery(post)) == "scheduled"
    dispatcher.run_pass()
    assert len(receiver.snapshot()) == 1
    assert any_team.post(post["id"])["status"] == "published"


# --- 5: what fell due while a crisis or a blackout was in force is held ----------------------


def test_lifting_holds_what_fell_due_during_the_crisis_when_no_pass_ran(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    """Case 5: the scheduler was down from before the post fell due until after the lift."""
    channel = webhook(any_team, receiver)
    post = any_team.scheduled([channel["id"]], at=clock.now + timedelta(minutes=5))
    any_team.head.post("/crisis", json={"reason": "Shitstorm"})
    with time_machine.travel(clock.now + timedelta(minutes=10), tick=True):
        assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
        assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
    clock.advance(minutes=11)
    make_dispatcher(any_team.app, clock=clock).run_pass()

    assert receiver.snapshot() == []
    shown = any_team.post(post["id"])
    assert shown["status"] == "held"
    with get_db(any_team.app).transaction() as session:
        lift = session.scalars(select(AuditEntry).where(AuditEntry.action == "lift_crisis")).one()
        assert lift.detail["held_at_lift"] == [post["id"]]


def test_a_blackout_that_ended_while_no_pass_ran_holds_what_fell_due_in_it(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    """Case 5: a blackout from +1 h to +2 h; the scheduler looks again only at +2 h 5 min."""
    channel = webhook(any_team, receiver)
    start = clock.now + timedelta(hours=1)
    planned = any_team.head.post(
        "/blackouts",
        json={
            "name": "Trauertag",
            "starts_at": iso_utc(start),
            "ends_at": iso_utc(start + timedelta(hours=1)),
            "channels": [channel["id"]],
        },
    )
    assert planned.status_code == 201, planned.get_json()
    inside = any_team.scheduled([channel["id"]], at=start + timedelta(minutes=55))
    after = any_team.scheduled([channel["id"]], at=start + timedelta(minutes=61))
    clock.advance(hours=2, minutes=5)
    make_dispatcher(any_team.app, clock=clock).run_pass()

    assert [b["post_id"] for b in receiver.bodies()] == [after["id"]]
    shown = any_team.post(inside["id"])
    assert shown["status"] == "held"
    assert shown["deliveries"][0]["held_by_blackout_id"] == planned.get_json()["id"]


# --- 6: an edit is no side door out of the review -------------------------------------------


@pytest.mark.parametrize("who", ["planner", "head", "admin"])
def test_an_edit_never_takes_a_held_post_out_of_the_review(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, held_after_the_crisis: dict, who: str
) -> None:
    post = held_after_the_crisis
    edited = getattr(any_team, who).patch(
        f"/posts/{post['id']}", json={"body": "Jetzt erst recht: Puppenmuseum!"}
    )
    assert edited.status_code == 409, edited.get_json()
    assert "review" in edited.get_json()["error"]
    shown = any_team.post(post["id"])
    assert shown["status"] == "held"
    assert shown["body"] == post["body"]
    make_dispatcher(any_team.app).run_pass()
    assert receiver.snapshot() == []


# --- 7: the crisis-response flag is no side door --------------------------------------------


def test_the_crisis_response_flag_outside_a_crisis_is_refused(any_team: Team) -> None:
    channel = any_team.channel()
    created = any_team.head.post(
        "/posts",
        json={
            "body": "Puppenmuseum: wir sind Sponsor!",
            "channels": [channel["id"]],
            "publish_at": iso_utc(now_utc() + timedelta(hours=1)),
            "crisis_response": True,
        },
    )
    assert created.status_code == 409
    refusal = {
        "error": "a crisis response answers a crisis in force, and none is in force now: plan it "
        "as a normal post, or prepare it as a holding statement in a crisis playbook",
        "fields": {"crisis_response": "only while a crisis is in force"},
    }
    assert created.get_json() == refusal
    draft = any_team.draft([channel["id"]], author="head")
    flagged = any_team.head.patch(f"/posts/{draft['id']}", json={"crisis_response": True})
    assert (flagged.status_code, flagged.get_json()) == (409, refusal)
    assert any_team.head.post(f"/posts/{draft['id']}/submit").status_code == 200
    assert any_team.head.post(f"/posts/{draft['id']}/approve").status_code == 403


def test_a_draft_marked_as_crisis_response_during_the_crisis_goes_out_and_unmarked_is_held(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    """Marking a post as the crisis response is an edit like any other, and so is taking the
    mark off: the marked one goes out through the crisis once approved; the other is held."""
    channel = webhook(any_team, receiver)
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    at = clock.now + timedelta(minutes=5)
    answer, unmarked = (any_team.draft([channel["id"]], at=at, author="head") for _ in range(2))
    for post, marks in ((answer, [True]), (unmarked, [True, False])):
        for mark in marks:
            edited = any_team.head.patch(f"/posts/{post['id']}", json={"crisis_response": mark})
            assert edited.status_code == 200, edited.get_json()
            assert edited.get_json()["crisis_response"] is mark
        assert any_team.head.post(f"/posts/{post['id']}/submit").status_code == 200
        assert any_team.head2.post(f"/posts/{post['id']}/approve").status_code == 200
    clock.advance(minutes=6)
    make_dispatcher(any_team.app, clock=clock).run_pass()

    assert [b["post_id"] for b in receiver.bodies()] == [answer["id"]]
    assert any_team.post(unmarked["id"])["status"] == "held"


def test_a_crisis_response_answers_only_the_crisis_in_force(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    channel = webhook(any_team, receiver)
    first = any_team.head.post("/crisis", json={"reason": "Störfall"}).get_json()
    response = any_team.crisis_response([channel["id"]], at=clock.now + timedelta(hours=1))
    with get_db(any_team.app).transaction() as session:
        assert session.get_one(Delivery, first_delivery(response)).post.crisis_id == first["id"]
    assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
    assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
    any_team.head.post("/crisis", json={"reason": "Neuer Sturm"})
    clock.advance(hours=1, minutes=1)
    make_dispatcher(any_team.app, clock=clock).run_pass()
    assert receiver.snapshot() == [], "a response to a lifted crisis is held by the next one"
    assert any_team.post(response["id"])["status"] == "held"


# --- 9: an outcome whose commit answer was lost -----------------------------------------------


@pytest.mark.parametrize("dropped", [1, 2], ids=["after-the-start", "after-the-outcome"])
def test_a_commit_whose_answer_was_lost_is_recognised_not_lost_or_repeated(
    any_team: Team,
    receiver: Receiver,
    make_dispatcher: Any,
    caplog: pytest.LogCaptureFixture,
    dropped: int,
) -> None:
    """Case 9: the commit reached the database, then the connection dropped. The retry finds
    its own token on the row: a started send is sent once, a recorded outcome is `published`."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    commits = {"n": 0}

    def connection_drops() -> None:
        commits["n"] += 1
        if commits["n"] == dropped:
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed"))

    with interleave.at("record.committed", connection_drops):
        report = make_dispatcher(any_team.app).run_pass()
    assert commits["n"] == 3, "the start and the outcome committed, one of them twice"
    assert report.published == [first_delivery(post)]
    assert report.lost == []
    assert "claim lost" not in caplog.text
    assert len(receiver.snapshot()) == 1
    assert any_team.post(post["id"])["status"] == "published"


def test_a_slow_start_transaction_does_not_send_its_deliveries_back_unsent(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """A start step whose transaction takes longer than `leave_within` (its commit stalled on a
    loaded disk) still sends what it started, in the same pass: leaving in time counts from
    the commit. Before, every delivery of the step went back to the queue and the pass ended
    with them due and `scheduled` (attempts 0), pass after pass while the disk stayed slow."""
    [post] = due_posts(any_team, webhook(any_team, receiver), 1)
    dispatcher = make_dispatcher(any_team.app)
    slow_commit = lambda: time.sleep(dispatcher.leave_within + 0.1)  # noqa: E731
    with interleave.at("start.locked", slow_commit):
        report = dispatcher.run_pass()
    assert report.published == [first_delivery(post)]
    assert report.released == []
    assert receiver.counts_by_key() == {str(first_delivery(post)): 1}
    assert any_team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_a_delivery_ready_behind_a_sender_that_cannot_leave_in_time_goes_back_unsent(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """While channels answer fast, started deliveries wait behind a busy sender; one that cannot
    leave within `leave_within` of its start goes back unsent (a declaration never waits for a
    queue), and the next pass sends it, once."""
    let_go = threading.Event()
    receiver.reply = lambda _r: Reply() if let_go.wait(30) else Reply(500)
    posts = due_posts(any_team, webhook(any_team, receiver), 2)
    dispatcher = make_dispatcher(any_team.app)
    dispatcher._recent_send = 0.001  # the channel has been answering fast
    passing = background(dispatcher.run_pass)
    wait_for_requests(receiver, 1, passing)
    time.sleep(dispatcher.leave_within + 0.1)  # the one behind it can no longer leave in time
    let_go.set()
    report = passing.result(timeout=30)

    first, second = (first_delivery(p) for p in posts)
    assert report.published == [first]
    assert report.released == [second]
    assert len(receiver.snapshot()) == 1
    assert delivery_status(any_team, second) == "scheduled"
    make_dispatcher(any_team.app).run_pass()
    assert sorted(receiver.counts_by_key().values()) == [1, 1]
