"""Who may change a post, and four eyes that cannot be walked around (security review, findings 1
and 2), as tables of action x person: the author, a planner of the post's department, a planner
of another department, a head, a second head and an admin.

Rules: the author, people of the post's department, heads and admins change a post; others may
comment. A planner submits only their own drafts. Any change of text, channels or time of a post
in review or approved sends it back to draft, with the change in the audit log, and nobody who
wrote or changed its text approves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.accounts import create_token, create_user
from calendar_app.departments import department_by_slug, set_user_departments
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, Notification, User
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import PASSWORD, Api, Team
from tests.support.web import csrf_token, signed_in

PEOPLE = ("author", "colleague", "stranger", "head", "head2", "admin")


@dataclass
class Office:
    """The cast in departments: the author and a colleague in marketing, a stranger in HR."""

    team: Team
    apis: dict[str, Api]

    def __getitem__(self, who: str) -> Api:
        return self.apis[who]


@pytest.fixture
def office(any_team: Team) -> Office:
    with get_db(any_team.app).transaction() as session:
        marketing = department_by_slug(session, "marketing")
        hr = department_by_slug(session, "hr")
        assert marketing is not None
        assert hr is not None
        by_email = {u.email: u for u in session.scalars(select(User))}
        admin = by_email["admin@example.org"]
        set_user_departments(session, admin, by_email["planner@example.org"], [marketing])
        set_user_departments(session, admin, by_email["planner2@example.org"], [marketing])
        stranger = create_user(
            session, "planner3@example.org", role="planner", password=PASSWORD, name="Planner3"
        )
        set_user_departments(session, admin, stranger, [hr])
        stranger_token = create_token(session, stranger, "tests")
    client = any_team.client
    tokens = {
        "author": any_team.tokens["planner"],
        "colleague": any_team.tokens["planner2"],
        "stranger": stranger_token,
        "head": any_team.tokens["head"],
        "head2": any_team.tokens["head2"],
        "admin": any_team.tokens["admin"],
    }
    return Office(any_team, {who: Api(client, token) for who, token in tokens.items()})


def _draft(office: Office, author: str = "author", **fields: Any) -> dict[str, Any]:
    channel = office.team.channel(f"Kanal {now_utc().timestamp()}")
    response = office[author].post(
        "/posts",
        json={
            "body": "Sommerfest am Hafen: alle sind eingeladen.",
            "channels": [channel["id"]],
            "publish_at": iso_utc(now_utc() + timedelta(days=2)),
            **fields,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _in_review(office: Office) -> dict[str, Any]:
    post = _draft(office)
    assert office["author"].post(f"/posts/{post['id']}/submit").status_code == 200
    return post


def _approved(office: Office) -> dict[str, Any]:
    post = _in_review(office)
    assert office["head"].post(f"/posts/{post['id']}/approve").status_code == 200
    return post


def _held(office: Office) -> dict[str, Any]:
    post = _draft(office)
    office["author"].post(f"/posts/{post['id']}/submit")
    office["head"].post("/crisis", json={"reason": "Shitstorm"})
    approved = office["head"].post(f"/posts/{post['id']}/approve")
    assert approved.status_code == 200, approved.get_json()
    # Due at once during the crisis: the next claim holds it.
    with get_db(office.team.app).transaction() as session:
        from calendar_app.claims import claim_due

        claim_due(
            session,
            now=now_utc() + timedelta(days=3),
            limit=10,
            worker="t",
            lease_seconds=30,
            missed_after=timedelta(minutes=30),
        )
    return post


@dataclass(frozen=True)
class Try:
    method: str
    path: str
    json: dict[str, Any] | None = None


def edit_draft(office: Office) -> Try:
    return Try("PATCH", f"/posts/{_draft(office)['id']}", {"body": "Neuer Text"})


def edit_post_in_review(office: Office) -> Try:
    return Try("PATCH", f"/posts/{_in_review(office)['id']}", {"body": "Neuer Text"})


def move_approved_post(office: Office) -> Try:
    later = iso_utc(now_utc() + timedelta(days=5))
    return Try("PATCH", f"/posts/{_approved(office)['id']}", {"publish_at": later})


def submit_draft(office: Office) -> Try:
    return Try("POST", f"/posts/{_draft(office)['id']}/submit")


def approve_post_in_review(office: Office) -> Try:
    return Try("POST", f"/posts/{_in_review(office)['id']}/approve")


def approve_post_a_head_rewrote(office: Office) -> Try:
    """The head rewrote the text in review; the author submitted it again."""
    post = _in_review(office)
    rewritten = office["head"].patch(f"/posts/{post['id']}", json={"body": "Puppenmuseum!"})
    assert rewritten.status_code == 200, rewritten.get_json()
    assert office["author"].post(f"/posts/{post['id']}/submit").status_code == 200
    return Try("POST", f"/posts/{post['id']}/approve")


def release_held_post(office: Office) -> Try:
    later = iso_utc(now_utc() + timedelta(days=4))  # the crisis is still in force
    return Try("POST", f"/posts/{_held(office)['id']}/release", {"publish_at": later})


def discard_approved_post(office: Office) -> Try:
    return Try("POST", f"/posts/{_approved(office)['id']}/discard", {})


def comment_on_a_post(office: Office) -> Try:
    return Try("POST", f"/posts/{_draft(office)['id']}/comments", {"body": "Sieht gut aus."})


# Who may, with the answer; everyone else of PEOPLE gets 403.
MAY: dict[Callable[[Office], Try], dict[str, int]] = {
    edit_draft: {"author": 200, "colleague": 200, "head": 200, "head2": 200, "admin": 200},
    edit_post_in_review: {"author": 200, "colleague": 200, "head": 200, "head2": 200, "admin": 200},
    move_approved_post: {"author": 200, "colleague": 200, "head": 200, "head2": 200, "admin": 200},
    submit_draft: {"author": 200, "head": 200, "head2": 200, "admin": 200},
    approve_post_in_review: {"head": 200, "head2": 200, "admin": 200},
    approve_post_a_head_rewrote: {"head2": 200, "admin": 200},
    release_held_post: {"head": 200, "head2": 200, "admin": 200},
    discard_approved_post: {"head": 200, "head2": 200, "admin": 200},
    comment_on_a_post: dict.fromkeys(PEOPLE, 201),
}


@pytest.mark.parametrize(
    ("action", "who"),
    [pytest.param(a, w, id=f"{a.__name__}-{w}") for a in MAY for w in PEOPLE],
)
def test_who_may_change_submit_approve_release_and_discard(
    office: Office, action: Callable[[Office], Try], who: str
) -> None:
    attempt = action(office)
    expected = MAY[action].get(who, 403)
    call = getattr(office[who], attempt.method.lower())
    response = call(attempt.path, json=attempt.json)
    assert response.status_code == expected, response.get_json()
    if expected == 403:
        assert response.get_json()["error"]


CHANGE_REFUSED = (
    "only its author, the people of {department}, communications heads and admins may change "
    "this post; you may comment on it"
)


@pytest.mark.parametrize(
    ("action", "who", "because"),
    [
        (edit_draft, "stranger", CHANGE_REFUSED.format(department="Marketing")),
        (
            submit_draft,
            "colleague",
            "only its author, a communications head or an admin may submit this draft for approval",
        ),
        (
            approve_post_a_head_rewrote,
            "head",
            "you changed its text: another head or an admin must approve it (four-eyes rule; "
            "only responses to the crisis in force are exempt)",
        ),
    ],
    ids=["change", "submit", "approve-own-rewrite"],
)
def test_a_refusal_says_who_may(
    office: Office, action: Callable[[Office], Try], who: str, because: str
) -> None:
    attempt = action(office)
    response = getattr(office[who], attempt.method.lower())(attempt.path, json=attempt.json)
    assert (response.status_code, response.get_json()["error"]) == (403, because)


def back_to_draft(session: Session, post_id: int) -> tuple[str, str | None, dict]:
    """Who sent the post back to draft by an edit, why, and from what status (its audit entry)."""
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "send_back_to_draft", AuditEntry.subject_id == post_id
        )
    ).one()
    return entry.actor.email, entry.reason, entry.detail


def test_a_change_in_review_goes_back_to_draft_with_the_rewrite_in_the_audit_log(
    office: Office,
) -> None:
    post = _in_review(office)
    rewritten = office["head"].patch(
        f"/posts/{post['id']}", json={"body": "Wir sponsern das Puppenmuseum!"}
    )
    assert rewritten.get_json()["status"] == "draft"
    with get_db(office.team.app).transaction() as session:
        edit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "edit", AuditEntry.subject_id == post["id"]
            )
        ).one()
        assert edit.actor.email == "head@example.org"
        diff = "\n".join(edit.detail["changes"]["body"])
        assert "-Sommerfest am Hafen: alle sind eingeladen." in diff
        assert "+Wir sponsern das Puppenmuseum!" in diff
        assert back_to_draft(session, post["id"]) == (
            "head@example.org",
            "changed in review",
            {"previous_status": "in_review"},
        )
    # The head who rewrote it may not approve it, not even after the author submits it again.
    office["author"].post(f"/posts/{post['id']}/submit")
    refused = office["head"].post(f"/posts/{post['id']}/approve")
    assert refused.status_code == 403
    assert "changed its text" in refused.get_json()["error"]
    assert office["head2"].post(f"/posts/{post['id']}/approve").status_code == 200


def test_tags_alone_do_not_send_a_post_in_review_back(office: Office) -> None:
    post = _in_review(office)
    tagged = office["colleague"].patch(f"/posts/{post['id']}", json={"tags": ["sommerfest"]})
    assert tagged.get_json()["status"] == "in_review"


def test_the_author_is_told_when_someone_else_changes_their_approved_post(
    office: Office,
) -> None:
    post = _approved(office)
    later = iso_utc(now_utc() + timedelta(days=6))
    moved = office["colleague"].patch(f"/posts/{post['id']}", json={"publish_at": later})
    assert moved.status_code == 200, moved.get_json()
    with get_db(office.team.app).transaction() as session:
        told = session.scalars(
            select(Notification).join(User).where(User.email == "planner@example.org")
        ).all()
        assert [n.kind for n in told] == ["approved", "post_changed"]
        changed = told[1]
        assert "planner2@example.org" in changed.text
        assert "new approval" in changed.text
        assert back_to_draft(session, post["id"]) == (
            "planner2@example.org",
            "edited after approval",
            {"previous_status": "scheduled"},
        )


def test_dragging_an_approved_post_asks_first_and_a_stranger_may_not(office: Office) -> None:
    team = office.team
    post = _approved(office)
    browser = signed_in(team, "planner2")  # the author's colleague
    token = csrf_token(browser, "/")
    url = f"/posts/{post['id']}/reschedule"
    headers = {"X-CSRFToken": token}
    moved_to = (now_utc() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
    asked = browser.post(url, json={"publish_at": moved_to}, headers=headers)
    assert asked.status_code == 409
    assert asked.get_json()["needs_confirmation"] is True
    assert "neue Freigabe" in asked.get_json()["message"]  # the colleague works in German
    assert team.post(post["id"])["status"] == "scheduled"
    confirmed = browser.post(url, json={"publish_at": moved_to, "confirm": True}, headers=headers)
    assert confirmed.status_code == 200, confirmed.get_json()
    assert team.post(post["id"])["status"] == "draft"

    draft = _draft(office)
    stranger = team.app.test_client()
    stranger.post(
        "/login",
        data={
            "email": "planner3@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_token(stranger),
        },
    )
    refused = stranger.post(
        f"/posts/{draft['id']}/reschedule",
        json={"publish_at": moved_to},
        headers={"X-CSRFToken": csrf_token(stranger, "/")},
    )
    assert refused.status_code == 403
