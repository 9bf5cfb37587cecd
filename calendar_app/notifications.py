"""Telling people: in-app notifications, e-mail through SMTP, and a chat incoming webhook.

Deciding to tell someone and telling them are two steps. `notify()` and `announce()` run inside
the transaction that decided (a mention, a graveyard alert, a crisis escalation): they write the
in-app notification and put the e-mail or chat message into the `outgoing_messages` table. The
scheduler's `send_outgoing()` sends what is waiting afterwards, with a few retries. So a decision
that is rolled back mails nobody, and a slow mail server never holds a transaction open.

E-mail and chat are sent at least once: a scheduler that dies mid-send leaves the message
`sending`; after SENDING_LEASE it is tried again. An occasional duplicate e-mail is better than a
lost crisis alert.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from calendar_app import outbound
from calendar_app.db import Database
from calendar_app.errors import NotFound
from calendar_app.models import Notification, OutgoingMessage, OutgoingStatus, User
from calendar_app.outbound import OutboundPolicy, status_reason
from calendar_app.timeutil import now_utc
from config import Config

log = logging.getLogger(__name__)

EMAIL = "email"
CHAT = "chat"
BATCH_SIZE = 50
SEND_TIMEOUT_SECONDS = 10.0
USER_AGENT = "calendar_app-notify/1"
SENDING_LEASE = timedelta(minutes=5)
MAX_BACKOFF = timedelta(minutes=30)


# --- deciding to tell ------------------------------------------------------------------------


def notify(
    session: Session,
    users: Iterable[User],
    *,
    kind: str,
    subject: str,
    text: str,
    link: str | None = None,
) -> list[Notification]:
    """Tell each user (once, however often they are listed): in the app, and by e-mail."""
    notes = []
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        note = Notification(user=user, kind=kind, subject=subject[:200], text=text, link=link)
        session.add(note)
        session.flush()
        session.add(
            OutgoingMessage(
                transport=EMAIL,
                recipient=user.email,
                subject=subject[:200],
                body=text,
                link=link,
                notification_id=note.id,
            )
        )
        notes.append(note)
    session.flush()
    return notes


def email(
    session: Session, *, recipient: str, subject: str, text: str, link: str | None = None
) -> OutgoingMessage:
    """An e-mail to someone who is not a user of the app (e.g. on a crisis escalation list)."""
    message = OutgoingMessage(
        transport=EMAIL, recipient=recipient, subject=subject[:200], body=text, link=link
    )
    session.add(message)
    session.flush()
    return message


def announce(session: Session, *, subject: str, text: str, link: str | None = None) -> None:
    """Post a message to the team's chat (when a chat webhook is configured)."""
    session.add(
        OutgoingMessage(transport=CHAT, recipient=None, subject=subject[:200], body=text, link=link)
    )
    session.flush()


# --- reading and marking ---------------------------------------------------------------------


def notifications_for(
    session: Session, user: User, *, unread_only: bool = False, limit: int = 100
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return session.scalars(query).all()


def unread_count(session: Session, user: User) -> int:
    query = select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the user's own notifications read (others' are not found, not forbidden)."""
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound(f"There is no notification {notification_id}.")
    if note.read_at is None:
        note.read_at = now_utc()
        session.flush()
    return note


def mark_all_read(session: Session, user: User) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now_utc())
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- sending what waits ------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    off: list[int] = field(default_factory=list)


class SendError(Exception):
    """The mail server or chat webhook did not take the message; worth trying again."""


def _absolute(config: Config, link: str | None) -> str | None:
    if not link:
        return None
    return link if "://" in link else f"{config.BASE_URL}{link}"


def _text_with_link(config: Config, message: OutgoingMessage) -> str:
    url = _absolute(config, message.link)
    return f"{message.body}\n\n{url}" if url else message.body


def send_email(config: Config, message: OutgoingMessage) -> None:
    mail = EmailMessage()
    mail["From"] = config.MAIL_FROM
    mail["To"] = message.recipient or ""
    mail["Subject"] = message.subject
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(_text_with_link(config, message))
    assert config.SMTP_HOST is not None
    try:
        with smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if config.SMTP_STARTTLS:
                smtp.starttls()
            if config.SMTP_USERNAME:
                smtp.login(config.SMTP_USERNAME, config.SMTP_PASSWORD or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"SMTP {config.SMTP_HOST}:{config.SMTP_PORT}: {exc}") from exc


def send_chat(config: Config, message: OutgoingMessage) -> None:
    text = f"*{message.subject}*\n{_text_with_link(config, message)}"
    url = config.CHAT_WEBHOOK_URL
    assert url is not None
    # The operator set this URL in the environment (not an admin in the app): its host is
    # allowed even when internal; anything it redirects to is not followed.
    policy = OutboundPolicy.from_config(config).allowing(httpx.URL(url).host)
    try:
        with (
            outbound.make_client(
                policy, user_agent=USER_AGENT, timeout=SEND_TIMEOUT_SECONDS
            ) as client,
            outbound.deadline(time.monotonic() + SEND_TIMEOUT_SECONDS),
        ):
            response = client.post(url, json={"text": text})
    except httpx.HTTPError as exc:
        raise SendError(f"chat webhook: {type(exc).__name__}: {exc}") from exc
    if not response.is_success:
        raise SendError(f"chat webhook answered HTTP {status_reason(response.status_code)}")


def _configured(config: Config, transport: str) -> bool:
    return bool(config.SMTP_HOST) if transport == EMAIL else bool(config.CHAT_WEBHOOK_URL)


SENDERS: dict[str, Callable[[Config, OutgoingMessage], None]] = {EMAIL: send_email, CHAT: send_chat}


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    result = session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.id == message_id, OutgoingMessage.status == OutgoingStatus.PENDING)
        .values(status=OutgoingStatus.SENDING, claimed_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _due_ids(session: Session, now: datetime) -> list[int]:
    # A sender that died mid-send: try again (at least once, see the module's docstring).
    session.execute(
        update(OutgoingMessage)
        .where(
            OutgoingMessage.status == OutgoingStatus.SENDING,
            OutgoingMessage.claimed_at < now - SENDING_LEASE,
        )
        .values(status=OutgoingStatus.PENDING)
    )
    query = (
        select(OutgoingMessage.id)
        .where(
            OutgoingMessage.status == OutgoingStatus.PENDING,
            OutgoingMessage.next_attempt_at <= now,
        )
        .order_by(OutgoingMessage.next_attempt_at, OutgoingMessage.id)
        .limit(BATCH_SIZE)
    )
    return list(session.scalars(query))


def send_outgoing(
    db: Database, config: Config, *, clock: Callable[[], datetime] = now_utc
) -> SendReport:
    """Send the e-mails and chat messages that are due; one short transaction per step."""
    report = SendReport()
    with db.transaction() as session:
        due = _due_ids(session, clock())
    for message_id in due:
        with db.transaction() as session:
            if not _claim(session, message_id, clock()):
                continue  # another scheduler took it
            message = session.get(OutgoingMessage, message_id)
            assert message is not None
            if not _configured(config, message.transport):
                message.status = OutgoingStatus.OFF
                report.off.append(message_id)
                continue
        try:
            SENDERS[message.transport](config, message)
        except SendError as exc:
            _record_failure(db, config, message_id, str(exc), clock(), report)
        else:
            with db.transaction() as session:
                session.execute(
                    update(OutgoingMessage)
                    .where(OutgoingMessage.id == message_id)
                    .values(
                        status=OutgoingStatus.SENT,
                        sent_at=clock(),
                        attempts=OutgoingMessage.attempts + 1,
                        error=None,
                    )
                )
            report.sent.append(message_id)
            log.info("outgoing sent id=%s transport=%s", message_id, message.transport)
    return report


def _record_failure(
    db: Database, config: Config, message_id: int, error: str, now: datetime, report: SendReport
) -> None:
    with db.transaction() as session:
        message = session.get(OutgoingMessage, message_id)
        assert message is not None
        message.attempts += 1
        message.error = error
        if message.attempts >= config.OUTGOING_MAX_ATTEMPTS:
            message.status = OutgoingStatus.FAILED
            report.failed.append(message_id)
            log.warning("outgoing failed id=%s error=%s", message_id, error)
        else:
            delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** (message.attempts - 1)))
            message.status = OutgoingStatus.PENDING
            message.next_attempt_at = now + delay
            report.retried.append(message_id)
            log.info("outgoing retry id=%s in=%ss error=%s", message_id, delay.seconds, error)
