"""Search, "use as template" and a bulk move in a real browser, in German, on a laptop and a
phone. Screenshots go to build/screenshots/search-*.png; nothing scrolls sideways at 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from calendar_app import planning
from calendar_app.accounts import create_user
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.models import Department, Post
from calendar_app.timeutil import now_utc
from tests.support.browser import (
    PASSWORD,
    TEAM,
    LiveSite,
    chromium,
    site_of,
)
from tests.test_ui_browser import PHONE, log_in, new_page, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LAPTOP = {"width": 1280, "height": 900}
SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
DRAFT = "Hafenfest: Programm für Familien"
APPROVED = "Hafenfest: Anfahrt mit Bus und Bahn"
OTHER = "Wasserhärte im Überblick"


@dataclass
class Plan:
    site: LiveSite
    day: datetime
    ids: dict[str, int]


def seed(database_url: str) -> tuple[datetime, dict[str, int]]:
    day = (
        (now_utc() + timedelta(days=2))
        .astimezone(TEAM)
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    db = Database(database_url)
    try:
        with db.transaction() as session:
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            planner, head, admin = (
                create_user(
                    session, f"{who}@nordhafen.example", role=role, password=PASSWORD, name=name
                )
                for who, role, name in [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("head", "head", "Katrin Albers"),
                    ("admin", "admin", "Jana Petersen"),
                ]
            )
            planner.departments.append(marketing)
            channel = create_channel(
                session, admin, name="Mastodon @nordhafen", kind="outbox", network="mastodon"
            )

            def post(title: str, hours: int, **extra: object) -> Post:
                return planning.create_post(
                    session,
                    planner,
                    title=title,
                    body=f"{title}. Mehr dazu auf nordhafen.example.",
                    channel_ids=[channel.id],
                    publish_at=day + timedelta(hours=hours),
                    **extra,  # type: ignore[arg-type]
                )

            draft = post(DRAFT, 0, tags=["sommer"])
            approved = post(APPROVED, 2)
            planning.submit_post(session, planner, approved)
            planning.approve_post(session, head, approved, allow_self_approval=False)
            other = post(OTHER, 4)
            return day, {"draft": draft.id, "approved": approved.id, "other": other.id}
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plan]:
    with site_of(tmp_path_factory, "search", seed) as (url, database_url, _env, (day, ids)):
        yield Plan(LiveSite(url, database_url, {}), day, ids)


@pytest.fixture(scope="module")
def browser(plan: Plan) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def fits(page: object, name: str) -> None:
    assert page.evaluate(SIDEWAYS), (  # type: ignore[attr-defined]
        f"{name} scrolls sideways at 390 px: "
        f"{page.evaluate('document.documentElement.scrollWidth')} px wide"  # type: ignore[attr-defined]
    )


def test_search_duplicate_and_bulk_move_in_german(browser: object, plan: Plan) -> None:
    site = plan.site
    expect = sync_api.expect
    for width, viewport in (("1280", LAPTOP), ("390", PHONE)):
        page = new_page(browser, viewport)
        log_in(page, site, "planner")
        # Search from the calendar: hostile text first, then words.
        page.goto(f"{site.url}/")  # type: ignore[attr-defined]
        box = page.get_by_label("Beiträge durchsuchen")  # type: ignore[attr-defined]
        box.fill('hafen" NEAR(*')
        page.locator("form.search-box button").click()  # type: ignore[attr-defined]
        expect(page.get_by_role("heading", name="Suchen")).to_be_visible()  # type: ignore[attr-defined]
        page.get_by_label("Beiträge durchsuchen").fill("hafenfest bu")  # type: ignore[attr-defined]
        page.locator("form.search-box button").click()  # type: ignore[attr-defined]
        results = page.locator("ul.search-results li.post")  # type: ignore[attr-defined]
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text(APPROVED)
        expect(results.first.locator(".badge-status")).to_be_visible()
        page.get_by_label("Beiträge durchsuchen").fill("hafenfest")  # type: ignore[attr-defined]
        page.locator("form.search-box button").click()  # type: ignore[attr-defined]
        found = 2 if width == "1280" else 3  # the copy made at 1280 px is found too
        expect(results).to_have_count(found)
        expect(page.get_by_text(f"{found} Beiträge zu „hafenfest“ gefunden.")).to_be_visible()  # type: ignore[attr-defined]
        screenshot(page, f"search-results-de-{width}")
        if width == "390":
            fits(page, "search")

        # Use the draft as a template, at a time of one's own choosing.
        page.get_by_role("link", name=DRAFT).first.click()  # type: ignore[attr-defined]
        expect(page.get_by_role("button", name="Als Vorlage verwenden")).to_be_visible()  # type: ignore[attr-defined]
        if width == "390":
            fits(page, "post")
        screenshot(page, f"search-post-de-{width}")
        when = (plan.day + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
        page.get_by_label("Kopie geplant für").fill(when)  # type: ignore[attr-defined]
        page.get_by_role("button", name="Als Vorlage verwenden").click()  # type: ignore[attr-defined]
        expect(page.get_by_text("Ein neuer Entwurf aus dieser Vorlage")).to_be_visible()  # type: ignore[attr-defined]
        assert "/edit" in page.url  # type: ignore[attr-defined]
        screenshot(page, f"search-duplicate-de-{width}")
        page.context.close()  # type: ignore[attr-defined]

    # Bulk: move the draft and the approved post by a day; the approved one is refused until
    # confirmed. Then at 390 px, the agenda with its report.
    for width, viewport in (("1280", LAPTOP), ("390", PHONE)):
        page = new_page(browser, viewport)
        log_in(page, site, "planner")
        page.goto(f"{site.url}/agenda")  # type: ignore[attr-defined]
        page.get_by_label(f"„{DRAFT}“ auswählen").first.check()  # type: ignore[attr-defined]
        page.get_by_label(f"„{APPROVED}“ auswählen").check()  # type: ignore[attr-defined]
        page.get_by_label("Um Tage verschieben").fill("1")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Verschieben", exact=True).click()  # type: ignore[attr-defined]
        report = page.locator(".bulk-report")  # type: ignore[attr-defined]
        expect(report).to_be_visible()
        expect(report.locator("li.done")).to_contain_text("um 1 Tag verschoben")
        expect(report.locator("li.refused")).to_contain_text("Auch freigegebene Beiträge")
        screenshot(page, f"search-bulk-de-{width}")
        if width == "390":
            fits(page, "agenda with a report")
        page.context.close()  # type: ignore[attr-defined]

    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            moved = session.get(Post, plan.ids["draft"])
            kept = session.get(Post, plan.ids["approved"])
            assert moved is not None
            assert kept is not None
            assert moved.publish_at == plan.day + timedelta(days=2)  # two bulk moves of a day
            assert kept.publish_at == plan.day + timedelta(hours=2)
            assert kept.status == "scheduled"
            copies = session.scalars(select(Post).where(Post.title == DRAFT)).all()
            assert len(copies) == 3  # the original and one copy per width
    finally:
        db.dispose()
