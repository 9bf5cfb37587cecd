"""The impact preview (issue 8): before declaring, a head sees what the crisis would hold in the
next hours, and that is exactly what the crisis then holds when those deliveries fall due."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app import crisis
from calendar_app.errors import InvalidInput
from calendar_app.extensions import get_db
from calendar_app.models import Delivery
from calendar_app.timeutil import now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver


def webhook(team: Team, receiver: Receiver, name: str) -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", config=config)


def plan_the_week(team: Team, receiver: Receiver, clock: Clock) -> dict[str, Any]:
    konzern = webhook(team, receiver, "Konzern-X")
    karriere = webhook(team, receiver, "Karriere")
    at = clock.now
    posts = {
        "soon_in_scope": team.scheduled([konzern["id"]], at=at + timedelta(hours=1)),
        "both_channels": team.scheduled(
            [konzern["id"], karriere["id"]], at=at + timedelta(hours=10)
        ),
        "keyword_outside": team.scheduled(
            [karriere["id"]], at=at + timedelta(hours=20), body="Unser GEWINNSPIEL startet!"
        ),
        "topic_outside": team.scheduled(
            [karriere["id"]], at=at + timedelta(hours=30), tags=["#Jubiläum"]
        ),
        "harmless_outside": team.scheduled([karriere["id"]], at=at + timedelta(hours=5)),
        "after_the_window": team.scheduled([konzern["id"]], at=at + timedelta(hours=80)),
        "draft": team.draft([konzern["id"]], at=at + timedelta(hours=3)),
    }
    return {"konzern": konzern, "karriere": karriere, "posts": posts}


def test_the_preview_lists_what_the_scope_would_hold(
    any_team: Team, receiver: Receiver, clock: Clock
) -> None:
    plan = plan_the_week(any_team, receiver, clock)
    body = {
        "reason": "Störfall im Werk",
        "channels": [plan["konzern"]["id"]],
        "topics": ["jubiläum"],
        "keywords": ["Gewinnspiel"],
    }
    response = any_team.head.post("/crisis/preview", json=body)
    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    posts = plan["posts"]
    expected_posts = {
        posts[name]["id"]
        for name in ("soon_in_scope", "both_channels", "keyword_outside", "topic_outside")
    }
    assert {item["post_id"] for item in preview["items"]} == expected_posts
    # "both_channels" is held on Konzern-X only: Karriere is outside the scope.
    assert len(preview["items"]) == 4
    assert preview["posts"] == 4
    assert preview["channels"] == 2
    assert preview["hours"] == 72
    assert preview["summary"] == "4 posts on 2 channels in the next 72 hours will be held"
    assert [i["due_at"] for i in preview["items"]] == sorted(i["due_at"] for i in preview["items"])
    # A preview changes nothing.
    assert any_team.head.get("/crisis").get_json() == {"active": False}


# The clock jumps six hours per pass; a day's window keeps "never late blindly" (missed) out of a
# test about holds.
@pytest.mark.parametrize("config_overrides", [{"MISSED_AFTER_MINUTES": 24 * 60}])
@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({}, id="all-channels"),
        pytest.param({"channels": "konzern"}, id="one-channel"),
        pytest.param(
            {"channels": "konzern", "topics": ["Jubiläum"], "keywords": ["gewinnspiel"]},
            id="one-channel-topics-keywords",
        ),
    ],
)
def test_the_preview_equals_what_is_then_held(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, scope: dict
) -> None:
    plan = plan_the_week(any_team, receiver, clock)
    body: dict[str, Any] = {"reason": "Störfall im Werk", **scope}
    if "channels" in body:
        body["channels"] = [plan[body["channels"]]["id"]]
    preview = any_team.head.post("/crisis/preview", json=body).get_json()
    assert any_team.head.post("/crisis", json=body).status_code == 201

    dispatcher = make_dispatcher(any_team.app, clock=clock)
    start = clock.now
    while clock.now < start + timedelta(hours=71, minutes=55):  # the deliveries fall due
        clock.advance(hours=6)
        dispatcher.run_pass()
    with get_db(any_team.app).transaction() as session:
        held = set(session.scalars(select(Delivery.id).where(Delivery.status == "held")))
        after_window = plan["posts"]["after_the_window"]["deliveries"][0]["id"]
        assert session.get(Delivery, after_window).status == "scheduled"
    assert held == {item["delivery_id"] for item in preview["items"]}
    assert preview["posts"] >= 2
    # What the preview left out went out: channels out of scope.
    sent = {b["post_id"] for b in receiver.bodies()}
    assert sent.isdisjoint({item["post_id"] for item in preview["items"]} - sent)


def test_the_preview_needs_a_head(team: Team) -> None:
    assert team.planner.post("/crisis/preview", json={}).status_code == 403
    assert team.anonymous.post("/crisis/preview", json={}).status_code == 401
    refused = team.head.post("/crisis/preview", json={"hours": 0})
    assert refused.status_code == 422
    assert "hours" in refused.get_json()["fields"]


def test_the_declare_page_shows_the_preview_before_the_head_confirms(
    team: Team, receiver: Receiver, clock: Clock
) -> None:
    from tests.test_security import csrf_token, signed_in

    plan = plan_the_week(team, receiver, clock)
    browser = signed_in(team.app, "head")
    page = browser.get("/crisis/declare").get_data(as_text=True)
    assert 'id="impact-preview"' in page
    token = csrf_token(browser, "/crisis/declare")
    shown = browser.post(
        "/crisis/declare",
        data={
            "csrf_token": token,
            "step": "preview",
            "scope": "chosen",
            "channels": [plan["karriere"]["id"]],
            "keywords": "Gewinnspiel",
        },
    )
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "4 Beiträge auf 1 Kanal in den nächsten 72 Stunden werden angehalten" in html
    assert team.head.get("/crisis").get_json() == {"active": False}, "a preview declares nothing"


# --- the rule itself: its window, its order and its refusals -----------------------------------


def preview_at(team: Team, at: datetime, hours: int, **scope: Any) -> list[tuple[int, int]]:
    """(post id, channel id) of each delivery crisis.impact_preview lists, in its order."""
    with get_db(team.app).transaction() as session:
        found = crisis.impact_preview(session, channel_ids=None, hours=hours, now=at, **scope)
        return [(d.post_id, d.channel_id) for d in found.deliveries]


def test_the_window_runs_from_the_moment_asked_to_its_last_minute_inclusive(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    """A preview asked for a moment three days ahead sees what is due in the hours after that
    moment, up to and including a delivery due exactly `hours` later: 1 hour and 744 hours (31
    days) are the shortest and the longest window. What was sent already is not in it."""
    team = any_team
    channel = webhook(team, receiver, "Konzern-X")["id"]
    sent = team.scheduled([channel], at=clock.now + timedelta(minutes=1))["id"]
    clock.advance(minutes=2)
    make_dispatcher(team.app, clock=clock).run_pass()
    assert team.post(sent)["status"] == "published"
    at = now_utc().replace(second=0, microsecond=0) + timedelta(days=3)
    last_of_one = team.scheduled([channel], at=at + timedelta(hours=1))["id"]
    after_one = team.scheduled([channel], at=at + timedelta(hours=1, minutes=1))["id"]
    last_of_all = team.scheduled([channel], at=at + timedelta(hours=744))["id"]

    assert preview_at(team, at, 1) == [(last_of_one, channel)]
    longest = preview_at(team, at, 744)
    assert [post for post, _ in longest] == [last_of_one, after_one, last_of_all]
    assert preview_at(team, at, 743) == longest[:2]


def test_the_list_is_in_order_of_due_time_then_of_delivery(
    any_team: Team, receiver: Receiver
) -> None:
    """Planned out of order, and one post on two channels at the same minute: the preview lists
    by due time, and deliveries due together in the order they were made."""
    team = any_team
    first = webhook(team, receiver, "Konzern-X")["id"]
    second = webhook(team, receiver, "Karriere")["id"]
    at = now_utc().replace(second=0, microsecond=0) + timedelta(days=3)
    later = team.scheduled([first], at=at + timedelta(hours=3))["id"]
    sooner = team.scheduled([first], at=at + timedelta(hours=2))["id"]
    together = team.scheduled([first, second], at=at + timedelta(hours=1))["id"]
    with get_db(team.app).transaction() as session:
        # On PostgreSQL an update that changes an indexed column writes a new row version, and
        # a new index entry, after the others: moved away and back, the delivery made first
        # comes second from the table and from the index, so only the order asked for keeps
        # it first.
        made_first = session.get(
            Delivery,
            min(session.scalars(select(Delivery.id).where(Delivery.post_id == together))),
        )
        due = made_first.due_at
        for moved in (due + timedelta(minutes=1), due):
            made_first.due_at = moved
            session.flush()

    assert preview_at(team, at, 24) == [
        (together, first),
        (together, second),
        (sooner, first),
        (later, first),
    ]


@pytest.mark.parametrize("hours", [0, 745, -1])
def test_a_window_outside_1_to_744_hours_is_refused_in_words(any_team: Team, hours: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        preview_at(any_team, now_utc(), hours)
    assert str(refused.value.message) == "preview between 1 hour and 31 days"
    assert {field: str(problem) for field, problem in refused.value.fields.items()} == {
        "hours": "1 to 744"
    }


def test_a_topic_too_long_is_refused_under_topics(any_team: Team) -> None:
    with pytest.raises(InvalidInput) as refused:
        preview_at(any_team, now_utc(), 72, topics=["#" + "x" * 80])
    assert list(refused.value.fields) == ["topics"]
