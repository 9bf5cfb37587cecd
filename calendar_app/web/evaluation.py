"""Evaluation pages: the campaign's results (on its page), the team view and the monthly report."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, render_template, request
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from calendar_app import campaigns
from calendar_app.errors import InvalidInput
from calendar_app.evaluation.campaign import CampaignEvaluation
from calendar_app.evaluation.charts import Series, bar_chart, progress_chart
from calendar_app.evaluation.periods import report_period, team_period
from calendar_app.evaluation.report import MonthlyReport, monthly_report
from calendar_app.evaluation.series import series_csv
from calendar_app.evaluation.team import team_view
from calendar_app.extensions import db_session
from calendar_app.timeutil import now_utc
from calendar_app.web.formatting import team_timezone
from calendar_app.web.i18n import LANGUAGES
from calendar_app.web.pages import signed_in_user
from config import PROJECT_ROOT

METRIC_LABELS = {
    "reach": _l("reach (sent by the channel's receiver)"),
    "interactions": _l("interactions (likes, shares, replies, quotes)"),
    "likes": _l("likes and favourites"),
    "shares": _l("shares, boosts and reposts"),
    "replies": _l("replies"),
    "quotes": _l("quotes"),
    "clicks": _l("clicks (sent by the channel's receiver)"),
    "posts": _l("published posts"),
    "answered_within": _l("inbox items on the campaign's channels answered in that time (%)"),
    "answer_time": _l("median time to first answer on the campaign's channels"),
}
RESULT_STATE_LABELS = {
    "unauthorized": _l("results unavailable: the token lacks the read scope"),
    "no_appview": _l("no AppView reachable"),
    "gone": _l("the post is no longer on the network"),
}


def metric_label(metric: str) -> str:
    return str(METRIC_LABELS.get(metric, metric))


def result_state_label(state: str) -> str:
    return str(RESULT_STATE_LABELS.get(state, state))


def evaluation_charts(evaluation: CampaignEvaluation) -> dict[str, Any]:
    weeks = evaluation.weeks
    return {
        "kpi_chart": progress_chart(
            _("Targets reached"),
            [(k.name, k.share) for k in evaluation.kpis],
        ),
        "cadence_chart": bar_chart(
            _("Cadence per week"),
            [w.as_json()["week"][-3:] for w in weeks],
            [
                Series(_("Planned"), [w.planned for w in weeks]),
                Series(_("Published"), [w.published for w in weeks]),
            ],
        ),
    }


def month_heading(day: date) -> str:
    return str(format_date(day, "LLLL y"))


FILTERS = {
    "metric_label": metric_label,
    "result_state_label": result_state_label,
    "month_heading": month_heading,
}


# --- the team view and the monthly report --------------------------------------------------------


def team_page() -> str:
    start, end, first, last = team_period(request.args, team_timezone())
    view = team_view(db_session(), start, end)
    return render_template("team.html", view=view, first=first, last=last)


def _report_html(report: MonthlyReport, *, for_pdf: bool = False) -> str:
    cadence = report.cadence
    charts = {
        "cadence_chart": bar_chart(
            _("Cadence per week"),
            [w.as_json()["week"][-3:] for w in cadence],
            [
                Series(_("Planned"), [w.planned for w in cadence]),
                Series(_("Published"), [w.published for w in cadence]),
            ],
        ),
        "campaign_charts": {
            c.campaign.id: progress_chart(_("Targets reached"), [(k.name, k.share) for k in c.kpis])
            for c in report.campaigns
        },
    }
    answers = report.answers
    answer_rows = [(_("All"), answers.overall)] + [
        (group.name or _("No department"), group.times) for group in answers.departments
    ]
    return render_template(
        "report.html",
        report=report,
        answer_rows=answer_rows,
        for_pdf=for_pdf,
        made_at=now_utc(),
        made_by=signed_in_user().name,
        **charts,
    )


def _language() -> str | None:
    language = (request.args.get("lang") or "").strip()
    if language and language not in LANGUAGES:
        raise InvalidInput(_l("lang must be de or en"), {"lang": _l("must be de or en")})
    return language or None


def build_report() -> MonthlyReport:
    first, following = report_period(request.args, team_timezone())
    return monthly_report(db_session(), signed_in_user(), first, following, team_timezone())


def report_page() -> str:
    language = _language()
    report = build_report()
    if language:
        with force_locale(language):
            return _report_html(report)
    return _report_html(report)


def render_pdf(html: str) -> bytes:
    """The report's HTML as PDF (WeasyPrint, imported here: it loads Pango once needed)."""
    from weasyprint import HTML

    return bytes(HTML(string=html, base_url=str(PROJECT_ROOT)).write_pdf())


def report_pdf() -> Response:
    language = _language()
    report = build_report()
    if language:
        with force_locale(language):
            html = _report_html(report, for_pdf=True)
    else:
        html = _report_html(report, for_pdf=True)
    response = Response(render_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="report-{report.first_day}.pdf"'
    )
    return response


def campaign_results_csv(campaign_id: int) -> Response:
    """Every measurement of a campaign's deliveries (the API's /results.csv?campaign=)."""
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    response = Response(
        series_csv(session, campaign_id=campaign.id), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="campaign-{campaign.id}-results.csv"'
    )
    return response
