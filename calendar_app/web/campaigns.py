"""Campaign pages: the list, and one campaign with its plan and its delivery record."""

from __future__ import annotations

from babel.numbers import format_decimal
from flask import render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from calendar_app import campaigns
from calendar_app.extensions import db_session

GOAL_LABELS = {
    "awareness": _l("Awareness"),
    "dialogue": _l("Dialogue"),
    "service": _l("Service"),
    "recruiting": _l("Recruiting"),
    "retention": _l("Retention"),
}

RECORD_LABELS = {
    "planned": _l("Planned"),
    "publishing": _l("Being sent"),
    "published": _l("Published"),
    "held": _l("Held"),
    "missed": _l("Missed: too late to send"),
    "failed": _l("Failed"),
    "unknown": _l("Unclear: please check"),
    "discarded": _l("Discarded"),
}


def goal_label(goal: str) -> str:
    return str(GOAL_LABELS.get(goal, goal))


def kpi_number(value: float) -> str:
    return format_decimal(value, locale=str(get_locale() or "de"))


def campaign_list() -> str:
    return render_template("campaigns.html", campaigns=campaigns.list_campaigns(db_session()))


def campaign_page(campaign_id: int) -> str:
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    record = campaigns.delivery_record(session, campaign).as_dict()
    return render_template(
        "campaign.html",
        campaign=campaign,
        posts=campaigns.campaign_posts(session, campaign),
        record=[(RECORD_LABELS[key], key, record[key]) for key in RECORD_LABELS],
        total=record["total"],
    )
