"""Reading what is said to a Bluesky account from the repo firehose
(`com.atproto.sync.subscribeRepos`): a WebSocket of DAG-CBOR frames, each commit carrying the
records it wrote as CAR blocks.

Why the firehose and not `app.bsky.notification.listNotifications`: notifications need an
AppView, and the PDS alone serves the firehose of its own repositories; in production a relay
serves the same stream for the whole network. So the stream's address is a channel setting
(`firehose`, an http(s):// or ws(s):// address; default: the channel's own service).

Kept: posts by others that mention our account (a mention facet with our DID), reply to one of
our posts (reply.parent or reply.root in our repository) or quote one (an embedded record in our
repository); and, from the same stream, posts that carry one of the channel's watched hashtags
(a tag facet or `#tag` in the text) or have one of its search terms as words (watch.py), kinded
`hashtag` and `term`. Authors are named by handle and display name (their profile record)
where the service knows them.

The cursor is the stream's sequence number: a pass connects after the stored one (from the
oldest event the stream still holds when there is none), reads for a bounded time or until the
stream has been quiet for a moment, and disconnects.

The connection is checked against the outbound policy like every request of ours (no private
addresses unless allowed); frames are decoded with the `atproto` SDK's frame and CAR decoders
(imported when first needed: the SDK takes about a second to import).
The SDK's firehose client is not used: it reconnects forever with callbacks on a thread of its
own, where a pass needs one bounded read.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlencode, urlsplit

from atproto_core.exceptions import AtProtocolError
from websockets.exceptions import ConnectionClosed, InvalidHandshake, WebSocketException
from websockets.sync.client import connect

from calendar_app.listening.mastodon import Heard, Page
from calendar_app.listening.watch import NOTHING_WATCHED, Watch, facet_tags
from calendar_app.networks.base import NetworkError
from calendar_app.networks.bluesky import POST, BlueskyPublisher, post_url, service_url
from calendar_app.networks.mastodon import parse_time
from calendar_app.outbound import OutboundPolicy

log = logging.getLogger(__name__)

SUBSCRIBE_REPOS = "com.atproto.sync.subscribeRepos"
FIREHOSE = "firehose"
# A pass reads at most this long, and stops earlier once the stream is quiet this long.
READ_SECONDS = 10.0
QUIET_SECONDS = 1.0
# A frame larger than this is refused by the connection (the relay's limit is 5 MiB or so).
MAX_FRAME_BYTES = 5 * 1024 * 1024
MENTION = "app.bsky.richtext.facet#mention"
PROFILE = "app.bsky.actor.profile"
MAX_REMOTE_ID = 200
MAX_HANDLE_LOOKUPS = 50


def firehose_url(config: dict[str, Any], cursor: str | None) -> str:
    """The subscription's ws(s):// address, from the cursor on (0: all the stream holds)."""
    base = str(config.get("firehose") or service_url(config)).strip().rstrip("/")
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith("/xrpc"):
        path += "/xrpc"
    query = urlencode({"cursor": cursor or "0"})
    return f"{scheme}://{parts.netloc}{path}/{SUBSCRIBE_REPOS}?{query}"


def _open_socket(url: str, policy: OutboundPolicy, timeout: float) -> socket.socket:
    """A TCP connection to the stream's host, to an address the outbound policy allows."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NetworkError(f"connection failed: cannot resolve {host}: {exc}") from None
    if not policy.host_listed(host):
        for info in infos:
            address = ip_address(str(info[4][0]).split("%")[0])
            if not policy.address_allowed(address):
                raise NetworkError(policy.refusal(host, address), final=True)
    last: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise NetworkError(f"connection failed: cannot connect to {host}: {last}")


def _frames(url: str, policy: OutboundPolicy, until: float, quiet: float) -> Any:
    """The stream's frames (decoded), until `until` or a quiet moment; then it disconnects."""
    from atproto_subscription.frames import Frame

    budget = max(0.1, until - time.monotonic())
    sock = _open_socket(url, policy, budget)
    try:
        connection = connect(url, sock=sock, open_timeout=budget, max_size=MAX_FRAME_BYTES)
    except InvalidHandshake as exc:
        sock.close()
        raise NetworkError(f"the stream refused the connection: {exc}") from None
    except (OSError, WebSocketException) as exc:
        sock.close()
        raise NetworkError(f"connection failed: {exc or type(exc).__name__}") from None
    with connection:
        while (left := until - time.monotonic()) > 0:
            try:
                raw = connection.recv(timeout=min(quiet, left))
            except TimeoutError:
                return
            except ConnectionClosed:
                return
            if not isinstance(raw, bytes):
                continue
            try:
                yield Frame.from_bytes(raw)
            except (AtProtocolError, ValueError) as exc:
                # One frame we cannot read must not stop the channel at this cursor for ever.
                log.warning("skipped a firehose frame that cannot be decoded: %s", exc)


def _did_of(uri: Any) -> str | None:
    if isinstance(uri, str) and uri.startswith("at://"):
        return uri[5:].split("/", 1)[0]
    return None


def _strong_ref(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and isinstance(value.get("uri"), str) and value.get("cid"):
        return {"uri": value["uri"], "cid": str(value["cid"])}
    return None


def _quoted(embed: Any) -> dict[str, str] | None:
    """The record a post embeds (app.bsky.embed.record, or with media)."""
    if not isinstance(embed, dict):
        return None
    inner = embed.get("record")
    if isinstance(inner, dict) and isinstance(inner.get("record"), dict):
        inner = inner["record"]  # app.bsky.embed.recordWithMedia
    return _strong_ref(inner)


def kind_of(record: dict[str, Any], our_did: str) -> str | None:
    """What a post is to us: a quote of ours, a reply to ours, a mention of us, or nothing."""
    quoted = _quoted(record.get("embed"))
    if quoted is not None and _did_of(quoted["uri"]) == our_did:
        return "quote"
    reply = record.get("reply")
    if isinstance(reply, dict):
        for part in ("parent", "root"):
            ref = _strong_ref(reply.get(part))
            if ref is not None and _did_of(ref["uri"]) == our_did:
                return "reply"
    for facet in record.get("facets") or ():
        for feature in (facet or {}).get("features") or ():
            if (
                isinstance(feature, dict)
                and feature.get("$type") == MENTION
                and feature.get("did") == our_did
            ):
                return "mention"
    return None


def reply_reference(uri: str, cid: str, record: dict[str, Any]) -> dict[str, Any]:
    """What our answer to this post names: it as the parent, its thread's root as the root."""
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
    root = _strong_ref(reply.get("root")) or {"uri": uri, "cid": cid}
    return {"root": root, "parent": {"uri": uri, "cid": cid}}


def _blocks(car_bytes: Any) -> dict[str, Any]:
    """The commit's blocks by CID; none when they cannot be read (the commit is skipped)."""
    from atproto_core.car import CAR

    if not car_bytes:
        return {}
    try:
        car = CAR.from_bytes(bytes(car_bytes))
    except (AtProtocolError, ValueError) as exc:
        log.warning("skipped a firehose commit whose blocks cannot be read: %s", exc)
        return {}
    return {str(cid): block for cid, block in car.blocks.items()}


def _cid_text(value: Any) -> str | None:
    from atproto_core.cid import CID

    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return str(CID.from_decoded_bytes(bytes(value)))
    return str(value)


def heard_in_commit(
    body: dict[str, Any], our_did: str, watch: Watch = NOTHING_WATCHED
) -> list[tuple[Heard, str]]:
    """The posts a commit frame created that concern us or carry what we watch, each with its
    author's DID."""
    author = body.get("repo")
    if not isinstance(author, str) or author == our_did:
        return []
    creates = [
        op
        for op in body.get("ops") or ()
        if isinstance(op, dict)
        and op.get("action") == "create"
        and str(op.get("path", "")).startswith(f"{POST}/")
    ]
    if not creates:
        return []
    blocks = _blocks(body.get("blocks"))
    found = []
    for op in creates:
        cid = _cid_text(op.get("cid"))
        record = blocks.get(cid or "")
        if not isinstance(record, dict) or cid is None:
            continue
        text = str(record.get("text") or "")
        kind = kind_of(record, our_did) or watch.kind_of(text, facet_tags(record))
        if kind is None:
            continue
        rkey = str(op["path"]).split("/", 1)[1]
        uri = f"at://{author}/{POST}/{rkey}"
        if len(uri) > MAX_REMOTE_ID:
            continue
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        parent = _strong_ref(reply.get("parent"))
        received = parse_time(record.get("createdAt")) or parse_time(body.get("time"))
        found.append(
            (
                Heard(
                    remote_id=uri,
                    kind=kind,
                    author_handle=author,
                    author_name="",
                    text=text,
                    url=post_url(author, rkey),
                    in_reply_to=parent["uri"] if parent else None,
                    received_at=received or datetime.now(UTC),
                    reply_ref=reply_reference(uri, cid, record),
                ),
                author,
            )
        )
    return found


def _authors(
    publisher: BlueskyPublisher, service: str, dids: set[str], deadline: float
) -> dict[str, tuple[str, str]]:
    """Handle and display name of the authors the service knows (its own accounts; a relay's
    authors on other servers keep their DID, which is where their posts' addresses lead just as
    well). The display name is the profile record's; the handle where there is none."""
    known: dict[str, tuple[str, str]] = {}
    for did in sorted(dids)[:MAX_HANDLE_LOOKUPS]:
        try:
            answer = publisher.atproto.request(
                "GET", service, "com.atproto.repo.describeRepo",
                deadline=deadline, params={"repo": did},
            )  # fmt: skip
            if not (answer.status == 200 and isinstance(answer.body, dict)):
                continue
            handle = str(answer.body.get("handle") or "")[:300]
            if not handle:
                continue
            name = handle
            if PROFILE in (answer.body.get("collections") or ()):
                profile = publisher.atproto.request(
                    "GET", service, "com.atproto.repo.getRecord", deadline=deadline,
                    params={"repo": did, "collection": PROFILE, "rkey": "self"},
                )  # fmt: skip
                value = profile.body.get("value") if isinstance(profile.body, dict) else None
                shown = value.get("displayName") if isinstance(value, dict) else None
                if profile.status == 200 and isinstance(shown, str) and shown.strip():
                    name = " ".join(shown.split())[:300]
        except NetworkError:
            break
        known[did] = (handle, name)
    return known


def read_firehose(
    publisher: BlueskyPublisher,
    config: dict[str, Any],
    position: str | None,
    *,
    channel_id: int,
    watch: Watch = NOTHING_WATCHED,
    seconds: float = READ_SECONDS,
    quiet: float = QUIET_SECONDS,
) -> Page:
    """Mentions of, replies to and quotes of the channel's account, and posts with what it
    watches, after `position` (a sequence number of the stream), read for at most `seconds`."""
    deadline = time.monotonic() + publisher.timeout
    account = publisher._account(config)
    our_did = publisher.atproto.session(account, account.key(channel_id), deadline).did
    url = firehose_url(config, position)
    until = time.monotonic() + seconds
    newest = int(position) if position and position.isdigit() else None
    heard: list[tuple[Heard, str]] = []
    for frame in _frames(url, publisher.policy, until, quiet):
        if frame.is_error:
            error = frame.body
            raise NetworkError(
                f"the stream refused: {error.error}"
                + (f" ({error.message})" if error.message else "")
            )
        body = frame.body
        seq = body.get("seq") if isinstance(body, dict) else None
        if isinstance(seq, int) and (newest is None or seq > newest):
            newest = seq
        if frame.type == "#commit":
            heard += heard_in_commit(body, our_did, watch)
    lookups = time.monotonic() + publisher.timeout
    authors = _authors(publisher, account.service, {did for _, did in heard}, lookups)
    items = []
    for item, did in heard:
        if did in authors:
            handle, name = authors[did]
            rkey = item.remote_id.rsplit("/", 1)[1]
            item = _with_author(item, f"@{handle}", name, post_url(handle, rkey))
        items.append(item)
    moved = newest is not None and str(newest) != position
    return Page(items, str(newest) if moved else None)


def _with_author(item: Heard, handle: str, name: str, url: str) -> Heard:
    return replace(item, author_handle=handle, author_name=name, url=url)
