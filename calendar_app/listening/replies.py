"""Replying from the inbox: a reply is a post with one delivery, to the item's channel, that
answers the item's status on the network (the thread is kept).

It follows every rule of a post: the channel's length limit, the four-eyes approval (a reply by
someone who may approve it goes out at once; any other waits for a head in Approvals), the same
claim as every delivery, so a crisis, a blackout or an early warning holds it like any post
(approved crisis responses excepted).
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from calendar_app import holds, planning
from calendar_app.errors import Conflict, InvalidInput
from calendar_app.listening.inbox import mark_answered
from calendar_app.models import InboxItem, InboxStatus, Post, User
from calendar_app.permissions import may_approve
from calendar_app.timeutil import now_utc
from calendar_app.words import _l

MAX_TITLE = 200


def reply_target(item: InboxItem) -> str:
    """What the reply names on the network: the item's id (Mastodon), or the thread reference
    the item keeps where the network needs root and parent (Bluesky), as JSON."""
    if item.reply_ref:
        return json.dumps(item.reply_ref, separators=(",", ":"), sort_keys=True)
    return item.remote_id


def reply_to_item(
    session: Session,
    actor: User,
    item: InboxItem,
    *,
    body: str,
    allow_self_approval: bool = False,
) -> Post:
    """Write the reply as a post due now, submit it, and approve it when the actor may."""
    if not body.strip():
        raise InvalidInput(_l("a reply needs a text"), {"body": _l("must not be empty")})
    if item.status == InboxStatus.CLOSED:
        raise Conflict(
            _l("inbox item %(item)s is closed: there is nothing more to answer", item=item.id)
        )
    post = planning.create_post(
        session,
        actor,
        body=body,
        channel_ids=[item.channel_id],
        publish_at=now_utc(),
        title=f"Reply to {item.author_handle}"[:MAX_TITLE],
    )
    post.in_reply_to = reply_target(item)
    post.inbox_item_id = item.id
    session.flush()
    planning.submit_post(session, actor, post)
    crisis_id = holds.active_crisis_id(session)
    if may_approve(
        actor,
        post,
        allow_self_approval=allow_self_approval,
        answers_crisis=holds.answers_crisis(post, crisis_id),
    ):
        planning.approve_post(session, actor, post, allow_self_approval=allow_self_approval)
    mark_answered(session, item)
    session.refresh(item)
    return post
