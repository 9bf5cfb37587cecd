"""Who may do what (API.md "Roles"), as a table of action x role.

planner: creates, edits, submits posts. head: approves (never their own post, unless it is a crisis
response), declares and lifts a crisis, reviews held posts. admin: everything, plus channels.
Signed-in people who may not: 403. Nobody signed in: 401, on everything but the health check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Team

ROLES = ("planner", "planner2", "head", "head2", "admin", "anonymous")
SIGNED_IN = ROLES[:-1]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None

    def by(self, team: Team, role: str) -> Any:
        api = getattr(team, role)
        return getattr(api, self.method.lower())(self.path, json=self.json)


# --- the actions: each sets the scene through the API and returns the call to try ----------


def _submitted(team: Team, author: str, **fields: Any) -> dict[str, Any]:
    post = team.draft([team.channel()["id"]], author=author, **fields)
    assert getattr(team, author).post(f"/posts/{post['id']}/submit").status_code == 200
    return post


def _held(team: Team) -> dict[str, Any]:
    """A planner's approved post that fell due as a crisis was declared: held."""
    post = team.scheduled([team.channel()["id"]], at=now_utc() - timedelta(minutes=1))
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    assert team.post(post["id"])["status"] == "held"
    return post


def create_channel(team: Team) -> Call:
    return Call("POST", "/channels", {"name": "Karriere", "kind": "outbox", "network": "linkedin"})


def create_department(team: Team) -> Call:
    return Call("POST", "/departments", {"name": "Investor Relations"})


def set_users_departments(team: Team) -> Call:
    departments = team.admin.get("/departments").get_json()["items"]
    return Call(
        "PUT", f"/users/{team.ids['planner2']}/departments", {"departments": [departments[0]["id"]]}
    )


def set_channel_owner(team: Team) -> Call:
    channel = team.channel()
    return Call("PATCH", f"/channels/{channel['id']}", {"owner_id": team.ids["head"]})


def comment_on_a_post(team: Team) -> Call:
    post = team.draft([team.channel()["id"]])
    return Call("POST", f"/posts/{post['id']}/comments", {"body": "Bitte übernehmen"})


def deactivate_user(team: Team) -> Call:
    return Call("POST", f"/users/{team.ids['planner2']}/deactivate")


def reactivate_user(team: Team) -> Call:
    assert team.admin.post(f"/users/{team.ids['planner2']}/deactivate").status_code == 200
    return Call("POST", f"/users/{team.ids['planner2']}/reactivate")


def list_users(team: Team) -> Call:
    return Call("GET", "/users")


def create_post(team: Team) -> Call:
    channel = team.channel()
    publish_at = iso_utc(now_utc() + timedelta(days=3))
    return Call("POST", "/posts", {"body": "Neu!", "channels": [channel["id"]],
                                   "publish_at": publish_at})  # fmt: skip


CAMPAIGN = {"name": "Azubi-Kampagne", "goal": "recruiting", "starts_on": "2026-10-01",
            "ends_on": "2026-11-30"}  # fmt: skip


def create_campaign(team: Team) -> Call:
    return Call("POST", "/campaigns", CAMPAIGN)


def edit_campaign(team: Team) -> Call:
    made = team.admin.post("/campaigns", json=CAMPAIGN).get_json()
    return Call("PATCH", f"/campaigns/{made['id']}", {"ends_on": "2026-12-31"})


def approve_planners_post(team: Team) -> Call:
    return Call("POST", f"/posts/{_submitted(team, 'planner')['id']}/approve")


def approve_heads_own_post(team: Team) -> Call:
    return Call("POST", f"/posts/{_submitted(team, 'head')['id']}/approve")


def approve_heads_own_crisis_response(team: Team) -> Call:
    declared = team.head2.post("/crisis", json={"reason": "Shitstorm: Sicherheitsdienst"})
    assert declared.status_code == 201, declared.get_json()
    post = _submitted(team, "head", crisis_response=True)
    return Call("POST", f"/posts/{post['id']}/approve")


def declare_crisis(team: Team) -> Call:
    return Call("POST", "/crisis", {"reason": "Shitstorm: Sicherheitsdienst"})


def preview_crisis(team: Team) -> Call:
    return Call("POST", "/crisis/preview", {"keywords": ["Gewinnspiel"]})


def create_playbook(team: Team) -> Call:
    return Call("POST", "/playbooks", {"name": "Produktrückruf", "keywords": ["Rabatt"]})


def lift_crisis(team: Team) -> Call:
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    return Call("POST", "/crisis/lift", {"note": "Lage geklärt"})


def release_held_post(team: Team) -> Call:
    post = _held(team)
    assert team.head.post("/crisis/lift", json={"note": "Lage geklärt"}).status_code == 202
    assert team.head2.post("/crisis/lift/confirm").status_code == 200
    return Call("POST", f"/posts/{post['id']}/release", {})


def discard_planners_draft(team: Team) -> Call:
    return Call("POST", f"/posts/{team.draft([team.channel()['id']])['id']}/discard", {})


def discard_planners_post_in_review(team: Team) -> Call:
    return Call("POST", f"/posts/{_submitted(team, 'planner')['id']}/discard", {})


def discard_planners_approved_post(team: Team) -> Call:
    return Call("POST", f"/posts/{team.scheduled([team.channel()['id']])['id']}/discard", {})


def discard_held_post(team: Team) -> Call:
    return Call("POST", f"/posts/{_held(team)['id']}/discard", {})


BLACKOUT = {
    "name": "Trauertag",
    "starts_at": "2031-11-20T00:00:00+01:00",
    "ends_at": "2031-11-21T00:00:00+01:00",
}


def _blackout(team: Team) -> dict[str, Any]:
    response = team.admin.post("/blackouts", json=BLACKOUT)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def plan_blackout(team: Team) -> Call:
    return Call("POST", "/blackouts", BLACKOUT)


def change_blackout(team: Team) -> Call:
    return Call("PATCH", f"/blackouts/{_blackout(team)['id']}", {"name": "Gedenktag"})


def cancel_blackout(team: Team) -> Call:
    return Call("DELETE", f"/blackouts/{_blackout(team)['id']}")


# Who may, with the success status. Every other signed-in role gets 403, anonymous gets 401.
MAY: dict[Callable[[Team], Call], dict[str, int]] = {
    create_channel: {"admin": 201},
    create_department: {"admin": 201},
    set_users_departments: {"admin": 200},
    list_users: {"admin": 200},
    deactivate_user: {"admin": 200},
    reactivate_user: {"admin": 200, "planner2": 401},  # deactivated: their token is revoked
    set_channel_owner: {"admin": 200},
    comment_on_a_post: {r: 201 for r in SIGNED_IN},
    create_post: {"planner": 201, "planner2": 201, "head": 201, "head2": 201, "admin": 201},
    create_campaign: {"head": 201, "head2": 201, "admin": 201},
    edit_campaign: {"head": 200, "head2": 200, "admin": 200},
    approve_planners_post: {"head": 200, "head2": 200, "admin": 200},
    approve_heads_own_post: {"head2": 200, "admin": 200},  # four eyes: not its author
    approve_heads_own_crisis_response: {"head": 200, "head2": 200, "admin": 200},
    declare_crisis: {"head": 201, "head2": 201, "admin": 201},
    preview_crisis: {"head": 200, "head2": 200, "admin": 200},
    create_playbook: {"head": 201, "head2": 201, "admin": 201},
    lift_crisis: {"head": 202, "head2": 202, "admin": 202},  # two people: asked, not yet lifted
    release_held_post: {"head": 200, "head2": 200, "admin": 200},
    discard_planners_draft: {"planner": 200, "head": 200, "head2": 200, "admin": 200},
    discard_planners_post_in_review: {"planner": 200, "head": 200, "head2": 200, "admin": 200},
    discard_planners_approved_post: {"head": 200, "head2": 200, "admin": 200},
    discard_held_post: {"head": 200, "head2": 200, "admin": 200},
    plan_blackout: {"head": 201, "head2": 201, "admin": 201},
    change_blackout: {"head": 200, "head2": 200, "admin": 200},
    cancel_blackout: {"head": 204, "head2": 204, "admin": 204},
}

TABLE = [
    pytest.param(
        action,
        role,
        MAY[action].get(role, 401 if role == "anonymous" else 403),
        id=f"{action.__name__}-{role}",
    )
    for action in MAY
    for role in ROLES
]


def _state(team: Team) -> dict[str, Any]:
    paths = (
        "/channels",
        "/posts",
        "/campaigns",
        "/crisis",
        "/departments",
        "/users",
        "/blackouts",
        "/playbooks",
    )
    return {path: team.admin.get(path).get_json() for path in paths}


@pytest.mark.parametrize(("action", "role", "expected"), TABLE)
def test_who_may_do_what(
    team: Team, action: Callable[[Team], Call], role: str, expected: int
) -> None:
    call = action(team)
    before = _state(team)
    response = call.by(team, role)
    assert response.status_code == expected, response.get_json()
    assert response.is_json or expected == 204
    if expected >= 400:
        assert response.get_json()["error"]
        assert _state(team) == before, "a refused request must change nothing"


HEADS_OR_ADMINS = "only a communications head or an admin may "
FOUR_EYES = (
    "another head or an admin must approve it (four-eyes rule; only responses to the crisis in "
    "force are exempt)"
)

# What a refusal says (the planner's, or the head's where a head is refused): who may.
REFUSAL: dict[Callable[[Team], Call], tuple[str, str]] = {
    create_channel: ("planner", "only an admin may manage channels"),
    create_department: ("planner", "only an admin may manage departments"),
    list_users: ("head", "only an admin may manage users"),
    create_campaign: ("planner", HEADS_OR_ADMINS + "create or change campaigns"),
    approve_planners_post: ("planner", HEADS_OR_ADMINS + "approve posts"),
    approve_heads_own_post: ("head", "you wrote this post: " + FOUR_EYES),
    declare_crisis: ("planner", HEADS_OR_ADMINS + "declare a crisis"),
    preview_crisis: ("planner", HEADS_OR_ADMINS + "declare a crisis"),
    create_playbook: ("planner", HEADS_OR_ADMINS + "prepare crisis playbooks"),
    plan_blackout: ("planner", HEADS_OR_ADMINS + "plan blackout dates"),
    discard_planners_approved_post: (
        "planner",
        HEADS_OR_ADMINS + "discard an approved post or one by someone else",
    ),
}


@pytest.mark.parametrize("action", REFUSAL, ids=lambda action: action.__name__)
def test_a_refusal_says_who_may(team: Team, action: Callable[[Team], Call]) -> None:
    role, because = REFUSAL[action]
    response = action(team).by(team, role)
    assert (response.status_code, response.get_json()["error"]) == (403, because)


def test_the_crisis_timeline_is_refused_to_planners_saying_who_may_read_it(team: Team) -> None:
    declared = team.head.post("/crisis", json={"reason": "Shitstorm"}).get_json()
    refused = team.planner.get(f"/crises/{declared['id']}/timeline")
    assert (refused.status_code, refused.get_json()["error"]) == (
        403,
        HEADS_OR_ADMINS + "read the crisis timeline",
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("head2", 200),
        ("admin", 200),
        ("head", 409),  # asked for the lift: a second person must confirm it
        ("planner", 403),
        ("planner2", 403),
        ("anonymous", 401),
    ],
)
def test_who_may_confirm_lifting_a_crisis(team: Team, role: str, expected: int) -> None:
    assert team.head2.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    requested = team.head.post("/crisis/lift", json={"note": "Lage geklärt"})
    assert requested.status_code == 202, requested.get_json()

    response = getattr(team, role).post("/crisis/lift/confirm")
    assert response.status_code == expected, response.get_json()
    assert team.admin.get("/crisis").get_json()["active"] is (expected != 200)


@pytest.mark.parametrize(
    ("role", "expected"),
    [("head", 202), ("head2", 202), ("admin", 202), ("planner", 403), ("anonymous", 401)],
)
def test_who_may_ask_to_lift_a_crisis_that_needs_two_people(
    team: Team, role: str, expected: int
) -> None:
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    response = getattr(team, role).post("/crisis/lift", json={"note": "Lage geklärt"})
    assert response.status_code == expected, response.get_json()
    assert team.admin.get("/crisis").get_json()["active"] is True


@pytest.mark.parametrize("config_overrides", [{"CRISIS_LIFT_CONFIRMATIONS": 1}])
@pytest.mark.parametrize(
    ("role", "expected"),
    [("head", 200), ("head2", 200), ("admin", 200), ("planner", 403), ("anonymous", 401)],
)
def test_who_may_lift_a_crisis_alone_where_one_is_enough(
    team: Team, role: str, expected: int
) -> None:
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    response = getattr(team, role).post("/crisis/lift", json={"note": "Lage geklärt"})
    assert response.status_code == expected, response.get_json()
    assert team.admin.get("/crisis").get_json()["active"] is (expected != 200)


READ_PATHS = [
    "/health",
    "/channels",
    "/posts",
    "/posts/{post}",
    "/campaigns",
    "/crisis",
    "/openapi.json",
    "/departments",
    "/channels/health",
    "/posts/{post}/comments",
    "/blackouts",
    "/playbooks",
]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("role", SIGNED_IN)
def test_everyone_signed_in_may_read(team: Team, role: str, path: str) -> None:
    post = team.draft([team.channel()["id"]])
    response = getattr(team, role).get(path.format(post=post["id"]))
    assert response.status_code == 200, response.get_json()
    assert response.is_json


ANONYMOUS: list[Any] = [
    ("GET", "/health", 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/channels", 401),
    ("POST", "/channels", 401),
    ("GET", "/posts", 401),
    ("POST", "/posts", 401),
    ("GET", "/posts/{post}", 401),
    ("PATCH", "/posts/{post}", 401),
    ("POST", "/posts/{post}/submit", 401),
    ("POST", "/posts/{post}/approve", 401),
    ("POST", "/posts/{post}/release", 401),
    ("POST", "/posts/{post}/discard", 401),
    ("GET", "/campaigns", 401),
    ("POST", "/campaigns", 401),
    ("GET", "/campaigns/1", 401),
    ("PATCH", "/campaigns/1", 401),
    ("GET", "/crisis", 401),
    ("POST", "/crisis", 401),
    ("POST", "/crisis/preview", 401),
    ("POST", "/crisis/acknowledge", 401),
    ("GET", "/playbooks", 401),
    ("POST", "/playbooks", 401),
    ("POST", "/crisis/lift", 401),
    ("POST", "/crisis/lift/confirm", 401),
    ("PATCH", "/channels/1", 401),
    ("GET", "/channels/health", 401),
    ("GET", "/posts/{post}/comments", 401),
    ("POST", "/posts/{post}/comments", 401),
    ("GET", "/departments", 401),
    ("POST", "/departments", 401),
    ("GET", "/users", 401),
    ("PUT", "/users/1/departments", 401),
    ("POST", "/users/1/deactivate", 401),
    ("POST", "/users/1/reactivate", 401),
    ("GET", "/blackouts", 401),
    ("POST", "/blackouts", 401),
    ("GET", "/blackouts/1", 401),
    ("PATCH", "/blackouts/1", 401),
    ("DELETE", "/blackouts/1", 401),
]


@pytest.mark.parametrize(("method", "path", "expected"), ANONYMOUS)
def test_without_a_token_only_the_health_check_and_the_api_description_answer(
    team: Team, method: str, path: str, expected: int
) -> None:
    post = team.draft([team.channel()["id"]])
    call = Call(method, path.format(post=post["id"]), {} if method != "GET" else None)
    response = call.by(team, "anonymous")
    assert response.status_code == expected, response.get_json()
    assert response.is_json
    if expected == 401:
        assert response.get_json()["error"]
    assert team.post(post["id"]) == post


def test_health_says_ok_without_a_token(team: Team) -> None:
    response = team.anonymous.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize("config_overrides", [{"ALLOW_SELF_APPROVAL": True}])
def test_a_head_may_approve_their_own_post_where_the_app_is_configured_so(team: Team) -> None:
    post = _submitted(team, "head")
    response = team.head.post(f"/posts/{post['id']}/approve")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "scheduled"
    # Nobody hears of their own decision.
    notices = team.head.get("/notifications").get_json()["items"]
    assert "approved" not in [n["kind"] for n in notices]


def test_a_head_refused_their_own_post_leaves_it_in_review_for_another_head(team: Team) -> None:
    post = _submitted(team, "head")
    refused = team.head.post(f"/posts/{post['id']}/approve")
    assert refused.status_code == 403
    assert team.post(post["id"])["status"] == "in_review"
    approved = team.head2.post(f"/posts/{post['id']}/approve")
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "scheduled"
