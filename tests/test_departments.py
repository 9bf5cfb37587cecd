"""Departments: the six standard ones, ones an admin adds, who works where, where posts belong."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from calendar_app.cli import main as cli
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, User
from tests.conftest import Team

STANDARD = {"marketing", "pr", "hr", "customer-service", "media", "corporate-communications"}


def departments(team: Team) -> dict[str, dict[str, Any]]:
    response = team.planner.get("/departments")
    assert response.status_code == 200
    return {d["slug"]: d for d in response.get_json()["items"]}


def test_every_installation_has_the_six_standard_departments(any_team: Team) -> None:
    assert set(departments(any_team)) == STANDARD


def test_an_admin_adds_a_department_and_everyone_sees_it(team: Team) -> None:
    response = team.admin.post("/departments", json={"name": "Investor Relations"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["slug"] == "investor-relations"
    assert "investor-relations" in departments(team)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"name": "PR"}, 409, "name"),
        ({"name": "Presse", "slug": "pr"}, 409, "slug"),
        ({"name": "  "}, 422, "name"),
        ({"name": "Recht", "color": "red"}, 422, "color"),
        ({"name": "!!!"}, 422, "slug"),
    ],
)
def test_a_bad_department_is_refused_naming_the_field(
    team: Team, payload: dict[str, str], status: int, field: str
) -> None:
    response = team.admin.post("/departments", json=payload)
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["fields"]
    assert len(departments(team)) == len(STANDARD)


def test_a_planner_may_not_add_a_department(team: Team) -> None:
    assert team.planner.post("/departments", json={"name": "Recht"}).status_code == 403


def test_an_admin_sets_a_users_departments_and_posts_default_to_the_first(
    any_team: Team,
) -> None:
    team = any_team
    by_slug = departments(team)
    wanted = [by_slug["hr"]["id"], by_slug["media"]["id"]]
    response = team.admin.put(
        f"/users/{team.ids['planner']}/departments", json={"departments": wanted}
    )
    assert response.status_code == 200, response.get_json()
    assert [d["slug"] for d in response.get_json()["departments"]] == ["hr", "media"]

    post = team.draft([team.channel()["id"]])
    assert post["department"] == {"id": wanted[0], "name": "HR", "slug": "hr"}
    assert post["department_id"] == wanted[0]


def test_a_post_by_someone_without_department_belongs_to_corporate_communications(
    team: Team,
) -> None:
    post = team.draft([team.channel()["id"]])
    assert post["department"]["slug"] == "corporate-communications"


def test_a_post_names_its_department_and_keeps_it_when_edited_without_one(team: Team) -> None:
    pr = departments(team)["pr"]
    post = team.draft([team.channel()["id"]], department_id=pr["id"])
    assert post["department"]["slug"] == "pr"
    edited = team.planner.patch(
        f"/posts/{post['id']}", json={"title": "Neu", "department_id": None}
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["department"]["slug"] == "pr"
    hr = departments(team)["hr"]
    moved = team.planner.patch(f"/posts/{post['id']}", json={"department_id": hr["id"]})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["department"]["slug"] == "hr"


def test_an_unknown_department_is_refused(team: Team) -> None:
    channel = team.channel()
    response = team.planner.post(
        "/posts",
        json={
            "body": "Hallo",
            "channels": [channel["id"]],
            "publish_at": "2026-12-01T09:00:00+01:00",
            "department_id": 9999,
        },
    )
    assert response.status_code == 422
    assert "department_id" in response.get_json()["fields"]


def test_setting_departments_names_unknown_ids_and_unknown_users(team: Team) -> None:
    refused = team.admin.put(
        f"/users/{team.ids['planner']}/departments", json={"departments": [999]}
    )
    assert refused.status_code == 422
    assert "departments" in refused.get_json()["fields"]
    missing = team.admin.put("/users/9999/departments", json={"departments": []})
    assert missing.status_code == 404
    planner = team.planner.put(
        f"/users/{team.ids['planner']}/departments", json={"departments": []}
    )
    assert planner.status_code == 403


def test_the_command_line_creates_a_user_in_departments(team: Team) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": team.app.config["CALENDAR"].DATABASE_URL, "SECRET_KEY": "x"}
    result = runner.invoke(
        cli,
        ["users", "create", "neu@example.org", "--role", "planner", "--password-stdin",
         "--department", "pr", "--department", "media"],
        input="ein langes passwort\n",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with get_db(team.app).transaction() as session:
        user = session.scalar(select(User).where(User.email == "neu@example.org"))
        assert user is not None
        assert [d.slug for d in user.departments] == ["pr", "media"]

    unknown = runner.invoke(
        cli,
        ["users", "create", "x@example.org", "--role", "planner", "--password-stdin",
         "--department", "legal"],
        input="ein langes passwort\n",
        env=env,
    )  # fmt: skip
    assert unknown.exit_code != 0
    assert "legal" in unknown.output


def test_the_admin_page_adds_a_department(team: Team) -> None:
    from tests.test_security import csrf_token, signed_in

    browser = signed_in(team.app, "admin")
    token = csrf_token(browser, "/admin/departments")
    added = browser.post(
        "/admin/departments", data={"name": "Recht <b>", "color": "", "csrf_token": token}
    )
    assert added.status_code == 302
    page = browser.get("/admin/departments").get_data(as_text=True)
    assert "Recht &lt;b&gt;" in page
    assert signed_in(team.app, "planner").get("/admin/departments").status_code == 403


# --- the people page ---------------------------------------------------------------------------


def _departments_of(team: Team, who: str) -> list[str]:
    with get_db(team.app).transaction() as session:
        person = session.get(User, team.ids[who])
        assert person is not None
        return [d.slug for d in person.departments]


def _set_in_browser(browser: Any, team: Team, who: str, ids: list[int], **extra: Any) -> Any:
    from tests.test_security import csrf_token

    person = team.ids[who]
    data = {f"person-{person}-departments": ids, "csrf_token": csrf_token(browser, "/admin/people")}
    return browser.post(f"/admin/people/{person}/departments", data={**data, **extra})


def test_the_people_page_lists_everyone_with_role_and_departments(team: Team) -> None:
    from tests.test_security import signed_in

    by_slug = departments(team)
    team.admin.put(
        f"/users/{team.ids['planner']}/departments",
        json={"departments": [by_slug["pr"]["id"], by_slug["hr"]["id"]]},
    )
    browser = signed_in(team.app, "admin")
    assert 'href="/admin/people"' in browser.get("/").get_data(as_text=True)
    page = browser.get("/admin/people").get_data(as_text=True)
    planner = team.ids["planner"]
    row = page[page.index(f'id="person-{planner}"') :]
    row = row[: row.index("</tr>")]
    assert "planner@example.org" in row
    assert re.search(r"<td[^>]*>Social Media</td>", row)
    checked = re.findall(r'<input checked id="person-\d+-departments-\d+"[^>]*value="(\d+)"', row)
    assert sorted(int(i) for i in checked) == sorted([by_slug["pr"]["id"], by_slug["hr"]["id"]])
    assert "Voreinstellung für neue Beiträge: PR" in row
    for who in ("head", "admin"):
        assert f"{who}@example.org" in page
    assert 'href="/admin/people"' not in signed_in(team.app, "head").get("/").get_data(as_text=True)


def test_an_admin_sets_departments_in_the_browser(team: Team) -> None:
    from tests.test_security import signed_in

    by_slug = departments(team)
    browser = signed_in(team.app, "admin")
    first = _set_in_browser(browser, team, "planner", [by_slug["media"]["id"], by_slug["hr"]["id"]])
    assert first.status_code == 302
    assert first.location == f"/admin/people#person-{team.ids['planner']}"
    assert _departments_of(team, "planner") == ["hr", "media"]
    page = browser.get(first.location).get_data(as_text=True)
    assert "Abteilungen von Planner gespeichert." in page
    assert "Voreinstellung für neue Beiträge: HR" in page
    post = team.draft([team.channel()["id"]])
    assert post["department"]["slug"] == "hr", "the default the page shows is where posts go"

    ticked = [by_slug["customer-service"]["id"], by_slug["media"]["id"]]
    assert _set_in_browser(browser, team, "planner", ticked).status_code == 302
    assert sorted(_departments_of(team, "planner")) == ["customer-service", "media"]

    assert _set_in_browser(browser, team, "planner", []).status_code == 302
    assert _departments_of(team, "planner") == []
    with get_db(team.app).transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "set_departments")
        ).all()
        assert len(entries) == 3
        assert {e.actor_id for e in entries} == {team.ids["admin"]}


def test_the_people_form_refuses_an_unknown_department_and_planners(team: Team) -> None:
    from tests.test_security import signed_in

    by_slug = departments(team)
    browser = signed_in(team.app, "admin")
    refused = _set_in_browser(browser, team, "planner", [by_slug["pr"]["id"], 4711])
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'id="person-{team.ids["planner"]}-departments-error"' in page
    assert _departments_of(team, "planner") == []
    for who in ("planner", "head"):
        other = signed_in(team.app, who)
        assert other.get("/admin/people").status_code == 403
        pressed = _set_in_browser(other, team, "planner", [by_slug["pr"]["id"]])
        assert pressed.status_code == 403
    assert _departments_of(team, "planner") == []
    no_token = browser.post(
        f"/admin/people/{team.ids['planner']}/departments",
        data={f"person-{team.ids['planner']}-departments": [by_slug["pr"]["id"]]},
    )
    assert no_token.status_code == 400
    assert _departments_of(team, "planner") == []
