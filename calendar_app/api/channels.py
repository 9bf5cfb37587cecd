from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from calendar_app.api.auth import api_user
from calendar_app.api.schemas import ChannelCreate, ChannelUpdate, parse
from calendar_app.api.serialize import channel_health_json, channel_json
from calendar_app.channels import (
    check_connection,
    create_channel,
    get_channel,
    list_channels,
    update_channel,
)
from calendar_app.extensions import db_session
from calendar_app.graveyard import channel_health
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.permissions import require_may_manage_channels
from calendar_app.timeutil import now_utc

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
        outbound_policy=OutboundPolicy.from_config(current_app.config["CALENDAR"]),
        secrets=ChannelSecrets.from_config(current_app.config["CALENDAR"]),
    )
    return channel_json(channel), 201


@bp.get("/channels")
def index() -> dict[str, Any]:
    return {"items": [channel_json(c) for c in list_channels(db_session())]}


@bp.patch("/channels/<int:channel_id>")
def edit(channel_id: int) -> dict[str, Any]:
    session = db_session()
    require_may_manage_channels(api_user())
    channel = get_channel(session, channel_id)
    changes = parse(ChannelUpdate).model_dump(exclude_unset=True)
    return channel_json(update_channel(session, api_user(), channel, changes))


@bp.post("/channels/<int:channel_id>/check")
def check(channel_id: int) -> dict[str, Any]:
    """Sign in to the channel's network and name the account it posts as."""
    session = db_session()
    channel = get_channel(session, channel_id)
    result = check_connection(api_user(), channel, current_app.config["CALENDAR"])
    answer: dict[str, Any] = {"ok": result.ok}
    if result.account is not None:
        answer["account"] = result.account
    if result.error is not None:
        answer["error"] = result.error
    return answer


@bp.get("/channels/health")
def health() -> dict[str, Any]:
    """Every active channel with its graveyard problems (silent, nothing planned) and owners."""
    return {"items": [channel_health_json(h) for h in channel_health(db_session(), now_utc())]}
