"""Bluesky: channel kind `bluesky`, config `{"service": "https://pds.example", "handle":
"name.bsky.social", "app_password": "...", "firehose": "wss://relay.example"}` (service defaults
to the public entryway; the app password is stored encrypted: networks/secrets.py; the firehose
is where the listener reads what is said to the account, default the service:
listening/bluesky.py).

Sign in once per channel and keep the session (networks/atproto.py): `createSession` is
rate-limited per account, so a login per post would be refused.

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

A reply from the inbox names its thread: `Message.in_reply_to` holds the reply reference the
inbox item keeps (JSON: root and parent, each an AT-URI and a CID), written as the record's
`reply`.

Find: an unknown delivery is looked up under its record key (`getRecord`): there with our text is
published, absent is not found.

Why our own XRPC requests and not the `atproto` SDK's client: its `Request` makes its own
`httpx.Client` (following redirects, with no way to hand it ours), so our outbound policy (no
private addresses, no redirects) and the total deadline of a send would not hold; its `Client`
keeps one session per object, refreshes on its own schedule and is not meant to be shared
between threads. So every request goes through outbound.make_client under outbound.deadline
(networks/atproto.py), and the SDK does what it is good at: finding links, tags and mentions
with their UTF-8 byte offsets (`atproto_client.utils`, the port of the reference client's
detection) as the lexicon's facet models; the tests check our record keys with its TID syntax
and read URIs with its AT-URI parser. The SDK imports all its models at once (about a second),
so it is imported when a Bluesky publisher is made (once per process, before any send's deadline
runs), not by everything that imports this module.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from calendar_app.media import fit_for
from calendar_app.networks.atproto import Account, AtprotoClient
from calendar_app.networks.base import (
    THE_POST,
    CheckResult,
    FoundPost,
    MediaFile,
    Message,
    NetworkError,
    Outcome,
    said_of,
    server_address_problem,
)
from calendar_app.networks.mastodon import parse_time
from calendar_app.networks.secrets import (
    ChannelSecrets,
    SecretUnreadable,
    is_sealed,
    without_secrets,
)
from calendar_app.outbound import OutboundPolicy
from calendar_app.words import _l

USER_AGENT = "calendar_app-bluesky/1"
DEFAULT_SERVICE = "https://bsky.social"
# Where people see a post: the Bluesky app's address of a profile's post.
WEB = "https://bsky.app"
POST = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_HANDLE_CHARS = 253
COLLISION = _l(
    "a different post is on Bluesky under this delivery's record key; nothing was overwritten"
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


# --- the channel's account ----------------------------------------------------------------------


def service_url(config: dict[str, Any]) -> str:
    return str(config.get("service") or DEFAULT_SERVICE).strip().rstrip("/")


def handle_of(config: dict[str, Any]) -> str:
    return str(config["handle"]).strip().removeprefix("@").lower()


def post_url(handle: str, rkey: str) -> str:
    return f"{WEB}/profile/{handle}/post/{rkey}"


def check_firehose(value: Any, policy: OutboundPolicy | None = None) -> str | None:
    """Why a `firehose` setting is unusable (None: fine): a relay's or PDS's address."""
    if not isinstance(value, str) or not value.strip():
        return "must be the stream's address, e.g. wss://bsky.network"
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        return "must be an http(s):// or ws(s):// address"
    if parts.query or parts.fragment or parts.path.strip("/") not in ("", "xrpc"):
        return "must be the server's address only, e.g. wss://bsky.network"
    if policy is not None:
        return policy.check_host(parts.hostname)
    return None


def reply_of(in_reply_to: str) -> dict[str, Any]:
    """The record's `reply` ({root, parent}, each {uri, cid}) from a reply's reference as the
    inbox item keeps it (JSON); without both parts there is no thread to answer into."""
    try:
        ref = json.loads(in_reply_to)
        return {
            part: {"uri": str(ref[part]["uri"]), "cid": str(ref[part]["cid"])}
            for part in ("root", "parent")
        }
    except (ValueError, TypeError, KeyError):
        raise NetworkError(
            _l("the reply lacks its thread on Bluesky (the root and parent post it answers)"),
            final=True,
        ) from None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        # Sessions are kept per channel for as long as this publisher lives.
        self.atproto = AtprotoClient(timeout=timeout, policy=self.policy, user_agent=USER_AGENT)
        self._text = _sdk()

    # --- the channel's settings ---------------------------------------------------------------

    @staticmethod
    def check_config(
        config: dict[str, Any], policy: OutboundPolicy | None = None
    ) -> dict[str, str]:
        problems: dict[str, str] = {}
        service = config.get("service", DEFAULT_SERVICE)
        if problem := server_address_problem(service, policy, "https://bsky.social"):
            problems["config.service"] = problem
        handle = config.get("handle")
        if not isinstance(handle, str) or not handle.strip():
            problems["config.handle"] = _l(
                "is required for a Bluesky channel (e.g. name.bsky.social)"
            )
        else:
            name = handle.strip().removeprefix("@")
            labels = name.split(".")
            if (
                len(name) > MAX_HANDLE_CHARS
                or len(labels) < 2
                or not all(label and label.replace("-", "").isalnum() for label in labels)
                or not name.isascii()
            ):
                problems["config.handle"] = _l("must be a handle like name.bsky.social")
        password = config.get("app_password")
        if not isinstance(password, str) or not password.strip():
            problems["config.app_password"] = _l("is required for a Bluesky channel")
        elif len(password) > 500:
            problems["config.app_password"] = _l("must be at most 500 characters")
        if "firehose" in config and (problem := check_firehose(config["firehose"], policy)):
            problems["config.firehose"] = problem
        unknown = set(config) - {"service", "handle", "app_password", "firehose"}
        if unknown:
            problems["config"] = _l("unknown field(s): %(items)s", items=", ".join(sorted(unknown)))
        return problems

    @staticmethod
    def public_config(config: dict[str, Any]) -> dict[str, Any]:
        return without_secrets("bluesky", config)

    def _account(self, config: dict[str, Any]) -> Account:
        password = str(config["app_password"])
        if self.secrets is None:
            if is_sealed(password):
                raise NetworkError(
                    _l("no CHANNEL_SECRETS_KEY to decrypt the channel's app password"), final=True
                )
        else:
            try:
                password = self.secrets.reveal(password)
            except SecretUnreadable as exc:
                raise NetworkError(said_of(exc), final=True) from None
        return Account(service_url(config), handle_of(config), password)

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
        session = self.atproto.session(account, key, deadline)
        record: dict[str, Any] = {"$type": POST, "text": message.body, "createdAt": _now_iso()}
        facets = self._facets(account, message.body, deadline)
        if facets:
            record["facets"] = facets
        if message.media:
            record["embed"] = self._images(account, key, message.media, deadline)
        if message.in_reply_to:
            record["reply"] = reply_of(message.in_reply_to)
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        # A timeout here may leave the post written: the next attempt collides and finds it.
        answer, session = self.atproto.call(
            account, key, "POST", "com.atproto.repo.createRecord",
            deadline=deadline, json_body=body,
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict):
            uri = str(answer.body.get("uri") or f"at://{session.did}/{POST}/{rkey}")
            return Outcome.published(uri, post_url(session.handle or account.handle, rkey))
        if answer.status not in (401, 403, 429):
            # The reference PDS refuses a key that is taken with a 500 (others may say 400 or
            # 409): a first attempt may have written it, so look before calling it a failure.
            found = self._record(account, session.did, rkey, deadline)
            if found is not None:
                return self._ours(found, message, session.handle or account.handle, rkey)
        raise self.atproto.refusal(answer, THE_POST)

    def _ours(self, found: dict[str, Any], message: Message, handle: str, rkey: str) -> Outcome:
        value = found.get("value")
        if isinstance(value, dict) and value.get("text") == message.body:
            return Outcome.published(str(found.get("uri")), post_url(handle, rkey))
        return Outcome.failed(COLLISION)

    def _record(
        self, account: Account, repo: str, rkey: str, deadline: float
    ) -> dict[str, Any] | None:
        """The post under `rkey` in `repo` ({"uri", "cid", "value"}), or None when absent."""
        answer = self.atproto.request(
            "GET", account.service, "com.atproto.repo.getRecord", deadline=deadline,
            params={"repo": repo, "collection": POST, "rkey": rkey},
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict):
            return answer.body
        if answer.error == "RecordNotFound":
            return None
        raise self.atproto.refusal(answer, _l("the look-up"))

    def _facets(self, account: Account, text: str, deadline: float) -> list[dict[str, Any]]:
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

    def _resolve(self, account: Account, handle: str, deadline: float) -> str | None:
        answer = self.atproto.request(
            "GET", account.service, "com.atproto.identity.resolveHandle",
            deadline=deadline, params={"handle": handle},
        )  # fmt: skip
        if answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("did"):
            return str(answer.body["did"])
        if answer.status == 429 or answer.status >= 500:
            raise self.atproto.refusal(answer, _l("the mention"))
        return None

    def _images(
        self, account: Account, key: tuple[Any, ...], media: tuple[MediaFile, ...], deadline: float
    ) -> dict[str, Any]:
        """The images as blobs, embedded with their alt text and aspect ratio."""
        images = []
        for image in media[:MAX_IMAGES]:
            try:
                fitted = fit_for("bluesky", image)  # about 1 MB, channel_rules.py
            except OSError as exc:
                raise NetworkError(
                    _l(
                        "the image %(name)s cannot be read: %(problem)s",
                        name=Path(image.path).name,
                        problem=exc.strerror,
                    ),
                    final=True,
                ) from None
            answer, _ = self.atproto.call(
                account, key, "POST", "com.atproto.repo.uploadBlob",
                deadline=deadline, content=fitted.data, content_type=fitted.mime_type,
            )  # fmt: skip
            blob = answer.body.get("blob") if isinstance(answer.body, dict) else None
            if answer.status != 200 or not isinstance(blob, dict):
                raise self.atproto.refusal(answer, _l("the image"))
            entry: dict[str, Any] = {"alt": image.alt, "image": blob}
            if fitted.width > 0 and fitted.height > 0:
                entry["aspectRatio"] = {"width": fitted.width, "height": fitted.height}
            images.append(entry)
        return {"$type": "app.bsky.embed.images", "images": images}

    # --- check and find -----------------------------------------------------------------------

    def check(self, config: dict[str, Any]) -> CheckResult:
        """Sign in and name the account this channel posts as (`@handle`)."""
        deadline = time.monotonic() + self.timeout
        try:
            account = self._account(config)
            session = self.atproto.sign_in(account, deadline)
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
        session = self.atproto.session(account, account.key(message.channel_id), deadline)
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
        self.atproto.close()
