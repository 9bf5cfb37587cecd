"""The OpenAPI document, generated from the same pydantic schemas that validate input."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from calendar_app.api import schemas

_ERROR = {"$ref": "#/components/schemas/Error"}


_ERRORS = {
    "400": "malformed request",
    "401": "missing or bad token",
    "403": "role not allowed",
    "404": "unknown id",
    "409": "conflicts with the current state",
    "422": "invalid input, with a message per field",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _op(
    summary: str, request: type[BaseModel] | None = None, ok: int = 200, **extra: Any
) -> dict[str, Any]:
    responses = {str(ok): {"description": "success", "content": _json({"type": "object"})}}
    responses.update(
        {code: {"description": text, "content": _json(_ERROR)} for code, text in _ERRORS.items()}
    )
    operation: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if request is not None:
        ref = {"$ref": f"#/components/schemas/{request.__name__}"}
        operation["requestBody"] = {"required": True, "content": _json(ref)}
    return operation


_ID = [{"name": "post_id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def document() -> dict[str, Any]:
    models = [
        schemas.ChannelCreate,
        schemas.PostCreate,
        schemas.PostUpdate,
        schemas.Release,
        schemas.Discard,
        schemas.CrisisDeclare,
        schemas.CrisisLift,
    ]
    _, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    components = defs.get("$defs", {})
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    filters = [
        {"name": n, "in": "query", "required": False, "schema": s}
        for n, s in (
            ("status", {"type": "string"}),
            ("from", {"type": "string", "format": "date-time"}),
            ("to", {"type": "string", "format": "date-time"}),
            ("channel", {"type": "integer"}),
        )
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "calendar_app API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {**_op("liveness"), "security": []}},
            "/channels": {
                "get": _op("list channels"),
                "post": _op("create a channel (admin)", schemas.ChannelCreate, 201),
            },
            "/posts": {
                "get": _op("list posts", parameters=filters),
                "post": _op("plan a post (draft)", schemas.PostCreate, 201),
            },
            "/posts/{post_id}": {
                "get": _op("one post", parameters=_ID),
                "patch": _op("edit a post", schemas.PostUpdate, parameters=_ID),
            },
            "/posts/{post_id}/submit": {"post": _op("submit for approval", parameters=_ID)},
            "/posts/{post_id}/approve": {"post": _op("approve (head, admin)", parameters=_ID)},
            "/posts/{post_id}/release": {
                "post": _op("release a held post (head, admin)", schemas.Release, parameters=_ID)
            },
            "/posts/{post_id}/discard": {
                "post": _op("discard a post", schemas.Discard, parameters=_ID)
            },
            "/crisis": {
                "get": _op("the crisis in force"),
                "post": _op("declare a crisis (head, admin)", schemas.CrisisDeclare, 201),
            },
            "/crisis/lift": {"post": _op("lift the crisis (head, admin)", schemas.CrisisLift)},
            "/crisis/lift/confirm": {"post": _op("confirm a requested lift (head, admin)")},
        },
    }
