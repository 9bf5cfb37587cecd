"""The campaign's results, the team view and the management report (page, API, PDF), on a
campaign with targets and a month of results made through the real paths."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app.evaluation.campaign import answer_limit, kpi_metric
from calendar_app.extensions import get_db
from calendar_app.models import Department, InboxItem, InboxStatus
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.evaluation import Month, inbox_of_month, month_of_results
from tests.support.receiver import Receiver
from tests.support.web import signed_in


@pytest.fixture
def month(team: Team, receiver: Receiver, make_dispatcher: Any) -> Month:
    return month_of_results(team, receiver, make_dispatcher)


def _number(value: int, language: str = "de") -> str:
    return f"{value:,}".replace(",", "." if language == "de" else ",")


@pytest.mark.parametrize(
    ("kpi", "metric"),
    [
        ({"name": "Reichweite", "unit": "Kontakte"}, "reach"),
        ({"name": "Impressions"}, "reach"),
        ({"name": "Interaktionen"}, "interactions"),
        ({"name": "Engagement"}, "interactions"),
        ({"name": "Geteilte Beiträge"}, "shares"),
        ({"name": "Antworten im Kundenservice < 2 h", "unit": "%"}, "answered_within"),
        ({"name": "Answered within 30 min", "unit": "%"}, "answered_within"),
        ({"name": "Antwortzeit", "unit": "h"}, "answer_time"),
        ({"name": "Erste Antwort", "unit": "min"}, "answer_time"),
        ({"name": "Antwortquote Kundenservice", "unit": "%"}, None),
        ({"name": "Kommentare"}, "replies"),
        ({"name": "Bewerbungen"}, None),
        ({"name": "Follower"}, None),
        ({"name": "Klicks auf die Stellenbörse"}, "clicks"),
    ],
)
def test_kpis_are_matched_to_what_can_be_measured(kpi: dict[str, Any], metric: str | None) -> None:
    assert kpi_metric(kpi) == metric


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("Antworten im Kundenservice < 2 h", timedelta(hours=2)),
        ("Antworten ≤ 30 min", timedelta(minutes=30)),
        ("Antworten innerhalb von 4 Stunden", timedelta(hours=4)),
        ("answered within 1.5 hours", timedelta(minutes=90)),
        ("Antwortzeit", None),
    ],
)
def test_a_response_time_kpi_names_the_time_an_answer_may_take(
    name: str, limit: timedelta | None
) -> None:
    assert answer_limit({"name": name}) == limit


def test_the_campaign_api_sets_each_target_against_what_was_measured(
    team: Team, month: Month
) -> None:
    answer = team.planner.get(f"/campaigns/{month.campaign['id']}/evaluation")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    kpis = {k["name"]: k for k in body["kpis"]}
    assert kpis["Reichweite"]["measured"] == month.reach
    assert kpis["Reichweite"]["share"] == round(month.reach / 20000, 4)
    assert kpis["Interaktionen"]["measured"] == month.interactions
    assert kpis["Bewerbungen"] == {
        "name": "Bewerbungen", "target": 40, "unit": None, "metric": None,
        "measurable": False, "measured": None, "share": None,
    }  # fmt: skip
    assert kpis["Antworten im Kundenservice < 2 h"]["measured"] is None
    assert body["posts_ranked"][0]["title"] == month.best_title
    ranks = [p["interactions"] for p in body["posts_ranked"]]
    assert ranks == sorted(ranks, reverse=True)
    assert sum(w["published"] for w in body["cadence"]) == 24
    assert sum(w["planned"] for w in body["cadence"]) == 24
    assert team.planner.get("/campaigns/999/evaluation").status_code == 404


def test_the_campaign_page_shows_targets_results_ranking_and_cadence(
    team: Team, month: Month
) -> None:
    browser = signed_in(team, "planner")
    page = browser.get(f"/campaigns/{month.campaign['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _number(month.reach) in html
    assert "nicht gemessen" in html  # Bewerbungen, response times
    assert month.best_title in html
    assert 'class="chart"' in html
    assert "<script" not in html.split('id="evaluation"')[1].split("</section>")[0]
    exported = browser.get(f"/campaigns/{month.campaign['id']}/results.csv")
    assert exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True).count("\r\n") == 1 + 2 * 2 * 12


def test_response_times_on_the_campaigns_channels_are_measured_against_their_target(
    team: Team, month: Month
) -> None:
    inbox = inbox_of_month(team, month)
    body = team.planner.get(f"/campaigns/{month.campaign['id']}/evaluation").get_json()
    kpi = {k["name"]: k for k in body["kpis"]}["Antworten im Kundenservice < 2 h"]
    assert kpi["metric"] == "answered_within"
    assert kpi["measured"] == inbox.answered_within_2h
    assert kpi["share"] == round(inbox.answered_within_2h / 90, 4)
    assert body["answer_times"] == {
        "answered": inbox.answered, "unanswered": inbox.unanswered,
        "median_minutes": inbox.median_minutes, "p90_minutes": 180.0,
    }  # fmt: skip
    html = (
        signed_in(team, "planner").get(f"/campaigns/{month.campaign['id']}").get_data(as_text=True)
    )
    section = html.split('id="answers-title"')[1]
    assert "1 Std. 30 Min." in section  # the median, as people say it
    assert f"{inbox.answered} / {inbox.unanswered}" in section

    period = f"from={month.first.isoformat()}&to={month.last.isoformat()}"
    report = team.head.get(f"/reports/monthly?{period}").get_json()
    assert report["campaigns"][0]["answer_times"] == body["answer_times"]
    assert report["answer_times"]["overall"]["answered"] == inbox.answered
    # The team view counts what was answered (also closed as answered), not what was closed.
    view = team.planner.get(f"/team?{period}").get_json()
    answered = {r["channel"]: r["inbox_answered"] for r in view["rows"]}
    assert answered["Blog"] == inbox.answered
    assert answered["Karriere-Seite"] == 0
    report_html = signed_in(team, "head").get(f"/reports/monthly?{period}").get_data(as_text=True)
    assert "1 Std. 30 Min." in report_html.split('id="answer-times-title"')[1]


def test_the_team_view_counts_per_department_and_channel_and_flags_falling_results(
    team: Team, month: Month
) -> None:
    body = team.planner.get(
        f"/team?from={month.first.isoformat()}&to={month.last.isoformat()}"
    ).get_json()
    rows = {(r["department"], r["channel"]): r for r in body["rows"]}
    assert rows[("Personal", "Blog")]["published"] == 12
    assert rows[("Personal", "Karriere-Seite")]["published"] == 12
    # The post the crisis held is the planner's, of their own department.
    assert [(r["channel"], r["held"]) for r in body["rows"] if r["held"]] == [("Blog", 1)]
    assert body["totals"]["planned"] == 25
    # Over the four weeks of the posts, six in each half: the career page's results fell.
    four_weeks = (
        f"from={month.first.isoformat()}&to={(month.first + timedelta(days=27)).isoformat()}"
    )
    falling = team.planner.get(f"/team?{four_weeks}").get_json()["falling_results"]
    assert [f["channel"] for f in falling] == ["Karriere-Seite"]
    assert falling[0]["published_first_half"] == falling[0]["published_second_half"] == 6
    html = (
        signed_in(team, "planner")
        .get(f"/team?from={month.first.isoformat()}&to={month.last.isoformat()}")
        .get_data(as_text=True)
    )
    assert "Karriere-Seite" in html
    assert "Personal" in html
    bad = team.planner.get("/team?from=2026-12-10&to=2026-12-01")
    assert bad.status_code == 422


def test_the_report_has_goals_results_cadence_and_the_crisis_with_its_timeline(
    team: Team, month: Month
) -> None:
    period = f"from={month.first.isoformat()}&to={month.last.isoformat()}"
    body = team.head.get(f"/reports/monthly?{period}").get_json()
    [campaign] = body["campaigns"]
    assert {k["name"]: k["measured"] for k in campaign["kpis"]}["Reichweite"] == month.reach
    [crisis] = body["crises"]
    assert crisis["reason"] == month.crisis_reason
    assert crisis["held_posts"] == 1
    assert [e["moment"] for e in crisis["timeline"]][:2] == ["declared", "held"]
    assert team.planner.get(f"/reports/monthly?{period}").status_code == 403
    assert team.head.get("/reports/monthly?month=2026-13").status_code == 422

    browser = signed_in(team, "head")
    for language, words in (("de", "Monatsbericht"), ("en", "Report")):
        page = browser.get(f"/reports/monthly?{period}&lang={language}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert words in html
        assert _number(month.reach, language) in html
        assert month.crisis_reason in html
        assert "<script" not in html
        assert '<table class="list cadence"' in html


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("language", ["de", "en"])
def test_the_report_as_pdf_carries_the_figures(
    team: Team, month: Month, tmp_path: Path, language: str
) -> None:
    period = f"from={month.first.isoformat()}&to={month.last.isoformat()}"
    answer = signed_in(team, "head").get(f"/reports/monthly.pdf?{period}&lang={language}")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(answer.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    assert _number(month.reach, language) in flat
    assert _number(month.interactions, language) in flat
    assert "Ausbildung 2027" in flat
    assert month.crisis_reason in flat
    # The ranking's first row: the title may wrap in its narrow column.
    assert month.best_title.replace(" ", "") in flat.replace(" ", "")
    assert ("nicht gemessen" if language == "de" else "not measured") in flat


def test_campaign_team_and_report_figures_agree_on_both_databases(
    any_team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    team = any_team
    month = month_of_results(team, receiver, make_dispatcher)
    # An inbox item of the month, answered: the team view counts it for its department.
    with get_db(team.app).transaction() as session:
        department = session.scalars(select(Department).filter_by(name="Personal")).one()
        session.add(
            InboxItem(
                channel_id=month.channels["Blog"]["id"], remote_id="m-1", kind="mention",
                text="Wann beginnt die Ausbildung?", received_at=now_utc() - timedelta(days=3),
                status=InboxStatus.ANSWERED, department_id=department.id,
                first_answer_at=now_utc() - timedelta(days=3, minutes=-20),
            )
        )  # fmt: skip
    period = f"from={month.first.isoformat()}&to={month.last.isoformat()}"
    campaign = team.planner.get(f"/campaigns/{month.campaign['id']}/evaluation").get_json()
    view = team.planner.get(f"/team?{period}").get_json()
    report = team.head.get(f"/reports/monthly?{period}").get_json()
    reach = {k["name"]: k["measured"] for k in campaign["kpis"]}["Reichweite"]
    assert reach == month.reach
    assert report["campaigns"][0]["kpis"] == campaign["kpis"]
    assert report["team"] == view
    assert view["totals"]["inbox_answered"] == 1
    assert [r["inbox_answered"] for r in view["rows"] if r["inbox_answered"]] == [1]
    assert report["crises"][0]["held_posts"] == 1
    csv_rows = team.planner.get(f"/results.csv?campaign={month.campaign['id']}")
    assert csv_rows.get_data(as_text=True).count("\r\n") == 1 + 2 * 2 * 12
