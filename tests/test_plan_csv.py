"""The plan as CSV: export of any filtered view, import all-or-nothing, round trip."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask

from calendar_app import campaigns
from calendar_app.extensions import get_db
from calendar_app.models import Department
from tests.conftest import Team
from tests.test_security import signed_in, user


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def plan(team: Team) -> dict[str, Any]:
    """Two channels, a department, a campaign and three posts across the autumn DST change."""
    x = team.channel("X @StadtwerkeNH", network="x")
    blog = team.channel("Blog: Energie vor Ort", network="blog")
    with get_db(team.app).transaction() as session:
        hr = Department(name="Personal (HR)", slug="hr", color="#2f9e44")
        session.add(hr)
        session.flush()
        made = campaigns.create_campaign(
            session, user(session, "head"), name="Azubi-Kampagne", goal="recruiting",
            starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 30), department_ids=[hr.id],
        )  # fmt: skip
        ids = {"hr": hr.id, "campaign": made.id}
    first = team.draft(
        [x["id"], blog["id"]], at=datetime(2026, 10, 24, 7, 0, tzinfo=UTC),
        title="Ausbildungsstart", body="Heute starten 14 Azubis, mehr dazu im Blog: " + "x" * 300,
        department_id=ids["hr"], campaign_id=ids["campaign"],
        overrides={str(x["id"]): "Heute starten 14 Azubis! 🎉"},
    )  # fmt: skip
    second = team.scheduled(
        [blog["id"]], at=datetime(2026, 10, 26, 8, 0, tzinfo=UTC), title="Girls' Day",
        body="=Anmeldung jetzt offen, \"Plätze\" begrenzt;\nzweite Zeile", department_id=ids["hr"],
    )  # fmt: skip
    third = team.draft([x["id"]], at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
                       body="@Kundenservice: Störung behoben", crisis_response=True)  # fmt: skip
    return {"x": x, "blog": blog, "posts": [first, second, third], **ids}


def test_the_export_has_one_row_per_post_on_the_team_clock(team: Team) -> None:
    made = plan(team)
    response = team.planner.get("/posts.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response.get_data(as_text=True))
    assert [r["publish_at"] for r in rows] == [
        "2026-10-24T09:00:00+02:00",  # summer time
        "2026-10-26T09:00:00+01:00",  # winter time
        "2026-12-01T09:00:00+01:00",
    ]
    first, second, third = rows
    assert first["channels"] == "X @StadtwerkeNH|Blog: Energie vor Ort"
    assert (first["department"], first["campaign"]) == ("Personal (HR)", "Azubi-Kampagne")
    assert json.loads(first["overrides"]) == {"X @StadtwerkeNH": "Heute starten 14 Azubis! 🎉"}
    assert (first["status"], first["crisis_response"]) == ("draft", "false")
    assert second["status"] == "scheduled"
    # A cell a spreadsheet would run as a formula is guarded with an apostrophe.
    assert second["body"].startswith("'=Anmeldung")
    assert third["body"] == "'@Kundenservice: Störung behoben"
    assert third["crisis_response"] == "true"
    assert (third["department"], third["campaign"], third["overrides"]) == ("", "", "")
    assert made["posts"][0]["title"] == first["title"]


def test_the_export_takes_the_calendars_filters(team: Team) -> None:
    made = plan(team)
    by_campaign = read_csv(team.planner.get(f"/posts.csv?campaign={made['campaign']}").get_data(
        as_text=True))  # fmt: skip
    assert [r["title"] for r in by_campaign] == ["Ausbildungsstart"]
    by_channel = read_csv(team.planner.get(f"/posts.csv?channel={made['blog']['id']}").get_data(
        as_text=True))  # fmt: skip
    assert [r["title"] for r in by_channel] == ["Ausbildungsstart", "Girls' Day"]
    window = "from=2026-10-25T00:00:00%2B02:00&to=2026-11-01T00:00:00Z&status=scheduled"
    assert [r["title"] for r in read_csv(team.planner.get(f"/posts.csv?{window}").get_data(
        as_text=True))] == ["Girls' Day"]  # fmt: skip
    refused = team.planner.get("/posts.csv?from=2026-10-25T00:00")
    assert refused.status_code == 422
    assert "from" in refused.get_json()["fields"]
    assert team.anonymous.get("/posts.csv").status_code == 401


def test_the_calendar_page_links_to_the_export_with_its_filters(app: Flask, team: Team) -> None:
    made = plan(team)
    browser = signed_in(app, "planner")
    page = browser.get(f"/?campaign={made['campaign']}").get_data(as_text=True)
    assert f'href="/calendar/export.csv?campaign={made["campaign"]}"' in page
    response = browser.get(
        f"/calendar/export.csv?campaign={made['campaign']}&start=2026-10-01T00:00&end=2026-11-01T00:00"
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert [r["title"] for r in read_csv(response.get_data(as_text=True))] == ["Ausbildungsstart"]
    everything = read_csv(browser.get("/calendar/export.csv").get_data(as_text=True))
    assert len(everything) == 3
