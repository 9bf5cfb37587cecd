"""The app shell and the look of every main page in a real browser (Debian's headless Chromium).

A team in the middle of a crisis: posts in every status on four networks, two of them held.
Every page is opened in German and in English, on a laptop (1280 px) and on a phone (390 px);
a screenshot of each goes to build/screenshots/layout-<page>-<language>-<width>.png, and the
layout is checked: nothing scrolls sideways on the phone, no menu entry wraps on the laptop.
Then the shell's pieces that need a browser: the phone's menu button, the status badges and
network icons in the calendar, the "are you sure?" step of destructive buttons, and an approved
post dragged in the calendar, which the server asks about first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from calendar_app import crisis, planning
from calendar_app.accounts import create_user
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.migrate import upgrade
from calendar_app.models import Delivery, Department, Post
from calendar_app.timeutil import now_utc
from tests.support.server import serving
from tests.test_ui_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    PHONE,
    TEAM,
    LiveSite,
    _need_chromium,
    dispatch_pass,
    log_in,
    new_page,
    screenshot,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LAPTOP = {"width": 1280, "height": 900}
WIDTHS = {"1280": LAPTOP, "390": PHONE}

HELD = "Baustellen-Update Hafenstraße"
APPROVED = "Sommerfest im Stadtpark: Programm und Anfahrt mit Bus und Bahn"


@dataclass
class Team:
    site: LiveSite
    day: datetime  # the day the plan is on, in the team's time zone
    held_post: int
    approved_post: int


def plan(database_url: str) -> tuple[dict[str, int], datetime, int, int]:
    """People (an admin reading German, one reading English, a head, a planner), channels on
    five networks, a week of posts in every status, and a crisis in force that held one."""
    day = (
        (now_utc() + timedelta(days=3))
        .astimezone(TEAM)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    db = Database(database_url)
    try:
        with db.transaction() as session:
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            pr = session.scalars(select(Department).filter_by(slug="pr")).one()
            people = {
                who: create_user(
                    session, f"{who}@nordhafen.example", role=role, password=PASSWORD, name=name
                )
                for who, role, name in [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("head", "head", "Katrin Albers"),
                    ("admin", "admin", "Jana Petersen"),
                    ("admin-en", "admin", "Sam Whitfield"),
                ]
            }
            people["admin-en"].locale = "en"
            people["planner"].departments.append(marketing)
            admin = people["admin"]
            channels = {
                network: create_channel(
                    session, admin, name=name, kind="outbox", network=network
                ).id
                for network, name in [
                    ("x", "X @StadtwerkeNH"),
                    ("mastodon", "Mastodon @nordhafen@social.example"),
                    ("bluesky", "Bluesky nordhafen.example"),
                    ("linkedin", "LinkedIn Stadtwerke Nordhafen"),
                    ("instagram", "Instagram @stadtwerke.nordhafen"),
                ]
            }
            planner, head = people["planner"], people["head"]

            def post(title: str, networks: list[str], hours: float, **extra: object) -> Post:
                return planning.create_post(
                    session,
                    planner,
                    title=title,
                    body=f"{title}. Mehr dazu auf nordhafen.example.",
                    channel_ids=[channels[n] for n in networks],
                    publish_at=day + timedelta(hours=hours),
                    **extra,  # type: ignore[arg-type]
                )

            held = post(HELD, ["x", "mastodon"], 0)
            planning.submit_post(session, planner, held)
            planning.approve_post(session, head, held)
            post("Azubi-Tag: Entwurf", ["instagram"], 24 + 2, department_id=pr.id)
            for title, networks, hours in [
                ("Neue Ladesäulen am Hafen", ["linkedin", "bluesky"], 24 + 5),
                ("Wasserhärte im Überblick", ["mastodon"], 48 + 1),
            ]:
                planning.submit_post(session, planner, post(title, networks, hours))
            approved = post(APPROVED, ["instagram", "x", "bluesky"], 72 + 3)
            planning.submit_post(session, planner, approved)
            planning.approve_post(session, head, approved)
            # What the scheduler would have made of earlier posts: published, failed, missed.
            for title, networks, hours, status in [
                ("Stromausfall behoben", ["x", "linkedin"], -46, "published"),
                ("Jobmesse Nordhafen", ["linkedin"], -22, "failed"),
                ("Tag der offenen Tür", ["instagram"], -21, "missed"),
            ]:
                done = post(title, networks, hours)
                session.execute(update(Post).where(Post.id == done.id).values(status=status))
                session.execute(
                    update(Delivery).where(Delivery.post_id == done.id).values(status=status)
                )
            crisis.declare_crisis(
                session,
                head,
                reason="Störfall im Heizkraftwerk Nordhafen",
                channel_ids=[channels["x"], channels["mastodon"]],
            )
            return channels, day, held.id, approved.id
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    _need_chromium()
    folder = tmp_path_factory.mktemp("layout")
    database_url = f"sqlite:///{folder}/calendar.db"
    upgrade(database_url)
    channels, day, held_post, approved_post = plan(database_url)
    with serving(folder, database_url) as (url, _env):
        site = LiveSite(url, database_url, channels)
        dispatch_pass(site, day + timedelta(minutes=5))  # the crisis holds the first post
        yield Team(site, day, held_post, approved_post)


@pytest.fixture(scope="module")
def browser(team: Team) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def main_pages(team: Team) -> dict[str, str]:
    """The pages the screenshots show, by name."""
    return {
        "calendar": f"/?date={team.day:%Y-%m-%d}",
        "compose": "/compose",
        "approvals": "/approvals",
        "crisis": "/crisis",
        "review": f"/posts/{team.held_post}",
        "channels": "/admin/channels",
        "people": "/admin/people",
        "audit": "/audit",
    }


# Every other page the menu leads to: checked for the layout too.
OTHER_PAGES = {
    "agenda": "/agenda",
    "campaigns": "/campaigns",
    "blackouts": "/blackouts",
    "playbooks": "/playbooks",
    "outbox": "/outbox",
    "inbox": "/inbox",
    "dashboard": "/dashboard",
    "departments": "/admin/departments",
    "notifications": "/notifications",
    "subscription": "/subscription",
}

SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
# Each menu entry's words sit on one line: an inline box that wraps has more than one rectangle.
WRAPPED_MENU_ENTRIES = """() => [...document.querySelectorAll('header.side nav a')]
  .filter(a => a.querySelector('.label').getClientRects().length !== 1
    || a.getBoundingClientRect().height > 2.75 * parseFloat(getComputedStyle(a).fontSize))
  .map(a => a.textContent.trim())"""


@pytest.mark.parametrize("language", ["de", "en"])
def test_every_page_fits_a_phone_and_the_menu_never_wraps(
    browser: object, team: Team, language: str
) -> None:
    site = team.site
    who = "admin" if language == "de" else "admin-en"
    for width, viewport in WIDTHS.items():
        page = new_page(browser, viewport)
        log_in(page, site, who)
        pages = {**main_pages(team), **OTHER_PAGES}
        for name, path in pages.items():
            page.goto(f"{site.url}{path}")  # type: ignore[attr-defined]
            page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
            if name == "calendar":
                sync_api.expect(page.locator("#calendar .post-event").first).to_be_visible()  # type: ignore[attr-defined]
            assert page.locator("html").get_attribute("lang") == language  # type: ignore[attr-defined]
            # The crisis banner is on every page, above the page's own heading.
            banner = page.locator("#crisis-banner")  # type: ignore[attr-defined]
            sync_api.expect(banner).to_be_visible()
            heading = page.locator("main h1").first  # type: ignore[attr-defined]
            assert banner.bounding_box()["y"] < heading.bounding_box()["y"], name
            if name in main_pages(team):
                screenshot(page, f"layout-{name}-{language}-{width}")
            if width == "390":
                assert page.evaluate(SIDEWAYS), (  # type: ignore[attr-defined]
                    f"{name} scrolls sideways at 390 px in {language}: "
                    f"{page.evaluate('document.documentElement.scrollWidth')} px wide"  # type: ignore[attr-defined]
                )
            else:
                assert page.evaluate(WRAPPED_MENU_ENTRIES) == [], name  # type: ignore[attr-defined]
        page.context.close()  # type: ignore[attr-defined]


def test_the_menu_folds_behind_a_button_on_a_phone(browser: object, team: Team) -> None:
    expect = sync_api.expect
    page = new_page(browser, PHONE)
    log_in(page, team.site, "planner")
    menu = page.get_by_role("navigation", name="Hauptmenü")  # type: ignore[attr-defined]
    button = page.get_by_role("button", name="Menü")  # type: ignore[attr-defined]
    expect(menu).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    # A planner sees only what a planner may open.
    expect(menu.get_by_role("link", name="Kampagnen")).to_be_visible()
    expect(menu.get_by_role("link", name="Freigaben")).to_have_count(0)
    expect(menu.get_by_role("link", name="Personen")).to_have_count(0)
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()
    page.context.close()  # type: ignore[attr-defined]

    # Without JavaScript the menu is a plain list, and the button (useless then) is not shown.
    context = browser.new_context(viewport=PHONE, locale="de-DE", java_script_enabled=False)  # type: ignore[attr-defined]
    plain = context.new_page()
    log_in(plain, team.site, "planner")
    expect(plain.get_by_role("navigation", name="Hauptmenü")).to_be_visible()
    expect(plain.get_by_role("link", name="Kalender", exact=True)).to_be_visible()
    expect(plain.locator("#menu-button")).to_be_hidden()
    assert plain.evaluate(SIDEWAYS)
    context.close()


def test_the_month_shows_each_posts_networks_and_status(browser: object, team: Team) -> None:
    expect = sync_api.expect
    for who, labels in [
        ("admin", ("Zurückgehalten", "In Prüfung", "Freigegeben", "Entwurf")),
        ("admin-en", ("Held", "In review", "Approved", "Draft")),
    ]:
        page = new_page(browser, LAPTOP)
        log_in(page, team.site, who)
        page.goto(f"{team.site.url}/?date={team.day:%Y-%m-%d}")  # type: ignore[attr-defined]
        held = page.locator("#calendar .post-event", has_text=HELD)  # type: ignore[attr-defined]
        expect(held.locator(".badge-status.status-held")).to_have_text(labels[0])
        expect(held.locator("svg.network-x")).to_have_count(1)
        expect(held.locator("svg.network-mastodon")).to_have_count(1)
        approved = page.locator("#calendar .post-event", has_text=APPROVED[:20])  # type: ignore[attr-defined]
        expect(approved.locator(".badge-status")).to_have_text(labels[2])
        expect(approved.locator("svg.network")).to_have_count(3)
        expect(page.locator("#calendar .badge-status.status-in_review").first).to_have_text(
            labels[1]
        )  # type: ignore[attr-defined]
        expect(page.locator("#calendar .badge-status.status-draft")).to_have_text(labels[3])  # type: ignore[attr-defined]
        for status in ("published", "failed", "missed"):
            expect(page.locator(f"#calendar .badge-status.status-{status}")).to_have_count(1)  # type: ignore[attr-defined]
        if who == "admin-en":  # FullCalendar's own English buttons are in lower case
            for name in ("Today", "Month", "Week", "List"):
                expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()  # type: ignore[attr-defined]
        page.get_by_role("button", name=("Woche" if who == "admin" else "Week"), exact=True).click()  # type: ignore[attr-defined]
        axis = page.locator(".fc-timegrid-axis-cushion").first  # type: ignore[attr-defined]
        expect(axis).to_have_text("Ganztägig" if who == "admin" else "All day")
        assert axis.evaluate("el => el.scrollWidth <= el.clientWidth"), "the all-day label is cut"
        screenshot(page, f"layout-week-{'de' if who == 'admin' else 'en'}-1280")
        page.context.close()  # type: ignore[attr-defined]

    # The approval queue and the crisis review carry the same badges and icons.
    page = new_page(browser, LAPTOP)
    log_in(page, team.site, "admin")
    page.goto(f"{team.site.url}/approvals")  # type: ignore[attr-defined]
    card = page.locator(".review-card", has_text="Wasserhärte")  # type: ignore[attr-defined]
    expect(card.locator(".badge-status.status-in_review")).to_have_text("In Prüfung")
    expect(card.locator("svg.network-mastodon")).to_have_count(1)
    page.goto(f"{team.site.url}/crisis")  # type: ignore[attr-defined]
    row = page.locator("tr", has_text=HELD)  # type: ignore[attr-defined]
    expect(row.locator(".badge-status.status-held")).to_have_text("Zurückgehalten")
    expect(row.locator("svg.network-x")).to_have_count(1)
    page.context.close()  # type: ignore[attr-defined]


def test_discarding_asks_first_and_says_what_will_happen(browser: object, team: Team) -> None:
    expect = sync_api.expect
    page = new_page(browser, LAPTOP)
    log_in(page, team.site, "head")
    page.goto(f"{team.site.url}/crisis")  # type: ignore[attr-defined]
    row = page.locator("tr", has_text=HELD)  # type: ignore[attr-defined]
    row.get_by_role("button", name="Verwerfen").click()
    dialog = page.get_by_role("dialog", name="Sind Sie sicher?")  # type: ignore[attr-defined]
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"„{HELD}“ verwerfen?")
    expect(dialog).to_contain_text("nicht rückgängig")
    expect(dialog.get_by_role("button", name="Abbrechen")).to_be_focused()
    screenshot(page, "layout-confirm-discard-de-1280")
    dialog.get_by_role("button", name="Abbrechen").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("tr", has_text=HELD)).to_have_count(1)  # type: ignore[attr-defined]

    # Bulk discard asks too; Escape answers no.
    page.locator(f"#pick-{team.held_post}").check()  # type: ignore[attr-defined]
    page.locator("fieldset.bulk").get_by_role("button", name="Verwerfen").click()  # type: ignore[attr-defined]
    expect(dialog).to_contain_text("Alle ausgewählten Beiträge verwerfen?")
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(dialog).to_be_hidden()
    page.reload()  # type: ignore[attr-defined]
    expect(page.locator("tr", has_text=HELD)).to_have_count(1)  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_an_approved_post_dragged_in_the_calendar_is_moved_only_after_a_yes(
    browser: object, team: Team
) -> None:
    """The server answers 409 `needs_confirmation` for an approved post moved without
    `"confirm": true`; the calendar asks with the server's words and sends again on yes."""
    expect = sync_api.expect
    page = new_page(browser, LAPTOP)
    sent: list[dict[str, object]] = []

    def server(route: object) -> None:
        body = json.loads(route.request.post_data or "{}")  # type: ignore[attr-defined]
        sent.append(body)
        if body.get("confirm") is not True:
            route.fulfill(  # type: ignore[attr-defined]
                status=409,
                content_type="application/json",
                json={
                    "error": "approved",
                    "needs_confirmation": True,
                    "message": "Dieser Beitrag ist freigegeben. "
                    "Verschoben braucht er eine neue Freigabe.",
                },
            )
        else:
            route.fulfill(  # type: ignore[attr-defined]
                status=200,
                content_type="application/json",
                json={"id": team.approved_post, "status": "draft", "message": "Verschoben."},
            )

    page.route(f"**/posts/{team.approved_post}/reschedule", server)  # type: ignore[attr-defined]
    log_in(page, team.site, "head")
    day = team.day + timedelta(hours=72 + 3)
    page.goto(f"{team.site.url}/?date={day:%Y-%m-%d}")  # type: ignore[attr-defined]
    event = page.locator("#calendar .post-event", has_text=APPROVED[:20])  # type: ignore[attr-defined]
    dialog = page.get_by_role("dialog", name="Freigegebenen Beitrag verschieben?")  # type: ignore[attr-defined]

    def drag_one_day_later() -> None:
        box = event.bounding_box()
        target = page.locator(  # type: ignore[attr-defined]
            f"td.fc-daygrid-day[data-date='{(day + timedelta(days=1)):%Y-%m-%d}']"
        ).bounding_box()
        page.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
        page.mouse.down()  # type: ignore[attr-defined]
        for step in range(1, 11):
            page.mouse.move(  # type: ignore[attr-defined]
                box["x"] + 10 + (target["x"] + 20 - box["x"] - 10) * step / 10,
                box["y"]
                + box["height"] / 2
                + (target["y"] + 40 - box["y"] - box["height"] / 2) * step / 10,
            )
        page.mouse.up()  # type: ignore[attr-defined]

    def shown_on() -> str:
        return event.evaluate("el => el.closest('td.fc-daygrid-day').dataset.date")

    # No: the post goes back where it was, nothing else is sent.
    drag_one_day_later()
    expect(dialog).to_contain_text("braucht er eine neue Freigabe")
    screenshot(page, "layout-confirm-move-de-1280")
    dialog.get_by_role("button", name="Abbrechen").click()
    expect(dialog).to_be_hidden()
    assert shown_on() == f"{day:%Y-%m-%d}"
    assert len(sent) == 1
    assert "confirm" not in sent[0]

    # Yes: the same request again, with "confirm": true.
    drag_one_day_later()
    dialog.get_by_role("button", name="Trotzdem verschieben").click()
    expect(page.locator("#calendar-message")).to_have_text("Verschoben.")  # type: ignore[attr-defined]
    assert len(sent) == 3
    assert sent[2] == {**sent[1], "confirm": True}
    assert sent[1]["publish_at"] == f"{day + timedelta(days=1):%Y-%m-%d}T{day:%H:%M}"
    page.context.close()  # type: ignore[attr-defined]
