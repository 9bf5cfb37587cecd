"""The inbox in a real browser (Debian's headless Chromium): an evening with a storm building on
the Mastodon channel. The early warning shows its numbers, what people write and the posts due
there; an item is handed to customer service with a note and answered; the alert becomes a
crisis with one click. Screenshots in German and English, on a laptop and a phone, go to
build/screenshots/inbox-<language>-<width>.png."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from calendar_app import planning
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.listening import alerts, inbox
from calendar_app.listening.mastodon import Heard
from calendar_app.models import Crisis, Department, InboxItem, Post, SpikeAlert
from calendar_app.timeutil import now_utc
from tests.support.browser import (
    LiveSite,
    chromium,
    create_team,
    site_of,
)
from tests.test_ui_browser import PHONE, log_in, new_page, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LAPTOP = {"width": 1280, "height": 900}
WIDTHS = {"1280": LAPTOP, "390": PHONE}
QUESTION = "Meine Stromrechnung ist doppelt abgebucht worden, wer hilft mir?"
CHEERFUL = "Puppentheater-Sommer: wir sind Sponsor!"
SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"


@dataclass
class Evening:
    site: LiveSite
    alert_id: int
    question_id: int
    service_id: int
    cheerful_post: int


def prepare(database_url: str) -> tuple[dict[str, int], int, int, int, int]:
    db = Database(database_url)
    now = now_utc()
    try:
        with db.transaction() as session:
            service = session.scalars(select(Department).filter_by(slug="customer-service")).one()
            people = create_team(
                session,
                [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("service", "planner", "Murat Demir"),
                    ("head", "head", "Katrin Albers"),
                    ("head-en", "head", "Sam Whitfield"),
                    ("admin", "admin", "Jana Petersen"),
                ],
            )
            people["head-en"].locale = "en"
            people["service"].departments.append(service)
            mastodon = create_channel(
                session,
                people["admin"],
                name="Mastodon @nordhafen@social.example",
                kind="outbox",
                network="mastodon",
            )
            # Four weeks of an ordinary evening would make the baseline; here: the storm.
            storm = [
                Heard(
                    f"s{i}",
                    "mention",
                    f"@wuetend{i}@social.example",
                    f"Wütend {i}",
                    f"Skandal! Eure Security hat mich rausgeworfen #{i}",
                    None,
                    None,
                    now - timedelta(seconds=20 * i),
                )
                for i in range(30)
            ]
            question = Heard(
                "q1",
                "mention",
                "@kundin@social.example",
                "Erika Kundin",
                QUESTION,
                None,
                None,
                now - timedelta(minutes=12),
            )
            inbox.store(session, mastodon.id, [question, *storm])
            question_id = session.scalar(select(InboxItem.id).filter_by(remote_id="q1"))
            cheerful = planning.create_post(
                session,
                people["planner"],
                title=CHEERFUL,
                body=f"{CHEERFUL} Alle Termine auf nordhafen.example.",
                channel_ids=[mastodon.id],
                publish_at=now + timedelta(minutes=50),
            )
            planning.submit_post(session, people["planner"], cheerful)
            planning.approve_post(session, people["head"], cheerful, allow_self_approval=False)
            alert = alerts.open_alert(
                session,
                alerts.Spike(mastodon.id, 31, 6.0, 14.2, 15, now - timedelta(minutes=15)),
                now=now,
                hold_minutes=30,
            )
            assert alert is not None
            return {"mastodon": mastodon.id}, alert.id, question_id, service.id, cheerful.id
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def evening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evening]:
    with site_of(tmp_path_factory, "inbox", prepare) as (url, database_url, _env, prepared):
        channels, alert_id, question_id, service_id, cheerful = prepared
        yield Evening(LiveSite(url, database_url, channels), alert_id, question_id, service_id,
                      cheerful)  # fmt: skip


@pytest.fixture(scope="module")
def browser(evening: Evening) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def test_the_inbox_hands_over_answers_and_declares_from_the_alert(
    browser: object, evening: Evening
) -> None:
    site = evening.site
    # The alert, its sample and the posts at risk, in both languages and on both widths.
    for who, language in (("head", "de"), ("head-en", "en")):
        for width, viewport in WIDTHS.items():
            page = new_page(browser, viewport)
            log_in(page, site, who)
            page.goto(f"{site.url}/inbox")  # type: ignore[attr-defined]
            assert page.locator("html").get_attribute("lang") == language  # type: ignore[attr-defined]
            card = page.locator(f"#alert-{evening.alert_id}")  # type: ignore[attr-defined]
            sync_api.expect(card).to_contain_text("31")
            sync_api.expect(card.locator(".sample li").first).to_contain_text("Skandal!")
            sync_api.expect(card.locator(".at-risk")).to_contain_text(CHEERFUL)
            sync_api.expect(card.locator("button.alarm")).to_be_visible()
            sync_api.expect(page.locator("#answer-times-7")).to_be_visible()  # type: ignore[attr-defined]
            screenshot(page, f"inbox-{language}-{width}")
            if width == "390":
                assert page.evaluate(SIDEWAYS), (  # type: ignore[attr-defined]
                    f"the inbox scrolls sideways at 390 px in {language}: "
                    f"{page.evaluate('document.documentElement.scrollWidth')} px wide"  # type: ignore[attr-defined]
                )
            page.context.close()  # type: ignore[attr-defined]

    page = new_page(browser, LAPTOP)
    log_in(page, site, "head")
    page.goto(f"{site.url}/inbox")  # type: ignore[attr-defined]
    item = page.locator(f"#item-{evening.question_id}")  # type: ignore[attr-defined]
    sync_api.expect(item).to_contain_text(QUESTION)

    # Hand it to customer service, to Murat, with a note.
    item.locator("details").nth(0).locator("summary").click()
    handover = item.locator("form.assign").nth(0)
    handover.locator("select[name=department_id]").select_option(str(evening.service_id))
    handover.locator("select[name=assignee_id]").select_option(label="Murat Demir")
    handover.locator("textarea[name=note]").fill("Bitte bis morgen zurückrufen")
    handover.locator("button[type=submit]").click()
    item = page.locator(f"#item-{evening.question_id}")  # type: ignore[attr-defined]
    sync_api.expect(item).to_contain_text("Bitte bis morgen zurückrufen")
    sync_api.expect(item).to_contain_text("Murat Demir")

    # Answer it: the reply is a post that another head approves (four eyes), held like any.
    item.locator("details").nth(1).locator("summary").click()
    answer = item.locator("form.assign").nth(1)
    answer.locator("textarea[name=body]").fill("@kundin@social.example Wir melden uns morgen.")
    answer.locator("button[type=submit]").click()
    item = page.locator(f"#item-{evening.question_id}")  # type: ignore[attr-defined]
    sync_api.expect(item.locator("p.meta").nth(1)).to_contain_text("beantwortet")
    screenshot(page, "inbox-handed-over-de-1280")

    # One click: the alert becomes the crisis on its channel.
    page.locator(f"#alert-{evening.alert_id} button.alarm").click()  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#crisis-banner")).to_be_visible()  # type: ignore[attr-defined]
    screenshot(page, "inbox-declared-de-1280")
    page.context.close()  # type: ignore[attr-defined]

    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            crisis = session.scalars(select(Crisis).order_by(Crisis.id.desc())).first()
            assert crisis is not None
            assert "31" in crisis.reason
            reply = session.scalars(select(Post).filter_by(inbox_item_id=evening.question_id)).one()
            assert reply.in_reply_to == "q1"
            assert reply.status == "in_review"  # four eyes: another head approves it
            item_row = session.get(InboxItem, evening.question_id)
            assert item_row is not None
            assert item_row.status == "answered"
            assert item_row.first_answer_at is not None
            decided = session.get(SpikeAlert, evening.alert_id)
            assert decided is not None
            assert decided.status == "declared"
    finally:
        db.dispose()
