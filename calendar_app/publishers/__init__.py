"""Publishers: one module per channel kind, behind the interface in networks/base.py.

A publisher sends one message and says how it went. It never touches the database: the dispatch
pass records the outcome under the claim's fencing token. Kinds that post to a network live in
calendar_app/networks/ (one module per network); outbox and webhook live here.
"""

from __future__ import annotations

from calendar_app.media import MediaLinks
from calendar_app.networks.base import NetworkPublisher
from calendar_app.networks.bluesky import BlueskyPublisher
from calendar_app.networks.mastodon import MastodonPublisher
from calendar_app.networks.secrets import ChannelSecrets
from calendar_app.outbound import OutboundPolicy
from calendar_app.publishers.base import Message, Outcome, Publisher
from calendar_app.publishers.outbox import OutboxPublisher
from calendar_app.publishers.webhook import WebhookPublisher
from config import Config

PUBLISHER_TYPES: dict[
    str,
    type[OutboxPublisher]
    | type[WebhookPublisher]
    | type[MastodonPublisher]
    | type[BlueskyPublisher],
] = {
    "outbox": OutboxPublisher,
    "webhook": WebhookPublisher,
    "mastodon": MastodonPublisher,
    "bluesky": BlueskyPublisher,
}
# Kinds that post to a network (networks/, base.NetworkPublisher): checked with `check`, and
# their unknown deliveries looked for with `find`.
NETWORK_TYPES: dict[str, type[MastodonPublisher] | type[BlueskyPublisher]] = {
    "mastodon": MastodonPublisher,
    "bluesky": BlueskyPublisher,
}
NETWORK_KINDS = tuple(NETWORK_TYPES)


def channel_secrets(config: Config) -> ChannelSecrets | None:
    """The channel secrets' keys of this config (None: no key configured)."""
    if not config.CHANNEL_SECRETS_KEY:
        return None
    return ChannelSecrets(config.CHANNEL_SECRETS_KEY)


def media_links(config: Config) -> MediaLinks | None:
    """Signs the links in a webhook to a post's images (None: no SECRET_KEY to sign with)."""
    if not config.SECRET_KEY:
        return None
    return MediaLinks(config.SECRET_KEY, config.BASE_URL, config.MEDIA_URL_TTL_SECONDS)


def build_publishers(config: Config) -> dict[str, Publisher]:
    policy = OutboundPolicy.from_config(config)
    secrets = channel_secrets(config)
    timeout = config.WEBHOOK_TIMEOUT_SECONDS
    return {
        "outbox": OutboxPublisher(),
        "webhook": WebhookPublisher(
            timeout=timeout, policy=policy, secrets=secrets, media_links=media_links(config)
        ),
        **{
            kind: network(timeout=timeout, policy=policy, secrets=secrets)
            for kind, network in NETWORK_TYPES.items()
        },
    }


def network_publisher(kind: str, config: Config) -> NetworkPublisher:
    """A publisher of one network kind, for a single check (close it afterwards)."""
    return NETWORK_TYPES[kind](
        timeout=config.WEBHOOK_TIMEOUT_SECONDS,
        policy=OutboundPolicy.from_config(config),
        secrets=ChannelSecrets.from_config(config),
    )


__all__ = [
    "NETWORK_KINDS",
    "NETWORK_TYPES",
    "PUBLISHER_TYPES",
    "Message",
    "NetworkPublisher",
    "Outcome",
    "Publisher",
    "build_publishers",
    "channel_secrets",
    "network_publisher",
]
