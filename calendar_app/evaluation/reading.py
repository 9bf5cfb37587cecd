"""What one published post has achieved, read from its network.

Through the publishers' own request helpers (their outbound policy, deadlines and kept Bluesky
sessions), never a client of our own.

- Mastodon: `GET /api/v1/statuses/<id>` gives favourites, boosts, replies (and quotes where the
  server counts them). The account is checked first (`verify_credentials`): a server may answer a
  public status to anyone, so only that tells a revoked token from a quiet post.
- Bluesky: the counts live in an AppView, not in the PDS; `app.bsky.feed.getPosts` asked of the
  PDS is proxied to the AppView it is configured with. Where none answers, the reading says "no
  AppView reachable" instead of zeros.

A 401/403 is never zeros either: the reading says that the token lacks the read scope.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from calendar_app.models import ResultState
from calendar_app.networks.base import NetworkError
from calendar_app.networks.bluesky import BlueskyPublisher
from calendar_app.networks.mastodon import MastodonPublisher
from calendar_app.outbound import status_reason

UNAUTHORIZED = "results unavailable: the token lacks the read scope"
NO_APPVIEW = "no AppView reachable"
GONE = "the post is no longer on the network"
MESSAGES = {
    ResultState.UNAUTHORIZED: UNAUTHORIZED,
    ResultState.NO_APPVIEW: NO_APPVIEW,
    ResultState.GONE: GONE,
}


@dataclass(frozen=True)
class Reading:
    state: str
    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    quotes: int | None = None
    reach: int | None = None
    clicks: int | None = None

    @classmethod
    def without_numbers(cls, state: ResultState) -> Reading:
        return cls(str(state))


def _count(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_mastodon(publisher: MastodonPublisher, config: dict[str, Any], remote_id: str) -> Reading:
    """Raises NetworkError when the server could not be asked (try again later)."""
    deadline = time.monotonic() + publisher.timeout * 2
    try:
        publisher._account(config, deadline)
    except NetworkError as exc:
        if exc.status in (401, 403):
            return Reading.without_numbers(ResultState.UNAUTHORIZED)
        raise
    answer = publisher._call("GET", config, f"/api/v1/statuses/{remote_id}", deadline=deadline)
    if answer.status in (401, 403):
        return Reading.without_numbers(ResultState.UNAUTHORIZED)
    if answer.status in (404, 410):
        return Reading.without_numbers(ResultState.GONE)
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise NetworkError(f"Mastodon answered HTTP {status_reason(answer.status)}")
    body = answer.body
    return Reading(
        str(ResultState.OK),
        likes=_count(body, "favourites_count"),
        shares=_count(body, "reblogs_count"),
        replies=_count(body, "replies_count"),
        quotes=_count(body, "quotes_count"),
    )


def read_bluesky(
    publisher: BlueskyPublisher, config: dict[str, Any], remote_id: str, channel_id: int
) -> Reading:
    """`remote_id` is the post's at:// URI. Raises NetworkError when the PDS could not be asked."""
    deadline = time.monotonic() + publisher.timeout * 2
    try:
        account = publisher._account(config)
        answer, _ = publisher.atproto.call(
            account, account.key(channel_id), "GET", "app.bsky.feed.getPosts",
            deadline=deadline, params={"uris": remote_id},
        )  # fmt: skip
    except NetworkError as exc:
        if exc.status in (401, 403) or (exc.final and exc.tell_owners):
            return Reading.without_numbers(ResultState.UNAUTHORIZED)
        raise
    if answer.status in (401, 403):
        return Reading.without_numbers(ResultState.UNAUTHORIZED)
    if answer.status == 429:
        raise NetworkError("Bluesky answered HTTP 429 (rate limit)", status=429)
    if answer.status != 200 or not isinstance(answer.body, dict):
        # The PDS has no AppView to proxy to (it answers 4xx/501), or the AppView is down (502).
        return Reading.without_numbers(ResultState.NO_APPVIEW)
    posts = answer.body.get("posts")
    if not isinstance(posts, list):
        return Reading.without_numbers(ResultState.NO_APPVIEW)
    post = next((p for p in posts if isinstance(p, dict) and p.get("uri") == remote_id), None)
    if post is None:
        return Reading.without_numbers(ResultState.GONE)
    return Reading(
        str(ResultState.OK),
        likes=_count(post, "likeCount"),
        shares=_count(post, "repostCount"),
        replies=_count(post, "replyCount"),
        quotes=_count(post, "quoteCount"),
    )


def read_results(publisher: Any, kind: str, config: dict[str, Any], remote_id: str,
                 channel_id: int) -> Reading:  # fmt: skip
    if kind == "mastodon":
        return read_mastodon(publisher, config, remote_id)
    if kind == "bluesky":
        return read_bluesky(publisher, config, remote_id, channel_id)
    raise ValueError(f"no results reader for channel kind {kind!r}")
