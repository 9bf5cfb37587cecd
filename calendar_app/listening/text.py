"""Mastodon's HTML as plain text: only the text nodes are kept, markup never reaches a page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BREAKS = re.compile(r"\n{3,}")


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """The text a reader sees in a status' HTML: paragraphs and line breaks kept, entities
    decoded, tags dropped. The result is text, to be escaped like any other when shown."""
    parser = _TextOnly()
    parser.feed(html or "")
    parser.close()
    text = "".join(parts for parts in parser.parts).replace("\r", "")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return _BREAKS.sub("\n\n", "\n".join(lines)).strip()
