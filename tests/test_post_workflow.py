"""A post's way through the workflow over the API (API.md "Posts"): draft, in review, scheduled,
published; edits after approval need a new approval; the list filters; and how a post with
several deliveries shows the one that most needs attention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def dispatch(team: Team, clock: Clock, make_dispatcher: Any) -> Any:
    """One dispatch pass at the test's clock."""
    return make_dispatcher(team.app, clock=clock).run_pass


def webhook(team: Team, receiver: Receiver, name: str = "Presse-Webhook") -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", config=config)


def statuses(post: dict[str, Any]) -> dict[int, str]:
    return {d["channel_id"]: d["status"] for d in post["deliveries"]}


# --- the happy path ------------------------------------------------------------------------


def test_a_post_goes_from_draft_through_review_to_published(
    team: Team, clock: Clock, dispatch: Any
) -> None:
    outbox = team.channel()
    post = team.draft([outbox["id"]], at=clock.now + timedelta(hours=1), title="Tag der Tür")
    assert post["status"] == "draft"
    assert post["author"] == team.email("planner")
    assert [d["channel_id"] for d in post["deliveries"]] == [outbox["id"]]

    submitted = team.planner.post(f"/posts/{post['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.get_json()["status"] == "in_review"

    approved = team.head.post(f"/posts/{post['id']}/approve")
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "scheduled"

    dispatch()  # an hour early: nothing is due
    assert team.post(post["id"])["status"] == "scheduled"
    assert team.post(post["id"])["deliveries"][0]["published_at"] is None

    clock.advance(hours=1, seconds=1)
    dispatch()
    published = team.post(post["id"])
    assert published["status"] == "published"
    [delivery] = published["deliveries"]
    assert delivery["status"] == "published"
    assert delivery["error"] is None
    published_at = datetime.fromisoformat(delivery["published_at"])
    assert published_at.utcoffset() == timedelta(0)
    assert published_at >= datetime.fromisoformat(published["publish_at"])


def test_a_post_due_minutes_ago_when_approved_goes_out_on_the_next_pass(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now - timedelta(minutes=5))
    dispatch()
    assert [b["post_id"] for b in receiver.bodies()] == [post["id"]]
    assert team.post(post["id"])["status"] == "published"


def test_a_post_due_days_ago_when_approved_is_missed_not_sent_late(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now - timedelta(days=2))
    dispatch()
    assert receiver.snapshot() == []
    assert team.post(post["id"])["status"] == "missed"


# --- the workflow's order ------------------------------------------------------------------


def test_approving_a_draft_that_was_not_submitted_is_a_conflict(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    response = team.head.post(f"/posts/{post['id']}/approve")
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]
    assert team.post(post["id"])["status"] == "draft"


def test_submitting_twice_is_a_conflict(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    response = team.planner.post(f"/posts/{post['id']}/submit")
    assert response.status_code == 409, response.get_json()
    assert team.post(post["id"])["status"] == "in_review"


def test_approving_twice_is_a_conflict(team: Team) -> None:
    post = team.scheduled([team.channel()["id"]])
    response = team.admin.post(f"/posts/{post['id']}/approve")
    assert response.status_code == 409, response.get_json()
    assert team.post(post["id"])["status"] == "scheduled"


def test_a_discarded_post_cannot_be_submitted_or_approved(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 409
    assert team.head.post(f"/posts/{post['id']}/approve").status_code == 409
    assert team.post(post["id"])["status"] == "discarded"


# --- editing -------------------------------------------------------------------------------


def test_editing_an_approved_post_sends_it_back_to_draft_and_it_waits_for_a_new_approval(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now + timedelta(hours=1))

    edited = team.planner.patch(f"/posts/{post['id']}", json={"body": "Korrigierter Text."})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"
    assert edited.get_json()["body"] == "Korrigierter Text."

    clock.advance(hours=1, minutes=10)  # its time has come and gone
    dispatch()
    assert receiver.snapshot() == [], "an edited post must not go out before a new approval"
    assert team.post(post["id"])["status"] == "draft"

    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    assert team.head2.post(f"/posts/{post['id']}/approve").status_code == 200
    dispatch()
    assert [b["body"] for b in receiver.bodies()] == ["Korrigierter Text."]
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"title": "Neuer Titel"}, id="title"),
        pytest.param({"publish_at": "2027-01-15T10:00:00+01:00"}, id="publish_at"),
    ],
)
def test_any_edit_of_an_approved_post_needs_a_new_approval(
    team: Team, change: dict[str, Any]
) -> None:
    post = team.scheduled([team.channel()["id"]])
    edited = team.planner.patch(f"/posts/{post['id']}", json=change)
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"


def test_editing_a_draft_keeps_it_a_draft(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    edited = team.planner.patch(f"/posts/{post['id']}", json={"title": "Arbeitstitel"})
    assert edited.status_code == 200
    assert edited.get_json()["status"] == "draft"
    assert edited.get_json()["title"] == "Arbeitstitel"


def test_editing_a_published_post_is_a_conflict(team: Team, clock: Clock, dispatch: Any) -> None:
    post = team.scheduled([team.channel()["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()
    assert team.post(post["id"])["status"] == "published"

    response = team.planner.patch(f"/posts/{post['id']}", json={"body": "Nachträglich"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]
    assert team.post(post["id"])["body"] == post["body"]
    assert team.post(post["id"])["status"] == "published"


# --- the list and its filters --------------------------------------------------------------


@pytest.fixture
def planned(team: Team) -> dict[str, Any]:
    """Three posts on two channels, one each on 1, 2 and 3 December 2026 at 09:00 Berlin."""
    press, jobs = team.channel("Presse")["id"], team.channel("Karriere")["id"]
    days = {day: datetime(2026, 12, day, 8, 0, tzinfo=UTC) for day in (1, 2, 3)}
    draft = team.draft([press], at=days[1], body="Erster")
    in_review = team.draft([press, jobs], at=days[2], body="Zweiter")
    assert team.planner.post(f"/posts/{in_review['id']}/submit").status_code == 200
    scheduled = team.scheduled([jobs], at=days[3], body="Dritter")
    return {
        "press": press,
        "jobs": jobs,
        "draft": draft["id"],
        "in_review": in_review["id"],
        "scheduled": scheduled["id"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({}, ["draft", "in_review", "scheduled"], id="everything"),
        pytest.param({"status": "draft"}, ["draft"], id="status draft"),
        pytest.param({"status": "in_review"}, ["in_review"], id="status in_review"),
        pytest.param({"status": "scheduled"}, ["scheduled"], id="status scheduled"),
        pytest.param({"status": "published"}, [], id="status published"),
        pytest.param({"from": "2026-12-02T00:00:00+01:00"}, ["in_review", "scheduled"], id="from"),
        pytest.param({"to": "2026-12-02T00:00:00+01:00"}, ["draft"], id="to"),
        pytest.param(
            {"from": "2026-12-01T12:00:00Z", "to": "2026-12-02T12:00:00Z"},
            ["in_review"],
            id="from and to",
        ),
        pytest.param(
            {"from": "2026-12-02T02:00:00-05:00", "to": "2026-12-02T04:00:00-05:00"},
            ["in_review"],
            id="from and to in another zone",
        ),
        pytest.param({"to": "2026-11-30T00:00:00Z"}, [], id="to before everything"),
        pytest.param(
            {"from": "2026-12-02T04:00:00-05:00", "to": "2026-12-02T05:00:00-05:00"},
            [],
            id="an hour in another zone with nothing in it",
        ),
        pytest.param({"channel": "press"}, ["draft", "in_review"], id="channel press"),
        pytest.param({"channel": "jobs"}, ["in_review", "scheduled"], id="channel jobs"),
        pytest.param({"channel": "press", "status": "in_review"}, ["in_review"], id="combined"),
        pytest.param(
            {"channel": "jobs", "from": "2026-12-03T00:00:00Z"}, ["scheduled"], id="channel+from"
        ),
    ],
)
def test_listing_posts_filters_by_status_time_and_channel(
    team: Team, planned: dict[str, Any], query: dict[str, str], expected: list[str]
) -> None:
    if "channel" in query:
        query = {**query, "channel": str(planned[query["channel"]])}
    response = team.planner.get("/posts", query_string=query)
    assert response.status_code == 200, response.get_json()
    found = {post["id"] for post in response.get_json()["items"]}
    assert found == {planned[name] for name in expected}


def test_a_from_bound_includes_a_post_at_exactly_that_time(
    team: Team, planned: dict[str, Any]
) -> None:
    response = team.planner.get("/posts", query_string={"from": "2026-12-03T09:00:00+01:00"})
    assert {p["id"] for p in response.get_json()["items"]} == {planned["scheduled"]}


# --- the status of a post with several deliveries ------------------------------------------


def test_one_failed_delivery_makes_the_post_failed(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    receiver.reply = lambda _r: Reply(400, body=b'{"error": "unknown account"}')
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()

    post = team.post(post["id"])
    assert post["status"] == "failed"
    assert statuses(post) == {hook["id"]: "failed", outbox["id"]: "published"}
    failed = next(d for d in post["deliveries"] if d["channel_id"] == hook["id"])
    assert "400" in failed["error"]


def test_a_post_is_published_when_every_delivery_is(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()
    post = team.post(post["id"])
    assert statuses(post) == {hook["id"]: "published", outbox["id"]: "published"}
    assert post["status"] == "published"


def test_a_held_delivery_outranks_a_failed_one(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    receiver.reply = lambda _r: Reply(400)
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now + timedelta(minutes=5))
    declared = team.head.post("/crisis", json={"reason": "Shitstorm", "channels": [outbox["id"]]})
    assert declared.status_code == 201
    clock.advance(minutes=6)
    dispatch()

    post = team.post(post["id"])
    assert statuses(post) == {hook["id"]: "failed", outbox["id"]: "held"}
    assert post["status"] == "held"


# --- discarding ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["head", "admin"])
def test_a_discarded_scheduled_post_is_never_sent(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver, who: str
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now + timedelta(hours=1))
    discarded = getattr(team, who).post(f"/posts/{post['id']}/discard", json={"reason": "veraltet"})
    assert discarded.status_code == 200, discarded.get_json()
    assert discarded.get_json()["status"] == "discarded"

    for _ in range(3):
        clock.advance(hours=1)
        dispatch()
    assert receiver.snapshot() == []
    post = team.post(post["id"])
    assert post["status"] == "discarded"
    assert statuses(post) == {hook["id"]: "discarded"}
