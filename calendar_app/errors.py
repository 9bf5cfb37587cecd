"""Exceptions the rules raise; the web and API layers turn them into answers."""

from __future__ import annotations


class RuleError(Exception):
    status_code = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


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
