"""Comments on a post for hand-over between departments; @e-mail mentions notify the person."""

from __future__ import annotations

import pytest

from calendar_app.comments import mentioned_addresses
from tests.conftest import Team
from tests.test_security import csrf_token, signed_in


@pytest.mark.parametrize(
    ("body", "addresses"),
    [
        ("@planner2@example.org bitte übernehmen", ["planner2@example.org"]),
        ("Danke, @Head@Example.org.", ["head@example.org"]),
        ("(@a@example.org, @b@example.org)", ["a@example.org", "b@example.org"]),
        ("mail an planner@example.org", []),  # an address without @ in front is no mention
        ("foo@bar@example.org", []),
    ],
)
def test_a_mention_is_an_at_sign_before_an_email_address(body: str, addresses: list[str]) -> None:
    assert mentioned_addresses(body) == addresses


def test_pr_hands_a_thread_over_and_the_mentioned_person_is_notified(any_team: Team) -> None:
    team = any_team
    post = team.draft([team.channel()["id"]], title="Beschwerde Fernwärme")
    body = "@planner2@example.org könnt ihr im Kundenservice den Thread übernehmen?"
    response = team.planner.post(f"/posts/{post['id']}/comments", json={"body": body})
    assert response.status_code == 201, response.get_json()
    comment = response.get_json()
    assert comment["author"]["email"] == "planner@example.org"
    assert comment["body"] == body

    [note] = team.planner2.get("/notifications").get_json()["items"]
    assert note["kind"] == "mention"
    assert "Beschwerde Fernwärme" in note["subject"]
    assert note["link"] == f"/posts/{post['id']}#comment-{comment['id']}"
    assert team.planner.get("/notifications").get_json()["items"] == []
    assert team.head.get("/notifications").get_json()["items"] == []

    reply = team.planner2.post(f"/posts/{post['id']}/comments", json={"body": "Machen wir."})
    assert reply.status_code == 201
    listed = team.head.get(f"/posts/{post['id']}/comments").get_json()["items"]
    assert [c["body"] for c in listed] == [body, "Machen wir."]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "body"),
        ("   ", "body"),
        ("@niemand@example.org bitte", "body"),
        ("x" * 5001, "body"),
    ],
)
def test_an_empty_or_misaddressed_comment_is_refused(team: Team, body: str, problem: str) -> None:
    post = team.draft([team.channel()["id"]])
    response = team.planner.post(f"/posts/{post['id']}/comments", json={"body": body})
    assert response.status_code == 422
    assert problem in response.get_json()["fields"]
    assert team.planner.get(f"/posts/{post['id']}/comments").get_json()["items"] == []


def test_comments_on_an_unknown_post_are_not_found(team: Team) -> None:
    assert team.planner.get("/posts/9999/comments").status_code == 404
    assert team.planner.post("/posts/9999/comments", json={"body": "Hallo"}).status_code == 404


def test_the_post_page_shows_comments_escaped_and_adds_one(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    hostile = '<script>alert("x")</script> @head@example.org'
    assert (
        team.planner.post(f"/posts/{post['id']}/comments", json={"body": hostile}).status_code
        == 201
    )
    browser = signed_in(team.app, "head")
    path = f"/posts/{post['id']}"
    page = browser.get(path).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert '<script>alert("x")' not in page

    added = browser.post(
        f"{path}/comments",
        data={
            "body": "Übernehme ich, @planner@example.org",
            "csrf_token": csrf_token(browser, path),
        },
    )
    assert added.status_code == 302
    assert "Übernehme ich" in browser.get(path).get_data(as_text=True)
    assert team.planner.get("/notifications").get_json()["unread"] == 1

    refused = browser.post(
        f"{path}/comments",
        data={"body": "@wer@example.org?", "csrf_token": csrf_token(browser, path)},
    )
    assert refused.status_code == 422
    assert "wer@example.org" in refused.get_data(as_text=True)
