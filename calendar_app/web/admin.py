"""Channel care and admin pages: the dashboard of channels at risk, departments, channels."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from calendar_app import channels, departments
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.graveyard import NOTHING_PLANNED, SILENT, channel_health
from calendar_app.models import User, user_departments
from calendar_app.permissions import (
    is_admin,
    require_may_manage_channels,
    require_may_manage_departments,
)
from calendar_app.timeutil import now_utc
from calendar_app.web.forms import ChannelCareForm, DepartmentForm, person_choices
from calendar_app.web.pages import signed_in_user


def _member_counts() -> dict[int, int]:
    rows = db_session().execute(
        select(user_departments.c.department_id, func.count()).group_by(
            user_departments.c.department_id
        )
    )
    return {department_id: count for department_id, count in rows}


def departments_page() -> Any:
    require_may_manage_departments(signed_in_user())
    session = db_session()
    form = DepartmentForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                department = departments.create_department(
                    session,
                    signed_in_user(),
                    name=form.name.data or "",
                    color=form.color.data or None,
                )
            except RuleError as exc:
                session.rollback()
                form.form_errors.append(exc.message)
                status = exc.status_code
            else:
                flash(_("Department %(name)s added.", name=department.name), "success")
                return redirect(url_for("web.departments"))
        else:
            status = 422
    return render_template(
        "departments.html",
        form=form,
        departments=departments.list_departments(session),
        members=_member_counts(),
    ), status


def channels_page() -> str:
    """Every channel with who answers for it; channels without owner and deputy stand out."""
    require_may_manage_channels(signed_in_user())
    return render_template(
        "channels.html",
        channels=channels.list_channels(db_session()),
        complete=channels.ownership_complete,
    )


def _people() -> list[User]:
    return list(db_session().scalars(select(User).where(User.active.is_(True)).order_by(User.name)))


def channel_page(channel_id: int) -> Any:
    me = signed_in_user()
    require_may_manage_channels(me)
    session = db_session()
    channel = channels.get_channel(session, channel_id)
    form = ChannelCareForm(obj=None if request.method == "POST" else channel)
    form.owner.choices = form.deputy.choices = person_choices(_people())
    if request.method == "GET":
        form.owner.data = channel.owner_id or 0
        form.deputy.data = channel.deputy_id or 0
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            changes = {
                "owner_id": form.owner.data or None,
                "deputy_id": form.deputy.data or None,
                "silent_after_days": form.silent_after_days.data,
                "plan_ahead_days": form.plan_ahead_days.data,
            }
            try:
                channels.update_channel(session, me, channel, changes)
            except RuleError as exc:
                session.rollback()
                form.form_errors.append(exc.message)
                status = exc.status_code
            else:
                flash(_("Channel %(name)s saved.", name=channel.name), "success")
                return redirect(url_for("web.channels"))
    return render_template(
        "channel.html",
        channel=channel,
        form=form,
        complete=channels.ownership_complete(channel),
    ), status


def dashboard() -> str:
    """Channels at risk: silent, nothing planned, or nobody (or only one person) answering."""
    health = channel_health(db_session(), now_utc())
    return render_template(
        "dashboard.html",
        silent=[h for h in health if SILENT in h.problems],
        unplanned=[h for h in health if NOTHING_PLANNED in h.problems],
        unowned=[h for h in health if not h.ownership_complete],
        may_manage=is_admin(signed_in_user()),
    )
