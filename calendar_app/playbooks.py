"""Crisis playbooks: scenarios prepared in calm times, declared in one action when it happens.

A playbook names its scenario, pre-approved holding statements per channel (checked against the
channel rules when saved, so they cannot be refused when it counts), the escalation list (users
of the app, or people outside it with a role and an e-mail) and the default scope of the
declaration (all channels or some; topics and keywords held on every channel).

Declaring from a playbook declares the crisis as `crisis.declare_crisis` does, schedules the
holding statements as approved crisis responses due now (the dispatcher publishes them at once:
crisis responses are not held) and alerts the escalation list (escalation.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import audit, crisis, escalation, holds, planning
from calendar_app.accounts import normalise_email
from calendar_app.channel_rules import body_problem
from calendar_app.channels import channels_by_ids
from calendar_app.errors import Conflict, InvalidInput, NotFound, listed
from calendar_app.models import (
    MAX_ID,
    EscalationContact,
    HoldingStatement,
    Playbook,
    Post,
    User,
)
from calendar_app.permissions import require_may_manage_playbooks
from calendar_app.timeutil import now_utc
from calendar_app.words import _l

# The roles an outside person on an escalation list may have.
CONTACT_ROLES = ("management", "legal", "hr", "customer_service", "works_council", "other")
MAX_NAME_LENGTH = 120  # a playbook's scenario, and an outside person's name
MAX_DESCRIPTION_LENGTH = 5000
MAX_CONTACTS = 50


@dataclass
class Contact:
    """One entry of an escalation list as given: a user's id, or name, role and e-mail."""

    user_id: int | None = None
    name: str = ""
    role: str = ""
    email: str = ""


@dataclass
class PlaybookData:
    name: str
    description: str = ""
    channel_ids: list[int] | None = None  # None: all channels
    topics: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    statements: dict[int, str] = field(default_factory=dict)  # channel id -> text
    contacts: list[Contact] = field(default_factory=list)


def list_playbooks(session: Session) -> Sequence[Playbook]:
    return session.scalars(select(Playbook).order_by(Playbook.name)).all()


def get_playbook(session: Session, playbook_id: int, *, field: str | None = None) -> Playbook:
    """The playbook; unknown: 404, or 422 naming `field` when the id came in a request body."""
    playbook = session.get(Playbook, playbook_id) if 0 < playbook_id <= MAX_ID else None
    if playbook is None:
        message = f"playbook {playbook_id} does not exist"
        if field is not None:
            raise InvalidInput(message, {field: _l("unknown playbook")})
        raise NotFound(message)
    return playbook


def _check_name(session: Session, name: str, playbook: Playbook | None) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(
            _l("a playbook needs a scenario name"), {"name": _l("must not be empty")}
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            _l("the name is too long"),
            {"name": _l("at most %(max)s characters", max=MAX_NAME_LENGTH)},
        )
    same = session.scalar(select(Playbook).where(Playbook.name == name))
    if same is not None and same is not playbook:
        raise Conflict(
            _l("a playbook named %(name)r exists already", name=name), {"name": _l("is taken")}
        )
    return name


def _statements(session: Session, statements: Mapping[int, str]) -> list[HoldingStatement]:
    """Holding statements, each checked against its channel's rules now, not in the crisis."""
    texts = {cid: text for cid, text in statements.items() if text and text.strip()}
    if not texts:
        return []
    channels = channels_by_ids(session, list(texts), field="statements")
    problems = {
        f"statements.{c.id}": problem
        for c in channels
        if (problem := body_problem(texts[c.id], c.network, c.name))
    }
    if problems:
        raise InvalidInput(
            _l(
                "a holding statement does not fit its channel: %(problems)s",
                problems=listed(problems),
            ),
            problems,
        )
    return [HoldingStatement(channel=c, text=texts[c.id]) for c in channels]


def _contacts(session: Session, contacts: Sequence[Contact]) -> list[EscalationContact]:
    result, problems = [], {}
    for i, contact in enumerate(contacts):
        where = f"escalation.{i}"
        if contact.user_id is not None:
            user = session.get(User, contact.user_id) if 0 < contact.user_id <= MAX_ID else None
            if user is None:
                problems[where] = _l("user %(user_id)s does not exist", user_id=contact.user_id)
                continue
            if not user.active:
                problems[where] = _l("user %(user)s is deactivated", user=user.email)
                continue
            role = contact.role if contact.role in CONTACT_ROLES else ""
            result.append(EscalationContact(user=user, name=user.name, role=role, email=user.email))
            continue
        email = normalise_email(contact.email)
        if not contact.name.strip():
            problems[where] = _l("an outside person needs a name")
        elif contact.role not in CONTACT_ROLES:
            problems[where] = "role must be one of " + ", ".join(CONTACT_ROLES)
        elif "@" not in email.strip("@") or " " in email or len(email) > 254:
            problems[where] = _l("an outside person needs an e-mail address")
        else:
            result.append(
                EscalationContact(
                    name=contact.name.strip()[:MAX_NAME_LENGTH], role=contact.role, email=email
                )
            )
    if problems:
        raise InvalidInput(
            _l("the escalation list: %(problems)s", problems=listed(problems)),
            problems,
        )
    return result


def _apply(session: Session, playbook: Playbook, data: Mapping[str, Any]) -> None:
    if "name" in data:
        playbook.name = _check_name(session, data["name"], playbook)
    if "description" in data:
        playbook.description = (data["description"] or "").strip()
    if "channel_ids" in data:
        ids = data["channel_ids"]
        playbook.all_channels = ids is None
        playbook.channels = channels_by_ids(session, ids) if ids is not None else []
    if "topics" in data:
        playbook.hold_topics = holds.normalise_tags(data["topics"], "topics")
    if "keywords" in data:
        playbook.hold_keywords = holds.normalise_keywords(data["keywords"])
    if "statements" in data:
        playbook.statements = _statements(session, data["statements"])
    if "contacts" in data:
        playbook.contacts = _contacts(session, data["contacts"])


def create_playbook(session: Session, actor: User, data: PlaybookData) -> Playbook:
    require_may_manage_playbooks(actor)
    playbook = Playbook(created_by=actor, name=_check_name(session, data.name, None))
    _apply(session, playbook, vars(data))
    session.add(playbook)
    session.flush()
    audit.record(session, actor, "create_playbook", playbook, name=playbook.name)
    return playbook


def edit_playbook(
    session: Session, actor: User, playbook: Playbook, changes: Mapping[str, Any]
) -> Playbook:
    """Change what is given in `changes` (keys as in PlaybookData)."""
    require_may_manage_playbooks(actor)
    _apply(session, playbook, changes)
    playbook.updated_at = now_utc()
    session.flush()
    audit.record(session, actor, "edit_playbook", playbook, fields=sorted(changes))
    return playbook


def delete_playbook(session: Session, actor: User, playbook: Playbook) -> None:
    """Crises declared from it keep their record; they just no longer point to it."""
    require_may_manage_playbooks(actor)
    audit.record(session, actor, "delete_playbook", playbook, name=playbook.name)
    session.delete(playbook)
    session.flush()


# --- declaring from a playbook -----------------------------------------------------------------


@dataclass
class PlaybookDeclaration:
    declaration: crisis.Declaration
    statements: list[Post]


def declare_from_playbook(
    session: Session,
    actor: User,
    playbook: Playbook,
    *,
    reason: str,
    overrides: Mapping[str, Any],
    timezone: str,
    alert_id: int | None = None,
) -> PlaybookDeclaration:
    """Declare, publish the holding statements, alert the escalation list: one transaction.

    `overrides` may hold `channel_ids`, `topics`, `keywords`; what it holds replaces the
    playbook's default. `timezone`: the team's clock, for the alert's time. `alert_id`: declared
    from an early-warning alert (see `crisis.declare_crisis`). The caller commits, then calls
    `crisis.wait_for_in_flight`.
    """
    channel_ids = overrides.get(
        "channel_ids", None if playbook.all_channels else [c.id for c in playbook.channels]
    )
    declaration = crisis.declare_crisis(
        session,
        actor,
        reason=reason,
        channel_ids=channel_ids,
        topics=overrides.get("topics", playbook.hold_topics or []),
        keywords=overrides.get("keywords", playbook.hold_keywords or []),
        alert_id=alert_id,
    )
    declared = declaration.crisis
    declared.playbook = playbook
    now = now_utc()
    statements = [
        planning.schedule_prepared_statement(
            session,
            actor,
            title=playbook.name,
            body=statement.text,
            channel_id=statement.channel_id,
            publish_at=now,
            source=f"playbook {playbook.id}: {playbook.name}",
        )
        for statement in playbook.statements
        if statement.channel.active
    ]
    escalation.alert(session, declared, playbook.contacts, timezone=timezone)
    audit.record(
        session,
        actor,
        "declare_from_playbook",
        declared,
        playbook=playbook.name,
        statements=[p.id for p in statements],
        alerted=len(playbook.contacts),
    )
    session.flush()
    return PlaybookDeclaration(declaration, statements)
