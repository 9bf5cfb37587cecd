"""Channel ownership: an owner and a deputy per channel; a channel without both is flagged."""

from __future__ import annotations

import pytest

from tests.conftest import Team
from tests.test_security import csrf_token, signed_in


def test_a_new_channel_is_flagged_until_it_has_an_owner_and_a_deputy(any_team: Team) -> None:
    team = any_team
    channel = team.channel("X Konzern", network="x")
    assert channel["ownership_complete"] is False
    assert channel["owner"] is None
    assert channel["deputy"] is None

    half = team.admin.patch(f"/channels/{channel['id']}", json={"owner_id": team.ids["planner"]})
    assert half.status_code == 200, half.get_json()
    assert half.get_json()["ownership_complete"] is False

    full = team.admin.patch(f"/channels/{channel['id']}", json={"deputy_id": team.ids["planner2"]})
    assert full.status_code == 200
    body = full.get_json()
    assert body["ownership_complete"] is True
    assert body["owner"]["email"] == "planner@example.org"
    assert body["deputy"]["email"] == "planner2@example.org"
    listed = {c["id"]: c for c in team.planner.get("/channels").get_json()["items"]}
    assert listed[channel["id"]]["ownership_complete"] is True

    removed = team.admin.patch(f"/channels/{channel['id']}", json={"deputy_id": None})
    assert removed.get_json()["ownership_complete"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"owner_id": "planner", "deputy_id": "planner"}, "deputy_id"),
        ({"owner_id": 9999}, "owner_id"),
        ({"silent_after_days": 0}, "silent_after_days"),
        ({"plan_ahead_days": 400}, "plan_ahead_days"),
    ],
)
def test_owner_and_deputy_must_be_two_different_known_people(
    team: Team, payload: dict[str, object], field: str
) -> None:
    channel = team.channel()
    payload = {k: team.ids.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = team.admin.patch(f"/channels/{channel['id']}", json=payload)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["fields"]


def test_a_deactivated_user_cannot_own_a_channel(team: Team) -> None:
    from calendar_app.extensions import get_db
    from calendar_app.models import User

    with get_db(team.app).transaction() as session:
        user = session.get(User, team.ids["planner2"])
        assert user is not None
        user.active = False
    channel = team.channel()
    response = team.admin.patch(
        f"/channels/{channel['id']}",
        json={"owner_id": team.ids["planner"], "deputy_id": team.ids["planner2"]},
    )
    assert response.status_code == 422
    assert "deactivated" in response.get_json()["fields"]["deputy_id"]


def test_only_an_admin_sets_owners(team: Team) -> None:
    channel = team.channel()
    for who in ("planner", "head"):
        response = getattr(team, who).patch(
            f"/channels/{channel['id']}", json={"owner_id": team.ids[who]}
        )
        assert response.status_code == 403
    assert team.admin.patch("/channels/9999", json={}).status_code == 404


def test_the_channel_pages_flag_missing_owners_and_save_them(team: Team) -> None:
    channel = team.channel("Instagram <Marke>")
    browser = signed_in(team.app, "admin")
    listing = browser.get("/admin/channels").get_data(as_text=True)
    assert "Instagram &lt;Marke&gt;" in listing
    assert 'class="flagged"' in listing

    path = f"/admin/channels/{channel['id']}"
    same = browser.post(
        path,
        data={
            "owner": team.ids["head"],
            "deputy": team.ids["head"],
            "silent_after_days": 14,
            "plan_ahead_days": 7,
            "csrf_token": csrf_token(browser, path),
        },
    )
    assert same.status_code == 422
    saved = browser.post(
        path,
        data={
            "owner": team.ids["head"],
            "deputy": team.ids["planner"],
            "silent_after_days": 10,
            "plan_ahead_days": 3,
            "csrf_token": csrf_token(browser, path),
        },
    )
    assert saved.status_code == 302
    after = team.admin.get("/channels").get_json()["items"][0]
    assert after["ownership_complete"] is True
    assert (after["silent_after_days"], after["plan_ahead_days"]) == (10, 3)
    assert 'class="flagged"' not in browser.get("/admin/channels").get_data(as_text=True)
