"""Control characters are refused in every text at input, by the API and by the forms, with a
422 that names the field; line breaks and tabs only where a text has several lines. Cuts for
length fall between grapheme clusters."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from calendar_app.extensions import get_db
from calendar_app.models import Post
from calendar_app.plain_text import control_character, printable, shortened
from tests.conftest import Team
from tests.test_security import csrf_token, signed_in

WHEN = "2026-12-01T09:00:00+01:00"


@pytest.mark.parametrize(
    ("text", "several_lines", "refused"),
    [
        ("Tag der offenen Tür 🎉", False, None),
        ("Zeile\nZeile", False, "\n"),
        ("Spalte\tSpalte", False, "\t"),
        ("Zeile\nZeile\r\nZeile\tmit Tab", True, None),
        ("nur CR\rallein", True, "\r"),
        ("Glocke\x07", True, "\x07"),
        ("Escape\x1b[31m", True, "\x1b"),
        ("Löschen\x7f", True, "\x7f"),
        ("C1\x85Zeichen", True, "\x85"),
        ("Seitenumbruch\x0c", True, "\x0c"),
        ("RTL \u202e und ZWJ \u200d sind Formatzeichen, keine Steuerzeichen", False, None),
    ],
)
def test_the_rule_refuses_control_characters_but_line_breaks_in_several_lines(
    text: str, several_lines: bool, refused: str | None
) -> None:
    assert control_character(text, multiline=several_lines) == refused


def test_printable_keeps_line_breaks_and_tabs_only() -> None:
    assert printable("a\r\nb\rc\x07d\te\x85f\n") == "a\nbcd\tef\n"


@pytest.mark.parametrize(
    ("text", "length", "cut"),
    [
        ("kurz", 10, "kurz"),
        ("ab👨\u200d👩\u200d👧\u200d👦cd", 4, "ab👨\u200d👩\u200d👧\u200d👦…"),
        ("🇩🇪🇫🇷🇮🇹", 2, "🇩🇪…"),
        ("x👍🏽👍🏽👍🏽", 3, "x👍🏽…"),
        ("e\u0301e\u0301e\u0301e\u0301", 3, "e\u0301e\u0301…"),
        # Seven code points but four clusters: fits, nothing is cut.
        ("👍🏽👍🏽a\u0301b", 4, "👍🏽👍🏽a\u0301b"),
    ],
)
def test_a_cut_for_length_falls_between_grapheme_clusters(text: str, length: int, cut: str) -> None:
    assert shortened(text, length) == cut


# --- the API ----------------------------------------------------------------------------------


def refused(answer: Any, field: str) -> str:
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert set(body) == {"error", "fields"}
    assert field in body["fields"], body
    assert field in body["error"]
    return body["fields"][field]


def test_the_api_refuses_control_characters_in_every_text_and_names_the_field(team: Team) -> None:
    channel = team.channel("Blog")["id"]
    post = {"body": "Text", "channels": [channel], "publish_at": WHEN}
    assert "U+0007" in refused(
        team.planner.post("/posts", json={**post, "title": "A\x07"}), "title"
    )
    assert "single line" in refused(
        team.planner.post("/posts", json={**post, "title": "Zwei\nZeilen"}), "title"
    )
    assert "U+000D" in refused(team.planner.post("/posts", json={**post, "body": "CR\rX"}), "body")
    assert "U+001B" in refused(
        team.planner.post("/posts", json={**post, "tags": ["ok", "\x1b[31m"]}), "tags"
    )
    assert "U+000B" in refused(
        team.planner.post("/posts", json={**post, "overrides": {str(channel): "a\x0bb"}}),
        "overrides",
    )
    image = team.image()
    refused(
        team.planner.post("/posts", json={**post, "media": [{"id": image["id"], "alt": "\x85"}]}),
        "media.0.alt",
    )
    refused(
        team.admin.post("/channels", json={"name": "Kanal\x1b", "kind": "outbox"}),
        "name",
    )
    refused(
        team.admin.post(
            "/channels",
            json={"name": "Hook", "kind": "webhook", "config": {"url": "http://x\x07/"}},
        ),
        "config",
    )
    refused(team.head.post("/crisis", json={"reason": "Störfall\x00"}), "reason")
    refused(team.head.post("/crisis", json={"reason": "Störfall\x1b"}), "reason")

    # Several lines where a text has them: CR LF as a browser sends it, and tabs.
    made = team.planner.post(
        "/posts", json={**post, "title": "Ein Titel", "body": "Zeile 1\r\nZeile 2\n\tEingerückt"}
    )
    assert made.status_code == 201, made.get_json()
    assert "U+007F" in refused(
        team.planner.patch(f"/posts/{made.get_json()['id']}", json={"title": "DEL\x7f"}), "title"
    )


# --- the forms --------------------------------------------------------------------------------


def posts_titled(app: Flask, title: str) -> int:
    with get_db(app).transaction() as session:
        return session.scalar(select(func.count()).select_from(Post).where(Post.title == title))


def test_the_composer_refuses_control_characters_and_names_the_field(team: Team) -> None:
    channel = team.channel("Blog")["id"]
    browser = signed_in(team.app, "planner")

    def compose(**fields: str) -> Any:
        data = {"title": "Titel", "body": "Text", "channels": [channel],
                "publish_at": "2026-12-01T09:00", **fields}  # fmt: skip
        return browser.post(
            "/compose", data={**data, "csrf_token": csrf_token(browser, "/compose")}
        )

    bell = compose(title="Glocke\x07")
    assert bell.status_code == 422
    page = bell.get_data(as_text=True)
    assert "unsichtbares Steuerzeichen (U+0007)" in page  # the planner reads German
    assert 'id="title"' in page
    assert posts_titled(team.app, "Glocke\x07") == 0

    assert compose(title="Zwei\r\nZeilen").status_code == 422
    assert compose(body="Text\x1b[31m").status_code == 422
    assert compose(tags="ok, \x0b").status_code == 422

    override = compose(**{f"override-{channel}": "Eigener Text\x07"})
    assert override.status_code == 422
    assert "U+0007" in override.get_data(as_text=True)

    several = compose(title="Mehrzeilig", body="Zeile 1\r\nZeile 2\r\n\tEingerückt")
    assert several.status_code == 302, several.get_data(as_text=True)[:500]
    assert posts_titled(team.app, "Mehrzeilig") == 1


def test_every_form_checks_its_text_fields(team: Team) -> None:
    post = team.draft([team.channel("Blog")["id"]])
    browser = signed_in(team.app, "planner")
    path = f"/posts/{post['id']}"
    comment = browser.post(
        f"{path}/comments", data={"body": "Gut\x07", "csrf_token": csrf_token(browser, path)}
    )
    assert comment.status_code == 422
    assert "U+0007" in comment.get_data(as_text=True)
    fine = browser.post(
        f"{path}/comments",
        data={"body": "Zeile\r\nZeile", "csrf_token": csrf_token(browser, path)},
    )
    assert fine.status_code == 302

    admin = signed_in(team.app, "admin")
    department = admin.post(
        "/admin/departments",
        data={"name": "Presse\x1b", "csrf_token": csrf_token(admin, "/admin/departments")},
    )
    assert department.status_code == 422
    assert "U+001B" in department.get_data(as_text=True)


def test_a_playbooks_statements_are_checked_like_the_form(team: Team) -> None:
    channel = team.channel("Blog")
    browser = signed_in(team.app, "head")
    path = "/playbooks/new"
    answer = browser.post(
        path,
        data={"name": "Störfall", "scope": "all", f"statement-{channel['id']}": "Wir\x07",
              "csrf_token": csrf_token(browser, path)},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "Blog: " in answer.get_data(as_text=True)
    assert "U+0007" in answer.get_data(as_text=True)


def test_the_inboxs_small_forms_refuse_control_characters_with_a_notice(team: Team) -> None:
    browser = signed_in(team.app, "admin")
    answer = browser.post(
        "/inbox/rules",
        data={"keyword": "Rech\nnung", "department_id": "1",
              "csrf_token": csrf_token(browser, "/inbox")},
    )  # fmt: skip
    assert answer.status_code == 302
    page = browser.get("/inbox").get_data(as_text=True)
    assert "keyword: Bitte schreiben Sie dies in eine Zeile" in page
    assert "Rech\nnung" not in page
