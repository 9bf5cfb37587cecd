"""Blackout dates: planned quiet periods. What falls due in one on its channels is held (and
reviewed like a crisis hold); what falls outside it or on other channels goes out; everyone is
told when one is planned and reminded once before it begins. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app import interleave
from calendar_app.blackouts import Announcing, list_blackouts, remind_upcoming, send_reminders
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, OutgoingMessage
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver
from tests.support.web import csrf_token, signed_in
from tests.test_crisis_halt import Paused, discard_under_way, person, wait_until_blocked


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


def subjects(team: Team, who: str = "planner") -> list[str]:
    """The subjects of what `who` was told in the app, newest first."""
    return [n["subject"] for n in getattr(team, who).get("/notifications").get_json()["items"]]


def reminder_subjects(team: Team, who: str = "planner") -> list[str]:
    return [subject for subject in subjects(team, who) if subject.startswith("Erinnerung")]


def audited(team: Team, action: str, blackout_id: int) -> list[AuditEntry]:
    with get_db(team.app).transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.subject_id == blackout_id)
                .order_by(AuditEntry.id)
            ).all()
        )


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
        assert subjects(team, who) == ["Sperrzeit geplant: Jahrestag"], who

    db, config = get_db(team.app), team.app.config["CALENDAR"]
    assert send_reminders(db, config, now=start - timedelta(hours=25)) == []
    assert send_reminders(db, config, now=start - timedelta(hours=23)) == [blackout["id"]]
    assert send_reminders(db, config, now=start - timedelta(hours=1)) == []
    assert subjects(team) == [
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
    edits = audited(team, "edit_blackout", blackout["id"])
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


# --- what a person is told -----------------------------------------------------------------------


def test_a_blackout_that_does_not_exist_is_named_in_the_answer(any_team: Team) -> None:
    """Asking for a blackout date that is not there (or an id no database could hold) answers
    404 naming the blackout asked for, in the words of the API contract, never an error of
    the server."""
    team = any_team
    for blackout_id in (4711, 10**20):
        for call in (team.head.get, team.head.patch, team.head.delete):
            kwargs = {"json": {"name": "Anders"}} if call == team.head.patch else {}
            answer = call(f"/blackouts/{blackout_id}", **kwargs)
            assert answer.status_code == 404, answer.get_json()
            assert answer.get_json() == {
                "error": f"blackout {blackout_id} does not exist",
                "fields": {},
            }


def test_an_incomplete_blackout_date_is_refused_field_by_field(any_team: Team) -> None:
    """A blackout date without a name (only spaces) that ends before it begins is refused with
    one sentence naming both problems and each field with its own; a name of exactly the
    longest length allowed is planned."""
    team = any_team
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    refused = team.head.post(
        "/blackouts",
        json={"name": "   ", "starts_at": iso_utc(start), "ends_at": iso_utc(start)},
    )
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json() == {
        "error": "the blackout date is not complete: name must not be empty; "
        "ends_at must be after starts_at",
        "fields": {"name": "must not be empty", "ends_at": "must be after starts_at"},
    }
    assert team.head.get("/blackouts").get_json()["items"] == []

    longest = "T" * 200
    planned = plan_blackout(team, start, start + timedelta(hours=1), name=longest)
    assert planned["name"] == longest


def test_moving_a_blackout_changes_its_times_and_reason_rearms_the_reminder_and_is_audited(
    any_team: Team,
) -> None:
    """A head moves a blackout that everyone was already reminded of, with a new reason: the
    answer shows the new times and reason, the reminder is armed again and goes out once more
    before the new start; a rename alone keeps the reminder sent. Each change and the
    cancellation are in the audit log with who did it, the reason and the blackout's facts."""
    team = any_team
    x = team.channel("X")
    start = datetime.fromisoformat("2031-11-20T00:00:00+00:00")
    blackout = plan_blackout(team, start, start + timedelta(days=1), channels=[x["id"]])
    path = f"/blackouts/{blackout['id']}"
    db, config = get_db(team.app), team.app.config["CALENDAR"]
    assert send_reminders(db, config, now=start - timedelta(hours=1)) == [blackout["id"]]

    renamed = team.head2.patch(path, json={"name": "Gedenktag"})
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["reminded_at"] == iso_utc(start - timedelta(hours=1))

    new_start, new_end = start + timedelta(days=7), start + timedelta(days=8)
    moved = team.head2.patch(
        path,
        json={
            "starts_at": iso_utc(new_start),
            "ends_at": iso_utc(new_end),
            "reason": "Verschoben auf die Woche danach",
        },
    )
    assert moved.status_code == 200, moved.get_json()
    shown = moved.get_json()
    assert (shown["starts_at"], shown["ends_at"]) == (iso_utc(new_start), iso_utc(new_end))
    assert shown["reason"] == "Verschoben auf die Woche danach"
    assert shown["name"] == "Gedenktag"
    assert shown["reminded_at"] is None
    assert team.planner.get(path).get_json()["reminded_at"] is None

    assert send_reminders(db, config, now=new_start - timedelta(hours=1)) == [blackout["id"]]
    assert reminder_subjects(team) == [
        "Erinnerung: Sperrzeit Gedenktag beginnt bald",
        "Erinnerung: Sperrzeit Trauertag beginnt bald",
    ]

    *_, edit = audited(team, "edit_blackout", blackout["id"])
    assert edit.actor_id == team.ids["head2"]
    assert edit.reason == "Verschoben auf die Woche danach"
    assert edit.detail == {
        "name": "Gedenktag",
        "starts_at": new_start.isoformat(),
        "ends_at": new_end.isoformat(),
        "channels": [x["id"]],
    }

    assert team.head.delete(path).status_code == 204
    [deleted] = audited(team, "delete_blackout", blackout["id"])
    assert deleted.actor_id == team.ids["head"]
    assert deleted.reason == "Verschoben auf die Woche danach"
    assert deleted.detail == edit.detail


# --- what is held, and by which ------------------------------------------------------------------


def test_the_blackout_that_began_first_holds_and_every_post_held_shows_it(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    """Two blackouts overlap on a channel, the later-planned one beginning first; each of two
    posts on different channels falls in one of them. One scheduler pass holds both posts: each
    post shows as held, its delivery names the blackout that began first and when it was held,
    and nothing goes out."""
    team = any_team
    x, jobs = webhook(team, receiver, "x"), webhook(team, receiver, "jobs")
    start = clock.now.replace(microsecond=0) + timedelta(hours=1)
    later = plan_blackout(team, start + timedelta(hours=1), start + timedelta(hours=3),
                          channels=[x["id"]], name="Jahrestag")  # fmt: skip
    first = plan_blackout(team, start, start + timedelta(hours=2), channels=[x["id"]])
    on_jobs = plan_blackout(team, start, start + timedelta(hours=2), channels=[jobs["id"]],
                            name="Betriebsversammlung")  # fmt: skip
    on_x = team.scheduled([x["id"]], at=start + timedelta(hours=1, minutes=30))
    on_j = team.scheduled([jobs["id"]], at=start + timedelta(hours=1, minutes=30))

    clock.now = start + timedelta(hours=1, minutes=40)
    dispatch()
    assert receiver.snapshot() == []
    for post, blackout in ((on_x, first), (on_j, on_jobs)):
        shown = team.post(post["id"])
        assert shown["status"] == "held"
        [delivery] = shown["deliveries"]
        assert delivery["status"] == "held"
        assert delivery["held_by_blackout_id"] == blackout["id"]
        assert delivery["held_at"] == iso_utc(clock.now)
        assert delivery["held_by_blackout_id"] != later["id"]


def test_a_blackout_holds_from_its_first_instant_and_lets_go_at_its_end(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    """A post planned for the very instant a blackout begins is held when the scheduler looks
    at that instant; one planned for the instant it ends goes out then. A blackout that began
    and ended while no scheduler looked still holds the post due at its first instant."""
    team = any_team
    x, jobs = webhook(team, receiver, "x"), webhook(team, receiver, "jobs")
    start = clock.now.replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=1)
    on_x = plan_blackout(team, start, end, channels=[x["id"]])
    short = plan_blackout(team, start - timedelta(minutes=15), start - timedelta(minutes=10),
                          channels=[jobs["id"]], name="Schweigeminute")  # fmt: skip
    at_start = team.scheduled([x["id"]], at=start)
    at_end = team.scheduled([x["id"]], at=end)
    in_short = team.scheduled([jobs["id"]], at=start - timedelta(minutes=15))

    clock.now = start  # no pass before: the short blackout has ended unseen
    dispatch()
    assert receiver.snapshot() == []
    for post, blackout in ((at_start, on_x), (in_short, short)):
        [delivery] = team.post(post["id"])["deliveries"]
        assert (delivery["status"], delivery["held_by_blackout_id"]) == ("held", blackout["id"])

    clock.now = end
    dispatch()
    assert sent_post_ids(receiver) == [at_end["id"]]
    assert team.post(at_end["id"])["status"] == "published"
    assert team.post(at_start["id"])["status"] == "held"


def test_a_blackout_that_ended_a_week_ago_no_longer_holds(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    """When no scheduler ran for a whole week, a post that fell due in a blackout that ended
    exactly a week ago is not held for review any more: like any post far too late it is set
    aside as missed, and nothing goes out."""
    team = any_team
    x = webhook(team, receiver, "x")
    start = clock.now.replace(microsecond=0) + timedelta(hours=1)
    end = start + timedelta(hours=1)
    plan_blackout(team, start, end, channels=[x["id"]])
    post = team.scheduled([x["id"]], at=start + timedelta(minutes=10))

    clock.now = end + timedelta(days=7)
    dispatch()
    assert receiver.snapshot() == []
    [delivery] = team.post(post["id"])["deliveries"]
    assert (delivery["status"], delivery["held_by_blackout_id"]) == ("missed", None)


def test_a_crisis_response_goes_out_through_a_blackout_and_is_not_warned_about(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """In a crisis, a blackout date on a channel still holds the ordinary post due there, but
    the approved response to the crisis in force goes out through it, and planning that
    response into the blackout warns of nothing (it will not be held); the ordinary post
    planned there is warned about."""
    team = any_team
    x = webhook(team, receiver, "x")
    assert team.head.post("/crisis", json={"reason": "Sturm"}).status_code == 201
    now = now_utc()
    plan_blackout(team, now - timedelta(hours=1), now + timedelta(hours=1), channels=[x["id"]])
    due = now_utc() - timedelta(seconds=1)
    ordinary = team.draft([x["id"]], at=due)
    assert len(ordinary["warnings"]) == 1
    response = team.draft([x["id"]], at=due, author="head", crisis_response=True)
    assert "warnings" not in response
    for post, author in ((ordinary, team.planner), (response, team.head)):
        assert author.post(f"/posts/{post['id']}/submit").status_code == 200
        approved = team.head.post(f"/posts/{post['id']}/approve")
        assert approved.status_code == 200, approved.get_json()

    make_dispatcher(team.app).run_pass()
    assert sent_post_ids(receiver) == [response["id"]]
    assert team.post(response["id"])["status"] == "published"
    assert team.post(ordinary["id"])["status"] == "held"


def test_a_blackout_planned_while_a_claimed_post_waits_for_a_sender_still_holds_it(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """The scheduler has claimed a due post and is about to send it when a head plans a
    blackout that begins at once on its channel. The last check before the request leaves
    sees the blackout: the post is held by it, nothing goes out."""
    team = any_team
    x = webhook(team, receiver, "x")
    post = team.scheduled([x["id"]], at=clock.now + timedelta(minutes=5))
    clock.advance(minutes=6)
    dispatcher = make_dispatcher(team.app, clock=clock)
    before_start = Paused()
    with interleave.at("start.before", before_start):
        passing = background(dispatcher.run_pass)
        before_start.wait()
        try:
            blackout = plan_blackout(
                team, clock.now - timedelta(minutes=1), clock.now + timedelta(hours=1),
                channels=[x["id"]],
            )  # fmt: skip
        finally:
            before_start.go.set()
        passing.result(timeout=30)

    assert receiver.snapshot() == []
    shown = team.post(post["id"])
    assert shown["status"] == "held"
    [delivery] = shown["deliveries"]
    assert (delivery["status"], delivery["held_by_blackout_id"]) == ("held", blackout["id"])


def test_a_held_post_is_not_released_into_a_blackout_on_its_channel(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    """A head may not release a held post for a time that falls in a blackout on its channel,
    from that blackout's first instant on; the refusal names the blackout that began first
    when several overlap. A time before a later blackout, or in one on another channel only,
    is fine: the post is released for it."""
    team = any_team
    x, jobs = webhook(team, receiver, "x"), webhook(team, receiver, "jobs")
    now = clock.now.replace(microsecond=0)
    plan_blackout(team, now - timedelta(minutes=1), now + timedelta(hours=1))  # all channels
    post = team.scheduled([x["id"]], at=now)
    dispatch()
    assert team.post(post["id"])["status"] == "held"

    day = datetime.fromisoformat("2031-06-10T00:00:00+00:00")
    plan_blackout(team, day + timedelta(hours=10), day + timedelta(hours=14),
                  channels=[x["id"]], name="Jahrestag")  # fmt: skip
    plan_blackout(team, day + timedelta(hours=9), day + timedelta(hours=12),
                  channels=[x["id"]], name="Gedenkfeier")  # fmt: skip
    plan_blackout(team, day + timedelta(hours=6), day + timedelta(hours=8),
                  channels=[jobs["id"]], name="Betriebsversammlung")  # fmt: skip
    release = f"/posts/{post['id']}/release"
    for when in (day + timedelta(hours=9), day + timedelta(hours=11)):
        refused = team.head.post(release, json={"publish_at": iso_utc(when)})
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json() == {
            "error": "the blackout “Gedenkfeier” lasts until 2031-06-10T12:00:00Z: "
            "releasing into it would only hold the post again. Release it for a time after it.",
            "fields": {"publish_at": "must be outside the blackout"},
        }
    assert team.post(post["id"])["status"] == "held"

    when = day + timedelta(hours=7)  # in the blackout on jobs only, before those on x
    released = team.head.post(release, json={"publish_at": iso_utc(when)})
    assert released.status_code == 200, released.get_json()
    [delivery] = team.post(post["id"])["deliveries"]
    assert (delivery["status"], delivery["due_at"]) == ("scheduled", iso_utc(when))


def warning(name: str, channels: str) -> str:
    return (
        f"publish_at falls in the blackout “{name}” on {channels}: the post will be held there "
        "until a head releases it"
    )


def test_planning_warns_of_each_blackout_a_post_falls_in_from_its_first_instant_to_its_end(
    any_team: Team,
) -> None:
    """A post planned into blackouts is warned about each of them, the one that begins first
    first, naming the post's channels it would be held on (all of them for a blackout on every
    channel). The warning holds from a blackout's first instant; a post planned before it or
    for the instant it ends is not warned about."""
    team = any_team
    x, jobs = team.channel("X"), team.channel("Jobs")
    start = datetime.fromisoformat("2031-11-20T00:00:00+00:00")
    plan_blackout(team, start, start + timedelta(days=1), channels=[x["id"]])
    plan_blackout(team, start - timedelta(hours=1), start + timedelta(hours=1),
                  channels=[x["id"]], name="Schweigeminute")  # fmt: skip
    plan_blackout(team, start + timedelta(days=2), start + timedelta(days=3), name="Streik")

    at_start = team.draft([x["id"], jobs["id"]], at=start)
    assert at_start["warnings"] == [warning("Schweigeminute", "X"), warning("Trauertag", "X")]
    everywhere = team.draft([x["id"], jobs["id"]], at=start + timedelta(days=2, hours=3))
    assert everywhere["warnings"] == [warning("Streik", "Jobs, X")]
    for quiet in (start - timedelta(hours=2), start + timedelta(days=1)):
        assert "warnings" not in team.draft([x["id"], jobs["id"]], at=quiet), quiet


# --- schedulers and people at the same time ------------------------------------------------------


def test_two_schedulers_reminding_at_once_send_each_reminder_once(
    any_team: Team, background: Any
) -> None:
    """Two schedulers remind of upcoming blackouts at the same time. The first has read that
    two blackouts begin soon when the second, whose clock is earlier and sees only the sooner
    one within its window, reminds of that one and commits. The first then sends nothing
    twice, and still reminds of the other: everyone gets each reminder exactly once. On
    SQLite the second pass waits for the first, so there only the outcome is checked."""
    team = any_team
    start = datetime.fromisoformat("2031-11-20T00:00:00+00:00")
    soon = plan_blackout(team, start, start + timedelta(days=1), name="Jahrestag")
    later = plan_blackout(
        team, start + timedelta(hours=6), start + timedelta(days=1), name="Trauertag"
    )
    db, config = get_db(team.app), team.app.config["CALENDAR"]
    read = Paused()
    with interleave.at("remind.read", read):
        first = background(send_reminders, db, config, start - timedelta(hours=1))
        read.wait()
        try:
            # 20 h ahead: only the sooner blackout is within this scheduler's 24 h
            second = background(send_reminders, db, config, start - timedelta(hours=20))
            if not db.is_sqlite:
                assert second.result(timeout=10) == [soon["id"]]
        finally:
            read.go.set()
        reminded_first = first.result(timeout=30)
        reminded_second = second.result(timeout=30)

    if not db.is_sqlite:
        assert reminded_first == [later["id"]]
    assert sorted(reminded_first + reminded_second) == sorted([soon["id"], later["id"]])
    for who in ("planner", "head2", "admin"):
        assert sorted(reminder_subjects(team, who)) == [
            "Erinnerung: Sperrzeit Jahrestag beginnt bald",
            "Erinnerung: Sperrzeit Trauertag beginnt bald",
        ], who


def test_a_blackout_planned_while_a_send_is_starting_waits_for_that_start(
    any_team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any, background: Any
) -> None:
    """A scheduler is putting a due post on the wire (its start is under way, not committed)
    when a head plans a blackout that begins at once on that channel. The planning waits for
    that start to finish, so when it answers, the post is already on the wire and goes out
    once, and what falls due after is held. On SQLite every transaction holds the database,
    so there only the outcome is checked."""
    team = any_team
    x = webhook(team, receiver, "x")
    post = team.scheduled([x["id"]], at=clock.now + timedelta(minutes=5))
    after = team.scheduled([x["id"]], at=clock.now + timedelta(minutes=20))
    clock.advance(minutes=6)
    dispatcher = make_dispatcher(team.app, clock=clock)
    payload = {
        "name": "Trauertag",
        "starts_at": iso_utc(clock.now),
        "ends_at": iso_utc(clock.now + timedelta(hours=1)),
        "channels": [x["id"]],
    }
    start_locked = Paused()
    with interleave.at("start.locked", start_locked):
        passing = background(dispatcher.run_pass)
        start_locked.wait()
        try:
            planning = background(person(team, "head").post, "/blackouts", json=payload)
            wait_until_blocked(team)  # PostgreSQL: the planning waits for the start
        finally:
            start_locked.go.set()
        planned = planning.result(timeout=30)
        assert planned.status_code == 201, planned.get_json()
        [delivery] = team.post(post["id"])["deliveries"]
        assert delivery["status"] in ("publishing", "published")
        passing.result(timeout=30)

    assert sent_post_ids(receiver) == [post["id"]]
    clock.advance(minutes=15)
    dispatcher.run_pass()
    assert sent_post_ids(receiver) == [post["id"]]
    assert team.post(after["id"])["status"] == "held"


def test_everyone_is_told_what_a_planned_blackout_covers_in_the_app_by_email_and_in_the_chat(
    any_team: Team,
) -> None:
    """When a blackout is planned, every person is told in the app (in their language) and by
    e-mail, and the team's chat gets the same message: when it lasts on the team's clock,
    which channels fall quiet (by name, or all of them) and why, with a link to the blackouts.
    The planning is in the audit log with who planned it, the reason and the facts."""
    team = any_team
    x, jobs = team.channel("X"), team.channel("Jobs")
    start = datetime.fromisoformat("2031-11-20T00:00:00+01:00")
    chosen = plan_blackout(team, start, start + timedelta(hours=36), channels=[x["id"], jobs["id"]])
    planned = team.admin.post(
        "/blackouts",
        json={
            "name": "Streik",
            "starts_at": iso_utc(start + timedelta(days=3)),
            "ends_at": iso_utc(start + timedelta(days=3, hours=2)),
        },
    )
    assert planned.status_code == 201, planned.get_json()
    everywhere = planned.get_json()
    assert (everywhere["reason"], everywhere["channels"]) == ("", "all")

    german = {
        "Trauertag": "Von 2031-11-20 00:00 bis 2031-11-21 12:00 (Europe/Berlin) geht nichts "
        "Geplantes hinaus, betroffen: X, Jobs. Gedenken an die Opfer des Unglücks",
        "Streik": "Von 2031-11-23 00:00 bis 2031-11-23 02:00 (Europe/Berlin) geht nichts "
        "Geplantes hinaus, betroffen: alle Kanäle.",
    }
    english = {
        "Trauertag": "From 2031-11-20 00:00 to 2031-11-21 12:00 (Europe/Berlin) nothing planned "
        "goes out on X, Jobs. Gedenken an die Opfer des Unglücks",
        "Streik": "From 2031-11-23 00:00 to 2031-11-23 02:00 (Europe/Berlin) nothing planned "
        "goes out on all channels.",
    }
    for who in ("planner", "admin"):
        notes = getattr(team, who).get("/notifications").get_json()["items"]
        assert [(n["kind"], n["subject"], n["text"], n["link"]) for n in notes] == [
            ("blackout", f"Sperrzeit geplant: {name}", german[name], "/blackouts")
            for name in ("Streik", "Trauertag")
        ], who
    with get_db(team.app).transaction() as session:
        messages = session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).all()
        told = [(m.transport, m.recipient, m.subject, m.body, m.link) for m in messages]
    for name in ("Trauertag", "Streik"):
        assert ("chat", None, f"Sperrzeit geplant: {name}", german[name], "/blackouts") in told
        assert (
            "email",
            "planner@example.org",
            f"Blackout planned: {name}",
            english[name],
            "/blackouts",
        ) in told

    for blackout, who in ((chosen, "head"), (everywhere, "admin")):
        [entry] = audited(team, "create_blackout", blackout["id"])
        assert (entry.actor_id, entry.subject_type) == (team.ids[who], "blackout")
        assert entry.reason == blackout["reason"]
        assert entry.detail == {
            "name": blackout["name"],
            "starts_at": datetime.fromisoformat(blackout["starts_at"]).isoformat(),
            "ends_at": datetime.fromisoformat(blackout["ends_at"]).isoformat(),
            "channels": blackout["channels"],
        }


def test_a_blackout_planned_shortly_before_it_begins_is_not_reminded_of_again(
    any_team: Team,
) -> None:
    """A blackout planned within the reminder window (it begins in two hours): the
    announcement is the reminder, so the scheduler's reminder pass sends nothing more."""
    team = any_team
    soon = now_utc().replace(microsecond=0) + timedelta(hours=2)
    planned = plan_blackout(team, soon, soon + timedelta(hours=1))
    assert planned["reminded_at"] is not None
    db, config = get_db(team.app), team.app.config["CALENDAR"]
    assert send_reminders(db, config, now=soon - timedelta(hours=1)) == []
    assert reminder_subjects(team) == []
