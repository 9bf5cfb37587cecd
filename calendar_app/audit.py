"""The append-only audit log: who did what, when, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.models import AuditEntry, User

# A reason or note written down with a decision (a crisis' reason, a lift note, why a post was
# sent back or discarded): it goes into the log and into messages, so it stays a paragraph.
MAX_NOTE_LENGTH = 2000


def record(
    session: Session,
    actor: User | None,
    action: str,
    subject: Any,
    *,
    reason: str | None = None,
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        subject_type=type(subject).__name__.lower(),
        subject_id=getattr(subject, "id", None),
        reason=reason,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


def last_entry(session: Session, subject: Any, actions: tuple[str, ...]) -> AuditEntry | None:
    """The newest of these actions on `subject` (who decided last, and when)."""
    return session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject_type == type(subject).__name__.lower(),
            AuditEntry.subject_id == subject.id,
            AuditEntry.action.in_(actions),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()


def who_and_when(entry: AuditEntry | None) -> str:
    """ "head@example.org at 10:42 UTC", for a 409 that says what happened meanwhile."""
    if entry is None:
        return "someone"
    who = entry.actor.email if entry.actor is not None else "the scheduler"
    return f"{who} at {entry.at:%H:%M} UTC"
