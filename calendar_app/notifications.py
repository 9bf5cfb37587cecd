"""Telling people: in-app notifications, e-mail through SMTP, and a chat incoming webhook.

Deciding to tell someone and telling them are two steps. `notify()` and `announce()` run inside
the transaction that decided (a mention, a graveyard alert, a crisis escalation): they write the
in-app notification and put the e-mail or chat message into the `outgoing_messages` table. The
scheduler's `send_outgoing()` sends what is waiting afterwards, with a few retries. So a decision
that is rolled back mails nobody, and a slow mail server never holds a transaction open.

E-mail and chat are sent at least once: a scheduler that dies mid-send leaves the message
`sending`; after SENDING_LEASE it is tried again, and that counts as one of its
OUTGOING_MAX_ATTEMPTS. An occasional duplicate e-mail is better than a lost crisis alert.

One bad message never holds up the others: whatever goes wrong while sending it (a server that
refuses it, an exception) is recorded on that message alone, which is retried with backoff and
then `failed` with the reason. Crisis escalations (`urgent`) are sent before everything else.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from calendar_app import notices, outbound
from calendar_app.db import Database
from calendar_app.errors import InvalidInput, NotFound
from calendar_app.models import Notification, OutgoingMessage, OutgoingStatus, User
from calendar_app.outbound import OutboundPolicy, status_reason
from calendar_app.plain_text import one_line, printable, shortened
from calendar_app.timeutil import now_utc
from calendar_app.words import DEFAULT_LOCALE, Text, _l, say
from config import Config

log = logging.getLogger(__name__)

EMAIL = "email"
CHAT = "chat"
BATCH_SIZE = 50
SEND_TIMEOUT_SECONDS = 10.0
USER_AGENT = "calendar_app-notify/1"
SENDING_LEASE = timedelta(minutes=5)
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
# Mail clients show about this much of a subject; longer ones are cut with an ellipsis.
MAX_SUBJECT_LENGTH = 150


def clean_subject(subject: str) -> str:
    """One line, no control characters, at most MAX_SUBJECT_LENGTH characters: a subject made
    from a two-line text must not break the mail header (or inject another)."""
    # Every kind of line break and whitespace run: one space; then no control character at all.
    text = shortened(printable(one_line(subject)), MAX_SUBJECT_LENGTH)
    return text or "calendar_app"


# --- deciding to tell ------------------------------------------------------------------------


def notify(
    session: Session,
    users: Iterable[User],
    *,
    kind: str,
    subject: str = "",
    text: str = "",
    link: str | None = None,
    urgent: bool = False,
    params: dict[str, Any] | None = None,
) -> list[Notification]:
    """Tell each user (once, however often they are listed): in the app, and by e-mail.
    `urgent` (crisis escalations): the e-mail goes out before anything else that waits.

    A kind in the catalogue (calendar_app/notices.py) is told with `params`, its words made in
    each reader's language; each person's settings say whether they hear of it, and its e-mail
    waits for their hourly digest unless the kind is urgent."""
    notice = notices.CATALOGUE.get(kind) if params is not None else None
    if notice is None and (isinstance(subject, Text) or isinstance(text, Text)):
        # Words marked for the catalogue where they were written: kept so each reader's
        # language can be made from them (`_words`).
        params = {WORDS: {"subject": _as_text(subject).stored(), "text": _as_text(text).stored()}}
    if notice is not None:
        subject, text = notices.render(kind, params, locale="en", timezone="UTC")
        urgent = urgent or notice.urgent
    subject = clean_subject(subject)
    notes: list[Notification] = []
    mailed_now: list[Notification] = []
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        told = notices.how_told(user.notice_settings, kind) if notice else notices.EMAIL
        if told == notices.OFF:
            continue
        digest = notice is not None and not urgent and told == notices.EMAIL
        note = Notification(
            user=user, kind=kind, subject=subject, text=text, link=link, params=params,
            mail_pending=digest,
        )  # fmt: skip
        session.add(note)
        notes.append(note)
        if told == notices.EMAIL and not digest:
            mailed_now.append(note)
    session.flush()
    for note in mailed_now:
        # In English for the record; the sender writes it in the recipient's language.
        session.add(
            OutgoingMessage(
                transport=EMAIL,
                recipient=note.user.email,
                subject=subject,
                body=text,
                link=link,
                notification_id=note.id,
                urgent=urgent,
            )
        )
    if mailed_now:
        session.flush()
    return notes


WORDS = "words"  # params of a notice whose words came marked (`words.Text`), not from the catalogue


def _as_text(value: str) -> Text:
    """A marked message as it is; anything else kept word for word, never looked up."""
    return value if isinstance(value, Text) else Text("%(text)s", {"text": value})


def _words(note: Notification, locale: str | None, timezone: str) -> tuple[str, str]:
    marked = (note.params or {}).get(WORDS) if note.kind not in notices.CATALOGUE else None
    if isinstance(marked, dict):
        subject = Text.from_stored(marked["subject"]).in_locale(locale)
        return clean_subject(subject), Text.from_stored(marked["text"]).in_locale(locale)
    return notices.render(
        note.kind, note.params, locale=locale, timezone=timezone, stored=(note.subject, note.text)
    )


def words_for(note: Notification, locale: str | None, timezone: str) -> tuple[str, str]:
    """(subject, text) of a notification as `locale` reads it, times on the team's clock."""
    return _words(note, locale, timezone)


def email(
    session: Session,
    *,
    recipient: str,
    subject: str,
    text: str,
    link: str | None = None,
    urgent: bool = False,
) -> OutgoingMessage:
    """An e-mail to someone who is not a user of the app (e.g. on a crisis escalation list),
    in the team's language."""
    message = OutgoingMessage(
        transport=EMAIL,
        recipient=recipient,
        subject=clean_subject(say(subject, DEFAULT_LOCALE)),
        body=say(text, DEFAULT_LOCALE),
        link=link,
        urgent=urgent,
    )
    session.add(message)
    session.flush()
    return message


def announce(
    session: Session, *, subject: str, text: str, link: str | None = None, urgent: bool = False
) -> None:
    """Post a message to the team's chat (when a chat webhook is configured), in the team's
    language."""
    session.add(
        OutgoingMessage(
            transport=CHAT,
            recipient=None,
            subject=clean_subject(say(subject, DEFAULT_LOCALE)),
            body=say(text, DEFAULT_LOCALE),
            link=link,
            urgent=urgent,
        )
    )
    session.flush()


# --- how each person wants to be told ----------------------------------------------------------


@dataclass(frozen=True)
class NoticeSetting:
    kind: str
    label: str
    channel: str
    urgent: bool


def notice_settings(user: User, locale: str | None) -> list[NoticeSetting]:
    """Every catalogued kind of notice and how this person is told of it."""
    return [
        NoticeSetting(
            kind,
            notices.gettext(notice.label, locale),
            notices.how_told(user.notice_settings, kind),
            notice.urgent,
        )
        for kind, notice in notices.CATALOGUE.items()
    ]


def change_notice_settings(session: Session, user: User, changes: dict[str, str]) -> None:
    """Set how `user` is told of some kinds; urgent kinds are always told (422 otherwise)."""
    problems = {}
    for kind, channel in changes.items():
        notice = notices.CATALOGUE.get(kind)
        if notice is None:
            problems[f"settings.{kind}"] = _l("is not a kind of notice")
        elif channel not in notices.CHANNELS:
            problems[f"settings.{kind}"] = _l(
                "must be one of %(items)s", items=", ".join(notices.CHANNELS)
            )
        elif notice.urgent and channel != notices.EMAIL:
            problems[f"settings.{kind}"] = _l(
                "is urgent: it is always told in the app and by e-mail"
            )
    if problems:
        raise InvalidInput(_l("these notices cannot be set so"), problems)
    user.notice_settings = {**(user.notice_settings or {}), **changes}
    session.flush()


# --- the hourly digest ------------------------------------------------------------------------

DIGEST_EVERY = timedelta(hours=1)


def send_digests(
    db: Database, config: Config, *, clock: Callable[[], datetime] = now_utc
) -> list[int]:
    """One e-mail per person and hour with the notices that waited for it (those already read
    in the app are left out), in the person's language; returns the users written to.

    Safe with several schedulers: a person's waiting notices are taken with one conditional
    update, so each is mailed once."""
    now = clock()
    with db.transaction() as session:
        user_ids = session.scalars(
            select(Notification.user_id)
            .where(Notification.mail_pending.is_(True))
            .group_by(Notification.user_id)
            .having(func.min(Notification.created_at) <= now - DIGEST_EVERY)
        ).all()
    written = []
    for user_id in user_ids:
        with db.transaction() as session:
            taken = session.scalars(
                update(Notification)
                .where(Notification.user_id == user_id, Notification.mail_pending.is_(True))
                .values(mail_pending=False)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            ).all()
            user = session.get(User, user_id)
            if not taken or user is None or not user.active:
                continue
            notes = session.scalars(
                select(Notification)
                .where(Notification.id.in_(taken), Notification.read_at.is_(None))
                .order_by(Notification.created_at, Notification.id)
            ).all()
            if not notes:
                continue
            session.add(_digest(config, user, notes))
            written.append(user_id)
    return written


def _digest(config: Config, user: User, notes: Sequence[Notification]) -> OutgoingMessage:
    lines = []
    for note in notes:
        subject, text = words_for(note, user.locale, config.TIMEZONE)
        when = notices.wall_clock(note.created_at, user.locale, config.TIMEZONE)
        lines.append(f"{when}: {subject}\n{text}")
        if (url := _absolute(config, note.link)) is not None:
            lines.append(url)
        lines.append("")
    singular, plural = notices.DIGEST_SUBJECT
    subject = notices.ngettext(singular, plural, len(notes), user.locale)
    return OutgoingMessage(
        transport=EMAIL,
        recipient=user.email,
        subject=clean_subject(subject),
        body="\n".join(lines).rstrip(),
        link="/notifications",
    )


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
        raise NotFound(
            _l(
                "There is no notification %(notification_id)s.",
                notification_id=notification_id,
            )
        )
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
    """The mail server or chat webhook did not take the message. Worth trying again unless
    `permanent` (a mail server's 5xx: this message will never be taken)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def _permanent(exc: smtplib.SMTPException) -> bool:
    """RFC 5321: a 5xx reply is a permanent refusal (an unknown mailbox, a rejected sender)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


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
    mail["Subject"] = clean_subject(message.subject)
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
    except smtplib.SMTPException as exc:
        reason = f"SMTP {config.SMTP_HOST}:{config.SMTP_PORT}: {exc}"
        raise SendError(reason, permanent=_permanent(exc)) from exc
    except OSError as exc:
        raise SendError(f"SMTP {config.SMTP_HOST}:{config.SMTP_PORT}: {exc}") from exc


def send_chat(config: Config, message: OutgoingMessage) -> None:
    text = f"*{clean_subject(message.subject)}*\n{_text_with_link(config, message)}"
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


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th try failed: 30 s, 1 min, 2 min, ... 30 min."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, attempts - 1))


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Take a message for sending; the try counts from here (a sender may die mid-send)."""
    result = session.execute(
        update(OutgoingMessage)
        .where(OutgoingMessage.id == message_id, OutgoingMessage.status == OutgoingStatus.PENDING)
        .values(
            status=OutgoingStatus.SENDING,
            claimed_at=now,
            attempts=OutgoingMessage.attempts + 1,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _expire_leases(session: Session, config: Config, now: datetime) -> None:
    """Messages whose sender died mid-send (still `sending` after the lease): the try is used
    up; they come back with backoff, or are `failed` once they had all their tries."""
    stuck = session.scalars(
        select(OutgoingMessage).where(
            OutgoingMessage.status == OutgoingStatus.SENDING,
            OutgoingMessage.claimed_at < now - SENDING_LEASE,
        )
    ).all()
    for message in stuck:
        message.error = "the sender stopped while sending it (it may have gone out)"
        if message.attempts >= config.OUTGOING_MAX_ATTEMPTS:
            message.status = OutgoingStatus.FAILED
            log.warning("outgoing failed id=%s error=%s", message.id, message.error)
        else:
            message.status = OutgoingStatus.PENDING
            message.next_attempt_at = now + backoff(message.attempts)
    session.flush()


def _due_ids(session: Session, now: datetime) -> list[int]:
    query = (
        select(OutgoingMessage.id)
        .where(
            OutgoingMessage.status == OutgoingStatus.PENDING,
            OutgoingMessage.next_attempt_at <= now,
        )
        .order_by(
            OutgoingMessage.urgent.desc(), OutgoingMessage.next_attempt_at, OutgoingMessage.id
        )
        .limit(BATCH_SIZE)
    )
    return list(session.scalars(query))


def send_outgoing(
    db: Database, config: Config, *, clock: Callable[[], datetime] = now_utc
) -> SendReport:
    """Send the e-mails and chat messages that are due, crisis escalations first; one short
    transaction per step. A message that cannot be sent is recorded and the pass goes on."""
    report = SendReport()
    with db.transaction() as session:
        _expire_leases(session, config, clock())
        due = _due_ids(session, clock())
    for message_id in due:
        claimed_at = clock()
        with db.transaction() as session:
            if not _claim(session, message_id, claimed_at):
                continue  # another scheduler took it
            message = session.get(OutgoingMessage, message_id)
            assert message is not None
            if not _configured(config, message.transport):
                message.status = OutgoingStatus.OFF
                report.off.append(message_id)
                continue
            _in_recipients_words(session, config, message)
        try:
            SENDERS[message.transport](config, message)
        except SendError as exc:
            _record_failure(db, config, message_id, claimed_at, exc, clock(), report)
        except Exception as exc:  # a poison message must not stop the pass or block the others
            log.exception("outgoing id=%s raised while sending", message_id)
            error = SendError(f"could not be sent: {type(exc).__name__}: {exc}")
            _record_failure(db, config, message_id, claimed_at, error, clock(), report)
        else:
            with db.transaction() as session:
                session.execute(
                    update(OutgoingMessage)
                    .where(*_still_ours(message_id, claimed_at))
                    .values(status=OutgoingStatus.SENT, sent_at=clock(), error=None)
                )
            report.sent.append(message_id)
            log.info("outgoing sent id=%s transport=%s", message_id, message.transport)
    return report


def _in_recipients_words(session: Session, config: Config, message: OutgoingMessage) -> None:
    """A notification's e-mail in its recipient's language, times on the team's clock."""
    if message.notification_id is None:
        return
    note = session.get(Notification, message.notification_id)
    if note is None or note.params is None:
        return
    subject, text = words_for(note, note.user.locale, config.TIMEZONE)
    message.subject, message.body = clean_subject(subject), text


def _still_ours(message_id: int, claimed_at: datetime) -> tuple[Any, ...]:
    """The message is still under this sender's claim (not expired and taken by another)."""
    return (
        OutgoingMessage.id == message_id,
        OutgoingMessage.status == OutgoingStatus.SENDING,
        OutgoingMessage.claimed_at == claimed_at,
    )


def _record_failure(
    db: Database,
    config: Config,
    message_id: int,
    claimed_at: datetime,
    error: SendError,
    now: datetime,
    report: SendReport,
) -> None:
    with db.transaction() as session:
        message = session.scalar(
            select(OutgoingMessage).where(*_still_ours(message_id, claimed_at))
        )
        if message is None:
            return  # the lease ran out meanwhile: the message is someone else's now
        reason = str(error)[:1000]
        message.error = reason
        if error.permanent or message.attempts >= config.OUTGOING_MAX_ATTEMPTS:
            message.status = OutgoingStatus.FAILED
            report.failed.append(message_id)
            log.warning("outgoing failed id=%s error=%s", message_id, reason)
        else:
            delay = backoff(message.attempts)
            message.status = OutgoingStatus.PENDING
            message.next_attempt_at = now + delay
            report.retried.append(message_id)
            log.info("outgoing retry id=%s in=%ss error=%s", message_id, delay.seconds, reason)
