"""The browser UI: login and logout, who sees which page, escaping, the crisis banner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from calendar_app import create_app, crisis, planning
from calendar_app.accounts import create_user, user_by_email
from calendar_app.channels import create_channel
from calendar_app.dispatch import Dispatcher
from calendar_app.extensions import get_db
from calendar_app.migrate import upgrade
from calendar_app.models import Post, User
from calendar_app.timeutil import now_utc
from config import Config
from tests.support.web import csrf_token

PASSWORD = "richtig-geheim-1"
PEOPLE = {"planner": "planner", "head": "head", "head2": "head", "admin": "admin"}
PAGES = ["/", "/agenda", "/compose", "/approvals", "/posts/1", "/crisis", "/outbox", "/audit"]
XSS = "<script>alert(1)</script>"


@dataclass
class Site:
    app: Flask
    channel_id: int

    def email(self, who: str) -> str:
        return f"{who}@nordhafen.example"

    def user(self, session: Session, who: str) -> User:
        user = user_by_email(session, self.email(who))
        assert user is not None
        return user

    def post(self, *, author: str = "planner", approve: bool = False, **fields: object) -> int:
        """A post through the rules; approved by `head` when asked."""
        fields.setdefault("body", "Tag der offenen Tür im Wasserwerk.")
        fields.setdefault("publish_at", now_utc() + timedelta(days=1))
        with get_db(self.app).transaction() as session:
            post = planning.create_post(
                session,
                self.user(session, author),
                channel_ids=[self.channel_id],
                **fields,  # type: ignore[arg-type]
            )
            if approve:
                planning.submit_post(session, post.author, post)
                planning.approve_post(
                    session, self.user(session, "head"), post, allow_self_approval=False
                )
            return post.id


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path}/t.db"
    upgrade(url)
    config = replace(
        Config(), ENV="testing", SECRET_KEY="test", DATABASE_URL=url, INSTANCE_PATH=tmp_path
    )
    app = create_app(config, serving=True)
    with get_db(app).transaction() as session:
        users = {
            who: create_user(
                session, f"{who}@nordhafen.example", role=role, password=PASSWORD, name=who.title()
            )
            for who, role in PEOPLE.items()
        }
        channel = create_channel(
            session, users["admin"], name="X @StadtwerkeNH", kind="outbox", network="x"
        )
    yield Site(app, channel.id)
    get_db(app).dispose()


@pytest.fixture
def browser(site: Site) -> FlaskClient:
    return site.app.test_client()


def log_in(browser: FlaskClient, who: str, *, password: str = PASSWORD, query: str = "") -> object:
    return browser.post(
        "/login" + query,
        data={
            "email": f"{who}@nordhafen.example",
            "password": password,
            "csrf_token": csrf_token(browser),
        },
    )


def is_logged_in(browser: FlaskClient) -> bool:
    return browser.get("/outbox").status_code == 200


# --- logging in and out ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "password"),
    [("planner@nordhafen.example", "falsch-falsch"), ("niemand@nordhafen.example", PASSWORD)],
)
def test_wrong_login_says_so_and_starts_no_session(
    browser: FlaskClient, email: str, password: str
) -> None:
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(browser)}
    )
    assert response.status_code == 200
    assert "E-Mail oder Passwort ist falsch" in response.get_data(as_text=True)
    with browser.session_transaction() as session:
        assert "_user_id" not in session
    assert not is_logged_in(browser)


def test_the_login_page_offers_german_and_english_and_keeps_the_choice(
    browser: FlaskClient,
) -> None:
    german = browser.get("/login").get_data(as_text=True)
    assert "Anmelden" in german
    assert 'href="/login?lang=en"' in german
    english = browser.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english
    assert '<html lang="en">' in english
    assert 'href="/login?lang=de"' in english
    # A wrong password answers in the language chosen.
    wrong = browser.post(
        "/login?lang=en",
        data={
            "email": "x@nordhafen.example",
            "password": "falsch",
            "csrf_token": csrf_token(browser),
        },
    ).get_data(as_text=True)
    assert "Anmelden" not in wrong
    assert 'lang="en"' in wrong


def test_every_page_names_the_apps_icon(browser: FlaskClient) -> None:
    page = browser.get("/login").get_data(as_text=True)
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = browser.get("/static/favicon.svg")
    try:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"
    finally:
        icon.close()


def test_right_login_goes_to_the_calendar(browser: FlaskClient) -> None:
    response = log_in(browser, "planner")
    assert response.status_code == 302
    assert response.location == "/"
    assert is_logged_in(browser)


def test_login_starts_a_fresh_session(browser: FlaskClient) -> None:
    with browser.session_transaction() as session:
        session["planted"] = "by someone else"
    log_in(browser, "planner")
    with browser.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_post_without_csrf_token_is_refused(browser: FlaskClient) -> None:
    response = browser.post(
        "/login", data={"email": "planner@nordhafen.example", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert not is_logged_in(browser)

    log_in(browser, "planner")
    assert browser.post("/logout").status_code == 400
    assert is_logged_in(browser)


def test_logout_ends_the_session(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    response = browser.post("/logout", data={"csrf_token": csrf_token(browser, "/")})
    assert response.status_code == 302
    assert response.location == "/login"
    assert not is_logged_in(browser)


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_login(browser: FlaskClient, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_login_returns_to_the_page_asked_for(browser: FlaskClient) -> None:
    response = log_in(browser, "head", query="?next=/crisis")
    assert response.location == "/crisis"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "http:evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_to_another_site(browser: FlaskClient, target: str) -> None:
    response = log_in(browser, "head", query="?" + urlencode({"next": target}))
    assert response.status_code == 302
    assert response.location == "/"


# --- pages -------------------------------------------------------------------------------------


def test_pages_render_for_a_head(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(title="Sponsoring Puppentheater-Museum", approve=True)
    log_in(browser, "head")
    expected = {
        "/": 'id="calendar"',
        "/agenda": "Sponsoring Puppentheater-Museum",
        f"/posts/{post_id}": "X @StadtwerkeNH",
        "/crisis": "keine Krise",
        "/outbox": "Noch nichts veröffentlicht",
        "/audit": "freigegeben",
    }
    for path, text in expected.items():
        response = browser.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert text in page, path
        assert '<html lang="de">' in page


@pytest.mark.parametrize(("who", "status"), [("planner", 403), ("head", 200), ("admin", 200)])
def test_audit_log_is_for_heads_and_admins(browser: FlaskClient, who: str, status: int) -> None:
    log_in(browser, who)
    assert browser.get("/audit").status_code == status


def test_audit_link_is_shown_only_to_reviewers(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    assert "/audit" not in browser.get("/").get_data(as_text=True)


def test_unknown_post_is_404(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    assert browser.get("/posts/999").status_code == 404


def test_calendar_rejects_a_bad_date(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    response = browser.get("/agenda?von=gestern")
    assert response.status_code == 400
    assert "kein Datum" in response.get_data(as_text=True)


def test_calendar_groups_posts_by_day_on_the_team_clock(site: Site, browser: FlaskClient) -> None:
    # 00:30 in Berlin on the night of the spring DST change is still 23:30 UTC the day before.
    berlin = ZoneInfo("Europe/Berlin")
    site.post(title="Nachtschicht", publish_at=datetime(2026, 3, 29, 0, 30, tzinfo=berlin))
    log_in(browser, "planner")
    page = browser.get("/agenda?von=2026-03-23").get_data(as_text=True)
    assert "Sonntag, 29. März 2026" in page
    assert "Samstag, 28. März 2026" not in page
    assert "00:30" in page


def test_user_text_is_escaped(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(title=f"Titel {XSS}", body=f"Text {XSS}")
    log_in(browser, "planner")
    for path in ("/agenda", f"/posts/{post_id}", f"/posts/{post_id}/edit"):
        page = browser.get(path).get_data(as_text=True)
        assert XSS not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    policy = browser.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_outbox_shows_what_was_published(site: Site, browser: FlaskClient) -> None:
    site.post(title="Ladesäulen", approve=True, publish_at=now_utc() - timedelta(minutes=1))
    dispatcher = Dispatcher(get_db(site.app), site.app.config["CALENDAR"])
    try:
        assert len(dispatcher.run_pass().published) == 1
    finally:
        dispatcher.close()
    log_in(browser, "planner")
    page = browser.get("/outbox").get_data(as_text=True)
    assert "Ladesäulen" in page
    assert "X @StadtwerkeNH" in page


# --- crisis ------------------------------------------------------------------------------------


def declare(site: Site, reason: str) -> None:
    with get_db(site.app).transaction() as session:
        crisis.declare_crisis(session, site.user(session, "head2"), reason=reason)


def test_no_banner_without_a_crisis(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    assert "crisis-banner" not in browser.get("/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/crisis", "/outbox", "/posts/1"])
def test_crisis_banner_on_every_page(site: Site, browser: FlaskClient, path: str) -> None:
    site.post()
    declare(site, "Shitstorm über den Sicherheitsdienst")
    log_in(browser, "planner")
    page = browser.get(path).get_data(as_text=True)
    assert "crisis-banner" in page
    assert "Shitstorm über den Sicherheitsdienst" in page
    assert "Head2" in page


def test_crisis_reason_is_escaped_in_the_banner(browser: FlaskClient, site: Site) -> None:
    declare(site, f"Angriff {XSS}")
    log_in(browser, "planner")
    page = browser.get("/").get_data(as_text=True)
    assert XSS not in page
    assert "&lt;script&gt;" in page


def test_crisis_page_lists_held_posts(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(
        title="Puppentheater", approve=True, publish_at=now_utc() - timedelta(minutes=5)
    )
    declare(site, "Shitstorm")
    with get_db(site.app).transaction() as session:
        assert session.get(Post, post_id).status == "held"  # type: ignore[union-attr]
    log_in(browser, "head")
    crisis_page = browser.get("/crisis").get_data(as_text=True)
    assert "Krise in Kraft" in crisis_page
    assert "Puppentheater" in crisis_page
    assert "Zurückgehalten" in crisis_page
    calendar_page = browser.get("/agenda?von=" + (now_utc() - timedelta(days=1)).date().isoformat())
    assert "status-held" in calendar_page.get_data(as_text=True)


# --- the calendar feed and drag-and-drop -------------------------------------------------------


def feed(browser: FlaskClient, **params: str) -> list[dict[str, object]]:
    query = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-06T00:00:00Z", **params}
    response = browser.get("/calendar/events?" + urlencode(query))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_feed_gives_team_wall_clock_and_filters(site: Site, browser: FlaskClient) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    site.post(title="Nachtschicht", publish_at=datetime(2026, 3, 29, 0, 30, tzinfo=berlin))
    log_in(browser, "planner")
    (event,) = feed(browser)
    assert event["start"] == "2026-03-29T00:30:00"
    assert event["title"] == "Nachtschicht"
    assert feed(browser, channel=str(site.channel_id)) == [event]
    assert feed(browser, status="scheduled") == []
    assert browser.get("/calendar/events?start=gestern&end=x").status_code == 400


def reschedule(
    browser: FlaskClient, post_id: int, when: str, token: str | None, *, confirm: bool = False
) -> object:
    headers = {"X-CSRFToken": token} if token else {}
    body: dict[str, object] = {"publish_at": when, **({"confirm": True} if confirm else {})}
    return browser.post(f"/posts/{post_id}/reschedule", json=body, headers=headers)


def test_dragging_an_approved_post_sends_it_back_for_approval(
    site: Site, browser: FlaskClient
) -> None:
    post_id = site.post(title="Ladesäulen", approve=True)
    log_in(browser, "planner")
    token = csrf_token(browser, "/")
    assert reschedule(browser, post_id, "2026-12-01T09:00", None).status_code == 400  # no CSRF
    asked = reschedule(browser, post_id, "2026-12-01T09:00", token)
    assert asked.status_code == 409  # an approved post: the planner confirms first
    assert asked.get_json()["needs_confirmation"] is True
    response = reschedule(browser, post_id, "2026-12-01T09:00", token, confirm=True)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "draft"
    with get_db(site.app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        assert post.publish_at == datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("UTC"))
    assert reschedule(browser, post_id, "morgen", token).status_code == 400


# --- composer, approvals, crisis in forms ------------------------------------------------------


def test_composer_refuses_a_text_too_long_for_x(site: Site, browser: FlaskClient) -> None:
    log_in(browser, "planner")
    response = browser.post(
        "/compose",
        data={
            "csrf_token": csrf_token(browser, "/compose"),
            "title": "Zu lang",
            "body": "x" * 281,
            "channels": str(site.channel_id),
            "publish_at": "2026-12-01T09:00",
            "department": "0",
            "action": "submit",
        },
    )
    assert response.status_code == 422
    assert "erlaubt höchstens 280" in response.get_data(as_text=True)  # the planner reads German
    with get_db(site.app).transaction() as session:
        assert session.query(Post).count() == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("😀" * 140, 302),  # 140 emoji weigh 280 on X: saved
        ("😀" * 141, 422),  # whatever the browser's counter said: the server decides
        ("日" * 141, 422),
    ],
)
def test_composer_counts_as_x_does(
    site: Site, browser: FlaskClient, body: str, status: int
) -> None:
    log_in(browser, "planner")
    response = browser.post(
        "/compose",
        data={
            "csrf_token": csrf_token(browser, "/compose"),
            "body": body,
            "channels": str(site.channel_id),
            "publish_at": "2026-12-01T09:00",
            "department": "0",
            "action": "draft",
        },
    )
    assert response.status_code == status
    if status == 422:
        assert "ist 282 Zeichen lang nach der Zählung von X" in response.get_data(as_text=True)


def test_composer_has_a_preview_region_and_counts_x_by_weight(
    site: Site, browser: FlaskClient
) -> None:
    log_in(browser, "planner")
    page = browser.get("/compose").get_data(as_text=True)
    assert f'data-channel="{site.channel_id}" data-limit="280" data-counting="x-weighted"' in page
    assert 'aria-labelledby="preview-heading"' in page
    assert "twitter-text.min.js" in page
    for network in ("mastodon", "bluesky", "x", "linkedin"):
        assert f'data-network="{network}"' in page
    assert f'data-preview-channel="{site.channel_id}"' in page


def test_a_head_sends_a_post_back_with_a_comment(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(title="Tarifwechsel")
    with get_db(site.app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        planning.submit_post(session, post.author, post)
    log_in(browser, "head")
    assert "Tarifwechsel" in browser.get("/approvals").get_data(as_text=True)
    token = csrf_token(browser, "/approvals")
    refused = browser.post(f"/posts/{post_id}/send-back", data={"csrf_token": token})
    assert refused.status_code == 302
    response = browser.post(
        f"/posts/{post_id}/send-back",
        data={"csrf_token": token, "comment": "Bitte den Preis nennen."},
        follow_redirects=True,
    )
    assert "Mit Ihrem Kommentar" in response.get_data(as_text=True)
    with get_db(site.app).transaction() as session:
        assert session.get(Post, post_id).status == "draft"  # type: ignore[union-attr]
    history = browser.get(f"/posts/{post_id}").get_data(as_text=True)
    assert "Bitte den Preis nennen." in history


def test_four_eyes_rule_is_shown_to_the_author(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(title="Eigenes", author="head")
    with get_db(site.app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        planning.submit_post(session, post.author, post)
    log_in(browser, "head")
    page = browser.get("/approvals").get_data(as_text=True)
    assert "Sie haben diesen Beitrag verfasst" in page
    assert f"/posts/{post_id}/approve" not in page


def test_declare_review_and_lift_through_the_forms(site: Site, browser: FlaskClient) -> None:
    post_id = site.post(title="Museum", approve=True, publish_at=now_utc() - timedelta(minutes=1))
    log_in(browser, "head")
    token = csrf_token(browser, "/crisis")
    empty = browser.post("/crisis/declare", data={"csrf_token": token, "scope": "all"})
    assert empty.status_code == 422
    declared = browser.post(
        "/crisis/declare",
        data={"csrf_token": token, "scope": "all", "reason": "Shitstorm"},
        follow_redirects=True,
    )
    assert "Krise ausgerufen" in declared.get_data(as_text=True)
    page = browser.get("/crisis").get_data(as_text=True)
    assert f'value="{post_id}"' in page
    now_refused = browser.post(
        "/crisis/review",
        data={"csrf_token": token, "post_ids": str(post_id), "bulk": "release_now"},
    )
    assert now_refused.status_code == 409
    discarded = browser.post(
        "/crisis/review",
        data={"csrf_token": token, "post_ids": str(post_id), "bulk": "discard"},
        follow_redirects=True,
    )
    assert "Ein Beitrag verworfen." in discarded.get_data(as_text=True)
    requested = browser.post(
        "/crisis/lift", data={"csrf_token": token, "note": "Ruhe"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "crisis-banner" in requested, "one person's request does not lift the crisis"
    assert "wartet auf eine zweite Person" in requested  # the banner says who asked, and when
    assert "/crisis/lift/confirm" not in requested, "the requester is not offered to confirm"
    same = browser.post("/crisis/lift/confirm", data={"csrf_token": token}, follow_redirects=True)
    assert "crisis-banner" in same.get_data(as_text=True)

    second = site.app.test_client()
    log_in(second, "head2")
    page = second.get("/crisis").get_data(as_text=True)
    assert "/crisis/lift/confirm" in page
    assert "Ruhe" in page
    lifted = second.post(
        "/crisis/lift/confirm",
        data={"csrf_token": csrf_token(second, "/crisis")},
        follow_redirects=True,
    )
    assert "crisis-banner" not in lifted.get_data(as_text=True)


def test_language_is_chosen_per_user(browser: FlaskClient) -> None:
    log_in(browser, "planner")
    assert '<html lang="de">' in browser.get("/outbox").get_data(as_text=True)
    browser.post("/language", data={"csrf_token": csrf_token(browser, "/"), "locale": "en"})
    page = browser.get("/outbox").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Nothing published yet." in page
