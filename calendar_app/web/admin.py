"""Channel care and admin pages: the dashboard of channels at risk, departments, people and
their departments, channels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from wtforms import SelectChoice

from calendar_app import channels, departments, people
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.graveyard import NOTHING_PLANNED, SILENT, channel_health
from calendar_app.models import User, user_departments
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.permissions import (
    is_admin,
    require_may_manage_channels,
    require_may_manage_departments,
    require_may_manage_users,
)
from calendar_app.publishers import NETWORK_KINDS
from calendar_app.timeutil import now_utc
from calendar_app.web.forms import (
    ActionForm,
    BlueskyChannelForm,
    ChannelCareForm,
    DepartmentForm,
    MastodonChannelForm,
    PersonDepartmentsForm,
    person_choices,
)
from calendar_app.web.i18n import said
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


def _person_form(person: User, *, submitted: bool = False) -> PersonDepartmentsForm:
    """One row's form; the prefix keeps field ids and names apart from the other rows'. Only the
    row that was sent reads the request; the others show what is stored."""
    prefix = f"person-{person.id}"
    if submitted:
        form = PersonDepartmentsForm(prefix=prefix)
    else:
        form = PersonDepartmentsForm(
            formdata=None, prefix=prefix, data={"departments": [d.id for d in person.departments]}
        )
    form.departments.choices = [
        SelectChoice(d.id, d.name) for d in departments.list_departments(db_session())
    ]
    return form


def _render_people(
    rejected: tuple[User, PersonDepartmentsForm] | None = None, status: int = 200
) -> Any:
    session = db_session()
    everyone = list(session.scalars(select(User).order_by(User.active.desc(), User.name)))
    forms = {person.id: _person_form(person) for person in everyone}
    if rejected is not None:
        forms[rejected[0].id] = rejected[1]
    return render_template(
        "people.html", people=everyone, forms=forms, action_form=ActionForm()
    ), status


def people_page() -> Any:
    """Everyone with their role and departments; an admin sets each person's departments."""
    require_may_manage_users(signed_in_user())
    return _render_people()


def set_person_departments(user_id: int) -> Any:
    me = signed_in_user()
    require_may_manage_users(me)
    session = db_session()
    person = departments.get_user(session, user_id)
    form = _person_form(person, submitted=True)
    if not form.validate_on_submit():
        return _render_people((person, form), 422)
    try:
        chosen = departments.departments_by_ids(session, list(form.departments.data or []))
        departments.set_user_departments(session, me, person, chosen)
    except RuleError as exc:
        session.rollback()
        form.form_errors.append(exc.message)
        return _render_people((person, form), exc.status_code)
    flash(_("Departments of %(name)s saved.", name=person.name), "success")
    return redirect(url_for("web.people", _anchor=f"person-{person.id}"))


def deactivate_person(user_id: int) -> Any:
    """GET: what deactivating will do, and a button to do it. POST: do it."""
    me = signed_in_user()
    require_may_manage_users(me)
    session = db_session()
    person = departments.get_user(session, user_id)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            done = people.deactivate_user(session, me, person)
        except RuleError as exc:
            session.rollback()
            flash(said(exc.message), "error")
            return redirect(url_for("web.people", _anchor=f"person-{person.id}"))
        flash(_("%(name)s is deactivated: their sessions and API tokens have ended.",
                name=person.name), "success")  # fmt: skip
        if done.handovers:
            flash(_("Their channels need someone: see the channel list."), "info")
        return redirect(url_for("web.people", _anchor=f"person-{person.id}"))
    held = [c for c in channels.list_channels(session) if person.id in (c.owner_id, c.deputy_id)]
    return render_template("deactivate.html", person=person, channels=held, form=form)


def reactivate_person(user_id: int) -> Any:
    me = signed_in_user()
    require_may_manage_users(me)
    if not ActionForm().validate_on_submit():
        abort(400)
    session = db_session()
    person = people.reactivate_user(session, me, departments.get_user(session, user_id))
    flash(_("%(name)s may log in again.", name=person.name), "success")
    return redirect(url_for("web.people", _anchor=f"person-{person.id}"))


def channels_page(
    form: MastodonChannelForm | None = None,
    status: int = 200,
    bluesky_form: BlueskyChannelForm | None = None,
) -> Any:
    """Every channel with who answers for it; channels without owner and deputy stand out.
    Admins add a Mastodon or Bluesky channel here and check a network channel's connection."""
    require_may_manage_channels(signed_in_user())
    return render_template(
        "channels.html",
        channels=channels.list_channels(db_session()),
        complete=channels.ownership_complete,
        network_kinds=NETWORK_KINDS,
        mastodon_form=form or MastodonChannelForm(formdata=None),
        bluesky_form=bluesky_form or BlueskyChannelForm(formdata=None),
        check_form=ActionForm(),
    ), status


def add_mastodon_channel() -> Any:
    form = MastodonChannelForm()
    return _add_network_channel(
        form,
        "mastodon",
        lambda: {
            "base_url": (form.base_url.data or "").strip(),
            "access_token": (form.access_token.data or "").strip(),
        },
        lambda status: channels_page(form, status),
    )


def add_bluesky_channel() -> Any:
    form = BlueskyChannelForm()

    def config() -> dict[str, str]:
        settings = {
            "handle": (form.handle.data or "").strip().removeprefix("@"),
            "app_password": (form.app_password.data or "").strip(),
        }
        if (form.service.data or "").strip():
            settings["service"] = (form.service.data or "").strip()
        if (form.firehose.data or "").strip():
            settings["firehose"] = (form.firehose.data or "").strip()
        return settings

    return _add_network_channel(
        form, "bluesky", config, lambda status: channels_page(status=status, bluesky_form=form)
    )


def _add_network_channel(
    form: MastodonChannelForm | BlueskyChannelForm,
    kind: str,
    config: Callable[[], dict[str, str]],
    page: Callable[[int], Any],
) -> Any:
    me = signed_in_user()
    require_may_manage_channels(me)
    if not form.validate_on_submit():
        return page(422)
    session = db_session()
    settings = current_app.config["CALENDAR"]
    try:
        channel = channels.create_channel(
            session,
            me,
            name=form.name.data or "",
            kind=kind,
            network=kind,
            config=config(),
            outbound_policy=OutboundPolicy.from_config(settings),
            secrets=ChannelSecrets.from_config(settings),
        )
    except RuleError as exc:
        session.rollback()
        form.form_errors.append(
            "; ".join([said(exc.message), *(f"{k}: {v}" for k, v in said(exc.fields).items())])
        )
        return page(exc.status_code)
    flash(_("Channel %(name)s added. Check its connection next.", name=channel.name), "success")
    return redirect(url_for("web.channels", _anchor=f"channel-{channel.id}"))


def check_channel(channel_id: int) -> Any:
    me = signed_in_user()
    require_may_manage_channels(me)
    if not ActionForm().validate_on_submit():
        abort(400)
    channel = channels.get_channel(db_session(), channel_id)
    try:
        result = channels.check_connection(me, channel, current_app.config["CALENDAR"])
    except RuleError as exc:
        flash(said(exc.message), "error")
    else:
        if result.ok:
            flash(
                _("%(name)s is connected: it posts as %(account)s.", name=channel.name,
                  account=result.account),
                "success",
            )  # fmt: skip
        else:
            flash(
                _(
                    "%(name)s cannot sign in: %(error)s",
                    name=channel.name,
                    error=said(result.error),
                ),
                "error",
            )
    return redirect(url_for("web.channels", _anchor=f"channel-{channel.id}"))


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
