"""Publishers: one module per channel kind, behind the interface in base.py.

A publisher sends one message and says how it went. It never touches the database: the dispatch
pass records the outcome under the claim's fencing token.
"""

from __future__ import annotations

from calendar_app.publishers.base import Message, Outcome, Publisher
from calendar_app.publishers.outbox import OutboxPublisher
from calendar_app.publishers.webhook import WebhookPublisher

PUBLISHER_TYPES: dict[str, type[OutboxPublisher] | type[WebhookPublisher]] = {
    "outbox": OutboxPublisher,
    "webhook": WebhookPublisher,
}


def build_publishers(*, webhook_timeout: float) -> dict[str, Publisher]:
    return {"outbox": OutboxPublisher(), "webhook": WebhookPublisher(timeout=webhook_timeout)}


__all__ = ["PUBLISHER_TYPES", "Message", "Outcome", "Publisher", "build_publishers"]
