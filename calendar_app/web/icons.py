"""Icons in pages: Tabler's outline set (MIT), vendored by `npm run vendor` into
static/vendor/tabler-icons (scripts/vendor-icons.mjs names the ones we use).

They are inlined as <svg> rather than linked as images, so they take the colour of the text
around them (`stroke="currentColor"`) and need no extra request. Icons are decoration next to a
word, so they are hidden from screen readers; an icon that stands alone gets a label.
"""

from __future__ import annotations

import re
from functools import cache

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from config import PROJECT_ROOT

ICON_FOLDER = PROJECT_ROOT / "static" / "vendor" / "tabler-icons"

# The network a channel publishes to (channel_rules.NETWORKS) and its icon.
NETWORK_ICONS = {
    "x": "brand-x",
    "mastodon": "brand-mastodon",
    "bluesky": "brand-bluesky",
    "threads": "brand-threads",
    "linkedin": "brand-linkedin",
    "instagram": "brand-instagram",
    "facebook": "brand-facebook",
    "blog": "article",
    "other": "world",
}

# A network's name, for an icon that stands alone (the calendar's posts).
NETWORK_NAMES = {
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "threads": "Threads",
    "linkedin": "LinkedIn",
    "instagram": "Instagram",
    "facebook": "Facebook",
    "blog": _l("Blog"),
    "other": _l("Other network"),
}

_INNER = re.compile(r"<svg\b[^>]*>(.*)</svg>", re.DOTALL)


@cache
def _drawing(name: str) -> str:
    """The paths of one icon (the vendored file's <svg> element without its attributes)."""
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"not an icon name: {name!r}")
    text = (ICON_FOLDER / f"{name}.svg").read_text(encoding="utf-8")
    match = _INNER.search(text)
    if match is None:
        raise ValueError(f"{name}.svg holds no <svg> element")
    return " ".join(match.group(1).split())


def icon(name: str, label: str | None = None, css: str = "") -> Markup:
    """`{{ icon("calendar") }}`: the icon as inline SVG, 1em high, in the text's colour."""
    naming = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    # Safe as markup: the drawing is our vendored file, and every value from outside is escaped.
    return Markup(  # noqa: S704
        f'<svg class="icon {escape(css)}" viewBox="0 0 24 24" width="24" height="24" '
        'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" '
        f'stroke-linejoin="round" focusable="false" {naming}>{_drawing(name)}</svg>'
    )


def network_icon(network: str, label: str | None = None) -> Markup:
    return icon(NETWORK_ICONS.get(network, "world"), label, css=f"network network-{network}")
