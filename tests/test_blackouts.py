"""Blackout dates: planned quiet periods. What falls due in one on its channels is held (and
reviewed like a crisis hold); what falls outside it or on other channels goes out; everyone is
told when one is planned and reminded once before it begins. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app.blackouts import Announcing, list_blackouts, remind_upcoming, send_reminders
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from calendar_app.timeutil import iso_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver
from tests.support.web import csrf_token, signed_in
from tests.test_crisis_halt import discard_under_way


@pytest.fixture
def dispatch(any_team: Team, clock: Clock, make_dispatcher: Any) -> Callable[[], Any]:
    return make_dispatcher(any_team.app, clock=clock).run_pass


def webhook(team: Team, receiver: Receiver, name: str) -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", config=config)


def plan_blackout(
    team: Team,
    start: datetime,
    end: datetime,
    *,
    who: str = "head",
    channels: list[int] | None = None,
    name: str = "Trauertag",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": name,
        "reason": "Gedenken an die Opfer des Unglücks",
        "starts_at": iso_utc(start),
        "ends_at": iso_utc(end),
    }
    if channels is not None:
        payload["channels"] = channels
    response = getattr(team, who).post("/blackouts", json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def sent_post_ids(receiver: Receiver) -> list[int]:
    return sorted(body["post_id"] for body in receiver.bodies())


def test_a_blackout_date_holds_what_falls_in_it_and_nothing_else(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    team = any_team
    x, jobs = webhook(team, receiver, "x"), webhook(team, receiver, "jobs")
    start = clock.now.replace(microsecond=0) + timedelta(hours=2)
    blackout = plan_blackout(team, start, start + timedelta(hours=4), channels=[x["id"]])

    before = team.scheduled([x["id"]], at=start - timedelta(minutes=10))
    inside = team.scheduled([x["id"], jobs["id"]], at=start + timedelta(hours=1))
    after = team.scheduled([x["id"]], at=start + timedelta(hours=4, minutes=5))

    clock.advance(hours=2, minutes=-5)  # just before it begins: the earlier post goes out
    dispatch()
    assert sent_post_ids(receiver) == [before["id"]]

    clock.advance(hours=1, minutes=10)  # inside the blackout
    dispatch()
    assert sent_post_ids(receiver) == sorted([before["id"], inside["id"]])
    [sent_inside] = [b for b in receiver.bodies() if b["post_id"] == inside["id"]]
    assert sent_inside["channel_id"] == jobs["id"], "another channel is not quiet"
    shown = team.post(inside["id"])
    assert shown["status"] == "held"
    by_channel = {d["channel_id"]: d for d in shown["deliveries"]}
    assert by_channel[x["id"]]["status"] == "held"
    assert by_channel[x["id"]]["held_by_blackout_id"] == blackout["id"]
    assert by_channel[x["id"]]["held_by_crisis_id"] is None
    assert by_channel[jobs["id"]]["status"] == "published"

    clock.advance(hours=3)  # after it: the later post goes out, the held one stays held
    dispatch()
    assert after["id"] in sent_post_ids(receiver)
    assert team.post(inside["id"])["status"] == "held"
    assert len(receiver.snapshot()) == 3


def test_a_post_held_by_a_blackout_is_released_by_a_head_and_sent_once(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    team = any_team
    x = webhook(team, receiver, "x")
    start = clock.now.replace(microsecond=0) + timedelta(minutes=30)
    end = start + timedelta(hours=1)
    plan_blackout(team, start, end)  # all channels
    post = team.scheduled([x["id"]], at=start + timedelta(minutes=10))
    clock.advance(minutes=45)
    dispatch()
    assert team.post(post["id"])["status"] == "held"

    into = team.head.post(
        f"/posts/{post['id']}/release", json={"publish_at": iso_utc(start + timedelta(minutes=50))}
    )
    assert into.status_code == 409, into.get_json()
    assert "publish_at" in into.get_json()["fields"]

    released = team.head.post(f"/posts/{post['id']}/release", json={"publish_at": iso_utc(end)})
    assert released.status_code == 200, released.get_json()
    clock.advance(hours=1)
    for _ in range(2):
        dispatch()
    assert receiver.counts_by_key() == {str(post["deliveries"][0]["id"]): 1}
    assert team.post(post["id"])["status"] == "published"


def test_planning_into_a_blackout_warns_in_the_answer(any_team: Team) -> None:
    team = any_team
    x, jobs = team.channel("X"), team.channel("Jobs")
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    plan_blackout(team, start, start + timedelta(days=1), channels=[x["id"]])

    inside = team.draft([x["id"], jobs["id"]], at=start + timedelta(hours=9))
    assert len(inside["warnings"]) == 1
    assert "Trauertag" in inside["warnings"][0]
    assert "on X:" in inside["warnings"][0]
    other_channel = team.draft([jobs["id"]], at=start + timedelta(hours=9))
    assert "warnings" not in other_channel
    outside = team.draft([x["id"]], at=start + timedelta(days=2))
    assert "warnings" not in outside
    moved = team.planner.patch(
        f"/posts/{outside['id']}", json={"publish_at": iso_utc(start + timedelta(hours=1))}
    )
    assert moved.status_code == 200
    assert moved.get_json()["warnings"]


def test_everyone_is_told_when_a_blackout_is_planned_and_reminded_once(any_team: Team) -> None:
    team = any_team
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    blackout = plan_blackout(team, start, start + timedelta(days=1), name="Jahrestag")
    assert blackout["reminded_at"] is None
    for who in ("planner", "planner2", "head2", "admin"):
        subjects = [
            n["subject"] for n in getattr(team, who).get("/notifications").get_json()["items"]
        ]
        assert subjects == ["Sperrzeit geplant: Jahrestag"], who

    db, config = get_db(team.app), team.app.config["CALENDAR"]
    assert send_reminders(db, config, now=start - timedelta(hours=25)) == []
    assert send_reminders(db, config, now=start - timedelta(hours=23)) == [blackout["id"]]
    assert send_reminders(db, config, now=start - timedelta(hours=1)) == []
    subjects = [n["subject"] for n in team.planner.get("/notifications").get_json()["items"]]
    assert subjects == [
        "Erinnerung: Sperrzeit Jahrestag beginnt bald",
        "Sperrzeit geplant: Jahrestag",
    ]
    assert team.planner.get(f"/blackouts/{blackout['id']}").get_json()["reminded_at"]


def test_blackouts_are_planned_by_heads_and_admins_and_checked(any_team: Team) -> None:
    team = any_team
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    payload = {"name": "Trauertag", "starts_at": iso_utc(start), "ends_at": iso_utc(start)}
    assert team.planner.post("/blackouts", json=payload).status_code == 403
    backwards = team.head.post("/blackouts", json=payload)
    assert backwards.status_code == 422, backwards.get_json()
    assert "ends_at" in backwards.get_json()["fields"]
    naive = team.head.post("/blackouts", json={**payload, "starts_at": "2031-11-20T00:00:00"})
    assert naive.status_code in (400, 422)

    blackout = plan_blackout(team, start, start + timedelta(days=1), who="admin")
    assert [b["id"] for b in team.planner.get("/blackouts").get_json()["items"]] == [blackout["id"]]
    path = f"/blackouts/{blackout['id']}"
    assert team.planner.patch(path, json={"name": "Anders"}).status_code == 403
    renamed = team.head2.patch(path, json={"name": "Gedenktag", "channels": None})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "Gedenktag"
    assert team.planner.delete(path).status_code == 403
    assert team.head.delete(path).status_code == 204
    assert team.head.get(path).status_code == 404


def test_editing_a_blackout_changes_only_what_is_asked_and_its_channels_decide_what_waits(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    team = any_team
    x, jobs = webhook(team, receiver, "x"), webhook(team, receiver, "jobs")
    start = clock.now.replace(microsecond=0) + timedelta(hours=2)
    blackout = plan_blackout(team, start, start + timedelta(hours=4))  # every channel
    path = f"/blackouts/{blackout['id']}"

    narrowed = team.head2.patch(path, json={"channels": [x["id"]]})
    assert narrowed.status_code == 200, narrowed.get_json()
    shown = narrowed.get_json()
    assert shown["channels"] == [x["id"]]
    unchanged = ("name", "reason", "starts_at", "ends_at")
    assert {k: shown[k] for k in unchanged} == {k: blackout[k] for k in unchanged}
    later = team.head2.patch(path, json={"ends_at": iso_utc(start + timedelta(hours=5))})
    assert later.get_json()["channels"] == [x["id"]]  # channels not named: kept
    assert later.get_json()["reason"] == blackout["reason"]

    inside = team.scheduled([x["id"], jobs["id"]], at=start + timedelta(hours=1))
    clock.advance(hours=3)
    dispatch()
    by_channel = {d["channel_id"]: d["status"] for d in team.post(inside["id"])["deliveries"]}
    assert by_channel == {x["id"]: "held", jobs["id"]: "published"}

    widened = team.head2.patch(path, json={"channels": None})
    assert widened.get_json()["channels"] == "all"
    with get_db(team.app).transaction() as session:
        edits = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "edit_blackout", AuditEntry.subject_id == blackout["id"])
            .order_by(AuditEntry.id)
        ).all()
    assert [e.detail["channels"] for e in edits] == [[x["id"]], [x["id"]], "all"]
    assert all(e.reason == blackout["reason"] for e in edits)
    assert team.head.delete(path).status_code == 204
    with get_db(team.app).transaction() as session:
        [deleted] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "delete_blackout")
        ).all()
    assert (deleted.subject_type, deleted.subject_id) == ("blackout", blackout["id"])


# --- in the browser ------------------------------------------------------------------------------


def test_the_calendar_shades_blackouts_and_the_composer_warns(team: Team) -> None:
    x = team.channel("X")
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    plan_blackout(team, start, start + timedelta(days=1), channels=[x["id"]])
    browser = signed_in(team, "planner")

    events = browser.get(
        "/calendar/blackouts?start=2031-11-01T00:00&end=2031-12-01T00:00"
    ).get_json()
    assert [(e["start"], e["end"], e["display"]) for e in events] == [
        ("2031-11-20T00:00:00", "2031-11-21T00:00:00", "background")
    ]
    assert "Trauertag" in events[0]["title"]
    assert events[0]["extendedProps"]["channels"] == ["X"]
    elsewhere = "/calendar/blackouts?start=2031-12-01T00:00&end=2032-01-01T00:00"
    assert browser.get(elsewhere).get_json() == []

    page = browser.get("/blackouts").get_data(as_text=True)
    assert "Trauertag" in page
    assert 'action="/blackouts"' not in page, "planners see blackouts but do not plan them"

    token = csrf_token(browser, "/compose")
    saved = browser.post(
        "/compose",
        data={
            "csrf_token": token,
            "body": "Gewinnspiel!",
            "channels": [str(x["id"])],
            "publish_at": "2031-11-20 09:00",
            "action": "draft",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Trauertag" in saved, "planning into a blackout warns in the composer"


def test_a_head_plans_a_blackout_in_the_browser(team: Team) -> None:
    browser = signed_in(team, "head")
    token = csrf_token(browser, "/blackouts")
    backwards = browser.post(
        "/blackouts",
        data={
            "csrf_token": token,
            "name": "Jahrestag",
            "starts_at": "2031-11-20T10:00",
            "ends_at": "2031-11-20T09:00",
            "scope": "all",
        },
    )
    assert backwards.status_code == 422
    planned = browser.post(
        "/blackouts",
        data={
            "csrf_token": token,
            "name": "Jahrestag",
            "starts_at": "2031-11-20T00:00",
            "ends_at": "2031-11-21T00:00",
            "scope": "all",
        },
        follow_redirects=True,
    )
    assert planned.status_code == 200
    [blackout] = team.planner.get("/blackouts").get_json()["items"]
    assert blackout["starts_at"] == "2031-11-19T23:00:00Z"  # the team's wall clock, stored in UTC
    assert blackout["channels"] == "all"


def test_dragging_a_post_into_a_blackout_warns(team: Team) -> None:
    x = team.channel("X")
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    plan_blackout(team, start, start + timedelta(days=1), channels=[x["id"]])
    post = team.draft([x["id"]], at=start - timedelta(days=1))
    browser = signed_in(team, "planner")
    headers = {"X-CSRFToken": csrf_token(browser, "/")}

    moved = browser.post(
        f"/posts/{post['id']}/reschedule", json={"publish_at": "2031-11-20T09:00"}, headers=headers
    )
    assert moved.status_code == 200
    [warning] = moved.get_json()["warnings"]
    assert "Trauertag" in warning
    assert "X" in warning

    away = browser.post(
        f"/posts/{post['id']}/reschedule", json={"publish_at": "2031-11-22T09:00"}, headers=headers
    )
    assert "warnings" not in away.get_json()


def test_the_listed_window_and_the_reminder_window_meet_their_edges_exactly(
    any_team: Team,
) -> None:
    """A blackout is listed for a window it overlaps: one that ends exactly when the window
    starts, or begins exactly when it ends, is not; one a microsecond inside is. A reminder goes
    out for a blackout that begins exactly `remind_before` ahead, not a microsecond later, and
    not for one that ended exactly now."""
    team = any_team
    tick = timedelta(microseconds=1)
    day = datetime.fromisoformat("2031-06-10T00:00:00+00:00")
    # Planned in another order than they begin: the list is by start, not by id.
    early = plan_blackout(
        team, day + timedelta(days=1) - tick, day + timedelta(days=2), name="Beginnt davor"
    )
    before = plan_blackout(team, day - timedelta(hours=2), day, name="Endet am Fensterbeginn")
    inside = plan_blackout(team, day - timedelta(hours=2), day + tick, name="Reicht hinein")
    after = plan_blackout(
        team, day + timedelta(days=1), day + timedelta(days=2), name="Beginnt am Fensterende"
    )
    with get_db(team.app).transaction() as session:
        listed = [b.id for b in list_blackouts(session, start=day, end=day + timedelta(days=1))]
    assert listed == [inside["id"], early["id"]]  # in order of their start

    remind = Announcing("Europe/Berlin", timedelta(hours=24))
    with get_db(team.app).transaction() as session:
        # `after` begins exactly 24 h ahead, `early` a microsecond sooner; `before` ends now,
        # `inside` a microsecond later.
        reminded = remind_upcoming(session, day, remind)
    assert sorted(reminded) == sorted([inside["id"], early["id"], after["id"]])
    with get_db(team.app).transaction() as session:
        assert remind_upcoming(session, day, remind) == []  # once each
    late = plan_blackout(
        team, day + timedelta(days=1) + tick, day + timedelta(days=2), name="Knapp danach"
    )
    with get_db(team.app).transaction() as session:
        assert remind_upcoming(session, day, remind) == []
        assert remind_upcoming(session, day + tick, remind) == [late["id"]]
    assert before["id"] not in reminded


def test_a_blackout_holds_the_rest_at_once_while_a_person_is_changing_a_post(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """Two posts fall due in a blackout; a head's discard of one is paused with its rows locked
    when the scheduler's pass comes. The blackout's hold skips the locked rows instead of
    waiting for the person: the pass answers at once with the other post held. SQLite
    serialises whole transactions, so there only the outcome is checked."""
    team = any_team
    x = webhook(team, receiver, "x")
    start = clock.now.replace(microsecond=0) + timedelta(hours=1)
    plan_blackout(team, start, start + timedelta(hours=2), channels=[x["id"]])
    changing, other = (
        team.scheduled([x["id"]], at=start + timedelta(minutes=30), body=f"Sommerfest, Teil {i}")
        for i in (1, 2)
    )
    clock.advance(hours=1, minutes=31)
    dispatcher = make_dispatcher(team.app, clock=clock)
    with discard_under_way(team, changing["id"], background):
        passing = background(dispatcher.run_pass)
        if not get_db(team.app).is_sqlite:
            passing.result(timeout=10)  # raises if the hold waited for the person
            assert team.post(other["id"])["status"] == "held"
    passing.result(timeout=30)
    assert team.post(other["id"])["status"] == "held"
    assert team.post(changing["id"])["status"] == "discarded"
    assert receiver.snapshot() == []
