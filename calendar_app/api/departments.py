"""Departments and who belongs to them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from calendar_app import departments
from calendar_app.api.auth import api_user
from calendar_app.api.schemas import DepartmentCreate, UserDepartments, parse
from calendar_app.api.serialize import department_json, user_json
from calendar_app.extensions import db_session
from calendar_app.models import User
from calendar_app.permissions import require_may_manage_users

bp = Blueprint("departments", __name__)


@bp.get("/departments")
def index() -> dict[str, Any]:
    return {"items": [department_json(d) for d in departments.list_departments(db_session())]}


@bp.post("/departments")
def create() -> tuple[dict[str, Any], int]:
    data = parse(DepartmentCreate)
    department = departments.create_department(
        db_session(), api_user(), name=data.name, slug=data.slug, color=data.color
    )
    return department_json(department), 201


@bp.get("/users")
def users() -> dict[str, Any]:
    require_may_manage_users(api_user())
    people = db_session().scalars(select(User).order_by(User.email))
    return {"items": [user_json(u) for u in people]}


@bp.put("/users/<int:user_id>/departments")
def set_departments(user_id: int) -> dict[str, Any]:
    session, me = db_session(), api_user()
    require_may_manage_users(me)
    user = departments.get_user(session, user_id)
    data = parse(UserDepartments)
    chosen = departments.departments_by_ids(session, data.departments)
    return user_json(departments.set_user_departments(session, me, user, chosen))
