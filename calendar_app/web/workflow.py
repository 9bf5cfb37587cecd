"""Stand-in rule the browser needs and the core does not have yet.

SEND-BACK HELPER: `planning.edit_post` keeps a post that is in review in review, so there is no
rule that sends it back to its author. Until `planning.send_back_post` exists this small helper
does it, in the shape of the other rules (takes a session, checks who may, flushes, audits, never
commits). Move it into planning.py and delete this module.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from calendar_app import audit
from calendar_app.errors import Conflict, InvalidInput
from calendar_app.models import Post, PostStatus, User
from calendar_app.permissions import require_reviewer
from calendar_app.timeutil import now_utc


def send_back_post(session: Session, head: User, post: Post, *, comment: str) -> Post:
    """A head returns a submitted post to its author as a draft, saying what to change."""
    require_reviewer(head, "send posts back to their authors")
    if not comment.strip():
        raise InvalidInput(
            "say what should change when sending a post back", {"comment": "must not be empty"}
        )
    if post.status != PostStatus.IN_REVIEW:
        raise Conflict(f"only a post in review can be sent back; this post is {post.status}")
    post.status = PostStatus.DRAFT
    post.updated_at = now_utc()
    session.flush()
    audit.record(session, head, "send_back", post, reason=comment.strip())
    return post
