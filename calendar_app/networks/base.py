"""The one interface every channel kind implements (publishers/ and networks/), and what the
publishers of networks share: signing in (`check`) and looking for a post on the network
(`find`)."""

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


# A network refused our credentials: only a person can fix it (the channel's owner and deputy).
REVOKED = "the token was revoked or lacks the write scope, reconnect the channel"


class NetworkError(Exception):
    """A request to the network did not give an answer we can use.

    `final`: asking again will not help (refused destination, revoked token, bad answer);
    `tell_owners`: only the channel's owner and deputy can fix it (base.REVOKED);
    `retry_after`: the network asked us to wait this many seconds."""

    def __init__(
        self,
        reason: str,
        *,
        final: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        tell_owners: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final or tell_owners
        self.status = status
        self.retry_after = retry_after
        self.tell_owners = tell_owners


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    account: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FoundPost:
    """A delivery's post, found on the network."""

    remote_id: str
    url: str | None
    published_at: datetime | None = None


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


class NetworkPublisher(Publisher, Protocol):
    """A publisher that posts to a network account (the channel kinds in NETWORK_KINDS)."""

    def check(self, config: dict[str, Any]) -> CheckResult:
        """Sign in and name the account this channel posts as (`@handle`)."""
        ...

    def find(
        self, config: dict[str, Any], message: Message, started_at: datetime
    ) -> FoundPost | None:
        """The post a send of `message` that started at `started_at` made on the network, or
        None when there is none. Raises NetworkError when it cannot tell (`final`: asking again
        will not help either)."""
        ...
