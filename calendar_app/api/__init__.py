"""The JSON API under /api/v1: thin views that call the rules modules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from calendar_app.api import (
    blackouts,
    campaigns,
    channels,
    crisis,
    departments,
    evaluation,
    feed,
    listening,
    media,
    notifications,
    people,
    playbooks,
    posts,
)
from calendar_app.api.auth import (
    authenticate_request,
    record_use_after_request,
)
from calendar_app.api.openapi import document

# Signed with a webhook channel's secret instead of a token: results (evaluation) and items
# for the inbox (listening).
PUBLIC_ENDPOINTS = {
    "api.health",
    "api.openapi",
    evaluation.INBOUND_ENDPOINT,
    "api.listening.inbound",
}

api = Blueprint("api", __name__, url_prefix="/api/v1")
_PARTS = (
    channels.bp,
    posts.bp,
    campaigns.bp,
    crisis.bp,
    notifications.bp,
    departments.bp,
    people.bp,
    blackouts.bp,
    playbooks.bp,
    listening.bp,
    media.bp,
    evaluation.bp,
    feed.bp,
)
for _part in _PARTS:
    api.register_blueprint(_part)
# The JSON API takes bearer tokens only, never cookies: no CSRF token is needed on any of these.
CSRF_EXEMPT = (api, *_PARTS)


@api.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticate_request()


api.teardown_request(record_use_after_request)


@api.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@api.get("/openapi.json")
def openapi() -> dict[str, Any]:
    return document()
