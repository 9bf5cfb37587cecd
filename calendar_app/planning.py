"""Posts and their deliveries: create, edit, submit, approve; checked against channel rules."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, selectinload

from calendar_app import audit, holds, interleave, post_media, post_news
from calendar_app import search as full_text
from calendar_app.campaigns import find_campaign
from calendar_app.channel_rules import body_problem
from calendar_app.channels import channels_by_ids
from calendar_app.db import locks_rows
from calendar_app.departments import default_department, get_department
from calendar_app.errors import Conflict, InvalidInput, NotFound
from calendar_app.models import (
    MAX_ID,
    AuditEntry,
    Channel,
    Delivery,
    DeliveryStatus,
    Post,
    PostStatus,
    User,
)
from calendar_app.permissions import (
    require_may_approve,
    require_may_approve_held_words,
    require_may_change_post,
    require_may_submit,
    require_reviewer,
)
from calendar_app.post_media import ImageChoice
from calendar_app.timeutil import check_aware, now_utc
from calendar_app.words import Text, _l, joined

# Before approval a post's status is its place in the workflow; after, it is derived from its
# deliveries (settle_post_status) so the calendar shows what most needs attention.
WORKFLOW_STATUSES = (PostStatus.DRAFT, PostStatus.IN_REVIEW)
MAX_TITLE_LENGTH = 200


def lock_post(session: Session, post: Post) -> list[Delivery]:
    """Take the post's deliveries (in id order, so two people never deadlock) and the post
    itself for a person's change, and read them as they are now.

    Every person's action on a post goes through here: a claim skips locked rows (SKIP LOCKED)
    and a sender's start or outcome waits for them, so a person never writes over a scheduler's
    change they did not see, nor the other way round. The lock order (deliveries, then the post)
    is the one the scheduler's own writes follow (settle_post_status). On SQLite the
    transaction holds the database's write lock from its first statement.
    """
    session.flush()
    session.execute(
        select(Delivery.id)
        .where(Delivery.post_id == post.id)
        .order_by(Delivery.id)
        .with_for_update()
    )
    session.execute(select(Post.id).where(Post.id == post.id).with_for_update())
    for delivery in list(post.deliveries):
        session.expire(delivery)
    session.expire(post)
    deliveries = list(post.deliveries)
    interleave.reached("person.locked")
    return deliveries


def _crisis_to_answer(session: Session, crisis_response: bool) -> int | None:
    """The crisis a crisis response answers: the one in force. Outside a crisis the flag is
    refused, so it can never be a side door around the four-eyes rule or the holds."""
    if not crisis_response:
        return None
    crisis_id = holds.active_crisis_id(session)
    if crisis_id is None:
        raise Conflict(
            _l(
                "a crisis response answers a crisis in force, and none is in force now: plan it "
                "as a normal post, or prepare it as a holding statement in a crisis playbook"
            ),
            {"crisis_response": _l("only while a crisis is in force")},
        )
    return crisis_id


def get_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id) if 0 < post_id <= MAX_ID else None
    if post is None:
        raise NotFound(_l("post %(post)s does not exist", post=post_id))
    return post


def post_filters(
    *,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    channel_id: int | None = None,
    department_id: int | None = None,
    campaign_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions of a filtered view of the plan, for any query on posts."""
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(Post.status == status)
    if start is not None:
        conditions.append(Post.publish_at >= start)
    if end is not None:
        conditions.append(Post.publish_at < end)
    if channel_id is not None:
        conditions.append(
            Post.id.in_(select(Delivery.post_id).where(Delivery.channel_id == channel_id))
        )
    if department_id is not None:
        conditions.append(Post.department_id == department_id)
    if campaign_id is not None:
        conditions.append(Post.campaign_id == campaign_id)
    return conditions


def list_posts(
    session: Session,
    *,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    channel_id: int | None = None,
    department_id: int | None = None,
    campaign_id: int | None = None,
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Post]:
    """Posts by publish time; `start`/`end` bound `publish_at` (start inclusive, end exclusive);
    `search`: only the posts that match these words (search.py)."""
    stmt = select(Post).options(
        selectinload(Post.deliveries),
        selectinload(Post.author),
        selectinload(Post.department),
        selectinload(Post.campaign),
        selectinload(Post.tag_rows),
        selectinload(Post.media_rows),
    )
    stmt = stmt.where(
        *post_filters(
            status=status,
            start=start,
            end=end,
            channel_id=channel_id,
            department_id=department_id,
            campaign_id=campaign_id,
        )
    )
    if search is not None:
        stmt = stmt.where(full_text.matching(session, search))
    stmt = stmt.order_by(Post.publish_at, Post.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all()


def check_text(
    title: str,
    body: str,
    channels: Sequence[Channel],
    overrides: Mapping[int, str] | None = None,
) -> None:
    """Refuse a text that a channel would not take in full (never cut it to fit).

    Each channel gets its override when it has one, the post's body otherwise.
    """
    overrides = overrides or {}
    problems: dict[str, str] = {}
    if len(title) > MAX_TITLE_LENGTH:
        problems["title"] = _l("is longer than %(max)s characters", max=MAX_TITLE_LENGTH)
    if not body.strip():
        problems["body"] = _l("must not be empty")
    strangers = sorted(set(overrides) - {c.id for c in channels})
    for channel_id in strangers:
        problems[f"overrides.{channel_id}"] = _l("is not one of the post's channels")
    body_problems = []
    for channel in channels:
        text = overrides.get(channel.id) or body
        if not text.strip():
            continue
        if problem := body_problem(text, channel.network, channel.name):
            if channel.id in overrides:
                problems[f"overrides.{channel.id}"] = problem
            else:
                body_problems.append(problem)
    if body_problems and "body" not in problems:
        problems["body"] = joined(body_problems)
    if problems:
        raise InvalidInput(
            _l(
                "the post does not fit its channels: %(problems)s",
                problems=joined(joined((k, v), " ") for k, v in problems.items()),
            ),
            problems,
        )


def create_post(
    session: Session,
    author: User,
    *,
    body: str,
    channel_ids: Sequence[int],
    publish_at: datetime,
    title: str = "",
    crisis_response: bool = False,
    department_id: int | None = None,
    campaign_id: int | None = None,
    overrides: Mapping[int, str] | None = None,
    tags: Sequence[str] = (),
    media: Sequence[ImageChoice] | None = None,
    alt_text_waived: bool = False,
    alt_text_waiver_reason: str | None = None,
) -> Post:
    """A new draft; `overrides` gives some channels their own text (channel id -> text).

    Without a department the post belongs to the author's first one (departments.py).
    `media`: the images, each with its alt text (None: the caller offers no images, as an
    imported plan or a prepared statement; a channel that needs one then gets it in the
    composer before the post is approved).
    """
    channels = channels_by_ids(session, channel_ids)
    overrides = _clean_overrides(overrides)
    check_text(title, body, channels, overrides)
    images = post_media.check_images(
        session,
        media or (),
        channels,
        waived=alt_text_waived,
        waiver_reason=alt_text_waiver_reason,
        images_required=media is not None,
    )
    clean_tags = holds.normalise_tags(tags)
    crisis_id = _crisis_to_answer(session, crisis_response)
    post = Post(
        title=title.strip(),
        body=body,
        publish_at=check_aware(publish_at),
        author=author,
        crisis_response=crisis_response,
        crisis_id=crisis_id,
        department=(
            get_department(session, department_id)
            if department_id is not None
            else default_department(session, author)
        ),
        campaign=find_campaign(session, campaign_id, field="campaign_id"),
        status=PostStatus.DRAFT,
        deliveries=[
            Delivery(channel=channel, body_override=overrides.get(channel.id))
            for channel in channels
        ],
    )
    holds.set_tags(post, clean_tags)
    post_media.set_images(
        post, images, waived=alt_text_waived, waiver_reason=alt_text_waiver_reason
    )
    holds.index_post_text(post)
    session.add(post)
    session.flush()
    post_media.record_waiver(session, author, post, {})
    return post


def duplicate_post(
    session: Session, actor: User, template: Post, *, publish_at: datetime | None = None
) -> Post:
    """A new draft by `actor` from an existing post ("use as template"): the same text, channel
    texts, channels, tags, campaign, department, images with their alt text. It is planned at
    `publish_at`, or without one at the template's time of day on the next day from now that
    is still to come (a draft goes nowhere until it is approved).

    It is a new plan: checked against the channels as they are now, never a crisis response
    (that answers one crisis, with its own approval), and never a reply to an inbox item.
    """
    when = check_aware(publish_at) if publish_at is not None else _next_free_time(template)
    copy = create_post(
        session,
        actor,
        body=template.body,
        channel_ids=[d.channel_id for d in template.deliveries],
        publish_at=when,
        title=template.title,
        department_id=template.department_id,
        campaign_id=template.campaign_id,
        overrides=current_overrides(template),
        tags=template.tags,
        media=post_media.images_of(template),
        alt_text_waived=template.alt_text_waived,
        alt_text_waiver_reason=template.alt_text_waiver_reason,
    )
    audit.record(session, actor, "duplicate", copy, template_id=template.id)
    return copy


def _next_free_time(template: Post) -> datetime:
    """The template's time, moved on by whole days until it lies ahead."""
    now = now_utc()
    if template.publish_at > now:
        return template.publish_at
    return template.publish_at + timedelta(days=(now - template.publish_at).days + 1)


def _clean_overrides(overrides: Mapping[int, str] | None) -> dict[int, str]:
    """An empty override means "use the post's body"."""
    return {k: v for k, v in (overrides or {}).items() if v and v.strip()}


def current_overrides(post: Post) -> dict[int, str]:
    return {d.channel_id: d.body_override for d in post.deliveries if d.body_override}


# An edit never takes a post out of a head's review: only a release or a discard does.
# A post's status as a sentence says it ("this post is %(status)s"), in the reader's language.
POST_STATUS_WORDS = {
    PostStatus.DRAFT: _l("a draft"),
    PostStatus.IN_REVIEW: _l("in review"),
    PostStatus.SCHEDULED: _l("approved"),
    PostStatus.HELD: _l("held"),
    PostStatus.MISSED: _l("missed"),
    PostStatus.UNKNOWN: _l("of unknown outcome"),
    PostStatus.FAILED: _l("failed"),
    PostStatus.PUBLISHED: _l("published"),
    PostStatus.DISCARDED: _l("discarded"),
}


def status_word(status: str) -> Text | str:
    return POST_STATUS_WORDS.get(status, status)  # type: ignore[call-overload]


IN_REVIEW_BY_A_HEAD = {
    DeliveryStatus.HELD: _l("held"),
    DeliveryStatus.MISSED: _l("missed"),
    DeliveryStatus.UNKNOWN: _l("of unknown outcome"),
}


def _refuse_edit(post: Post, deliveries: Sequence[Delivery]) -> None:
    if post.status == PostStatus.DISCARDED:
        raise Conflict(_l("a discarded post cannot be edited"))
    statuses = {d.status for d in deliveries}
    if DeliveryStatus.PUBLISHING in statuses:
        raise Conflict(
            _l(
                "this post is being sent right now and cannot be edited; wait for the outcome, "
                "or discard it"
            )
        )
    if DeliveryStatus.PUBLISHED in statuses:
        raise Conflict(
            _l(
                "this post has already been published on some channels and cannot be edited; "
                "create a new post instead"
            )
        )
    waiting = [IN_REVIEW_BY_A_HEAD[s] for s in IN_REVIEW_BY_A_HEAD if s in statuses]
    if waiting:
        raise Conflict(
            _l(
                "this post is %(state)s and waits for a head's review: an edit does not take it "
                "out of the review. A head releases it (now or at a new time) or discards it; "
                "write a new post for a new text.",
                state=joined(waiting, ", "),
            )
        )


# What a second person approves: a change of any of these needs a new approval.
CONTENT = (
    "title",
    "body",
    "overrides",
    "channels",
    "publish_at",
    "crisis_response",
    "media",
    "alt_text_waived",
)
MAX_DIFF_LINES = 200


def _snapshot(post: Post) -> dict[str, Any]:
    """The post as the audit log compares it before and after an edit."""
    return {
        "title": post.title,
        "body": post.body,
        "overrides": {str(k): v for k, v in sorted(current_overrides(post).items())},
        "channels": sorted(d.channel_id for d in post.deliveries),
        "publish_at": post.publish_at.isoformat(),
        "crisis_response": post.crisis_response,
        "tags": sorted(post.tags),
        "department_id": post.department_id,
        "campaign_id": post.campaign_id,
        **post_media.snapshot(post),
    }


def _text_diff(before: str, after: str) -> list[str]:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
    return list(lines)[2:][:MAX_DIFF_LINES]  # without the ---/+++ file header


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an edit changed: texts as a unified diff, everything else as [before, after]."""
    changes: dict[str, Any] = {}
    for key, old in before.items():
        new = after[key]
        if old == new:
            continue
        if key in ("title", "body"):
            changes[key] = _text_diff(old, new)
        elif key == "overrides":
            changes[key] = {
                channel: _text_diff(old.get(channel, ""), new.get(channel, ""))
                for channel in sorted({*old, *new})
                if old.get(channel) != new.get(channel)
            }
        else:
            changes[key] = [old, new]
    return changes


def edit_post(session: Session, editor: User, post: Post, changes: dict[str, Any]) -> Post:
    """Change a post. A change of its text, channels or time while it is in review or approved
    sends it back to draft for a new approval (any change, once approved); every edit is in the
    audit log with what it changed, and whoever changed the text may not approve it.

    Runs on the locked deliveries (lock_post): a delivery a scheduler has claimed but not put
    on the wire is taken back (its start finds it changed), one on the wire refuses the edit.
    """
    deliveries = lock_post(session, post)
    require_may_change_post(editor, post)
    _refuse_edit(post, deliveries)
    before = _snapshot(post)
    channels = (
        channels_by_ids(session, changes["channel_ids"])
        if "channel_ids" in changes
        else [d.channel for d in deliveries]
    )
    title = changes.get("title", post.title)
    body = changes.get("body", post.body)
    if "overrides" in changes:
        overrides = _clean_overrides(changes["overrides"])
    else:  # the channels that stay keep their own text
        staying = {c.id for c in channels}
        overrides = {k: v for k, v in current_overrides(post).items() if k in staying}
    check_text(title, body, channels, overrides)
    waived = changes.get("alt_text_waived", post.alt_text_waived)
    waiver_reason = changes.get("alt_text_waiver_reason", post.alt_text_waiver_reason)
    images = post_media.check_images(
        session,
        changes.get("media", post_media.images_of(post)),
        channels,
        waived=waived,
        waiver_reason=waiver_reason,
        # An edit of the images or channels is where a channel that needs an image asks for it.
        images_required="media" in changes or "channel_ids" in changes,
    )
    waiver_before = {
        "alt_text_waived": post.alt_text_waived,
        "waiver_reason": post.alt_text_waiver_reason,
    }
    tags = holds.normalise_tags(changes["tags"]) if "tags" in changes else None
    if "crisis_response" in changes and changes["crisis_response"] != post.crisis_response:
        crisis_id = _crisis_to_answer(session, changes["crisis_response"])
        post.crisis_response = changes["crisis_response"]
        post.crisis_id = crisis_id

    previous_status = post.status
    post.title = title.strip()
    post.body = body
    if "publish_at" in changes:
        post.publish_at = check_aware(changes["publish_at"])
    if changes.get("department_id") is not None:  # a post always keeps a department
        post.department = get_department(session, changes["department_id"])
    if "campaign_id" in changes:
        post.campaign = find_campaign(session, changes["campaign_id"], field="campaign_id")
    if "channel_ids" in changes:
        wanted = {c.id for c in channels}
        post.deliveries = [d for d in post.deliveries if d.channel_id in wanted]
        present = {d.channel_id for d in post.deliveries}
        post.deliveries.extend(Delivery(channel=c) for c in channels if c.id not in present)
    for delivery in post.deliveries:
        delivery.body_override = overrides.get(delivery.channel_id)
    if tags is not None:
        holds.set_tags(post, tags)
    post_media.set_images(post, images, waived=waived, waiver_reason=waiver_reason)
    holds.index_post_text(post)
    session.flush()
    post_media.record_waiver(session, editor, post, waiver_before)

    changed = _changes(before, _snapshot(post))
    if not changed:
        return post
    content = any(key in changed for key in CONTENT)
    audit.record(session, editor, "edit", post, changes=changed, content=content)
    approved = previous_status not in WORKFLOW_STATUSES
    if approved or (previous_status == PostStatus.IN_REVIEW and content):
        _back_to_draft(post)
        audit.record(
            session,
            editor,
            "send_back_to_draft",
            post,
            reason=str(audit.EDITED_AFTER_APPROVAL if approved else audit.CHANGED_IN_REVIEW),
            previous_status=previous_status,
        )
        if approved:
            post_news.tell_author(session, post, editor, "post_changed")
    post.updated_at = now_utc()
    session.flush()
    return post


# Posts one may still move in the calendar; held ones belong to the crisis review.
MOVABLE = (PostStatus.DRAFT, PostStatus.IN_REVIEW, PostStatus.SCHEDULED)


class NotMovable(Conflict):
    """Held, published or discarded posts stay where they are."""


class NeedsConfirmation(Conflict):
    """Changing an approved post undoes its approval: whoever does it says so first."""


def require_confirmed_if_approved(post: Post, *, confirmed: bool, what: str) -> None:
    if post.status == PostStatus.SCHEDULED and not confirmed:
        raise NeedsConfirmation(
            f"this post is approved: {what} makes it a draft again, it needs a new approval and "
            "its author is told; confirm to go ahead",
        )


def move_post(
    session: Session, actor: User, post: Post, publish_at: datetime, *, confirmed: bool
) -> Post:
    """A post moved to a new time (dragged in the calendar, moved in bulk). An approved post
    goes back to draft for a new approval, and only when the mover `confirmed` that."""
    if post.status not in MOVABLE:
        raise NotMovable(
            f"a post that is {post.status} cannot be moved: held posts belong to the crisis "
            "review, published and discarded ones stay where they are"
        )
    require_confirmed_if_approved(post, confirmed=confirmed, what="moving it")
    return edit_post(session, actor, post, {"publish_at": publish_at})


def text_written_by(session: Session, post: Post) -> set[int]:
    """Who wrote the text a head is asked to approve: its author and everyone who changed its
    text, channels or time since it was last approved (the audit log's `edit` entries)."""
    writers = {post.author_id}
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.detail)
        .where(
            AuditEntry.subject_type == "post",
            AuditEntry.subject_id == post.id,
            AuditEntry.action.in_(["edit", "approve"]),
        )
        .order_by(AuditEntry.id)
    )
    for action, actor_id, detail in entries:
        if action == "approve":
            writers = {post.author_id}
        elif actor_id is not None and (detail or {}).get("content"):
            writers.add(actor_id)
    return writers


def _back_to_draft(post: Post) -> None:
    """Disarm every delivery (the post's deliveries are locked: lock_post)."""
    post.status = PostStatus.DRAFT
    post.approved_by = None
    post.approved_at = None
    for delivery in post.deliveries:
        delivery.status = DeliveryStatus.SCHEDULED
        delivery.due_at = None  # disarmed until the next approval
        delivery.error = None
        delivery.held_by_crisis_id = None
        delivery.held_by_blackout_id = None
        delivery.held_by_alert_id = None
        delivery.held_at = None
        _forget_claim(delivery)


def _forget_claim(delivery: Delivery) -> None:
    """A person's change ends any claim: the holder's start and outcome find the token gone."""
    delivery.claim_token = None
    delivery.lease_until = None
    delivery.started_at = None
    delivery.send_deadline = None
    delivery.withdrawn_at = None


def submit_post(session: Session, actor: User, post: Post) -> Post:
    lock_post(session, post)
    require_may_submit(actor, post)
    if post.status != PostStatus.DRAFT:
        raise Conflict(
            _l(
                "only a draft can be submitted for approval; this post is %(status)s",
                status=status_word(post.status),
            )
        )
    post.status = PostStatus.IN_REVIEW
    session.flush()
    audit.record(session, actor, "submit", post)
    post_news.tell_heads_waiting(session, post, actor)
    return post


def send_back_post(session: Session, head: User, post: Post, *, comment: str) -> Post:
    """A head returns a submitted post to its author as a draft, saying what to change."""
    require_reviewer(head, _l("send posts back to their authors"))
    if not comment.strip():
        raise InvalidInput(_l("say what should change when sending a post back"))
    lock_post(session, post)
    if post.status != PostStatus.IN_REVIEW:
        raise Conflict(
            _l(
                "only a post in review can be sent back; this post is %(status)s",
                status=status_word(post.status),
            )
        )
    post.status = PostStatus.DRAFT
    post.updated_at = now_utc()
    session.flush()
    audit.record(session, head, "send_back", post, reason=comment.strip())
    post_news.tell_author(session, post, head, "sent_back", comment=comment.strip())
    return post


def approve_post(
    session: Session, approver: User, post: Post, *, allow_self_approval: bool
) -> Post:
    lock_post(session, post)
    crisis_id = holds.active_crisis_id(session)
    require_may_approve(
        approver,
        post,
        allow_self_approval=allow_self_approval,
        answers_crisis=holds.answers_crisis(post, crisis_id),
        written_by=text_written_by(session, post),
    )
    held_words = holds.held_words_in(post, holds.active_hold_keywords(session))
    require_may_approve_held_words(approver, post, held_words)
    if post.status != PostStatus.IN_REVIEW:
        raise Conflict(
            _l(
                "only a post in review can be approved; this post is %(status)s",
                status=status_word(post.status),
            )
        )
    channels = [d.channel for d in post.deliveries]
    check_text(post.title, post.body, channels, current_overrides(post))
    post_media.check_images(
        session,
        post_media.images_of(post),
        channels,
        waived=post.alt_text_waived,
        waiver_reason=post.alt_text_waiver_reason,
        # An imported plan came without images: a channel that needs one asks for it here.
        images_required=True,
    )
    holds.index_post_text(post)
    _arm(post, approver)
    session.flush()
    audit.record(
        session,
        approver,
        "approve",
        post,
        publish_at=post.publish_at.isoformat(),
        crisis_response=post.crisis_response,
    )
    post_news.tell_author(session, post, approver, "approved", when=post.publish_at)
    return post


def _arm(post: Post, approver: User) -> None:
    post.status = PostStatus.SCHEDULED
    post.approved_by = approver
    post.approved_at = now_utc()
    for delivery in post.deliveries:
        delivery.status = DeliveryStatus.SCHEDULED
        delivery.due_at = post.publish_at  # armed: the scheduler takes it when due
        delivery.attempts = 0
        delivery.error = None
        _forget_claim(delivery)


def schedule_prepared_statement(
    session: Session,
    actor: User,
    *,
    title: str,
    body: str,
    channel_id: int,
    publish_at: datetime,
    source: str,
) -> Post:
    """A holding statement approved in calm times (a playbook), scheduled as a crisis response.

    It was checked against the channel's rules and approved when the playbook was saved; the
    declaring head's action is its release.
    """
    post = create_post(
        session,
        actor,
        body=body,
        channel_ids=[channel_id],
        publish_at=publish_at,
        title=title[:MAX_TITLE_LENGTH],
        crisis_response=True,
    )
    _arm(post, actor)
    session.flush()
    audit.record(
        session,
        actor,
        "approve",
        post,
        publish_at=post.publish_at.isoformat(),
        crisis_response=True,
        prepared_in=source,
    )
    return post


def derived_status(delivery_statuses: Iterable[str]) -> PostStatus:
    """The status of an approved post: the one of its deliveries that most needs attention."""
    statuses = set(delivery_statuses)
    for attention in (
        DeliveryStatus.HELD,
        DeliveryStatus.MISSED,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.FAILED,
    ):
        if attention in statuses:
            return PostStatus(attention.value)
    live = statuses - {DeliveryStatus.DISCARDED}
    if not live:
        return PostStatus.DISCARDED
    if live == {DeliveryStatus.PUBLISHED}:
        return PostStatus.PUBLISHED
    return PostStatus.SCHEDULED


def settle_post_status(
    session: Session, post_ids: Iterable[int], *, discarded_too: bool = False
) -> None:
    """Recompute the status of approved posts after their deliveries changed. A discarded post
    keeps its status, unless `discarded_too`: a send that was already on the wire when the post
    was discarded went out after all, and the post then shows what happened."""
    ids = set(post_ids)
    if not ids:
        return
    # Lock the posts first (in one order, against deadlocks): two transactions that change
    # different deliveries of one post must not each derive the post's status from a view
    # without the other's change, or the later write hides a held delivery behind "scheduled".
    if locks_rows(session):
        session.execute(select(Post.id).where(Post.id.in_(ids)).order_by(Post.id).with_for_update())
    by_post: dict[int, list[str]] = defaultdict(list)
    for post_id, status in session.execute(
        select(Delivery.post_id, Delivery.status).where(Delivery.post_id.in_(ids))
    ):
        by_post[post_id].append(status)
    interleave.reached("settle.read")
    by_status: dict[PostStatus, list[int]] = defaultdict(list)
    for post_id, statuses in by_post.items():
        by_status[derived_status(statuses)].append(post_id)
    for status, post_ids_with_status in by_status.items():
        changed = session.scalars(
            update(Post)
            .where(
                Post.id.in_(post_ids_with_status),
                Post.status.not_in(
                    WORKFLOW_STATUSES if discarded_too else [*WORKFLOW_STATUSES, "discarded"]
                ),
                Post.status != status,
            )
            .values(status=status)
            .returning(Post.id)
            .execution_options(synchronize_session="fetch")
        ).all()
        post_news.tell_authors_of_status(session, status, changed)
