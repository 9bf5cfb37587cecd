"""Browser views (placeholder; replaced by the real pages)."""

from __future__ import annotations

from flask import Blueprint

from calendar_app.extensions import db_session, login_manager
from calendar_app.models import User

web = Blueprint("web", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db_session().get(User, int(user_id)) if user_id.isdigit() else None


@web.get("/")
def index() -> str:
    return "calendar_app"
