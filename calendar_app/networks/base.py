"""The one interface every channel kind implements (publishers/ and networks/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from calendar_app.outbound import OutboundPolicy


@dataclass(frozen=True)
class MediaFile:
    """An image attached to a post, as stored (calendar_app/media.py scales it per network)."""

    path: Path
    mime_type: str
    alt: str
    width: int
    height: int
    size: int  # bytes


@dataclass(frozen=True)
class Message:
    post_id: int
    delivery_id: int
    channel_id: int
    title: str
    body: str
    publish_at: datetime
    # When the post was written: with the delivery id it makes a network's record key that a
    # repeated attempt finds again (Bluesky), and that another installation would not make.
    post_created_at: datetime | None = None
    media: tuple[MediaFile, ...] = ()
    # A reply from the inbox: the network id of the status it answers (the thread is kept).
    in_reply_to: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: Literal["published", "retry", "failed"]
    detail: str | None = None
    # For "retry": the receiver asked us to wait this many seconds (HTTP Retry-After).
    retry_after: float | None = None
    # For "published" on a network: the post's id there and where people see it.
    remote_id: str | None = None
    url: str | None = None
    # For "failed": only the channel's owner and deputy can fix it (a revoked token).
    tell_owners: bool = False

    @classmethod
    def published(cls, remote_id: str | None = None, url: str | None = None) -> Outcome:
        return cls("published", remote_id=remote_id, url=url)

    @classmethod
    def retry(cls, reason: str, retry_after: float | None = None) -> Outcome:
        return cls("retry", reason, retry_after)

    @classmethod
    def failed(cls, reason: str, *, tell_owners: bool = False) -> Outcome:
        return cls("failed", reason, tell_owners=tell_owners)


class Publisher(Protocol):
    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        """Problems with a channel's `config`, keyed by field (`config.url`). With a policy,
        also a destination it refuses outright (an IP address the app may not reach)."""
        ...

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        """The config as the API may show it: secrets left out."""
        ...

    def send(self, message: Message, config: dict[str, Any], *, deadline: float) -> Outcome:
        """Send once, finished by `deadline` (a `time.monotonic()` value). Never raises for a
        channel's own failure: returns retry or failed. Past the deadline nothing is started
        (retry, saying so), and a request still under way at the deadline is cut off."""
        ...

    def close(self) -> None: ...
