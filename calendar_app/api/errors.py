"""Every API error is JSON: `{"error": "...", "fields": {"<field>": "<problem>"}}`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from calendar_app.errors import RuleError, http_words
from calendar_app.words import LANGUAGES, _l, say

log = logging.getLogger(__name__)
API_PREFIX = "/api/"


def error_response(status: int, message: str, fields: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message, "fields": fields or {}})
    response.status_code = status
    return response


def answer_locale() -> str:
    """The language an API answer speaks: what the request asks for in `Accept-Language`
    (German or English), English when it asks for neither — a script that names no language
    gets the words of this contract, whoever owns its token."""
    if request.accept_languages:
        return request.accept_languages.best_match(list(LANGUAGES)) or "en"
    return "en"


def register(
    app: Flask, pages: Callable[[HTTPException], ResponseReturnValue] | None = None
) -> None:
    """JSON errors for the API; any other address's HTTP errors go to `pages` (the web's error
    page) when given."""

    @app.errorhandler(RuleError)
    def _rule_error(exc: RuleError) -> Response:
        return error_response(exc.status_code, *exc.said(answer_locale()))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue | HTTPException:
        if not request.path.startswith(API_PREFIX):
            return pages(exc) if pages is not None else exc
        said = say(http_words(exc, request.method), answer_locale())
        response = error_response(exc.code or 500, said)
        if exc.code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="calendar_app"'
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if request.path.startswith(API_PREFIX):
            return error_response(
                500, say(_l("internal error; it has been logged"), answer_locale())
            )
        return "Internal error; it has been logged.", 500
