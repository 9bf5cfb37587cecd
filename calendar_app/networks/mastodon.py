"""Mastodon: channel kind `mastodon`, config `{"base_url": "https://social.example",
"access_token": "..."}` (the token is stored encrypted: networks/secrets.py).

Publish: `POST /api/v1/statuses` with `Idempotency-Key: <delivery id>` (the server answers a
repeat with the status it made the first time, for about an hour), the delivery's text, public.
Answers map onto our outcomes: 2xx published (its id and URL kept); 429 retried at the time
`X-RateLimit-Reset` names; 5xx, timeouts and connection errors retried; 401/403 failed (a revoked
token or a missing write scope: only a person can fix it, so the channel's owner and deputy are
told); 422 failed with Mastodon's own message; anything else failed with the status.

Images go first: each is fitted to the server's announced limits (`GET /api/v2/instance`,
`configuration.media_attachments`; Mastodon's defaults when it says nothing) and uploaded with
`POST /api/v2/media` (`description` = its alt text). A large file is processed after the answer
(202): its attachment is asked for (`GET /api/v1/media/<id>`) until it has a URL, within the
send's deadline. The status then names the attachments (`media_ids`). Upload answers map onto
outcomes as the status's do.

Check: `GET /api/v1/accounts/verify_credentials` names the account. Find: a delivery whose
sender died mid-send (`unknown`) is looked for among the account's own statuses (the same text,
made after the send started), because Mastodon cannot be asked by Idempotency-Key.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from calendar_app import media, outbound
from calendar_app.channel_rules import rules_for
from calendar_app.networks.base import (
    MAX_ERROR_CHARS,
    REVOKED,
    THE_POST,
    Answer,
    CheckResult,
    FoundPost,
    MediaFile,
    Message,
    NetworkError,
    Outcome,
    answered_http,
    ask,
    rate_limited,
    refused_with_words,
    said_of,
    server_address_problem,
)
from calendar_app.networks.secrets import (
    ChannelSecrets,
    SecretUnreadable,
    is_sealed,
    without_secrets,
)
from calendar_app.outbound import OutboundPolicy, retry_after_seconds
from calendar_app.words import Text, _l

USER_AGENT = "calendar_app-mastodon/1"
# An error message of the network's, as shown to planners, at most this long.
# The network's clock and ours may differ a little: a status made this long before the send
# started still counts as the one the send made.
CLOCK_SKEW = timedelta(seconds=60)
# How many of the account's newest statuses a search for an unknown delivery reads at most.
SEARCH_PAGES, PAGE_SIZE = 5, 40
# How often an image still being processed is asked for, and how long the server's announced
# media limits are trusted.
MEDIA_POLL_SECONDS = 0.25
INSTANCE_LIMITS_SECONDS = 3600.0


def announced_limits(instance: dict[str, Any], defaults: media.ImageLimits) -> media.ImageLimits:
    """The image limits a server announces in `GET /api/v2/instance`."""
    configuration = instance.get("configuration")
    attachments = configuration.get("media_attachments") if isinstance(configuration, dict) else {}
    if not isinstance(attachments, dict):
        return defaults
    size = attachments.get("image_size_limit")
    matrix = attachments.get("image_matrix_limit")
    types = attachments.get("supported_mime_types")
    ours = tuple(t for t in defaults.types if isinstance(types, list) and t in types)
    return media.ImageLimits(
        max_bytes=size if isinstance(size, int) and size > 0 else defaults.max_bytes,
        max_side=defaults.max_side,
        max_pixels=matrix if isinstance(matrix, int) and matrix > 0 else defaults.max_pixels,
        types=ours or defaults.types,
    )


def refused(answer: Answer, what: Text) -> Outcome:
    """An answer that is not a success, as an outcome: 429 and 5xx are tried again, 401/403
    mean a revoked token, 422 carries Mastodon's own words."""
    status = answer.status
    reason = answered_http("Mastodon", status, None if what == THE_POST else what)
    if status == 429:
        return Outcome.retry(rate_limited(reason), rate_limit_wait(answer.headers))
    if status >= 500:
        return Outcome.retry(reason, retry_after_seconds(answer.headers.get("Retry-After")))
    if status in (401, 403):
        return Outcome.failed(REVOKED, tell_owners=True)
    if status == 422:
        own = error_message(answer.body)
        return Outcome.failed(refused_with_words("Mastodon", what, own) if own else reason)
    return Outcome.failed(reason)


class NotSent(Exception):
    """The post cannot go out (an image was refused): this outcome says why."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as Mastodon writes it (`2026-12-01T10:00:00.000Z`), or epoch seconds."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rate_limit_wait(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds until the rate limit resets (X-RateLimit-Reset), else Retry-After, else None."""
    reset = parse_time(headers.get("X-RateLimit-Reset"))
    if reset is not None:
        return max(0.0, (reset - (now or datetime.now(UTC))).total_seconds())
    return retry_after_seconds(headers.get("Retry-After"))


def error_message(body: Any) -> str | None:
    """Mastodon's own words from an error answer (`{"error": "Validation failed: ..."}`)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        text = " ".join(body["error"].split())
        return text[:MAX_ERROR_CHARS] or None
    return None


def base_url(config: dict[str, Any]) -> str:
    return str(config["base_url"]).strip().rstrip("/")


def account_name(config: dict[str, Any], acct: str) -> str:
    """`@user@host`: Mastodon's `acct` of a local account has no host, ours names it."""
    if "@" in acct:
        return f"@{acct}"
    return f"@{acct}@{urlsplit(base_url(config)).netloc}"


def _status_body(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"status": message.body, "visibility": "public"}
    if message.in_reply_to:
        body["in_reply_to_id"] = message.in_reply_to  # a reply from the inbox keeps its thread
    return body


class MastodonPublisher:
    def __init__(
        self,
        timeout: float = 10.0,
        policy: OutboundPolicy | None = None,
        secrets: ChannelSecrets | None = None,
    ) -> None:
        self.timeout = timeout
        self.policy = policy or OutboundPolicy()
        self.secrets = secrets
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        # base_url -> (time.monotonic() when read, the server's image limits)
        self._limits: dict[str, tuple[float, media.ImageLimits]] = {}

    # --- the channel's settings ---------------------------------------------------------------

    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        problems: dict[str, str] = {}
        url = config.get("base_url")
        if not isinstance(url, str) or not url.strip():
            problems["config.base_url"] = _l(
                "is required for a Mastodon channel (the server's URL)"
            )
        elif problem := server_address_problem(url, policy, "https://social.example"):
            problems["config.base_url"] = problem
        token = config.get("access_token")
        if not isinstance(token, str) or not token.strip():
            problems["config.access_token"] = _l("is required for a Mastodon channel")
        elif len(token) > 500:
            problems["config.access_token"] = _l("must be at most 500 characters")
        unknown = set(config) - {"base_url", "access_token"}
        if unknown:
            problems["config"] = _l("unknown field(s): %(items)s", items=", ".join(sorted(unknown)))
        return problems

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        return without_secrets("mastodon", config)

    # --- requests -----------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = outbound.make_client(
                    self.policy, user_agent=USER_AGENT, timeout=self.timeout
                )
            return self._client

    def _token(self, config: dict[str, Any]) -> str:
        token = str(config["access_token"])
        if self.secrets is None:
            if is_sealed(token):
                raise SecretUnreadable(_l("no CHANNEL_SECRETS_KEY to decrypt the channel's token"))
            return token
        return self.secrets.reveal(token)

    def _call(
        self,
        method: str,
        config: dict[str, Any],
        path: str,
        *,
        deadline: float,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        data: dict[str, str] | None = None,
    ) -> Answer:
        """One request with the channel's token, finished by `deadline` (networks/base.ask)."""
        try:
            token = self._token(config)
        except SecretUnreadable as exc:
            raise NetworkError(said_of(exc), final=True) from None
        return ask(
            self.client, method, base_url(config) + path, deadline=deadline,
            json=json_body, params=params, files=files, data=data,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )  # fmt: skip

    # --- publish ------------------------------------------------------------------------------

    def send(self, message: Message, config: dict[str, Any], *, deadline: float) -> Outcome:
        status_body = _status_body(message)
        try:
            if message.media:
                status_body["media_ids"] = self._upload_images(message.media, config, deadline)
            answer = self._call(
                "POST",
                config,
                "/api/v1/statuses",
                deadline=deadline,
                json_body=status_body,
                headers={"Idempotency-Key": str(message.delivery_id)},
            )
        except NotSent as exc:
            return exc.outcome
        except NetworkError as exc:
            return Outcome.failed(exc.reason) if exc.final else Outcome.retry(exc.reason)
        if 200 <= answer.status < 300:
            body = answer.body if isinstance(answer.body, dict) else {}
            remote_id = body.get("id")
            url = body.get("url") or body.get("uri")
            return Outcome.published(
                str(remote_id) if remote_id is not None else None,
                str(url) if isinstance(url, str) else None,
            )
        return refused(answer, THE_POST)

    # --- images -------------------------------------------------------------------------------

    def image_limits(self, config: dict[str, Any], deadline: float) -> media.ImageLimits:
        """What the server announces it takes (`configuration.media_attachments`), else
        Mastodon's defaults (channel_rules.py); read once an hour per server."""
        key = base_url(config)
        now = time.monotonic()
        with self._lock:
            known = self._limits.get(key)
        if known is not None and now - known[0] < INSTANCE_LIMITS_SECONDS:
            return known[1]
        defaults = media.ImageLimits.of(rules_for("mastodon"))
        limits = defaults
        try:
            answer = self._call("GET", config, "/api/v2/instance", deadline=deadline)
        except NetworkError:
            return defaults
        if answer.status == 200 and isinstance(answer.body, dict):
            limits = announced_limits(answer.body, defaults)
        with self._lock:
            self._limits[key] = (now, limits)
        return limits

    def _upload_images(
        self, images: tuple[MediaFile, ...], config: dict[str, Any], deadline: float
    ) -> list[str]:
        limits = self.image_limits(config, deadline)
        ids = []
        for position, image in enumerate(images, start=1):
            try:
                fitted = media.fit_within(image, limits)
            except (media.MediaProblem, OSError) as exc:
                raise NotSent(
                    Outcome.failed(
                        _l(
                            "image %(position)s %(problem)s",
                            position=position,
                            problem=said_of(exc),
                        )
                    )
                ) from None
            name = f"image-{position}.{media.EXTENSIONS.get(fitted.mime_type, 'bin')}"
            answer = self._call(
                "POST",
                config,
                "/api/v2/media",
                deadline=deadline,
                files={"file": (name, fitted.data, fitted.mime_type)},
                data={"description": image.alt},
            )
            if answer.status not in (200, 202) or not isinstance(answer.body, dict):
                raise NotSent(refused(answer, _l("image %(position)s", position=position)))
            attachment = answer.body
            if not attachment.get("url"):
                attachment = self._processed(config, str(attachment.get("id")), deadline)
            ids.append(str(attachment["id"]))
        return ids

    def _processed(self, config: dict[str, Any], media_id: str, deadline: float) -> dict:
        """The attachment once the server has processed it (it then has a URL)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= MEDIA_POLL_SECONDS:
                raise NetworkError(_l("an image was still being processed by the server"))
            time.sleep(MEDIA_POLL_SECONDS)
            answer = self._call("GET", config, f"/api/v1/media/{media_id}", deadline=deadline)
            if answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("url"):
                return answer.body
            if answer.status not in (200, 206):
                raise NotSent(refused(answer, _l("an image")))

    # --- check --------------------------------------------------------------------------------

    def _account(self, config: dict[str, Any], deadline: float) -> dict[str, Any]:
        answer = self._call("GET", config, "/api/v1/accounts/verify_credentials", deadline=deadline)
        if answer.status in (401, 403):
            raise NetworkError(REVOKED, final=True, status=answer.status)
        if answer.status != 200 or not isinstance(answer.body, dict) or "id" not in answer.body:
            raise NetworkError(
                answered_http("Mastodon", answer.status),
                final=400 <= answer.status < 500,
                status=answer.status,
            )
        return answer.body

    def check(self, config: dict[str, Any]) -> CheckResult:
        """Sign in and name the account this channel posts as."""
        try:
            account = self._account(config, time.monotonic() + self.timeout)
        except NetworkError as exc:
            return CheckResult(False, error=exc.reason)
        return CheckResult(True, account=account_name(config, str(account.get("acct", ""))))

    def find(
        self, config: dict[str, Any], message: Message, started_at: datetime
    ) -> FoundPost | None:
        """The delivery's status: the account's own with the message's text, made after the
        send started."""
        return self.find_status(config, message.body, started_at)

    def find_status(
        self, config: dict[str, Any], text: str, since: datetime, *, timeout: float | None = None
    ) -> FoundPost | None:
        """The account's own status with exactly `text`, made after `since` (less the clock
        skew), or None when it has none. Raises NetworkError when it cannot tell."""
        deadline = time.monotonic() + (timeout or self.timeout * 3)
        account_id = str(self._account(config, deadline)["id"])
        earliest = since - CLOCK_SKEW
        max_id: str | None = None
        for _ in range(SEARCH_PAGES):
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if max_id is not None:
                params["max_id"] = max_id
            answer = self._call(
                "GET", config, f"/api/v1/accounts/{account_id}/statuses",
                deadline=deadline, params=params,
            )  # fmt: skip
            if answer.status != 200 or not isinstance(answer.body, list):
                raise NetworkError(answered_http("Mastodon", answer.status))
            if not answer.body:
                return None
            for status in answer.body:
                created = parse_time(status.get("created_at"))
                if created is None or created < earliest:
                    return None
                if self._source_text(config, str(status["id"]), deadline) == text:
                    url = status.get("url") or status.get("uri")
                    return FoundPost(str(status["id"]), url, created)
                max_id = str(status["id"])
        return None

    def _source_text(self, config: dict[str, Any], status_id: str, deadline: float) -> str | None:
        """The plain text a status was written with (its `content` is HTML)."""
        answer = self._call(
            "GET", config, f"/api/v1/statuses/{status_id}/source", deadline=deadline
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            return None
        text = answer.body.get("text")
        return text if isinstance(text, str) else None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
