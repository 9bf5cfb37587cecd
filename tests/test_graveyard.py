"""Graveyard alerts: silent channels and channels with nothing planned, found with a controlled
clock, told to owner and deputy once per problem (in the app, and by e-mail through SMTP)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from calendar_app.extensions import get_db
from calendar_app.graveyard import (
    NOTHING_PLANNED,
    SILENT,
    check_graveyards,
    find_graveyard_channels,
)
from calendar_app.notifications import send_outgoing
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.mailbox import Mailbox
from tests.test_security import signed_in


def problems_at(team: Team, now: datetime) -> dict[str, set[str]]:
    with get_db(team.app).transaction() as session:
        return {h.channel.name: set(h.problems) for h in find_graveyard_channels(session, now)}


def check(team: Team, now: datetime) -> list[tuple[str, str]]:
    with get_db(team.app).transaction() as session:
        return [(a.channel.name, a.problem) for a in check_graveyards(session, now)]


def notes(team: Team, who: str) -> list[dict[str, Any]]:
    return getattr(team, who).get("/notifications").get_json()["items"]


def owned_channel(team: Team, name: str, **settings: Any) -> dict[str, Any]:
    channel = team.channel(name)
    response = team.admin.patch(
        f"/channels/{channel['id']}",
        json={"owner_id": team.ids["planner"], "deputy_id": team.ids["head"], **settings},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_silent_and_unplanned_channels_are_found_with_a_controlled_clock(
    any_team: Team, make_dispatcher: Any, clock: Clock
) -> None:
    team = any_team
    active = team.channel("Aktiv")
    planned = team.channel("Geplant")
    team.scheduled([active["id"]], at=clock.now + timedelta(minutes=1))
    team.draft([planned["id"]], at=clock.now + timedelta(days=3))
    clock.advance(minutes=2)
    assert len(make_dispatcher(team.app, clock=clock).run_pass().published) == 1

    # A day later: "Aktiv" published yesterday but has nothing ahead; "Geplant" is fine.
    assert problems_at(team, clock.now + timedelta(days=1)) == {"Aktiv": {NOTHING_PLANNED}}
    # Fifteen days later both are silent (default 14 days) and nothing is planned on either.
    later = problems_at(team, clock.now + timedelta(days=15))
    assert later == {"Aktiv": {SILENT, NOTHING_PLANNED}, "Geplant": {SILENT, NOTHING_PLANNED}}


def test_the_days_are_set_per_channel(team: Team, clock: Clock) -> None:
    channel = owned_channel(team, "Kurzatmig", silent_after_days=3, plan_ahead_days=2)
    team.draft([channel["id"]], at=clock.now + timedelta(days=4))
    assert problems_at(team, clock.now + timedelta(days=1)) == {"Kurzatmig": {NOTHING_PLANNED}}
    assert problems_at(team, clock.now + timedelta(days=3, hours=1)) == {
        "Kurzatmig": {SILENT}  # the draft is now within two days
    }


def test_owner_and_deputy_are_told_once_per_problem_and_again_after_a_relapse(
    any_team: Team, clock: Clock
) -> None:
    team = any_team
    channel = owned_channel(team, "Instagram Karriere")
    now = clock.now + timedelta(hours=1)

    assert check(team, now) == [("Instagram Karriere", NOTHING_PLANNED)]
    for who in ("planner", "head"):
        [note] = notes(team, who)
        assert "Instagram Karriere" in note["subject"]
        assert "nächsten 7 Tage nichts geplant" in note["text"]  # they read German
        assert note["link"] == "/dashboard"
    assert notes(team, "planner2") == []

    assert check(team, now + timedelta(hours=1)) == []  # told already: not on every run
    assert len(notes(team, "planner")) == 1

    post = team.draft([channel["id"]], at=now + timedelta(days=2))
    assert check(team, now + timedelta(hours=2)) == []  # resolved
    assert team.planner.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    assert check(team, now + timedelta(hours=3)) == [("Instagram Karriere", NOTHING_PLANNED)]
    assert len(notes(team, "planner")) == 2


def test_a_channel_nobody_answers_for_is_told_to_the_admins(team: Team, clock: Clock) -> None:
    team.channel("Verwaist")
    assert check(team, clock.now) == [("Verwaist", NOTHING_PLANNED)]
    assert len(notes(team, "admin")) == 1
    assert notes(team, "planner") == []


def test_owner_and_deputy_get_the_alert_by_email(
    team: Team, clock: Clock, mailbox: Mailbox
) -> None:
    config = replace(
        team.app.config["CALENDAR"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mailbox.port,
        BASE_URL="https://kal.example",
    )
    owned_channel(team, "Mastodon NH")
    check(team, clock.now)
    # The mails are queued at the time they are written (the wall clock): the sender looks a
    # second after that, however long the set-up took on a loaded machine.
    clock.now = max(clock.now, now_utc()) + timedelta(seconds=1)
    report = send_outgoing(get_db(team.app), config, clock=clock)
    assert len(report.sent) == 2
    for address in ("planner@example.org", "head@example.org"):
        [mail] = mailbox.to(address)
        assert "Mastodon NH" in mail["Subject"]
        assert "auf Mastodon NH ist für die nächsten 7 Tage nichts geplant" in mail.get_content()
        assert "https://kal.example/dashboard" in mail.get_content()


def test_the_health_api_and_the_dashboard_show_channels_at_risk(team: Team) -> None:
    owned_channel(team, "Gepflegt")
    team.channel("Ohne <Team>")
    response = team.planner.get("/channels/health")
    assert response.status_code == 200
    items = {i["name"]: i for i in response.get_json()["items"]}
    assert items["Gepflegt"]["ownership_complete"] is True
    assert items["Ohne <Team>"]["ownership_complete"] is False
    assert [p["kind"] for p in items["Gepflegt"]["problems"]] == [NOTHING_PLANNED]
    assert items["Gepflegt"]["last_published_at"] is None

    page = signed_in(team.app, "planner").get("/dashboard").get_data(as_text=True)
    assert 'id="unowned-' in page
    assert "Ohne &lt;Team&gt;" in page
    assert "<Team>" not in page
    assert 'id="unplanned-' in page


def test_the_health_api_gives_the_next_planned_post_in_utc(team: Team, clock: Clock) -> None:
    channel = owned_channel(team, "Planvoll")
    at = clock.now.replace(microsecond=0) + timedelta(days=2)
    team.draft([channel["id"]], at=at)
    [item] = team.head.get("/channels/health").get_json()["items"]
    assert item["next_planned_at"] == iso_utc(at)
    assert item["problems"] == []


def test_the_scheduler_runs_the_check_at_its_configured_interval(team: Team) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from calendar_app.scheduler import _configure, build_dispatcher, check_graveyards_once

    team.channel("Verwaist")
    dispatcher = build_dispatcher(team.app)
    try:
        scheduler = BackgroundScheduler(timezone="UTC")
        _configure(scheduler, dispatcher, 1.0)
        job = scheduler.get_job("graveyard")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=3600)
        check_graveyards_once(dispatcher)
        check_graveyards_once(dispatcher)
    finally:
        dispatcher.close()
    assert len(notes(team, "admin")) == 1
