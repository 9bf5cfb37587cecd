"""Full-text search (calendar_app/search.py): title, body, tags and comments, on both engines,
kept in step with every edit by the database itself, and never a 500 for what someone types."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from calendar_app import search
from calendar_app.extensions import get_db
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.web import signed_in


def found(team: Team, q: str, who: str = "planner", **params: Any) -> list[int]:
    response = getattr(team, who).get("/posts", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["items"]]


def ranked(team: Team, q: str) -> list[int]:
    with get_db(team.app).transaction() as session:
        return search.search_posts(session, q)


@pytest.fixture
def outbox(any_team: Team) -> int:
    return int(any_team.channel()["id"])


def test_finds_a_post_by_its_title_body_tags_and_comments(any_team: Team, outbox: int) -> None:
    team = any_team
    titled = team.draft([outbox], title="Sommerfest im Hafen", body="Alle sind eingeladen.")
    bodied = team.draft([outbox], body="Our new bicycle fleet arrives on Monday.")
    tagged = team.draft([outbox], body="Kurze Meldung.", tags=["nachhaltigkeit"])
    commented = team.draft([outbox], body="Noch ein Entwurf.")
    response = team.head.post(
        f"/posts/{commented['id']}/comments", json={"body": "Bitte mit der Pressestelle abstimmen"}
    )
    assert response.status_code == 201

    assert found(team, "sommerfest") == [titled["id"]]
    assert found(team, "Bicycle FLEET") == [bodied["id"]]
    assert found(team, "Nachhaltigkeit") == [tagged["id"]]
    assert found(team, "pressestelle") == [commented["id"]]
    # Every word must occur; the last one may be the start of a word.
    assert found(team, "hafen somm") == [titled["id"]]
    assert found(team, "hafen bicycle") == []
    assert ranked(team, "pressest") == [commented["id"]]


def test_german_words_with_umlauts_are_found_in_any_case(any_team: Team, outbox: int) -> None:
    post = any_team.draft([outbox], title="Übung für den Störfall", body="Öffnungszeiten ändern")
    for q in ("übung", "ÜBUNG", "störfall", "öffnungszeiten", "Änd"):
        assert found(any_team, q) == [post["id"]], q


def test_an_edit_is_found_by_its_new_words_and_not_by_its_old(any_team: Team, outbox: int) -> None:
    team = any_team
    post = team.draft(
        [outbox], title="Laternenumzug", body="Treffpunkt am Rathaus", tags=["herbst"]
    )
    response = team.planner.patch(
        f"/posts/{post['id']}",
        json={"title": "Lichterfest", "body": "Treffpunkt am Markt", "tags": ["winter"]},
    )
    assert response.status_code == 200, response.get_json()
    for old in ("laternenumzug", "rathaus", "herbst"):
        assert found(team, old) == [], old
    for new in ("lichterfest", "markt", "winter"):
        assert found(team, new) == [post["id"]], new


def test_a_change_outside_the_app_updates_the_index_too(any_team: Team, outbox: int) -> None:
    """The database keeps the index (triggers): a script's UPDATE and DELETE are seen."""
    team = any_team
    post = team.draft([outbox], body="Alter Wortlaut")
    with get_db(team.app).transaction() as session:
        session.execute(
            text("UPDATE posts SET body = 'Neuer Wortlaut' WHERE id = :id"), {"id": post["id"]}
        )
    assert found(team, "alter") == []
    assert found(team, "neuer wortlaut") == [post["id"]]
    with get_db(team.app).transaction() as session:
        session.execute(text("DELETE FROM deliveries WHERE post_id = :id"), {"id": post["id"]})
        session.execute(text("DELETE FROM posts WHERE id = :id"), {"id": post["id"]})
    assert ranked(team, "neuer") == []


def test_the_title_ranks_before_the_body_and_the_comments(any_team: Team, outbox: int) -> None:
    team = any_team
    in_comment = team.draft([outbox], body="Erster Entwurf.")
    team.head.post(f"/posts/{in_comment['id']}/comments", json={"body": "Thema Windpark"})
    in_body = team.draft([outbox], body="Der Windpark geht ans Netz.")
    in_title = team.draft([outbox], title="Windpark", body="Eröffnung.")
    assert ranked(team, "windpark") == [in_title["id"], in_body["id"], in_comment["id"]]


HOSTILE = [
    '"',
    '""',
    "'",
    "*",
    "-",
    "- Hafen",
    "NEAR(hafen fest)",
    "hafen NEAR fest",
    "hafen OR fest",
    "hafen AND NOT fest",
    "(hafen",
    "hafen)",
    "title:hafen",
    "^hafen",
    "hafen & | ! <-> :*",
    "\\",
    "%_",
    "x" * 200,
    "a " * 100,
    "²³",
    "🙂 hafen",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_text_is_read_as_words_never_a_500(any_team: Team, outbox: int, q: str) -> None:
    post = any_team.draft([outbox], title="Hafen", body="Fest am Hafen")
    response = any_team.planner.get("/posts", query_string={"q": q})
    assert response.status_code == 200, response.get_json()
    words = search.words_of(q)
    ids = [p["id"] for p in response.get_json()["items"]]
    if words and all(w in ("hafen", "fest") for w in words):
        assert ids == [post["id"]], q
    ranked(any_team, q)  # the ranked search takes it too


def test_a_text_without_words_finds_nothing(team: Team) -> None:
    channel = team.channel()["id"]
    team.draft([channel])
    assert found(team, "*** ---") == []
    assert search.words_of("  ") == []


def test_too_long_a_search_is_refused_by_name(team: Team) -> None:
    response = team.planner.get("/posts", query_string={"q": "x" * 201})
    assert response.status_code == 422
    assert "q" in response.get_json()["fields"]


def test_search_combines_with_filters_and_the_cursor(any_team: Team, outbox: int) -> None:
    team = any_team
    other = team.channel("Zweiter")["id"]
    start = now_utc() + timedelta(days=1)
    hits = [
        team.draft([outbox], title=f"Messe Tag {n}", at=start + timedelta(hours=n))["id"]
        for n in range(5)
    ]
    team.draft([other], title="Messe woanders", at=start)
    team.draft([outbox], title="Etwas anderes", at=start)
    pages: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "messe", "channel": outbox, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = team.planner.get("/posts", query_string=params).get_json()
        pages.extend(p["id"] for p in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == hits
    assert found(team, "messe", status="draft", channel=other) != []


def test_only_signed_in_people_search(team: Team) -> None:
    channel = team.channel()["id"]
    team.draft([channel], title="Geheimplan")
    assert team.anonymous.get("/posts", query_string={"q": "geheimplan"}).status_code == 401
    anonymous = team.app.test_client()
    page = anonymous.get("/search?q=geheimplan")
    assert page.status_code == 302
    assert "Geheimplan" not in page.get_data(as_text=True)


def test_the_search_page_lists_hits_with_their_status(team: Team) -> None:
    channel = team.channel()["id"]
    draft = team.draft([channel], title="Hafenfest Ankündigung")
    approved = team.scheduled([channel], title="Hafenfest Programm")
    team.draft([channel], title="Etwas anderes")
    browser = signed_in(team, "planner2")
    page = browser.get("/search?q=hafenfest")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Hafenfest Ankündigung" in html
    assert "Hafenfest Programm" in html
    assert "Etwas anderes" not in html
    assert f"/posts/{draft['id']}" in html
    assert f"/posts/{approved['id']}" in html
    assert "status-scheduled" in html
    assert "status-draft" in html
    assert browser.get("/search?q=" + "%22NEAR(%2A").status_code == 200


def test_the_search_page_escapes_what_was_typed(team: Team) -> None:
    browser = signed_in(team, "planner")
    html = browser.get("/search", query_string={"q": "<script>alert(1)</script>"}).get_data(
        as_text=True
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_index_migration_goes_down_and_up_again(database_url: str) -> None:
    from alembic import command

    from calendar_app.db import make_engine
    from calendar_app.migrate import alembic_config, upgrade

    command.downgrade(alembic_config(database_url), "0019")
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM post_search")).scalar() == 0
    finally:
        engine.dispose()
