"""Campaigns: goal, KPIs, dates, departments; posts link to them; the delivery record counts what
became of their deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from calendar_app.extensions import get_db
from calendar_app.models import Department
from calendar_app.timeutil import now_utc
from tests.conftest import Team


def departments(app: Flask) -> dict[str, int]:
    with get_db(app).transaction() as session:
        # Marketing is one of the standard departments; "Personal (HR)" one an admin added.
        hr = Department(name="Personal (HR)", slug="personal", color="#2f9e44")
        session.add(hr)
        session.flush()
        marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
        return {"hr": hr.id, "marketing": marketing.id}


def campaign(team: Team, **fields: Any) -> dict[str, Any]:
    payload = {
        "name": "Azubi-Kampagne 2027",
        "goal": "recruiting",
        "starts_on": "2026-10-01",
        "ends_on": "2026-11-30",
        "kpis": [{"name": "Bewerbungen", "target": 40, "unit": "Bewerbungen"}],
        **fields,
    }
    response = team.head.post("/campaigns", json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_head_creates_a_campaign_with_goal_kpis_dates_and_departments(any_team: Team) -> None:
    ids = departments(any_team.app)
    made = campaign(any_team, departments=[ids["hr"], ids["marketing"]])
    assert made["goal"] == "recruiting"
    assert made["kpis"] == [{"name": "Bewerbungen", "target": 40, "unit": "Bewerbungen"}]
    assert (made["starts_on"], made["ends_on"]) == ("2026-10-01", "2026-11-30")
    assert [d["name"] for d in made["departments"]] == ["Marketing", "Personal (HR)"]
    assert made["delivery_record"]["total"] == 0
    listed = any_team.planner.get("/campaigns").get_json()["items"]
    assert [c["name"] for c in listed] == ["Azubi-Kampagne 2027"]
    assert any_team.planner.get(f"/campaigns/{made['id']}").get_json()["id"] == made["id"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_on": "2026-09-30"}, "ends_on"),
        ({"goal": "fame"}, "goal"),
        ({"starts_on": "1. Oktober"}, "starts_on"),
        ({"kpis": [{"name": "Reichweite"}]}, "kpis.0.target"),
        ({"kpis": [{"name": "", "target": 3}]}, "kpis.0.name"),
        ({"departments": [999]}, "departments"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_campaign_is_refused_naming_the_field(
    team: Team, fields: dict[str, Any], field: str
) -> None:
    payload = {"name": "Sommer", "goal": "awareness", "starts_on": "2026-10-01",
               "ends_on": "2026-10-31", **fields}  # fmt: skip
    response = team.head.post("/campaigns", json=payload)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["fields"]
    assert team.head.get("/campaigns").get_json()["items"] == []


def test_planners_read_campaigns_but_only_heads_and_admins_change_them(team: Team) -> None:
    body = {"name": "Sommer", "goal": "awareness", "starts_on": "2026-07-01",
            "ends_on": "2026-08-31"}  # fmt: skip
    assert team.planner.post("/campaigns", json=body).status_code == 403
    made = team.admin.post("/campaigns", json=body).get_json()
    assert team.planner.patch(f"/campaigns/{made['id']}", json={"name": "x"}).status_code == 403
    assert team.head.post("/campaigns", json=body).status_code == 409  # the name is taken


def test_editing_a_campaign_keeps_what_is_not_named(team: Team) -> None:
    made = campaign(team)
    response = team.head.patch(f"/campaigns/{made['id']}", json={"ends_on": "2026-12-15"})
    assert response.status_code == 200, response.get_json()
    edited = response.get_json()
    assert (edited["starts_on"], edited["ends_on"]) == ("2026-10-01", "2026-12-15")
    assert edited["kpis"] == made["kpis"]
    refused = team.head.patch(f"/campaigns/{made['id']}", json={"starts_on": "2027-01-01"})
    assert refused.status_code == 422
    assert "ends_on" in refused.get_json()["fields"]
    assert team.head.get(f"/campaigns/{made['id']}").get_json()["starts_on"] == "2026-10-01"
    assert team.head.get("/campaigns/4711").status_code == 404


def test_posts_link_to_a_campaign_and_filter_by_it(any_team: Team) -> None:
    channel = any_team.channel()
    made = campaign(any_team)
    linked = any_team.draft([channel["id"]], campaign_id=made["id"])
    other = any_team.draft([channel["id"]])
    assert linked["campaign"] == {"id": made["id"], "name": "Azubi-Kampagne 2027"}
    assert other["campaign"] is None
    found = any_team.planner.get(f"/posts?campaign={made['id']}").get_json()["items"]
    assert [p["id"] for p in found] == [linked["id"]]

    unlinked = any_team.planner.patch(f"/posts/{linked['id']}", json={"campaign_id": None})
    assert unlinked.get_json()["campaign"] is None
    relinked = any_team.planner.patch(f"/posts/{other['id']}", json={"campaign_id": made["id"]})
    assert relinked.get_json()["campaign"]["id"] == made["id"]


def test_an_unknown_campaign_is_named_as_the_problem(team: Team) -> None:
    channel = team.channel()
    payload = {"body": "Hallo", "channels": [channel["id"]],
               "publish_at": "2026-12-01T09:00:00+01:00", "campaign_id": 4711}  # fmt: skip
    created = team.planner.post("/posts", json=payload)
    assert created.status_code == 422
    assert created.get_json()["fields"] == {"campaign_id": "unknown campaign"}
    post = team.draft([channel["id"]])
    edited = team.planner.patch(f"/posts/{post['id']}", json={"campaign_id": 4711})
    assert edited.status_code == 422
    assert "campaign_id" in edited.get_json()["fields"]


def test_the_delivery_record_counts_planned_published_held_and_failed(
    any_team: Team, make_dispatcher: Any, clock: Any
) -> None:
    outbox = any_team.channel("Outbox")
    second = any_team.channel("Zweiter Kanal")
    made = campaign(any_team)
    due = now_utc() - timedelta(minutes=1)
    any_team.scheduled([outbox["id"], second["id"]], at=due, campaign_id=made["id"])
    any_team.draft([outbox["id"]], campaign_id=made["id"])  # planned, not yet approved
    any_team.scheduled([outbox["id"]], at=now_utc() + timedelta(days=2), campaign_id=made["id"])
    any_team.scheduled([outbox["id"]], at=due)  # not in the campaign
    make_dispatcher(any_team.app, clock=clock).run_pass()

    later = any_team.scheduled([outbox["id"]], at=now_utc() + timedelta(seconds=1),
                               campaign_id=made["id"])  # fmt: skip
    assert any_team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    clock.advance(seconds=5)
    make_dispatcher(any_team.app, clock=clock).run_pass()
    assert any_team.post(later["id"])["status"] == "held"

    record = any_team.planner.get(f"/campaigns/{made['id']}").get_json()["delivery_record"]
    assert record == {"planned": 2, "publishing": 0, "published": 2, "held": 1, "missed": 0,
                      "failed": 0, "unknown": 0, "discarded": 0, "total": 5}  # fmt: skip
