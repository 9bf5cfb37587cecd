"""Blackout dates over the API: planned quiet periods (heads and admins plan them)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from calendar_app import blackouts
from calendar_app.api.auth import api_user
from calendar_app.api.schemas import BlackoutCreate, BlackoutUpdate, parse
from calendar_app.api.serialize import blackout_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session

bp = Blueprint("blackouts", __name__)
NOT_NULL = ("name", "starts_at", "ends_at", "reason")


@bp.get("/blackouts")
def index() -> dict[str, Any]:
    return {"items": [blackout_json(b) for b in blackouts.list_blackouts(db_session())]}


@bp.post("/blackouts")
def create() -> tuple[dict[str, Any], int]:
    data = parse(BlackoutCreate)
    blackout = blackouts.create_blackout(
        db_session(),
        api_user(),
        name=data.name,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
        channel_ids=data.channels,
        announcing=blackouts.Announcing.from_config(current_app.config["CALENDAR"]),
    )
    return blackout_json(blackout), 201


@bp.get("/blackouts/<int:blackout_id>")
def show(blackout_id: int) -> dict[str, Any]:
    return blackout_json(blackouts.get_blackout(db_session(), blackout_id))


@bp.patch("/blackouts/<int:blackout_id>")
def edit(blackout_id: int) -> dict[str, Any]:
    session = db_session()
    blackout = blackouts.get_blackout(session, blackout_id)
    changes = parse(BlackoutUpdate).model_dump(exclude_unset=True)
    nulls = {k: "may not be null" for k in NOT_NULL if k in changes and changes[k] is None}
    if nulls:
        raise InvalidInput("fields may not be null: " + ", ".join(nulls), nulls)
    if "channels" in changes:
        changes["channel_ids"] = changes.pop("channels")
    return blackout_json(blackouts.edit_blackout(session, api_user(), blackout, changes))


@bp.delete("/blackouts/<int:blackout_id>")
def delete(blackout_id: int) -> tuple[str, int]:
    session = db_session()
    blackouts.delete_blackout(session, api_user(), blackouts.get_blackout(session, blackout_id))
    return "", 204
