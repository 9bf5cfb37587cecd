"""People leave: deactivation ends their access at once and hands on their channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from calendar_app.cli import main as cli
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, Channel, Notification, User
from tests.conftest import PASSWORD, SeededDatabase, Team
from tests.support.web import csrf_token, signed_in


def _log_in(app: Flask, who: str) -> Any:
    browser = app.test_client()
    return browser.post(
        "/login",
        data={"email": f"{who}@example.org", "password": PASSWORD,
              "csrf_token": csrf_token(browser)},
        headers={"Accept-Language": "en"},
    )  # fmt: skip


def _channels_held_by_planner2(team: Team) -> tuple[int, int]:
    """planner2 owns one channel (head is its deputy) and stands in for another (admin owns)."""
    owned, deputised = team.channel("Karriere"), team.channel("Kundenservice")
    ids = team.ids
    assert team.admin.patch(f"/channels/{owned['id']}", json={
        "owner_id": ids["planner2"], "deputy_id": ids["head"]}).status_code == 200  # fmt: skip
    assert team.admin.patch(f"/channels/{deputised['id']}", json={
        "owner_id": ids["admin"], "deputy_id": ids["planner2"]}).status_code == 200  # fmt: skip
    return owned["id"], deputised["id"]


def test_deactivation_ends_sessions_and_tokens_at_once_and_hands_on_channels(team: Team) -> None:
    owned, deputised = _channels_held_by_planner2(team)
    browser = signed_in(team, "planner2")
    assert browser.get("/outbox").status_code == 200
    assert team.planner2.get("/posts").status_code == 200

    response = team.admin.post(f"/users/{team.ids['planner2']}/deactivate")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["active"] is False
    assert answer["tokens_revoked"] == 1
    assert {(c["channel_id"], c["was"]) for c in answer["channels_handed_on"]} == {
        (owned, "owner"), (deputised, "deputy"),
    }  # fmt: skip

    assert team.planner2.get("/posts").status_code == 401, "the token is revoked"
    page = browser.get("/outbox")
    assert page.status_code == 302
    assert page.location.startswith("/login"), "the browser session ended"

    refused = _log_in(team.app, "planner2")
    assert refused.status_code == 200
    assert "This account has been deactivated" in refused.get_data(as_text=True)
    stranger = team.app.test_client()
    wrong = stranger.post(
        "/login",
        data={"email": "planner2@example.org", "password": "not the password",
              "csrf_token": csrf_token(stranger)},
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert "deactivated" not in wrong.get_data(as_text=True), "only the right password learns it"

    channels = {c["id"]: c for c in team.admin.get("/channels").get_json()["items"]}
    assert channels[owned]["owner"]["id"] == team.ids["head"], "the deputy took over"
    assert channels[owned]["deputy"] is None
    assert channels[deputised]["deputy"] is None
    assert not channels[owned]["ownership_complete"]
    assert not channels[deputised]["ownership_complete"]
    health = {h["channel_id"]: h for h in team.admin.get("/channels/health").get_json()["items"]}
    assert not health[owned]["ownership_complete"], "the dashboard flags it"

    with get_db(team.app).transaction() as session:
        told = session.scalars(select(Notification).where(
            Notification.kind == "channel_ownership")).all()  # fmt: skip
        assert {n.user.email for n in told} == {"admin@example.org", "head@example.org"}
        assert "Karriere" in told[0].text
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "deactivate_user"))
        assert entry is not None
        assert entry.actor is not None
        assert entry.actor.email == "admin@example.org"
        assert entry.subject_id == team.ids["planner2"]


def test_a_deactivated_person_is_not_offered_or_taken_as_owner(team: Team) -> None:
    channel = team.channel()
    assert team.admin.post(f"/users/{team.ids['planner2']}/deactivate").status_code == 200
    refused = team.admin.patch(f"/channels/{channel['id']}",
                               json={"owner_id": team.ids["planner2"]})  # fmt: skip
    assert refused.status_code == 422
    page = signed_in(team, "admin").get(f"/admin/channels/{channel['id']}")
    assert "planner2@example.org" not in page.get_data(as_text=True)


def test_nobody_deactivates_themselves_or_the_last_admin(team: Team) -> None:
    own = team.admin.post(f"/users/{team.ids['admin']}/deactivate")
    assert own.status_code == 409
    assert team.admin.get("/posts").status_code == 200


def test_reactivation_lets_them_log_in_again_with_new_tokens_only(team: Team) -> None:
    person = team.ids["planner2"]
    assert team.admin.post(f"/users/{person}/deactivate").status_code == 200
    again = team.admin.post(f"/users/{person}/deactivate")
    assert again.status_code == 200, "deactivating twice is harmless"
    reactivated = team.admin.post(f"/users/{person}/reactivate")
    assert reactivated.status_code == 200
    assert reactivated.get_json()["active"] is True
    assert _log_in(team.app, "planner2").status_code == 302
    assert team.planner2.get("/posts").status_code == 401, "old tokens stay revoked"


def test_the_people_page_asks_before_deactivating_and_says_what_happens(team: Team) -> None:
    _channels_held_by_planner2(team)
    admin = signed_in(team, "admin")
    people = admin.get("/admin/people").get_data(as_text=True)
    confirm_path = f"/admin/people/{team.ids['planner2']}/deactivate"
    assert confirm_path in people
    page = admin.get(confirm_path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Karriere" in text
    assert "Kundenservice" in text
    assert "API-Tokens" in text
    with get_db(team.app).transaction() as session:
        assert session.get(User, team.ids["planner2"]).active, "opening the page changes nothing"
    done = admin.post(confirm_path, data={"csrf_token": csrf_token(admin, confirm_path)})
    assert done.status_code == 302
    with get_db(team.app).transaction() as session:
        assert not session.get(User, team.ids["planner2"]).active
    people = admin.get("/admin/people").get_data(as_text=True)
    assert f"/admin/people/{team.ids['planner2']}/reactivate" in people


def test_the_command_line_deactivates_and_reactivates(
    team: Team, sqlite_db: SeededDatabase, tmp_path: Path
) -> None:
    owned, _ = _channels_held_by_planner2(team)
    env = {"DATABASE_URL": sqlite_db.url, "CALENDAR_ENV": "development",
           "CALENDAR_INSTANCE_PATH": str(tmp_path)}  # fmt: skip
    runner = CliRunner()
    done = runner.invoke(cli, ["users", "deactivate", "planner2@example.org"], env=env)
    assert done.exit_code == 0, done.output
    assert "deactivated planner2@example.org" in done.output
    assert "Karriere" in done.output
    assert team.planner2.get("/posts").status_code == 401
    with get_db(team.app).transaction() as session:
        channel = session.get(Channel, owned)
        assert channel is not None
        assert channel.owner_id == team.ids["head"]
    unknown = runner.invoke(cli, ["users", "deactivate", "nobody@example.org"], env=env)
    assert unknown.exit_code != 0
    back = runner.invoke(cli, ["users", "reactivate", "planner2@example.org"], env=env)
    assert back.exit_code == 0, back.output
    assert _log_in(team.app, "planner2").status_code == 302
