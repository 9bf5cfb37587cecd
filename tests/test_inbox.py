"""The inbox against a real Mastodon REST API on loopback (mastodon_mock from PyPI): a second
account mentions and answers ours on the server; the listener reads it into the inbox."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from calendar_app.extensions import get_db
from calendar_app.listening import inbox
from calendar_app.listening.listener import listen_once
from calendar_app.listening.mastodon import Heard
from calendar_app.listening.text import plain_text
from calendar_app.models import AuditEntry, InboxItem, ListenCursor, Notification
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.web import csrf_token, signed_in

_names = itertools.count(1)


@pytest.fixture(scope="session")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon_inbox")).start()
    yield server
    server.stop()


@pytest.fixture
def ours(mastodon_server: MastodonServer) -> MastodonAccount:
    return mastodon_server.new_account(f"stadtwerke{next(_names)}")


@pytest.fixture
def customer(mastodon_server: MastodonServer) -> MastodonAccount:
    return mastodon_server.new_account(f"kundin{next(_names)}")


def say(
    server: MastodonServer, who: MastodonAccount, text: str, *, reply_to: str | None = None
) -> dict[str, Any]:
    """A status written on the server by `who` (a mention when it names @someone)."""
    body: dict[str, Any] = {"status": text, "visibility": "public"}
    if reply_to is not None:
        body["in_reply_to_id"] = reply_to
    answer = httpx.post(
        f"{server.base_url}/api/v1/statuses",
        json=body,
        headers={"Authorization": f"Bearer {who.access_token}"},
    )
    answer.raise_for_status()
    return answer.json()


def listening_channel(team: Team, server: MastodonServer, account: MastodonAccount) -> int:
    channel = team.channel(
        f"Mastodon {account.username}",
        kind="mastodon",
        network="mastodon",
        config={"base_url": server.base_url, "access_token": account.access_token},
    )
    return channel["id"]


def listen(team: Team, make_dispatcher: Any) -> Any:
    dispatcher = make_dispatcher(team.app)
    return listen_once(get_db(team.app), dispatcher.publishers)


def items(team: Team, who: str = "head", **filters: Any) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    response = getattr(team, who).get("/inbox" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def department(team: Team, name: str) -> int:
    response = team.admin.post("/departments", json={"name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def stored_count(team: Team) -> int:
    with get_db(team.app).transaction() as session:
        return session.scalar(select(func.count()).select_from(InboxItem)) or 0


# --- arriving ------------------------------------------------------------------------------------


def test_mentions_and_replies_from_a_second_account_arrive_once(
    any_team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    channel_id = listening_channel(any_team, mastodon_server, ours)
    our_post = mastodon_server.post_status(ours, "Heute Tag der offenen Tür im Wasserwerk!")
    say(mastodon_server, customer, f"@{ours.username} Wann kommt meine Rechnung? <b>&</b>")
    reply = say(
        mastodon_server, customer, f"@{ours.username} Toll, wir kommen!", reply_to=our_post["id"]
    )
    say(mastodon_server, customer, "Nur so, ohne Erwähnung")

    first = listen(any_team, make_dispatcher)
    again = listen(any_team, make_dispatcher)

    assert len(first.stored) == 2
    assert first.errors == {}
    assert again.stored == []
    inbox = items(any_team)
    assert [i["kind"] for i in inbox] == ["reply", "mention"]
    answered, asked = inbox
    assert answered["text"] == f"@{ours.username} Toll, wir kommen!"
    assert answered["in_reply_to"] == our_post["id"]
    assert answered["url"] == reply["url"]
    assert answered["channel_id"] == channel_id
    assert answered["status"] == "new"
    assert asked["text"] == f"@{ours.username} Wann kommt meine Rechnung? <b>&</b>"
    assert asked["author"]["handle"].startswith(f"@{customer.username}@")
    assert asked["author"]["name"]
    assert asked["received_at"].endswith(("Z", "+00:00"))


def test_two_listeners_at_once_store_each_item_once_and_a_restart_goes_on_from_the_cursor(
    any_team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    listening_channel(any_team, mastodon_server, ours)
    for i in range(45):  # more than one page
        say(mastodon_server, customer, f"@{ours.username} Frage Nummer {i}")
    first, second = make_dispatcher(any_team.app), make_dispatcher(any_team.app)
    db = get_db(any_team.app)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(
            pool.map(lambda d: listen_once(db, d.publishers), [first, second], timeout=60)
        )
    assert all(r.errors == {} for r in reports)
    stored = [i for r in reports for i in r.stored]
    assert len(stored) == len(set(stored)) == 45
    assert stored_count(any_team) == 45

    # A restart: the cursor is in the database. An item removed from our side is not read
    # again, because the listener goes on after the newest one it read.
    with db.transaction() as session:
        session.execute(delete(InboxItem).where(InboxItem.text.endswith("Nummer 0")))
        [cursor] = session.scalars(select(ListenCursor)).all()
        assert cursor.source == "notifications"
    say(mastodon_server, customer, f"@{ours.username} Noch eine Frage")
    restarted = listen(any_team, make_dispatcher)
    assert len(restarted.stored) == 1
    assert stored_count(any_team) == 45
    assert items(any_team)[0]["text"].endswith("Noch eine Frage")


def test_watched_hashtags_come_into_the_channels_inbox(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    channel_id = listening_channel(team, mastodon_server, ours)
    tag = f"wasserwerk{next(_names)}"
    assert (
        team.planner.put(f"/channels/{channel_id}/hashtags", json={"tags": [tag]}).status_code
        == 403
    )
    set_tags = team.admin.put(
        f"/channels/{channel_id}/hashtags", json={"tags": [f"#{tag.title()}"]}
    )
    assert set_tags.get_json() == {"channel_id": channel_id, "tags": [tag]}
    say(mastodon_server, customer, f"Das #{tag} ist heute offen?")
    mastodon_server.post_status(ours, f"Ja, das #{tag} ist offen")  # our own: not in the inbox

    listen(team, make_dispatcher)

    [item] = items(team)
    assert item["text"] == f"Das #{tag} ist heute offen?"
    assert item["kind"] == "hashtag"


def test_watched_search_terms_come_in_as_whole_words_and_are_set_by_admins(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    channel_id = listening_channel(team, mastodon_server, ours)
    word = f"Umspannwerk{next(_names)}"
    path = f"/channels/{channel_id}/terms"
    assert team.planner.put(path, json={"terms": [word]}).status_code == 403
    too_long = team.admin.put(path, json={"terms": ["x" * 101]})
    assert too_long.status_code in (400, 422)
    assert "terms" in str(too_long.get_json()["fields"])
    made = team.admin.put(path, json={"terms": [f"  {word.upper()} ", word]})
    assert made.get_json() == {"channel_id": channel_id, "terms": [word.lower()]}
    assert team.planner.get(path).get_json()["terms"] == [word.lower()]
    say(mastodon_server, customer, f"Am {word} brennt Licht, die ganze Nacht!")
    say(mastodon_server, customer, f"Der {word}sverband tagt")  # not the word itself
    mastodon_server.post_status(ours, f"Das {word} wird erneuert")  # our own: not in the inbox

    first = listen(team, make_dispatcher)
    again = listen(team, make_dispatcher)

    assert first.errors == {}
    assert len(first.stored) == 1
    assert again.stored == []
    [item] = items(team)
    assert item["kind"] == "term"
    assert item["text"] == f"Am {word} brennt Licht, die ganze Nacht!"
    assert item["author"]["handle"].startswith(f"@{customer.username}@")
    with get_db(team.app).transaction() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "watch_terms")
        ).all()
        assert entry.detail["terms"] == [word.lower()]


def test_a_revoked_token_is_reported_and_other_channels_still_listen(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    other = mastodon_server.new_account(f"presse{next(_names)}")
    broken = listening_channel(team, mastodon_server, other)
    listening_channel(team, mastodon_server, ours)
    mastodon_server.revoke(other.access_token)
    say(mastodon_server, customer, f"@{ours.username} Hallo")

    report = listen(team, make_dispatcher)

    assert "revoked" in report.errors[broken]
    assert len(report.stored) == 1


def test_mastodon_html_becomes_plain_text() -> None:
    html = (
        '<p>Hallo <span class="h-card"><a href="https://x/@a">@<span>a</span></a></span> '
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; mehr</p><p>Zeile<br>zwei</p>"
        "<script>boese()</script>"
    )
    assert plain_text(html) == "Hallo @a <script>alert(1)</script> & mehr\n\nZeile\nzwei"


# --- routing, assigning, filtering, who sees what -------------------------------------------------


def test_routing_rules_assign_on_arrival_and_a_handover_with_a_note_tells_the_assignee(
    any_team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    team = any_team
    service = department(team, "Kundenservice")
    press = department(team, "Presse und PR")
    assert (
        team.planner.post(
            "/inbox/rules", json={"keyword": "Rechnung", "department_id": service}
        ).status_code
        == 403
    )
    for word, dept in (("Rechnung", service), ("Zähler", service), ("Presse", press)):
        made = team.admin.post("/inbox/rules", json={"keyword": word, "department_id": dept})
        assert made.status_code == 201, made.get_json()
    assert [r["keyword"] for r in team.head.get("/inbox/rules").get_json()["items"]] == [
        "rechnung", "zähler", "presse",
    ]  # fmt: skip
    # planner works in customer service, planner2 in PR
    team.admin.put(f"/users/{team.ids['planner']}/departments", json={"departments": [service]})
    team.admin.put(f"/users/{team.ids['planner2']}/departments", json={"departments": [press]})
    channel_id = listening_channel(team, mastodon_server, ours)
    say(mastodon_server, customer, f"@{ours.username} Meine STROMRECHNUNG ist falsch")
    say(mastodon_server, customer, f"@{ours.username} Anfrage der Presse: ein Interview?")
    say(mastodon_server, customer, f"@{ours.username} Schönes Wetter heute")
    listen(team, make_dispatcher)

    by_text = {i["text"].split(" ", 1)[1]: i for i in items(team)}
    bill = by_text["Meine STROMRECHNUNG ist falsch"]
    assert bill["status"] == "assigned"
    assert bill["department"]["id"] == service
    assert by_text["Anfrage der Presse: ein Interview?"]["department"]["id"] == press
    weather = by_text["Schönes Wetter heute"]
    assert weather["status"] == "new"
    assert weather["department"] is None

    # Who sees what: a planner their departments' items and the unrouted ones; heads all.
    assert {i["id"] for i in items(team, "planner")} == {bill["id"], weather["id"]}
    assert len(items(team, "planner2")) == 2
    assert len(items(team, "head")) == 3
    assert (
        team.planner.get(
            f"/inbox/{by_text['Anfrage der Presse: ein Interview?']['id']}"
        ).status_code
        == 404
    )

    # Customer service hands the bill to PR's planner2 with a note; planner2 is told.
    handed = team.planner.post(
        f"/inbox/{bill['id']}/assign",
        json={"assignee_id": team.ids["planner2"], "note": "Bitte mit der Presse klären"},
    )
    assert handed.status_code == 200, handed.get_json()
    assert handed.get_json()["assignee"]["id"] == team.ids["planner2"]
    assert handed.get_json()["note"] == "Bitte mit der Presse klären"
    with get_db(team.app).transaction() as session:
        [note] = session.scalars(
            select(Notification).where(Notification.user_id == team.ids["planner2"])
        ).all()
        assert note.kind == "inbox"
        assert "Bitte mit der Presse klären" in note.text
        assert "STROMRECHNUNG" in note.text

    # Filters
    assert [i["id"] for i in items(team, assignee=team.ids["planner2"])] == [bill["id"]]
    assert {i["id"] for i in items(team, status="new")} == {weather["id"]}
    assert len(items(team, department=service)) == 1
    assert len(items(team, channel=channel_id)) == 3
    assert items(team, channel=channel_id + 1000) == []
    bad = team.head.get("/inbox?status=gelesen")
    assert bad.status_code in (400, 422)
    assert "status" in bad.get_json()["fields"]

    # Closing
    closed = team.planner2.post(f"/inbox/{bill['id']}/close")
    assert closed.get_json()["status"] == "closed"
    assert team.planner2.post(f"/inbox/{bill['id']}/close").status_code == 200
    assert (
        team.head.post(f"/inbox/{bill['id']}/assign", json={"department_id": service}).status_code
        == 409
    )


def test_assigning_needs_a_department_or_a_person_that_exists(team: Team) -> None:
    channel_id = team.channel()["id"]
    with get_db(team.app).transaction() as session:
        [item_id] = inbox.store(
            session,
            channel_id,
            [Heard("1", "mention", "@a@x", "A", "Hallo", None, None, now_utc())],
        )
    assert team.head.post(f"/inbox/{item_id}/assign", json={}).status_code == 422
    unknown = team.head.post(f"/inbox/{item_id}/assign", json={"assignee_id": 999999})
    assert unknown.status_code == 422
    assert "assignee_id" in unknown.get_json()["fields"]
    assert team.head.post("/inbox/999999/assign", json={"department_id": 1}).status_code == 404
    assert team.anonymous.get("/inbox").status_code == 401


# --- the page ------------------------------------------------------------------------------------


def test_the_inbox_page_filters_hands_over_with_a_note_and_closes(team: Team) -> None:
    channel_id = team.channel("Mastodon Stadtwerke")["id"]
    service = department(team, "Kundenservice")
    with get_db(team.app).transaction() as session:
        first, second = inbox.store(
            session,
            channel_id,
            [
                Heard(
                    "1",
                    "mention",
                    "@kundin@x",
                    "Kundin",
                    "Mein <Zähler> spinnt",
                    None,
                    None,
                    now_utc(),
                ),
                Heard("2", "reply", "@fan@x", "Fan", "Schön!", "9", None, now_utc()),
            ],
        )
    browser = signed_in(team, "head")
    page = browser.get("/inbox").get_data(as_text=True)
    assert "Mein &lt;Zähler&gt; spinnt" in page  # text, never markup
    assert 'href="/inbox"' in page  # in the side navigation
    assert "Schön!" in browser.get(f"/inbox?status=new&channel={channel_id}").get_data(as_text=True)
    token = csrf_token(browser, "/inbox")
    handed = browser.post(
        f"/inbox/{first}/assign",
        data={
            "csrf_token": token,
            "department_id": str(service),
            "assignee_id": str(team.ids["planner"]),
            "note": "Bitte zurückrufen",
        },
    )
    assert handed.status_code == 302
    [item] = items(team, assignee=team.ids["planner"])
    assert item["note"] == "Bitte zurückrufen"
    assert item["department"]["id"] == service
    replied = browser.post(
        f"/inbox/{first}/reply", data={"csrf_token": token, "body": "@kundin@x Wir rufen an."}
    )
    assert replied.status_code == 302
    assert team.head.get(f"/inbox/{first}").get_json()["status"] == "answered"
    closed = browser.post(f"/inbox/{second}/close", data={"csrf_token": token})
    assert closed.status_code == 302
    assert [i["id"] for i in items(team, status="closed")] == [second]
    filtered = browser.get(f"/inbox?assignee={team.ids['planner']}").get_data(as_text=True)
    assert "Bitte zurückrufen" in filtered
    assert "Schön!" not in filtered
    german = signed_in(team, "planner")
    german.post("/language", data={"csrf_token": csrf_token(german, "/inbox"), "locale": "de"})
    assert "Posteingang" in german.get("/inbox").get_data(as_text=True)
    assert browser.get("/inbox?status=unsinn").status_code in (400, 422)


# --- replying ------------------------------------------------------------------------------------


def test_a_reply_from_the_inbox_appears_on_the_server_as_a_reply_to_the_right_status(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    listening_channel(team, mastodon_server, ours)
    question = say(mastodon_server, customer, f"@{ours.username} Wann kommt der Techniker?")
    listen(team, make_dispatcher)
    [item] = items(team)
    answer = f"@{customer.username} Morgen zwischen 8 und 12 Uhr."

    written = team.planner.post(f"/inbox/{item['id']}/reply", json={"body": answer})

    assert written.status_code == 201, written.get_json()
    post = written.get_json()
    assert post["status"] == "in_review"  # a planner's reply waits for a head, like any post
    assert team.head.get(f"/inbox/{item['id']}").get_json()["status"] == "answered"
    assert team.head.post(f"/posts/{post['id']}/approve").status_code == 200
    make_dispatcher(team.app).run_pass()
    [status] = mastodon_server.statuses(ours)
    assert status["in_reply_to_id"] == question["id"]
    assert mastodon_server.source_text(status["id"]) == answer
    assert team.post(post["id"])["status"] == "published"


def test_a_reply_is_held_by_a_crisis_like_any_post_and_checked_like_one(
    team: Team,
    mastodon_server: MastodonServer,
    ours: MastodonAccount,
    customer: MastodonAccount,
    make_dispatcher: Any,
) -> None:
    listening_channel(team, mastodon_server, ours)
    say(mastodon_server, customer, f"@{ours.username} Skandal!")
    listen(team, make_dispatcher)
    [item] = items(team)
    too_long = team.planner.post(f"/inbox/{item['id']}/reply", json={"body": "x" * 600})
    assert too_long.status_code == 422
    assert team.planner.post(f"/inbox/{item['id']}/reply", json={"body": ""}).status_code == 422
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    post = team.planner.post(f"/inbox/{item['id']}/reply", json={"body": "Wir prüfen das."})
    assert team.head.post(f"/posts/{post.get_json()['id']}/approve").status_code == 200
    make_dispatcher(team.app).run_pass()
    assert team.post(post.get_json()["id"])["status"] == "held"
    assert mastodon_server.statuses(ours) == []


def test_admins_set_a_channels_hashtags_and_search_terms_on_the_inbox_page(team: Team) -> None:
    channel = team.channel(
        "Mastodon Stadtwerke",
        kind="mastodon",
        network="mastodon",
        config={"base_url": "http://127.0.0.1:9", "access_token": "t"},
    )
    admin = signed_in(team, "admin")
    page = admin.get("/inbox").get_data(as_text=True)
    assert f'id="watching-{channel["id"]}"' in page
    assert 'id="watching"' not in signed_in(team, "planner").get("/inbox").get_data(as_text=True)

    saved = admin.post(
        f"/inbox/channels/{channel['id']}/watching",
        data={
            "csrf_token": csrf_token(admin, "/inbox"),
            "tags": "#Wasserwerk, hafenfest",
            "terms": "Stromausfall,\nHotline",
        },
    )

    assert saved.status_code == 302
    assert team.head.get(f"/channels/{channel['id']}/hashtags").get_json()["tags"] == [
        "hafenfest",
        "wasserwerk",
    ]
    assert team.head.get(f"/channels/{channel['id']}/terms").get_json()["terms"] == [
        "hotline",
        "stromausfall",
    ]
    shown = admin.get("/inbox").get_data(as_text=True)
    assert 'value="hotline, stromausfall"' in shown
