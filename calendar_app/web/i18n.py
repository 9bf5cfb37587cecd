"""Languages: German (the default, the demo team's) and English, chosen per user.

Dates and times are shown on the team's wall clock (CALENDAR_TIMEZONE) in the user's locale.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel
from flask_login import current_user

from calendar_app.accounts import LANGUAGES

DEFAULT_LOCALE = "de"

babel = Babel()


def select_locale() -> str:
    """The user's own choice; before login, what the browser asks for (German otherwise)."""
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return str(current_user.locale)
    if request:
        return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def select_timezone() -> str:
    return str(current_app.config["CALENDAR"].TIMEZONE)


def init_babel(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
