"""People who leave, and come back: deactivation ends someone's access at once and hands on
what they answered for.

Deactivating a person (an admin, or the server's shell) at once
- refuses their password (the login page says the account is deactivated),
- ends every browser session of theirs, copies of the cookie included (the session version
  changes; a deactivated person's cookie gets the login page),
- revokes their API tokens (a request with one answers 401) and switches off their calendar
  address,
- hands on their channels (channels.hand_on_channels): the deputy takes over from an owner who
  leaves, the empty place flags the channel, and the admins are told which channels need someone,
- and is written to the audit log. The people pickers no longer offer them.

Reactivating lets them log in again; tokens, sessions and channels stay as they are now (new
tokens are created as for anyone; an admin names them owner or deputy again where wanted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calendar_app import audit, ical
from calendar_app.accounts import end_sessions, password_matches, user_by_email
from calendar_app.channels import Handover, hand_on_channels
from calendar_app.errors import Conflict
from calendar_app.models import ApiToken, Role, User
from calendar_app.notifications import notify
from calendar_app.permissions import require_may_manage_users
from calendar_app.timeutil import now_utc
from calendar_app.words import _l, joined


@dataclass
class Deactivation:
    person: User
    tokens_revoked: int = 0
    handovers: list[Handover] = field(default_factory=list)
    changed: bool = True  # False: they were deactivated already, nothing happened


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
    ) or 0  # fmt: skip


def deactivate_user(session: Session, actor: User | None, person: User) -> Deactivation:
    """`actor` None: the server's shell (`calendar-app users deactivate`), an admin's act by
    definition. Deactivating someone twice changes nothing the second time."""
    if actor is not None:
        require_may_manage_users(actor)
        if actor.id == person.id:
            raise Conflict(
                _l("you cannot deactivate yourself: ask another admin"), {"user": _l("is you")}
            )
    if not person.active:
        return Deactivation(person, changed=False)
    if person.role == Role.ADMIN and _active_admins(session) <= 1:
        raise Conflict(
            _l(
                "%(person)s is the last active admin: make someone else admin first",
                person=person.email,
            ),
            {"user": _l("is the last active admin")},
        )
    person.active = False
    end_sessions(person)
    now = now_utc()
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == person.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now
    if (feed := ical.feed_of(session, person)) is not None:
        session.delete(feed)
    session.flush()
    handovers = hand_on_channels(session, actor, person)
    audit.record(
        session, actor, "deactivate_user", person, tokens_revoked=len(tokens),
        channels={h.channel.name: h.was for h in handovers},
    )  # fmt: skip
    if handovers:
        _tell_the_admins(session, person, handovers)
    return Deactivation(person, len(tokens), handovers)


def _tell_the_admins(session: Session, person: User, handovers: list[Handover]) -> None:
    lines = []
    for h in handovers:
        if h.new_owner is not None:
            lines.append(
                _l(
                    "- %(channel)s: %(person)s (deputy) is the owner now; it needs a new deputy",
                    channel=h.channel.name,
                    person=h.new_owner.name,
                )
            )
        elif h.was == "owner":
            lines.append(_l("- %(channel)s: it has no owner now", channel=h.channel.name))
        else:
            lines.append(_l("- %(channel)s: it has no deputy now", channel=h.channel.name))
    admins = session.scalars(select(User).where(User.role == Role.ADMIN, User.active)).all()
    new_owners = [h.new_owner for h in handovers if h.new_owner is not None]
    notify(
        session,
        [*admins, *new_owners],
        kind="channel_ownership",
        subject=_l("%(person)s was deactivated: channels need someone", person=person.name),
        text=joined(
            [
                _l(
                    "%(person)s (%(email)s) was deactivated and no longer answers for these "
                    "channels:",
                    person=person.name,
                    email=person.email,
                ),
                *lines,
                _l("Name an owner and a deputy on the channel page."),
            ],
            "\n",
        ),
        link="/admin/channels",
    )


def reactivate_user(session: Session, actor: User | None, person: User) -> User:
    """They may log in again. Reactivating someone active changes nothing."""
    if actor is not None:
        require_may_manage_users(actor)
    if person.active:
        return person
    person.active = True
    session.flush()
    audit.record(session, actor, "reactivate_user", person)
    return person


def deactivated_login(session: Session, email: str, password: str) -> bool:
    """True when these are the right e-mail and password of a deactivated person, so the login
    page can say why it refuses them (to anyone else it says only: wrong e-mail or password)."""
    person = user_by_email(session, email)
    return (
        person is not None
        and not person.active
        and password_matches(person.password_hash, password)
    )
