"""A Mastodon channel from start to finish in a real headless Chromium against a real
`calendar-app serve` and a real Mastodon API (mastodon-mock): an admin adds the channel and
checks it, a planner writes a post with an image and its alt text and sees the previews, a head
approves it, the scheduler publishes it, and the post page links to the live status — which is
read back from the server with its image and description."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update

from calendar_app.db import Database
from calendar_app.dispatch import Dispatcher
from calendar_app.models import Delivery, Post
from calendar_app.timeutil import now_utc
from config import Config
from tests.support.browser import (
    LiveSite,
    chromium,
    seed,
    site_of,
)
from tests.support.mastodon import MastodonServer
from tests.test_mastodon import mastodon_server  # noqa: F401 (a fixture)
from tests.test_ui_browser import PHONE, log_in, new_page, screenshot

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
ALT = "Feuerwerk über dem Hafenbecken"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveSite, dict[str, str]]]:
    with site_of(tmp_path_factory, "networks-browser", seed) as (url, database_url, env, channels):
        yield LiveSite(url, database_url, channels), env


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, dict[str, str]]) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def test_a_mastodon_post_with_an_image_from_the_channel_to_the_live_status(
    browser: object,
    site: tuple[LiveSite, dict[str, str]],
    mastodon_server: MastodonServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect = sync_api.expect
    live, env = site
    account = mastodon_server.new_account("hafenamt")
    photo = tmp_path / "hafenfest.png"
    Image.new("RGB", (1200, 800), (20, 60, 140)).save(photo)

    # An admin adds the channel and checks the connection.
    page = new_page(browser)
    log_in(page, live, "admin")
    page.goto(f"{live.url}/admin/channels")  # type: ignore[attr-defined]
    form = page.locator("form[action$='/admin/channels/mastodon']")  # type: ignore[attr-defined]
    form.locator("[name=name]").fill("Mastodon Hafenamt")
    form.locator("[name=base_url]").fill(mastodon_server.base_url)
    form.locator("[name=access_token]").fill(account.access_token)
    form.get_by_role("button", name="Kanal hinzufügen").click()
    row = page.locator("tr", has_text="Mastodon Hafenamt")  # type: ignore[attr-defined]
    row.get_by_role("button", name="Verbindung prüfen").click()
    expect(page.get_by_role("status")).to_contain_text("@hafenamt@")  # type: ignore[attr-defined]
    assert account.access_token not in page.content()  # type: ignore[attr-defined]
    screenshot(page, "networks-channel-checked-de-1280")
    page.context.close()  # type: ignore[attr-defined]

    # A planner writes the post with an image and its alt text, and sees the previews.
    page = new_page(browser)
    log_in(page, live, "planner")
    page.goto(f"{live.url}/compose")  # type: ignore[attr-defined]
    page.locator("#body").fill("Das war das Hafenfest! Alle Bilder: https://nordhafen.example/fest")  # type: ignore[attr-defined]
    page.get_by_role("checkbox", name="Mastodon Hafenamt").check()  # type: ignore[attr-defined]
    page.locator("#media-file").set_input_files(str(photo))  # type: ignore[attr-defined]
    item = page.locator("#media-list [data-media-item]")  # type: ignore[attr-defined]
    expect(item).to_have_count(1)
    item.get_by_label("Alternativtext: was das Bild zeigt").fill(ALT)
    card = page.locator(".preview-card[data-preview-channel]:not([hidden])")  # type: ignore[attr-defined]
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Das war das Hafenfest!")
    expect(card.locator(f".preview-media img[alt='{ALT}']")).to_have_count(1)
    screenshot(page, "networks-compose-preview-de-1280")
    page.set_viewport_size(PHONE)  # type: ignore[attr-defined]
    assert page.evaluate(SIDEWAYS), "the composer scrolls sideways at 390 px"  # type: ignore[attr-defined]
    screenshot(page, "networks-compose-preview-de-390")
    page.get_by_role("button", name="Zur Freigabe einreichen").click()  # type: ignore[attr-defined]
    expect(page.get_by_role("status")).to_contain_text("Freigabe")  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]

    # A head approves it; the scheduler publishes it.
    page = new_page(browser, PHONE)
    log_in(page, live, "head")
    page.goto(f"{live.url}/approvals")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Freigeben").first.click()  # type: ignore[attr-defined]
    expect(page.get_by_role("status")).to_contain_text("Freigegeben")  # type: ignore[attr-defined]
    db = Database(live.database_url)
    try:
        with db.transaction() as session:  # its time has come
            post_id = session.scalars(select(Post.id).where(Post.body.like("Das war%"))).one()
            now = now_utc()
            session.execute(update(Post).where(Post.id == post_id).values(publish_at=now))
            session.execute(update(Delivery).where(Delivery.post_id == post_id).values(due_at=now))
        for name, value in env.items():  # the scheduler as `serve` would run it
            monkeypatch.setenv(name, value)
        config = (
            Config.from_env().with_secret_key(required=True).with_channel_secrets_key(required=True)
        )
        dispatcher = Dispatcher(db, config)
        try:
            dispatcher.run_pass()
        finally:
            dispatcher.close()
        with db.transaction() as session:
            [sent] = session.scalars(select(Delivery).where(Delivery.post_id == post_id)).all()
            assert (sent.status, sent.error) == ("published", None)
    finally:
        db.dispose()

    # The post page links to the live status, which the server has, image and description.
    page.goto(f"{live.url}/posts/{post_id}")  # type: ignore[attr-defined]
    link = page.get_by_role("link", name="live ansehen")  # type: ignore[attr-defined]
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    [status] = mastodon_server.statuses(account)
    assert href == status["url"]
    [attachment] = status["media_attachments"]
    assert attachment["description"] == ALT
    assert httpx.get(attachment["url"]).status_code == 200
    screenshot(page, "networks-post-live-de-390")
    page.context.close()  # type: ignore[attr-defined]
