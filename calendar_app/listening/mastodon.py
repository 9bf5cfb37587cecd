"""Reading what is said to a Mastodon account: mentions (and replies and quotes among them)
from its notifications, and the public timelines of watched hashtags.

Requests go through the Mastodon channel's own client (`MastodonPublisher._call`: the outbound
policy, the total deadline, the decrypted token), so reading and posting share one set of rules.
Pages are read forwards from a cursor with `min_id` (Mastodon answers the page right after it;
`since_id` would answer the newest page and skip what lies between), oldest first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from calendar_app.listening.text import plain_text
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


@dataclass(frozen=True)
class Heard:
    """One thing said to us, as the inbox stores it."""

    remote_id: str
    kind: str  # mention, reply, quote
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


def _status_to_heard(
    config: dict[str, Any], status: dict[str, Any], own_id: str | None, kind: str | None = None
) -> Heard | None:
    if not isinstance(status, dict) or "id" not in status:
        return None
    account = status.get("account") or {}
    if kind is None:
        kind = "mention"
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
    params = {"types[]": ["mention", "quote"]}
    notes, newest = _pages(publisher, config, "/api/v1/notifications", params, position, deadline)
    items = []
    for note in notes:
        kind = "quote" if note.get("type") == "quote" else None
        heard = _status_to_heard(config, note.get("status") or {}, own_id, kind)
        if heard is not None:
            items.append(heard)
    return Page(items, newest)


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
    items = []
    for status in statuses:
        if str((status.get("account") or {}).get("id")) == own_id:
            continue
        heard = _status_to_heard(config, status, own_id)
        if heard is not None:
            items.append(heard)
    return Page(items, newest)
