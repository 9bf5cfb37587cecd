"""What every browser test shares: Debian's headless Chromium (the `browser` fixture, one per
test module), a quiet team's site (`live_site`: a planner, a head, an admin, two channels, no
crisis) and one scheduler pass on demand."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.accounts import create_user
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.dispatch import Dispatcher
from calendar_app.migrate import upgrade
from calendar_app.models import Department, User
from config import Config
from tests.support.server import serving

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "browser-test-1"
TEAM = ZoneInfo("Europe/Berlin")
# The widths every page is checked at: a laptop and a phone.
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}


def need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Debian's chromium is missing: scripts/system-deps.sh installs it")
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run `make system-deps`")


@dataclass
class LiveSite:
    url: str
    database_url: str
    channels: dict[str, int]

    def email(self, who: str) -> str:
        return f"{who}@nordhafen.example"


def dispatch_pass(site: LiveSite, at: datetime) -> None:
    """One scheduler pass as if it were `at`: what is due and in a crisis' scope is held."""
    config = replace(Config(), DATABASE_URL=site.database_url, ENV="testing", SECRET_KEY="x")
    db = Database(site.database_url)
    dispatcher = Dispatcher(db, config, clock=lambda: at)
    try:
        dispatcher.run_pass()
    finally:
        dispatcher.close()
        db.dispose()


def create_team(session: Session, team: list[tuple[str, str, str]]) -> dict[str, User]:
    """People of the Nordhafen team by (who, role, name); each logs in as who@nordhafen.example
    with PASSWORD."""
    return {
        who: create_user(
            session, f"{who}@nordhafen.example", role=role, password=PASSWORD, name=name
        )
        for who, role, name in team
    }


def seed(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        with db.transaction() as session:
            # The standard departments come with the schema.
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            people = create_team(
                session,
                [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("head", "head", "Katrin Albers"),
                    ("admin", "admin", "Jana Petersen"),
                ],
            )
            people["planner"].departments.append(marketing)
            x = create_channel(
                session, people["admin"], name="X @StadtwerkeNH", kind="outbox", network="x"
            )
            linkedin = create_channel(
                session,
                people["admin"],
                name="LinkedIn Stadtwerke",
                kind="outbox",
                network="linkedin",
            )
            return {"x": x.id, "linkedin": linkedin.id}
    finally:
        db.dispose()


@contextmanager
def site_of(
    tmp_path_factory: pytest.TempPathFactory, name: str, prepare: Callable[[str], T]
) -> Iterator[tuple[str, str, dict[str, str], T]]:
    """A fresh database made ready by `prepare(database_url)`, and the app serving it:
    (url, database_url, the server's environment, what `prepare` returned)."""
    need_chromium()
    folder = tmp_path_factory.mktemp(name)
    database_url = f"sqlite:///{folder}/calendar.db"
    upgrade(database_url)
    prepared = prepare(database_url)
    with serving(folder, database_url) as (url, env):
        yield url, database_url, env, prepared


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless; never a downloaded one."""
    need_chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with site_of(tmp_path_factory, "browser", seed) as (url, database_url, _env, channels):
        yield LiveSite(url, database_url, channels)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Modules with a site of their own to start first define their own `browser`, asking
    for the site before `chromium()`."""
    with chromium() as launched:
        yield launched
