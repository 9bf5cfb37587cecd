"""Logging in and out of the browser UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from calendar_app import login_budget
from calendar_app.accounts import authenticate, end_sessions
from calendar_app.extensions import db_session
from calendar_app.people import deactivated_login
from calendar_app.security import too_many_logins_message
from calendar_app.timeutil import now_utc
from calendar_app.web.forms import AppForm

WRONG_CREDENTIALS = _l("Wrong e-mail address or password.")
DEACTIVATED = _l(
    "This account has been deactivated. If you still work here, ask an admin to reactivate it."
)
# The user's session version at login; the user loader refuses a session with an older one.
SESSION_VERSION_KEY = "_session_version"


class LoginForm(AppForm):
    email = StringField(
        _l("E-mail"), validators=[DataRequired(_l("Please fill this in.")), Length(max=254)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Please fill this in.")), Length(max=1024)]
    )


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site, never another host (open redirect)."""
    home = url_for("web.calendar")
    if not target or not target.startswith("/") or target.startswith("//"):
        return home
    # Browsers read `/\evil.example` as `//evil.example` and drop tabs and newlines in URLs.
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        db, email, address = db_session(), form.email.data or "", request.remote_addr
        keys = (login_budget.account_key(email), login_budget.address_key(address))
        wait = login_budget.seconds_to_wait(db, keys, now_utc())
        if wait:  # not even the right password is looked at while a delay runs
            return too_many_attempts(wait)
        user = authenticate(db, email, form.password.data or "")
        if user is not None:
            login_budget.forget_account(db, email)
            session.clear()  # nothing from before the login survives it (session fixation)
            session.permanent = True  # ends after PERMANENT_SESSION_LIFETIME without a request
            session[SESSION_VERSION_KEY] = user.session_version
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        budgets = login_budget.LoginBudgets.from_config(current_app.config["CALENDAR"])
        login_budget.record_failure(db, budgets, email=email, address=address, now=now_utc())
        error = (
            DEACTIVATED
            if deactivated_login(db_session(), form.email.data or "", form.password.data or "")
            else WRONG_CREDENTIALS
        )
    return render_template("login.html", form=form, error=error)


def too_many_attempts(wait_seconds: int) -> Response:
    """A failed-login delay runs (login_budget.py): say so on the login page, with 429."""
    page = render_template("login.html", form=LoginForm(), error=too_many_logins_message())
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(wait_seconds)
    return response


def logout() -> Response:
    if current_user.is_authenticated:
        # Ends this session and any copy of its cookie (and the user's other sessions).
        end_sessions(current_user._get_current_object())  # type: ignore[attr-defined]
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))
