"""Every API error is JSON: `{"error": "...", "fields": {"<field>": "<problem>"}}`."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from calendar_app.errors import RuleError
from calendar_app.words import LANGUAGES

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


def register(app: Flask) -> None:
    @app.errorhandler(RuleError)
    def _rule_error(exc: RuleError) -> Response:
        return error_response(exc.status_code, *exc.said(answer_locale()))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith(API_PREFIX):
            return exc
        response = error_response(exc.code or 500, exc.description or exc.name)
        if exc.code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="calendar_app"'
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if request.path.startswith(API_PREFIX):
            return error_response(500, "internal error; it has been logged")
        return "Internal error; it has been logged.", 500
