"""The evaluation's pages in a real browser (Debian's headless Chromium) on a real server:
the campaign's results, the team view and the monthly report in German and English, and the
report's PDF. Screenshots of each, and the PDF's first page (pdftoppm), go to build/screenshots/
(the ones shown in the README are copied from there to docs/screenshots/ by hand).
The pages run no script: the charts are SVG made on the server, under the strict CSP."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from calendar_app.extensions import get_db
from calendar_app.models import User
from config import PROJECT_ROOT
from tests.conftest import PASSWORD, SeededDatabase, Team
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.support.evaluation import month_of_results
from tests.support.receiver import Receiver
from tests.support.server import serving
from tests.support.web import signed_in

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

DOCS = PROJECT_ROOT / "build" / "screenshots"  # a test run never changes tracked files
LAPTOP = {"width": 1280, "height": 900}


def _shoot(page: Any, name: str) -> Path:
    DOCS.mkdir(parents=True, exist_ok=True)
    path = DOCS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1024
    return path


def _log_in(page: Any, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state()


@pytest.mark.slow
def test_evaluation_pages_in_a_browser_and_the_first_pdf_page(
    team: Team, sqlite_db: SeededDatabase, receiver: Receiver, make_dispatcher: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    need_chromium()
    month = month_of_results(team, receiver, make_dispatcher)
    period = f"from={month.first.isoformat()}&to={month.last.isoformat()}"
    four_weeks = (
        f"from={month.first.isoformat()}&to={(month.first + timedelta(days=27)).isoformat()}"
    )
    with serving(tmp_path, sqlite_db.url) as (url, _env), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for language in ("de", "en"):
                # The pages speak the person's own language: set it for this round.
                with get_db(team.app).transaction() as session:
                    session.execute(
                        update(User).where(User.email == team.email("head")).values(locale=language)
                    )
                context = browser.new_context(viewport=LAPTOP, locale=language)
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text)
                        if m.type == "error" else None)  # fmt: skip
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                _log_in(page, url, team.email("head"))
                page.goto(f"{url}/reports/monthly?{period}&lang={language}")
                heading = page.locator("h1").inner_text()
                assert ("Bericht" if language == "de" else "Report") in heading
                table = page.locator("table.cadence")
                assert table.count() == 1
                assert page.locator("svg.chart").count() >= 2
                _shoot(page, f"report-{language}-1280")

                page.goto(f"{url}/campaigns/{month.campaign['id']}")
                assert page.locator("#evaluation table.kpi-results tr.kpi").count() == 4
                assert page.locator("html").get_attribute("lang") == language
                _shoot(page, f"campaign-results-{language}-1280")
                # The four weeks of the posts: the career page's results fell.
                page.goto(f"{url}/team?{four_weeks}")
                assert page.locator("table.team tbody tr").count() == 2
                assert "Karriere-Seite" in page.locator("ul.falling").inner_text()
                _shoot(page, f"team-view-{language}-1280")
                assert not [e for e in errors if "Content Security Policy" in e], errors
                context.close()
        finally:
            browser.close()

    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils not installed")
    browser_client = signed_in(team, "head")
    for language in ("de", "en"):
        pdf = tmp_path / f"report-{language}.pdf"
        pdf.write_bytes(browser_client.get(f"/reports/monthly.pdf?{period}&lang={language}").data)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
             str(DOCS / f"report-pdf-{language}-page1")],
            check=True,
        )  # fmt: skip
        assert (DOCS / f"report-pdf-{language}-page1.png").stat().st_size > 1024
