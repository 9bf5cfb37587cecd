"""People are told what happens to their work: the author, the heads, the second head of a lift;
in their own language with times on the team's clock; as each person chose; e-mailed as one
digest per hour unless urgent."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import update

from calendar_app import notices, words
from calendar_app.extensions import get_db
from calendar_app.models import Notification, User
from calendar_app.notifications import send_digests, send_outgoing
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.mailbox import Mailbox
from tests.support.receiver import Receiver, Reply
from tests.support.web import csrf_token, signed_in


def news(team: Team, who: str) -> list[dict[str, Any]]:
    return getattr(team, who).get("/notifications").get_json()["items"]


def kinds(team: Team, who: str) -> list[str]:
    return [n["kind"] for n in news(team, who)]


def speaks(team: Team, who: str, locale: str) -> None:
    with get_db(team.app).transaction() as session:
        session.execute(update(User).where(User.id == team.ids[who]).values(locale=locale))


def mail_config(app: Flask, mailbox: Mailbox) -> Any:
    return replace(
        app.config["CALENDAR"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=mailbox.port,
        BASE_URL="https://kal.example",
    )


def in_review(team: Team, channel: dict[str, Any], **fields: Any) -> dict[str, Any]:
    post = team.draft([channel["id"]], **{"title": "Puppenmuseum", **fields})
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    return post


def test_a_submitted_post_tells_the_heads_and_its_approval_tells_the_author(
    team: Team,
) -> None:
    channel = team.channel()
    speaks(team, "head2", "en")
    at = datetime(2026, 12, 1, 18, 38, tzinfo=UTC)  # 19:38 in Berlin
    post = in_review(team, channel, publish_at=iso_utc(at))

    [to_head] = news(team, "head")
    assert to_head["kind"] == "waiting_for_approval"
    assert to_head["subject"] == "„Puppenmuseum“ wartet auf Ihre Freigabe"
    assert "Di., 1. Dez., 19:38" in to_head["text"]
    assert "Planner" in to_head["text"]
    [to_head2] = news(team, "head2")
    assert to_head2["subject"] == "“Puppenmuseum” waits for your approval"
    assert "Tue, Dec 1, 19:38" in to_head2["text"]
    assert kinds(team, "planner") == []  # nobody hears of their own action
    assert kinds(team, "planner2") == []

    assert team.head.post(f"/posts/{post['id']}/approve").status_code == 200

    [approved] = news(team, "planner")
    assert approved["kind"] == "approved"
    assert approved["subject"] == "Ihr Beitrag „Puppenmuseum“ wurde freigegeben"
    assert approved["link"] == f"/posts/{post['id']}"
    assert "Head" in approved["text"]  # who approved it
    assert "Di., 1. Dez., 19:38" in approved["text"]  # and when it goes out
    assert kinds(team, "head") == ["waiting_for_approval"]


def test_a_post_sent_back_tells_its_author_what_to_change(team: Team) -> None:
    post = in_review(team, team.channel())
    browser = signed_in(team, "head")
    page = f"/posts/{post['id']}"
    sent_back = browser.post(
        f"{page}/send-back", data={"csrf_token": csrf_token(browser, page), "comment": "Ohne Emoji"}
    )
    assert sent_back.status_code == 302
    [note] = news(team, "planner")
    assert note["kind"] == "sent_back"
    assert note["text"].endswith("Ohne Emoji")


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_held_released_published_and_failed_reach_the_author(
    any_team: Team, receiver: Receiver, make_dispatcher: Callable[..., Any], clock: Clock
) -> None:
    hook = any_team.channel(
        "Presse-Hook", kind="webhook", config={"url": f"{receiver.url}/hook", "secret": "s"}
    )
    due = clock.now + timedelta(minutes=5)
    post = any_team.scheduled([hook["id"]], at=due, title="Sommerfest")
    assert any_team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    dispatcher = make_dispatcher(any_team.app, clock=clock)
    clock.advance(minutes=6)
    dispatcher.run_pass()
    assert kinds(any_team, "planner")[0] == "held"

    assert any_team.head.post("/crisis/lift", json={"note": "Lage geklärt"}).status_code == 202
    assert any_team.head2.post("/crisis/lift/confirm").status_code == 200
    released = any_team.head.post(f"/posts/{post['id']}/release", json={})
    assert released.status_code == 200, released.get_json()
    assert kinds(any_team, "planner")[0] == "released"
    dispatcher.run_pass()
    assert kinds(any_team, "planner")[:2] == ["published", "released"]

    receiver.reply = lambda _request: Reply(400)
    failing = any_team.scheduled([hook["id"]], at=clock.now, title="Zweiter Versuch")
    dispatcher.run_pass()
    [failed, *_] = news(any_team, "planner")
    assert failed["kind"] == "failed"
    assert failed["link"] == f"/posts/{failing['id']}"
    # The head who acted heard nothing of their own decisions; the author of nothing, nothing.
    assert "released" not in kinds(any_team, "head")
    assert kinds(any_team, "planner2") == []


@pytest.mark.parametrize("config_overrides", [{"DISPATCH_CONCURRENCY": 1}])
def test_the_author_hears_of_a_status_once_however_many_deliveries_come_to_it(
    any_team: Team, receiver: Receiver, make_dispatcher: Callable[..., Any], clock: Clock
) -> None:
    """A post's status changes once when its first delivery fails; the second failing leaves
    it `failed`, and the author is not told a second time (each delivery's error is on the
    post's page)."""
    receiver.reply = lambda _request: Reply(400)
    hooks = [
        any_team.channel(name, kind="webhook", config={"url": f"{receiver.url}/{n}", "secret": "s"})
        for n, name in enumerate(("Presse-Hook", "HR-Hook"))
    ]
    post = any_team.scheduled([h["id"] for h in hooks], at=clock.now, title="Sommerfest")

    report = make_dispatcher(any_team.app, clock=clock).run_pass()

    assert len(report.failed) == 2
    assert any_team.post(post["id"])["status"] == "failed"
    failed, approved = news(any_team, "planner")
    assert (failed["kind"], failed["link"]) == ("failed", f"/posts/{post['id']}")
    assert approved["kind"] == "approved"


def test_a_discard_by_a_head_tells_the_author_with_the_reason(team: Team) -> None:
    post = team.scheduled([team.channel()["id"]], title="Gewinnspiel")
    discarded = team.head.post(f"/posts/{post['id']}/discard", json={"reason": "Falscher Ton"})
    assert discarded.status_code == 200, discarded.get_json()
    note, approved = news(team, "planner")
    assert approved["kind"] == "approved"
    assert note["kind"] == "discarded"
    assert note["subject"] == "Ihr Beitrag „Gewinnspiel“ wurde verworfen"
    assert note["text"] == "Head (head@example.org) hat „Gewinnspiel“ verworfen. Falscher Ton"


def test_a_requested_lift_tells_every_other_head_and_admin_at_once_by_email(
    team: Team, mailbox: Mailbox
) -> None:
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    requested = team.head.post("/crisis/lift", json={"note": "Lage ruhig"})
    assert requested.status_code == 202, requested.get_json()

    assert kinds(team, "head2") == ["lift_to_confirm"]
    assert kinds(team, "admin") == ["lift_to_confirm"]
    assert kinds(team, "head") == []
    send_outgoing(get_db(team.app), mail_config(team.app, mailbox))
    [mail] = mailbox.to("head2@example.org")  # urgent: at once, not in the digest
    assert mail["Subject"] == "Die Aufhebung der Krise wartet auf Ihre Bestätigung"
    assert "Lage ruhig" in mail.get_content()


def test_each_person_chooses_how_they_are_told_and_urgent_ones_cannot_be_turned_down(
    team: Team,
) -> None:
    settings = team.planner.get("/notifications/settings").get_json()["items"]
    by_kind = {s["kind"]: s for s in settings}
    assert by_kind["approved"]["channel"] == "email"
    assert by_kind["published"]["channel"] == "app"
    assert by_kind["lift_to_confirm"]["urgent"] is True

    changed = team.planner.put("/notifications/settings", json={"settings": {"approved": "off"}})
    assert changed.status_code == 200, changed.get_json()
    refused = team.head.put(
        "/notifications/settings", json={"settings": {"lift_to_confirm": "off", "nonsense": "app"}}
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["fields"]) == {"settings.lift_to_confirm", "settings.nonsense"}
    assert (
        team.head.put("/notifications/settings", json={"settings": {"x": "loud"}}).status_code
        == 422
    )

    post = in_review(team, team.channel())
    assert team.head.post(f"/posts/{post['id']}/approve").status_code == 200
    assert kinds(team, "planner") == []


def test_the_settings_form_on_the_notifications_page(team: Team) -> None:
    browser = signed_in(team, "planner")
    page = browser.get("/notifications")
    assert "Wie ich benachrichtigt werde" in page.get_data(as_text=True)
    saved = browser.post(
        "/notifications/settings",
        data={
            "csrf_token": csrf_token(browser, "/notifications"),
            "published": "off",
            "approved": "app",
        },
    )
    assert saved.status_code == 302
    by_kind = {
        s["kind"]: s["channel"]
        for s in team.planner.get("/notifications/settings").get_json()["items"]
    }
    assert (by_kind["published"], by_kind["approved"]) == ("off", "app")


def test_emails_wait_for_one_digest_per_person_and_hour_in_their_language(
    any_team: Team, mailbox: Mailbox
) -> None:
    config = mail_config(any_team.app, mailbox)
    channel = any_team.channel()
    first = in_review(any_team, channel)
    second = in_review(any_team, channel, title="Jubiläum")
    third = in_review(any_team, channel, title="Gelesen")
    for post in (first, second, third):
        assert any_team.head.post(f"/posts/{post['id']}/approve").status_code == 200
    read = [n["id"] for n in news(any_team, "planner") if "Gelesen" in n["subject"]]
    any_team.planner.post(f"/notifications/{read[0]}/read")
    db = get_db(any_team.app)

    assert send_digests(db, config) == []  # not an hour yet
    later = now_utc() + timedelta(hours=1, seconds=1)
    with ThreadPoolExecutor(2) as pool:  # two schedulers at once: one digest
        written = list(pool.map(lambda _: send_digests(db, config, clock=lambda: later), [1, 2]))
    assert sorted(written[0] + written[1]) == sorted(
        [any_team.ids[w] for w in ("planner", "head", "head2")]  # the heads: 3 waiting
    )
    send_outgoing(db, config)

    [digest] = mailbox.to("planner@example.org")
    assert digest["Subject"] == "2 Neuigkeiten zu Ihrer Arbeit"
    body = digest.get_content()
    assert "Ihr Beitrag „Puppenmuseum“ wurde freigegeben" in body
    assert "Ihr Beitrag „Jubiläum“ wurde freigegeben" in body
    assert "Gelesen" not in body  # already read in the app
    assert f"https://kal.example/posts/{first['id']}" in body
    assert send_digests(db, config, clock=lambda: later + timedelta(hours=2)) == []
    with db.transaction() as session:
        assert session.query(Notification).filter(Notification.mail_pending.is_(True)).count() == 0


def test_every_notice_has_its_german_words() -> None:
    with open(words.TRANSLATIONS / "de/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = read_po(handle)
    wanted = [notices.DIGEST_SUBJECT[0], *notices.CHANNEL_LABELS.values()]
    for notice in notices.CATALOGUE.values():
        wanted += [notice.label, notice.subject, notice.text]
    untranslated = [m for m in wanted if not (catalogue.get(m) and catalogue.get(m).string)]
    assert untranslated == []
    assert all(not catalogue.get(m).fuzzy for m in wanted)
