"""Comments on a post, for hand-over between departments, with mentions that notify.

A mention is `@` followed by a person's e-mail address (`@lena.hoffmann@nordhafen.example`):
unambiguous, and what everyone in the team already knows. A mention of an address nobody has is
refused, so a hand-over never silently reaches no one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.errors import InvalidInput
from calendar_app.models import Comment, Post, User
from calendar_app.notifications import notify
from calendar_app.post_news import post_name
from calendar_app.words import _l, joined

MAX_COMMENT_LENGTH = 5000
# "@" + an e-mail address, not itself inside a word or an address; trailing punctuation excluded.
_MENTION = re.compile(r"(?<![\w@.])@([\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})")


def mentioned_addresses(body: str) -> list[str]:
    return list(dict.fromkeys(m.lower() for m in _MENTION.findall(body)))


def comments_on(session: Session, post: Post) -> Sequence[Comment]:
    return session.scalars(
        select(Comment).where(Comment.post_id == post.id).order_by(Comment.created_at, Comment.id)
    ).all()


def _mentioned_people(session: Session, body: str) -> list[User]:
    addresses = mentioned_addresses(body)
    if not addresses:
        return []
    people = {
        u.email: u
        for u in session.scalars(select(User).where(User.email.in_(addresses)))
        if u.active
    }
    unknown = [a for a in addresses if a not in people]
    if unknown:
        raise InvalidInput(
            _l(
                "nobody active in the team has the e-mail address %(unknown)s: check the mention "
                "(@ followed by the person's e-mail address)",
                unknown=", ".join(unknown),
            ),
            {"body": _l("unknown mention: %(unknown)s", unknown=", ".join(unknown))},
        )
    return [people[a] for a in addresses]


def add_comment(session: Session, author: User, post: Post, body: str) -> Comment:
    """Anyone signed in may comment; everyone mentioned (but the author) is notified."""
    if not body.strip():
        raise InvalidInput(_l("a comment needs some text"), {"body": _l("must not be empty")})
    if len(body) > MAX_COMMENT_LENGTH:
        raise InvalidInput(
            _l(
                "a comment may have at most %(max_comment_length)s characters",
                max_comment_length=MAX_COMMENT_LENGTH,
            ),
            {
                "body": _l(
                    "is longer than %(max_comment_length)s characters",
                    max_comment_length=MAX_COMMENT_LENGTH,
                )
            },
        )
    mentioned = _mentioned_people(session, body)
    comment = Comment(post_id=post.id, author=author, body=body)
    session.add(comment)
    session.flush()
    notify(
        session,
        [person for person in mentioned if person.id != author.id],
        kind="mention",
        subject=_l("%(person)s mentioned you: %(post)s", person=author.name, post=post_name(post)),
        text=joined(
            [_l("%(person)s on “%(post)s”:", person=author.name, post=post_name(post)), body],
            "\n\n",
        ),
        link=f"/posts/{post.id}#comment-{comment.id}",
    )
    return comment
