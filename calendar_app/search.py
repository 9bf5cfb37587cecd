"""Full-text search over posts: their title, body, tags and comments.

The database keeps the index (migrations/versions/0020_search.py: triggers on posts, tags and
comments), so a post is found by the words it has now, however it was changed. This module
only asks: SQLite's FTS5 table or PostgreSQL's `tsvector`s, behind `search_posts`.

What someone types is read as words, never as query syntax: quotes, `NEAR`, `*`, `-`, `OR` and
parentheses are just text. Every word must occur (in any field); the last one may be the start
of a word, so results come while someone is still typing.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Select, column, func, literal, literal_column, select, table
from sqlalchemy.orm import Session

from calendar_app.models import Post

# The index's tables: not in the models (the database maintains them), so the schema comparison
# leaves them out. SQLite's FTS5 adds its own shadow tables next to the one it is asked for.
INDEX_TABLE = "post_search"
MAX_WORDS = 12
MAX_RESULTS = 500
# Letters and digits; everything else (punctuation, operators, underscores) separates words.
_WORD = re.compile(r"[^\W_]+")
# SQLite: weights of title, body, tags and comments in the ranking (bm25; lower is better).
_SQLITE_WEIGHTS = (10.0, 1.0, 5.0, 0.5)


def is_index_table(name: str) -> bool:
    return name == INDEX_TABLE or name.startswith(INDEX_TABLE + "_")


def words_of(text: str) -> list[str]:
    """The words of a search, lower-cased, each once, at most MAX_WORDS."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))[:MAX_WORDS]


def _hits(session: Session, words: list[str]) -> Select[tuple[int, float]]:
    """(post id, rank) of the posts that contain every word; a lower rank is a better hit."""
    if session.get_bind().dialect.name == "postgresql":
        index = table(INDEX_TABLE, column("post_id"), column("document"))
        # Each word a quoted lexeme (words hold only letters and digits: no quote to escape).
        terms = [f"'{w}'" for w in words]
        terms[-1] += ":*"
        query = func.to_tsquery(literal_column("'simple'::regconfig"), literal(" & ".join(terms)))
        return select(
            index.c.post_id.label("post_id"), (-func.ts_rank(index.c.document, query)).label("rank")
        ).where(index.c.document.bool_op("@@")(query))
    fts = table(INDEX_TABLE, column("rowid"))
    # Each word a quoted FTS5 string, the last one a prefix.
    match = " ".join(f'"{w}"' for w in words) + "*"
    return select(
        fts.c.rowid.label("post_id"),
        func.bm25(literal_column(INDEX_TABLE), *_SQLITE_WEIGHTS).label("rank"),
    ).where(literal_column(INDEX_TABLE).bool_op("MATCH")(literal(match)))


def search_posts(session: Session, text: str, *, limit: int = MAX_RESULTS) -> list[int]:
    """The ids of the posts that match `text`, best first (at most `limit`); none for a text
    without words."""
    words = words_of(text)
    if not words:
        return []
    hits = _hits(session, words).subquery()
    stmt = (
        select(hits.c.post_id)
        .join(Post, Post.id == hits.c.post_id)
        .order_by(hits.c.rank, Post.publish_at.desc(), Post.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def matching(session: Session, text: str) -> ColumnElement[bool]:
    """A condition on posts: those that match `text` (for a filtered list in plan order)."""
    words = words_of(text)
    if not words:
        return Post.id.in_([])
    hits = _hits(session, words).subquery()
    return Post.id.in_(select(hits.c.post_id))
