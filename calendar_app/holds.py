"""Topic and keyword holds: what a crisis stops beyond its channels.

A crisis may name topics (tags on posts) and keywords. A delivery whose post carries a held
topic, or whose text contains a held keyword, is held on every channel, not only those in the
crisis' scope. The decision is an SQL condition that `crisis.must_hold` adds to the claim, so it
is made in the same transaction as the rest of the crisis check (guarantee 1).

Matching, decided once here:
- Tags are normalised when stored: Unicode NFKC, case-folded, a leading "#" dropped, inner
  whitespace collapsed ("#Sommer  Aktion" -> "sommer aktion"). A topic holds a post that carries
  exactly that tag.
- Keywords match **substrings**, case-insensitively, of the title, the body and the channel's
  own text. German builds words by compounding: "Rabatt" must also catch "Sommerrabatt" and
  "Rabattaktion", and a missed hold is worse than a needless one (a head releases it in a click).
- Case-insensitive means Unicode case folding in Python ("JUBILÄUM" = "jubiläum", "STRASSE" =
  "straße"), never SQLite's `lower()`, which folds ASCII only. Each delivery keeps its folded
  text in `hold_text`, written whenever the text changes, and the SQL compares folded with folded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Row, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from calendar_app.db import locks_rows
from calendar_app.errors import InvalidInput
from calendar_app.models import (
    HOLDABLE,
    Crisis,
    Delivery,
    DeliveryStatus,
    Post,
    PostTag,
    QueueState,
)
from calendar_app.words import _l

MAX_TAG_LENGTH = 60
MAX_KEYWORD_LENGTH = 100
QUEUE_STATE_ID = 1
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Text as it is compared: NFKC, case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def normalise_tag(tag: str) -> str:
    return fold(tag).lstrip("#").strip()


def normalise_tags(tags: Iterable[str], field: str = "tags") -> list[str]:
    """Tags as stored: normalised, without empties and duplicates, in the order given."""
    return _normalised(tags, normalise_tag, _l("topic"), MAX_TAG_LENGTH, field)


def normalise_keywords(keywords: Iterable[str], field: str = "keywords") -> list[str]:
    return _normalised(keywords, fold, _l("keyword"), MAX_KEYWORD_LENGTH, field)


def _normalised(
    values: Iterable[str], normalise: Callable[[str], str], noun: str, limit: int, field: str
) -> list[str]:
    result: list[str] = []
    for raw in values:
        value = normalise(raw)
        if len(value) > limit:
            raise InvalidInput(
                _l(
                    "the %(noun)s %(raw)r is longer than %(limit)s characters",
                    noun=noun,
                    raw=raw,
                    limit=limit,
                ),
                {field: _l("each %(noun)s at most %(limit)s characters", noun=noun, limit=limit)},
            )
        if value and value not in result:
            result.append(value)
    return result


def delivery_hold_text(title: str, body: str, override: str | None) -> str:
    """What keyword holds search in one delivery: title, body and the channel's own text."""
    return fold("\n".join(part for part in (title, body, override or "") if part))


def index_post_text(post: Post) -> None:
    """Refresh every delivery's searchable text after the post's text changed."""
    for delivery in post.deliveries:
        delivery.hold_text = delivery_hold_text(post.title, post.body, delivery.body_override)


def set_tags(post: Post, tags: Sequence[str]) -> None:
    """Give the post these tags (already normalised), keeping the rows of tags that stay."""
    wanted = list(tags)
    post.tag_rows = [row for row in post.tag_rows if row.tag in wanted]
    present = {row.tag for row in post.tag_rows}
    post.tag_rows.extend(PostTag(tag=tag) for tag in wanted if tag not in present)


def topic_or_keyword_hold(topics: Sequence[str], keywords: Sequence[str]) -> ColumnElement[bool]:
    """Deliveries whose post carries one of `topics` or whose text contains one of `keywords`."""
    conditions: list[ColumnElement[bool]] = []
    if topics:
        tagged = select(PostTag.post_id).where(PostTag.tag.in_(list(topics)))
        conditions.append(Delivery.post_id.in_(tagged))
    for word in keywords:
        conditions.append(Delivery.hold_text.contains(word, autoescape=True))
    return or_(*conditions) if conditions else false()


def hold(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    now: datetime,
    *,
    crisis_id: int | None = None,
    blackout_id: int | None = None,
    alert_id: int | None = None,
    skip_locked: bool = True,
) -> Sequence[Row[tuple[int, int]]]:
    """Hold the due deliveries not on the wire that meet `conditions`, for a crisis, a
    blackout or an early-warning alert: the one statement they all use. Rows a person has
    locked are skipped (the claim or the start sees them next), unless `skip_locked` is False;
    then they are waited for, in id order, the order people lock them in. Ends any claim on
    them (the token). Returns (id, post id)."""
    due = (
        select(Delivery.id)
        .where(Delivery.status.in_(HOLDABLE), *conditions)
        .order_by(Delivery.id)
        .with_for_update(skip_locked=skip_locked)
        .cte("due_to_hold")
    )
    return session.execute(
        update(Delivery)
        .where(Delivery.id.in_(select(due.c.id)), Delivery.status.in_(HOLDABLE))
        .values(
            status=DeliveryStatus.HELD,
            held_by_crisis_id=crisis_id,
            held_by_blackout_id=blackout_id,
            held_by_alert_id=alert_id,
            held_at=now,
            claim_token=None,
        )
        .returning(Delivery.id, Delivery.post_id)
        .execution_options(synchronize_session=False)
    ).all()


def not_answering(crisis_id: int | None) -> ColumnElement[bool]:
    """Deliveries that crisis and blackout holds apply to: all but the approved crisis responses
    to the crisis in force (`crisis_id`; None: no crisis, so no exemption). A crisis response
    answers one crisis; once that crisis is lifted it is held like any other post."""
    if crisis_id is None:
        return true()
    return Delivery.post_id.in_(
        select(Post.id).where(
            or_(Post.crisis_response.is_(False), Post.crisis_id.is_distinct_from(crisis_id))
        )
    )


def answers_crisis(post: Post, crisis_id: int | None) -> bool:
    """The same rule for one post in Python."""
    return crisis_id is not None and post.crisis_response and post.crisis_id == crisis_id


def crisis_topic_or_keyword_hold(crisis: Crisis) -> ColumnElement[bool]:
    return topic_or_keyword_hold(crisis.hold_topics or [], crisis.hold_keywords or [])


def held_words_in(post: Post, keywords: Sequence[str]) -> list[str]:
    """The held keywords that appear in the post's title, body or any channel's own text (each
    delivery's text holds all three, as in `hold_text`)."""
    texts = [delivery_hold_text(post.title, post.body, d.body_override) for d in post.deliveries]
    return [word for word in keywords if any(word in text for text in texts)]


# PostgreSQL: the advisory lock that stands for the queue. Claims and starts take it shared, a
# declaration, a lift or a blackout change exclusively: the same conflict as FOR SHARE against
# FOR UPDATE on the queue_state row, without the row-lock bookkeeping (MultiXacts) that many
# schedulers sharing one row would cost on every start step.
QUEUE_LOCK_KEY = 0x63616C71  # "calq"


def lock_queue(session: Session, *, exclusive: bool) -> None:
    """Serialise against the queue: shared for a claim or a start, exclusive for what changes what
    they may send. On SQLite every transaction already holds the database (BEGIN IMMEDIATE)."""
    if not locks_rows(session):
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(select(getattr(func, function)(QUEUE_LOCK_KEY)))


def active_crisis_id(session: Session) -> int | None:
    """The id of the crisis in force, read without a lock (for checks a claim repeats)."""
    return session.scalar(
        select(QueueState.active_crisis_id).where(QueueState.id == QUEUE_STATE_ID)
    )


def active_hold_keywords(session: Session) -> list[str]:
    """The keywords the crisis in force holds (none without a crisis)."""
    crisis_id = active_crisis_id(session)
    crisis = session.get(Crisis, crisis_id) if crisis_id is not None else None
    return list(crisis.hold_keywords or []) if crisis is not None else []
