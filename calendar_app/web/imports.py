"""Uploading a plan as CSV: every row is checked first, and nothing is imported unless all are."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from calendar_app import plan_csv
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.web.formatting import team_timezone
from calendar_app.web.forms import ImportForm
from calendar_app.web.pages import signed_in_user


def _render(form: ImportForm, problems: dict[str, str] | None = None, status: int = 200) -> Any:
    return render_template(
        "import.html",
        form=form,
        problems=problems or {},
        columns=plan_csv.COLUMNS,
        team_timezone=team_timezone(),
    ), status


def import_plan() -> Any:
    form = ImportForm()
    if not form.validate_on_submit():
        return _render(form, status=422 if form.is_submitted() else 200)
    raw = form.file.data.read(plan_csv.MAX_FILE_BYTES + 1)
    if len(raw) > plan_csv.MAX_FILE_BYTES:
        form.file.errors = [_("The file is larger than 5 MB.")]
        return _render(form, status=422)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [_("The file is not UTF-8 text. Save it as “CSV UTF-8”.")]
        return _render(form, status=422)
    session = db_session()
    try:
        posts = plan_csv.import_plan(session, signed_in_user(), text, team_timezone())
    except RuleError as exc:
        session.rollback()
        return _render(form, exc.fields or {"": exc.message}, status=exc.status_code)
    count = len(posts)
    flash(ngettext("Imported %(num)s post as a draft.", "Imported %(num)s posts as drafts.", count))
    return redirect(url_for("web.agenda", von=posts[0].publish_at.date().isoformat()))
