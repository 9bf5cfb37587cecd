"""Channel rules in one table: what each network accepts.

Length is counted as people see characters (grapheme clusters: an emoji with a skin tone or a
flag is one), and a body that is too long is rejected, never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

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


@dataclass(frozen=True)
class ChannelRules:
    label: str
    max_length: int | None  # None: no limit
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
# Limits as each network counts them, in characters as people see them (checked 2026-11).
# Image limits as each network documents them for uploads through its API (checked 2026-11);
# Mastodon's are its defaults, the channel's server announces its own (networks/mastodon.py).
RULES: dict[str, ChannelRules] = {
    "x": ChannelRules("X", 280, max_image_bytes=5 * MB, max_image_side=8192),
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


def body_problem(body: str, network: str, channel_name: str) -> str | None:
    """What is wrong with `body` on this network, in words, or None."""
    rules = rules_for(network)
    if len(body) > MAX_TEXT_LENGTH:
        return f"is longer than {MAX_TEXT_LENGTH} characters, more than any channel takes"
    if rules.max_length is not None:
        length = visible_length(body)
        if length > rules.max_length:
            return (
                f"is {length} characters long; {channel_name} ({rules.label}) allows at most "
                f"{rules.max_length}. Shorten the text: it is never cut automatically."
            )
    if not rules.links_allowed and _LINK.search(body):
        return (
            f"contains a link; {channel_name} ({rules.label}) does not allow links in posts. "
            "Remove the link or give this channel its own text."
        )
    return None
