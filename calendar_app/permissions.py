"""Who may do what: each rule in one place, so views never decide this themselves."""

from __future__ import annotations

from collections.abc import Collection

from calendar_app.errors import NotAllowed
from calendar_app.models import Post, PostStatus, Role, User
from calendar_app.words import Text, _l

REVIEWERS = (Role.HEAD, Role.ADMIN)


def is_reviewer(user: User) -> bool:
    """Communications heads and admins: approve, declare and lift a crisis, review held posts."""
    return user.role in REVIEWERS


def require_reviewer(user: User, action: Text) -> None:
    """`action`: what the user tried, as a phrase that ends the sentence ("approve posts")."""
    if not is_reviewer(user):
        raise NotAllowed(_l("only a communications head or an admin may %(action)s", action=action))


def require_admin(user: User, action: Text) -> None:
    if not is_admin(user):
        raise NotAllowed(_l("only an admin may %(action)s", action=action))


def is_admin(user: User) -> bool:
    """Admins: everything a head may, plus people and channels."""
    return user.role == Role.ADMIN


def require_may_manage_users(user: User) -> None:
    require_admin(user, _l("manage users"))


def require_may_manage_channels(user: User) -> None:
    require_admin(user, _l("manage channels"))


def require_may_manage_departments(user: User) -> None:
    require_admin(user, _l("manage departments"))


def require_may_read_audit_log(user: User) -> None:
    require_reviewer(user, _l("read the audit log"))


def require_may_read_crisis_timeline(user: User) -> None:
    require_reviewer(user, _l("read the crisis timeline"))


def require_may_review_approvals(user: User) -> None:
    require_reviewer(user, _l("approve posts"))


def require_may_declare_crisis(user: User) -> None:
    require_reviewer(user, _l("declare a crisis"))


def require_may_plan_blackouts(user: User) -> None:
    require_reviewer(user, _l("plan blackout dates"))


def require_may_manage_playbooks(user: User) -> None:
    require_reviewer(user, _l("prepare crisis playbooks"))


def may_manage_playbooks(user: User) -> bool:
    return is_reviewer(user)


def may_manage_campaigns(user: User) -> bool:
    """Campaigns set goals for several departments: heads and admins create and change them."""
    return is_reviewer(user)


def require_may_manage_campaigns(user: User) -> None:
    require_reviewer(user, _l("create or change campaigns"))


def may_publish_crisis_response(user: User) -> bool:
    """Who the composer offers "approve and publish now" to: those who may approve."""
    return is_reviewer(user)


def may_change_post(user: User, post: Post) -> bool:
    """Its author, the people of its department, heads and admins change a post (text,
    channels, time, and moving it in the calendar); everyone else may comment on it."""
    if is_reviewer(user) or post.author_id == user.id:
        return True
    return post.department_id is not None and any(
        d.id == post.department_id for d in user.departments
    )


def require_may_change_post(user: User, post: Post) -> None:
    if not may_change_post(user, post):
        if post.department is None:
            raise NotAllowed(
                _l(
                    "only its author, the people of its department, communications heads and "
                    "admins may change this post; you may comment on it"
                )
            )
        raise NotAllowed(
            _l(
                "only its author, the people of %(department)s, communications heads and admins "
                "may change this post; you may comment on it",
                department=post.department.name,
            )
        )


def require_may_submit(user: User, post: Post) -> None:
    """A planner submits only their own drafts; a head or an admin any."""
    if not (is_reviewer(user) or post.author_id == user.id):
        raise NotAllowed(
            _l(
                "only its author, a communications head or an admin may submit this draft for "
                "approval"
            )
        )


def may_approve(
    user: User,
    post: Post,
    *,
    allow_self_approval: bool,
    answers_crisis: bool,
    written_by: Collection[int] = (),
) -> bool:
    """Four-eyes rule: nobody approves a text they wrote or changed (`written_by`: the author
    and everyone who changed it since its last approval), except a response to the crisis in
    force (`answers_crisis`: holds.answers_crisis; the flag alone exempts nothing)."""
    if not is_reviewer(user):
        return False
    wrote = post.author_id == user.id or user.id in written_by
    return not wrote or answers_crisis or allow_self_approval


def require_may_approve(
    user: User,
    post: Post,
    *,
    allow_self_approval: bool,
    answers_crisis: bool,
    written_by: Collection[int] = (),
) -> None:
    require_reviewer(user, _l("approve posts"))
    if not may_approve(
        user,
        post,
        allow_self_approval=allow_self_approval,
        answers_crisis=answers_crisis,
        written_by=written_by,
    ):
        if post.author_id == user.id:
            raise NotAllowed(
                _l(
                    "you wrote this post: another head or an admin must approve it (four-eyes "
                    "rule; only responses to the crisis in force are exempt)"
                )
            )
        raise NotAllowed(
            _l(
                "you changed its text: another head or an admin must approve it (four-eyes "
                "rule; only responses to the crisis in force are exempt)"
            )
        )


def require_may_approve_held_words(user: User, post: Post, held_words: list[str]) -> None:
    """During a crisis, a text with a held keyword needs someone other than its author."""
    if held_words and post.author_id == user.id:
        raise NotAllowed(
            _l(
                "this post contains %(words)s, held during the crisis in force: another head or "
                "an admin must approve it (no self-approval, even for a crisis response)",
                words=", ".join(f"“{w}”" for w in held_words),
            )
        )


def require_may_discard(user: User, post: Post) -> None:
    """Authors may withdraw their own unapproved drafts; anything approved is a head's call."""
    if is_reviewer(user):
        return
    if post.author_id == user.id and post.status in (PostStatus.DRAFT, PostStatus.IN_REVIEW):
        return
    raise NotAllowed(
        _l(
            "only a communications head or an admin may discard an approved post or one by "
            "someone else"
        )
    )


def require_may_upload_media(user: User) -> None:
    """Planners, heads and admins put images on posts."""
    if user.role not in (Role.PLANNER, Role.HEAD, Role.ADMIN):
        raise NotAllowed(_l("only planners, communications heads and admins may upload images"))
