"""The calendar feed's address over the API: see it, create or renew it, switch it off."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Team


def feed_path(url: str) -> str:
    return url.removeprefix("http://localhost")


@pytest.mark.parametrize("who", ["planner", "head", "admin"])
def test_every_role_creates_renews_and_switches_off_their_own_feed(team: Team, who: str) -> None:
    api = getattr(team, who)
    client = team.app.test_client()
    assert api.get("/me/feed").get_json() == {
        "url": None,
        "created_at": None,
        "last_fetched_at": None,
    }

    created = api.post("/me/feed")
    assert created.status_code == 201
    first = created.get_json()["url"]
    assert re.fullmatch(r"http://localhost/feeds/[A-Za-z0-9_-]{40,}\.ics", first)
    assert api.get("/me/feed").get_json()["url"] == first
    assert client.get(feed_path(first)).status_code == 200
    assert api.get("/me/feed").get_json()["last_fetched_at"] is not None

    renewed = api.post("/me/feed")
    assert renewed.status_code == 201
    second = renewed.get_json()["url"]
    assert second != first
    assert client.get(feed_path(first)).status_code == 404
    assert client.get(feed_path(second)).status_code == 200

    assert api.delete("/me/feed").status_code == 204
    assert client.get(feed_path(second)).status_code == 404
    assert api.get("/me/feed").get_json()["url"] is None
    assert api.delete("/me/feed").status_code == 204  # switching off twice is harmless


def test_a_feed_is_each_users_own(team: Team) -> None:
    planner = team.planner.post("/me/feed").get_json()["url"]
    head = team.head.post("/me/feed").get_json()["url"]
    assert planner != head
    assert team.head.delete("/me/feed").status_code == 204
    assert team.planner.get("/me/feed").get_json()["url"] == planner
    assert team.app.test_client().get(feed_path(planner)).status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_the_feed_api_needs_a_token(team: Team, method: str) -> None:
    answer = getattr(team.anonymous, method)("/me/feed")
    assert answer.status_code == 401
    assert set(answer.get_json()) == {"error", "fields"}


def test_the_openapi_document_lists_the_feed_api(team: Team) -> None:
    document = team.anonymous.get("/openapi.json").get_json()
    assert set(document["paths"]["/me/feed"]) == {"get", "post", "delete"}
    assert "201" in document["paths"]["/me/feed"]["post"]["responses"]
    assert "204" in document["paths"]["/me/feed"]["delete"]["responses"]
    assert "CalendarFeed" in document["components"]["schemas"]
