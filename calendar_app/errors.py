"""Exceptions the rules raise; the web and API layers turn them into answers.

Their words are marked for the catalogue where they are raised (`words._l`), so the answer says
them in the language of whoever asked (`RuleError.said`)."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.exceptions import HTTPException

from calendar_app.words import Text, _l, joined, say


def listed(problems: Mapping[str, str], between: str = " ") -> Text:
    """ "title is too long; body must not be empty": each field and its problem, in words."""
    return joined(joined((field, problem), between) for field, problem in problems.items())


class RuleError(Exception):
    status_code = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def said(self, locale: str | None) -> tuple[str, dict[str, str]]:
        """(message, fields) in `locale`; the field names stay as they are."""
        return say(self.message, locale), say(self.fields, locale)


class InvalidInput(RuleError):
    """Input breaks a rule; `fields` names each field and its problem."""

    status_code = 422


class NotAllowed(RuleError):
    """The user's role or relation to the object does not allow this."""

    status_code = 403


class NotFound(RuleError):
    status_code = 404


class Conflict(RuleError):
    """The action does not fit the current state (e.g. a second crisis while one is active)."""

    status_code = 409


class MalformedRequest(RuleError):
    """The request itself cannot be read (e.g. malformed JSON)."""

    status_code = 400


# The answers of the HTTP layer itself (an unknown address, a method an address does not take, a
# missing token), in words for the reader; an exception raised with words of its own keeps them.
HTTP_WORDS: dict[int, Text] = {
    400: _l("This request cannot be read."),
    401: _l("Sign in first: this needs a valid API token."),
    403: _l("You may not do this."),
    404: _l("There is nothing at this address."),
    413: _l("What you sent is too large."),
    415: _l("This address does not take that kind of content."),
    500: _l("Something went wrong on our side; it has been logged."),
}


def http_words(exc: HTTPException, method: str) -> str:
    """What an HTTP error says to a person: its own words if it was raised with some, else the
    catalogue's for its code (405 names the request's method and those the address takes)."""
    if exc.description is not None and exc.description != type(exc).description:
        return exc.description
    allowed = getattr(exc, "valid_methods", None)
    if exc.code == 405 and allowed:
        return _l(
            "This address does not take %(method)s; it takes %(allowed)s.",
            method=method,
            allowed=", ".join(sorted(allowed)),
        )
    return HTTP_WORDS.get(exc.code or 500, exc.name)
