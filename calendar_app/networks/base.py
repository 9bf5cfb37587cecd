"""The one interface every channel kind implements (publishers/ and networks/), and what the
publishers of networks share: signing in (`check`) and looking for a post on the network
(`find`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from calendar_app import outbound
from calendar_app.words import Text, _l

if TYPE_CHECKING:
    from calendar_app.outbound import OutboundPolicy

# The most of a network's answer that is read: a post or an error is a few kilobytes.
MAX_ANSWER_BYTES = 1024 * 1024
# A network's own message, as shown to planners, at most this long.
MAX_ERROR_CHARS = 500


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
REVOKED = _l("the token was revoked or lacks the write scope, reconnect the channel")
# Why a send did not go out, in words for the post page and the notices (the API keeps the
# English): shared by the webhook sender and the networks.
NOT_STARTED = _l("not started: its time had run out before it began")
THE_POST = _l("the post")


def said_of(exc: Exception) -> Text | str:
    """An exception's words, as a Text when it was raised with one."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, Text) else (str(exc) or type(exc).__name__)


def timed_out(budget: float) -> Text:
    return _l("timed out: no complete answer within %(seconds)s s", seconds=f"{budget:.3g}")


def connection_failed(exc: Exception) -> Text:
    return _l("connection failed: %(problem)s", problem=said_of(exc))


def answered_http(network: str, status: int, what: Text | None = None) -> Text:
    """`Mastodon answered HTTP 503 Service Unavailable` (`… to image 2` for a part of a post)."""
    if what is None:
        return _l(
            "%(network)s answered HTTP %(status)s",
            network=network,
            status=outbound.status_reason(status),
        )
    return _l(
        "%(network)s answered HTTP %(status)s to %(what)s",
        network=network,
        status=outbound.status_reason(status),
        what=what,
    )


def rate_limited(reason: Text) -> Text:
    return _l("%(reason)s (rate limit)", reason=reason)


def refused_with_words(network: str, what: Text, own: str) -> Text:
    """The network refused a part of a post and said why in its own words (not translated)."""
    return _l("%(network)s refused %(what)s: %(own)s", network=network, what=what, own=own)


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


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, or None

    @property
    def error(self) -> str | None:
        """The error's name in the body (XRPC: `ExpiredToken`, `RecordNotFound`, ...)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), str):
            return self.body["error"]
        return None

    @property
    def message(self) -> str | None:
        """The network's own words (`Record/text must not be longer than 300 graphemes`)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            text = " ".join(self.body["message"].split())
            return text[:MAX_ERROR_CHARS] or None
        return None


def ask(client: httpx.Client, method: str, url: str, *, deadline: float, **request: Any) -> Answer:
    """One request to a network, finished by `deadline` (a `time.monotonic()` value): the
    answer read up to MAX_ANSWER_BYTES and its JSON parsed. Transport problems (a refused
    destination, a timeout, a dropped connection) become NetworkError; a request whose time
    has run out is not started."""
    if time.monotonic() >= deadline:
        raise NetworkError(NOT_STARTED)
    budget = deadline - time.monotonic()
    try:
        with outbound.deadline(deadline), client.stream(method, url, **request) as response:
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw.extend(chunk)
                if len(raw) > MAX_ANSWER_BYTES:
                    break
    except outbound.RefusedDestination as exc:
        raise NetworkError(said_of(exc), final=True) from None
    except httpx.TimeoutException:
        raise NetworkError(timed_out(budget)) from None
    except httpx.TransportError as exc:
        raise NetworkError(connection_failed(exc)) from None
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Answer(response.status_code, response.headers, body)


def server_address_problem(value: Any, policy: OutboundPolicy | None, example: str) -> str | None:
    """What is wrong with a network server's address (`https://social.example`), or None."""
    if not isinstance(value, str) or not value.strip():
        return f"must be the server's URL, e.g. {example}"
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    if parts.path.strip("/") or parts.query or parts.fragment:
        return f"must be the server's address only, e.g. {example}"
    if policy is not None and (refusal := policy.check_host(parts.hostname)):
        return refusal
    return None
