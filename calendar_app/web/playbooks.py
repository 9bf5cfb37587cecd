"""Pages for crisis playbooks, and the acknowledgement of an escalation (button and link)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from calendar_app import crisis, escalation, playbooks
from calendar_app.accounts import user_by_email
from calendar_app.errors import InvalidInput, NotFound, RuleError
from calendar_app.extensions import db_session
from calendar_app.models import Playbook
from calendar_app.permissions import may_manage_playbooks, require_may_manage_playbooks
from calendar_app.web import queries
from calendar_app.web.forms import (
    ActionForm,
    PlaybookForm,
    channel_choices,
    comma_list,
    text_problem,
)
from calendar_app.web.i18n import said
from calendar_app.web.pages import signed_in_user


def index() -> str:
    return render_template(
        "playbooks.html",
        items=playbooks.list_playbooks(db_session()),
        may_manage=may_manage_playbooks(signed_in_user()),
        action_form=ActionForm(),
    )


def _contacts(text: str) -> list[playbooks.Contact]:
    """One person a line: a user's e-mail, or "name; role; e-mail" for someone outside."""
    session, contacts, problems = db_session(), [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if ";" in line:
            name, _sep, rest = line.partition(";")
            role, _sep, email = rest.partition(";")
            contacts.append(
                playbooks.Contact(name=name.strip(), role=role.strip(), email=email.strip())
            )
            continue
        user = user_by_email(session, line)
        if user is None:
            problems.append(_("Line %(n)d: no user with this e-mail.", n=number))
        else:
            contacts.append(playbooks.Contact(user_id=user.id))
    if problems:
        raise InvalidInput(" ".join(problems), {"escalation": " ".join(problems)})
    return contacts


def _contacts_text(playbook: Playbook) -> str:
    return "\n".join(
        c.user.email if c.user else f"{c.name}; {c.role}; {c.email}" for c in playbook.contacts
    )


def _render(form: PlaybookForm, playbook: Playbook | None, statements: dict[int, str], status=200):
    return render_template(
        "playbook_form.html",
        form=form,
        playbook=playbook,
        channels=queries.active_channels(db_session()),
        statements=statements,
        roles=playbooks.CONTACT_ROLES,
    ), status


def _statements_from_request() -> dict[int, str]:
    return {
        channel.id: request.form.get(f"statement-{channel.id}", "").strip()
        for channel in queries.active_channels(db_session())
    }


def _data(form: PlaybookForm, statements: dict[int, str]) -> dict[str, Any]:
    return {
        "name": form.name.data or "",
        "description": form.description.data or "",
        "channel_ids": list(form.channels.data or []) if form.scope.data == "chosen" else None,
        "topics": comma_list(form.topics.data),
        "keywords": comma_list(form.keywords.data),
        "statements": statements,
        "contacts": _contacts(form.escalation.data or ""),
    }


def _save(form: PlaybookForm, playbook: Playbook | None) -> Any:
    statements = _statements_from_request()
    valid = form.validate_on_submit()
    channels = {channel.id: channel.name for channel in queries.active_channels(db_session())}
    for channel_id, text in statements.items():
        if (problem := text_problem(text, several_lines=True)) is not None:
            form.form_errors.append(f"{channels[channel_id]}: {problem}")
            valid = False
    if not valid:
        return _render(form, playbook, statements, 422)
    session = db_session()
    try:
        data = _data(form, statements)
        if playbook is None:
            playbook = playbooks.create_playbook(
                session, signed_in_user(), playbooks.PlaybookData(**data)
            )
        else:
            playbooks.edit_playbook(session, signed_in_user(), playbook, data)
    except RuleError as exc:
        session.rollback()
        form.form_errors.append(exc.message)
        return _render(form, playbook, statements, exc.status_code)
    flash(_("Playbook saved."), "success")
    return redirect(url_for("web.playbooks"))


def _form() -> PlaybookForm:
    form = PlaybookForm()
    form.channels.choices = channel_choices(queries.active_channels(db_session()))
    return form


def create() -> Any:
    require_may_manage_playbooks(signed_in_user())
    form = _form()
    if request.method == "GET":
        return _render(form, None, {})
    return _save(form, None)


def edit(playbook_id: int) -> Any:
    require_may_manage_playbooks(signed_in_user())
    playbook = playbooks.get_playbook(db_session(), playbook_id)
    form = _form()
    if request.method == "GET":
        form.name.data = playbook.name
        form.description.data = playbook.description
        form.scope.data = "all" if playbook.all_channels else "chosen"
        form.channels.data = [c.id for c in playbook.channels]
        form.topics.data = ", ".join(playbook.hold_topics or [])
        form.keywords.data = ", ".join(playbook.hold_keywords or [])
        form.escalation.data = _contacts_text(playbook)
        return _render(form, playbook, {s.channel_id: s.text for s in playbook.statements})
    return _save(form, playbook)


def delete(playbook_id: int) -> Response:
    session = db_session()
    playbook = playbooks.get_playbook(session, playbook_id)
    playbooks.delete_playbook(session, signed_in_user(), playbook)
    flash(_("Playbook deleted."), "success")
    return redirect(url_for("web.playbooks"))


# --- acknowledgements --------------------------------------------------------------------------


def acknowledge() -> Response:
    """The button on the crisis page for someone on the escalation list."""
    session = db_session()
    try:
        escalation.acknowledge(session, signed_in_user(), crisis.current_crisis(session))
    except RuleError as exc:
        session.rollback()
        flash(said(exc.message), "error")
    else:
        flash(_("Acknowledged: the crisis team sees that you know."), "success")
    return redirect(url_for("web.crisis") + "#acknowledgements")


def acknowledge_by_link(token: str) -> tuple[str, int]:
    """Public: the link in an outside person's e-mail. Opening it changes nothing (mail
    scanners open links); the button acknowledges."""
    session = db_session()
    try:
        ack = escalation.find_by_token(session, token)
    except NotFound:
        abort(404)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        ack = escalation.acknowledge_by_link(session, token)
    return render_template("acknowledge.html", ack=ack, form=form), 200
