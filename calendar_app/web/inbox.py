"""The inbox page: what people said to our accounts, handed over and closed; the early-warning
alerts with their numbers, sample and the posts at risk, dismissed or declared in one click;
the routing rules, the hashtags and search terms each channel watches (admins) and the watch
list (heads). Thin: the listening modules decide."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from calendar_app import crisis
from calendar_app.channels import get_channel
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.listening import alerts, answer_times, inbox, replies
from calendar_app.models import Channel, InboxItem, User
from calendar_app.permissions import is_admin, is_reviewer
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import now_utc
from calendar_app.web import queries
from calendar_app.web.forms import ActionForm, text_problem
from calendar_app.web.i18n import said
from calendar_app.web.pages import signed_in_user

# What the inbox's small forms send besides their CSRF token: all text, checked like every form's.
_ONE_LINE = {"keyword"}


def _attempt(change: Any) -> bool:
    for name, text in request.form.items(multi=True):
        if name == "csrf_token":
            continue
        if (problem := text_problem(text, several_lines=name not in _ONE_LINE)) is not None:
            flash(f"{name}: {problem}", "error")  # the inbox answers with its page and a notice
            return False
    try:
        change()
    except RuleError as exc:
        db_session().rollback()
        flash(said(exc.message), "error")
        return False
    return True


def _number(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    return int(value) if value.isdigit() else None


def inbox_page() -> tuple[str, int]:
    session = db_session()
    user = signed_in_user()
    query = QueryArgs(request.args, language=None)
    wanted = inbox.InboxFilter(
        status=query.choice("status", inbox.STATUSES),
        channel_id=query.id("channel"),
        department_id=query.id("department"),
        assignee_id=query.id("assignee"),
    )
    status = 200
    try:
        query.check()
        items = inbox.list_items(session, user, wanted)
    except RuleError as exc:
        flash(said(exc.message), "error")
        items, status = [], exc.status_code
    now = now_utc()
    shown_alerts = list(alerts.list_alerts(session))[:10]
    at_risk = {
        a.id: alerts.posts_at_risk(session, a, now) for a in shown_alerts if a.status == "open"
    }
    samples = {
        a.id: session.scalars(select(InboxItem).where(InboxItem.id.in_(a.sample or []))).all()
        for a in shown_alerts
        if a.status == "open"
    }
    channels = {c.id: c for c in session.scalars(select(Channel).order_by(Channel.name))}
    watching = [
        (c, inbox.hashtags_of(session, c.id), inbox.terms_of(session, c.id))
        for c in channels.values()
        if c.kind in inbox.WATCHING_KINDS and c.active
    ]
    people = session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return render_template(
        "inbox.html",
        items=items,
        wanted=wanted,
        statuses=inbox.STATUSES,
        channels=channels,
        departments=queries.departments(session),
        people=people,
        alerts=shown_alerts,
        at_risk=at_risk,
        samples=samples,
        rules=inbox.list_rules(session),
        watching=watching,
        watch_words=alerts.watch_words(session),
        may_decide=is_reviewer(user),
        may_route=is_admin(user),
        action_form=ActionForm(),
        answer_reports=answer_times.answer_reports(session, user, now=now),
    ), status


def _back() -> Response:
    return redirect(url_for("web.inbox", **{k: v for k, v in request.args.items() if v}))


def assign_item(item_id: int) -> Response:
    session = db_session()
    user = signed_in_user()

    def change() -> None:
        item = inbox.get_item(session, user, item_id, lock=True)
        inbox.assign(
            session,
            user,
            item,
            department_id=_number("department_id"),
            assignee_id=_number("assignee_id"),
            note=request.form.get("note"),
        )

    if _attempt(change):
        flash(_("Handed over."), "success")
    return _back()


def reply_to_item(item_id: int) -> Response:
    session = db_session()
    user = signed_in_user()
    body = request.form.get("body") or ""

    def change() -> None:
        item = inbox.get_item(session, user, item_id, lock=True)
        post = replies.reply_to_item(
            session,
            user,
            item,
            body=body,
            allow_self_approval=current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL,
        )
        if post.status == "in_review":
            flash(_("Reply written: it goes out once a head approves it."), "success")
        else:
            flash(_("Reply approved: it goes out with the next pass."), "success")

    _attempt(change)
    return _back()


def close_item(item_id: int) -> Response:
    session = db_session()
    user = signed_in_user()
    answered = request.form.get("answered") == "1"
    if _attempt(
        lambda: inbox.close(
            session, user, inbox.get_item(session, user, item_id), answered=answered
        )
    ):
        flash(_("Closed."), "success")
    return _back()


def dismiss_alert(alert_id: int) -> Response:
    session = db_session()
    user = signed_in_user()
    note = request.form.get("note") or ""
    if _attempt(
        lambda: alerts.dismiss_alert(session, user, alerts.get_alert(session, alert_id), note=note)
    ):
        flash(
            _("Alert dismissed: its channels send again; what it held waits for review."), "success"
        )
    return redirect(url_for("web.inbox") + "#alerts")


def declare_from_alert(alert_id: int) -> Response:
    """One click: a crisis on the alert's channel (all channels for an alert over all)."""
    session = db_session()
    user = signed_in_user()
    reason = (request.form.get("reason") or "").strip()
    declared: list[Any] = []

    def change() -> None:
        declared.append(
            crisis.declare_crisis(
                session,
                user,
                reason=reason,
                channel_ids=alerts.channels_of(session, alert_id),
                alert_id=alert_id,
            )
        )

    if not _attempt(change):
        return redirect(url_for("web.inbox") + "#alerts")
    session.commit()  # the queue stops here; then wait for what was already being sent
    crisis.wait_for_in_flight(
        session,
        declared[0].in_flight_ids,
        timeout=current_app.config["CALENDAR"].DECLARE_WAIT_SECONDS,
    )
    flash(_("Crisis declared: nothing planned goes out on its channels."), "alarm")
    return redirect(url_for("web.crisis"))


def add_rule() -> Response:
    session = db_session()
    user = signed_in_user()
    keyword = request.form.get("keyword") or ""
    department_id = _number("department_id") or 0
    if _attempt(
        lambda: inbox.create_rule(session, user, keyword=keyword, department_id=department_id)
    ):
        flash(_("Routing rule added."), "success")
    return redirect(url_for("web.inbox") + "#rules")


def delete_rule(rule_id: int) -> Response:
    session = db_session()
    if _attempt(lambda: inbox.delete_rule(session, signed_in_user(), rule_id)):
        flash(_("Routing rule deleted."), "success")
    return redirect(url_for("web.inbox") + "#rules")


def _listed(name: str) -> list[str]:
    return (request.form.get(name) or "").replace("\n", ",").split(",")


def set_watching(channel_id: int) -> Response:
    """A channel's watched hashtags and search terms, saved together (admins)."""
    session = db_session()
    user = signed_in_user()

    def change() -> None:
        channel = get_channel(session, channel_id)
        inbox.set_hashtags(session, user, channel, _listed("tags"))
        inbox.set_terms(session, user, channel, _listed("terms"))

    if _attempt(change):
        flash(_("Hashtags and search terms saved."), "success")
    return redirect(url_for("web.inbox") + "#watching")


def set_watch_words() -> Response:
    session = db_session()
    words = (request.form.get("words") or "").replace("\n", ",").split(",")
    if _attempt(lambda: alerts.set_watch_words(session, signed_in_user(), words)):
        flash(_("Watch list saved."), "success")
    return redirect(url_for("web.inbox") + "#watch-words")
