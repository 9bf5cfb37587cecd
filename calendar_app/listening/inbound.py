"""Items fed in at a webhook channel's signed inbound URL (`POST /api/v1/channels/<id>/inbound`):
a contact form, a review site, a chat tool the team already uses.

Signed as results are sent in (evaluation/inbound.py), with the headers of our outbound webhooks
plus a time: `X-Signature-Timestamp: <unix seconds>` and `X-Signature-SHA256: <hex HMAC-SHA256
with the channel's secret over "<timestamp>." followed by the raw body>`. The time is signed, so
a captured request cannot be played again later than `MAX_SKEW`; one played again within that
time stores nothing new, because items are stored once per channel and their `id`. The body is
checked before it is parsed: nothing unsigned reaches the JSON parser. An unknown channel answers
as an unsigned request does (401): the URL tells nothing about which channels exist.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from calendar_app.errors import RuleError
from calendar_app.listening import inbox
from calendar_app.listening.mastodon import Heard
from calendar_app.models import MAX_ID, Channel
from calendar_app.networks.secrets import ChannelSecrets, SecretUnreadable, is_sealed

SIGNATURE_HEADER = "X-Signature-SHA256"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
MAX_SKEW = timedelta(minutes=5)


class NotSigned(RuleError):
    """The request is not signed with the channel's secret, or its time is too far off."""

    status_code = 401


def sign(secret: str, timestamp: str, raw_body: bytes) -> str:
    return hmac.new(
        secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256
    ).hexdigest()


def inbound_channel(session: Session, channel_id: int) -> Channel:
    """An active webhook channel; anything else answers like a bad signature."""
    channel = session.get(Channel, channel_id) if 0 < channel_id <= MAX_ID else None
    if channel is None or channel.kind != "webhook" or not channel.active:
        raise NotSigned("not signed with the secret of an active webhook channel")
    return channel


def _secret(channel: Channel, secrets: ChannelSecrets | None) -> str:
    secret = str((channel.config or {}).get("secret") or "")
    try:
        if secrets is not None:
            secret = secrets.reveal(secret)
        elif is_sealed(secret):
            raise SecretUnreadable("no key to decrypt the channel's secret")
    except SecretUnreadable:
        raise NotSigned("the channel's secret cannot be read here; nothing was taken") from None
    if not secret:
        raise NotSigned("the channel has no secret")
    return secret


def check_signature(
    channel: Channel,
    raw_body: bytes,
    timestamp: str | None,
    given: str | None,
    secrets: ChannelSecrets | None,
    now: datetime,
) -> None:
    if not timestamp or not given:
        raise NotSigned(f"the request needs the headers {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    try:
        sent = datetime.fromtimestamp(int(timestamp.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise NotSigned(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    if abs(now - sent) > MAX_SKEW:
        minutes = int(MAX_SKEW.total_seconds() // 60)
        raise NotSigned(
            f"{TIMESTAMP_HEADER} is more than {minutes} minutes away from our clock: a request "
            "is taken only within that time of being signed"
        )
    expected = sign(_secret(channel, secrets), timestamp.strip(), raw_body)
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise NotSigned(f"{SIGNATURE_HEADER} does not match the body and time")


def receive(session: Session, channel: Channel, heard: list[Heard]) -> list[int]:
    """Store the items not stored yet (by their id); the new items' ids."""
    return inbox.store(session, channel.id, heard)
