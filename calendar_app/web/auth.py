"""Logging in and out of the browser UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from calendar_app.accounts import authenticate, end_sessions
from calendar_app.extensions import db_session
from calendar_app.people import deactivated_login

WRONG_CREDENTIALS = _l("Wrong e-mail address or password.")
DEACTIVATED = _l(
    "This account has been deactivated. If you still work here, ask an admin to reactivate it."
)
# The user's session version at login; the user loader refuses a session with an older one.
SESSION_VERSION_KEY = "_session_version"
RETRY_AFTER_SECONDS = 60


class LoginForm(FlaskForm):
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
        user = authenticate(db_session(), form.email.data or "", form.password.data or "")
        if user is not None:
            session.clear()  # nothing from before the login survives it (session fixation)
            session.permanent = True  # ends after PERMANENT_SESSION_LIFETIME without a request
            session[SESSION_VERSION_KEY] = user.session_version
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        error = (
            DEACTIVATED
            if deactivated_login(db_session(), form.email.data or "", form.password.data or "")
            else WRONG_CREDENTIALS
        )
    return render_template("login.html", form=form, error=error)


def too_many_attempts(exc: RateLimitExceeded) -> Response:
    """The login throttle (security.py) refused: say so on the login page, with 429."""
    page = render_template("login.html", form=LoginForm(), error=exc.description)
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def logout() -> Response:
    if current_user.is_authenticated:
        # Ends this session and any copy of its cookie (and the user's other sessions).
        end_sessions(current_user._get_current_object())  # type: ignore[attr-defined]
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))
