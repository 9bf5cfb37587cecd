"""Guarantees pinned against the bugs a mutation run showed no test would notice (docs/TESTING.md).

Each test names the one-line change it catches. They drive the queue's own functions with the
interleaving forced (calendar_app/interleave.py), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text, update

from calendar_app import claims, crisis, holds, interleave, planning
from calendar_app.extensions import get_db
from calendar_app.listening import alerts
from calendar_app.models import AuditEntry, Delivery, DeliveryStatus, Post, PostStatus, User
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver
from tests.test_blackouts import plan_blackout
from tests.test_crisis_halt import Paused, discard_under_way, due_posts, person, webhook

LEASE = 30.0


def claim(
    team: Team, now: datetime, worker: str = "scheduler-1", limit: int = 10
) -> list[claims.Claim]:
    with get_db(team.app).transaction() as session:
        result = claims.claim_due(
            session, now=now, limit=limit, worker=worker, lease_seconds=LEASE,
            missed_after=timedelta(minutes=30),
        )  # fmt: skip
        return result.claims


def start(team: Team, claimed: list[claims.Claim], now: datetime, send_seconds: float = 10):
    with get_db(team.app).transaction() as session:
        crisis = claims.lock_in_order(session, claimed, queue=True)
        return claims.start_sending(
            session, claimed, crisis=crisis, now=now, send_seconds=send_seconds, record_seconds=0
        )


def delivery(team: Team, delivery_id: int) -> Delivery:
    with get_db(team.app).transaction() as session:
        row = session.get_one(Delivery, delivery_id)
        session.expunge(row)
        return row


def post_status(team: Team, post_id: int) -> str:
    with get_db(team.app).transaction() as session:
        return session.get_one(Post, post_id).status


def lost_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings an operator reads when a late outcome is refused."""
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("claim lost")]


def lost_warning(claim: claims.Claim, outcome: str) -> str:
    return (
        f"claim lost, outcome not recorded: delivery={claim.delivery_id} token={claim.token} "
        f"outcome={outcome}"
    )


def open_storm_alert(team: Team, channel_id: int, now: datetime, hold_minutes: int) -> None:
    """An early-warning alert on the channel, undecided, holding it for `hold_minutes`."""
    with get_db(team.app).transaction() as session:
        spike = alerts.Spike(channel_id, 84, 6.0, 52.0, 15, now - timedelta(minutes=15))
        assert alerts.open_alert(session, spike, now=now, hold_minutes=hold_minutes) is not None


def blocked_or_done(team: Team, future: Future) -> None:
    """Until `future` waits for a lock (PostgreSQL) or has finished. SQLite serialises whole
    transactions: whoever came second runs after the first commits, nothing to wait for."""
    db = get_db(team.app)
    if db.is_sqlite:
        return
    deadline = time.monotonic() + 20
    while not future.done():
        if someone_waits_for_a_lock(team):
            return
        assert time.monotonic() < deadline, "neither blocked nor done"
        time.sleep(0.01)


def waits_for_a_declaration_under_way(
    team: Team, monkeypatch: pytest.MonkeyPatch, background: Any, step: Any, name: str
) -> tuple[Any, int]:
    """A head's declaration, its hold made to miss every row (as when people hold them), paused
    before its commit; `step` runs meanwhile and must wait for it. Returns what the step
    returned, and the crisis."""
    monkeypatch.setattr(crisis, "hold_due_deliveries", lambda *_a, **_k: [])
    db = get_db(team.app)
    under_way, go_on = threading.Event(), threading.Event()

    def declaration() -> int:
        with db.transaction() as session:
            head = session.get_one(User, team.ids["head"])
            declared = crisis.declare_crisis(session, head, reason="Shitstorm")
            under_way.set()
            assert go_on.wait(20)
            return declared.crisis.id

    declaring = background(declaration)
    assert under_way.wait(20)
    stepping = background(step)
    try:
        blocked_or_done(team, stepping)
        assert not stepping.done(), f"the {name} did not wait for the declaration"
    finally:
        go_on.set()
    crisis_id = declaring.result(timeout=20)
    return stepping.result(timeout=20), crisis_id


def someone_waits_for_a_lock(team: Team) -> bool:
    """Whether a transaction on the team's PostgreSQL database waits for a lock."""
    with get_db(team.app).engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
        )


# --- the fencing token: `_fenced` without `claim_token == claim.token` -----------------------


def test_an_old_claim_holder_cannot_record_over_the_claim_that_replaced_it(
    any_team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """Expire -> unknown -> released by a head -> claimed and started again: the first holder's
    late outcome (failed, retry, published) is refused, each refusal is logged with what the
    operator needs to find it, and the new send is left alone."""
    channel = any_team.channel()
    post = any_team.scheduled([channel["id"]], at=now_utc() - timedelta(seconds=1))
    now = now_utc()
    [old] = claim(any_team, now, "scheduler-old")
    assert start(any_team, [old], now, send_seconds=0.01).started
    with get_db(any_team.app).transaction() as session:
        claims.expire_leases(session, now + timedelta(seconds=5))
    assert delivery(any_team, old.delivery_id).status == DeliveryStatus.UNKNOWN
    released = any_team.head.post(f"/posts/{post['id']}/release", json={})
    assert released.status_code == 200, released.get_json()
    later = now_utc()
    [new] = claim(any_team, later, "scheduler-new")
    assert new.delivery_id == old.delivery_id
    assert new.token != old.token
    assert start(any_team, [new], later).started

    db = get_db(any_team.app)
    with db.transaction() as session:
        assert claims.record_failed(session, old, "late answer") is False
    with db.transaction() as session:
        assert not claims.record_retry(session, old, "late", later + timedelta(minutes=1))
    with db.transaction() as session:
        assert claims.record_published_together(session, [old], later) == set()
    assert lost_warnings(caplog) == [
        lost_warning(old, outcome) for outcome in ("failed", "retry", "published")
    ]

    row = delivery(any_team, new.delivery_id)
    assert (row.status, row.claim_token, row.error) == (DeliveryStatus.PUBLISHING, new.token, None)
    with db.transaction() as session:
        assert claims.record_published_together(session, [new], later) == {new.delivery_id}


# --- an outcome recorded once: `_fenced` without `status == publishing` or the lease cleared,
# `_recorded_before` without the delivery or the token, `give_back`'s attempts ----------------


def test_a_started_delivery_carries_its_start_and_its_requests_deadline(any_team: Team) -> None:
    """What a declaration waits for (until `send_deadline`) and what the check of an unknown
    post looks for (posted since `started_at`) is written by the start step."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    now = now_utc()
    [claimed] = claim(any_team, now)
    with get_db(any_team.app).transaction() as session:
        [started] = claims.start_sending(
            session, [claimed], crisis=None, now=now, send_seconds=10, record_seconds=5
        ).started
    row = delivery(any_team, claimed.delivery_id)
    assert started.send_deadline == now + timedelta(seconds=10)
    assert (row.status, row.started_at) == (DeliveryStatus.PUBLISHING, now)
    assert row.send_deadline == now + timedelta(seconds=10)
    assert row.lease_until == now + timedelta(seconds=15)


def test_a_post_on_two_channels_starts_and_is_recorded_in_one_step(any_team: Team) -> None:
    """A step with two deliveries of one post locks them by id first (`lock_in_order`), as a
    person's action does, then starts both and records both."""
    channels = [any_team.channel("Konzern-X")["id"], any_team.channel("Konzern-Mastodon")["id"]]
    post = any_team.scheduled(channels, at=now_utc() - timedelta(seconds=1))
    now = now_utc()
    both = claim(any_team, now)
    assert {c.post_id for c in both} == {post["id"]}
    assert sorted(c.channel_id for c in both) == sorted(channels)
    assert len(start(any_team, both, now).started) == 2
    with get_db(any_team.app).transaction() as session:
        claims.lock_in_order(session, both, queue=False)
        recorded = claims.record_published_together(session, both, now)
    assert recorded == {c.delivery_id for c in both}
    assert post_status(any_team, post["id"]) == PostStatus.PUBLISHED


def test_an_outcome_written_again_is_recorded_once(any_team: Team) -> None:
    """A pass writes its outcomes again when the database dropped the answer to a commit that
    went through. The second write finds the row off the wire and changes nothing: a give-back
    does not take a second attempt away, a retry keeps the time it got first, a failure does
    not overwrite the retry. Each says it was recorded (it was, the first time), and no
    outcome leaves a lease behind."""
    channel = any_team.channel()
    returned, retried = due_posts(any_team, channel, 2)
    now = now_utc()
    back, retry = claim(any_team, now)
    assert (back.post_id, retry.post_id) == (returned["id"], retried["id"])
    assert len(start(any_team, [back, retry], now).started) == 2

    db = get_db(any_team.app)
    for retry_in in (1, 7):  # the second write has drawn another backoff
        with db.transaction() as session:
            assert claims.give_back(session, back) is True
        with db.transaction() as session:
            assert claims.record_retry(session, retry, "503", now + timedelta(minutes=retry_in))
    with db.transaction() as session:
        assert claims.record_failed(session, retry, "gave up") is True

    given_back = delivery(any_team, back.delivery_id)
    assert (given_back.status, given_back.attempts) == (DeliveryStatus.SCHEDULED, 0)
    assert given_back.error is None
    retried_row = delivery(any_team, retry.delivery_id)
    assert (retried_row.status, retried_row.attempts) == (DeliveryStatus.SCHEDULED, 1)
    assert (retried_row.due_at, retried_row.error) == (now + timedelta(minutes=1), "503")
    assert given_back.lease_until is None
    assert retried_row.lease_until is None


def test_a_claim_lost_to_its_lease_is_refused_though_its_batch_recorded_other_outcomes(
    any_team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """Two deliveries of one batch share its token. The first is recorded as failed; the
    second's lease runs out and it becomes `unknown`. The holder's late outcomes for the
    second are refused and logged: neither its token on the failed row nor the unknown row
    (which no claim holds) make them look recorded."""
    channel = any_team.channel()
    due_posts(any_team, channel, 2)
    now = now_utc()
    failed, lost = claim(any_team, now)
    assert failed.token == lost.token
    assert len(start(any_team, [failed, lost], now, send_seconds=0.01).started) == 2
    db = get_db(any_team.app)
    with db.transaction() as session:
        assert claims.record_failed(session, failed, "HTTP 400") is True
    with db.transaction() as session:
        assert claims.expire_leases(session, now + timedelta(seconds=5)) == [lost.delivery_id]

    with db.transaction() as session:
        assert claims.record_failed(session, lost, "late answer") is False
    with db.transaction() as session:
        assert claims.record_retry(session, lost, "late", now + timedelta(minutes=1)) is False
    with db.transaction() as session:
        assert claims.give_back(session, lost) is False
    assert lost_warnings(caplog) == [
        lost_warning(lost, outcome) for outcome in ("failed", "retry", "given back")
    ]
    row = delivery(any_team, lost.delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.UNKNOWN, 1)
    assert row.error == str(claims.LEASE_EXPIRED)
    assert delivery(any_team, failed.delivery_id).status == DeliveryStatus.FAILED


@pytest.mark.parametrize("on_the_wire", [False, True], ids=["waiting", "on-the-wire"])
def test_the_end_of_a_lease_skips_a_delivery_a_person_is_changing(
    any_team: Team, background: Any, on_the_wire: bool
) -> None:
    """`expire_leases` skips rows a person has locked (a head discarding the post, paused with
    its locks held), claimed ones and ones on the wire alike: it returns at once instead of
    waiting, and the person's discard stands (an expiry after it still finds a send on the wire
    whose lease ran out). SQLite serialises whole transactions, so there only the outcome is
    checked."""
    channel = any_team.channel()
    [post] = due_posts(any_team, channel, 1)
    now = now_utc()
    [claimed] = claim(any_team, now)
    if on_the_wire:
        assert len(start(any_team, [claimed], now, send_seconds=1).started) == 1
    db = get_db(any_team.app)
    status_before = delivery(any_team, claimed.delivery_id).status

    def expire() -> str:
        """The delivery's status right after the expiry committed."""
        with db.transaction() as session:
            claims.expire_leases(session, now + timedelta(seconds=LEASE + 1))
        return delivery(any_team, claimed.delivery_id).status

    with discard_under_way(any_team, post["id"], background):
        expiring = background(expire)
        if not db.is_sqlite:
            status = expiring.result(timeout=10)  # raises if the expiry waited
            assert status == status_before, "the expiry took the row"
    expiring.result(timeout=30)
    if on_the_wire:
        assert expire() == DeliveryStatus.UNKNOWN
    else:
        assert delivery(any_team, claimed.delivery_id).status == DeliveryStatus.DISCARDED


def test_a_scheduler_shutting_down_gives_back_only_what_it_still_holds_unstarted(
    any_team: Team,
) -> None:
    """`release_claims`: of a batch claimed and then given up, a claimed delivery goes back to
    the queue as it was before the claim (attempts, token, lease); one already on the wire and
    one a person discarded meanwhile stay as they are."""
    channel = any_team.channel()
    posts = due_posts(any_team, channel, 4)
    now = now_utc()
    waiting, also_waiting, on_wire, discarded = claim(any_team, now)
    assert len(start(any_team, [on_wire], now).started) == 1
    taken = any_team.head.post(f"/posts/{posts[3]['id']}/discard", json={"reason": "überholt"})
    assert taken.status_code == 200, taken.get_json()

    with get_db(any_team.app).transaction() as session:
        released = claims.release_claims(session, [waiting, also_waiting, on_wire, discarded])
    assert released == [waiting.delivery_id, also_waiting.delivery_id]
    back = delivery(any_team, waiting.delivery_id)
    assert (back.status, back.attempts) == (DeliveryStatus.SCHEDULED, 0)
    assert (back.claim_token, back.lease_until) == (None, None)
    sending = delivery(any_team, on_wire.delivery_id)
    assert (sending.status, sending.claim_token) == (DeliveryStatus.PUBLISHING, on_wire.token)
    assert delivery(any_team, discarded.delivery_id).status == DeliveryStatus.DISCARDED
    again = claim(any_team, now_utc(), "scheduler-2")
    assert [(c.delivery_id, c.attempts) for c in again] == [
        (c.delivery_id, c.attempts) for c in (waiting, also_waiting)
    ]


def test_a_scheduler_shutting_down_leaves_a_claim_another_scheduler_took_over(
    any_team: Team,
) -> None:
    """Its claim ran out and another scheduler claimed the delivery: giving back the old claim
    leaves the new one alone."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    now = now_utc()
    [old] = claim(any_team, now, "scheduler-old")
    later = now + timedelta(seconds=LEASE + 1)
    with get_db(any_team.app).transaction() as session:
        claims.expire_leases(session, later)
    [new] = claim(any_team, later, "scheduler-new")
    with get_db(any_team.app).transaction() as session:
        assert claims.release_claims(session, [old]) == []
    row = delivery(any_team, new.delivery_id)
    assert (row.status, row.claim_token, row.attempts) == (DeliveryStatus.CLAIMED, new.token, 1)


# --- the missed window: `<` and `>=` at exactly MISSED_AFTER_MINUTES --------------------------


def test_a_delivery_exactly_thirty_minutes_late_is_still_sent_and_a_moment_later_it_is_missed(
    any_team: Team,
) -> None:
    channel = any_team.channel()
    due = now_utc().replace(microsecond=0) - timedelta(hours=2)
    on_time = any_team.scheduled([channel["id"]], at=due)
    too_late = any_team.scheduled([channel["id"]], at=due - timedelta(microseconds=1000))

    [taken] = claim(any_team, due + timedelta(minutes=30))

    assert taken.post_id == on_time["id"]
    assert post_status(any_team, too_late["id"]) == PostStatus.MISSED


# --- the post lock in settle_post_status ----------------------------------------------------


def test_a_late_delivery_the_set_aside_skipped_is_not_claimed_either(
    any_team: Team, background: Any
) -> None:
    """The set-aside of what is too late skips rows a person holds, at once. If the person lets
    go before the claim takes its rows (paused in between), the claim must not take the late
    delivery either; the next pass sets it aside. SQLite has no row locks: there the set-aside
    takes it at once."""
    channel = any_team.channel()
    [post] = due_posts(any_team, channel, 1)
    delivery_id = post["deliveries"][0]["id"]
    late = now_utc() + timedelta(minutes=31)
    db = get_db(any_team.app)
    set_aside = Paused()
    with db.engine.connect() as person_connection, interleave.at("claim.set_aside", set_aside):
        if not db.is_sqlite:
            person_connection.execute(
                text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE"), {"id": delivery_id}
            )
        claiming = background(claim, any_team, late)
        deadline = time.monotonic() + 20
        while not set_aside.reached.wait(0.01):
            if not db.is_sqlite:
                assert not someone_waits_for_a_lock(any_team), "the set-aside waited for the row"
            assert time.monotonic() < deadline, "the set-aside never ended"
        person_connection.rollback()
        set_aside.go.set()
        assert claiming.result(timeout=20) == []
    if not db.is_sqlite:
        assert delivery(any_team, delivery_id).status == DeliveryStatus.SCHEDULED
        assert claim(any_team, late) == []
    assert delivery(any_team, delivery_id).status == DeliveryStatus.MISSED


def test_two_schedulers_claim_at_once_without_waiting_for_each_other(
    any_team: Team, background: Any
) -> None:
    """A claim holds the queue lock (shared) and its rows until it commits. Another scheduler's
    claim meanwhile takes the other due delivery at once instead of waiting for it: that is how
    schedulers scale out. Only a declaration or a lift takes the queue lock exclusively. SQLite
    admits one writer at a time, so there only the outcome is checked."""
    channel = any_team.channel()
    posts = due_posts(any_team, channel, 2)
    now = now_utc()
    first_locked = Paused()
    with interleave.at("claim.locked", first_locked):
        first = background(lambda: claim(any_team, now, "scheduler-1", limit=1))
        first_locked.wait()
        second = background(lambda: claim(any_team, now, "scheduler-2", limit=1))
        try:
            if not get_db(any_team.app).is_sqlite:
                [taken] = second.result(timeout=10)  # raises if it waited for the first
                assert taken.post_id == posts[1]["id"]
        finally:
            first_locked.go.set()
        assert [c.post_id for c in first.result(timeout=30)] == [posts[0]["id"]]
        assert [c.post_id for c in second.result(timeout=30)] == [posts[1]["id"]]


def test_a_claim_takes_the_earliest_due_first_and_no_more_than_asked(any_team: Team) -> None:
    """Of what is due, a claim takes at most `limit` deliveries, the earliest due first, and
    of two due at the same moment the one planned first (the lower id), whatever order the
    rows lie in on disk. Each claimed row names the scheduler and the time it was claimed."""
    channel = any_team.channel()
    at = now_utc() - timedelta(minutes=5)
    first, second, third = (
        any_team.scheduled([channel["id"]], at=at)["deliveries"][0]["id"] for _ in range(3)
    )
    earlier = any_team.scheduled([channel["id"]], at=at - timedelta(minutes=1))
    db = get_db(any_team.app)
    with db.transaction() as session:  # the first row written last: behind the others on disk
        due = session.get_one(Delivery, first).due_at
        for moved in (due + timedelta(seconds=1), due):
            session.execute(update(Delivery).where(Delivery.id == first).values(due_at=moved))

    def claim_at_most(limit: int, now: datetime) -> list[int]:
        with db.transaction() as session:
            result = claims.claim_due(
                session, now=now, limit=limit, worker="scheduler-7", lease_seconds=LEASE,
                missed_after=timedelta(minutes=30),
            )  # fmt: skip
            return [c.delivery_id for c in result.claims]

    now = now_utc()
    assert claim_at_most(1, now) == [earlier["deliveries"][0]["id"]]
    assert claim_at_most(1, now) == [first]
    assert claim_at_most(2, now) == [second, third]
    row = delivery(any_team, first)
    assert (row.claimed_by, row.claimed_at) == ("scheduler-7", now)


def test_a_delivery_claimed_again_after_a_retry_carries_nothing_of_its_earlier_send(
    any_team: Team,
) -> None:
    """A send answered with a retry goes back to the queue with its start and deadline still
    on the row (they say when the last try left). Claimed again, it waits for a sender with
    neither: until it starts, nothing may take it for a send on the wire."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    now = now_utc()
    [first] = claim(any_team, now)
    assert len(start(any_team, [first], now).started) == 1
    with get_db(any_team.app).transaction() as session:
        assert claims.record_retry(session, first, "HTTP 503", now + timedelta(seconds=1))
    row = delivery(any_team, first.delivery_id)
    assert (row.status, row.started_at) == (DeliveryStatus.SCHEDULED, now)

    [again] = claim(any_team, now + timedelta(seconds=2))
    row = delivery(any_team, again.delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.CLAIMED, 2)
    assert (row.started_at, row.send_deadline, row.withdrawn_at) == (None, None, None)


@pytest.mark.parametrize("before", ["crisis", "blackout", "alert", "retry"])
def test_a_delivery_found_too_late_carries_only_its_lateness(
    any_team: Team, caplog: pytest.LogCaptureFixture, before: str
) -> None:
    """A delivery back in the queue after a crisis', a blackout's or an alert's hold (released
    by a head)
    or after a retry (its sender's token still on the row) that is found too late becomes
    `missed` for that reason alone: no crisis, blackout or alert named as holding it, no
    claim token, set aside at the moment the scheduler found it."""
    channel = any_team.channel()
    now = now_utc()
    if before == "blackout":
        plan_blackout(any_team, now - timedelta(minutes=10), now + timedelta(minutes=1),
                      channels=[channel["id"]])  # fmt: skip
    elif before == "crisis":
        assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    elif before == "alert":
        open_storm_alert(any_team, channel["id"], now, hold_minutes=1)
    [post] = due_posts(any_team, channel, 1)
    delivery_id = post["deliveries"][0]["id"]
    if before == "retry":
        [claimed] = claim(any_team, now)
        assert len(start(any_team, [claimed], now).started) == 1
        with get_db(any_team.app).transaction() as session:
            assert claims.record_retry(session, claimed, "HTTP 503", now + timedelta(seconds=1))
        assert delivery(any_team, delivery_id).claim_token == claimed.token
        again_at = now + timedelta(seconds=1)
    else:
        assert claim(any_team, now_utc()) == []
        assert delivery(any_team, delivery_id).status == DeliveryStatus.HELD
        if before == "crisis":
            assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
            assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
        again_at = now + timedelta(minutes=2)
        released = any_team.head.post(
            f"/posts/{post['id']}/release", json={"publish_at": iso_utc(again_at)}
        )
        assert released.status_code == 200, released.get_json()

    late = again_at + timedelta(minutes=31)
    assert claim(any_team, late) == []
    row = delivery(any_team, delivery_id)
    assert (row.status, row.held_at, row.claim_token) == (DeliveryStatus.MISSED, late, None)
    assert (row.held_by_crisis_id, row.held_by_blackout_id, row.held_by_alert_id) == (None,) * 3
    assert row.error == (
        "not sent: its time had passed by more than 30 minutes when the scheduler found it. "
        "Release it (now or at a new time) or discard it."
    )
    said = "deliveries too late to send, now missed"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(said)] == [
        f"{said}: ids=[{delivery_id}]"
    ]


@pytest.mark.parametrize("config_overrides", [{"DECLARE_WAIT_SECONDS": 60.0}])
def test_a_declaration_does_not_wait_for_a_request_long_past_its_deadline(
    any_team: Team, background: Any
) -> None:
    """A declaration waits for the requests on the wire, each until its own deadline (and a
    moment to record it), not for its whole allowance: one whose deadline passed seconds ago
    (its sender gone) ends the wait at once."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    [claimed] = claim(any_team, now_utc())
    long_ago = now_utc() - timedelta(seconds=10)
    assert len(start(any_team, [claimed], long_ago, send_seconds=1).started) == 1
    declaring = background(any_team.head.post, "/crisis", json={"reason": "Sturm"})
    assert declaring.result(timeout=20).status_code == 201  # not after 60 s
    assert delivery(any_team, claimed.delivery_id).status == DeliveryStatus.PUBLISHING


@pytest.mark.parametrize("config_overrides", [{"DECLARE_WAIT_SECONDS": 60.0}])
def test_a_declaration_waits_for_a_silent_request_until_its_deadline_has_passed(
    any_team: Team,
) -> None:
    """A request on the wire whose sender stays silent is waited for until its deadline and the
    moment to record it have passed, not less: the declaration answers after that, and the
    delivery is still on the wire (its sender may yet record it)."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    [claimed] = claim(any_team, now_utc())
    [started] = start(any_team, [claimed], now_utc(), send_seconds=2).started
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    assert now_utc() >= started.send_deadline + timedelta(seconds=1)
    assert delivery(any_team, claimed.delivery_id).status == DeliveryStatus.PUBLISHING


@pytest.mark.parametrize("scoped", [True, False], ids=["one-channel", "all-channels"])
def test_a_declaration_records_in_the_audit_log_what_it_held_and_what_was_on_the_wire(
    any_team: Team, scoped: bool
) -> None:
    """The audit entry of a declaration is the crisis timeline's first line and the record a
    review goes back to: who, why, its scope (channels, topics, keywords), which requests were
    already on the wire and which posts it held; nothing from outside its scope."""
    x, blog = any_team.channel("Konzern-X"), any_team.channel("Blog")
    due_posts(any_team, x, 1)
    due_posts(any_team, blog, 1)
    on_x, on_blog = sorted(claim(any_team, now_utc()), key=lambda c: c.post_id)
    long_ago = now_utc() - timedelta(seconds=10)  # deadlines long past: no wait
    assert len(start(any_team, [on_x, on_blog], long_ago, send_seconds=1).started) == 2
    [held] = due_posts(any_team, x, 1)
    [elsewhere] = due_posts(any_team, blog, 1)
    scope = {"channels": [x["id"]]} if scoped else {}
    declared = any_team.head.post(
        "/crisis",
        json={"reason": "  Datenleck ", "topics": ["Sponsoring"], "keywords": ["Puppenmuseum"]}
        | scope,
    )
    assert declared.status_code == 201
    with get_db(any_team.app).transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "declare_crisis")
        ).one()
        recorded = (entry.actor_id, entry.subject_id, entry.reason, entry.detail)
    assert recorded == (
        any_team.ids["head"],
        declared.get_json()["id"],
        "Datenleck",
        {
            "channels": [x["id"]] if scoped else "all",
            "topics": ["sponsoring"],
            "keywords": ["puppenmuseum"],
            "in_flight": [on_x.delivery_id] if scoped else [on_x.delivery_id, on_blog.delivery_id],
            "held_posts": [held["id"]] if scoped else sorted([held["id"], elsewhere["id"]]),
            "alert": None,
        },
    )


def decided_by_the_declaration(
    team: Team, alert_id: int, crisis: dict[str, Any], who: str
) -> dict[str, Any]:
    """The alert is decided by `who`, points to the crisis, and the declaration's audit entry
    names it; returns that entry's details."""
    decided = team.head.get(f"/alerts/{alert_id}").get_json()
    assert (decided["status"], decided["decided_by"]["id"]) == ("declared", team.ids[who])
    assert decided["crisis_id"] == crisis["id"]
    with get_db(team.app).transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "declare_crisis")
        ).one()
        assert entry.detail["alert"] == alert_id
        return dict(entry.detail)


def test_a_declaration_from_an_early_warning_names_the_alert_and_who_decided_it(
    any_team: Team,
) -> None:
    """Declared from an undecided alert: the alert is decided by the head who declared, points
    to the crisis, and the declaration's audit entry names the alert."""
    channel = any_team.channel()
    open_storm_alert(any_team, channel["id"], now_utc(), hold_minutes=30)
    [alert] = any_team.head.get("/alerts?status=open").get_json()["items"]
    declared = any_team.head2.post("/crisis", json={"reason": "Sturm", "alert_id": alert["id"]})
    assert declared.status_code == 201
    declaration = decided_by_the_declaration(any_team, alert["id"], declared.get_json(), "head2")
    assert declaration["channels"] == [channel["id"]]  # the alert's channel


def test_each_post_a_declaration_holds_has_its_own_audit_entry_naming_its_deliveries(
    any_team: Team,
) -> None:
    """One `hold` entry per post, by the system, naming the crisis and that post's deliveries:
    the crisis timeline keeps it even after a later crisis holds the post again."""
    x, blog = any_team.channel("Konzern-X"), any_team.channel("Blog")
    due = now_utc() - timedelta(seconds=1)
    both = any_team.scheduled([blog["id"], x["id"]], at=due)
    one = any_team.scheduled([x["id"]], at=due)
    declared = any_team.head.post("/crisis", json={"reason": "Sturm"})
    assert declared.status_code == 201
    with get_db(any_team.app).transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "hold").order_by(AuditEntry.subject_id)
        ).all()
        recorded = [(e.actor_id, e.subject_id, e.detail) for e in entries]
    crisis_id = declared.get_json()["id"]
    assert recorded == [
        (None, both["id"], {"crisis": crisis_id, "deliveries": sorted(
            d["id"] for d in both["deliveries"])}),
        (None, one["id"], {"crisis": crisis_id, "deliveries": [one["deliveries"][0]["id"]]}),
    ]  # fmt: skip


def test_a_declaration_lists_the_requests_on_the_wire_in_delivery_order(any_team: Team) -> None:
    """The declaration's answer lists what was on the wire by delivery id, whatever order the
    rows lie in on disk. On PostgreSQL the first row is written again, so it lies behind the
    second, and index scans are off: a read without an order returns them the other way round.
    SQLite keeps a table in id order, so there the order is only checked."""
    channel = any_team.channel()
    due_posts(any_team, channel, 2)
    claimed = claim(any_team, now_utc())
    long_ago = now_utc() - timedelta(seconds=10)  # deadlines long past: no wait
    assert len(start(any_team, claimed, long_ago, send_seconds=1).started) == 2
    ids = sorted(c.delivery_id for c in claimed)
    db = get_db(any_team.app)
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            for seconds in (1, -1):  # an indexed column: a new version of the row
                connection.execute(
                    text(
                        "UPDATE deliveries SET due_at = due_at + make_interval(secs => :s) "
                        "WHERE id = :id"
                    ),
                    {"s": seconds, "id": ids[0]},
                )
            name = connection.execute(text("SELECT current_database()")).scalar_one()
            connection.execute(text(f"ALTER DATABASE {name} SET enable_indexscan = off"))
        db.engine.dispose()  # new connections read the setting
        with db.engine.connect() as connection:
            on_disk = connection.execute(text("SELECT id FROM deliveries")).scalars().all()
        assert on_disk == ids[::-1]

    declared = any_team.head.post("/crisis", json={"reason": "Sturm"})

    assert [d["id"] for d in declared.get_json()["in_flight"]] == ids


@pytest.mark.parametrize("config_overrides", [{"DECLARE_WAIT_SECONDS": 60.0}])
def test_a_sender_records_what_it_sent_while_the_declaration_is_reading(
    any_team: Team, background: Any
) -> None:
    """The declaration's wait reads again and again what is still on the wire. A sender that
    records its outcome while the wait is in the middle of a read must get in at once (on
    SQLite: the read does not take the write lock), or the wait would hold up the very record it
    waits for."""
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    [claimed] = claim(any_team, now_utc())
    [started] = start(any_team, [claimed], now_utc(), send_seconds=30).started
    recorded: list[set[int]] = []

    def record() -> set[int]:
        with get_db(any_team.app).transaction() as session:
            return claims.record_published_together(session, [started.claim], now_utc())

    def sender_records_during_the_read() -> None:
        if not recorded:
            recorded.append(background(record).result(timeout=5))

    with interleave.at("declare.polled", sender_records_during_the_read):
        declared = any_team.head.post("/crisis", json={"reason": "Sturm"})
    assert declared.status_code == 201
    assert recorded == [{claimed.delivery_id}]
    assert [(d["id"], d["status"]) for d in declared.get_json()["in_flight"]] == [
        (claimed.delivery_id, "published")  # as it ended, not as it was when the wait began
    ]
    assert delivery(any_team, claimed.delivery_id).status == DeliveryStatus.PUBLISHED


# --- the crisis' hold step: what is due, and rows a person is changing -------------------------


def test_a_crisis_holds_what_falls_due_at_the_very_moment_and_nothing_after_it(
    any_team: Team,
) -> None:
    """`hold_due_deliveries`: a delivery due exactly at the moment of the step is due (as the
    claim counts it) and is held; one due a millisecond later waits in the queue."""
    channel = any_team.channel()
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    due = now_utc().replace(microsecond=0) + timedelta(hours=1)
    on_the_moment = any_team.scheduled([channel["id"]], at=due)
    just_after = any_team.scheduled([channel["id"]], at=due + timedelta(milliseconds=1))

    assert claim(any_team, due) == []

    assert post_status(any_team, on_the_moment["id"]) == PostStatus.HELD
    assert post_status(any_team, just_after["id"]) == PostStatus.SCHEDULED


def test_a_held_delivery_says_what_holds_it_and_since_when(any_team: Team) -> None:
    """An early-warning alert, then a crisis, each hold a due post: the delivery names its
    holder and the moment of the hold (the review shows how long a post has waited)."""
    channel = any_team.channel()
    [stormy] = due_posts(any_team, channel, 1)
    opened = now_utc().replace(microsecond=0)
    open_storm_alert(any_team, channel["id"], opened, hold_minutes=30)
    [alert] = any_team.head.get("/alerts?status=open").get_json()["items"]
    [by_alert] = any_team.post(stormy["id"])["deliveries"]
    assert (by_alert["held_by_alert_id"], by_alert["held_at"]) == (alert["id"], iso_utc(opened))

    dismissed = any_team.head.post(f"/alerts/{alert['id']}/dismiss", json={"note": "ruhig"})
    assert dismissed.status_code == 200
    later = any_team.scheduled([channel["id"]], at=now_utc() - timedelta(seconds=1))
    before = now_utc()
    declared = any_team.head.post("/crisis", json={"reason": "Sturm"}).get_json()
    [by_crisis] = any_team.post(later["id"])["deliveries"]
    assert by_crisis["held_by_crisis_id"] == declared["id"]
    assert before <= datetime.fromisoformat(by_crisis["held_at"]) <= now_utc()
    assert by_crisis["held_at"] == declared["declared_at"]


def test_a_declaration_holds_the_rest_at_once_while_a_person_is_changing_a_post(
    any_team: Team, background: Any
) -> None:
    """A head's discard of one due post is paused with its rows locked when another head
    declares a crisis. The declaration does not wait for the person (its hold skips rows that
    are locked): it holds every other due post and answers while the person still holds theirs.
    The discard then stands. SQLite serialises whole transactions, so there only the outcome is
    checked."""
    channel = any_team.channel()
    changing, other = due_posts(any_team, channel, 2)
    db = get_db(any_team.app)
    with discard_under_way(any_team, changing["id"], background):
        declaring = background(person(any_team, "head2").post, "/crisis", json={"reason": "Sturm"})
        if not db.is_sqlite:
            assert declaring.result(timeout=10).status_code == 201  # raises if it waited
            assert post_status(any_team, other["id"]) == PostStatus.HELD
    assert declaring.result(timeout=30).status_code == 201
    assert post_status(any_team, other["id"]) == PostStatus.HELD
    assert post_status(any_team, changing["id"]) == PostStatus.DISCARDED


def test_the_lift_waits_for_a_person_changing_a_post_that_fell_due_and_then_holds_it(
    any_team: Team, background: Any, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    """A post fell due during the crisis and no pass ran. A planner's edit of it is under way
    (its rows locked) when the lift is confirmed; the edit then fails (the text is too long for
    the channel), so the post is still approved and due. The lift's own hold must wait for the
    planner and hold the post: skipping it, as the other hold steps do, would let it go out after
    the lift without a review."""
    channel = webhook(any_team, receiver)
    post = any_team.scheduled([channel["id"]], at=clock.now + timedelta(minutes=5))
    assert any_team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    person_locked = Paused()
    with (
        time_machine.travel(clock.now + timedelta(minutes=10), tick=True),
        interleave.at("person.locked", person_locked),
    ):
        assert any_team.head.post("/crisis/lift", json={"note": "ruhig"}).status_code == 202
        editing = background(
            person(any_team, "planner").patch, f"/posts/{post['id']}", json={"body": "y" * 281}
        )
        person_locked.wait()
        confirming = background(person(any_team, "head2").post, "/crisis/lift/confirm")
        try:
            blocked_or_done(any_team, confirming)
        finally:
            person_locked.go.set()
        assert editing.result(timeout=30).status_code == 422
        assert confirming.result(timeout=30).status_code == 200
    clock.advance(minutes=11)
    make_dispatcher(any_team.app, clock=clock).run_pass()

    assert receiver.snapshot() == []
    assert post_status(any_team, post["id"]) == PostStatus.HELD


@pytest.mark.parametrize("config_overrides", [{"DECLARE_WAIT_SECONDS": 1.0}])
def test_a_hold_and_a_publish_on_two_deliveries_of_one_post_at_once_leave_the_post_held(
    any_team: Team, background: Any
) -> None:
    """One delivery of the post is on the wire and its success is being recorded; the other is
    claimed, not started, when a crisis is declared and holds it. The recording derives the
    post's status from what it read; the hold must not be hidden behind that stale view."""
    first, second = any_team.channel("Outbox 1"), any_team.channel("Outbox 2")
    post = any_team.scheduled([first["id"], second["id"]], at=now_utc() - timedelta(seconds=1))
    now = now_utc()
    claimed = claim(any_team, now)
    assert len(claimed) == 2
    on_wire, waiting = claimed
    assert start(any_team, [on_wire], now).started

    def record() -> set[int]:
        with get_db(any_team.app).transaction() as session:
            return claims.record_published_together(session, [on_wire], now_utc())

    recording = Paused()
    with interleave.at("settle.read", recording):
        recorded = background(record)
        recording.wait()  # read: one published, one claimed; the post's status not yet written
        declaring = background(
            person(any_team, "head").post, "/crisis", json={"reason": "Shitstorm"}
        )
        blocked_or_done(any_team, declaring)
        recording.go.set()
        assert recorded.result(timeout=30) == {on_wire.delivery_id}
        assert declaring.result(timeout=30).status_code == 201

    assert delivery(any_team, waiting.delivery_id).status == DeliveryStatus.HELD
    assert post_status(any_team, post["id"]) == PostStatus.HELD


# --- the claim's own crisis condition (behind the hold step) ---------------------------------


@pytest.mark.parametrize("quiet", ["crisis", "blackout", "alert"])
def test_the_claim_takes_nothing_in_a_crisis_even_when_the_hold_step_missed_a_row(
    any_team: Team, monkeypatch: pytest.MonkeyPatch, quiet: str
) -> None:
    """The hold steps skip rows a person has locked; whatever they missed, the claim itself must
    not take a delivery the crisis, a blackout or an undecided alert covers."""
    channel = any_team.channel()
    post = any_team.scheduled([channel["id"]], at=now_utc() + timedelta(hours=1))
    now = now_utc()
    if quiet == "crisis":
        declared = any_team.head.post("/crisis", json={"reason": "Shitstorm"})
        assert declared.status_code == 201
    elif quiet == "blackout":
        plan_blackout(any_team, now, now + timedelta(hours=2), channels=[channel["id"]])
    else:
        open_storm_alert(any_team, channel["id"], now, hold_minutes=120)
    for step in ("hold_due_deliveries", "hold_for_blackouts", "hold_for_alerts"):
        monkeypatch.setattr(claims, step, lambda *_a, **_k: [])

    assert claim(any_team, now_utc() + timedelta(hours=1, minutes=1)) == []

    assert delivery(any_team, post["deliveries"][0]["id"]).status == DeliveryStatus.SCHEDULED


def test_a_claim_under_way_waits_for_a_declaration_under_way(
    any_team: Team, monkeypatch: pytest.MonkeyPatch, background: Any
) -> None:
    """A head declares, and the declaration's hold misses a due row (it skips rows a person has
    locked). A scheduler's claim comes while the declaration is under way: it must wait for it
    (PostgreSQL: the queue lock it reads the crisis with; SQLite: the database's write lock),
    then see the crisis, hold the delivery and claim nothing."""
    channel = any_team.channel()
    [post] = due_posts(any_team, channel, 1)
    claimed, crisis_id = waits_for_a_declaration_under_way(
        any_team, monkeypatch, background, lambda: claim(any_team, now_utc()), "claim"
    )

    assert claimed == []
    row = delivery(any_team, post["deliveries"][0]["id"])
    assert (row.status, row.held_by_crisis_id) == (DeliveryStatus.HELD, crisis_id)


# --- the start's own crisis check: `lock_in_order` without the crisis, or without its lock ----


def test_a_claim_made_before_a_declaration_does_not_start_after_it(
    any_team: Team, monkeypatch: pytest.MonkeyPatch, background: Any
) -> None:
    """A scheduler claimed a delivery; then a head declares, and the declaration's hold misses
    the row (it skips rows a person has locked). The scheduler's start step comes while the
    declaration is under way: it must wait for it (PostgreSQL: the queue lock; SQLite: the
    database's write lock), then see the crisis, hold the delivery and start nothing."""
    channel = any_team.channel()
    [post] = due_posts(any_team, channel, 1)
    now = now_utc()
    [claimed] = claim(any_team, now)
    started, crisis_id = waits_for_a_declaration_under_way(
        any_team, monkeypatch, background, lambda: start(any_team, [claimed], now_utc()), "start"
    )

    assert started.started == []
    row = delivery(any_team, claimed.delivery_id)
    assert (row.status, row.held_by_crisis_id) == (DeliveryStatus.HELD, crisis_id)
    assert post_status(any_team, post["id"]) == PostStatus.HELD


# --- the start's fences: `start_sending` without the token, `claimed`, the lease (or `>=`), the
# sendable post or the crisis' bar; its second look without the token or `publishing` ----------


def test_a_start_goes_ahead_only_where_its_claim_still_holds(
    any_team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """A claim whose lease ended (exactly at its end, too) starts nothing; once the delivery
    was claimed again, the old claim's start neither takes the new claim's delivery nor counts
    it as started by itself; a start written again (its commit's answer lost) keeps the
    request's first deadline."""
    caplog.set_level(logging.INFO, logger="calendar_app.claims")
    channel = any_team.channel()
    due_posts(any_team, channel, 1)
    now = now_utc()
    [old] = claim(any_team, now, "scheduler-old")
    assert start(any_team, [old], now + timedelta(seconds=LEASE)).started == []
    with get_db(any_team.app).transaction() as session:  # at its end, not back yet
        assert claims.expire_leases(session, now + timedelta(seconds=LEASE)) == []
    row = delivery(any_team, old.delivery_id)
    assert (row.status, row.claim_token) == (DeliveryStatus.CLAIMED, old.token)

    later = now + timedelta(seconds=LEASE + 1)
    with get_db(any_team.app).transaction() as session:
        assert claims.expire_leases(session, later) == []  # back in the queue, not unknown
    row = delivery(any_team, old.delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.SCHEDULED, 0)
    assert (row.claim_token, row.lease_until) == (None, None)
    back = "claims ran out before their send started, back in the queue"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(back)] == [
        f"{back}: ids=[{old.delivery_id}]"
    ]
    [new] = claim(any_team, later, "scheduler-new")
    assert start(any_team, [old], later).started == []
    assert len(start(any_team, [new], later).started) == 1
    assert start(any_team, [old], later).started == []
    [again] = start(any_team, [new], later + timedelta(seconds=5)).started
    assert again.claim == new

    row = delivery(any_team, new.delivery_id)
    assert (row.status, row.claim_token) == (DeliveryStatus.PUBLISHING, new.token)
    assert row.send_deadline == later + timedelta(seconds=10)
    not_started = [r.getMessage() for r in caplog.records if "not started" in r.getMessage()]
    said = "claimed deliveries not started (held or taken back meanwhile)"
    assert not_started == [f"{said}: ids=[{old.delivery_id}]"] * 3


def test_a_send_on_the_wire_is_unknown_only_once_its_lease_has_ended(
    any_team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """A send's lease covers its request's deadline: exactly at its end the send is still on the
    wire; a moment later its sender counts as gone mid-send. The delivery is `unknown` with the
    reason, its claim cleared, the post shows it, and the operator reads which deliveries."""
    channel = any_team.channel()
    [post] = due_posts(any_team, channel, 1)
    now = now_utc()
    [claimed] = claim(any_team, now)
    assert len(start(any_team, [claimed], now, send_seconds=10).started) == 1
    end = now + timedelta(seconds=10)
    db = get_db(any_team.app)
    with db.transaction() as session:
        assert claims.expire_leases(session, end) == []
    row = delivery(any_team, claimed.delivery_id)
    assert (row.status, row.claim_token) == (DeliveryStatus.PUBLISHING, claimed.token)

    with db.transaction() as session:
        assert claims.expire_leases(session, end + timedelta(milliseconds=1)) == [
            claimed.delivery_id
        ]
    row = delivery(any_team, claimed.delivery_id)
    assert (row.status, row.claim_token) == (DeliveryStatus.UNKNOWN, None)
    assert row.error == str(claims.LEASE_EXPIRED)
    assert post_status(any_team, post["id"]) == PostStatus.UNKNOWN
    said = "lease expired, deliveries now unknown"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(said)] == [
        f"{said}: ids=[{claimed.delivery_id}]"
    ]


def test_the_start_itself_bars_what_a_crisis_covers_and_a_post_no_longer_approved(
    any_team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's own conditions, behind the hold steps and behind every person's action
    forgetting the claim: with the holds made to miss the rows, a delivery the crisis covers
    does not start, and neither does one whose post is back in draft. A delivery on another
    channel starts."""
    covered, drafted, calm = (
        any_team.channel(name)["id"] for name in ("Konzern-X", "Konzern-Blog", "Karriere")
    )
    in_crisis = any_team.scheduled([covered], at=now_utc() - timedelta(seconds=3))
    back_in_draft = any_team.scheduled([drafted], at=now_utc() - timedelta(seconds=2))
    any_team.scheduled([calm], at=now_utc() - timedelta(seconds=1))
    now = now_utc()
    crisis_claim, draft_claim, calm_claim = claim(any_team, now)
    for module in (crisis, claims):
        monkeypatch.setattr(module, "hold_due_deliveries", lambda *_a, **_k: [])
    declared = any_team.head.post("/crisis", json={"reason": "Shitstorm", "channels": [covered]})
    assert declared.status_code == 201, declared.get_json()
    with get_db(any_team.app).transaction() as session:
        session.execute(
            update(Post).where(Post.id == back_in_draft["id"]).values(status=PostStatus.DRAFT)
        )

    started = start(any_team, [crisis_claim, draft_claim, calm_claim], now_utc()).started
    assert [s.claim for s in started] == [calm_claim]
    for claimed, post in ((crisis_claim, in_crisis), (draft_claim, back_in_draft)):
        row = delivery(any_team, claimed.delivery_id)
        assert (row.status, row.post_id) == (DeliveryStatus.CLAIMED, post["id"])


# --- recording a batch as published: `record_published_together` ----------------------------


def test_a_batch_recorded_as_published_writes_each_its_own_and_nothing_else(
    any_team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """Of one batch: a delivery gets its own id and address on the network and loses its lease;
    one its holder already recorded as failed stays failed; one whose claim was lost is logged
    and left alone, though it comes after one that was recorded; a post discarded while its
    send was on the wire shows that it went out after all."""
    channel = any_team.channel()
    posts = due_posts(any_team, channel, 3)
    now = now_utc()
    sent, failed, lost = claim(any_team, now)
    assert len(start(any_team, [sent], now).started) == 1
    assert len(start(any_team, [failed, lost], now, send_seconds=0.01).started) == 2
    db = get_db(any_team.app)
    with db.transaction() as session:
        assert claims.record_failed(session, failed, "HTTP 400") is True
    with db.transaction() as session:
        claims.expire_leases(session, now + timedelta(seconds=5))
    discarded = any_team.head.post(f"/posts/{posts[0]['id']}/discard", json={"reason": "zu spät"})
    assert discarded.status_code == 200, discarded.get_json()

    remote = {c.delivery_id: (f"remote-{c.delivery_id}", f"https://example.org/{c.delivery_id}")
              for c in (sent, failed, lost)}  # fmt: skip
    with db.transaction() as session:
        recorded = claims.record_published_together(session, [sent, failed, lost], now, remote)

    assert recorded == {sent.delivery_id, failed.delivery_id}
    row = delivery(any_team, sent.delivery_id)
    assert (row.status, row.remote_id, row.url) == (
        DeliveryStatus.PUBLISHED, f"remote-{sent.delivery_id}", f"https://example.org/{sent.delivery_id}"
    )  # fmt: skip
    assert (row.lease_until, row.error) == (None, None)
    assert post_status(any_team, posts[0]["id"]) == PostStatus.PUBLISHED
    for claimed, status in ((failed, DeliveryStatus.FAILED), (lost, DeliveryStatus.UNKNOWN)):
        row = delivery(any_team, claimed.delivery_id)
        assert (row.status, row.remote_id, row.url) == (status, None, None)
    assert lost_warnings(caplog) == [lost_warning(lost, "published")]


# --- the lock order of one post's deliveries: `lock_in_order` without `ORDER BY id`, or -------
# --- without its rows (`where(None)`) -------------------------------------------------------


def _start_step(session: Any, both: list[claims.Claim], now: datetime) -> set[int]:
    crisis = claims.lock_in_order(session, both, queue=True)
    started = claims.start_sending(
        session, both, crisis=crisis, now=now, send_seconds=10, record_seconds=0
    )
    return {s.claim.delivery_id for s in started.started}


def _record_step(session: Any, both: list[claims.Claim], now: datetime) -> set[int]:
    claims.lock_in_order(session, both, queue=False)
    return claims.record_published_together(session, both, now)


@contextmanager
def in_disk_order(db: Any) -> Iterator[Any]:
    """A transaction that reads rows in the order they lie on disk (PostgreSQL: no index scan,
    which would read them by id whatever the statement asks)."""
    with db.transaction() as session:
        if not db.is_sqlite:
            session.execute(text("SET LOCAL enable_indexscan = off"))
        yield session


# The rows a step locks, each with an indexed column: writing it changes and back moves the
# row's new version behind the others on disk (not in place).
WRITTEN_AGAIN = {
    Delivery: text("UPDATE deliveries SET due_at = due_at + make_interval(secs => :s) "
                   "WHERE id = :id"),
    Post: text("UPDATE posts SET publish_at = publish_at + make_interval(secs => :s) "
               "WHERE id = :id"),
}  # fmt: skip


def waits_for_the_first_holding_none_of_the_others(
    team: Team,
    background: Any,
    first: int,
    second: int,
    step: Callable[[], Any],
    rows: type[Delivery] | type[Post] = Delivery,
) -> Future:
    """Run `step` (PostgreSQL) while a person holds row `first` of `rows`, whose row was
    written again so that its new version lies behind `second`'s on disk (an indexed column
    changed and back, so not in place). The step must wait for `first`, and while it waits the
    person must get `second` at once (NOWAIT): a step that took `second` first would close a
    cycle with a person, who locks by id. Returns the step, let go."""
    with get_db(team.app).engine.connect() as person_connection:
        for seconds in (1, -1):
            person_connection.execute(WRITTEN_AGAIN[rows], {"s": seconds, "id": first})
        person_connection.commit()
        person_connection.execute(select(rows.id).where(rows.id == first).with_for_update())
        stepping = background(step)
        try:
            blocked_or_done(team, stepping)
            assert not stepping.done(), "the step did not wait for the first row"
            person_connection.execute(  # raises if the waiting step holds it
                select(rows.id).where(rows.id == second).with_for_update(nowait=True)
            )
        finally:
            person_connection.rollback()
    return stepping


@pytest.mark.parametrize("step", [_start_step, _record_step], ids=["start", "record"])
def test_a_step_waiting_for_a_posts_first_delivery_holds_none_of_the_others(
    any_team: Team, background: Any, step: Any
) -> None:
    """A person's action locks a post's deliveries by id. A scheduler's step on two deliveries
    of one post must lock them in that order too, up front: its UPDATE alone takes rows in the
    order they lie on disk, and holding the second while it waits for the first closes a cycle
    with the person (PostgreSQL then ends one of them as a deadlock).

    Forced here: the first delivery's row written again last, with a new version that lies
    behind the second's on disk (an indexed column changed and back, so not in place); no
    index scan, which would read the rows by id whatever the statement asks; and the person
    holding the first. While the step waits for it, the person must get the second at once
    (NOWAIT). On SQLite, which locks whole databases, only the step's result is checked."""
    channels = [any_team.channel("Konzern-X")["id"], any_team.channel("Konzern-Mastodon")["id"]]
    any_team.scheduled(channels, at=now_utc() - timedelta(seconds=1))
    now = now_utc()
    both = sorted(claim(any_team, now), key=lambda c: c.delivery_id)
    if step is _record_step:
        assert len(start(any_team, both, now).started) == 2
    first, second = (c.delivery_id for c in both)
    db = get_db(any_team.app)

    def run_step() -> set[int]:
        with in_disk_order(db) as session:
            return step(session, both, now)

    if db.is_sqlite:
        assert run_step() == {first, second}
        return
    stepping = waits_for_the_first_holding_none_of_the_others(
        any_team, background, first, second, run_step
    )
    assert stepping.result(timeout=30) == {first, second}


def test_a_hold_that_waits_for_a_posts_first_delivery_holds_none_of_the_others(
    any_team: Team, background: Any
) -> None:
    """The lift's hold waits for rows people have locked (`skip_locked=False`) and must take
    them in the order people do, by id: the same cycle as above, forced the same way. While the
    hold waits for a post's first delivery, the person must get the second at once (NOWAIT)."""
    channels = [any_team.channel("Konzern-X")["id"], any_team.channel("Konzern-Mastodon")["id"]]
    post = any_team.scheduled(channels, at=now_utc() - timedelta(seconds=1))
    first, second = sorted(d["id"] for d in post["deliveries"])
    db = get_db(any_team.app)

    def run_hold() -> set[int]:
        with in_disk_order(db) as session:
            held = holds.hold(
                session, [Delivery.id.in_([first, second])], now_utc(), skip_locked=False
            )
            return {row.id for row in held}

    if db.is_sqlite:
        assert run_hold() == {first, second}
        return
    holding = waits_for_the_first_holding_none_of_the_others(
        any_team, background, first, second, run_hold
    )
    assert holding.result(timeout=30) == {first, second}


def test_settling_two_posts_waits_for_the_first_and_holds_none_of_the_others(
    any_team: Team, background: Any
) -> None:
    """`settle_post_status` without `ORDER BY id` on its posts' lock. Deliveries of two posts
    were held in one step (a declaration's hold, a blackout's); settling the posts' status locks
    them, and must do so by id as people do, or it holds the second post while it waits for the
    first: the cycle above, on posts, forced the same way. On SQLite only the result counts."""
    channel = any_team.channel()
    posts = due_posts(any_team, channel, 2)
    first, second = (post["id"] for post in posts)
    db = get_db(any_team.app)
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.post_id.in_([first, second]))
            .values(status=DeliveryStatus.HELD)
        )

    def settle() -> None:
        with in_disk_order(db) as session:
            planning.settle_post_status(session, [second, first])

    if db.is_sqlite:
        settle()
    else:
        settling = waits_for_the_first_holding_none_of_the_others(
            any_team, background, first, second, settle, rows=Post
        )
        settling.result(timeout=30)
    assert [post_status(any_team, p) for p in (first, second)] == [PostStatus.HELD] * 2


def test_a_persons_lock_waits_for_the_posts_first_delivery_and_holds_none_of_the_others(
    any_team: Team, background: Any
) -> None:
    """`lock_post` without `ORDER BY id`: every person's change locks the post's deliveries by
    id, so two people (or a person and a scheduler's step) never hold one each while waiting
    for the other's. Forced as above; on SQLite only the result counts."""
    channels = [any_team.channel("Konzern-X")["id"], any_team.channel("Konzern-Mastodon")["id"]]
    post = any_team.scheduled(channels, at=now_utc() + timedelta(hours=1))
    first, second = sorted(d["id"] for d in post["deliveries"])
    db = get_db(any_team.app)

    def lock() -> list[int]:
        with in_disk_order(db) as session:
            return [d.id for d in planning.lock_post(session, session.get_one(Post, post["id"]))]

    if db.is_sqlite:
        assert sorted(lock()) == [first, second]
        return
    locking = waits_for_the_first_holding_none_of_the_others(
        any_team, background, first, second, lock
    )
    assert sorted(locking.result(timeout=30)) == [first, second]


# --- a crisis response through a blackout or an alert's hold: `_hold_what_must_wait` without
# --- the crisis in force (`crisis_id = None`), or without the alerts -------------------------


@pytest.mark.parametrize("quiet", ["blackout", "alert"])
def test_a_crisis_response_goes_out_through_a_blackout_and_an_alerts_hold(
    any_team: Team, quiet: str
) -> None:
    """In a crisis, a blackout date or an undecided early-warning alert on a channel holds what
    falls due there, at the claim and again at the start, but an approved response to the
    crisis in force still goes out; the ordinary post beside it is held."""
    channel = any_team.channel()
    assert any_team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    now = now_utc()
    if quiet == "blackout":
        plan_blackout(any_team, now - timedelta(hours=1), now + timedelta(hours=1),
                      channels=[channel["id"]])  # fmt: skip
    else:
        open_storm_alert(any_team, channel["id"], now, hold_minutes=30)
    due = now_utc() - timedelta(seconds=1)
    ordinary = any_team.scheduled([channel["id"]], at=due)
    response = any_team.scheduled(
        [channel["id"]], at=due, author="head", approver="head", crisis_response=True
    )
    now = now_utc()
    claimed = claim(any_team, now)
    assert [c.post_id for c in claimed] == [response["id"]]
    assert [s.claim for s in start(any_team, claimed, now).started] == claimed
    assert post_status(any_team, ordinary["id"]) == PostStatus.HELD
