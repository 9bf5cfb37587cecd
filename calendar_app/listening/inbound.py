"""Items fed in at a webhook channel's signed inbound URL (`POST /api/v1/channels/<id>/inbound`):
a contact form, a review site, a chat tool the team already uses.

The sender signs like we sign our outbound webhooks: `X-Signature-SHA256: <hex HMAC-SHA256 of
the raw body with the channel's secret>`. The body carries `sent_at` (ISO 8601 with an offset),
which the signature covers: a request more than `MAX_SKEW` away from our clock is refused, so
a captured request cannot be played again later; one played again within the window stores
nothing new, because items are stored once per channel and their `id`. The body is read and
checked before it is parsed: nothing unsigned reaches the JSON parser.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from calendar_app.errors import NotFound, RuleError
from calendar_app.listening import inbox
from calendar_app.listening.mastodon import Heard
from calendar_app.models import MAX_ID, Channel
from calendar_app.networks.secrets import ChannelSecrets, SecretUnreadable, is_sealed

SIGNATURE_HEADER = "X-Signature-SHA256"
MAX_SKEW = timedelta(minutes=5)
MAX_ITEMS = 500


class NotSigned(RuleError):
    """The request is not signed with the channel's secret, or too old to be taken."""

    status_code = 401


def signature(secret: str, raw_body: bytes) -> str:
    """The same signature as our outbound webhooks (publishers/webhook.py)."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def inbound_channel(session: Session, channel_id: int) -> Channel:
    """An active webhook channel (404 for anything else: the URL tells nothing more)."""
    channel = session.get(Channel, channel_id) if 0 < channel_id <= MAX_ID else None
    if channel is None or channel.kind != "webhook" or not channel.active:
        raise NotFound(f"no webhook channel {channel_id} takes items")
    return channel


def check_signature(
    channel: Channel, raw_body: bytes, given: str | None, secrets: ChannelSecrets | None
) -> None:
    secret = str(channel.config.get("secret") or "")
    try:
        if secrets is not None:
            secret = secrets.reveal(secret)
        elif is_sealed(secret):
            raise SecretUnreadable("no key to decrypt the channel's secret")
    except SecretUnreadable:
        raise NotSigned("the channel's secret cannot be read here; nothing was taken") from None
    if not secret or not given:
        raise NotSigned(f"the request needs the header {SIGNATURE_HEADER}")
    if not hmac.compare_digest(signature(secret, raw_body), given.strip().lower()):
        raise NotSigned(
            f"{SIGNATURE_HEADER} does not match the body signed with the channel's secret"
        )


def check_fresh(sent_at: datetime, now: datetime) -> None:
    if abs(now - sent_at) > MAX_SKEW:
        minutes = int(MAX_SKEW.total_seconds() // 60)
        raise NotSigned(
            f"sent_at is more than {minutes} minutes away from our clock: a request is taken "
            "only once it is signed and sent within that time",
        )


def receive(session: Session, channel: Channel, heard: list[Heard]) -> list[int]:
    """Store the items not stored yet (by their id); the new items' ids."""
    return inbox.store(session, channel.id, heard)
