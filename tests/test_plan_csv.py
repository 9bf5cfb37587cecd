"""The plan as CSV: export of any filtered view, import all-or-nothing, round trip."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from calendar_app import campaigns, create_app
from calendar_app.extensions import get_db
from calendar_app.models import Department
from tests.conftest import Cast, Team, make_config
from tests.test_security import csrf_token, signed_in, user


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def plan(team: Team) -> dict[str, Any]:
    """Two channels, a department, a campaign and three posts across the autumn DST change."""
    x = team.channel("X @StadtwerkeNH", network="x")
    blog = team.channel("Blog: Energie vor Ort", network="blog")
    with get_db(team.app).transaction() as session:
        hr = Department(name="Personal (HR)", slug="personal", color="#2f9e44")
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
                       body="@Kundenservice: Störung behoben")  # fmt: skip
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
    assert third["crisis_response"] == "false"
    # a post without a department given belongs to corporate communications
    assert (third["department"], third["campaign"], third["overrides"]) == (
        "Corporate communications",
        "",
        "",
    )
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


# --- import ------------------------------------------------------------------------------------


@pytest.fixture
def fresh_team(sqlite_template: tuple[Path, Cast], tmp_path: Path) -> Iterator[Team]:
    """A second, empty calendar (its own database) with the same cast."""
    template, cast = sqlite_template
    path = tmp_path / "fresh.db"
    shutil.copy(template, path)
    (tmp_path / "fresh").mkdir()
    app = create_app(make_config(f"sqlite:///{path}", tmp_path / "fresh"))
    yield Team(app, app.test_client(), cast.tokens, cast.ids)
    get_db(app).dispose()


def same_setup(team: Team) -> None:
    """The channels, department and campaign the plan names, by the same names."""
    team.channel("X @StadtwerkeNH", network="x")
    team.channel("Blog: Energie vor Ort", network="blog")
    with get_db(team.app).transaction() as session:
        hr = Department(name="Personal (HR)", slug="personal", color="#2f9e44")
        session.add(hr)
        session.flush()
        campaigns.create_campaign(
            session, user(session, "head"), name="Azubi-Kampagne", goal="recruiting",
            starts_on=date(2026, 10, 1), ends_on=date(2026, 11, 30), department_ids=[hr.id],
        )  # fmt: skip


def without_status(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "status"} for row in rows]


def test_a_plan_exported_and_imported_into_another_calendar_is_the_same_plan(
    team: Team, fresh_team: Team
) -> None:
    plan(team)
    exported = team.planner.get("/posts.csv").get_data(as_text=True)
    same_setup(fresh_team)

    response = fresh_team.planner2.post("/posts/import", json={"csv": exported})
    assert response.status_code == 201, response.get_json()
    imported = response.get_json()["items"]
    assert len(imported) == 3
    assert {p["status"] for p in imported} == {"draft"}
    assert {p["author"] for p in imported} == {"planner2@example.org"}
    again = fresh_team.planner.get("/posts.csv").get_data(as_text=True)
    assert without_status(read_csv(again)) == without_status(read_csv(exported))
    assert [p["publish_at"] for p in imported] == [
        "2026-10-24T07:00:00Z", "2026-10-26T08:00:00Z", "2026-12-01T08:00:00Z",
    ]  # fmt: skip


HEADER = "title,body,publish_at,channels,department,campaign,crisis_response\r\n"


def test_one_bad_row_imports_nothing_and_names_its_line(any_team: Team) -> None:
    team = any_team
    same_setup(team)
    text = (
        HEADER
        + "Eins,Erster Beitrag,2026-10-24T09:00,X @StadtwerkeNH,Personal (HR),,false\r\n"
        + '"Zwei","Zweiter Beitrag\nüber zwei Zeilen",2026-10-25T09:00,Blog: Energie vor Ort,hr,'
        + "Azubi-Kampagne,\r\n"
        + "Drei,"
        + "x" * 281
        + ",2026-10-26T09:00,X @StadtwerkeNH,,,\r\n"
        + "Vier,Vierter Beitrag,morgen früh,Fax,Einkauf,Sommer,vielleicht\r\n"
    )
    response = team.planner.post("/posts/import", json={"csv": text})
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) == {"line 5", "line 6"}  # line 3-4 is one quoted record
    assert "280" in fields["line 5"]
    for word in ("publish_at", "unknown channel(s): Fax", "Einkauf", "Sommer", "crisis_response"):
        assert word in fields["line 6"]
    assert team.planner.get("/posts").get_json()["items"] == []


def test_naive_times_are_read_on_the_team_clock_across_a_dst_change(team: Team) -> None:
    same_setup(team)
    text = (
        "body,publish_at,channels\n"
        "Samstag,2026-10-24T09:00,X @StadtwerkeNH\n"
        "Montag,2026-10-26 09:00,X @StadtwerkeNH\n"
        "Mit Versatz,2026-10-26T09:00:00+02:00,X @StadtwerkeNH\n"
        "In UTC,2026-10-26T09:00:00Z,X @StadtwerkeNH\n"
    )
    response = team.planner.post("/posts/import", json={"csv": text})
    assert response.status_code == 201, response.get_json()
    assert [p["publish_at"] for p in response.get_json()["items"]] == [
        "2026-10-24T07:00:00Z",  # 09:00 summer time
        "2026-10-26T08:00:00Z",  # 09:00 winter time
        "2026-10-26T07:00:00Z",  # the offset as given
        "2026-10-26T09:00:00Z",
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "csv"),
        ("titel,text\nA,B\n", "line 1"),
        ("body,publish_at,channels\n", "line 1"),
        ('body,publish_at,channels\n"offen,2026-10-24T09:00,X\n', "line 2"),
        ("body,publish_at,channels\nA,2026-10-24T09:00,X @StadtwerkeNH,zu viel\n", "line 2"),
    ],
)
def test_a_file_that_is_not_a_plan_is_refused_with_its_line(
    team: Team, text: str, line: str
) -> None:
    same_setup(team)
    response = team.planner.post("/posts/import", json={"csv": text})
    assert response.status_code == 422, response.get_json()
    assert line in response.get_json()["fields"]


def test_the_upload_page_imports_a_file_or_lists_the_bad_lines(app: Flask, team: Team) -> None:
    same_setup(team)
    browser = signed_in(app, "planner")
    bad = (HEADER + "Eins,Text,2026-10-24T09:00,Fax,,,\r\n").encode()
    refused = browser.post(
        "/posts/import",
        data={
            "file": (io.BytesIO(bad), "plan.csv"),
            "csrf_token": csrf_token(browser, "/posts/import"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "line 2" in page
    assert "Fax" in page
    good = ("\ufeff" + HEADER + "Eins,Text,2026-10-24T09:00,X @StadtwerkeNH,,,\r\n").encode()
    response = browser.post(
        "/posts/import",
        data={
            "file": (io.BytesIO(good), "plan.csv"),
            "csrf_token": csrf_token(browser, "/posts/import"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert [p["title"] for p in team.planner.get("/posts").get_json()["items"]] == ["Eins"]
    no_token = browser.post(
        "/posts/import", data={"file": (io.BytesIO(good), "plan.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert no_token.status_code == 400
    assert len(team.planner.get("/posts").get_json()["items"]) == 1
