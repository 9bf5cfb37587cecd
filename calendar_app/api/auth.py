"""Bearer tokens for the API; roles checked by the rules in permissions.py."""

from __future__ import annotations

from flask import g, request
from werkzeug.exceptions import Unauthorized

from calendar_app.accounts import user_for_token
from calendar_app.extensions import db_session
from calendar_app.models import User


def authenticate_request() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    user = user_for_token(db_session(), token.strip())
    if user is None:
        raise Unauthorized("invalid or revoked API token")
    g.api_user = user


def api_user() -> User:
    return g.api_user
