"""Results, campaign evaluation, the team view and the monthly report: everyone signed in reads
them. Webhook channels post their numbers to the signed inbound endpoint (no bearer token)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from calendar_app import campaigns, planning
from calendar_app.api.auth import api_user
from calendar_app.api.errors import answer_locale
from calendar_app.evaluation import inbound, series
from calendar_app.evaluation.campaign import RANKED_TOP, evaluate_campaign
from calendar_app.evaluation.periods import report_period, team_period
from calendar_app.evaluation.report import monthly_report
from calendar_app.evaluation.team import team_view
from calendar_app.extensions import db_session
from calendar_app.publishers import channel_secrets
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import iso_utc, now_utc

bp = Blueprint("evaluation", __name__)
# Reached without a bearer token: the request is signed with the channel's secret instead.
INBOUND_ENDPOINT = "api.evaluation.inbound_results"


@bp.get("/deliveries/<int:delivery_id>/results")
def delivery_results(delivery_id: int) -> dict[str, Any]:
    session = db_session()
    return series.delivery_results(session, series.get_delivery(session, delivery_id)).as_json()


@bp.get("/posts/<int:post_id>/results")
def post_results(post_id: int) -> dict[str, Any]:
    session = db_session()
    return series.post_results(session, planning.get_post(session, post_id))


@bp.get("/results.csv")
def results_csv() -> Response:
    """Every measurement, one row each: `from`/`to` bound when it was measured."""
    query = QueryArgs(request.args, language=answer_locale())
    start, end = query.aware_time("from"), query.aware_time("to")
    channel_id, campaign_id = query.id("channel"), query.id("campaign")
    query.check()
    text = series.series_csv(
        db_session(), start=start, end=end, channel_id=channel_id, campaign_id=campaign_id
    )
    return Response(
        text,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="results.csv"'},
    )


@bp.post("/results/inbound/<int:channel_id>")
def inbound_results(channel_id: int) -> tuple[dict[str, Any], int]:
    session = db_session()
    raw = request.get_data(cache=True)
    now = now_utc()
    try:
        # An unknown channel answers as an unsigned request does: ids are not told to strangers.
        channel = inbound.webhook_channel(session, channel_id)
        inbound.verify(
            channel,
            channel_secrets(current_app.config["CALENDAR"]),
            raw,
            request.headers.get(inbound.TIMESTAMP_HEADER),
            request.headers.get(inbound.SIGNATURE_HEADER),
            now,
        )
    except inbound.BadSignature as exc:
        return {"error": f"not signed with the channel's secret: {exc}", "fields": {}}, 401
    point = inbound.record_inbound(session, channel, raw, now)
    return {
        "delivery_id": point.delivery_id,
        "measured_at": iso_utc(point.measured_at),
        **series.point_json(point),
    }, 201


@bp.get("/campaigns/<int:campaign_id>/evaluation")
def campaign_evaluation(campaign_id: int) -> dict[str, Any]:
    """Each KPI against what was measured, the posts ranked by result, the weekly cadence."""
    query = QueryArgs(request.args, language=answer_locale())
    top = query.whole_number("top", default=50, minimum=1, maximum=RANKED_TOP)
    query.check()
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    timezone = current_app.config["CALENDAR"].TIMEZONE
    return evaluate_campaign(session, campaign, timezone, top=top).as_json()


@bp.get("/team")
def team() -> dict[str, Any]:
    """Per department and channel over `from`..`to` (days; default the last four weeks)."""
    start, end, _, _ = team_period(request.args, current_app.config["CALENDAR"].TIMEZONE)
    return team_view(db_session(), start, end).as_json()


@bp.get("/reports/monthly")
def monthly() -> dict[str, Any]:
    """The management report's figures for `month` (default: the last full month)."""
    timezone = current_app.config["CALENDAR"].TIMEZONE
    first, following = report_period(request.args, timezone)
    return monthly_report(db_session(), api_user(), first, following, timezone).as_json()
