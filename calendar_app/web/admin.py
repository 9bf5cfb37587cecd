"""Admin pages: departments, and channels with their owners and graveyard settings."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from calendar_app import departments
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.models import user_departments
from calendar_app.permissions import require_may_manage_departments
from calendar_app.web.forms import DepartmentForm
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
