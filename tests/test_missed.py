"""Never late blindly: a delivery the scheduler finds more than MISSED_AFTER_MINUTES after its
time is not sent; it becomes `missed` with its original time and waits for a head's review, on
SQLite and PostgreSQL, with a real webhook receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from calendar_app.timeutil import iso_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply
from tests.support.web import signed_in


@pytest.fixture
def dispatch(any_team: Team, clock: Clock, make_dispatcher: Any) -> Callable[[], Any]:
    return make_dispatcher(any_team.app, clock=clock).run_pass


def webhook(team: Team, receiver: Receiver) -> dict[str, Any]:
    config = {"url": f"{receiver.url}/presse", "secret": "s3cret"}
    return team.channel("Presse", kind="webhook", config=config)


def test_a_delivery_found_31_minutes_late_is_missed_not_sent(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    due = clock.now.replace(microsecond=0) + timedelta(minutes=5)
    post = any_team.scheduled([hook["id"]], at=due)
    clock.advance(minutes=5 + 31)  # the scheduler was down; it finds the post 31 minutes late
    report = dispatch()

    assert receiver.snapshot() == [], "a delivery found too late must not be sent"
    assert report.missed_posts == [post["id"]]
    found = any_team.post(post["id"])
    assert found["status"] == "missed"
    [delivery] = found["deliveries"]
    assert delivery["status"] == "missed"
    assert delivery["published_at"] is None
    assert "30 minutes" in delivery["error"]
    assert found["publish_at"] == iso_utc(due), "the original time is kept"

    for _ in range(2):  # it never goes out by itself
        clock.advance(minutes=10)
        dispatch()
    assert receiver.snapshot() == []
    assert any_team.post(post["id"])["status"] == "missed"
    with get_db(any_team.app).transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "missed")).one()
        assert (entry.subject_type, entry.subject_id, entry.actor_id) == ("post", post["id"], None)


def test_a_delivery_found_29_minutes_late_is_sent(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=5))
    clock.advance(minutes=5 + 29)
    dispatch()
    assert [b["post_id"] for b in receiver.bodies()] == [post["id"]]
    assert any_team.post(post["id"])["status"] == "published"


def test_a_missed_post_released_by_a_head_is_sent_once(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=1))
    clock.advance(hours=2)
    dispatch()
    assert any_team.post(post["id"])["status"] == "missed"

    refused = any_team.planner.post(f"/posts/{post['id']}/release", json={})
    assert refused.status_code == 403
    released = any_team.head.post(
        f"/posts/{post['id']}/release", json={"publish_at": iso_utc(clock.now)}
    )
    assert released.status_code == 200, released.get_json()
    assert released.get_json()["status"] == "scheduled"
    for _ in range(3):
        clock.advance(seconds=1)
        dispatch()
    assert receiver.counts_by_key() == {str(post["deliveries"][0]["id"]): 1}
    assert any_team.post(post["id"])["status"] == "published"


def test_a_missed_post_can_be_discarded(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=1))
    clock.advance(hours=1)
    dispatch()
    assert any_team.head.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    clock.advance(minutes=1)
    dispatch()
    assert receiver.snapshot() == []
    assert any_team.post(post["id"])["status"] == "discarded"


def test_a_retry_backs_off_from_its_own_time_and_is_not_missed(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    answers = iter([Reply(503), Reply(200)])
    receiver.reply = lambda _r: next(answers)
    hook = webhook(any_team, receiver)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=1))
    clock.advance(minutes=25)  # found 24 minutes late: sent, and the receiver answers 503
    dispatch()
    clock.advance(minutes=10)  # 34 minutes after the post's time, a few after the retry's
    dispatch()
    assert len(receiver.snapshot()) == 2
    assert any_team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize("config_overrides", [{"MISSED_AFTER_MINUTES": 120}])
def test_the_window_is_configurable(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=1))
    clock.advance(minutes=61)
    dispatch()
    assert [b["post_id"] for b in receiver.bodies()] == [post["id"]]


def test_the_review_screen_lists_missed_posts_next_to_held_ones(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver)
    post = any_team.scheduled(
        [hook["id"]], at=clock.now + timedelta(minutes=1), title="Sommerfest-Rückblick"
    )
    clock.advance(hours=1)
    dispatch()
    page = signed_in(any_team, "head").get("/crisis").get_data(as_text=True)
    assert f'id="held-{post["id"]}"' in page
    assert "Sommerfest-Rückblick" in page
    assert "status-missed" in page
