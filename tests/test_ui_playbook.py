"""The playbook flow in a real browser: a headless Chromium (Debian's) against `calendar-app serve`.

A head prepares a playbook in calm times (scenario, a holding statement for X, the escalation
list with a second head and an outside lawyer, X as its channel and "Gewinnspiel" as a held word),
opens the crisis dialog, picks the playbook and sees what the crisis would stop — including a
raffle post on LinkedIn, outside the scope, held for its word — and declares. The scheduler
publishes the holding statement; the crisis page shows who has not acknowledged yet; the second
head acknowledges with the button and the board shows when. Screenshots of the impact preview
and the acknowledgement board are saved under build/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from calendar_app import planning
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.models import Delivery, Department, Post
from calendar_app.timeutil import now_utc
from tests.support.browser import (
    LiveSite,
    chromium,
    create_team,
    site_of,
)
from tests.test_ui_browser import SCREENSHOTS, log_in, log_out, new_page

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

SCENARIO = "Störfall im Heizkraftwerk"
STATEMENT = (
    "Im Heizkraftwerk Nordhafen gab es einen Störfall. "
    "Wir informieren hier, sobald wir mehr wissen."
)
LAWYER = "Dr. Meike Sander"

# Approved posts, hours from now: what the playbook's scope (X, and "Gewinnspiel" everywhere)
# holds in the next 72 hours, and what it lets through.
PLAN = [
    ("Störungskarte online", "x", 2, "Die Störungskarte zeigt alle Baustellen.", True),
    ("Ausbildungsmesse", "linkedin", 10, "Besuchen Sie uns auf der Ausbildungsmesse.", False),
    ("Baustellen-Update", "x", 20, "Neue Umleitung an der Hafenstraße.", True),
    ("Sommerfest", "linkedin", 30, "Großes Gewinnspiel zum Sommerfest!", True),
    ("Jahresbericht", "x", 100, "Unser Jahresbericht ist da.", False),
]


def seed(database_url: str) -> dict[str, int]:
    """Two heads, an admin and a planner; X and LinkedIn; the approved plan of the next days."""
    db = Database(database_url)
    try:
        with db.transaction() as session:
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            people = create_team(
                session,
                [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("head", "head", "Katrin Albers"),
                    ("head2", "head", "Tobias Brandt"),
                    ("admin", "admin", "Jana Petersen"),
                ],
            )
            people["planner"].departments.append(marketing)
            channels = {
                "x": create_channel(
                    session, people["admin"], name="X @StadtwerkeNH", kind="outbox", network="x"
                ).id,
                "linkedin": create_channel(
                    session,
                    people["admin"],
                    name="LinkedIn Stadtwerke",
                    kind="outbox",
                    network="linkedin",
                ).id,
            }
            now = now_utc()
            for title, channel, hours, body, _held in PLAN:
                post = planning.create_post(
                    session, people["planner"], title=title, body=body,
                    channel_ids=[channels[channel]], publish_at=now + timedelta(hours=hours),
                )  # fmt: skip
                planning.submit_post(session, people["planner"], post)
                planning.approve_post(session, people["head2"], post, allow_self_approval=False)
            return channels
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, dict[str, str]]]:
    with site_of(tmp_path_factory, "playbook", seed) as (url, database_url, env, channels):
        yield LiveSite(url, database_url, channels), env


@pytest.fixture(scope="module")
def browser(site: tuple[LiveSite, dict[str, str]]) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def scheduler_once(env: dict[str, str]) -> str:
    """One pass of the real scheduler, as `calendar-app scheduler --once` runs it."""
    command = [str(Path(sys.executable).parent / "calendar-app"), "scheduler", "--once"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stderr


def delivery_statuses(site: LiveSite) -> dict[str, str]:
    db = Database(site.database_url)
    try:
        with db.transaction() as session:
            rows = session.execute(
                select(Post.title, Delivery.status).join(Delivery, Delivery.post_id == Post.id)
            ).all()
            return {title: str(status) for title, status in rows}
    finally:
        db.dispose()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def test_a_head_declares_from_a_playbook_and_the_escalation_list_acknowledges(
    browser: object, site: tuple[LiveSite, dict[str, str]]
) -> None:
    expect = sync_api.expect
    live, env = site
    page = new_page(browser)

    # In calm times a head writes the playbook.
    log_in(page, live, "head")
    page.get_by_role("link", name="Playbooks").click()
    page.get_by_role("link", name="Neues Playbook").click()
    page.get_by_label("Szenario").fill(SCENARIO)
    page.get_by_label("Beschreibung").fill("Ausfall oder Unfall im Heizkraftwerk am Hafen.")
    scope = page.get_by_role("group", name="Welche Kanäle halten an?")
    scope.get_by_role("radio", name="Nur die unten gewählten Kanäle").check()
    scope.get_by_role("checkbox", name="X @StadtwerkeNH").check()
    page.get_by_label("Wörter, die auf allen Kanälen angehalten werden").fill("Gewinnspiel")
    statements = page.get_by_role("group", name="Vorbereitete Stellungnahmen")
    statements.get_by_label("X @StadtwerkeNH").fill(STATEMENT)
    page.get_by_label("Eskalationsliste").fill(
        f"head2@nordhafen.example\n{LAWYER}; legal; sander@kanzlei.example"
    )
    page.get_by_role("button", name="Playbook speichern").click()
    expect(page.get_by_role("status")).to_contain_text("Playbook gespeichert")
    row = page.get_by_role("row").filter(has_text=SCENARIO)
    expect(row).to_contain_text("X @StadtwerkeNH")
    expect(row).to_contain_text("Tobias Brandt")
    expect(row).to_contain_text(f"{LAWYER} (Recht)")

    # The crisis: the head picks the playbook in the dialog and asks what it would stop.
    page.get_by_role("link", name="Krise ausrufen").click()
    dialog = page.get_by_role("dialog", name="Krise ausrufen")
    expect(dialog).to_be_visible()
    dialog.get_by_role("combobox", name="Playbook").select_option(label=SCENARIO)
    dialog.get_by_label("Grund").fill("Störfall im Heizkraftwerk, Feuerwehr vor Ort")
    # Picking the playbook takes its scope.
    expect(dialog.get_by_role("radio", name="Wie im Playbook festgelegt")).to_be_checked()
    dialog.get_by_role("button", name="Zeigen, was angehalten würde").click()

    preview = page.get_by_role("region", name="Was die Krise anhält")
    expect(preview).to_contain_text(
        "3 Beiträge auf 2 Kanälen in den nächsten 72 Stunden werden angehalten."
    )
    listed = preview.get_by_role("row").filter(has_not=page.get_by_role("columnheader"))
    expect(listed).to_have_count(3)
    held = [title for title, *_rest, held in PLAN if held]
    for position, title in enumerate(held):
        expect(listed.nth(position)).to_contain_text(title)
    # The raffle on LinkedIn is outside the scope, held for its word.
    expect(listed.filter(has_text="Sommerfest")).to_contain_text("LinkedIn Stadtwerke")
    expect(preview).not_to_contain_text("Ausbildungsmesse")
    expect(preview).not_to_contain_text("Jahresbericht")
    going_out = page.get_by_role("region", name=re.compile("die sofort veröffentlicht werden"))
    expect(going_out).to_contain_text(STATEMENT)
    expect(going_out).to_contain_text(f"Tobias Brandt, {LAWYER}")
    preview.scroll_into_view_if_needed()
    impact_shot = screenshot(page, "playbook-impact-preview")

    # The choices survive the preview; one button declares.
    expect(page.get_by_role("combobox", name="Playbook")).to_have_value(re.compile(r"^[1-9]\d*$"))
    expect(page.get_by_label("Grund")).to_have_value("Störfall im Heizkraftwerk, Feuerwehr vor Ort")
    page.get_by_role("button", name="Warteschlange anhalten: Krise ausrufen").click()
    expect(page.locator("#crisis-banner")).to_contain_text("Störfall im Heizkraftwerk")
    board = page.get_by_role("region", name="Eskalationsliste")
    expect(board.get_by_role("row").filter(has_text="Tobias Brandt")).to_contain_text("noch nicht")
    lawyer = board.get_by_role("row").filter(has_text=LAWYER)
    expect(lawyer.get_by_role("cell")).to_have_text(
        [f"{LAWYER} sander@kanzlei.example", "Recht", "noch nicht"]
    )
    # The declaring head is not on the list, so there is nothing for her to acknowledge.
    expect(page.get_by_role("button", name="Bestätigen: Ich habe es gesehen")).to_have_count(0)

    # The scheduler publishes the holding statement at once; the plan in scope is held when due.
    report = scheduler_once(env)
    assert "published=1" in report, report
    statuses = delivery_statuses(live)
    assert statuses[SCENARIO] == "published"
    assert {statuses[title] for title, *_rest in PLAN} == {"scheduled"}
    page.goto(f"{live.url}/outbox")
    published = page.get_by_role("row").filter(has_text=SCENARIO)
    expect(published).to_contain_text("X @StadtwerkeNH")
    expect(published).to_contain_text(STATEMENT[:60])
    log_out(page)

    # The second head is told in the app and acknowledges on the crisis page.
    log_in(page, live, "head2")
    page.goto(f"{live.url}/crisis")
    page.get_by_role("button", name="Bestätigen: Ich habe es gesehen").click()
    expect(page.get_by_role("status")).to_contain_text("Bestätigt")
    board = page.get_by_role("region", name="Eskalationsliste")
    expect(board.get_by_role("row").filter(has_text="Tobias Brandt")).to_contain_text(
        re.compile(r"ja, \S+\., \d{1,2}\. \S+ \d{4}, \d{2}:\d{2}")
    )
    expect(board.get_by_role("row").filter(has_text=LAWYER)).to_contain_text("noch nicht")
    expect(page.get_by_role("button", name="Bestätigen: Ich habe es gesehen")).to_have_count(0)
    board.scroll_into_view_if_needed()
    board_shot = screenshot(page, "acknowledgement-board")
    page.context.close()  # type: ignore[attr-defined]

    for shot in (impact_shot, board_shot):
        assert shot.exists(), shot
        assert shot.stat().st_size > 5 * 1024, (shot, shot.stat().st_size)
