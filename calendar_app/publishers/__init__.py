"""Publishers: one module per channel kind, behind the interface in base.py.

A publisher sends one message and says how it went. It never touches the database: the dispatch
pass records the outcome under the claim's fencing token.
"""

from __future__ import annotations

from calendar_app.outbound import OutboundPolicy
from calendar_app.publishers.base import Message, Outcome, Publisher
from calendar_app.publishers.outbox import OutboxPublisher
from calendar_app.publishers.webhook import WebhookPublisher
from config import Config

PUBLISHER_TYPES: dict[str, type[OutboxPublisher] | type[WebhookPublisher]] = {
    "outbox": OutboxPublisher,
    "webhook": WebhookPublisher,
}


def build_publishers(config: Config) -> dict[str, Publisher]:
    return {
        "outbox": OutboxPublisher(),
        "webhook": WebhookPublisher(
            timeout=config.WEBHOOK_TIMEOUT_SECONDS, policy=OutboundPolicy.from_config(config)
        ),
    }


__all__ = ["PUBLISHER_TYPES", "Message", "Outcome", "Publisher", "build_publishers"]
