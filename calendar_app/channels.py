"""Channels: where deliveries go (kind) and which rules the text obeys (network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import audit
from calendar_app.channel_rules import NETWORKS
from calendar_app.errors import Conflict, InvalidInput, NotFound, listed
from calendar_app.models import MAX_ID, Channel, Role, User
from calendar_app.networks.base import CheckResult
from calendar_app.networks.secrets import SECRET_FIELDS, ChannelSecrets, is_sealed
from calendar_app.notifications import notify
from calendar_app.outbound import OutboundPolicy
from calendar_app.permissions import require_may_manage_channels
from calendar_app.publishers import NETWORK_KINDS, PUBLISHER_TYPES, network_publisher
from calendar_app.words import _l
from config import Config


def create_channel(
    session: Session,
    actor: User,
    *,
    name: str,
    kind: str,
    network: str = "other",
    config: dict[str, Any] | None = None,
    outbound_policy: OutboundPolicy | None = None,
    secrets: ChannelSecrets | None = None,
) -> Channel:
    """`outbound_policy`: refuse a destination it would refuse when sending, with a clear 422
    now (None: the check happens only when sending, as it always does). `secrets`: encrypt
    the config's secret fields with them (the app always passes them; None stores them as
    given, for tests and tools that build channels directly)."""
    require_may_manage_channels(actor)
    name = name.strip()
    config = config or {}
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = _l("must not be empty")
    if kind not in PUBLISHER_TYPES:
        problems["kind"] = _l(
            "must be one of %(publisher_types)s",
            publisher_types=", ".join(PUBLISHER_TYPES),
        )
    else:
        problems.update(PUBLISHER_TYPES[kind].check_config(config, outbound_policy))
    if network not in NETWORKS:
        problems["network"] = _l("must be one of %(networks)s", networks=", ".join(NETWORKS))
    if problems:
        raise InvalidInput(_l("the channel cannot be created"), problems)
    if session.scalar(select(Channel.id).where(Channel.name == name)) is not None:
        raise Conflict(
            _l("a channel named %(name)r exists already", name=name), {"name": _l("is taken")}
        )
    if secrets is not None:
        config = secrets.seal_config(kind, config)
    channel = Channel(name=name, kind=kind, network=network, config=config)
    session.add(channel)
    session.flush()
    audit.record(session, actor, "create_channel", channel, kind=kind, network=network)
    return channel


# Graveyard settings an admin may choose (days).
MIN_DAYS, MAX_DAYS = 1, 365
CHANNEL_SETTINGS = ("owner_id", "deputy_id", "silent_after_days", "plan_ahead_days")


def get_channel(session: Session, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id) if 0 < channel_id <= MAX_ID else None
    if channel is None:
        raise NotFound(_l("channel %(channel_id)s does not exist", channel_id=channel_id))
    return channel


def ownership_complete(channel: Channel) -> bool:
    """Someone answers for the channel and someone stands in: two different active people."""
    owner, deputy = channel.owner, channel.deputy
    return (
        owner is not None
        and deputy is not None
        and owner.id != deputy.id
        and owner.active
        and deputy.active
    )


def _person(
    session: Session, user_id: int | None, field: str, problems: dict[str, str]
) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        problems[field] = _l("unknown user id %(user_id)s", user_id=user_id)
    elif not user.active:
        problems[field] = _l("user %(user)s is deactivated", user=user.email)
    return user


def update_channel(
    session: Session, actor: User, channel: Channel, changes: dict[str, Any]
) -> Channel:
    """Change who owns and deputises a channel and when its graveyard alerts fire.

    `changes` holds only what changes; `owner_id`/`deputy_id` None removes that person.
    """
    require_may_manage_channels(actor)
    problems: dict[str, str] = {}
    owner = (
        _person(session, changes["owner_id"], "owner_id", problems)
        if "owner_id" in changes
        else channel.owner
    )
    deputy = (
        _person(session, changes["deputy_id"], "deputy_id", problems)
        if "deputy_id" in changes
        else channel.deputy
    )
    if owner is not None and deputy is not None and owner.id == deputy.id and not problems:
        problems["deputy_id"] = _l("must be someone other than the owner")
    for field in ("silent_after_days", "plan_ahead_days"):
        if field in changes:
            value = changes[field]
            if not isinstance(value, int) or not MIN_DAYS <= value <= MAX_DAYS:
                problems[field] = _l(
                    "must be a whole number of days from %(min_days)s to %(max_days)s",
                    min_days=MIN_DAYS,
                    max_days=MAX_DAYS,
                )
    if problems:
        raise InvalidInput(
            _l(
                "channel %(channel)r cannot be changed: %(problems)s",
                channel=channel.name,
                problems=listed(problems),
            ),
            problems,
        )
    before = {f: getattr(channel, f) for f in CHANNEL_SETTINGS}
    channel.owner, channel.deputy = owner, deputy
    for field in ("silent_after_days", "plan_ahead_days"):
        if field in changes:
            setattr(channel, field, changes[field])
    session.flush()
    after = {f: getattr(channel, f) for f in CHANNEL_SETTINGS}
    changed = {f: [before[f], after[f]] for f in CHANNEL_SETTINGS if before[f] != after[f]}
    if changed:
        audit.record(session, actor, "update_channel", channel, **changed)
    return channel


def list_channels(session: Session) -> Sequence[Channel]:
    return session.scalars(select(Channel).order_by(Channel.name)).all()


def channels_by_ids(
    session: Session, ids: Sequence[int], *, field: str = "channels"
) -> list[Channel]:
    """The active channels with these ids, in the given order; unknown ids name the field."""
    if not ids:
        raise InvalidInput(
            _l("%(field)s must name at least one channel", field=field), {field: _l("is empty")}
        )
    found = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(ids)))}
    unknown = [str(i) for i in ids if i not in found or not found[i].active]
    if unknown:
        raise InvalidInput(
            _l("unknown channel id(s): %(unknown)s", unknown=", ".join(unknown)),
            {field: _l("unknown channel id(s): %(unknown)s", unknown=", ".join(unknown))},
        )
    return [found[i] for i in dict.fromkeys(ids)]


def public_config(channel: Channel) -> dict[str, Any]:
    """The channel's settings without secrets."""
    return PUBLISHER_TYPES[channel.kind].public_config(channel.config)


@dataclass(frozen=True)
class Handover:
    """What became of one channel when a person left it."""

    channel: Channel
    was: str  # "owner" or "deputy"
    new_owner: User | None  # the deputy who took over, when the owner left


def hand_on_channels(session: Session, actor: User | None, leaving: User) -> list[Handover]:
    """The channels `leaving` owns or stands in for, handed on: an active deputy takes over from
    an owner who leaves; the place left empty (the deputy's, or the owner's when nobody could
    take over) makes the channel incomplete, so it is flagged on the channel pages and the
    dashboard until an admin names someone. Audited per channel."""
    handovers = []
    held = session.scalars(
        select(Channel)
        .where((Channel.owner_id == leaving.id) | (Channel.deputy_id == leaving.id))
        .order_by(Channel.name)
    ).all()
    for channel in held:
        before = {f: getattr(channel, f) for f in ("owner_id", "deputy_id")}
        new_owner = None
        if channel.owner_id == leaving.id:
            deputy = channel.deputy
            if deputy is not None and deputy.active and deputy.id != leaving.id:
                new_owner = deputy
            channel.owner, channel.deputy = new_owner, None
            was = "owner"
        else:
            channel.deputy = None
            was = "deputy"
        session.flush()
        after = {f: getattr(channel, f) for f in ("owner_id", "deputy_id")}
        audit.record(
            session, actor, "update_channel", channel, reason=f"{leaving.email} was deactivated",
            **{f: [before[f], after[f]] for f in before if before[f] != after[f]},
        )  # fmt: skip
        handovers.append(Handover(channel, was, new_owner))
    return handovers


def check_connection(actor: User, channel: Channel, config: Config) -> CheckResult:
    """Sign in to the channel's network and name the account it posts as (admins)."""
    require_may_manage_channels(actor)
    if channel.kind not in NETWORK_KINDS:
        raise InvalidInput(
            _l("a %(kind)s channel has no network account to check", kind=channel.kind),
            {
                "kind": _l(
                    "must be one of %(network_kinds)s to check a connection",
                    network_kinds=", ".join(NETWORK_KINDS),
                )
            },
        )
    publisher = network_publisher(channel.kind, config)
    try:
        return publisher.check(channel.config)
    finally:
        publisher.close()


def tell_channel_keepers(session: Session, channel_id: int, post_id: int, reason: str) -> None:
    """Tell the channel's owner and deputy that only they can make it work again (a network
    token revoked or without the write scope); the admins when nobody answers for it."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        return
    keepers = [p for p in (channel.owner, channel.deputy) if p is not None and p.active]
    if not keepers:
        keepers = list(
            session.scalars(select(User).where(User.role == Role.ADMIN, User.active)).all()
        )
    notify(
        session,
        keepers,
        kind="channel_reconnect",
        subject=_l("Channel %(channel)s: reconnect it", channel=channel.name),
        text=_l(
            "A post could not be published on %(channel)s: %(reason)s. Until the channel is "
            "reconnected with a new access token or app password (an admin adds it again with "
            "one), every post for it fails.",
            channel=channel.name,
            reason=reason,
        ),
        link=f"/posts/{post_id}",
    )


def stored_in_plain(session: Session) -> int:
    """How many channels keep a secret unencrypted (stored before encryption existed)."""
    return sum(
        1
        for channel in session.scalars(select(Channel).where(Channel.kind.in_(SECRET_FIELDS)))
        if _plain_fields(channel)
    )


def _plain_fields(channel: Channel) -> list[str]:
    return [
        name
        for name in SECRET_FIELDS.get(channel.kind, ())
        if isinstance(channel.config.get(name), str)
        and channel.config[name]
        and not is_sealed(channel.config[name])
    ]


def encrypt_channel_secrets(
    session: Session, secrets: ChannelSecrets, *, rotate: bool = True
) -> int:
    """Encrypt every channel's secrets with the newest key: re-encrypt what an older key
    encrypted (`rotate`), and encrypt what is still stored in plain text. Returns how many
    channels changed. Rows are locked, so two runs at once do each channel once."""
    changed = 0
    channels = session.scalars(
        select(Channel)
        .where(Channel.kind.in_(SECRET_FIELDS))
        .order_by(Channel.id)
        .with_for_update()
    ).all()
    for channel in channels:
        if rotate:
            config = secrets.rotate_config(channel.kind, channel.config)
        elif _plain_fields(channel):
            config = secrets.seal_config(channel.kind, channel.config)
        else:
            continue
        if config != channel.config:
            channel.config = config
            changed += 1
    session.flush()
    return changed
