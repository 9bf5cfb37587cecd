from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from calendar_app import blackouts, bulk, comments, crisis, paging, plan_csv, planning
from calendar_app.api.auth import api_user
from calendar_app.api.errors import answer_locale
from calendar_app.api.schemas import (
    BulkRequest,
    CommentCreate,
    Discard,
    Duplicate,
    MediaRef,
    PlanImport,
    PostCreate,
    PostUpdate,
    Release,
    parse,
)
from calendar_app.api.serialize import comment_json, post_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session
from calendar_app.models import Post, PostStatus
from calendar_app.post_media import ImageChoice
from calendar_app.query_args import QueryArgs

bp = Blueprint("posts", __name__)
NOT_NULL = (
    "body",
    "publish_at",
    "title",
    "crisis_response",
    "channels",
    "overrides",
    "tags",
    "media",
    "alt_text_waived",
)


def _images(refs: list[MediaRef]) -> list[ImageChoice]:
    return [ImageChoice(ref.id, ref.alt) for ref in refs]


def _filters(query: QueryArgs) -> dict[str, Any]:
    """The plan's filters, as the list, the CSV export and the OpenAPI document name them."""
    return {
        "status": query.choice("status", PostStatus),
        "start": query.aware_time("from"),
        "end": query.aware_time("to"),
        "channel_id": query.id("channel"),
        "department_id": query.id("department"),
        "campaign_id": query.id("campaign"),
        "search": query.text("q"),
    }


def planned_json(post: Post) -> dict[str, Any]:
    """A post just planned, changed or approved: with warnings when it falls in a blackout."""
    body = post_json(post)
    if warnings := blackouts.warnings_for(db_session(), post):
        body["warnings"] = warnings
    return body


@bp.get("/posts")
def index() -> dict[str, Any]:
    """One page of the plan in order; `next_cursor` fetches the next (null: no more)."""
    query = QueryArgs(request.args, language=answer_locale())
    filters = _filters(query)
    limit = query.whole_number(
        "limit", default=paging.DEFAULT_PAGE_SIZE, minimum=1, maximum=paging.MAX_PAGE_SIZE
    )
    after = paging.read_cursor(query)
    query.check()
    page = paging.page_of_posts(db_session(), limit=limit, after=after, **filters)
    return {"items": [post_json(p) for p in page.posts], "next_cursor": page.next_cursor}


@bp.get("/posts.csv")
def export() -> Response:
    """The filtered plan as CSV, times on the team's clock (plan_csv.py has the columns)."""
    query = QueryArgs(request.args, language=answer_locale())
    filters = _filters(query)
    query.check()
    posts = planning.list_posts(db_session(), **filters)
    text = plan_csv.export_csv(posts, current_app.config["CALENDAR"].TIMEZONE)
    return Response(
        text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="plan.csv"'},
    )


@bp.post("/posts/import")
def import_plan() -> tuple[dict[str, Any], int]:
    """All rows as drafts, or nothing: 422 names every bad line ("line 3": "reason")."""
    data = parse(PlanImport)
    posts = plan_csv.import_plan(
        db_session(), api_user(), data.csv, current_app.config["CALENDAR"].TIMEZONE
    )
    return {"items": [post_json(p) for p in posts]}, 201


@bp.post("/posts/bulk")
def bulk_action() -> dict[str, Any]:
    """One action on several posts, each by its own rules: what was done and what was refused."""
    data = parse(BulkRequest)
    outcomes = bulk.apply(
        db_session(),
        api_user(),
        data.action,
        data.posts,
        days=data.days,
        campaign_id=data.campaign_id,
        confirmed=data.confirm,
        timezone=current_app.config["CALENDAR"].TIMEZONE,
    )
    done = sum(1 for o in outcomes if o.done)
    return {
        "items": [
            {
                "id": o.post_id,
                "done": o.done,
                "status": o.status,
                "error": o.reason,
                "needs_confirmation": o.needs_confirmation,
            }
            for o in outcomes
        ],
        "done": done,
        "refused": len(outcomes) - done,
    }


@bp.post("/posts")
def create() -> tuple[dict[str, Any], int]:
    data = parse(PostCreate)
    post = planning.create_post(
        db_session(),
        api_user(),
        body=data.body,
        channel_ids=data.channels,
        publish_at=data.publish_at,
        title=data.title,
        crisis_response=data.crisis_response,
        department_id=data.department_id,
        campaign_id=data.campaign_id,
        overrides=data.overrides,
        tags=data.tags,
        media=_images(data.media),
        alt_text_waived=data.alt_text_waived,
        alt_text_waiver_reason=data.alt_text_waiver_reason,
    )
    return planned_json(post), 201


@bp.get("/posts/<int:post_id>")
def show(post_id: int) -> dict[str, Any]:
    return post_json(planning.get_post(db_session(), post_id))


@bp.patch("/posts/<int:post_id>")
def edit(post_id: int) -> dict[str, Any]:
    session = db_session()
    post = planning.get_post(session, post_id)
    data = parse(PostUpdate)
    changes = data.model_dump(exclude_unset=True)
    nulls = {k: "may not be null" for k in NOT_NULL if k in changes and changes[k] is None}
    if nulls:
        raise InvalidInput("fields may not be null: " + ", ".join(nulls), nulls)
    if "channels" in changes:
        changes["channel_ids"] = changes.pop("channels")
    if data.media is not None:
        changes["media"] = _images(data.media)
    return planned_json(planning.edit_post(session, api_user(), post, changes))


@bp.post("/posts/<int:post_id>/submit")
def submit(post_id: int) -> dict[str, Any]:
    session = db_session()
    return post_json(planning.submit_post(session, api_user(), planning.get_post(session, post_id)))


@bp.post("/posts/<int:post_id>/approve")
def approve(post_id: int) -> dict[str, Any]:
    session = db_session()
    post = planning.approve_post(
        session,
        api_user(),
        planning.get_post(session, post_id),
        allow_self_approval=current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL,
    )
    return planned_json(post)


@bp.post("/posts/<int:post_id>/release")
def release(post_id: int) -> dict[str, Any]:
    session = db_session()
    post = planning.get_post(session, post_id)
    data = parse(Release)
    return post_json(crisis.release_post(session, api_user(), post, publish_at=data.publish_at))


@bp.post("/posts/<int:post_id>/duplicate")
def duplicate(post_id: int) -> tuple[dict[str, Any], int]:
    """A new draft of mine with this post's text, channels, tags, campaign and images."""
    session = db_session()
    template = planning.get_post(session, post_id)
    data = parse(Duplicate)
    copy = planning.duplicate_post(session, api_user(), template, publish_at=data.publish_at)
    return planned_json(copy), 201


@bp.post("/posts/<int:post_id>/discard")
def discard(post_id: int) -> dict[str, Any]:
    session = db_session()
    post = planning.get_post(session, post_id)
    data = parse(Discard)
    return post_json(crisis.discard_post(session, api_user(), post, reason=data.reason))


@bp.get("/posts/<int:post_id>/comments")
def comments_index(post_id: int) -> dict[str, Any]:
    session = db_session()
    post = planning.get_post(session, post_id)
    return {"items": [comment_json(c) for c in comments.comments_on(session, post)]}


@bp.post("/posts/<int:post_id>/comments")
def comment(post_id: int) -> tuple[dict[str, Any], int]:
    session = db_session()
    post = planning.get_post(session, post_id)
    data = parse(CommentCreate)
    return comment_json(comments.add_comment(session, api_user(), post, data.body)), 201
