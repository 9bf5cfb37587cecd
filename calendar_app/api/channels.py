from __future__ import annotations

from typing import Any

from flask import Blueprint

from calendar_app.api.auth import api_user
from calendar_app.api.schemas import ChannelCreate, parse
from calendar_app.api.serialize import channel_json
from calendar_app.channels import create_channel, list_channels
from calendar_app.extensions import db_session

bp = Blueprint("channels", __name__)


@bp.post("/channels")
def create() -> tuple[dict[str, Any], int]:
    data = parse(ChannelCreate)
    channel = create_channel(
        db_session(),
        api_user(),
        name=data.name,
        kind=data.kind,
        network=data.network,
        config=data.config,
    )
    return channel_json(channel), 201


@bp.get("/channels")
def index() -> dict[str, Any]:
    return {"items": [channel_json(c) for c in list_channels(db_session())]}
