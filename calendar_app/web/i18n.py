"""Languages: German (the default, the demo team's) and English, chosen per user.

Dates and times are shown on the team's wall clock (CALENDAR_TIMEZONE) in the user's locale.
The rules' words (`words.Text`: refusals, labels) are said in the page's language wherever a
template shows them (the Jinja `finalize` hook); what leaves a template first — a flashed message,
a JSON answer — goes through `said`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale
from flask_login import current_user

from calendar_app.accounts import LANGUAGES
from calendar_app.words import Text, say

DEFAULT_LOCALE = "de"

babel = Babel()


def select_locale() -> str:
    """The user's own choice; before login, the language chosen on the login page (`lang`), or
    what the browser asks for (German otherwise)."""
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return str(current_user.locale)
    if request:
        if (chosen := request.args.get("lang")) in LANGUAGES:
            return str(chosen)
        return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def page_locale() -> str:
    return str(get_locale() or DEFAULT_LOCALE)


def said(value: Any) -> Any:
    """`value` (a message, or a dict or list of them) in the page's language."""
    if isinstance(value, Text | dict | list | tuple):
        return say(value, page_locale())
    return value  # most of what a template shows: no need to ask for the locale


def select_timezone() -> str:
    return str(current_app.config["CALENDAR"].TIMEZONE)


def init_babel(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.finalize = said
