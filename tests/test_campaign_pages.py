"""Campaigns in the browser: the list, a campaign's plan and record, the composer's campaign
select and the calendar's campaign filter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flask import Flask
from sqlalchemy import select

from calendar_app import campaigns, planning
from calendar_app.channels import create_channel
from calendar_app.extensions import get_db
from calendar_app.models import Post
from tests.test_security import csrf_token, signed_in, user


def _plan(app: Flask) -> tuple[int, int, int]:
    """A campaign with two posts (given out of order) and a post outside it."""
    with get_db(app).transaction() as session:
        channel = create_channel(session, user(session, "admin"), name="Blog", kind="outbox")
        made = campaigns.create_campaign(
            session, user(session, "head"), name="Azubi-Kampagne", goal="recruiting",
            starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 30),
            kpis=[{"name": "Bewerbungen", "target": 1500, "unit": "Stück"}],
        )  # fmt: skip
        planner = user(session, "planner")
        for title, at, campaign_id in (
            ("Zweiter Beitrag", datetime(2026, 10, 26, 8, 0, tzinfo=UTC), made.id),
            ("Erster Beitrag", datetime(2026, 10, 24, 7, 0, tzinfo=UTC), made.id),
            ("Anderes Thema", datetime(2026, 10, 25, 7, 0, tzinfo=UTC), None),
        ):
            planning.create_post(
                session, planner, title=title, body="Ausbildung bei uns", channel_ids=[channel.id],
                publish_at=at, campaign_id=campaign_id,
            )  # fmt: skip
        return made.id, channel.id, planner.id


def test_a_campaign_page_shows_its_plan_in_order_on_the_team_clock_and_its_record(
    app: Flask,
) -> None:
    campaign_id, _, _ = _plan(app)
    browser = signed_in(app, "planner")
    listed = browser.get("/campaigns").get_data(as_text=True)
    assert f'href="/campaigns/{campaign_id}"' in listed
    page = browser.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert page.index("Erster Beitrag") < page.index("Zweiter Beitrag")
    assert "Anderes Thema" not in page
    # 07:00 UTC on 24 October is 09:00 in Berlin (summer time), 08:00 UTC on 26 October too.
    assert page.count("09:00") == 2
    assert "1.500" in page  # the KPI target, in German
    planned = re.search(r'record-planned"><th scope="row">[^<]+</th><td>(\d+)', page)
    assert planned
    assert planned.group(1) == "2"


def test_the_calendar_filters_by_campaign(app: Flask) -> None:
    campaign_id, _, _ = _plan(app)
    browser = signed_in(app, "planner")
    page = browser.get(f"/?campaign={campaign_id}").get_data(as_text=True)
    assert f'<option value="{campaign_id}" selected>Azubi-Kampagne</option>' in page
    window = "start=2026-10-01T00:00&end=2026-11-01T00:00"
    every = browser.get(f"/calendar/events?{window}").get_json()
    only = browser.get(f"/calendar/events?{window}&campaign={campaign_id}").get_json()
    assert len(every) == 3
    assert [e["title"] for e in only] == ["Erster Beitrag", "Zweiter Beitrag"]
    assert browser.get(f"/calendar/events?{window}&campaign=x").status_code == 400


def test_the_composer_links_a_post_to_a_campaign(app: Flask) -> None:
    campaign_id, channel_id, _ = _plan(app)
    browser = signed_in(app, "planner")
    form = browser.get(f"/compose?campaign={campaign_id}").get_data(as_text=True)
    assert f'<option selected value="{campaign_id}">Azubi-Kampagne</option>' in form
    response = browser.post(
        "/compose",
        data={"body": "Jetzt bewerben!", "channels": [channel_id],
              "publish_at": "2026-10-28T09:00", "campaign": campaign_id,
              "csrf_token": csrf_token(browser, "/compose")},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    with get_db(app).transaction() as session:
        post = session.scalar(select(Post).where(Post.body == "Jetzt bewerben!"))
        assert post is not None
        assert post.campaign_id == campaign_id
    refused = browser.post(
        "/compose",
        data={"body": "Unbekannt", "channels": [channel_id], "publish_at": "2026-10-28T09:00",
              "campaign": 4711, "csrf_token": csrf_token(browser, "/compose")},
    )  # fmt: skip
    assert refused.status_code == 422
