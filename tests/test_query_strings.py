"""Query strings never cause a 500: every parameter of every page and API route is read one way
(calendar_app/query_args.py) and a bad value is a 4xx that names it.

The walk below is derived from the routing table and from what each route really reads (the
request records every parameter a view asks for), so a new route or a new parameter is covered
without touching this file.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from calendar_app import campaigns, crisis, planning
from calendar_app.blackouts import Announcing, create_blackout
from calendar_app.channels import create_channel
from calendar_app.extensions import get_db
from calendar_app.models import User
from calendar_app.playbooks import PlaybookData, create_playbook
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.recording import parameters_read, record_query_parameters
from tests.support.web import csrf_token, signed_in

HOSTILE = ["²", "-1", "0001-01-01T00:00", "9999-12-31T23:59", "x" * 10_000, "\x00"]


@pytest.fixture
def recording(app: Flask) -> Flask:
    return record_query_parameters(app)


def _user(session: Any, who: str) -> User:
    found = session.scalar(select(User).where(User.email == f"{who}@example.org"))
    assert found is not None
    return found


@pytest.fixture
def things(app: Flask) -> None:
    """One of everything a route with an id in its path may show, each with id 1."""
    with get_db(app).transaction() as session:
        admin, head = _user(session, "admin"), _user(session, "head")
        channel = create_channel(session, admin, name="Outbox", kind="outbox")
        post = planning.create_post(
            session, _user(session, "planner"), body="Tag der offenen Tür",
            channel_ids=[channel.id], publish_at=now_utc() + timedelta(days=2),
        )  # fmt: skip
        post.campaign = campaigns.create_campaign(
            session, head, name="Herbst", goal="awareness",
            starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31),
        )  # fmt: skip
        crisis.declare_crisis(session, head, reason="Shitstorm")
        crisis.lift_crisis(session, head, note="vorbei", confirmations_required=1)
        create_playbook(session, head, PlaybookData(name="Störfall"))
        create_blackout(
            session, head, name="Trauertag", starts_at=now_utc() + timedelta(days=30),
            ends_at=now_utc() + timedelta(days=31),
            announcing=Announcing("Europe/Berlin", timedelta(hours=24)),
        )  # fmt: skip


def _get_routes(app: Flask, prefix: str) -> list[str]:
    return sorted(
        re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(prefix) and "GET" in (rule.methods or ())
    )


def _walk(client: FlaskClient, routes: list[str], **kwargs: Any) -> dict[str, set[str]]:
    """Every route with every hostile value in every parameter it reads; no 500 anywhere."""
    read, failures = {}, []
    for path in routes:
        read[path], status = parameters_read(client, path, **kwargs)
        if status >= 500:
            failures.append((path, "", "", status))
    for path, names in read.items():
        for name in sorted(names):
            for value in HOSTILE:
                response = client.get(path, query_string={name: value}, **kwargs)
                if response.status_code >= 500:
                    failures.append((path, name, value[:20], response.status_code))
    assert not failures, failures
    return read


def test_every_page_survives_hostile_query_strings(recording: Flask, things: None) -> None:
    head = signed_in(Team(recording, recording.test_client(), {}, {}), "head")
    read = _walk(head, _get_routes(recording, "web."))
    # The walk reached the pages that read parameters (so it tested something).
    assert {"channel", "department", "campaign", "status", "start", "end"} <= read[
        "/calendar/events"
    ]
    assert {"campaign", "date"} <= read["/compose"]
    assert "von" in read["/agenda"]


def test_every_api_route_survives_hostile_query_strings(
    recording: Flask, things: None, sqlite_db: Any
) -> None:
    headers = {"Authorization": f"Bearer {sqlite_db.cast.tokens['admin']}"}
    read = _walk(recording.test_client(), _get_routes(recording, "api."), headers=headers)
    assert {"channel", "from", "to", "limit", "cursor"} <= read["/api/v1/posts"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/calendar/events?channel=²&start=2026-03-01T00:00&end=2026-04-01T00:00", "channel"),
        ("/calendar/export.csv?campaign=²", "campaign"),
        ("/compose?campaign=²", "campaign"),
        ("/calendar/events?start=0001-01-01T00:00&end=2026-04-01T00:00", "start"),
        ("/calendar/blackouts?start=2026-03-01T00:00&end=9999-12-31T23:59", "end"),
        ("/agenda?von=9999-12-31", "von"),
        ("/?date=²", "date"),
    ],
)
def test_a_page_refuses_an_unreadable_parameter_by_name(team: Team, path: str, field: str) -> None:
    response = signed_in(team, "head").get(path, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)


def test_the_api_refuses_a_digit_that_is_not_ascii(team: Team) -> None:
    response = team.planner.get("/posts", query_string={"channel": "²"})
    assert response.status_code == 422
    assert "channel" in response.get_json()["fields"]


@pytest.mark.parametrize("when", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_time_typed_at_the_ends_of_the_calendar_is_refused_not_a_500(
    team: Team, when: str
) -> None:
    """The same trap in a form and in the calendar's drag-and-drop: year 1 has no UTC instant."""
    channel = team.channel()
    post = team.draft([channel["id"]])
    browser = signed_in(team, "planner")
    token = csrf_token(browser, "/")
    moved = browser.post(f"/posts/{post['id']}/reschedule", json={"publish_at": when},
                         headers={"X-CSRFToken": token})  # fmt: skip
    assert moved.status_code == 400
    form = {"csrf_token": token, "body": "Text", "channels": [channel["id"]], "publish_at": when}
    composed = browser.post("/compose", data=form)
    assert composed.status_code == 422
