"""Who is told what happened to a post, and to the crisis: the rule modules call these in the
transaction that decided, so a decision that is rolled back tells nobody. The words live in
calendar_app/notices.py; whether and how each person hears of it is their own setting.

Nobody is told of their own action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from calendar_app import notifications
from calendar_app.models import Crisis, Post, PostStatus, User
from calendar_app.permissions import REVIEWERS
from calendar_app.plain_text import one_line, shortened
from calendar_app.timeutil import iso_utc

# Statuses an approved post reaches without anyone acting on it, and the notice of each.
STATUS_NEWS = {
    PostStatus.HELD: "held",
    PostStatus.MISSED: "missed",
    PostStatus.UNKNOWN: "unknown",
    PostStatus.FAILED: "failed",
    PostStatus.PUBLISHED: "published",
}
NAME_LENGTH = 60


def post_name(post: Post) -> str:
    """How people recognise a post: its title, else the start of its text, on one line."""
    return shortened(one_line(post.title or post.body), NAME_LENGTH)


def who(person: User) -> str:
    """A person as colleagues recognise them, unmistakably: "Lena Hoffmann (lena@…)"."""
    return f"{person.name} ({person.email})" if person.name else person.email


def _facts(post: Post, actor: User | None = None, **more: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"post": post_name(post), "post_id": post.id}
    if actor is not None:
        facts["actor"] = who(actor)
    return {**facts, **{k: v for k, v in more.items() if v is not None}}


def _link(post: Post) -> str:
    return f"/posts/{post.id}"


def tell_author(session: Session, post: Post, actor: User | None, kind: str, **facts: Any) -> None:
    """The post's author hears of what someone did to it (`approved`, `sent_back`, ...)."""
    if post.author is None or (actor is not None and actor.id == post.author_id):
        return
    if "when" in facts and facts["when"] is not None:
        facts["when"] = iso_utc(facts["when"])
    notifications.notify(
        session, [post.author], kind=kind, params=_facts(post, actor, **facts), link=_link(post)
    )


def tell_heads_waiting(session: Session, post: Post, actor: User) -> None:
    """The communications heads hear that a post waits for their approval."""
    heads = session.scalars(select(User).where(User.role == "head", User.active.is_(True))).all()
    notifications.notify(
        session,
        [head for head in heads if head.id != actor.id],
        kind="waiting_for_approval",
        params=_facts(post, actor, when=iso_utc(post.publish_at)),
        link=_link(post),
    )


def tell_authors_of_status(session: Session, status: PostStatus, post_ids: Sequence[int]) -> None:
    """Authors hear that their approved posts were held, missed, failed, published, or that
    nobody can tell whether they went out (statuses no person chose)."""
    kind = STATUS_NEWS.get(status)
    if kind is None or not post_ids:
        return
    posts = session.scalars(
        select(Post).where(Post.id.in_(post_ids)).options(selectinload(Post.author))
    ).all()
    for post in posts:
        if post.author is not None:
            notifications.notify(
                session, [post.author], kind=kind, params=_facts(post), link=_link(post)
            )


def tell_lift_waiting(session: Session, crisis: Crisis, actor: User) -> None:
    """Every other head and admin hears at once that lifting the crisis needs them."""
    reviewers: Iterable[User] = session.scalars(
        select(User).where(User.role.in_(list(REVIEWERS)), User.active.is_(True))
    ).all()
    notifications.notify(
        session,
        [user for user in reviewers if user.id != actor.id],
        kind="lift_to_confirm",
        params={
            "actor": who(actor),
            "crisis": crisis.reason,
            "note": crisis.lift_note or "",
        },
        link="/crisis",
    )
