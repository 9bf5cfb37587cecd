"""The inbox: what people said to our accounts, stored once, routed on arrival, handed over.

Who sees what (decided here, once): heads and admins see every item; a planner sees the items
of their own departments, the items nobody has routed yet (no department: someone must pick
them up) and the items assigned to them. Whoever sees an item may hand it on (to a department,
a person, with a note) or close it; the person it is handed to is told.

Routing rules are words: an arriving item whose text contains one (case-folded, as substrings,
like the crisis' keyword holds: "Rechnung" also catches "Stromrechnung") goes to the rule's
department. The oldest matching rule wins. Only admins manage rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from calendar_app import audit, notifications
from calendar_app.departments import get_department, get_user
from calendar_app.errors import Conflict, InvalidInput, NotFound
from calendar_app.holds import fold, normalise_keywords, normalise_tags
from calendar_app.listening.mastodon import Heard, newer
from calendar_app.models import (
    MAX_ID,
    Channel,
    InboxItem,
    InboxStatus,
    ListenCursor,
    RoutingRule,
    User,
    WatchedHashtag,
    WatchedTerm,
)
from calendar_app.permissions import is_reviewer, require_admin
from calendar_app.timeutil import now_utc
from calendar_app.words import Text, _l, joined

MAX_KEYWORD_LENGTH = 100
INBOX_LINK = "/inbox"
STATUSES = tuple(s.value for s in InboxStatus)
# Rows per INSERT: well below the drivers' limits on parameters (14 per row).
INSERT_BATCH = 500


# --- storing what arrives ------------------------------------------------------------------------


def _route(rules: Sequence[RoutingRule], text: str) -> RoutingRule | None:
    folded = fold(text)
    return next((rule for rule in rules if rule.keyword in folded), None)


def store(
    session: Session, channel_id: int, heard: Sequence[Heard], *, now: Any = None
) -> list[int]:
    """Store what is not stored yet (insert-if-absent on channel and network id: two listeners
    reading the same page store it once), routed by the rules. Returns the new items' ids."""
    if not heard:
        return []
    rules = session.scalars(select(RoutingRule).order_by(RoutingRule.id)).all()
    stored_at = now or now_utc()
    rows = []
    for item in {h.remote_id: h for h in heard}.values():
        rule = _route(rules, item.text)
        rows.append(
            {
                "channel_id": channel_id,
                "remote_id": item.remote_id,
                "kind": item.kind,
                "author_handle": item.author_handle,
                "author_name": item.author_name,
                "text": item.text,
                "url": item.url,
                "in_reply_to": item.in_reply_to,
                "reply_ref": item.reply_ref,
                "received_at": item.received_at,
                "stored_at": stored_at,
                "status": InboxStatus.ASSIGNED if rule else InboxStatus.NEW,
                "department_id": rule.department_id if rule else None,
                "routed_by_rule_id": rule.id if rule else None,
            }
        )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stored: list[int] = []
    for start in range(0, len(rows), INSERT_BATCH):
        statement = (
            insert(InboxItem)
            .values(rows[start : start + INSERT_BATCH])
            .on_conflict_do_nothing(index_elements=["channel_id", "remote_id"])
            .returning(InboxItem.id)
        )
        stored += session.scalars(statement).all()
    return sorted(stored)


def read_position(session: Session, channel_id: int, source: str) -> str | None:
    return session.scalar(
        select(ListenCursor.position).where(
            ListenCursor.channel_id == channel_id, ListenCursor.source == source
        )
    )


def advance(session: Session, channel_id: int, source: str, position: str) -> None:
    """Move the cursor forward, never back: a slower listener that read less leaves it."""
    cursor = session.scalar(
        select(ListenCursor)
        .where(ListenCursor.channel_id == channel_id, ListenCursor.source == source)
        .with_for_update()
    )
    if cursor is None:
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        session.execute(
            insert(ListenCursor)
            .values(channel_id=channel_id, source=source, position=position, updated_at=now_utc())
            .on_conflict_do_nothing(index_elements=["channel_id", "source"])
        )
        cursor = session.scalar(
            select(ListenCursor)
            .where(ListenCursor.channel_id == channel_id, ListenCursor.source == source)
            .with_for_update()
        )
        assert cursor is not None
    if newer(position, cursor.position):
        cursor.position = position
        cursor.updated_at = now_utc()
    session.flush()


# --- who sees what -------------------------------------------------------------------------------


def visible_to(user: User) -> ColumnElement[bool]:
    if is_reviewer(user):
        return true()
    own = [d.id for d in user.departments]
    return or_(
        InboxItem.department_id.is_(None),
        InboxItem.department_id.in_(own),
        InboxItem.assignee_id == user.id,
    )


@dataclass(frozen=True)
class InboxFilter:
    status: str | None = None
    channel_id: int | None = None
    department_id: int | None = None
    assignee_id: int | None = None


def check_filter(f: InboxFilter) -> InboxFilter:
    if f.status is not None and f.status not in STATUSES:
        raise InvalidInput(
            _l("unknown inbox status %(status)r", status=f.status),
            {"status": _l("one of %(statuses)s", statuses=", ".join(STATUSES))},
        )
    for name in ("channel_id", "department_id", "assignee_id"):
        value = getattr(f, name)
        if value is not None and not 0 < value <= MAX_ID:
            field = name.removesuffix("_id")
            raise InvalidInput(
                _l("%(field)s must be an id", field=field),
                {field: _l("between 1 and %(max_id)s", max_id=MAX_ID)},
            )
    return f


def list_items(
    session: Session, reader: User, f: InboxFilter = InboxFilter(), *, limit: int = 500
) -> Sequence[InboxItem]:
    """The items `reader` may see that match the filter, newest first."""
    check_filter(f)
    stmt = select(InboxItem).where(visible_to(reader))
    if f.status is not None:
        stmt = stmt.where(InboxItem.status == f.status)
    if f.channel_id is not None:
        stmt = stmt.where(InboxItem.channel_id == f.channel_id)
    if f.department_id is not None:
        stmt = stmt.where(InboxItem.department_id == f.department_id)
    if f.assignee_id is not None:
        stmt = stmt.where(InboxItem.assignee_id == f.assignee_id)
    stmt = stmt.order_by(InboxItem.received_at.desc(), InboxItem.id.desc()).limit(limit)
    return session.scalars(stmt).all()


def get_item(session: Session, reader: User, item_id: int, *, lock: bool = False) -> InboxItem:
    """An item the reader may see (404 otherwise: the id of an item one may not see tells
    nothing)."""
    stmt = select(InboxItem).where(InboxItem.id == item_id, visible_to(reader))
    if lock:
        stmt = stmt.with_for_update()
    item = session.scalar(stmt) if 0 < item_id <= MAX_ID else None
    if item is None:
        raise NotFound(_l("inbox item %(item_id)s does not exist", item_id=item_id))
    return item


# --- handing over and closing --------------------------------------------------------------------


def assign(
    session: Session,
    actor: User,
    item: InboxItem,
    *,
    department_id: int | None = None,
    assignee_id: int | None = None,
    note: str | None = None,
) -> InboxItem:
    """Hand an item to a department and/or a person, with a note; the person is told."""
    if department_id is None and assignee_id is None:
        raise InvalidInput(
            _l("name a department or a person to assign the item to"),
            {"department_id": _l("department_id or assignee_id is required")},
        )
    note = (note or "").strip() or None
    if note is not None and len(note) > audit.MAX_NOTE_LENGTH:
        raise InvalidInput(
            _l("the note is too long"),
            {"note": _l("at most %(max_note_length)s", max_note_length=audit.MAX_NOTE_LENGTH)},
        )
    department = get_department(session, department_id) if department_id is not None else None
    assignee = None
    if assignee_id is not None:
        try:
            assignee = get_user(session, assignee_id)
        except NotFound:
            raise InvalidInput(
                _l("unknown user id %(assignee_id)s", assignee_id=assignee_id),
                {"assignee_id": _l("unknown user")},
            ) from None
        if not assignee.active:
            raise InvalidInput(
                _l("%(assignee)s is deactivated", assignee=assignee.email),
                {"assignee_id": _l("is deactivated")},
            )
    if item.status == InboxStatus.CLOSED:
        raise Conflict(_l("inbox item %(item)s is closed; it cannot be assigned", item=item.id))
    if department is not None:
        item.department = department
    if assignee is not None:
        item.assignee = assignee
    if item.status == InboxStatus.NEW:
        item.status = InboxStatus.ASSIGNED
    item.note = note or item.note
    session.flush()
    audit.record(
        session,
        actor,
        "assign_inbox_item",
        item,
        reason=note,
        department_id=item.department_id,
        assignee_id=item.assignee_id,
    )
    if assignee is not None and assignee.id != actor.id:
        facts = {"person": actor.name, "author": item.author_handle}
        lines: list[str] = [
            _l(
                "%(person)s hands you what %(author)s wrote (%(channel)s):",
                **facts,
                channel=item.channel.name,
            )
            if item.channel is not None
            else _l("%(person)s hands you what %(author)s wrote:", **facts),
            "",
            item.text,
        ]
        if note:
            lines += ["", _l("Note: %(note)s", note=note)]
        if item.url:
            lines += ["", item.url]
        notifications.notify(
            session,
            [assignee],
            kind="inbox",
            subject=_l("Inbox: %(author)s — for you", author=item.author_handle),
            text=joined(lines, "\n"),
            link=f"{INBOX_LINK}#item-{item.id}",
        )
    return item


def close(
    session: Session,
    actor: User,
    item: InboxItem,
    *,
    note: str | None = None,
    answered: bool = False,
) -> InboxItem:
    """Done with; `answered`: it was answered elsewhere (by phone, by e-mail), which counts as
    its first answer if none was written here. Closing twice is harmless."""
    if item.status == InboxStatus.CLOSED:
        return item
    previous = item.status
    item.status = InboxStatus.CLOSED
    if answered and item.first_answer_at is None:
        item.first_answer_at = now_utc()
    session.flush()
    audit.record(
        session, actor, "close_inbox_item", item,
        reason=note, previous_status=previous, answered=answered,
    )  # fmt: skip
    return item


def mark_answered(session: Session, item: InboxItem) -> None:
    """A reply was written: answered, and its first answer is now unless one came before."""
    session.execute(
        update(InboxItem)
        .where(InboxItem.id == item.id, InboxItem.status != InboxStatus.CLOSED)
        .values(
            status=InboxStatus.ANSWERED,
            first_answer_at=func.coalesce(InboxItem.first_answer_at, now_utc()),
        )
        .execution_options(synchronize_session=False)
    )


# --- routing rules -------------------------------------------------------------------------------


def list_rules(session: Session) -> Sequence[RoutingRule]:
    return session.scalars(select(RoutingRule).order_by(RoutingRule.id)).all()


def create_rule(session: Session, actor: User, *, keyword: str, department_id: int) -> RoutingRule:
    require_admin(actor, _l("manage routing rules"))
    word = fold(keyword)
    if not word:
        raise InvalidInput(_l("a routing rule needs a word"), {"keyword": _l("must not be empty")})
    if len(word) > MAX_KEYWORD_LENGTH:
        raise InvalidInput(
            _l("the word is too long"),
            {
                "keyword": _l(
                    "at most %(max_keyword_length)s characters",
                    max_keyword_length=MAX_KEYWORD_LENGTH,
                )
            },
        )
    department = get_department(session, department_id)
    if session.scalar(select(RoutingRule.id).where(RoutingRule.keyword == word)) is not None:
        raise Conflict(_l("a routing rule for %(word)r exists already", word=word))
    rule = RoutingRule(keyword=word, department=department)
    session.add(rule)
    session.flush()
    audit.record(
        session, actor, "create_routing_rule", rule, keyword=word, department=department.id
    )
    return rule


def delete_rule(session: Session, actor: User, rule_id: int) -> None:
    require_admin(actor, _l("manage routing rules"))
    rule = session.get(RoutingRule, rule_id) if 0 < rule_id <= MAX_ID else None
    if rule is None:
        raise NotFound(_l("routing rule %(rule_id)s does not exist", rule_id=rule_id))
    audit.record(session, actor, "delete_routing_rule", rule, keyword=rule.keyword)
    session.delete(rule)
    session.flush()


# --- watched hashtags and search terms -----------------------------------------------------------
# Both are read into the channel's inbox as items of kind `hashtag` and `term` (watch.py says how
# a post matches): Mastodon reads a hashtag's timeline (streamed where it can) and searches a
# term; Bluesky takes both from the firehose it reads anyway.

WATCHING_KINDS = ("mastodon", "bluesky")
MAX_WATCHED = 20


def hashtags_of(session: Session, channel_id: int) -> list[str]:
    return list(
        session.scalars(
            select(WatchedHashtag.tag)
            .where(WatchedHashtag.channel_id == channel_id)
            .order_by(WatchedHashtag.tag)
        )
    )


def terms_of(session: Session, channel_id: int) -> list[str]:
    return list(
        session.scalars(
            select(WatchedTerm.term)
            .where(WatchedTerm.channel_id == channel_id)
            .order_by(WatchedTerm.term)
        )
    )


def _may_watch(actor: User, channel: Channel, what: Text) -> None:
    require_admin(actor, what)
    if channel.kind not in WATCHING_KINDS:
        raise InvalidInput(
            _l(
                "channel %(channel)s is not a network channel that can listen",
                channel=channel.name,
            ),
            {"channel_id": _l("must be a Mastodon or Bluesky channel")},
        )


def _at_most(values: list[str], field: str) -> list[str]:
    if len(values) > MAX_WATCHED:
        raise InvalidInput(
            _l("a channel watches at most %(count)d %(what)s", count=MAX_WATCHED, what=field),
            {field: _l("at most %(count)d", count=MAX_WATCHED)},
        )
    return values


def set_hashtags(session: Session, actor: User, channel: Channel, tags: Sequence[str]) -> list[str]:
    """The hashtags whose posts are read into this channel's inbox (admins)."""
    _may_watch(actor, channel, _l("choose the hashtags a channel listens to"))
    wanted = _at_most(normalise_tags(tags, "tags"), "tags")
    session.execute(delete(WatchedHashtag).where(WatchedHashtag.channel_id == channel.id))
    session.add_all(WatchedHashtag(channel_id=channel.id, tag=tag) for tag in wanted)
    session.flush()
    audit.record(session, actor, "watch_hashtags", channel, tags=wanted)
    return hashtags_of(session, channel.id)


def set_terms(session: Session, actor: User, channel: Channel, terms: Sequence[str]) -> list[str]:
    """The search terms whose posts are read into this channel's inbox (admins): words matched
    whole, in any case ("Strom" finds "STROM fällt aus", not "Stromrechnung")."""
    _may_watch(actor, channel, _l("choose the search terms a channel listens to"))
    wanted = _at_most(normalise_keywords(terms, "terms"), "terms")
    session.execute(delete(WatchedTerm).where(WatchedTerm.channel_id == channel.id))
    session.add_all(WatchedTerm(channel_id=channel.id, term=term) for term in wanted)
    session.flush()
    audit.record(session, actor, "watch_terms", channel, terms=wanted)
    return terms_of(session, channel.id)
