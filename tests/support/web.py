"""Signing in to the browser UI from a test, through the real login form."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flask.testing import FlaskClient

if TYPE_CHECKING:
    from tests.conftest import Team


def csrf_token(browser: FlaskClient, path: str = "/login") -> str:
    page = browser.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"{path} has no CSRF token"
    return match.group(1)


def signed_in(team: Team, who: str) -> FlaskClient:
    """A browser of its own, signed in as one of the cast (password from conftest)."""
    from tests.conftest import PASSWORD

    browser = team.app.test_client()
    response = browser.post(
        "/login",
        data={
            "email": team.email(who),
            "password": PASSWORD,
            "csrf_token": csrf_token(browser, "/login"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser
