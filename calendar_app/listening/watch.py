"""What a channel watches besides what is said to its account: hashtags and search terms, and
the one rule by which a post is matched against them on every network.

- A **hashtag** matches a post that carries it: as a tag the network names (Bluesky's tag
  facets, Mastodon's `tags`) or as `#tag` in its text, in any case (`#Wasserwerk` and
  `#WASSERWERK` are the same tag).
- A **search term** (a word, or a few) matches a post that has it as whole words, in any case
  and any script: "Strom" matches "Strom fällt aus" and "STROM!", not "Stromrechnung"; "Straße"
  matches "STRASSE" (case folding, as the routing rules fold). Several words match with any
  white space between them.

Tags and terms are stored folded (holds.fold); the comparison folds both sides all the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from calendar_app.holds import fold

HASHTAG_KIND = "hashtag"
TERM_KIND = "term"
TAG_FACET = "app.bsky.richtext.facet#tag"
# A hashtag in text: `#` not inside a word, then word characters (any script).
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")


@lru_cache(maxsize=512)
def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in term.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def has_term(text: str, term: str) -> bool:
    """`term` occurs in `text` as whole words (both folded)."""
    folded = fold(term)
    return bool(folded) and _term_pattern(folded).search(fold(text)) is not None


def hashtags_in(text: str, named: Iterable[Any] = ()) -> set[str]:
    """The folded hashtags of a post: those written as `#tag` and those the network names."""
    found = {fold(tag) for tag in _HASHTAG.findall(text)}
    found.update(fold(str(tag)).lstrip("#") for tag in named if isinstance(tag, str) and tag)
    return found


def facet_tags(record: dict[str, Any]) -> list[str]:
    """The tags a Bluesky post's facets name (`app.bsky.richtext.facet#tag`)."""
    return [
        feature["tag"]
        for facet in record.get("facets") or ()
        if isinstance(facet, dict)
        for feature in facet.get("features") or ()
        if isinstance(feature, dict)
        and feature.get("$type") == TAG_FACET
        and isinstance(feature.get("tag"), str)
    ]


@dataclass(frozen=True)
class Watch:
    """A channel's watched hashtags and search terms, folded."""

    tags: frozenset[str] = field(default_factory=frozenset)
    terms: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tags or self.terms)

    def kind_of(self, text: str, named_tags: Iterable[Any] = ()) -> str | None:
        """`hashtag` when the post carries a watched tag, `term` when it has a watched term,
        else None (a post with both is a hashtag item: the more specific choice)."""
        if self.tags and hashtags_in(text, named_tags) & self.tags:
            return HASHTAG_KIND
        if any(has_term(text, term) for term in self.terms):
            return TERM_KIND
        return None


NOTHING_WATCHED = Watch()
