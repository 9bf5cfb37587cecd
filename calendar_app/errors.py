"""Exceptions the rules raise; the web and API layers turn them into answers.

Their words are marked for the catalogue where they are raised (`words._l`), so the answer says
them in the language of whoever asked (`RuleError.said`)."""

from __future__ import annotations

from collections.abc import Mapping

from calendar_app.words import Text, joined, say


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
