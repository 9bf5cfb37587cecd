"""Notifications: in the app always, by e-mail through a real SMTP server on loopback when one is
configured, and to a chat webhook (the real receiver); sent after the deciding transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask import Flask

from calendar_app.accounts import user_by_email
from calendar_app.extensions import get_db
from calendar_app.models import OutgoingMessage, OutgoingStatus
from calendar_app.notifications import (
    EMAIL,
    MAX_SUBJECT_LENGTH,
    SENDING_LEASE,
    announce,
    clean_subject,
    email,
    notify,
    send_outgoing,
)
from tests.conftest import PASSWORD, Clock, Team
from tests.support.mailbox import Mailbox
from tests.support.receiver import Receiver, Reply
from tests.support.web import csrf_token


def tell(app: Flask, *names: str, subject: str = "Kanal verwaist", link: str | None = None) -> None:
    with get_db(app).transaction() as session:
        users = [user_by_email(session, f"{name}@example.org") for name in names]
        notify(
            session,
            [u for u in users if u is not None],
            kind="test",
            subject=subject,
            text="Seit 30 Tagen nichts auf Instagram.",
            link=link,
        )


def outgoing(app: Flask) -> list[OutgoingMessage]:
    with get_db(app).transaction() as session:
        return list(session.query(OutgoingMessage).order_by(OutgoingMessage.id))


def with_settings(app: Flask, **settings: Any) -> Any:
    return replace(app.config["CALENDAR"], **settings)


def test_a_notification_is_shown_to_its_user_only_and_can_be_marked_read(team: Team) -> None:
    tell(team.app, "planner", "planner", link="/crisis")  # listed twice, told once

    mine = team.planner.get("/notifications").get_json()
    assert mine["unread"] == 1
    [note] = mine["items"]
    assert note["subject"] == "Kanal verwaist"
    assert note["link"] == "/crisis"
    assert note["read_at"] is None
    assert team.planner2.get("/notifications").get_json() == {"items": [], "unread": 0}

    assert team.planner2.post(f"/notifications/{note['id']}/read").status_code == 404
    read = team.planner.post(f"/notifications/{note['id']}/read")
    assert read.status_code == 200
    assert read.get_json()["read_at"] is not None
    assert team.planner.get("/notifications?unread=true").get_json() == {"items": [], "unread": 0}
    assert team.planner.get("/notifications?unread=maybe").status_code == 422


def test_mark_all_read(team: Team) -> None:
    tell(team.app, "head", subject="eins")
    tell(team.app, "head", subject="zwei")
    assert team.head.get("/notifications").get_json()["unread"] == 2
    assert team.head.post("/notifications/read").get_json() == {"unread": 0}


def test_email_goes_through_smtp_after_the_transaction(team: Team, mailbox: Mailbox) -> None:
    config = with_settings(
        team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, BASE_URL="https://kal.example"
    )
    tell(team.app, "head", "head2", link="/crisis")
    assert mailbox.messages == []  # deciding to tell sends nothing yet

    report = send_outgoing(get_db(team.app), config)

    assert len(report.sent) == 2
    [mail] = mailbox.to("head@example.org")
    assert mail["Subject"] == "Kanal verwaist"
    assert "Seit 30 Tagen nichts auf Instagram." in mail.get_content()
    assert "https://kal.example/crisis" in mail.get_content()
    assert len(mailbox.to("head2@example.org")) == 1
    # Sent once: a second run finds nothing to do.
    assert send_outgoing(get_db(team.app), config).sent == []
    assert len(mailbox.messages) == 2


def test_a_rolled_back_decision_mails_nobody(team: Team, mailbox: Mailbox) -> None:
    config = with_settings(team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port)

    def decide_then_fail() -> None:
        with get_db(team.app).transaction() as session:
            head = user_by_email(session, "head@example.org")
            assert head is not None
            notify(session, [head], kind="test", subject="nie", text="nie")
            raise RuntimeError("the decision fails")

    with pytest.raises(RuntimeError):
        decide_then_fail()
    send_outgoing(get_db(team.app), config)
    assert mailbox.messages == []
    assert team.head.get("/notifications").get_json()["unread"] == 0


def test_without_smtp_email_is_off_and_in_app_still_works(team: Team) -> None:
    tell(team.app, "head")
    report = send_outgoing(get_db(team.app), team.app.config["CALENDAR"])
    assert len(report.off) == 1
    assert [m.status for m in outgoing(team.app)] == [OutgoingStatus.OFF]
    assert team.head.get("/notifications").get_json()["unread"] == 1


def test_a_refusing_mail_server_is_retried_with_backoff_then_failed(
    team: Team, mailbox: Mailbox, clock: Clock
) -> None:
    config = with_settings(
        team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, OUTGOING_MAX_ATTEMPTS=3
    )
    mailbox.refuse = True
    tell(team.app, "head")
    clock.advance(seconds=1)  # the clock was made before the message
    db = get_db(team.app)

    assert len(send_outgoing(db, config, clock=clock).retried) == 1
    assert send_outgoing(db, config, clock=clock).retried == []  # not due again yet
    clock.advance(seconds=31)
    assert len(send_outgoing(db, config, clock=clock).retried) == 1
    clock.advance(minutes=2)
    assert len(send_outgoing(db, config, clock=clock).failed) == 1
    [message] = outgoing(team.app)
    assert message.status == OutgoingStatus.FAILED
    assert message.attempts == 3
    assert "451" in (message.error or "")


def queue_raw(app: Flask, **fields: Any) -> int:
    """A message as it may sit in the queue (written by an older version, or by a bug)."""
    with get_db(app).transaction() as session:
        message = OutgoingMessage(transport=EMAIL, body="Text", **fields)
        session.add(message)
        session.flush()
        return message.id


def test_poison_messages_never_block_the_queue_and_escalations_go_first(
    team: Team, mailbox: Mailbox, clock: Clock
) -> None:
    config = with_settings(
        team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, OUTGOING_MAX_ATTEMPTS=2
    )
    mailbox.refused_recipients.add("niemand@example.org")
    # First in line: a subject of two lines (a post without a title, a body of two lines), a
    # recipient that would smuggle in a header, an address the server refuses.
    two_lines = queue_raw(
        team.app, recipient="head@example.org", subject="Zeile eins\r\nZeile zwei"
    )
    smuggler = queue_raw(
        team.app, recipient="planner@example.org\nBcc: spion@example.org", subject="Hallo"
    )
    refused = queue_raw(team.app, recipient="niemand@example.org", subject="Abgelehnt")
    plain = queue_raw(team.app, recipient="head2@example.org", subject="Kanal verwaist")
    with get_db(team.app).transaction() as session:
        escalation = email(
            session,
            recipient="werkleitung@example.org",
            subject="Krise ausgerufen: Störfall\nim Heizkraftwerk",
            text="Bitte bestätigen.",
            urgent=True,
        ).id
    clock.advance(seconds=1)
    db = get_db(team.app)

    report = send_outgoing(db, config, clock=clock)  # one pass

    assert mailbox.order()[0] == "werkleitung@example.org", "the escalation goes first"
    assert set(mailbox.order()) == {
        "werkleitung@example.org",
        "head@example.org",
        "head2@example.org",
    }
    [alarm] = mailbox.to("werkleitung@example.org")
    assert alarm["Subject"] == "Krise ausgerufen: Störfall im Heizkraftwerk"
    assert mailbox.to("head@example.org")[0]["Subject"] == "Zeile eins Zeile zwei"
    assert sorted(report.sent) == sorted([escalation, two_lines, plain])
    assert report.retried == [smuggler]
    assert report.failed == [refused], "a 550 is final: no point in asking again"
    by_id = {m.id: m for m in outgoing(team.app)}
    assert "550" in (by_id[refused].error or "")
    assert "ValueError" in (by_id[smuggler].error or "")
    assert by_id[smuggler].status == OutgoingStatus.PENDING

    clock.advance(minutes=1)
    assert send_outgoing(db, config, clock=clock).failed == [smuggler]
    message = {m.id: m for m in outgoing(team.app)}[smuggler]
    assert (message.status, message.attempts) == (OutgoingStatus.FAILED, 2)
    assert mailbox.to("spion@example.org") == []


def test_a_message_whose_sender_died_comes_back_after_the_lease_and_not_forever(
    team: Team, mailbox: Mailbox, clock: Clock
) -> None:
    config = with_settings(
        team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port, OUTGOING_MAX_ATTEMPTS=2
    )
    db = get_db(team.app)
    stuck = dict(status=OutgoingStatus.SENDING, claimed_at=clock.now)
    once = queue_raw(team.app, recipient="head@example.org", subject="Einmal", attempts=1, **stuck)
    twice = queue_raw(
        team.app, recipient="head2@example.org", subject="Zweimal", attempts=2, **stuck
    )

    assert send_outgoing(db, config, clock=clock).sent == []  # within the lease: still sending
    clock.advance(seconds=SENDING_LEASE.total_seconds() + 1)
    send_outgoing(db, config, clock=clock)
    by_id = {m.id: m for m in outgoing(team.app)}
    assert by_id[twice].status == OutgoingStatus.FAILED, "its tries are used up"
    assert "stopped while sending" in (by_id[twice].error or "")
    assert by_id[once].status == OutgoingStatus.PENDING  # back, after a backoff
    clock.advance(minutes=1)
    assert send_outgoing(db, config, clock=clock).sent == [once]
    assert mailbox.order() == ["head@example.org"]


def test_subjects_are_one_line_and_capped() -> None:
    assert clean_subject("Zeile eins\r\nZeile zwei\u2028drei\x00") == "Zeile eins Zeile zwei drei"
    long = clean_subject("Wort " * 100)
    assert len(long) == MAX_SUBJECT_LENGTH
    assert long.endswith("…")
    assert clean_subject(" \n ") == "calendar_app"


def test_a_mail_server_that_comes_back_gets_the_mail(
    team: Team, mailbox: Mailbox, clock: Clock
) -> None:
    config = with_settings(team.app, SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port)
    mailbox.refuse = True
    tell(team.app, "head")
    clock.advance(seconds=1)
    send_outgoing(get_db(team.app), config, clock=clock)
    mailbox.refuse = False
    clock.advance(minutes=1)
    assert len(send_outgoing(get_db(team.app), config, clock=clock).sent) == 1
    assert len(mailbox.to("head@example.org")) == 1


def test_chat_announcement_goes_to_the_webhook(team: Team, receiver: Receiver) -> None:
    config = with_settings(
        team.app, CHAT_WEBHOOK_URL=receiver.url + "/chat", BASE_URL="https://kal.example"
    )
    with get_db(team.app).transaction() as session:
        announce(session, subject="Krise ausgerufen", text="Störfall im Werk", link="/crisis")
    report = send_outgoing(get_db(team.app), config)
    assert len(report.sent) == 1
    [message] = receiver.bodies()
    assert "Krise ausgerufen" in message["text"]
    assert "Störfall im Werk" in message["text"]
    assert "https://kal.example/crisis" in message["text"]


def test_a_failing_chat_webhook_is_retried(team: Team, receiver: Receiver, clock: Clock) -> None:
    config = with_settings(team.app, CHAT_WEBHOOK_URL=receiver.url)
    receiver.reply = lambda _r: Reply(status=503)
    with get_db(team.app).transaction() as session:
        announce(session, subject="Krise", text="x")
    clock.advance(seconds=1)
    report = send_outgoing(get_db(team.app), config, clock=clock)
    assert len(report.retried) == 1
    assert "503" in (outgoing(team.app)[0].error or "")


def test_notifications_page_lists_escapes_and_opens(team: Team) -> None:
    tell(team.app, "planner", subject="<script>alert(1)</script>", link="/crisis")
    client = team.app.test_client()
    login = client.post(
        "/login",
        data={
            "email": "planner@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert login.status_code in (302, 303)
    home = client.get("/")
    assert b'id="notifications-link"' in home.data
    page = client.get("/notifications")
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.data
    assert b"&lt;script&gt;" in page.data
    assert b'<span class="count"' in page.data  # one unread, in the menu

    note_id = team.planner.get("/notifications").get_json()["items"][0]["id"]
    opened = client.post(
        f"/notifications/{note_id}/read", data={"csrf_token": csrf_token(client, "/notifications")}
    )
    assert opened.status_code == 302
    assert opened.location == "/crisis"
    assert team.planner.get("/notifications").get_json()["unread"] == 0
    forged = client.post(f"/notifications/{note_id}/read")  # no CSRF token
    assert forged.status_code == 400
