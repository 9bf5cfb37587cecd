"""Protections that cover every request: security headers and which client address counts
(the failed-login budgets themselves are in login_budget.py)."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from config import Config

# Pages set their own policy (web/__init__.py); everything else (the API, redirects, static
# files) may load nothing and be framed by nobody.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"


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


def too_many_logins_message() -> str:
    return _("Too many failed logins. Please wait a few minutes and try again.")


def init_proxy_fix(app: Flask, config: Config) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client address is the one they forwarded
    (X-Forwarded-For, counted from the right) and the scheme theirs (X-Forwarded-Proto).
    Without the setting these headers are ignored: anyone can send them."""
    if config.TRUSTED_PROXIES:
        proxies = config.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
