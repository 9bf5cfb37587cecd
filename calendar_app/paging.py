"""The plan one page at a time: `GET /api/v1/posts` answers at most `limit` posts and a cursor for
the next page, so a long plan never goes out (or is read) in one piece.

A cursor names the last post of a page by its place in the plan's order (publish time, then id),
so walking the pages returns every post once and in order even while posts are added or moved:
the next page starts after that place, not after a count of rows (an offset would skip or repeat
posts when the plan changes between two pages). To a client the cursor is opaque text.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from calendar_app import search as full_text
from calendar_app.models import MAX_ID, Delivery, Post
from calendar_app.planning import post_filters
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import check_aware

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
_VERSION = "p1"


@dataclass(frozen=True)
class Cursor:
    """The place of the last post a page showed."""

    publish_at: datetime
    post_id: int

    def encode(self) -> str:
        text = f"{_VERSION}|{check_aware(self.publish_at).isoformat()}|{self.post_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor in `text`; ValueError when it is not one this app gave out."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            version, at, post_id = raw.split("|")
            if version != _VERSION or not (post_id.isascii() and post_id.isdigit()):
                raise ValueError(text)
            cursor = cls(check_aware(datetime.fromisoformat(at)), int(post_id))
        except (binascii.Error, UnicodeError, ValueError):
            raise ValueError("is not a cursor from an earlier page") from None
        if not 0 < cursor.post_id <= MAX_ID:
            raise ValueError("is not a cursor from an earlier page")
        return cursor


def read_cursor(query: QueryArgs, name: str = "cursor") -> Cursor | None:
    """The cursor a request names, if any; a bad one is recorded as the parameter's problem."""
    raw = query.text(name)
    if raw is None:
        return None
    try:
        return Cursor.decode(raw)
    except ValueError as exc:
        query.refuse(name, str(exc))
        return None


@dataclass(frozen=True)
class PostPage:
    posts: Sequence[Post]
    next_cursor: str | None  # None: this is the last page


def page_of_posts(
    session: Session,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    after: Cursor | None = None,
    search: str | None = None,
    **filters: object,
) -> PostPage:
    """Up to `limit` posts in plan order after `after`, filtered as `planning.post_filters`
    and, with `search`, to the posts that match those words (search.py)."""
    stmt = (
        select(Post)
        .options(
            selectinload(Post.deliveries).selectinload(Delivery.channel),
            selectinload(Post.author),
            selectinload(Post.approved_by),
            selectinload(Post.department),
            selectinload(Post.campaign),
            selectinload(Post.tag_rows),
            selectinload(Post.media_rows),
        )
        .where(*post_filters(**filters))  # type: ignore[arg-type]
    )
    if search is not None:
        stmt = stmt.where(full_text.matching(session, search))
    if after is not None:
        stmt = stmt.where(
            or_(
                Post.publish_at > after.publish_at,
                and_(Post.publish_at == after.publish_at, Post.id > after.post_id),
            )
        )
    # One more than asked tells whether another page follows.
    posts = session.scalars(stmt.order_by(Post.publish_at, Post.id).limit(limit + 1)).all()
    if len(posts) <= limit:
        return PostPage(posts, None)
    last = posts[limit - 1]
    return PostPage(posts[:limit], Cursor(last.publish_at, last.id).encode())
