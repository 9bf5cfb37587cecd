"""Bounded input: request bodies, every free text, the post list and the iCal feed.

A 50 MB post body used to be stored, and the list API and the feed then served it to everyone.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import func, select

from calendar_app import ical, planning
from calendar_app.api.openapi import document
from calendar_app.audit import MAX_NOTE_LENGTH
from calendar_app.channel_rules import MAX_TEXT_LENGTH
from calendar_app.comments import MAX_COMMENT_LENGTH
from calendar_app.extensions import get_db
from calendar_app.models import Post, User
from calendar_app.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from calendar_app.planning import MAX_TITLE_LENGTH
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Team
from tests.support.web import csrf_token, signed_in

MB = 1024 * 1024


def _posts_stored(team: Team) -> int:
    with get_db(team.app).transaction() as session:
        return session.scalar(select(func.count()).select_from(Post)) or 0


def _new_post(channel_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "body": "Tag der offenen Tür",
        "channels": [channel_id],
        "publish_at": iso_utc(now_utc() + timedelta(days=3)),
        **fields,
    }


# --- request bodies ----------------------------------------------------------------------------


def test_a_50_mb_post_is_refused_at_once_and_not_stored(team: Team) -> None:
    channel = team.channel()
    body = b'{"body": "' + b"x" * (50 * MB) + b'", "channels": [1], "publish_at": "2030-01-01Z"}'
    started = time.monotonic()
    response = team.planner.post("/posts", data=body, content_type="application/json")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 413
    payload = response.get_json()
    assert payload["fields"] == {}
    assert "MAX_CONTENT_LENGTH" in payload["error"]
    assert _posts_stored(team) == 0
    assert team.planner.post("/posts", json=_new_post(channel["id"])).status_code == 201


@pytest.mark.parametrize("config_overrides", [{"MAX_CONTENT_LENGTH": 128 * 1024}])
def test_the_body_limit_is_a_setting_and_a_page_says_so_in_words(team: Team) -> None:
    channel = team.channel()
    small = _new_post(channel["id"], body="x" * 1000)
    assert team.planner.post("/posts", json=small).status_code == 201
    big = _new_post(channel["id"], body="x" * (200 * 1024))
    assert team.planner.post("/posts", json=big).status_code == 413
    browser = signed_in(team, "planner")
    page = browser.post(
        "/compose",
        data={"csrf_token": csrf_token(browser, "/compose"), "body": "x" * (200 * 1024)},
    )
    assert page.status_code == 413
    text = page.get_data(as_text=True)
    assert "Zu groß" in text
    assert "Kürzen Sie den Text" in text


# --- texts -------------------------------------------------------------------------------------


def test_a_body_over_the_longest_text_any_channel_takes_is_refused_naming_body(
    team: Team,
) -> None:
    channel = team.channel()  # network `other`: no length limit of its own
    refused = team.planner.post(
        "/posts", json=_new_post(channel["id"], body="x" * (MAX_TEXT_LENGTH + 1))
    )
    assert refused.status_code == 422
    assert "body" in refused.get_json()["fields"]
    fits = team.planner.post("/posts", json=_new_post(channel["id"], body="x" * MAX_TEXT_LENGTH))
    assert fits.status_code == 201
    post_id = fits.get_json()["id"]
    for changes, field in (
        ({"body": "x" * (MAX_TEXT_LENGTH + 1)}, "body"),
        ({"title": "t" * (MAX_TITLE_LENGTH + 1)}, "title"),
        ({"overrides": {str(channel["id"]): "x" * (MAX_TEXT_LENGTH + 1)}}, "overrides"),
    ):
        response = team.planner.patch(f"/posts/{post_id}", json=changes)
        assert response.status_code == 422, changes.keys()
        assert any(name.startswith(field) for name in response.get_json()["fields"])


def test_every_free_text_has_a_bound(team: Team) -> None:
    channel = team.channel()
    post = team.draft([channel["id"]])
    too_long = [
        ("/posts/{post}/comments", {"body": "x" * (MAX_COMMENT_LENGTH + 1)}, "body"),
        ("/posts/{post}/discard", {"reason": "x" * (MAX_NOTE_LENGTH + 1)}, "reason"),
        ("/crisis", {"reason": "x" * (MAX_NOTE_LENGTH + 1)}, "reason"),
        ("/crisis/preview", {"reason": "x" * (MAX_NOTE_LENGTH + 1)}, "reason"),
        ("/crisis/lift", {"note": "x" * (MAX_NOTE_LENGTH + 1)}, "note"),
        ("/blackouts", {"name": "Trauertag", "starts_at": "2031-01-01T00:00:00Z",
                        "ends_at": "2031-01-02T00:00:00Z", "reason": "x" * 5000}, "reason"),
        ("/playbooks", {"name": "Störfall",
                        "statements": {str(channel["id"]): "x" * (MAX_TEXT_LENGTH + 1)}},
         "statements"),
        ("/playbooks", {"name": "Störfall", "description": "x" * 6000}, "description"),
        ("/campaigns", {"name": "Herbst", "goal": "awareness", "starts_on": "2026-09-01",
                        "ends_on": "2026-09-30",
                        "kpis": [{"name": "Reichweite", "target": 1, "unit": "x" * 41}]}, "kpis"),
        ("/departments", {"name": "Recht", "color": "#" + "1" * 100}, "color"),
        ("/channels", {"name": "Neu", "kind": "x" * 100}, "kind"),
    ]  # fmt: skip
    for path, payload, field in too_long:
        response = team.admin.post(path.format(post=post["id"]), json=payload)
        assert response.status_code == 422, (path, response.status_code)
        fields = response.get_json()["fields"]
        assert any(name.startswith(field) for name in fields), (path, fields)


def test_the_openapi_document_gives_the_lengths() -> None:
    schemas = document()["components"]["schemas"]
    for name in ("PostCreate", "PostUpdate"):
        properties = schemas[name]["properties"]
        body = properties["body"].get("anyOf", [properties["body"]])[0]
        title = properties["title"].get("anyOf", [properties["title"]])[0]
        assert body["maxLength"] == MAX_TEXT_LENGTH
        assert title["maxLength"] == MAX_TITLE_LENGTH
    assert schemas["CommentCreate"]["properties"]["body"]["maxLength"] == MAX_COMMENT_LENGTH
    assert schemas["CrisisLift"]["properties"]["note"]["maxLength"] == MAX_NOTE_LENGTH


# --- the post list pages -----------------------------------------------------------------------


def _plan_many(team: Team, count: int) -> list[int]:
    """`count` drafts, several at the very same minute (the order must still be total)."""
    channel = team.channel()
    start = now_utc().replace(second=0, microsecond=0) + timedelta(days=1)
    with get_db(team.app).transaction() as session:
        planner = session.scalar(select(User).where(User.email == "planner@example.org"))
        assert planner is not None
        posts = [
            planning.create_post(
                session, planner, body=f"Beitrag {n}", channel_ids=[channel["id"]],
                publish_at=start + timedelta(minutes=(n * 7919) % 150),
            )
            for n in range(count)
        ]  # fmt: skip
        return [p.id for p in sorted(posts, key=lambda p: (p.publish_at, p.id))]


def test_a_cursor_walk_returns_every_post_once_in_order(team: Team) -> None:
    expected = _plan_many(team, 450)
    seen: list[int] = []
    cursor, pages = None, 0
    while True:
        query: dict[str, Any] = {"limit": 100}
        if cursor:
            query["cursor"] = cursor
        response = team.planner.get("/posts", query_string=query)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        assert len(page["items"]) <= 100
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), "opaque and safe in a URL"
    assert seen == expected
    assert pages == 5


def test_without_a_limit_the_list_gives_the_default_page_and_a_cursor(team: Team) -> None:
    _plan_many(team, DEFAULT_PAGE_SIZE + 5)
    first = team.planner.get("/posts").get_json()
    assert len(first["items"]) == DEFAULT_PAGE_SIZE
    assert first["next_cursor"]
    rest = team.planner.get("/posts", query_string={"cursor": first["next_cursor"]}).get_json()
    assert len(rest["items"]) == 5
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_PAGE_SIZE + 1)}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "x" * 10_000}, "cursor"),
    ],
)
def test_a_bad_page_request_names_the_parameter(
    team: Team, query: dict[str, str], field: str
) -> None:
    response = team.planner.get("/posts", query_string=query)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]


# --- the iCal feed -----------------------------------------------------------------------------


def _feed(app: Flask) -> Calendar:
    browser = signed_in(Team(app, app.test_client(), {}, {}), "planner")
    browser.post("/subscription/renew", data={"csrf_token": csrf_token(browser, "/subscription")})
    page = browser.get("/subscription").get_data(as_text=True)
    url = re.search(r'id="feed-url" value="http://localhost([^"]+)"', page)
    assert url is not None
    response = app.test_client().get(url.group(1))
    assert response.status_code == 200
    return Calendar.from_ical(response.get_data())


def test_the_feed_serves_a_bounded_window(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = team.channel()
    now = now_utc()
    with get_db(team.app).transaction() as session:
        planner = session.scalar(select(User).where(User.email == "planner@example.org"))
        assert planner is not None
        for days, title in ((-ical.DAYS_BACK - 1, "zu alt"), (ical.DAYS_AHEAD + 1, "zu weit"),
                            (-1, "gestern"), (1, "morgen"), (2, "lang")):  # fmt: skip
            planning.create_post(
                session, planner, title=title, channel_ids=[channel["id"]],
                body="x" * (MAX_TEXT_LENGTH if title == "lang" else 10),
                publish_at=now + timedelta(days=days),
            )  # fmt: skip
    events = list(_feed(team.app).walk("VEVENT"))
    assert sorted(str(e["SUMMARY"]).split(": ")[1] for e in events) == ["gestern", "lang", "morgen"]
    long_one = next(e for e in events if str(e["SUMMARY"]).endswith("lang"))
    assert len(str(long_one["DESCRIPTION"])) < ical.TEXT_SHOWN + 500, "the text is cut for show"

    monkeypatch.setattr(ical, "MAX_EVENTS", 2)
    capped = list(_feed(team.app).walk("VEVENT"))
    assert [str(e["SUMMARY"]).split(": ")[1] for e in capped] == ["gestern", "morgen"]
