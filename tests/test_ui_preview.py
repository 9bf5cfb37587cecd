"""The composer's counter and preview in a real browser (Debian's headless Chromium).

A planner types a post with an emoji and a long link: X's counter counts the link 23 and the
emoji 2, as X does (the vendored twitter-text answers exactly as the server's twitter-text-parser
on tests/test_x_counting.py's table); four preview cards show it before any channel is chosen,
then one card per chosen channel with that channel's own text; LinkedIn folds a long text with
"…see more", X marks what is over its 280. Screenshots in German and English at 1280 and 390 px go
to build/screenshots/preview-<language>-<width>.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
from sqlalchemy import select

from calendar_app.accounts import create_user
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.models import Department
from tests.support.browser import (
    PASSWORD,
    LiveSite,
    chromium,
    site_of,
)
from tests.test_ui_browser import PHONE, log_in, new_page, screenshot
from tests.test_x_counting import WEIGHTED

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

LAPTOP = {"width": 1280, "height": 900}
LINK = "https://www.stadtwerke-nordhafen.de/presse/2026/tag-der-offenen-tuer?utm_source=social"
OPENING = "Tag der offenen Tür 🎉 "  # 20 characters and an emoji, then the link
LONG = (
    "Am Samstag öffnen die Stadtwerke Nordhafen ihre Türen: Führungen durch das Wasserwerk, "
    "das neue Umspannwerk und die Leitstelle, dazu Mitmach-Experimente für Kinder, E-Bikes zum "
    "Ausprobieren und Beratung zu Solaranlagen auf dem eigenen Dach. Der Eintritt ist frei, "
    "Busse fahren ab dem Hauptbahnhof alle 20 Minuten. Alle Infos: " + LINK
)
# Three pictures the upload block would show: each a [data-media-item] inside the post form.
ADD_IMAGES = """(count) => {
  const form = document.getElementById('composer');
  const colours = ['#0b7285', '#e8590c', '#5c940d', '#862e9c', '#c92a2a'];
  for (let i = 0; i < count; i += 1) {
    const canvas = document.createElement('canvas');
    canvas.width = 160; canvas.height = 90;
    const paint = canvas.getContext('2d');
    paint.fillStyle = colours[i % colours.length]; paint.fillRect(0, 0, 160, 90);
    const item = document.createElement('div');
    item.dataset.mediaItem = '';
    item.dataset.mediaUrl = canvas.toDataURL('image/png');
    item.dataset.mediaAlt = 'Bild ' + (i + 1) + ': Besucher im Wasserwerk';
    form.appendChild(item);
  }
}"""


def seed(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            admin = create_user(session, "admin@nordhafen.example", role="admin", password=PASSWORD)
            for who, locale in (("planner", "de"), ("planner-en", "en")):
                planner = create_user(
                    session, f"{who}@nordhafen.example", role="planner", password=PASSWORD
                )
                planner.departments.append(marketing)
                planner.locale = locale
            channels = {
                key: create_channel(session, admin, name=name, kind="outbox", network=network)
                for key, name, network in [
                    ("x", "X @StadtwerkeNH", "x"),
                    ("linkedin", "LinkedIn Stadtwerke", "linkedin"),
                    ("mastodon", "Mastodon @swnh", "mastodon"),
                    ("bluesky", "Bluesky swnh.de", "bluesky"),
                    ("blog", "Blog", "blog"),
                ]
            }
            session.flush()
            return {key: channel.id for key, channel in channels.items()}
    finally:
        db.dispose()


WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('main *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .map((e) => e.tagName + '.' + e.className + '#' + e.id)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with site_of(tmp_path_factory, "preview", seed) as (url, database_url, _env, channels):
        yield LiveSite(url, database_url, channels)


@pytest.fixture(scope="module")
def browser(site: LiveSite) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def card(page: object, network: str, channel: int | None = None) -> object:
    if channel is None:
        return page.locator(f".preview-card[data-preview-default][data-network='{network}']")  # type: ignore[attr-defined]
    return page.locator(f".preview-card[data-preview-channel='{channel}']")  # type: ignore[attr-defined]


def test_the_vendored_twitter_text_counts_as_the_server_does_and_linkedin_folds_at_line_three(
    browser: object, site: LiveSite
) -> None:
    page = new_page(browser)
    log_in(page, site, "planner")
    page.goto(f"{site.url}/compose")  # type: ignore[attr-defined]
    texts = [text for text, _ in WEIGHTED]
    counted = page.evaluate(  # type: ignore[attr-defined]
        "(texts) => texts.map((t) => window.twttr.txt.parseTweet(t).weightedLength)", texts
    )
    assert counted == [weighted for _, weighted in WEIGHTED]

    # LinkedIn folds a short text, too, after its third line.
    page.locator("#body").fill("Eins\nZwei\nDrei\nVier")  # type: ignore[attr-defined]
    linkedin = card(page, "linkedin")
    sync_api.expect(linkedin.locator(".fold-marker")).to_be_visible()
    sync_api.expect(linkedin.locator(".folded")).to_have_text("\nVier")
    sync_api.expect(card(page, "x").locator(".fold-marker")).to_have_count(0)
    page.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_preview_shows_each_network_as_it_counts_folds_and_shows_links(
    browser: object, site: LiveSite, language: str
) -> None:
    expect = sync_api.expect
    words = {
        "de": {"heading": "Vorschau", "see_more": "… mehr anzeigen", "show_more": "Mehr anzeigen"},
        "en": {"heading": "Preview", "see_more": "…see more", "show_more": "Show more"},
    }[language]
    channels = site.channels
    page = new_page(browser, LAPTOP)
    log_in(page, site, "planner" if language == "de" else "planner-en")
    page.goto(f"{site.url}/compose")  # type: ignore[attr-defined]

    # A region with a heading, not a live region: it is not read out on every keystroke.
    region = page.get_by_role("region", name=words["heading"])  # type: ignore[attr-defined]
    expect(region).to_be_visible()
    assert region.get_attribute("aria-live") is None
    assert region.locator("[aria-live]").count() == 0

    # Before any channel is chosen: a card for each of the four networks.
    expect(page.locator(".preview-card:visible")).to_have_count(4)  # type: ignore[attr-defined]
    body = page.locator("#body")  # type: ignore[attr-defined]
    body.press_sequentially(OPENING)
    body.press_sequentially(LINK, delay=0)
    x = card(page, "x")
    # X: 20 characters, the emoji 2, the space 1, the link 23
    expect(x.locator(".preview-counter")).to_have_text("46 / 280")
    expect(x.locator(".preview-url")).to_have_text("stadtwerke-nordhafen.d…")
    expect(x.locator(".preview-domain")).to_have_text("stadtwerke-nordhafen.de")
    # Bluesky and Mastodon count the characters people see, the link in full
    expect(card(page, "bluesky").locator(".preview-counter")).to_have_text(
        f"{22 + len(LINK)} / 300"
    )
    expect(card(page, "mastodon").locator(".preview-counter")).to_have_text(
        f"{22 + len(LINK)} / 500"
    )
    expect(card(page, "linkedin").locator(".preview-url")).to_have_text(LINK)

    # The channels' counters count as their networks do, too.
    page.get_by_role("checkbox", name="X @StadtwerkeNH").check()  # type: ignore[attr-defined]
    expect(page.locator(f"#counter-{channels['x']}")).to_have_text("46 / 280")  # type: ignore[attr-defined]

    # Chosen channels: one card each (the blog has none); the default cards go.
    page.get_by_role("checkbox", name="LinkedIn Stadtwerke").check()  # type: ignore[attr-defined]
    page.get_by_role("checkbox", name="Blog").check()  # type: ignore[attr-defined]
    expect(page.locator(".preview-card:visible")).to_have_count(2)  # type: ignore[attr-defined]
    x = card(page, "x", channels["x"])
    linkedin = card(page, "linkedin", channels["linkedin"])
    expect(x.locator(".account")).to_have_text("X @StadtwerkeNH")
    expect(linkedin.locator(".account")).to_have_text("LinkedIn Stadtwerke")

    # A long text: LinkedIn folds it, X marks what is over 280 in red.
    body.fill(LONG)
    expect(linkedin.locator(".fold-marker")).to_have_text(words["see_more"])
    expect(linkedin.locator(".folded")).to_contain_text("Busse fahren")
    expect(x.locator(".preview-counter")).to_have_class("preview-counter too-long")
    expect(x.locator(".over")).to_contain_text("Hauptbahnhof")
    expect(x.locator(".limit-marker")).to_contain_text(words["show_more"])
    colour = x.locator(".preview-counter").evaluate("(e) => getComputedStyle(e).color")
    assert colour == "rgb(201, 42, 42)"  # var(--alarm)
    expect(linkedin.locator(".preview-counter")).not_to_have_class("preview-counter too-long")

    # Three pictures: a grid of three with their alt texts; no link card beside pictures.
    page.evaluate(ADD_IMAGES, 3)  # type: ignore[attr-defined]
    expect(x.locator(".preview-media img")).to_have_count(3)
    expect(x.locator(".preview-media img").first).to_have_attribute(
        "alt", "Bild 1: Besucher im Wasserwerk"
    )
    expect(x.locator(".preview-link")).to_be_hidden()
    expect(linkedin.locator(".preview-media")).to_have_class("preview-media count-3")
    screenshot(page, f"preview-{language}-1280")

    # A channel with its own text previews its own text.
    page.locator(f"li[data-channel='{channels['x']}'] summary").click()  # type: ignore[attr-defined]
    own = "Tag der offenen Tür am Samstag 🎉 " + LINK
    page.locator(f"#override-{channels['x']}").fill(own)  # type: ignore[attr-defined]
    expect(x.locator(".preview-text")).to_have_text(
        "Tag der offenen Tür am Samstag 🎉 stadtwerke-nordhafen.d…"
    )
    expect(x.locator(".preview-counter")).to_have_text(f"{31 + 2 + 1 + 23} / 280")
    expect(x.locator(".over")).to_have_count(0)
    expect(linkedin.locator(".fold-marker")).to_be_visible()
    page.context.close()  # type: ignore[attr-defined]

    # On a phone the cards stack below the editor, and nothing scrolls sideways.
    phone = new_page(browser, PHONE)
    log_in(phone, site, "planner" if language == "de" else "planner-en")
    phone.goto(f"{site.url}/compose")  # type: ignore[attr-defined]
    phone.locator("#body").fill(LONG)  # type: ignore[attr-defined]
    phone.evaluate(ADD_IMAGES, 2)  # type: ignore[attr-defined]
    cards = phone.locator(".preview-card:visible")  # type: ignore[attr-defined]
    expect(cards).to_have_count(4)
    expect(card(phone, "linkedin").locator(".fold-marker")).to_be_visible()
    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    assert len({round(box["x"]) for box in boxes}) == 1  # one column
    assert all(a["y"] + a["height"] <= b["y"] for a, b in pairwise(boxes))
    editor = phone.locator("#body").bounding_box()  # type: ignore[attr-defined]
    assert editor["y"] < boxes[0]["y"]
    screenshot(phone, f"preview-{language}-390")
    wide = phone.evaluate(WIDER_THAN_THE_SCREEN)  # type: ignore[attr-defined]
    assert wide == [], f"wider than 390 px: {wide}"
    phone.context.close()  # type: ignore[attr-defined]
