"""Accessibility in a real browser (Debian's headless Chromium): WCAG 2.1 AA, as public bodies
among our users must meet it.

Every page of the app, for a team in the middle of a crisis (tests/support/crisis_team.py), in
German and in English, on a laptop (1280 px) and on a phone (390 px), is checked by axe-core
(pinned in package.json): no violation of impact "serious" or "critical" under the WCAG 2.0/2.1
A and AA rules. The failure lists each one with its rule, element, page, language and width.

Then the team's story with the keyboard alone: a planner plans a post, a head approves it,
declares a crisis and, once the post has been held, reviews it; every element that takes the
focus on the way shows it with an outline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from calendar_app.db import Database
from calendar_app.models import Crisis
from calendar_app.timeutil import now_utc
from tests.support.axe import Finding, findings, report, with_axe
from tests.support.browser import PASSWORD, TEAM, WIDTHS, LiveSite, dispatch_pass
from tests.support.crisis_team import CrisisTeam
from tests.test_ui_browser import add_campaign_with_a_post, post_status, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LOCALES = {"de": "de-DE", "en": "en-US"}
WHO = {"de": "admin", "en": "admin-en"}  # an admin sees every page


@dataclass
class Extras:
    campaign: int
    crisis: int


@pytest.fixture(scope="module")
def extras(crisis_team: CrisisTeam) -> Extras:
    """What the crisis team lacks for a page of its own: a campaign; and the crisis' number."""
    site = crisis_team.site
    campaign = add_campaign_with_a_post(site, crisis_team.day + timedelta(days=7))
    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            crisis_id = session.scalars(select(Crisis.id).order_by(Crisis.id.desc())).first()
    finally:
        db.dispose()
    assert crisis_id is not None
    return Extras(campaign, crisis_id)


def every_page(team: CrisisTeam, extras: Extras) -> dict[str, str]:
    """Every page a signed-in admin can open, by name (the calendar's week and list views are
    opened from the month)."""
    return {
        "calendar": f"/?date={team.day:%Y-%m-%d}",
        "agenda": "/agenda",
        "compose": "/compose",
        "import": "/posts/import",
        "post": f"/posts/{team.approved_post}",
        "edit": f"/posts/{team.approved_post}/edit",
        "review-held-post": f"/posts/{team.held_post}",
        "approvals": "/approvals",
        "crisis": "/crisis",
        "declare": "/crisis/declare",
        "timeline": f"/crisis/{extras.crisis}/timeline",
        "blackouts": "/blackouts",
        "playbooks": "/playbooks",
        "new-playbook": "/playbooks/new",
        "campaigns": "/campaigns",
        "campaign": f"/campaigns/{extras.campaign}",
        "new-campaign": "/campaigns/new",
        "team": "/team",
        "report": "/reports/monthly",
        "outbox": "/outbox",
        "inbox": "/inbox",
        "channels": "/admin/channels",
        "channel": f"/admin/channels/{team.site.channels['x']}",
        "departments": "/admin/departments",
        "people": "/admin/people",
        "dashboard": "/dashboard",
        "audit": "/audit",
        "notifications": "/notifications",
        "subscription": "/subscription",
    }


# The calendar's other views, by the button that opens them (the phone has no week view).
CALENDAR_VIEWS = {"week": ".fc-timeGridWeek-button", "list": ".fc-listWeek-button"}


def sign_in(page: object, site: LiveSite, who: str) -> None:
    """The login form, by its fields' names: it speaks the browser's language."""
    page.locator("input[name=email]").fill(site.email(who))  # type: ignore[attr-defined]
    page.locator("input[name=password]").fill(PASSWORD)  # type: ignore[attr-defined]
    page.locator("form button[type=submit]").click()  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#calendar")).to_be_visible()  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("language", list(LOCALES))
def test_every_page_meets_wcag_21_aa_without_serious_violations(
    browser: object, crisis_team: CrisisTeam, extras: Extras, language: str, width: str
) -> None:
    site = crisis_team.site
    context = browser.new_context(viewport=WIDTHS[width], locale=LOCALES[language])  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    with_axe(context)
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"JavaScript error: {error}"))
    found: list[Finding] = []
    audited: list[str] = []

    def audit(name: str) -> None:
        assert page.locator("html").get_attribute("lang") == language, name
        found.extend(findings(page, name, language, width))
        audited.append(name)

    page.goto(f"{site.url}/login")
    audit("login")
    sign_in(page, site, WHO[language])
    for name, path in every_page(crisis_team, extras).items():
        page.goto(f"{site.url}{path}")
        page.wait_for_load_state("networkidle")
        if name != "calendar":
            audit(name)
            continue
        sync_api.expect(page.locator("#calendar .post-event").first).to_be_visible()
        audit("calendar-month")
        # The phone's menu opens on top of the page (the crisis dialog: in the keyboard test).
        if page.locator("#menu-button").is_visible():
            page.locator("#menu-button").click()
            audit("menu")
            page.keyboard.press("Escape")
        for view, button in CALENDAR_VIEWS.items():
            if page.locator(button).count():
                page.locator(button).click()
                sync_api.expect(page.locator(f"{button}.fc-button-active")).to_be_visible()
                page.wait_for_load_state("networkidle")
                audit(f"calendar-{view}")
    context.close()
    # The login, every page, and the calendar's list plus the week (laptop) or the menu (phone).
    assert len(audited) == len(every_page(crisis_team, extras)) + 3, audited
    print(f"{len(audited)} page views audited in {language} at {width} px")
    if found:
        pytest.fail(report(found), pytrace=False)


# What has the focus, and whether it shows it: an outline that is drawn (style, width, colour).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    element: el.outerHTML.slice(0, 120),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
      && style.outlineColor !== "transparent" && !/rgba\\(.*, 0\\)$/.test(style.outlineColor),
  };
}"""


def press(page: object, key: str) -> None:
    """One key, then: whatever has the focus shows it."""
    page.keyboard.press(key)  # type: ignore[attr-defined]
    focused = page.evaluate(FOCUSED)  # type: ignore[attr-defined]
    if focused is not None:
        assert focused["outline"], f"no visible focus after {key} on {focused['element']}"


def follow(page: object, key: str = "Enter") -> None:
    """A key that sends a form or follows a link: wait for the next page."""
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.keyboard.press(key)  # type: ignore[attr-defined]


def tab_to(page: object, target: object, *, back: bool = False, limit: int = 80) -> None:
    """Tab (or Shift+Tab) until `target` has the focus, checking the focus on every stop."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(limit):
        press(page, key)
        if target.evaluate("el => el === document.activeElement"):  # type: ignore[attr-defined]
            return
    pytest.fail(f"{target} never had the focus after {limit} presses of {key}")


def type_in(page: object, text: str) -> None:
    page.keyboard.type(text)  # type: ignore[attr-defined]


def keyboard_login(page: object, site: LiveSite, who: str) -> None:
    """The login form with the keyboard: the e-mail field has the focus when the page opens."""
    page.goto(f"{site.url}/login")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#email")).to_be_focused()  # type: ignore[attr-defined]
    type_in(page, site.email(who))
    press(page, "Tab")
    type_in(page, PASSWORD)
    follow(page)
    sync_api.expect(page.locator("#calendar")).to_be_visible()  # type: ignore[attr-defined]


def keyboard_logout(page: object) -> None:
    """Log out is in the menu, above the page: back with Shift+Tab from wherever the focus is."""
    tab_to(page, page.get_by_role("button", name="Abmelden"), back=True)  # type: ignore[attr-defined]
    follow(page)
    sync_api.expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()  # type: ignore[attr-defined]


TITLE = "Tag der offenen Baustelle"


def test_plan_approve_declare_review_with_the_keyboard_alone(
    browser: object, live_site: LiveSite
) -> None:
    expect = sync_api.expect
    site = live_site
    context = browser.new_context(viewport=WIDTHS["1280"], locale="de-DE")  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    with_axe(context)  # for the two dialogs on the way, which the walk of every page misses
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"JavaScript error: {error}"))
    found: list[Finding] = []
    menu = page.get_by_role("navigation", name="Hauptmenü")

    # A planner plans a post for X: from the menu to the composer, field by field.
    keyboard_login(page, site, "planner")
    tab_to(page, menu.get_by_role("link", name="Neuer Beitrag"))
    follow(page)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    tab_to(page, page.get_by_label("Titel"))
    type_in(page, TITLE)
    tab_to(page, page.get_by_label("Text", exact=True))
    type_in(page, "Am Samstag zeigen wir die neue Fernwärmeleitung.")
    x = page.get_by_role("checkbox", name="X @StadtwerkeNH")
    tab_to(page, x)
    press(page, "Space")
    expect(x).to_be_checked()
    publish_at = page.locator("#publish_at")
    tab_to(page, publish_at)  # the composer proposes a time in the future: it stays
    screenshot(page, "keyboard-focus-compose-de-1280")
    due = datetime.fromisoformat(publish_at.input_value()).replace(tzinfo=TEAM)
    assert due > now_utc()
    tab_to(page, page.get_by_role("button", name="Zur Freigabe einreichen"))
    follow(page)
    expect(page.get_by_role("status")).to_contain_text("Zur Freigabe eingereicht")
    keyboard_logout(page)

    # A head finds it in the calendar, past its buttons, by its visible time and title.
    keyboard_login(page, site, "head")
    page.goto(f"{site.url}/?date={due:%Y-%m-%d}")
    tab_to(page, page.get_by_role("link", name=f"{due:%H:%M} {TITLE}"))
    screenshot(page, "keyboard-focus-calendar-de-1280")

    # She approves it from the approval queue.
    tab_to(page, menu.get_by_role("link", name="Freigaben"), back=True)
    follow(page)
    card = page.locator(".review-card", has_text=TITLE)
    tab_to(page, card.get_by_role("button", name="Freigeben"))
    follow(page)
    expect(page.get_by_role("status")).to_contain_text("Freigegeben")
    assert post_status(site, TITLE) == "scheduled"

    # She declares a crisis: the red button opens the dialog with the reason to fill in.
    tab_to(page, page.locator("#crisis-button"))
    press(page, "Enter")
    dialog = page.locator("#declare-dialog")
    expect(dialog.get_by_label("Grund")).to_be_focused()
    found += findings(page, "declare-dialog", "de", "1280")
    type_in(page, "Leck an der Fernwärmeleitung")
    every_channel = dialog.get_by_label("Alle Kanäle")
    tab_to(page, every_channel)  # the group's chosen option takes the focus: all, by default
    expect(every_channel).to_be_checked()
    tab_to(page, dialog.get_by_role("button", name="Krise ausrufen"))
    follow(page)
    expect(page.locator("#crisis-banner")).to_contain_text("Leck an der Fernwärmeleitung")

    # The post falls due and is held; she reviews it and discards it, answering the
    # "are you sure?" dialog with the keyboard too.
    dispatch_pass(site, due + timedelta(minutes=1))
    assert post_status(site, TITLE) == "held"
    tab_to(page, menu.get_by_role("link", name="Krise", exact=True), back=True)
    follow(page)
    row = page.locator("tr", has_text=TITLE)
    tab_to(page, row.get_by_role("button", name="Verwerfen"))
    press(page, "Enter")
    ask = page.get_by_role("dialog", name="Sind Sie sicher?")
    expect(ask.get_by_role("button", name="Abbrechen")).to_be_focused()
    found += findings(page, "confirm-dialog", "de", "1280")
    tab_to(page, ask.get_by_role("button", name="Verwerfen"))
    follow(page)
    expect(page.get_by_role("status")).to_be_visible()
    assert post_status(site, TITLE) == "discarded"
    context.close()
    if found:
        pytest.fail(report(found), pytrace=False)
