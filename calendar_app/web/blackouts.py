"""Blackout dates in the browser: the list, planning and cancelling one, and the calendar's
shading (FullCalendar background events)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from calendar_app import blackouts
from calendar_app.errors import InvalidInput, RuleError
from calendar_app.extensions import db_session
from calendar_app.permissions import is_reviewer
from calendar_app.timeutil import now_utc
from calendar_app.web import queries
from calendar_app.web.feed import WALL_CLOCK, blackout_warning_texts
from calendar_app.web.formatting import input_value, team_time, team_wall_clock
from calendar_app.web.forms import ActionForm, BlackoutForm, channel_choices
from calendar_app.web.i18n import said
from calendar_app.web.pages import signed_in_user
from calendar_app.web.query import page_query, required_range


def _form() -> BlackoutForm:
    form = BlackoutForm()
    form.channels.choices = channel_choices(queries.active_channels(db_session()))
    return form


def _render(form: BlackoutForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "blackouts.html",
        blackouts=blackouts.list_blackouts(db_session()),
        form=form,
        action_form=ActionForm(),
        may_plan=is_reviewer(signed_in_user()),
        team_now=input_value(now_utc()),
    ), status


def blackouts_page() -> tuple[str, int]:
    return _render(_form())


def _times(form: BlackoutForm) -> tuple[Any, Any]:
    problems = {}
    times = []
    for field in (form.starts_at, form.ends_at):
        try:
            times.append(team_wall_clock(field.data or ""))
        except ValueError:
            problems[field.name] = _("Enter a date and time, e.g. 2026-03-03 09:00.")
    if problems:
        raise InvalidInput(_("Enter when the blackout begins and ends."), problems)
    return times[0], times[1]


def plan_blackout() -> Any:
    form = _form()
    if not form.validate_on_submit():
        return _render(form, 422)
    session = db_session()
    try:
        starts_at, ends_at = _times(form)
        channel_ids = list(form.channels.data or []) if form.scope.data == "chosen" else None
        if channel_ids == []:
            raise InvalidInput(
                _("Choose at least one channel, or all channels."),
                {"channels": _("Choose at least one channel.")},
            )
        blackouts.create_blackout(
            session,
            signed_in_user(),
            name=form.name.data or "",
            reason=form.reason.data or "",
            starts_at=starts_at,
            ends_at=ends_at,
            channel_ids=channel_ids,
            announcing=blackouts.Announcing.from_config(current_app.config["CALENDAR"]),
        )
    except RuleError as exc:
        session.rollback()
        form.form_errors.append(exc.message)
        for name, problem in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, problem]
        return _render(form, exc.status_code)
    flash(_("Blackout planned. Everyone has been told."), "success")
    return redirect(url_for("web.blackouts"))


def cancel_blackout(blackout_id: int) -> Response:
    session = db_session()
    try:
        blackout = blackouts.get_blackout(session, blackout_id)
        blackouts.delete_blackout(session, signed_in_user(), blackout)
    except RuleError as exc:
        session.rollback()
        flash(said(exc.message), "error")
        return redirect(url_for("web.blackouts"))
    flash(_("Blackout cancelled. What it already held stays held for review."), "success")
    return redirect(url_for("web.blackouts"))


def blackout_events() -> list[dict[str, Any]]:
    """The calendar's shading: one background event per blackout in the range."""
    query = page_query()
    start, end = required_range(query)
    found = blackouts.list_blackouts(db_session(), start=start, end=end)
    return [
        {
            "id": f"blackout-{b.id}",
            "title": _("Blackout: %(name)s", name=b.name),
            "start": team_time(b.starts_at).strftime(WALL_CLOCK),
            "end": team_time(b.ends_at).strftime(WALL_CLOCK),
            "display": "background",
            "classNames": ["blackout"],
            "extendedProps": {
                "blackout": True,
                "channels": [c.name for c in b.channels] if not b.all_channels else [],
                "statusLabel": _("all channels") if b.all_channels else "",
            },
        }
        for b in found
    ]


def blackout_warnings(post: Any) -> None:
    """Flash what a post planned into a blackout date will meet."""
    for text in blackout_warning_texts(post):
        flash(text, "error")
