"""Escalation: who is alerted when a crisis is declared from a playbook, and who has acknowledged.

Users of the app are told in the app and by e-mail (notifications.notify); people outside it get
an e-mail with a secret acknowledgement link (only its SHA-256 is stored); the team's chat gets
one message. Each acknowledgement is stored with its time and written to the audit log (action
`acknowledge`, subject the crisis), so the crisis timeline lists it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import audit, notices, notifications
from calendar_app.errors import Conflict, NotFound
from calendar_app.models import Acknowledgement, Crisis, EscalationContact, User
from calendar_app.timeutil import now_utc
from calendar_app.words import DEFAULT_LOCALE, _l, gettext

KIND = "crisis_escalation"
ACK_PATH = "/crisis/ack/"
ACKNOWLEDGE_HERE = _l("Acknowledge here:")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _facts(crisis: Crisis) -> dict[str, str]:
    return {
        "actor": crisis.declared_by.name,
        "crisis": crisis.reason,
        "when": crisis.declared_at.isoformat(),
    }


def alert(
    session: Session, crisis: Crisis, contacts: Sequence[EscalationContact], *, timezone: str
) -> None:
    """Alert everyone on the list (once each) and open their acknowledgement. Users read it in
    their language; people outside the app and the team's chat in the team's (German)."""
    facts = _facts(crisis)
    subject, text = notices.render(KIND, facts, locale=DEFAULT_LOCALE, timezone=timezone)
    seen: set[str] = set()
    for contact in contacts:
        key = f"user:{contact.user_id}" if contact.user is not None else f"mail:{contact.email}"
        if key in seen:
            continue
        seen.add(key)
        if contact.user is not None:
            session.add(
                Acknowledgement(
                    crisis=crisis,
                    user=contact.user,
                    name=contact.user.name,
                    role=contact.role,
                    email=contact.user.email,
                )
            )
            notifications.notify(
                session, [contact.user], kind=KIND, params=facts, link="/crisis", urgent=True
            )
            continue
        token = secrets.token_urlsafe(32)
        session.add(
            Acknowledgement(
                crisis=crisis,
                name=contact.name,
                role=contact.role,
                email=contact.email,
                token_hash=_hash(token),
            )
        )
        notifications.email(
            session,
            recipient=contact.email,
            subject=subject,
            text=text + "\n\n" + gettext(ACKNOWLEDGE_HERE, DEFAULT_LOCALE),
            link=ACK_PATH + token,
            urgent=True,
        )
    if contacts:
        notifications.announce(
            session, subject=subject, text=crisis.reason, link="/crisis", urgent=True
        )
    session.flush()


def acknowledgements(session: Session, crisis: Crisis) -> Sequence[Acknowledgement]:
    return session.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.crisis_id == crisis.id)
        .order_by(Acknowledgement.id)
    ).all()


def _record(session: Session, ack: Acknowledgement, actor: User | None, via: str) -> None:
    if ack.acknowledged_at is not None:
        return  # twice is harmless
    ack.acknowledged_at = now_utc()
    session.flush()
    audit.record(
        session,
        actor,
        "acknowledge",
        ack.crisis,
        name=ack.name,
        role=ack.role,
        via=via,
        at=ack.acknowledged_at.isoformat(),
    )


def acknowledge(session: Session, user: User, crisis: Crisis | None) -> Acknowledgement:
    """A user on the escalation list says they have seen the crisis."""
    if crisis is None:
        raise Conflict(_l("no crisis is in force"))
    ack = session.scalar(
        select(Acknowledgement).where(
            Acknowledgement.crisis_id == crisis.id, Acknowledgement.user_id == user.id
        )
    )
    if ack is None:
        raise Conflict(_l("you are not on the escalation list of this crisis"))
    _record(session, ack, user, "app")
    return ack


def find_by_token(session: Session, token: str) -> Acknowledgement:
    ack = None
    if 20 <= len(token) <= 100:
        ack = session.scalar(
            select(Acknowledgement).where(Acknowledgement.token_hash == _hash(token))
        )
    if ack is None:
        raise NotFound(_l("this acknowledgement link is not valid"))
    return ack


def acknowledge_by_link(session: Session, token: str) -> Acknowledgement:
    """Someone outside the app acknowledges with the secret link from their e-mail."""
    ack = find_by_token(session, token)
    _record(session, ack, None, "link")
    return ack
