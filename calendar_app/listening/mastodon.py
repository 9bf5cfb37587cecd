"""Reading what is said to a Mastodon account: mentions (and replies and quotes among them)
from its notifications, and the public timelines of watched hashtags.

Requests go through the Mastodon channel's own client (`MastodonPublisher._call`: the outbound
policy, the total deadline, the decrypted token), so reading and posting share one set of rules.
Pages are read forwards from a cursor with `min_id` (Mastodon answers the page right after it;
`since_id` would answer the newest page and skip what lies between), oldest first.

Watched search terms are read from the status search (`GET /api/v2/search?type=statuses`),
newest first, keeping what is newer than the term's cursor and has the term as whole words
(watch.py: servers search differently, the rule is ours). Mastodon offers no stream for a
search, so terms are polled also while the channel streams.

Every source has a name, which is also its cursor's: `notifications`, `tag:<tag>`,
`term:<term>`. A streamed event becomes the same item as a read one (`heard_in_event`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from calendar_app.listening.text import plain_text
from calendar_app.listening.watch import HASHTAG_KIND, TERM_KIND, has_term
from calendar_app.networks.mastodon import (
    REVOKED,
    MastodonPublisher,
    NetworkError,
    account_name,
    parse_time,
)
from calendar_app.outbound import status_reason

PAGE_SIZE = 40
# At most this many pages per source and pass; the rest comes in the next pass.
MAX_PAGES = 25
NOTIFICATIONS = "notifications"
TAG_PREFIX = "tag:"
TERM_PREFIX = "term:"
# Notification types that are said to us (others, favourites and follows, are not items).
SAID_TO_US = ("mention", "quote")


@dataclass(frozen=True)
class Heard:
    """One thing said to us, as the inbox stores it."""

    remote_id: str
    kind: str  # mention, reply, quote; hashtag, term (watch.py)
    author_handle: str
    author_name: str
    text: str
    url: str | None
    in_reply_to: str | None
    received_at: datetime
    # What a reply to it must name, where the network asks for more than its id (Bluesky).
    reply_ref: dict[str, Any] | None = None


@dataclass(frozen=True)
class Page:
    items: list[Heard]
    # Where the next read starts (the newest id read), None when nothing new came.
    position: str | None


def newer(a: str, b: str | None) -> bool:
    """Mastodon ids are numbers as text (snowflakes): compare them as numbers."""
    if b is None:
        return True
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return (len(a), a) > (len(b), b)


def own_account_id(publisher: MastodonPublisher, config: dict[str, Any], deadline: float) -> str:
    return str(publisher._account(config, deadline)["id"])


def _mentions(status: dict[str, Any], own_id: str | None) -> bool:
    return own_id is not None and any(
        isinstance(m, dict) and str(m.get("id")) == own_id for m in status.get("mentions") or ()
    )


def _status_to_heard(
    config: dict[str, Any],
    status: dict[str, Any],
    own_id: str | None,
    kind: str | None = None,
    *,
    otherwise: str = "mention",
) -> Heard | None:
    """The status as an item; its kind, unless given: a reply to us, a quote of ours, a mention
    of us, else `otherwise` (a status from a watched hashtag or term that does not name us)."""
    if not isinstance(status, dict) or "id" not in status:
        return None
    account = status.get("account") or {}
    if kind is None:
        kind = "mention" if otherwise == "mention" or _mentions(status, own_id) else otherwise
        if own_id is not None and str(status.get("in_reply_to_account_id")) == own_id:
            kind = "reply"
        quoted = status.get("quote")
        if isinstance(quoted, dict):
            inner = quoted.get("quoted_status") or quoted
            if isinstance(inner, dict) and str((inner.get("account") or {}).get("id")) == own_id:
                kind = "quote"
    received = parse_time(status.get("created_at"))
    if received is None:
        return None
    url = status.get("url") or status.get("uri")
    reply_to = status.get("in_reply_to_id")
    return Heard(
        remote_id=str(status["id"]),
        kind=kind,
        author_handle=account_name(config, str(account.get("acct", "")))[:300],
        author_name=str(account.get("display_name") or account.get("username") or "")[:300],
        text=plain_text(str(status.get("content") or "")),
        url=str(url)[:2000] if isinstance(url, str) else None,
        in_reply_to=str(reply_to) if reply_to is not None else None,
        received_at=received,
    )


def _pages(
    publisher: MastodonPublisher,
    config: dict[str, Any],
    path: str,
    params: dict[str, Any],
    position: str | None,
    deadline: float,
) -> tuple[list[dict[str, Any]], str | None]:
    """Everything after `position` (all there is when None), oldest first, and the newest id."""
    found: list[dict[str, Any]] = []
    newest = position
    for _ in range(MAX_PAGES):
        answer = publisher._call(
            "GET", config, path, deadline=deadline,
            params={**params, "limit": PAGE_SIZE, "min_id": newest or "0"},
        )  # fmt: skip
        if answer.status in (401, 403):
            raise NetworkError(REVOKED, final=True, status=answer.status)
        if answer.status != 200 or not isinstance(answer.body, list):
            raise NetworkError(
                f"Mastodon answered HTTP {status_reason(answer.status)}", status=answer.status
            )
        page = sorted(
            (entry for entry in answer.body if isinstance(entry, dict) and "id" in entry),
            key=lambda entry: (len(str(entry["id"])), str(entry["id"])),
        )
        if not page:
            break
        found.extend(page)
        newest = str(page[-1]["id"])
        if len(answer.body) < PAGE_SIZE:
            break
    return found, newest if newest != position else None


def read_mentions(
    publisher: MastodonPublisher,
    config: dict[str, Any],
    position: str | None,
    *,
    own_id: str,
    timeout: float = 30.0,
) -> Page:
    """Mentions, replies and quotes of the account since `position` (a notification id)."""
    deadline = time.monotonic() + timeout
    params = {"types[]": list(SAID_TO_US)}
    notes, newest = _pages(publisher, config, "/api/v1/notifications", params, position, deadline)
    items = [heard for note in notes if (heard := _note_to_heard(config, note, own_id))]
    return Page(items, newest)


def _note_to_heard(config: dict[str, Any], note: Any, own_id: str) -> Heard | None:
    if not isinstance(note, dict) or note.get("type") not in SAID_TO_US:
        return None
    kind = "quote" if note.get("type") == "quote" else None
    return _status_to_heard(config, note.get("status") or {}, own_id, kind)


def _others_status(config: dict[str, Any], status: Any, own_id: str, kind: str) -> Heard | None:
    """A status from a watched hashtag or term; our own are left out."""
    if not isinstance(status, dict) or str((status.get("account") or {}).get("id")) == own_id:
        return None
    return _status_to_heard(config, status, own_id, otherwise=kind)


def read_hashtag(
    publisher: MastodonPublisher,
    config: dict[str, Any],
    tag: str,
    position: str | None,
    *,
    own_id: str,
    timeout: float = 30.0,
) -> Page:
    """Public statuses with #tag since `position` (a status id); our own are left out."""
    deadline = time.monotonic() + timeout
    path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
    statuses, newest = _pages(publisher, config, path, {}, position, deadline)
    items = [h for s in statuses if (h := _others_status(config, s, own_id, HASHTAG_KIND))]
    return Page(items, newest)


def read_term(
    publisher: MastodonPublisher,
    config: dict[str, Any],
    term: str,
    position: str | None,
    *,
    own_id: str,
    timeout: float = 30.0,
) -> Page:
    """Statuses that have the search term as whole words, newer than `position` (a status id).

    The search answers newest first; `min_id` asks for what follows the cursor, and what a
    server answers anyway at or below it is left out, so a server that ignores `min_id` costs a
    page, never an item twice or a loop."""
    deadline = time.monotonic() + timeout
    newest = position
    found: dict[str, dict[str, Any]] = {}
    for _ in range(MAX_PAGES):
        answer = publisher._call(
            "GET", config, "/api/v2/search", deadline=deadline,
            params={"q": term, "type": "statuses", "limit": PAGE_SIZE, "min_id": newest or "0"},
        )  # fmt: skip
        if answer.status in (401, 403):
            raise NetworkError(REVOKED, final=True, status=answer.status)
        body = answer.body if isinstance(answer.body, dict) else None
        if answer.status != 200 or body is None or not isinstance(body.get("statuses"), list):
            raise NetworkError(
                f"Mastodon answered HTTP {status_reason(answer.status)}", status=answer.status
            )
        fresh = [
            s
            for s in body["statuses"]
            if isinstance(s, dict) and "id" in s and newer(str(s["id"]), newest)
        ]
        if not fresh:
            break
        for status in fresh:
            found[str(status["id"])] = status
        newest = max((str(s["id"]) for s in fresh), key=lambda i: (len(i), i))
        if len(body["statuses"]) < PAGE_SIZE:
            break
    ordered = sorted(found.values(), key=lambda s: (len(str(s["id"])), str(s["id"])))
    items = [
        heard
        for status in ordered
        if (heard := _others_status(config, status, own_id, TERM_KIND))
        and has_term(heard.text, term)
    ]
    return Page(items, newest if newest != position else None)


def read_source(
    publisher: MastodonPublisher,
    config: dict[str, Any],
    source: str,
    position: str | None,
    *,
    own_id: str,
) -> Page:
    """Everything of one source (by its name) after `position`."""
    if source.startswith(TAG_PREFIX):
        tag = source.removeprefix(TAG_PREFIX)
        return read_hashtag(publisher, config, tag, position, own_id=own_id)
    if source.startswith(TERM_PREFIX):
        term = source.removeprefix(TERM_PREFIX)
        return read_term(publisher, config, term, position, own_id=own_id)
    return read_mentions(publisher, config, position, own_id=own_id)


def heard_in_event(
    config: dict[str, Any], source: str, event: str, payload: Any, *, own_id: str
) -> tuple[Heard | None, str | None]:
    """A streamed event of `source` as the item a read would have made of it, and the cursor
    position it reaches: the user stream's `notification` (its id is the notifications'
    cursor), a hashtag stream's `update` (a status id, the tag's cursor). Other events (home
    timeline updates, deletions, favourites) make nothing."""
    if not isinstance(payload, dict) or "id" not in payload:
        return None, None
    if source == NOTIFICATIONS and event == "notification":
        heard = _note_to_heard(config, payload, own_id)
        return heard, str(payload["id"]) if heard is not None else None
    if source.startswith(TAG_PREFIX) and event == "update":
        return _others_status(config, payload, own_id, HASHTAG_KIND), str(payload["id"])
    return None, None
