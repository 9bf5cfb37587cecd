"""Protections that cover every request: security headers and the login throttle."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from calendar_app.accounts import normalise_email
from config import Config

# Pages set their own policy (web/__init__.py); everything else (the API, redirects, static
# files) may load nothing and be framed by nobody.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"
LOGIN_ENDPOINT = "web.login"


def init_security_headers(app: Flask, config: Config) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.path.startswith("/api/"):
            headers.setdefault("Cache-Control", "no-store")
        if not config.is_development:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def _account_key() -> str:
    return "login-account:" + normalise_email(request.form.get("email", ""))[:254]


def _address_key() -> str:
    return "login-address:" + (get_remote_address() or "unknown")


def _failed(response: Response) -> bool:
    """Only failed attempts count: a login that works answers with a redirect."""
    return response.status_code != 302


def too_many_logins_message() -> str:
    return _("Too many failed logins. Please wait a few minutes and try again.")


def init_login_throttle(app: Flask, config: Config) -> Limiter:
    """Throttle failed logins per account and per address (Flask-Limiter).

    One limiter per app: Flask-Limiter keeps its storage on the limiter object, and tests build
    many apps. The login view is wrapped here, after the blueprints are registered.
    """
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=config.RATELIMIT_STORAGE_URI,
        strategy="moving-window",
    )
    view = app.view_functions[LOGIN_ENDPOINT]
    for rate, key in (
        (config.LOGIN_LIMIT_PER_ACCOUNT, _account_key),
        (config.LOGIN_LIMIT_PER_ADDRESS, _address_key),
    ):
        view = limiter.limit(
            rate,
            key_func=key,
            methods=["POST"],
            deduct_when=_failed,
            error_message=too_many_logins_message,
        )(view)
    app.view_functions[LOGIN_ENDPOINT] = view
    app.extensions["calendar_limiter"] = limiter
    return limiter
