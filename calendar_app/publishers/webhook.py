"""Kind `webhook`: an HTTP POST of the post as JSON, signed with the channel's secret.

Headers: `Idempotency-Key: <delivery id>` (a receiver can drop a repeat) and
`X-Signature-SHA256: <hex HMAC-SHA256 of the raw body>`. Any 2xx is success; connection errors,
timeouts, 429 and 5xx are worth another try; any other answer is final. Only the status code and
its standard phrase are kept from an error answer, never its body: planners read the reason, and
a receiver's body is the receiver's, not ours to show (nor a way to read an internal service).

The post's images travel as links, `"media": [{"url", "alt", "mime_type"}]`: each URL is signed
with the app's secret and expires after MEDIA_URL_TTL_SECONDS, so the receiver fetches the image
without signing in (media.MediaLinks), and nobody can after that. A link names the delivery too:
it serves the image as the channel's network takes it (media.fitted_file).

Where a webhook may point and how long it may take is `calendar_app.outbound`'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from calendar_app import outbound
from calendar_app.media import MediaLinks
from calendar_app.networks.base import NOT_STARTED, connection_failed, said_of, timed_out
from calendar_app.networks.secrets import (
    ChannelSecrets,
    SecretUnreadable,
    is_sealed,
    without_secrets,
)
from calendar_app.outbound import OutboundPolicy, retry_after_seconds, status_reason
from calendar_app.publishers.base import Message, Outcome
from calendar_app.timeutil import iso_utc
from calendar_app.words import _l

USER_AGENT = "calendar_app-webhook/1"
# What is read of an answer's body (and thrown away) so the connection can be reused; a longer
# body closes the connection instead.
DRAIN_LIMIT_BYTES = 64 * 1024


def signature(secret: str, raw_body: bytes) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def _drain(response: httpx.Response) -> None:
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > DRAIN_LIMIT_BYTES:
            break


class WebhookPublisher:
    def __init__(
        self,
        timeout: float = 10.0,
        policy: OutboundPolicy | None = None,
        secrets: ChannelSecrets | None = None,
        media_links: MediaLinks | None = None,
    ) -> None:
        self.timeout = timeout
        # Signs the links to the post's images (None: a post's images cannot be sent).
        self.media_links = media_links
        self.policy = policy or OutboundPolicy()
        # Decrypts the channel's stored secret just before signing (None: stored in plain).
        self.secrets = secrets
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        problems: dict[str, str] = {}
        url = config.get("url")
        if not isinstance(url, str) or not url.strip():
            problems["config.url"] = _l("is required for a webhook channel")
        else:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems["config.url"] = _l("must be an http:// or https:// URL")
            elif policy is not None and (refusal := policy.check_host(parts.hostname)):
                problems["config.url"] = refusal
        secret = config.get("secret")
        if not isinstance(secret, str) or not secret:
            problems["config.secret"] = _l(
                "is required for a webhook channel (signs every request)"
            )
        return problems

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        return without_secrets("webhook", config)

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = outbound.make_client(
                    self.policy, user_agent=USER_AGENT, timeout=self.timeout
                )
            return self._client

    def _secret(self, config: dict[str, Any]) -> str:
        secret = str(config["secret"])
        if self.secrets is not None:
            return self.secrets.reveal(secret)
        if is_sealed(secret):
            raise SecretUnreadable(_l("no CHANNEL_SECRETS_KEY to decrypt the channel's secret"))
        return secret

    def _media(self, message: Message) -> list[dict[str, str]]:
        if message.media and self.media_links is None:
            raise SecretUnreadable(_l("no SECRET_KEY to sign the links to the post's images"))
        # A stored image's file is named by its SHA-256 (media.stored_path): the link names it.
        return [
            {
                "url": self.media_links.url(image.path.name, message.delivery_id),
                "alt": image.alt,
                "mime_type": image.mime_type,
            }
            for image in message.media
            if self.media_links is not None
        ]

    def send(self, message: Message, config: dict[str, Any], *, deadline: float) -> Outcome:
        if time.monotonic() >= deadline:
            return Outcome.retry(NOT_STARTED)
        try:
            images = self._media(message)
        except SecretUnreadable as exc:
            return Outcome.failed(said_of(exc))
        raw = json.dumps(
            {
                "post_id": message.post_id,
                "delivery_id": message.delivery_id,
                "channel_id": message.channel_id,
                "title": message.title,
                "body": message.body,
                "publish_at": iso_utc(message.publish_at),
                "media": images,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        try:
            secret = self._secret(config)
        except SecretUnreadable as exc:
            return Outcome.failed(said_of(exc))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": str(message.delivery_id),
            "X-Signature-SHA256": signature(secret, raw),
        }
        budget = deadline - time.monotonic()
        try:
            with (
                outbound.deadline(deadline),
                self.client.stream("POST", config["url"], content=raw, headers=headers) as response,
            ):
                _drain(response)
        except outbound.RefusedDestination as exc:
            return Outcome.failed(said_of(exc))
        except httpx.TimeoutException:
            return Outcome.retry(timed_out(budget))
        except httpx.TransportError as exc:
            return Outcome.retry(connection_failed(exc))
        status = response.status_code
        if 200 <= status < 300:
            return Outcome.published()
        reason = _l("receiver answered HTTP %(status)s", status=status_reason(status))
        if status == 429 or status >= 500:
            return Outcome.retry(reason, retry_after_seconds(response.headers.get("Retry-After")))
        return Outcome.failed(reason)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
