"""The iCal feed: a secret, revocable address per user; one event per delivery in UTC, parsed back
with the icalendar package; updated when the plan changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar

from tests.conftest import Team
from tests.test_security import csrf_token, signed_in

START = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    """Before the plans of these tests, so none has fallen out of the feed's window yet."""
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


def create_address(browser: FlaskClient, action: str = "renew") -> str | None:
    token = csrf_token(browser, "/subscription")
    response = browser.post(f"/subscription/{action}", data={"csrf_token": token})
    assert response.status_code == 302
    page = browser.get("/subscription").get_data(as_text=True)
    match = re.search(r'id="feed-url" value="([^"]+)"', page)
    return match.group(1) if match else None


def fetch(app: Flask, url: str) -> Calendar:
    response = app.test_client().get(url.removeprefix("http://localhost"))
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.get_data())


def events(calendar: Calendar) -> dict[str, object]:
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_the_feed_has_one_event_per_delivery_in_utc_across_a_dst_change(
    team: Team, traveller: time_machine.Traveller
) -> None:
    x = team.channel("X @StadtwerkeNH", network="x")
    blog = team.channel("Blog")
    saturday = team.draft([x["id"], blog["id"]], title="Ausbildungsstart")
    team.planner.patch(f"/posts/{saturday['id']}",
                       json={"publish_at": "2026-10-24T09:00:00+02:00"})  # fmt: skip
    monday = team.scheduled([blog["id"]], title="Girls' Day",
                            at=datetime(2026, 10, 26, 8, 0, tzinfo=UTC))  # fmt: skip
    gone = team.draft([blog["id"]], title="Verworfen")
    assert team.planner.post(f"/posts/{gone['id']}/discard", json={}).status_code == 200

    url = create_address(signed_in(team.app, "planner"))
    assert url is not None
    assert re.fullmatch(r"http://localhost/feeds/[A-Za-z0-9_-]{40,}\.ics", url)
    calendar = fetch(team.app, url)

    for name, value in (("PRODID", "-//calendar_app//Editorial calendar//EN"), ("VERSION", "2.0"),
                        ("CALSCALE", "GREGORIAN"), ("METHOD", "PUBLISH")):  # fmt: skip
        assert str(calendar[name]) == value
    assert str(calendar["X-WR-CALNAME"]) == "Redaktionskalender"
    found = sorted(calendar.walk("VEVENT"), key=lambda e: (e.decoded("DTSTART"), str(e["UID"])))
    assert [str(e["SUMMARY"]) for e in found] == [
        "X @StadtwerkeNH: Ausbildungsstart", "Blog: Ausbildungsstart", "Blog: Girls' Day",
    ]  # fmt: skip
    starts = [e.decoded("DTSTART") for e in found]
    # 09:00 in Berlin is 07:00 UTC in summer time (24 Oct), 08:00 UTC in winter time (26 Oct).
    assert starts == [datetime(2026, 10, 24, 7, 0, tzinfo=UTC)] * 2 + [
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    ]
    assert all(s.utcoffset() == timedelta(0) for s in starts)
    assert "DTSTART:20261026T080000Z" in fetch_text(team.app, url)
    for event in found:
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=15)
        assert event.decoded("DTSTAMP").tzinfo is not None
        assert "LAST-MODIFIED" in event
    assert "Status: Entwurf" in str(found[0]["DESCRIPTION"])
    assert "Status: Geplant" in str(found[2]["DESCRIPTION"])
    deliveries = [d for p in (saturday, monday) for d in team.post(p["id"])["deliveries"]]
    assert {str(e["UID"]) for e in found} == {
        f"delivery-{d['id']}@calendar-app" for d in deliveries
    }


def fetch_text(app: Flask, url: str) -> str:
    return app.test_client().get(url.removeprefix("http://localhost")).get_data(as_text=True)


def test_an_edit_changes_the_event_and_keeps_its_uid(
    team: Team, traveller: time_machine.Traveller
) -> None:
    blog = team.channel("Blog")
    post = team.scheduled([blog["id"]], title="Girls' Day",
                          at=datetime(2026, 10, 26, 8, 0, tzinfo=UTC))  # fmt: skip
    url = create_address(signed_in(team.app, "planner"))
    assert url is not None
    ((uid, before),) = events(fetch(team.app, url)).items()

    traveller.shift(timedelta(minutes=5))
    change = {"title": "Girls' Day: Anmeldung offen", "publish_at": "2026-10-27T10:00:00+01:00"}
    edited = team.planner.patch(f"/posts/{post['id']}", json=change)
    assert edited.status_code == 200
    after = events(fetch(team.app, url))[uid]
    assert str(after["SUMMARY"]) == "Blog: Girls' Day: Anmeldung offen"
    assert after.decoded("DTSTART") == datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert "Status: Entwurf" in str(after["DESCRIPTION"])  # sent back for a new approval


def test_renewing_or_revoking_the_address_makes_the_old_one_answer_404(team: Team) -> None:
    browser = signed_in(team.app, "planner")
    first = create_address(browser)
    assert first is not None
    assert fetch_text(team.app, first).startswith("BEGIN:VCALENDAR")
    second = create_address(browser)
    assert second is not None
    assert second != first
    client = team.app.test_client()
    assert client.get(first.removeprefix("http://localhost")).status_code == 404
    assert client.get(second.removeprefix("http://localhost")).status_code == 200
    assert create_address(browser, "revoke") is None
    assert client.get(second.removeprefix("http://localhost")).status_code == 404
    assert client.get("/feeds/not-a-token.ics").status_code == 404


def test_each_user_has_their_own_address(team: Team) -> None:
    planner = create_address(signed_in(team.app, "planner"))
    head = create_address(signed_in(team.app, "head"))
    assert planner != head
    create_address(signed_in(team.app, "head"), "revoke")
    assert fetch_text(team.app, planner or "").startswith("BEGIN:VCALENDAR")


def test_renewing_needs_the_csrf_token(app: Flask) -> None:
    browser = signed_in(app, "planner")
    assert browser.post("/subscription/renew", data={}).status_code == 400
    assert 'id="feed-url"' not in browser.get("/subscription").get_data(as_text=True)
