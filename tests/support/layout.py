"""The layout every page must keep, checked in a real browser wherever a test opens a page:
the crisis banner above the page's own heading, nothing that scrolls sideways on a phone, and
no menu entry wrapped onto a second line on a laptop."""

from __future__ import annotations

SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
# The outermost elements that reach past the window's right edge, to name in a failure.
TOO_WIDE = """() => [...document.body.querySelectorAll('*')]
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(el => el.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
  .slice(0, 5)
  .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
    + ' ' + Math.round(el.getBoundingClientRect().width) + 'px')"""
# Each menu entry's words sit on one line: an inline box that wraps has more than one rectangle.
WRAPPED_MENU_ENTRIES = """() => [...document.querySelectorAll('header.side nav a')]
  .filter(a => a.querySelector('.label').getClientRects().length !== 1
    || a.getBoundingClientRect().height > 2.75 * parseFloat(getComputedStyle(a).fontSize))
  .map(a => a.textContent.trim())"""


def assert_laid_out(
    page: object, name: str, language: str, width: str, *, document: bool = False
) -> None:
    """The page open in `page` (a signed-in page of a team in a crisis) keeps the layout.
    A `document` (the printable report) has no menu and no banner; it too fits a phone."""
    if not document:
        banner = page.locator("#crisis-banner")  # type: ignore[attr-defined]
        assert banner.is_visible(), f"{name}: no crisis banner"
        heading = page.locator("main h1").first  # type: ignore[attr-defined]
        assert banner.bounding_box()["y"] < heading.bounding_box()["y"], f"{name}: below h1"
    if width == "390":
        assert page.evaluate(SIDEWAYS), (  # type: ignore[attr-defined]
            f"{name} scrolls sideways at 390 px in {language}: "
            f"{page.evaluate('document.documentElement.scrollWidth')} px wide, "  # type: ignore[attr-defined]
            f"too wide: {page.evaluate(TOO_WIDE)}"  # type: ignore[attr-defined]
        )
    else:
        assert page.evaluate(WRAPPED_MENU_ENTRIES) == [], name  # type: ignore[attr-defined]
