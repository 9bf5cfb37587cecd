"""People who leave and come back (the rules: calendar_app/people.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from calendar_app import people
from calendar_app.api.auth import api_user
from calendar_app.api.serialize import user_json
from calendar_app.departments import get_user
from calendar_app.extensions import db_session

bp = Blueprint("people", __name__)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int) -> dict[str, Any]:
    session = db_session()
    done = people.deactivate_user(session, api_user(), get_user(session, user_id))
    return {
        **user_json(done.person),
        "tokens_revoked": done.tokens_revoked,
        "channels_handed_on": [
            {
                "channel_id": h.channel.id,
                "was": h.was,
                "owner_id": h.channel.owner_id,
                "deputy_id": h.channel.deputy_id,
            }
            for h in done.handovers
        ],
    }


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int) -> dict[str, Any]:
    session = db_session()
    return user_json(people.reactivate_user(session, api_user(), get_user(session, user_id)))
