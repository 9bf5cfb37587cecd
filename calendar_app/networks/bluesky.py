"""Bluesky: channel kind `bluesky`, config `{"service": "https://pds.example", "handle":
"name.bsky.social", "app_password": "..."}` (service defaults to the public entryway; the app
password is stored encrypted: networks/secrets.py).

Sign in once: `com.atproto.server.createSession` is rate-limited per account (30 in 5 minutes),
so a login per post would be refused. The session is kept per channel in this process (keyed by
channel, service, handle and a hash of the password, so a changed password signs in again),
renewed with `refreshSession` when the PDS says the access token expired, and made anew only
when there is none or the refresh is refused. One lock per account, so the senders of a pass
sign in once between them.

Publish: a record `app.bsky.feed.post` written with `com.atproto.repo.createRecord` under a record
key derived from the delivery (`record_key`): a repeated attempt of the same delivery writes to
the same key, which the PDS refuses (it answers 500), and then `getRecord` shows what is there:
our text is the first attempt's post (published, never a second record); another text is a key
collision (failed, nothing overwritten). Links, #tags and mentions get facets with UTF-8 byte
offsets; a mention is resolved to its DID (`resolveHandle`), and one that does not resolve stays
plain text. Images are uploaded first (`uploadBlob`) and embedded as `app.bsky.embed.images`
with their alt text and aspect ratio.

Answers map onto our outcomes as Mastodon's do: 429 retried at `ratelimit-reset` (else
Retry-After); 5xx, timeouts and connection errors retried; a refused password, a revoked app
password or a taken-down account failed with base.REVOKED and the channel's owner and deputy
told; 400 (InvalidRequest and the like) failed with the network's own message.

Find: an unknown delivery is looked up under its record key (`getRecord`): there with our text is
published, absent is not found.

Why our own XRPC requests and not the `atproto` SDK's client: its `Request` makes its own
`httpx.Client` (following redirects, with no way to hand it ours), so our outbound policy (no
private addresses, no redirects) and the total deadline of a send would not hold; its `Client`
keeps one session per object, refreshes on its own schedule and is not meant to be shared between
threads. So every request goes through outbound.make_client under outbound.deadline here, and the
SDK does what it is good at: finding links, tags and mentions with their byte offsets
(`atproto_client.utils`), the lexicon's models for facets, and AT-URI parsing. The SDK imports
all its models at once (about a second), so it is imported when a Bluesky publisher is made (once
per process, before any send's deadline runs), not by everything that imports this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httpx

from calendar_app import outbound
from calendar_app.networks.base import (
    REVOKED,
    CheckResult,
    FoundPost,
    MediaFile,
    Message,
    NetworkError,
    Outcome,
)
from calendar_app.networks.mastodon import parse_time
from calendar_app.networks.secrets import (
    ChannelSecrets,
    SecretUnreadable,
    is_sealed,
    without_secrets,
)
from calendar_app.outbound import OutboundPolicy, retry_after_seconds, status_reason

USER_AGENT = "calendar_app-bluesky/1"
DEFAULT_SERVICE = "https://bsky.social"
# Where people see a post: the Bluesky app's address of a profile's post.
WEB = "https://bsky.app"
POST = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_ANSWER_BYTES = 1024 * 1024
MAX_ERROR_CHARS = 500
MAX_HANDLE_CHARS = 253
COLLISION = (
    "a different post is on Bluesky under this delivery's record key; nothing was overwritten"
)
# What the PDS calls an access token that must be renewed (refreshSession, else createSession).
STALE_TOKEN = frozenset({"ExpiredToken", "InvalidToken"})
# What it calls credentials that only a person can fix.
REFUSED_ACCOUNT = frozenset(
    {"AuthenticationRequired", "AccountTakedown", "AccountDeactivated", "InvalidPassword"}
)
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


@cache
def _sdk() -> ModuleType:
    """The SDK's text helpers (detect_facets, detect_mentions), imported once, when needed."""
    from atproto_client import utils

    return utils


# --- the record key -----------------------------------------------------------------------------


def tid(microseconds: int, clock_id: int) -> str:
    """A TID: 53 bits of microseconds since the epoch, 10 bits of clock id, base32-sortable."""
    if not (0 <= microseconds < 2**53 and 0 <= clock_id < 1024):
        raise ValueError("a TID holds 53 bits of microseconds and a clock id below 1024")
    value = (microseconds << 10) | clock_id
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def record_key(message: Message) -> str:
    """The delivery's record key: when the post was written (whole seconds) and the delivery id,
    so every attempt of a delivery writes to one key, two deliveries never share one, and
    another installation's deliveries with the same ids differ by when their posts were
    written."""
    written = message.post_created_at or message.publish_at
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    seconds = math.floor(written.timestamp())
    microseconds = seconds * 1_000_000 + message.delivery_id % 1_000_000
    return tid(microseconds, (message.delivery_id // 1_000_000) % 1024)


# --- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, or None

    @property
    def error(self) -> str | None:
        """The XRPC error name (`ExpiredToken`, `RecordNotFound`, ...)."""
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


def rate_limit_wait(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds until the rate limit resets (`ratelimit-reset`, epoch seconds), else
    Retry-After, else None."""
    reset = parse_time(headers.get("ratelimit-reset"))
    if reset is not None:
        return max(0.0, (reset - (now or datetime.now(UTC))).total_seconds())
    return retry_after_seconds(headers.get("Retry-After"))


def service_url(config: dict[str, Any]) -> str:
    return str(config.get("service") or DEFAULT_SERVICE).strip().rstrip("/")


def handle_of(config: dict[str, Any]) -> str:
    return str(config["handle"]).strip().removeprefix("@").lower()


def post_url(handle: str, rkey: str) -> str:
    return f"{WEB}/profile/{handle}/post/{rkey}"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class _Account:
    """Who a channel signs in as, and the key its session is kept under."""

    service: str
    handle: str
    password: str

    def key(self, channel_id: int | None) -> tuple[Any, ...]:
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return (channel_id, self.service, self.handle, digest)


@dataclass(frozen=True)
class _Session:
    did: str
    handle: str
    access: str
    refresh: str


class BlueskyPublisher:
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
        self._sessions: dict[tuple[Any, ...], _Session] = {}
        self._account_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._text = _sdk()

    # --- the channel's settings ---------------------------------------------------------------

    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        problems: dict[str, str] = {}
        service = config.get("service", DEFAULT_SERVICE)
        if not isinstance(service, str) or not service.strip():
            problems["config.service"] = "must be the PDS's URL, e.g. https://bsky.social"
        else:
            parts = urlsplit(service.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems["config.service"] = "must be an http:// or https:// URL"
            elif parts.path.strip("/") or parts.query or parts.fragment:
                problems["config.service"] = (
                    "must be the server's address only, e.g. https://bsky.social"
                )
            elif policy is not None and (refusal := policy.check_host(parts.hostname)):
                problems["config.service"] = refusal
        handle = config.get("handle")
        if not isinstance(handle, str) or not handle.strip():
            problems["config.handle"] = "is required for a Bluesky channel (e.g. name.bsky.social)"
        else:
            name = handle.strip().removeprefix("@")
            labels = name.split(".")
            if (
                len(name) > MAX_HANDLE_CHARS
                or len(labels) < 2
                or not all(label and label.replace("-", "").isalnum() for label in labels)
                or not name.isascii()
            ):
                problems["config.handle"] = "must be a handle like name.bsky.social"
        password = config.get("app_password")
        if not isinstance(password, str) or not password.strip():
            problems["config.app_password"] = "is required for a Bluesky channel"  # noqa: S105
        elif len(password) > 500:
            problems["config.app_password"] = "must be at most 500 characters"  # noqa: S105
        unknown = set(config) - {"service", "handle", "app_password"}
        if unknown:
            problems["config"] = f"unknown field(s): {', '.join(sorted(unknown))}"
        return problems

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        return without_secrets("bluesky", config)

    # --- requests -----------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = outbound.make_client(
                    self.policy, user_agent=USER_AGENT, timeout=self.timeout
                )
            return self._client

    def _account(self, config: dict[str, Any]) -> _Account:
        password = str(config["app_password"])
        if self.secrets is None:
            if is_sealed(password):
                raise NetworkError(
                    "no CHANNEL_SECRETS_KEY to decrypt the channel's app password", final=True
                )
        else:
            try:
                password = self.secrets.reveal(password)
            except SecretUnreadable as exc:
                raise NetworkError(str(exc), final=True) from None
        return _Account(service_url(config), handle_of(config), password)

    def _xrpc(
        self,
        method: str,
        service: str,
        nsid: str,
        *,
        deadline: float,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        """One XRPC request, finished by `deadline`; transport problems become NetworkError."""
        if time.monotonic() >= deadline:
            raise NetworkError("not started: its time had run out before it began")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        budget = deadline - time.monotonic()
        try:
            with (
                outbound.deadline(deadline),
                self.client.stream(
                    method,
                    f"{service}/xrpc/{nsid}",
                    params=params,
                    json=json_body,
                    content=content,
                    headers=headers,
                ) as response,
            ):
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw.extend(chunk)
                    if len(raw) > MAX_ANSWER_BYTES:
                        break
        except outbound.RefusedDestination as exc:
            raise NetworkError(str(exc), final=True) from None
        except httpx.TimeoutException:
            raise NetworkError(f"timed out: no complete answer within {budget:.3g} s") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"connection failed: {exc or type(exc).__name__}") from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        return Answer(response.status_code, response.headers, body)

    def _refusal(self, answer: Answer, doing: str) -> NetworkError:
        """What an answer other than 200 means for a request that needed the account."""
        reason = f"Bluesky answered HTTP {status_reason(answer.status)}"
        if answer.status == 429:
            return NetworkError(
                f"{reason} (rate limit)",
                status=429,
                retry_after=rate_limit_wait(answer.headers),
            )
        if answer.status >= 500:
            return NetworkError(
                reason,
                status=answer.status,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if answer.status in (401, 403) or answer.error in REFUSED_ACCOUNT:
            return NetworkError(REVOKED, final=True, status=answer.status, tell_owners=True)
        own = answer.message or answer.error
        return NetworkError(
            f"Bluesky refused {doing}: {own}" if own else reason, final=True, status=answer.status
        )

    # --- the session ---------------------------------------------------------------------------

    def _account_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self._lock:
            return self._account_locks.setdefault(key, threading.Lock())

    def _locked(self, key: tuple[Any, ...], deadline: float) -> threading.Lock:
        lock = self._account_lock(key)
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise NetworkError("not started: the channel's sign-in took until the deadline")
        return lock

    def _session(self, account: _Account, key: tuple[Any, ...], deadline: float) -> _Session:
        """The kept session, or a new one (createSession) when there is none."""
        session = self._sessions.get(key)
        if session is not None:
            return session
        lock = self._locked(key, deadline)
        try:
            session = self._sessions.get(key)
            if session is None:
                session = self._sign_in(account, deadline)
                self._sessions[key] = session
            return session
        finally:
            lock.release()

    def _renew(
        self, account: _Account, key: tuple[Any, ...], stale: _Session, deadline: float
    ) -> _Session:
        """A session after `stale` was refused: another sender's renewal, else refreshSession,
        else createSession."""
        lock = self._locked(key, deadline)
        try:
            current = self._sessions.get(key)
            if current is not None and current != stale:
                return current
            self._sessions.pop(key, None)
            answer = self._xrpc(
                "POST", account.service, "com.atproto.server.refreshSession",
                deadline=deadline, token=stale.refresh,
            )  # fmt: skip
            if answer.status == 200 and isinstance(answer.body, dict):
                session = self._session_from(answer.body, stale)
            elif answer.status == 429 or answer.status >= 500:
                raise self._refusal(answer, "the sign-in")
            else:  # the refresh token expired or was revoked: sign in again
                session = self._sign_in(account, deadline)
            self._sessions[key] = session
            return session
        finally:
            lock.release()

    def _sign_in(self, account: _Account, deadline: float) -> _Session:
        answer = self._xrpc(
            "POST", account.service, "com.atproto.server.createSession",
            deadline=deadline,
            json_body={"identifier": account.handle, "password": account.password},
        )  # fmt: skip
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise self._refusal(answer, "the sign-in")
        return self._session_from(answer.body)

    @staticmethod
    def _session_from(body: dict[str, Any], before: _Session | None = None) -> _Session:
        try:
            return _Session(
                did=str(body["did"]),
                handle=str(body.get("handle") or (before.handle if before else "")),
                access=str(body["accessJwt"]),
                refresh=str(body["refreshJwt"]),
            )
        except KeyError:
            raise NetworkError("Bluesky's sign-in answer lacks the session", final=True) from None

    def _call(
        self,
        account: _Account,
        key: tuple[Any, ...],
        method: str,
        nsid: str,
        *,
        deadline: float,
        **kwargs: Any,
    ) -> tuple[Answer, _Session]:
        """A request as the account, renewing the session once if the PDS refuses its token."""
        session = self._session(account, key, deadline)
        answer = self._xrpc(
            method, account.service, nsid, deadline=deadline, token=session.access, **kwargs
        )
        if answer.error in STALE_TOKEN or answer.status == 401:
            session = self._renew(account, key, session, deadline)
            answer = self._xrpc(
                method, account.service, nsid, deadline=deadline, token=session.access, **kwargs
            )
        return answer, session

    # --- publish ------------------------------------------------------------------------------

    def send(self, message: Message, config: dict[str, Any], *, deadline: float) -> Outcome:
        try:
            return self._send(message, config, deadline)
        except NetworkError as exc:
            if exc.tell_owners:
                return Outcome.failed(exc.reason, tell_owners=True)
            if exc.final:
                return Outcome.failed(exc.reason)
            return Outcome.retry(exc.reason, exc.retry_after)

    def _send(self, message: Message, config: dict[str, Any], deadline: float) -> Outcome:
        account = self._account(config)
        key = account.key(message.channel_id)
        rkey = record_key(message)
        session = self._session(account, key, deadline)
        record: dict[str, Any] = {"$type": POST, "text": message.body, "createdAt": _now_iso()}
        facets = self._facets(account, message.body, deadline)
        if facets:
            record["facets"] = facets
        if message.media:
            record["embed"] = self._images(account, key, message.media, deadline)
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        # A timeout here may leave the post written: the next attempt collides and finds it.
        answer, session = self._call(
            account, key, "POST", "com.atproto.repo.createRecord",
            deadline=deadline, json_body=body,
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict):
            uri = str(answer.body.get("uri") or f"at://{session.did}/{POST}/{rkey}")
            return Outcome.published(uri, post_url(session.handle or account.handle, rkey))
        if answer.status >= 500:
            # Also how the PDS refuses a key that is taken: a first attempt may have written it.
            found = self._record(account, session.did, rkey, deadline)
            if found is not None:
                return self._ours(found, message, session.handle or account.handle, rkey)
        raise self._refusal(answer, "the post")

    def _ours(self, found: dict[str, Any], message: Message, handle: str, rkey: str) -> Outcome:
        value = found.get("value")
        if isinstance(value, dict) and value.get("text") == message.body:
            return Outcome.published(str(found.get("uri")), post_url(handle, rkey))
        return Outcome.failed(COLLISION)

    def _record(
        self, account: _Account, repo: str, rkey: str, deadline: float
    ) -> dict[str, Any] | None:
        """The post under `rkey` in `repo` ({"uri", "cid", "value"}), or None when absent."""
        answer = self._xrpc(
            "GET", account.service, "com.atproto.repo.getRecord", deadline=deadline,
            params={"repo": repo, "collection": POST, "rkey": rkey},
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict):
            return answer.body
        if answer.error == "RecordNotFound":
            return None
        raise self._refusal(answer, "the look-up")

    def _facets(self, account: _Account, text: str, deadline: float) -> list[dict[str, Any]]:
        """Links, #tags and resolvable mentions, with UTF-8 byte offsets into `text`."""
        found = self._text.detect_facets(text)
        facets = [f.model_dump(by_alias=True, exclude_none=True) for f in found]
        for mention in self._text.detect_mentions(text):
            did = self._resolve(account, mention.handle, deadline)
            if did is None:
                continue  # an unknown handle stays plain text
            facets.append(
                {
                    "$type": "app.bsky.richtext.facet",
                    "index": {"byteStart": mention.byte_start, "byteEnd": mention.byte_end},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                }
            )
        return sorted(facets, key=lambda f: f["index"]["byteStart"])

    def _resolve(self, account: _Account, handle: str, deadline: float) -> str | None:
        answer = self._xrpc(
            "GET", account.service, "com.atproto.identity.resolveHandle",
            deadline=deadline, params={"handle": handle},
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("did"):
            return str(answer.body["did"])
        if answer.status == 429 or answer.status >= 500:
            raise self._refusal(answer, "the mention")
        return None

    def _images(
        self, account: _Account, key: tuple[Any, ...], media: tuple[MediaFile, ...], deadline: float
    ) -> dict[str, Any]:
        """The images as blobs, embedded with their alt text and aspect ratio."""
        images = []
        for image in media[:MAX_IMAGES]:
            try:
                data = Path(image.path).read_bytes()
            except OSError as exc:
                raise NetworkError(
                    f"the image {Path(image.path).name} cannot be read: {exc.strerror}", final=True
                ) from None
            answer, _ = self._call(
                account, key, "POST", "com.atproto.repo.uploadBlob",
                deadline=deadline, content=data, content_type=image.mime_type,
            )  # fmt: skip
            blob = answer.body.get("blob") if isinstance(answer.body, dict) else None
            if answer.status != 200 or not isinstance(blob, dict):
                raise self._refusal(answer, "the image")
            entry: dict[str, Any] = {"alt": image.alt, "image": blob}
            if image.width > 0 and image.height > 0:
                entry["aspectRatio"] = {"width": image.width, "height": image.height}
            images.append(entry)
        return {"$type": "app.bsky.embed.images", "images": images}

    # --- check and find -----------------------------------------------------------------------

    def check(self, config: dict[str, Any]) -> CheckResult:
        """Sign in and name the account this channel posts as (`@handle`)."""
        deadline = time.monotonic() + self.timeout
        try:
            account = self._account(config)
            session = self._sign_in(account, deadline)
        except NetworkError as exc:
            return CheckResult(False, error=exc.reason)
        return CheckResult(True, account=f"@{session.handle or account.handle}")

    def find(
        self, config: dict[str, Any], message: Message, started_at: datetime
    ) -> FoundPost | None:
        """The delivery's post under its record key, or None when nothing is there. Raises
        NetworkError when it cannot tell, or (final) when another post holds the key."""
        deadline = time.monotonic() + self.timeout * 3
        account = self._account(config)
        rkey = record_key(message)
        session = self._session(account, account.key(message.channel_id), deadline)
        found = self._record(account, session.did, rkey, deadline)
        if found is None:
            return None
        handle = session.handle or account.handle
        if self._ours(found, message, handle, rkey).status != "published":
            raise NetworkError(COLLISION, final=True)
        value = found.get("value") or {}
        return FoundPost(
            str(found.get("uri")), post_url(handle, rkey), parse_time(value.get("createdAt"))
        )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
