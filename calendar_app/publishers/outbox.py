"""The embedded channel kind: the delivery is recorded in the database and shown on the outbox
page, so a new team sees the app work without any external account."""

from __future__ import annotations

from typing import Any

from calendar_app.outbound import OutboundPolicy
from calendar_app.publishers.base import Message, Outcome


class OutboxPublisher:
    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        return {}

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        return dict(config)

    def send(self, message: Message, config: dict[str, Any], *, deadline: float) -> Outcome:
        return Outcome.published()

    def close(self) -> None:
        pass
