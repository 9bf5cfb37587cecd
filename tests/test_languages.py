"""German throughout: every word the app shows has its German line in the catalogue, refusals of
the rules answer in the language the request asks for, and the audit log names each action in
words — German for a German reader, English for an English one — with its filters and pages.

The API's machine fields (error codes, field names, the audit's action keys) never change with
the language; only the human text does. A request that names no language gets English, the
words of the contract (API.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select

from calendar_app import audit, words
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry, User
from calendar_app.timeutil import iso_utc, now_utc
from calendar_app.web import queries
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply
from tests.test_security import log_in

ROOT = Path(__file__).resolve().parent.parent
GERMAN = words.TRANSLATIONS / "de/LC_MESSAGES/messages.po"


# --- the catalogue ------------------------------------------------------------------------------


def _extract(target: Path) -> None:
    """The Makefile's `translations` extraction, into `target`."""
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            str(pybabel), "extract", "--no-location", "--sort-output", "--width=100",
            "-F", "babel.cfg", "-k", "_l", "-k", "_n:1,2", "-k", "lazy_gettext",
            "-o", str(target), ".",
        ],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def test_every_message_the_app_shows_has_its_german_words(tmp_path: Path) -> None:
    """Extracted from the code and the templates as `make translations` does: each message has a
    German line a person wrote (not empty, not one of pybabel's fuzzy guesses), each plural both
    forms. A message added without its German fails here, naming it."""
    _extract(tmp_path / "messages.pot")
    with (tmp_path / "messages.pot").open("rb") as handle:
        wanted = read_po(handle)
    with GERMAN.open("rb") as handle:
        german = read_po(handle)
    missing = []
    for message in wanted:
        if not message.id:
            continue
        line = german.get(message.id)
        forms = line.string if line is not None else ""
        forms = forms if isinstance(forms, tuple) else (forms,)
        if line is None or line.fuzzy or not all(forms):
            missing.append(message.id)
    assert missing == [], f"{len(missing)} messages have no German: {missing[:20]}"


def test_the_german_keeps_every_placeholder() -> None:
    """A German line that drops or renames a %(name)s would fail when someone reads it."""
    with GERMAN.open("rb") as handle:
        german = read_po(handle)
    placeholder = re.compile(r"%\((\w+)\)")
    broken = []
    for message in german:
        if not message.id or not message.string:
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        names = set(placeholder.findall(english[-1]))
        for form in forms:
            if not set(placeholder.findall(form)) <= names | set(placeholder.findall(english[0])):
                broken.append(english[0])
    assert broken == []


def _recorded_actions() -> set[str]:
    """Every action the code writes into the audit log (`audit.record(..., "action", ...)`, and
    the queue's own set-aside records)."""
    found = set()
    for path in (ROOT / "calendar_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            position = {"record": 2, "record_set_aside": 2}.get(name)
            if position is None or len(node.args) <= position:
                continue
            action = node.args[position]
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                found.add(action.value)
    return found


def test_every_audited_action_has_words_in_both_languages() -> None:
    actions = _recorded_actions()
    assert {"update_channel", "create_playbook", "declare_crisis", "hold", "missed"} <= actions
    assert actions - set(audit.ACTION_LABELS) == set()
    assert audit.action_label("update_channel", "de") == "Kanal geändert"
    assert audit.action_label("update_channel", "en") == "channel changed"
    assert audit.action_label("create_playbook", "de") == "Playbook angelegt"
    assert audit.action_label("no_such_action", "de") == "no_such_action"


def test_a_marked_message_is_english_until_someone_reads_it_in_german() -> None:
    refusal = words._l(
        "only a communications head or an admin may %(action)s", action=words._l("approve posts")
    )
    assert refusal == "only a communications head or an admin may approve posts"
    assert (
        refusal.in_locale("de")
        == "nur eine Kommunikationsleitung oder ein Admin darf Beiträge freigeben"
    )
    assert words.Text.from_stored(refusal.stored()).in_locale("de") == refusal.in_locale("de")
    one, three = (
        words._n(
            "Released one post at the new time.", "Released %(count)s posts at the new time.", n
        )
        for n in (1, 3)
    )
    assert one.in_locale("de") == "Ein Beitrag zur neuen Zeit freigegeben."
    assert three.in_locale("de") == "3 Beiträge zur neuen Zeit freigegeben."
    assert three == "Released 3 posts at the new time."  # fmt: skip


# --- refusals in the asker's language -----------------------------------------------------------


def _refusals(team: Team) -> list[tuple[str, Any, int, str, str]]:
    """(what, call, status, English, German): API calls the rules refuse."""
    channel = team.channel()["id"]
    draft = team.draft([channel])
    approved = team.scheduled([channel])
    return [
        (
            "a planner discards an approved post",
            lambda h: team.planner.post(f"/posts/{approved['id']}/discard", headers=h),
            403,
            "only a communications head or an admin may discard an approved post or one by "
            "someone else",
            "nur eine Kommunikationsleitung oder ein Admin darf einen freigegebenen oder "
            "fremden Beitrag verwerfen",
        ),
        (
            "a planner declares a crisis",
            lambda h: team.planner.post("/crisis", json={"reason": "Sturm"}, headers=h),
            403,
            "only a communications head or an admin may declare a crisis",
            "nur eine Kommunikationsleitung oder ein Admin darf eine Krise ausrufen",
        ),
        (
            "a head approves a draft",
            lambda h: team.head.post(f"/posts/{draft['id']}/approve", headers=h),
            409,
            "only a post in review can be approved; this post is a draft",
            "nur ein Beitrag in Prüfung kann freigegeben werden; dieser Beitrag ist ein Entwurf",
        ),
        (
            "a head lifts a crisis that is not there",
            lambda h: team.head.post("/crisis/lift", json={"note": "vorbei"}, headers=h),
            409,
            "no crisis is in force",
            "es gilt keine Krise",
        ),
        (
            "a post for an unknown id",
            lambda h: team.head.get("/posts/987654", headers=h),
            404,
            "post 987654 does not exist",
            "Beitrag 987654 gibt es nicht",
        ),
        (
            "a planner plans a post without text",
            lambda h: team.planner.post(
                "/posts",
                json={"body": " ", "channels": [channel], "publish_at": iso_utc(now_utc())},
                headers=h,
            ),
            422,
            "the post does not fit its channels: body must not be empty",
            "der Beitrag passt nicht zu seinen Kanälen: body darf nicht leer sein",
        ),
    ]


def test_refusals_answer_in_the_language_the_request_asks_for(team: Team) -> None:
    for what, call, status, english, german in _refusals(team):
        asked_german = call({"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
        assert asked_german.status_code == status, what
        assert asked_german.get_json()["error"] == german, what
        asked_english = call({"Accept-Language": "en-GB"})
        assert (asked_english.status_code, asked_english.get_json()["error"]) == (status, english)
        no_language = call({})
        assert no_language.get_json()["error"] == english, what  # the contract's words


def test_a_refused_field_is_named_by_its_key_and_explained_in_german(team: Team) -> None:
    channel = team.channel("X", network="x")["id"]
    refused = team.planner.post(
        "/posts",
        json={"body": "x" * 300, "channels": [channel], "publish_at": iso_utc(now_utc())},
        headers={"Accept-Language": "de"},
    )
    assert refused.status_code == 422
    problem = refused.get_json()["fields"]["body"]  # the key stays the API's
    assert problem.startswith("ist 300 Zeichen lang nach der Zählung von X")
    assert "erlaubt höchstens 280. Kürzen Sie den Text" in problem


def test_a_refusal_on_a_page_is_in_the_readers_language(team: Team) -> None:
    post = team.scheduled([team.channel()["id"]])
    browser = team.app.test_client()
    assert log_in(browser, "planner").status_code == 302
    page = browser.post(
        f"/posts/{post['id']}/discard",
        data={"csrf_token": _token(browser, f"/posts/{post['id']}")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "nur eine Kommunikationsleitung oder ein Admin darf einen freigegebenen" in page


def _token(browser: FlaskClient, path: str) -> str:
    found = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', browser.get(path).get_data(as_text=True)
    )
    assert found
    return found.group(1)


# --- the audit log -------------------------------------------------------------------------------


def _busy_day(team: Team) -> dict[str, Any]:
    channel = team.channel("Mastodon Konzern", network="mastodon")["id"]
    post = team.scheduled([channel])
    assert (
        team.head.patch(f"/posts/{post['id']}", json={"body": "Neu geschrieben."}).status_code
        == 200
    )
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    return post


def _signed_in(team: Team, who: str, locale: str) -> FlaskClient:
    with get_db(team.app).transaction() as session:
        session.get_one(User, team.ids[who]).locale = locale
    browser = team.app.test_client()
    assert log_in(browser, who).status_code == 302
    return browser


def test_the_audit_log_names_actions_in_the_readers_language(team: Team) -> None:
    post = _busy_day(team)
    german = _signed_in(team, "head", "de").get("/audit").get_data(as_text=True)
    for words_de in (
        "Krise ausgerufen",
        "freigegeben",
        "zur Freigabe eingereicht",
        "Kanal angelegt",
    ):
        assert words_de in german, words_de
    assert "nach der Freigabe bearbeitet" in german  # the app's own reason, in German
    assert ">declare_crisis<" not in german  # the key only as a tooltip
    english = _signed_in(team, "head2", "en").get("/audit").get_data(as_text=True)
    assert "crisis declared" in english
    assert "edited after approval" in english
    history = _signed_in(team, "admin", "de").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert "zurück in den Entwurf: <q>nach der Freigabe bearbeitet</q>" in history


def test_the_audit_log_filters_by_who_what_post_and_period(team: Team) -> None:
    post = _busy_day(team)
    browser = _signed_in(team, "head", "de")

    def rows(query: str) -> list[str]:
        page = browser.get("/audit" + query)
        assert page.status_code == 200, page.get_data(as_text=True)
        return re.findall(r'<span class="action" title="(\w+)">', page.get_data(as_text=True))

    assert rows("?action=declare_crisis") == ["declare_crisis"]
    assert set(rows(f"?who={team.ids['planner']}")) == {"submit"}
    assert set(rows(f"?post={post['id']}")) == {"submit", "approve", "edit", "send_back_to_draft"}
    assert rows("?who=system") == []  # nothing fell due yet
    today = now_utc().date()
    assert "declare_crisis" in rows(
        f"?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    )
    assert rows(f"?from={today + timedelta(days=2)}") == []
    assert browser.get("/audit?from=2026-13-01").status_code == 400
    assert browser.get("/audit?action=nonsense").status_code == 400
    assert "Keine Einträge passen zu diesen Filtern." in browser.get(
        f"/audit?from={today + timedelta(days=2)}"
    ).get_data(as_text=True)


def test_the_audit_log_pages_from_the_newest_back_without_gaps(team: Team) -> None:
    _busy_day(team)
    with get_db(team.app).transaction() as session:
        everything = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc())).all()
        seen, before = [], None
        while True:
            page = queries.audit_entries(session, before=before, limit=2)
            seen += [entry.id for entry in page.entries]
            if page.older is None:
                break
            before = page.older
        assert seen == list(everything)
        assert len(seen) > 4
    browser = _signed_in(team, "head", "en")
    first = browser.get("/audit").get_data(as_text=True)
    assert "Older entries" not in first  # fewer than a page
    older = browser.get(f"/audit?before={everything[1]}&action=").get_data(as_text=True)
    assert "Newest entries" in older


def test_a_notice_from_the_rules_reads_in_each_recipients_language(team: Team) -> None:
    start = now_utc() + timedelta(days=30)
    planned = team.head.post(
        "/blackouts",
        json={
            "name": "Jahrestag",
            "starts_at": iso_utc(start),
            "ends_at": iso_utc(start + timedelta(days=1)),
        },
    )
    assert planned.status_code == 201, planned.get_json()
    with get_db(team.app).transaction() as session:
        session.get_one(User, team.ids["planner2"]).locale = "en"
    [german] = team.planner.get("/notifications").get_json()["items"]
    [english] = team.planner2.get("/notifications").get_json()["items"]
    assert german["subject"] == "Sperrzeit geplant: Jahrestag"
    assert "geht nichts Geplantes hinaus, betroffen: alle Kanäle." in german["text"]
    assert english["subject"] == "Blackout planned: Jahrestag"


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_audit_filters_offer_every_action_in_words(team: Team, locale: str) -> None:
    page = _signed_in(team, "admin", locale).get("/audit").get_data(as_text=True)
    for key in audit.ACTION_LABELS:
        assert f'<option value="{key}">{audit.action_label(key, locale)}</option>' in page


def test_an_unreadable_query_parameter_is_explained_in_the_asked_language(team: Team) -> None:
    german = team.head.get("/posts?status=bald", headers={"Accept-Language": "de"})
    assert german.status_code == 422
    problem = german.get_json()["fields"]["status"]
    assert problem.startswith("muss eines davon sein: draft, in_review")
    english = team.head.get("/posts?status=bald")
    assert english.get_json()["fields"]["status"].startswith("must be one of draft, in_review")


def test_the_http_layers_own_answers_speak_the_asked_language(team: Team) -> None:
    """A missing token, an unknown address, a method an address does not take: in words, in the
    language asked for; English without one (the contract's words)."""
    client = team.app.test_client()
    german = {"Accept-Language": "de"}
    missing = client.get("/api/v1/posts", headers=german)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.get_json()["error"].startswith("Bearer-Token fehlt")
    revoked = client.get("/api/v1/posts", headers={**german, "Authorization": "Bearer nope"})
    assert revoked.get_json()["error"] == "ungültiges oder widerrufenes API-Token"
    assert client.get("/api/v1/posts").get_json()["error"].startswith("missing bearer token")

    nowhere = team.head.get("/nowhere", headers=german)
    assert (nowhere.status_code, nowhere.get_json()["error"]) == (
        404,
        "Unter dieser Adresse gibt es nichts.",
    )
    assert team.head.get("/nowhere").get_json()["error"] == "There is nothing at this address."
    wrong_method = team.head.put("/crisis", json={}, headers=german)
    assert wrong_method.status_code == 405
    assert "POST" in wrong_method.headers["Allow"]
    said = wrong_method.get_json()["error"]
    assert said.startswith("Diese Adresse nimmt kein PUT an; sie nimmt ")
    assert "POST" in said

    browser = _signed_in(team, "planner", "de")
    page = browser.get("/no-such-page")
    assert page.status_code == 404
    assert "Unter dieser Adresse gibt es nichts." in page.get_data(as_text=True)
    english = _signed_in(team, "head", "en").get("/no-such-page").get_data(as_text=True)
    assert "There is nothing at this address." in english


def test_why_a_send_failed_is_said_in_the_readers_language_and_kept_in_english_for_the_api(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    """The receiver answers 503 twice, then 400: the delivery's reason reads in German on the
    post page, while the API keeps the English words of the contract."""
    answers = iter([503, 503, 400])
    receiver.reply = lambda _r: Reply(next(answers))
    config = {"url": receiver.url, "secret": "s3cret"}
    channel = team.channel("Hook", kind="webhook", config=config)["id"]
    post = team.scheduled([channel], at=clock.now)
    dispatcher = make_dispatcher(team.app, clock=clock)
    dispatcher.run_pass()
    retrying = team.post(post["id"])["deliveries"][0]
    assert retrying["error"] == (
        "attempt 1 failed: receiver answered HTTP 503 Service Unavailable; retrying"
    )
    german = _signed_in(team, "planner", "de").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert (
        "Versuch 1 fehlgeschlagen: Empfänger antwortete mit HTTP 503 Service Unavailable; "
        "wird erneut versucht" in german
    )
    for _ in range(2):  # the second 503, then the 400
        clock.advance(minutes=1)
        dispatcher.run_pass()
    failed = team.post(post["id"])["deliveries"][0]
    assert failed["error"] == "receiver answered HTTP 400 Bad Request"
    german = _signed_in(team, "planner", "de").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert "Empfänger antwortete mit HTTP 400 Bad Request" in german
    english = _signed_in(team, "head", "en").get(f"/posts/{post['id']}").get_data(as_text=True)
    assert "receiver answered HTTP 400 Bad Request" in english


def test_an_error_whose_words_no_longer_match_it_is_shown_as_stored() -> None:
    """Whoever writes `error` without its words leaves them stale: the English stands."""
    kept = words._l("connection failed: %(problem)s", problem="reset").stored()
    assert words.said_again("connection failed: reset", kept).in_locale("de") == (  # type: ignore[union-attr]
        "Verbindung fehlgeschlagen: reset"
    )
    assert words.said_again("something else", kept) == "something else"
    assert words.said_again(None, kept) is None
    assert words.said_again("plain", None) == "plain"
