"""The calendar in a real browser: a headless Chromium (Debian's) against `calendar-app serve`.

One story, as a team lives it: a planner composes for two channels and the counter refuses an
over-long X post; a head approves it; a head declares a crisis; the planner sees the banner; the
post falls due and is held; a head reviews and releases it and lifts the crisis. Screenshots of
the calendar, the composer, the banner and the review are saved under build/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from calendar_app.db import Database
from calendar_app.models import Post
from calendar_app.timeutil import now_utc
from config import PROJECT_ROOT
from tests.support.browser import (
    PASSWORD,
    TEAM,
    LiveSite,
    chromium,
    dispatch_pass,
)

SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
XSS = "<script>alert(1)</script>"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")


@pytest.fixture(scope="module")
def browser(live_site: LiveSite) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def new_page(browser: object, viewport: dict[str, int] = LAPTOP, locale: str = "de-DE") -> object:
    context = browser.new_context(viewport=viewport, locale=locale)  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    page.on("pageerror", lambda error: pytest.fail(f"JavaScript error: {error}"))
    return page


def log_in(page: object, site: LiveSite, who: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/login")  # type: ignore[attr-defined]
    page.get_by_label("E-Mail").fill(site.email(who))  # type: ignore[attr-defined]
    page.get_by_label("Passwort").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Anmelden").click()  # type: ignore[attr-defined]


def log_out(page: object) -> None:
    page.get_by_role("button", name="Abmelden").click()  # type: ignore[attr-defined]
    sync_api.expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.exists(), path
    assert path.stat().st_size > 1024, path
    return path


def wall_clock(instant: datetime) -> str:
    return instant.astimezone(TEAM).strftime("%Y-%m-%dT%H:%M")


def post_status(site: LiveSite, title: str) -> str:
    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            from sqlalchemy import select

            return session.scalars(select(Post.status).where(Post.title == title)).one()
    finally:
        db.dispose()


TITLE = "Sponsoring Puppentheater-Museum"


def test_plan_approve_declare_review(browser: object, live_site: LiveSite) -> None:
    expect = sync_api.expect
    site = live_site
    page = new_page(browser)

    # Wrong credentials are named as such.
    log_in(page, site, "planner", password="falsch-falsch")
    expect(page.get_by_role("alert")).to_contain_text("E-Mail oder Passwort ist falsch")

    # The planner composes for two channels; X's 280 characters are enforced as she types.
    log_in(page, site, "planner")
    expect(page.locator("#calendar .fc-toolbar-title")).to_be_visible()
    page.get_by_role("link", name="Neuer Beitrag").first.click()
    page.get_by_label("Titel").fill(TITLE)
    page.get_by_role("checkbox", name="X @StadtwerkeNH").check()
    page.get_by_role("checkbox", name="LinkedIn Stadtwerke").check()
    page.locator("#body").fill("Wir fördern das Puppentheater-Museum in Nordhafen. " * 7)
    x_counter = page.locator(f"#counter-{site.channels['x']}")
    expect(x_counter).to_have_class("counter too-long")
    expect(page.locator("#fit-message")).to_contain_text("Zeichen zu viel für X @StadtwerkeNH")
    expect(page.get_by_role("button", name="Zur Freigabe einreichen")).to_be_disabled()
    screenshot(page, "composer-too-long")

    # A shorter text of its own for X; LinkedIn takes the long one.
    page.locator(f"li[data-channel='{site.channels['x']}'] summary").click()
    page.locator(f"#override-{site.channels['x']}").fill("Wir fördern das Puppentheater-Museum!")
    expect(x_counter).to_have_text("37 / 280")
    expect(page.locator("#fit-message")).to_have_text("")
    due = now_utc() + timedelta(minutes=2)
    page.locator("#publish_at").fill(wall_clock(due))
    expect(page.get_by_label("Abteilung")).to_have_value(str(1))
    screenshot(page, "composer")
    page.get_by_role("button", name="Zur Freigabe einreichen").click()
    expect(page.get_by_role("status")).to_contain_text("Zur Freigabe eingereicht")
    expect(page.locator(".override-text")).to_have_text("Wir fördern das Puppentheater-Museum!")

    # User text is never markup: a draft with <script> in title and body shows it as text.
    page.goto(f"{site.url}/compose")
    page.get_by_label("Titel").fill(f"Titel {XSS}")
    page.get_by_role("checkbox", name="LinkedIn Stadtwerke").check()
    page.locator("#body").fill(f"Text {XSS}")
    page.get_by_role("button", name="Als Entwurf speichern").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Titel {XSS}")
    expect(page.locator(".post-detail .body")).to_have_text(f"Text {XSS}")
    page.goto(f"{site.url}/?view=listWeek&date={wall_clock(due)[:10]}")
    expect(page.locator(".fc-list-event-title", has_text=XSS)).to_have_count(1)
    log_out(page)

    # A head approves; the four-eyes rule is shown on the queue.
    log_in(page, site, "head")
    page.get_by_role("link", name="Freigaben").click()
    card = page.locator(".review-card", has_text=TITLE)
    expect(card).to_contain_text("Lena Hoffmann")
    card.get_by_role("button", name="Freigeben").click()
    expect(page.get_by_role("status")).to_contain_text("Freigegeben")
    assert post_status(site, TITLE) == "scheduled"

    # The crisis dialog: keyboard first. Escape closes it, an empty reason is refused.
    crisis_button = page.locator("#crisis-button")
    page.wait_for_load_state()  # the button opens the dialog once the page's script has run
    crisis_button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#declare-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Grund")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(crisis_button).to_be_focused()
    crisis_button.click()
    dialog.get_by_role("button", name="Krise ausrufen").click()
    expect(dialog).to_be_visible()  # the reason is required
    dialog.get_by_label("Grund").fill("Shitstorm über den Sicherheitsdienst")
    dialog.get_by_label("Alle Kanäle").check()
    dialog.get_by_role("button", name="Krise ausrufen").click()
    expect(page.locator("#crisis-banner")).to_contain_text("Shitstorm über den Sicherheitsdienst")
    log_out(page)

    # The post falls due during the crisis: held, not published.
    dispatch_pass(site, due + timedelta(minutes=1))
    assert post_status(site, TITLE) == "held"

    # The planner sees the banner on every page: who, when, why.
    log_in(page, site, "planner")
    banner = page.locator("#crisis-banner")
    expect(banner).to_contain_text("Katrin Albers")
    expect(banner).to_contain_text("Shitstorm über den Sicherheitsdienst")
    page.goto(f"{site.url}/?date={wall_clock(due)[:10]}")
    expect(page.locator("#calendar .fc-event.needs-attention")).to_have_count(1)
    screenshot(page, "calendar-crisis-banner")
    phone = new_page(browser, PHONE)
    log_in(phone, site, "planner")
    expect(phone.locator("#crisis-banner")).to_be_visible()
    # (Near midnight on the team's clock the list shows the post under both days it touches.)
    expect(phone.locator("#calendar .fc-list-event-title", has_text=TITLE).first).to_be_visible()
    screenshot(phone, "phone-calendar-crisis-banner")
    phone.context.close()
    log_out(page)

    # A head reviews: releasing now is refused while the crisis lasts; at a new time it works.
    log_in(page, site, "head")
    page.goto(f"{site.url}/crisis")
    row = page.locator("tr", has_text=TITLE)
    expect(row).to_contain_text("X @StadtwerkeNH")
    expect(row).to_contain_text("LinkedIn Stadtwerke")
    screenshot(page, "review")
    row.get_by_role("button", name="Jetzt freigeben").click()
    expect(page.get_by_role("alert").filter(has_text="gilt noch eine Krise")).to_be_visible()
    later = now_utc() + timedelta(days=1)
    row = page.locator("tr", has_text=TITLE)
    row.locator("input[type=datetime-local]").fill(wall_clock(later))
    row.get_by_role("button", name="Zu dieser Zeit freigeben").click()
    expect(page.get_by_role("status")).to_contain_text("zur neuen Zeit freigegeben")
    assert post_status(site, TITLE) == "scheduled"

    # Lifting the crisis takes a note and two people: the head asks, an admin confirms; then
    # the banner is gone for everyone.
    page.get_by_label("Notiz zur Aufhebung der Krise").fill(
        "Lage geklärt, Pressestelle hat reagiert."
    )
    page.get_by_role("button", name="Aufhebung der Krise beantragen").click()
    # It asks first, saying what will happen.
    ask = page.get_by_role("dialog", name="Sind Sie sicher?")
    expect(ask).to_contain_text("bleibt in Kraft, bis eine weitere Kommunikationsleitung")
    ask.get_by_role("button", name="Aufhebung der Krise beantragen").click()
    expect(page.locator("#crisis-banner")).to_contain_text("wartet auf eine zweite Person")
    expect(page.get_by_role("button", name="Bestätigen: Krise aufheben")).to_have_count(0)
    screenshot(page, "lift-requested")
    log_out(page)
    log_in(page, site, "admin")
    page.goto(f"{site.url}/crisis")
    expect(page.locator("#lift-request")).to_contain_text("Katrin Albers")
    page.get_by_role("button", name="Bestätigen: Krise aufheben").click()
    expect(page.get_by_role("status")).to_contain_text("Krise aufgehoben")
    expect(page.locator("#crisis-banner")).to_have_count(0)
    page.goto(f"{site.url}/?date={wall_clock(later)[:10]}")
    expect(page.locator("#calendar .fc-event", has_text=TITLE)).to_have_count(1)
    screenshot(page, "calendar")
    page.context.close()


def add_campaign_with_a_post(site: LiveSite, when: datetime) -> int:
    """A campaign with one post, next to a post outside it, on the same day."""

    from calendar_app import campaigns, planning
    from calendar_app.models import User

    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            head = session.scalars(select(User).where(User.role == "head")).one()
            planner = session.scalars(select(User).where(User.role == "planner")).one()
            made = campaigns.create_campaign(
                session, head, name="Azubi-Kampagne", goal="recruiting",
                starts_on=when.date(), ends_on=when.date() + timedelta(days=30),
            )  # fmt: skip
            for title, campaign_id in (("Ausbildungsstart", made.id), ("Stadtlauf", None)):
                planning.create_post(
                    session, planner, title=title, body=title, channel_ids=[site.channels["x"]],
                    publish_at=when, campaign_id=campaign_id,
                )  # fmt: skip
            return made.id
    finally:
        db.dispose()


def test_the_campaign_filter_and_the_export_link_follow_the_calendar(
    browser: object, live_site: LiveSite
) -> None:
    expect = sync_api.expect
    site = live_site
    when = now_utc() + timedelta(days=40)
    campaign_id = add_campaign_with_a_post(site, when)
    page = new_page(browser)
    log_in(page, site, "planner")
    page.goto(f"{site.url}/?view=listWeek&date={wall_clock(when)[:10]}")  # type: ignore[attr-defined]
    events = page.locator("#calendar .fc-list-event-title")  # type: ignore[attr-defined]
    expect(events.filter(has_text="Stadtlauf")).to_have_count(1)
    page.get_by_label("Kampagne").select_option(label="Azubi-Kampagne")  # type: ignore[attr-defined]
    expect(events.filter(has_text="Stadtlauf")).to_have_count(0)
    expect(events.filter(has_text="Ausbildungsstart")).to_have_count(1)
    link = page.get_by_role("link", name="Als CSV exportieren")  # type: ignore[attr-defined]
    href = link.get_attribute("href")
    assert f"campaign={campaign_id}" in href
    assert "start=" in href
    assert "end=" in href
    with page.expect_download() as download:  # type: ignore[attr-defined]
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "Ausbildungsstart" in text
    assert "Stadtlauf" not in text
    screenshot(page, "calendar-campaign-filter")
    page.context.close()  # type: ignore[attr-defined]
