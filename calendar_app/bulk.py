"""One action on several posts at once (the agenda's selection, the API's bulk endpoint).

Each post goes through the same rule as when it is handled alone (planning.py: who may change
or submit it, the four-eyes rule, an approved post that changes goes back to draft only when
confirmed, held posts stay in the crisis review). Unlike the crisis review's decision, a bulk
action is not all or nothing: every post is tried in a savepoint of its own, so one refusal
keeps nothing of that post and stops no other, and the answer says for each post what was done
or why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from calendar_app import planning
from calendar_app.campaigns import find_campaign
from calendar_app.errors import InvalidInput, NotAllowed, NotFound, RuleError
from calendar_app.models import Post, User
from calendar_app.post_news import post_name
from calendar_app.timeutil import local

MAX_POSTS = 200
MAX_DAYS = 366


class BulkAction(StrEnum):
    SUBMIT = "submit"  # submit drafts for approval
    MOVE = "move"  # move by a number of days (same time of day on the team's clock)
    CAMPAIGN = "campaign"  # assign a campaign (or none)


@dataclass(frozen=True)
class Outcome:
    """What became of one post."""

    post_id: int
    title: str
    done: bool
    status: str | None  # the post's status afterwards (None: no such post)
    status_before: str | None = None
    reason: str | None = None  # why it was refused
    refusal: str | None = None  # what kind of refusal (REFUSALS), for a reader's own words

    @property
    def approval_undone(self) -> bool:
        """Done, and the post was approved before: it needs a new approval now."""
        return self.done and self.status_before != self.status == "draft"

    @property
    def needs_confirmation(self) -> bool:
        """Refused only because it is approved and the change was not confirmed."""
        return self.refusal == "needs_confirmation"


# The kinds of refusal, most specific first.
REFUSALS: tuple[tuple[type[RuleError], str], ...] = (
    (planning.NeedsConfirmation, "needs_confirmation"),
    (planning.NotMovable, "not_movable"),
    (NotFound, "not_found"),
    (NotAllowed, "not_allowed"),
    (RuleError, "refused"),
)


def check_request(action: str, post_ids: Sequence[int], *, days: int | None) -> BulkAction:
    """The request as a whole: a known action, some posts, what the action needs."""
    problems: dict[str, str] = {}
    if action not in {a.value for a in BulkAction}:
        problems["action"] = "must be one of " + ", ".join(BulkAction)
    if not post_ids:
        problems["posts"] = "choose at least one post"
    elif len(post_ids) > MAX_POSTS:
        problems["posts"] = f"at most {MAX_POSTS} posts at once"
    if action == BulkAction.MOVE and (days is None or not 0 < abs(days) <= MAX_DAYS):
        problems["days"] = f"a number of days from -{MAX_DAYS} to {MAX_DAYS}, not 0"
    if problems:
        raise InvalidInput(
            "the bulk action cannot be done: " + "; ".join(f"{k} {v}" for k, v in problems.items()),
            problems,
        )
    return BulkAction(action)


def apply(
    session: Session,
    actor: User,
    action: str,
    post_ids: Sequence[int],
    *,
    days: int | None = None,
    campaign_id: int | None = None,
    confirmed: bool = False,
    timezone: str = "UTC",
) -> list[Outcome]:
    """Do `action` to every post in `post_ids` (each once, in the order given). A move keeps
    the time of day on the team's clock (`timezone`), across a change of daylight saving."""
    chosen = check_request(action, post_ids, days=days)
    if chosen == BulkAction.CAMPAIGN and campaign_id is not None:
        find_campaign(session, campaign_id, field="campaign_id")  # an unknown one refuses all
    outcomes = []
    for post_id in dict.fromkeys(post_ids):
        outcomes.append(
            _apply_one(
                session,
                actor,
                chosen,
                post_id,
                days=days or 0,
                campaign_id=campaign_id,
                confirmed=confirmed,
                timezone=timezone,
            )
        )
    return outcomes


def _apply_one(
    session: Session,
    actor: User,
    action: BulkAction,
    post_id: int,
    *,
    days: int,
    campaign_id: int | None,
    confirmed: bool,
    timezone: str,
) -> Outcome:
    savepoint = session.begin_nested()
    post: Post | None = None
    before: str | None = None
    try:
        post = planning.get_post(session, post_id)
        before = post.status
        if action == BulkAction.SUBMIT:
            planning.submit_post(session, actor, post)
        elif action == BulkAction.MOVE:
            wall_clock = local(post.publish_at, timezone) + timedelta(days=days)
            planning.move_post(
                session, actor, post, wall_clock.astimezone(UTC), confirmed=confirmed
            )
        else:
            planning.require_confirmed_if_approved(
                post, confirmed=confirmed, what="assigning a campaign"
            )
            planning.edit_post(session, actor, post, {"campaign_id": campaign_id})
        savepoint.commit()
    except RuleError as exc:
        savepoint.rollback()
        return Outcome(
            post_id,
            _title(post),
            done=False,
            status=post.status if post is not None else None,
            status_before=before,
            reason=exc.message,
            refusal=next(kind for cls, kind in REFUSALS if isinstance(exc, cls)),
        )
    return Outcome(post_id, _title(post), done=True, status=post.status, status_before=before)


def _title(post: Post | None) -> str:
    return post_name(post) if post is not None else ""
