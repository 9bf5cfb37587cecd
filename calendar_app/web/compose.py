"""The composer: one text for several channels, per-channel overrides, save or submit.

Also the crisis-response composer: a head may publish an approved crisis response at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from calendar_app import campaigns, planning
from calendar_app.channel_rules import RULES, X_LINK_LENGTH, rules_for
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.models import Channel, Post, PostStatus
from calendar_app.permissions import may_publish_crisis_response
from calendar_app.post_media import MAX_ALT_LENGTH, MAX_IMAGES_PER_POST, ImageChoice
from calendar_app.timeutil import local, now_utc
from calendar_app.web import queries
from calendar_app.web.blackouts import blackout_warnings
from calendar_app.web.formatting import (
    input_value,
    midnight,
    team_timezone,
    team_wall_clock,
)
from calendar_app.web.forms import (
    ComposeForm,
    campaign_choices,
    channel_choices,
    comma_list,
    department_choices,
    text_problem,
)
from calendar_app.web.pages import signed_in_user
from calendar_app.web.query import page_query

# Where a rule names a field by its API name, the form names it so.
FORM_FIELDS = {
    "department_id": "department",
    "campaign_id": "campaign",
    "channel_ids": "channels",
    "channels": "channels",
}
DEFAULT_HOUR = 9
# The networks the composer previews a post for, in the order their cards appear.
PREVIEW_NETWORKS = ("mastodon", "bluesky", "x", "linkedin")
# LinkedIn folds a post in the feed after about this many characters or three lines ("…see more").
LINKEDIN_FOLD = 210


def channel_rows(channels: list[Channel] | Any) -> list[dict[str, Any]]:
    """What the page and its live counter need to know about each channel."""
    rows = []
    for channel in channels:
        rules = rules_for(channel.network)
        rows.append(
            {
                "channel": channel,
                "limit": rules.max_length,
                "network": rules.label,
                "network_key": channel.network,
                "counting": rules.counting.value,
                "links_allowed": rules.links_allowed,
                "image_required": rules.image_required,
            }
        )
    return rows


def preview_networks() -> dict[str, dict[str, Any]]:
    """The networks with a preview card: their rules, for the cards shown before any channel
    is chosen and for the live counters of the channels' cards."""
    return {
        network: {
            "key": network,
            "label": RULES[network].label,
            "limit": RULES[network].max_length,
            "counting": RULES[network].counting.value,
        }
        for network in PREVIEW_NETWORKS
    }


def _images_from_request() -> list[ImageChoice]:
    """The images the composer sends, in order: `media_id` and `media_alt`, one pair each."""
    ids = request.form.getlist("media_id")
    alts = request.form.getlist("media_alt")
    images = []
    for index, raw in enumerate(ids):
        if raw.strip().isdigit() and len(raw.strip()) <= 10:
            images.append(ImageChoice(int(raw), alts[index] if index < len(alts) else ""))
    return images


def _waiver_from_request() -> tuple[bool, str]:
    return bool(request.form.get("alt_text_waived")), request.form.get(
        "alt_text_waiver_reason", ""
    ).strip()


def _images_shown(post: Post | None) -> list[dict[str, Any]]:
    """The images as the page shows them: from the request after a refused save, else the
    post's own."""
    if request.method == "POST":
        choices = _images_from_request()
        return [{"id": c.media_id, "alt": c.alt, "url": f"/media/{c.media_id}"} for c in choices]
    if post is None:
        return []
    return [
        {"id": row.media_id, "alt": row.alt, "url": f"/media/{row.media_id}"}
        for row in post.media_rows
    ]


def _form() -> ComposeForm:
    session = db_session()
    form = ComposeForm()
    form.override_errors = {}  # channel id (text) -> problem with that channel's own text
    form.media_errors = {}  # "media.0.alt", "media", "alt_text_waiver_reason" -> problem
    form.channels.choices = channel_choices(queries.active_channels(session))
    form.department.choices = department_choices(queries.departments(session))
    form.campaign.choices = campaign_choices(campaigns.list_campaigns(session))
    return form


def _defaults(form: ComposeForm) -> None:
    """What the address asks for: `?date=2026-03-03` (a day clicked in the calendar),
    `?campaign=3` (from a campaign's page), `?crisis_response=1` (a head's crisis response)."""
    query = page_query()
    day = query.date("date")
    campaign_id = query.id("campaign")
    crisis_response = query.flag("crisis_response")
    query.check()
    me = signed_in_user()
    if crisis_response:
        form.crisis_response.data = True
        form.publish_at.data = input_value(now_utc())
    else:
        day = day or local(now_utc(), team_timezone()).date() + timedelta(days=1)
        form.publish_at.data = input_value(midnight(day) + timedelta(hours=DEFAULT_HOUR))
    form.department.data = me.departments[0].id if me.departments else 0
    form.campaign.data = campaign_id or 0


def _overrides_from_request(channel_ids: list[int]) -> dict[int, str]:
    return {cid: request.form.get(f"override-{cid}", "").strip() for cid in channel_ids}


def _show_rule_error(form: ComposeForm, exc: RuleError) -> None:
    db_session().rollback()  # nothing of a refused change is kept
    for name, problem in exc.fields.items():
        if name.startswith("overrides."):  # next to that channel's own text
            form.override_errors[name.partition(".")[2]] = problem
            continue
        if name.startswith("media") or name.startswith("alt_text"):  # next to the image
            form.media_errors[name] = problem
            continue
        field = getattr(form, FORM_FIELDS.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, problem]
    form.form_errors.append(exc.message)


def _render(form: ComposeForm, post: Post | None, overrides: dict[int, str], status: int = 200):
    channels = queries.active_channels(db_session())
    if request.method == "POST":
        waived, waiver_reason = _waiver_from_request()
    else:
        waived = bool(post and post.alt_text_waived)
        waiver_reason = (post.alt_text_waiver_reason if post else None) or ""
    return render_template(
        "compose.html",
        form=form,
        post=post,
        rows=channel_rows(channels),
        preview_networks=preview_networks(),
        x_link_length=X_LINK_LENGTH,
        linkedin_fold=LINKEDIN_FOLD,
        overrides=overrides,
        override_errors=getattr(form, "override_errors", {}),
        may_publish=may_publish_crisis_response(signed_in_user()),
        team_timezone=team_timezone(),
        images=_images_shown(post),
        media_errors=getattr(form, "media_errors", {}),
        alt_text_waived=waived,
        alt_text_waiver_reason=waiver_reason,
        max_images=MAX_IMAGES_PER_POST,
        max_alt_length=MAX_ALT_LENGTH,
    ), status


def _changes(form: ComposeForm, overrides: dict[int, str]) -> dict[str, Any]:
    return {
        "title": form.title.data or "",
        "body": form.body.data or "",
        "channel_ids": list(form.channels.data or []),
        "publish_at": team_wall_clock(form.publish_at.data or ""),
        "department_id": form.department.data or None,
        "campaign_id": form.campaign.data or None,
        "crisis_response": bool(form.crisis_response.data),
        "overrides": overrides,
        "tags": comma_list(form.tags.data),
        "media": _images_from_request(),
        "alt_text_waived": _waiver_from_request()[0],
        "alt_text_waiver_reason": _waiver_from_request()[1] or None,
    }


def _texts_outside_the_form_are_plain(form: ComposeForm, overrides: dict[int, str]) -> bool:
    """The channels' own texts, the alt texts and the waiver's reason: checked like the form."""
    problems = {
        **{str(cid): ("override", text) for cid, text in overrides.items()},
        **{f"media.{i}.alt": ("media", c.alt) for i, c in enumerate(_images_from_request())},
        "alt_text_waiver_reason": ("media", _waiver_from_request()[1]),
    }
    plain = True
    for name, (where, text) in problems.items():
        problem = text_problem(text, several_lines=True)
        if problem is not None:
            (form.override_errors if where == "override" else form.media_errors)[name] = problem
            plain = False
    return plain


def _parse(form: ComposeForm, overrides: dict[int, str]) -> dict[str, Any] | None:
    valid = form.validate_on_submit()
    if not (_texts_outside_the_form_are_plain(form, overrides) and valid):
        return None
    try:
        return _changes(form, overrides)
    except ValueError:
        form.publish_at.errors = [_("Enter a date and time, e.g. 2026-03-03 09:00.")]
        return None


def _after_save(post: Post, action: str) -> None:
    """`submit`: ask for approval; `publish`: a head's crisis response goes out now."""
    session = db_session()
    me = signed_in_user()
    if action in ("submit", "publish") and post.status == PostStatus.DRAFT:
        planning.submit_post(session, me, post)
    if action == "publish":
        planning.approve_post(
            session,
            me,
            post,
            allow_self_approval=current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL,
        )


SAVED_MESSAGES = {
    "draft": _l("Saved as a draft."),
    "submit": _l("Submitted for approval."),
    "publish": _l("Approved: the crisis response goes out at its time."),
}


def _saved(post: Post, action: str) -> Response:
    flash(str(SAVED_MESSAGES[action]), "success")
    blackout_warnings(post)
    return redirect(url_for("web.post", post_id=post.id))


def compose() -> Any:
    form = _form()
    overrides = _overrides_from_request(list(form.channels.data or []))
    if request.method == "GET":
        _defaults(form)
        return _render(form, None, {})
    action = request.form.get("action", "draft")
    if action == "publish":
        form.crisis_response.data = True
    changes = _parse(form, overrides)
    if changes is None:
        return _render(form, None, overrides, 422)
    try:
        post = planning.create_post(
            db_session(),
            signed_in_user(),
            body=changes["body"],
            channel_ids=changes["channel_ids"],
            publish_at=changes["publish_at"],
            title=changes["title"],
            crisis_response=changes["crisis_response"],
            department_id=changes["department_id"],
            campaign_id=changes["campaign_id"],
            overrides=changes["overrides"],
            tags=changes["tags"],
            media=changes["media"],
            alt_text_waived=changes["alt_text_waived"],
            alt_text_waiver_reason=changes["alt_text_waiver_reason"],
        )
        _after_save(post, action if action in SAVED_MESSAGES else "draft")
    except RuleError as exc:
        _show_rule_error(form, exc)
        return _render(form, None, overrides, exc.status_code)
    return _saved(post, action if action in SAVED_MESSAGES else "draft")


def edit(post_id: int) -> Any:
    session = db_session()
    post = planning.get_post(session, post_id)
    if post.status not in planning.MOVABLE:
        flash(_("This post can no longer be edited here."), "error")
        return redirect(url_for("web.post", post_id=post.id))
    form = _form()
    if request.method == "GET":
        form.title.data = post.title
        form.body.data = post.body
        form.channels.data = [d.channel_id for d in post.deliveries]
        form.publish_at.data = input_value(post.publish_at)
        form.department.data = post.department_id or 0
        form.campaign.data = post.campaign_id or 0
        form.crisis_response.data = post.crisis_response
        form.tags.data = ", ".join(post.tags)
        overrides = {d.channel_id: getattr(d, "body_override", None) or "" for d in post.deliveries}
        return _render(form, post, overrides)
    overrides = _overrides_from_request(list(form.channels.data or []))
    changes = _parse(form, overrides)
    if changes is None:
        return _render(form, post, overrides, 422)
    action = request.form.get("action", "draft")
    action = action if action in SAVED_MESSAGES else "draft"
    try:
        planning.edit_post(session, signed_in_user(), post, changes)
        _after_save(post, action)
    except RuleError as exc:
        _show_rule_error(form, exc)
        return _render(form, post, overrides, exc.status_code)
    return _saved(post, action)
