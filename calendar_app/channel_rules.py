"""Channel rules in one table: what each network accepts.

Length is counted the way each network counts it: most count characters as people see them
(grapheme clusters: an emoji with a skin tone or a flag is one); X weighs them (twitter-text's
configuration v3: a link counts 23 whatever its length, an emoji 2, a CJK character 2). A body
that is too long is rejected, never cut.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import regex

from calendar_app.words import Text, _l

NETWORKS = (
    "x",
    "mastodon",
    "bluesky",
    "threads",
    "linkedin",
    "instagram",
    "facebook",
    "blog",
    "other",
)


class Counting(StrEnum):
    """How a network counts the length of a text."""

    # Extended grapheme clusters: characters as a reader counts them.
    GRAPHEMES = "graphemes"
    # X's weighted length (twitter-text v3): links 23, emoji and CJK 2, most other characters 1.
    X_WEIGHTED = "x-weighted"


@dataclass(frozen=True)
class ChannelRules:
    label: str
    max_length: int | None  # None: no limit
    counting: Counting = Counting.GRAPHEMES
    # Instagram shows links in captions as plain, unclickable text: a link there is a mistake.
    links_allowed: bool = True
    images_allowed: bool = True
    # Instagram publishes no text-only posts: a post for it is saved only with an image.
    image_required: bool = False
    # Images: how many a post may carry there, and how large each may be when it is sent
    # (media.py scales a larger one down; None: no limit). `image_types`: the formats the
    # network takes; another still image is converted, an animation cannot be.
    max_images: int = 4
    max_image_bytes: int | None = None
    max_image_side: int | None = None  # the longer side, in pixels
    max_image_pixels: int | None = None
    image_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp", "image/gif")


MB = 1024 * 1024
# Limits as each network counts them (checked 2026-11).
# Image limits as each network documents them for uploads through its API (checked 2026-11);
# Mastodon's are its defaults, the channel's server announces its own (networks/mastodon.py).
RULES: dict[str, ChannelRules] = {
    "x": ChannelRules(
        "X", 280, counting=Counting.X_WEIGHTED, max_image_bytes=5 * MB, max_image_side=8192
    ),
    "mastodon": ChannelRules("Mastodon", 500, max_image_bytes=16 * MB, max_image_pixels=8_294_400),
    "bluesky": ChannelRules(
        "Bluesky",
        300,
        max_image_bytes=1_000_000,
        max_image_side=2000,
        image_types=("image/png", "image/jpeg", "image/webp"),
    ),
    "threads": ChannelRules(
        "Threads",
        500,
        max_images=10,
        max_image_bytes=8 * MB,
        max_image_side=1440,
        image_types=("image/png", "image/jpeg"),
    ),
    "linkedin": ChannelRules(
        "LinkedIn",
        3000,
        max_images=9,
        max_image_bytes=8 * MB,
        max_image_pixels=36_152_320,
        image_types=("image/png", "image/jpeg", "image/gif"),
    ),
    "instagram": ChannelRules(
        "Instagram",
        2200,
        links_allowed=False,
        image_required=True,
        max_images=10,
        max_image_bytes=8 * MB,
        max_image_side=1440,
        image_types=("image/jpeg",),
    ),
    "facebook": ChannelRules(
        "Facebook",
        63206,
        max_images=10,
        max_image_bytes=10 * MB,
        image_types=("image/png", "image/jpeg", "image/gif"),
    ),
    "blog": ChannelRules("Blog", None),
    "other": ChannelRules("Other", None),
}

# No channel takes a longer text, whatever its network (Facebook's 63,206 fits; so does a blog
# article of some 10,000 words). Counted in code points, as the API's schema counts: cheap, and
# never fewer than the characters people see.
MAX_TEXT_LENGTH = 65_536

_GRAPHEME = regex.compile(r"\X")
_LINK = regex.compile(r"https?://\S+", regex.IGNORECASE)


def rules_for(network: str) -> ChannelRules:
    return RULES[network]


def visible_length(text: str) -> int:
    """Characters as a reader counts them (extended grapheme clusters)."""
    return len(_GRAPHEME.findall(text))


# How much X counts for a link, whatever its length (what X's link shortener makes of it):
# twitter-text's `transformed_url_length`, which test_channel_rules pins. Written out because
# importing twitter-text compiles its regular expressions, most of a second that every process
# (a command, a scheduler) would pay at start even when it counts nothing.
X_LINK_LENGTH = 23
# twitter-text finds links with regular expressions whose time grows with the square of an
# unbroken run of characters that looks almost like a domain ("a.a.a.a...": 500 characters take
# most of a second). So a text is counted run by run (a link never spans a space), and a run that
# could hold a link (it has a dot) is searched for links only while it is short enough to search
# quickly and the text may still fit. Otherwise its dots are read as commas, which weigh the same
# and hide any link, so a link there counts as its characters (a run that long is over any
# limit in practice; a link longer than _LONGEST_LINK, which no one posts, is over-counted).
_CHEAP_RUN = 64
_LONGEST_LINK = 512


@functools.cache
def _twitter_text() -> tuple[Callable[[str], Any], re.Pattern[str]]:
    """twitter-text's counter and its runs of spaces, loaded on the first count."""
    from twitter_text import parse_tweet
    from twitter_text.regexp.spaces_group import spaces_group

    return parse_tweet, re.compile(f"([{spaces_group}]+)")


# Several X channels of one post ask for the same text: counted once (a few texts kept).
@functools.lru_cache(maxsize=32)
def x_weighted_length(text: str, stop_after: int | None = None) -> int:
    """X's weighted length of `text` (twitter-text v3), counted run by run.

    With `stop_after`, once the count is past it, runs are no longer searched for links:
    the text does not fit either way.
    """
    parse_tweet, spaces_or_not = _twitter_text()
    total = 0
    for run in spaces_or_not.split(text):
        if not run:
            continue
        could_hold_link = "." in run
        slow = len(run) > _LONGEST_LINK or (
            stop_after is not None and total > stop_after and len(run) > _CHEAP_RUN
        )
        if could_hold_link and slow:
            run = run.replace(".", ",")
        total += parse_tweet(run).weightedLength
    return total


COUNTING_NOTES = {
    Counting.X_WEIGHTED: _l(
        " as X counts (a link %(link)s, an emoji or a CJK character 2)", link=X_LINK_LENGTH
    ),
}


def text_length(text: str, network: str) -> int:
    """The length of `text` as `network` counts it."""
    rules = rules_for(network)
    if rules.counting is Counting.X_WEIGHTED:
        return x_weighted_length(text, rules.max_length)
    return visible_length(text)


def body_problem(body: str, network: str, channel_name: str) -> Text | None:
    """What is wrong with `body` on this network, in words, or None."""
    rules = rules_for(network)
    if len(body) > MAX_TEXT_LENGTH:
        return _l(
            "is longer than %(max)s characters, more than any channel takes", max=MAX_TEXT_LENGTH
        )
    if rules.max_length is not None:
        length = text_length(body, network)
        if length > rules.max_length:
            how = COUNTING_NOTES.get(rules.counting, "")
            return _l(
                "is %(length)s characters long%(how)s; %(channel)s (%(network)s) allows at most "
                "%(max)s. Shorten the text: it is never cut automatically.",
                length=length,
                how=how,
                channel=channel_name,
                network=rules.label,
                max=rules.max_length,
            )
    if not rules.links_allowed and _LINK.search(body):
        return _l(
            "contains a link; %(channel)s (%(network)s) does not allow links in posts. Remove "
            "the link or give this channel its own text.",
            channel=channel_name,
            network=rules.label,
        )
    return None
