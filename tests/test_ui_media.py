"""The composer's images in a real headless Chromium against a real `calendar-app serve`, on a
phone (390 px): choose a file, see its thumbnail, write its alt text, save."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from calendar_app.db import Database
from calendar_app.models import Post
from tests.support.browser import (
    LiveSite,
    chromium,
    seed,
    site_of,
)
from tests.test_ui_browser import PHONE, log_in, new_page, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with site_of(tmp_path_factory, "media-browser", seed) as (url, database_url, _env, channels):
        yield LiveSite(url, database_url, channels)


@pytest.fixture(scope="module")
def browser(site: LiveSite) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def test_a_planner_adds_an_image_with_alt_text_on_a_phone(
    browser: object, site: LiveSite, tmp_path: Path
) -> None:
    expect = sync_api.expect
    photo = tmp_path / "hafenfest.jpg"  # a camera's photo: larger than a form's 2 MB
    noise = random.Random(3).randbytes(1800 * 1200 * 3)
    Image.frombytes("RGB", (1800, 1200), noise).save(photo, "JPEG", quality=95)
    assert photo.stat().st_size > 2 * 1024 * 1024
    not_an_image = tmp_path / "notiz.png"
    not_an_image.write_text("Nur Text.")

    page = new_page(browser, PHONE)
    log_in(page, site, "planner")
    page.goto(f"{site.url}/compose")  # type: ignore[attr-defined]
    page.locator("#body").fill("Bilder vom Hafenfest")  # type: ignore[attr-defined]
    page.get_by_role("checkbox", name="LinkedIn Stadtwerke").check()  # type: ignore[attr-defined]

    page.locator("#media-file").set_input_files(str(not_an_image))  # type: ignore[attr-defined]
    expect(page.locator("#media-upload-error")).to_contain_text("notiz.png")  # type: ignore[attr-defined]
    page.locator("#media-file").set_input_files(str(photo))  # type: ignore[attr-defined]
    item = page.locator("#media-list [data-media-item]")  # type: ignore[attr-defined]
    expect(item).to_have_count(1)
    expect(page.locator("#media-upload-error")).to_have_text("")  # type: ignore[attr-defined]
    thumbnail = item.locator("img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    assert item.get_attribute("data-media-url").startswith("/media/")
    item.get_by_label("Alternativtext: was das Bild zeigt").fill("Feuerwerk über dem Hafen")
    expect(item).to_have_attribute("data-media-alt", "Feuerwerk über dem Hafen")
    assert page.evaluate(SIDEWAYS), "the composer scrolls sideways at 390 px"  # type: ignore[attr-defined]
    screenshot(page, "composer-image-phone")

    # The waiver's reason appears only when it is ticked.
    reason = page.locator("#alt_text_waiver_reason")  # type: ignore[attr-defined]
    expect(reason).to_be_hidden()
    page.locator("#alt_text_waived").check()  # type: ignore[attr-defined]
    expect(reason).to_be_visible()
    page.locator("#alt_text_waived").uncheck()  # type: ignore[attr-defined]

    page.get_by_role("button", name="Als Entwurf speichern").click()  # type: ignore[attr-defined]
    expect(page.get_by_role("status")).to_contain_text("Entwurf")  # type: ignore[attr-defined]
    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            post = session.scalars(select(Post).where(Post.body == "Bilder vom Hafenfest")).one()
            assert [(row.alt, row.media.width) for row in post.media_rows] == [
                ("Feuerwerk über dem Hafen", 1800)
            ]
    finally:
        db.dispose()
    page.context.close()  # type: ignore[attr-defined]
