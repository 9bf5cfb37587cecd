"""Bearer tokens for the API; roles checked by the rules in permissions.py."""

from __future__ import annotations

import logging

from flask import g, request
from werkzeug.exceptions import Unauthorized

from calendar_app.accounts import record_token_use, token_for, user_for_token
from calendar_app.extensions import db_session, get_db
from calendar_app.models import User
from calendar_app.words import _l

log = logging.getLogger(__name__)


def authenticate_request() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_l("missing bearer token: send 'Authorization: Bearer <token>'"))
    session = db_session()
    api_token = token_for(session, token.strip())
    if api_token is not None:
        g.record_token_use_after = api_token.id
    user = user_for_token(api_token)
    if user is None:
        raise Unauthorized(_l("invalid or revoked API token"))
    g.api_user = user


def record_use_after_request(_exc: BaseException | None) -> None:
    """The token's last use, after the request's own transaction has ended and in one of its
    own: inside the request it would lock the token's row, and every other request with the
    token would wait for this one to finish. A request that failed counts as a use too."""
    token_id = g.pop("record_token_use_after", None)
    if token_id is None:
        return
    try:
        with get_db().transaction() as session:
            record_token_use(session, token_id)
    except Exception:  # the answer is out; a missed "last used" is not worth an error
        log.exception("could not record the use of API token id=%s", token_id)


def api_user() -> User:
    return g.api_user
