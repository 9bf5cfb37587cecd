"""Text people write, in one place: which characters it may hold (checked at input by the API's
schemas and by the browser's forms) and how it is shortened for a one-line summary."""

from __future__ import annotations

import regex

# Unicode category Cc (fixed for good by Unicode's stability policy): C0 controls, DEL, C1
# controls. None of them belongs in a title or a post: they are invisible, break the formats
# the plan is written to (an iCal line, a CSV cell, a mail header) or make terminals misbehave.
_CONTROL = regex.compile(r"\p{Cc}")
# A text of several lines keeps its line breaks (LF; CR LF as browsers send them) and tabs
# (pasted tables). A CR on its own is not a line break anywhere the text goes: refused.
_CONTROL_IN_LINES = regex.compile(r"(?!\r\n)[\p{Cc}--[\n\t]]", regex.V1)
_GRAPHEME = regex.compile(r"\X")
ELLIPSIS = "…"


def control_character(text: str, *, multiline: bool = False) -> str | None:
    """The first control character `text` may not hold, or None. One line of text (a title, a
    name) holds none; a text of several lines (a post, a note) may hold line breaks and tabs."""
    found = (_CONTROL_IN_LINES if multiline else _CONTROL).search(text)
    return found.group() if found else None


def printable(text: str) -> str:
    """`text` with line breaks as LF and no other control character than LF and tab: for text
    stored before the input refused them, on its way into a file format."""
    return _CONTROL_IN_LINES.sub("", text.replace("\r\n", "\n"))


def code_point(char: str) -> str:
    """How a refused character is named in an error message: U+0007."""
    return f"U+{ord(char):04X}"


def shortened(text: str, length: int) -> str:
    """`text` in at most `length` characters as people see them (grapheme clusters): cut
    between two of them, never inside one (a flag, a family emoji joined by ZWJ, a skin tone,
    a letter with its accents), and marked with an ellipsis."""
    if len(text) <= length:  # never more clusters than code points: nothing to cut
        return text
    clusters = _GRAPHEME.findall(text)
    if len(clusters) <= length:
        return text
    return "".join(clusters[: length - 1]).rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    """Every run of whitespace (line breaks included) as one space."""
    return " ".join(text.split())
