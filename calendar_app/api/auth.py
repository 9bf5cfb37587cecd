"""Bearer tokens for the API; roles checked by the rules in permissions.py."""

from __future__ import annotations

import logging

from flask import g, request
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from calendar_app.accounts import record_token_use, token_for, user_for_token
from calendar_app.extensions import db_session, get_db
from calendar_app.models import ApiToken, User
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
        g.api_token_id = api_token.id
    user = user_for_token(session, token.strip())
    if user is None:
        raise Unauthorized(_l("invalid or revoked API token"))
    g.api_user = user


def note_failed_request(response: Response) -> Response:
    """A request that fails is rolled back, the token's last use with it: remember it."""
    if response.status_code >= 400 and "api_token_id" in g:
        g.record_token_use_after = g.api_token_id
    return response


def record_use_of_failed_request(_exc: BaseException | None) -> None:
    """After the request's own transaction has ended (SQLite has one writer at a time)."""
    token_id = g.pop("record_token_use_after", None)
    if token_id is None:
        return
    try:
        with get_db().transaction() as session:
            api_token = session.get(ApiToken, token_id)
            if api_token is not None:
                record_token_use(api_token)
    except Exception:  # the answer is out; a missed "last used" is not worth an error
        log.exception("could not record the use of API token id=%s", token_id)


def api_user() -> User:
    return g.api_user
