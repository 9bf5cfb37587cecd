"""The audit log in a real browser (Debian's headless Chromium), in German and in English, on a
laptop (1280 px) and on a phone (390 px), with the team of tests/support/crisis_team.py in the
middle of a crisis. Screenshots go to build/screenshots/audit-log-<language>-<width>.png.

On the phone each entry is a card: nothing scrolls sideways, neither the page nor the table, and
no cell runs past the screen's edge. The action names are words in the reader's language, and
the filters narrow the log down."""

from __future__ import annotations

import pytest

from tests.support.browser import WIDTHS
from tests.support.crisis_team import CrisisTeam
from tests.test_ui_browser import log_in, new_page, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

# Whatever sticks out past the right edge of the screen, or a box that scrolls sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const shown = [...document.querySelectorAll('main *')]
    .filter(e => !e.closest('table.cards thead'));  // hidden but for screen readers
  const cut = shown
    .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName + '.' + e.className + ': ' + e.textContent.trim().slice(0, 40));
  const scrolling = shown
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.tagName + '.' + e.className);
  return {cut, scrolling, page: document.documentElement.scrollWidth <= window.innerWidth};
}"""

WORDS = {
    "de": ("Krise ausgerufen", "zur Freigabe eingereicht", "Wer", "alle Aktionen"),
    "en": ("crisis declared", "submitted for approval", "Who", "all actions"),
}


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_audit_log_fits_a_phone_and_speaks_the_readers_language(
    browser: object, crisis_team: CrisisTeam, language: str
) -> None:
    team = crisis_team
    who = "admin" if language == "de" else "admin-en"
    for width, viewport in WIDTHS.items():
        page = new_page(browser, viewport)
        log_in(page, team.site, who)
        page.goto(f"{team.site.url}/audit")  # type: ignore[attr-defined]
        page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
        text = page.locator("main").inner_text()  # type: ignore[attr-defined]
        for words in WORDS[language]:
            assert words in text, (language, width, words)
        assert "declare_crisis" not in text  # the key is the machine's, not the reader's
        screenshot(page, f"audit-log-{language}-{width}")
        if width == "390":
            found = page.evaluate(OVERFLOW)  # type: ignore[attr-defined]
            assert found == {"cut": [], "scrolling": [], "page": True}, found

        # Filtered to one action: only its entries stay.
        what = page.locator("select[name=action]")  # type: ignore[attr-defined]
        what.select_option("declare_crisis")
        page.get_by_role("button", name="Filtern" if language == "de" else "Filter").click()  # type: ignore[attr-defined]
        page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
        actions = page.locator("table.audit span.action")  # type: ignore[attr-defined]
        sync_api.expect(actions).to_have_count(1)
        assert actions.get_attribute("title") == "declare_crisis"
        if width == "390":
            screenshot(page, f"audit-log-filtered-{language}-{width}")
            assert page.evaluate(OVERFLOW)["cut"] == []  # type: ignore[attr-defined]
        page.context.close()  # type: ignore[attr-defined]
