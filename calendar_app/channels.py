"""Channels: where deliveries go (kind) and which rules the text obeys (network)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import audit
from calendar_app.channel_rules import NETWORKS
from calendar_app.errors import Conflict, InvalidInput
from calendar_app.models import Channel, User
from calendar_app.permissions import require_may_manage_channels
from calendar_app.publishers import PUBLISHER_TYPES


def create_channel(
    session: Session,
    actor: User,
    *,
    name: str,
    kind: str,
    network: str = "other",
    config: dict[str, Any] | None = None,
) -> Channel:
    require_may_manage_channels(actor)
    name = name.strip()
    config = config or {}
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = "must not be empty"
    if kind not in PUBLISHER_TYPES:
        problems["kind"] = f"must be one of {', '.join(PUBLISHER_TYPES)}"
    else:
        problems.update(PUBLISHER_TYPES[kind].check_config(config))
    if network not in NETWORKS:
        problems["network"] = f"must be one of {', '.join(NETWORKS)}"
    if problems:
        raise InvalidInput("the channel cannot be created", problems)
    if session.scalar(select(Channel.id).where(Channel.name == name)) is not None:
        raise Conflict(f"a channel named {name!r} exists already", {"name": "is taken"})
    channel = Channel(name=name, kind=kind, network=network, config=config)
    session.add(channel)
    session.flush()
    audit.record(session, actor, "create_channel", channel, kind=kind, network=network)
    return channel


def list_channels(session: Session) -> Sequence[Channel]:
    return session.scalars(select(Channel).order_by(Channel.name)).all()


def channels_by_ids(
    session: Session, ids: Sequence[int], *, field: str = "channels"
) -> list[Channel]:
    """The active channels with these ids, in the given order; unknown ids name the field."""
    if not ids:
        raise InvalidInput(f"{field} must name at least one channel", {field: "is empty"})
    found = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(ids)))}
    unknown = [str(i) for i in ids if i not in found or not found[i].active]
    if unknown:
        raise InvalidInput(
            f"unknown channel id(s): {', '.join(unknown)}",
            {field: f"unknown channel id(s): {', '.join(unknown)}"},
        )
    return [found[i] for i in dict.fromkeys(ids)]


def public_config(channel: Channel) -> dict[str, Any]:
    """The channel's settings without secrets."""
    return PUBLISHER_TYPES[channel.kind].public_config(channel.config)
