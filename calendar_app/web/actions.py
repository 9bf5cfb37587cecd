"""Buttons that change things: submit, approve, send back, discard; the crisis; the review.

Thin: every change goes through the rules modules. A refused change is rolled back and its reason
shown; the request boundary commits what succeeded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from calendar_app import comments, crisis, notifications, planning, playbooks
from calendar_app.accounts import LANGUAGES, set_language
from calendar_app.errors import InvalidInput, RuleError
from calendar_app.extensions import db_session
from calendar_app.models import Playbook
from calendar_app.permissions import require_may_declare_crisis
from calendar_app.web import pages, queries
from calendar_app.web.auth import safe_next
from calendar_app.web.formatting import team_wall_clock
from calendar_app.web.forms import (
    CommentForm,
    DeclareCrisisForm,
    LiftCrisisForm,
    SendBackForm,
    channel_choices,
    comma_list,
    notice_settings_form,
    playbook_choices,
)
from calendar_app.web.i18n import said
from calendar_app.web.pages import signed_in_user
from calendar_app.words import _n


def _back(default: str) -> Response:
    return redirect(safe_next(request.form.get("next") or default))


def _attempt(change: Callable[[], object]) -> bool:
    """Run one rule; on refusal keep nothing of it and say why."""
    try:
        change()
    except RuleError as exc:
        db_session().rollback()
        flash(said(exc.message), "error")
        return False
    return True


# --- the workflow ------------------------------------------------------------------------------


def submit(post_id: int) -> Response:
    session = db_session()
    post = planning.get_post(session, post_id)
    if _attempt(lambda: planning.submit_post(session, signed_in_user(), post)):
        flash(_("Submitted for approval."), "success")
    return _back(url_for("web.post", post_id=post_id))


def approve(post_id: int) -> Response:
    session = db_session()
    post = planning.get_post(session, post_id)
    allow = current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL
    if _attempt(
        lambda: planning.approve_post(session, signed_in_user(), post, allow_self_approval=allow)
    ):
        flash(_("Approved: it goes out at its time."), "success")
    return _back(url_for("web.approvals"))


def send_back(post_id: int) -> Response:
    session = db_session()
    post = planning.get_post(session, post_id)
    form = SendBackForm()  # CSRFProtect has checked the token of every POST already
    comment = form.comment.data or ""
    if _attempt(lambda: planning.send_back_post(session, signed_in_user(), post, comment=comment)):
        flash(_("Sent back to the author with your comment."), "success")
    return _back(url_for("web.approvals"))


def discard(post_id: int) -> Response:
    session = db_session()
    post = planning.get_post(session, post_id)
    if _attempt(lambda: crisis.discard_post(session, signed_in_user(), post)):
        flash(_("Discarded: nothing more of it will be sent."), "success")
    return _back(url_for("web.post", post_id=post_id))


def duplicate(post_id: int) -> Response:
    """Use a post as a template: a new draft of mine, opened in the composer."""
    session = db_session()
    template = planning.get_post(session, post_id)
    back = url_for("web.post", post_id=post_id)
    raw = request.form.get("publish_at", "").strip()
    when: datetime | None = None
    if raw:
        try:
            when = team_wall_clock(raw)
        except ValueError:
            flash(_("Enter a date and time for the copy, or leave the field empty."), "error")
            return redirect(back)
    copies: list[int] = []
    if not _attempt(
        lambda: copies.append(
            planning.duplicate_post(session, signed_in_user(), template, publish_at=when).id
        )
    ):
        return redirect(back)
    flash(_("A new draft from this template: change what you need, then submit it."), "success")
    return redirect(url_for("web.edit", post_id=copies[0]))


def comment(post_id: int) -> Any:
    session = db_session()
    post = planning.get_post(session, post_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return pages.post(post_id, comment_form=form, status=422)
    try:
        comments.add_comment(session, signed_in_user(), post, form.body.data or "")
    except RuleError as exc:
        session.rollback()
        form.body.errors = [*form.body.errors, exc.message]
        return pages.post(post_id, comment_form=form, status=exc.status_code)
    flash(_("Comment added."), "success")
    return redirect(url_for("web.post", post_id=post_id) + "#comments")


# --- the crisis --------------------------------------------------------------------------------


def declare_crisis() -> Any:
    session = db_session()
    require_may_declare_crisis(signed_in_user())
    form = declare_form(session)
    playbook = (
        playbooks.get_playbook(session, form.playbook.data, field="playbook")
        if form.playbook.data
        else None
    )
    scope = _declare_scope(form, playbook)
    if request.method == "GET" or request.form.get("step") == "preview":
        # Before the head confirms: what this scope would hold in the next hours.
        return _declare_page(form, scope), 200
    if not form.validate_on_submit():
        return _declare_page(form, scope), 422
    try:
        if scope.get("channel_ids", None) == []:
            raise InvalidInput(
                _("Choose the channels that stop, or stop all channels."),
                {"channels": _("Choose at least one channel.")},
            )
        if playbook is not None:
            declaration = playbooks.declare_from_playbook(
                session,
                signed_in_user(),
                playbook,
                reason=form.reason.data or "",
                overrides=scope,
                timezone=current_app.config["CALENDAR"].TIMEZONE,
            ).declaration
        else:
            declaration = crisis.declare_crisis(
                session, signed_in_user(), reason=form.reason.data or "", **scope
            )
    except RuleError as exc:
        session.rollback()
        form.form_errors.append(exc.message)
        for name, problem in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, problem]
        return render_template("declare.html", declare_form=form), exc.status_code
    session.commit()  # the queue stops here; then wait for what was already being sent
    finished = crisis.wait_for_in_flight(
        session,
        declaration.in_flight_ids,
        timeout=current_app.config["CALENDAR"].DECLARE_WAIT_SECONDS,
    )
    flash(_("Crisis declared: nothing planned goes out on its channels."), "alarm")
    if finished:
        flash(
            _(
                "%(count)d deliveries were already being sent when the crisis began; "
                "see the outbox and the review below.",
                count=len(finished),
            ),
            "info",
        )
    return redirect(url_for("web.crisis"))


def declare_form(session: Session) -> DeclareCrisisForm:
    form = DeclareCrisisForm()
    form.channels.choices = channel_choices(queries.active_channels(session))
    form.playbook.choices = playbook_choices(playbooks.list_playbooks(session))
    return form


def _declare_scope(form: DeclareCrisisForm, playbook: Playbook | None) -> dict[str, Any]:
    """What the head chose; with a playbook, what they left open is the playbook's."""
    scope: dict[str, Any] = {}
    if form.scope.data == "chosen":
        scope["channel_ids"] = list(form.channels.data or [])
    elif form.scope.data == "all" or playbook is None:
        scope["channel_ids"] = None
    for name in ("topics", "keywords"):
        if given := comma_list(getattr(form, name).data):
            scope[name] = given
    if playbook is None:
        scope.setdefault("topics", [])
        scope.setdefault("keywords", [])
    return scope


def _declare_page(form: DeclareCrisisForm, scope: dict[str, Any]) -> str:
    playbook = None
    if form.playbook.data:
        playbook = db_session().get(Playbook, form.playbook.data)
    preview = None
    try:
        preview = crisis.impact_preview(
            db_session(),
            channel_ids=scope.get(
                "channel_ids",
                None
                if playbook is None or playbook.all_channels
                else [c.id for c in playbook.channels],
            )
            or None,
            topics=scope.get("topics", playbook.hold_topics if playbook else []),
            keywords=scope.get("keywords", playbook.hold_keywords if playbook else []),
        )
    except RuleError as exc:
        form.form_errors.append(exc.message)
    return render_template("declare.html", declare_form=form, preview=preview, playbook=playbook)


def lift_crisis() -> Any:
    session = db_session()
    form = LiftCrisisForm()
    if not form.validate_on_submit():
        return pages.crisis_status(lift_form=form, status=422)
    try:
        result = crisis.lift_crisis(
            session,
            signed_in_user(),
            note=form.note.data or "",
            confirmations_required=current_app.config["CALENDAR"].CRISIS_LIFT_CONFIRMATIONS,
        )
    except RuleError as exc:
        session.rollback()
        form.note.errors = [exc.message]
        return pages.crisis_status(lift_form=form, status=exc.status_code)
    if result.lifted:
        flash(
            _("Crisis lifted. Held posts stay held until you release or discard them."), "success"
        )
    else:
        flash(_("Lifting requested: another head or an admin must confirm it."), "info")
    return redirect(url_for("web.crisis"))


def confirm_lift() -> Response:
    session = db_session()
    if _attempt(lambda: crisis.confirm_lift(session, signed_in_user())):
        flash(
            _("Crisis lifted. Held posts stay held until you release or discard them."), "success"
        )
    return redirect(url_for("web.crisis"))


# --- the review of held posts ------------------------------------------------------------------

REVIEW_ACTIONS = ("release_now", "release_at", "discard")


def _review_targets() -> tuple[str, list[tuple[int, str]]]:
    """(action, [(post id, new time text)]) from either a row's button or the bulk buttons."""
    one = request.form.get("one", "")
    if ":" in one:
        action, _sep, raw_id = one.partition(":")
        if raw_id.isdigit():
            post_id = int(raw_id)
            return action, [(post_id, request.form.get(f"at-{post_id}", ""))]
    action = request.form.get("bulk", "")
    when = request.form.get("bulk_at", "")
    ids = [int(v) for v in request.form.getlist("post_ids") if v.isdigit()]
    return action, [(post_id, when) for post_id in ids]


def _review_one(action: str, post_id: int, when_text: str) -> None:
    session = db_session()
    me = signed_in_user()
    post = planning.get_post(session, post_id)
    if action == "discard":
        crisis.discard_post(session, me, post, reason=_("discarded after crisis review"))
        return
    when: datetime | None = None
    if action == "release_at":
        try:
            when = team_wall_clock(when_text)
        except ValueError:
            raise InvalidInput(
                _("Post %(id)d: enter the new date and time.", id=post_id),
                {"publish_at": _("Enter a date and time.")},
            ) from None
    crisis.release_post(session, me, post, publish_at=when)


def review() -> Any:
    action, targets = _review_targets()
    if action not in REVIEW_ACTIONS or not targets:
        flash(_("Choose at least one post and what should happen to it."), "error")
        return redirect(url_for("web.crisis") + "#review")
    try:
        for post_id, when_text in targets:
            _review_one(action, post_id, when_text)
    except RuleError as exc:
        db_session().rollback()  # all or nothing: a bulk decision is one decision
        return pages.crisis_status(error=exc.message, status=exc.status_code)
    count = len(targets)
    done = {
        "release_now": _n(
            "Released one post: it goes out now.",
            "Released %(count)s posts: they go out now.",
            count,
        ),
        "release_at": _n(
            "Released one post at the new time.", "Released %(count)s posts at the new time.", count
        ),
        "discard": _n("Discarded one post.", "Discarded %(count)s posts.", count),
    }
    flash(said(done[action]), "success")
    return redirect(url_for("web.crisis") + "#review")


# --- the user's language -----------------------------------------------------------------------


def choose_language() -> Response:
    locale = request.form.get("locale", "")
    if locale in LANGUAGES:
        set_language(signed_in_user(), locale)
    return _back(url_for("web.calendar"))


# --- notifications -----------------------------------------------------------------------------


def read_notification(notification_id: int) -> Response:
    """Open a notification: it is read, and its link (a path in this app) is where it leads."""
    note = notifications.mark_read(db_session(), signed_in_user(), notification_id)
    return redirect(safe_next(note.link or url_for("web.notifications")))


def read_all_notifications() -> Response:
    notifications.mark_all_read(db_session(), signed_in_user())
    return redirect(url_for("web.notifications"))


def save_notice_settings() -> Response:
    """How I am told of each kind of notice (the form on the notifications page)."""
    me = signed_in_user()
    form = notice_settings_form(notifications.notice_settings(me, me.locale))
    if form.validate_on_submit():
        changes = {f.name: f.data for f in form if f.name != "csrf_token"}
        notifications.change_notice_settings(db_session(), me, changes)
        flash(_("Saved: this is how you are told from now on."), "success")
    else:
        flash(_("Not saved: the form was out of date. Please try again."), "error")
    return redirect(url_for("web.notifications") + "#settings")
