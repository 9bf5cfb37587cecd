"""Accessibility in a real browser (Debian's headless Chromium): WCAG 2.1 AA, as public bodies
among our users must meet it.

Every page of the app, for a team in the middle of a crisis (tests/support/crisis_team.py), in
German and in English, on a laptop (1280 px) and on a phone (390 px), is checked by axe-core
(pinned in package.json): no violation of impact "serious" or "critical" under the WCAG 2.0/2.1
A and AA rules. The failure lists each one with its rule, element, page, language and width.
On the same walk each page's layout is checked (tests/support/layout.py: nothing scrolls
sideways on a phone, no menu entry wraps on a laptop, the crisis banner on top), and the main
pages' screenshots are taken (build/screenshots/layout-<page>-<language>-<width>.png).

Then the team's story with the keyboard alone: a planner plans a post, a head approves it,
declares a crisis and, once the post has been held, reviews it; every element that takes the
focus on the way shows it with an outline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from calendar_app.db import Database
from calendar_app.models import Crisis, User
from calendar_app.timeutil import now_utc
from tests.support.axe import Finding, findings, report, with_axe
from tests.support.browser import (
    PASSWORD,
    TEAM,
    WIDTHS,
    LiveSite,
    dispatch_pass,
    seed,
    site_of,
)
from tests.support.crisis_team import CrisisTeam
from tests.support.layout import assert_laid_out
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


# The pages whose screenshots the README shows (build/screenshots/layout-<name>-<lang>-<width>).
SCREENSHOTS = {
    "calendar-month": "calendar",
    "compose": "compose",
    "approvals": "approvals",
    "crisis": "crisis",
    "review-held-post": "review",
    "channels": "channels",
    "people": "people",
    "audit": "audit",
    "report": "report",
    "team": "team",
}


# Pages outside the app's shell: printed or saved as PDF.
DOCUMENTS = {"report"}


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

    def audit(name: str, laid_out: bool = True) -> None:
        assert page.locator("html").get_attribute("lang") == language, name
        if laid_out:
            assert_laid_out(page, name, language, width, document=name in DOCUMENTS)
        if name in SCREENSHOTS:
            screenshot(page, f"layout-{SCREENSHOTS[name]}-{language}-{width}")
        found.extend(findings(page, name, language, width))
        audited.append(name)

    page.goto(f"{site.url}/login")
    audit("login", laid_out=False)
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
            audit("menu", laid_out=False)
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


# The names the walk finds things by, in each language.
WORDS = {
    "de": {
        "main menu": "Hauptmenü", "menu": "Menü", "new post": "Neuer Beitrag", "title": "Titel",
        "submit": "Zur Freigabe einreichen", "submitted": "Zur Freigabe eingereicht",
        "approvals": "Freigaben", "approve": "Freigeben", "approved": "Freigegeben",
        "reason": "Grund", "all channels": "Alle Kanäle", "declare": "Krise ausrufen",
        "crisis": "Krise", "discard": "Verwerfen", "sure": "Sind Sie sicher?",
        "cancel": "Abbrechen", "log out": "Abmelden", "log in": "Anmelden",
    },
    "en": {
        "main menu": "Main menu", "menu": "Menu", "new post": "New post", "title": "Title",
        "submit": "Submit for approval", "submitted": "Submitted for approval",
        "approvals": "Approvals", "approve": "Approve", "approved": "Approved",
        "reason": "Reason", "all channels": "All channels", "declare": "declare the crisis",
        "crisis": "Crisis", "discard": "Discard", "sure": "Are you sure?", "cancel": "Cancel",
        "log out": "Log out", "log in": "Log in",
    },
}  # fmt: skip
TITLE = "Tag der offenen Baustelle"


@dataclass
class Walk:
    """One person's keyboard in one language at one width: on a phone the menu is folded
    behind its button, which the walk opens with the keyboard before it goes to a link."""

    page: object
    site: LiveSite
    words: dict[str, str]
    phone: bool

    def log_in(self, who: str) -> None:
        """The login form: the e-mail field has the focus when the page opens."""
        page = self.page
        page.goto(f"{self.site.url}/login")  # type: ignore[attr-defined]
        sync_api.expect(page.locator("#email")).to_be_focused()  # type: ignore[attr-defined]
        type_in(page, self.site.email(who))
        press(page, "Tab")
        type_in(page, PASSWORD)
        follow(page)
        sync_api.expect(page.locator("#calendar")).to_be_visible()  # type: ignore[attr-defined]

    def open_menu(self) -> None:
        """On a phone: back to the menu button and open it (Enter); elsewhere the menu is open."""
        if not self.phone:
            return
        button = self.page.get_by_role("button", name=self.words["menu"], exact=True)  # type: ignore[attr-defined]
        tab_to(self.page, button, back=True)
        press(self.page, "Enter")
        sync_api.expect(button).to_have_attribute("aria-expanded", "true")

    def to_menu(self, name: str) -> None:
        """Follow a link of the main menu (Shift+Tab from wherever the focus is). "Krise" is
        one word of "Krise ausrufen": that one is found by its exact name."""
        self.open_menu()
        menu = self.page.get_by_role("navigation", name=self.words["main menu"])  # type: ignore[attr-defined]
        link = menu.get_by_role("link", name=self.words[name], exact=name == "crisis")
        tab_to(self.page, link, back=True)
        follow(self.page)

    def log_out(self) -> None:
        self.open_menu()
        tab_to(self.page, self.page.get_by_role("button", name=self.words["log out"]), back=True)  # type: ignore[attr-defined]
        follow(self.page)
        heading = self.page.get_by_role("heading", name=self.words["log in"])  # type: ignore[attr-defined]
        sync_api.expect(heading).to_be_visible()


def speaking(site: LiveSite, locale: str) -> None:
    """Everybody on the site reads the pages in `locale`."""
    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            session.execute(update(User).values(locale=locale))
    finally:
        db.dispose()


@pytest.mark.parametrize(("language", "width"), [("de", "1280"), ("en", "390")])
def test_plan_approve_declare_review_with_the_keyboard_alone(
    browser: object, tmp_path_factory: pytest.TempPathFactory, language: str, width: str
) -> None:
    """Both languages and both widths between the two runs: each needs a quiet team of its
    own, since the walk ends in a crisis."""
    expect = sync_api.expect
    words = WORDS[language]
    with site_of(tmp_path_factory, f"keyboard-{language}", seed) as (url, db_url, _env, ids):
        site = LiveSite(url, db_url, ids)
        speaking(site, language)
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport=WIDTHS[width], locale="de-DE" if language == "de" else "en-GB"
        )
        context.set_default_timeout(10_000)
        with_axe(context)  # for the two dialogs on the way, which the walk of every page misses
        page = context.new_page()
        page.on("pageerror", lambda error: pytest.fail(f"JavaScript error: {error}"))
        walk = Walk(page, site, words, phone=width == "390")
        found: list[Finding] = []
        name = f"{language}-{width}"

        # A planner plans a post for X: from the menu to the composer, field by field.
        walk.log_in("planner")
        walk.to_menu("new post")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        tab_to(page, page.get_by_label(words["title"]))
        type_in(page, TITLE)
        tab_to(page, page.get_by_label("Text", exact=True))
        type_in(page, "Am Samstag zeigen wir die neue Fernwärmeleitung.")
        x = page.get_by_role("checkbox", name="X @StadtwerkeNH")
        tab_to(page, x)
        press(page, "Space")
        expect(x).to_be_checked()
        publish_at = page.locator("#publish_at")
        tab_to(page, publish_at)  # the composer proposes a time in the future: it stays
        screenshot(page, f"keyboard-focus-compose-{name}")
        due = datetime.fromisoformat(publish_at.input_value()).replace(tzinfo=TEAM)
        assert due > now_utc()
        tab_to(page, page.get_by_role("button", name=words["submit"]))
        follow(page)
        expect(page.get_by_role("status")).to_contain_text(words["submitted"])
        walk.log_out()

        # A head finds it in the calendar, past its buttons, by its visible time and title (on
        # a phone the week's list, where the time stands in a cell of its own).
        walk.log_in("head")
        page.goto(f"{site.url}/?date={due:%Y-%m-%d}")
        shown = TITLE if walk.phone else f"{due:%H:%M} {TITLE}"
        tab_to(page, page.get_by_role("link", name=shown))
        screenshot(page, f"keyboard-focus-calendar-{name}")

        # She approves it from the approval queue.
        walk.to_menu("approvals")
        card = page.locator(".review-card", has_text=TITLE)
        tab_to(page, card.get_by_role("button", name=words["approve"]))
        follow(page)
        expect(page.get_by_role("status")).to_contain_text(words["approved"])
        assert post_status(site, TITLE) == "scheduled"

        # She declares a crisis: the red button opens the dialog with the reason to fill in.
        tab_to(page, page.locator("#crisis-button"))
        press(page, "Enter")
        dialog = page.locator("#declare-dialog")
        expect(dialog.get_by_label(words["reason"])).to_be_focused()
        found += findings(page, "declare-dialog", language, width)
        type_in(page, "Leck an der Fernwärmeleitung")
        every_channel = dialog.get_by_label(words["all channels"])
        tab_to(page, every_channel)  # the group's chosen option takes the focus: all, by default
        expect(every_channel).to_be_checked()
        tab_to(page, dialog.get_by_role("button", name=words["declare"]))
        follow(page)
        expect(page.locator("#crisis-banner")).to_contain_text("Leck an der Fernwärmeleitung")

        # The post falls due and is held; she reviews it and discards it, answering the
        # "are you sure?" dialog with the keyboard too.
        dispatch_pass(site, due + timedelta(minutes=1))
        assert post_status(site, TITLE) == "held"
        walk.to_menu("crisis")
        row = page.locator("tr", has_text=TITLE)
        tab_to(page, row.get_by_role("button", name=words["discard"]))
        press(page, "Enter")
        ask = page.get_by_role("dialog", name=words["sure"])
        expect(ask.get_by_role("button", name=words["cancel"])).to_be_focused()
        found += findings(page, "confirm-dialog", language, width)
        tab_to(page, ask.get_by_role("button", name=words["discard"]))
        follow(page)
        expect(page.get_by_role("status")).to_be_visible()
        assert post_status(site, TITLE) == "discarded"
        context.close()
    if found:
        pytest.fail(report(found), pytrace=False)
