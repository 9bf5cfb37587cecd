"""The append-only audit log: who did what, when, and why.

An entry keeps its action as a key (`update_channel`, the machine's name, which the log and its
readers filter on); `ACTION_LABELS` says each in words for people, in their language when shown
(`action_label`). Reasons the app writes itself (`SYSTEM_REASONS`) are said in the reader's
language too; a reason a person typed stays as they wrote it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.models import AuditEntry, User
from calendar_app.words import Text, _l, gettext, say

# A reason or note written down with a decision (a crisis' reason, a lift note, why a post was
# sent back or discarded): it goes into the log and into messages, so it stays a paragraph.
MAX_NOTE_LENGTH = 2000

# Every action `record` writes, in words. A test keeps this list complete.
ACTION_LABELS: dict[str, Text] = {
    # posts
    "submit": _l("submitted for approval"),
    "approve": _l("approved"),
    "edit": _l("edited"),
    "send_back": _l("sent back with a comment"),
    "send_back_to_draft": _l("back to draft"),
    "waive_alt_text": _l("images without alt text"),
    "duplicate": _l("created from a template"),
    "import": _l("imported from a CSV file"),
    # the crisis
    "declare_crisis": _l("crisis declared"),
    "declare_from_alert": _l("crisis declared from an early warning"),
    "declare_from_playbook": _l("crisis declared with a playbook"),
    "request_lift": _l("lifting the crisis requested"),
    "lift_crisis": _l("crisis lifted"),
    "acknowledge": _l("acknowledged the crisis"),
    "hold": _l("held back"),
    "missed": _l("missed: too late to send"),
    "release": _l("released after review"),
    "discard": _l("discarded"),
    "create_playbook": _l("playbook created"),
    "edit_playbook": _l("playbook changed"),
    "delete_playbook": _l("playbook deleted"),
    "create_blackout": _l("blackout date set"),
    "edit_blackout": _l("blackout date changed"),
    "delete_blackout": _l("blackout date removed"),
    # listening
    "open_alert": _l("early warning raised"),
    "dismiss_alert": _l("early warning dismissed"),
    "set_watch_words": _l("watch list changed"),
    "watch_hashtags": _l("watched hashtags changed"),
    "watch_terms": _l("watched search terms changed"),
    "assign_inbox_item": _l("message in the inbox assigned"),
    "close_inbox_item": _l("message in the inbox closed"),
    "create_routing_rule": _l("routing rule added"),
    "delete_routing_rule": _l("routing rule removed"),
    # channels, campaigns, people
    "create_channel": _l("channel created"),
    "update_channel": _l("channel changed"),
    "graveyard_alert": _l("silent channel reported"),
    "create_campaign": _l("campaign created"),
    "edit_campaign": _l("campaign changed"),
    "create_department": _l("department created"),
    "set_departments": _l("departments assigned"),
    "deactivate_user": _l("account deactivated"),
    "reactivate_user": _l("account reactivated"),
    "renew_feed": _l("calendar address renewed"),
    "revoke_feed": _l("calendar address switched off"),
}

# What an entry concerns (its `subject_type`), in words with its id.
SUBJECT_LABELS: dict[str, Text] = {
    "post": _l("Post %(id)s"),
    "crisis": _l("Crisis %(id)s"),
    "channel": _l("Channel %(id)s"),
    "campaign": _l("Campaign %(id)s"),
    "department": _l("Department %(id)s"),
    "user": _l("Person %(id)s"),
    "playbook": _l("Playbook %(id)s"),
    "blackout": _l("Blackout date %(id)s"),
    "inboxitem": _l("Inbox message %(id)s"),
    "routingrule": _l("Routing rule %(id)s"),
    "spikealert": _l("Early warning %(id)s"),
}


def subject_label(subject_type: str, subject_id: int | None, locale: str | None) -> str:
    """ "Kanal 5": what an entry concerns; a kind without words keeps its key."""
    label = SUBJECT_LABELS.get(subject_type)
    if label is None:
        return f"{subject_type} {subject_id or ''}".strip()
    return gettext(label, locale) % {"id": subject_id or ""}


# Reasons the app itself writes into an entry (a person's own reason is never translated).
EDITED_AFTER_APPROVAL = _l("edited after approval")
CHANGED_IN_REVIEW = _l("changed in review")
SYSTEM_REASONS: dict[str, Text] = {
    str(reason): reason for reason in (EDITED_AFTER_APPROVAL, CHANGED_IN_REVIEW)
}


def action_label(action: str, locale: str | None) -> str:
    """The action in words ("Kanal geändert"); an action without words keeps its key."""
    label = ACTION_LABELS.get(action)
    return say(label, locale) if label is not None else action


def reason_text(reason: str | None, locale: str | None) -> str:
    """The entry's reason as the reader reads it: the app's own words translated."""
    if not reason:
        return ""
    known = SYSTEM_REASONS.get(reason)
    return say(known, locale) if known is not None else reason


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


def who_and_when(entry: AuditEntry | None) -> Text:
    """ "head@example.org at 10:42 UTC", for a 409 that says what happened meanwhile."""
    if entry is None:
        return _l("someone")
    if entry.actor is None:
        return _l("the scheduler at %(time)s UTC", time=entry.at.strftime("%H:%M"))
    return _l("%(who)s at %(time)s UTC", who=entry.actor.email, time=entry.at.strftime("%H:%M"))
