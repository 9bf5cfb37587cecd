"""Browser views: server-rendered pages over the rules modules. Every page but login needs a login.

The route table is here; the views live in auth.py and pages.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from calendar_app.crisis import current_crisis
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session, login_manager
from calendar_app.models import User
from calendar_app.permissions import is_reviewer
from calendar_app.web import auth, pages
from calendar_app.web.formatting import FILTERS, team_timezone

web = Blueprint("web", __name__)

login_manager.login_view = "web.login"
login_manager.login_message = "Bitte melden Sie sich an."
login_manager.login_message_category = "info"

PUBLIC_ENDPOINTS = {"web.login"}
# No inline scripts anywhere; inline style attributes only carry a department's colour.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

web.add_url_rule("/login", "login", auth.login, methods=["GET", "POST"])
web.add_url_rule("/logout", "logout", auth.logout, methods=["POST"])
web.add_url_rule("/", "calendar", pages.calendar)
web.add_url_rule("/posts/<int:post_id>", "post", pages.post)
web.add_url_rule("/crisis", "crisis", pages.crisis_status)
web.add_url_rule("/outbox", "outbox", pages.outbox)
web.add_url_rule("/audit", "audit", pages.audit_log)
for _name, _filter in FILTERS.items():
    web.add_app_template_filter(_filter, _name)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db_session().get(User, int(user_id)) if user_id.isdigit() else None


@web.before_request
def _require_login() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


@web.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@web.context_processor
def _page_context() -> dict[str, Any]:
    """What every page shows: the crisis banner (to people who are logged in) and the menu."""
    if not current_user.is_authenticated:
        return {"crisis_in_force": None, "may_review": False, "team_timezone": team_timezone()}
    return {
        "crisis_in_force": current_crisis(db_session()),
        "may_review": is_reviewer(current_user),
        "team_timezone": team_timezone(),
    }


@web.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    message = "Das Formular ist abgelaufen oder unvollständig. Bitte laden Sie die Seite neu."
    return render_template("error.html", code=400, message=message), 400


@web.errorhandler(RuleError)
def _rule_error(exc: RuleError) -> tuple[str, int]:
    return render_template("error.html", code=exc.status_code, message=exc.message), exc.status_code


@web.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    return render_template("error.html", code=code, message=exc.description), code
