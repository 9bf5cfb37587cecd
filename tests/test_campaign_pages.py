"""Campaigns in the browser: the list, a campaign's plan and record, the composer's campaign
select and the calendar's campaign filter."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from calendar_app import campaigns, planning
from calendar_app.channels import create_channel
from calendar_app.departments import departments_by_slugs
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, Campaign, Post
from calendar_app.web import campaigns as web_campaigns
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


def test_a_long_campaign_shows_its_plan_a_page_at_a_time(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_campaigns, "PLAN_PAGE_SIZE", 1)
    campaign_id, _, _ = _plan(app)
    browser = signed_in(app, "planner")
    first = browser.get(f"/campaigns/{campaign_id}").get_data(as_text=True).split('id="plan"')[1]
    assert "Erster Beitrag" in first
    assert "Zweiter Beitrag" not in first
    assert 'id="plan-first"' not in first
    later = re.search(r'href="([^"]+)#plan" id="plan-next"', first)
    assert later
    second = browser.get(html.unescape(later.group(1))).get_data(as_text=True)
    second = second.split('id="plan"')[1]
    assert "Zweiter Beitrag" in second
    assert "Erster Beitrag" not in second
    assert 'id="plan-next"' not in second  # the last page
    assert 'id="plan-first"' in second
    refused = browser.get(f"/campaigns/{campaign_id}?cursor=nonsense")
    assert refused.status_code == 400
    assert "cursor" in refused.get_data(as_text=True)


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


# --- the campaign form -------------------------------------------------------------------------


def _department_ids(app: Flask, *slugs: str) -> list[int]:
    with get_db(app).transaction() as session:
        return [d.id for d in departments_by_slugs(session, list(slugs))]


def _form_data(browser: FlaskClient, path: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Sommerfest",
        "goal": "dialogue",
        "starts_on": "2026-06-01",
        "ends_on": "2026-06-30",
        "csrf_token": csrf_token(browser, path),
    }
    for index in range(5):  # the form's five KPI rows, blank unless given
        for part in ("name", "target", "unit"):
            data[f"kpis-{index}-{part}"] = ""
    data.update(fields)
    return data


def _campaign(app: Flask, name: str) -> Campaign | None:
    with get_db(app).transaction() as session:
        found = session.scalar(
            select(Campaign)
            .where(Campaign.name == name)
            .options(selectinload(Campaign.departments))
        )
        if found is not None:
            session.expunge(found)
        return found


def test_a_head_creates_a_campaign_in_the_browser(app: Flask) -> None:
    pr, hr = _department_ids(app, "pr", "hr")
    browser = signed_in(app, "head")
    listed = browser.get("/campaigns").get_data(as_text=True)
    assert 'href="/campaigns/new"' in listed
    form = browser.get("/campaigns/new").get_data(as_text=True)
    assert 'type="date"' in form
    assert form.count('name="kpis-') == 15, "five KPI rows of name, target and unit"
    response = browser.post(
        "/campaigns/new",
        data=_form_data(
            browser, "/campaigns/new", departments=[pr, hr],
            **{"kpis-0-name": "Besucher", "kpis-0-target": "1.500", "kpis-0-unit": "Personen",
               "kpis-2-name": "Erwähnungen", "kpis-2-target": "2,5"},
        ),
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    made = _campaign(app, "Sommerfest")
    assert made is not None
    assert response.location == f"/campaigns/{made.id}"
    assert made.goal == "dialogue"
    assert (made.starts_on, made.ends_on) == (date(2026, 6, 1), date(2026, 6, 30))
    assert made.kpis == [
        {"name": "Besucher", "target": 1500, "unit": "Personen"},
        {"name": "Erwähnungen", "target": 2.5},
    ], "blank rows are ignored, numbers read as German"
    assert sorted(d.slug for d in made.departments) == ["hr", "pr"]
    page = browser.get(response.location).get_data(as_text=True)
    assert "Kampagne Sommerfest angelegt." in page
    with get_db(app).transaction() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "create_campaign"))
        assert entry is not None
        assert entry.actor_id == user(session, "head").id


def test_an_admin_edits_a_campaign_and_the_form_shows_what_is_stored(app: Flask) -> None:
    campaign_id, _, _ = _plan(app)
    (media,) = _department_ids(app, "media")
    browser = signed_in(app, "admin")
    page = browser.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign_id}/edit"' in page
    path = f"/campaigns/{campaign_id}/edit"
    form = browser.get(path).get_data(as_text=True)
    assert 'value="Azubi-Kampagne"' in form
    assert 'value="2026-10-01"' in form
    assert 'value="1.500"' in form, "the KPI target as German readers write it"
    assert '<option selected value="recruiting">' in form
    response = browser.post(
        path,
        data=_form_data(
            browser, path, name="Azubi-Kampagne 2027", goal="retention",
            starts_on="2026-10-01", ends_on="2026-12-15", departments=[media],
            **{"kpis-0-name": "Bewerbungen", "kpis-0-target": "2000", "kpis-0-unit": "Stück",
               "kpis-1-name": "Zusagen", "kpis-1-target": "40"},
        ),
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    changed = _campaign(app, "Azubi-Kampagne 2027")
    assert changed is not None
    assert changed.id == campaign_id
    assert changed.goal == "retention"
    assert changed.ends_on == date(2026, 12, 15)
    assert [d.slug for d in changed.departments] == ["media"]
    assert changed.kpis == [
        {"name": "Bewerbungen", "target": 2000, "unit": "Stück"},
        {"name": "Zusagen", "target": 40},
    ]
    assert "Kampagne Azubi-Kampagne 2027 gespeichert." in browser.get(response.location).get_data(
        as_text=True
    )


def _field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<span class="field-error" id="{re.escape(field_id)}-error">([^<]+)', page)
    assert found, f"no error next to {field_id}"
    return found.group(1)


def test_the_form_shows_each_problem_next_to_its_field_and_saves_nothing(app: Flask) -> None:
    browser = signed_in(app, "head")
    response = browser.post(
        "/campaigns/new",
        data=_form_data(
            browser, "/campaigns/new", name="", starts_on="2026-06-30", ends_on="2026-06-01",
            **{"kpis-0-name": "Besucher", "kpis-0-target": "viele",
               "kpis-1-target": "12", "kpis-3-name": "Klicks", "kpis-3-target": "-5"},
        ),
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _field_error(page, "name") == "Bitte ausfüllen."
    assert _field_error(page, "ends_on") == "Das Ende darf nicht vor dem Beginn liegen."
    assert _field_error(page, "kpis-0-target") == "Bitte das Ziel als Zahl angeben, z. B. 1500."
    assert _field_error(page, "kpis-1-name") == "Bitte die Kennzahl benennen."
    assert _field_error(page, "kpis-3-target") == "Das Ziel darf nicht unter null liegen."
    assert 'value="viele"' in page, "what was typed stays in the form"
    with get_db(app).transaction() as session:
        assert session.scalar(select(Campaign.id)) is None


def test_a_taken_name_is_shown_next_to_the_name(app: Flask) -> None:
    _plan(app)
    browser = signed_in(app, "head")
    response = browser.post(
        "/campaigns/new", data=_form_data(browser, "/campaigns/new", name="Azubi-Kampagne")
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert _field_error(page, "name") == "Eine Kampagne mit diesem Namen gibt es schon."
    assert "Die Kampagne wurde nicht gespeichert" in page


def test_a_planner_neither_sees_nor_uses_the_campaign_form(app: Flask) -> None:
    campaign_id, _, _ = _plan(app)
    browser = signed_in(app, "planner")
    assert 'href="/campaigns/new"' not in browser.get("/campaigns").get_data(as_text=True)
    page = browser.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert f"/campaigns/{campaign_id}/edit" not in page
    assert browser.get("/campaigns/new").status_code == 403
    assert browser.get(f"/campaigns/{campaign_id}/edit").status_code == 403
    token = csrf_token(browser, "/campaigns")
    created = browser.post("/campaigns/new", data={**_form_data(browser, "/campaigns"),
                                                   "csrf_token": token})  # fmt: skip
    assert created.status_code == 403
    edited = browser.post(
        f"/campaigns/{campaign_id}/edit",
        data={**_form_data(browser, "/campaigns", name="Umbenannt"), "csrf_token": token},
    )
    assert edited.status_code == 403
    assert _campaign(app, "Sommerfest") is None
    assert _campaign(app, "Umbenannt") is None


def test_the_campaign_form_without_csrf_token_is_refused(app: Flask) -> None:
    campaign_id, _, _ = _plan(app)
    browser = signed_in(app, "head")
    data = _form_data(browser, "/campaigns/new")
    del data["csrf_token"]
    assert browser.post("/campaigns/new", data=data).status_code == 400
    forged = browser.post(f"/campaigns/{campaign_id}/edit", data={**data, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert _campaign(app, "Sommerfest") is None


def test_a_script_in_a_campaign_name_is_shown_as_text(app: Flask) -> None:
    browser = signed_in(app, "head")
    name = "<script>alert(1)</script>"
    response = browser.post("/campaigns/new", data=_form_data(browser, "/campaigns/new", name=name))
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    for path in ("/campaigns", response.location, f"{response.location}/edit"):
        page = browser.get(path).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        assert "<script>alert" not in page, path


def test_kpi_targets_are_read_as_the_page_language_writes_numbers(app: Flask) -> None:
    browser = signed_in(app, "head")
    token = csrf_token(browser, "/campaigns")
    assert browser.post("/language", data={"locale": "en", "csrf_token": token}).status_code == 302
    response = browser.post(
        "/campaigns/new",
        data=_form_data(browser, "/campaigns/new", name="Reach",
                        **{"kpis-0-name": "Views", "kpis-0-target": "1,500",
                           "kpis-1-name": "Rate", "kpis-1-target": "2.5",
                           "kpis-2-name": "Odd", "kpis-2-target": "NaN"}),
    )  # fmt: skip
    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "kpis-2-target") == (
        "Enter the target as a number, e.g. 1500."
    )
    data = _form_data(browser, "/campaigns/new", name="Reach",
                      **{"kpis-0-name": "Views", "kpis-0-target": "1,500",
                         "kpis-1-name": "Rate", "kpis-1-target": "2.5"})  # fmt: skip
    assert browser.post("/campaigns/new", data=data).status_code == 302
    made = _campaign(app, "Reach")
    assert made is not None
    assert made.kpis == [{"name": "Views", "target": 1500}, {"name": "Rate", "target": 2.5}]
