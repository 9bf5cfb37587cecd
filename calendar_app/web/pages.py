"""The pages that only read: calendar, agenda, search, one post, approvals, crisis, outbox,
audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from calendar_app import (
    audit,
    campaigns,
    comments,
    crisis,
    escalation,
    holds,
    notifications,
    planning,
)
from calendar_app.extensions import db_session
from calendar_app.models import Post, User
from calendar_app.permissions import (
    may_approve,
    require_may_read_audit_log,
    require_may_review_approvals,
)
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import local, now_utc
from calendar_app.web import queries
from calendar_app.web.formatting import (
    STATUS_LABELS,
    input_value,
    midnight,
    post_path_prefix,
    team_timezone,
)
from calendar_app.web.forms import (
    ActionForm,
    CommentForm,
    LiftCrisisForm,
    SendBackForm,
    notice_settings_form,
)
from calendar_app.web.query import FILTER_NAMES, RULE_NAMES, page_query, plan_filters

DAYS_BEFORE_TODAY = 7
DAYS_SHOWN = 42
CALENDAR_VIEWS = ("dayGridMonth", "timeGridWeek", "listWeek")


def signed_in_user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def first_day_shown(today: date) -> date:
    """`?von=2026-03-01` moves the window; without it, the last week and what comes."""
    query = page_query()
    first = query.date("von")
    query.check()
    return first or today - timedelta(days=DAYS_BEFORE_TODAY)


def calendar_filters(query: QueryArgs) -> dict[str, object]:
    """The filters' choices, and those chosen in the address (`?campaign=3` from a campaign's
    page opens the calendar with that filter chosen)."""
    session = db_session()
    filters = plan_filters(query)
    chosen = {name: filters[RULE_NAMES.get(name, name)] for name in FILTER_NAMES}
    return {
        "channels": queries.active_channels(session),
        "departments": queries.departments(session),
        "campaigns": campaigns.list_campaigns(session),
        "statuses": STATUS_LABELS,
        "chosen": {name: "" if value is None else str(value) for name, value in chosen.items()},
        "chosen_filters": {name: value for name, value in chosen.items() if value is not None},
    }


def calendar() -> str:
    query = page_query()
    view = query.choice("view", CALENDAR_VIEWS)
    initial_date = query.date("date")
    filters = calendar_filters(query)
    query.check()
    return render_template(
        "calendar.html",
        initial_view=view or "dayGridMonth",
        initial_date=initial_date.isoformat() if initial_date else "",
        team_now=input_value(now_utc()),
        **filters,
    )


def agenda(*, report: Sequence[object] | None = None) -> str:
    """The calendar as a plain list by day: works without JavaScript, prints well. Posts can be
    chosen for a bulk action (web/bulk_actions.py); `report` is what one just did."""
    timezone = team_timezone()
    today = local(now_utc(), timezone).date()
    first = first_day_shown(today)
    session = db_session()
    return render_template(
        "agenda.html",
        days=queries.calendar_days(session, first, DAYS_SHOWN, timezone),
        today=today,
        first=first,
        last=first + timedelta(days=DAYS_SHOWN - 1),
        earlier=first - timedelta(days=DAYS_SHOWN),
        later=first + timedelta(days=DAYS_SHOWN),
        post_path=post_path_prefix(),
        campaigns=campaigns.list_campaigns(session),
        action_form=ActionForm(),
        report=report or [],
        movable=planning.MOVABLE,
    )


def search() -> str:
    """Posts by their words (title, body, tags, comments), best first, with their status."""
    query = page_query()
    text = query.text("q")
    query.check()
    results = queries.search_entries(db_session(), text) if text else []
    return render_template(
        "search.html", q=text or "", results=results, post_path=post_path_prefix()
    )


def _may_approve(user: User, post: Post) -> bool:
    allow = current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL
    session = db_session()
    answers = holds.answers_crisis(post, holds.active_crisis_id(session))
    return may_approve(
        user,
        post,
        allow_self_approval=allow,
        answers_crisis=answers,
        written_by=planning.text_written_by(session, post),
    )


def post(post_id: int, *, comment_form: CommentForm | None = None, status: int = 200) -> Any:
    session = db_session()
    item = planning.get_post(session, post_id)
    return render_template(
        "post.html",
        post=item,
        history=queries.post_history(session, item),
        movable=item.status in planning.MOVABLE,
        may_approve=_may_approve(signed_in_user(), item),
        action_form=ActionForm(),
        send_back_form=SendBackForm(),
        comments=comments.comments_on(session, item),
        comment_form=comment_form or CommentForm(formdata=None),
    ), status


def approvals() -> str:
    me = signed_in_user()
    require_may_review_approvals(me)
    posts = queries.posts_in_review(db_session())
    return render_template(
        "approvals.html",
        posts=posts,
        approvable={p.id: _may_approve(me, p) for p in posts},
        action_form=ActionForm(),
        send_back_form=SendBackForm(),
    )


def crisis_status(
    *, lift_form: LiftCrisisForm | None = None, error: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The crisis now, the review of held posts, and earlier crises."""
    session = db_session()
    in_force = crisis.current_crisis(session)
    board = escalation.acknowledgements(session, in_force) if in_force is not None else []
    return render_template(
        "crisis.html",
        crisis=in_force,
        acknowledgements=board,
        my_acknowledgement=next((a for a in board if a.user_id == signed_in_user().id), None),
        held=queries.held_posts(crisis.held_deliveries(session)),
        past=queries.past_crises(session),
        lift_form=lift_form or LiftCrisisForm(),
        action_form=ActionForm(),
        review_error=error,
        confirmations=current_app.config["CALENDAR"].CRISIS_LIFT_CONFIRMATIONS,
        team_now=input_value(now_utc()),
    ), status


def outbox() -> str:
    return render_template("outbox.html", deliveries=queries.published_deliveries(db_session()))


def audit_log() -> str:
    """The audit log, newest first, filtered by who, what, which post and a period of days."""
    require_may_read_audit_log(signed_in_user())
    session = db_session()
    query = page_query()
    who = query.text("who")
    first, last = query.date("from"), query.date("to")
    wanted = queries.AuditFilter(
        actor=queries.SYSTEM_ACTOR if who == queries.SYSTEM_ACTOR else query.id("who"),
        action=query.choice("action", audit.ACTION_LABELS),
        post_id=query.id("post"),
        start=midnight(first) if first is not None else None,
        end=midnight(last + timedelta(days=1)) if last is not None else None,
    )
    before = query.id("before")
    query.check()
    page = queries.audit_entries(session, wanted, before=before)
    locale = str(get_locale())
    actions = sorted(
        ((key, audit.action_label(key, locale)) for key in audit.ACTION_LABELS),
        key=lambda pair: pair[1].casefold(),
    )
    filters = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "audit.html",
        entries=page.entries,
        older=page.older,
        paged=before is not None,
        filters=filters,
        wanted=wanted,
        first=first,
        last=last,
        actions=actions,
        people=queries.audit_actors(session),
        system=queries.SYSTEM_ACTOR,
    )


def notifications_page() -> str:
    session, me = db_session(), signed_in_user()
    timezone = current_app.config["CALENDAR"].TIMEZONE
    locale = str(get_locale())
    items = notifications.notifications_for(session, me)
    return render_template(
        "notifications.html",
        items=[(note, *notifications.words_for(note, locale, timezone)) for note in items],
        action_form=ActionForm(),
        settings_form=notice_settings_form(notifications.notice_settings(me, locale)),
        urgent=[s for s in notifications.notice_settings(me, locale) if s.urgent],
    )
