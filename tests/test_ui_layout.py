"""The app shell's pieces that need a browser (Debian's headless Chromium), for a team in the
middle of a crisis (tests/support/crisis_team.py): posts in every status on four networks, two
of them held.

The phone's menu button, the status badges and network icons in the calendar, the "are you
sure?" step of destructive buttons, and an approved post dragged in the calendar, which the
server asks about first. Every page's layout (nothing scrolls sideways on a phone, no menu entry
wraps on a laptop, the crisis banner on top) is checked, and its screenshot taken, on the walk
over every page in both languages and at both widths in tests/test_ui_accessibility.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.support.browser import WIDTHS
from tests.support.crisis_team import APPROVED, HELD, CrisisTeam
from tests.support.layout import SIDEWAYS
from tests.test_ui_browser import (
    PHONE,
    log_in,
    new_page,
    screenshot,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LAPTOP = WIDTHS["1280"]


def test_the_menu_folds_behind_a_button_on_a_phone(
    browser: object, crisis_team: CrisisTeam
) -> None:
    expect = sync_api.expect
    page = new_page(browser, PHONE)
    log_in(page, crisis_team.site, "planner")
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
    log_in(plain, crisis_team.site, "planner")
    expect(plain.get_by_role("navigation", name="Hauptmenü")).to_be_visible()
    expect(plain.get_by_role("link", name="Kalender", exact=True)).to_be_visible()
    expect(plain.locator("#menu-button")).to_be_hidden()
    assert plain.evaluate(SIDEWAYS)
    context.close()


def test_the_month_shows_each_posts_networks_and_status(
    browser: object, crisis_team: CrisisTeam
) -> None:
    expect = sync_api.expect
    for who, labels in [
        ("admin", ("Zurückgehalten", "In Prüfung", "Freigegeben", "Entwurf")),
        ("admin-en", ("Held", "In review", "Approved", "Draft")),
    ]:
        page = new_page(browser, LAPTOP)
        log_in(page, crisis_team.site, who)
        page.goto(f"{crisis_team.site.url}/?date={crisis_team.day:%Y-%m-%d}")  # type: ignore[attr-defined]
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
    log_in(page, crisis_team.site, "admin")
    page.goto(f"{crisis_team.site.url}/approvals")  # type: ignore[attr-defined]
    card = page.locator(".review-card", has_text="Wasserhärte")  # type: ignore[attr-defined]
    expect(card.locator(".badge-status.status-in_review")).to_have_text("In Prüfung")
    expect(card.locator("svg.network-mastodon")).to_have_count(1)
    page.goto(f"{crisis_team.site.url}/crisis")  # type: ignore[attr-defined]
    row = page.locator("tr", has_text=HELD)  # type: ignore[attr-defined]
    expect(row.locator(".badge-status.status-held")).to_have_text("Zurückgehalten")
    expect(row.locator("svg.network-x")).to_have_count(1)
    page.context.close()  # type: ignore[attr-defined]


def test_discarding_asks_first_and_says_what_will_happen(
    browser: object, crisis_team: CrisisTeam
) -> None:
    expect = sync_api.expect
    page = new_page(browser, LAPTOP)
    log_in(page, crisis_team.site, "head")
    page.goto(f"{crisis_team.site.url}/crisis")  # type: ignore[attr-defined]
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
    page.locator(f"#pick-{crisis_team.held_post}").check()  # type: ignore[attr-defined]
    page.locator("fieldset.bulk").get_by_role("button", name="Verwerfen").click()  # type: ignore[attr-defined]
    expect(dialog).to_contain_text("Alle ausgewählten Beiträge verwerfen?")
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(dialog).to_be_hidden()
    page.reload()  # type: ignore[attr-defined]
    expect(page.locator("tr", has_text=HELD)).to_have_count(1)  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_an_approved_post_dragged_in_the_calendar_is_moved_only_after_a_yes(
    browser: object, crisis_team: CrisisTeam
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
                json={"id": crisis_team.approved_post, "status": "draft", "message": "Verschoben."},
            )

    page.route(f"**/posts/{crisis_team.approved_post}/reschedule", server)  # type: ignore[attr-defined]
    log_in(page, crisis_team.site, "head")
    day = crisis_team.day + timedelta(hours=72 + 3)
    page.goto(f"{crisis_team.site.url}/?date={day:%Y-%m-%d}")  # type: ignore[attr-defined]
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


def test_a_table_wider_than_a_phone_fades_out_where_more_columns_are(
    browser: object, crisis_team: CrisisTeam
) -> None:
    """The team view's table scrolls sideways in its box at 390 px. The edge with columns
    beyond it fades out: the right one at first, both halfway, the left one at the end. A
    table that fits its box does not fade."""
    expect = sync_api.expect
    page = new_page(browser, PHONE)
    log_in(page, crisis_team.site, "admin")
    page.goto(f"{crisis_team.site.url}/team")  # type: ignore[attr-defined]
    box = page.locator(".table-scroll", has=page.locator("table.team"))  # type: ignore[attr-defined]
    expect(box).to_have_attribute("data-more-right", "")
    expect(box).not_to_have_attribute("data-more-left", "")
    assert box.evaluate("el => getComputedStyle(el).maskImage") != "none"
    box.evaluate("el => { el.scrollLeft = (el.scrollWidth - el.clientWidth) / 2; }")
    expect(box).to_have_attribute("data-more-left", "")
    expect(box).to_have_attribute("data-more-right", "")
    box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    expect(box).to_have_attribute("data-more-left", "")
    expect(box).not_to_have_attribute("data-more-right", "")
    screenshot(page, "layout-team-scrolled-de-390")
    box.evaluate("el => { el.scrollLeft = 0; }")
    expect(box).not_to_have_attribute("data-more-left", "")
    expect(box).to_have_attribute("data-more-right", "")
    page.set_viewport_size(LAPTOP)  # type: ignore[attr-defined]
    page.goto(f"{crisis_team.site.url}/admin/departments")  # type: ignore[attr-defined]
    fits = page.locator(".table-scroll").first  # type: ignore[attr-defined]
    expect(fits.locator("table")).to_be_visible()
    assert fits.evaluate("el => el.scrollWidth <= el.clientWidth")
    for edge in ("data-more-left", "data-more-right"):
        expect(fits).not_to_have_attribute(edge, "")
    assert fits.evaluate("el => getComputedStyle(el).maskImage") == "none"
    page.context.close()  # type: ignore[attr-defined]
